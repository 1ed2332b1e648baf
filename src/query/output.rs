//! Result formats: table, csv, tsv, json, ndjson on a writer, or a Parquet file.

use std::fs::File;
use std::io::Write;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;

use super::timestamp_text::{timestamps_as_text, CSV_TIMESTAMP_FORMAT};
use super::QueryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Tsv,
    Json,
    Ndjson,
    /// A Parquet file (zstd); needs `--output FILE`.
    Parquet,
}

impl Format {
    /// The format a file name's extension stands for: `.csv`, `.tsv`, `.json`, `.ndjson` or
    /// `.jsonl`, `.parquet`, `.txt` (the table format).
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "parquet" => Format::Parquet,
            "txt" => Format::Table,
            _ => return None,
        })
    }
}

fn out_err(e: impl std::fmt::Display) -> QueryError {
    QueryError::Output {
        path: "output".into(),
        error: e.to_string(),
    }
}

/// Stream results to `out` in `format`; returns the number of rows. The table format shows at
/// most `max_table_rows` (when given: on a terminal only) and says how many it left out; every
/// other format writes every row.
pub async fn write(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut dyn Write,
    max_table_rows: Option<usize>,
) -> Result<u64, QueryError> {
    let max_table_rows = max_table_rows.unwrap_or(usize::MAX);
    let schema = stream.schema();
    let mut rows = 0u64;
    match format {
        Format::Table => {
            let mut shown: Vec<RecordBatch> = Vec::new();
            let mut kept = 0usize;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                if kept < max_table_rows {
                    let take = (max_table_rows - kept).min(batch.num_rows());
                    shown.push(batch.slice(0, take));
                    kept += take;
                }
            }
            if shown.is_empty() {
                shown.push(RecordBatch::new_empty(schema.clone()));
            }
            let text = arrow::util::pretty::pretty_format_batches(&shown).map_err(out_err)?;
            writeln!(out, "{text}").map_err(out_err)?;
            if rows > kept as u64 {
                writeln!(
                    out,
                    "{rows} rows; {} not shown (use --format csv, --output FILE or a pipe to get all)",
                    rows - kept as u64
                )
                .map_err(out_err)?;
            } else {
                writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" }).map_err(out_err)?;
            }
        }
        Format::Csv | Format::Tsv => {
            let delimiter = if format == Format::Tsv { b'\t' } else { b',' };
            let encode = move |batch: &RecordBatch, first: bool| {
                let mut bytes = Vec::new();
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(first)
                    .with_delimiter(delimiter)
                    .with_timestamp_tz_format(CSV_TIMESTAMP_FORMAT.to_string())
                    .with_timestamp_format(CSV_TIMESTAMP_FORMAT.to_string())
                    .build(&mut bytes);
                w.write(&timestamps_as_text(batch)?)?;
                drop(w);
                Ok(bytes)
            };
            rows = write_encoded(stream, out, encode).await?;
        }
        Format::Ndjson => {
            rows = write_encoded(stream, out, ndjson_lines).await?;
        }
        Format::Json => {
            // The lines of NDJSON, joined by commas inside brackets: a JSON string holds no
            // raw line break, so every `\n` ends a record.
            out.write_all(b"[").map_err(out_err)?;
            let encode = move |batch: &RecordBatch, first: bool| {
                let mut bytes = ndjson_lines(batch, first)?;
                bytes.pop();
                for b in bytes.iter_mut() {
                    if *b == b'\n' {
                        *b = b',';
                    }
                }
                if !first && !bytes.is_empty() {
                    bytes.insert(0, b',');
                }
                Ok(bytes)
            };
            rows = write_encoded(stream, out, encode).await?;
            out.write_all(b"]\n").map_err(out_err)?;
        }
        Format::Parquet => {
            return Err(out_err(
                "the parquet format is written to a file: use --output FILE",
            ))
        }
    }
    Ok(rows)
}

/// Batches encoded by `encode(batch, is_first)` on blocking threads, a few at a time, and
/// written to `out` in their order: encoding is most of an export's work, and the scan alone
/// leaves a core idle. At most `ENCODE_AHEAD` batches are held encoded or being encoded.
async fn write_encoded(
    mut stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    encode: impl Fn(&RecordBatch, bool) -> Result<Vec<u8>, arrow::error::ArrowError>
        + Send
        + Sync
        + Copy
        + 'static,
) -> Result<u64, QueryError> {
    let schema = stream.schema();
    let mut rows = 0u64;
    let mut pending = std::collections::VecDeque::new();
    let (mut first, mut exhausted) = (true, false);
    loop {
        if !exhausted && pending.len() < ENCODE_AHEAD {
            match stream.next().await {
                Some(batch) => {
                    let batch = batch?;
                    if batch.num_rows() > 0 {
                        rows += batch.num_rows() as u64;
                        let is_first = std::mem::replace(&mut first, false);
                        pending.push_back(tokio::task::spawn_blocking(move || {
                            encode(&batch, is_first)
                        }));
                    }
                    continue;
                }
                None => exhausted = true,
            }
        }
        let Some(task) = pending.pop_front() else {
            break;
        };
        let bytes = task.await.map_err(out_err)?.map_err(out_err)?;
        out.write_all(&bytes).map_err(out_err)?;
    }
    if first {
        // No rows: what the format writes for none (a CSV header).
        let bytes = encode(&RecordBatch::new_empty(schema), true).map_err(out_err)?;
        out.write_all(&bytes).map_err(out_err)?;
    }
    Ok(rows)
}

