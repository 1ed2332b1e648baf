//! String dictionaries for the decoder: what arrow's `StringDictionaryBuilder` does, split in
//! two. An `Interner` holds a column's distinct values, shared by the rows of every day a
//! batch holds; `DictKeys` holds one day's keys into it. Each append first compares with the
//! day's previous value: exports list a computer's records together, so most columns
//! (computer, tenant, OS, management group) repeat it, and the comparison skips the hash and
//! the table probe, which were a large share of ingest CPU with arrow's builder
//! (bench/NOTES.md).

use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, NullBufferBuilder, StringArray, UInt16Array};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use hashbrown::HashTable;

use crate::bytes::same_bytes;

/// Distinct values a batch may have: keys are `u16`.
pub const MAX_VALUES: usize = 1 << 16;

/// The distinct values of one column in one batch, each with its key.
pub struct Interner {
    offsets: Vec<i32>,
    data: Vec<u8>,
    /// Value → key, by the value's hash.
    index: HashTable<u16>,
    hasher: ahash::RandomState,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            offsets: vec![0],
            data: Vec::new(),
            index: HashTable::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
        }
    }
}

impl Interner {
    fn value(&self, key: u16) -> &[u8] {
        let k = key as usize;
        &self.data[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// The key of `bytes`, found or added by its hash. Panics past [`MAX_VALUES`] distinct
    /// values (batches have fewer rows).
    #[inline(never)]
    fn key(&mut self, bytes: &[u8]) -> u16 {
        let hash = self.hasher.hash_one(bytes);
        let (data, offsets) = (&self.data, &self.offsets);
        let found = self.index.find(hash, |&k| {
            let k = k as usize;
            same_bytes(&data[offsets[k] as usize..offsets[k + 1] as usize], bytes)
        });
        if let Some(&k) = found {
            return k;
        }
        let k = u16::try_from(self.offsets.len() - 1)
            .expect("a batch has at most MAX_VALUES distinct values");
        self.data.extend_from_slice(bytes);
        self.offsets
            .push(i32::try_from(self.data.len()).expect("a batch's strings fit in 2 GB"));
        let (data, offsets, hasher) = (&self.data, &self.offsets, &self.hasher);
        self.index.insert_unique(hash, k, |&k| {
            let k = k as usize;
            hasher.hash_one(&data[offsets[k] as usize..offsets[k + 1] as usize])
        });
        k
    }

    /// Distinct values so far.
    pub fn distinct(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The values as a string array (keys index it); the interner is empty afterwards, with
    /// room for as many values as it had (the next batch most likely has as many: growing the
    /// table rehashes every value).
    pub fn finish(&mut self) -> ArrayRef {
        let room = Interner {
            offsets: Vec::with_capacity(self.offsets.len()),
            data: Vec::with_capacity(self.data.len()),
            index: HashTable::with_capacity(self.distinct()),
            hasher: self.hasher.clone(),
        };
        let mut this = std::mem::replace(self, room);
        self.offsets.push(0);
        this.offsets.shrink_to_fit();
        this.data.shrink_to_fit();
        // SAFETY: offsets start at 0 and grow with `data`, and every value was a `&str`.
        let values = unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(this.offsets)),
                this.data.into(),
                None::<NullBuffer>,
            )
        };
        Arc::new(values)
    }
}

/// One day's rows of a dictionary column: keys into the column's `Interner`.
pub struct DictKeys {
    keys: Vec<u16>,
    nulls: NullBufferBuilder,
    /// The key appended last, if any.
    last: Option<u16>,
    nulls_appended: usize,
}

impl DictKeys {
    pub fn with_capacity(rows: usize) -> DictKeys {
        DictKeys {
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            last: None,
            nulls_appended: 0,
        }
    }

    /// The type of the arrays it builds.
    pub fn data_type() -> DataType {
        DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
    }

    /// Append `value`, interned in `values`.
    #[inline]
    pub fn append(&mut self, values: &mut Interner, value: &str) {
        let bytes = value.as_bytes();
        let key = match self.last {
            Some(k) if same_bytes(values.value(k), bytes) => k,
            _ => values.key(bytes),
        };
        self.last = Some(key);
        self.keys.push(key);
        self.nulls.append_non_null();
    }

    pub fn append_nulls(&mut self, n: usize) {
        self.nulls_appended += n;
        self.keys.resize(self.keys.len() + n, 0);
        self.nulls.append_n_nulls(n);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Values appended (rows that are not null).
    pub fn values(&self) -> usize {
        self.keys.len() - self.nulls_appended
    }

    /// A `Dictionary(UInt16, Utf8)` array of the keys over `values`, the finished interner
    /// they were appended to.
    pub fn finish(mut self, values: ArrayRef) -> ArrayRef {
        // Made with room to spare (see `builder`): give back what was not used, in place.
        self.keys.shrink_to_fit();
        let mut nulls = self.nulls;
        let keys = UInt16Array::new(ScalarBuffer::from(self.keys), nulls.finish());
        debug_assert!(keys.iter().flatten().all(|k| (k as usize) < values.len()));
        // SAFETY: every non-null key was handed out by the interner `values` came from.
        let dict = unsafe { DictionaryArray::new_unchecked(keys, values) };
        Arc::new(dict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::UInt16Type;

    fn strings(array: &ArrayRef) -> Vec<Option<&str>> {
        let dict = array.as_dictionary::<UInt16Type>();
        let values = dict.values().as_string::<i32>();
        (0..dict.len())
            .map(|i| dict.key(i).map(|k| values.value(k)))
            .collect()
    }

    #[test]
    fn repeats_share_a_key_and_nulls_stay_null() {
        let mut values = Interner::default();
        let mut b = DictKeys::with_capacity(4);
        for v in [Some("a"), Some("a"), None, Some("b"), Some("a"), Some("")] {
            match v {
                Some(v) => b.append(&mut values, v),
                None => b.append_nulls(1),
            }
        }
        assert_eq!(values.distinct(), 3);
        let array = b.finish(values.finish());
        array.to_data().validate_full().unwrap();
        assert_eq!(
            strings(&array),
            vec![Some("a"), Some("a"), None, Some("b"), Some("a"), Some("")]
        );
        let dict = array.as_dictionary::<UInt16Type>();
        assert_eq!(dict.keys().values().to_vec()[..2], [0, 0]);
    }

    #[test]
    fn days_share_one_interner() {
        let mut values = Interner::default();
        let (mut a, mut b) = (DictKeys::with_capacity(2), DictKeys::with_capacity(2));
        a.append(&mut values, "x");
        b.append(&mut values, "y");
        b.append(&mut values, "x");
        a.append(&mut values, "y");
        assert_eq!(values.distinct(), 2);
        let shared = values.finish();
        assert_eq!(values.distinct(), 0);
        let (a, b) = (a.finish(shared.clone()), b.finish(shared));
        assert_eq!(strings(&a), vec![Some("x"), Some("y")]);
        assert_eq!(strings(&b), vec![Some("y"), Some("x")]);
    }
}
