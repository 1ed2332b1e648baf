//! The cut's tests: pieces read as the whole-file reader reads the file.

use super::super::{array_read, shape};
use super::*;

fn pieces(text: &str, target: usize) -> Option<Vec<(String, u64)>> {
    let cut = cut(text.as_bytes(), target, |_| {})?.pieces;
    Some(
        cut.into_iter()
            .map(|p| (text[p.range].to_string(), p.elements.first_record))
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
        r#"[{"a":1},{"b":2},{"c":3}] x"#,         // something after it
        r#"[{"a":1},{"b":2},{"c":3},]"#,          // a trailing comma
        r#"[{"a":1},{"b":2},3,{"c":4}]"#,         // an element that is no object
        r#"[{"a":1},{"b":[2}},{"c":3}]"#,         // brackets that do not match
        r#"[{"a":1},{"b":"2},{"c":3}]"#,          // a string that does not end
        r#"{"value":[{"a":1},{"b":2},{"c":3}]}"#, // no __metadata: one record
        r#"[{"a":1},{"b":2},{"c":3}]"#,           // no larger than a piece
    ] {
        let target = if text.len() > 26 { 4 } else { text.len() };
        assert_eq!(pieces(text, target), None, "{text}");
    }
    let not_utf8 = b"[{\"a\":\"\xff\"},{\"b\":2},{\"c\":3}]";
    assert_eq!(cut(not_utf8, 4, |_| {}), None);
}

/// Each record read through the cut, as `whole` reads the file:
/// location, raw text, and the fields or the reason.
fn via_cut(text: &str, target: usize) -> Option<(Shape, Vec<String>)> {
    let mut released = 0;
    let cut = cut(text.as_bytes(), target, |r| {
        assert_eq!(r.start, released, "told in order, without gaps");
        released = r.end;
    })?;
    assert_eq!(released, text.len(), "everything read is told");
    let mut out = Vec::new();
    for piece in &cut.pieces {
        let text = &text[piece.range.clone()];
        array_read::items(text, &piece.elements, |item| out.push(describe(item))).unwrap();
    }
    Some((cut.shape, out))
}

/// How serde reads the whole file, without the cut.
fn whole(text: &str) -> (Shape, Vec<String>) {
    let mut out = Vec::new();
    let shape = shape::read_uncut(text.as_bytes(), |_| {}, |item| out.push(describe(item)));
    (shape, out)
}

fn describe(item: shape::Item<'_>) -> String {
    let fields = item.fields.map(|f| {
        let f = f.iter().map(|(k, v)| format!("{k}={v:?}"));
        f.collect::<Vec<_>>()
    });
    format!("{:?} {} {fields:?}", item.location, item.raw)
}

#[test]
fn envelopes_are_cut_into_the_records_the_whole_file_reader_reads() {
    let records = r#"{"Type":"Event","n":1},{"Type":"Event","n":"two \" ]}"},{"n":[3,{"x":4}]}"#;
    let columns = r#"[{"name":"Type","type":"string"},{"name":"n","type":"long"}]"#;
    for (text, shape) in [
        (format!("{{\"records\":[{records}]}}\n"), Shape::RecordsEnvelope),
        (
            format!("\u{feff}{{ \"__metadata\" : {{\"top\":3}}, \"id\":\"x\",\n\"value\": [ {records} ] }}"),
            Shape::LegacySearchApi,
        ),
        (
            format!("{{\"value\":[{records}],\"__metadata\":[],\"other\":[1,\"]\"]}}"),
            Shape::LegacySearchApi,
        ),
        (
            // Two tables, one with its columns after its rows, one empty; a row with
            // too few values is rejected as the whole-file reader rejects it.
            format!(
                r#"{{"tables":[{{"name":"A","columns":{columns},"rows":[["Event",1],["Event",2],["Event"]]}},
                {{"rows":[["Update",3],["Update",4]],"columns":{columns}}},{{"columns":{columns},"rows":[]}}]}}"#
            ),
            Shape::QueryApi,
        ),
        (
            format!("{{\"tables\":\"none\",\"records\":[{records}]}}"),
            Shape::RecordsEnvelope,
        ),
    ] {
        let expected = whole(&text);
        assert_eq!(expected.0, shape, "{text}");
        for target in [1, 30, 60, text.len() - 1] {
            assert_eq!(via_cut(&text, target), Some(expected.clone()), "{text} {target}");
        }
        assert_eq!(via_cut(&text, text.len()), None, "no larger than a piece");
    }
}

