//! Checkpoints: writing the changed trees copy-on-write and publishing them
//! in a slot (FORMAT.md §3, steps C1–C6).

use std::sync::Arc;

use crate::db::{Core, Inner};
use crate::log::LogState;
use crate::page::slot::Slot;
use crate::snapshot::Snapshot;
use crate::Result;

/// Runs checkpoint `core.checkpoint + 1`. On an error before the slot is
/// written the checkpoint is abandoned and `core` is unchanged; a failed
/// sync or slot write poisons the handle.
pub(crate) fn run(inner: &Inner, core: &mut Core) -> Result<()> {
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
    // C1 + C2: allocate and write the trees and the catalog.
    let (catalog, catalog_root, catalog_pages) = core.catalog.write(pager, &mut alloc, next)?;
    crate::failpoint::hit("checkpoint::after_flush")?;
    // C1 + C2: the log extent, if it grows (sized once the trees are
    // written, so that a load's pages count), then the allocator.
    let (mut log_start, mut log_pages) = (core.log.start, core.log.pages);
    let used = alloc.page_count() - alloc.free_pages();
    let want = log_growth(
        core.log_full,
        log_pages,
        alloc.page_count(),
        used,
        inner.max_log_pages(),
    );
    if want > log_pages {
        alloc.free(log_start, log_pages, next)?;
        log_start = alloc.allocate(want)?;
        log_pages = want;
        pager.zero_fill(log_start, log_pages)?;
    }
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
    Ok(())
}

/// The length a checkpoint gives a log extent of `pages` pages (`pages`
/// itself if it does not grow), in a file of `file_pages` pages of which
/// `used_pages` are in use, with at most `max` pages:
/// - after a full log forced the checkpoint (`log_full` holds the pages of
///   the record that did not fit): [`grown_log_pages`] of the file, if that
///   record fits it (a larger one commits by checkpoint whatever the log's
///   size);
/// - otherwise, when the log is below half its share (a quarter) of the
///   pages in use, as after a transaction larger than the log committed by
///   checkpoint (a load): [`grown_log_pages`] of the pages in use. Growing
///   it in the checkpoint that writes the transaction's pages anyway
///   spares the small commits that follow the checkpoints of a log grown a
///   few pages at a time, and one of them a stall while the grown extent is
///   zero-filled (measured: single-put commits right after a 1M-key load
///   ran at 0.61-0.82x the disk's fdatasync rate, where the grown extent,
///   a quarter of the file, is about 52 MB). Pages in use, not the file:
///   free pages left by an aborted
///   transaction's spills are no reason for a larger log.
fn log_growth(
    log_full: Option<u64>,
    pages: u64,
    file_pages: u64,
    used_pages: u64,
    max: u64,
) -> u64 {
    if let Some(needed) = log_full {
        let want = grown_log_pages(pages, file_pages, max);
        if want >= needed {
            return want;
        }
    }
    if pages.saturating_mul(2) <= used_pages / 4 {
        return grown_log_pages(pages, used_pages, max);
    }
    pages
}

/// A grown log extent's length for a log of `pages` pages in a file (or
/// pages in use) of `file_pages` pages: at least double, and at least a
/// quarter of the file, up to `max` (never shrinking); [`log_growth`]
/// decides whether the log grows at all. A checkpoint costs up to the
/// pages changed since the last one, which is bounded by the file's size,
/// so a log in proportion to the file keeps a busy database from
/// checkpointing after every few commits
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
    use super::{grown_log_pages, log_growth};

    #[test]
    fn the_log_grows_after_a_full_log_or_when_below_half_its_share() {
        // A full log: grown by the file's size, if the record that did not
        // fit fits the new length.
        assert_eq!(log_growth(Some(20), 16, 40, 40, 16_384), 32);
        assert_eq!(log_growth(Some(40), 16, 40, 40, 16_384), 16);
        // Not full: when twice the log is at most a quarter of the pages in
        // use, to a quarter of them.
        assert_eq!(log_growth(None, 16, 128, 128, 16_384), 32);
        assert_eq!(log_growth(None, 16, 200, 127, 16_384), 16);
        assert_eq!(log_growth(None, 16, 57_218, 57_218, 16_384), 14_304);
        assert_eq!(log_growth(None, 14_304, 57_218, 57_218, 16_384), 14_304);
        // A load whose record outgrows even the grown log: grown by the
        // pages in use all the same.
        assert_eq!(log_growth(Some(2_200), 64, 3_421, 3_400, 16_384), 850);
        // Free pages (an aborted transaction's spills) do not count.
        assert_eq!(log_growth(None, 16, 3_000, 40, 16_384), 16);
        // Never past the maximum.
        assert_eq!(log_growth(None, 16, 1 << 20, 1 << 20, 1_000), 1_000);
    }

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
