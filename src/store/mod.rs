//! The store folder: the only code that touches it.
//!
//! ```text
//! <store>/<Table>/date=YYYY-MM-DD/part-<commit>-<n>.parquet   committed data (Hive layout)
//! <store>/_log/<commit>.json                                   commit records
//! <store>/_staging/<commit>/                                   a writer's files before commit
//! <store>/_rejects/<commit>.ndjson                             records a commit could not store
//! <store>/_lock                                                the writer lock
//! ```

pub mod buffer;
pub mod dedup;
pub mod delta;
mod dict_chunk;
pub(crate) mod distinct;
pub mod fault;
pub mod history;
pub mod lock;
pub mod log;
pub mod maintenance;
pub mod memory;
mod page_values;
pub mod parquet_file;
mod rle;
pub mod spill;
pub mod writer;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

pub use log::{DataFile, Snapshot};
pub use writer::Transaction;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("another writer committed version {0} at the same time; run the command again")]
    Conflict(u64),
    #[error("gave up waiting for the writer lock after {0:?} (another ingest, compact, retain or vacuum is running)")]
    LockTimeout(Duration),
    #[error("{0} is not an omslake store (it has files but no _log folder)")]
    NotAStore(String),
    #[error("writing Parquet: {0}")]
    Parquet(String),
    #[error("there is no version {version}: the latest is {latest} (see `omslake history`)")]
    NoSuchVersion { version: u64, latest: u64 },
}

impl StoreError {
    pub fn io(path: &Path, error: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open a store for reading; a missing folder is an empty store.
    pub fn open(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The latest committed state as the writer journal (`_log/`) records it: files, and the
    /// sources already ingested.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        log::read_snapshot(&self.root)
    }

    /// The state queries read: every table's Delta snapshot, as other engines see it, at
    /// `version` or the latest. A store written before Delta logs (until its next write or
    /// `omslake upgrade`) is read from its journal.
    pub fn read_snapshot(&self, version: Option<u64>) -> Result<Snapshot, StoreError> {
        match delta::read_snapshot(&self.root, version)? {
            Some(s) => Ok(s),
            None => log::read_snapshot_at(&self.root, version),
        }
    }

    /// Write the Delta logs of a store written before them (or finish those a crashed writer
    /// left behind). Any write does this first; returns the versions written.
    pub fn upgrade(
        &self,
        lock_timeout: Option<Duration>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<usize, StoreError> {
        if !self.root.join(log::LOG_DIR).exists() {
            return Ok(0);
        }
        let _lock = lock::WriterLock::acquire(&self.root, lock_timeout, on_wait)?;
        delta::catch_up(&self.root)
    }

    /// Start a write: create the store if needed, take the writer lock, clean what a crashed
    /// writer left.
    pub fn begin(
        &self,
        operation: &str,
        lock_timeout: Option<Duration>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<Transaction, StoreError> {
        if self.root.exists() && !self.root.join(log::LOG_DIR).exists() {
            let non_empty = fs::read_dir(&self.root)
                .map_err(|e| StoreError::io(&self.root, e))?
                .filter_map(Result::ok)
                .any(|e| e.file_name() != "_lock" && e.file_name() != "_staging");
            if non_empty {
                return Err(StoreError::NotAStore(self.root.display().to_string()));
            }
        }
        fs::create_dir_all(self.root.join(log::LOG_DIR))
            .map_err(|e| StoreError::io(&self.root, e))?;
        let lock = lock::WriterLock::acquire(&self.root, lock_timeout, on_wait)?;
        // Tables a crashed writer left a version behind, or a store from before Delta logs.
        delta::catch_up(&self.root)?;
        let snapshot = self.snapshot()?;
        let cleaned = cleanup(&self.root, snapshot.version)?;
        Transaction::new(self.root.clone(), lock, snapshot, operation, cleaned)
    }
}

/// Delete what a writer that died before committing left behind: its staging folder, data
/// files and rejects numbered past the last commit. Returns how many files were removed.
fn cleanup(root: &Path, last: u64) -> Result<usize, StoreError> {
    let mut removed = 0;
    let staging = root.join("_staging");
    if staging.exists() {
        removed += count_files(&staging);
        fs::remove_dir_all(&staging).map_err(|e| StoreError::io(&staging, e))?;
    }
    let rejects = root.join("_rejects");
    if let Ok(entries) = fs::read_dir(&rejects) {
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().to_string();
            if name
                .strip_suffix(".ndjson")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|v| v > last)
            {
                fs::remove_file(e.path()).map_err(|err| StoreError::io(&e.path(), err))?;
                removed += 1;
            }
        }
    }
    for table in crate::schema::TABLE_NAMES {
        let dir = root.join(table);
        let Ok(days) = fs::read_dir(&dir) else {
            continue;
        };
        for day in days
            .filter_map(Result::ok)
            .filter(|d| d.file_name().to_string_lossy().starts_with("date="))
        {
            let Ok(files) = fs::read_dir(day.path()) else {
                continue;
            };
            for f in files.filter_map(Result::ok) {
                let name = f.file_name().to_string_lossy().to_string();
                if part_version(&name).is_some_and(|v| v > last) {
                    fs::remove_file(f.path()).map_err(|e| StoreError::io(&f.path(), e))?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// The commit number in `part-<commit>-<n>.parquet`.
pub fn part_version(name: &str) -> Option<u64> {
    name.strip_prefix("part-")?.split('-').next()?.parse().ok()
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|es| {
            es.filter_map(Result::ok)
                .map(|e| {
                    if e.path().is_dir() {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
