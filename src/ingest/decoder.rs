//! Per-table push decoder: typed records in, Arrow `RecordBatch`es out, one per UTC day of
//! `TimeGenerated`. Does no I/O.
//!
//! A record is coerced completely before any builder is touched, so a rejected record leaves
//! no partial row behind. Each day's rows go to builders of their own: the store keeps a file
//! per day, and rows decoded into one batch and split by day afterwards were copied once more
//! (exports interleave days record by record).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_select::dictionary::garbage_collect_any_dictionary;

use super::builder::Builder;
use super::coerce::{coerce, minify, Cell, InValue};
use super::dict::{DictKeys, Interner, MAX_VALUES};
use crate::bytes::same_bytes;
use crate::nulls;
use crate::schema::{ColumnType, TableSchema, TIME_COLUMN, TYPE_COLUMN};
use crate::store::buffer::MICROS_PER_DAY;

/// Why a record could not be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub column: Option<String>,
    pub reason: String,
}

/// The rows of one UTC day a decoder holds.
struct DayRows {
    day: i64,
    builders: Vec<Builder>,
    /// Values (rows) in each builder.
    lens: Vec<usize>,
    rows: usize,
}

pub struct TableDecoder {
    schema: &'static TableSchema,
    /// The rows buffered, by day, in the order the days came.
    days: Vec<DayRows>,
    /// Where in `days` each day is.
    day_at: HashMap<i64, usize, ahash::RandomState>,
    /// Where in `days` the last record went.
    last_day: usize,
    /// Per column: the distinct values of its dictionary, shared by every day's keys.
    values: Vec<Interner>,
    /// Per column: rows and bytes of string data a day's builder is made with, as many as a
    /// day had in the last batch (a column that batch never filled gets no room).
    room: Vec<(usize, usize)>,
    /// String columns buffered as dictionaries: most repeat a few values (computer, update,
    /// tenant), and as indices they take a fraction of the memory, so a byte budget holds
    /// several times more rows, and gathering them moves indices instead of text. A column
    /// whose values turn out to be mostly distinct goes back to plain strings.
    dictionary: Vec<bool>,
    /// String columns turned back to plain strings: their fields say so (`JUDGED_DISTINCT`).
    judged_distinct: Vec<bool>,
    /// Rows buffered, all days together.
    rows: usize,
    time: usize,
    type_col: usize,
    extra: usize,
    /// Columns the record being pushed has a value for. Only those builders are appended to;
    /// the others catch up with a run of nulls when next given a value, or at flush (most of
    /// OfficeActivity's 146 columns are empty in any one record).
    given: Vec<usize>,
    /// Where each key goes, in the order the export lists keys: records of one export list
    /// them in the same order but each leaves some out, so this is the union of the keys seen,
    /// each inserted where it came. A record's key is looked for a few places after the last
    /// one matched, and by name only when it is not there.
    layout: Vec<(Box<str>, Slot)>,
    /// Where in `layout` each of its keys is.
    layout_at: HashMap<Box<str>, usize, ahash::RandomState>,
    /// Where in `layout` to look for the record's next key.
    cursor: usize,
    /// The last batch's schema, given again to a batch of the same: the store compares the
    /// schemas of a partition's batches, and one `Arc` compares at once.
    last_schema: Option<SchemaRef>,
}

#[derive(Clone, Copy)]
enum Slot {
    /// `Type`: routing has used it; the table name is written instead.
    Skip,
    Column(usize),
    Extra,
}

impl TableDecoder {
    pub fn new(schema: &'static TableSchema) -> TableDecoder {
        let unique_key = schema.unique_key_index();
        let columns = schema.columns.len();
        let dictionary: Vec<bool> = (schema.columns.iter().enumerate())
            .map(|(i, c)| c.ty == ColumnType::String && Some(i) != unique_key)
            .collect();
        TableDecoder {
            schema,
            days: Vec::new(),
            day_at: HashMap::default(),
            last_day: 0,
            values: (0..columns).map(|_| Interner::default()).collect(),
            room: vec![(1024, 0); columns],
            judged_distinct: vec![false; columns],
            dictionary,
            given: Vec::new(),
            rows: 0,
            time: schema.time_index(),
            type_col: schema.type_index(),
            extra: schema.extra_index(),
            layout: Vec::new(),
            layout_at: HashMap::default(),
            cursor: 0,
            last_schema: None,
        }
    }

