//! Ingest: input bytes → typed `RecordBatch`es per table, plus rejects. No file layout here:
//! batches and rejects go to a [`Sink`] (the store's transaction).

mod array_pieces;
mod array_read;
mod channel;
pub mod coerce;
mod cut_short;
mod day_groups;
pub mod decoder;
mod dict;
mod envelope;
mod gzip_pieces;
mod key_filter;
mod key_slots;
mod line_base;
pub mod map_guard;
pub mod o365;
mod order;
mod piece_hash;
mod pieces;
mod query_api;
mod queue;
pub(crate) mod readahead;
mod scan;
pub mod shape;
pub mod source;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use arrow::record_batch::RecordBatch;
use serde::Serialize;
use thiserror::Error;

use crate::schema::{Catalog, TableSchema, TYPE_COLUMN};
use channel::{ChannelSink, HaltOnPanic, Msg};
use coerce::{Cell, InValue};
use decoder::{RecordError, TableDecoder};
use line_base::{LineBase, LineCounts};
use order::Order;
use piece_hash::PieceHasher;
use queue::{Chunk, Shared, Task};
use shape::{Fields, Location, Shape};

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{source_name}: not valid gzip: {error}")]
    Gzip { source_name: String, error: String },
    #[error("{source_name}: cannot write its decoded bytes to {dir} (gzip and stdin past 64 MiB are decoded into the store's staging folder): {error}")]
    Spill {
        source_name: String,
        dir: String,
        error: std::io::Error,
    },
    #[error("unknown table {0:?} for --table (tables: Update, UpdateSummary, UpdateRunProgress, OfficeActivity, Event)")]
    UnknownTable(String),
    #[error("store: {0}")]
    Sink(String),
    #[error("{0} changed while it was ingested (its size or modification time); nothing was committed: ingest it again once the exporter has finished writing it")]
    Changed(String),
    /// Internal: the writer side stopped the workers (an error or --max-errors).
    #[error("ingest stopped")]
    Stopped,
}

