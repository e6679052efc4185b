//! Exhaustive stateright checks of the protocol text of `docs/FORMAT.md`
//! (models in `vellum_model::stateright`).
//!
//! Each passing configuration explores its whole (bounded) state space and
//! asserts every property (`always`: no counterexample, `sometimes`: an
//! example exists). The default configuration of each model ([`Mutant::None`])
//! is the FORMAT.md text. Each mutant removes or changes one rule and the
//! test asserts that the checker finds the counterexample; three mutants are
//! rules of earlier FORMAT.md texts that the current text fixes. Two mutants
//! (`TwoSlots`, `NoUnconfirmedBlocking`) are bugs only under the page-cache
//! lie (a failed sync whose lost writes a reopen without crash still reads):
//! their tests show the model without that fault passes and with it fails.
//! Two failed syncs in a row in one boot (`two_lies`) is the configuration
//! that defeated the two previous slot rules (`SlotModThree`,
//! `LastCopyById`, confirmation before C1); the current text passes it.
//! Three mutants concern the durable marks of format 3 (FORMAT.md §2.1,
//! §2.3) and need the silent-damage fault (`damage`) or a torn write:
//! `NoDurableMark` (the format 2 recovery rule), `MarkIsLastWritten` and
//! `MarkIgnoresEraseSync` (the engine's marks at format 3).
//!
//! [`Mutant::None`]: commit_protocol::Mutant::None

use std::time::Instant;

use stateright::{Checker, HasDiscoveries, Model};
use vellum_model::stateright::commit_protocol::{
    self, CommitProtocol, ConfirmAt, Durability, P_ACKED, P_DURABLE_READS, P_NO_FALSE_CORRUPTION,
    P_NO_FALSE_LOG_CORRUPTION, P_ONE_WRITER, P_PREFIX,
};
use vellum_model::stateright::page_reuse::{
    self, PageReuse, P_NO_REUSE_UNDER_CURSOR, P_NO_REUSE_UNDER_READER, P_RELEASED,
};

