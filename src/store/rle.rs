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
    literals: Literals,
}

/// Values waiting to be bit-packed: one-bit values (definition levels, a run every row or
/// two in a sparse column) kept packed as they come, wider ones one by one.
enum Literals {
    Values(Vec<u32>),
    Bits(Bits),
}

/// One-bit values, least significant first: whole bytes, then up to 63 bits not yet a byte.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    next: u64,
    next_len: u32,
}

impl Bits {
    fn len(&self) -> usize {
        self.bytes.len() * 8 + self.next_len as usize
    }

    /// Append `count` (at most 15: longer repeats become runs) times `value`.
    #[inline]
    fn append(&mut self, value: bool, count: usize) {
        debug_assert!(count <= 15);
        self.next |= (u64::from(value) * ((1 << count) - 1)) << self.next_len;
        self.next_len += count as u32;
        if self.next_len >= 48 {
            self.settle();
        }
    }

    /// Move the whole bytes of `next` to `bytes`.
    fn settle(&mut self) {
        let whole = self.next_len / 8;
        self.bytes
            .extend_from_slice(&self.next.to_le_bytes()[..whole as usize]);
        // At most 7 whole bytes (`append` settles before 64 bits), so the shift stays below 64.
        self.next >>= 8 * whole;
        self.next_len -= 8 * whole;
    }
}

impl Encoder {
    pub fn new(width: u8) -> Encoder {
        let literals = match width {
            1 => Literals::Bits(Bits::default()),
            _ => Literals::Values(Vec::new()),
        };
        Encoder {
            width,
            out: Vec::new(),
            literals,
        }
    }

    /// Append `count` times `value`.
    pub fn put_run(&mut self, value: u32, count: usize) {
        match &mut self.literals {
            Literals::Bits(bits) => put_bits(bits, value != 0, count, &mut self.out),
            Literals::Values(literals) => {
                put_values(literals, self.width, value, count, &mut self.out)
            }
        }
    }

    /// The encoded bytes (the last group padded).
    pub fn finish(mut self) -> Vec<u8> {
        match &mut self.literals {
            Literals::Values(literals) => bit_packed(literals, self.width, &mut self.out),
            Literals::Bits(bits) => {
                let len = bits.len();
                bits.settle();
                if bits.next_len > 0 {
                    bits.bytes.push(bits.next as u8);
                }
                packed_bits(&bits.bytes, len, &mut self.out);
            }
        }
        self.out
    }
}

/// [`Encoder::put_run`] of values of `width` bits, waiting one by one in `literals`.
fn put_values(literals: &mut Vec<u32>, width: u8, value: u32, count: usize, out: &mut Vec<u8>) {
    // The waiting values are filled up to whole groups from this repeat; what is left of it
    // becomes a run if it is still 8 values long.
    let fill = (8 - literals.len() % 8) % 8;
    if count >= fill + 8 {
        literals.extend(std::iter::repeat_n(value, fill));
        bit_packed(literals, width, out);
        literals.clear();
        run(value, count - fill, width, out);
    } else {
        literals.extend(std::iter::repeat_n(value, count));
        if literals.len() >= MAX_PACKED {
            let whole = literals.len() / MAX_PACKED * MAX_PACKED;
            bit_packed(&literals[..whole], width, out);
            literals.drain(..whole);
        }
    }
}

/// [`put_values`] of one-bit values, on packed bits.
fn put_bits(bits: &mut Bits, value: bool, count: usize, out: &mut Vec<u8>) {
    let fill = (8 - bits.len() % 8) % 8;
    if count >= fill + 8 {
        bits.append(value, fill);
        bits.settle();
        packed_bits(&bits.bytes, bits.bytes.len() * 8, out);
        bits.bytes.clear();
        run(u32::from(value), count - fill, 1, out);
    } else {
        bits.append(value, count);
        if bits.len() >= MAX_PACKED {
            bits.settle();
            let whole = bits.bytes.len() * 8 / MAX_PACKED * MAX_PACKED;
            packed_bits(&bits.bytes[..whole / 8], whole, out);
            bits.bytes.drain(..whole / 8);
        }
    }
}

/// [`bit_packed`] of `len` one-bit values packed in `bits`.
fn packed_bits(bits: &[u8], len: usize, out: &mut Vec<u8>) {
    let bytes = len.div_ceil(8);
    for part in bits[..bytes].chunks(MAX_PACKED / 8) {
        varint(((part.len() as u64) << 1) | 1, out);
        out.extend_from_slice(part);
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

    /// `put_run` through the one-bit path and through the values path, for the same runs.
    fn both_ways(runs: &[(bool, usize)]) -> (Vec<u8>, Vec<u8>) {
        let mut bits = Encoder::new(1);
        let mut values = Encoder {
            width: 1,
            out: Vec::new(),
            literals: Literals::Values(Vec::new()),
        };
        for &(v, n) in runs {
            bits.put_run(u32::from(v), n);
            values.put_run(u32::from(v), n);
        }
        (bits.finish(), values.finish())
    }

    #[test]
    fn one_bit_values_pack_as_values_do() {
        let (bits, values) =
            both_ways(&[(true, 3), (false, 2), (true, 9), (false, 600), (true, 1)]);
        assert_eq!(bits, values);
        assert_eq!(both_ways(&[]), (Vec::new(), Vec::new()));
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

        /// Levels as sparse and dense columns give them: short runs, long runs, both.
        #[test]
        fn one_bit_runs_encode_the_same_either_way(
            runs in prop::collection::vec((any::<bool>(), prop_oneof![1usize..4, 1usize..20, 1usize..700]), 0..400),
        ) {
            let (bits, values) = both_ways(&runs);
            prop_assert_eq!(&bits, &values);
            let expected: Vec<u32> = runs.iter().flat_map(|&(v, n)| std::iter::repeat_n(u32::from(v), n)).collect();
            prop_assert_eq!(decode(&bits, 1, expected.len()), expected);
        }
    }
}
