//! Where each key of a table's records goes, found in one probe of a small hash table.
//!
//! A record's keys are looked up one by one, some 80 of them for a record of OfficeActivity.
//! Searching a list of the keys seen in the export's order (the look-ahead this replaces)
//! took a branch per key passed over, which records leaving optional keys out at random make
//! unpredictable; a probe takes the same few steps for every key.

use super::key_filter::key_tag;
use crate::bytes::same_bytes;

/// Keys a table holds at most: past them, records that bring ever new keys are looked up by
/// name each time (by the caller).
pub const MAX_KEYS: usize = 512;

/// Places in the table: a power of two, twice [`MAX_KEYS`], so probes stay short.
const PLACES: usize = 2 * MAX_KEYS;

/// The keys seen and what each stands for (`S`, the decoder's slot).
pub struct KeySlots<S> {
    /// Every key's text, back to back: a few cache lines, where a `Box` per key would scatter
    /// them over the heap.
    text: String,
    slots: Vec<S>,
    /// Each place's key: its tag (so that most probes that miss do not read the text) and
    /// where its text and slot are. A place is read in one load.
    places: Box<[Place]>,
}

#[derive(Clone, Copy)]
struct Place {
    tag: u64,
    start: u32,
    len: u16,
    /// The key's index in `slots`; `EMPTY` for a place no key took.
    index: u16,
}

const EMPTY: u16 = u16::MAX;

/// Longest key held: a longer one is looked up by name each time (by the caller).
const MAX_KEY_BYTES: usize = 1024;

impl<S: Copy> KeySlots<S> {
    pub fn new() -> KeySlots<S> {
        let empty = Place {
            tag: 0,
            start: 0,
            len: 0,
            index: EMPTY,
        };
        KeySlots {
            text: String::new(),
            slots: Vec::new(),
            places: vec![empty; PLACES].into_boxed_slice(),
        }
    }

    /// What `key` stands for, if it was inserted.
    #[inline]
    pub fn get(&self, key: &str) -> Option<S> {
        let tag = key_tag(key.as_bytes());
        let mut at = place(tag);
        loop {
            let p = self.places[at];
            if p.index == EMPTY {
                return None;
            }
            if p.tag == tag && usize::from(p.len) == key.len() {
                let start = p.start as usize;
                let text = &self.text.as_bytes()[start..start + key.len()];
                if same_bytes(text, key.as_bytes()) {
                    return Some(self.slots[usize::from(p.index)]);
                }
            }
            at = (at + 1) & (PLACES - 1);
        }
    }

    /// Remember `key` (not already inserted) as standing for `slot`; false when full or
    /// when the key is too long to hold.
    pub fn insert(&mut self, key: &str, slot: S) -> bool {
        if self.slots.len() >= MAX_KEYS || key.len() > MAX_KEY_BYTES {
            return false;
        }
        let tag = key_tag(key.as_bytes());
        let mut at = place(tag);
        while self.places[at].index != EMPTY {
            at = (at + 1) & (PLACES - 1);
        }
        self.places[at] = Place {
            tag,
            start: self.text.len() as u32,
            len: key.len() as u16,
            index: self.slots.len() as u16,
        };
        self.text.push_str(key);
        self.slots.push(slot);
        true
    }
}

/// The first place to look for a key of `tag`: its top bits, the best mixed.
#[inline]
fn place(tag: u64) -> usize {
    (tag >> (64 - PLACES.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;

    #[test]
    fn finds_every_key_inserted_and_no_other() {
        let table = Catalog::builtin().get("OfficeActivity").unwrap();
        let mut slots = KeySlots::new();
        for (i, c) in table.columns.iter().enumerate() {
            assert_eq!(slots.get(&c.name), None);
            assert!(slots.insert(&c.name, i));
        }
        for (i, c) in table.columns.iter().enumerate() {
            assert_eq!(slots.get(&c.name), Some(i));
            assert_eq!(slots.get(&format!("{}x", c.name)), None);
            assert_eq!(slots.get(&c.name[1..]), None);
        }
    }

    /// Keys longer than 16 bytes that differ only in their middle share a tag and a place:
    /// each is still told apart by its text.
    #[test]
    fn keys_that_share_a_tag_are_told_apart() {
        let keys: Vec<String> = (0..40).map(|i| format!("SameHead{i:03}SameTail")).collect();
        assert!(keys
            .iter()
            .all(|k| key_tag(k.as_bytes()) == key_tag(keys[0].as_bytes())));
        let mut slots = KeySlots::new();
        for (i, k) in keys.iter().enumerate().skip(1) {
            assert!(slots.insert(k, i));
        }
        assert_eq!(slots.get(&keys[0]), None);
        for (i, k) in keys.iter().enumerate().skip(1) {
            assert_eq!(slots.get(k), Some(i));
        }
    }

    #[test]
    fn holds_at_most_max_keys_and_still_finds_them() {
        let mut slots = KeySlots::new();
        for i in 0..MAX_KEYS {
            assert!(slots.insert(&format!("k{i}"), i));
        }
        assert!(!slots.insert("one more", 0));
        assert_eq!(slots.get("one more"), None);
        assert!((0..MAX_KEYS).all(|i| slots.get(&format!("k{i}")) == Some(i)));
        assert_eq!(slots.get(""), None);
    }

    #[test]
    fn a_key_too_long_to_hold_is_not_held() {
        let mut slots = KeySlots::new();
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(!slots.insert(&long, 1));
        assert_eq!(slots.get(&long), None);
        assert!(slots.insert(&long[1..], 2));
        assert_eq!(slots.get(&long[1..]), Some(2));
    }
}
