//! Links the `omslake` binary as a fixed-address (non-PIE) executable on Linux.
//!
//! Why: a search is a whole process, and a position-independent build of this binary carries
//! 222 K relative relocations (5 MB) that the loader applies at every start, copying about a
//! thousand pages: 6.3 ms of CPU before `main`, against 1.1 ms without them (`perf stat -r 20
//! omslake --version`). The flag only changes the final link, so no dependency is rebuilt.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
