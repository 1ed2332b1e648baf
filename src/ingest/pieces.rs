//! Decoding one piece of an NDJSON file or JSON array: in input order, or a day at a time (see
//! `day_groups`) so that each day's rows leave the decoders as batches of their own.

use std::ops::Range;

use super::array_pieces::Elements;
use super::coerce::Cell;
use super::day_groups::Line;
use super::line_base::LineBase;
use super::{
    array_read, day_groups, piece_hash, shape, ChannelSink, Counts, IngestError, Run, Sink,
};

/// A piece's spans (lines or elements) in the order they are decoded, and where each group
/// (a day) ends in it (see `day_groups`).
struct Groups<'t, 'o> {
    text: &'t [u8],
    order: &'o [Line],
    ends: Vec<usize>,
}

/// A piece of an NDJSON file being decoded: its source's name and bytes, the piece's range,
/// and where its lines are counted from and its records counted to.
pub(super) struct Piece<'p, 'b> {
    pub name: &'p str,
    pub bytes: &'b [u8],
    pub range: Range<usize>,
    pub line_base: &'p mut LineBase<'b>,
    pub counts: &'p mut Counts,
}

impl Run<'_> {
    /// Decode a piece of an NDJSON file in its lines' order.
    pub(super) fn decode_in_order<S: Sink>(
        &mut self,
        piece: &mut Piece<'_, '_>,
        hashing: &mut Option<piece_hash::Cursor<'_>>,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        let bytes = piece.bytes;
        let mut failure = None;
        let mut cells = Vec::new();
        shape::ndjson_lines(&bytes[piece.range.clone()], 1, &mut |item| {
            if let Some(h) = hashing {
                h.reached(bytes, item.raw.as_ptr() as usize - bytes.as_ptr() as usize);
            }
            if failure.is_none() && !self.summary.aborted {
                if let Err(e) = self.record_of(piece, item, &mut cells, out) {
                    failure = Some(e);
                }
            }
        });
        failure.map_or(Ok(()), Err)
    }

    /// Decode a piece of an NDJSON file a day at a time (see `day_groups`): each day's rows
    /// leave the decoders as batches of their own, which the store's day split keeps whole
    /// instead of copying. The batches wait until the piece is done, so that the decoders
    /// judge their dictionary columns on the whole piece, as on one batch.
    pub(super) fn decode_by_day<S: Sink>(
        &mut self,
        piece: &mut Piece<'_, '_>,
        hashing: &mut Option<piece_hash::Cursor<'_>>,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        let bytes = piece.bytes;
        let text = &bytes[piece.range.clone()];
        let grouped = day_groups::group_lines(text, |at| {
            if let Some(h) = hashing {
                h.reached(bytes, piece.range.start + at);
            }
        });
        let Some((lines, group_ends)) = grouped else {
            return self.decode_in_order(piece, hashing, out);
        };
        let (name, line_base) = (piece.name, &mut *piece.line_base);
        let groups = Groups {
            text,
            order: &lines,
            ends: group_ends,
        };
        self.decode_groups(name, groups, line_base, piece.counts, out, |line| {
            let raw = &text[line.start as usize..line.end as usize];
            shape::ndjson_line(raw, u64::from(line.number))
        })
    }

    /// Decode the spans of `groups` a group (a day) at a time, each group's rows set aside as
    /// parts of their own, then hand them all to the sink; `item` reads a span (`None`: a
    /// blank one).
    fn decode_groups<'t, S: Sink>(
        &mut self,
        name: &str,
        groups: Groups<'t, '_>,
        line_base: &mut LineBase<'_>,
        counts: &mut Counts,
        out: &mut ChannelSink<'_, S>,
        mut item: impl FnMut(&Line) -> Option<shape::Item<'t>>,
    ) -> Result<(), IngestError> {
        let (text, order) = (groups.text, groups.order);
        let mut cells = Vec::new();
        self.holding = true;
        let mut from = 0;
        let mut result = Ok(());
        'groups: for end in groups.ends {
            for (at, span) in order.iter().enumerate().take(end).skip(from) {
                // Spans are taken in time order, not the input's: each is read cold, which the
                // processor cannot foresee, so the next one is fetched while this one decodes.
                if let Some(next) = order.get(at + 1) {
                    prefetch(&text[next.start as usize..next.end as usize]);
                }
                let Some(item) = item(span) else {
                    continue;
                };
                if self.summary.aborted {
                    break 'groups;
                }
                result = self.record(name, item, line_base, &mut cells, out, counts);
                if result.is_err() {
                    break 'groups;
                }
            }
            from = end;
            self.hold_parts();
        }
        self.holding = false;
        result?;
        self.send_held(out)
    }

    /// Decode a piece of a JSON array or envelope (see `array_pieces`): its elements in
    /// order, numbered from the piece's first.
    pub(super) fn decode_elements<S: Sink>(
        &mut self,
        piece: &mut Piece<'_, '_>,
        elements: &Elements,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        // The piece held whole elements of UTF-8 when the array was cut: only a change to the
        // file since then can make it fail.
        let changed = || IngestError::Changed(piece.name.to_string());
        let Ok(text) = std::str::from_utf8(&piece.bytes[piece.range.clone()]) else {
            return Err(changed());
        };
        let mut failure = None;
        let mut cells = Vec::new();
        // Records are numbered, and a break carries its line: no line base is needed.
        let line_base = &mut LineBase::none();
        let whole = array_read::items(text, elements, |item| {
            if failure.is_some() || self.summary.aborted {
                return;
            }
            let r = self.record(piece.name, item, line_base, &mut cells, out, piece.counts);
            if let Err(e) = r {
                failure = Some(e);
            }
        });
        match (failure, whole) {
            (Some(e), _) => Err(e),
            (None, Some(())) => Ok(()),
            (None, None) => Err(changed()),
        }
    }

    /// Decode a piece of a JSON array or envelope a day at a time, as [`Run::decode_by_day`]
    /// decodes NDJSON: its elements in order of the day and time they name (see `day_groups`).
    pub(super) fn decode_elements_by_day<S: Sink>(
        &mut self,
        piece: &mut Piece<'_, '_>,
        elements: &Elements,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        let range = piece.range.clone();
        let text = std::str::from_utf8(&piece.bytes[range]).ok();
        let text = match text {
            Some(text) if elements.cut_short.is_none() && u32::try_from(text.len()).is_ok() => text,
            _ => return self.decode_elements(piece, elements, out),
        };
        let mut whole = None;
        let (order, group_ends) = day_groups::group(text.as_bytes(), |add| {
            whole = array_read::element_texts(text, elements, |raw, record| {
                let n = record - elements.first_record;
                let start = raw.as_ptr() as usize - text.as_ptr() as usize;
                let (end, number) = ((start + raw.len()) as u32, n as u32);
                add(Line {
                    start: start as u32,
                    end,
                    number,
                });
            });
        });
        if whole.is_none() {
            // No longer whole elements: said as the in-order decoding says it.
            return self.decode_elements(piece, elements, out);
        }
        // Records are numbered: no line base is needed.
        let line_base = &mut LineBase::none();
        let groups = Groups {
            text: text.as_bytes(),
            order: &order,
            ends: group_ends,
        };
        self.decode_groups(piece.name, groups, line_base, piece.counts, out, |e| {
            let raw = &text[e.start as usize..e.end as usize];
            let record = elements.first_record + u64::from(e.number);
            Some(array_read::item(raw, elements, record))
        })
    }

    /// [`Run::record`] for a record of `piece`.
    fn record_of<'a, S: Sink>(
        &mut self,
        piece: &mut Piece<'_, '_>,
        item: shape::Item<'a>,
        cells: &mut Vec<Cell<'a>>,
        out: &mut ChannelSink<'_, S>,
    ) -> Result<(), IngestError> {
        let line_base = &mut *piece.line_base;
        self.record(piece.name, item, line_base, cells, out, piece.counts)
    }

    /// Set aside every decoder's buffered rows as a part of the piece being decoded.
    fn hold_parts(&mut self) {
        for (t, d) in self.decoders.iter_mut().enumerate() {
            if d.buffered_rows() > 0 {
                self.pending_bytes[t] = 0;
                self.held[t].push(d.flush_part());
            }
        }
    }

    /// Judge the parts set aside for the piece together and hand them to the sink.
    fn send_held<S: Sink>(&mut self, out: &mut ChannelSink<'_, S>) -> Result<(), IngestError> {
        for (d, held) in self.decoders.iter_mut().zip(&mut self.held) {
            if held.is_empty() {
                continue;
            }
            let mut parts = std::mem::take(held);
            d.settle(&mut parts);
            for part in parts {
                out.batch(d.schema(), part)?;
            }
        }
        Ok(())
    }
}

