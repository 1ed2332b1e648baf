//! `omslake compact | retain | vacuum | verify`.

use std::path::Path;
use std::time::Duration;

use omslake::store::maintenance;
use omslake::store::Store;

use super::ingest_cmd::begin;
use super::{CmdResult, Failure, EXIT_FAILURE, EXIT_USAGE};

/// `90d`, `12h`, `30m`, `45s`, `2w`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{text:?} is not an age like 90d, 12h, 30m"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

pub fn compact(
    store_dir: &Path,
    target_rows: usize,
    lock_timeout: Option<Duration>,
    quiet: bool,
) -> CmdResult {
    let store = Store::open(store_dir);
    let mut tx = begin(&store, "compact", lock_timeout)?;
    let bar = super::progress::items(0, "compact", quiet);
    let result = maintenance::compact_each(&mut tx, target_rows.max(1), &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let (remove, report) = result?;
    if remove.is_empty() {
        tx.discard();
        eprintln!("nothing to compact: every partition has one file");
        return Ok(0);
    }
    let commit = tx
        .commit(Vec::new(), remove)?
        .expect("compact removes files");
    eprintln!(
        "compacted {} partitions: {} files into {}, {} rows, {} duplicates removed (version {}); old files stay until `omslake vacuum`",
        report.partitions, report.files_before, report.files_after, report.rows, report.duplicates_removed, commit.version
    );
    Ok(0)
}

pub fn retain(store_dir: &Path, older_than: &str, lock_timeout: Option<Duration>) -> CmdResult {
    let age = parse_age(older_than).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    let store = Store::open(store_dir);
    let tx = begin(&store, "retain", lock_timeout)?;
    let cutoff =
        chrono::Utc::now().timestamp_micros() - i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
    let drop = maintenance::retain(tx.snapshot(), cutoff);
    if drop.is_empty() {
        eprintln!("nothing older than {older_than}");
        return Ok(0);
    }
    let mut partitions: std::collections::BTreeMap<&str, u64> = Default::default();
    for f in &drop {
        *partitions
            .entry(maintenance::partition_of(&f.path))
            .or_default() += f.rows;
    }
    for (p, rows) in &partitions {
        println!("removed {p} ({rows} rows)");
    }
    let remove = drop.iter().map(|f| f.path.clone()).collect();
    let commit = tx
        .commit(Vec::new(), remove)?
        .expect("retain removes files");
    eprintln!(
        "removed {} partitions in version {}; files are deleted by `omslake vacuum`",
        partitions.len(),
        commit.version
    );
    Ok(0)
}

pub fn vacuum(store_dir: &Path, min_age: &str, lock_timeout: Option<Duration>) -> CmdResult {
    let age = parse_age(min_age).map_err(|e| Failure::new(EXIT_USAGE, e))?;
    let store = Store::open(store_dir);
    let mut tx = begin(&store, "vacuum", lock_timeout)?;
    let report = maintenance::vacuum(store.root(), age)?;
    tx.discard();
    eprintln!(
        "deleted {} unreferenced files ({} bytes); kept {} that a commit younger than {min_age} still named",
        report.deleted_files, report.deleted_bytes, report.kept_recent
    );
    Ok(0)
}

pub fn upgrade(store_dir: &Path, lock_timeout: Option<Duration>) -> CmdResult {
    let store = Store::open(store_dir);
    let dir = store.root().display().to_string();
    let written = store.upgrade(lock_timeout, &mut || {
        eprintln!("omslake: waiting for another writer to finish with {dir}")
    })?;
    match written {
        0 => eprintln!("{dir}: every table's Delta log is up to date"),
        n => eprintln!("{dir}: wrote {n} Delta log versions; every table is a Delta table at the store's last version"),
    }
    Ok(0)
}

pub fn verify(store_dir: &Path, quiet: bool) -> CmdResult {
    let store = Store::open(store_dir);
    let snapshot = store.snapshot()?;
    let files: usize = snapshot.files.values().map(Vec::len).sum();
    let bar = super::progress::items(files as u64, "verify", quiet);
    let mut problems = maintenance::verify_each(store.root(), &snapshot, &mut || bar.inc(1));
    bar.finish_and_clear();
    problems.extend(omslake::store::delta::check(store.root(), &snapshot)?);
    if snapshot.version > 0 && !omslake::store::delta::exists(store.root()) {
        eprintln!("omslake: note: this store has no Delta Lake logs yet; `omslake upgrade` (or any write) adds them so other engines can read it");
    }
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        eprintln!(
            "verified {files} files of version {}: no problems",
            snapshot.version
        );
        Ok(0)
    } else {
        Err(Failure::new(
            EXIT_FAILURE,
            format!(
                "{} problems in {files} files of version {}",
                problems.len(),
                snapshot.version
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages() {
        assert_eq!(super::parse_age("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(super::parse_age("1h").unwrap().as_secs(), 3600);
        assert!(super::parse_age("1y").is_err());
        assert!(super::parse_age("d").is_err());
    }
}
