//! Store maintenance: `compact`, `retain`, `vacuum` and `verify`.
//!
//! `compact` and `retain` replace or drop files through a normal commit, so a reader that
//! opened an older version keeps its files until `vacuum` deletes them, and `vacuum` never
//! deletes a file that a commit younger than `min_age` still named.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::path::Path;
use std::time::Duration;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch, take_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use super::buffer::time_order;
use super::dedup::KeySpec;
use super::log::{self, DataFile};
use super::writer::{parquet_err, Transaction};
use super::{Snapshot, StoreError};
use crate::schema::Catalog;

/// `<Table>/date=YYYY-MM-DD` of a data file path.
pub fn partition_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(dir, _)| dir)
}

fn read_file(root: &Path, f: &DataFile) -> Result<Vec<RecordBatch>, StoreError> {
    let path = root.join(&f.path);
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| corrupt(&e))?
        .build()
        .map_err(|e| corrupt(&e))?;
    reader.map(|b| b.map_err(|e| corrupt(&e))).collect()
}

#[derive(Debug, Default, Serialize)]
pub struct CompactReport {
    pub partitions: usize,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: u64,
    pub duplicates_removed: u64,
}

/// Merge each partition that has more than one file into files of up to `target_rows`
/// rows, sorted by `TimeGenerated`, deduplicated on the natural key. Returns the paths the
/// commit must remove.
pub fn compact(
    tx: &mut Transaction,
    target_rows: usize,
) -> Result<(Vec<String>, CompactReport), StoreError> {
    compact_each(tx, target_rows, &mut |_, _| {})
}

/// [`compact`], calling `merged(done, total)` as each partition with several files is merged
/// (for a progress display).
pub fn compact_each(
    tx: &mut Transaction,
    target_rows: usize,
    merged: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<String>, CompactReport), StoreError> {
    let root = tx.root().to_path_buf();
    let mut report = CompactReport::default();
    let mut remove = Vec::new();
    let catalog = Catalog::builtin();
    let snapshot = tx.snapshot().clone();
    let total: usize = snapshot
        .files
        .values()
        .map(|files| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for f in files {
                *counts.entry(partition_of(&f.path)).or_default() += 1;
            }
            counts.values().filter(|n| **n >= 2).count()
        })
        .sum();
    let mut done = 0;
    for (table_name, files) in &snapshot.files {
        let Some(table) = catalog.get(table_name) else {
            continue;
        };
        let mut by_partition: BTreeMap<&str, Vec<&DataFile>> = BTreeMap::new();
        for f in files {
            by_partition
                .entry(partition_of(&f.path))
                .or_default()
                .push(f);
        }
        for (partition, parts) in by_partition {
            if parts.len() < 2 {
                continue;
            }
            done += 1;
            merged(done, total);
            let mut batches = Vec::new();
            for f in &parts {
                batches.extend(read_file(&root, f)?);
            }
            let all = concat_batches(&table.arrow_schema(), &batches).map_err(parquet_err)?;
            let times = all
                .column(table.time_index())
                .as_primitive::<TimestampMicrosecondType>();
            let order = time_order(times.values());
            let sorted = take_record_batch(&all, &order).map_err(parquet_err)?;
            let spec = KeySpec::new(table);
            let mut seen = HashSet::new();
            let keep: BooleanArray = spec
                .row_hashes(&sorted)
                .into_iter()
                .map(|h| Some(seen.insert(h)))
                .collect();
            let unique = filter_record_batch(&sorted, &keep).map_err(parquet_err)?;
            report.duplicates_removed += (sorted.num_rows() - unique.num_rows()) as u64;
            let mut start = 0;
            while start < unique.num_rows() {
                let len = target_rows.min(unique.num_rows() - start);
                tx.stage_file(table, partition, &unique.slice(start, len))?;
                report.files_after += 1;
                start += len;
            }
            report.partitions += 1;
            report.files_before += parts.len();
            report.rows += unique.num_rows() as u64;
            remove.extend(parts.iter().map(|f| f.path.clone()));
        }
    }
    Ok((remove, report))
}

/// Files of every partition whose day is before the one `cutoff_micros` falls in.
pub fn retain(snapshot: &Snapshot, cutoff_micros: i64) -> Vec<DataFile> {
    let cutoff_day = chrono::DateTime::from_timestamp_micros(cutoff_micros)
        .map(|d| d.format("date=%Y-%m-%d").to_string())
        .unwrap_or_default();
    snapshot
        .files
        .values()
        .flatten()
        .filter(|f| {
            partition_of(&f.path)
                .rsplit('/')
                .next()
                .is_some_and(|day| day < cutoff_day.as_str())
        })
        .cloned()
        .collect()
}

