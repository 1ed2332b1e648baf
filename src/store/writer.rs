//! A write transaction: Parquet files staged under `_staging/<commit>/`, then renamed into the
//! table folders and made visible by one commit record.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use arrow::array::RecordBatch;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::buffer::{
    partition_name, split_days, write_sorted, write_sorted_file, Buffers, DayBatch, Pending,
    Written, DEFAULT_BUDGET,
};
use super::dedup::KeyIndex;
use super::lock::WriterLock;
use super::log::{self, Commit, DataFile, Snapshot, SourceEntry};
use super::memory::{resident_over, Governor, COMMIT_TRIM_ABOVE, RSS_TARGET};
use super::spill::{self, Run};
use super::{fault, sync_dir, StoreError};
use crate::ingest::{IngestError, KnownSources, Reject, Sink};
use crate::schema::{ColumnType, TableSchema, TIME_COLUMN};

const ROW_GROUP_ROWS: usize = 1024 * 1024;

/// The zstd level of string columns without a dictionary (see `writer_properties`).
const PLAIN_STRINGS_ZSTD_LEVEL: i32 = 1;

/// Bytes of rows this process has left for its exit to free (see
/// `Transaction::leave_rows_to_exit`).
static ROWS_LEFT_TO_EXIT: AtomicUsize = AtomicUsize::new(0);