/// Explores the whole state space, asserts every property, returns the
/// number of unique states.
fn check<M>(name: &str, model: M) -> usize
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + PartialEq,
{
    let start = Instant::now();
    let checker = model.checker().spawn_bfs().join();
    println!(
        "{name}: {} unique states ({} total), max depth {}, {:.2?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    checker.assert_properties();
    checker.unique_state_count()
}

/// Asserts that the checker finds a counterexample to `property`; returns
/// (and prints) a shortest one.
fn discovers<M>(name: &str, model: M, property: &'static str) -> Vec<M::Action>
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + PartialEq,
{
    let start = Instant::now();
    let full = model.clone().checker().spawn_bfs().join();
    full.assert_any_discovery(property);
    // stateright keeps the *last* path found for a property, so deepen the
    // search one level at a time to report a shortest counterexample.
    for depth in 2.. {
        let checker = model
            .clone()
            .checker()
            .target_max_depth(depth)
            .finish_when(HasDiscoveries::AnyOf([property].into()))
            .spawn_bfs()
            .join();
        if let Some(path) = checker.discovery(property) {
            let actions = path.into_actions();
            println!(
                "{name}: \"{property}\" violated ({} unique states explored), {:.2?}, \
                 shortest counterexample: {actions:?}",
                full.unique_state_count(),
                start.elapsed()
            );
            return actions;
        }
    }
    unreachable!()
}

/// The bounds of the main passing commit-protocol configurations: three page
/// locations (one per checkpoint; so checkpoint `k+2` reuses the page freed
/// by `k+1`, and a page blocked by §4 step 4 leaves one to allocate), a log
/// extent of three records (so group commit and the L2 overflow into a
/// commit-by-checkpoint both happen), five transactions, three stand-alone
/// checkpoints, three crashes (so recovery's own checkpoint is crashed, S7).
fn full() -> CommitProtocol {
    CommitProtocol {
        pages: 4,
        log_len: 3,
        txns: 4,
        checkpoints: 3,
        crashes: 3,
        ..CommitProtocol::default()
    }
}

/// Smaller bounds for the mutants.
fn small() -> CommitProtocol {
    // The model's defaults: four page locations, a log of two records,
    // three transactions, two checkpoints, two crashes.
    CommitProtocol::default()
}

/// Everything that can go wrong at once: a C1–C2 error (the session goes
/// on), a failed C3 or C5 sync (poison, reopen), crashes, and retried
/// payloads (a new session can write records byte-identical to a crashed
/// session's: the §4 step 6 scenario).
fn with_failures() -> CommitProtocol {
    CommitProtocol {
        pages: 4,
        log_len: 2,
        txns: 3,
        checkpoints: 2,
        crashes: 2,
        write_failures: 1,
        sync_failures: 1,
        retry_payloads: true,
        ..CommitProtocol::default()
    }
}

/// §4 step 4's fault: failed syncs whose lost writes stay visible to a
/// reopen without crash (the page cache still shows them), one crash after
/// it (the disk view). Smaller bounds: the reopen doubles the fates.
fn with_cache_lie() -> CommitProtocol {
    CommitProtocol {
        pages: 4,
        log_len: 2,
        txns: 3,
        checkpoints: 2,
        crashes: 2,
        sync_failures: 1,
        cache_lie: true,
        ..CommitProtocol::default()
    }
}

#[test]
fn commit_protocol_immediate() {
    let n = check("commit protocol (FORMAT.md), Immediate", full());
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_eventual() {
    let n = check(
        "commit protocol (FORMAT.md), Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..full()
        },
    );
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_with_failures_and_retried_payloads_immediate() {
    let n = check(
        "commit protocol (FORMAT.md), I/O errors, retried payloads, Immediate",
        with_failures(),
    );
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_with_failures_and_retried_payloads_eventual() {
    let n = check(
        "commit protocol (FORMAT.md), I/O errors, retried payloads, Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..with_failures()
        },
    );
    assert!(n > 100_000);
}

/// Retried payloads with a longer log and three crashes: stale records of
/// several crashed sessions in the extent at once.
#[test]
fn commit_protocol_retried_payloads_three_crashes() {
    let n = check(
        "commit protocol (FORMAT.md), retried payloads, three crashes",
        CommitProtocol {
            txns: 3,
            checkpoints: 2,
            retry_payloads: true,
            ..full()
        },
    );
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_cache_lie_immediate() {
    let n = check(
        "commit protocol (FORMAT.md), failed sync visible to a reopen, Immediate",
        with_cache_lie(),
    );
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_cache_lie_eventual() {
    let n = check(
        "commit protocol (FORMAT.md), failed sync visible to a reopen, Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..with_cache_lie()
        },
    );
    assert!(n > 100_000);
}

/// A C1–C2 error in recovery's own checkpoint fails the open (§4 step 5),
/// with the page cache showing the records it replayed.
#[test]
fn commit_protocol_cache_lie_with_write_failure() {
    let n = check(
        "commit protocol (FORMAT.md), failed sync visible to a reopen, C1-C2 error",
        CommitProtocol {
            write_failures: 1,
            txns: 2,
            ..with_cache_lie()
        },
    );
    assert!(n > 10_000);
}

/// Checks `model` (a mutant) without the cache-lie fault (it passes: the
/// newest slot is then always durable) and asserts the checker finds a
/// counterexample to `property` with it.
fn needs_cache_lie(name: &str, model: CommitProtocol, property: &'static str) {
    check(
        &format!("{name} without the cache-lie fault"),
        CommitProtocol {
            cache_lie: false,
            ..model.clone()
        },
    );
    discovers(&format!("{name} with the cache-lie fault"), model, property);
}

/// The earlier §1 text, two slots: a reopen reads the unconfirmed newest
/// slot `k+1` from the page cache, the first commit republishes it as
/// `k+2` into the slot of `k`, the only durable one, and a crash tears that
/// write: only slot `k-1` is left, whose page `k+1` reused.
#[test]
fn commit_protocol_mutant_two_slots_is_caught_only_with_cache_lie() {
    needs_cache_lie(
        "mutant TwoSlots",
        CommitProtocol {
            mutant: commit_protocol::Mutant::TwoSlots,
            crashes: 1,
            ..with_cache_lie()
        },
        P_DURABLE_READS,
    );
}

/// Without §4 step 4's blocking, where C1 precedes the confirmation, the
/// session that read the unconfirmed slot `k+1` from the page cache
/// checkpoints into the page of `k` (freed by `k+1`); a crash before the
/// confirmation's sync forgets slot `k+1`, recovery chooses `k` and reads
/// the overwritten page.
#[test]
fn commit_protocol_mutant_no_unconfirmed_blocking_is_caught_only_with_cache_lie() {
    needs_cache_lie(
        "mutant NoUnconfirmedBlocking",
        CommitProtocol {
            mutant: commit_protocol::Mutant::NoUnconfirmedBlocking,
            confirm_at: ConfirmAt::BeforeC4,
            crashes: 1,
            ..with_cache_lie()
        },
        P_DURABLE_READS,
    );
}

#[test]
fn commit_protocol_mutant_skip_c3_is_caught() {
    // The slot reaches the disk before the page it references.
    discovers(
        "mutant SkipC3",
        CommitProtocol {
            mutant: commit_protocol::Mutant::SkipC3,
            ..small()
        },
        P_DURABLE_READS,
    );
}

#[test]
fn commit_protocol_mutant_skip_c5_is_caught() {
    // Epoch k+1 records overwrite epoch k while slot k+1 may be lost: an
    // acknowledged commit-by-checkpoint is lost, or (§2.3 exception) the
    // open fails on a record of epoch k+1 although no slot was damaged.
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::SkipC5,
        ..small()
    };
    discovers("mutant SkipC5", model.clone(), P_ACKED);
    discovers("mutant SkipC5", model, P_NO_FALSE_CORRUPTION);
}

#[test]
fn commit_protocol_mutant_skip_l5_sync_is_caught() {
    discovers(
        "mutant SkipL5Sync",
        CommitProtocol {
            mutant: commit_protocol::Mutant::SkipL5Sync,
            ..small()
        },
        P_ACKED,
    );
}

#[test]
fn commit_protocol_mutant_reuse_own_freed_is_caught() {
    // Checkpoint k+1 overwrites the page of checkpoint k, which recovery
    // still needs until slot k+1 is durable.
    discovers(
        "mutant ReuseOwnFreed",
        CommitProtocol {
            mutant: commit_protocol::Mutant::ReuseOwnFreed,
            ..small()
        },
        P_DURABLE_READS,
    );
}

/// The earlier §4 text (step 5 only, no step 6). When nothing was replayed
/// (record 0 lost, record 1 durable), the next session writes epoch `k`
/// records again from the extent start with the same link (the slot
/// checksum). If the application retries the same operation, the new
/// record 0 is byte-identical to the lost one, its header checksum matches
/// the stale record 1's link, and a later recovery replays the stale
/// record 1: a transaction the new session never made.
#[test]
fn commit_protocol_mutant_recovery_checkpoint_only_if_replayed_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::RecoveryCheckpointOnlyIfReplayed,
        retry_payloads: true,
        ..small()
    };
    discovers(
        "mutant RecoveryCheckpointOnlyIfReplayed, retried payloads",
        model.clone(),
        P_PREFIX,
    );
    // S8 fails already without retried payloads: the session appends to
    // the epoch of the crashed session.
    discovers(
        "mutant RecoveryCheckpointOnlyIfReplayed",
        CommitProtocol {
            retry_payloads: false,
            ..model
        },
        P_ONE_WRITER,
    );
}

/// Checkpointing on every writable open without step 6 is not enough: a
/// C1–C2 error (a full disk) abandons that checkpoint, the handle stays
/// usable (§3) and the session logs in the old epoch.
#[test]
fn commit_protocol_mutant_recovery_checkpoint_always_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::RecoveryCheckpointAlways,
        write_failures: 1,
        retry_payloads: true,
        ..small()
    };
    discovers(
        "mutant RecoveryCheckpointAlways, C1-C2 error, retried payloads",
        model.clone(),
        P_PREFIX,
    );
    discovers(
        "mutant RecoveryCheckpointAlways, C1-C2 error",
        CommitProtocol {
            retry_payloads: false,
            ..model
        },
        P_ONE_WRITER,
    );
}

