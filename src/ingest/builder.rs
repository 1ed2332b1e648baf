//! One column's values of one day, as the decoder appends them: an Arrow builder per column
//! type, strings either plain or as keys into the column's shared `Interner`.
//!
//! A day's builders are made before its rows are known, so their buffers have room to spare;
//! the buffer holds the finished arrays until commit and counts what they hold. Plain strings,
//! most of that, are built in `Vec`s that give back what they did not use when finished
//! (glibc shrinks an allocation in place; arrow's 64-byte aligned buffers would be copied).

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    NullBufferBuilder, StringArray, TimestampMicrosecondBuilder,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};

use super::coerce::Cell;
use super::dict::{DictKeys, Interner};
use crate::schema::ColumnType;

pub enum Builder {
    Str(Strings),
    Dict(DictKeys),
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Ts(TimestampMicrosecondBuilder),
}

impl Builder {
    /// A builder with room for `rows` values (and `bytes` of string data), so that filling
    /// it does not grow and copy its buffers over and over.
    pub fn new(ty: ColumnType, dictionary: bool, rows: usize, bytes: usize) -> Builder {
        match ty {
            ColumnType::String if dictionary => Builder::Dict(DictKeys::with_capacity(rows)),
            ColumnType::String | ColumnType::Dynamic => {
                Builder::Str(Strings::with_capacity(rows, bytes))
            }
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnType::Int => Builder::I32(Int32Builder::with_capacity(rows)),
            ColumnType::Long => Builder::I64(Int64Builder::with_capacity(rows)),
            ColumnType::Real => Builder::F64(Float64Builder::with_capacity(rows)),
            ColumnType::Datetime => {
                Builder::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
        }
    }

    /// Bytes of string data held (0 for other types).
    pub fn data_bytes(&self) -> usize {
        match self {
            Builder::Str(b) => b.data.len(),
            // A dictionary's distinct values are few, and grown as needed.
            _ => 0,
        }
    }

    /// Values appended to a dictionary column, nulls aside (0 for other types).
    pub fn dictionary_values(&self) -> usize {
        match self {
            Builder::Dict(b) => b.values(),
            _ => 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Builder::Str(b) => b.len(),
            Builder::Dict(b) => b.len(),
            Builder::Bool(b) => b.len(),
            Builder::I32(b) => b.len(),
            Builder::I64(b) => b.len(),
            Builder::F64(b) => b.len(),
            Builder::Ts(b) => b.len(),
        }
    }

    /// Nulls up to `rows` values: rows that had no value here.
    #[inline]
    pub fn fill_to(&mut self, rows: usize) {
        let n = rows - self.len();
        if n == 0 {
            return;
        }
        match self {
            Builder::Str(b) => b.append_nulls(n),
            Builder::Dict(b) => b.append_nulls(n),
            Builder::Bool(b) => b.append_nulls(n),
            Builder::I32(b) => b.append_nulls(n),
            Builder::I64(b) => b.append_nulls(n),
            Builder::F64(b) => b.append_nulls(n),
            Builder::Ts(b) => b.append_nulls(n),
        }
    }

    /// Append `cell`; a dictionary column interns its strings in `values`.
    #[inline]
    pub fn append(&mut self, cell: &Cell<'_>, values: &mut Interner) {
        match (self, cell) {
            (Builder::Str(b), Cell::Str(s)) => b.append(s),
            (Builder::Dict(b), Cell::Str(s)) => b.append(values, s),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (Builder::I32(b), Cell::I32(v)) => b.append_value(*v),
            (Builder::I64(b), Cell::I64(v)) => b.append_value(*v),
            (Builder::F64(b), Cell::F64(v)) => b.append_value(*v),
            (Builder::Ts(b), Cell::Micros(v)) => b.append_value(*v),
            (_, cell) => unreachable!("coerce returned {cell:?} for another column type"),
        }
    }

    /// The values as an array; a dictionary column's keys index `values`, its finished
    /// interner.
    pub fn finish(self, values: Option<&ArrayRef>) -> ArrayRef {
        match self {
            Builder::Str(b) => b.finish(),
            Builder::Dict(b) => b.finish(values.expect("a dictionary column's values").clone()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::I32(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Ts(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Plain strings: what arrow's `StringBuilder` builds, in buffers that shrink to their length
/// when finished.
pub struct Strings {
    offsets: Vec<i32>,
    data: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl Strings {
    fn with_capacity(rows: usize, bytes: usize) -> Strings {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Strings {
            offsets,
            data: Vec::with_capacity(bytes),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    #[inline]
    fn append(&mut self, value: &str) {
        self.data.extend_from_slice(value.as_bytes());
        self.offsets.push(self.end());
        self.nulls.append_non_null();
    }

    fn append_nulls(&mut self, n: usize) {
        let end = self.end();
        self.offsets.resize(self.offsets.len() + n, end);
        self.nulls.append_n_nulls(n);
    }

    fn end(&self) -> i32 {
        i32::try_from(self.data.len()).expect("a batch's strings of one column fit in 2 GB")
    }

    fn finish(mut self) -> ArrayRef {
        self.offsets.shrink_to_fit();
        self.data.shrink_to_fit();
        // SAFETY: offsets start at 0 and grow with `data`, and every value was a `&str`.
        let array = unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(self.offsets)),
                Buffer::from_vec(self.data),
                self.nulls.finish(),
            )
        };
        Arc::new(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn strings_hold_values_and_nulls_in_buffers_their_size() {
        let mut b = Strings::with_capacity(100, 10_000);
        b.append("ab");
        b.append_nulls(2);
        b.append("");
        b.append("cde");
        let array = b.finish();
        array.to_data().validate_full().unwrap();
        let got: Vec<Option<&str>> = array.as_string::<i32>().iter().collect();
        assert_eq!(got, vec![Some("ab"), None, None, Some(""), Some("cde")]);
        let data = array.to_data();
        assert_eq!(data.buffers()[1].capacity(), 5);
        assert_eq!(data.buffers()[0].capacity(), 6 * 4);
    }
}
