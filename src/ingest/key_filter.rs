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
/// best in its top bits.
#[inline]
pub fn key_tag(b: &[u8]) -> u64 {
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        w[..s.len()].copy_from_slice(s);
        u64::from_le_bytes(w)
    };
    let n = b.len();
    let (head, tail) = match n >= 8 {
        true => (word(&b[..8]), word(&b[n - 8..])),
        false => (word(b), 0),
    };
    (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
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
}
