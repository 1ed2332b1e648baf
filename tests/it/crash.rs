//! A crash between staging and commit leaves the previous state readable, and the next writer
//! removes the leftovers.

use crate::common::Env;

fn event_lines(n: usize, day: u32) -> String {
    (0..n)
        .map(|i| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-{day:02}T00:00:{:02}Z\",\"Computer\":\"c{i}\"}}\n", i % 60))
        .collect()
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(es) = std::fs::read_dir(dir) {
        for e in es.flatten() {
            if e.path().is_dir() {
                out.extend(files_under(&e.path()));
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn crash_at_each_commit_step_keeps_the_previous_state() {
    for point in [
        "after-staging",
        "during-rename",
        "after-rename",
        "before-log-link",
    ] {
        let env = Env::new();
        let first = env.write("first.ndjson", event_lines(10, 1).as_bytes());
        assert_eq!(env.ingest(&[&first]).code, 0);
        let second = env.write(
            "second.ndjson",
            format!("{}{}", event_lines(5, 2), event_lines(5, 3)).as_bytes(),
        );
        let out = env
            .command()
            .args(["ingest", second.to_str().unwrap()])
            .env("OMSLAKE_FAULT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the fault did not fire");
        // The store opens and shows exactly the first commit.
        assert_eq!(env.count("Event"), 10, "{point}");
        let r = env.run(&["tables"]);
        assert_eq!(r.code, 0);
        // The next writer cleans the leftovers, then the ingest completes.
        let r = env.ingest(&[&second]);
        assert_eq!(r.code, 0, "{point}: {}", r.stderr);
        assert!(
            r.stderr.contains("left by an interrupted writer"),
            "{point}: {}",
            r.stderr
        );
        assert_eq!(env.count("Event"), 20, "{point}");
        // Every data file on disk is named by the log: no orphans.
        let log: String = files_under(&env.store().join("_log"))
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        for f in files_under(&env.store().join("Event")) {
            let rel = f.split("/store/").nth(1).unwrap();
            assert!(log.contains(rel), "{point}: orphan {rel}");
        }
        assert!(
            !env.store().join("_staging").exists()
                || files_under(&env.store().join("_staging")).is_empty()
        );
    }
}
