//! An ingest larger than its memory budget: rows set aside on disk come back at commit, and
//! dedup keys set aside on disk are still found, so the store holds exactly what an ingest
//! with room to spare stores.

use crate::common::Env;

/// Every row of every table as sorted CSV lines (a multiset: repeats would show).
fn all_rows(env: &Env) -> Vec<String> {
    let mut rows = Vec::new();
    for table in omslake::schema::TABLE_NAMES {
        let mut lines = env.csv(&format!("SELECT * FROM \"{table}\""));
        assert!(!lines.is_empty(), "{table}");
        lines.sort();
        rows.extend(lines);
        rows.push(format!("-- {table}"));
    }
    rows
}

fn files_per_partition(store: &std::path::Path) -> Vec<usize> {
    let mut counts = Vec::new();
    for table in std::fs::read_dir(store).unwrap().flatten() {
        if table.file_name().to_string_lossy().starts_with('_') {
            continue;
        }
        for day in std::fs::read_dir(table.path()).unwrap().flatten() {
            if day.file_name() == "_delta_log" {
                continue;
            }
            counts.push(std::fs::read_dir(day.path()).unwrap().count());
        }
    }
    counts
}

#[test]
fn an_ingest_over_its_buffer_stores_the_same_rows_in_few_files() {
    let roomy = Env::new();
    let gen = roomy.generate("0.5");
    assert_eq!(roomy.ingest(&[&gen]).code, 0);

    let tight = Env::new();
    let r = tight.run(&["ingest", gen.to_str().unwrap(), "--buffer-mb", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("MB of rows waited on disk"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("dedup keys waited on disk"),
        "{}",
        r.stderr
    );
    assert!(!tight.store().join("_staging").exists());
    // Every row, once (the natural keys also held across what went to disk).
    assert_eq!(all_rows(&tight), all_rows(&roomy));
    let r = tight.run(&["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The roomy store has one file per day partition; the tight one more, but not one per
    // spill: runs are merged up to what the budget allows.
    let roomy_files = files_per_partition(&roomy.store());
    assert!(roomy_files.iter().all(|n| *n == 1), "{roomy_files:?}");
    let tight_files: usize = files_per_partition(&tight.store()).iter().sum();
    assert!(
        tight_files < roomy_files.len() * 4,
        "{tight_files} files for {} partitions",
        roomy_files.len()
    );

    // A second ingest of the same rows under another name: all duplicates, nothing stored.
    let copy = tight.path("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(&gen).unwrap().flatten() {
        let mut bytes = std::fs::read(f.path()).unwrap();
        bytes.extend_from_slice(b"\n");
        std::fs::write(copy.join(f.file_name()), bytes).unwrap();
    }
    let r = tight.run(&["ingest", copy.to_str().unwrap(), "--buffer-mb", "1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The stored keys, loaded for the check, were themselves frozen on the way.
    assert!(
        r.stderr.contains("dedup keys waited on disk"),
        "{}",
        r.stderr
    );
    assert_eq!(all_rows(&tight), all_rows(&roomy));
}
