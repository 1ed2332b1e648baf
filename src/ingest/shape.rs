//! Input shapes (spec §2): detected from content, each turned into a stream of records.
//!
//! Records borrow from the source bytes: keys and values are slices of the input (no
//! `serde_json::Value` tree), so decoding allocates little beyond one field list a record.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::array_read;
use super::coerce::InValue;
use super::cut_short;
use super::envelope;
use super::key_filter::KeyFilter;
use super::scan;

/// Where a record sits in its source, for the rejects file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// 1-based line of an NDJSON record.
    Line(u64),
    /// 0-based index of a record inside an array or envelope.
    Record(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Empty,
    Ndjson,
    Array,
    QueryApi,
    LegacySearchApi,
    RecordsEnvelope,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Empty => "empty",
            Shape::Ndjson => "ndjson",
            Shape::Array => "json-array",
            Shape::QueryApi => "log-analytics-query-api",
            Shape::LegacySearchApi => "oms-search-api",
            Shape::RecordsEnvelope => "records-envelope",
        }
    }
}

/// A record's fields in input order.
pub type Fields<'a> = Vec<(Cow<'a, str>, InValue<'a>)>;

/// Largest record stored; a bigger one is rejected without being parsed (bounded memory).
pub const MAX_RECORD_BYTES: usize = 64 << 20;

fn too_large(location: Location, bytes: &[u8]) -> Item<'_> {
    let head = &bytes[..bytes.len().min(256)];
    let raw = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    Item {
        location,
        raw,
        fields: Err(format!(
            "record of {} bytes is larger than the {} MiB limit",
            bytes.len(),
            MAX_RECORD_BYTES >> 20
        )),
    }
}

/// One item of a source: a parsed record, or a piece of input that is not one.
pub struct Item<'a> {
    pub location: Location,
    /// The record's text as it appears in the input (for the rejects file).
    pub raw: &'a str,
    pub fields: Result<Fields<'a>, String>,
}

/// Detect the shape of `bytes` and call `f` for every record in it.
pub fn for_each_record<'a>(bytes: &'a [u8], f: impl FnMut(Item<'a>)) -> Shape {
    for_each_record_scanning(bytes, false, |_| {}, f)
}

/// [`for_each_record`], telling `scanned` each range of `bytes` a pass before the records
/// has read (as [`ndjson_chunks`] does), so that a mapped file can give those pages back: the
/// UTF-8 check of a JSON array reads the whole file before its first record, which kept a
/// whole export resident at once. An array or envelope the cut takes is read through it, as
/// the pieces of a large one are (see `array_read`), unless `cut_tried` says the cut has
/// declined it already.
pub fn for_each_record_scanning<'a>(
    bytes: &'a [u8],
    cut_tried: bool,
    mut scanned: impl FnMut(Range<usize>),
    mut f: impl FnMut(Item<'a>),
) -> Shape {
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if !cut_tried && matches!(first, Some(b'{' | b'[')) {
        if let Some(shape) = array_read::whole(bytes, &mut scanned, &mut f) {
            return shape;
        }
    }
    read_uncut(bytes, scanned, f)
}

/// [`for_each_record_scanning`] for a file the cut leaves alone (see `array_read`): an
/// envelope, array or NDJSON read by serde from its start.
pub(super) fn read_uncut<'a>(
    bytes: &'a [u8],
    mut scanned: impl FnMut(Range<usize>),
    mut f: impl FnMut(Item<'a>),
) -> Shape {
    let whole = bytes;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let bom = whole.len() - bytes.len();
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Shape::Empty;
    };
    let mut scanned = |r: Range<usize>| scanned(bom + r.start..bom + r.end);
    if bytes[start] == b'{' {
        if let Ok(text) = text_cut_short(bytes, &mut scanned) {
            if let Some(shape) = envelope::read(text, &mut scanned, &mut f) {
                return shape;
            }
        }
    }
    if bytes[start] == b'[' {
        return match text_cut_short(bytes, &mut scanned) {
            Ok(text) => {
                stream_array(text, 0, &mut f, |raw| record_fields(raw));
                Shape::Array
            }
            Err(at) => {
                f(whole_file_error(
                    bytes,
                    format!("invalid UTF-8 at byte {at}"),
                ));
                Shape::Array
            }
        };
    }
    ndjson(bytes, &mut f);
    Shape::Ndjson
}

