//! A write transaction: Parquet files staged under `_staging/<commit>/`, then renamed into the
//! table folders and made visible by one commit record.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::{sort_to_indices, take_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::dedup::KeyIndex;
use super::lock::WriterLock;
use super::log::{self, Commit, DataFile, Snapshot, SourceEntry};
use super::{fault, sync_dir, StoreError};
use crate::ingest::{IngestError, Reject, Sink};
use crate::schema::TableSchema;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const ROW_GROUP_ROWS: usize = 1024 * 1024;

pub struct Transaction {
    root: PathBuf,
    _lock: WriterLock,
    snapshot: Snapshot,
    version: u64,
    operation: String,
    staging: PathBuf,
    staged: Vec<DataFile>,
    rejects: Option<BufWriter<File>>,
    rejected: u64,
    next_part: usize,
    keys: KeyIndex,
    /// Records not stored because their natural key was already stored, per table.
    pub duplicates: std::collections::BTreeMap<String, u64>,
    /// Files a crashed writer had left, removed when this transaction began.
    pub cleaned_leftovers: usize,
}

impl Transaction {
    pub(super) fn new(
        root: PathBuf,
        lock: WriterLock,
        snapshot: Snapshot,
        operation: &str,
        cleaned_leftovers: usize,
    ) -> Result<Transaction, StoreError> {
        let version = snapshot.version + 1;
        let staging = root.join("_staging").join(version.to_string());
        fs::create_dir_all(&staging).map_err(|e| StoreError::io(&staging, e))?;
        Ok(Transaction {
            root,
            _lock: lock,
            snapshot,
            version,
            operation: operation.to_string(),
            staging,
            staged: Vec::new(),
            rejects: None,
            rejected: 0,
            next_part: 0,
            keys: KeyIndex::default(),
            duplicates: Default::default(),
            cleaned_leftovers,
        })
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Write rows of one table: split by UTC day of `TimeGenerated`, each day sorted by time
    /// into its own staged file.
    pub fn write_table_batch(
        &mut self,
        table: &TableSchema,
        batch: &RecordBatch,
    ) -> Result<(), StoreError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let time_idx = table.time_index();
        let indices = sort_to_indices(batch.column(time_idx), None, None).map_err(parquet_err)?;
        let sorted = take_record_batch(batch, &indices).map_err(parquet_err)?;
        let times = sorted
            .column(time_idx)
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        let mut start = 0;
        while start < sorted.num_rows() {
            let day = times.value(start).div_euclid(MICROS_PER_DAY);
            let mut end = start + 1;
            while end < sorted.num_rows() && times.value(end).div_euclid(MICROS_PER_DAY) == day {
                end += 1;
            }
            let slice = sorted.slice(start, end - start);
            self.write_day(table, day, &slice)?;
            start = end;
        }
        Ok(())
    }