/// The earlier §3 text: an error in C1–C3 abandons the checkpoint and the
/// handle stays usable. But C3's sync is also "barrier 1" for every earlier
/// log record, and a failed sync may have lost any of its writes. A lost
/// record breaks the chain, so records written after it (acknowledged by a
/// later, successful sync) are not replayed.
#[test]
fn commit_protocol_mutant_c3_failure_keeps_handle_usable_is_caught() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        discovers(
            &format!("mutant C3FailureKeepsHandleUsable, {durability:?}"),
            CommitProtocol {
                mutant: commit_protocol::Mutant::C3FailureKeepsHandleUsable,
                sync_failures: 1,
                durability,
                ..small()
            },
            P_ACKED,
        );
    }
}

/// A failed C5 sync (or C4 slot write) that kept the handle usable in epoch
/// `k`: the slot of `k+1` may still reach the disk, and recovery then
/// prefers it over the records the session went on to log in epoch `k`.
#[test]
fn commit_protocol_mutant_c5_failure_keeps_handle_usable_is_caught() {
    discovers(
        "mutant C5FailureKeepsHandleUsable",
        CommitProtocol {
            mutant: commit_protocol::Mutant::C5FailureKeepsHandleUsable,
            sync_failures: 1,
            ..small()
        },
        P_ACKED,
    );
}

