//! Rows set aside on disk during a transaction, so that a day partition becomes one file per
//! ingest even when the input does not fit the memory budget.
//!
//! When the budget is reached, the largest partition's rows go to a run file under the
//! transaction's staging folder (Arrow IPC, uncompressed: written at the speed of a copy, and
//! read back in place from the page cache). At commit each partition's runs and remaining
//! rows are merged into as few Parquet files as the budget allows. Writing Parquet files
//! directly at that point instead gave about two files a partition (each with its own
//! dictionaries and footer), a larger store and slower queries.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, NullArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamDecoder;
use arrow::ipc::writer::StreamWriter;
use memmap2::{Advice, Mmap};

use super::buffer::{map_columns, one_schema};
use super::writer::parquet_err;
use super::StoreError;
use crate::nulls;
use crate::schema::TableSchema;

/// One run of a partition's rows on disk.
pub struct Run {
    pub path: PathBuf,
    /// Arrow bytes the rows took in memory (what reading them back costs).
    pub bytes: usize,
}

/// Write `batches` (one table and partition) as a run at `path`.
pub fn write_run(
    path: &Path,
    table: &TableSchema,
    batches: &[RecordBatch],
    bytes: usize,
) -> Result<Run, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    }
    // An IPC stream has one schema; batches may differ in which columns are dictionaries.
    let (schema, batches) = one_schema(table, batches).map_err(parquet_err)?;
    // Columns null in every batch go as `Null` columns, which have no buffers, with their
    // type kept in the field's metadata.
    let empty: Vec<bool> = (0..schema.fields().len())
        .map(|i| {
            batches
                .iter()
                .all(|b| nulls::all_null(b.column(i).as_ref()))
        })
        .collect();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(&empty)
        .map(|(f, &empty)| match empty {
            false => f.as_ref().clone(),
            true => Field::new(f.name(), DataType::Null, true).with_metadata(HashMap::from([(
                TYPE_KEY.to_string(),
                f.data_type().to_string(),
            )])),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = map_columns(&batches, &schema, |i, c| {
        Ok(match empty[i] {
            false => c.clone(),
            true => Arc::new(NullArray::new(c.len())) as ArrayRef,
        })
    })
    .map_err(parquet_err)?;
    let file = File::create(path).map_err(|e| StoreError::io(path, e))?;
    // A stream (not the IPC file format) because each batch carries its own dictionaries.
    let mut writer = StreamWriter::try_new(BufWriter::new(file), &schema).map_err(parquet_err)?;
    for b in &batches {
        writer.write(b).map_err(parquet_err)?;
    }
    writer.finish().map_err(parquet_err)?;
    Ok(Run {
        path: path.to_path_buf(),
        bytes,
    })
}

/// The batches of a run, as written. Read in place from the page cache (the file mapped, the
/// arrays pointing into it) rather than copied into fresh memory.
pub fn read_run(run: &Run) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(&run.path).map_err(|e| StoreError::io(&run.path, e))?;
    // SAFETY: the run is this transaction's own file in its staging folder, written and
    // closed before, and changed by nothing after (a writer holds the store's lock).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| StoreError::io(&run.path, e))?;
    let _ = map.advise(Advice::Sequential);
    // Written seconds ago, but the system may have dropped some of its pages since.
    crate::ingest::readahead::read_ahead(&map, 0..map.len());
    let mut bytes = match NonNull::new(map.as_ptr().cast_mut()) {
        // SAFETY: the buffer keeps the mapping alive as long as any array points into it.
        Some(ptr) => unsafe { Buffer::from_custom_allocation(ptr, map.len(), Arc::new(map)) },
        None => Buffer::from_vec(Vec::<u8>::new()),
    };
    // SAFETY: as above, the bytes are the IPC stream this process wrote, so checking every
    // offset and string again (a pass over all the run's data) would find nothing; a mapping
    // changed underneath would defeat the check anyway, as it could change after it.
    let mut decoder = unsafe { StreamDecoder::new().with_skip_validation(true) };
    let mut batches = Vec::new();
    while !bytes.is_empty() {
        if let Some(b) = decoder.decode(&mut bytes).map_err(parquet_err)? {
            batches.push(restore_nulls(b).map_err(parquet_err)?);
        }
    }
    decoder.finish().map_err(parquet_err)?;
    // Read once; the staging folder goes at commit anyway, but the disk space can go now (a
    // mapped file's pages stay until the arrays are dropped).
    let _ = std::fs::remove_file(&run.path);
    Ok(batches)
}