/// `bytes` as text, checked a window at a time (see [`utf8_by_windows`]), without a last
/// character the bytes end inside of: a file cut short then reads as JSON that ends early.
fn text_cut_short(bytes: &[u8], scanned: impl FnMut(Range<usize>)) -> Result<&str, usize> {
    utf8_by_windows(cut_short::without_cut_character(bytes), scanned)
}

/// `bytes` as text, checked a window at a time (each window told to `scanned` once checked),
/// or the offset of the first byte that is not UTF-8.
fn utf8_by_windows(bytes: &[u8], mut scanned: impl FnMut(Range<usize>)) -> Result<&str, usize> {
    const WINDOW: usize = 16 << 20;
    let mut at = 0;
    while at < bytes.len() {
        let mut end = (at + WINDOW).min(bytes.len());
        // End the window before a character's first byte, never inside a character.
        while end < bytes.len() && end > at && bytes[end] & 0xc0 == 0x80 {
            end -= 1;
        }
        if end == at {
            end = (at + WINDOW).min(bytes.len()); // not UTF-8 there: the check below says so
        }
        if let Err(e) = std::str::from_utf8(&bytes[at..end]) {
            return Err(at + e.valid_up_to());
        }
        scanned(at..end);
        at = end;
    }
    // SAFETY: every window was valid UTF-8 and windows end on character boundaries.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

fn whole_file_error(bytes: &[u8], reason: String) -> Item<'_> {
    let raw = std::str::from_utf8(&bytes[..bytes.len().min(256)]).unwrap_or("");
    Item {
        location: Location::Record(0),
        raw,
        fields: Err(reason),
    }
}

/// Split a large NDJSON input at line ends into pieces of about `target` bytes, so that
/// several threads can decode one file. `None` when the input is small or not NDJSON (then
/// [`for_each_record`] reads it whole).
///
/// NDJSON here means what [`for_each_record`] would treat as NDJSON: the first line is one
/// complete JSON object and more lines follow. When unsure, say `None`. `scanned` is told each
/// piece once its end has been found (or, with `None`, what was read to decide), so that a
/// mapped file can give back the pages the search mapped: the kernel maps the whole large folio
/// a read touches, which over the cuts of a file of gigabytes kept hundreds of megabytes
/// resident.
pub fn ndjson_chunks(
    bytes: &[u8],
    target: usize,
    mut scanned: impl FnMut(Range<usize>),
) -> Option<Vec<Range<usize>>> {
    if bytes.len() <= target {
        return None;
    }
    let start = match ndjson_start(bytes, true) {
        NdjsonStart::Yes { start } => start,
        NdjsonStart::No { read } | NdjsonStart::TooShort { read } => {
            if read > 0 {
                scanned(0..read);
            }
            return None;
        }
    };
    // Only the bytes around each cut are read here: line numbers are counted when a record is
    // rejected (see `line_base`), not by another pass over the whole file.
    // Cuts at the first line end after each multiple of `target`, so that a piece covers
    // about the same bytes as the piece of the same number that `piece_hash` hashes.
    let mut chunks = Vec::new();
    let mut at = start;
    let mut boundary = 0;
    while at < bytes.len() {
        while boundary <= at {
            boundary += target;
        }
        let mut end = boundary.min(bytes.len());
        if end < bytes.len() {
            end = memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |p| end + p + 1);
        }
        scanned(at..end);
        chunks.push(at..end);
        at = end;
    }
    Some(chunks)
}

/// How a file starts, as far as telling NDJSON from the other shapes goes.
#[derive(Debug, PartialEq)]
pub enum NdjsonStart {
    /// NDJSON: its first line (from `start`, after a byte order mark) is one complete JSON
    /// object, and more than blanks follow it.
    Yes { start: usize },
    /// Not NDJSON; `read` bytes were looked at to tell.
    No { read: usize },
    /// Not known from the bytes so far.
    TooShort { read: usize },
}

