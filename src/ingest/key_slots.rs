//! Where each key of a table's records goes: the key that followed the record's last key the
//! time before, else one probe of a small hash table.
//!
//! A record's keys are looked up one by one, some 80 of them for a record of OfficeActivity.
//! Records of one export list their keys in one order, so the key that came after the last
//! one matched is tried first: every time right when records give every key (the project's
//! generator), about half the time when they leave optional keys out at random. A wrong guess
//! costs a mispredicted branch, so guessing stops while guesses are often wrong (and starts
//! again when they would be right). The probe takes the same few steps for every key, where
//! the search along the export's key order it replaced took a branch per key passed over,
//! which keys left out at random made unpredictable.

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
    keys: Vec<Key<S>>,
    /// The key that came first in the last record that started with a known key.
    first: u16,
    /// The key last found in the current record, or `START`.
    last: u16,
    /// Whether the guess is tried before the probe: while it is mostly right. Over each
    /// `WINDOW` lookups, `misses` counts the guesses that were (or would have been) wrong.
    guessing: bool,
    lookups: u32,
    misses: u32,
    /// Each place's key: its tag (so that most probes that miss do not read the text) and
    /// where its text is. A place is read in one load.
    places: Box<[Place]>,
}

struct Key<S> {
    start: u32,
    len: u16,
    /// The key that came after this one the last time it was followed by a known key.
    next: u16,
    slot: S,
}

#[derive(Clone, Copy)]
struct Place {
    tag: u64,
    start: u32,
    len: u16,
    /// The key's index in `keys`; `EMPTY` for a place no key took.
    index: u16,
}

const EMPTY: u16 = u16::MAX;

/// `last` before a record's first key.
const START: u16 = u16::MAX - 1;

/// Lookups over which the guesses are judged.
const WINDOW: u32 = 4096;

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
            keys: Vec::new(),
            first: EMPTY,
            last: START,
            guessing: true,
            lookups: 0,
            misses: 0,
            places: vec![empty; PLACES].into_boxed_slice(),
        }
    }

    /// Start a record: its first key is guessed to be the last record's.
    #[inline]
    pub fn start_record(&mut self) {
        self.last = START;
    }

    /// What `key`, the record's next key, stands for, if it was inserted.
    #[inline]
    pub fn get(&mut self, key: &str) -> Option<S> {
        let guess = match self.last {
            START => self.first,
            last => self.keys[usize::from(last)].next,
        };
        self.lookups += 1;
        if self.lookups == WINDOW {
            self.guessing = self.misses < WINDOW / 8;
            (self.lookups, self.misses) = (0, 0);
        }
        if self.guessing {
            if let Some(k) = self.keys.get(usize::from(guess)) {
                if usize::from(k.len) == key.len()
                    && same_bytes(self.text_of(k.start, k.len), key.as_bytes())
                {
                    self.last = guess;
                    return Some(k.slot);
                }
            }
        }
        let found = self.probe(key);
        // Counted without a branch, so that it costs next to nothing when not guessing.
        self.misses += u32::from(found != Some(guess));
        let found = found?;
        self.follows(found);
        Some(self.keys[usize::from(found)].slot)
    }

    /// `index` is the key after the last one found.
    #[inline]
    fn follows(&mut self, index: u16) {
        match self.last {
            START => self.first = index,
            last => self.keys[usize::from(last)].next = index,
        }
        self.last = index;
    }

    #[inline]
    fn text_of(&self, start: u32, len: u16) -> &[u8] {
        let start = start as usize;
        &self.text.as_bytes()[start..start + usize::from(len)]
    }

    /// The index of `key` by its hash.
    #[inline]
    fn probe(&self, key: &str) -> Option<u16> {
        let tag = key_tag(key.as_bytes());
        let mut at = place(tag);
        loop {
            let p = self.places[at];
            if p.index == EMPTY {
                return None;
            }
            if p.tag == tag
                && usize::from(p.len) == key.len()
                && same_bytes(self.text_of(p.start, p.len), key.as_bytes())
            {
                return Some(p.index);
            }
            at = (at + 1) & (PLACES - 1);
        }
    }

    /// Remember `key` (not already inserted), the record's next key, as standing for `slot`;
    /// false when full or when the key is too long to hold.
    pub fn insert(&mut self, key: &str, slot: S) -> bool {
        if self.keys.len() >= MAX_KEYS || key.len() > MAX_KEY_BYTES {
            return false;
        }
        let tag = key_tag(key.as_bytes());
        let mut at = place(tag);
        while self.places[at].index != EMPTY {
            at = (at + 1) & (PLACES - 1);
        }
        let (start, len, index) = (
            self.text.len() as u32,
            key.len() as u16,
            self.keys.len() as u16,
        );
        self.places[at] = Place {
            tag,
            start,
            len,
            index,
        };
        self.text.push_str(key);
        self.keys.push(Key {
            start,
            len,
            next: EMPTY,
            slot,
        });
        self.follows(index);
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

    /// Records that give the keys in other orders, and leave some out, find each key's slot
    /// whatever was guessed.
    #[test]
    fn every_order_of_keys_finds_their_slots() {
        let names = [
            "a",
            "bb",
            "Computer",
            "TimeGenerated",
            "x",
            "SameHead1SameTail",
        ];
        let mut slots = KeySlots::new();
        for (i, n) in names.iter().enumerate() {
            slots.start_record();
            assert!(slots.insert(n, i));
        }
        let orders: [&[usize]; 5] = [
            &[0, 1, 2, 3, 4, 5],
            &[0, 2, 4],
            &[5, 4, 3],
            &[1],
            &[3, 0, 5, 1],
        ];
        for _ in 0..3 {
            for order in orders {
                slots.start_record();
                for &i in order {
                    assert_eq!(slots.get(names[i]), Some(i));
                }
                assert_eq!(slots.get("unknown"), None);
                assert_eq!(slots.get(names[order[0]]), Some(order[0]));
            }
        }
    }

    /// Guessing stops while records change their key order, and starts again once they keep
    /// to one; either way every key finds its slot.
    #[test]
    fn guessing_follows_how_often_the_guess_is_right() {
        let names: Vec<String> = (0..16).map(|i| format!("Column{i}")).collect();
        let mut slots = KeySlots::new();
        slots.start_record();
        for (i, n) in names.iter().enumerate() {
            assert!(slots.insert(n, i));
        }
        let mut state = 7u64;
        for _ in 0..(3 * WINDOW as usize / names.len()) {
            slots.start_record();
            for (i, n) in names.iter().enumerate() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if state >> 63 == 1 {
                    assert_eq!(slots.get(n), Some(i));
                }
            }
        }
        assert!(!slots.guessing);
        for _ in 0..(3 * WINDOW as usize / names.len()) {
            slots.start_record();
            for (i, n) in names.iter().enumerate() {
                assert_eq!(slots.get(n), Some(i));
            }
        }
        assert!(slots.guessing);
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
