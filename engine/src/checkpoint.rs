//! Checkpoints: writing the changed trees copy-on-write and publishing them
//! in a slot (FORMAT.md §3, steps C1–C6).

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::db::{Core, Inner};
use crate::log::LogState;
use crate::page::slot::Slot;
use crate::snapshot::Snapshot;
use crate::Result;

/// Runs checkpoint `core.checkpoint + 1` of the current state. On an error
/// before the slot is written the checkpoint is abandoned and `core` is
/// unchanged; a failed sync or slot write poisons the handle.
pub(crate) fn run(inner: &Inner, core: &mut Core) -> Result<()> {
    let trees = Catalog::clone(&core.catalog);
    run_with(inner, core, trees)
}

/// As [`run`], writing `trees` (consumed: see [`Catalog::write`]) as the
/// state of transaction `core.txn` instead of `core.catalog`: a transaction
/// committed by checkpoint hands over its own trees, which no snapshot
/// shares. On an error `core.catalog` is unchanged.
pub(crate) fn run_with(inner: &Inner, core: &mut Core, trees: Catalog) -> Result<()> {
    inner.check_poisoned()?;
    crate::failpoint::hit("checkpoint::start")?;
    let pager = &inner.pager;
    let ps = pager.page_size() as u64;
    let next = core.checkpoint + 1;

    // C1: choose locations; every decision is made on a copy of the
    // allocator so that an abandoned checkpoint leaves no trace.
    let mut alloc = core.alloc.clone();
    alloc.release(inner.registry.oldest_base());
    for &(p, n) in &core.freed_since {
        alloc.free(p, n, next)?;
    }
    for &p in &core.catalog_pages {
        alloc.free(p, 1, next)?;
    }
    let (mut log_start, mut log_pages) = (core.log.start, core.log.pages);
    if let Some(needed) = core.log_full {
        let want = grown_log_pages(log_pages, alloc.page_count(), inner.max_log_pages());
        // Only for records the grown log could hold: a larger one commits
        // by checkpoint whatever the log's size.
        if want > log_pages && want >= needed {
            alloc.free(log_start, log_pages, next)?;
            log_start = alloc.allocate(want)?;
            log_pages = want;
            pager.zero_fill(log_start, log_pages)?;
        }
    }
    // C1 + C2: allocate and write the trees, the catalog and the allocator.
    let (catalog, catalog_root, catalog_pages) = trees.write(pager, &mut alloc, next)?;
    crate::failpoint::hit("checkpoint::after_flush")?;
    alloc.persist(pager, next)?;
    crate::failpoint::hit("checkpoint::after_alloc_persist")?;
    // The growth slack at the end goes back; the page count may now be
    // below an older checkpoint's.
    alloc.trim_tail();
    // The file only grows: an older slot (the durable one, until this
    // checkpoint's slot is) may count pages past the new page count, and
    // a file shorter than a slot's count fails to open.
    let len = alloc.page_count() * ps;
    if pager.file().len()? < len {
        pager.file().set_len(len)?;
    }
    // C3: barrier 1.
    crate::failpoint::hit("checkpoint::before_barrier1")?;
    inner.sync_or_poison()?;
    // Before the session's first slot write: confirm the newest slot
    // (FORMAT.md §4 step 4). Only now may the pages the older slots use be
    // reused, by later checkpoints.
    ensure_confirmed(inner, core)?;
    alloc.confirm();

    // C4: the slot.
    let slot = Slot {
        checkpoint: next,
        last_txn: core.txn,
        page_count: alloc.page_count(),
        log_start,
        log_pages,
        catalog: catalog_root,
        alloc_index: alloc.index_refs().to_vec(),
    };
    let seq = core.slot_pages.next_seq();
    let (bytes, slot_checksum) = slot.encode(pager.page_size(), seq);
    let slot_page = core.slot_pages.for_new();
    // C4 and C5: the slot, then barrier 2.
    write_slot_and_sync(inner, slot_page, &bytes)?;
    // C6: the new checkpoint is the durable state.
    pager.set_page_count(alloc.page_count());
    core.alloc = alloc;
    core.slot = slot;
    core.slot_page = slot_page;
    core.slot_pages.record_durable(slot_page, next, seq);
    core.checkpoint = next;
    core.checkpoint_txn = core.txn;
    core.catalog = Arc::new(catalog);
    core.catalog_pages = catalog_pages;
    core.freed_since.clear();
    core.log_full = None;
    core.needs_new_epoch = false;
    core.dirty_bytes = 0;
    core.log = LogState {
        epoch: next,
        start: log_start,
        pages: log_pages,
        tail: 0,
        link: slot_checksum,
    };
    inner
        .checkpoints
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let snap = Arc::new(Snapshot {
        txn: core.txn,
        base: next,
        catalog: core.catalog.clone(),
    });
    inner.group.all_durable(&inner.registry, core.txn);
    inner.registry.publish(snap);
    inner.deliver_durable();
    Ok(())
}

