//! Rows an ingest has accepted but not yet written: held per day partition within a byte
//! budget. A partition becomes one well-compressed file per run when the budget holds the
//! input; beyond that the largest partition is written out whenever the budget is reached, so
//! memory stays bounded whatever the input size.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::{cast, concat, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow_select::dictionary::garbage_collect_any_dictionary;

use super::dedup::KeySpec;
use super::delta::stats;
use super::distinct::mostly_distinct;
use super::parquet_file::ParquetFile;
use super::writer::{parquet_err, writer_properties};
use super::StoreError;
use crate::nulls;
use crate::schema::TableSchema;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Bytes of Arrow data buffered across all partitions of a transaction, together with the
/// dedup keys of those partitions, when the caller does not choose (the ingest command does:
/// `default_budget`).
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// The ingest command's buffer for inputs larger than `SMALL_INPUT`, or of unknown size
/// (stdin). Such an input's rows do not fit a buffer that keeps the process under 512 MB
/// anyway, so most wait on disk whatever the buffer: a larger one only raised the peak (while
/// the governor caught up) and saved no time (bench/NOTES.md, twelfth session).
pub const LARGE_INPUT_BUDGET: usize = 192 << 20;

/// The ingest command's buffer for inputs of at most `SMALL_INPUT`: enough that their rows
/// wait for their files in memory, which saves the spill's CPU and time (bench/NOTES.md).
pub const SMALL_INPUT_BUDGET: usize = 384 << 20;

/// Input bytes up to which an ingest takes `SMALL_INPUT_BUDGET` by default.
pub const SMALL_INPUT: u64 = 640 << 20;

/// The buffer for an ingest of `input` bytes (`None`: not known, as from stdin).
pub fn default_budget(input: Option<u64>) -> usize {
    match input {
        Some(bytes) if bytes <= SMALL_INPUT => SMALL_INPUT_BUDGET,
        _ => LARGE_INPUT_BUDGET,
    }
}

/// Bytes written to a Parquet file at a time.
const FILE_WRITE_BYTES: usize = 128 << 10;

/// Rows of one column gathered and written to the Parquet writer at a time.
const WRITE_CHUNK_ROWS: usize = 64 * 1024;

/// The rows of one decoded batch that fall on one UTC day, with their natural-key hashes.
pub struct DayBatch {
    pub day: i64,
    pub batch: RecordBatch,
    pub hashes: Vec<u128>,
}

/// Split a decoded batch by UTC day of `TimeGenerated` and hash each row's natural key.
///
/// Needs no transaction state, so ingest runs it on the decoding threads. Every returned batch
/// owns its memory (no slice keeps a larger parent alive), so the budget's accounting holds;
/// only small dictionaries are shared between a batch's days (see `take_rows`).
pub fn split_days(table: &TableSchema, batch: RecordBatch) -> Result<Vec<DayBatch>, StoreError> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let times = batch
        .column(table.time_index())
        .as_primitive::<TimestampMicrosecondType>();
    let days: Vec<i64> = times
        .values()
        .iter()
        .map(|t| t.div_euclid(MICROS_PER_DAY))
        .collect();
    let spec = KeySpec::new(table);
    if days.iter().all(|d| *d == days[0]) {
        let hashes = spec.row_hashes(&batch);
        return Ok(vec![DayBatch {
            day: days[0],
            batch,
            hashes,
        }]);
    }
    // Group the row numbers by day (stable: input order within a day), one gather per day.
    // A batch spans a few days: index buckets by day rather than look up a map per row.
    let first = *days.iter().min().expect("rows");
    let last = *days.iter().max().expect("rows");
    let by_day: Vec<(i64, Vec<u32>)> = if last - first < 4096 {
        let mut buckets = vec![Vec::new(); (last - first + 1) as usize];
        for (row, day) in days.iter().enumerate() {
            buckets[(day - first) as usize].push(row as u32);
        }
        (first..)
            .zip(buckets)
            .filter(|(_, rows)| !rows.is_empty())
            .collect()
    } else {
        let mut map: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (row, day) in days.iter().enumerate() {
            map.entry(*day).or_default().push(row as u32);
        }
        map.into_iter().collect()
    };
    by_day
        .into_iter()
        .map(|(day, rows)| {
            let part = take_rows(&batch, &UInt32Array::from(rows)).map_err(parquet_err)?;
            let hashes = spec.row_hashes(&part);
            Ok(DayBatch {
                day,
                batch: part,
                hashes,
            })
        })
        .collect()
}