    fn write_day(
        &mut self,
        table: &TableSchema,
        day: i64,
        batch: &RecordBatch,
    ) -> Result<(), StoreError> {
        let date = chrono::DateTime::from_timestamp_micros(day * MICROS_PER_DAY)
            .expect("day in range")
            .format("%Y-%m-%d");
        let partition = format!("{}/date={date}", table.name);
        let committed = self.snapshot.table_files(&table.name);
        let (batch, dropped) = self
            .keys
            .filter(&self.root, table, &partition, committed, batch)?;
        if dropped > 0 {
            *self.duplicates.entry(table.name.clone()).or_default() += dropped;
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.stage_file(table, &partition, &batch)
    }

    /// Write one sorted, single-partition batch as a staged file of the transaction.
    pub(super) fn stage_file(
        &mut self,
        table: &TableSchema,
        partition: &str,
        batch: &RecordBatch,
    ) -> Result<(), StoreError> {
        let times = batch
            .column(table.time_index())
            .as_primitive::<TimestampMicrosecondType>();
        let (min_time, max_time) = (times.value(0), times.value(batch.num_rows() - 1));
        let rel = format!(
            "{partition}/part-{}-{}.parquet",
            self.version, self.next_part
        );
        self.next_part += 1;
        let path = self.staging.join(&rel);
        fs::create_dir_all(path.parent().expect("file has a folder"))
            .map_err(|e| StoreError::io(&path, e))?;
        let file = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties(table)))
            .map_err(parquet_err)?;
        writer.write(batch).map_err(parquet_err)?;
        let file = writer.into_inner().map_err(parquet_err)?;
        file.sync_all().map_err(|e| StoreError::io(&path, e))?;
        let bytes = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        self.staged.push(DataFile {
            table: table.name.clone(),
            path: rel,
            rows: batch.num_rows() as u64,
            bytes,
            min_time,
            max_time,
        });
        Ok(())
    }

    pub(super) fn root(&self) -> &std::path::Path {
        &self.root
    }

    pub fn write_reject(&mut self, reject: &Reject) -> Result<(), StoreError> {
        if self.rejects.is_none() {
            let path = self.staging.join("rejects.ndjson");
            let f = File::create(&path).map_err(|e| StoreError::io(&path, e))?;
            self.rejects = Some(BufWriter::new(f));
        }
        let w = self.rejects.as_mut().expect("opened above");
        let line = serde_json::to_string(reject).expect("rejects serialise");
        writeln!(w, "{line}").map_err(|e| StoreError::io(&self.staging, e))?;
        self.rejected += 1;
        Ok(())
    }

    pub fn staged_files(&self) -> &[DataFile] {
        &self.staged
    }

    /// Make everything staged visible in one commit. Returns `None` when there was nothing to
    /// commit (no file, no source, no reject, no removal).
    pub fn commit(
        mut self,
        sources: Vec<SourceEntry>,
        remove: Vec<String>,
    ) -> Result<Option<Commit>, StoreError> {
        if self.staged.is_empty() && sources.is_empty() && remove.is_empty() && self.rejected == 0 {
            self.discard();
            return Ok(None);
        }
        fault::point("after-staging");
        // Move staged files into the table folders. Until the log record exists they are
        // invisible to readers and are removed by the next writer if we die here.
        let mut dirs = std::collections::BTreeSet::new();
        for f in &self.staged {
            let from = self.staging.join(&f.path);
            let to = self.root.join(&f.path);
            let dir = to.parent().expect("file has a folder").to_path_buf();
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            fs::rename(&from, &to).map_err(|e| StoreError::io(&to, e))?;
            fault::point("during-rename");
            dirs.insert(dir);
        }
        for d in &dirs {
            sync_dir(d)?;
            if let Some(parent) = d.parent() {
                sync_dir(parent)?;
            }
        }
        let mut rejects_path = None;
        if let Some(mut w) = self.rejects.take() {
            w.flush().map_err(|e| StoreError::io(&self.staging, e))?;
            w.get_ref()
                .sync_all()
                .map_err(|e| StoreError::io(&self.staging, e))?;
            let dir = self.root.join("_rejects");
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            let rel = format!("_rejects/{}.ndjson", self.version);
            fs::rename(self.staging.join("rejects.ndjson"), self.root.join(&rel))
                .map_err(|e| StoreError::io(&dir, e))?;
            sync_dir(&dir)?;
            rejects_path = Some(rel);
        }
        fault::point("after-rename");
        let commit = Commit {
            version: self.version,
            committed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            operation: self.operation.clone(),
            sources,
            add: std::mem::take(&mut self.staged),
            remove,
            rejects: rejects_path,
            rejected: self.rejected,
        };
        log::write_commit(&self.root, &commit)?;
        fault::point("after-commit");
        self.discard();
        Ok(Some(commit))
    }

    /// Drop everything staged; nothing becomes visible.
    pub fn discard(&mut self) {
        self.rejects = None;
        let _ = fs::remove_dir_all(&self.staging);
        if let Some(parent) = self.staging.parent() {
            let _ = fs::remove_dir(parent); // only if empty
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.staging.exists() {
            self.discard();
        }
    }
}

impl Sink for Transaction {
    fn ingested_sources(&self) -> std::collections::HashSet<String> {
        self.snapshot.sources.clone()
    }

    fn write_batch(
        &mut self,
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<(), IngestError> {
        self.write_table_batch(table, &batch)
            .map_err(|e| IngestError::Sink(e.to_string()))
    }

    fn reject(&mut self, reject: &Reject) -> Result<(), IngestError> {
        self.write_reject(reject)
            .map_err(|e| IngestError::Sink(e.to_string()))
    }
}

pub fn writer_properties(table: &TableSchema) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: table.time_index() as i32,
            descending: false,
            nulls_first: false,
        }]))
        .set_created_by(format!("omslake {}", env!("CARGO_PKG_VERSION")))
        .build()
}

pub(super) fn parquet_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Parquet(e.to_string())
}
