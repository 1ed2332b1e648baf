//! A large JSON array of records, or an envelope around one, cut into pieces at its elements'
//! ends, so that both cores decode it (as `shape::ndjson_chunks` cuts NDJSON at line ends).
//! The envelopes are those `shape` reads: `{"records":[…]}`, the legacy search API's
//! `{"__metadata":…,"value":[…]}` and the query API's `{"tables":[{"columns":…,"rows":[…]}]}`.
//! The cuts are found by a scan that follows only strings and nesting; each element is parsed
//! by the thread that decodes its piece. A file of any size is read through the cut (one piece
//! for a small one, see `array_read`). When the scan meets anything it does not take (an
//! element of another kind, a duplicate envelope key, an escaped key, something after the
//! end, bytes that are not UTF-8), it says `None` and serde reads the whole file
//! (`shape::read_uncut`), rejecting what it cannot read from there on.

use std::ops::Range;
use std::sync::Arc;

use serde::de::IgnoredAny;

use super::cut_short;
use super::query_api;
use super::shape::{self, Shape};

/// A run of whole elements: from the first one's opening bracket to the last one's closing.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayPiece {
    pub range: Range<usize>,
    pub elements: Elements,
}

/// What a piece's elements are.
#[derive(Debug, Clone, PartialEq)]
pub struct Elements {
    /// The number of the piece's first element in the file, counted from 0.
    pub first_record: u64,
    /// For rows of a query API table: the table's column names. Otherwise the elements are
    /// record objects.
    pub columns: Option<Arc<[String]>>,
    /// For the last piece of an array that breaks off: no elements, but the report of the
    /// break, and the piece is the text from the unfinished element on (see `cut_short`).
    pub cut_short: Option<Arc<CutShort>>,
    /// Where each element ends, from the piece's start, as the cut found them (so that they
    /// are not looked for again); `None` when they are to be found.
    pub ends: Option<Arc<[u32]>>,
}

/// Where an array breaks off, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct CutShort {
    pub line: u64,
    pub message: String,
}

/// An array broken off where the file ends: its whole elements' pieces, the last one reporting
/// the break, and whether the break is at the end of the file (not bad JSON just before it).
struct Tail {
    pieces: Vec<ArrayPiece>,
    eof: bool,
}

/// The elements of the array being cut that are not yet in a piece.
struct Pending {
    /// Where the first starts, and where the last ends (when there is none yet, where the
    /// element before them ends, or just past the array's `[`).
    start: usize,
    last_end: usize,
    first_record: u64,
    /// Each one's end from `start`; `None` once one does not fit in 32 bits.
    ends: Option<Vec<u32>>,
}

impl Pending {
    fn new(start: usize, last_end: usize, first_record: u64) -> Pending {
        let ends = Some(Vec::new());
        Pending {
            start,
            last_end,
            first_record,
            ends,
        }
    }

    fn add(&mut self, end: usize) {
        self.last_end = end;
        let from_start = u32::try_from(end - self.start).ok();
        self.ends = self.ends.take().zip(from_start).map(|(mut ends, end)| {
            ends.push(end);
            ends
        });
    }

    fn elements(&mut self) -> Elements {
        Elements {
            first_record: self.first_record,
            columns: None,
            cut_short: None,
            ends: self.ends.take().map(Arc::from),
        }
    }
}

/// A file cut in pieces, and the shape it was read as.
#[derive(Debug, PartialEq)]
pub struct Cut {
    pub shape: Shape,
    pub pieces: Vec<ArrayPiece>,
}

/// Bytes scanned between two calls of `scanned`.
const RELEASE_EVERY: usize = 4 << 20;

/// Cut a JSON array of objects, or an envelope's array, in a file larger than `target` bytes,
/// after the first element that ends past each `target` bytes. `scanned` is told the bytes
/// read, a few megabytes at a time (see `ndjson_chunks`).
pub fn cut(bytes: &[u8], target: usize, scanned: impl FnMut(Range<usize>)) -> Option<Cut> {
    if bytes.len() <= target {
        return None;
    }
    cut_into(bytes, target, scanned)
}