/// `take_record_batch`, except that all-null columns (most of OfficeActivity's, in practice)
/// are made rather than gathered.
fn take_rows(batch: &RecordBatch, rows: &UInt32Array) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .map(
            |c| match (nulls::all_null(c.as_ref()), c.as_any_dictionary_opt()) {
                (true, _) => Ok(nulls::shared(c.data_type(), rows.len())),
                // A gathered dictionary shares its parent's values; keep only those its rows use,
                // so each day's rows own their memory. Unless the values are small next to the
                // rows' keys (a column of few values): then sharing them is cheaper than
                // copying, and counting them once per day overstates the buffer only a little.
                (false, Some(_)) => {
                    let part = take(c, rows, None)?;
                    let dict = part.as_any_dictionary();
                    let keys = dict.keys().get_buffer_memory_size();
                    match dict.values().get_array_memory_size() * 4 <= keys {
                        true => Ok(part),
                        false => garbage_collect_any_dictionary(dict),
                    }
                }
                (false, None) => take(c, rows, None),
            },
        )
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    with_columns(batch, columns, rows.len())
}

fn with_columns(
    like: &RecordBatch,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, ArrowError> {
    with_columns_of(&like.schema(), columns, rows)
}

fn with_columns_of(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, ArrowError> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options)
}

