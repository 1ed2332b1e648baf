//! Each `<store>/<Table>/` is a Delta Lake table: `_delta_log/<version>.json` commits (and a
//! Parquet checkpoint every [`CHECKPOINT_EVERY`] versions), which every engine reads as the
//! table's snapshot, and which omslake's own queries read too.
//!
//! Versions line up with omslake's commits: commit N of the store (`_log/N.json`, the writer's
//! journal of sources, rejects and files) is version N of *every* table, an empty commit (just
//! `commitInfo`) for a table it does not touch; version 0 creates the table. So `history`,
//! `--as-of N` and `DeltaTable(path, version=N)` name the same state.
//!
//! A commit writes `_log/N.json` first (the commit point for writers: sources are never
//! ingested twice), then version N of each table. A writer that dies between the two leaves
//! tables one version behind; the next writer catches them up ([`catch_up`]) before anything
//! else. Each table is always at a committed version, for omslake and other readers alike.

pub mod actions;
pub mod checkpoint;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use actions::{Action, Add, CommitInfo, Format, Metadata, Protocol, Remove};
use serde_json::json;

use super::log::{self, Commit, DataFile, Snapshot};
use super::{fault, sync_dir, StoreError};
use crate::schema::{Catalog, ColumnType, TableSchema, TABLE_NAMES};

pub const DELTA_LOG: &str = "_delta_log";
pub const CHECKPOINT_EVERY: u64 = 10;
/// The partition column: the folder's `date=YYYY-MM-DD`, not stored in the files.
pub const PARTITION_COLUMN: &str = "date";
/// `add.tags` keys of a file's exact `TimeGenerated` bounds (microseconds).
const MIN_TIME_TAG: &str = "omslake.minTimeMicros";
const MAX_TIME_TAG: &str = "omslake.maxTimeMicros";

fn log_dir(root: &Path, table: &str) -> PathBuf {
    root.join(table).join(DELTA_LOG)
}

fn commit_file(version: u64) -> String {
    format!("{version:020}.json")
}

/// The table's schema as Delta's `schemaString`, with the `date` partition column last.
pub fn schema_string(table: &TableSchema) -> String {
    let mut fields: Vec<serde_json::Value> = table
        .columns
        .iter()
        .map(|c| {
            let ty = match c.ty {
                ColumnType::String | ColumnType::Dynamic => "string",
                ColumnType::Datetime => "timestamp",
                ColumnType::Bool => "boolean",
                ColumnType::Int => "integer",
                ColumnType::Long => "long",
                ColumnType::Real => "double",
            };
            json!({"name": c.name, "type": ty, "nullable": c.nullable, "metadata": {}})
        })
        .collect();
    fields
        .push(json!({"name": PARTITION_COLUMN, "type": "date", "nullable": false, "metadata": {}}));
    json!({"type": "struct", "fields": fields}).to_string()
}

/// Versions of the JSON commits in a table's log, ascending.
pub fn versions(root: &Path, table: &str) -> Result<Vec<u64>, StoreError> {
    log::numbered_json(&log_dir(root, table))
}

/// Whether the store has Delta logs (stores written before them have only `_log/`).
pub fn exists(root: &Path) -> bool {
    TABLE_NAMES
        .iter()
        .any(|t| log_dir(root, t).join(commit_file(0)).exists())
}

/// Write one commit, created only if absent (a hard link of a synced temporary file).
fn write_commit(
    root: &Path,
    table: &str,
    version: u64,
    actions: &[Action],
) -> Result<(), StoreError> {
    let dir = log_dir(root, table);
    fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let tmp = dir.join(format!(".tmp-{}", commit_file(version)));
    let path = dir.join(commit_file(version));
    {
        let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let mut text = Vec::new();
        for a in actions {
            serde_json::to_writer(&mut text, a).expect("actions serialise");
            text.push(b'\n');
        }
        f.write_all(&text).map_err(|e| StoreError::io(&tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    }
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(&dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::Conflict(version))
        }
        Err(e) => Err(StoreError::io(&path, e)),
    }
}

