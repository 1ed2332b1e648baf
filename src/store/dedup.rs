//! Record-level deduplication on each table's natural key (spec §3): a record whose key is
//! already stored, or already written earlier in the same transaction, is not stored again.
//!
//! Keys are 128-bit hashes of the key columns; only the day partitions a batch touches are
//! consulted, and only their key columns are read.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::path::Path;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    RecordBatchOptions, StringArray, TimestampMicrosecondArray, UInt16Array,
};
use arrow::datatypes::{
    DataType, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, UInt16Type,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

use super::log::DataFile;
use super::StoreError;
use crate::nulls;
use crate::schema::{TableSchema, EXTRA_COLUMN};

/// The key columns of a table: alternatives per part (first non-null wins).
pub struct KeySpec {
    parts: Vec<Vec<usize>>,
}

impl KeySpec {
    /// Event's key is every column; `_extra` is left out because it carries per-export
    /// metadata (the legacy search API's `id`, `TimeCollected`) that differs between exports
    /// of the same record.
    pub fn new(table: &TableSchema) -> KeySpec {
        let extra = table.column_index(EXTRA_COLUMN);
        let parts = table
            .natural_key_indices()
            .into_iter()
            .filter(|p| !(p.len() == 1 && Some(p[0]) == extra))
            .collect();
        KeySpec { parts }
    }

    /// Key hash of every row of a batch in the table's schema.
    pub fn row_hashes(&self, batch: &RecordBatch) -> Vec<u128> {
        self.hashes(batch.num_rows(), |i| batch.column(i).clone())
    }

    fn columns(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self.parts.iter().flatten().copied().collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// Key hash of every row. `columns` maps a table column index to the batch's array.
    fn hashes(&self, rows: usize, column: impl Fn(usize) -> ArrayRef) -> Vec<u128> {
        let arrays: HashMap<usize, ArrayRef> =
            self.columns().into_iter().map(|i| (i, column(i))).collect();
        // Each column's type is resolved once per batch, not once per cell.
        let parts: Vec<Vec<KeyColumn<'_>>> = self
            .parts
            .iter()
            .map(|p| p.iter().map(|i| KeyColumn::new(&arrays[i])).collect())
            .collect();
        (0..rows)
            .map(|row| {
                let (mut a, mut b) = (HASH_A.build_hasher(), HASH_B.build_hasher());
                for part in &parts {
                    match part.iter().find(|c| !c.is_null(row)) {
                        None => {
                            a.write_u8(0);
                            b.write_u8(0);
                        }
                        Some(c) => {
                            a.write_u8(1);
                            b.write_u8(1);
                            c.hash(row, &mut a);
                            c.hash(row, &mut b);
                        }
                    }
                }
                (u128::from(a.finish()) << 64) | u128::from(b.finish())
            })
            .collect()
    }
}

/// A key column, typed.
enum KeyColumn<'a> {
    Str(&'a StringArray),
    /// Buffered strings (see `TableDecoder`): hashed as their text, like the stored column.
    Dict(&'a UInt16Array, &'a StringArray),
    Bool(&'a BooleanArray),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    F64(&'a Float64Array),
    Micros(&'a TimestampMicrosecondArray),
}

impl<'a> KeyColumn<'a> {
    fn new(arr: &'a ArrayRef) -> KeyColumn<'a> {
        match arr.data_type() {
            DataType::Utf8 => KeyColumn::Str(arr.as_string::<i32>()),
            DataType::Dictionary(_, _) => {
                let dict = arr.as_dictionary::<UInt16Type>();
                KeyColumn::Dict(dict.keys(), dict.values().as_string::<i32>())
            }
            DataType::Boolean => KeyColumn::Bool(arr.as_boolean()),
            DataType::Int32 => KeyColumn::I32(arr.as_primitive::<Int32Type>()),
            DataType::Int64 => KeyColumn::I64(arr.as_primitive::<Int64Type>()),
            DataType::Float64 => KeyColumn::F64(arr.as_primitive::<Float64Type>()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                KeyColumn::Micros(arr.as_primitive::<TimestampMicrosecondType>())
            }
            other => unreachable!("schemas hold no {other} columns"),
        }
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            KeyColumn::Str(a) => a.is_null(row),
            KeyColumn::Dict(k, v) => k.is_null(row) || v.is_null(k.value(row) as usize),
            KeyColumn::Bool(a) => a.is_null(row),
            KeyColumn::I32(a) => a.is_null(row),
            KeyColumn::I64(a) => a.is_null(row),
            KeyColumn::F64(a) => a.is_null(row),
            KeyColumn::Micros(a) => a.is_null(row),
        }
    }

    fn hash(&self, row: usize, h: &mut impl Hasher) {
        match self {
            KeyColumn::Str(a) => a.value(row).hash(h),
            KeyColumn::Dict(k, v) => v.value(k.value(row) as usize).hash(h),
            KeyColumn::Bool(a) => a.value(row).hash(h),
            KeyColumn::I32(a) => a.value(row).hash(h),
            KeyColumn::I64(a) => a.value(row).hash(h),
            KeyColumn::F64(a) => a.value(row).to_bits().hash(h),
            KeyColumn::Micros(a) => a.value(row).hash(h),
        }
    }
}

/// Two independently seeded hashes make one 128-bit key. Fixed seeds: a key's hash only has
/// to agree within one process (stored keys are re-hashed from the files on every run).
static HASH_A: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);
static HASH_B: ahash::RandomState = ahash::RandomState::with_seeds(
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
);

/// Hashes a key that is already a 128-bit hash by folding it to 64 bits (SipHash over it
/// again would only cost time: the set is probed once per ingested record).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, k: u128) {
        self.0 = (k as u64) ^ ((k >> 64) as u64);
    }
}

