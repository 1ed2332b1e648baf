//! The values of a data page of strings that are not dictionary-encoded: PLAIN (each value
//! after its 4-byte length) or DELTA_LENGTH_BYTE_ARRAY (every length first, delta-encoded,
//! then the values back to back).
//!
//! The store writes its mostly distinct strings DELTA_LENGTH_BYTE_ARRAY: with no length
//! between two values, zstd finds the text's repeats in less time and writes them smaller
//! (bench/NOTES.md, sixteenth session). Every Parquet reader the project checks against reads
//! it (pyarrow, DuckDB, polars, Spark, delta-rs, parquet's own).
//!
//! The values are kept after [`ROOM`] bytes of room, where the page's levels and lengths are
//! put when it closes, so that the page is compressed where its values were written rather
//! than copied behind them first. The buffer is taken from the thread's spare at the chunk's
//! first value (a row group makes all its chunks before it writes any) and goes back to it
//! when the chunk is done, so the next chunk finds it already grown to a page.

use std::cell::RefCell;

use parquet::basic::Encoding;
use parquet::data_type::Int32Type;
use parquet::encoding::{DeltaBitPackEncoder, Encoder};
use parquet::errors::ParquetError;

/// Room in front of the values for what precedes them in the page: the definition levels
/// (one bit a row, run-length encoded) and the delta-encoded lengths. A page whose levels and
/// lengths take more is put together in a second buffer instead.
const ROOM: usize = 64 * 1024;

/// A buffer kept past its page for the thread's next chunk only up to this size.
const KEPT: usize = 16 << 20;

thread_local! {
    /// A value buffer (its room first) and a lengths list, left by the thread's last chunk.
    static SPARE: RefCell<Option<(Vec<u8>, Vec<i32>)>> = const { RefCell::new(None) };
}

pub struct PageValues {
    /// DELTA_LENGTH_BYTE_ARRAY: the lengths of the page's values, and the encoder reused from
    /// page to page. None: PLAIN.
    delta_lengths: Option<(Vec<i32>, DeltaBitPackEncoder<Int32Type>)>,
    /// [`ROOM`] bytes, then the values (PLAIN: each after its length); empty until the first
    /// value.
    bytes: Vec<u8>,
    /// What precedes the values in the page, as it is encoded.
    head: Vec<u8>,
    /// A page whose head did not fit the room, put together.
    whole: Vec<u8>,
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
            head: Vec::new(),
            whole: Vec::new(),
        })
    }

    /// Take the thread's spare buffers, or new ones.
    #[cold]
    fn take_spare(&mut self) {
        let (mut bytes, mut lengths) = SPARE
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(|| (vec![0; ROOM], Vec::new()));
        bytes.truncate(ROOM);
        lengths.clear();
        self.bytes = bytes;
        if let Some((mine, _)) = &mut self.delta_lengths {
            *mine = lengths;
        }
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
        if self.bytes.is_empty() {
            self.take_spare();
        }
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
        let values = self.bytes.len().saturating_sub(ROOM);
        match &self.delta_lengths {
            None => values,
            Some((lengths, _)) => values + 4 * lengths.len(),
        }
    }

    /// The page: `levels` (format v1: their byte length, then them), then the encoded
    /// values. [`clear`](Self::clear) starts the next page.
    pub fn page(&mut self, levels: Option<&[u8]>) -> Result<&[u8], ParquetError> {
        if self.bytes.is_empty() {
            self.take_spare();
        }
        self.head.clear();
        if let Some(levels) = levels {
            let len = u32::try_from(levels.len())
                .map_err(|_| ParquetError::General("a page's levels passed 4 GiB".into()))?;
            self.head.extend_from_slice(&len.to_le_bytes());
            self.head.extend_from_slice(levels);
        }
        if let Some((lengths, encoder)) = &mut self.delta_lengths {
            encoder.put(lengths)?;
            self.head.extend_from_slice(&encoder.flush_buffer()?);
            lengths.clear();
        }
        match ROOM.checked_sub(self.head.len()) {
            Some(start) => {
                self.bytes[start..ROOM].copy_from_slice(&self.head);
                Ok(&self.bytes[start..])
            }
            None => {
                self.whole.clear();
                self.whole.extend_from_slice(&self.head);
                self.whole.extend_from_slice(&self.bytes[ROOM..]);
                Ok(&self.whole)
            }
        }
    }

    /// Start the next page empty.
    pub fn clear(&mut self) {
        self.bytes.truncate(ROOM);
        if let Some((lengths, _)) = &mut self.delta_lengths {
            lengths.clear();
        }
    }
}

impl Drop for PageValues {
    fn drop(&mut self) {
        let bytes = std::mem::take(&mut self.bytes);
        if bytes.len() < ROOM || bytes.capacity() > KEPT {
            return;
        }
        let lengths = match self.delta_lengths.take() {
            Some((lengths, _)) => lengths,
            None => Vec::new(),
        };
        // A thread being torn down has no spare to keep.
        let _ = SPARE.try_with(|s| *s.borrow_mut() = Some((bytes, lengths)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, len: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("{i:0len$}").into_bytes()).collect()
    }

    /// What the page holds, put together the plain way: levels, lengths, values.
    fn expected(encoding: Encoding, levels: Option<&[u8]>, vals: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(l) = levels {
            out.extend_from_slice(&(l.len() as u32).to_le_bytes());
            out.extend_from_slice(l);
        }
        if encoding == Encoding::DELTA_LENGTH_BYTE_ARRAY {
            let mut e = DeltaBitPackEncoder::<Int32Type>::new();
            let lengths: Vec<i32> = vals.iter().map(|v| v.len() as i32).collect();
            e.put(&lengths).unwrap();
            out.extend_from_slice(&e.flush_buffer().unwrap());
        }
        for v in vals {
            if encoding == Encoding::PLAIN {
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(v);
        }
        out
    }

    /// Pages whose head fits the room and pages whose head does not (long levels) hold the
    /// same bytes, page after page; a second chunk on the thread starts empty, and one alive at
    /// the same time as another has buffers of its own.
    #[test]
    fn pages_in_the_room_and_past_it_hold_levels_lengths_and_values() {
        let short_levels = [7u8; 100];
        let long_levels = vec![9u8; ROOM + 1];
        for encoding in [Encoding::PLAIN, Encoding::DELTA_LENGTH_BYTE_ARRAY] {
            for _chunk in 0..2 {
                let mut p = PageValues::new(encoding).unwrap();
                let mut beside = PageValues::new(encoding).unwrap();
                assert_eq!(p.plain_len(), 0);
                assert_eq!(p.page(None).unwrap(), expected(encoding, None, &[]));
                for (page, levels) in [
                    (values(500, 9), None),
                    (values(300, 40), Some(&short_levels[..])),
                    (values(20, 3), Some(&long_levels[..])),
                    (values(700, 12), None),
                ] {
                    for v in &page {
                        p.push(v);
                        beside.push(b"beside");
                    }
                    let plain: usize = page.iter().map(|v| v.len() + 4).sum();
                    assert_eq!(p.plain_len(), plain);
                    let got = p.page(levels).unwrap().to_vec();
                    assert_eq!(got, expected(encoding, levels, &page), "{encoding}");
                    p.clear();
                    assert_eq!(p.plain_len(), 0);
                    let others = vec![b"beside".to_vec(); page.len()];
                    assert_eq!(
                        beside.page(None).unwrap(),
                        expected(encoding, None, &others)
                    );
                    beside.clear();
                }
            }
        }
    }
}