/// What [`cut`] makes of a file of any size, in one piece (or two, the second reporting where
/// it breaks off): how the whole-file reader reads an array or envelope the cut can take.
pub fn one_piece(bytes: &[u8], scanned: impl FnMut(Range<usize>)) -> Option<Cut> {
    cut_into(bytes, usize::MAX, scanned)
}

fn cut_into(bytes: &[u8], target: usize, scanned: impl FnMut(Range<usize>)) -> Option<Cut> {
    let bytes = cut_short::without_cut_character(bytes);
    let bom = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let mut cutter = Cutter {
        bytes,
        target,
        scanned,
        released: 0,
        reached: 0,
        records: 0,
        lines: 0,
        line_start: 0,
        tail: None,
    };
    let at = skip_space(bytes, bom);
    let cut = match bytes.get(at) {
        Some(b'[') => match cutter.array(at, b'{') {
            Some((pieces, end)) => {
                let shape = Shape::Array;
                (skip_space(bytes, end) == bytes.len()).then_some(Cut { shape, pieces })
            }
            // Broken off, even by bad JSON at the end: the whole-file reader reports it alike.
            None => cutter.tail.take().map(|tail| Cut {
                shape: Shape::Array,
                pieces: tail.pieces,
            }),
        },
        Some(b'{') => cutter.envelope(at),
        _ => None,
    };
    let cut = cut.filter(|cut| !cut.pieces.is_empty());
    let cut = cut.and_then(|cut| cutter.progress(bytes.len(), true).map(|()| cut));
    if cut.is_none() {
        // What the scan mapped: the whole-file reader maps it again as it reads.
        (cutter.scanned)(cutter.released..cutter.reached.min(bytes.len()));
    }
    cut
}

struct Cutter<'b, F> {
    bytes: &'b [u8],
    target: usize,
    scanned: F,
    /// Bytes checked as UTF-8 and told to `scanned`.
    released: usize,
    /// The furthest the scan has read.
    reached: usize,
    /// Elements of the array being cut, and before it in the same count.
    records: u64,
    /// Line ends in the bytes told to `scanned`, and where the line after the last one starts.
    lines: u64,
    line_start: usize,
    /// The array being cut broke off where the file ends.
    tail: Option<Tail>,
}

/// Which of an envelope's keys a member is (the keys `shape` reads an envelope by).
#[derive(Clone, Copy, PartialEq)]
enum EnvelopeKey {
    Tables,
    Value,
    Metadata,
    Records,
}

impl<'b, F: FnMut(Range<usize>)> Cutter<'b, F> {
    /// Check the bytes read up to `to` (just after an ASCII byte, so never inside a character)
    /// as UTF-8 and tell `scanned`, every few megabytes or when `now`.
    fn progress(&mut self, to: usize, now: bool) -> Option<()> {
        self.reached = self.reached.max(to);
        if now || to - self.released >= RELEASE_EVERY {
            // Checked and counted while its pages are still mapped.
            let window = &self.bytes[self.released..to];
            std::str::from_utf8(window).ok()?;
            self.lines += memchr::memchr_iter(b'\n', window).count() as u64;
            if let Some(i) = memchr::memrchr(b'\n', window) {
                self.line_start = self.released + i + 1;
            }
            (self.scanned)(self.released..to);
            self.released = to;
        }
        Some(())
    }

