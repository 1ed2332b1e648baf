//! Record-level deduplication on each table's natural key (spec §3): a record whose key is
//! already stored, or already written earlier in the same transaction, is not stored again.
//!
//! Keys are 128-bit hashes of the key columns; only the day partitions a batch touches are
//! consulted, and only their key columns are read.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
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
        // One pass over the row's key bytes (each value length-prefixed, so that no two
        // different keys give the same bytes) with a 128-bit hash: two 64-bit hashers over
        // the values cost twice the per-value calls.
        let mut bytes = Vec::with_capacity(256);
        (0..rows)
            .map(|row| {
                bytes.clear();
                for part in &parts {
                    match part.iter().find(|c| !c.is_null(row)) {
                        None => bytes.push(0),
                        Some(c) => {
                            bytes.push(1);
                            c.put(row, &mut bytes);
                        }
                    }
                }
                twox_hash::XxHash3_128::oneshot(&bytes)
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

    /// Append the value at `row` to a key's bytes: strings with their length first.
    fn put(&self, row: usize, out: &mut Vec<u8>) {
        let text = |out: &mut Vec<u8>, s: &str| {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        };
        match self {
            KeyColumn::Str(a) => text(out, a.value(row)),
            KeyColumn::Dict(k, v) => text(out, v.value(k.value(row) as usize)),
            KeyColumn::Bool(a) => out.push(u8::from(a.value(row))),
            KeyColumn::I32(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
            KeyColumn::I64(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
            KeyColumn::F64(a) => out.extend_from_slice(&a.value(row).to_bits().to_le_bytes()),
            KeyColumn::Micros(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
        }
    }
}

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
/// on first use. They grow with the input (one per record), so when they pass their share of
/// the buffer the largest partition's set is frozen: written sorted to disk, with a Bloom
/// filter and a sparse index kept in memory (about 1.3 bytes a key instead of 20–40).
#[derive(Default)]
pub struct KeyIndex {
    seen: HashMap<String, PartitionKeys>,
    frozen_runs: usize,
    frozen_keys: u64,
}

/// One partition's keys: the recent ones in a hash set, older ones in frozen runs.
#[derive(Default)]
struct PartitionKeys {
    recent: KeySet,
    frozen: Vec<FrozenKeys>,
}

impl PartitionKeys {
    /// Take `key`; false when it was seen before.
    fn insert(&mut self, key: u128) -> Result<bool, StoreError> {
        if self.frozen.is_empty() {
            return Ok(self.recent.insert(key));
        }
        if self.recent.contains(&key) {
            return Ok(false);
        }
        for run in &self.frozen {
            if run.contains(key)? {
                return Ok(false);
            }
        }
        self.recent.insert(key);
        Ok(true)
    }

    fn bytes(&self) -> usize {
        self.recent.capacity() * 20 + self.frozen.iter().map(FrozenKeys::bytes).sum::<usize>()
    }
}

impl KeyIndex {
    /// Bytes the key sets take in memory: 17 a slot in a hash set (the key and a control
    /// byte), and a set of capacity `c` has about `c * 8 / 7` slots; frozen runs count their
    /// filter and index.
    pub fn bytes(&self) -> usize {
        self.seen.values().map(PartitionKeys::bytes).sum()
    }

    /// Keys written to disk so far, and in how many runs.
    pub fn frozen(&self) -> (u64, usize) {
        (self.frozen_keys, self.frozen_runs)
    }

    /// Freeze the largest partition's recent keys into a run file in `dir`. False when no
    /// partition has recent keys to freeze.
    pub fn freeze_largest(&mut self, dir: &Path) -> Result<bool, StoreError> {
        let Some(keys) = self
            .seen
            .values_mut()
            .filter(|p| !p.recent.is_empty())
            .max_by_key(|p| p.recent.len())
        else {
            return Ok(false);
        };
        self.frozen_runs += 1;
        let path = dir.join(format!("keys-{}.bin", self.frozen_runs));
        let recent = std::mem::take(&mut keys.recent);
        self.frozen_keys += recent.len() as u64;
        keys.frozen.push(FrozenKeys::write(&path, recent)?);
        Ok(true)
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
            let recent = load(root, &spec, partition, committed)?;
            let keys = PartitionKeys {
                recent,
                frozen: Vec::new(),
            };
            self.seen.insert(partition.to_string(), keys);
        }
        let keys = self.seen.get_mut(partition).expect("inserted above");
        let keep = hashes
            .iter()
            .map(|h| keys.insert(*h).map(Some))
            .collect::<Result<BooleanArray, StoreError>>()?;
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

/// Keys of one partition set aside on disk, sorted. A key is looked for in the file only when
/// the Bloom filter may hold it (about 1 % of new keys; every repeat), and then one block of
/// the file is read, found through a sparse index of every [`BLOCK`]-th key.
struct FrozenKeys {
    /// The file, already unlinked: it lives as long as this handle, and a crash leaves
    /// nothing behind.
    file: File,
    path: std::path::PathBuf,
    len: usize,
    /// The first key of each block.
    index: Vec<u128>,
    bloom: Vec<u64>,
}

/// Keys per block read from a run file (4 KB).
const BLOCK: usize = 256;
/// Bloom filter bits per key and probes: about 1 % false positives.
const BLOOM_BITS: usize = 10;
const BLOOM_PROBES: u64 = 7;

impl FrozenKeys {
    fn write(path: &Path, keys: KeySet) -> Result<FrozenKeys, StoreError> {
        use std::io::Write;
        let io = |e| StoreError::io(path, e);
        let mut sorted: Vec<u128> = keys.into_iter().collect();
        sorted.sort_unstable();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut out = std::io::BufWriter::new(File::create(path).map_err(io)?);
        for k in &sorted {
            out.write_all(&k.to_le_bytes()).map_err(io)?;
        }
        out.into_inner()
            .map_err(|e| StoreError::io(path, e.into_error()))?;
        let file = File::open(path).map_err(io)?;
        std::fs::remove_file(path).map_err(io)?;
        let bits = (sorted.len() * BLOOM_BITS).max(64).div_ceil(64) * 64;
        let mut bloom = vec![0u64; bits / 64];
        for k in &sorted {
            for bit in bloom_bits(*k, bits) {
                bloom[bit / 64] |= 1 << (bit % 64);
            }
        }
        Ok(FrozenKeys {
            file,
            path: path.to_path_buf(),
            len: sorted.len(),
            index: sorted.iter().step_by(BLOCK).copied().collect(),
            bloom,
        })
    }

    fn bytes(&self) -> usize {
        self.bloom.len() * 8 + self.index.len() * 16
    }

    fn contains(&self, key: u128) -> Result<bool, StoreError> {
        let bits = self.bloom.len() * 64;
        if !bloom_bits(key, bits).all(|bit| self.bloom[bit / 64] & (1 << (bit % 64)) != 0) {
            return Ok(false);
        }
        // The block whose first key is the last one not above `key`.
        let Some(block) = self
            .index
            .partition_point(|&first| first <= key)
            .checked_sub(1)
        else {
            return Ok(false);
        };
        let start = block * BLOCK;
        let n = BLOCK.min(self.len - start);
        let mut buf = [0u8; BLOCK * 16];
        std::os::unix::fs::FileExt::read_exact_at(
            &self.file,
            &mut buf[..n * 16],
            start as u64 * 16,
        )
        .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(buf[..n * 16]
            .chunks_exact(16)
            .any(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")) == key))
    }
}

/// The filter bits of `key` (already a uniform hash: its halves are the two base hashes).
fn bloom_bits(key: u128, bits: usize) -> impl Iterator<Item = usize> {
    let (a, b) = (key as u64, (key >> 64) as u64 | 1);
    (0..BLOOM_PROBES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) % bits as u64) as usize)
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
    fn frozen_keys_are_found_again_and_new_ones_are_not() {
        let dir = std::env::temp_dir().join(format!("omslake-frozen-{}", std::process::id()));
        // Spread like the real keys (hashes), with a last block of 16 keys.
        let key = |i: u128| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ (i << 64);
        let mut index = KeyIndex::default();
        let mut keys = PartitionKeys::default();
        for i in 0..10_000 {
            assert!(keys.insert(key(i)).unwrap());
        }
        index.seen.insert("p".into(), keys);
        let before = index.bytes();
        assert!(index.freeze_largest(&dir).unwrap());
        assert!(
            !index.freeze_largest(&dir).unwrap(),
            "nothing recent is left"
        );
        assert_eq!(index.frozen(), (10_000, 1));
        assert!(index.bytes() * 10 < before, "{} of {before}", index.bytes());
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 0, "the run file is unlinked once open");
        let keys = index.seen.get_mut("p").unwrap();
        for i in 0..10_000 {
            assert!(!keys.insert(key(i)).unwrap(), "frozen key {i} not found");
        }
        // New keys are new, including the ~1 % the filter lets through to the file.
        for i in 10_000..20_000 {
            assert!(
                keys.insert(key(i)).unwrap(),
                "new key {i} taken for a repeat"
            );
        }
        for i in 10_000..20_000 {
            assert!(!keys.insert(key(i)).unwrap());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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

    #[test]
    fn key_hashes_tell_apart_values_that_only_concatenate_alike() {
        use arrow::array::{Int64Array, StringArray};
        use std::sync::Arc;
        // Two string parts, then an integer part.
        let spec = KeySpec {
            parts: vec![vec![0], vec![1], vec![2]],
        };
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("ab"),
            Some("a"),
            Some(""),
            None,
            Some("ab"),
        ]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![
            Some("c"),
            Some("bc"),
            Some("abc"),
            Some("abc"),
            Some("c"),
        ]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 1, 1, 1]));
        let columns = [a, b, n];
        let h = spec.hashes(5, |i| columns[i].clone());
        // "ab"+"c" vs "a"+"bc"; empty vs null: all different. The same values: the same hash.
        let distinct: HashSet<u128> = h[..4].iter().copied().collect();
        assert_eq!(distinct.len(), 4);
        assert_eq!(h[0], h[4]);
    }
}
