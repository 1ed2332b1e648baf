//! A string dictionary builder for the decoder: what arrow's `StringDictionaryBuilder` does,
//! plus one check before hashing. Exports list a computer's records together, so most
//! columns (computer, tenant, OS, management group) repeat the previous row's value; comparing
//! with it first skips the hash and the table probe for those, which were a large share of
//! ingest CPU with arrow's builder (bench/NOTES.md).

use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, NullBufferBuilder, StringArray, UInt16Array};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use hashbrown::HashTable;

use crate::bytes::same_bytes;

/// Distinct values a batch may have: keys are `u16`.
pub const MAX_VALUES: usize = 1 << 16;

pub struct DictBuilder {
    keys: Vec<u16>,
    nulls: NullBufferBuilder,
    offsets: Vec<i32>,
    data: Vec<u8>,
    /// Value → key, by the value's hash.
    index: HashTable<u16>,
    hasher: ahash::RandomState,
    /// The key appended last, if any.
    last: Option<u16>,
    nulls_appended: usize,
}

impl DictBuilder {
    pub fn with_capacity(rows: usize) -> DictBuilder {
        DictBuilder {
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            offsets: vec![0],
            data: Vec::new(),
            index: HashTable::new(),
            hasher: ahash::RandomState::with_seeds(1, 2, 3, 4),
            last: None,
            nulls_appended: 0,
        }
    }

    /// The type of the arrays it builds.
    pub fn data_type() -> DataType {
        DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
    }

    fn value(&self, key: u16) -> &[u8] {
        let k = key as usize;
        &self.data[self.offsets[k] as usize..self.offsets[k + 1] as usize]
    }

    /// Append `value`. Panics past [`MAX_VALUES`] distinct values (batches have fewer rows).
    #[inline]
    pub fn append(&mut self, value: &str) {
        let bytes = value.as_bytes();
        if let Some(k) = self.last {
            if same_bytes(self.value(k), bytes) {
                self.keys.push(k);
                self.nulls.append_non_null();
                return;
            }
        }
        self.append_looked_up(bytes);
    }

    /// `append` of a value other than the last one: found or added by its hash.
    #[inline(never)]
    fn append_looked_up(&mut self, bytes: &[u8]) {
        let hash = self.hasher.hash_one(bytes);
        let (data, offsets) = (&self.data, &self.offsets);
        let found = self.index.find(hash, |&k| {
            let k = k as usize;
            same_bytes(&data[offsets[k] as usize..offsets[k + 1] as usize], bytes)
        });
        let key = match found {
            Some(&k) => k,
            None => {
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

    /// Distinct values so far.
    pub fn distinct(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Values appended (rows that are not null).
    pub fn values(&self) -> usize {
        self.keys.len() - self.nulls_appended
    }

    /// A `Dictionary(UInt16, Utf8)` array of what was appended.
    pub fn finish(self) -> ArrayRef {
        let mut nulls = self.nulls;
        let keys = UInt16Array::new(ScalarBuffer::from(self.keys), nulls.finish());
        // SAFETY: offsets start at 0 and grow with `data`, and every value was a `&str`.
        let values = unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(self.offsets)),
                self.data.into(),
                None::<NullBuffer>,
            )
        };
        // SAFETY: every non-null key was handed out for a value that exists.
        let dict = unsafe { DictionaryArray::new_unchecked(keys, Arc::new(values)) };
        Arc::new(dict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::UInt16Type;

    #[test]
    fn repeats_share_a_key_and_nulls_stay_null() {
        let mut b = DictBuilder::with_capacity(4);
        for v in [Some("a"), Some("a"), None, Some("b"), Some("a"), Some("")] {
            match v {
                Some(v) => b.append(v),
                None => b.append_nulls(1),
            }
        }
        assert_eq!(b.distinct(), 3);
        let array = b.finish();
        array.to_data().validate_full().unwrap();
        let dict = array.as_dictionary::<UInt16Type>();
        let values = dict.values().as_string::<i32>();
        let got: Vec<Option<&str>> = (0..dict.len())
            .map(|i| dict.key(i).map(|k| values.value(k)))
            .collect();
        assert_eq!(
            got,
            vec![Some("a"), Some("a"), None, Some("b"), Some("a"), Some("")]
        );
        assert_eq!(dict.keys().values().to_vec()[..2], [0, 0]);
    }
}
