//! Pages of a mapped file the system dropped from its cache, read back before they are reached.
//!
//! A mapped file whose pages are mostly cached can still miss scattered ones: the system drops
//! cold pages of its cache (memory pressure, or a virtual machine's free-page reclaim, which
//! takes single pages here and there). The decoder then waits on each missing page as it
//! touches it, one synchronous read after another, and the kernel's readahead does not help a
//! reader that mostly hits. Asking for a piece's missing pages when it comes to the front of
//! the queue (as the piece before it is handed out) sends all their reads at once, and they
//! arrive while the decoders are still on the pieces before.

use std::ops::Range;

use memmap2::{Advice, Mmap};

/// Pages asked for in one request at most: the kernel reads no more than its readahead size
/// for one `WILLNEED` (128 KiB unless the device says more).
const PAGES_PER_REQUEST: usize = 32;

/// Start reading the pages of `range` of `map` that are not in memory; does not wait for
/// them. Costs one `mincore` when every page is in memory. Only a hint: failures are ignored.
pub fn read_ahead(map: &Mmap, range: Range<usize>) {
    #[cfg(target_os = "linux")]
    {
        let page = page_size();
        let start = range.start / page * page;
        let end = range.end.min(map.len());
        if end <= start {
            return;
        }
        let mut resident = vec![0u8; (end - start).div_ceil(page)];
        // SAFETY: `start` is a page boundary inside the mapping (the mapping starts on one),
        // `end - start` bytes lie inside it, and `resident` has a byte for each of their pages.
        let read = unsafe {
            libc::mincore(
                map.as_ptr().add(start) as *mut libc::c_void,
                end - start,
                resident.as_mut_ptr(),
            )
        };
        if read != 0 {
            return;
        }
        for (n, pages) in resident.chunks(PAGES_PER_REQUEST).enumerate() {
            if pages.iter().all(|r| r & 1 == 1) {
                continue;
            }
            let at = start + n * PAGES_PER_REQUEST * page;
            let len = (PAGES_PER_REQUEST * page).min(end - at);
            let _ = map.advise_range(Advice::WillNeed, at, len);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (map, range);
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    fn resident_pages(map: &Mmap) -> usize {
        let mut resident = vec![0u8; map.len().div_ceil(page_size())];
        // SAFETY: the whole mapping, from its start.
        let read = unsafe {
            libc::mincore(
                map.as_ptr() as *mut libc::c_void,
                map.len(),
                resident.as_mut_ptr(),
            )
        };
        assert_eq!(read, 0);
        resident.iter().filter(|r| *r & 1 == 1).count()
    }

    /// Pages dropped from the cache are read back without being touched; the bytes stay
    /// the file's. Where the file system keeps its pages whatever it is told (tmpfs), there is
    /// nothing to read back and the test says so.
    #[test]
    fn dropped_pages_are_read_back_without_being_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.ndjson");
        let line = b"{\"Type\":\"Event\",\"Computer\":\"host\"}\n";
        let text: Vec<u8> = line.iter().copied().cycle().take(4 << 20).collect();
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&text).unwrap();
        f.sync_all().unwrap();
        let f = std::fs::File::open(&path).unwrap();
        // SAFETY: the file is this test's own and nothing changes it while mapped.
        let map = unsafe { Mmap::map(&f).unwrap() };
        // Clean pages of a synced file, not mapped yet: the cache gives them up when asked.
        // SAFETY: a hint on an open descriptor.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        let dropped = map.len().div_ceil(page_size()) - resident_pages(&map);
        if dropped == 0 {
            // CI runs on a disk file system, where the pages go: there the test must run.
            assert!(
                std::env::var_os("CI").is_none(),
                "the file system kept the pages in memory: nothing to read back"
            );
            eprintln!("skipped: this file system kept the pages in memory");
            return;
        }
        read_ahead(&map, 100..map.len() - 100);
        let deadline = Instant::now() + Duration::from_secs(10);
        while resident_pages(&map) < map.len().div_ceil(page_size()) {
            assert!(
                Instant::now() < deadline,
                "{} of {} pages read back",
                resident_pages(&map),
                map.len().div_ceil(page_size())
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&map[..], &text[..]);
        // Ranges past the end or empty are nothing to do.
        read_ahead(&map, map.len()..map.len() + 10);
        read_ahead(&map, 5..5);
    }
}
