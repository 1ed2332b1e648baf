//! One-pass reader for the common record: a JSON object whose keys need no unescaping.
//!
//! It finds each key and the extent of each value, validating the JSON grammar as it goes, and
//! yields the same fields the full (serde) parser does, as slices of the input (a string value
//! without escapes as its content, [`InValue::Text`]; any other value as its JSON). It declines
//! anything out of the ordinary — escaped or duplicate keys, nesting deeper than
//! [`MAX_DEPTH`], or any malformed input — and the caller then runs the full parser, which
//! reads the record again and, for bad input, says what is wrong. So this path never decides
//! an error message, only saves serde's per-token overhead on well-formed records.

use std::borrow::Cow;

use super::coerce::InValue;
use super::key_filter::KeyFilter;
use super::shape::{Fields, MAX_DEPTH};
use crate::bytes::same_bytes;

/// Fill `out` with the fields of the object `text`, or return false (and leave `out` in an
/// unspecified state) when the full parser must decide.
pub fn scan_record<'a>(text: &'a str, out: &mut Fields<'a>) -> bool {
    out.clear();
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
        escapes: false,
    };
    s.ws();
    if !s.eat(b'{') {
        return false;
    }
    s.ws();
    if s.eat(b'}') {
        s.ws();
        return s.i == s.b.len();
    }
    let mut seen = KeyFilter::default();
    loop {
        if !s.eat(b'"') {
            return false;
        }
        let start = s.i;
        let end = find_special(s.b, start);
        if s.b.get(end) != Some(&b'"') {
            return false; // an escape or a control character in the key
        }
        // Both ends sit on ASCII quotes, so the slice falls on character boundaries.
        let key = &text[start..end];
        s.i = end + 1;
        s.ws();
        if !s.eat(b':') {
            return false;
        }
        s.ws();
        let value_start = s.i;
        s.escapes = false;
        if !s.value(0) {
            return false;
        }
        let raw = &text[value_start..s.i];
        // A string without escapes is its own content: hand it over as text, so coercion
        // does not look for escapes again.
        let value = match raw.as_bytes()[0] == b'"' && !s.escapes {
            true => InValue::Text(Cow::Borrowed(&raw[1..raw.len() - 1])),
            false => InValue::Raw(raw),
        };
        if seen.insert(key)
            && out
                .iter()
                .any(|(k, _)| same_bytes(k.as_bytes(), key.as_bytes()))
        {
            return false;
        }
        out.push((Cow::Borrowed(key), value));
        s.ws();
        match s.next() {
            Some(b',') => s.ws(),
            Some(b'}') => break,
            _ => return false,
        }
    }
    s.ws();
    s.i == s.b.len()
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether a string read since this was last cleared held an escape.
    escapes: bool,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        self.i += usize::from(hit);
        hit
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.b.get(self.i).copied();
        self.i += 1;
        c
    }

    /// One value of nesting `depth` (the record's own fields are at 0).
    fn value(&mut self, depth: usize) -> bool {
        match self.b.get(self.i) {
            Some(b'"') => {
                self.i += 1;
                self.string_rest()
            }
            Some(b'{') if depth < MAX_DEPTH => {
                self.i += 1;
                self.object_rest(depth + 1)
            }
            Some(b'[') if depth < MAX_DEPTH => {
                self.i += 1;
                self.array_rest(depth + 1)
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    /// The rest of a string after its opening quote. Escapes are checked as serde checks a
    /// string it skips (the escape letter; four hex digits after `\u`); unescaping, and its
    /// surrogate rules, happen later for the values that need it.
    fn string_rest(&mut self) -> bool {
        loop {
            let j = find_special(self.b, self.i);
            match self.b.get(j) {
                Some(b'"') => {
                    self.i = j + 1;
                    return true;
                }
                Some(b'\\') => {
                    self.escapes = true;
                    match self.b.get(j + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.i = j + 2
                        }
                        Some(b'u') => {
                            let hex = self.b.get(j + 2..j + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return false;
                            }
                            self.i = j + 6;
                        }
                        _ => return false,
                    }
                }
                _ => return false, // end of input or a control character
            }
        }
    }

    fn object_rest(&mut self, depth: usize) -> bool {
        self.ws();
        if self.eat(b'}') {
            return true;
        }
        loop {
            if !self.eat(b'"') || !self.string_rest() {
                return false;
            }
            self.ws();
            if !self.eat(b':') {
                return false;
            }
            self.ws();
            if !self.value(depth) {
                return false;
            }
            self.ws();
            match self.next() {
                Some(b',') => self.ws(),
                Some(b'}') => return true,
                _ => return false,
            }
        }
    }

    fn array_rest(&mut self, depth: usize) -> bool {
        self.ws();
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            self.ws();
            match self.next() {
                Some(b',') => self.ws(),
                Some(b']') => return true,
                _ => return false,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(word);
        self.i += if hit { word.len() } else { 0 };
        hit
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> bool {
        self.eat(b'-');
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.eat(b'.') && !self.digits_at_least_one() {
            return false;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.digits_at_least_one() {
                return false;
            }
        }
        true
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn digits_at_least_one(&mut self) -> bool {
        let start = self.i;
        self.digits();
        self.i > start
    }
}

/// Position of the first `"`, `\` or control character at or after `from` (or `b.len()`),
/// sixteen bytes at a time (SSE2, which every x86-64 processor has), then eight.
fn find_special(b: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let from = {
        use std::arch::x86_64::*;
        let mut i = from;
        // SAFETY: SSE2 is part of the x86-64 baseline; each load reads 16 bytes inside `b`.
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let control = _mm_set1_epi8(0x1f);
            while i + 16 <= b.len() {
                let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
                // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
                let hits = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                    _mm_cmpeq_epi8(_mm_max_epu8(v, control), control),
                );
                let mask = _mm_movemask_epi8(hits) as u32;
                if mask != 0 {
                    return i + mask.trailing_zeros() as usize;
                }
                i += 16;
            }
        }
        i
    };
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let v = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set in `hits` if it is 0 after the xor (or below 0x20 for
        // `v`); borrows can only mark bytes above the first real hit, so the lowest is exact.
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        let hits = hits & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::coerce::unescape;
    use crate::ingest::shape::parse_record_fields;
    use proptest::prelude::*;

    /// The fields as comparable text, or None when the input is not a record.
    fn full(text: &str) -> Option<Vec<(String, String)>> {
        parse_record_fields(text).ok().map(|f| as_text(&f))
    }

    /// Fields with string values decoded, so a string given as text and the same string
    /// given as its JSON literal compare equal.
    fn as_text(f: &Fields<'_>) -> Vec<(String, String)> {
        f.iter()
            .map(|(k, v)| match v {
                InValue::Raw(r) if r.starts_with('"') => match unescape(r) {
                    Ok(s) => (k.to_string(), format!("string {s}")),
                    Err(e) => (k.to_string(), format!("bad string {e}")),
                },
                InValue::Raw(r) => (k.to_string(), r.to_string()),
                InValue::Text(t) => (k.to_string(), format!("string {t}")),
            })
            .collect()
    }

    fn fast(text: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        scan_record(text, &mut out).then(|| as_text(&out))
    }

    /// Whenever the scanner answers, the full parser gives the same fields.
    fn agrees(text: &str) {
        if let Some(fields) = fast(text) {
            assert_eq!(Some(fields), full(text), "{text:?}");
        }
    }

    #[test]
    fn reads_the_records_exporters_write() {
        for text in [
            r#"{"Type":"Event","TimeGenerated":"2024-03-01T00:00:00Z","EventID":4625,"Ok":true,"X":null}"#,
            r#" { "a" : "x\"y\\z\u00e9\n" , "b" : -1.5e-3 , "c" : [1, {"d": [ ]}, "e"] } "#,
            r#"{"Parameters":"[{\"Name\":\"Identity\",\"Value\":\"a@b\"}]","n":0,"m":{}}"#,
            "{}",
            r#"{"TeamName":"Finance – EMEA","é":"ü"}"#,
        ] {
            assert!(fast(text).is_some(), "{text}");
            agrees(text);
        }
    }

    #[test]
    fn declines_what_the_full_parser_must_judge() {
        for text in [
            "",
            "[]",
            r#"{"a":1,}"#,
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x\q"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a\"b":1}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b"}}"#,
            r#"{"a":"open"#,
            r#"{"a" 1}"#,
        ] {
            assert!(fast(text).is_none(), "{text}");
        }
        let deep = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(fast(&deep).is_none());
        let ok = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(fast(&ok), full(&ok));
    }

    #[test]
    fn find_special_finds_the_first_quote_backslash_or_control_byte() {
        let text = "abcdéfgh-ijklmnop\"rest";
        assert_eq!(find_special(text.as_bytes(), 0), text.find('"').unwrap());
        assert_eq!(find_special(b"0123456789\x01", 0), 10);
        assert_eq!(find_special(b"0123456789abcdef\\", 3), 16);
        assert_eq!(find_special(b"plain", 0), 5);
    }

    /// JSON-ish text: the pieces records are made of, mutated and glued at random.
    fn jsonish() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "\"",
            "\\",
            "\\u00e9",
            "\\n",
            "\\x",
            "\"k\"",
            "\"Type\"",
            "\"v w\"",
            "1",
            "-0.5",
            "1e9",
            "01",
            "true",
            "false",
            "null",
            "nul",
            "é",
            "\t",
            "\u{1}",
            "\"a\":1",
            "\"a\":\"x\"",
            "{\"b\":[1,2]}",
        ]);
        prop::collection::vec(atom, 0..24).prop_map(|parts| parts.concat())
    }

    fn record() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            "[a-zA-Z0-9 .:é-]{0,12}".prop_map(|s| format!("{s:?}")),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            Just("true".to_string()),
            Just("null".to_string()),
            Just("[1,{\"x\":\"\\\"y\\\"\"},[]]".to_string()),
        ];
        prop::collection::vec(("[A-Za-z_]{1,6}", value), 0..8).prop_map(|fields| {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            format!("{{{}}}", body.join(","))
        })
    }

    proptest! {
        /// The vector and word loops find what a byte loop finds, wherever it starts.
        #[test]
        fn find_special_agrees_with_a_byte_loop(
            // Mostly plain bytes, so that the first special one is often past a whole vector.
            text in prop::collection::vec(prop_oneof![
                30 => prop::sample::select(vec![b'a', 0x20, 0x7f, 0x80, 0xff]),
                1 => prop::sample::select(vec![b'"', b'\\', 0x00, 0x01, 0x1f]),
            ], 0..80),
            from in 0usize..80,
        ) {
            let from = from.min(text.len());
            let expected = (from..text.len())
                .find(|&i| matches!(text[i], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(text.len());
            prop_assert_eq!(find_special(&text, from), expected);
        }

        #[test]
        fn agrees_with_the_full_parser_on_any_text(text in jsonish()) {
            agrees(&text);
            agrees(&format!("{{{text}}}"));
            agrees(&format!("{{\"k\":{text}}}"));
        }

        #[test]
        fn reads_every_well_formed_record_the_full_parser_reads(text in record()) {
            let expected = full(&text);
            let got = fast(&text);
            // Only a duplicate key (which the generator can make) sends a valid record back.
            if got.is_none() {
                prop_assert!(expected.is_none(), "declined {}", text);
            } else {
                prop_assert_eq!(got, expected);
            }
        }
    }
}