impl IngestError {
    pub fn io(path: &Path, error: std::io::Error) -> IngestError {
        IngestError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

/// A record that could not be stored, as written to the rejects file.
#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub reason: String,
    pub raw: String,
}

impl Reject {
    /// `file:line` or `file#record`, for one-line messages.
    pub fn position(&self) -> String {
        match (self.line, self.record) {
            (Some(l), _) => format!("{}:{l}", self.source),
            (_, Some(r)) => format!("{} record {r}", self.source),
            _ => self.source.clone(),
        }
    }
}

/// Where decoded batches and rejects go.
pub trait Sink {
    /// A decoded batch after [`Sink::prepare`].
    type Prepared: Send;
    /// The sources already committed.
    fn known_sources(&self) -> KnownSources;
    /// The part of writing a batch that needs no sink state (splitting, hashing): it runs on
    /// the decoding threads, so it overlaps with the sink's own work.
    fn prepare(
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<Self::Prepared, IngestError>;
    fn write(&mut self, prepared: Self::Prepared) -> Result<(), IngestError>;
    fn reject(&mut self, reject: &Reject) -> Result<(), IngestError>;
}

/// What a store holds of the sources committed before: their content hashes, and their sizes.
#[derive(Debug, Default)]
pub struct KnownSources {
    pub hashes: HashSet<String>,
    pub sizes: HashSet<u64>,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Store every record in this table, whatever its `Type`.
    pub table: Option<String>,
    /// Abort with nothing committed once more than this many records are rejected.
    pub max_errors: Option<u64>,
    /// Rows buffered per table and decoding thread before a batch goes to the sink.
    pub batch_rows: usize,
    /// Input bytes of records buffered per table and decoding thread before a batch goes to
    /// the sink (bounds memory for wide records).
    pub batch_bytes: usize,
    /// NDJSON inputs larger than this are split at line ends and decoded by several threads.
    pub chunk_bytes: usize,
    /// Counters a progress display reads while the ingest runs.
    pub progress: Option<Arc<Progress>>,
    /// Decode the pieces of NDJSON files and JSON arrays a day at a time (see `pieces`); off,
    /// in input order.
    /// The rows and rejects are the same either way.
    pub by_day: bool,
    /// Where a gzip or stdin input too large to hold in memory once decoded is written (an
    /// unnamed file, mapped); `None`: the system's temporary folder.
    pub spill_dir: Option<PathBuf>,
}

/// What an ingest has done so far: input bytes decoded (or skipped), records accepted and
/// rejected. Updated as each source or piece of one is done.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub records: AtomicU64,
    pub rejects: AtomicU64,
}

impl Progress {
    fn add(&self, bytes: u64, records: u64, rejects: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
        self.rejects.fetch_add(rejects, Ordering::Relaxed);
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            table: None,
            max_errors: None,
            batch_rows: decoder::MAX_BATCH_ROWS,
            batch_bytes: 8 << 20,
            chunk_bytes: 8 << 20,
            progress: None,
            by_day: true,
            spill_dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SourceStatus {
    Ingested,
    AlreadyIngested,
    RepeatedInThisRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub name: String,
    pub blake3: String,
    pub bytes: u64,
    pub decoded_bytes: u64,
    pub shape: Option<&'static str>,
    pub status: SourceStatus,
    pub accepted: u64,
    pub rejected: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub sources: Vec<SourceReport>,
    pub accepted: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    pub first_rejects: Vec<Reject>,
    /// `--max-errors` was exceeded: the caller must commit nothing.
    pub aborted: bool,
}

impl Summary {
    fn merge(&mut self, other: Summary) {
        for (t, n) in other.accepted {
            *self.accepted.entry(t).or_default() += n;
        }
        for (t, n) in other.rejected {
            *self.rejected.entry(t).or_default() += n;
        }
    }

    pub fn total_rejected(&self) -> u64 {
        self.rejected.values().sum()
    }
    pub fn total_accepted(&self) -> u64 {
        self.accepted.values().sum()
    }
}

const FIRST_REJECTS: usize = 5;
const MAX_RAW: usize = 64 * 1024;

/// Ingest `paths` into `sink`.
///
/// Decoding runs on worker threads (up to the number of cores) that take whole sources or
/// line-aligned pieces of large NDJSON files from one queue, while the calling thread hands
/// their batches and rejects to `sink` (dedup, buffering, Parquet encoding) in the input's
/// order (see `order`).
pub fn run<S: Sink>(
    paths: &[PathBuf],
    options: &IngestOptions,
    sink: &mut S,
) -> Result<Summary, IngestError> {
    let catalog = Catalog::builtin();
    let forced = match &options.table {
        Some(t) => Some(
            catalog
                .get_ignore_case(t)
                .ok_or_else(|| IngestError::UnknownTable(t.clone()))?,
        ),
        None => None,
    };
    let sources = source::expand(paths)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let shared = Shared::new(&sources, sink.known_sources(), options.chunk_bytes);
    let (tx, rx) = mpsc::sync_channel::<Msg<S::Prepared>>(workers);
    let order = Order::new(sources.len());
    let halt = || {
        shared.halt();
        order.halt();
    };
    let mut summary = Summary::default();
    let mut failure: Option<IngestError> = None;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let mut out = ChannelSink::<S>::new(tx.clone(), &shared.stop, &order);
                let (shared, halt) = (&shared, &halt);
                scope.spawn(move || {
                    // A thread that panics while others wait for its turn must wake them.
                    let _halt_on_panic = HaltOnPanic(halt);
                    let mut run = Run {
                        decoders: catalog.tables().iter().map(TableDecoder::new).collect(),
                        pending_bytes: vec![0; catalog.tables().len()],
                        holding: false,
                        held: vec![Vec::new(); catalog.tables().len()],
                        forced,
                        options,
                        summary: Summary::default(),
                    };
                    let result = run.work(shared, &mut out);
                    if result.is_err() {
                        halt();
                    }
                    (run.summary, result)
                })
            })
            .collect();
        drop(tx);
        // The writer side: everything the workers decoded goes to the sink from here.
        let mut rejected = 0u64;
        for msg in rx {
            if failure.is_some() || summary.aborted {
                continue; // drain so workers can finish
            }
            let result = match msg {
                Msg::Batch(prepared) => prepared.and_then(|p| sink.write(p)),
                Msg::Reject(r) => {
                    rejected += 1;
                    if summary.first_rejects.len() < FIRST_REJECTS {
                        summary.first_rejects.push(r.clone());
                    }
                    if options.max_errors.is_some_and(|max| rejected > max) {
                        summary.aborted = true;
                        halt();
                    }
                    sink.reject(&r)
                }
            };
            if let Err(e) = result {
                halt();
                failure = Some(e);
            }
        }
        for h in handles {
            let (part, result) = h.join().expect("ingest worker panicked");
            summary.merge(part);
            if let Err(e) = result {
                if !matches!(e, IngestError::Stopped) && failure.is_none() {
                    failure = Some(e);
                }
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    // What was decoded is what the files held only if none changed since they were listed.
    for src in &sources {
        source::check_unchanged(src)?;
    }
    summary.sources = shared.into_reports();
    Ok(summary)
}

/// Bytes of the pieces a large file is hashed in as it is decoded: a fraction of a core's L2
/// cache, so a piece is still there when decoding has passed it.
const HASH_PIECE_BYTES: usize = 256 << 10;

/// Bytes around a faulting address that Linux maps with it (`fault_around_bytes`, 64 KB by
/// default).
const FAULT_AROUND: usize = 64 << 10;

/// One decoding worker's state.
struct Run<'o> {
    decoders: Vec<TableDecoder>,
    /// Input bytes of the rows each decoder holds.
    pending_bytes: Vec<usize>,
    /// Whether full batches are set aside in `held` (while a piece is decoded by day) rather
    /// than sent.
    holding: bool,
    /// Each table's batches of the piece being decoded, sent once it is done.
    held: Vec<Vec<RecordBatch>>,
    forced: Option<&'static TableSchema>,
    options: &'o IngestOptions,
    summary: Summary,
}

/// Accepted and rejected records of one source (or piece of one).
#[derive(Default)]
struct Counts {
    accepted: u64,
    rejected: u64,
}

impl Run<'_> {
    fn work<S: Sink>(
        &mut self,
        shared: &Shared<'_>,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        while let Some(task) = shared.next_task() {
            match task {
                Task::Open(sources, mut opening) => {
                    let first = sources.start;
                    out.start((first, 0));
                    if sources.len() == 1 {
                        let opened = match self.open_gzip_in_pieces(first, shared, &opening)? {
                            gzip_pieces::Opened::InPieces(pieces) => {
                                out.plan(first, pieces)?;
                                continue;
                            }
                            gzip_pieces::Opened::Whole(opened) => opened,
                        };
                        if let Some(chunks) = self.open_source(first, shared, out, opened)? {
                            out.plan(first, chunks.len())?;
                            opening.chunks = chunks;
                            continue;
                        }
                    } else {
                        // Small files, but one may be compressed: its pieces are decoded here,
                        // in their place among the others.
                        for s in sources.clone() {
                            let chunks = self.open_source(s, shared, out, None)?;
                            for c in chunks.into_iter().flatten() {
                                self.decode_chunk(c, shared, out)?;
                            }
                        }
                    }
                    // One task's output, under the first source's key.
                    out.plan(first, 1)?;
                    for s in sources.skip(1) {
                        out.plan(s, 0)?;
                    }
                    self.flush_all(out)?;
                    out.finish()?;
                }
                Task::Chunk(c) => {
                    out.start((c.source, c.piece));
                    self.decode_chunk(c, shared, out)?;
                    self.flush_all(out)?;
                    out.finish()?;
                }
            }
        }
        Ok(())
    }

