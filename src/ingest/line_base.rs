//! Line numbers of rejected records in a file decoded in pieces. A piece numbers its lines from
//! 1; only a rejected record needs its line in the whole file, so the lines before a piece are
//! counted when it first rejects one, not by a pass over every file.

use std::ops::Range;
use std::sync::Mutex;

/// Bytes counted as one window.
const WINDOW: usize = 16 << 20;

/// The line ends of a file, counted a window at a time and kept, so that the pieces of one file
/// count each window at most once however many of them reject records.
#[derive(Default)]
pub struct LineCounts {
    windows: Mutex<Vec<Option<u64>>>,
}

impl LineCounts {
    /// Line ends in `bytes[..at]` (`bytes` the whole file, or as much of it as is known);
    /// `counted` is told each whole window counted, so that a mapped file can give its pages
    /// back (the count of a late piece reads everything before it).
    fn before(&self, bytes: &[u8], at: usize, counted: &dyn Fn(Range<usize>)) -> u64 {
        let mut lines = 0;
        for w in 0..at / WINDOW {
            let kept = self.windows.lock().expect("lock").get(w).copied().flatten();
            lines += kept.unwrap_or_else(|| {
                let range = w * WINDOW..(w + 1) * WINDOW;
                let n = memchr::memchr_iter(b'\n', &bytes[range.clone()]).count() as u64;
                counted(range);
                let mut windows = self.windows.lock().expect("lock");
                if windows.len() <= w {
                    windows.resize(w + 1, None);
                }
                windows[w] = Some(n);
                n
            });
        }
        let partial = &bytes[at / WINDOW * WINDOW..at];
        lines + memchr::memchr_iter(b'\n', partial).count() as u64
    }
}

/// The number of lines before a piece, counted on first use.
pub struct LineBase<'b> {
    lines: Option<u64>,
    before: Option<Before<'b>>,
}

struct Before<'b> {
    bytes: &'b [u8],
    at: usize,
    counts: &'b LineCounts,
    counted: &'b (dyn Fn(Range<usize>) + Sync),
}

impl<'b> LineBase<'b> {
    /// For a piece starting at `at` in `bytes`, of the file whose line ends `counts` keeps.
    pub fn before(
        bytes: &'b [u8],
        at: usize,
        counts: &'b LineCounts,
        counted: &'b (dyn Fn(Range<usize>) + Sync),
    ) -> LineBase<'b> {
        let before = Before {
            bytes,
            at,
            counts,
            counted,
        };
        LineBase {
            lines: None,
            before: Some(before),
        }
    }

    /// For text read whole, or lines numbered in the whole file already.
    pub fn none() -> LineBase<'static> {
        LineBase {
            lines: Some(0),
            before: None,
        }
    }

    pub fn lines(&mut self) -> u64 {
        let before = &self.before;
        *self.lines.get_or_insert_with(|| {
            before
                .as_ref()
                .map_or(0, |b| b.counts.before(b.bytes, b.at, b.counted))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_window_is_counted_once_for_all_the_pieces_of_a_file() {
        let text = "a\n".repeat(20 << 20);
        let counts = LineCounts::default();
        let told = Mutex::new(Vec::new());
        let counted = |r: Range<usize>| told.lock().unwrap().push(r);
        for at in [text.len() - 1, WINDOW + 3, text.len() - 1, 2 * WINDOW] {
            let mut base = LineBase::before(text.as_bytes(), at, &counts, &counted);
            let expected = text.as_bytes()[..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            assert_eq!(base.lines(), expected as u64, "{at}");
            assert_eq!(base.lines(), expected as u64, "{at}");
        }
        let told = told.into_inner().unwrap();
        assert_eq!(
            told,
            [0..WINDOW, WINDOW..2 * WINDOW],
            "each whole window once"
        );
        assert_eq!(LineBase::none().lines(), 0);
    }
}
