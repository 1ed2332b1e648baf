//! The `omslake` command line: argument parsing and wiring only.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