/// Batches encoded ahead of the one being written (see `write_encoded`).
const ENCODE_AHEAD: usize = 4;

/// A batch as NDJSON, nulls written as `null`.
fn ndjson_lines(batch: &RecordBatch, _first: bool) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut bytes = Vec::new();
    let mut w = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::LineDelimited>(&mut bytes);
    w.write(batch)?;
    w.finish()?;
    drop(w);
    Ok(bytes)
}

/// Encoded bytes at which an exported Parquet row group is closed.
const PARQUET_GROUP_BYTES: usize = 64 << 20;

/// Stream results into a Parquet file (zstd), written to a temporary name then renamed so a
/// failed query leaves no partial file.
pub async fn write_parquet(
    mut stream: SendableRecordBatchStream,
    path: &std::path::Path,
) -> Result<u64, QueryError> {
    let perr = |e: &dyn std::fmt::Display| QueryError::Output {
        path: path.display().to_string(),
        error: e.to_string(),
    };
    let tmp = path.with_extension("parquet.partial");
    let file = File::create(&tmp).map_err(|e| perr(&e))?;
    // String views (how queries read strings) are written as plain strings, so that the Arrow
    // schema stored in the file names only types every reader knows.
    let schema = super::table::retype(&stream.schema(), &DataType::Utf8View, DataType::Utf8);
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut file = Some(file);
    let mut rows = 0u64;
    let result: Result<(), QueryError> = async {
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            // Empty batches write nothing, and would leave the columns' settings unjudged.
            if batch.num_rows() == 0 {
                continue;
            }
            rows += batch.num_rows() as u64;
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| perr(&e))?;
            let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| perr(&e))?;
            let w = match &mut writer {
                Some(w) => w,
                None => {
                    let props = parquet_properties(&schema, Some(&batch));
                    let out = file.take().expect("one writer");
                    let w = ArrowWriter::try_new(out, schema.clone(), Some(props));
                    writer.insert(w.map_err(|e| perr(&e))?)
                }
            };
            w.write(&batch).map_err(|e| perr(&e))?;
            // A row group is held in memory until it is written: close one at a size that
            // keeps an export's memory bounded however wide its rows.
            if w.in_progress_size() > PARQUET_GROUP_BYTES {
                w.flush().map_err(|e| perr(&e))?;
            }
        }
        Ok(())
    }
    .await;
    let writer = match (result, writer) {
        (Err(e), _) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        (Ok(()), Some(w)) => w,
        // No rows: a file of the schema.
        (Ok(()), None) => {
            let props = parquet_properties(&schema, None);
            let out = file.take().expect("one writer");
            ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(|e| perr(&e))?
        }
    };
    writer.close().map_err(|e| perr(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| perr(&e))?;
    Ok(rows)
}

/// An export's Parquet settings: zstd, and a dictionary for each column except those whose
/// values in the `first` batch are mostly distinct (as the store decides for its own files).
/// A dictionary of such a column only grows to its limit before the writer falls back to
/// plain values: every value hashed and interned for nothing, and held until the row group
/// is written.
fn parquet_properties(
    schema: &arrow::datatypes::SchemaRef,
    first: Option<&RecordBatch>,
) -> parquet::file::properties::WriterProperties {
    let mut props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()));
    if let Some(batch) = first {
        for (i, field) in schema.fields().iter().enumerate() {
            if crate::store::distinct::mostly_distinct(std::slice::from_ref(batch), i) {
                let path = parquet::schema::types::ColumnPath::from(field.name().as_str());
                props = props.set_column_dictionary_enabled(path, false);
            }
        }
    }
    props.build()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use parquet::schema::types::ColumnPath;

    use super::*;

    /// Columns of mostly distinct values in the first batch get no dictionary; repeating ones,
    /// and every column of an export with no rows, keep it.
    #[test]
    fn an_export_leaves_distinct_columns_without_a_dictionary() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("state", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let ids = StringArray::from_iter_values((0..1000).map(|i| format!("id-{i}")));
        let states = StringArray::from_iter_values((0..1000).map(|i| ["a", "b"][i % 2]));
        let n = Int64Array::from_iter_values(0..1000);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(ids), Arc::new(states), Arc::new(n)],
        )
        .unwrap();
        let props = parquet_properties(&schema, Some(&batch));
        let dictionary = |name: &str| props.dictionary_enabled(&ColumnPath::from(name));
        assert!(!dictionary("id"));
        assert!(dictionary("state"));
        assert!(!dictionary("n"));
        let empty = parquet_properties(&schema, None);
        assert!(empty.dictionary_enabled(&ColumnPath::from("id")));
    }
}