type KeySet = HashSet<u128, BuildHasherDefault<KeyHasher>>;

/// Keys seen per (table, day partition) in one transaction, loaded from the committed files
/// on first use.
#[derive(Default)]
pub struct KeyIndex {
    seen: HashMap<String, KeySet>,
}

impl KeyIndex {
    /// Bytes the key sets take: 17 a slot (the key and a control byte), and a set of
    /// capacity `c` has about `c * 8 / 7` slots.
    pub fn bytes(&self) -> usize {
        self.seen.values().map(|s| s.capacity() * 20).sum()
    }

    /// Drop the rows of `batch` (one table, one day; `hashes` its rows' key hashes) whose key is already stored or already
    /// seen; returns the rows to keep and how many were dropped.
    pub fn filter(
        &mut self,
        root: &Path,
        table: &TableSchema,
        partition: &str,
        committed: &[DataFile],
        batch: &RecordBatch,
        hashes: &[u128],
    ) -> Result<(RecordBatch, u64), StoreError> {
        let spec = KeySpec::new(table);
        if !self.seen.contains_key(partition) {
            let set = load(root, &spec, partition, committed)?;
            self.seen.insert(partition.to_string(), set);
        }
        let set = self.seen.get_mut(partition).expect("inserted above");
        let keep: BooleanArray = hashes.iter().map(|h| Some(set.insert(*h))).collect();
        let dropped = keep.iter().filter(|k| *k == Some(false)).count() as u64;
        if dropped == 0 {
            return Ok((batch.clone(), 0));
        }
        let kept = arrow::compute::filter_record_batch(batch, &keep)
            .map_err(|e| StoreError::Parquet(e.to_string()))?;
        // Filtering allocates even all-null columns; share them again, as the buffer counts
        // them as nothing.
        let columns = nulls::share(kept.columns().to_vec());
        let kept = RecordBatch::try_new_with_options(
            kept.schema(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(kept.num_rows())),
        )
        .map_err(|e| StoreError::Parquet(e.to_string()))?;
        Ok((kept, dropped))
    }
}

/// Key hashes of the committed files of one partition, reading only the key columns.
fn load(
    root: &Path,
    spec: &KeySpec,
    partition: &str,
    committed: &[DataFile],
) -> Result<KeySet, StoreError> {
    let mut set = KeySet::default();
    let prefix = format!("{partition}/");
    for f in committed.iter().filter(|f| f.path.starts_with(&prefix)) {
        let path = root.join(&f.path);
        let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(&e))?;
        let wanted = spec.columns();
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| corrupt(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| corrupt(&e))?;
            // Projected columns come back in file order, which is the schema order of `wanted`.
            let hashes = spec.hashes(batch.num_rows(), |i| {
                batch
                    .column(wanted.iter().position(|w| *w == i).expect("projected"))
                    .clone()
            });
            set.extend(hashes);
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;

    #[test]
    fn key_sets_drop_repeats_and_report_their_memory() {
        let table = Catalog::builtin().get("Event").unwrap();
        let batch = RecordBatch::new_empty(table.arrow_schema());
        let root = Path::new("/nonexistent-omslake-store");
        let mut index = KeyIndex::default();
        assert_eq!(index.bytes(), 0);
        let hashes: Vec<u128> = (0..10_000u128).map(|i| i << 70 | i).collect();
        let (_, dropped) = index
            .filter(root, table, "Event/date=2024-01-01", &[], &batch, &hashes)
            .unwrap();
        assert_eq!(dropped, 0);
        // 16 bytes a key and a control byte, at most 1/8 of the slots free, power-of-two growth.
        let bytes = index.bytes();
        assert!(
            (10_000 * 17..=10_000 * 17 * 8 / 7 * 2 + 4096).contains(&bytes),
            "{bytes}"
        );
        // The same keys again on a one-row batch: all of them are repeats.
        let again = [hashes[0]];
        let schema = table.arrow_schema();
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| -> ArrayRef {
                match (f.is_nullable(), f.data_type()) {
                    (true, t) => arrow::array::new_null_array(t, 1),
                    (false, DataType::Utf8) => {
                        std::sync::Arc::new(arrow::array::StringArray::from(vec!["Event"]))
                    }
                    (false, _) => std::sync::Arc::new(
                        arrow::array::TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC"),
                    ),
                }
            })
            .collect();
        let one = RecordBatch::try_new(schema, columns).unwrap();
        let (kept, dropped) = index
            .filter(root, table, "Event/date=2024-01-01", &[], &one, &again)
            .unwrap();
        assert_eq!((kept.num_rows(), dropped), (0, 1));
    }
}