/// The log extent's new length after a full log forced a checkpoint: at
/// least double, and at least a quarter of the file, up to `max` (never
/// shrinking); the caller grows the log only if the record that did not fit
/// would fit the new length. A checkpoint costs up to the pages changed since the last
/// one, which is bounded by the file's size, so a log in proportion to the
/// file keeps a busy database from checkpointing after every few commits
/// (a 1,000-put commit into a million keys is about 190 KB of log), while a
/// small database keeps a small log.
fn grown_log_pages(pages: u64, file_pages: u64, max: u64) -> u64 {
    (pages * 2).max(file_pages / 4).min(max).max(pages)
}

/// Publishes the current checkpoint's state again under a new id (C4–C5
/// only: no page changes). A session does this before its first log write
/// when it has no un-checkpointed changes: the newest slot becomes known
/// durable (so the pages it freed can be reused, FORMAT.md §4 step 4) and
/// the session gets an epoch of its own (§4 step 6) for the price of one
/// slot write and one sync.
pub(crate) fn republish(inner: &Inner, core: &mut Core) -> Result<()> {
    inner.check_poisoned()?;
    debug_assert_eq!(core.txn, core.checkpoint_txn);
    ensure_confirmed(inner, core)?;
    let pager = &inner.pager;
    let next = core.checkpoint + 1;
    let slot = Slot {
        checkpoint: next,
        ..core.slot.clone()
    };
    let seq = core.slot_pages.next_seq();
    let (bytes, slot_checksum) = slot.encode(pager.page_size(), seq);
    let slot_page = core.slot_pages.for_new();
    write_slot_and_sync(inner, slot_page, &bytes)?;
    core.slot_pages.record_durable(slot_page, next, seq);
    core.checkpoint = next;
    core.needs_new_epoch = false;
    core.slot = slot;
    core.slot_page = slot_page;
    core.log = LogState {
        epoch: next,
        start: core.slot.log_start,
        pages: core.slot.log_pages,
        tail: 0,
        link: slot_checksum,
    };
    Ok(())
}

/// C4–C5 for a slot page; any failure poisons the handle.
fn write_slot_and_sync(inner: &Inner, page: u64, bytes: &[u8]) -> Result<()> {
    if let Err(e) = crate::failpoint::hit("checkpoint::before_slot") {
        inner.poison();
        return Err(e);
    }
    if let Err(e) = inner.pager.write_pages(page, bytes) {
        inner.poison();
        return Err(e);
    }
    if let Err(e) = crate::failpoint::hit("checkpoint::before_barrier2") {
        inner.poison();
        return Err(e);
    }
    inner.sync_or_poison()
}

/// Makes the newest slot known durable before this session writes any slot
/// of its own (FORMAT.md §4 step 4): writes a copy of it (same checkpoint,
/// next write sequence) to the page [`crate::slots::SlotPages::for_copy`]
/// chooses and syncs. The pages older checkpoints use stay blocked until
/// then. Copies cannot pile up unconfirmed ids, and the write sequence tells
/// a failed confirmation's copy from the original, so a session never
/// overwrites the one slot that may be the only durable one. Also syncs the
/// directory once per session (an earlier session may have failed before a
/// new file's directory entry was durable).
pub(crate) fn ensure_confirmed(inner: &Inner, core: &mut Core) -> Result<()> {
    if core.slot_pages.confirmed() {
        return Ok(());
    }
    if !core.dir_synced {
        inner
            .opts
            .vfs
            .sync_dir(&inner.path)
            .map_err(crate::Error::Io)
            .inspect_err(|_| inner.poison())?;
        core.dir_synced = true;
    }
    let seq = core.slot_pages.next_seq();
    let (bytes, _) = core.slot.encode(inner.pager.page_size(), seq);
    let page = core.slot_pages.for_copy();
    write_slot_and_sync(inner, page, &bytes)?;
    core.slot_pages.record_durable(page, core.checkpoint, seq);
    core.alloc.confirm();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::grown_log_pages;

    #[test]
    fn a_full_log_grows_to_double_or_a_quarter_of_the_file_up_to_the_maximum() {
        // A small file: the log doubles.
        assert_eq!(grown_log_pages(16, 40, 16_384), 32);
        // A large file: a quarter of it at once (a 1M-key database).
        assert_eq!(grown_log_pages(16, 57_218, 16_384), 14_304);
        // Never past the maximum...
        assert_eq!(grown_log_pages(16, 200_000, 16_384), 16_384);
        assert_eq!(grown_log_pages(10_000, 1_000, 16_384), 16_384);
        // ...and never shrinking, even when the maximum was lowered.
        assert_eq!(grown_log_pages(500, 1_000, 100), 500);
    }
}
