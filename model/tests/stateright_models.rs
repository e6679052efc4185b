//! Exhaustive stateright checks of the protocol text of `docs/FORMAT.md`
//! (models in `vellum_model::stateright`).
//!
//! Each passing configuration explores its whole (bounded) state space and
//! asserts every property (`always`: no counterexample, `sometimes`: an
//! example exists). Each mutant removes one rule of FORMAT.md and the test
//! asserts that the checker finds the counterexample. Two configurations
//! document protocol gaps of FORMAT.md as written (see the comments there).

use std::time::Instant;

use stateright::{Checker, HasDiscoveries, Model};
use vellum_model::stateright::commit_protocol::{
    self, CommitProtocol, Durability, RecoveryCheckpoint, P_ACKED, P_DURABLE_READS, P_PREFIX,
};
use vellum_model::stateright::page_reuse::{self, PageReuse, P_NO_REUSE_UNDER_READER, P_RELEASED};

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

/// The bounds of the passing commit-protocol configurations: two page
/// locations (so checkpoint `k+2` reuses the page freed by `k+1`), a log
/// extent of three records (so group commit and the L2 overflow into a
/// commit-by-checkpoint both happen), five transactions, three stand-alone
/// checkpoints, three crashes (so recovery's own checkpoint is crashed, S7).
fn full() -> CommitProtocol {
    CommitProtocol {
        pages: 2,
        log_len: 3,
        txns: 5,
        checkpoints: 3,
        crashes: 3,
        ..CommitProtocol::default()
    }
}

/// Smaller bounds for the mutants and for the configurations with extra
/// nondeterminism.
fn small() -> CommitProtocol {
    CommitProtocol {
        pages: 2,
        log_len: 2,
        txns: 4,
        checkpoints: 3,
        crashes: 2,
        ..CommitProtocol::default()
    }
}

#[test]
fn commit_protocol_immediate() {
    let n = check("commit protocol, Immediate", full());
    assert!(n > 100_000);
}

#[test]
fn commit_protocol_eventual() {
    let n = check(
        "commit protocol, Eventual",
        CommitProtocol {
            durability: Durability::Eventual,
            ..full()
        },
    );
    assert!(n > 100_000);
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
    // Epoch k+1 records overwrite epoch k while slot k+1 may be lost.
    discovers(
        "mutant SkipC5",
        CommitProtocol {
            mutant: commit_protocol::Mutant::SkipC5,
            ..small()
        },
        P_ACKED,
    );
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

/// FORMAT.md gap 1: §4 step 5 checkpoints only "if any record was
/// replayed". When nothing was replayed (record 0 lost, record 1 durable),
/// the next session writes epoch `k` records again from the extent start
/// with the same link (the slot checksum). If the application retries the
/// same operation, the new record 0 is byte-identical to the lost one, its
/// header checksum matches the stale record 1's link, and a later recovery
/// replays the stale record 1: a transaction the new session never made.
/// Checkpointing on every writable open is not enough either when that
/// checkpoint can be abandoned (a failed C3, §3) and the session then logs
/// in the old epoch.
#[test]
fn format_gap_recovery_checkpoint_only_if_replayed() {
    discovers(
        "FORMAT.md §4.5 as written, retried payloads",
        CommitProtocol {
            retry_payloads: true,
            ..small()
        },
        P_PREFIX,
    );
    discovers(
        "checkpoint on every open, abandoned by a failed C3, retried payloads",
        CommitProtocol {
            retry_payloads: true,
            recovery_checkpoint: RecoveryCheckpoint::Always,
            c3_failures: 1,
            sync_log_before_checkpoint: true,
            ..small()
        },
        P_PREFIX,
    );
}

/// Candidate fix for gap 1: every writable open starts a new epoch
/// (checkpoints) before its first log write.
#[test]
fn commit_protocol_retry_payloads_with_recovery_checkpoint_always() {
    check(
        "retried payloads, recovery checkpoint always",
        CommitProtocol {
            retry_payloads: true,
            recovery_checkpoint: RecoveryCheckpoint::Always,
            crashes: 2,
            ..full()
        },
    );
}

/// Both candidate fixes together, with everything that can go wrong:
/// retried payloads, a failed C3 (also of the open-time checkpoint), and no
/// log write before a checkpoint after open has completed.
#[test]
fn commit_protocol_both_fixes_with_failed_c3_and_retried_payloads() {
    check(
        "both fixes, failed C3, retried payloads",
        CommitProtocol {
            retry_payloads: true,
            recovery_checkpoint: RecoveryCheckpoint::Required,
            c3_failures: 1,
            sync_log_before_checkpoint: true,
            ..small()
        },
    );
}

/// FORMAT.md gap 2: §3 keeps the handle usable after an error in C1–C3,
/// but C3's sync is also "barrier 1" for every earlier log record, and §6
/// says a failed sync may have lost any of its writes. A lost record breaks
/// the chain, so records written after it (acknowledged by a later,
/// successful sync) are not replayed.
#[test]
fn format_gap_failed_c3_keeps_handle_usable() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        discovers(
            &format!("FORMAT.md §3 C3 failure, {durability:?}"),
            CommitProtocol {
                c3_failures: 1,
                durability,
                ..small()
            },
            P_ACKED,
        );
    }
}

/// Candidate fix for gap 2: sync the log (poisoning on failure) before C1,
/// so a failed C3 can only lose the abandoned checkpoint's own pages.
#[test]
fn commit_protocol_failed_c3_with_log_sync_before_checkpoint() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        check(
            &format!("failed C3 with log sync first, {durability:?}"),
            CommitProtocol {
                c3_failures: 1,
                sync_log_before_checkpoint: true,
                durability,
                crashes: 2,
                ..full()
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
        mutant: page_reuse::Mutant::None,
    }
}

#[test]
fn page_reuse() {
    let n = check("page reuse", reuse_full());
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
