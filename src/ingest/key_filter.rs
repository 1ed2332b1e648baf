//! Which keys of a record may have come before: a filter that spares the duplicate-key search
//! for most keys.

/// A 2,048-bit filter over the keys of a record, so that the linear duplicate search runs only
/// when a key's bit is already set, instead of comparing every pair of keys. A record of
/// OfficeActivity brings up to 146 keys; 128 bits set by the key's length and first and last
/// bytes were mostly full, and the search ran for nearly every key; with 512 bits it still ran
/// for several keys of every such record (bench/NOTES.md, nineteenth session).
#[derive(Default)]
pub struct KeyFilter([u64; 32]);

impl KeyFilter {
    /// Set `key`'s bit; whether it was set already (the key may have been seen).
    #[inline]
    pub fn insert(&mut self, key: &str) -> bool {
        let h = key_tag(key.as_bytes()) >> 53;
        let (word, bit) = ((h >> 6) as usize & 31, 1u64 << (h & 63));
        let seen = self.0[word] & bit != 0;
        self.0[word] |= bit;
        seen
    }
}

/// A hash of a key's length and its first and last eight bytes (all of a key of up to 16),
/// best in its top bits. A shorter key is read as two overlapping words of four bytes (or three
/// single bytes), never copied: a copy of a length not known in advance is a call, and its byte
/// stores cannot be forwarded to the word read back.
#[inline]
pub fn key_tag(b: &[u8]) -> u64 {
    let n = b.len();
    let (head, tail) = match n {
        8.. => (word8(&b[..8]), word8(&b[n - 8..])),
        4..=7 => (
            u64::from(word4(&b[..4])) | u64::from(word4(&b[n - 4..])) << 32,
            0,
        ),
        1..=3 => (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ),
        0 => (0, 0),
    };
    (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn word8(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("eight bytes"))
}

#[inline]
fn word4(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("four bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;

    /// A key inserted again is always reported; OfficeActivity's 146 column names, inserted
    /// once each, seldom are (a filter of 512 bits took one in nine for a repeat).
    #[test]
    fn repeats_are_always_found_and_new_keys_seldom_taken_for_them() {
        let table = Catalog::builtin().get("OfficeActivity").unwrap();
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let mut filter = KeyFilter::default();
        let false_alarms = names.iter().filter(|n| filter.insert(n)).count();
        assert!(names.iter().all(|n| filter.insert(n)));
        assert!(
            false_alarms < names.len() / 16,
            "{false_alarms} of {}",
            names.len()
        );
        let mut short = KeyFilter::default();
        assert!(!short.insert(""));
        assert!(!short.insert("a"));
        assert!(short.insert("a"));
        assert!(short.insert(""));
    }

    /// A key of up to seven bytes is read whole: any two such keys of one length get
    /// different tags.
    #[test]
    fn short_keys_are_told_apart_by_every_byte() {
        let letters = b"aZ_0";
        for len in 1..=7u32 {
            let keys: Vec<Vec<u8>> = (0..4usize.pow(len))
                .map(|mut i| {
                    (0..len)
                        .map(|_| {
                            let c = letters[i % 4];
                            i /= 4;
                            c
                        })
                        .collect()
                })
                .collect();
            let tags: std::collections::HashSet<u64> = keys.iter().map(|k| key_tag(k)).collect();
            assert_eq!(tags.len(), keys.len(), "keys of {len} bytes");
        }
    }
}