/// Not FORMAT.md: the alternative to poisoning on a failed C3 is to sync
/// (and poison on failure) the log before C1, so that a failed C3 can only
/// lose the abandoned checkpoint's own pages. With it the earlier §3 rule
/// is safe.
#[test]
fn commit_protocol_c3_failure_keeps_handle_usable_with_log_sync_before_checkpoint() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        check(
            &format!("C3 failure keeps the handle, log sync before C1, {durability:?}"),
            CommitProtocol {
                mutant: commit_protocol::Mutant::C3FailureKeepsHandleUsable,
                sync_failures: 1,
                sync_log_before_checkpoint: true,
                retry_payloads: true,
                durability,
                checkpoints: 2,
                ..small()
            },
        );
    }
}

fn reuse_full() -> PageReuse {
    PageReuse {
        pages: 6,
        checkpoints: 6,
        reads: 4,
        max_live: 3,
        reopens: 0,
        ..PageReuse::default()
    }
}

#[test]
fn page_reuse() {
    let n = check("page reuse", reuse_full());
    assert!(n > 100_000);
}

/// Smaller bounds, with a crash or close and reopen (§5: every page not
/// in use by the chosen checkpoint is free at open).
#[test]
fn page_reuse_with_reopen() {
    let n = check("page reuse with a reopen", PageReuse::default());
    assert!(n > 100_000);
}

#[test]
fn page_reuse_mutants_are_caught() {
    for mutant in [
        page_reuse::Mutant::IgnoreReaders,
        page_reuse::Mutant::ReuseOwnFreed,
        page_reuse::Mutant::PinNewIdEarly,
    ] {
        discovers(
            &format!("page reuse mutant {mutant:?}"),
            PageReuse {
                mutant,
                ..PageReuse::default()
            },
            P_NO_REUSE_UNDER_READER,
        );
    }
}

/// Write transactions that spill (FORMAT.md §3 Spill, §5) among
/// snapshots, checkpoints and a reopen: spills take only reusable pages,
/// give back at once what nothing can read, and never a page the
/// transaction's open cursor may read.
fn reuse_with_spills() -> PageReuse {
    PageReuse {
        pages: 5,
        checkpoints: 2,
        reads: 1,
        max_live: 1,
        reopens: 1,
        txns: 2,
        spills: 3,
        ..PageReuse::default()
    }
}

#[test]
fn page_reuse_with_spills() {
    let n = check("page reuse with spills", reuse_with_spills());
    assert!(n > 10_000);
}

#[test]
fn spilling_past_the_transactions_cursor_is_caught() {
    let model = PageReuse {
        mutant: page_reuse::Mutant::SpillIgnoresCursor,
        ..reuse_with_spills()
    };
    discovers(
        "page reuse mutant SpillIgnoresCursor",
        model.clone(),
        P_NO_REUSE_UNDER_CURSOR,
    );
    let checker = model.checker().spawn_bfs().join();
    checker.assert_no_discovery(P_NO_REUSE_UNDER_READER);
}

