//! The process's allocator: glibc's, or jemalloc for an ingest.
//!
//! Why: an ingest's decoding threads allocate the rows that the writer thread buffers, sets
//! aside on disk and frees; glibc returns each block to the arena of the thread that took it,
//! where it stays resident, so ingest called `malloc_trim` whenever memory passed its target,
//! and faulted the same pages in again right after, a large share of a large ingest's time
//! (bench/NOTES.md, tenth session). jemalloc reuses those blocks and hands back pages that stay
//! unused for a second (`dirty_decay_ms`), so the trims find little to do. Queries keep
//! glibc's heap, on huge pages (`heap`): they last tens of milliseconds, and jemalloc made each
//! of them slower.
//!
//! The choice is read once, at the process's first allocation, from `OMSLAKE_HEAP` as the
//! process started (`ingest` runs itself again with it set: [`rerun_for_ingest`]); every
//! block is then freed by the allocator that gave it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

/// The variable that picks the allocator: `jemalloc`, or anything else for glibc's.
const HEAP_VAR: &str = "OMSLAKE_HEAP";

/// jemalloc's settings for an ingest (read from the environment when jemalloc starts, before
/// any the user gave there): pages unused for a second go back to the system, not after ten.
const JEMALLOC_CONF_VAR: &str = "_RJEM_MALLOC_CONF";
const JEMALLOC_CONF: &str = "dirty_decay_ms:1000,muzzy_decay_ms:0";

