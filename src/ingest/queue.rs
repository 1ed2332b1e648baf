//! The work the decoding threads share: sources still to open, and pieces of large NDJSON
//! files still to decode (a large file is split so that every core decodes part of it).

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::piece_hash::PieceHasher;
use super::source::{SourceBytes, SourceRef};
use super::{KnownSources, SourceReport};

/// A piece of a large NDJSON source, or of a large JSON array.
pub struct Chunk {
    pub source: usize,
    /// Which piece of the source, counted from 0 in file order.
    pub piece: usize,
    pub bytes: Arc<SourceBytes>,
    pub range: Range<usize>,
    /// The source's hash, when it is taken piece by piece.
    pub hasher: Option<Arc<PieceHasher>>,
    /// For a piece of a JSON array or envelope (not NDJSON): what its elements are.
    pub elements: Option<super::array_pieces::Elements>,
    /// The line ends of the source, counted as its pieces need them (shared by its pieces).
    pub lines: Arc<super::line_base::LineCounts>,
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
    /// Open these sources: one, or several small ones in a row, decoded as one task (so that
    /// their rows leave the decoders together, not as a batch or more for each file).
    Open(Range<usize>, Opening<'s, 'a>),
    Chunk(Chunk),
}

/// A source being opened by one thread. Dropping it hands the source's pieces (if any) to the
/// queue, also when opening failed or panicked, so no other thread waits for them forever.
pub struct Opening<'s, 'a> {
    shared: &'s Shared<'a>,
    pub chunks: Vec<Chunk>,
}

impl Opening<'_, '_> {
    /// Hand the source's next pieces to the queue while it is still being opened.
    pub fn hand_over(&self, chunks: Vec<Chunk>) {
        self.shared.queue_chunks(chunks, false);
    }
}

impl Drop for Opening<'_, '_> {
    fn drop(&mut self) {
        self.shared.opened(std::mem::take(&mut self.chunks));
    }
}

/// A hash taken piece by piece, and the bytes it is of.
pub type HashingPieces = (Arc<PieceHasher>, Arc<SourceBytes>);