    /// Decode a piece of a large NDJSON file or JSON array.
    fn decode_chunk<S: Sink>(
        &mut self,
        c: Chunk,
        shared: &Shared<'_>,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        let name = &shared.sources[c.source].name;
        let mut counts = Counts::default();
        let bytes: &[u8] = &c.bytes;
        let mut hashing = c.hasher.as_ref().map(|h| h.cursor(c.range.clone()));
        let release = |range| c.bytes.release(range);
        let mut base = LineBase::before(bytes, c.range.start, &c.lines, &release);
        let mut piece = pieces::Piece {
            name,
            bytes,
            range: c.range.clone(),
            line_base: &mut base,
            counts: &mut counts,
        };
        let decoded = match (&c.elements, self.options.by_day) {
            (Some(elements), true) => self.decode_elements_by_day(&mut piece, elements, out),
            (Some(elements), false) => self.decode_elements(&mut piece, elements, out),
            (None, true) => self.decode_by_day(&mut piece, &mut hashing, out),
            (None, false) => self.decode_in_order(&mut piece, &mut hashing, out),
        };
        if let Some(h) = hashing {
            h.finish(bytes);
        }
        // With the pages next to it: reading near a chunk's ends maps its neighbours' first
        // and last pages too (the kernel maps a fault's surroundings), after they may have
        // been given back; left mapped, they added up to a resident share of every file read.
        let around =
            c.range.start.saturating_sub(FAULT_AROUND)..c.range.end.saturating_add(FAULT_AROUND);
        c.bytes.release(around);
        shared.count(c.source, counts.accepted, counts.rejected);
        if let Some(p) = &self.options.progress {
            p.add(c.range.len() as u64, counts.accepted, counts.rejected);
        }
        decoded
    }