/// Ask for `bytes` to be brought into the cache, without waiting: their first 1 KB and their
/// last byte (a line's end is read first, for a `\r`); the processor fetches the rest itself
/// once they are read in order.
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let last = bytes.len().saturating_sub(1);
        let head = (0..bytes.len().min(1024)).step_by(64);
        for at in head.chain((last >= 1024).then_some(last)) {
            // SAFETY: a prefetch only hints the cache, and the address is inside `bytes`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(at) as *const i8) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::Write;

    use arrow::array::{Array, AsArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, TimestampMicrosecondType};
    use arrow::record_batch::RecordBatch;
    use proptest::prelude::*;

    use std::sync::Arc;

    use arrow::datatypes::Field;

    use super::super::decoder::{is_judged_distinct, TableDecoder, MIN_VALUES_TO_JUDGE};
    use super::super::shape::record_fields;
    use super::super::{run, IngestError, IngestOptions, KnownSources, Reject, Sink};
    use crate::schema::{Catalog, TableSchema};
    use crate::store::buffer::MICROS_PER_DAY;

    /// What an ingest handed over: each table's rows as text, the rejects, and how many
    /// batches held more than one day.
    #[derive(Default, Debug, PartialEq)]
    struct Collected {
        rows: BTreeMap<String, Vec<Vec<Option<String>>>>,
        rejects: Vec<(Option<u64>, String, String)>,
        batches_of_several_days: usize,
    }

    impl Sink for Collected {
        type Prepared = (&'static TableSchema, RecordBatch);
        fn known_sources(&self) -> KnownSources {
            KnownSources::default()
        }
        fn prepare(
            table: &'static TableSchema,
            batch: RecordBatch,
        ) -> Result<Self::Prepared, IngestError> {
            Ok((table, batch))
        }
        fn write(&mut self, (table, batch): Self::Prepared) -> Result<(), IngestError> {
            let times = batch
                .column(table.time_index())
                .as_primitive::<TimestampMicrosecondType>();
            let days: BTreeSet<i64> = times
                .values()
                .iter()
                .map(|t| t.div_euclid(MICROS_PER_DAY))
                .collect();
            self.batches_of_several_days += usize::from(days.len() > 1);
            let columns: Vec<_> = (batch.columns().iter())
                .map(|c| cast(c, &DataType::Utf8).expect("every column casts to text"))
                .collect();
            let rows = self.rows.entry(table.name.clone()).or_default();
            for r in 0..batch.num_rows() {
                let text = |c: &arrow::array::ArrayRef| {
                    c.is_valid(r)
                        .then(|| c.as_string::<i32>().value(r).to_string())
                };
                rows.push(columns.iter().map(text).collect());
            }
            Ok(())
        }
        fn reject(&mut self, r: &Reject) -> Result<(), IngestError> {
            self.rejects.push((r.line, r.reason.clone(), r.raw.clone()));
            Ok(())
        }
    }

    /// Pieces of several lines each, decoded by both threads (a file no larger than one piece
    /// is decoded whole, in order).
    const CHUNK_BYTES: usize = 1500;

    fn ingest(text: &str, by_day: bool) -> Collected {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.ndjson");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let options = IngestOptions {
            chunk_bytes: CHUNK_BYTES,
            by_day,
            ..IngestOptions::default()
        };
        let mut sink = Collected::default();
        run(&[path], &options, &mut sink).unwrap();
        for rows in sink.rows.values_mut() {
            rows.sort();
        }
        sink.rejects.sort();
        sink
    }

    /// One line of an export: a record of one of three days, in either table, with or
    /// without a zone offset that moves it to the next UTC day, or a line that is rejected.
    fn line() -> impl Strategy<Value = (String, bool)> {
        let record = (0..3u32, 0..24u32, any::<bool>(), any::<bool>(), 0..5u32).prop_map(
            |(day, hour, event, offset, n)| {
                let zone = if offset { "-05:00" } else { "Z" };
                let time = format!("2024-03-0{}T{hour:02}:30:00{zone}", day + 1);
                let line = match event {
                    true => format!(
                        r#"{{"Type":"Event","TimeGenerated":"{time}","Computer":"pc{n}","EventID":{n}}}"#
                    ),
                    false => format!(
                        r#"{{"Computer":"pc{n}","TimeGenerated":"{time}","Type":"UpdateSummary","TotalUpdatesMissing":{n}}}"#
                    ),
                };
                (line, offset)
            },
        );
        prop_oneof![
            8 => record,
            1 => Just((r#"{"Type":"Event","TimeGenerated":"soon"}"#.to_string(), false)),
            1 => Just(("{not json".to_string(), false)),
            1 => Just((String::new(), false)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn decoding_by_day_hands_over_the_rows_and_rejects_of_decoding_in_order(
            lines in proptest::collection::vec(line(), 1..150),
            offsets in any::<bool>(),
        ) {
            // Zone offsets in some cases only, so that the others can check the batches' days.
            let lines: Vec<(String, bool)> = lines
                .into_iter()
                .map(|(l, offset)| match offsets || !offset {
                    true => (l, offset),
                    false => (l.replace("-05:00", "Z"), false),
                })
                .collect();
            // A file is taken for NDJSON (and cut in pieces) when its first line is a record.
            let first = r#"{"Type":"Event","TimeGenerated":"2024-03-02T00:00:00Z"}"#;
            let text: Vec<&str> = std::iter::once(first)
                .chain(lines.iter().map(|(l, _)| l.as_str()))
                .collect();
            let text = text.join("\n");
            let in_order = ingest(&text, false);
            let by_day = ingest(&text, true);
            prop_assert_eq!(&by_day.rows, &in_order.rows);
            prop_assert_eq!(&by_day.rejects, &in_order.rejects);
            // Each day's rows come as batches of their own, unless an offset moved a record
            // to another day than its text names (or the file is decoded whole).
            if !lines.iter().any(|(_, offset)| *offset) && text.len() > CHUNK_BYTES {
                prop_assert_eq!(by_day.batches_of_several_days, 0);
            }
        }
    }

    #[test]
    fn parts_of_a_piece_are_judged_together() {
        let table = Catalog::builtin().get("Event").unwrap();
        let (mut d, mut cells) = (TableDecoder::new(table), Vec::new());
        // Four parts (days), each with too few values to judge alone (a decoder flushing one
        // of them would keep its dictionary): `RenderedDescription` distinct in all of them
        // together, `Computer` repeating.
        let per_part = MIN_VALUES_TO_JUDGE / 2;
        let lines: Vec<String> = (0..4 * per_part)
            .map(|i| {
                let day = i / per_part + 1;
                format!(
                    r#"{{"TimeGenerated":"2024-01-0{day}T00:00:00Z","Computer":"c{}","RenderedDescription":"event {i}"}}"#,
                    i % 3
                )
            })
            .collect();
        let mut parts: Vec<RecordBatch> = (lines.chunks(per_part))
            .map(|part| {
                for l in part {
                    d.push(&record_fields(l).unwrap(), &mut cells).unwrap();
                }
                d.flush_part()
            })
            .collect();
        let field = |b: &RecordBatch, n: &str| b.schema().field_with_name(n).unwrap().clone();
        let is_dictionary = |f: Field| matches!(f.data_type(), DataType::Dictionary(_, _));
        // Judged once the parts so far held enough values (two parts): the next parts come
        // as plain strings, and the first is turned when the piece settles.
        assert!(is_dictionary(field(&parts[0], "RenderedDescription")));
        assert!((parts[1..].iter()).all(|p| !is_dictionary(field(p, "RenderedDescription"))));
        d.settle(&mut parts);
        for (p, part) in parts.iter().enumerate() {
            let text = field(part, "RenderedDescription");
            assert!(text.data_type() == &DataType::Utf8 && is_judged_distinct(&text));
            assert!(is_dictionary(field(part, "Computer")));
            let i = part.schema().index_of("RenderedDescription").unwrap();
            let first = part.column(i).as_string::<i32>().value(0);
            assert_eq!(first, format!("event {}", p * per_part));
        }
        // The parts share one schema, and the column stays plain after them.
        assert!((parts.iter()).all(|p| Arc::ptr_eq(p.schema_ref(), parts[0].schema_ref())));
        d.push(&record_fields(&lines[0]).unwrap(), &mut cells)
            .unwrap();
        let next = d.flush_part();
        assert_eq!(
            field(&next, "RenderedDescription").data_type(),
            &DataType::Utf8
        );
    }
}
