//! `omslake ingest`: run the ingest into one store transaction and print the summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use omslake::ingest::{self, IngestOptions, SourceStatus, Summary};
use omslake::store::log::SourceEntry;
use omslake::store::Store;

use super::{CmdResult, Failure, EXIT_ABORTED, EXIT_REJECTS, EXIT_USAGE};

pub fn run(
    store_dir: &Path,
    paths: &[PathBuf],
    table: Option<String>,
    max_errors: Option<u64>,
    lock_timeout: Option<f64>,
) -> CmdResult {
    let started = Instant::now();
    let store = Store::open(store_dir);
    let timeout = lock_timeout.map(Duration::from_secs_f64);
    let mut tx = store.begin("ingest", timeout, &mut || {
        eprintln!(
            "omslake: waiting for another writer to finish with {}",
            store_dir.display()
        )
    })?;
    if tx.cleaned_leftovers > 0 {
        eprintln!(
            "omslake: removed {} files left by an interrupted writer",
            tx.cleaned_leftovers
        );
    }
    let options = IngestOptions {
        table,
        max_errors,
        ..IngestOptions::default()
    };
    let summary = ingest::run(paths, &options, &mut tx).map_err(|e| Failure::new(EXIT_USAGE, e))?;
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
            sha256: s.sha256.clone(),
            bytes: s.bytes,
        })
        .collect();
    let commit = tx.commit(sources, Vec::new())?;
    print_summary(
        &summary,
        commit.as_ref().map(|c| c.version),
        started.elapsed(),
    );
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

fn print_summary(summary: &Summary, version: Option<u64>, elapsed: Duration) {
    for s in &summary.sources {
        match s.status {
            SourceStatus::AlreadyIngested => {
                eprintln!(
                    "{}: already ingested (same content, sha256 {}…), skipped",
                    s.name,
                    &s.sha256[..12]
                )
            }
            SourceStatus::RepeatedInThisRun => {
                eprintln!(
                    "{}: same content as an earlier input of this run, skipped",
                    s.name
                )
            }
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
    match version {
        Some(v) => eprintln!(
            "committed version {v}: {} records accepted, {} rejected, in {:.2} s ({:.1} MB/s, {:.0} records/s)",
            summary.total_accepted(),
            summary.total_rejected(),
            secs,
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
        eprintln!(
            "  {t:<20} {:>10} accepted {:>8} rejected",
            summary.accepted.get(t).copied().unwrap_or(0),
            summary.rejected.get(t).copied().unwrap_or(0)
        );
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