/// How `head`, the first bytes of a file (all of it when `whole`), starts.
pub fn ndjson_start(head: &[u8], whole: bool) -> NdjsonStart {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    if !whole && head.len() < BOM.len() && BOM.starts_with(head) {
        return NdjsonStart::TooShort { read: 0 };
    }
    let start = if head.starts_with(BOM) { BOM.len() } else { 0 };
    // Only an object can start NDJSON. Decided before looking for the first line's end: a
    // JSON array on one line has none, and the search would map the whole file.
    match head[start..].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => return NdjsonStart::No { read: 0 },
        None if whole => return NdjsonStart::No { read: 0 },
        None => return NdjsonStart::TooShort { read: 0 },
    }
    // The first line can be a whole one-line envelope: more lines must follow it. A first line
    // longer than a record may be is no record, so the search stops there (a one-line envelope
    // of a gigabyte was mapped whole by it).
    let window = &head[start..head.len().min(start + MAX_RECORD_BYTES + 1)];
    let Some(first_end) = memchr::memchr(b'\n', window).map(|n| start + n) else {
        let read = start + window.len();
        return match whole || window.len() > MAX_RECORD_BYTES {
            true => NdjsonStart::No { read },
            false => NdjsonStart::TooShort { read },
        };
    };
    let first = std::str::from_utf8(&head[start..first_end]).ok();
    if first.is_none_or(|first| serde_json::from_str::<&RawValue>(first).is_err()) {
        return NdjsonStart::No { read: first_end };
    }
    match head[first_end..].iter().any(|b| !b.is_ascii_whitespace()) {
        true => NdjsonStart::Yes { start },
        false if whole => NdjsonStart::No { read: first_end },
        false => NdjsonStart::TooShort { read: first_end },
    }
}

fn ndjson<'a>(bytes: &'a [u8], f: &mut impl FnMut(Item<'a>)) {
    ndjson_lines(bytes, 1, f)
}

/// Call `f` for every record of NDJSON text whose first line is number `first_line`.
pub fn ndjson_lines<'a>(bytes: &'a [u8], first_line: u64, f: &mut impl FnMut(Item<'a>)) {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for (i, end) in ends.enumerate() {
        let line = &bytes[start..end];
        start = end + 1;
        if let Some(item) = ndjson_line(line, first_line + i as u64) {
            f(item);
        }
    }
}

/// The record of one NDJSON line (without its `\n`) numbered `number`, or `None` for a blank
/// line.
pub fn ndjson_line(line: &[u8], number: u64) -> Option<Item<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let location = Location::Line(number);
    if line.len() > MAX_RECORD_BYTES {
        return Some(too_large(location, line));
    }
    // simdutf8 checks a line several times faster than `std`, whose `from_utf8` showed in
    // ingest profiles; `std` then says where a bad line goes wrong.
    let checked = match simdutf8::basic::from_utf8(line) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(line),
    };
    Some(match checked {
        Ok(text) => Item {
            location,
            raw: text,
            fields: record_fields(text),
        },
        Err(e) => Item {
            location,
            raw: std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or(""),
            fields: Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
        },
    })
}

/// Walk the JSON array starting at `text[at..]`, one element at a time, so that a broken
/// element late in the file still lets the earlier ones through (and the break is reported).
pub(super) fn stream_array<'a>(
    text: &'a str,
    at: usize,
    f: &mut impl FnMut(Item<'a>),
    parse: impl Fn(&'a str) -> Result<Fields<'a>, String>,
) {
    struct Elements<'f, F, P> {
        f: &'f mut F,
        parse: P,
        count: u64,
        /// Where the last whole element ends, from the array's start.
        last_end: &'f mut usize,
        base: usize,
    }
    impl<'de, F: FnMut(Item<'de>), P: Fn(&'de str) -> Result<Fields<'de>, String>> Visitor<'de>
        for Elements<'_, F, P>
    {
        type Value = ();
        fn expecting(&self, fm: &mut fmt::Formatter) -> fmt::Result {
            fm.write_str("a JSON array of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                let item = element(raw.get(), self.count, &self.parse);
                *self.last_end = raw.get().as_ptr() as usize - self.base + raw.get().len();
                (self.f)(item);
                self.count += 1;
            }
            Ok(())
        }
    }
    let array = &text[at..];
    let mut de = serde_json::Deserializer::from_str(array);
    let mut last_end = 1; // just past the `[`
    let result = (&mut de).deserialize_seq(Elements {
        f: &mut *f,
        parse,
        count: 0,
        last_end: &mut last_end,
        base: array.as_ptr() as usize,
    });
    if let Err(e) = result {
        let before = &text.as_bytes()[..at];
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        let line_before = 1 + memchr::memchr_iter(b'\n', &before[..line_start]).count() as u64;
        let (line, column) =
            cut_short::file_position(line_before, (at - line_start) as u64, e.line(), e.column());
        let tail = &array[cut_short::tail_start(array.as_bytes(), last_end)..];
        f(cut_short::item(
            tail,
            line,
            column,
            &cut_short::error_code(&e),
        ));
    }
}

