//! A large JSON array of records cut into pieces at its elements' ends, so that both cores
//! decode it (as `shape::ndjson_chunks` cuts NDJSON at line ends). The cuts are found by a
//! scan that follows only strings and nesting; each element is parsed as a record by the
//! thread that decodes its piece. When the scan meets anything but an array of objects, or
//! bytes that are not UTF-8, it says `None` and the file is decoded whole, as before.

use std::ops::Range;

/// A run of whole elements: from the first one's `{` to the last one's `}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayPiece {
    pub range: Range<usize>,
    /// The number of the piece's first element in the array, counted from 0.
    pub first_record: u64,
}

/// Bytes scanned between two calls of `scanned`.
const RELEASE_EVERY: usize = 4 << 20;

/// Cut a JSON array of objects larger than `target` bytes after the first element that ends
/// past each `target` bytes. `scanned` is told the bytes read, a few megabytes at a time (see
/// `ndjson_chunks`).
pub fn cut(
    bytes: &[u8],
    target: usize,
    mut scanned: impl FnMut(Range<usize>),
) -> Option<Vec<ArrayPiece>> {
    if bytes.len() <= target {
        return None;
    }
    let bom = if bytes.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    let mut at = skip_space(bytes, bom);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    at = skip_space(bytes, at + 1);
    let mut pieces = Vec::new();
    let (mut piece_start, mut first_record, mut records) = (at, 0u64, 0u64);
    let mut released = 0;
    loop {
        if bytes.get(at) != Some(&b'{') {
            scanned(released..at.min(bytes.len()));
            return None;
        }
        let end = object_end(bytes, at)?;
        records += 1;
        at = skip_space(bytes, end);
        let last = match bytes.get(at) {
            Some(b',') => false,
            Some(b']') if skip_space(bytes, at + 1) == bytes.len() => true,
            _ => {
                scanned(released..at.min(bytes.len()));
                return None;
            }
        };
        let cut_here = last || end - piece_start >= target;
        if cut_here {
            pieces.push(ArrayPiece {
                range: piece_start..end,
                first_record,
            });
            first_record = records;
        }
        if at - released >= RELEASE_EVERY || last {
            // Checked while its pages are still mapped; it ends after a comma, so never
            // inside a character.
            std::str::from_utf8(&bytes[released..at + 1]).ok()?;
            scanned(released..at + 1);
            released = at + 1;
        }
        if last {
            return Some(pieces);
        }
        at = skip_space(bytes, at + 1);
        if cut_here {
            piece_start = at;
        }
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

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

/// The end (one past the closing `}`) of the object starting at `start`, following strings
/// and nesting; `None` when brackets do not match or the bytes end first.
fn object_end(bytes: &[u8], start: usize) -> Option<usize> {
    // The brackets open, one bit each (1 for `[`), innermost lowest.
    let (mut open, mut depth) = (0u128, 0u32);
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at = string_end(bytes, at + 1)?;
                continue;
            }
            b @ (b'{' | b'[') => {
                if depth == u128::BITS {
                    return None; // deeper than a record may be: the whole-file decoder says so
                }
                (open, depth) = (open << 1 | u128::from(b == b'['), depth + 1);
            }
            close @ (b'}' | b']') => {
                if depth == 0 || (open & 1 == 1) != (close == b']') {
                    return None;
                }
                (open, depth) = (open >> 1, depth - 1);
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// One past the closing quote of the string whose text starts at `at`.
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let found = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        match bytes[found] {
            b'"' => return Some(found + 1),
            _ => at = found + 2, // an escape: the next byte is never the string's end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, target: usize) -> Option<Vec<(String, u64)>> {
        let cut = cut(text.as_bytes(), target, |_| {})?;
        Some(
            cut.into_iter()
                .map(|p| (text[p.range].to_string(), p.first_record))
                .collect(),
        )
    }

    #[test]
    fn an_array_is_cut_after_the_element_that_passes_each_target() {
        let text = "\u{feff}[ {\"a\":\"x]}\\\"\"} ,\n{\"b\":[1,{\"c\":2}]},{\"d\":3}\n,{} ]\n";
        assert_eq!(
            pieces(text, 15).unwrap(),
            [
                (
                    "{\"a\":\"x]}\\\"\"} ,\n{\"b\":[1,{\"c\":2}]}".to_string(),
                    0
                ),
                ("{\"d\":3}\n,{}".to_string(), 2),
            ]
        );
        let mut seen = Vec::new();
        for (piece, first) in pieces(text, 15).unwrap() {
            elements(&piece, first, |e, n| seen.push((e.to_string(), n))).unwrap();
        }
        let expected = [
            r#"{"a":"x]}\""}"#,
            r#"{"b":[1,{"c":2}]}"#,
            r#"{"d":3}"#,
            "{}",
        ];
        assert_eq!(
            seen,
            (expected.iter().zip(0..))
                .map(|(e, n)| (e.to_string(), n))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn anything_but_a_whole_array_of_objects_is_left_to_the_whole_file_decoder() {
        for text in [
            r#"[{"a":1},{"b":2},{"c":3}"#,            // no end
            r#"[{"a":1},{"b":2},{"c":3}] x"#,         // something after it
            r#"[{"a":1},{"b":2},{"c":3},]"#,          // a trailing comma
            r#"[{"a":1},{"b":2},3,{"c":4}]"#,         // an element that is no object
            r#"[{"a":1},{"b":[2}},{"c":3}]"#,         // brackets that do not match
            r#"[{"a":1},{"b":"2},{"c":3}]"#,          // a string that does not end
            r#"{"value":[{"a":1},{"b":2},{"c":3}]}"#, // an envelope
            r#"[{"a":1},{"b":2},{"c":3}]"#,           // no larger than a piece
        ] {
            let target = if text.len() > 26 { 4 } else { text.len() };
            assert_eq!(pieces(text, target), None, "{text}");
        }
        let not_utf8 = b"[{\"a\":\"\xff\"},{\"b\":2},{\"c\":3}]";
        assert_eq!(cut(not_utf8, 4, |_| {}), None);
    }
}
