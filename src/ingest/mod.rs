//! Ingest: input bytes → typed `RecordBatch`es per table, plus rejects. No file layout here:
//! batches and rejects go to a [`Sink`] (the store's transaction).

pub mod coerce;
pub mod decoder;
pub mod o365;
pub mod shape;
pub mod source;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use arrow::record_batch::RecordBatch;
use serde::Serialize;
use thiserror::Error;

use crate::schema::{Catalog, TableSchema, TYPE_COLUMN};
use coerce::{Cell, InValue};
use decoder::{RecordError, TableDecoder};
use shape::{Fields, Location, Shape};

#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{source_name}: not valid gzip: {error}")]
    Gzip { source_name: String, error: String },
    #[error("unknown table {0:?} for --table (tables: Update, UpdateSummary, UpdateRunProgress, OfficeActivity, Event)")]
    UnknownTable(String),
    #[error("store: {0}")]
    Sink(String),
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
    /// Content hashes of the sources already committed.
    fn ingested_sources(&self) -> HashSet<String>;
    fn write_batch(
        &mut self,
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<(), IngestError>;
    fn reject(&mut self, reject: &Reject) -> Result<(), IngestError>;
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Store every record in this table, whatever its `Type`.
    pub table: Option<String>,
    /// Abort with nothing committed once more than this many records are rejected.
    pub max_errors: Option<u64>,
    /// Rows buffered per table before a batch goes to the sink.
    pub batch_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            table: None,
            max_errors: None,
            batch_rows: 128 * 1024,
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
    pub sha256: String,
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
        for r in other.first_rejects {
            if self.first_rejects.len() < FIRST_REJECTS {
                self.first_rejects.push(r);
            }
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
/// Decoding runs on worker threads (one source at a time each, up to the number of cores)
/// while the calling thread hands their batches and rejects to `sink` (dedup, sorting and
/// Parquet encoding), so decoding and writing overlap even for a single file.
pub fn run(
    paths: &[PathBuf],
    options: &IngestOptions,
    sink: &mut dyn Sink,
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
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(sources.len())
        .max(1);
    let ingested = sink.ingested_sources();
    let seen = Mutex::new(HashSet::new());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Msg>(2 * workers);
    let mut summary = Summary::default();
    let mut failure: Option<IngestError> = None;
    let mut reports: Vec<(usize, SourceReport)> = Vec::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let tx = tx.clone();
                let (sources, ingested, seen, next, stop) =
                    (&sources, &ingested, &seen, &next, &stop);
                scope.spawn(move || {
                    let mut out = ChannelSink { tx, ingested, stop };
                    let mut run = Run {
                        decoders: catalog.tables().iter().map(TableDecoder::new).collect(),
                        forced,
                        options,
                        summary: Summary::default(),
                    };
                    let mut reports = Vec::new();
                    let result = (|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            if i >= sources.len() || stop.load(Ordering::SeqCst) {
                                break;
                            }
                            reports.push((i, run.one_source(&sources[i], &mut out, seen)?));
                        }
                        for d in &mut run.decoders {
                            if d.buffered_rows() > 0 {
                                out.write_batch(d.schema(), d.flush())?;
                            }
                        }
                        Ok(())
                    })();
                    (run.summary, reports, result)
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
                Msg::Batch(table, batch) => sink.write_batch(table, batch),
                Msg::Reject(r) => {
                    rejected += 1;
                    if options.max_errors.is_some_and(|max| rejected > max) {
                        summary.aborted = true;
                        stop.store(true, Ordering::SeqCst);
                    }
                    sink.reject(&r)
                }
            };
            if let Err(e) = result {
                stop.store(true, Ordering::SeqCst);
                failure = Some(e);
            }
        }
        for h in handles {
            let (part, mut rs, result) = h.join().expect("ingest worker panicked");
            summary.merge(part);
            reports.append(&mut rs);
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
    reports.sort_by_key(|(i, _)| *i);
    summary.sources = reports.into_iter().map(|(_, r)| r).collect();
    Ok(summary)
}

/// What a decoding worker hands to the writer thread.
enum Msg {
    Batch(&'static TableSchema, RecordBatch),
    Reject(Reject),
}

/// A worker's view of the sink: batches and rejects go over a channel to the writer thread.
struct ChannelSink<'a> {
    tx: mpsc::SyncSender<Msg>,
    ingested: &'a HashSet<String>,
    stop: &'a AtomicBool,
}

impl ChannelSink<'_> {
    fn send(&self, msg: Msg) -> Result<(), IngestError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(IngestError::Stopped);
        }
        self.tx.send(msg).map_err(|_| IngestError::Stopped)
    }
}

