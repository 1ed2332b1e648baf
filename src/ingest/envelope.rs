//! A file that is one JSON object, read whole: an API envelope (the query API's `tables`, the
//! legacy search API's `__metadata` + `value`, a `records` array) or one pretty-printed record.
//! Large envelopes are usually cut in pieces (`array_pieces`); this reader takes the ones the
//! cut leaves alone (small ones, duplicate or escaped keys, broken JSON).
//!
//! One streaming pass decides the shape, stepping through the records array an element at a
//! time so that the pages it has read can be given back; a second pass reads the records. A
//! file that ends before its object closes (a download cut short) keeps the whole records
//! before the cut, and the cut is reported, as for a JSON array.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::cut_short;
use super::query_api;
use super::shape::{self, Item, Location, Shape};

/// Bytes of a records array stepped through between two calls of `scanned`.
const RELEASE_EVERY: usize = 4 << 20;

/// Read `text` (starting, after white space, with `{`) as an envelope or a single record and
/// call `f` for its records; `scanned` is told the ranges the first pass has read. `None` when
/// it is neither (NDJSON, or JSON that no envelope rule reads): nothing was given to `f`.
pub(super) fn read<'a>(
    text: &'a str,
    scanned: &mut impl FnMut(Range<usize>),
    f: &mut impl FnMut(Item<'a>),
) -> Option<Shape> {
    let mut members = Members::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let visitor = EnvelopeVisitor {
        text,
        members: &mut members,
        scanned,
        released: 0,
    };
    let broken = match (&mut de).deserialize_map(visitor) {
        Ok(()) => match de.end() {
            Ok(()) => None,
            Err(_) => return None, // more after the object: NDJSON
        },
        Err(e) if e.is_eof() => Some(e),
        Err(_) => return None,
    };
    let (records, name) = match (members.tables, members.value, members.records) {
        (Some(Member::Array(_)), _, _) => (Records::Tables, "tables"),
        (_, Some(Member::Array(open)), _) if members.metadata => (Records::Array(open), "value"),
        (_, _, Some(Member::Array(open))) => (Records::Array(open), "records"),
        _ => (Records::None, ""),
    };
    let shape = match (&records, name) {
        (Records::Tables, _) => Shape::QueryApi,
        (Records::Array(_), "value") => Shape::LegacySearchApi,
        (Records::Array(_), _) => Shape::RecordsEnvelope,
        (Records::None, _) => Shape::Array,
    };
    if let Some(e) = broken {
        // Cut short: read as what it had started to be, or left to the NDJSON reader when no
        // records array had begun (a single truncated line reads the same either way).
        let Records::Array(open) = records else {
            return None;
        };
        let inside = members.open_array == Some(name);
        match (open, inside) {
            // Reports the break itself when it is inside the array.
            (Some(open), _) => shape::stream_array(text, open, f, shape::record_fields),
            (None, true) => return None, // an escaped key, and no element to find its array by
            (None, false) => {}
        }
        if !inside {
            f(broken_after(text, &e));
        }
        return Some(shape);
    }
    match records {
        Records::Tables => query_api::rows(text, members.tables_raw?, f),
        Records::Array(Some(open)) => shape::stream_array(text, open, f, shape::record_fields),
        Records::Array(None) => {}
        Records::None => {
            let object = text.trim();
            if !object.contains('\n') {
                return None; // one line: NDJSON of one record
            }
            // One pretty-printed record: not NDJSON, but a file of exactly one record.
            f(Item {
                location: Location::Record(0),
                raw: object,
                fields: shape::record_fields(object),
            });
        }
    }
    Some(shape)
}

/// The item that reports a file ending after its records array closed: its last bytes.
fn broken_after<'a>(text: &'a str, e: &serde_json::Error) -> Item<'a> {
    let mut from = text.len().saturating_sub(256);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let (line, column) = (e.line() as u64, e.column() as u64);
    let code = cut_short::error_code(e);
    Item {
        location: Location::Line(line),
        raw: &text[from..],
        fields: Err(format!(
            "malformed JSON at line {line} column {column}: {code}; every record before it was read"
        )),
    }
}