#[test]
fn page_reuse_lazy_release_is_caught_by_the_liveness_invariant() {
    let model = PageReuse {
        mutant: page_reuse::Mutant::LazyRelease,
        ..PageReuse::default()
    };
    discovers("page reuse mutant LazyRelease", model.clone(), P_RELEASED);
    // It is a liveness bug only: safety still holds over the whole space.
    let checker = model.checker().spawn_bfs().join();
    checker.assert_no_discovery(P_NO_REUSE_UNDER_READER);
}

/// Two failed syncs in a row in one boot, each lie read by a reopen, then
/// a crash: the configuration that defeated the `k mod 3` text. With the
/// confirmation by an exact copy, FORMAT.md survives it.
fn two_lies() -> CommitProtocol {
    CommitProtocol {
        sync_failures: 2,
        crashes: 1,
        txns: 2,
        checkpoints: 2,
        ..with_cache_lie()
    }
}

#[test]
fn commit_protocol_two_consecutive_cache_lies() {
    let n = check(
        "commit protocol (FORMAT.md), two failed syncs in a row visible to reopens",
        two_lies(),
    );
    assert!(n > 100_000);
}

/// Confirming before C1 instead of right before C4 (the engine's order
/// until this model found the problem): C1 may then reuse the pages of the
/// next newest slot, and a failed C3 leaves the newest slot's original (only
/// in the page cache) beside a durable copy; the next session protects the
/// earliest copy of the newest slot, overwrites the durable one, and a
/// crash then finds only a slot whose pages were reused.
#[test]
fn commit_protocol_confirmation_before_c1_is_caught() {
    discovers(
        "confirmation before C1, two failed syncs in a row",
        CommitProtocol {
            confirm_at: ConfirmAt::BeforeC1,
            ..two_lies()
        },
        P_DURABLE_READS,
    );
}

/// The second §1 text (checkpoint `k` in slot `k mod 3`, republish under a
/// new id). Session A's C5 of checkpoint `k+1` fails (slot `k+1` only in
/// the page cache); session B reads it, republishes it as `k+2` (into the
/// slot of `k-1`) and that sync fails too; session C reads `k+2` (newest)
/// and `k+1` (second valid: the same tree, so nothing is blocked, and it is
/// not durable either) and republishes `k+2` as `k+3` into the slot of `k`,
/// the only durable slot holding every acknowledged commit. A crash tearing
/// that write leaves slot `k-1`: acknowledged commits are lost. Both the
/// model and the simulator found this; it is why FORMAT.md confirms by an
/// exact copy.
#[test]
fn commit_protocol_mutant_slot_mod_three_is_caught_by_two_cache_lies() {
    discovers(
        "mutant SlotModThree, two failed syncs in a row",
        CommitProtocol {
            mutant: commit_protocol::Mutant::SlotModThree,
            ..two_lies()
        },
        P_ACKED,
    );
}

/// Confirming by a republish under a new id lets unconfirmed ids pile up
/// (each failed confirmation adds one), until a slot write goes over the
/// only durable slot.
#[test]
fn commit_protocol_mutant_confirm_with_new_id_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::ConfirmWithNewId,
        confirm_at: ConfirmAt::BeforeC1,
        ..two_lies()
    };
    discovers("mutant ConfirmWithNewId", model, P_ACKED);
}

/// A confirmation copy that protects only the newest slot: after a failed
/// confirmation both copies of the newest slot may be page-cache lies, and
/// the next session's copy goes over the next newest, the durable one.
#[test]
fn commit_protocol_mutant_confirm_keeps_only_newest_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::ConfirmKeepsOnlyNewest,
        ..two_lies()
    };
    discovers("mutant ConfirmKeepsOnlyNewest", model, P_ACKED);
}

/// Placement by content without the confirmation: a session that read an
/// unconfirmed newest slot `k+1` writes `k+2` over the oldest slot; when
/// that sync fails too, the next session writes over `k`, the only durable
/// one.
#[test]
fn commit_protocol_mutant_no_confirmation_is_caught_only_with_cache_lie() {
    needs_cache_lie(
        "mutant NoConfirmation",
        CommitProtocol {
            mutant: commit_protocol::Mutant::NoConfirmation,
            ..two_lies()
        },
        P_ACKED,
    );
}