/// Element `record` of a JSON array of records.
fn element<'a>(
    raw: &'a str,
    record: u64,
    parse: impl Fn(&'a str) -> Result<Fields<'a>, String>,
) -> Item<'a> {
    let location = Location::Record(record);
    match raw.len() > MAX_RECORD_BYTES {
        true => too_large(location, raw.as_bytes()),
        false => Item {
            location,
            raw,
            fields: parse(raw),
        },
    }
}

/// Element `record` of a JSON array cut in pieces (see `array_pieces`).
pub fn array_element(raw: &str, record: u64) -> Item<'_> {
    element(raw, record, record_fields)
}

pub(super) fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A record object's fields, keys and values borrowed from the input.
pub fn record_fields(text: &str) -> Result<Fields<'_>, String> {
    let mut fields = SPARE_FIELDS.take();
    fields.reserve(32);
    if scan::scan_record(text, &mut fields) {
        return Ok(fields);
    }
    recycle_fields(fields);
    parse_record_fields(text)
}

thread_local! {
    /// A field vector given back by [`recycle_fields`], so that each record does not allocate
    /// its own (that was a `malloc` and a `free` per record).
    static SPARE_FIELDS: std::cell::Cell<Fields<'static>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Give a record's field vector back for the next record on this thread to reuse.
pub fn recycle_fields(mut fields: Fields<'_>) {
    fields.clear();
    // An empty vector holds no borrow: collecting it in place keeps its allocation and only
    // changes the lifetime in its type.
    let empty: Fields<'static> = fields
        .into_iter()
        .map(|_| -> (Cow<'static, str>, InValue<'static>) { unreachable!("the vector is empty") })
        .collect();
    SPARE_FIELDS.set(empty);
}

/// [`record_fields`] by the full parser: slower, and the one that describes malformed input.
pub fn parse_record_fields(text: &str) -> Result<Fields<'_>, String> {
    struct RecordVisitor;
    impl<'de> Visitor<'de> for RecordVisitor {
        type Value = Fields<'de>;
        fn expecting(&self, fm: &mut fmt::Formatter) -> fmt::Result {
            fm.write_str("a JSON object (one record)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
            let mut fields: Fields<'de> = Vec::with_capacity(map.size_hint().unwrap_or(32));
            let mut seen = KeyFilter::default();
            while let Some(key) = map.next_key::<Key<'de>>()? {
                let value: &'de RawValue = map.next_value()?;
                if nesting_depth(value.get()) > MAX_DEPTH {
                    return Err(de::Error::custom(format_args!(
                        "{:?} is nested deeper than {MAX_DEPTH} levels",
                        key.0
                    )));
                }
                if seen.insert(&key.0) && fields.iter().any(|(k, _)| *k == key.0) {
                    return Err(de::Error::custom(format_args!("duplicate key {:?}", key.0)));
                }
                fields.push((key.0, InValue::Raw(value.get())));
            }
            Ok(fields)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(RecordVisitor).map_err(describe)?;
    de.end().map_err(describe)?;
    Ok(fields)
}

/// Deepest nesting a stored value may have (serde_json's own limit for parsed values).
pub const MAX_DEPTH: usize = 128;

/// Nesting depth of valid JSON text (raw values are skipped by serde without a depth limit).
fn nesting_depth(json: &str) -> usize {
    let b = json.as_bytes();
    if !matches!(b.first(), Some(b'{') | Some(b'[')) {
        return 0;
    }
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &c in b {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// A record's JSON error, placed within the record (its line and column in the file are not
/// known here); serde's own words for the place are left out, as they would repeat it.
fn describe(e: serde_json::Error) -> String {
    if e.is_syntax() || e.is_eof() {
        let code = cut_short::error_code(&e);
        match e.line() {
            1 => format!("malformed JSON at column {}: {code}", e.column()),
            line => format!(
                "malformed JSON at line {line} column {} of the record: {code}",
                e.column()
            ),
        }
    } else {
        e.to_string()
    }
}

/// An object key, borrowed unless it holds escapes.
pub(super) struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, fm: &mut fmt::Formatter) -> fmt::Result {
                fm.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::line_base::{LineBase, LineCounts};
    use super::*;

    type Collected = (Shape, Vec<(Location, Result<Vec<String>, String>)>);

    fn collect(input: &str) -> Collected {
        let mut out = Vec::new();
        let shape = for_each_record(input.as_bytes(), |item| {
            out.push((
                item.location,
                item.fields
                    .map(|f| f.into_iter().map(|(k, _)| k.into_owned()).collect()),
            ));
        });
        (shape, out)
    }

    /// Records seen through the chunks, in order, as (line, raw text).
    fn via_chunks(input: &str, target: usize) -> Option<Vec<(Location, String)>> {
        let bytes = input.as_bytes();
        let mut scanned = Vec::new();
        let chunks = ndjson_chunks(bytes, target, |r| scanned.push(r))?;
        // Every piece is reported as scanned, so a mapped input gives back all it mapped.
        assert_eq!(scanned, chunks);
        let mut out = Vec::new();
        for range in chunks {
            let counts = LineCounts::default();
            let mut base = LineBase::before(bytes, range.start, &counts, &|_| {});
            ndjson_lines(&bytes[range], 1, &mut |item| {
                let location = match item.location {
                    Location::Line(l) => Location::Line(base.lines() + l),
                    other => other,
                };
                out.push((location, item.raw.to_string()))
            });
        }
        Some(out)
    }

    #[test]
    fn ndjson_chunks_see_the_same_records_and_lines_as_a_whole_read() {
        let input = "\u{feff}{\"a\":1}\r\n\n{\"b\":2}\nnot json\n  \n{\"c\":\"é\"}\n{\"d\":4}";
        let mut whole = Vec::new();
        for_each_record(input.as_bytes(), |item| {
            whole.push((item.location, item.raw.to_string()))
        });
        for target in 1..input.len() {
            assert_eq!(via_chunks(input, target).unwrap(), whole, "target {target}");
        }
        assert!(
            via_chunks(input, input.len()).is_none(),
            "small inputs are read whole"
        );
    }

    #[test]
    fn utf8_checked_by_windows_agrees_with_a_whole_check() {
        let text = "[{\"a\":\"é€😀\"}]".repeat(1_000_000); // over one window, 4-byte chars
        let mut scanned = Vec::new();
        assert_eq!(
            utf8_by_windows(text.as_bytes(), |r| scanned.push(r)),
            Ok(&text[..])
        );
        assert!(scanned.len() > 1);
        assert_eq!(scanned.first().unwrap().start, 0);
        assert_eq!(scanned.last().unwrap().end, text.len());
        assert!(scanned.windows(2).all(|w| w[0].end == w[1].start));
        for cut in [1, 17 << 20, text.len() - 2] {
            let mut bad = text.clone().into_bytes();
            bad[cut] = 0xff;
            let want = std::str::from_utf8(&bad).unwrap_err().valid_up_to();
            assert_eq!(utf8_by_windows(&bad, |_| {}), Err(want), "byte {cut}");
        }
    }

    #[test]
    fn the_first_line_is_looked_for_no_further_than_a_record_may_reach() {
        let mut one_line = vec![b' '; MAX_RECORD_BYTES + 100];
        one_line[0] = b'{';
        let read = MAX_RECORD_BYTES + 1;
        assert_eq!(ndjson_start(&one_line, true), NdjsonStart::No { read });
        assert_eq!(ndjson_start(&one_line, false), NdjsonStart::No { read });
        let short = &one_line[..1000];
        assert_eq!(
            ndjson_start(short, false),
            NdjsonStart::TooShort { read: 1000 }
        );
    }

    #[test]
    fn ndjson_chunks_leave_other_shapes_alone() {
        for input in [
            "[{\"a\":1},\n{\"b\":2}]",
            "{\n\"records\": [{\"a\":1}]\n}",
            "{\"a\":1} {\"b\":2}\n{\"c\":3}",
            "oops\n{\"a\":1}\n",
            "{\"a\":1}",
            // A one-line envelope, ended by a newline, is one record of its own shape.
            "{\"records\": [{\"a\":1}, {\"a\":2}]}\n  \n",
            "[{\"a\":1}, {\"a\":2}]",
        ] {
            let mut scanned = Vec::new();
            assert!(
                ndjson_chunks(input.as_bytes(), 1, |r| scanned.push(r)).is_none(),
                "{input}"
            );
            // What was read to decide is given back.
            assert!(scanned.iter().all(|r| r.end <= input.len()), "{input}");
        }
    }

    #[test]
    fn detects_every_shape() {
        assert_eq!(collect("{\"a\":1}\n{\"b\":2}\n").0, Shape::Ndjson);
        assert_eq!(collect("{\"a\":1}").0, Shape::Ndjson);
        assert_eq!(collect("[{\"a\":1},{\"b\":2}]").0, Shape::Array);
        assert_eq!(
            collect("{\"records\":[{\"a\":1}]}").0,
            Shape::RecordsEnvelope
        );
        assert_eq!(
            collect("{\"__metadata\":{},\"value\":[{\"a\":1}]}").0,
            Shape::LegacySearchApi
        );
        let (shape, items) = collect(
            r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"x","type":"int"},{"name":"y","type":"string"}],"rows":[[1,"a"],[2,"b"]]}]}"#,
        );
        assert_eq!(shape, Shape::QueryApi);
        assert_eq!(
            items[1].1.as_ref().unwrap(),
            &vec!["x".to_string(), "y".to_string()]
        );
        assert_eq!(collect("  \n ").0, Shape::Empty);
        assert_eq!(collect("{\n  \"a\": 1\n}\n").1.len(), 1);
    }

    #[test]
    fn malformed_lines_are_items_with_line_numbers() {
        let (_, items) = collect("{\"a\":1}\n{\"a\":\n\n{\"b\":2}\n[1]\n");
        assert_eq!(items.len(), 4);
        assert_eq!(items[1].0, Location::Line(2));
        assert!(items[1].1.is_err());
        assert_eq!(items[2].0, Location::Line(4));
        assert!(items[2].1.is_ok());
        assert!(items[3].1.as_ref().unwrap_err().contains("JSON object"));
    }

    #[test]
    fn broken_array_keeps_earlier_elements() {
        let (_, items) = collect("[{\"a\":1},\n{\"b\":2},\n{\"c\": ]");
        assert_eq!(items.len(), 3);
        assert!(items[0].1.is_ok() && items[1].1.is_ok());
        assert_eq!(items[2].0, Location::Line(3));
        assert!(items[2].1.as_ref().unwrap_err().contains("malformed JSON"));
    }

    #[test]
    fn a_recycled_field_vector_serves_the_next_record() {
        let first = record_fields(r#"{"a":1,"b":"x"}"#).unwrap();
        let at = first.as_ptr() as usize;
        recycle_fields(first);
        let next = record_fields(r#"{"c":true}"#).unwrap();
        assert_eq!(next.as_ptr() as usize, at);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].0, "c");
    }

    #[test]
    fn duplicate_keys_and_escaped_keys() {
        assert!(record_fields("{\"a\":1,\"a\":2}")
            .unwrap_err()
            .contains("duplicate key"));
        // Many keys (more than the filter's 128 bits): distinct ones pass, any repeat is found.
        let keys: Vec<String> = (0..300).map(|i| format!("k{i}")).collect();
        let object = |ks: &[String]| {
            let body: Vec<String> = ks.iter().map(|k| format!("\"{k}\":1")).collect();
            format!("{{{}}}", body.join(","))
        };
        assert_eq!(record_fields(&object(&keys)).unwrap().len(), 300);
        for (first, again) in [(0, 299), (150, 151), (298, 299)] {
            let mut ks = keys.clone();
            ks[again] = ks[first].clone();
            let err = record_fields(&object(&ks)).unwrap_err();
            assert!(
                err.contains(&format!("duplicate key \"k{first}\"")),
                "{err}"
            );
        }
        let f = record_fields("{\"a\\u0062\":1}").unwrap();
        assert_eq!(f[0].0, "ab");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(record_fields(&deep).is_err());
    }
}
