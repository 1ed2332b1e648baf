//! Per-table push decoder: typed records in, Arrow `RecordBatch`es out. Does no I/O.
//!
//! A record is coerced completely before any builder is touched, so a rejected record leaves
//! no partial row behind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::coerce::{coerce, minify, Cell, InValue};
use super::dict::{DictBuilder, MAX_VALUES};
use super::key_slots::KeySlots;
use crate::nulls;
use crate::schema::{ColumnType, TableSchema, TIME_COLUMN, TYPE_COLUMN};

/// Why a record could not be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub column: Option<String>,
    pub reason: String,
}

enum Builder {
    Str(StringBuilder),
    Dict(DictBuilder),
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Ts(TimestampMicrosecondBuilder),
}

impl Builder {
    /// A builder with room for `rows` values (and `bytes` of string data), so that filling
    /// it does not grow and copy its buffers over and over.
    fn new(ty: ColumnType, dictionary: bool, rows: usize, bytes: usize) -> Builder {
        match ty {
            ColumnType::String if dictionary => Builder::Dict(DictBuilder::with_capacity(rows)),
            ColumnType::String | ColumnType::Dynamic => {
                Builder::Str(StringBuilder::with_capacity(rows, bytes))
            }
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnType::Int => Builder::I32(Int32Builder::with_capacity(rows)),
            ColumnType::Long => Builder::I64(Int64Builder::with_capacity(rows)),
            ColumnType::Real => Builder::F64(Float64Builder::with_capacity(rows)),
            ColumnType::Datetime => {
                Builder::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
        }
    }

    /// Bytes of string data held (0 for other types).
    fn data_bytes(&self) -> usize {
        match self {
            Builder::Str(b) => b.values_slice().len(),
            // A dictionary's distinct values are few, and grown as needed.
            _ => 0,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        match self {
            Builder::Str(b) => b.len(),
            Builder::Dict(b) => b.len(),
            Builder::Bool(b) => b.len(),
            Builder::I32(b) => b.len(),
            Builder::I64(b) => b.len(),
            Builder::F64(b) => b.len(),
            Builder::Ts(b) => b.len(),
        }
    }

    /// Nulls up to `rows` values: rows that had no value here.
    #[inline]
    fn fill_to(&mut self, rows: usize) {
        let n = rows - self.len();
        if n == 0 {
            return;
        }
        match self {
            Builder::Str(b) => b.append_nulls(n),
            Builder::Dict(b) => b.append_nulls(n),
            Builder::Bool(b) => b.append_nulls(n),
            Builder::I32(b) => b.append_nulls(n),
            Builder::I64(b) => b.append_nulls(n),
            Builder::F64(b) => b.append_nulls(n),
            Builder::Ts(b) => b.append_nulls(n),
        }
    }

    #[inline]
    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (Builder::Str(b), Cell::Str(s)) => b.append_value(s),
            (Builder::Dict(b), Cell::Str(s)) => b.append(s),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Builder::I32(b), Cell::I32(v)) => b.append_value(*v),
            (Builder::I64(b), Cell::I64(v)) => b.append_value(*v),
            (Builder::F64(b), Cell::F64(v)) => b.append_value(*v),
            (Builder::Ts(b), Cell::Micros(v)) => b.append_value(*v),
            (_, cell) => unreachable!("coerce returned {cell:?} for another column type"),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Str(mut b) => Arc::new(b.finish()),
            Builder::Dict(b) => b.finish(),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::I32(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Ts(mut b) => Arc::new(b.finish()),
        }
    }
}

