//! The store's versions as `omslake history` lists them, and `--as-of` resolved to one.
//! Read from the tables' Delta logs (the same versions `DeltaTable.history()` lists), or
//! from the writer journal of a store that has none yet.

use std::path::Path;

use super::delta::{self, actions::CommitInfo};
use super::log::{self, Snapshot};
use super::StoreError;
use crate::schema::TABLE_NAMES;

/// One version: when, what, and what changed across all tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Version {
    pub version: u64,
    pub timestamp_millis: i64,
    pub operation: String,
    pub files_added: u64,
    pub files_removed: u64,
    pub rows_added: u64,
    pub rows_removed: u64,
    /// Source names and their BLAKE3 hashes.
    pub sources: Vec<(String, String)>,
}

fn metric(info: &CommitInfo, name: &str) -> u64 {
    info.operation_metrics
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Every version, oldest first.
pub fn versions(root: &Path) -> Result<Vec<Version>, StoreError> {
    if !delta::exists(root) {
        return journal_versions(root);
    }
    let mut out: Vec<Version> = Vec::new();
    for table in TABLE_NAMES {
        for (i, (v, info)) in delta::history(root, table)?.into_iter().enumerate() {
            if out.len() <= i {
                let sources = info
                    .extra
                    .get("sources")
                    .and_then(|s| s.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|s| {
                                (
                                    s["name"].as_str().unwrap_or_default().to_string(),
                                    s["blake3"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Version {
                    version: v,
                    timestamp_millis: info.timestamp,
                    operation: info.operation.clone(),
                    sources,
                    ..Version::default()
                });
            }
            let entry = &mut out[i];
            entry.files_added += metric(&info, "numAddedFiles");
            entry.files_removed += metric(&info, "numRemovedFiles");
            entry.rows_added += metric(&info, "numOutputRows");
            entry.rows_removed += metric(&info, "numRemovedRows");
        }
    }
    Ok(out)
}

/// The journal's commits, for a store written before Delta logs.
fn journal_versions(root: &Path) -> Result<Vec<Version>, StoreError> {
    let mut out = Vec::new();
    let mut state = Snapshot::default();
    for v in log::versions(root)? {
        let c = log::read_commit(root, v)?;
        let removed: Vec<_> = state
            .files
            .values()
            .flatten()
            .filter(|f| c.remove.contains(&f.path))
            .collect();
        out.push(Version {
            version: v,
            timestamp_millis: chrono::DateTime::parse_from_rfc3339(&c.committed_at)
                .map(|d| d.timestamp_millis())
                .unwrap_or(0),
            operation: c.operation.clone(),
            files_added: c.add.len() as u64,
            files_removed: removed.len() as u64,
            rows_added: c.add.iter().map(|f| f.rows).sum(),
            rows_removed: removed.iter().map(|f| f.rows).sum(),
            sources: c
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.blake3.clone()))
                .collect(),
        });
        state.apply(c);
    }
    Ok(out)
}

/// `--as-of`: a version number, or an RFC 3339 time (the last version committed at or
/// before it).
pub fn resolve(root: &Path, as_of: &str) -> Result<u64, String> {
    if let Ok(v) = as_of.trim().parse::<u64>() {
        return Ok(v);
    }
    let at = crate::time::parse_datetime(as_of.trim()).map_err(|_| {
        format!(
            "--as-of {as_of:?} is neither a version number nor a time like 2024-03-01T12:00:00Z"
        )
    })?;
    let at_millis = at.div_euclid(1000);
    let versions = versions(root).map_err(|e| e.to_string())?;
    versions
        .iter()
        .filter(|v| v.timestamp_millis <= at_millis)
        .map(|v| v.version)
        .max()
        .ok_or_else(|| {
            format!("--as-of {as_of}: the store has no version that old (see `omslake history`)")
        })
}
