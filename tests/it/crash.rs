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
            if e.file_name() == "_delta_log" {
                continue;
            }
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

/// deltalake, polars and DuckDB read every table of `store` as omslake does. Needs the
/// Python packages `.ci/run` installs: CI fails without them, a plain `cargo test` says it
/// skips the check.
pub fn delta_readers_agree(store: &std::path::Path) {
    let have = std::process::Command::new("python3")
        .args(["-c", "import deltalake, polars, duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 with deltalake, polars, duckdb and pyarrow (see .ci/run)"
        );
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| eprintln!("skipping the Delta reader checks: pip install deltalake polars duckdb pyarrow to run them"));
        return;
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cross_engine/delta.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(["--bin", crate::common::bin(), "--store"])
        .arg(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Delta readers disagree with omslake on {}: {}{}",
        store.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A writer killed after its journal commit, or between two tables' Delta commits: each
/// table is a committed version that Delta readers see as omslake does; the next write
/// brings every table to the last commit.
#[test]
fn a_crash_between_the_journal_and_the_delta_logs_is_caught_up_by_the_next_writer() {
    for point in ["after-commit", "between-table-commits"] {
        let env = Env::new();
        let first = env.write("first.ndjson", event_lines(10, 1).as_bytes());
        assert_eq!(env.ingest(&[&first]).code, 0);
        let both = format!(
            "{}{{\"Type\":\"Update\",\"TimeGenerated\":\"2024-01-02T00:00:00Z\",\"Computer\":\"u\"}}\n",
            event_lines(5, 2)
        );
        let second = env.write("second.ndjson", both.as_bytes());
        let out = env
            .command()
            .args(["ingest", second.to_str().unwrap()])
            .env("OMSLAKE_FAULT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the fault did not fire");
        // Update is the first table published: after `between-table-commits` it has the
        // new version and Event not yet; after `after-commit` neither has.
        let update = env.count("Update");
        let event = env.count("Event");
        match point {
            "after-commit" => assert_eq!((update, event), (0, 10), "{point}"),
            _ => assert_eq!((update, event), (1, 10), "{point}"),
        }
        delta_readers_agree(&env.store());
        let r = env.run(&["verify"]);
        assert_ne!(r.code, 0, "{point}: verify should report the table behind");
        assert!(
            r.stdout.contains("the next write catches up"),
            "{point}: {}",
            r.stdout
        );
        // Any write catches the tables up, the re-run ingest finds the source already in.
        let r = env.ingest(&[&second]);
        assert_eq!(r.code, 0, "{point}: {}", r.stderr);
        assert!(
            r.stderr.contains("already ingested"),
            "{point}: {}",
            r.stderr
        );
        assert_eq!(
            (env.count("Update"), env.count("Event")),
            (1, 15),
            "{point}"
        );
        assert_eq!(env.run(&["verify"]).code, 0, "{point}");
        delta_readers_agree(&env.store());
    }
}

/// Every data file on disk that no commit ever added (an orphan).
fn orphans(store: &std::path::Path) -> Vec<String> {
    let log: String = files_under(&store.join("_log"))
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let mut out = Vec::new();
    for t in omslake::schema::TABLE_NAMES {
        for f in files_under(&store.join(t)) {
            let rel = f.split("/store/").nth(1).unwrap().to_string();
            if !log.contains(&format!("\"{rel}\"")) {
                out.push(rel);
            }
        }
    }
    out
}

/// Row counts of every table, read in one query (one snapshot).
fn counts(env: &Env) -> Vec<u64> {
    let sql = omslake::schema::TABLE_NAMES
        .iter()
        .map(|t| format!("(SELECT count(*) FROM \"{t}\") AS \"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    env.csv(&format!("SELECT {sql}"))[0]
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect()
}

/// Kill `omslake <args>` with SIGKILL after `delay`; returns whether it was still running.
fn kill_after(env: &Env, args: &[&str], delay: std::time::Duration) -> bool {
    let mut child = env
        .command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
    running
}

/// Runs alone (`.ci/run` calls it with `--ignored` after the suite): kill moments are spread
/// over the measured duration of the operation, which parallel tests would distort.
#[test]
#[ignore]
fn sigkill_at_thirty_moments_of_ingest_and_compact_never_leaves_a_partial_state() {
    let env = Env::new();
    let gen = env.run(&["generate", "--scale", "0.05", "--out", "gen"]);
    assert_eq!(gen.code, 0);
    let first = env.path("gen/UpdateSummary.ndjson");
    let rest = env.path("gen");
    // Reference states: after the first file, and after everything.
    let reference = Env::new();
    assert_eq!(reference.ingest(&[&first]).code, 0);
    let base = counts(&reference);
    let started = std::time::Instant::now();
    assert_eq!(reference.ingest(&[&rest]).code, 0);
    let mut full_time = started.elapsed();
    let full = counts(&reference);
    let mut survived = 0;
    let mut killed_running = 0;
    for k in 0..30u32 {
        let env = Env::new();
        std::fs::create_dir_all(env.path("gen")).unwrap();
        for f in std::fs::read_dir(rest.as_path()).unwrap().flatten() {
            std::fs::copy(f.path(), env.path("gen").join(f.file_name())).unwrap();
        }
        assert_eq!(env.ingest(&[&env.path("gen/UpdateSummary.ndjson")]).code, 0);
        let delay = full_time.mul_f64(f64::from(k) / 30.0 * 0.9);
        if kill_after(&env, &["ingest", env.path("gen").to_str().unwrap()], delay) {
            killed_running += 1;
        }
        // Each table is at the version before or after the ingest (a kill between two
        // tables' Delta commits leaves them one version apart until the next write).
        let now = counts(&env);
        for (i, n) in now.iter().enumerate() {
            assert!(
                *n == base[i] || *n == full[i],
                "kill {k} at {delay:?}: counts {now:?} are neither {base:?} nor {full:?}"
            );
        }
        delta_readers_agree(&env.store());
        let rerun = std::time::Instant::now();
        let r = env.ingest(&[&env.path("gen")]);
        assert_eq!(r.code, 0, "kill {k}: {}", r.stderr);
        // The re-run does the same work as the killed run: refine the duration estimate.
        if k == 0 {
            full_time = rerun.elapsed();
        } else {
            full_time = full_time.min(rerun.elapsed());
        }
        assert_eq!(
            counts(&env),
            full,
            "kill {k}: re-run did not give the full counts"
        );
        assert!(
            orphans(&env.store()).is_empty(),
            "kill {k}: orphans {:?}",
            orphans(&env.store())
        );
        survived += 1;
    }
    assert_eq!(survived, 30);
    assert!(
        killed_running >= 15,
        "only {killed_running} of 30 kills hit a running ingest"
    );
    // Compact: ingest in two commits so every partition has two files, then kill compactions.
    let started = std::time::Instant::now();
    let compact_env = Env::new();
    assert_eq!(compact_env.ingest(&[&first]).code, 0);
    assert_eq!(compact_env.ingest(&[&rest]).code, 0);
    let compacting = std::time::Instant::now();
    assert_eq!(compact_env.run(&["compact"]).code, 0);
    let compact_time = compacting.elapsed();
    let _ = started;
    let mut compact_killed_running = 0;
    for k in 0..30u32 {
        let env = Env::new();
        assert_eq!(env.ingest(&[&first]).code, 0);
        assert_eq!(env.ingest(&[&rest]).code, 0);
        let delay = compact_time.mul_f64(f64::from(k) / 30.0 * 0.9);
        if kill_after(&env, &["compact"], delay) {
            compact_killed_running += 1;
        }
        assert_eq!(counts(&env), full, "compact kill {k}");
        delta_readers_agree(&env.store());
        assert_eq!(env.run(&["compact"]).code, 0);
        assert_eq!(counts(&env), full, "compact kill {k} then compact");
        assert!(
            orphans(&env.store()).is_empty(),
            "compact kill {k}: orphans {:?}",
            orphans(&env.store())
        );
        assert_eq!(env.run(&["verify"]).code, 0);
    }
    assert!(
        compact_killed_running >= 15,
        "only {compact_killed_running} of 30 kills hit a running compact"
    );
    eprintln!("SIGKILL: {killed_running}/30 ingests and {compact_killed_running}/30 compactions killed while running; all recovered");
}

#[test]
fn readers_always_see_a_committed_state_while_a_writer_ingests() {
    let env = Env::new();
    let files: Vec<std::path::PathBuf> = (0..6)
        .map(|i| {
            let lines: String = (0..200 * (i + 1))
                .map(|j| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-02-{:02}T00:{:02}:{:02}Z\",\"Computer\":\"w{i}-{j}\"}}\n", 1 + j % 20, j % 60, i))
                .collect();
            env.write(&format!("in/{i}.ndjson"), lines.as_bytes())
        })
        .collect();
    let mut states = vec![0u64];
    for i in 0..6u64 {
        states.push(states.last().unwrap() + 200 * (i + 1));
    }
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let store = env.store();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let done = done.clone();
            let store = store.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let out = std::process::Command::new(crate::common::bin())
                        .args([
                            "--store",
                            store.to_str().unwrap(),
                            "sql",
                            "SELECT count(*) FROM \"Event\"",
                            "--format",
                            "csv",
                        ])
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let n: u64 = String::from_utf8(out.stdout)
                        .unwrap()
                        .lines()
                        .nth(1)
                        .unwrap()
                        .parse()
                        .unwrap();
                    seen.push(n);
                }
                seen
            })
        })
        .collect();
    for f in &files {
        assert_eq!(env.ingest(&[f]).code, 0);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = 0;
    for r in readers {
        for n in r.join().unwrap() {
            assert!(
                states.contains(&n),
                "a reader saw {n} rows, not a committed state {states:?}"
            );
            total += 1;
        }
    }
    assert!(total >= 4, "readers ran {total} queries");
    assert_eq!(env.count("Event"), *states.last().unwrap());
}
