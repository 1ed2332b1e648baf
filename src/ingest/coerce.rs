//! Value coercion from JSON input to column types (spec §2, reference schemas §3 "Ingest rules").
//!
//! Inputs arrive as raw JSON text slices (`&RawValue`) or as strings the mapping layer made;
//! each function returns the typed value or a one-line reason for the rejects file.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::schema::ColumnType;

/// One input value: a slice of the source's JSON, or a string built by a mapping (O365 enums).
#[derive(Debug, Clone)]
pub enum InValue<'a> {
    /// The JSON text of one value, exactly as in the input; a parser has validated it.
    Raw(&'a str),
    Text(Cow<'a, str>),
}

/// A typed cell, ready to append to a column builder.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    /// Microseconds since the Unix epoch, UTC.
    Micros(i64),
}

/// The JSON kind of a raw value, decided from its first byte (serde has validated it).
enum Kind<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    Str(Cow<'a, str>),
    Nested(&'a str),
}

fn kind(text: &str) -> Result<Kind<'_>, String> {
    Ok(match text.as_bytes().first() {
        Some(b'n') => Kind::Null,
        Some(b't') => Kind::Bool(true),
        Some(b'f') => Kind::Bool(false),
        Some(b'"') => Kind::Str(unescape(text)?),
        Some(b'{') | Some(b'[') => Kind::Nested(text),
        _ => Kind::Number(text),
    })
}

/// The content of a JSON string literal (one a parser has read), borrowed when it has no
/// escapes.
pub fn unescape(literal: &str) -> Result<Cow<'_, str>, String> {
    let inner = &literal[1..literal.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    if let Some(text) = unescape_short(inner) {
        return Ok(Cow::Owned(text));
    }
    serde_json::from_str::<String>(literal)
        .map(Cow::Owned)
        .map_err(|e| format!("bad string literal: {e}"))
}

/// The content of a string literal's inside whose escapes are all two characters long (a
/// Windows path's `\\`, a quote), or None for `\u` escapes, which serde decodes with its
/// surrogate rules.
fn unescape_short(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push(match rest.as_bytes().get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        });
        // Both bytes are ASCII, so the rest starts on a character boundary.
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Some(out)
}

#[inline]
pub fn coerce<'a>(value: &InValue<'a>, ty: ColumnType) -> Result<Cell<'a>, String> {
    match value {
        // Most values: text for a string column, taken as it is (inline: a call per value
        // showed in the profile).
        InValue::Text(s) if ty == ColumnType::String => Ok(Cell::Str(s.clone())),
        InValue::Text(s) => coerce_text(s.clone(), ty),
        InValue::Raw(raw) => match kind(raw)? {
            Kind::Null => Ok(Cell::Null),
            Kind::Str(s) => coerce_text(s, ty),
            Kind::Bool(b) => match ty {
                ColumnType::Bool => Ok(Cell::Bool(b)),
                ColumnType::String | ColumnType::Dynamic => {
                    Ok(Cell::Str(Cow::Borrowed(if b { "true" } else { "false" })))
                }
                _ => Err(format!("expected {}, found a boolean", ty.name())),
            },
            Kind::Number(text) => coerce_number(text, ty),
            Kind::Nested(text) => match ty {
                ColumnType::String | ColumnType::Dynamic => Ok(Cell::Str(minify(text))),
                _ => Err(format!(
                    "expected {}, found a JSON {}",
                    ty.name(),
                    if text.starts_with('{') {
                        "object"
                    } else {
                        "array"
                    }
                )),
            },
        },
    }
}

fn coerce_number<'a>(text: &'a str, ty: ColumnType) -> Result<Cell<'a>, String> {
    match ty {
        ColumnType::String | ColumnType::Dynamic => Ok(Cell::Str(Cow::Borrowed(text))),
        ColumnType::Bool => match text {
            "1" => Ok(Cell::Bool(true)),
            "0" => Ok(Cell::Bool(false)),
            _ => Err(format!("expected bool, found number {text}")),
        },
        ColumnType::Int => parse_int(text),
        ColumnType::Long => parse_long(text),
        ColumnType::Real => parse_real(text),
        ColumnType::Datetime => Err(format!("expected datetime, found number {text}")),
    }
}