const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const JEMALLOC: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The global allocator (see the module's comment).
pub struct Heap;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn jemalloc_chosen() -> bool {
    match CHOICE.load(Ordering::Relaxed) {
        SYSTEM => false,
        JEMALLOC => true,
        _ => {
            // Not `std::env`: it allocates. Threads that race here read the same environment.
            // SAFETY: a NUL-terminated name; the value is only read, before anything could
            // change the environment (this is the process's first allocation).
            let value = unsafe { libc::getenv(c"OMSLAKE_HEAP".as_ptr()) };
            let chosen = !value.is_null()
                // SAFETY: getenv returned a NUL-terminated string.
                && unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes() == b"jemalloc";
            CHOICE.store(if chosen { JEMALLOC } else { SYSTEM }, Ordering::Relaxed);
            chosen
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn jemalloc_chosen() -> bool {
    false
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
use std::alloc::System as Chosen;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
use tikv_jemallocator::Jemalloc as Chosen;

// SAFETY: each call goes to one allocator, the same for the life of the process, which keeps
// GlobalAlloc's contract itself.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match jemalloc_chosen() {
            true => unsafe { Chosen.alloc(layout) },
            false => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match jemalloc_chosen() {
            true => unsafe { Chosen.alloc_zeroed(layout) },
            false => unsafe { System.alloc_zeroed(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match jemalloc_chosen() {
            true => unsafe { Chosen.dealloc(ptr, layout) },
            false => unsafe { System.dealloc(ptr, layout) },
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match jemalloc_chosen() {
            true => unsafe { Chosen.realloc(ptr, layout, new_size) },
            false => unsafe { System.realloc(ptr, layout, new_size) },
        }
    }
}

/// From now on, keep the pages of freed blocks for reuse until the threads that free them end,
/// rather than hand them back a second after (true), or change nothing (false: not on
/// jemalloc, or it refused). For the commit of an `ingest` that set nothing aside on disk: its
/// file writers free the rows as they write them, take pages for their own work from those,
/// and when each writer ends, jemalloc hands back at once the pages of the arena it leaves.
/// Otherwise the rows were left to the process's exit, whose kernel took the pages back on
/// one core after the last file (bench/NOTES.md, twenty-first session). Not for a commit that
/// reads rows back from disk: those pages must go back while it runs, to stay under the
/// memory target.
pub fn hold_freed_pages() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if jemalloc_chosen() {
        return jemalloc_decay::set_never();
    }
    false
}

/// jemalloc's `dirty_decay_ms`: how long freed pages stay before they go back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod jemalloc_decay {
    use std::ffi::{c_void, CStr, CString};
    use std::ptr::null_mut;

    use tikv_jemalloc_sys::mallctl;

    /// Never, for every arena there is and every arena made later. False if one refused.
    pub fn set_never() -> bool {
        let Some(arenas) = read::<u32>(c"arenas.narenas") else {
            return false;
        };
        if !write(c"arenas.dirty_decay_ms", -1) {
            return false;
        }
        (0..arenas).all(|i| {
            // An arena not made yet refuses with EFAULT: it will start with the default.
            write(&ctl_name(&format!("arena.{i}.dirty_decay_ms")), -1)
                || read::<bool>(&ctl_name(&format!("arena.{i}.initialized"))) != Some(true)
        })
    }

    fn ctl_name(name: &str) -> CString {
        CString::new(name).expect("no NUL in a mallctl name")
    }

    /// The value of `name`, a setting or statistic of type `T` (callers name one of that type).
    pub(super) fn read<T: Default>(name: &CStr) -> Option<T> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `name` is of type `T`, so jemalloc writes one `T`: `len` bytes, no more.
        let read = unsafe {
            mallctl(
                name.as_ptr(),
                (&raw mut value).cast::<c_void>(),
                &mut len,
                null_mut(),
                0,
            )
        };
        (read == 0).then_some(value)
    }

    fn write(name: &CStr, mut ms: isize) -> bool {
        // SAFETY: a decay time is an `ssize_t`, written from a value of its size.
        unsafe {
            mallctl(
                name.as_ptr(),
                null_mut(),
                null_mut(),
                (&raw mut ms).cast::<c_void>(),
                std::mem::size_of::<isize>(),
            ) == 0
        }
    }
}

/// Whether to start again on jemalloc: not when `OMSLAKE_HEAP` is set (the user's choice, or
/// this is the second start), nor where jemalloc is not built in.
fn should_rerun(heap_var_set: bool) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu")) && !heap_var_set
}

/// Replace this process with the same command on jemalloc, when it is not on it already.
/// Returns only if it did not (not wanted, not built in, or the exec failed).
pub fn rerun_for_ingest() {
    if !should_rerun(std::env::var_os(HEAP_VAR).is_some()) {
        return;
    }
    // The user's settings come after these, and so win where both name an option.
    let mut conf = std::ffi::OsString::from(JEMALLOC_CONF);
    if let Some(theirs) = std::env::var_os(JEMALLOC_CONF_VAR) {
        conf.push(",");
        conf.push(theirs);
    }
    // Returns only on failure; then this process carries on, on glibc's heap.
    #[cfg(unix)]
    super::heap::run_again_with(&[(HEAP_VAR, "jemalloc".into()), (JEMALLOC_CONF_VAR, conf)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reruns_once_and_not_against_the_users_choice() {
        let built_in = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(should_rerun(false), built_in);
        assert!(
            !should_rerun(true),
            "the second start, or OMSLAKE_HEAP given"
        );
    }

    #[test]
    fn a_process_not_started_for_jemalloc_keeps_glibcs_heap() {
        // This test process was not started with `OMSLAKE_HEAP=jemalloc`.
        if std::env::var_os(HEAP_VAR).is_none() {
            assert!(!jemalloc_chosen());
        }
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_pages_are_held_by_every_arena_and_the_default() {
        // This test process is not on jemalloc (no `OMSLAKE_HEAP`): jemalloc starts on the
        // first call, with arena 0, and takes the settings all the same.
        assert!(jemalloc_decay::set_never());
        let decay = |name| jemalloc_decay::read::<isize>(name);
        assert_eq!(decay(c"arenas.dirty_decay_ms"), Some(-1));
        assert_eq!(decay(c"arena.0.dirty_decay_ms"), Some(-1));
    }
}
