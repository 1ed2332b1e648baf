//! Columns null in every row of a batch, shared instead of allocated.
//!
//! Most of OfficeActivity's 146 columns are empty in any one batch. Materialised, each took two
//! to eight bytes a row in the ingest buffer, in the day split and in the runs set aside on
//! disk; as slices of one cached all-null array per type they take nothing, and they are not
//! counted against the buffer.

use std::sync::{Mutex, OnceLock};

use arrow::array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow::datatypes::DataType;

/// Rows of the cached arrays: batches hold at most this many.
const CACHED_ROWS: usize = 1 << 16;

/// An all-null array of `ty` and `len` rows, sharing its buffers with every other.
pub fn shared(ty: &DataType, len: usize) -> ArrayRef {
    if len > CACHED_ROWS {
        return new_null_array(ty, len);
    }
    static CACHE: OnceLock<Mutex<Vec<ArrayRef>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let full = match cache.iter().find(|a| a.data_type() == ty) {
        Some(a) => a.clone(),
        None => {
            let a = new_null_array(ty, CACHED_ROWS);
            cache.push(a.clone());
            a
        }
    };
    full.slice(0, len)
}

/// Whether every row of `array` is null.
pub fn all_null(array: &dyn Array) -> bool {
    array.null_count() == array.len()
}

/// Bytes `batch` holds of its own: all-null columns count nothing (see [`shared`]).
pub fn owned_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .filter(|c| !all_null(c.as_ref()))
        .map(|c| c.get_array_memory_size())
        .sum()
}

/// `columns` with the all-null ones replaced by shared ones.
pub fn share(columns: Vec<ArrayRef>) -> Vec<ArrayRef> {
    columns
        .into_iter()
        .map(|c| match all_null(c.as_ref()) && c.len() <= CACHED_ROWS {
            true => shared(c.data_type(), c.len()),
            false => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::UInt16Type;
    use std::sync::Arc;

    #[test]
    fn shared_nulls_are_null_typed_slices_of_one_array() {
        let ty = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let a = shared(&ty, 10);
        let b = shared(&ty, 3);
        assert_eq!((a.len(), a.null_count(), a.data_type()), (10, 10, &ty));
        a.to_data().validate_full().unwrap();
        let (ka, kb) = (
            a.as_dictionary::<UInt16Type>().keys().values().as_ptr(),
            b.as_dictionary::<UInt16Type>().keys().values().as_ptr(),
        );
        assert_eq!(ka, kb, "one buffer");
        let s = shared(&DataType::Utf8, 5);
        assert_eq!((s.len(), s.null_count()), (5, 5));
        let batch = RecordBatch::try_from_iter([
            ("a", a),
            (
                "n",
                Arc::new(arrow::array::Int32Array::from(vec![1; 10])) as ArrayRef,
            ),
        ])
        .unwrap();
        assert_eq!(owned_bytes(&batch), batch.column(1).get_array_memory_size());
    }
}
