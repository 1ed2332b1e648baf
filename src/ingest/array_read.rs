//! The records of a JSON array or envelope read through its cut (`array_pieces`): a piece's
//! elements as items, and the whole-file reader's first try at a file of any size. Reading a
//! small file as one piece is what makes it read as a large one reads in pieces: an element
//! with bad JSON inside brackets that match is one rejected record and the elements after it
//! are read. (The serde reader of a whole array stopped at such an element, rejecting the rest
//! of the array, and an envelope around it was rejected whole, while the pieces of the same
//! file, larger, stored the rest.)

use std::ops::Range;

use super::array_pieces::{self, skip_space, Elements};
use super::query_api;
use super::shape::{self, Item, Location, Shape};

/// Each item of a piece of `elements`: its records (rows of a query API table are named by
/// their columns), or the report of where the array breaks off. `None` when the text no
/// longer holds whole elements (the file changed since it was cut); the items before are given.
pub fn items<'t>(text: &'t str, elements: &'t Elements, f: impl FnMut(Item<'t>)) -> Option<()> {
    each_item(text, elements, query_api::row, f)
}

/// [`items`], the rows of a query API table made by `row`.
fn each_item<'t, 'e>(
    text: &'t str,
    elements: &'e Elements,
    row: impl Fn(&'t str, &'e [String], u64) -> Item<'t>,
    mut f: impl FnMut(Item<'t>),
) -> Option<()> {
    if let Some(cut_short) = &elements.cut_short {
        f(Item {
            location: Location::Line(cut_short.line),
            raw: text,
            fields: Err(cut_short.message.clone()),
        });
        return Some(());
    }
    let columns = elements.columns.as_deref();
    element_texts(text, elements, |raw, record| {
        f(match columns {
            Some(columns) => row(raw, columns, record),
            None => shape::array_element(raw, record),
        })
    })
}

/// Element `record` of a piece of `elements`, `raw` its text: as [`items`] gives it.
pub fn item<'t>(raw: &'t str, elements: &'t Elements, record: u64) -> Item<'t> {
    match elements.columns.as_deref() {
        Some(columns) => query_api::row(raw, columns, record),
        None => shape::array_element(raw, record),
    }
}

/// Each element of a piece of `elements` (its text and number), found where the cut found
/// them; `None` when the piece no longer holds whole elements (the file changed since).
pub fn element_texts<'t>(
    text: &'t str,
    elements: &Elements,
    mut f: impl FnMut(&'t str, u64),
) -> Option<()> {
    let Some(ends) = elements.ends.as_deref() else {
        return array_pieces::elements(text, elements.first_record, f);
    };
    let bytes = text.as_bytes();
    let (mut at, mut record) = (0, elements.first_record);
    for &end in ends {
        let end = end as usize;
        // Both on brackets, so on character boundaries: anything else is a changed file.
        let opens = matches!(bytes.get(at), Some(b'{' | b'['));
        let closes = end > at && matches!(bytes.get(end - 1), Some(b'}' | b']'));
        if !opens || !closes {
            return None;
        }
        f(&text[at..end], record);
        record += 1;
        at = skip_space(bytes, end);
        match bytes.get(at) {
            None => {}
            Some(b',') => at = skip_space(bytes, at + 1),
            Some(_) => return None,
        }
    }
    (at == bytes.len()).then_some(())
}

/// The reason a piece no longer holding whole elements is rejected with.
const CHANGED: &str = "the file changed while it was read: the rest of the array could not be read";

/// Read `bytes` as one piece, if the cut takes it: its shape, or `None`, nothing read, when
/// it is left to the whole-file reader's other ways. `scanned` as for `array_pieces::cut`.
pub fn whole<'a>(
    bytes: &'a [u8],
    scanned: impl FnMut(Range<usize>),
    mut f: impl FnMut(Item<'a>),
) -> Option<Shape> {
    let cut = array_pieces::one_piece(bytes, scanned)?;
    for piece in &cut.pieces {
        let mut next = piece.elements.first_record;
        // Checked as UTF-8 and cut at whole elements by the scan: only a file changed under
        // it fails here. Said as a rejected record, besides the ingest's check of every
        // input's size and time before its commit.
        let text = std::str::from_utf8(&bytes[piece.range.clone()]);
        // The cut's column names go with it: each row gets its own.
        let row = query_api::row_owning_keys;
        let read = text.ok().and_then(|text| {
            each_item(text, &piece.elements, row, |item| {
                if let Location::Record(r) = item.location {
                    next = r + 1;
                }
                f(item)
            })
        });
        if read.is_none() {
            f(Item {
                location: Location::Record(next),
                raw: "",
                fields: Err(CHANGED.into()),
            });
            break;
        }
    }
    Some(cut.shape)
}

#[cfg(test)]
mod tests {
    use super::super::shape::for_each_record;
    use super::*;

    fn describe(item: Item<'_>) -> String {
        let fields = item.fields.map(|f| {
            let f = f.iter().map(|(k, v)| format!("{k}={v:?}"));
            f.collect::<Vec<_>>()
        });
        format!("{:?} {} {fields:?}", item.location, item.raw)
    }

    fn whole_file(text: &str) -> (Shape, Vec<String>) {
        let mut out = Vec::new();
        let shape = for_each_record(text.as_bytes(), |item| out.push(describe(item)));
        (shape, out)
    }

    fn in_pieces(text: &str, target: usize) -> Option<(Shape, Vec<String>)> {
        let cut = array_pieces::cut(text.as_bytes(), target, |_| {})?;
        let mut out = Vec::new();
        for piece in &cut.pieces {
            let text = &text[piece.range.clone()];
            items(text, &piece.elements, |item| out.push(describe(item))).unwrap();
        }
        Some((cut.shape, out))
    }

    #[test]
    fn an_element_with_bad_json_is_one_reject_whole_or_in_pieces() {
        let good = r#"{"Type":"Event","n":"x ]}"}"#;
        let bad = [
            r#"{"n":tru}"#,
            r#"{"n":1 2}"#,
            r#"{"n":"\q"}"#,
            r#"{"n":[1,]}"#,
            "{\"n\":\"\u{1}\"}",
            r#"{"n":1,}"#,
            r#"{,}"#,
        ];
        let columns = r#"[{"name":"Type","type":"string"},{"name":"n","type":"long"}]"#;
        for bad in bad {
            let records = format!("{good},\n{bad} ,{good}");
            let row = bad.replacen('{', "[", 1).replacen('}', "]", 1);
            let tables = format!(
                r#"{{"tables":[{{"columns":{columns},"rows":[["Event",1],{row},["Event",3]]}}]}}"#
            );
            for (text, broken_off) in [
                (format!("[{records}]"), false),
                (format!("{{\"records\":[{records}]}}"), false),
                (
                    format!("{{\"__metadata\":{{}},\"value\":[{records}]}}"),
                    false,
                ),
                (format!("[{records},{{\"n\":"), true),
                (tables, false),
            ] {
                let (shape, read) = whole_file(&text);
                assert_ne!(shape, Shape::Ndjson, "{text}");
                // The elements on both sides are read; the bad one is rejected alone.
                let rejected = read.iter().filter(|r| r.contains(" Err(")).count();
                assert_eq!(read.len(), 3 + usize::from(broken_off), "{text}: {read:#?}");
                assert_eq!(rejected, 1 + usize::from(broken_off), "{text}: {read:#?}");
                assert!(read[1].starts_with("Record(1) "), "{text}: {read:#?}");
                for target in 1..text.len() {
                    let got = in_pieces(&text, target);
                    assert_eq!(got, Some((shape, read.clone())), "{text} {target}");
                }
            }
        }
    }

    #[test]
    fn brackets_that_do_not_match_still_end_the_array() {
        let text = r#"[{"a":1},{"b":[2}},{"c":3}]"#;
        let (shape, read) = whole_file(text);
        assert_eq!(shape, Shape::Array);
        assert_eq!(read.len(), 2, "{read:#?}");
        assert!(
            read[1].contains("the rest of the array could not be read"),
            "{read:#?}"
        );
        assert_eq!(in_pieces(text, 4), None);
    }

    #[test]
    fn a_query_api_response_cut_short_keeps_its_whole_rows() {
        let columns = r#"[{"name":"Type","type":"string"},{"name":"n","type":"long"}]"#;
        let text = format!(
            "{{\"tables\":[{{\"name\":\"a\",\"columns\":{columns},\"rows\":[[\"Event\",1],\n[\"Event\",\"x ]\"]]}},\n{{\"columns\":{columns},\"rows\":[[\"Event\",3],[\"Event\",[4]],[\"Event\",5]]}}]}}"
        );
        // Cuts inside a table's rows: after their `[`, before the `]` that closes them.
        let rows: Vec<_> = text
            .match_indices("\"rows\":[")
            .map(|(at, key)| {
                let start = at + key.len();
                start..start + text[start..].find("]]}").unwrap() + 2
            })
            .collect();
        let (mut kept, mut in_pieces_too) = (0, 0);
        for end in 1..text.len() {
            let head = &text[..end];
            let (shape, read) = whole_file(head);
            let in_rows = rows.iter().any(|r| r.contains(&end));
            assert_eq!(shape == Shape::QueryApi, in_rows, "{head}: {read:#?}");
            if in_rows {
                kept += 1;
                // Every row before the break is read, and the break is the last item.
                let rows = read.iter().filter(|r| r.starts_with("Record(")).count();
                assert_eq!(rows, read.len() - 1, "{head}: {read:#?}");
                assert!(
                    read[rows].contains("the rest of the array"),
                    "{head}: {read:#?}"
                );
            }
            for target in [1, 30] {
                let got = in_pieces(head, target);
                // The cut takes a file or leaves it whatever the size of its pieces.
                assert_eq!(got.is_some(), in_rows, "{head} {target}");
                if let Some(got) = got {
                    assert_eq!(got, (shape, read.clone()), "{head} {target}");
                    in_pieces_too += 1;
                }
            }
        }
        assert!(kept > 40 && in_pieces_too > kept, "{kept} {in_pieces_too}");
        // Rows before their columns have no names when the file breaks off in them.
        let text = r#"{"tables":[{"rows":[["Event",1],["Ev"#;
        assert_eq!(whole_file(text).0, Shape::Ndjson);
    }

    #[test]
    fn elements_are_read_where_the_cut_found_them_and_a_changed_piece_says_so() {
        let text = r#"[{"a":"}"}, {"b":[1]} ,{"c":3}]"#;
        let cut = array_pieces::cut(text.as_bytes(), 4, |_| {}).unwrap();
        let mut seen = Vec::new();
        for piece in &cut.pieces {
            assert!(piece.elements.ends.is_some());
            let piece_text = &text[piece.range.clone()];
            element_texts(piece_text, &piece.elements, |e, n| seen.push((e, n))).unwrap();
        }
        assert_eq!(
            seen,
            [(r#"{"a":"}"}"#, 0), (r#"{"b":[1]}"#, 1), (r#"{"c":3}"#, 2)]
        );
        let one = cut
            .pieces
            .iter()
            .find(|p| p.elements.first_record == 1)
            .unwrap();
        for changed in [r#" "b":[1]}"#, r#"{"b":[1]}x"#, r#"{"b":[1]"#] {
            assert_eq!(
                element_texts(changed, &one.elements, |_, _| {}),
                None,
                "{changed}"
            );
        }
    }
}
