//! Overlap-safe re-ingest, compact, retain, vacuum, verify and the writer lock.

use std::path::Path;

use crate::common::Env;

/// Generated Update records, split into two exports that overlap by a fifth.
fn overlapping_exports(env: &Env) -> (std::path::PathBuf, std::path::PathBuf, usize) {
    let r = env.run(&["generate", "--scale", "0.05", "--out", "gen"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(env.path("gen/Update.ndjson")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let a = env.write(
        "a.ndjson",
        (lines[..n * 6 / 10].join("\n") + "\n").as_bytes(),
    );
    let b = env.write(
        "b.ndjson",
        (lines[n * 4 / 10..].join("\n") + "\n").as_bytes(),
    );
    (a, b, n)
}

fn parquet_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .map(|e| {
                    if e.file_name() == "_delta_log" {
                        0
                    } else if e.path().is_dir() {
                        parquet_files(&e.path())
                    } else {
                        usize::from(e.path().extension().is_some_and(|x| x == "parquet"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn overlapping_exports_give_exact_counts() {
    let env = Env::new();
    let (a, b, n) = overlapping_exports(&env);
    assert_eq!(env.ingest(&[&a]).code, 0);
    let r = env.ingest(&[&b]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let overlap = n * 6 / 10 - n * 4 / 10;
    assert!(
        r.stderr
            .contains(&format!("{overlap} skipped as already stored")),
        "{}",
        r.stderr
    );
    assert_eq!(env.count("Update") as usize, n);
    // Duplicates inside one input are removed the same way.
    let twice = env.write(
        "twice.ndjson",
        format!("{0}{0}", std::fs::read_to_string(&a).unwrap()).as_bytes(),
    );
    let env2 = Env::new();
    assert_eq!(env2.ingest(&[&twice]).code, 0);
    assert_eq!(env2.count("Update") as usize, n * 6 / 10);
}

#[test]
fn compact_retain_vacuum_verify() {
    let env = Env::new();
    let (a, b, n) = overlapping_exports(&env);
    assert_eq!(env.ingest(&[&a]).code, 0);
    assert_eq!(env.ingest(&[&b]).code, 0);
    let before = parquet_files(&env.store().join("Update"));
    let r = env.run(&["compact"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("compacted"), "{}", r.stderr);
    assert_eq!(env.count("Update") as usize, n);
    let tables = env.run(&["tables"]).stdout;
    let files: usize = tables
        .lines()
        .find(|l| l.starts_with("Update "))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        files < before,
        "{files} files after compact, {before} before"
    );
    // Old files stay for readers until vacuum, which keeps recent ones by default.
    assert_eq!(parquet_files(&env.store().join("Update")), before + files);
    assert!(env
        .run(&["vacuum"])
        .stderr
        .contains(&format!("kept {before}")));
    assert_eq!(parquet_files(&env.store().join("Update")), before + files);
    let r = env.run(&["vacuum", "--min-age", "0s"]);
    assert_eq!(r.code, 0);
    assert_eq!(parquet_files(&env.store().join("Update")), files);
    assert_eq!(env.count("Update") as usize, n);
    let r = env.run(&["verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The generated data is from March 2024: a retention of 30 days drops every partition.
    let r = env.run(&["retain", "--older-than", "30d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("removed Update/date=2024-03-"),
        "{}",
        r.stdout
    );
    assert_eq!(env.count("Update"), 0);
    let r = env.run(&["retain", "--older-than", "3x"]);
    assert_eq!(r.code, 2);
}

#[test]
fn corrupt_or_missing_files_fail_queries_by_name_and_verify_lists_them() {
    let env = Env::new();
    let lines: String = (1..=3).map(|d| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-0{d}T00:00:00Z\",\"Computer\":\"c{d}\"}}\n")).collect();
    let f = env.write("e.ndjson", lines.as_bytes());
    assert_eq!(env.ingest(&[&f]).code, 0);
    let day1 = env.store().join("Event/date=2024-01-01/part-1-0.parquet");
    let day2 = env.store().join("Event/date=2024-01-02/part-1-1.parquet");
    std::fs::write(&day1, b"not parquet at all").unwrap();
    std::fs::remove_file(&day2).unwrap();
    let r = env.run(&["verify"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("date=2024-01-01/part-1-0.parquet"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("date=2024-01-02/part-1-1.parquet"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("2 problems"), "{}", r.stderr);
    for sql in [
        r#"SELECT "Computer" FROM "Event""#,
        r#"SELECT * FROM "Event" WHERE "TimeGenerated" < '2024-01-02'"#,
    ] {
        let r = env.run(&["sql", sql]);
        assert_ne!(
            r.code, 0,
            "{sql}: a broken store must not give a partial answer"
        );
        assert!(
            r.stderr.contains("part-1-"),
            "{sql}: the error must name the file: {}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
    // The missing file alone (the corrupt one pruned away) still fails the query; the
    // overwritten one alone is caught by its size (the log keeps it) before it is read.
    for (sql, message) in [
        (
            r#"SELECT "Computer" FROM "Event" WHERE "TimeGenerated" > '2024-01-01T12:00:00Z'"#,
            "date=2024-01-02/part-1-1.parquet is missing",
        ),
        (
            r#"SELECT "Computer" FROM "Event" WHERE "TimeGenerated" < '2024-01-02'"#,
            "date=2024-01-01/part-1-0.parquet has 18 bytes, the log says",
        ),
    ] {
        let r = env.run(&["sql", sql]);
        assert_eq!(r.code, 1, "{sql}: {}", r.stdout);
        assert!(r.stderr.contains(message), "{sql}: {}", r.stderr);
    }
    // Pruned away, the broken files do not matter.
    assert_eq!(
        env.csv(r#"SELECT "Computer" FROM "Event" WHERE "TimeGenerated" >= '2024-01-03'"#),
        vec!["c3"]
    );
}

#[test]
fn a_second_writer_waits_and_lock_timeout_bounds_the_wait() {
    let env = Env::new();
    std::fs::create_dir_all(env.store().join("_log")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.store().join("_lock"))
        .unwrap();
    lock.lock().unwrap();
    let f = env.write(
        "e.ndjson",
        b"{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\"}\n",
    );
    let r = env.run(&["ingest", f.to_str().unwrap(), "--lock-timeout", "0.3"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("waiting for another writer"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("gave up waiting for the writer lock"),
        "{}",
        r.stderr
    );
    // Readers never take the lock.
    assert_eq!(env.count("Event"), 0);
    drop(lock);
    assert_eq!(env.ingest(&[&f]).code, 0);
    assert_eq!(env.count("Event"), 1);
}
