//! Choosing the checkpoint to recover from (FORMAT.md §4 steps 2–3).

use crate::freelist::Allocator;
use crate::page::slot::{Slot, SLOTS};
use crate::pager::Pager;
use crate::{Error, Result};

/// A valid slot as read at open.
#[derive(Clone, Debug)]
pub struct ValidSlot {
    /// The checkpoint it publishes.
    pub slot: Slot,
    /// Its checkpoint checksum (the link of the epoch's first record).
    pub checksum: u64,
    /// The slot page it was read from.
    pub page: u64,
    /// Its write sequence number.
    pub seq: u64,
}

/// Reads every slot page; returns the valid slots, newest first. I/O errors
/// are returned; a slot that fails validation is skipped.
pub fn valid_slots(pager: &Pager) -> Result<Vec<ValidSlot>> {
    let mut slots = Vec::new();
    let mut last_err = None;
    for page in 1..=SLOTS {
        match pager
            .read_pages(page, 1)
            .and_then(|b| Slot::decode(&b, page))
        {
            Ok((slot, checksum, seq)) => slots.push(ValidSlot {
                slot,
                checksum,
                page,
                seq,
            }),
            Err(Error::Io(e)) => return Err(Error::Io(e)),
            Err(e) => last_err = Some(e),
        }
    }
    if slots.is_empty() {
        return Err(last_err.unwrap_or_else(|| Error::corrupt(1, "no valid checkpoint slot")));
    }
    slots.sort_by_key(|v| std::cmp::Reverse((v.slot.checkpoint, v.seq)));
    Ok(slots)
}

/// Pages the newest checkpoint freed relative to an older valid one (in use
/// by `older`, free in `alloc`). Until this session has confirmed the
/// newest slot, it may exist only in the operating system's cache (its sync
/// failed in an earlier session, FORMAT.md §4 step 4), so these pages must
/// not be reused yet. If the older checkpoint's allocator fails
/// verification, a later checkpoint already reused its pages, which proves
/// the newest slot was durable: nothing needs blocking. An I/O error is
/// returned: it proves nothing, and guessing would unblock pages the older
/// checkpoint may still need.
pub fn unconfirmed_frees(pager: &Pager, alloc: &Allocator, older: &Slot) -> Result<Vec<u64>> {
    let old = match Allocator::load(
        pager,
        pager.page_size(),
        older.page_count,
        &older.alloc_index,
    ) {
        Ok(old) => old,
        Err(Error::Io(e)) => return Err(Error::Io(e)),
        Err(_) => return Ok(Vec::new()),
    };
    // Past the newest page count too: a checkpoint gives back the free
    // pages at the end of the file (`Allocator::trim_tail`), which may be
    // pages the older checkpoint still uses; growing the file again must
    // not reuse them before the confirmation either.
    Ok((0..older.page_count)
        .filter(|&p| old.is_in_use(p) && !alloc.is_in_use(p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freelist::Allocator;

    fn slot_of(a: &Allocator) -> Slot {
        Slot {
            checkpoint: 1,
            last_txn: 0,
            page_count: a.page_count(),
            log_start: 0,
            log_pages: 0,
            catalog: None,
            alloc_index: a.index_refs().to_vec(),
        }
    }

    /// The newest checkpoint does not use the older one's last pages and
    /// its page count ends before them (a checkpoint gives back the free
    /// pages at the end of the file): they stay blocked until the session
    /// confirms the newest slot, even past the newest page count, so
    /// growing the file cannot reuse them early.
    #[test]
    fn pages_past_the_newest_page_count_that_the_older_checkpoint_uses_stay_blocked() {
        let pager = Pager::in_memory(1024);
        let mut older = Allocator::new(1024);
        for _ in 0..200 {
            older.allocate(1).unwrap();
        }
        older.persist(&pager, 1).unwrap();
        let mut newest = Allocator::new(1024);
        for _ in 0..120 {
            newest.allocate(1).unwrap();
        }
        let past: Vec<u64> = (newest.page_count()..older.page_count())
            .filter(|&p| older.is_in_use(p))
            .collect();
        assert!(
            past.len() > 20,
            "the older checkpoint uses pages past the newest count"
        );
        let blocked = unconfirmed_frees(&pager, &newest, &slot_of(&older)).unwrap();
        for p in &past {
            assert!(blocked.contains(p), "page {p} is not blocked");
        }
        newest.block_until_confirmed(blocked);
        for _ in 0..150 {
            let p = newest.allocate(1).unwrap();
            assert!(!past.contains(&p), "page {p} reused before confirmation");
        }
    }
}
