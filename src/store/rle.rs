//! Parquet's RLE / bit-packing hybrid encoding, for the dictionary indices and definition
//! levels of the column chunks `dict_chunk` writes (parquet keeps its own encoder private).
//!
//! A run of at least 8 equal values becomes one RLE run (a count and the value); everything
//! else is bit-packed in groups of 8 values. Only the last group may be padded, since a reader
//! knows from the page header how many values there are.

/// Values of one bit-packed run at most: 63 groups, so its header fits one byte (as parquet
/// writes them; some readers expect no more).
const MAX_PACKED: usize = 63 * 8;

/// Bits needed for values up to `max`.
pub fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Append `values` (each below 2^`width`) to `out`, hybrid encoded.
pub fn encode(values: &[u32], width: u8, out: &mut Vec<u8>) {
    let mut encoder = Encoder::new(width);
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let mut j = i + 1;
        while j < values.len() && values[j] == v {
            j += 1;
        }
        encoder.put_run(v, j - i);
        i = j;
    }
    out.extend_from_slice(&encoder.finish());
}

/// Encodes values given as runs of equal values, as they come.
pub struct Encoder {
    width: u8,
    out: Vec<u8>,
    /// Values waiting to be bit-packed.
    literals: Vec<u32>,
}

impl Encoder {
    pub fn new(width: u8) -> Encoder {
        Encoder {
            width,
            out: Vec::new(),
            literals: Vec::new(),
        }
    }

    /// Append `count` times `value`.
    pub fn put_run(&mut self, value: u32, count: usize) {
        // The waiting values are filled up to whole groups from this repeat; what is left of
        // it becomes a run if it is still 8 values long.
        let fill = (8 - self.literals.len() % 8) % 8;
        if count >= fill + 8 {
            self.literals.extend(std::iter::repeat_n(value, fill));
            bit_packed(&self.literals, self.width, &mut self.out);
            self.literals.clear();
            run(value, count - fill, self.width, &mut self.out);
        } else {
            self.literals.extend(std::iter::repeat_n(value, count));
            if self.literals.len() >= MAX_PACKED {
                let whole = self.literals.len() / MAX_PACKED * MAX_PACKED;
                bit_packed(&self.literals[..whole], self.width, &mut self.out);
                self.literals.drain(..whole);
            }
        }
    }

    /// The encoded bytes (the last group padded).
    pub fn finish(mut self) -> Vec<u8> {
        bit_packed(&self.literals, self.width, &mut self.out);
        self.out
    }
}

fn run(value: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    varint((count as u64) << 1, out);
    let bytes = (width as usize).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

/// Bit-pack `values` (a multiple of 8 unless they end the data), least significant bit first.
fn bit_packed(values: &[u32], width: u8, out: &mut Vec<u8>) {
    for part in values.chunks(MAX_PACKED) {
        let groups = part.len().div_ceil(8);
        varint(((groups as u64) << 1) | 1, out);
        let (mut acc, mut bits) = (0u64, 0u32);
        for k in 0..groups * 8 {
            acc |= (part.get(k).copied().unwrap_or(0) as u64) << bits;
            bits += width as u32;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reader of the format, written from the Parquet specification's grammar.
    fn decode(mut data: &[u8], width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < n {
            let mut header = 0u64;
            let mut shift = 0;
            loop {
                let b = data[0];
                data = &data[1..];
                header |= ((b & 0x7f) as u64) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            if header & 1 == 0 {
                let bytes = (width as usize).div_ceil(8);
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&data[..bytes]);
                data = &data[bytes..];
                out.extend(std::iter::repeat_n(
                    u32::from_le_bytes(v),
                    (header >> 1) as usize,
                ));
            } else {
                let count = (header >> 1) as usize * 8;
                let bytes = count * width as usize / 8;
                for k in 0..count {
                    let mut v = 0u32;
                    for b in 0..width as usize {
                        let bit = k * width as usize + b;
                        v |= (((data[bit / 8] >> (bit % 8)) & 1) as u32) << b;
                    }
                    out.push(v);
                }
                data = &data[bytes..];
            }
        }
        assert!(data.is_empty(), "no bytes left over");
        out.truncate(n);
        out
    }

    #[test]
    fn runs_and_literals_mix() {
        let mut values = vec![1, 2];
        values.extend([3; 14]);
        values.extend([4, 5]);
        let mut out = Vec::new();
        encode(&values, 3, &mut out);
        // 8 packed (1, 2 and six 3s), a run of the other eight 3s, then 4 and 5 packed.
        assert_eq!(out[0], 0b11);
        assert_eq!(&out[4..6], &[8 << 1, 3]);
        assert_eq!(out.len(), 6 + 1 + 3);
        // One 3 fewer: too short for a run once the groups are filled, so all packed.
        values.remove(2);
        out.clear();
        encode(&values, 3, &mut out);
        assert_eq!((out[0], out.len()), ((3 << 1) | 1, 1 + 3 * 3));
        assert_eq!(decode(&out, 3, values.len()), values);
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
    }

    proptest! {
        #[test]
        fn decodes_to_what_was_encoded(
            values in prop::collection::vec(prop_oneof![0u32..3, 0u32..70_000], 0..3000),
            repeat in 1usize..40,
        ) {
            let values: Vec<u32> = values.iter().flat_map(|v| std::iter::repeat_n(*v, repeat)).collect();
            let width = bit_width(values.iter().copied().max().unwrap_or(0));
            let mut out = Vec::new();
            encode(&values, width, &mut out);
            prop_assert_eq!(decode(&out, width, values.len()), values);
        }
    }
}