    pub fn schema(&self) -> &'static TableSchema {
        self.schema
    }

    /// Rows buffered, all days together.
    pub fn buffered_rows(&self) -> usize {
        self.rows
    }

    /// Decode one record into the buffered rows of its day, or say why it cannot be stored.
    pub fn push<'a>(
        &mut self,
        fields: &[(Cow<'a, str>, InValue<'a>)],
        cells: &mut Vec<Cell<'a>>,
    ) -> Result<(), RecordError> {
        cells.clear();
        cells.resize(self.schema.columns.len(), Cell::Null);
        self.given.clear();
        self.cursor = 0;
        let mut extra: Option<String> = None;
        for (key, value) in fields {
            match self.slot(key) {
                Slot::Skip => {}
                Slot::Column(i) => {
                    let column = &self.schema.columns[i];
                    let cell = coerce(value, column.ty).map_err(|reason| RecordError {
                        column: Some(key.to_string()),
                        reason: format!("{}: {reason}", key),
                    })?;
                    if cells[i] != Cell::Null && cell != Cell::Null {
                        return Err(RecordError {
                            column: Some(column.name.clone()),
                            reason: format!(
                                "{} given twice (under {key:?} and another name)",
                                column.name
                            ),
                        });
                    }
                    if cell != Cell::Null {
                        cells[i] = cell;
                        self.given.push(i);
                    }
                }
                Slot::Extra => {
                    append_extra(extra.get_or_insert_with(|| String::from("{")), key, value)
                }
            }
        }
        let Cell::Micros(time) = cells[self.time] else {
            return Err(RecordError {
                column: Some(TIME_COLUMN.into()),
                reason: "missing TimeGenerated".into(),
            });
        };
        cells[self.type_col] = Cell::Str(Cow::Borrowed(self.schema.name.as_str()));
        self.given.push(self.type_col);
        if let Some(mut e) = extra {
            e.push('}');
            cells[self.extra] = Cell::Str(Cow::Owned(e));
            self.given.push(self.extra);
        }
        let d = self.day_index(time.div_euclid(MICROS_PER_DAY));
        let day = &mut self.days[d];
        for &i in &self.given {
            let b = &mut day.builders[i];
            // Counted here rather than asked of the builder: `len` is a match per cell.
            if day.lens[i] < day.rows {
                b.fill_to(day.rows);
            }
            b.append(&cells[i], &mut self.values[i]);
            day.lens[i] = day.rows + 1;
        }
        day.rows += 1;
        self.rows += 1;
        Ok(())
    }

    /// Where in `days` the rows of `day` are, made room for if it has none yet.
    #[inline]
    fn day_index(&mut self, day: i64) -> usize {
        if self.days.get(self.last_day).is_some_and(|d| d.day == day) {
            return self.last_day;
        }
        let at = match self.day_at.get(&day) {
            Some(&at) => at,
            None => {
                let (schema, dictionary) = (self.schema, &self.dictionary);
                let builders = (schema.columns.iter().zip(&self.room).enumerate())
                    .map(|(i, (c, &(rows, bytes)))| Builder::new(c.ty, dictionary[i], rows, bytes))
                    .collect();
                self.days.push(DayRows {
                    day,
                    builders,
                    lens: vec![0; schema.columns.len()],
                    rows: 0,
                });
                self.day_at.insert(day, self.days.len() - 1);
                self.days.len() - 1
            }
        };
        self.last_day = at;
        at
    }

    /// Where `key`, the record's next key, goes.
    fn slot(&mut self, key: &str) -> Slot {
        let end = self.layout.len().min(self.cursor + LAYOUT_LOOK_AHEAD);
        for j in self.cursor..end {
            let (k, slot) = &self.layout[j];
            if same_bytes(k.as_bytes(), key.as_bytes()) {
                self.cursor = j + 1;
                return *slot;
            }
        }
        if let Some(&j) = self.layout_at.get(key) {
            self.cursor = j + 1;
            return self.layout[j].1;
        }
        let slot = if key == TYPE_COLUMN {
            Slot::Skip
        } else {
            match self
                .schema
                .input_index(key)
                .filter(|&i| i != self.extra && i != self.type_col)
            {
                Some(i) => Slot::Column(i),
                None => Slot::Extra,
            }
        };
        // A key first seen: into the layout where it came (unless records bring ever new
        // keys, which are then looked up by name each time).
        if self.layout.len() < MAX_LAYOUT_KEYS {
            let at = self.cursor;
            self.layout.insert(at, (key.into(), slot));
            for j in self.layout_at.values_mut() {
                if *j >= at {
                    *j += 1;
                }
            }
            self.layout_at.insert(key.into(), at);
            self.cursor = at + 1;
        }
        slot
    }

    /// The buffered rows as one batch per day, in day order (no builders left afterwards).
    /// String columns come as `Dictionary(UInt16, Utf8)` or `Utf8` (see `dictionary`), so a
    /// batch's schema is the table's up to that; the batches of one flush share their schema.
    ///
    /// Each batch owns its memory, as the store's buffer counts it, except a dictionary's
    /// values where they are small next to a day's keys: those are shared between the days.
    pub fn flush(&mut self) -> Vec<RecordBatch> {
        let mut days = std::mem::take(&mut self.days);
        days.sort_by_key(|d| d.day);
        self.day_at.clear();
        self.last_day = 0;
        let count = days.len().max(1);
        let mut fields = Vec::with_capacity(self.schema.columns.len());
        let mut columns: Vec<Vec<ArrayRef>> = days.iter().map(|_| Vec::new()).collect();
        // Each day's builders, taken column by column.
        let mut builders: Vec<_> = (days.iter_mut())
            .map(|d| std::mem::take(&mut d.builders).into_iter())
            .collect();
        for i in 0..self.schema.columns.len() {
            let field = self.schema.arrow_schema().field(i).clone();
            let given = builders.iter().any(|b| next_of(b).len() > 0);
            // The next batch will most likely be like this one: size its builders for it.
            let bytes: usize = builders.iter().map(|b| next_of(b).data_bytes()).sum();
            self.room[i] = (given as usize * self.rows.div_ceil(count), bytes / count);
            if !given {
                // Nothing to finish: one shared all-null column (see `nulls`).
                let ty = match self.dictionary[i] {
                    true => DictKeys::data_type(),
                    false => field.data_type().clone(),
                };
                for ((day, out), b) in days.iter().zip(&mut columns).zip(&mut builders) {
                    b.next();
                    out.push(nulls::shared(&ty, day.rows));
                }
                fields.push(field.with_data_type(ty));
                continue;
            }
            let dictionary = self.dictionary[i];
            // Judged on the values, not the rows: a sparse column of distinct values
            // (most of OfficeActivity's) gains nothing from a dictionary either.
            let values: usize = builders
                .iter()
                .map(|b| next_of(b).dictionary_values())
                .sum();
            let mostly_distinct = dictionary
                && values >= MIN_VALUES_TO_JUDGE
                && self.values[i].distinct() * 2 > values;
            let interned = dictionary.then(|| self.values[i].finish());
            if mostly_distinct {
                self.dictionary[i] = false;
                self.judged_distinct[i] = true;
                self.values[i] = Interner::default();
            }
            let ty = match dictionary && !mostly_distinct {
                true => DictKeys::data_type(),
                false => field.data_type().clone(),
            };
            let several = days.len() > 1;
            for ((day, out), b) in days.iter().zip(&mut columns).zip(&mut builders) {
                let mut builder = b.next().expect("a builder per column");
                if builder.len() == 0 {
                    // Given on other days only.
                    out.push(nulls::shared(&ty, day.rows));
                    continue;
                }
                builder.fill_to(day.rows);
                let array = builder.finish(interned.as_ref());
                out.push(match (mostly_distinct, dictionary && several) {
                    (true, _) => cast(&array, &DataType::Utf8).expect("dictionary of strings"),
                    (false, true) => own_values(array),
                    (false, false) => array,
                });
            }
            let field = field.with_data_type(ty);
            fields.push(match self.judged_distinct[i] {
                true => judged_distinct(field),
                false => field,
            });
        }
        self.rows = 0;
        let schema = match &self.last_schema {
            Some(last) if last.fields().iter().map(|f| f.as_ref()).eq(&fields) => last.clone(),
            _ => Arc::new(Schema::new(fields)),
        };
        self.last_schema = Some(schema.clone());
        (days.iter().zip(columns))
            .map(|(day, columns)| {
                let options = RecordBatchOptions::new().with_row_count(Some(day.rows));
                RecordBatch::try_new_with_options(schema.clone(), columns, &options)
                    .expect("builders follow the schema")
            })
            .collect()
    }
}

