//! Fault injection for crash tests: `OMSLAKE_FAULT=<point>` makes the process abort (as a
//! crash or `kill -9` would) when it reaches that named point of a commit.

pub fn point(name: &str) {
    if let Some(want) = std::env::var_os("OMSLAKE_FAULT") {
        if want == name {
            std::process::abort();
        }
    }
}