pub struct TableDecoder {
    schema: &'static TableSchema,
    builders: Vec<Builder>,
    /// String columns buffered as dictionaries: most repeat a few values (computer, update,
    /// tenant), and as indices they take a fraction of the memory, so a byte budget holds
    /// several times more rows, and gathering them moves indices instead of text. A column
    /// whose values turn out to be mostly distinct goes back to plain strings.
    dictionary: Vec<bool>,
    /// String columns turned back to plain strings: their fields say so (`JUDGED_DISTINCT`).
    judged_distinct: Vec<bool>,
    rows: usize,
    /// Values (rows) in each builder.
    lens: Vec<usize>,
    time: usize,
    type_col: usize,
    extra: usize,
    /// Columns the record being pushed has a value for. Only those builders are appended to;
    /// the others catch up with a run of nulls when next given a value, or at flush (most of
    /// OfficeActivity's 146 columns are empty in any one record).
    given: Vec<usize>,
    /// Where each key seen so far goes.
    slots: KeySlots<Slot>,
    /// The last batch's schema, given again to a batch of the same: the store compares the
    /// schemas of a partition's batches, and one `Arc` compares at once.
    last_schema: Option<SchemaRef>,
    /// Values and distinct values of each dictionary column in the batches flushed since the
    /// last [`settle`](Self::settle).
    unjudged: Vec<(usize, usize)>,
    /// Columns turned to plain strings since the last settle: the parts before are cast then.
    turned: Vec<bool>,
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
        let dictionary: Vec<bool> = (0..schema.columns.len())
            .map(|i| Some(i) != unique_key)
            .collect();
        TableDecoder {
            schema,
            builders: schema
                .columns
                .iter()
                .zip(&dictionary)
                .map(|(c, &d)| Builder::new(c.ty, d, 1024, 0))
                .collect(),
            judged_distinct: vec![false; dictionary.len()],
            dictionary,
            given: Vec::new(),
            rows: 0,
            lens: vec![0; schema.columns.len()],
            time: schema.time_index(),
            type_col: schema.type_index(),
            extra: schema.extra_index(),
            slots: KeySlots::new(),
            last_schema: None,
            unjudged: vec![(0, 0); schema.columns.len()],
            turned: vec![false; schema.columns.len()],
        }
    }

    pub fn schema(&self) -> &'static TableSchema {
        self.schema
    }

    pub fn buffered_rows(&self) -> usize {
        self.rows
    }

    /// Decode one record into the buffered batch, or say why it cannot be stored.
    pub fn push<'a>(
        &mut self,
        fields: &[(Cow<'a, str>, InValue<'a>)],
        cells: &mut Vec<Cell<'a>>,
    ) -> Result<(), RecordError> {
        cells.clear();
        cells.resize(self.builders.len(), Cell::Null);
        self.given.clear();
        self.slots.start_record();
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
        if cells[self.time] == Cell::Null {
            return Err(RecordError {
                column: Some(TIME_COLUMN.into()),
                reason: "missing TimeGenerated".into(),
            });
        }
        cells[self.type_col] = Cell::Str(Cow::Borrowed(self.schema.name.as_str()));
        self.given.push(self.type_col);
        if let Some(mut e) = extra {
            e.push('}');
            cells[self.extra] = Cell::Str(Cow::Owned(e));
            self.given.push(self.extra);
        }
        for &i in &self.given {
            let b = &mut self.builders[i];
            // Counted here rather than asked of the builder: `len` is a match per cell.
            if self.lens[i] < self.rows {
                b.fill_to(self.rows);
            }
            b.append(&cells[i]);
            self.lens[i] = self.rows + 1;
        }
        self.rows += 1;
        Ok(())
    }

    /// Where `key`, the record's next key, goes.
    #[inline]
    fn slot(&mut self, key: &str) -> Slot {
        if let Some(slot) = self.slots.get(key) {
            return slot;
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
        // Held for the next record, unless the table is full (records bringing ever new keys):
        // such keys are looked up by name each time.
        self.slots.insert(key, slot);
        slot
    }

    /// The buffered rows as a batch (empty builders afterwards). String columns come as
    /// `Dictionary(UInt16, Utf8)` or `Utf8` (see `dictionary`), so a batch's schema is the
    /// table's up to that. A dictionary column is judged on this batch's values alone.
    pub fn flush(&mut self) -> RecordBatch {
        let mut parts = vec![self.flush_part()];
        self.settle(&mut parts);
        parts.pop().expect("one part")
    }

    /// The buffered rows as a batch, like [`flush`](Self::flush), except that a dictionary
    /// column with too few values so far (since the last [`settle`](Self::settle)) to judge is
    /// left for `settle` to judge with the other parts of its piece: a part holds one day of a
    /// piece, often too few values to judge alone. One with enough is judged now, so that the
    /// rest of the piece is decoded as plain strings.
    pub fn flush_part(&mut self) -> RecordBatch {
        let rows = self.rows;
        let mut fields = Vec::with_capacity(self.builders.len());
        let mut arrays = Vec::with_capacity(self.builders.len());
        for (i, c) in self.schema.columns.iter().enumerate() {
            let given = self.builders[i].len() > 0;
            let mut turn = false;
            if let Builder::Dict(d) = &self.builders[i] {
                let (values, distinct) = &mut self.unjudged[i];
                (*values, *distinct) = (*values + d.values(), *distinct + d.distinct());
                turn = given && mostly_distinct(*values, *distinct);
            }
            if turn {
                self.turn_plain(i, 0);
            }
            // The next batch will most likely be like this one: size the new builders for it
            // (a column this batch never filled gets no room).
            let bytes = self.builders[i].data_bytes();
            let room = if given { rows } else { 0 };
            let next = Builder::new(c.ty, self.dictionary[i], room, bytes);
            let mut done = std::mem::replace(&mut self.builders[i], next);
            let field = self.schema.arrow_schema().field(i).clone();
            if !given {
                // Nothing to finish: one shared all-null column (see `nulls`).
                let ty = match done {
                    Builder::Dict(_) => DictBuilder::data_type(),
                    _ => field.data_type().clone(),
                };
                arrays.push(nulls::shared(&ty, rows));
                fields.push(field.with_data_type(ty));
                continue;
            }
            done.fill_to(rows);
            let mut array = done.finish();
            if turn {
                array = cast(&array, &DataType::Utf8).expect("dictionary of strings");
            }
            // Builders are sized for the last batch, and a day of a piece is smaller or larger
            // than the last day: room left over would be counted against the store's buffer
            // (and held) until the rows are written.
            array.shrink_to_fit();
            let field = field.with_data_type(array.data_type().clone());
            fields.push(match self.judged_distinct[i] {
                true => judged_distinct(field),
                false => field,
            });
            arrays.push(array);
        }
        self.rows = 0;
        self.lens.fill(0);
        let schema = self.shared_schema(fields);
        RecordBatch::try_new(schema, arrays).expect("builders follow the schema")
    }

    /// Judge the dictionary columns of `parts` (the batches flushed since the last settle) on
    /// their values together: a column with mostly distinct values goes back to plain strings,
    /// in these parts and in the batches to come.
    pub fn settle(&mut self, parts: &mut [RecordBatch]) {
        for i in 0..self.builders.len() {
            let (values, distinct) = self.unjudged[i];
            if self.dictionary[i] && mostly_distinct(values, distinct) {
                self.turn_plain(i, parts.last().map_or(0, |p| p.num_rows()));
            }
        }
        self.unjudged.fill((0, 0));
        let turned: Vec<usize> = (0..self.turned.len()).filter(|&i| self.turned[i]).collect();
        self.turned.fill(false);
        if turned.is_empty() {
            return;
        }
        for part in parts.iter_mut() {
            let mut fields: Vec<Field> = (part.schema().fields().iter())
                .map(|f| f.as_ref().clone())
                .collect();
            let mut columns = part.columns().to_vec();
            for &i in &turned {
                columns[i] = match columns[i].data_type() {
                    DataType::Utf8 => continue, // flushed after the column was judged
                    _ if nulls::all_null(columns[i].as_ref()) => {
                        nulls::shared(&DataType::Utf8, part.num_rows())
                    }
                    _ => cast(&columns[i], &DataType::Utf8).expect("dictionary of strings"),
                };
                fields[i] = judged_distinct(fields[i].clone().with_data_type(DataType::Utf8));
            }
            let schema = self.shared_schema(fields);
            *part = RecordBatch::try_new(schema, columns).expect("columns follow the schema");
        }
    }

    /// Column `i` as plain strings from now on, and in the parts flushed before once they
    /// settle. A dictionary builder holding rows is the caller's to convert; an empty one is
    /// replaced by a plain one with room for `rows`.
    fn turn_plain(&mut self, i: usize, rows: usize) {
        self.dictionary[i] = false;
        self.judged_distinct[i] = true;
        self.turned[i] = true;
        if self.builders[i].len() == 0 {
            self.builders[i] = Builder::new(self.schema.columns[i].ty, false, rows, 0);
        }
    }

    /// The last batch's schema when `fields` are its fields, else a new one.
    fn shared_schema(&mut self, fields: Vec<Field>) -> SchemaRef {
        let schema = match &self.last_schema {
            Some(last) if last.fields().iter().map(|f| f.as_ref()).eq(&fields) => last.clone(),
            _ => Arc::new(Schema::new(fields)),
        };
        self.last_schema = Some(schema.clone());
        schema
    }
}

/// Whether a dictionary column whose batches held `values` values, `distinct` of them
/// distinct (counted per batch), is better as plain strings. Judged on the values, not the
/// rows: a sparse column of distinct values (most of OfficeActivity's) gains nothing from a
/// dictionary either.
fn mostly_distinct(values: usize, distinct: usize) -> bool {
    values >= MIN_VALUES_TO_JUDGE && distinct * 2 > values
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

/// Rows a batch may hold: its dictionaries then have at most 2^16 values, so their keys
/// take two bytes a row.
pub const MAX_BATCH_ROWS: usize = MAX_VALUES;

/// Values a batch needs before a dictionary column with mostly distinct values is judged
/// unsuitable (a few values say little about a column).
pub(super) const MIN_VALUES_TO_JUDGE: usize = 256;

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
        (d.flush(), errs)
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
            d.flush()
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
            d.flush()
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
        assert_eq!(col("Source").data_type(), &DictBuilder::data_type());
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
        /// the export's keys) stores what a new decoder per record stores.
        #[test]
        fn the_keys_seen_never_change_where_a_value_goes(
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
