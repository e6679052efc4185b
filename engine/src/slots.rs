//! Which slot page holds which checkpoint, and where the next slot write
//! may go (FORMAT.md §1.2, §4 step 4).
//!
//! A slot may live in any of the three slot pages. A new slot never goes
//! to a page holding the current checkpoint's slot (unless another copy of
//! it exists). Until a session has confirmed the newest slot (written an
//! exact copy of it and synced), it also never overwrites the next newest
//! one: the newest may be a write that only the OS cache shows.

use crate::page::slot::SLOTS;

/// The checkpoint id held by each slot page (`None`: no valid slot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotPages {
    ids: [Option<u64>; SLOTS as usize],
}

impl SlotPages {
    /// From the valid slots found at open: `(page, checkpoint id)`.
    pub fn new(valid: impl IntoIterator<Item = (u64, u64)>) -> SlotPages {
        let mut s = SlotPages::default();
        for (page, id) in valid {
            s.record(page, id);
        }
        s
    }

    /// Page `page` now holds checkpoint `id`.
    pub fn record(&mut self, page: u64, id: u64) {
        self.ids[(page - 1) as usize] = Some(id);
    }

    fn count(&self, id: u64) -> usize {
        self.ids.iter().filter(|&&i| i == Some(id)).count()
    }

    /// The first page, in order of preference, whose id `keep` does not
    /// protect (ids in `keep` are protected unless duplicated).
    fn choose(&self, keep: &[u64]) -> u64 {
        let mut pages: Vec<(usize, Option<u64>)> = self.ids.iter().copied().enumerate().collect();
        // Empty pages first, then the oldest.
        pages.sort_by_key(|&(_, id)| id.map_or(0, |i| i + 1));
        let free = pages
            .iter()
            .find(|(_, id)| id.is_none_or(|i| !keep.contains(&i)))
            .or_else(|| {
                pages
                    .iter()
                    .find(|(_, id)| id.is_some_and(|i| self.count(i) >= 2))
            })
            .expect("three pages hold at most two protected ids, one of them twice");
        free.0 as u64 + 1
    }

    /// Where to write the confirmation copy of the current checkpoint `s`:
    /// neither `s` nor the next newest id may lose their last copy.
    pub fn for_copy(&self, s: u64) -> u64 {
        let p = self.ids.iter().flatten().copied().filter(|&i| i < s).max();
        let keep: Vec<u64> = std::iter::once(s).chain(p).collect();
        self.choose(&keep)
    }

    /// Where to write a new slot once `s` (the current checkpoint) is
    /// confirmed durable.
    pub fn for_new(&self, s: u64) -> u64 {
        self.choose(&[s])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_overwrites_a_last_copy_of_the_protected_slots() {
        // Pages hold p=5 (durable), s=6 (maybe only cached), nothing.
        let mut sp = SlotPages::new([(1, 5), (2, 6)]);
        assert_eq!(sp.for_copy(6), 3);
        sp.record(3, 6); // the copy: pages 5, 6, 6
        assert_eq!(sp.for_copy(6), 2, "a duplicate of s may be rewritten");
        assert_eq!(sp.for_new(6), 1, "once confirmed, p's page is reused");
        let sp = SlotPages::new([(1, 5), (2, 6), (3, 4)]);
        assert_eq!(sp.for_copy(6), 3, "the oldest, unprotected slot goes first");
        let sp = SlotPages::new([(1, 5), (2, 5), (3, 6)]);
        assert!(matches!(sp.for_copy(6), 1 | 2));
    }
}
