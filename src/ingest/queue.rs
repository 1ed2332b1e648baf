//! The work the decoding threads share: sources still to open, and pieces of large NDJSON
//! files still to decode (a large file is split so that every core decodes part of it).

use std::collections::{HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::source::{OpenedSource, SourceRef};
use super::SourceReport;

/// A piece of a large NDJSON source.
pub struct Chunk {
    pub source: usize,
    pub bytes: Arc<OpenedSource>,
    pub range: Range<usize>,
    pub first_line: u64,
}

#[derive(Default)]
struct Queue {
    next_source: usize,
    chunks: VecDeque<Chunk>,
    /// Workers opening a source, which may yet add chunks.
    opening: usize,
    stopped: bool,
}

pub enum Task {
    Open(usize),
    Chunk(Chunk),
}

/// What the decoding workers share.
pub struct Shared<'a> {
    pub sources: &'a [SourceRef],
    pub ingested: HashSet<String>,
    /// Content hashes seen in this run (the same file given twice is read once).
    pub seen: Mutex<HashSet<String>>,
    queue: Mutex<Queue>,
    ready: Condvar,
    pub reports: Mutex<Vec<Option<SourceReport>>>,
    pub stop: AtomicBool,
}

impl<'a> Shared<'a> {
    pub fn new(sources: &'a [SourceRef], ingested: HashSet<String>) -> Shared<'a> {
        Shared {
            sources,
            ingested,
            seen: Mutex::new(HashSet::new()),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            reports: Mutex::new(vec![None; sources.len()]),
            stop: AtomicBool::new(false),
        }
    }

    /// Every source's report, in the order the sources were given.
    pub fn into_reports(self) -> Vec<SourceReport> {
        let reports = self.reports.into_inner().expect("lock");
        reports.into_iter().flatten().collect()
    }

    /// The next piece of work: chunks of opened sources first (their bytes are mapped
    /// already), then the next source. `None` when everything is taken or the run stopped.
    pub fn next_task(&self) -> Option<Task> {
        let mut q = self.queue.lock().expect("lock");
        loop {
            if q.stopped {
                return None;
            }
            if let Some(c) = q.chunks.pop_front() {
                return Some(Task::Chunk(c));
            }
            if q.next_source < self.sources.len() {
                q.next_source += 1;
                q.opening += 1;
                return Some(Task::Open(q.next_source - 1));
            }
            if q.opening == 0 {
                return None;
            }
            q = self.ready.wait(q).expect("lock");
        }
    }

    pub fn opened(&self, chunks: Vec<Chunk>) {
        let mut q = self.queue.lock().expect("lock");
        q.chunks.extend(chunks);
        q.opening -= 1;
        self.ready.notify_all();
    }

    pub fn halt(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.queue.lock().expect("lock").stopped = true;
        self.ready.notify_all();
    }

    pub fn count(&self, source: usize, accepted: u64, rejected: u64) {
        let mut reports = self.reports.lock().expect("lock");
        let r = reports[source].as_mut().expect("reported when opened");
        r.accepted += accepted;
        r.rejected += rejected;
    }
}
