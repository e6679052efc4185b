//! Choosing the checkpoint to recover from (FORMAT.md §4 steps 2–3).

use crate::freelist::Allocator;
use crate::page::slot::{Slot, SLOTS};
use crate::pager::Pager;
use crate::{Error, Result};

/// A valid slot, its checkpoint checksum, the page it was read from and its
/// write sequence number.
pub type ValidSlot = (Slot, u64, u64, u64);

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
            Ok((s, c, seq)) => slots.push((s, c, page, seq)),
            Err(Error::Io(e)) => return Err(Error::Io(e)),
            Err(e) => last_err = Some(e),
        }
    }
    if slots.is_empty() {
        return Err(last_err.unwrap_or_else(|| Error::corrupt(1, "no valid checkpoint slot")));
    }
    slots.sort_by_key(|(s, _, _, seq)| std::cmp::Reverse((s.checkpoint, *seq)));
    Ok(slots)
}

/// Pages the newest checkpoint freed relative to an older valid one (in use
/// by `older`, free in `alloc`). Until this session completes a
/// checkpoint of its own, the newest slot may exist only in the operating
/// system's cache (its sync failed in an earlier session, FORMAT.md §4 step
/// 4), so these pages must not be reused yet. If the older checkpoint's
/// allocator cannot be read, a later checkpoint already reused its pages,
/// which proves the newest slot was durable: nothing needs blocking.
pub fn unconfirmed_frees(pager: &Pager, alloc: &Allocator, older: &Slot) -> Vec<u64> {
    let Ok(old) = Allocator::load(
        pager,
        pager.page_size(),
        older.page_count,
        &older.alloc_index,
    ) else {
        return Vec::new();
    };
    (0..older.page_count.min(alloc.page_count()))
        .filter(|&p| old.is_in_use(p) && !alloc.is_in_use(p))
        .collect()
}
