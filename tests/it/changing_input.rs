//! An input that an exporter truncates and rewrites while it is ingested: every run ends with
//! exit 0 (the file was read before or after the change) or 2 (a clear error naming it), never
//! a signal, and the store verifies and holds one whole version of the file or nothing.

use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::common::Env;

fn content(records: usize, tag: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(records * 200);
    for i in 0..records {
        writeln!(
            out,
            r#"{{"Type":"Event","TimeGenerated":"2024-01-0{}T{:02}:{:02}:{:02}.{:06}Z","Computer":"{tag}-{i}","EventID":{},"RenderedDescription":"{}"}}"#,
            1 + i % 3,
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i % 1_000_000,
            i % 1000,
            "é description ".repeat(1 + i % 4)
        )
        .unwrap();
    }
    out
}

#[test]
fn a_file_truncated_and_rewritten_during_its_ingest_never_crashes_or_corrupts() {
    // Small enough to be read whole when fresh; large enough to be mapped whatever its age.
    let small = (content(60_000, "old"), content(45_000, "new"));
    let large = (content(420_000, "old"), content(300_000, "new"));
    let mut outcomes = [0usize; 3];
    for run in 0..20u64 {
        let env = Env::new();
        let (old, new) = if run % 2 == 0 { &large } else { &small };
        let count = |c: &[u8]| c.iter().filter(|&&b| b == b'\n').count() as u64;
        let path = env.write("export.ndjson", old);
        if run % 4 == 1 {
            // An old file: mapped even though small.
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(3600))
                .unwrap();
        }
        let child = env
            .command()
            .args(["ingest", path.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(15 * run));
        // The exporter: cut the file mid-line, then write the new version.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_len(old.len() as u64 / 3).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        std::fs::write(&path, new).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(2)),
            "run {run}: {:?} {stderr}",
            out.status
        );
        if code == Some(2) {
            assert!(stderr.contains("export.ndjson"), "run {run}: {stderr}");
            assert!(
                stderr.contains("changed while it was ingested")
                    || stderr.contains("was truncated"),
                "run {run}: {stderr}"
            );
        }
        let r = env.run(&["verify"]);
        assert_eq!(r.code, 0, "run {run}: {}{}", r.stdout, r.stderr);
        let stored = env.count("Event");
        assert!(
            [0, count(old), count(new)].contains(&stored),
            "run {run}: {stored} rows, exit {code:?}: {stderr}"
        );
        // Nothing committed unless the ingest said so.
        assert!(
            code == Some(0) || stored == 0,
            "run {run}: {stored} rows after exit 2"
        );
        outcomes[match (code, stderr.contains("truncated")) {
            (Some(0), _) => 0,
            (_, false) => 1,
            (_, true) => 2,
        }] += 1;
    }
    eprintln!(
        "{} stored a whole version, {} found the change, {} stopped at the truncation",
        outcomes[0], outcomes[1], outcomes[2]
    );
}