/// The builder a day's iterator of builders gives next.
fn next_of(builders: &std::vec::IntoIter<Builder>) -> &Builder {
    &builders.as_slice()[0]
}

/// A day's dictionary column that owns its values, as the store's buffer counts it: the
/// values the day's keys use, unless all the values are small next to the keys (a column of
/// few values), when sharing them between the days costs less than copying them and
/// counting them once per day overstates the buffer only a little.
fn own_values(array: ArrayRef) -> ArrayRef {
    let dict = array.as_any_dictionary();
    let keys = dict.keys().get_buffer_memory_size();
    match dict.values().get_array_memory_size() * 4 <= keys {
        true => array,
        false => garbage_collect_any_dictionary(dict).expect("keys index the values"),
    }
}

/// Field metadata of a plain string column whose values the decoder found mostly distinct in
/// a batch (this one or an earlier one of the export): the store need not count them again
/// to leave the column without a Parquet dictionary.
pub const JUDGED_DISTINCT: &str = "omslake:distinct";

/// `field` marked as judged mostly distinct (`JUDGED_DISTINCT`).
pub fn judged_distinct(field: Field) -> Field {
    field.with_metadata(HashMap::from([(
        JUDGED_DISTINCT.to_string(),
        "true".to_string(),
    )]))
}

