//! `omslake ingest`: run the ingest into one store transaction and print the summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use omslake::ingest::{self, IngestOptions, SourceStatus, Summary};
use omslake::store::log::SourceEntry;
use omslake::store::memory::RSS_TARGET;
use omslake::store::{buffer, Store, Transaction};

use super::{allocator, CmdResult, Failure, EXIT_ABORTED, EXIT_REJECTS, EXIT_USAGE};

/// Take the writer lock, saying so when another writer holds it.
pub fn begin(
    store: &Store,
    operation: &str,
    lock_timeout: Option<Duration>,
) -> Result<Transaction, Failure> {
    let dir = store.root().display().to_string();
    let tx = store.begin(operation, lock_timeout, &mut || {
        eprintln!("omslake: waiting for another writer to finish with {dir}")
    })?;
    if tx.cleaned_leftovers > 0 {
        eprintln!(
            "omslake: removed {} files left by an interrupted writer",
            tx.cleaned_leftovers
        );
    }
    Ok(tx)
}

/// The bytes the inputs decode to, if every one's size is known (a path that cannot be listed
/// is reported by the ingest itself): a gzip file counts as its trailer's decoded size.
fn input_bytes(paths: &[PathBuf]) -> Option<u64> {
    let sources = ingest::source::expand(paths).ok()?;
    sources.iter().map(ingest::source::decoded_size_hint).sum()
}

pub fn run(
    store_dir: &Path,
    paths: &[PathBuf],
    table: Option<String>,
    max_errors: Option<u64>,
    lock_timeout: Option<Duration>,
    buffer_mb: Option<u64>,
    quiet: bool,
) -> CmdResult {
    let started = Instant::now();
    let store = Store::open(store_dir);
    let mut tx = begin(&store, "ingest", lock_timeout)?;
    if buffer_mb.is_some() {
        tx.set_governor(None);
    }
    let buffer_mb = buffer_mb.unwrap_or((buffer::default_budget(input_bytes(paths)) >> 20) as u64);
    tx.set_buffer_budget(usize::try_from(buffer_mb << 20).unwrap_or(usize::MAX));
    let progress = Arc::new(ingest::Progress::default());
    let options = IngestOptions {
        table,
        max_errors,
        progress: Some(progress.clone()),
        spill_dir: Some(tx.staging_dir().to_path_buf()),
        ..IngestOptions::default()
    };
    let bar = super::progress::wanted(quiet)
        .then(|| super::progress::IngestBar::start(progress, input_bytes(paths)));
    let summary = ingest::run(paths, &options, &mut tx);
    drop(bar);
    let summary = summary.map_err(|e| Failure::new(EXIT_USAGE, e))?;
    if summary.aborted {
        tx.discard();
        print_rejects(&summary, None);
        return Err(Failure::new(
            EXIT_ABORTED,
            format!(
                "aborted: more than {} records rejected (--max-errors); nothing was committed",
                max_errors.unwrap_or(0)
            ),
        ));
    }
    let sources: Vec<SourceEntry> = summary
        .sources
        .iter()
        .filter(|s| s.status == SourceStatus::Ingested)
        .map(|s| SourceEntry {
            name: s.name.clone(),
            blake3: s.blake3.clone(),
            bytes: s.bytes,
        })
        .collect();
    let duplicates = tx.duplicates.clone();
    let spilled = tx.spilled_bytes();
    let given_up = tx.buffer_given_up();
    let frozen_keys = tx.frozen_keys();
    // The process ends after the commit. Unless rows were set aside on disk (the commit then
    // frees memory to read them back), its writers free the rows as they write them, jemalloc
    // holding the freed pages until each writer ends (`allocator::hold_freed_pages`); on
    // glibc's heap the rows are left to the exit.
    if spilled > 0 || !allocator::hold_freed_pages() {
        tx.leave_rows_to_exit();
    }
    let commit = tx.commit(sources, Vec::new())?;
    print_summary(
        &summary,
        &duplicates,
        commit.as_ref().map(|c| c.version),
        started.elapsed(),
    );
    if spilled > 0 && commit.is_some() {
        let why = match given_up >> 20 {
            0 => format!("over --buffer-mb {buffer_mb}; more is faster"),
            mb => format!(
                "over --buffer-mb {buffer_mb}, less up to {mb} MB while the process held over {} MiB",
                RSS_TARGET >> 20
            ),
        };
        eprintln!(
            "  {:.1} MB of rows waited on disk for their partition's file ({why})",
            spilled as f64 / 1e6
        );
    }
    if frozen_keys > 0 && commit.is_some() {
        eprintln!(
            "  {frozen_keys} dedup keys waited on disk (they passed half of --buffer-mb {buffer_mb})"
        );
    }
    print_rejects(
        &summary,
        commit
            .as_ref()
            .and_then(|c| c.rejects.as_deref())
            .map(|r| store_dir.join(r)),
    );
    Ok(if summary.total_rejected() > 0 {
        EXIT_REJECTS
    } else {
        0
    })
}

fn print_summary(
    summary: &Summary,
    duplicates: &BTreeMap<String, u64>,
    version: Option<u64>,
    elapsed: Duration,
) {
    for s in &summary.sources {
        match s.status {
            SourceStatus::AlreadyIngested => {
                eprintln!(
                    "{}: already ingested (same content, blake3 {}…), skipped",
                    s.name,
                    &s.blake3[..12]
                )
            }
            SourceStatus::RepeatedInThisRun => eprintln!(
                "{}: same content as an earlier input of this run, skipped",
                s.name
            ),
            SourceStatus::Ingested => eprintln!(
                "{}: {} ({} bytes): {} accepted, {} rejected",
                s.name,
                s.shape.unwrap_or("?"),
                s.bytes,
                s.accepted,
                s.rejected
            ),
        }
    }
    let bytes: u64 = summary
        .sources
        .iter()
        .filter(|s| s.status == SourceStatus::Ingested)
        .map(|s| s.decoded_bytes)
        .sum();
    let secs = elapsed.as_secs_f64().max(1e-6);
    let skipped: u64 = duplicates.values().sum();
    let stored = summary.total_accepted() - skipped;
    match version {
        Some(v) => eprintln!(
            "committed version {v}: {stored} records stored, {skipped} skipped as already stored, {} rejected, in {secs:.2} s ({:.1} MB/s, {:.0} records/s)",
            summary.total_rejected(),
            bytes as f64 / 1e6 / secs,
            summary.total_accepted() as f64 / secs
        ),
        None => eprintln!("nothing new to commit"),
    }
    let mut tables: Vec<&String> = summary
        .accepted
        .keys()
        .chain(summary.rejected.keys())
        .collect();
    tables.sort();
    tables.dedup();
    for t in tables {
        let dup = duplicates.get(t).copied().unwrap_or(0);
        // Formatted first: stderr is unbuffered, and each padding character would be a write.
        let line = format!(
            "  {t:<20} {:>10} stored {:>10} duplicates {:>8} rejected",
            summary.accepted.get(t).copied().unwrap_or(0) - dup,
            dup,
            summary.rejected.get(t).copied().unwrap_or(0)
        );
        eprintln!("{line}");
    }
}

fn print_rejects(summary: &Summary, file: Option<PathBuf>) {
    if summary.first_rejects.is_empty() {
        return;
    }
    match file {
        Some(f) => eprintln!(
            "first rejects (all {} are in {}):",
            summary.total_rejected(),
            f.display()
        ),
        None => eprintln!("first rejects:"),
    }
    for r in &summary.first_rejects {
        eprintln!("  {}: {}", r.position(), r.reason);
    }
}