/// The previous §1.2 text (no write sequence, "the last copy of an id"):
/// after a crash loses slot `k+1`, a session's confirmation copy of `k`
/// fails and stays only in the page cache; the next session sees `k`
/// twice, overwrites the durable copy, and a crash leaves slot `k-1`, whose
/// pages `k+1` reused.
#[test]
fn commit_protocol_mutant_last_copy_by_id_is_caught() {
    discovers(
        "mutant LastCopyById",
        CommitProtocol {
            mutant: commit_protocol::Mutant::LastCopyById,
            ..two_lies()
        },
        P_ACKED,
    );
}

/// Protecting the latest copy of the newest slot: that is the failed
/// confirmation's copy, only in the page cache.
#[test]
fn commit_protocol_mutant_protect_latest_copy_of_newest_is_caught() {
    discovers(
        "mutant ProtectLatestCopyOfNewest",
        CommitProtocol {
            mutant: commit_protocol::Mutant::ProtectLatestCopyOfNewest,
            ..two_lies()
        },
        P_ACKED,
    );
}

/// Protecting the earliest copy of the next newest slot: after a
/// confirmation made the later copy durable, the earliest may be a
/// page-cache lie.
#[test]
fn commit_protocol_mutant_protect_earliest_copy_of_next_is_caught() {
    discovers(
        "mutant ProtectEarliestCopyOfNext",
        CommitProtocol {
            mutant: commit_protocol::Mutant::ProtectEarliestCopyOfNext,
            ..two_lies()
        },
        P_ACKED,
    );
}

/// §3 L3's fault: a log write fails (what landed may form the whole record,
/// for instance the new header over an earlier record with the same
/// payload: retried payloads), the session erases the header and syncs and
/// goes on logging at the same tail; or the erase fails too and the handle
/// is poisoned. With crashes and a C1–C2 error around it.
fn with_failed_log_writes() -> CommitProtocol {
    CommitProtocol {
        append_failures: 1,
        ..with_failures()
    }
}

#[test]
fn commit_protocol_failed_log_writes_immediate() {
    let n = check(
        "commit protocol (FORMAT.md), failed log writes, Immediate",
        with_failed_log_writes(),
    );
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_failed_log_writes_eventual() {
    let n = check(
        "commit protocol (FORMAT.md), failed log writes, Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..with_failed_log_writes()
        },
    );
    assert!(n > 100_000);
}

/// A failed log write whose erase then fails its sync, read by a reopen
/// that sees the erase in the page cache while the disk holds the record:
/// a later crash may reveal the failed commit (its outcome stays unknown
/// until the reopened session's first checkpoint completes, §3 L3), and
/// nothing else goes wrong.
#[test]
fn commit_protocol_failed_log_writes_with_cache_lie() {
    let n = check(
        "commit protocol (FORMAT.md), failed log writes, failed sync visible to a reopen",
        CommitProtocol {
            append_failures: 1,
            retry_payloads: true,
            checkpoints: 1,
            ..with_cache_lie()
        },
    );
    assert!(n > 100_000);
}

/// Without the erase the bytes a failed log write left may form the whole
/// record, and a crash then recovers a commit that failed on a handle that
/// stayed usable.
#[test]
fn commit_protocol_mutant_no_erase_after_failed_log_write_is_caught() {
    discovers(
        "mutant NoEraseAfterFailedLogWrite",
        CommitProtocol {
            mutant: commit_protocol::Mutant::NoEraseAfterFailedLogWrite,
            append_failures: 1,
            ..small()
        },
        P_PREFIX,
    );
}

/// A failed erase that leaves the handle usable: the erase may not have
/// reached the disk, so the failed commit can come back after a crash.
#[test]
fn commit_protocol_mutant_erase_failure_keeps_handle_usable_is_caught() {
    discovers(
        "mutant EraseFailureKeepsHandleUsable",
        CommitProtocol {
            mutant: commit_protocol::Mutant::EraseFailureKeepsHandleUsable,
            append_failures: 1,
            sync_failures: 1,
            ..small()
        },
        P_PREFIX,
    );
}

