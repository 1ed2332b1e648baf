//! A clear exit instead of a crash when a mapped input file is truncated while it is read.
//!
//! Reading a page of a file map past the file's new end raises SIGBUS. Inputs are mapped only
//! once settled (see `source`), but an exporter may still rewrite one: then the process prints
//! which file it was and exits with status 2. Nothing is lost: the commit protocol leaves the
//! store at its last commit, and the staged files are removed by the next writer.
//!
//! The handler may only use async-signal-safe calls: it reads a fixed table of mapped ranges
//! (atomics) and calls `write` and `_exit`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

const SLOTS: usize = 256;

/// A mapped range and the name of its file (leaked, so the handler can always read it).
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    name: AtomicUsize,
    name_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    name: AtomicUsize::new(0),
    name_len: AtomicUsize::new(0),
};

static MAPS: [Slot; SLOTS] = [EMPTY; SLOTS];
static INSTALL: Once = Once::new();

/// A registered range: unregistered when dropped (before its map is).
pub struct Guard {
    slot: Option<usize>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            MAPS[i].len.store(0, Ordering::SeqCst);
            MAPS[i].start.store(0, Ordering::SeqCst);
        }
    }
}

/// No guard: for a map of a file nothing else can truncate (an unnamed file of this process).
pub fn unguarded() -> Guard {
    Guard { slot: None }
}

/// Say `name` if a read of `start..start + len` faults. More than [`SLOTS`] maps at once are
/// not guarded: a fault in them ends the process by the signal, as without this module.
pub fn register(start: *const u8, len: usize, name: &str) -> Guard {
    INSTALL.call_once(install);
    for (i, slot) in MAPS.iter().enumerate() {
        if slot
            .start
            .compare_exchange(0, start as usize, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let name: &'static [u8] = Box::leak(name.as_bytes().to_vec().into_boxed_slice());
            slot.name.store(name.as_ptr() as usize, Ordering::SeqCst);
            slot.name_len.store(name.len(), Ordering::SeqCst);
            slot.len.store(len, Ordering::SeqCst);
            return Guard { slot: Some(i) };
        }
    }
    Guard { slot: None }
}

fn install() {
    #[cfg(unix)]
    // SAFETY: a zeroed sigaction with our handler and SA_SIGINFO is valid; the handler only
    // makes async-signal-safe calls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

#[cfg(unix)]
extern "C" fn on_sigbus(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    let write = |bytes: &[u8]| {
        // SAFETY: write(2) on stderr with a valid buffer is async-signal-safe.
        unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    };
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    let mut named = false;
    for slot in &MAPS {
        let (start, len) = (
            slot.start.load(Ordering::SeqCst),
            slot.len.load(Ordering::SeqCst),
        );
        if len > 0 && address >= start && address < start + len {
            let name = slot.name.load(Ordering::SeqCst) as *const u8;
            let name_len = slot.name_len.load(Ordering::SeqCst);
            write(b"omslake: input file ");
            // SAFETY: names are leaked, never freed, and were stored before `len`.
            write(unsafe { std::slice::from_raw_parts(name, name_len) });
            named = true;
            break;
        }
    }
    if !named {
        // Not an input map: the default action (the fault repeats and ends the process).
        // SAFETY: signal(2) is async-signal-safe.
        unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        return;
    }
    write(b" was truncated while it was ingested (is an exporter still writing it?); nothing was committed: ingest it again once it is complete\n");
    // SAFETY: _exit is async-signal-safe and ends the process at once.
    unsafe { libc::_exit(2) };
}
