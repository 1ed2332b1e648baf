//! Query commands start once more with glibc's heap on transparent huge pages.
//!
//! Why: a search's operators keep taking fresh memory (hash tables, group values, decoded
//! batches), and with 4 KB pages much of q7's CPU went to page faults (`perf`:
//! `do_anonymous_page` and the work around it). glibc can back its heap with huge pages
//! (`glibc.malloc.hugetlb=1`, the heap grown 64 MB at a time so that whole huge pages fit),
//! but it reads that setting only when a process starts, and `mallopt` has no such option.
//! So `sql` and `search` run themselves again, once, with it set: the joins and groupings
//! gain far more than the second start costs (bench/NOTES.md). Ingest keeps 4 KB pages: its
//! memory target is measured in RSS, which huge pages raise; its heaps only grow in larger
//! steps (`grow_in_large_steps`). So do exports to a file (`--output`), which stream every
//! row through once and spent more on zeroing huge pages than they saved.
//!
//! Nothing happens when `GLIBC_TUNABLES` is already set (the user's choice, or this is the
//! second start) or when the system has transparent huge pages off.
//!
//! An ingest runs on jemalloc instead (`allocator`) unless `OMSLAKE_HEAP` says otherwise; glibc's
//! heaps still grow in large steps for it, for that case and for what C libraries allocate.

/// The glibc tunables a query process runs with.
const TUNABLES: &str = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864";

/// Set in the second start.
const MARKER: &str = "OMSLAKE_HEAP_TUNED";

/// Whether to start again: not if `GLIBC_TUNABLES` or the marker is set (the marker guards
/// against a loop should anything drop `GLIBC_TUNABLES` on the way), nor if transparent huge
/// pages are off (`thp` is the system's `transparent_hugepage/enabled`).
fn should_rerun(tunables_set: bool, marker_set: bool, thp: &str) -> bool {
    !tunables_set && !marker_set && (thp.contains("[always]") || thp.contains("[madvise]"))
}

/// Replace this process with the same command under [`TUNABLES`], when that can help.
/// Returns only if it did not (not glibc on Linux, not wanted, or the exec failed).
pub fn rerun_with_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        let tunables_set = std::env::var_os("GLIBC_TUNABLES").is_some();
        if !should_rerun(tunables_set, std::env::var_os(MARKER).is_some(), &thp) {
            return;
        }
        // Returns only on failure; then this process simply carries on untuned.
        run_again_with(&[("GLIBC_TUNABLES", TUNABLES.into()), (MARKER, "1".into())]);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (should_rerun, TUNABLES, MARKER);
}

/// Replace this process with the same command (same arguments, same `argv[0]`) and `vars`
/// added to its environment. Returns only if the exec failed.
#[cfg(unix)]
pub fn run_again_with(vars: &[(&str, std::ffi::OsString)]) {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let Some(arg0) = args.next() else { return };
    let mut command = std::process::Command::new("/proc/self/exe");
    command.arg0(arg0).args(args);
    for (name, value) in vars {
        command.env(name, value);
    }
    let _ = command.exec();
}

/// What glibc's heaps grow by at least, as much as a thread's heap can take: by default they
/// grow 128 KB at a time, one `mprotect` each, and an ingest buffers hundreds of MB (smaller
/// steps saved few of the calls: bench/NOTES.md). Pages set aside but never touched are not
/// resident, so the memory target is unaffected.
const HEAP_STEP: i32 = 64 << 20;

/// For an ingest or an export to a file: glibc's heaps grow in large steps (see
/// [`HEAP_STEP`]), unless the user set `GLIBC_TUNABLES`.
pub fn grow_in_large_steps() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("GLIBC_TUNABLES").is_none() {
        // SAFETY: M_TOP_PAD only sets how much a heap grows or keeps when trimmed.
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, HEAP_STEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reruns_once_and_only_with_huge_pages_available() {
        let madvise = "always [madvise] never\n";
        assert!(should_rerun(false, false, madvise));
        assert!(should_rerun(false, false, "[always] madvise never\n"));
        assert!(!should_rerun(false, false, "always madvise [never]\n"));
        assert!(
            !should_rerun(false, false, ""),
            "no THP file: nothing to gain"
        );
        assert!(
            !should_rerun(true, false, madvise),
            "the user's tunables are kept"
        );
        assert!(
            !should_rerun(false, true, madvise),
            "the second start does not loop"
        );
    }
}