/// What the decoding workers share.
pub struct Shared<'a> {
    pub sources: &'a [SourceRef],
    pub ingested: HashSet<String>,
    /// Per source: whether its hash can wait until it is decoded (see `piece_hash`). A file
    /// of a size that no committed source and no other source of this run has cannot repeat
    /// one of them, so nothing needs its hash first.
    pub hash_later: Vec<bool>,
    /// Hashes being taken piece by piece, per source, with the bytes they are of.
    pub piece_hashes: Mutex<Vec<Option<HashingPieces>>>,
    /// Content hashes seen in this run (the same file given twice is read once).
    pub seen: Mutex<HashSet<String>>,
    queue: Mutex<Queue>,
    ready: Condvar,
    pub reports: Mutex<Vec<Option<SourceReport>>>,
    pub stop: AtomicBool,
    /// Bytes of the small sources opened together as one task, at most.
    group_bytes: u64,
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
            group_bytes: chunk_bytes as u64,
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
    /// already), then the next source; so always the first in the input's order, as
    /// `order` needs. `None` when everything is taken or the run stopped.
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
                let sources = self.group_from(q.next_source);
                q.next_source = sources.end;
                q.opening += 1;
                let opening = Opening {
                    shared: self,
                    chunks: Vec::new(),
                };
                return Some(Task::Open(sources, opening));
            }
            if q.opening == 0 {
                return None;
            }
            q = self.ready.wait(q).expect("lock");
        }
    }

    /// Source `first`, with the small files that follow it while they add up to no more
    /// than a piece of a large file.
    fn group_from(&self, first: usize) -> Range<usize> {
        let small = |s: &SourceRef| s.size.filter(|&n| n > 0 && n <= self.group_bytes);
        let mut end = first + 1;
        if let Some(mut bytes) = small(&self.sources[first]) {
            while let Some(n) = self.sources.get(end).and_then(small) {
                if bytes + n > self.group_bytes {
                    break;
                }
                (bytes, end) = (bytes + n, end + 1);
            }
        }
        first..end
    }

    fn opened(&self, chunks: Vec<Chunk>) {
        self.queue_chunks(chunks, true);
    }

    /// Put `chunks` (of one source, in order) in the queue, after those of the sources
    /// before it and of this one, and before those of later sources opened sooner by another
    /// thread; `opened`: the source's opening is over.
    fn queue_chunks(&self, chunks: Vec<Chunk>, opened: bool) {
        // Also runs while unwinding (see `Opening`): never panic here.
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let at = match chunks.first() {
            Some(c) => q.chunks.partition_point(|queued| queued.source <= c.source),
            None => q.chunks.len(),
        };
        for (i, c) in chunks.into_iter().enumerate() {
            q.chunks.insert(at + i, c);
        }
        let first = (at == 0).then(|| front(&q)).flatten();
        if opened {
            q.opening -= 1;
        }
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
            let Some(Task::Open(sources, opening)) = shared.next_task() else {
                panic!("the first task opens the first source");
            };
            assert_eq!(sources, 0..1);
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

    #[test]
    fn small_sources_in_a_row_are_opened_together_up_to_a_pieces_bytes() {
        let sizes = [3, 4, 3, 11, 5, 5, 0, 2, 10];
        let sources: Vec<SourceRef> = (sizes.iter().enumerate())
            .map(|(i, &n)| SourceRef::of_size(&format!("f{i}"), n))
            .chain([SourceRef::stdin()])
            .collect();
        let shared = Shared::new(&sources, KnownSources::default(), 10);
        let mut groups = Vec::new();
        while let Some(Task::Open(group, opening)) = shared.next_task() {
            groups.push(group);
            drop(opening);
        }
        // An empty file, stdin and a file over the limit stand alone.
        assert_eq!(groups, [0..3, 3..4, 4..6, 6..7, 7..8, 8..9, 9..10]);
    }

    #[test]
    fn pieces_handed_over_while_a_source_opens_are_queued_in_order_and_wake_a_waiting_thread() {
        let sources: Vec<SourceRef> = (0..2)
            .map(|i| SourceRef::of_size(&format!("f{i}"), 100))
            .collect();
        let bytes = Arc::new(SourceBytes::Owned(vec![b'x'; 100]));
        let chunk = |source, piece| Chunk {
            source,
            piece,
            bytes: bytes.clone(),
            range: 0..1,
            hasher: None,
            elements: None,
            lines: Default::default(),
        };
        let taken = |shared: &Shared| match shared.next_task() {
            Some(Task::Chunk(c)) => (c.source, c.piece),
            _ => panic!("a piece"),
        };

        // Before the pieces of a later source opened sooner, after its own queued ones.
        let shared = Shared::new(&sources, KnownSources::default(), 10);
        let (Some(Task::Open(_, opening)), Some(Task::Open(_, mut later))) =
            (shared.next_task(), shared.next_task())
        else {
            panic!("two sources to open");
        };
        later.chunks = vec![chunk(1, 0), chunk(1, 1)];
        drop(later);
        opening.hand_over(vec![chunk(0, 0), chunk(0, 1)]);
        opening.hand_over(vec![chunk(0, 2)]);
        drop(opening);
        let all: Vec<_> = (0..5).map(|_| taken(&shared)).collect();
        assert_eq!(all, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]);
        assert!(shared.next_task().is_none());

        // A thread with nothing to take waits for the next piece, and ends with the opening.
        let shared = Shared::new(&sources[..1], KnownSources::default(), 10);
        let Some(Task::Open(_, opening)) = shared.next_task() else {
            panic!("a source to open");
        };
        std::thread::scope(|s| {
            let waiter = s.spawn(|| (taken(&shared), shared.next_task().is_none()));
            std::thread::sleep(std::time::Duration::from_millis(50));
            opening.hand_over(vec![chunk(0, 0)]);
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(opening);
            assert_eq!(waiter.join().unwrap(), ((0, 0), true));
        });
    }
}
