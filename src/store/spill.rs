//! Rows set aside on disk during a transaction, so that a day partition becomes one file per
//! ingest even when the input does not fit the memory budget.
//!
//! When the budget is reached, the largest partition's rows go to a run file under the
//! transaction's staging folder (Arrow IPC, uncompressed: written and read back at the speed
//! of a copy). At commit each partition's runs and remaining rows are merged into as few
//! Parquet files as the budget allows. Writing Parquet files directly at that point instead
//! gave 85 files for the 2 GB benchmark's 41 partitions (each with its own dictionaries and
//! footer), a larger store and slower queries.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use super::buffer::one_schema;
use super::writer::parquet_err;
use super::StoreError;
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

/// The batches of a run, as written.
pub fn read_run(run: &Run) -> Result<Vec<RecordBatch>, StoreError> {
    let file = File::open(&run.path).map_err(|e| StoreError::io(&run.path, e))?;
    let reader = StreamReader::try_new(BufReader::new(file), None).map_err(parquet_err)?;
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(parquet_err)?;
    // Read once; the staging folder goes at commit anyway, but the disk space can go now.
    let _ = std::fs::remove_file(&run.path);
    Ok(batches)
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
