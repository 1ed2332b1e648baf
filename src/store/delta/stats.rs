//! File statistics for `add` actions, so that Delta readers skip files: `numRecords`, and
//! `minValues`, `maxValues`, `nullCount` per column, from the Parquet footer.

use std::path::Path;

use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use serde_json::{json, Map, Value};

use crate::schema::{ColumnType, TableSchema, TIME_COLUMN};
use crate::store::DataFile;

/// Timestamps as Delta readers parse them, to the millisecond: the minimum rounded down and
/// the maximum up, so that both stay bounds of microsecond values.
pub fn timestamp_bound(micros: i64, up: bool) -> String {
    let millis = match up {
        false => micros.div_euclid(1000),
        true => micros.div_euclid(1000) + i64::from(micros.rem_euclid(1000) != 0),
    };
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Parse what [`timestamp_bound`] writes (or any RFC 3339 time) back to microseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    crate::time::parse_datetime(text).ok()
}

/// The stats JSON of `file`: what the log knows (rows, time bounds) always; per-column bounds
/// and null counts from the footer when the file can be read.
pub fn file_stats(root: &Path, table: &TableSchema, file: &DataFile) -> String {
    let reader = std::fs::File::open(root.join(&file.path))
        .map_err(|e| e.to_string())
        .and_then(|f| SerializedFileReader::new(f).map_err(|e| e.to_string()));
    let meta = reader.as_ref().ok().map(|r| r.metadata());
    stats_json(table, meta, file.rows, (file.min_time, file.max_time))
}

/// The stats JSON of a file of `rows` rows whose `TimeGenerated` spans `times`, with per-column
/// bounds and null counts from its footer's metadata when there is one. A file just written
/// passes the metadata its writer put in the footer, so the commit reads no footer back.
pub fn stats_json(
    table: &TableSchema,
    meta: Option<&ParquetMetaData>,
    rows: u64,
    (min_time, max_time): (i64, i64),
) -> String {
    let mut min = Map::new();
    let mut max = Map::new();
    let mut nulls = Map::new();
    if let Some(meta) = meta {
        for (i, column) in table.columns.iter().enumerate() {
            let mut bounds: Option<(Value, Value)> = None;
            let mut exact = true;
            let mut null_count = 0u64;
            let mut counted = true;
            for rg in meta.row_groups() {
                let Some(stats) = rg.columns().get(i).and_then(|c| c.statistics()) else {
                    exact = false;
                    counted = false;
                    continue;
                };
                match stats.null_count_opt() {
                    Some(n) => null_count += n,
                    None => counted = false,
                }
                let all_null = stats.null_count_opt() == Some(rg.num_rows() as u64);
                match (value_bounds(stats, column.ty), all_null) {
                    (Some((lo, hi)), _) => {
                        bounds = Some(match bounds {
                            None => (lo, hi),
                            Some((a, b)) => (smaller(a, lo), larger(b, hi)),
                        })
                    }
                    (None, true) => {}
                    (None, false) => exact = false,
                }
            }
            if counted {
                nulls.insert(column.name.clone(), json!(null_count));
            }
            if let (Some((lo, hi)), true) = (bounds, exact) {
                if column.name != TIME_COLUMN {
                    min.insert(column.name.clone(), lo);
                    max.insert(column.name.clone(), hi);
                }
            }
        }
    }
    if rows > 0 {
        min.insert(TIME_COLUMN.into(), json!(timestamp_bound(min_time, false)));
        max.insert(TIME_COLUMN.into(), json!(timestamp_bound(max_time, true)));
    }
    json!({
        "numRecords": rows,
        "minValues": min,
        "maxValues": max,
        "nullCount": nulls,
    })
    .to_string()
}

