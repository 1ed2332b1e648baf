//! The `omslake` command line: argument parsing and wiring only.

mod cli;

/// glibc's heap, or jemalloc for an ingest (see `cli::allocator`).
#[global_allocator]
static HEAP: cli::allocator::Heap = cli::allocator::Heap;

fn main() {
    // Behave like other Unix tools in a pipeline: `omslake … | head` ends quietly instead of
    // failing on a closed stdout (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    install_panic_hook();
    std::process::exit(cli::main());
}

/// A bug must not greet the user with a backtrace: one line saying where, unless
/// `RUST_BACKTRACE` asks for the full report.
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or_else(
            || "an unknown place".to_string(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let what = what.lines().next().unwrap_or_default();
        eprintln!("omslake: internal error at {at} ({what}); please report it");
    }));
}