impl Sink for ChannelSink<'_> {
    fn ingested_sources(&self) -> HashSet<String> {
        self.ingested.clone()
    }
    fn write_batch(
        &mut self,
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<(), IngestError> {
        self.send(Msg::Batch(table, batch))
    }
    fn reject(&mut self, reject: &Reject) -> Result<(), IngestError> {
        self.send(Msg::Reject(reject.clone()))
    }
}

struct Run<'o> {
    decoders: Vec<TableDecoder>,
    forced: Option<&'static TableSchema>,
    options: &'o IngestOptions,
    summary: Summary,
}

impl Run<'_> {
    /// Open, hash and decode one source.
    fn one_source(
        &mut self,
        src: &source::SourceRef,
        sink: &mut ChannelSink<'_>,
        seen: &Mutex<HashSet<String>>,
    ) -> Result<SourceReport, IngestError> {
        let opened = source::open(src)?;
        let mut report = SourceReport {
            name: src.name.clone(),
            sha256: opened.sha256.clone(),
            bytes: opened.stored_bytes,
            decoded_bytes: opened.bytes.len() as u64,
            shape: None,
            status: SourceStatus::Ingested,
            accepted: 0,
            rejected: 0,
        };
        if sink.ingested.contains(&opened.sha256) {
            report.status = SourceStatus::AlreadyIngested;
        } else if !seen.lock().expect("lock").insert(opened.sha256.clone()) {
            report.status = SourceStatus::RepeatedInThisRun;
        } else {
            let shape = self.source(&src.name, &opened.bytes, sink, &mut report)?;
            report.shape = Some(shape.name());
        }
        Ok(report)
    }

    fn source(
        &mut self,
        name: &str,
        bytes: &[u8],
        sink: &mut dyn Sink,
        report: &mut SourceReport,
    ) -> Result<Shape, IngestError> {
        let mut cells: Vec<Cell> = Vec::new();
        let mut failure: Option<IngestError> = None;
        let shape = shape::for_each_record(bytes, |item| {
            if failure.is_some() || self.summary.aborted {
                return;
            }
            let outcome = match item.fields {
                Err(reason) => Err((
                    None,
                    RecordError {
                        column: None,
                        reason,
                    },
                )),
                Ok(fields) => self.route(fields, &mut cells),
            };
            match outcome {
                Ok(table) => {
                    report.accepted += 1;
                    *self
                        .summary
                        .accepted
                        .entry(self.decoders[table].schema().name.clone())
                        .or_default() += 1;
                    let d = &mut self.decoders[table];
                    if d.buffered_rows() >= self.options.batch_rows {
                        if let Err(e) = sink.write_batch(d.schema(), d.flush()) {
                            failure = Some(e);
                        }
                    }
                }
                Err((table, err)) => {
                    report.rejected += 1;
                    let reject = Reject {
                        source: name.to_string(),
                        line: match item.location {
                            Location::Line(l) => Some(l),
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
                    if let Err(e) = sink.reject(&reject) {
                        failure = Some(e);
                    }
                    if self.summary.first_rejects.len() < FIRST_REJECTS {
                        self.summary.first_rejects.push(reject);
                    }
                    if let Some(max) = self.options.max_errors {
                        if self.summary.total_rejected() > max {
                            self.summary.aborted = true;
                        }
                    }
                }
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(shape),
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
                        InValue::Raw(raw) if raw.get().starts_with('"') => {
                            coerce::unescape(raw.get()).ok()
                        }
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
        self.decoders[index]
            .push(&fields, cells)
            .map(|()| index)
            .map_err(|e| (Some(index), e))
    }
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
