//! Parquet checkpoints of a table's log (`<version>.checkpoint.parquet` and
//! `_last_checkpoint`), so that readers load one file instead of replaying every commit.
//!
//! The actions go through arrow-json both ways: written as JSON objects and decoded into the
//! checkpoint's Arrow schema (structs, maps and lists as the protocol defines them), and read
//! back by encoding the rows as JSON again. The Parquet itself is arrow-rs's.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use super::actions::Action;
use super::{log_dir, read_table};
use crate::store::{sync_dir, StoreError};

fn file_name(version: u64) -> String {
    format!("{version:020}.checkpoint.parquet")
}

fn string_map() -> DataType {
    let entries = Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// The checkpoint schema of the protocol (the columns omslake's actions use).
fn schema() -> SchemaRef {
    let strukt = |fields: Vec<Field>| DataType::Struct(Fields::from(fields));
    Arc::new(Schema::new(vec![
        Field::new(
            "txn",
            strukt(vec![
                utf8("appId"),
                Field::new("version", DataType::Int64, true),
                Field::new("lastUpdated", DataType::Int64, true),
            ]),
            true,
        ),
        Field::new(
            "add",
            strukt(vec![
                utf8("path"),
                Field::new("partitionValues", string_map(), true),
                Field::new("size", DataType::Int64, true),
                Field::new("modificationTime", DataType::Int64, true),
                Field::new("dataChange", DataType::Boolean, true),
                utf8("stats"),
                Field::new("tags", string_map(), true),
            ]),
            true,
        ),
        Field::new(
            "remove",
            strukt(vec![
                utf8("path"),
                Field::new("deletionTimestamp", DataType::Int64, true),
                Field::new("dataChange", DataType::Boolean, true),
                Field::new("extendedFileMetadata", DataType::Boolean, true),
                Field::new("partitionValues", string_map(), true),
                Field::new("size", DataType::Int64, true),
            ]),
            true,
        ),
        Field::new(
            "metaData",
            strukt(vec![
                utf8("id"),
                utf8("name"),
                utf8("description"),
                Field::new(
                    "format",
                    strukt(vec![
                        utf8("provider"),
                        Field::new("options", string_map(), true),
                    ]),
                    true,
                ),
                utf8("schemaString"),
                Field::new(
                    "partitionColumns",
                    DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                    true,
                ),
                Field::new("configuration", string_map(), true),
                Field::new("createdTime", DataType::Int64, true),
            ]),
            true,
        ),
        Field::new(
            "protocol",
            strukt(vec![
                Field::new("minReaderVersion", DataType::Int32, true),
                Field::new("minWriterVersion", DataType::Int32, true),
            ]),
            true,
        ),
    ]))
}

/// Write the checkpoint of `table` at `version` (whose commit exists), then point
/// `_last_checkpoint` at it. A crash in between leaves the previous pointer, still valid.
pub fn write(root: &Path, table: &str, version: u64) -> Result<(), StoreError> {
    let Some(state) = read_table(root, table, Some(version))? else {
        return Ok(());
    };
    let mut lines = Vec::new();
    let mut push = |a: Action| {
        serde_json::to_writer(&mut lines, &a).expect("actions serialise");
        lines.push(b'\n');
    };
    if let Some(p) = state.protocol.clone() {
        push(Action::Protocol(p));
    }
    if let Some(m) = state.metadata.clone() {
        push(Action::MetaData(m));
    }
    let files = state.files.len();
    for add in state.files.into_values() {
        push(Action::Add(add));
    }
    let parquet_err = |e: &dyn std::fmt::Display| StoreError::Parquet(e.to_string());
    let schema = schema();
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(8192)
        .build(std::io::Cursor::new(lines))
        .map_err(|e| parquet_err(&e))?;
    let dir = log_dir(root, table);
    let path = dir.join(file_name(version));
    let tmp = dir.join(format!(".tmp-{}", file_name(version)));
    let file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let mut writer = ArrowWriter::try_new(file, schema, None).map_err(|e| parquet_err(&e))?;
    for batch in &mut decoder {
        let batch: RecordBatch = batch.map_err(|e| parquet_err(&e))?;
        writer.write(&batch).map_err(|e| parquet_err(&e))?;
    }
    let file = writer.into_inner().map_err(|e| parquet_err(&e))?;
    file.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))?;
    let pointer = serde_json::json!({"version": version, "size": files + 2}).to_string();
    let tmp = dir.join(".tmp-_last_checkpoint");
    let mut f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    f.write_all(pointer.as_bytes())
        .map_err(|e| StoreError::io(&tmp, e))?;
    f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, dir.join("_last_checkpoint")).map_err(|e| StoreError::io(&dir, e))?;
    sync_dir(&dir)
}

/// The newest checkpoint at or before `version`.
pub fn latest_at_or_before(
    root: &Path,
    table: &str,
    version: u64,
) -> Result<Option<u64>, StoreError> {
    let dir = log_dir(root, table);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&dir, e)),
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".checkpoint.parquet")
                .and_then(|v| v.parse::<u64>().ok())
        })
        .filter(|v| *v <= version)
        .max())
}

/// The actions of a checkpoint.
pub fn read(root: &Path, table: &str, version: u64) -> Result<Vec<Action>, StoreError> {
    let path = log_dir(root, table).join(file_name(version));
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| corrupt(&e))?;
    let mut text = Vec::new();
    {
        let mut writer = arrow::json::LineDelimitedWriter::new(&mut text);
        for batch in reader {
            writer
                .write(&batch.map_err(|e| corrupt(&e))?)
                .map_err(|e| corrupt(&e))?;
        }
        writer.finish().map_err(|e| corrupt(&e))?;
    }
    let text = String::from_utf8(text).map_err(|e| corrupt(&e))?;
    let mut actions = Vec::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| corrupt(&e))?;
        // One action a row: the only non-null column.
        if let serde_json::Value::Object(map) = value {
            for (k, v) in map {
                if v.is_null() || k == "txn" {
                    continue;
                }
                let action: Action =
                    serde_json::from_value(serde_json::json!({ k: v })).map_err(|e| corrupt(&e))?;
                actions.push(action);
            }
        }
    }
    Ok(actions)
}
