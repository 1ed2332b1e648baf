//! The `omslake` command line: argument parsing and wiring only.

mod cli;

fn main() {
    // Behave like other Unix tools in a pipeline: `omslake … | head` ends quietly instead of
    // failing on a closed stdout (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(cli::main());
}