fn coerce_text<'a>(s: Cow<'a, str>, ty: ColumnType) -> Result<Cell<'a>, String> {
    if ty == ColumnType::String {
        return Ok(Cell::Str(s));
    }
    if ty == ColumnType::Dynamic {
        return Ok(Cell::Str(dynamic_from_string(s)));
    }
    let t = s.trim();
    // An empty string is how stringifying exporters write a missing typed value.
    if t.is_empty() {
        return Ok(Cell::Null);
    }
    match ty {
        ColumnType::Bool => parse_bool(t),
        ColumnType::Int => parse_int(t),
        ColumnType::Long => parse_long(t),
        ColumnType::Real => parse_real(t),
        ColumnType::Datetime => parse_datetime(t).map(Cell::Micros),
        ColumnType::String | ColumnType::Dynamic => unreachable!("handled above"),
    }
}

fn parse_bool(t: &str) -> Result<Cell<'static>, String> {
    if t.eq_ignore_ascii_case("true") || t == "1" {
        Ok(Cell::Bool(true))
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Ok(Cell::Bool(false))
    } else {
        Err(format!("expected bool, found {t:?}"))
    }
}

fn parse_int(t: &str) -> Result<Cell<'static>, String> {
    match t.parse::<i64>() {
        Ok(v) => i32::try_from(v)
            .map(Cell::I32)
            .map_err(|_| format!("int out of range: {t}")),
        Err(_) => integral_float(t)
            .and_then(|v| i32::try_from(v).ok())
            .map(Cell::I32)
            .ok_or_else(|| format!("expected int, found {t:?}")),
    }
}

fn parse_long(t: &str) -> Result<Cell<'static>, String> {
    // Parse as i64 directly: longs can exceed 2^53 and must not pass through f64.
    match t.parse::<i64>() {
        Ok(v) => Ok(Cell::I64(v)),
        Err(_) => integral_float(t)
            .map(Cell::I64)
            .ok_or_else(|| format!("expected long, found {t:?}")),
    }
}

/// `3.0` or `1e3` written for an integer column: accepted when exactly integral and small.
fn integral_float(t: &str) -> Option<i64> {
    let f: f64 = t.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn parse_real(t: &str) -> Result<Cell<'static>, String> {
    match t {
        "NaN" => return Ok(Cell::F64(f64::NAN)),
        "Infinity" | "+Infinity" => return Ok(Cell::F64(f64::INFINITY)),
        "-Infinity" => return Ok(Cell::F64(f64::NEG_INFINITY)),
        _ => {}
    }
    match t.parse::<f64>() {
        // Rust also accepts "inf"/"nan" spellings; only the JSON-ish ones above are valid.
        Ok(v) if v.is_finite() => Ok(Cell::F64(v)),
        _ => Err(format!("expected real, found {t:?}")),
    }
}

/// Dynamic from a string: a JSON-encoded string holds the value itself (query API),
/// anything else is stored as the JSON text of the string.
fn dynamic_from_string(s: Cow<'_, str>) -> Cow<'_, str> {
    let t = s.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        if let Ok(raw) = serde_json::from_str::<&RawValue>(&s) {
            return Cow::Owned(minify(raw.get()).into_owned());
        }
    }
    Cow::Owned(serde_json::to_string(&*s).expect("strings always serialise"))
}

/// Compact JSON text of valid JSON: whitespace outside strings removed, nothing else touched.
/// Strings are skipped to their closing quote by `memchr` rather than byte by byte, and the
/// text is copied a run at a time, and only once whitespace is found.
pub fn minify(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    // `bytes[kept..at]` is still to be copied to `out`.
    let (mut at, mut kept) = (0, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = string_end(bytes, at + 1),
            b if b.is_ascii_whitespace() => {
                let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                o.extend_from_slice(&bytes[kept..at]);
                while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                    at += 1;
                }
                kept = at;
            }
            _ => at += 1,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut o) => {
            o.extend_from_slice(&bytes[kept..]);
            // SAFETY: only ASCII bytes were left out, and no byte of a multi-byte character is
            // ASCII, so what remains of the `&str` is UTF-8.
            Cow::Owned(unsafe { String::from_utf8_unchecked(o) })
        }
    }
}