/// A column chunk's bounds as Delta stats values, for the types whose order readers share.
fn value_bounds(stats: &Statistics, ty: ColumnType) -> Option<(Value, Value)> {
    match (stats, ty) {
        (Statistics::Int32(s), ColumnType::Int) => {
            Some((json!(*s.min_opt()?), json!(*s.max_opt()?)))
        }
        (Statistics::Int64(s), ColumnType::Long) => {
            Some((json!(*s.min_opt()?), json!(*s.max_opt()?)))
        }
        (Statistics::Int64(s), ColumnType::Datetime) => Some((
            json!(timestamp_bound(*s.min_opt()?, false)),
            json!(timestamp_bound(*s.max_opt()?, true)),
        )),
        (Statistics::Double(s), ColumnType::Real) => {
            let (lo, hi) = (*s.min_opt()?, *s.max_opt()?);
            (lo.is_finite() && hi.is_finite()).then(|| (json!(lo), json!(hi)))
        }
        (Statistics::ByteArray(s), ColumnType::String | ColumnType::Dynamic) => {
            // A truncated maximum has been raised by the writer: still a bound.
            let lo = std::str::from_utf8(s.min_opt()?.data()).ok()?;
            let hi = std::str::from_utf8(s.max_opt()?.data()).ok()?;
            Some((json!(lo), json!(hi)))
        }
        _ => None,
    }
}

fn smaller(a: Value, b: Value) -> Value {
    match compare(&a, &b) {
        std::cmp::Ordering::Greater => b,
        _ => a,
    }
}

fn larger(a: Value, b: Value) -> Value {
    match compare(&a, &b) {
        std::cmp::Ordering::Less => b,
        _ => a,
    }
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, RecordBatch};

    use super::*;
    use crate::schema::Catalog;
    use crate::store::buffer::tests::event_batch;
    use crate::store::buffer::write_sorted_file;

    /// The stats a commit takes from its writers are the ones its files' footers give.
    #[test]
    fn stats_of_a_file_just_written_are_those_its_footer_gives() {
        let table = Catalog::builtin().get("Event").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rel = "Event/date=1970-01-01/part-0-0.parquet";
        let with_ids = |times: &[i64], ids: Vec<Option<i32>>| {
            let batch = event_batch(times);
            let mut columns = batch.columns().to_vec();
            columns[table.column_index("EventID").unwrap()] = Arc::new(Int32Array::from(ids));
            RecordBatch::try_new(batch.schema(), columns).unwrap()
        };
        let batches = vec![
            with_ids(&[5_500, 1_001, 9_999], vec![Some(7), None, Some(-3)]),
            with_ids(&[4_000, 2_000], vec![Some(40), None]),
        ];
        let w = write_sorted_file(&dir.path().join(rel), table, &batches).unwrap();
        let file = DataFile {
            table: "Event".into(),
            path: rel.into(),
            rows: w.rows,
            bytes: w.bytes,
            min_time: w.min_time,
            max_time: w.max_time,
        };
        let read = file_stats(dir.path(), table, &file);
        assert_eq!(w.delta_stats, read);
        let stats: Value = serde_json::from_str(&read).unwrap();
        assert_eq!(stats["numRecords"], 5);
        assert_eq!(stats["minValues"]["EventID"], -3);
        assert_eq!(stats["maxValues"]["EventID"], 40);
        assert_eq!(stats["nullCount"]["EventID"], 2);
        assert_eq!(stats["minValues"]["Computer"], "c1001");
        assert_eq!(
            stats["maxValues"]["TimeGenerated"],
            "1970-01-01T00:00:00.010Z"
        );
    }

    #[test]
    fn timestamp_bounds_round_outwards_to_milliseconds() {
        assert_eq!(timestamp_bound(1_500, false), "1970-01-01T00:00:00.001Z");
        assert_eq!(timestamp_bound(1_500, true), "1970-01-01T00:00:00.002Z");
        assert_eq!(timestamp_bound(2_000, true), "1970-01-01T00:00:00.002Z");
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.002Z"), Some(2_000));
    }
}