/// FORMAT.md §2.1/§2.3 (format 3): every record carries a durable mark and
/// recovery tells a torn tail from damage. One silent damage to a durable
/// log record (at any crash or reopen), with the bounds of [`full`]:
/// acknowledged commits survive unless the log ends at a damaged record no
/// later record written after a sync covering it follows (the newest
/// acknowledged ones), and a record is reported damaged only if it was
/// durable and is damaged (never a torn write).
fn with_damage() -> CommitProtocol {
    CommitProtocol {
        damage: 1,
        ..full()
    }
}

/// 4.17 M states, 35–40 s in release (one checker thread, on a shared
/// 2-core machine, 2026-12-07).
#[test]
fn commit_protocol_damaged_log_record_immediate() {
    let n = check(
        "commit protocol (FORMAT.md), damaged log record, Immediate",
        with_damage(),
    );
    assert!(n > 100_000);
}

/// 4.16 M states, 35–40 s in release (2026-12-07).
#[test]
fn commit_protocol_damaged_log_record_eventual() {
    let n = check(
        "commit protocol (FORMAT.md), damaged log record, Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..with_damage()
        },
    );
    assert!(n > 100_000);
}

/// Damage with failed log writes, C1–C2 errors, failed syncs and retried
/// payloads: the sync of §3 L3's erase is a returned sync, so the next
/// record's mark vouches for the records before the tail. 4.83 M states,
/// 40–50 s in release (2026-12-07).
#[test]
fn commit_protocol_damaged_log_record_with_failed_log_writes() {
    let n = check(
        "commit protocol (FORMAT.md), damaged log record, failed log writes",
        CommitProtocol {
            damage: 1,
            ..with_failed_log_writes()
        },
    );
    assert!(n > 100_000);
}

/// The format 2 text: recovery ends the log at the first record that fails
/// a test. An acknowledged commit is damaged; the record after it, written
/// after the sync that covered it, survives; the log ends before the
/// damaged record and the commit is lost silently.
#[test]
fn commit_protocol_mutant_no_durable_mark_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::NoDurableMark,
        damage: 1,
        ..small()
    };
    // Without damage the marks are never needed.
    check(
        "mutant NoDurableMark without damage",
        CommitProtocol {
            damage: 0,
            ..model.clone()
        },
    );
    discovers("mutant NoDurableMark, one damaged record", model, P_ACKED);
}

/// The mark holds the last transaction written, not the last durable one:
/// two records written before one sync (group commit), a crash tears the
/// first and keeps the second, whose mark vouches for the torn one, and
/// recovery reports corruption with no damage at all.
#[test]
fn commit_protocol_mutant_mark_is_last_written_is_caught() {
    discovers(
        "mutant MarkIsLastWritten, no damage",
        CommitProtocol {
            mutant: commit_protocol::Mutant::MarkIsLastWritten,
            ..small()
        },
        P_NO_FALSE_LOG_CORRUPTION,
    );
}

/// The erase's sync after a failed log write does not raise the mark (the
/// engine at format 3, engine/src/txn/commit.rs): record `u` is covered by
/// that sync, record `u+1` is written at the erased tail with a mark below
/// `u`, both are acknowledged by the next sync, and damage to `u` then ends
/// the log quietly although `u+1` was written after a sync covering `u`.
#[test]
fn commit_protocol_mutant_mark_ignores_erase_sync_is_caught() {
    let model = CommitProtocol {
        mutant: commit_protocol::Mutant::MarkIgnoresEraseSync,
        append_failures: 1,
        damage: 1,
        ..small()
    };
    // Safe without damage: a lower mark never vouches falsely.
    check(
        "mutant MarkIgnoresEraseSync without damage",
        CommitProtocol {
            damage: 0,
            ..model.clone()
        },
    );
    for durability in [Durability::Immediate, Durability::Eventual] {
        discovers(
            &format!("mutant MarkIgnoresEraseSync, one damaged record, {durability:?}"),
            CommitProtocol {
                durability,
                ..model.clone()
            },
            P_ACKED,
        );
    }
}
