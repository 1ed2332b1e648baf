//! The store as Delta Lake tables, through the binary: the upgrade of a store written before
//! Delta logs (tests/data/store-v1), `history`, and `--as-of` while and after a version's
//! files exist. (Other engines' view of the same tables: tests/cross_engine/delta.py.)

use std::path::Path;

use crate::common::Env;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn count(env: &Env, table: &str, extra: &[&str]) -> String {
    let mut args = vec!["sql", "SELECT count(*) AS n FROM \"X\"", "--format", "csv"];
    let sql = args[1].replace('X', table);
    args[1] = &sql;
    args.extend_from_slice(extra);
    let r = env.run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.lines().nth(1).unwrap().to_string()
}

#[test]
fn a_store_from_before_delta_logs_reads_then_upgrades_with_its_history() {
    let env = Env::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/store-v1"),
        &env.store(),
    );
    assert!(!env.store().join("Event/_delta_log").exists());
    // Read as it is: the journal.
    assert_eq!(count(&env, "UpdateSummary", &[]), "38");
    assert_eq!(count(&env, "UpdateSummary", &["--as-of", "2"]), "36");
    let r = env.run(&["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("omslake upgrade"), "{}", r.stderr);
    let r = env.run(&["upgrade"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("wrote 25 Delta log versions"),
        "{}",
        r.stderr
    );
    for t in omslake::schema::TABLE_NAMES {
        assert!(
            env.store()
                .join(t)
                .join("_delta_log/00000000000000000004.json")
                .exists(),
            "{t}"
        );
    }
    // The same counts, now from the Delta logs, at every version.
    assert_eq!(count(&env, "UpdateSummary", &[]), "38");
    assert_eq!(count(&env, "UpdateSummary", &["--as-of", "2"]), "36");
    assert_eq!(count(&env, "UpdateSummary", &["--as-of", "0"]), "0");
    assert_eq!(count(&env, "Event", &["--as-of", "1"]), "0");
    assert_eq!(count(&env, "Event", &["--as-of", "2"]), "356");
    let r = env.run(&["history"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ops: Vec<(String, String)> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[2].to_string())
        })
        .collect();
    let want = [
        ("0", "upgrade"),
        ("1", "ingest"),
        ("2", "ingest"),
        ("3", "ingest"),
        ("4", "compact"),
    ];
    assert_eq!(
        ops,
        want.map(|(v, o)| (v.to_string(), o.to_string())).to_vec(),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("UpdateSummary.json"), "{}", r.stdout);
    assert_eq!(env.run(&["verify"]).code, 0);
    // Upgrading again has nothing to do.
    let r = env.run(&["upgrade"]);
    assert!(r.stderr.contains("up to date"), "{}", r.stderr);
}

#[test]
fn as_of_reads_old_versions_until_vacuum_removes_their_files() {
    let env = Env::new();
    let lines = |day: u32, n: usize| -> String {
        (0..n)
            .map(|i| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-{day:02}T00:00:{i:02}Z\",\"Computer\":\"c{i}\"}}\n"))
            .collect()
    };
    for (i, day) in [1, 1, 2].iter().enumerate() {
        let f = env.write(&format!("{i}.ndjson"), lines(*day, 3 + i).as_bytes());
        assert_eq!(env.ingest(&[&f]).code, 0);
    }
    assert_eq!(env.run(&["compact"]).code, 0);
    // 3, then 1 new of 4 (the others are the same records), then 5.
    assert_eq!(count(&env, "Event", &[]), "9");
    assert_eq!(count(&env, "Event", &["--as-of", "1"]), "3");
    assert_eq!(count(&env, "Event", &["--as-of", "2"]), "4");
    assert_eq!(count(&env, "Event", &["--as-of", "3"]), "9");
    // A time: the last version committed at or before it.
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let now = later.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(count(&env, "Event", &["--as-of", &now]), "9");
    let r = env.run(&["sql", "SELECT 1", "--as-of", "2001-01-01T00:00:00Z"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no version that old"), "{}", r.stderr);
    let r = env.run(&["sql", "SELECT 1", "--as-of", "99"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no version 99: the latest is 4"),
        "{}",
        r.stderr
    );
    let r = env.run(&["sql", "SELECT 1", "--as-of", "yesterday"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // Vacuum removes the files compaction replaced: version 1 can no longer be read, and
    // says why.
    assert_eq!(env.run(&["vacuum", "--min-age", "0s"]).code, 0);
    let r = env.run(&["sql", "SELECT count(*) FROM \"Event\"", "--as-of", "1"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("vacuum"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert_eq!(count(&env, "Event", &[]), "9");
    let r = env.run(&[
        "search",
        "Type=Event | measure count()",
        "--as-of",
        "4",
        "--format",
        "csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\n9\n"), "{}", r.stdout);
}