pub struct Transaction {
    root: PathBuf,
    _lock: WriterLock,
    snapshot: Snapshot,
    version: u64,
    operation: String,
    staging: PathBuf,
    staged: Vec<DataFile>,
    /// The Delta statistics of each staged file, by path, from its writer (see `delta::publish`).
    staged_stats: HashMap<String, String>,
    /// Staged files already moved into their table folders (and their partition folders
    /// synced), not yet named by a commit: removed again if the transaction is dropped.
    moved: std::collections::HashSet<String>,
    rejects: Option<BufWriter<File>>,
    rejected: u64,
    next_part: usize,
    keys: KeyIndex,
    buffers: Buffers,
    /// Rows set aside on disk, per partition (see `spill`).
    spilled: BTreeMap<String, (&'static TableSchema, Vec<Run>)>,
    next_run: usize,
    spilled_bytes: usize,
    budget: usize,
    /// Takes from `budget` while the process's memory is over its target (none: `budget` as
    /// given).
    governor: Option<Governor>,
    /// See `leave_rows_to_exit`.
    rows_left_to_exit: bool,
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
            staged_stats: HashMap::new(),
            moved: Default::default(),
            rejects: None,
            rejected: 0,
            next_part: 0,
            keys: KeyIndex::default(),
            buffers: Buffers::default(),
            spilled: BTreeMap::new(),
            next_run: 0,
            spilled_bytes: 0,
            budget: DEFAULT_BUDGET,
            governor: Some(Governor::new(RSS_TARGET)),
            rows_left_to_exit: false,
            duplicates: Default::default(),
            cleaned_leftovers,
        })
    }

    /// The folder of this transaction's files before its commit (removed after it, or by the
    /// next writer if this one is interrupted).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// Bytes of rows set aside on disk because the buffer was full.
    pub fn spilled_bytes(&self) -> usize {
        self.spilled_bytes
    }

    /// Dedup keys set aside on disk because they passed half the buffer.
    pub fn frozen_keys(&self) -> u64 {
        self.keys.frozen().0
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Bytes for buffered Arrow data and dedup keys together; past it, the largest partition
    /// is written out.
    pub fn set_buffer_budget(&mut self, bytes: usize) {
        self.budget = bytes;
    }

    /// What takes from the buffer's budget while memory is high (by default a `Governor` of
    /// `RSS_TARGET`); `None` keeps the budget as set (one the user chose).
    pub fn set_governor(&mut self, governor: Option<Governor>) {
        self.governor = governor;
    }

    /// The process ends once this transaction has committed (the `ingest` command, when its
    /// allocator cannot hold freed pages for the writers: `cli::allocator`): rows written from
    /// memory are left for the exit to take back all at once rather than freed array by array,
    /// which the commit spent a share of an ingest's CPU on (bench/NOTES.md, fifth session).
    /// Unless a partition is read back from disk: freeing the others is then what makes room
    /// for it.
    pub fn leave_rows_to_exit(&mut self) {
        self.rows_left_to_exit = true;
    }

    /// The most the buffer gave up at once to keep memory under `RSS_TARGET` (bytes).
    pub fn buffer_given_up(&self) -> usize {
        self.governor.as_ref().map_or(0, Governor::most_taken)
    }

    /// Accept the rows of one table and day (from [`split_days`]): drop those whose natural
    /// key is already stored or already accepted, buffer the rest.
    pub fn write_day(
        &mut self,
        table: &'static TableSchema,
        day: DayBatch,
    ) -> Result<(), StoreError> {
        let partition = partition_name(table, day.day);
        let committed = self.snapshot.table_files(&table.name);
        let (batch, dropped) = self.keys.filter(
            &self.root,
            table,
            &partition,
            committed,
            &day.batch,
            &day.hashes,
        )?;
        if dropped > 0 {
            *self.duplicates.entry(table.name.clone()).or_default() += dropped;
        }
        // The dedup keys grow with the input and with the stored partitions it touches (one
        // per record): past half the budget, the largest partitions' keys are frozen to disk
        // until they take a quarter. Even when every row was a repeat.
        if self.keys.bytes() > self.budget / 2 {
            let dir = self.staging.join("_spill");
            while self.keys.bytes() > self.budget / 4 && self.keys.freeze_largest(&dir)? {}
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let added = self.buffers.add(table, &partition, batch);
        let (budget, tightened) = match &mut self.governor {
            Some(g) => g.budget(self.budget, added),
            None => (self.budget, false),
        };
        // The keys left in memory share the budget with the rows, which keep at least a
        // quarter of it.
        let rows_budget = budget.saturating_sub(self.keys.bytes()).max(budget / 4);
        let mut spilled = false;
        while self.buffers.bytes() > rows_budget {
            let Some(p) = self.buffers.take_largest() else {
                break;
            };
            self.spill(p)?;
            spilled = true;
        }
        if tightened && spilled {
            // Else the rows' freed memory stays with the allocator, counted resident.
            return_freed_memory();
        }
        Ok(())
    }

    /// Set a partition's buffered rows aside on disk until commit.
    fn spill(&mut self, p: Pending) -> Result<(), StoreError> {
        self.next_run += 1;
        let path = self
            .staging
            .join("_spill")
            .join(format!("{}.arrows", self.next_run));
        let run = spill::write_run(&path, p.table, &p.batches, p.bytes)?;
        self.spilled_bytes += p.bytes;
        self.spilled
            .entry(p.partition)
            .or_insert_with(|| (p.table, Vec::new()))
            .1
            .push(run);
        Ok(())
    }

    /// Write one partition's rows (any order) as a staged file of the transaction.
    pub(super) fn stage_file(
        &mut self,
        table: &'static TableSchema,
        partition: &str,
        batch: &RecordBatch,
    ) -> Result<(), StoreError> {
        self.stage_pending(&Pending {
            table,
            partition: partition.to_string(),
            batches: vec![batch.clone()],
            bytes: 0,
        })
    }

    fn next_file(&mut self, partition: &str) -> String {
        self.next_part += 1;
        format!(
            "{partition}/part-{}-{}.parquet",
            self.version,
            self.next_part - 1
        )
    }

    fn stage_pending(&mut self, p: &Pending) -> Result<(), StoreError> {
        let rel = self.next_file(&p.partition);
        let written = write_sorted_file(&staged_path(&self.staging, &rel), p.table, &p.batches)?;
        self.stage(p.table, rel, written);
        Ok(())
    }

    /// Name a written file in the commit to come.
    fn stage(&mut self, table: &TableSchema, path: String, mut w: Written) {
        let stats = std::mem::take(&mut w.delta_stats);
        self.staged_stats.insert(path.clone(), stats);
        self.staged.push(data_file(table, path, w));
    }

    /// Write every partition's rows, buffered and spilled, as few files as memory allows,
    /// several partitions at a time (one per core).
    fn stage_buffered(&mut self) -> Result<(), StoreError> {
        // No row is added after this: the dedup keys can make room for the merge.
        self.keys = KeyIndex::default();
        return_freed_memory();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        // What one file may read back from disk, with one file being written per thread.
        let budget = (self.governor.as_ref()).map_or(self.budget, |g| g.effective(self.budget));
        let limit = (budget / 2 / threads).max(1);
        let mut buffered: BTreeMap<String, Pending> = self
            .buffers
            .take_all()
            .into_iter()
            .map(|p| (p.partition.clone(), p))
            .collect();
        let mut jobs: Vec<(String, Job)> = Vec::new();
        for (partition, (table, runs)) in std::mem::take(&mut self.spilled) {
            let mut memory = buffered.remove(&partition);
            let first = memory.as_ref().map_or(0, |p| p.bytes);
            for runs in spill::group_runs(first, runs, limit) {
                let (batches, bytes) = memory
                    .take()
                    .map_or((Vec::new(), 0), |p| (p.batches, p.bytes));
                if batches.is_empty() && runs.is_empty() {
                    continue;
                }
                let job = Job::new(table, batches, bytes, runs);
                jobs.push((self.next_file(&partition), job));
            }
        }
        for (partition, p) in buffered {
            let job = Job::new(p.table, p.batches, p.bytes, Vec::new());
            jobs.push((self.next_file(&partition), job));
        }
        // Partitions held only in memory first: writing them frees the buffer before any
        // rows are read back from disk (reading back while the whole buffer was still held
        // made the commit the peak of a large ingest). Within each kind, biggest first, so
        // the threads finish together.
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| (jobs[i].1.reads_back, std::cmp::Reverse(jobs[i].1.bytes)));
        let leave = self.rows_left_to_exit && !jobs.iter().any(|(_, j)| j.reads_back);
        let next = &AtomicUsize::new(0);
        let staging = &self.staging;
        let jobs_ref = &jobs;
        let order = &order;
        // Files are fsynced, and moved into their table folders, on a thread of their own, so
        // that the writers compute while the disk syncs (a few files open at most: a writer
        // waits when the syncer lags). Moved files stay invisible until the commit names them.
        let (to_sync, synced) = std::sync::mpsc::sync_channel::<(&String, File)>(16);
        let root = &self.root;
        let (results, sync_result) = std::thread::scope(|s| {
            // What it moved, and why it stopped early if it did.
            let syncer = s.spawn(move || -> (Vec<String>, Result<(), StoreError>) {
                let mut moved = Vec::new();
                for (rel, file) in synced {
                    let from = staged_path(staging, rel);
                    let done = (file.sync_all().map_err(|e| StoreError::io(&from, e)))
                        .and_then(|()| move_into_place(&from, &root.join(rel)));
                    if let Err(e) = done {
                        return (moved, Err(e));
                    }
                    moved.push(rel.clone());
                }
                (moved, Ok(()))
            });
            let handles: Vec<_> = (0..threads.min(jobs_ref.len()))
                .map(|_| {
                    let to_sync = to_sync.clone();
                    s.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let k = next.fetch_add(1, Ordering::SeqCst);
                            let Some(&i) = order.get(k) else {
                                return Ok(done);
                            };
                            let (rel, job) = &jobs_ref[i];
                            // Taken, so the rows are freed as soon as their file is written.
                            let (mut batches, runs) =
                                std::mem::take(&mut *job.rows.lock().expect("lock"));
                            for run in &runs {
                                batches.extend(spill::read_run(run)?);
                            }
                            let (written, file) =
                                write_sorted(&staged_path(staging, rel), job.table, &batches)?;
                            if leave {
                                ROWS_LEFT_TO_EXIT.fetch_add(job.bytes, Ordering::Relaxed);
                                std::mem::forget(batches);
                            } else {
                                drop(batches);
                            }
                            // Only gone if the syncer failed, whose error is reported.
                            let _ = to_sync.send((rel, file));
                            if job.reads_back && resident_over(COMMIT_TRIM_ABOVE) {
                                return_freed_memory();
                            }
                            done.push((i, written));
                        }
                    })
                })
                .collect();
            drop(to_sync);
            let results: Vec<Result<Vec<(usize, Written)>, StoreError>> = handles
                .into_iter()
                .map(|h| h.join().expect("file writer panicked"))
                .collect();
            (results, syncer.join().expect("file syncer panicked"))
        });
        let (moved, synced) = sync_result;
        self.moved.extend(moved);
        synced?;
        let mut written = Vec::new();
        for r in results {
            written.extend(r?);
        }
        written.sort_by_key(|(i, _)| *i);
        for (i, w) in written {
            let (rel, job) = &jobs[i];
            self.stage(job.table, rel.clone(), w);
        }
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
        self.stage_buffered()?;
        if self.staged.is_empty() && sources.is_empty() && remove.is_empty() && self.rejected == 0 {
            self.discard();
            return Ok(None);
        }
        fault::point("after-staging");
        // Move staged files into the table folders (most were moved as they were written).
        // Until the log record exists they are invisible to readers and are removed by the
        // next writer if we die here.
        for f in self.staged.iter().filter(|f| !self.moved.contains(&f.path)) {
            let from = staged_path(&self.staging, &f.path);
            move_into_place(&from, &self.root.join(&f.path))?;
        }
        // Each table folder once: new partition folders are entries of it.
        let tables: std::collections::BTreeSet<PathBuf> = (self.staged.iter())
            .filter_map(|f| Some(self.root.join(&f.path).parent()?.parent()?.to_path_buf()))
            .collect();
        for d in &tables {
            sync_dir(d)?;
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
        // Named by the log now: theirs to keep.
        self.moved.clear();
        fault::point("after-commit");
        super::delta::publish(&self.root, &commit, &self.snapshot, &self.staged_stats)?;
        fault::point("after-publish");
        self.discard();
        Ok(Some(commit))
    }

    /// Drop everything staged; nothing becomes visible.
    pub fn discard(&mut self) {
        self.rejects = None;
        // Files moved into place for a commit that did not happen (the next writer would
        // remove them too).
        for rel in self.moved.drain() {
            let _ = fs::remove_file(self.root.join(rel));
        }
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
    type Prepared = (&'static TableSchema, Vec<DayBatch>);

    fn known_sources(&self) -> KnownSources {
        KnownSources {
            hashes: self.snapshot.sources.clone(),
            sizes: self.snapshot.source_sizes.clone(),
        }
    }

    fn prepare(
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<Self::Prepared, IngestError> {
        let days = split_days(table, batch).map_err(|e| IngestError::Sink(e.to_string()))?;
        Ok((table, days))
    }

    fn write(&mut self, (table, days): Self::Prepared) -> Result<(), IngestError> {
        for day in days {
            self.write_day(table, day)
                .map_err(|e| IngestError::Sink(e.to_string()))?;
        }
        Ok(())
    }

    fn reject(&mut self, reject: &Reject) -> Result<(), IngestError> {
        self.write_reject(reject)
            .map_err(|e| IngestError::Sink(e.to_string()))
    }
}

/// One file to write at commit: rows in memory and runs to read back.
struct Job {
    table: &'static TableSchema,
    bytes: usize,
    /// Whether some of its rows wait on disk.
    reads_back: bool,
    rows: Mutex<(Vec<RecordBatch>, Vec<Run>)>,
}

impl Job {
    /// `memory_bytes`: what the buffer counted for `memory`.
    fn new(
        table: &'static TableSchema,
        memory: Vec<RecordBatch>,
        memory_bytes: usize,
        runs: Vec<Run>,
    ) -> Job {
        let bytes = memory_bytes + runs.iter().map(|r| r.bytes).sum::<usize>();
        Job {
            table,
            bytes,
            reads_back: !runs.is_empty(),
            rows: Mutex::new((memory, runs)),
        }
    }
}

/// Hand memory the allocator holds free back to the system. glibc keeps what threads free
/// in per-thread arenas, and the commit's file writers cannot reuse most of it, so a large
/// ingest's commit peaked well above the live heap. Called when the dedup keys are dropped,
/// and after each file whose rows were read back from disk while memory is high
/// (`COMMIT_TRIM_ABOVE`): below that, handing memory back and faulting it in again for the
/// next file cost more than it saved (bench/NOTES.md). The `omslake` command runs an ingest on
/// jemalloc, which hands back unused pages by itself: this then finds little to do.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Where the file the commit names `rel` is written before it is moved into place: straight
/// in the staging folder, by its file name (unique in a transaction), so that staging makes
/// no partition folders of its own to create and remove (each a new inode; see bench/NOTES.md).
fn staged_path(staging: &std::path::Path, rel: &str) -> PathBuf {
    let name = std::path::Path::new(rel).file_name().expect("a file name");
    staging.join(name)
}

/// Move a staged file (synced) to `to` in its table folder, and sync its partition folder.
fn move_into_place(from: &std::path::Path, to: &std::path::Path) -> Result<(), StoreError> {
    let dir = to.parent().expect("file has a folder");
    fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    fs::rename(from, to).map_err(|e| StoreError::io(to, e))?;
    fault::point("during-rename");
    sync_dir(dir)
}

fn data_file(table: &TableSchema, path: String, w: Written) -> DataFile {
    DataFile {
        table: table.name.clone(),
        path,
        rows: w.rows,
        bytes: w.bytes,
        min_time: w.min_time,
        max_time: w.max_time,
    }
}

/// Parquet settings per table (spec §4: zstd, dictionaries, statistics, declared sort order).
///
/// Each choice measured against the plain defaults (bench/NOTES.md): `TimeGenerated`, sorted,
/// is delta-encoded (much smaller than plain) and is the one column with page statistics
/// (time filters prune pages; other columns' page ranges span everything once rows are in
/// time order, so their page index only cost footer bytes); other datetime
/// columns and a single-column natural key are near-unique, where a dictionary only adds a
/// page before falling back to plain. Together: smaller files, no slower to write.
///
/// Columns null in every row of the file (most of OfficeActivity's 146 in any one file) are
/// left uncompressed: their pages hold only a run of null levels, and a zstd codec per column
/// chunk costs more to set up than such a page takes to write.
///
/// String columns whose values are mostly distinct (`plain`) have no dictionary, as DuckDB
/// writes them: a dictionary of nearly every value, then an index per row, made such columns
/// (GUIDs, IPs, free text, per-record names) larger and cost the hashing of every value.
/// They are written DELTA_LENGTH_BYTE_ARRAY at zstd level 1 (`PLAIN_STRINGS_ZSTD_LEVEL`): with
/// no length between two values, level 1 writes them as small as level 3 wrote them PLAIN, in
/// less time (bench/NOTES.md, sixteenth session).
///
/// zstd level 3 otherwise, zstd's and DuckDB's default: level 2 was as small on the
/// generator's exports, but larger on exports of short, many-valued strings (bench/NOTES.md,
/// 2026-12-04).
pub fn writer_properties(
    table: &TableSchema,
    all_null: &[bool],
    plain: &[bool],
) -> WriterProperties {
    let time = ColumnPath::from(TIME_COLUMN);
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(time.clone(), EnabledStatistics::Page)
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: table.time_index() as i32,
            descending: false,
            nulls_first: false,
        }]))
        .set_created_by(format!("omslake {}", env!("CARGO_PKG_VERSION")));
    let unique_key = table.unique_key_index();
    for (i, c) in table.columns.iter().enumerate() {
        let near_unique =
            c.ty == ColumnType::Datetime || Some(i) == unique_key || plain.get(i) == Some(&true);
        if near_unique && c.name != TIME_COLUMN {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name.as_str()), false);
            if matches!(c.ty, ColumnType::String | ColumnType::Dynamic) {
                let level = ZstdLevel::try_new(PLAIN_STRINGS_ZSTD_LEVEL).expect("valid level");
                props = props
                    .set_column_encoding(
                        ColumnPath::from(c.name.as_str()),
                        Encoding::DELTA_LENGTH_BYTE_ARRAY,
                    )
                    .set_column_compression(
                        ColumnPath::from(c.name.as_str()),
                        Compression::ZSTD(level),
                    );
            }
        }
        if all_null.get(i) == Some(&true) {
            props = props.set_column_compression(
                ColumnPath::from(c.name.as_str()),
                Compression::UNCOMPRESSED,
            );
        }
    }
    props.build()
}