    /// Hand every decoder's buffered rows to the sink: a task's output ends with them.
    fn flush_all<S: Sink>(&mut self, out: &mut ChannelSink<'_, S>) -> Result<(), IngestError> {
        for (d, pending) in self.decoders.iter_mut().zip(&mut self.pending_bytes) {
            if d.buffered_rows() > 0 {
                *pending = 0;
                out.batch(d.schema(), d.flush())?;
            }
        }
        Ok(())
    }

    /// Open and hash source `i` (unless `opened` already), then decode it whole, or return
    /// its pieces for the queue when it is a large NDJSON file, JSON array or envelope.
    fn open_source<S: Sink>(
        &mut self,
        i: usize,
        shared: &Shared<'_>,
        out: &mut ChannelSink<'_, S>,
        opened: Option<source::OpenedSource>,
    ) -> Result<Option<Vec<Chunk>>, IngestError> {
        let src = &shared.sources[i];
        if shared.hash_later[i] && opened.is_none() {
            if let Some(chunks) = self.open_hash_later(i, shared)? {
                return Ok(Some(chunks));
            }
        }
        let opened = match opened {
            Some(opened) => opened,
            None => source::open(src, self.options.spill_dir.as_deref())?,
        };
        let mut report = SourceReport {
            name: src.name.clone(),
            blake3: opened.blake3.clone(),
            bytes: opened.stored_bytes,
            decoded_bytes: opened.bytes.len() as u64,
            shape: None,
            status: SourceStatus::Ingested,
            accepted: 0,
            rejected: 0,
        };
        let new = if shared.ingested.contains(&opened.blake3) {
            report.status = SourceStatus::AlreadyIngested;
            false
        } else if !shared
            .seen
            .lock()
            .expect("lock")
            .insert(opened.blake3.clone())
        {
            report.status = SourceStatus::RepeatedInThisRun;
            false
        } else {
            true
        };
        let bytes = Arc::new(opened.bytes);
        let target = self.options.chunk_bytes;
        let lines = match new {
            true => shape::ndjson_chunks(&bytes, target, |piece| bytes.release(piece)),
            false => None,
        };
        let pieces = match lines {
            Some(lines) => Some((
                Shape::Ndjson,
                lines.into_iter().map(|r| (r, None)).collect(),
            )),
            None if new => array_pieces::cut(&bytes, target, |r| bytes.release(r)).map(|cut| {
                let pieces = cut.pieces.into_iter().map(|p| (p.range, Some(p.elements)));
                (cut.shape, pieces.collect())
            }),
            None => None,
        };
        if let Some((shape, pieces)) = pieces {
            report.shape = Some(shape.name());
            shared.reports.lock().expect("lock")[i] = Some(report);
            return Ok(Some(chunks(i, &bytes, pieces, None)));
        }
        let mut counts = Counts::default();
        if new {
            let mut failure = None;
            let mapped = &bytes;
            let bytes: &[u8] = &bytes;
            let mut released = 0;
            let mut cells = Vec::new();
            // A file larger than a piece was offered to the cut above: not scanned again.
            let cut_tried = bytes.len() > target;
            let shape = shape::for_each_record_scanning(
                bytes,
                cut_tried,
                |r| mapped.release(r),
                |item| {
                    if failure.is_some() || self.summary.aborted {
                        return;
                    }
                    // Give back what has been read every few megabytes, as for NDJSON pieces: two
                    // threads each holding a piece of a JSON array were the peak of a large ingest.
                    let at = item.raw.as_ptr() as usize - bytes.as_ptr() as usize;
                    if at > released + self.options.chunk_bytes {
                        mapped.release(released..at);
                        released = at;
                    }
                    let mut base = LineBase::none();
                    if let Err(e) =
                        self.record(&src.name, item, &mut base, &mut cells, out, &mut counts)
                    {
                        failure = Some(e);
                    }
                },
            );
            report.shape = Some(shape.name());
            if let Some(e) = failure {
                return Err(e);
            }
        }
        if let Some(p) = &self.options.progress {
            p.add(report.decoded_bytes, counts.accepted, counts.rejected);
        }
        report.accepted = counts.accepted;
        report.rejected = counts.rejected;
        shared.reports.lock().expect("lock")[i] = Some(report);
        Ok(None)
    }