/// Which records array the envelope's members select.
enum Records {
    Tables,
    /// `value` or `records`: where the array opens (`None` when not known: an escaped key and
    /// no element read, which an empty array also is).
    Array(Option<usize>),
    None,
}

/// What the pass learned of the envelope's members (each of these keys at most once).
#[derive(Default)]
struct Members<'a> {
    tables: Option<Member>,
    tables_raw: Option<&'a RawValue>,
    value: Option<Member>,
    records: Option<Member>,
    /// `__metadata` is present and not null.
    metadata: bool,
    metadata_seen: bool,
    /// The member whose array was being stepped through when the text ended.
    open_array: Option<&'static str>,
}

/// A member's value: an array (where it opens, when known: see [`Records`]), or anything else
/// (`null` included: it does not select the member, but a second one is still a duplicate).
#[derive(Clone, Copy)]
enum Member {
    Array(Option<usize>),
    Other,
}

struct EnvelopeVisitor<'m, 'a, F> {
    text: &'a str,
    members: &'m mut Members<'a>,
    scanned: &'m mut F,
    released: usize,
}

impl<'de, F: FnMut(Range<usize>)> Visitor<'de> for EnvelopeVisitor<'_, 'de, F> {
    type Value = ();

    fn expecting(&self, fm: &mut fmt::Formatter) -> fmt::Result {
        fm.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let duplicate = |key: &str| de::Error::custom(format!("duplicate field `{key}`"));
        while let Some(key) = map.next_key::<shape::Key<'de>>()? {
            match &*key.0 {
                "tables" => {
                    if self.members.tables.is_some() {
                        return Err(duplicate("tables"));
                    }
                    let raw = map.next_value::<Option<&'de RawValue>>()?;
                    let array = raw.filter(|r| r.get().starts_with('['));
                    self.members.tables_raw = array;
                    self.members.tables = Some(match array {
                        Some(_) => Member::Array(None),
                        None => Member::Other,
                    });
                }
                "__metadata" => {
                    if std::mem::replace(&mut self.members.metadata_seen, true) {
                        return Err(duplicate("__metadata"));
                    }
                    self.members.metadata = map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                k @ ("value" | "records") => {
                    let name = if k == "value" { "value" } else { "records" };
                    let slot = match name {
                        "value" => &self.members.value,
                        _ => &self.members.records,
                    };
                    if slot.is_some() {
                        return Err(duplicate(name));
                    }
                    let seed = ArraySeed {
                        at: value_at(self.text, &key.0),
                        text: self.text,
                        members: &mut *self.members,
                        name,
                        scanned: &mut *self.scanned,
                        released: &mut self.released,
                    };
                    map.next_value_seed(seed)?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The value of `value` or `records`: an array is stepped through an element at a time.
struct ArraySeed<'m, 'a, F> {
    /// Where the value starts, when its key is a slice of `text`.
    at: Option<usize>,
    text: &'a str,
    members: &'m mut Members<'a>,
    name: &'static str,
    scanned: &'m mut F,
    released: &'m mut usize,
}

impl<'m, 'a, F> ArraySeed<'m, 'a, F> {
    fn set(&mut self, member: Member) {
        match self.name {
            "value" => self.members.value = Some(member),
            _ => self.members.records = Some(member),
        }
    }
}

impl<'de, F: FnMut(Range<usize>)> DeserializeSeed<'de> for ArraySeed<'_, 'de, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Range<usize>)> Visitor<'de> for ArraySeed<'_, 'de, F> {
    type Value = ();

    fn expecting(&self, fm: &mut fmt::Formatter) -> fmt::Result {
        fm.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let base = self.text.as_ptr() as usize;
        let mut open = self.at;
        self.set(Member::Array(open));
        loop {
            let element = match seq.next_element::<&'de RawValue>() {
                Ok(Some(element)) => element,
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.members.open_array = Some(self.name);
                    return Err(e);
                }
            };
            let at = element.get().as_ptr() as usize - base;
            if open.is_none() {
                open = Some(array_open(self.text, at));
                self.set(Member::Array(open));
            }
            let end = at + element.get().len();
            if end - *self.released >= RELEASE_EVERY {
                (self.scanned)(*self.released..end);
                *self.released = end;
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.set(Member::Other);
        Ok(())
    }

    fn visit_unit<E>(mut self) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }

    fn visit_bool<E>(mut self, _: bool) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }

    fn visit_i64<E>(mut self, _: i64) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }

    fn visit_u64<E>(mut self, _: u64) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }

    fn visit_f64<E>(mut self, _: f64) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }

    fn visit_str<E>(mut self, _: &str) -> Result<(), E> {
        self.set(Member::Other);
        Ok(())
    }
}

/// Where the value of the member whose key is `key` starts, when `key` is a slice of `text`
/// (it has no escapes): past the closing quote, the colon and blanks.
#[allow(clippy::ptr_arg)] // whether the key is borrowed is what tells
fn value_at(text: &str, key: &std::borrow::Cow<'_, str>) -> Option<usize> {
    let std::borrow::Cow::Borrowed(key) = key else {
        return None;
    };
    let end = key.as_ptr() as usize - text.as_ptr() as usize + key.len() + 1;
    let rest = text[end..].trim_start_matches([' ', '\t', '\n', '\r']);
    let rest = rest
        .strip_prefix(':')?
        .trim_start_matches([' ', '\t', '\n', '\r']);
    Some(text.len() - rest.len())
}

/// Where the array whose first element starts at `first` opens: the `[` before it.
fn array_open(text: &str, first: usize) -> usize {
    let before = text[..first].trim_end_matches([' ', '\t', '\n', '\r']);
    before.len() - 1
}

#[cfg(test)]
mod tests {
    use super::super::shape::read_uncut;
    use super::*;

    type Read = (Shape, Vec<(Location, Result<String, String>)>);

    fn read_all(text: &[u8]) -> Read {
        let mut items = Vec::new();
        let shape = read_uncut(
            text,
            |_| {},
            |item| {
                let fields = item.fields.map(|f| {
                    let values: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    values.join(",")
                });
                items.push((item.location, fields));
            },
        );
        (shape, items)
    }

    const RECORDS: [&str; 3] = [
        r#"{"a":"é1"}"#,
        r#"{"a":"2","b":[1,{"c":"]}"}]}"#,
        r#"{"a":"3"}"#,
    ];