pub(super) fn parquet_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Parquet(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;
    use crate::store::buffer::tests::event_batch;
    use crate::store::buffer::MICROS_PER_DAY;
    use crate::store::Store;

    /// Parquet files under the table folders of `root`.
    fn data_files(root: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for day in fs::read_dir(root.join("Event"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for f in fs::read_dir(day.path()).into_iter().flatten().flatten() {
                if f.path().extension().is_some_and(|e| e == "parquet") {
                    out.push(f.path());
                }
            }
        }
        out
    }

    /// A commit that fails after some of its files were moved into their table folders
    /// leaves none of them there, and the store as it was.
    #[test]
    fn a_failed_commit_takes_back_the_files_it_moved() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store"));
        let table = Catalog::builtin().get("Event").unwrap();
        let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
        let times = [1, MICROS_PER_DAY + 1, 2, MICROS_PER_DAY + 2];
        let (_, days) = Transaction::prepare(table, event_batch(&times)).unwrap();
        assert_eq!(days.len(), 2);
        for day in days {
            tx.write_day(table, day).unwrap();
        }
        // The second day's file cannot be written (a folder stands where it would go); the
        // first one's is, and is moved into place.
        let second = format!("{}/part-{}-1.parquet", partition_name(table, 1), tx.version);
        let blocked = staged_path(&tx.staging, &second);
        fs::create_dir_all(blocked.join("in-the-way")).unwrap();
        assert!(tx.commit(Vec::new(), Vec::new()).is_err());
        assert_eq!(data_files(store.root()), Vec::<PathBuf>::new());
        assert_eq!(store.snapshot().unwrap().version, 0);
    }

    /// Rows are freed once their file is written, unless the transaction is told that the
    /// process ends with it; and even then when a partition is read back from disk.
    #[test]
    fn rows_are_left_to_the_exit_only_when_told_and_nothing_is_read_back() {
        let table = Catalog::builtin().get("Event").unwrap();
        let commit = |leave: bool, budget: Option<usize>| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path().join("store"));
            let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
            if leave {
                tx.leave_rows_to_exit();
            }
            if let Some(bytes) = budget {
                tx.set_governor(None);
                tx.set_buffer_budget(bytes);
            }
            let times: Vec<i64> = (0..3000)
                .map(|i| i * 1000 + (i % 3) * MICROS_PER_DAY)
                .collect();
            for some in times.chunks(300) {
                let (_, days) = Transaction::prepare(table, event_batch(some)).unwrap();
                for day in days {
                    tx.write_day(table, day).unwrap();
                }
            }
            let spilled = tx.spilled_bytes() > 0;
            let before = ROWS_LEFT_TO_EXIT.load(Ordering::SeqCst);
            tx.commit(Vec::new(), Vec::new()).unwrap();
            let left = ROWS_LEFT_TO_EXIT.load(Ordering::SeqCst) - before;
            let rows: i64 = (data_files(store.root()).iter())
                .map(|f| {
                    let file = fs::File::open(f).unwrap();
                    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
                    parquet::file::reader::FileReader::metadata(&reader)
                        .file_metadata()
                        .num_rows()
                })
                .sum();
            assert_eq!(rows, 3000);
            (left, spilled)
        };
        assert_eq!(commit(false, None), (0, false));
        let (left, spilled) = commit(true, None);
        assert!(left > 0 && !spilled);
        assert_eq!(commit(true, Some(64 << 10)), (0, true));
    }
}