/// Whether `field` holds strings the decoder judged mostly distinct.
pub fn is_judged_distinct(field: &Field) -> bool {
    field.data_type() == &DataType::Utf8
        && (field.metadata().get(JUDGED_DISTINCT)).is_some_and(|v| v == "true")
}

/// Places after the last key matched that a record's next key is looked for in the layout
/// before it is looked up by name: as many keys as records of one export leave out in a row.
const LAYOUT_LOOK_AHEAD: usize = 24;

/// Keys the layout holds at most.
const MAX_LAYOUT_KEYS: usize = 512;

/// Rows a batch may hold: its dictionaries then have at most 2^16 values, so their keys
/// take two bytes a row.
pub const MAX_BATCH_ROWS: usize = MAX_VALUES;

/// Values a batch needs before a dictionary column with mostly distinct values is judged
/// unsuitable (a few values say little about a column).
const MIN_VALUES_TO_JUDGE: usize = 256;

fn append_extra(out: &mut String, key: &str, value: &InValue<'_>) {
    if out.len() > 1 {
        out.push(',');
    }
    out.push_str(&serde_json::to_string(key).expect("strings serialise"));
    out.push(':');
    match value {
        InValue::Raw(raw) => out.push_str(&minify(raw)),
        InValue::Text(t) => {
            out.push_str(&serde_json::to_string(t.as_ref()).expect("strings serialise"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::shape::record_fields;
    use crate::schema::Catalog;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, TimestampMicrosecondType};

    fn decode(table: &str, lines: &[&str]) -> (RecordBatch, Vec<RecordError>) {
        let mut d = TableDecoder::new(Catalog::builtin().get(table).unwrap());
        let mut errs = Vec::new();
        let mut cells = Vec::new();
        for l in lines {
            let f = record_fields(l).unwrap();
            if let Err(e) = d.push(&f, &mut cells) {
                errs.push(e);
            }
        }
        (one_day(d.flush()), errs)
    }

    /// The one batch of a flush of one day's rows.
    fn one_day(batches: Vec<RecordBatch>) -> RecordBatch {
        assert_eq!(batches.len(), 1, "one day, one batch");
        batches.into_iter().next().expect("a batch")
    }

    /// Batches of the same columns and types share one schema; a batch that differs gets its
    /// own.
    #[test]
    fn batches_alike_share_their_schema() {
        let mut d = TableDecoder::new(Catalog::builtin().get("UpdateSummary").unwrap());
        // A batch of `n` records, each with a computer of its own.
        let mut batch = |n: usize, from: usize| {
            for i in from..from + n {
                let line =
                    format!(r#"{{"TimeGenerated":"2024-01-02T03:04:05Z","Computer":"c{i}"}}"#);
                d.push(&record_fields(&line).unwrap(), &mut Vec::new())
                    .unwrap();
            }
            one_day(d.flush())
        };
        let a = batch(1, 0);
        let b = batch(1, 1);
        assert!(Arc::ptr_eq(a.schema_ref(), b.schema_ref()));
        // Enough distinct computers to be judged so: `Computer` becomes plain strings.
        let c = batch(MIN_VALUES_TO_JUDGE, 2);
        assert!(!Arc::ptr_eq(b.schema_ref(), c.schema_ref()));
        assert_ne!(b.schema(), c.schema());
        let d = batch(1, 1000);
        assert!(Arc::ptr_eq(c.schema_ref(), d.schema_ref()));
    }

    #[test]
    fn typed_columns_extra_and_rejects() {
        let (batch, errs) = decode(
            "UpdateSummary",
            &[
                r#"{"Type":"UpdateSummary","TimeGenerated":"2024-01-02T03:04:05.1234567Z","Computer":"a","CriticalUpdatesMissing":"3","RestartPending":"True","MG":"x","id":7}"#,
                r#"{"TimeGenerated":"2024-01-02T03:04:05Z","CriticalUpdatesMissing":"three"}"#,
                r#"{"Computer":"b"}"#,
            ],
        );
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].column.as_deref(), Some("CriticalUpdatesMissing"));
        assert_eq!(errs[1].reason, "missing TimeGenerated");
        let s = batch.schema();
        let col = |n: &str| batch.column(s.index_of(n).unwrap()).clone();
        assert_eq!(
            col("CriticalUpdatesMissing")
                .as_primitive::<Int32Type>()
                .value(0),
            3
        );
        assert!(col("RestartPending").as_boolean().value(0));
        assert_eq!(
            col("TimeGenerated")
                .as_primitive::<TimestampMicrosecondType>()
                .value(0)
                % 1_000_000,
            123_456
        );
        assert_eq!(
            col("_extra").as_string::<i32>().value(0),
            r#"{"MG":"x","id":7}"#
        );
        // Repeating strings are buffered as dictionaries.
        let ty = col("Type");
        assert!(matches!(ty.data_type(), DataType::Dictionary(_, _)));
        let ty = cast(&ty, &DataType::Utf8).unwrap();
        assert_eq!(ty.as_string::<i32>().value(0), "UpdateSummary");
        assert!(col("WSUSServer").is_null(0));
    }

    #[test]
    fn a_column_of_mostly_distinct_strings_goes_back_to_plain_strings() {
        let table = Catalog::builtin().get("Event").unwrap();
        let mut d = TableDecoder::new(table);
        let mut cells = Vec::new();
        // `UserName` is in one record of four, a distinct value each time: sparse, but no
        // dictionary helps it either.
        let lines: Vec<String> = (0..MIN_VALUES_TO_JUDGE * 4)
            .map(|i| {
                let user = match i % 4 {
                    0 => format!(r#","UserName":"user{i}""#),
                    _ => String::new(),
                };
                format!(
                    r#"{{"TimeGenerated":"2024-01-02T00:00:00Z","Computer":"c{}","RenderedDescription":"event {i}"{user}}}"#,
                    i % 3
                )
            })
            .collect();
        let mut batch = || {
            for l in &lines {
                d.push(&record_fields(l).unwrap(), &mut cells).unwrap();
            }
            one_day(d.flush())
        };
        let first = batch();
        let ty =
            |b: &RecordBatch, n: &str| b.schema().field_with_name(n).unwrap().data_type().clone();
        assert_eq!(ty(&first, "RenderedDescription"), DataType::Utf8);
        assert_eq!(ty(&first, "UserName"), DataType::Utf8);
        let judged =
            |b: &RecordBatch, n: &str| is_judged_distinct(b.schema().field_with_name(n).unwrap());
        assert!(judged(&first, "UserName"));
        assert!(!judged(&first, "Computer"));
        assert!(matches!(ty(&first, "Computer"), DataType::Dictionary(_, _)));
        assert_eq!(
            first
                .column(first.schema().index_of("RenderedDescription").unwrap())
                .as_string::<i32>()
                .value(7),
            "event 7"
        );
        // And stays plain in the batches after.
        let second = batch();
        assert_eq!(ty(&second, "RenderedDescription"), DataType::Utf8);
        assert!(judged(&second, "RenderedDescription"));
    }

    #[test]
    fn columns_given_in_some_records_only_hold_their_values_in_the_right_rows() {
        let (batch, errs) = decode(
            "Event",
            &[
                r#"{"TimeGenerated":"2024-01-02T00:00:00Z","Computer":"a","EventID":1}"#,
                r#"{"TimeGenerated":"2024-01-02T00:00:01Z"}"#,
                r#"{"TimeGenerated":"2024-01-02T00:00:02Z","Computer":"b","EventID":"bad"}"#,
                r#"{"TimeGenerated":"2024-01-02T00:00:03Z","EventID":3,"Computer":null}"#,
                r#"{"TimeGenerated":"2024-01-02T00:00:04Z","Computer":"a"}"#,
            ],
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(batch.num_rows(), 4);
        batch
            .columns()
            .iter()
            .for_each(|c| c.to_data().validate_full().unwrap());
        let col = |n: &str| batch.column(batch.schema().index_of(n).unwrap()).clone();
        let computer = cast(&col("Computer"), &DataType::Utf8).unwrap();
        let computer: Vec<Option<&str>> = computer.as_string::<i32>().iter().collect();
        assert_eq!(computer, vec![Some("a"), None, None, Some("a")]);
        let ids: Vec<Option<i32>> = col("EventID").as_primitive::<Int32Type>().iter().collect();
        assert_eq!(ids, vec![Some(1), None, Some(3), None]);
        assert_eq!(col("Source").null_count(), 4);
        // A string column no record filled has the type it would have had with values.
        assert_eq!(col("Source").data_type(), &DictKeys::data_type());
        assert_eq!(col("EventLevel").data_type(), &DataType::Int32);
    }

    #[test]
    fn keys_left_out_added_or_reordered_still_reach_their_columns() {
        let t = "\"TimeGenerated\":\"2024-01-02T00:00:00Z\"";
        let lines = [
            format!(r#"{{{t},"Computer":"a","EventID":1,"Source":"s1","EventLog":"l1"}}"#),
            format!(r#"{{{t},"EventID":2,"Source":"s2","EventLog":"l2"}}"#),
            format!(
                r#"{{{t},"Computer":"c","New":true,"EventID":3,"Source":"s3","EventLog":"l3"}}"#
            ),
            format!(r#"{{"EventLog":"l4","Source":"s4","EventID":4,"Computer":"d",{t}}}"#),
            format!(r#"{{{t},"Computer":"e","EventID":5,"Source":"s5","EventLog":"l5"}}"#),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (batch, errs) = decode("Event", &lines);
        assert!(errs.is_empty(), "{errs:?}");
        let col = |n: &str| {
            let c = batch.column(batch.schema().index_of(n).unwrap());
            let c = cast(c, &DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>()
        };
        let some = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(col("Source"), some(&["s1", "s2", "s3", "s4", "s5"]));
        assert_eq!(col("EventLog"), some(&["l1", "l2", "l3", "l4", "l5"]));
        assert_eq!(col("EventID"), some(&["1", "2", "3", "4", "5"]));
        let computer = col("Computer");
        assert_eq!(computer[1], None);
        assert_eq!(computer[3].as_deref(), Some("d"));
        assert_eq!(col("_extra")[2].as_deref(), Some(r#"{"New":true}"#));
    }

    /// Every column of `batch` as text, dictionaries and numbers alike.
    fn as_text(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
        (batch.columns().iter())
            .map(|c| {
                let c = cast(c, &DataType::Utf8).unwrap();
                let c = c.as_string::<i32>();
                c.iter().map(|v| v.map(str::to_string)).collect()
            })
            .collect()
    }

    proptest::proptest! {
        /// However records leave keys out, add or reorder them, one decoder (which learns
        /// the export's layout) stores what a new decoder per record stores.
        #[test]
        fn the_layout_never_changes_where_a_value_goes(
            records in proptest::collection::vec(
                (proptest::sample::subsequence((0..12).collect::<Vec<usize>>(), 0..12),
                 proptest::bool::weighted(0.2),
                 0u64..1000),
                1..40),
        ) {
            let keys = [
                "Computer", "EventID", "Type", "Source", "New", "EventLog", "UserName",
                "Other", "EventLevelName", "Extra2", "RenderedDescription", "EventLevel",
            ];
            let lines: Vec<String> = records
                .iter()
                .map(|(picked, reverse, seed)| {
                    let mut picked = picked.clone();
                    if *reverse {
                        picked.reverse();
                    }
                    let fields: Vec<String> = picked
                        .iter()
                        .map(|&k| match keys[k] {
                            "EventID" | "EventLevel" => format!(r#""{}":{}"#, keys[k], seed % 7),
                            key => format!(r#""{key}":"v{}""#, (seed + k as u64) % 5),
                        })
                        .collect();
                    let mut body = vec![r#""TimeGenerated":"2024-01-02T00:00:00Z""#.to_string()];
                    body.extend(fields);
                    if *seed % 3 == 0 {
                        body.rotate_left(1);
                    }
                    format!("{{{}}}", body.join(","))
                })
                .collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let (together, errs) = decode("Event", &lines);
            proptest::prop_assert!(errs.is_empty());
            let mut columns = vec![Vec::new(); together.num_columns()];
            for line in &lines {
                let (one, _) = decode("Event", &[line]);
                for (all, c) in columns.iter_mut().zip(as_text(&one)) {
                    all.extend(c);
                }
            }
            proptest::prop_assert_eq!(as_text(&together), columns);
        }
    }

    /// Records of several days, interleaved as exports interleave them.
    fn interleaved_days(records: &[(u8, u8, bool)]) -> Vec<String> {
        records
            .iter()
            .enumerate()
            .map(|(i, &(day, computer, user))| {
                let user = match user {
                    true => format!(r#","UserName":"user{i}""#),
                    false => String::new(),
                };
                format!(
                    r#"{{"TimeGenerated":"2024-01-{:02}T{:02}:00:00Z","Computer":"c{computer}","EventID":{i},"RenderedDescription":"event {i}"{user}}}"#,
                    day + 1,
                    i % 24
                )
            })
            .collect()
    }

    #[test]
    fn each_day_comes_out_as_a_batch_of_its_own_rows_in_input_order() {
        let records: Vec<(u8, u8, bool)> = (0..12)
            .map(|i| ((i * 5 % 3) as u8, (i % 2) as u8, i == 4))
            .collect();
        let lines = interleaved_days(&records);
        let mut d = TableDecoder::new(Catalog::builtin().get("Event").unwrap());
        for l in &lines {
            d.push(&record_fields(l).unwrap(), &mut Vec::new()).unwrap();
        }
        let batches = d.flush();
        assert_eq!(d.buffered_rows(), 0);
        assert_eq!(batches.len(), 3);
        for (day, batch) in batches.iter().enumerate() {
            assert!(Arc::ptr_eq(batch.schema_ref(), batches[0].schema_ref()));
            batch
                .columns()
                .iter()
                .for_each(|c| c.to_data().validate_full().unwrap());
            let ids: Vec<i32> = (batch.column_by_name("EventID").unwrap())
                .as_primitive::<Int32Type>()
                .values()
                .to_vec();
            let expected: Vec<i32> = (0..12).filter(|i| i * 5 % 3 == day as i32).collect();
            assert_eq!(ids, expected);
            let times = batch.column_by_name("TimeGenerated").unwrap();
            let times = times.as_primitive::<TimestampMicrosecondType>();
            assert!(
                times
                    .values()
                    .iter()
                    .all(|t| t.div_euclid(MICROS_PER_DAY)
                        == times.value(0).div_euclid(MICROS_PER_DAY))
            );
        }
        // `UserName`, given on one day only, is an all-null column on the others.
        let users: Vec<usize> = batches
            .iter()
            .map(|b| b.column_by_name("UserName").unwrap().null_count())
            .collect();
        assert_eq!(users, vec![4, 4, 3]);
        // A column of two values shares them between the days.
        let computers: Vec<&ArrayRef> = batches
            .iter()
            .map(|b| b.column_by_name("Computer").unwrap())
            .collect();
        let values = |c: &ArrayRef| c.as_any_dictionary().values().to_data().buffers()[1].as_ptr();
        assert_eq!(values(computers[0]), values(computers[2]));
    }

    proptest::proptest! {
        /// Rows decoded by day straight away hold what decoding each day's records apart holds
        /// (whether a column is a dictionary aside: that is judged on all the days together).
        #[test]
        fn decoding_days_together_stores_what_each_day_apart_stores(
            records in proptest::collection::vec((0u8..4, 0u8..40, proptest::bool::weighted(0.3)), 1..600),
        ) {
            let lines = interleaved_days(&records);
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let table = Catalog::builtin().get("Event").unwrap();
            let mut together = TableDecoder::new(table);
            for l in &lines {
                together.push(&record_fields(l).unwrap(), &mut Vec::new()).unwrap();
            }
            let together = together.flush();
            let mut days: Vec<u8> = records.iter().map(|r| r.0).collect();
            days.sort();
            days.dedup();
            proptest::prop_assert_eq!(together.len(), days.len());
            for (batch, day) in together.iter().zip(days) {
                let apart: Vec<&str> = (lines.iter().zip(&records))
                    .filter(|(_, r)| r.0 == day)
                    .map(|(l, _)| *l)
                    .collect();
                let (alone, _) = decode("Event", &apart);
                proptest::prop_assert_eq!(as_text(batch), as_text(&alone));
            }
        }
    }

    #[test]
    fn alias_fills_the_real_column_and_clashes_are_rejected() {
        let (batch, errs) = decode(
            "Update",
            &[
                r#"{"TimeGenerated":"2024-01-02T00:00:00Z","PublishDate":"2023-12-01T00:00:00Z"}"#,
                r#"{"TimeGenerated":"2024-01-02T00:00:00Z","PublishDate":"2023-12-01T00:00:00Z","PublishedDate":"2023-12-02T00:00:00Z"}"#,
            ],
        );
        assert_eq!(batch.num_rows(), 1);
        assert!(!batch
            .column(batch.schema().index_of("PublishedDate").unwrap())
            .is_null(0));
        assert_eq!(errs.len(), 1);
    }
}
