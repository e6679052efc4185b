//! Which slot page holds which checkpoint, and where the next slot write
//! may go (FORMAT.md §1.2, §4 step 4).
//!
//! A slot may live in any of the three slot pages, and every slot write
//! carries a write sequence number, so two copies of one checkpoint can be
//! told apart. What a session knows at open may come from the operating
//! system's cache rather than the disk (a write whose sync failed in an
//! earlier session). So before its first slot write a session *confirms*
//! the newest checkpoint: it writes a copy into a page that holds neither
//! the earliest copy of the newest checkpoint nor the latest copy of the
//! next newest, and syncs. From then on it knows one page that is durable,
//! and every later slot write goes elsewhere.

use crate::page::slot::SLOTS;

/// What each slot page holds: `(checkpoint id, write sequence)`.
type View = [Option<(u64, u64)>; SLOTS as usize];

/// The slot pages as this session knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotPages {
    view: View,
    /// The page known to hold the current checkpoint durably (set once the
    /// session has confirmed it or written it and synced).
    durable: Option<u64>,
}

impl SlotPages {
    /// From the valid slots found at open: `(page, checkpoint id, sequence)`.
    pub fn new(valid: impl IntoIterator<Item = (u64, u64, u64)>) -> SlotPages {
        let mut s = SlotPages::default();
        for (page, id, seq) in valid {
            s.view[(page - 1) as usize] = Some((id, seq));
        }
        s
    }

    /// The sequence number for the next slot write.
    pub fn next_seq(&self) -> u64 {
        self.view
            .iter()
            .flatten()
            .map(|&(_, s)| s)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Page `page` now durably holds checkpoint `id`, written as `seq`.
    pub fn record_durable(&mut self, page: u64, id: u64, seq: u64) {
        self.view[(page - 1) as usize] = Some((id, seq));
        self.durable = Some(page);
    }

    /// Whether the session knows a page that durably holds its checkpoint.
    pub fn confirmed(&self) -> bool {
        self.durable.is_some()
    }

    /// The page holding the earliest (`latest == false`) or latest copy of
    /// checkpoint `id`.
    fn copy_of(&self, id: u64, latest: bool) -> Option<u64> {
        let pages = (0..self.view.len()).filter(|&i| self.view[i].is_some_and(|(k, _)| k == id));
        let seq = |&i: &usize| self.view[i].map(|(_, s)| s);
        let i = if latest {
            pages.max_by_key(seq)
        } else {
            pages.min_by_key(seq)
        };
        i.map(|i| i as u64 + 1)
    }

    /// The first page not in `keep`: one without a valid slot, then the
    /// lowest checkpoint id, then the highest (`latest_first`) or lowest
    /// write sequence.
    fn choose(&self, keep: &[u64], latest_first: bool) -> u64 {
        (1..=SLOTS)
            .filter(|p| !keep.contains(p))
            .min_by_key(|&p| match self.view[(p - 1) as usize] {
                None => (0, 0, 0),
                Some((k, s)) => (1, k, if latest_first { u64::MAX - s } else { s }),
            })
            .expect("at most two of the three pages are protected")
    }

    /// Where to write the confirmation copy of the newest checkpoint: not
    /// over its earliest copy (if any copy is durable, that one is: the
    /// next newest's pages are reused only once the newest is known
    /// durable, FORMAT.md §1.2), nor over the latest copy of the next
    /// newest (the copy a confirmation made durable, if no copy of the
    /// newest is).
    pub fn for_copy(&self) -> u64 {
        let ids = || self.view.iter().flatten().map(|&(k, _)| k);
        let newest = ids().max();
        let next = newest.and_then(|n| ids().filter(|&k| k < n).max());
        let keep: Vec<u64> = [
            newest.and_then(|n| self.copy_of(n, false)),
            next.and_then(|p| self.copy_of(p, true)),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.choose(&keep, true)
    }

    /// Where to write a new slot once confirmed: anywhere but the page
    /// known to hold the current checkpoint durably.
    pub fn for_new(&self) -> u64 {
        let durable = self
            .durable
            .expect("a session confirms the newest slot before writing its own");
        self.choose(&[durable], false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_copy_keeps_what_recovery_may_need() {
        // Pages hold P=5, N=6 (maybe only cached), nothing: the empty page.
        assert_eq!(SlotPages::new([(1, 5, 1), (2, 6, 2)]).for_copy(), 3);
        // The oldest, unprotected slot goes first.
        assert_eq!(
            SlotPages::new([(1, 5, 2), (2, 6, 3), (3, 4, 1)]).for_copy(),
            3
        );
        // P=3 and two copies of N=4: the later copy (a failed confirmation
        // that only the cache may show) goes, the earlier one stays.
        let sp = SlotPages::new([(1, 3, 1), (2, 4, 2), (3, 4, 3)]);
        assert_eq!(sp.for_copy(), 3);
        let sp = SlotPages::new([(1, 3, 1), (2, 4, 3), (3, 4, 2)]);
        assert_eq!(sp.for_copy(), 2);
        // N=5 and two copies of P=4: the later copy of P (made durable by
        // the confirmation that preceded slot 5) stays.
        let sp = SlotPages::new([(1, 4, 2), (2, 4, 3), (3, 5, 4)]);
        assert_eq!(sp.for_copy(), 1);
        assert_eq!(sp.next_seq(), 5);
    }

    #[test]
    fn after_confirmation_only_the_durable_page_is_kept() {
        let mut sp = SlotPages::new([(1, 3, 1), (2, 4, 2), (3, 4, 3)]);
        assert!(!sp.confirmed());
        sp.record_durable(3, 4, 5);
        assert!(sp.confirmed());
        assert_eq!(sp.for_new(), 1, "the oldest slot goes, not the copy");
        sp.record_durable(1, 5, 6);
        assert_eq!(sp.for_new(), 2);
    }
}