/// Field metadata holding the type of a column written as `Null`.
const TYPE_KEY: &str = "omslake:type";

/// `Null` columns of a run back as (shared) null columns of their own type.
fn restore_nulls(batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        match f.metadata().get(TYPE_KEY) {
            Some(ty) if f.data_type() == &DataType::Null => {
                let ty: DataType = ty.parse()?;
                columns.push(nulls::shared(&ty, c.len()));
                fields.push(Field::new(f.name(), ty, true));
            }
            _ => {
                columns.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
}

/// Split a partition's runs into groups to merge into one file each, none holding more than
/// `limit` bytes (unless one run alone does), keeping `first` bytes already in memory in the
/// first group.
pub fn group_runs(first: usize, runs: Vec<Run>, limit: usize) -> Vec<Vec<Run>> {
    let mut groups: Vec<Vec<Run>> = vec![Vec::new()];
    let mut size = first;
    for run in runs {
        if size > 0 && size + run.bytes > limit {
            groups.push(Vec::new());
            size = 0;
        }
        size += run.bytes;
        groups.last_mut().expect("one group at least").push(run);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: usize) -> Run {
        Run {
            path: PathBuf::from(format!("{bytes}")),
            bytes,
        }
    }

    #[test]
    fn a_run_reads_back_as_written_with_its_empty_columns_typed() {
        use crate::schema::Catalog;
        use arrow::array::{Array, AsArray, TimestampMicrosecondArray};
        let table = Catalog::builtin().get("Event").unwrap();
        let schema = table.arrow_schema();
        let dict = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                if f.name() == "TimeGenerated" {
                    Arc::new(TimestampMicrosecondArray::from(vec![1, 2]).with_timezone("UTC"))
                } else if f.name() == "Type" {
                    Arc::new(arrow::array::StringArray::from(vec!["Event"; 2]))
                } else if f.name() == "Computer" {
                    fields[i] = f.as_ref().clone().with_data_type(dict.clone());
                    nulls::shared(&dict, 2)
                } else {
                    nulls::shared(f.data_type(), 2)
                }
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = write_run(
            &dir.path().join("r.arrows"),
            table,
            std::slice::from_ref(&batch),
            0,
        )
        .unwrap();
        let back = read_run(&run).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].schema(), batch.schema(), "types restored");
        assert_eq!(back[0].num_rows(), 2);
        let times = back[0]
            .column(table.time_index())
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(times.values().to_vec(), vec![1, 2]);
        assert!(back[0].columns().iter().enumerate().all(|(i, c)| {
            i == table.time_index() || i == table.type_index() || c.null_count() == 2
        }));
        assert!(!run.path.exists(), "a run is read once");
    }

    #[test]
    fn runs_are_grouped_within_the_limit_in_order() {
        let sizes = |g: &Vec<Vec<Run>>| -> Vec<Vec<usize>> {
            g.iter()
                .map(|r| r.iter().map(|r| r.bytes).collect())
                .collect()
        };
        let g = group_runs(0, vec![run(4), run(5), run(3), run(9), run(20)], 10);
        assert_eq!(sizes(&g), vec![vec![4, 5], vec![3], vec![9], vec![20]]);
        // Rows held in memory count towards the first group.
        let g = group_runs(8, vec![run(4), run(5)], 10);
        assert_eq!(sizes(&g), vec![vec![], vec![4, 5]]);
        assert_eq!(sizes(&group_runs(3, vec![], 10)), vec![Vec::<usize>::new()]);
    }
}
