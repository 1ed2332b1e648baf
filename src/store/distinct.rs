//! Whether a column is worth a Parquet dictionary: not when most of its values are distinct.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, SchemaRef};

use crate::ingest::decoder::is_judged_distinct;
use crate::nulls;

/// Values of a column sampled before it is counted (see `mostly_distinct`).
const DISTINCT_SAMPLE: usize = 512;

/// Values sampled of a column the decoder judged already (each batch on its own): enough to
/// find batches that repeat a few dozen values between them. Values repeated more thinly
/// between batches go unseen, as they mostly did with the full sample; zstd then takes most
/// of what a dictionary would have saved. Each sampled value is a cache miss (the rows were
/// decoded long before), and the columns judged are most of the strings written.
const JUDGED_SAMPLE: usize = 64;

/// Whether column `i` holds plain strings or numbers of which more than half are distinct, so
/// that a Parquet dictionary would only add a page before the values. The decoder hands such
/// string columns over as plain strings already (the same rule, over one batch); a file read
/// back for compaction has every column plain, and numbers are never dictionaries in memory.
///
/// A sample that repeats values settles it cheaply; one that does not (a sample cannot tell a
/// column of distinct values from one of a few thousand, each repeated) is followed by a count
/// of the whole column, which stops once half the values were distinct, unless the decoder
/// counted them already: a column it turned to plain strings in every batch
/// (`JUDGED_DISTINCT`) is taken as judged once a smaller sample agrees.
pub fn mostly_distinct(batches: &[RecordBatch], i: usize) -> bool {
    let Some(columns) = batches
        .iter()
        .map(|b| Countable::of(b.column(i).as_ref()))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let values: usize = columns
        .iter()
        .map(|c| c.array.len() - c.array.null_count())
        .sum();
    if values < 64 {
        return false;
    }
    // (distinct, values seen) among every `step`-th row, stopping once more than `stop` are
    // distinct.
    let distinct = |step: usize, stop: usize| -> (usize, usize) {
        let mut seen = hashbrown::HashSet::with_capacity_and_hasher(
            stop.min(values) + 1,
            ahash::RandomState::with_seeds(5, 6, 7, 8),
        );
        let (mut at, mut visited) = (0usize, 0usize);
        for c in &columns {
            let len = c.array.len();
            while at < len {
                if c.array.is_valid(at) {
                    visited += 1;
                    seen.insert(c.key(at));
                    if seen.len() > stop {
                        return (seen.len(), visited);
                    }
                }
                at += step;
            }
            at -= len;
        }
        (seen.len(), visited)
    };
    let rows: usize = columns.iter().map(|c| c.array.len()).sum();
    let judged = judged_distinct(batches, i);
    let sample = match judged {
        true => JUDGED_SAMPLE,
        false => DISTINCT_SAMPLE,
    };
    let step = rows.div_ceil(sample).max(1);
    if step > 1 {
        let (d, visited) = distinct(step, sample);
        if d * 2 <= visited {
            return false;
        }
        if judged {
            return true;
        }
    }
    distinct(1, values / 2).0 * 2 > values
}

/// Whether every batch with values in column `i` has it as strings the decoder judged mostly
/// distinct.
fn judged_distinct(batches: &[RecordBatch], i: usize) -> bool {
    let mut any = false;
    // Batches alike share their schema (see `TableDecoder::flush`): one look at its field.
    let mut judged: Option<&SchemaRef> = None;
    for b in batches.iter() {
        if nulls::all_null(b.column(i).as_ref()) {
            continue;
        }
        any = true;
        if judged.is_some_and(|s| Arc::ptr_eq(s, b.schema_ref())) {
            continue;
        }
        if !is_judged_distinct(b.schema_ref().field(i)) {
            return false;
        }
        judged = Some(b.schema_ref());
    }
    any
}

/// A column `mostly_distinct` can count: each value as a 64-bit key (strings by their hash).
struct Countable<'a> {
    array: &'a dyn Array,
    kind: CountableKind<'a>,
}

enum CountableKind<'a> {
    Str(&'a arrow::array::StringArray, ahash::RandomState),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F64(&'a [f64]),
}