#[derive(Debug, Default, Serialize)]
pub struct VacuumReport {
    pub deleted_files: usize,
    pub deleted_bytes: u64,
    /// Unreferenced files kept because a commit younger than `min_age` still named them.
    pub kept_recent: usize,
}

/// Delete data files no live commit references, once the commit that removed them (or the
/// file itself, if no commit ever named it) is older than `min_age`.
pub fn vacuum(root: &Path, min_age: Duration) -> Result<VacuumReport, StoreError> {
    let now = chrono::Utc::now();
    let mut live = HashSet::new();
    let mut removed_at: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for v in log::versions(root)? {
        let c = log::read_commit(root, v)?;
        let at = chrono::DateTime::parse_from_rfc3339(&c.committed_at)
            .map(|d| d.to_utc())
            .unwrap_or(now);
        for f in &c.add {
            live.insert(f.path.clone());
            removed_at.remove(&f.path);
        }
        for p in c.remove {
            live.remove(&p);
            removed_at.insert(p, at);
        }
    }
    let min_age = chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
    let mut report = VacuumReport::default();
    for table in crate::schema::TABLE_NAMES {
        let Ok(days) = fs::read_dir(root.join(table)) else {
            continue;
        };
        // Day folders only: `_delta_log` is the table's log, never data.
        for day in days
            .filter_map(Result::ok)
            .filter(|d| d.file_name().to_string_lossy().starts_with("date="))
        {
            let Ok(files) = fs::read_dir(day.path()) else {
                continue;
            };
            for f in files.filter_map(Result::ok) {
                let rel = format!(
                    "{table}/{}/{}",
                    day.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                );
                if live.contains(&rel) {
                    continue;
                }
                let since = match removed_at.get(&rel) {
                    Some(at) => *at,
                    None => f
                        .metadata()
                        .and_then(|m| m.modified())
                        .map(chrono::DateTime::<chrono::Utc>::from)
                        .unwrap_or(now),
                };
                if now - since < min_age {
                    report.kept_recent += 1;
                    continue;
                }
                let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(f.path()).map_err(|e| StoreError::io(&f.path(), e))?;
                report.deleted_files += 1;
                report.deleted_bytes += bytes;
            }
            let _ = fs::remove_dir(day.path()); // only when empty
        }
    }
    Ok(report)
}

/// Read every committed file completely and compare it with the log. Returns one line per
/// problem; changes nothing.
pub fn verify(root: &Path, snapshot: &Snapshot) -> Vec<String> {
    verify_each(root, snapshot, &mut || {})
}

/// [`verify`], calling `done` after each file (for a progress display).
pub fn verify_each(root: &Path, snapshot: &Snapshot, done: &mut dyn FnMut()) -> Vec<String> {
    let catalog = Catalog::builtin();
    let mut problems = Vec::new();
    for f in snapshot.files.values().flatten() {
        done();
        let batches = match read_file(root, f) {
            Ok(b) => b,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        if rows != f.rows {
            problems.push(format!("{}: {rows} rows, the log says {}", f.path, f.rows));
        }
        let Some(table) = catalog.get(&f.table) else {
            continue;
        };
        if let Some(first) = batches.first() {
            if first.schema().fields().len() != table.columns.len() {
                problems.push(format!(
                    "{}: {} columns, the {} schema has {}",
                    f.path,
                    first.schema().fields().len(),
                    f.table,
                    table.columns.len()
                ));
                continue;
            }
        }
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for b in &batches {
            for t in b
                .column(table.time_index())
                .as_primitive::<TimestampMicrosecondType>()
                .iter()
                .flatten()
            {
                min = min.min(t);
                max = max.max(t);
            }
        }
        if rows > 0 && (min != f.min_time || max != f.max_time) {
            problems.push(format!(
                "{}: TimeGenerated spans {min}..{max} µs, the log says {}..{}",
                f.path, f.min_time, f.max_time
            ));
        }
        let day = partition_of(&f.path)
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let in_day = |m: i64| {
            chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.format("date=%Y-%m-%d").to_string())
                == Some(day.clone())
        };
        if rows > 0 && !(in_day(min) && in_day(max)) {
            problems.push(format!("{}: rows outside the partition's day", f.path));
        }
    }
    problems
}
