//! Committing a write transaction (FORMAT.md §3).

use std::sync::Arc;

use crate::db::Inner;
use crate::snapshot::Snapshot;
use crate::txn::state::TxState;
use crate::{Durability, Result};

/// Commits `state` with `durability` (the transaction's). Returns the transaction id to wait for durability
/// (after the writer slot is released, so that waiting committers share a
/// sync), or `None` when nothing is left to wait for.
pub(crate) fn commit(
    inner: &Inner,
    mut state: TxState,
    durability: Durability,
) -> Result<Option<u64>> {
    let spilled = std::mem::take(&mut state.spilled);
    if spilled.is_empty() {
        return commit_state(inner, state, durability);
    }
    // The spilled pages the committed trees refer to stay in use; if the
    // commit fails (or panics, or changed nothing) they are free again
    // (FORMAT.md §3 Spill).
    let _settle = crate::txn::spill::SettleSpills::new(inner, spilled);
    commit_state(inner, state, durability)
}

fn commit_state(inner: &Inner, mut state: TxState, durability: Durability) -> Result<Option<u64>> {
    inner.check_poisoned()?;
    // The transaction's durability decides both when it is acknowledged and
    // when readers see it: an `Eventual` one at once (so readers see it
    // even if nobody syncs), an `Immediate` one once synced. Publishing an
    // `Eventual` commit shows readers the earlier commits it contains too,
    // `Immediate` ones whose sync is still running included.
    let eventual = durability == Durability::Eventual;
    if !state.changed {
        // Nothing to write, but what this transaction read (and answered,
        // e.g. "the key is absent") may come from commits whose sync is
        // still in flight: acknowledge only once its base is durable.
        return Ok((!eventual).then_some(state.base_txn));
    }
    let pager = &inner.pager;
    let mut core = inner.core.lock();
    if core.needs_new_epoch && core.txn == core.checkpoint_txn && !state.too_big_for_log {
        crate::checkpoint::republish(inner, &mut core)?;
    }
    let txn = core.txn + 1;
    let capture = std::mem::take(&mut state.capture);
    let fits = core.log.fits(state.payload.len(), pager.page_size());
    if state.too_big_for_log || !fits || core.needs_new_epoch {
        // Commit by checkpoint (acknowledged after C5): the transaction is
        // too large for the log, or this session has not yet started an
        // epoch of its own (FORMAT.md §4 step 6).
        if !state.too_big_for_log && !fits {
            let pages = core
                .log
                .record_pages(state.payload.len(), pager.page_size());
            core.log_full = Some(core.log_full.unwrap_or(0).max(pages));
        }
        let saved = (core.txn, core.freed_since.len());
        core.txn = txn;
        core.freed_since.extend(state.freed);
        // The checkpoint consumes the transaction's trees. If it fails, or
        // panics (a failpoint, a bug), `core` goes back to the state before
        // this commit: `core.catalog` was never replaced, and the
        // transaction id and the pages it freed are taken back.
        let catalog = state.catalog;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::checkpoint::run_with(inner, &mut core, catalog)
        }));
        if !matches!(ran, Ok(Ok(()))) {
            core.txn = saved.0;
            core.freed_since.truncate(saved.1);
        }
        match ran {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        // Durable and published already: deliver at once.
        let payload = (!state.too_big_for_log).then_some(&state.payload[..]);
        inner.hub.committed(txn, capture, payload);
        inner.deliver_durable();
        return Ok(None);
    }
    // L1–L3: append the record.
    crate::failpoint::hit("commit::before_log_append")?;
    let durable = inner.group.durable_txn();
    if let Err(e) = core.log.append(pager, txn, durable, &state.payload) {
        // The commit fails, but the bytes that landed may still form a valid
        // record with what the extent held: erase its header durably, or,
        // if that fails too, the outcome is unknown and the handle poisoned.
        match core
            .log
            .erase_tail(pager)
            .and_then(|()| inner.sync_or_poison())
        {
            // That sync covered every earlier record too: the next
            // record's durable mark says so (FORMAT.md §2.1).
            Ok(()) => {
                inner.group.all_durable(&inner.registry, core.txn);
                inner.deliver_durable();
            }
            Err(_) => inner.poison(),
        }
        return Err(e);
    }
    if let Err(e) = crate::failpoint::hit("commit::after_log_append") {
        // The record is written and may become durable: memory and disk
        // disagree about transaction `txn`, so the handle cannot go on.
        inner.poison();
        return Err(e);
    }
    // Queued before `written`, so before any sync can cover it.
    inner.hub.committed(txn, capture, Some(&state.payload));
    core.txn = txn;
    core.catalog = Arc::new(state.catalog);
    // In-memory growth: every copied page plus (at most) the bytes logged.
    core.dirty_bytes +=
        state.freed.len() as u64 * pager.page_size() as u64 + state.payload.len() as u64;
    core.freed_since.extend(state.freed);
    let snap = Arc::new(Snapshot {
        txn,
        base: core.checkpoint,
        catalog: core.catalog.clone(),
    });
    inner.group.written(&inner.registry, snap, eventual);
    if eventual {
        // A sync that ran while this commit was being published may have
        // covered it and delivered only what was visible then.
        inner.deliver_durable();
    }
    if core.dirty_bytes > inner.dirty_budget() {
        // The commit is already in the log; a checkpoint that cannot run
        // now (a full disk, say) is retried after a later commit.
        let _ = crate::checkpoint::run(inner, &mut core);
    }
    drop(core);
    Ok((!eventual).then_some(txn))
}