    /// Source `i` as pieces that hash themselves as they are decoded (see `piece_hash`), or
    /// `None` when it is not a large NDJSON file (it is then opened as usual).
    fn open_hash_later(
        &mut self,
        i: usize,
        shared: &Shared<'_>,
    ) -> Result<Option<Vec<Chunk>>, IngestError> {
        let src = &shared.sources[i];
        let Some(bytes) = source::map_unhashed(src)? else {
            return Ok(None);
        };
        let bytes = Arc::new(bytes);
        let target = self.options.chunk_bytes;
        let Some(pieces) = shape::ndjson_chunks(&bytes, target, |piece| bytes.release(piece))
        else {
            return Ok(None);
        };
        let hasher = Arc::new(PieceHasher::new(bytes.len(), target.min(HASH_PIECE_BYTES)));
        shared.piece_hashes.lock().expect("lock")[i] = Some((hasher.clone(), bytes.clone()));
        shared.reports.lock().expect("lock")[i] = Some(SourceReport {
            name: src.name.clone(),
            blake3: String::new(), // filled in when every piece is hashed
            bytes: bytes.len() as u64,
            decoded_bytes: bytes.len() as u64,
            shape: Some(Shape::Ndjson.name()),
            status: SourceStatus::Ingested,
            accepted: 0,
            rejected: 0,
        });
        let pieces = pieces.into_iter().map(|r| (r, None)).collect();
        Ok(Some(chunks(i, &bytes, pieces, Some(hasher))))
    }