#[test]
fn envelopes_the_whole_file_reader_reads_otherwise_are_left_to_it() {
    let columns = r#"[{"name":"a"}]"#;
    for text in [
        r#"{"value":[{"a":1},{"b":2}],"__metadata":null}"#, // one record
        r#"{"records":[{"a":1},{"b":2}],"records":[{"c":3}]}"#, // a duplicate key
        r#"{"rec\u006frds":[{"a":1},{"b":2},{"c":3}]}"#,    // an escaped key
        r#"{"records":[{"a":1},{"b":2},{"c":3}]} {}"#,      // something after it
        r#"{"records":[{"a":1},{"b":2},{"c":3}],"x":tru}"#, // not JSON
        r#"{"records":[{"a":1},{"b":2},{"c":3}],"__metadata":{"x":1,}}"#, // not JSON
        r#"{"records":[{"a":1},[{"b":2}],{"c":3}]}"#,       // an element that is no object
        r#"{"records":[{"a":1},{"b":2},{"c":3}]"#,          // no end, after the array
        r#"{"tables":[{"rows":[[1],{"a":2},[3]],"columns":[{"name":"a"}]}]}"#, // a row that is no array
        r#"{"tables":[{"rows":[[1],[2],[3]],"columns":[{"type":"string"}]}]}"#, // no name
        r#"{"tables":[{"rows":[[1],[2]],"rows":[[3]],"columns":[{"name":"a"}]}]}"#, // twice
        r#"{"tables":[[{"rows":[[1],[2],[3]],"columns":[{"name":"a"}]}]]}"#,   // no table
        r#"{"tables":[{"rows":null,"columns":[{"name":"a"}]}],"records":[{"a":1},{"b":2}]}"#,
    ] {
        assert_eq!(via_cut(text, 4).map(|c| c.0), None, "{text}");
    }
    let tables = format!(r#"{{"tables":[{{"columns":{columns},"rows":[[1],[2],[3]]}}]}}"#);
    assert!(via_cut(&tables, 4).is_some());
}

#[test]
fn an_array_or_envelope_cut_anywhere_reads_as_the_whole_file_reader_reads_it() {
    let records =
        "{\"Type\":\"Event\",\"n\":1},\n {\"n\":\"two é \\\" ]}\"} ,{\"n\":[3,{\"x\":4}]}";
    for text in [
        format!("[{records}]"),
        format!("{{\"records\":\n[{records}],\"x\":1}}"),
        format!("{{\"__metadata\":{{}},\"value\":[{records}]}}"),
        format!("{{\"value\":[{records}],\"records\":[{records}]}}"),
        format!("{{\"records\":[{{\"n\":0}}],\"__metadata\":1,\"value\":[{records}]}}"),
    ] {
        let mut cut_in_pieces = 0;
        for end in 1..text.len() {
            let Some(cut) = text.as_bytes().get(..end) else {
                continue;
            };
            // Cut inside a character too: read as text up to it.
            let head = String::from_utf8_lossy(cut_short::without_cut_character(cut));
            if head.contains('\u{fffd}') {
                continue;
            }
            let expected = whole(&head);
            for target in [1, 30] {
                if let Some(got) = via_cut(&head, target) {
                    assert_eq!(got, expected, "{head:?} {target}");
                    cut_in_pieces += 1;
                }
            }
        }
        assert!(cut_in_pieces > text.len() / 2, "{text}: {cut_in_pieces}");
    }
    // Bad JSON in the unfinished element: reported by an array, left whole by an envelope
    // (which the whole-file reader then reads as NDJSON).
    for (text, in_pieces) in [
        ("[{\"a\":1},\n{\"b\":2},{\"c\":x", true),
        ("[{\"a\":1},{\"b\":2},\n{\"c\":\"\\q", true),
        ("{\"records\":[{\"a\":1},{\"b\":2},{\"c\":x", false),
    ] {
        let got = via_cut(text, 4);
        assert_eq!(got.is_some(), in_pieces, "{text}");
        if let Some(got) = got {
            assert_eq!(got, whole(text), "{text}");
        }
    }
}

#[test]
fn probe_bad_middle() {
    for text in [
        "[{\"a\":1},{\"b\":tru},{\"c\":3}]",
        "{\"records\":[{\"a\":1},{\"b\":tru},{\"c\":3}]}",
        "[{\"a\":1},{\"b\":1 2},{\"c\":3}]",
    ] {
        eprintln!("TEXT {text}");
        eprintln!("CUT {:#?}", via_cut(text, 4));
        eprintln!("WHOLE {:#?}", whole(text));
    }
}