    /// Keep what an array of records that breaks off at the end of the file holds: its whole
    /// elements (`pending` the ones not yet in a piece, the first numbered `first_record`), and
    /// a last piece that reports the break as the whole-file reader reports it.
    fn break_off(&mut self, mut pieces: Vec<ArrayPiece>, mut pending: Pending) {
        let bytes = self.bytes;
        let first_record = pending.first_record;
        let pending_range = pending.start..pending.last_end;
        if self.records > first_record {
            pieces.push(ArrayPiece {
                range: pending_range.clone(),
                elements: pending.elements(),
            });
        }
        let pending = pending_range;
        let start = cut_short::tail_start(bytes, pending.end);
        let Ok(tail) = std::str::from_utf8(&bytes[start..]) else {
            return;
        };
        let after_comma = start != skip_space(bytes, pending.end);
        let ((line, column), code, eof) = if tail.is_empty() && !after_comma {
            // Where a `,` or `]` was due.
            let eof = serde_json::from_str::<IgnoredAny>("[").unwrap_err();
            (
                self.position(bytes.len()),
                cut_short::error_code(&eof),
                true,
            )
        } else {
            let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(tail) else {
                return;
            };
            let (line, column) = self.position(start);
            let at = cut_short::file_position(line, column, e.line(), e.column());
            (at, cut_short::error_code(&e), e.is_eof())
        };
        let message = cut_short::message(line, column, &code);
        pieces.push(ArrayPiece {
            range: start..start + shape::floor_char_boundary(tail, 256),
            elements: Elements {
                first_record: self.records,
                columns: None,
                cut_short: Some(Arc::new(CutShort { line, message })),
                ends: None,
            },
        });
        self.tail = Some(Tail { pieces, eof });
    }

    /// The line of `at` (from 1) and its column (bytes from the line's start), for `at` at or
    /// after the bytes told to `scanned`.
    fn position(&self, at: usize) -> (u64, u64) {
        let window = &self.bytes[self.released..at];
        let lines = self.lines + memchr::memchr_iter(b'\n', window).count() as u64;
        let line_start =
            memchr::memrchr(b'\n', window).map_or(self.line_start, |i| self.released + i + 1);
        (lines + 1, (at - line_start) as u64)
    }

    /// Cut the array opening at `open`, whose elements open with `element` (`{` or `[`).
    /// Returns its pieces and the position after its `]`.
    fn array(&mut self, open: usize, element: u8) -> Option<(Vec<ArrayPiece>, usize)> {
        let bytes = self.bytes;
        let mut at = skip_space(bytes, open + 1);
        let mut pieces = Vec::new();
        if bytes.get(at) == Some(&b']') {
            return Some((pieces, at + 1));
        }
        let mut pending = Pending::new(at, open + 1, self.records);
        loop {
            if bytes.get(at) != Some(&element) {
                self.reached = at;
                if at == bytes.len() {
                    self.break_off(pieces, pending);
                }
                return None;
            }
            let end = match object_end_or_eof(bytes, at) {
                Ok(end) => end,
                Err(eof) => {
                    self.reached = bytes.len();
                    if eof {
                        self.break_off(pieces, pending);
                    }
                    return None;
                }
            };
            self.reached = end;
            self.records += 1;
            pending.add(end);
            at = skip_space(bytes, end);
            let last = match bytes.get(at) {
                Some(b',') => false,
                Some(b']') => true,
                None => {
                    self.break_off(pieces, pending);
                    return None;
                }
                _ => return None,
            };
            let cut_here = last || end - pending.start >= self.target;
            if cut_here {
                pieces.push(ArrayPiece {
                    range: pending.start..end,
                    elements: pending.elements(),
                });
            }
            self.progress(at + 1, last)?;
            if last {
                return Some((pieces, at + 1));
            }
            at = skip_space(bytes, at + 1);
            if cut_here {
                pending = Pending::new(at, end, self.records);
            }
        }
    }