    /// Route and decode one record, or reject it; hand full batches to the sink.
    fn record<'a, S: Sink>(
        &mut self,
        name: &str,
        item: shape::Item<'a>,
        line_base: &mut LineBase<'_>,
        cells: &mut Vec<Cell<'a>>,
        out: &mut ChannelSink<'_, S>,
        counts: &mut Counts,
    ) -> Result<(), IngestError> {
        let outcome = match item.fields {
            Err(reason) => Err((
                None,
                RecordError {
                    column: None,
                    reason,
                },
            )),
            Ok(fields) => self.route(fields, cells),
        };
        match outcome {
            Ok(table) => {
                counts.accepted += 1;
                let name = &self.decoders[table].schema().name;
                // Not `entry(name.clone())`: that allocates a key for every record.
                match self.summary.accepted.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        self.summary.accepted.insert(name.clone(), 1);
                    }
                }
                self.pending_bytes[table] += item.raw.len();
                let d = &mut self.decoders[table];
                if d.buffered_rows() >= self.options.batch_rows.min(decoder::MAX_BATCH_ROWS)
                    || self.pending_bytes[table] >= self.options.batch_bytes
                {
                    self.pending_bytes[table] = 0;
                    match self.holding {
                        true => self.held[table].push(d.flush_part()),
                        false => out.batch(d.schema(), d.flush())?,
                    }
                }
                Ok(())
            }
            Err((table, err)) => {
                counts.rejected += 1;
                let reject = Reject {
                    source: name.to_string(),
                    line: match item.location {
                        Location::Line(l) => Some(line_base.lines() + l),
                        _ => None,
                    },
                    record: match item.location {
                        Location::Record(r) => Some(r),
                        _ => None,
                    },
                    table: table.map(|t| self.decoders[t].schema().name.clone()),
                    column: err.column,
                    reason: err.reason,
                    raw: truncate(item.raw, MAX_RAW).to_string(),
                };
                let key = reject.table.clone().unwrap_or_else(|| "(no table)".into());
                *self.summary.rejected.entry(key).or_default() += 1;
                if let Some(max) = self.options.max_errors {
                    if self.summary.total_rejected() > max {
                        self.summary.aborted = true;
                    }
                }
                out.reject(reject)
            }
        }
    }
    /// Choose the record's table and decode it there.
    fn route<'a>(
        &mut self,
        fields: Fields<'a>,
        cells: &mut Vec<Cell<'a>>,
    ) -> Result<usize, (Option<usize>, RecordError)> {
        let catalog = Catalog::builtin();
        let o365 = o365::is_o365_record(&fields);
        let table = match self.forced {
            Some(t) => t,
            None => match fields
                .iter()
                .find(|(k, _)| k == TYPE_COLUMN)
                .map(|(_, v)| v)
            {
                Some(v) => {
                    let name = match v {
                        InValue::Raw(raw) if raw.starts_with('"') => coerce::unescape(raw).ok(),
                        InValue::Text(t) => Some(t.clone()),
                        _ => None,
                    };
                    let Some(name) = name else {
                        return Err((
                            None,
                            RecordError {
                                column: Some(TYPE_COLUMN.into()),
                                reason: "Type is not a string".into(),
                            },
                        ));
                    };
                    catalog.get_ignore_case(&name).ok_or_else(|| {
                        (
                            None,
                            RecordError {
                                column: Some(TYPE_COLUMN.into()),
                                reason: format!("unknown table {name:?} in Type"),
                            },
                        )
                    })?
                }
                None if o365 => catalog.get("OfficeActivity").expect("built-in table"),
                None => {
                    return Err((
                        None,
                        RecordError {
                            column: None,
                            reason: "record has no Type field (use --table to name its table)"
                                .into(),
                        },
                    ));
                }
            },
        };
        let index = catalog.position(&table.name).expect("catalog table");
        let fields = if o365 && table.name == "OfficeActivity" {
            o365::map_record(fields)
        } else {
            fields
        };
        let pushed = self.decoders[index].push(&fields, cells);
        shape::recycle_fields(fields);
        pushed.map(|()| index).map_err(|e| (Some(index), e))
    }
}

/// The queue's pieces of source `i`: each piece's range, and the number of its first record
/// when it is part of a JSON array.
fn chunks(
    i: usize,
    bytes: &Arc<source::SourceBytes>,
    pieces: Vec<(std::ops::Range<usize>, Option<array_pieces::Elements>)>,
    hasher: Option<Arc<PieceHasher>>,
) -> Vec<Chunk> {
    let lines = Arc::new(LineCounts::default());
    (pieces.into_iter().enumerate())
        .map(|(piece, (range, elements))| Chunk {
            source: i,
            piece,
            bytes: bytes.clone(),
            range,
            hasher: hasher.clone(),
            elements,
            lines: lines.clone(),
        })
        .collect()
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}
