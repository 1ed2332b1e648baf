//! The work the decoding threads share: sources still to open, and pieces of large NDJSON
//! files still to decode (a large file is split so that every core decodes part of it).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::piece_hash::PieceHasher;
use super::source::{SourceBytes, SourceRef};
use super::{KnownSources, SourceReport};

/// A piece of a large NDJSON source.
pub struct Chunk {
    pub source: usize,
    pub bytes: Arc<SourceBytes>,
    pub range: Range<usize>,
    /// The source's hash, when it is taken piece by piece.
    pub hasher: Option<Arc<PieceHasher>>,
}

#[derive(Default)]
struct Queue {
    next_source: usize,
    chunks: VecDeque<Chunk>,
    /// Workers opening a source, which may yet add chunks.
    opening: usize,
    stopped: bool,
}

pub enum Task<'s, 'a> {
    Open(usize, Opening<'s, 'a>),
    Chunk(Chunk),
}

/// A source being opened by one thread. Dropping it hands the source's pieces (if any) to the
/// queue, also when opening failed or panicked, so no other thread waits for them forever.
pub struct Opening<'s, 'a> {
    shared: &'s Shared<'a>,
    pub chunks: Vec<Chunk>,
}

impl Drop for Opening<'_, '_> {
    fn drop(&mut self) {
        self.shared.opened(std::mem::take(&mut self.chunks));
    }
}

/// What the decoding workers share.
pub struct Shared<'a> {
    pub sources: &'a [SourceRef],
    pub ingested: HashSet<String>,
    /// Per source: whether its hash can wait until it is decoded (see `piece_hash`). A file
    /// of a size that no committed source and no other source of this run has cannot repeat
    /// one of them, so nothing needs its hash first.
    pub hash_later: Vec<bool>,
    /// Hashes being taken piece by piece, per source, with the bytes they are of.
    pub piece_hashes: Mutex<Vec<Option<(Arc<PieceHasher>, Arc<SourceBytes>)>>>,
    /// Content hashes seen in this run (the same file given twice is read once).
    pub seen: Mutex<HashSet<String>>,
    queue: Mutex<Queue>,
    ready: Condvar,
    pub reports: Mutex<Vec<Option<SourceReport>>>,
    pub stop: AtomicBool,
}

impl<'a> Shared<'a> {
    /// `chunk_bytes`: sources larger than this are decoded in pieces.
    pub fn new(sources: &'a [SourceRef], known: KnownSources, chunk_bytes: usize) -> Shared<'a> {
        let mut sizes: HashMap<u64, usize> = HashMap::new();
        for size in sources.iter().filter_map(|s| s.size) {
            *sizes.entry(size).or_default() += 1;
        }
        let hash_later = sources
            .iter()
            .map(|s| {
                s.size.is_some_and(|size| {
                    size > chunk_bytes as u64 && !known.sizes.contains(&size) && sizes[&size] == 1
                })
            })
            .collect();
        Shared {
            sources,
            ingested: known.hashes,
            hash_later,
            piece_hashes: Mutex::new(vec![None; sources.len()]),
            seen: Mutex::new(HashSet::new()),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            reports: Mutex::new(vec![None; sources.len()]),
            stop: AtomicBool::new(false),
        }
    }

    /// Every source's report, in the order the sources were given.
    pub fn into_reports(self) -> Vec<SourceReport> {
        let mut reports = self.reports.into_inner().expect("lock");
        let hashes = self.piece_hashes.into_inner().expect("lock");
        for (report, hash) in reports.iter_mut().zip(hashes) {
            if let (Some(r), Some((hasher, bytes))) = (report, hash) {
                r.blake3 = hasher.finish(&bytes);
            }
        }
        reports.into_iter().flatten().collect()
    }

    /// The next piece of work: chunks of opened sources first (their bytes are mapped
    /// already), then the next source. `None` when everything is taken or the run stopped.
    pub fn next_task<'s>(&'s self) -> Option<Task<'s, 'a>> {
        let mut q = self.queue.lock().expect("lock");
        loop {
            if q.stopped {
                return None;
            }
            if let Some(c) = q.chunks.pop_front() {
                let next = front(&q);
                drop(q);
                // The next piece's pages that the system dropped are read while this one is
                // decoded (this one's were asked for when it came to the front).
                read_ahead(next);
                return Some(Task::Chunk(c));
            }
            if q.next_source < self.sources.len() {
                q.next_source += 1;
                q.opening += 1;
                let opening = Opening {
                    shared: self,
                    chunks: Vec::new(),
                };
                return Some(Task::Open(q.next_source - 1, opening));
            }
            if q.opening == 0 {
                return None;
            }
            q = self.ready.wait(q).expect("lock");
        }
    }

    fn opened(&self, chunks: Vec<Chunk>) {
        // Also runs while unwinding (see `Opening`): never panic here.
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = q.chunks.is_empty();
        q.chunks.extend(chunks);
        let first = was_empty.then(|| front(&q)).flatten();
        q.opening -= 1;
        self.ready.notify_all();
        drop(q);
        // Pieces behind others are asked for as the one before them is handed out.
        read_ahead(first);
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

/// The piece at the front of the queue, to read ahead once the lock is let go.
fn front(q: &Queue) -> Option<(Arc<SourceBytes>, Range<usize>)> {
    (q.chunks.front()).map(|c| (c.bytes.clone(), c.range.clone()))
}

/// Start reading the pages of `piece` the system dropped from its cache (see `readahead`).
fn read_ahead(piece: Option<(Arc<SourceBytes>, Range<usize>)>) {
    if let Some((bytes, range)) = piece {
        bytes.read_ahead(range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_fails_while_opening_does_not_leave_the_others_waiting() {
        let sources = vec![SourceRef::stdin()];
        let shared = Shared::new(&sources, KnownSources::default(), 1 << 20);
        std::thread::scope(|s| {
            let Some(Task::Open(0, opening)) = shared.next_task() else {
                panic!("the first task opens the first source");
            };
            // Nothing left to open, but a source is being opened: this thread waits for it.
            let waiter = s.spawn(|| shared.next_task().is_none());
            let opener = s.spawn(move || {
                let _opening = opening;
                panic!("opening failed");
            });
            assert!(opener.join().is_err());
            assert!(
                waiter.join().unwrap(),
                "the waiting thread ends with no task"
            );
        });
    }
}
