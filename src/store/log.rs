//! The commit log: `<store>/_log/<version>.json`, one record a commit, created only if absent.
//! A reader's view of the store is the replay of these records, never a folder listing.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::StoreError;

pub const LOG_DIR: &str = "_log";

/// A committed Parquet file of a table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataFile {
    pub table: String,
    /// Path relative to the store root, `/`-separated.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    /// `TimeGenerated` bounds in microseconds (UTC), for pruning without opening the file.
    pub min_time: i64,
    pub max_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceEntry {
    pub name: String,
    /// BLAKE3 of the source's bytes as stored (compressed or not). Earlier logs hold
    /// SHA-256 under `sha256`: such sources never match again, and a re-ingest of one is
    /// caught record by record by the natural keys instead.
    #[serde(alias = "sha256")]
    pub blake3: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub version: u64,
    pub committed_at: String,
    pub operation: String,
    #[serde(default)]
    pub sources: Vec<SourceEntry>,
    #[serde(default)]
    pub add: Vec<DataFile>,
    /// Paths of files this commit takes out of the table (compact, retain).
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects: Option<String>,
    #[serde(default)]
    pub rejected: u64,
}

pub fn file_name(version: u64) -> String {
    format!("{version:020}.json")
}

/// The committed state at one version.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub version: u64,
    /// Live files per table, in commit order.
    pub files: BTreeMap<String, Vec<DataFile>>,
    pub sources: HashSet<String>,
    /// Sizes of those sources: a file of any other size cannot be one of them.
    pub source_sizes: HashSet<u64>,
}

impl Snapshot {
    pub fn table_files(&self, table: &str) -> &[DataFile] {
        self.files.get(table).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn apply(&mut self, c: Commit) {
        self.version = c.version;
        if !c.remove.is_empty() {
            let gone: HashSet<&str> = c.remove.iter().map(String::as_str).collect();
            for files in self.files.values_mut() {
                files.retain(|f| !gone.contains(f.path.as_str()));
            }
        }
        for f in c.add {
            self.files.entry(f.table.clone()).or_default().push(f);
        }
        for s in c.sources {
            self.source_sizes.insert(s.bytes);
            self.sources.insert(s.blake3);
        }
    }
}

/// Versions present in the log, ascending.
pub fn versions(root: &Path) -> Result<Vec<u64>, StoreError> {
    numbered_json(&root.join(LOG_DIR))
}

/// The numbers of the `<number>.json` files in `dir`, ascending (none if `dir` is missing):
/// the commits of this journal and of the tables' Delta logs.
pub(crate) fn numbered_json(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|err| StoreError::io(dir, err))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(v) = name
            .strip_suffix(".json")
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Replay the whole log.
pub fn read_snapshot(root: &Path) -> Result<Snapshot, StoreError> {
    read_snapshot_at(root, None)
}

/// Replay the log up to `version` (all of it when `None`).
pub fn read_snapshot_at(root: &Path, version: Option<u64>) -> Result<Snapshot, StoreError> {
    let all = versions(root)?;
    let latest = all.last().copied().unwrap_or(0);
    if let Some(v) = version.filter(|v| *v > latest) {
        return Err(StoreError::NoSuchVersion { version: v, latest });
    }
    let mut snap = Snapshot::default();
    for v in all
        .into_iter()
        .take_while(|v| version.is_none_or(|to| *v <= to))
    {
        snap.apply(read_commit(root, v)?);
    }
    Ok(snap)
}

pub fn read_commit(root: &Path, version: u64) -> Result<Commit, StoreError> {
    let path = root.join(LOG_DIR).join(file_name(version));
    let text = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    serde_json::from_slice(&text).map_err(|e| StoreError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Write a commit record: to a temporary file, fsynced, then hard-linked to its final name,
/// which fails if that version exists (so two writers can never both commit version N).
pub fn write_commit(root: &Path, commit: &Commit) -> Result<(), StoreError> {
    let dir = root.join(LOG_DIR);
    fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
    let tmp = dir.join(format!(".tmp-{}", file_name(commit.version)));
    let final_path = dir.join(file_name(commit.version));
    {
        let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let text = serde_json::to_vec_pretty(commit).expect("commit serialises");
        f.write_all(&text).map_err(|e| StoreError::io(&tmp, e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    }
    super::fault::point("before-log-link");
    let linked = fs::hard_link(&tmp, &final_path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::Conflict(commit.version))
        }
        Err(e) => return Err(StoreError::io(&final_path, e)),
    }
    super::sync_dir(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_logged_with_its_sha256_still_reads() {
        let old: SourceEntry =
            serde_json::from_str(r#"{"name":"a.json","sha256":"00ff","bytes":3}"#).unwrap();
        assert_eq!((old.blake3.as_str(), old.bytes), ("00ff", 3));
        let new = serde_json::to_string(&old).unwrap();
        assert!(new.contains(r#""blake3":"00ff""#), "{new}");
    }
}
