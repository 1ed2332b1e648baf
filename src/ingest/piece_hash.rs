//! The BLAKE3 of a file, hashed piece by piece by whichever thread decodes that part of it.
//!
//! BLAKE3 is a tree: a piece that starts at a multiple of its power-of-two length hashes on its
//! own, and the pieces' chaining values merge into the same hash as `blake3::hash` of the
//! whole. So a large NDJSON file needs no pass of its own for its hash: each piece is hashed
//! right after its lines are decoded, while they are still in the CPU cache (see
//! [`Cursor`]). Hashing ahead in a separate pass read every byte twice.

use std::ops::Range;
use std::sync::Mutex;

use blake3::hazmat::{
    left_subtree_len, merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};

pub struct PieceHasher {
    piece: usize,
    len: usize,
    /// Per piece: its chaining value, or for a one-piece input, its hash.
    done: Mutex<Vec<Option<ChainingValue>>>,
}

impl PieceHasher {
    /// A hasher for an input of `len` bytes, cut into pieces of the largest power of two not
    /// above `target` (at least BLAKE3's 1 KiB chunk).
    pub fn new(len: usize, target: usize) -> PieceHasher {
        let piece = 1usize << target.max(blake3::CHUNK_LEN).ilog2();
        let pieces = len.div_ceil(piece).max(1);
        PieceHasher {
            piece,
            len,
            done: Mutex::new(vec![None; pieces]),
        }
    }

    /// The pieces whose last byte lies in `range` (so every piece belongs to exactly one of a
    /// set of ranges that cover the input).
    fn pieces_ending_in(&self, range: Range<usize>) -> Range<usize> {
        let pieces = self.len.div_ceil(self.piece).max(1);
        if range.is_empty() {
            return 0..0;
        }
        let first = (range.start / self.piece).min(pieces - 1);
        let end = match range.end >= self.len {
            true => pieces,
            false => range.end / self.piece,
        };
        first..end.max(first)
    }

    /// A cursor over the pieces of `input` (the whole input) that end in `range`.
    pub fn cursor(&self, range: Range<usize>) -> Cursor<'_> {
        Cursor {
            hasher: self,
            pieces: self.pieces_ending_in(range),
        }
    }

    fn hash_into(&self, input: &[u8], j: usize) {
        debug_assert_eq!(input.len(), self.len);
        let value = self.hash_piece(input, j);
        self.done.lock().expect("lock")[j] = Some(value);
    }

    fn hash_piece(&self, input: &[u8], j: usize) -> ChainingValue {
        if self.len <= self.piece {
            return *blake3::hash(input).as_bytes();
        }
        let start = j * self.piece;
        let end = (start + self.piece).min(self.len);
        let mut h = blake3::Hasher::new();
        h.set_input_offset(start as u64);
        h.update(&input[start..end]);
        h.finalize_non_root()
    }

    /// The hash of `input`, as hex; pieces not hashed yet (a run that stopped early) are
    /// hashed now.
    pub fn finish(&self, input: &[u8]) -> String {
        let mut done = self.done.lock().expect("lock");
        for (j, cv) in done.iter_mut().enumerate() {
            if cv.is_none() {
                *cv = Some(self.hash_piece(input, j));
            }
        }
        let cvs: Vec<ChainingValue> = done.iter().map(|c| c.expect("hashed above")).collect();
        if cvs.len() == 1 {
            return blake3::Hash::from_bytes(cvs[0]).to_hex().to_string();
        }
        let (left, right) = self.split(0..cvs.len());
        let root = merge_subtrees_root(
            &self.subtree(&cvs, left),
            &self.subtree(&cvs, right),
            Mode::Hash,
        );
        root.to_hex().to_string()
    }

    /// The chaining value of the subtree over `pieces`.
    fn subtree(&self, cvs: &[ChainingValue], pieces: Range<usize>) -> ChainingValue {
        if pieces.len() == 1 {
            return cvs[pieces.start];
        }
        let (left, right) = self.split(pieces);
        merge_subtrees_non_root(
            &self.subtree(cvs, left),
            &self.subtree(cvs, right),
            Mode::Hash,
        )
    }

    /// BLAKE3's split of a subtree of more than one piece: its left part is the largest power
    /// of two of chunks shorter than it, which is a whole number of pieces.
    fn split(&self, pieces: Range<usize>) -> (Range<usize>, Range<usize>) {
        let start = pieces.start * self.piece;
        let end = (pieces.end * self.piece).min(self.len);
        let left = left_subtree_len((end - start) as u64) as usize / self.piece;
        let mid = pieces.start + left;
        (pieces.start..mid, mid..pieces.end)
    }
}

/// The pieces one range of the input is to hash, in order, each hashed once decoding has
/// passed its end. A piece is small next to the CPU's cache, so hashing it right after its
/// lines were decoded reads it from the cache rather than from memory.
pub struct Cursor<'h> {
    hasher: &'h PieceHasher,
    pieces: Range<usize>,
}

impl Cursor<'_> {
    /// Hash the pieces that end before `at`.
    pub fn reached(&mut self, input: &[u8], at: usize) {
        let piece = self.hasher.piece;
        while !self.pieces.is_empty() && (self.pieces.start + 1) * piece <= at {
            self.hasher.hash_into(input, self.pieces.start);
            self.pieces.start += 1;
        }
    }

    /// Hash the pieces left.
    pub fn finish(mut self, input: &[u8]) {
        for j in self.pieces.clone() {
            self.hasher.hash_into(input, j);
        }
        self.pieces.start = self.pieces.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Hashes `data` in ranges cut at `cuts`, the later ranges first.
    fn pieced(data: &[u8], target: usize, cuts: &[usize]) -> String {
        let h = PieceHasher::new(data.len(), target);
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|&c| c < data.len()));
        bounds.push(data.len());
        for w in bounds.windows(2).rev() {
            let mut cursor = h.cursor(w[0]..w[1]);
            for at in (w[0]..w[1]).step_by(700) {
                cursor.reached(data, at);
            }
            cursor.finish(data);
        }
        h.finish(data)
    }

    #[test]
    fn pieces_hashed_out_of_order_give_the_hash_of_the_whole() {
        for len in [
            1, 1023, 1024, 1025, 2048, 3000, 4096, 5000, 8192, 8193, 20_000, 65_537,
        ] {
            let data = input(len);
            let want = blake3::hash(&data).to_hex().to_string();
            for target in [1024, 1500, 2048, 4096] {
                // Cuts at line ends fall anywhere: before, on and after piece boundaries.
                let cuts: Vec<usize> = (1..).map(|k| k * 1777 % (len + 1)).take(7).collect();
                let mut cuts = cuts;
                cuts.sort_unstable();
                cuts.dedup();
                assert_eq!(
                    pieced(&data, target, &cuts),
                    want,
                    "len {len} target {target}"
                );
                assert_eq!(pieced(&data, target, &[]), want, "len {len} one range");
            }
        }
    }

    #[test]
    fn every_piece_belongs_to_exactly_one_range() {
        let h = PieceHasher::new(10_000, 1024);
        let cuts = [0, 5, 1023, 1024, 1025, 4000, 4000, 9999, 10_000];
        let mut owned = Vec::new();
        for w in cuts.windows(2) {
            owned.extend(h.pieces_ending_in(w[0]..w[1]));
        }
        assert_eq!(owned, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn pieces_left_unhashed_are_hashed_at_the_end() {
        let data = input(10_000);
        let h = PieceHasher::new(data.len(), 1024);
        h.cursor(3000..5000).finish(&data);
        assert_eq!(h.finish(&data), blake3::hash(&data).to_hex().to_string());
    }
}
