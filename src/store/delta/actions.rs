//! Delta Lake transaction log actions as types (the protocol's JSON shape), after delta-rs's
//! `kernel::models::actions`. One action a line in `<table>/_delta_log/<version>.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The lowest protocol that does the job: no deletion vectors, no column mapping, no
/// table features (reader 1 / writer 2 reads everywhere, Spark 2.4 on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Protocol {
    pub min_reader_version: i32,
    pub min_writer_version: i32,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            min_reader_version: 1,
            min_writer_version: 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Format {
    pub provider: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub format: Format,
    pub schema_string: String,
    pub partition_columns: Vec<String>,
    #[serde(default)]
    pub configuration: BTreeMap<String, String>,
    #[serde(default)]
    pub created_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// Relative to the table folder: `date=2024-03-01/part-7-0.parquet`.
    pub path: String,
    pub partition_values: BTreeMap<String, Option<String>>,
    pub size: i64,
    pub modification_time: i64,
    pub data_change: bool,
    /// JSON text: `numRecords`, `minValues`, `maxValues`, `nullCount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    /// omslake's exact `TimeGenerated` bounds in microseconds (the stats hold milliseconds,
    /// as other readers parse them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    pub path: String,
    #[serde(default)]
    pub deletion_timestamp: Option<i64>,
    pub data_change: bool,
    #[serde(default)]
    pub extended_file_metadata: Option<bool>,
    #[serde(default)]
    pub partition_values: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub size: Option<i64>,
}

/// What a commit did, for `history`: Delta's free-form `commitInfo`, with omslake's fields.
/// Parameters and metrics are maps of strings, as Spark reads them; omslake's own fields
/// (`omslakeVersion`, `sources`) are extra keys that other readers ignore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    pub timestamp: i64,
    pub operation: String,
    #[serde(default)]
    pub operation_parameters: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_blind_append: Option<bool>,
    #[serde(default)]
    pub operation_metrics: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One line of a commit file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Protocol(Protocol),
    MetaData(Metadata),
    Add(Add),
    Remove(Remove),
    CommitInfo(CommitInfo),
    /// Actions omslake does not write (`txn`, `cdc`, `domainMetadata`, …) are kept as read.
    #[serde(untagged)]
    Other(serde_json::Value),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_use_the_protocols_names() {
        let add = Action::Add(Add {
            path: "date=2024-03-01/part-1-0.parquet".into(),
            partition_values: [("date".to_string(), Some("2024-03-01".to_string()))].into(),
            size: 10,
            modification_time: 1,
            data_change: true,
            stats: Some("{\"numRecords\":3}".into()),
            tags: None,
        });
        let text = serde_json::to_string(&add).unwrap();
        assert_eq!(
            text,
            r#"{"add":{"path":"date=2024-03-01/part-1-0.parquet","partitionValues":{"date":"2024-03-01"},"size":10,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":3}"}}"#
        );
        assert_eq!(serde_json::from_str::<Action>(&text).unwrap(), add);
        let p = serde_json::to_string(&Action::Protocol(Protocol::default())).unwrap();
        assert_eq!(
            p,
            r#"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#
        );
        let other: Action = serde_json::from_str(r#"{"txn":{"appId":"x","version":1}}"#).unwrap();
        assert!(matches!(other, Action::Other(_)));
    }
}