    /// An envelope opening at `open`, cut at its records array's elements, read as
    /// `shape::try_envelope` reads it.
    fn envelope(&mut self, open: usize) -> Option<Cut> {
        let bytes = self.bytes;
        let mut arrays: [Option<Vec<ArrayPiece>>; 4] = Default::default();
        let mut seen = [false; 4];
        let mut metadata = false;
        let mut broken_off = None;
        let end = self.members(open, |cutter, key, at| {
            use EnvelopeKey::*;
            let key = match key {
                "tables" => Tables,
                "value" => Value,
                "__metadata" => Metadata,
                "records" => Records,
                _ => return cutter.other_value(at),
            };
            if std::mem::replace(&mut seen[key as usize], true) {
                return None; // a duplicate: no envelope to the whole-file reader
            }
            cutter.records = 0;
            let (pieces, end) = match (key, bytes[at]) {
                (Tables, b'[') => {
                    let tables = cutter.tables(at);
                    // Broken off at the end: kept, as `tables` is read whatever else is there.
                    broken_off = tables.is_none().then_some(Shape::QueryApi);
                    tables?
                }
                (Value | Records, b'[') => {
                    let array = cutter.array(at, b'{');
                    if array.is_none() {
                        // Broken off at the end: kept when the whole-file reader would read
                        // this array at that point (see `envelope`).
                        let tables = arrays[Tables as usize].is_some();
                        let value = arrays[Value as usize].is_some() && metadata;
                        broken_off = match key {
                            Records if !tables && !value => Some(Shape::RecordsEnvelope),
                            Value if metadata && !tables => Some(Shape::LegacySearchApi),
                            _ => None,
                        };
                    }
                    array?
                }
                _ => {
                    let end = cutter.other_value(at)?;
                    metadata |= key == Metadata && !bytes[at..].starts_with(b"null");
                    return Some(end);
                }
            };
            arrays[key as usize] = Some(pieces);
            Some(end)
        });
        let Some(end) = end else {
            let tail = self.tail.take().filter(|tail| tail.eof)?;
            let shape = broken_off?;
            return Some(Cut {
                shape,
                pieces: tail.pieces,
            });
        };
        if skip_space(bytes, end) != bytes.len() {
            return None;
        }
        let [tables, value, _, records] = arrays;
        let (shape, pieces) = match (tables, value, records) {
            (Some(pieces), _, _) => (Shape::QueryApi, pieces),
            (None, Some(pieces), _) if metadata => (Shape::LegacySearchApi, pieces),
            (None, _, Some(pieces)) => (Shape::RecordsEnvelope, pieces),
            _ => return None,
        };
        Some(Cut { shape, pieces })
    }

    /// The query API's `tables`: each table's rows cut, and named by its columns.
    fn tables(&mut self, open: usize) -> Option<(Vec<ArrayPiece>, usize)> {
        let bytes = self.bytes;
        let mut pieces = Vec::new();
        let mut at = skip_space(bytes, open + 1);
        if bytes.get(at) == Some(&b']') {
            return Some((pieces, at + 1));
        }
        loop {
            if bytes.get(at) != Some(&b'{') {
                return None;
            }
            let (mut columns, mut rows) = (None, None);
            let end = self.members(at, |cutter, key, at| match key {
                "columns" if columns.is_none() => {
                    let end = cutter.value_end(at)?;
                    let json = std::str::from_utf8(&bytes[at..end]).ok()?;
                    columns = Some(query_api::column_names(json)?);
                    Some(end)
                }
                "rows" if rows.is_none() && bytes[at] == b'[' => {
                    let (pieces, end) = cutter.array(at, b'[')?;
                    rows = Some(pieces);
                    Some(end)
                }
                "columns" | "rows" => None,
                _ => cutter.other_value(at),
            });
            let Some(end) = end else {
                // Rows broken off where the file ends keep the tables before them, when
                // their columns came first (the whole-file reader has no names for them else).
                match (self.tail.take(), columns) {
                    (Some(mut tail), Some(columns)) => {
                        name_rows(&mut tail.pieces, &columns.into());
                        pieces.append(&mut tail.pieces);
                        tail.pieces = pieces;
                        self.tail = Some(tail);
                    }
                    _ => self.tail = None,
                }
                return None;
            };
            name_rows(
                rows.as_mut().map_or(&mut [][..], |r| &mut r[..]),
                &columns.unwrap_or_default().into(),
            );
            pieces.append(&mut rows.unwrap_or_default());
            at = skip_space(bytes, end);
            match bytes.get(at) {
                Some(b',') => at = skip_space(bytes, at + 1),
                Some(b']') => return Some((pieces, at + 1)),
                _ => return None,
            }
        }
    }