    #[test]
    fn an_envelope_cut_anywhere_keeps_the_whole_records_before_the_cut() {
        for (head, shape) in [
            (r#"{"records": ["#, Shape::RecordsEnvelope),
            (
                r#"{"__metadata": {"n": 3}, "value": ["#,
                Shape::LegacySearchApi,
            ),
        ] {
            let text = format!("{head}\n{}\n], \"next\": \"x\"}}", RECORDS.join(",\n"));
            let (whole_shape, whole) = read_all(text.as_bytes());
            assert_eq!(whole_shape, shape);
            assert_eq!(whole.len(), 3);
            let array_at = text.find('[').unwrap();
            for cut in 1..text.len() {
                let (got_shape, got) = read_all(&text.as_bytes()[..cut]);
                if cut <= array_at {
                    // No records array begun: not an envelope (read as one broken line).
                    assert_eq!(got_shape, Shape::Ndjson, "cut at {cut}");
                    continue;
                }
                assert_eq!(got_shape, shape, "cut at {cut}");
                let (last, records) = got.split_last().unwrap();
                let closed = RECORDS.iter().map(|r| text.find(r).unwrap() + r.len());
                let before = closed.filter(|&end| end <= cut).count();
                assert_eq!(records, &whole[..before], "cut at {cut}");
                let line = text.as_bytes()[..cut]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
                    + 1;
                assert_eq!(last.0, Location::Line(line), "cut at {cut}");
                let reason = last.1.as_ref().unwrap_err();
                assert!(
                    reason.contains("EOF while parsing"),
                    "cut at {cut}: {reason}"
                );
            }
        }
    }

    #[test]
    fn an_array_cut_inside_a_character_is_cut_short_not_invalid() {
        let text = "[{\"a\":\"x\"},{\"a\":\"é\"}]".as_bytes();
        let inside = text.iter().position(|&b| b == 0xc3).unwrap() + 1;
        let (shape, items) = read_all(&text[..inside]);
        assert_eq!(shape, Shape::Array);
        assert_eq!(items.len(), 2);
        assert!(items[0].1.is_ok());
        assert!(items[1]
            .1
            .as_ref()
            .unwrap_err()
            .contains("EOF while parsing"));
        // Invalid bytes elsewhere are still invalid.
        let mut bad = text.to_vec();
        bad[inside] = b'x';
        let (_, items) = read_all(&bad);
        assert!(items[0].1.as_ref().unwrap_err().contains("invalid UTF-8"));
    }

    #[test]
    fn envelope_keys_are_read_as_before() {
        let cases = [
            // A `null` member is absent, but a second one is still a duplicate.
            (r#"{"records":null,"records":[{"a":1}]}"#, Shape::Ndjson),
            (r#"{"records":null}"#, Shape::Ndjson),
            (
                r#"{"records":[{"a":1}],"value":[{"a":2}]}"#,
                Shape::RecordsEnvelope,
            ),
            // `value` needs a `__metadata` that is not null, before or after it.
            (
                r#"{"value":[{"a":2}],"__metadata":{}}"#,
                Shape::LegacySearchApi,
            ),
            (r#"{"value":[{"a":2}],"__metadata":null}"#, Shape::Ndjson),
            (
                r#"{"value":[{"a":2}],"records":[]}"#,
                Shape::RecordsEnvelope,
            ),
            // Escaped keys count as the key they spell.
            (r#"{"rec\u006frds":[{"a":1}]}"#, Shape::RecordsEnvelope),
            (r#"{"records":[{"a":1}]} {"a":2}"#, Shape::Ndjson),
            (r#"{"records":{"a":1}}"#, Shape::Ndjson),
            ("{\n\"records\": 5\n}", Shape::Array),
            (r#"{"tables":[],"records":[{"a":1}]}"#, Shape::QueryApi),
        ];
        for (text, shape) in cases {
            assert_eq!(read_all(text.as_bytes()).0, shape, "{text}");
        }
    }

    #[test]
    fn the_records_pass_tells_what_it_has_read() {
        let record = format!(r#"{{"a":"{}"}}"#, "x".repeat(1000));
        let text = format!("{{\"records\":[{}]}}", vec![record; 20_000].join(","));
        let told = std::cell::RefCell::new(Vec::new());
        let mut first_record_after = None;
        read_uncut(
            text.as_bytes(),
            |r| told.borrow_mut().push(r),
            |_| {
                first_record_after.get_or_insert(told.borrow().len());
            },
        );
        let scanned = told.into_inner();
        // The UTF-8 check's windows up to the end, then the records pass's: all before the
        // first record is read.
        let told = first_record_after.unwrap();
        let checked = scanned.iter().position(|r| r.end == text.len()).unwrap();
        let pass = &scanned[checked + 1..told];
        assert!(pass.len() >= 3, "{scanned:?}");
        let last = pass.iter().map(|r| r.end).max().unwrap();
        assert!(last > text.len() - RELEASE_EVERY - 2000, "{scanned:?}");
    }
}