/// The batches of one partition with one schema. Decoded batches hold string columns as
/// dictionaries or as plain strings (see `TableDecoder`), and the choice can differ between
/// batches (each decoder judges a column on its own piece). Where it does, the column becomes
/// a dictionary in all of them, each batch with its own: casting the dictionaries to plain
/// strings instead turned a column of a few long repeating values from two bytes a row into
/// its whole length, and took a commit reading such rows back past its memory (bench/NOTES.md,
/// twelfth session). Unless a batch has more rows than a key can number (none the decoders
/// make): then plain strings. Either way the Parquet column is the same.
pub fn one_schema(
    table: &TableSchema,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let first = batches[0].schema();
    if batches.iter().all(|b| b.schema() == first) {
        return Ok((first, batches.to_vec()));
    }
    let plain = table.arrow_schema();
    let dictionary = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
    let keys_suffice = batches.iter().all(|b| b.num_rows() <= DICTIONARY_ROWS);
    let fields: Vec<Field> = (0..plain.fields().len())
        .map(|i| {
            // Columns null in a whole batch take any type; the others must agree, and keep
            // their field's metadata only where all of them have it.
            let mut fields = batches
                .iter()
                .filter(|b| !nulls::all_null(b.column(i).as_ref()))
                .map(|b| b.schema_ref().field(i).clone());
            let Some(field) = fields.next() else {
                return first.field(i).clone();
            };
            let (mut same_type, mut same_field) = (true, true);
            for f in fields {
                same_type &= f.data_type() == field.data_type();
                same_field &= f == field;
            }
            let strings = plain.field(i).data_type() == &DataType::Utf8;
            match (same_type, same_field) {
                (true, true) => field,
                (true, false) => plain
                    .field(i)
                    .clone()
                    .with_data_type(field.data_type().clone()),
                (false, _) if strings && keys_suffice => {
                    plain.field(i).clone().with_data_type(dictionary.clone())
                }
                (false, _) => plain.field(i).clone(),
            }
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = map_columns(batches, &schema, |i, c| {
        let ty = schema.field(i).data_type();
        match c.data_type() == ty {
            true => Ok(c.clone()),
            false if nulls::all_null(c.as_ref()) => Ok(nulls::shared(ty, c.len())),
            false => cast(c, ty),
        }
    })?;
    Ok((schema, batches))
}

/// Rows a batch may have for its strings to become a `Dictionary(UInt16, Utf8)` whatever
/// their values: as many as a key can number.
const DICTIONARY_ROWS: usize = 1 << 16;

/// `batches` under `schema`, each column replaced by `f(column index, column)`.
pub fn map_columns(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    f: impl Fn(usize, &ArrayRef) -> Result<ArrayRef, ArrowError>,
) -> Result<Vec<RecordBatch>, ArrowError> {
    batches
        .iter()
        .map(|b| {
            let columns = (b.columns().iter().enumerate())
                .map(|(i, c)| f(i, c))
                .collect::<Result<Vec<_>, _>>()?;
            with_columns_of(schema, columns, b.num_rows())
        })
        .collect()
}

/// The UTC date of a day number, as used in partition folder names.
pub fn partition_name(table: &TableSchema, day: i64) -> String {
    let date = chrono::DateTime::from_timestamp_micros(day * MICROS_PER_DAY)
        .expect("day in range")
        .format("%Y-%m-%d");
    format!("{}/date={date}", table.name)
}

/// Buffered rows of one day partition.
pub struct Pending {
    pub table: &'static TableSchema,
    pub partition: String,
    pub batches: Vec<RecordBatch>,
    pub bytes: usize,
}

/// Buffered rows of every partition a transaction has touched, with their total size.
#[derive(Default)]
pub struct Buffers {
    parts: BTreeMap<String, Pending>,
    bytes: usize,
}

impl Buffers {
    /// Buffer `batch` in `partition`; its bytes as counted.
    pub fn add(
        &mut self,
        table: &'static TableSchema,
        partition: &str,
        batch: RecordBatch,
    ) -> usize {
        let bytes = nulls::owned_bytes(&batch);
        let pending = self
            .parts
            .entry(partition.to_string())
            .or_insert_with(|| Pending {
                table,
                partition: partition.to_string(),
                batches: Vec::new(),
                bytes: 0,
            });
        pending.batches.push(batch);
        pending.bytes += bytes;
        self.bytes += bytes;
        bytes
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Remove and return the partition holding the most bytes.
    pub fn take_largest(&mut self) -> Option<Pending> {
        let key = self
            .parts
            .values()
            .max_by_key(|p| p.bytes)?
            .partition
            .clone();
        let pending = self.parts.remove(&key)?;
        self.bytes -= pending.bytes;
        Some(pending)
    }

    /// Remove and return every partition.
    pub fn take_all(&mut self) -> Vec<Pending> {
        self.bytes = 0;
        std::mem::take(&mut self.parts).into_values().collect()
    }
}

/// What was written: rows, file bytes and the time range, and the file's Delta statistics.
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
    pub min_time: i64,
    pub max_time: i64,
    pub delta_stats: String,
}

/// Row positions in `TimeGenerated` order. The sort is stable: rows with the same time (an
/// update assessment writes one per update, all at one instant) keep their input order, which
/// groups repeated values as the exporter wrote them. That is what lets dictionary indices and
/// run-length encoding compress; an unstable sort scatters them (and Update files grow).
pub fn time_order(times: &[i64]) -> UInt32Array {
    let mut order: Vec<u32> = (0..times.len() as u32).collect();
    order.sort_by_key(|&i| times[i as usize]);
    UInt32Array::from(order)
}

/// Write batches of one table and partition as one Parquet file at `path`, rows sorted by
/// `TimeGenerated` across all of them, then fsync it.
pub fn write_sorted_file(
    path: &Path,
    table: &TableSchema,
    batches: &[RecordBatch],
) -> Result<Written, StoreError> {
    let (written, file) = write_sorted(path, table, batches)?;
    file.sync_all().map_err(|e| StoreError::io(path, e))?;
    Ok(written)
}

/// `write_sorted_file` without the fsync: the file, written, for the caller to sync.
pub fn write_sorted(
    path: &Path,
    table: &TableSchema,
    batches: &[RecordBatch],
) -> Result<(Written, File), StoreError> {
    let time = table.time_index();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert!(rows > 0, "no empty files");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(path, e))?;
    }
    let (schema, unified) = one_schema(table, batches).map_err(parquet_err)?;
    let batches = &unified[..];
    let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
    // Parquet copies a finished column chunk to its output 8 KB at a time: buffered here, the
    // file gets few large writes instead of a system call (and partly written pages for the
    // kernel to zero) every 8 KB.
    let file = BufWriter::with_capacity(FILE_WRITE_BYTES, file);
    let all_null: Vec<bool> = (0..table.columns.len())
        .map(|i| {
            batches
                .iter()
                .all(|b| b.column(i).null_count() == b.num_rows())
        })
        .collect();
    // No embedded Arrow schema: every column type maps back from Parquet's own types exactly
    // (timestamps as `Timestamp(µs, "UTC")`), and the copy costs up to 10 KB a file.
    let plain: Vec<bool> = (0..table.columns.len())
        .map(|i| !all_null[i] && mostly_distinct(batches, i))
        .collect();
    let props = writer_properties(table, &all_null, &plain);
    let mut writer = ParquetFile::try_new(file, schema, props, true).map_err(parquet_err)?;
    let time_arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(time).as_ref()).collect();
    let all_times = concat(&time_arrays).map_err(parquet_err)?;
    let all_times = all_times.as_primitive::<TimestampMicrosecondType>();
    let sorted = all_times.values().windows(2).all(|w| w[0] <= w[1]);
    let (min_time, max_time);
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    if sorted {
        min_time = all_times.value(0);
        max_time = all_times.value(rows - 1);
        writer
            .write_by_column(&refs, None, WRITE_CHUNK_ROWS)
            .map_err(parquet_err)?;
    } else {
        let order = time_order(all_times.values());
        min_time = all_times.value(order.value(0) as usize);
        max_time = all_times.value(order.value(rows - 1) as usize);
        // Global row number → (batch, row); each column is gathered a chunk at a time.
        let mut starts = Vec::with_capacity(batches.len());
        let mut acc = 0usize;
        for b in batches {
            starts.push(acc);
            acc += b.num_rows();
        }
        let pairs: Vec<(usize, usize)> = (order.values().iter())
            .map(|&g| {
                let g = g as usize;
                let b = starts.partition_point(|&s| s <= g) - 1;
                (b, g - starts[b])
            })
            .collect();
        writer
            .write_by_column(&refs, Some(&pairs), WRITE_CHUNK_ROWS)
            .map_err(parquet_err)?;
    }
    let (file, metadata) = writer.finish_with_metadata().map_err(parquet_err)?;
    let file = (file.into_inner()).map_err(|e| StoreError::io(path, e.into_error()))?;
    let bytes = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let delta_stats = stats::stats_json(table, Some(&metadata), rows as u64, (min_time, max_time));
    let written = Written {
        rows: rows as u64,
        bytes,
        min_time,
        max_time,
        delta_stats,
    };
    Ok((written, file))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::schema::Catalog;
    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::DataType;
    use std::sync::Arc;

    /// An Event batch at `times`, `Computer` `c{time}`, the other nullable columns null.
    pub(in crate::store) fn event_batch(times: &[i64]) -> RecordBatch {
        let table = Catalog::builtin().get("Event").unwrap();
        let schema = table.arrow_schema();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                if f.name() == "TimeGenerated" {
                    Arc::new(TimestampMicrosecondArray::from(times.to_vec()).with_timezone("UTC"))
                } else if !f.is_nullable() {
                    Arc::new(StringArray::from(vec!["Event"; times.len()]))
                } else {
                    arrow::array::new_null_array(f.data_type(), times.len())
                }
            })
            .collect();
        let mut columns = columns;
        let computer = table.column_index("Computer").unwrap();
        columns[computer] = Arc::new(StringArray::from_iter_values(
            times.iter().map(|t| format!("c{t}")),
        ));
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn time_order_keeps_rows_with_equal_times_in_input_order() {
        let order = time_order(&[5, 3, 5, 1, 3, 5]);
        assert_eq!(order.values().to_vec(), vec![3, 1, 4, 0, 2, 5]);
    }

    #[test]
    fn split_days_groups_rows_by_utc_day_keeping_input_order() {
        let table = Catalog::builtin().get("Event").unwrap();
        let d = MICROS_PER_DAY;
        let parts = split_days(table, event_batch(&[d + 5, 3, d + 1, 7, -1])).unwrap();
        let days: Vec<i64> = parts.iter().map(|p| p.day).collect();
        assert_eq!(days, vec![-1, 0, 1]);
        let times = |p: &DayBatch| -> Vec<i64> {
            p.batch
                .column(table.time_index())
                .as_primitive::<TimestampMicrosecondType>()
                .values()
                .to_vec()
        };
        assert_eq!(times(&parts[1]), vec![3, 7]);
        assert_eq!(times(&parts[2]), vec![d + 5, d + 1]);
        assert!(parts.iter().all(|p| p.hashes.len() == p.batch.num_rows()));
    }

    #[test]
    fn write_sorted_file_merges_batches_in_time_order() {
        let table = Catalog::builtin().get("Event").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Event/date=1970-01-01/part.parquet");
        let batches = vec![event_batch(&[5, 1, 9]), event_batch(&[4, 2])];
        let w = write_sorted_file(&path, table, &batches).unwrap();
        assert_eq!((w.rows, w.min_time, w.max_time), (5, 1, 9));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            File::open(&path).unwrap(),
            1024,
        )
        .unwrap();
        let got: Vec<i64> = reader
            .flat_map(|b| {
                b.unwrap()
                    .column(table.time_index())
                    .as_primitive::<TimestampMicrosecondType>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(got, vec![1, 2, 4, 5, 9]);
    }

    /// `event_batch` with `Computer` buffered as a dictionary, as the decoder does.
    fn with_dictionary_computer(batch: RecordBatch) -> RecordBatch {
        let table = Catalog::builtin().get("Event").unwrap();
        let i = table.column_index("Computer").unwrap();
        let dict_type = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let mut columns = batch.columns().to_vec();
        columns[i] = cast(&columns[i], &dict_type).unwrap();
        let mut fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[i] = fields[i].clone().with_data_type(dict_type);
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn a_days_dictionary_keeps_only_the_values_its_rows_use() {
        let table = Catalog::builtin().get("Event").unwrap();
        let d = MICROS_PER_DAY;
        let batch = with_dictionary_computer(event_batch(&[1, d + 1, 2, d + 2, d + 3]));
        let parts = split_days(table, batch).unwrap();
        let computer = table.column_index("Computer").unwrap();
        let values = |p: &DayBatch| {
            let c = cast(p.batch.column(computer), &DataType::Utf8).unwrap();
            let dict = p.batch.column(computer).as_any_dictionary().values().len();
            (
                c.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>(),
                dict,
            )
        };
        assert_eq!(values(&parts[0]), (vec!["c1".to_string(), "c2".into()], 2));
        assert_eq!(values(&parts[1]).1, 3);
        // A row hashes the same whether its strings are a dictionary or plain.
        let plain = split_days(table, event_batch(&[1, d + 1, 2, d + 2, d + 3])).unwrap();
        assert_eq!(parts[1].hashes, plain[1].hashes);
    }

    #[test]
    fn a_dictionary_of_few_values_is_shared_between_days_not_copied() {
        let table = Catalog::builtin().get("Event").unwrap();
        let d = MICROS_PER_DAY;
        let times: Vec<i64> = (0..1000).map(|i| (i % 2) * d + i).collect();
        let batch = with_dictionary_computer(event_batch(&times));
        let computer = table.column_index("Computer").unwrap();
        let names: Vec<&str> = (0..1000).map(|i| ["x", "y", "z"][i % 3]).collect();
        let few = cast(
            &(Arc::new(StringArray::from(names.clone())) as ArrayRef),
            batch.schema().field(computer).data_type(),
        )
        .unwrap();
        let mut columns = batch.columns().to_vec();
        columns[computer] = few.clone();
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let parts = split_days(table, batch).unwrap();
        assert_eq!(parts.len(), 2);
        let values_ptr =
            |a: &ArrayRef| a.as_any_dictionary().values().to_data().buffers()[1].as_ptr();
        for (p, parity) in parts.iter().zip([0, 1]) {
            let c = p.batch.column(computer);
            assert_eq!(values_ptr(c), values_ptr(&few), "shared, not copied");
            let got = cast(c, &DataType::Utf8).unwrap();
            let want: Vec<&str> = names.iter().skip(parity).step_by(2).copied().collect();
            assert_eq!(
                got.as_string::<i32>()
                    .iter()
                    .map(Option::unwrap)
                    .collect::<Vec<_>>(),
                want
            );
        }
    }

    #[test]
    fn a_file_from_dictionary_and_plain_batches_holds_plain_strings_in_time_order() {
        let table = Catalog::builtin().get("Event").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Event/date=1970-01-01/part.parquet");
        let batches = vec![
            with_dictionary_computer(event_batch(&[5, 1, 9])),
            event_batch(&[4, 2]),
        ];
        write_sorted_file(&path, table, &batches).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            File::open(&path).unwrap(),
            1024,
        )
        .unwrap();
        let computer = table.column_index("Computer").unwrap();
        let got: Vec<String> = reader
            .flat_map(|b| {
                let b = b.unwrap();
                assert_eq!(b.schema(), table.arrow_schema());
                b.column(computer)
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(got, vec!["c1", "c2", "c4", "c5", "c9"]);
    }

    #[test]
    fn batches_that_disagree_on_a_dictionary_all_become_dictionaries_with_their_values() {
        let table = Catalog::builtin().get("Event").unwrap();
        let computer = table.column_index("Computer").unwrap();
        let strings = |b: &RecordBatch| -> Vec<String> {
            let c = cast(b.column(computer), &DataType::Utf8).unwrap();
            (c.as_string::<i32>().iter())
                .map(|v| v.unwrap().to_string())
                .collect()
        };
        let batches = vec![
            with_dictionary_computer(event_batch(&[5, 1, 9])),
            event_batch(&[4, 2]),
        ];
        let (schema, unified) = one_schema(table, &batches).unwrap();
        assert!(matches!(
            schema.field(computer).data_type(),
            DataType::Dictionary(..)
        ));
        for (before, after) in batches.iter().zip(&unified) {
            assert_eq!(after.schema(), schema);
            assert_eq!(strings(after), strings(before));
        }
        // A batch with more rows than a key can number: plain strings, as before.
        let many: Vec<i64> = (0..DICTIONARY_ROWS as i64 + 1).collect();
        let batches = vec![
            with_dictionary_computer(event_batch(&[1])),
            event_batch(&many),
        ];
        let (schema, unified) = one_schema(table, &batches).unwrap();
        assert_eq!(schema.field(computer).data_type(), &DataType::Utf8);
        assert_eq!(strings(&unified[1]).len(), many.len());
    }

    /// A store file writes a column of distinct GUIDs DELTA_LENGTH_BYTE_ARRAY at zstd level 1:
    /// smaller than parquet's own writer makes the same values PLAIN at level 3 (what the store
    /// wrote before). A column that repeats a few values keeps its dictionary.
    #[test]
    fn a_file_writes_distinct_strings_delta_length_and_smaller_than_plain_at_level_3() {
        use parquet::basic::Encoding;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let table = Catalog::builtin().get("Event").unwrap();
        let tenant = table.column_index("TenantId").unwrap();
        let level = table.column_index("EventLevelName").unwrap();
        let times: Vec<i64> = (0..20_000).collect();
        let guid = |n: i64| {
            let h = format!(
                "{:032x}",
                (n as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            );
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        };
        let guids = StringArray::from_iter_values(times.iter().map(|&t| guid(t)));
        let mut columns = event_batch(&times).columns().to_vec();
        columns[tenant] = Arc::new(guids.clone());
        columns[level] = Arc::new(StringArray::from_iter_values(
            times
                .iter()
                .map(|t| ["Error", "Warning", "Information"][*t as usize % 3]),
        ));
        let batch = RecordBatch::try_new(event_batch(&[]).schema(), columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Event/date=1970-01-01/part.parquet");
        write_sorted_file(&path, table, &[batch]).unwrap();
        let ours = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
        let group = ours.metadata().row_group(0);
        let encodings = |i: usize| group.column(i).encodings().collect::<Vec<_>>();
        assert!(encodings(tenant).contains(&Encoding::DELTA_LENGTH_BYTE_ARRAY));
        assert!(group.column(tenant).dictionary_page_offset().is_none());
        assert!(encodings(level).contains(&Encoding::RLE_DICTIONARY));
        let ours = group.column(tenant).compressed_size();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_compression(parquet::basic::Compression::ZSTD(
                parquet::basic::ZstdLevel::try_new(3).unwrap(),
            ))
            .build();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("s", DataType::Utf8, false),
        ]));
        let alone = RecordBatch::try_new(schema.clone(), vec![Arc::new(guids)]).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
        w.write(&alone).unwrap();
        let theirs =
            SerializedFileReader::new(bytes::Bytes::from(w.into_inner().unwrap())).unwrap();
        let theirs = theirs.metadata().row_group(0).column(0).compressed_size();
        assert!(
            ours * 20 < theirs * 19,
            "{ours} bytes as ours, {theirs} PLAIN at level 3"
        );
    }

    #[test]
    fn the_default_buffer_shrinks_as_the_input_grows() {
        assert_eq!(default_budget(Some(100 << 20)), SMALL_INPUT_BUDGET);
        assert_eq!(default_budget(Some(SMALL_INPUT)), SMALL_INPUT_BUDGET);
        assert_eq!(default_budget(Some(SMALL_INPUT + 1)), LARGE_INPUT_BUDGET);
        assert_eq!(default_budget(Some(10 << 30)), LARGE_INPUT_BUDGET);
        assert_eq!(default_budget(None), LARGE_INPUT_BUDGET);
        const { assert!(LARGE_INPUT_BUDGET < SMALL_INPUT_BUDGET) };
    }

    #[test]
    fn take_largest_returns_the_biggest_partition_and_updates_the_total() {
        let table = Catalog::builtin().get("Event").unwrap();
        let mut b = Buffers::default();
        b.add(table, "Event/date=a", event_batch(&[1]));
        b.add(
            table,
            "Event/date=b",
            event_batch(&[1, 2, 3, 4, 5, 6, 7, 8]),
        );
        let total = b.bytes();
        let big = b.take_largest().unwrap();
        assert_eq!(big.partition, "Event/date=b");
        assert_eq!(b.bytes(), total - big.bytes);
        assert_eq!(b.take_all().len(), 1);
        assert_eq!(b.bytes(), 0);
    }
}