/// Where the JSON string whose text starts at `from` ends: just past its closing quote (the
/// end of `bytes` if it has none).
fn string_end(bytes: &[u8], mut from: usize) -> usize {
    while let Some(k) = memchr::memchr2(b'"', b'\\', &bytes[from..]) {
        match bytes[from + k] {
            b'"' => return from + k + 1,
            _ => from += k + 2,
        }
        if from >= bytes.len() {
            break;
        }
    }
    bytes.len()
}

pub use crate::time::parse_datetime;

#[cfg(test)]
mod tests {
    use super::*;

    /// `minify` as it was first written, byte by byte: what the faster one must match.
    fn minify_bytewise(json: &str) -> Cow<'_, str> {
        let bytes = json.as_bytes();
        let needs = {
            let mut in_str = false;
            let mut esc = false;
            bytes.iter().any(|&b| {
                if in_str {
                    if esc {
                        esc = false
                    } else if b == b'\\' {
                        esc = true
                    } else if b == b'"' {
                        in_str = false
                    }
                    false
                } else if b == b'"' {
                    in_str = true;
                    false
                } else {
                    b.is_ascii_whitespace()
                }
            })
        };
        if !needs {
            return Cow::Borrowed(json);
        }
        let mut out = String::with_capacity(json.len());
        let mut in_str = false;
        let mut esc = false;
        for ch in json.chars() {
            if in_str {
                out.push(ch);
                if esc {
                    esc = false
                } else if ch == '\\' {
                    esc = true
                } else if ch == '"' {
                    in_str = false
                }
            } else if ch == '"' {
                in_str = true;
                out.push(ch);
            } else if !ch.is_ascii_whitespace() {
                out.push(ch);
            }
        }
        Cow::Owned(out)
    }

    proptest::proptest! {
        #[test]
        fn minify_keeps_what_the_bytewise_minify_keeps(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                " ", "\t", "\n", "\r\n", "{", "}", "[", "]", ":", ",", "1", "-2.5e3", "true",
                "null", "\"a b\"", "\"\\\"\"", "\"\\\\\"", "\"x\\\" y\"", "\"é ü\"", "\"\"",
                "\"tab\\t \"", "\"\\u00e9\"",
            ]), 0..40),
        ) {
            let text = parts.concat();
            proptest::prop_assert_eq!(minify(&text), minify_bytewise(&text));
        }
    }

    fn raw(s: &str) -> InValue<'_> {
        // `Raw` promises validated JSON: check the test's input holds to it.
        serde_json::from_str::<&RawValue>(s).unwrap();
        InValue::Raw(s)
    }

    #[test]
    fn bools_from_every_export_spelling() {
        for (input, want) in [
            ("true", true),
            ("\"True\"", true),
            ("\"false\"", false),
            ("1", true),
            ("0", false),
            ("\"FALSE\"", false),
        ] {
            assert_eq!(
                coerce(&raw(input), ColumnType::Bool),
                Ok(Cell::Bool(want)),
                "{input}"
            );
        }
        assert_eq!(coerce(&raw("\"\""), ColumnType::Bool), Ok(Cell::Null));
        assert!(coerce(&raw("\"yes\""), ColumnType::Bool).is_err());
        assert!(coerce(&raw("2"), ColumnType::Bool).is_err());
    }

    #[test]
    fn numbers_from_numbers_and_strings() {
        assert_eq!(coerce(&raw("\"3\""), ColumnType::Int), Ok(Cell::I32(3)));
        assert_eq!(coerce(&raw("3.0"), ColumnType::Int), Ok(Cell::I32(3)));
        assert!(coerce(&raw("3.5"), ColumnType::Int).is_err());
        assert!(coerce(&raw("4294967296"), ColumnType::Int).is_err());
        assert_eq!(
            coerce(&raw("9223372036854775807"), ColumnType::Long),
            Ok(Cell::I64(i64::MAX))
        );
        assert_eq!(
            coerce(&raw("\"0.5\""), ColumnType::Real),
            Ok(Cell::F64(0.5))
        );
        assert!(
            matches!(coerce(&raw("\"NaN\""), ColumnType::Real), Ok(Cell::F64(v)) if v.is_nan())
        );
        assert_eq!(
            coerce(&raw("\"-Infinity\""), ColumnType::Real),
            Ok(Cell::F64(f64::NEG_INFINITY))
        );
        assert!(coerce(&raw("\"inf\""), ColumnType::Real).is_err());
        assert!(coerce(&raw("1e999"), ColumnType::Real).is_err());
    }

    #[test]
    fn datetimes_with_any_precision_and_designator() {
        let base = parse_datetime("2023-02-09T09:39:11Z").unwrap();
        assert_eq!(base, 1_675_935_551_000_000);
        assert_eq!(
            parse_datetime("2023-02-09T09:39:11.3765261Z").unwrap(),
            base + 376_526
        );
        assert_eq!(
            parse_datetime("2023-02-09T09:39:11.18Z").unwrap(),
            base + 180_000
        );
        assert_eq!(parse_datetime("2023-02-09T09:39:11").unwrap(), base);
        assert_eq!(parse_datetime("2023-02-09 10:39:11+01:00").unwrap(), base);
        assert_eq!(parse_datetime("2023-02-09T04:39:11-0500").unwrap(), base);
        assert_eq!(
            parse_datetime("2023-02-09").unwrap(),
            base - (9 * 3600 + 39 * 60 + 11) * 1_000_000
        );
        assert_eq!(parse_datetime("1969-12-31T23:59:59.5Z").unwrap(), -500_000);
        for bad in [
            "2023-02-30T00:00:00Z",
            "2023-02-09T25:00:00Z",
            "02/09/2023",
            "2023-02-09T09:39:11.Z",
            "2023-02-09T09:39:11ZZ",
            "2023-02-09T09",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dynamic_from_values_and_encoded_strings() {
        let cell = coerce(&raw(r#""[{\"person\": \"Daniel\"}]""#), ColumnType::Dynamic).unwrap();
        assert_eq!(cell, Cell::Str(r#"[{"person":"Daniel"}]"#.into()));
        let cell = coerce(&raw(r#"{ "a" : [1, 2] , "b":"x y"}"#), ColumnType::Dynamic).unwrap();
        assert_eq!(cell, Cell::Str(r#"{"a":[1,2],"b":"x y"}"#.into()));
        let cell = coerce(&raw(r#""plain""#), ColumnType::Dynamic).unwrap();
        assert_eq!(cell, Cell::Str(r#""plain""#.into()));
        assert_eq!(
            coerce(&raw("7"), ColumnType::Dynamic).unwrap(),
            Cell::Str("7".into())
        );
    }

    #[test]
    fn unescaping_agrees_with_serde() {
        let literals = [
            r#""C:\\Windows\\System32""#,
            r#""say \"hi\"\/\b\f\n\r\t end""#,
            r#""\\""#,
            r#""é\\ü""#,
            r#""\u00e9 and \\""#,
            r#""\ud83d\ude00""#,
        ];
        for l in literals {
            let want: String = serde_json::from_str(l).unwrap();
            assert_eq!(unescape(l).unwrap(), want, "{l}");
        }
        // Any text, as an exporter would write it.
        proptest::proptest!(|(text in "\\PC*")| {
            let literal = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(unescape(&literal).unwrap(), text);
        });
        // A lone surrogate is still serde's error.
        assert!(unescape(r#""\ud800""#).is_err());
    }

    #[test]
    fn strings_keep_text_and_serialise_nested_values() {
        assert_eq!(
            coerce(&raw(r#""it's \"q\"""#), ColumnType::String).unwrap(),
            Cell::Str(r#"it's "q""#.into())
        );
        assert_eq!(
            coerce(&raw("4012212"), ColumnType::String).unwrap(),
            Cell::Str("4012212".into())
        );
        assert_eq!(
            coerce(&raw(r#"[ {"Name":"a"} ]"#), ColumnType::String).unwrap(),
            Cell::Str(r#"[{"Name":"a"}]"#.into())
        );
        assert!(coerce(&raw(r#"{"a":1}"#), ColumnType::Int).is_err());
    }
}