impl<'a> Countable<'a> {
    fn of(array: &'a dyn Array) -> Option<Countable<'a>> {
        let kind = match array.data_type() {
            DataType::Utf8 => CountableKind::Str(
                array.as_string::<i32>(),
                ahash::RandomState::with_seeds(1, 2, 3, 4),
            ),
            DataType::Int32 => CountableKind::I32(array.as_primitive::<Int32Type>().values()),
            DataType::Int64 => CountableKind::I64(array.as_primitive::<Int64Type>().values()),
            DataType::Float64 => CountableKind::F64(array.as_primitive::<Float64Type>().values()),
            _ => return None,
        };
        Some(Countable { array, kind })
    }

    #[inline]
    fn key(&self, row: usize) -> u64 {
        match &self.kind {
            CountableKind::Str(s, hasher) => hasher.hash_one(s.value(row)),
            CountableKind::I32(v) => v[row] as u64,
            CountableKind::I64(v) => v[row] as u64,
            CountableKind::F64(v) => v[row].to_bits(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray};

    use super::*;
    use crate::schema::Catalog;
    use crate::store::buffer::tests::event_batch;
    use crate::store::buffer::write_sorted_file;

    /// Distinct strings and numbers are written PLAIN; repeating ones keep a dictionary.
    #[test]
    fn mostly_distinct_columns_are_written_without_a_dictionary() {
        let table = Catalog::builtin().get("Event").unwrap();
        let times: Vec<i64> = (0..20_000).collect();
        let mut batch = event_batch(&times);
        let mut columns = batch.columns().to_vec();
        let set = |columns: &mut Vec<ArrayRef>, name: &str, a: ArrayRef| {
            columns[table.column_index(name).unwrap()] = a;
        };
        // `Computer` is distinct already (`c{t}`); `Source` repeats five values; `EventID`
        // is distinct; `EventLevel` repeats; `UserName` is distinct in one row of four;
        // `_BilledSize` takes 2,000 values scattered over the rows, so that a sample of the
        // column looks distinct and only the count tells.
        set(
            &mut columns,
            "Source",
            Arc::new(StringArray::from_iter_values(
                times.iter().map(|t| format!("s{}", t % 5)),
            )),
        );
        set(
            &mut columns,
            "EventID",
            Arc::new(arrow::array::Int32Array::from_iter_values(
                times.iter().map(|t| *t as i32),
            )),
        );
        set(
            &mut columns,
            "EventLevel",
            Arc::new(arrow::array::Int32Array::from_iter_values(
                times.iter().map(|t| (*t % 3) as i32),
            )),
        );
        set(
            &mut columns,
            "UserName",
            Arc::new(StringArray::from_iter(
                times.iter().map(|t| (t % 4 == 0).then(|| format!("u{t}"))),
            )),
        );
        set(
            &mut columns,
            "_BilledSize",
            Arc::new(arrow::array::Float64Array::from_iter_values(
                times.iter().map(|t| {
                    ((*t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 % 2000.0
                }),
            )),
        );
        batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Event/date=1970-01-01/part.parquet");
        // In two batches, so the sample crosses from one to the next.
        write_sorted_file(
            &path,
            table,
            &[batch.slice(0, 7000), batch.slice(7000, 13_000)],
        )
        .unwrap();
        let meta =
            parquet::file::reader::SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        use parquet::file::reader::FileReader;
        let group = meta.metadata().row_group(0);
        let has_dictionary = |name: &str| {
            group
                .column(table.column_index(name).unwrap())
                .dictionary_page_offset()
                .is_some()
        };
        for name in ["Computer", "EventID", "UserName"] {
            assert!(!has_dictionary(name), "{name}");
        }
        for name in ["Source", "EventLevel", "_BilledSize"] {
            assert!(has_dictionary(name), "{name}");
        }
    }

    /// A string column the decoder judged mostly distinct is not counted again: a small
    /// sample agreeing is enough. Without the decoder's word, the count finds the repeats.
    #[test]
    fn the_decoders_judgement_spares_the_count() {
        let table = Catalog::builtin().get("Event").unwrap();
        let times: Vec<i64> = (0..20_000).collect();
        let i = table.column_index("UserName").unwrap();
        // 2,000 values scattered over the rows: a sample looks distinct, the count does not.
        let users = StringArray::from_iter_values(times.iter().map(|t| {
            format!(
                "u{}",
                ((*t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2000
            )
        }));
        let with_users = |judged: bool| {
            let batch = event_batch(&times);
            let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
            let field = fields[i].as_ref().clone();
            fields[i] = Arc::new(match judged {
                true => crate::ingest::decoder::judged_distinct(field),
                false => field,
            });
            let mut columns = batch.columns().to_vec();
            columns[i] = Arc::new(users.clone());
            RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap()
        };
        assert!(mostly_distinct(&[with_users(true)], i));
        assert!(!mostly_distinct(&[with_users(false)], i));
        // One batch without the judgement is enough to count.
        assert!(!mostly_distinct(&[with_users(true), with_users(false)], i));
        // Batches judged one by one that repeat a few values between them: the sample sees it.
        let few = StringArray::from_iter_values(times.iter().map(|t| format!("u{}", t % 20)));
        let mut columns = with_users(true).columns().to_vec();
        columns[i] = Arc::new(few);
        let repeating = RecordBatch::try_new(with_users(true).schema(), columns).unwrap();
        assert!(!mostly_distinct(&[repeating.clone(), repeating], i));
    }
}
