//! The values of a data page of strings that are not dictionary-encoded: PLAIN (each value
//! after its 4-byte length) or DELTA_LENGTH_BYTE_ARRAY (every length first, delta-encoded,
//! then the values back to back).
//!
//! The store writes its mostly distinct strings DELTA_LENGTH_BYTE_ARRAY: with no length
//! between two values, zstd finds the text's repeats in less time and writes them smaller
//! (bench/NOTES.md, sixteenth session). Every Parquet reader the project checks against reads
//! it (pyarrow, DuckDB, polars, Spark, delta-rs, parquet's own).

use parquet::basic::Encoding;
use parquet::data_type::Int32Type;
use parquet::encoding::{DeltaBitPackEncoder, Encoder};
use parquet::errors::ParquetError;

pub struct PageValues {
    /// DELTA_LENGTH_BYTE_ARRAY: the lengths of the page's values, and the encoder reused from
    /// page to page. None: PLAIN.
    delta_lengths: Option<(Vec<i32>, DeltaBitPackEncoder<Int32Type>)>,
    /// The values (PLAIN: each after its length).
    bytes: Vec<u8>,
}

impl PageValues {
    /// Values encoded as `encoding`: PLAIN or DELTA_LENGTH_BYTE_ARRAY.
    pub fn new(encoding: Encoding) -> Result<PageValues, ParquetError> {
        let delta_lengths = match encoding {
            Encoding::PLAIN => None,
            Encoding::DELTA_LENGTH_BYTE_ARRAY => Some((Vec::new(), DeltaBitPackEncoder::new())),
            other => {
                return Err(ParquetError::NYI(format!(
                    "string pages encoded as {other} (PLAIN or DELTA_LENGTH_BYTE_ARRAY only)"
                )))
            }
        };
        Ok(PageValues {
            delta_lengths,
            bytes: Vec::new(),
        })
    }

    pub fn encoding(&self) -> Encoding {
        match self.delta_lengths {
            None => Encoding::PLAIN,
            Some(_) => Encoding::DELTA_LENGTH_BYTE_ARRAY,
        }
    }

    /// Append one value. Values come from Arrow `StringArray`s, whose i32 offsets keep any one
    /// value's length within an i32.
    #[inline]
    pub fn push(&mut self, value: &[u8]) {
        debug_assert!(i32::try_from(value.len()).is_ok());
        match &mut self.delta_lengths {
            None => self
                .bytes
                .extend_from_slice(&(value.len() as u32).to_le_bytes()),
            Some((lengths, _)) => lengths.push(value.len() as i32),
        }
        self.bytes.extend_from_slice(value);
    }

    /// The bytes the page's values would take PLAIN: a page ends at the same value whatever
    /// its encoding.
    #[inline]
    pub fn plain_len(&self) -> usize {
        match &self.delta_lengths {
            None => self.bytes.len(),
            Some((lengths, _)) => self.bytes.len() + 4 * lengths.len(),
        }
    }

    /// Append the page's encoded values to `page`, and start the next page empty.
    pub fn take_into(&mut self, page: &mut Vec<u8>) -> Result<(), ParquetError> {
        if let Some((lengths, encoder)) = &mut self.delta_lengths {
            encoder.put(lengths)?;
            page.extend_from_slice(&encoder.flush_buffer()?);
            lengths.clear();
        }
        page.append(&mut self.bytes);
        Ok(())
    }
}