fn read_commit(root: &Path, table: &str, version: u64) -> Result<Vec<Action>, StoreError> {
    let path = log_dir(root, table).join(commit_file(version));
    let text = fs::read_to_string(&path).map_err(|e| StoreError::io(&path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|e| StoreError::Corrupt {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|d| d.timestamp_millis())
        .unwrap_or_else(|_| chrono::Utc::now().timestamp_millis())
}

/// `Table/date=2024-03-01/part-1-0.parquet` → (`date=2024-03-01/part-1-0.parquet`, `2024-03-01`).
fn relative(table: &str, path: &str) -> (String, Option<String>) {
    let rel = path
        .strip_prefix(table)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
        .to_string();
    let date = rel
        .split('/')
        .next()
        .and_then(|d| d.strip_prefix("date="))
        .map(str::to_string);
    (rel, date)
}

fn create_actions(table: &TableSchema, at_millis: i64, operation: &str) -> Vec<Action> {
    let id = blake3::hash(format!("{}{at_millis}", table.name).as_bytes()).to_hex();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &id[0..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..32]
    );
    vec![
        Action::CommitInfo(CommitInfo {
            timestamp: at_millis,
            operation: operation.to_string(),
            client_version: Some(client_version()),
            ..CommitInfo::default()
        }),
        Action::Protocol(Protocol::default()),
        Action::MetaData(Metadata {
            id,
            name: Some(table.name.clone()),
            description: Some(table.description.clone()),
            format: Format {
                provider: "parquet".into(),
                options: BTreeMap::new(),
            },
            schema_string: schema_string(table),
            partition_columns: vec![PARTITION_COLUMN.into()],
            configuration: BTreeMap::new(),
            created_time: Some(at_millis),
        }),
    ]
}

fn client_version() -> String {
    format!("omslake-{}", env!("CARGO_PKG_VERSION"))
}

/// Version `commit.version` of `table`: its files added and removed by the commit (`before`
/// is the store's state before it), and what the commit did.
fn table_commit(
    root: &Path,
    table: &TableSchema,
    commit: &Commit,
    before: &Snapshot,
    written_stats: &HashMap<String, String>,
) -> Vec<Action> {
    let at = millis(&commit.committed_at);
    let data_change = commit.operation != "compact";
    let mut actions = Vec::new();
    let (mut rows_added, mut rows_removed, mut files_added, mut files_removed) =
        (0u64, 0u64, 0u64, 0u64);
    let known: BTreeMap<&str, &DataFile> = before
        .table_files(&table.name)
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    for path in &commit.remove {
        let Some(file) = known.get(path.as_str()) else {
            continue;
        };
        let (rel, date) = relative(&table.name, path);
        rows_removed += file.rows;
        files_removed += 1;
        actions.push(Action::Remove(Remove {
            path: rel,
            deletion_timestamp: Some(at),
            data_change,
            extended_file_metadata: Some(true),
            partition_values: Some([(PARTITION_COLUMN.to_string(), date)].into()),
            size: Some(file.bytes as i64),
        }));
    }
    for file in commit.add.iter().filter(|f| f.table == table.name) {
        let (rel, date) = relative(&table.name, &file.path);
        let modified = fs::metadata(root.join(&file.path))
            .and_then(|m| m.modified())
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis())
            .unwrap_or(at);
        rows_added += file.rows;
        files_added += 1;
        actions.push(Action::Add(Add {
            path: rel,
            partition_values: [(PARTITION_COLUMN.to_string(), date)].into(),
            size: file.bytes as i64,
            modification_time: modified,
            data_change,
            stats: Some(match written_stats.get(&file.path) {
                Some(stats) => stats.clone(),
                None => stats::file_stats(root, table, file),
            }),
            tags: Some(
                [
                    (MIN_TIME_TAG.to_string(), file.min_time.to_string()),
                    (MAX_TIME_TAG.to_string(), file.max_time.to_string()),
                ]
                .into(),
            ),
        }));
    }
    let metrics = [
        ("numAddedFiles", files_added),
        ("numRemovedFiles", files_removed),
        ("numOutputRows", rows_added),
        ("numRemovedRows", rows_removed),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut extra = BTreeMap::new();
    extra.insert("omslakeVersion".to_string(), json!(commit.version));
    if !commit.sources.is_empty() {
        extra.insert("sources".to_string(), json!(commit.sources));
    }
    if commit.rejected > 0 {
        extra.insert("rejected".to_string(), json!(commit.rejected));
    }
    let info = CommitInfo {
        timestamp: at,
        operation: commit.operation.clone(),
        client_version: Some(client_version()),
        is_blind_append: Some(commit.remove.is_empty()),
        operation_metrics: metrics,
        extra,
        ..CommitInfo::default()
    };
    let mut out = vec![Action::CommitInfo(info)];
    out.extend(actions);
    out
}

/// Publish `commit` (just written to `_log/`) as the same version of every table.
/// `written_stats` holds the stats of files this process wrote, by path (`stats::stats_json`
/// of their writers' metadata); any other file's are read from its footer.
pub fn publish(
    root: &Path,
    commit: &Commit,
    before: &Snapshot,
    written_stats: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let catalog = Catalog::builtin();
    for (i, table) in catalog.tables().iter().enumerate() {
        if versions(root, &table.name)?.is_empty() {
            write_commit(
                root,
                &table.name,
                0,
                &create_actions(table, millis(&commit.committed_at), "create"),
            )?;
        }
        write_commit(
            root,
            &table.name,
            commit.version,
            &table_commit(root, table, commit, before, written_stats),
        )?;
        if i == 0 {
            fault::point("between-table-commits");
        }
        if commit.version.is_multiple_of(CHECKPOINT_EVERY) {
            checkpoint::write(root, &table.name, commit.version)?;
        }
    }
    Ok(())
}

/// Bring every table's log up to the store's last commit: tables a crashed writer left
/// behind, and stores written before Delta logs existed (their whole history is written, so
/// time travel reaches it while the files exist). Returns the versions written.
pub fn catch_up(root: &Path) -> Result<usize, StoreError> {
    let commits = log::versions(root)?;
    let Some(&last) = commits.last() else {
        return Ok(0);
    };
    let catalog = Catalog::builtin();
    let mut latest = Vec::new();
    for table in catalog.tables() {
        latest.push(versions(root, &table.name)?.last().copied());
    }
    if latest.iter().all(|v| *v == Some(last)) {
        return Ok(0);
    }
    for (i, expected) in commits.iter().enumerate() {
        if *expected != i as u64 + 1 {
            return Err(StoreError::Corrupt {
                path: root.join(log::LOG_DIR).display().to_string(),
                reason: format!("commit {} is missing", i + 1),
            });
        }
    }
    let mut written = 0;
    let mut before = Snapshot::default();
    // Another table has a log: a writer died while creating them. None has: a store from
    // before Delta logs.
    let operation = if exists(root) { "create" } else { "upgrade" };
    for (table, at) in catalog.tables().iter().zip(&latest) {
        if at.is_none() {
            let first = log::read_commit(root, commits[0])?;
            write_commit(
                root,
                &table.name,
                0,
                &create_actions(table, millis(&first.committed_at), operation),
            )?;
            written += 1;
        }
    }
    for &v in &commits {
        let commit = log::read_commit(root, v)?;
        for (table, at) in catalog.tables().iter().zip(&latest) {
            if at.is_none_or(|at| at < v) {
                write_commit(
                    root,
                    &table.name,
                    v,
                    &table_commit(root, table, &commit, &before, &HashMap::new()),
                )?;
                written += 1;
                if v % CHECKPOINT_EVERY == 0 {
                    checkpoint::write(root, &table.name, v)?;
                }
            }
        }
        before.apply(commit);
    }
    Ok(written)
}

/// A table's state at one version: its live files (with their stats) and what created it.
#[derive(Debug, Clone, Default)]
pub struct TableState {
    pub version: u64,
    pub files: BTreeMap<String, Add>,
    pub metadata: Option<Metadata>,
    pub protocol: Option<Protocol>,
}

impl TableState {
    fn apply(&mut self, action: Action) {
        match action {
            Action::Add(a) => {
                self.files.insert(a.path.clone(), a);
            }
            Action::Remove(r) => {
                self.files.remove(&r.path);
            }
            Action::MetaData(m) => self.metadata = Some(m),
            Action::Protocol(p) => self.protocol = Some(p),
            Action::CommitInfo(_) | Action::Other(_) => {}
        }
    }

    /// The live files as the store's [`DataFile`]s (paths from the store root).
    pub fn data_files(&self, table: &str) -> Vec<DataFile> {
        let mut out: Vec<DataFile> = self
            .files
            .values()
            .map(|a| {
                let stats: serde_json::Value = a
                    .stats
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or_default();
                let tag = |name: &str| a.tags.as_ref()?.get(name)?.parse::<i64>().ok();
                let bound = |which: &str, tag_name: &str, fallback: i64| {
                    tag(tag_name)
                        .or_else(|| {
                            stats[which][crate::schema::TIME_COLUMN]
                                .as_str()
                                .and_then(stats::parse_timestamp)
                        })
                        .unwrap_or(fallback)
                };
                DataFile {
                    table: table.to_string(),
                    path: format!("{table}/{}", a.path),
                    rows: stats["numRecords"].as_u64().unwrap_or(0),
                    bytes: a.size as u64,
                    min_time: bound("minValues", MIN_TIME_TAG, i64::MIN),
                    max_time: bound("maxValues", MAX_TIME_TAG, i64::MAX),
                }
            })
            .collect();
        // Commit order, as the store's own log keeps them (`part-<commit>-<n>`).
        out.sort_by_key(|f| {
            let name = f.path.rsplit('/').next().unwrap_or_default();
            let mut parts = name
                .trim_start_matches("part-")
                .trim_end_matches(".parquet")
                .split('-');
            let commit: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let n: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            (commit, n, f.path.clone())
        });
        out
    }
}

/// `table` at `version` (its latest when `None`): the newest checkpoint at or before it,
/// then the JSON commits after. `None` when the table has no Delta log.
pub fn read_table(
    root: &Path,
    table: &str,
    version: Option<u64>,
) -> Result<Option<TableState>, StoreError> {
    let all = versions(root, table)?;
    let Some(&latest) = all.last() else {
        return Ok(None);
    };
    let target = version.unwrap_or(latest);
    if target > latest {
        return Err(StoreError::NoSuchVersion {
            version: target,
            latest,
        });
    }
    let mut state = TableState::default();
    let start = match checkpoint::latest_at_or_before(root, table, target)? {
        Some(v) => {
            for action in checkpoint::read(root, table, v)? {
                state.apply(action);
            }
            v + 1
        }
        None => 0,
    };
    for v in start..=target {
        for action in read_commit(root, table, v)? {
            state.apply(action);
        }
    }
    state.version = target;
    Ok(Some(state))
}

/// The store as Delta readers see it: every table at its latest version (or at `version`),
/// and the version every table has reached. `None` when the store has no Delta logs yet.
pub fn read_snapshot(root: &Path, version: Option<u64>) -> Result<Option<Snapshot>, StoreError> {
    if !exists(root) {
        return Ok(None);
    }
    // The snapshot's version is the one every table has reached (a writer may be between two
    // tables' commits).
    let mut snapshot = Snapshot {
        version: u64::MAX,
        ..Snapshot::default()
    };
    for table in TABLE_NAMES {
        match read_table(root, table, version)? {
            Some(state) => {
                snapshot.version = snapshot.version.min(state.version);
                snapshot
                    .files
                    .insert(table.to_string(), state.data_files(table));
            }
            None => snapshot.version = 0,
        }
    }
    Ok(Some(snapshot))
}

/// The `commitInfo` of each version of `table`, ascending.
pub fn history(root: &Path, table: &str) -> Result<Vec<(u64, CommitInfo)>, StoreError> {
    let mut out = Vec::new();
    for v in versions(root, table)? {
        let info = read_commit(root, table, v)?
            .into_iter()
            .find_map(|a| match a {
                Action::CommitInfo(c) => Some(c),
                _ => None,
            });
        out.push((v, info.unwrap_or_default()));
    }
    Ok(out)
}

/// Where the tables' Delta logs differ from the writer journal's `snapshot`: a table a
/// version behind (a crashed writer; the next write catches it up), or a different file set.
/// A store without Delta logs (written before them) has nothing to compare.
pub fn check(root: &Path, snapshot: &Snapshot) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    if !exists(root) {
        return Ok(problems);
    }
    for table in TABLE_NAMES {
        let Some(state) = read_table(root, table, None)? else {
            problems.push(format!("{table}: no Delta log"));
            continue;
        };
        if state.version != snapshot.version {
            problems.push(format!(
                "{table}: Delta log at version {}, the store at {} (a writer stopped between them; the next write catches up)",
                state.version, snapshot.version
            ));
            continue;
        }
        let delta: std::collections::BTreeSet<String> = state
            .data_files(table)
            .into_iter()
            .map(|f| f.path)
            .collect();
        let journal: std::collections::BTreeSet<String> = snapshot
            .table_files(table)
            .iter()
            .map(|f| f.path.clone())
            .collect();
        for p in delta.symmetric_difference(&journal) {
            problems.push(format!(
                "{table}: {p} is {} the Delta log but {} the journal",
                if delta.contains(p) { "in" } else { "not in" },
                if journal.contains(p) { "in" } else { "not in" }
            ));
        }
    }
    Ok(problems)
}