    /// Walk the members of the object opening at `open`: `member` is given each key (one
    /// without escapes: `None` otherwise) and where its value starts, and returns where the
    /// value ends. Returns the position after the `}`.
    fn members(
        &mut self,
        open: usize,
        mut member: impl FnMut(&mut Self, &str, usize) -> Option<usize>,
    ) -> Option<usize> {
        let bytes = self.bytes;
        let mut at = skip_space(bytes, open + 1);
        if bytes.get(at) == Some(&b'}') {
            return Some(at + 1);
        }
        loop {
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let key_end = string_end(bytes, at + 1)?;
            let key = std::str::from_utf8(&bytes[at + 1..key_end - 1]).ok()?;
            if key.contains('\\') {
                return None;
            }
            at = skip_space(bytes, key_end);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip_space(bytes, at + 1);
            self.reached = self.reached.max(at);
            if at == bytes.len() {
                return None;
            }
            at = skip_space(bytes, member(self, key, at)?);
            self.progress(at, false)?;
            match bytes.get(at) {
                Some(b',') => at = skip_space(bytes, at + 1),
                Some(b'}') => return Some(at + 1),
                _ => return None,
            }
        }
    }

    /// The end of a value that is not cut, checked as JSON.
    fn other_value(&mut self, at: usize) -> Option<usize> {
        let end = self.value_end(at)?;
        serde_json::from_slice::<IgnoredAny>(&self.bytes[at..end]).ok()?;
        Some(end)
    }

    /// The end of the JSON value starting at `at`, found as `object_end` finds it.
    fn value_end(&mut self, at: usize) -> Option<usize> {
        let bytes = self.bytes;
        let end = match bytes.get(at)? {
            b'{' | b'[' => object_end(bytes, at),
            b'"' => string_end(bytes, at + 1),
            _ => (at..bytes.len())
                .find(|&i| matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .filter(|&end| end > at),
        };
        self.reached = self.reached.max(end.unwrap_or(bytes.len()));
        end
    }
}

/// Each element of a piece: its text and its number in the array. `None` when the piece no
/// longer holds whole elements (the file changed since it was cut).
pub fn elements<'t>(
    text: &'t str,
    first_record: u64,
    mut f: impl FnMut(&'t str, u64),
) -> Option<()> {
    let bytes = text.as_bytes();
    let (mut at, mut record) = (0, first_record);
    while at < bytes.len() {
        if !matches!(bytes[at], b'{' | b'[') {
            return None;
        }
        let end = object_end(bytes, at)?;
        f(&text[at..end], record);
        record += 1;
        at = skip_space(bytes, end);
        if at < bytes.len() {
            at = skip_space(bytes, at + 1); // the comma
        }
    }
    Some(())
}

/// Name the rows of a query API table's pieces by its columns.
fn name_rows(pieces: &mut [ArrayPiece], columns: &Arc<[String]>) {
    for piece in pieces.iter_mut().filter(|p| p.elements.cut_short.is_none()) {
        piece.elements.columns = Some(columns.clone());
    }
}

pub(super) fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

/// The end (one past the closing `}`) of the object starting at `start`, following strings
/// and nesting; `None` when brackets do not match or the bytes end first.
fn object_end(bytes: &[u8], start: usize) -> Option<usize> {
    object_end_or_eof(bytes, start).ok()
}

/// [`object_end`], or whether the bytes ended before the object closed (`Err(true)`) rather
/// than its brackets not matching (`Err(false)`).
fn object_end_or_eof(bytes: &[u8], start: usize) -> Result<usize, bool> {
    // The brackets open, one bit each (1 for `[`), innermost lowest.
    let (mut open, mut depth) = (0u128, 0u32);
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at = string_end(bytes, at + 1).ok_or(true)?;
                continue;
            }
            b @ (b'{' | b'[') => {
                if depth == u128::BITS {
                    return Err(false); // deeper than a record may be: the whole-file decoder says so
                }
                (open, depth) = (open << 1 | u128::from(b == b'['), depth + 1);
            }
            close @ (b'}' | b']') => {
                if depth == 0 || (open & 1 == 1) != (close == b']') {
                    return Err(false);
                }
                (open, depth) = (open >> 1, depth - 1);
                if depth == 0 {
                    return Ok(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    Err(true)
}

/// One past the closing quote of the string whose text starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let found = at + memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        match bytes[found] {
            b'"' => return Some(found + 1),
            _ => at = found + 2, // an escape: the next byte is never the string's end
        }
    }
}

#[cfg(test)]
mod tests;
