//! Loom models of the engine's concurrent core: the snapshot registry, the
//! writer slot and group commit. Each model explores every interleaving of
//! a few threads over the real engine types, whose locks come from
//! `vellum::sync` (loom's `Mutex`/`Condvar`/atomics under `--cfg loom`).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p vellum --test loom --release
//! ```
//!
//! By default loom explores every interleaving (no preemption bound); the
//! seven models take from well under a second to about 12 s each (30-45 s of
//! wall time for the file on a busy 2-core machine). For a quick run, or if
//! a model is enlarged, bound the search: `LOOM_MAX_PREEMPTIONS=3` runs the
//! file in about a second and still catches every seeded bug below.
//! `LOOM_LOG=1 LOOM_LOCATION=1` explains a failing interleaving.
//!
//! Each model was checked against seeded bugs (applied to a copy of the
//! engine), all caught with and without the bound: `begin` taking the
//! snapshot and registering it under two locks; `release` without
//! `notify_one`; `acquire` setting `busy` after dropping the lock;
//! `wait_durable` not checking `poisoned` (retrying a failed sync) or
//! swallowing the sync error; `written` publishing before durability;
//! marking durable everything written by the end of the sync instead of
//! the sync's start; never publishing durable snapshots; a committer that
//! finds the handle poisoned returning without waking the others.
#![cfg(loom)]

use std::sync::Arc;

use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use loom::thread;

use vellum::catalog::Catalog;
use vellum::snapshot::{Registry, Snapshot};
use vellum::txn::group_commit::GroupSync;
use vellum::txn::writer_slot::WriterSlot;
use vellum::Error;

fn snap(txn: u64, base: u64) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        txn,
        base,
        catalog: Arc::new(Catalog::default()),
    })
}

/// `(txn, base)` of every snapshot model 1 ever publishes (the first one is
/// the registry's initial snapshot).
const PUBLISHED: [(u64, u64); 3] = [(0, 0), (1, 1), (2, 2)];

fn id(s: &Snapshot) -> (u64, u64) {
    (s.txn, s.base)
}

/// Model 1: a publisher publishes (txn 1, base 1) then (txn 2, base 2); a
/// reader begins twice (keeping the first snapshot live until the end) and
/// ends the second; a "checkpoint" thread asks for the oldest live base the
/// way `checkpoint::run` does before releasing pages.
///
/// Checked:
/// - a reader only ever sees a published snapshot, and two begins by the
///   same thread are monotonic;
/// - once the reader's `begin` has returned (signalled through an atomic),
///   `oldest_base()` is `Some(b)` with `b <=` the reader's base while it is
///   live;
/// - registration is atomic with taking the snapshot: with `c` the current
///   base the checkpoint saw *before* asking and `o` the oldest base it got,
///   a reader that was still live has base `>= min(o, c)`. (If `begin` took
///   the snapshot and registered it in two critical sections, the reader
///   could take base 0, the publisher publish base 2, and the checkpoint see
///   `c = 2, o = None`: it would reuse pages the reader still reads.)
#[test]
fn snapshot_publication_and_reader_registry() {
    loom::model(|| {
        let registry = Arc::new(Registry::new(snap(0, 0)));
        // The reader's first snapshot base + 1 once `begin` returned (0: not yet).
        let live_base = Arc::new(AtomicU64::new(0));

        let publisher = {
            let registry = registry.clone();
            thread::spawn(move || {
                registry.publish(snap(1, 1));
                registry.publish(snap(2, 2));
            })
        };

        let reader = {
            let registry = registry.clone();
            let live_base = live_base.clone();
            thread::spawn(move || {
                let a = registry.begin();
                assert!(
                    PUBLISHED.contains(&id(&a)),
                    "unpublished snapshot {:?}",
                    id(&a)
                );
                live_base.store(a.base + 1, SeqCst);
                let b = registry.begin();
                assert!(
                    PUBLISHED.contains(&id(&b)),
                    "unpublished snapshot {:?}",
                    id(&b)
                );
                assert!(
                    id(&b) >= id(&a),
                    "snapshots went back: {:?} then {:?}",
                    id(&a),
                    id(&b)
                );
                registry.end(&b);
                a // still live: ended by the main thread after the checkpoint
            })
        };

        let checkpoint = {
            let registry = registry.clone();
            let live_base = live_base.clone();
            thread::spawn(move || {
                let seen = live_base.load(SeqCst);
                let current = registry.current().base;
                let oldest = registry.oldest_base();
                if seen != 0 {
                    // The reader's first snapshot is registered and still live.
                    let base = seen - 1;
                    assert!(
                        oldest.is_some_and(|o| o <= base),
                        "oldest_base {oldest:?} after a reader on base {base} began"
                    );
                }
                (current, oldest)
            })
        };

        publisher.join().unwrap();
        let a = reader.join().unwrap();
        let (current, oldest) = checkpoint.join().unwrap();
        let horizon = oldest.map_or(current, |o| o.min(current));
        assert!(
            a.base >= horizon,
            "live reader on base {} but a checkpoint saw current base {current} \
             and oldest reader {oldest:?}",
            a.base
        );
        assert_eq!(registry.live_readers(), 1);
        assert_eq!(registry.oldest_base(), Some(a.base));
        registry.end(&a);
        assert_eq!(registry.live_readers(), 0);
        assert_eq!(registry.oldest_base(), None);
        assert_eq!(id(&registry.current()), (2, 2));
    });
}

/// Model 1b: publication never goes backwards, whatever order two
/// publishers race in, and `begin` after both sees the newest.
#[test]
fn snapshot_publication_is_monotonic() {
    loom::model(|| {
        let registry = Arc::new(Registry::new(snap(0, 1)));
        let handles: Vec<_> = [snap(1, 1), snap(1, 2)]
            .into_iter()
            .map(|s| {
                let registry = registry.clone();
                thread::spawn(move || {
                    registry.publish(s);
                    let seen = registry.begin();
                    assert!(id(&seen) >= (1, 1), "{:?}", id(&seen));
                    registry.end(&seen);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(id(&registry.current()), (1, 2));
        assert_eq!(registry.live_readers(), 0);
    });
}

/// Model 2: two writers take the slot with a blocking acquire; at most one
/// holds it at a time and neither deadlocks (loom fails the model if every
/// thread is blocked). While holding it, the holder's own acquire returns
/// `NestedWrite`; a non-blocking acquire by the other thread returns
/// `WriterBusy` only if the holder had started acquiring and had not yet
/// finished releasing.
#[test]
fn writer_slot_mutual_exclusion() {
    loom::model(|| {
        let slot = Arc::new(WriterSlot::new());
        let holders = Arc::new(AtomicUsize::new(0));
        // Per thread: started acquiring / finished releasing (never reset).
        let entered = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let exited = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);

        let handles: Vec<_> = (0..2)
            .map(|me| {
                let (slot, holders) = (slot.clone(), holders.clone());
                let (entered, exited) = (entered.clone(), exited.clone());
                thread::spawn(move || {
                    let other = 1 - me;
                    // A non-blocking attempt first: Busy only while the other
                    // thread can be holding the slot.
                    let other_done_before = exited[other].load(SeqCst);
                    entered[me].store(true, SeqCst);
                    let got = match slot.acquire(false) {
                        Ok(()) => true,
                        Err(Error::WriterBusy) => {
                            assert!(
                                entered[other].load(SeqCst) && !other_done_before,
                                "WriterBusy while the slot cannot be held"
                            );
                            false
                        }
                        Err(e) => panic!("unexpected error {e}"),
                    };
                    if !got {
                        slot.acquire(true).unwrap();
                    }
                    assert_eq!(holders.fetch_add(1, SeqCst), 0, "two writers hold the slot");
                    assert!(slot.is_held());
                    assert!(matches!(slot.acquire(false), Err(Error::NestedWrite)));
                    assert_eq!(holders.fetch_sub(1, SeqCst), 1);
                    slot.release();
                    exited[me].store(true, SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(!slot.is_held());
        slot.acquire(false).unwrap();
        slot.release();
    });
}

/// Model 2b: three blocking writers contend
/// for the slot: no lost wake-up (loom reports a deadlock if a waiter is
/// never notified) and mutual exclusion throughout.
#[test]
fn writer_slot_no_lost_wakeup() {
    loom::model(|| {
        let slot = Arc::new(WriterSlot::new());
        let holders = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = [1, 1, 1]
            .into_iter()
            .map(|rounds| {
                let (slot, holders) = (slot.clone(), holders.clone());
                thread::spawn(move || {
                    for _ in 0..rounds {
                        slot.acquire(true).unwrap();
                        assert_eq!(holders.fetch_add(1, SeqCst), 0, "two writers hold the slot");
                        holders.fetch_sub(1, SeqCst);
                        slot.release();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(!slot.is_held());
    });
}

/// The fake file of the group-commit models: which log records were
/// written and which a sync made durable. One loom mutex (rather than
/// several atomics) keeps the state space small.
#[derive(Default)]
struct Disk {
    /// Highest transaction whose record was written (records are written
    /// in txn order under the writer slot).
    written: u64,
    /// Highest transaction whose record a completed sync covered.
    durable: u64,
    /// Syncs started.
    syncs: usize,
    /// Set by a failed sync, as `Inner::sync_or_poison` does.
    poisoned: bool,
}

struct FakeDisk {
    state: loom::sync::Mutex<Disk>,
    fail: bool,
}

impl FakeDisk {
    fn get(&self) -> loom::sync::MutexGuard<'_, Disk> {
        self.state.lock().unwrap()
    }

    /// The sync closure handed to `wait_durable`. It covers the records
    /// written before it started; the unlock/lock in the middle lets
    /// committers write records while it runs, which it does not cover.
    fn sync(&self) -> vellum::Result<()> {
        let covered = {
            let mut d = self.get();
            if d.poisoned {
                // `sync_or_poison` on a poisoned handle syncs nothing.
                return Err(Error::Poisoned);
            }
            d.syncs += 1;
            d.written
        };
        let mut d = self.get();
        if self.fail {
            // A failed sync poisons the handle before it returns.
            d.poisoned = true;
            return Err(Error::Io(std::io::Error::other("injected sync failure")));
        }
        d.durable = d.durable.max(covered);
        Ok(())
    }
}

type Outcome = (
    Arc<Registry>,
    Arc<GroupSync>,
    Arc<FakeDisk>,
    Vec<(u64, vellum::Result<()>)>,
);

/// Two committers run L3–L6 of FORMAT.md §3 against the real `GroupSync`
/// and `Registry`: take the writer slot, take the next txn id, write the
/// record and report it written (in txn order, as the engine does under
/// its core lock), release the slot, then wait for durability. Returns
/// each committer's (txn, result).
///
/// Checked in every interleaving: readers never see a transaction whose
/// record no completed sync covered; a commit is acknowledged only after a
/// sync covered its record (L5), and is then visible to new readers (L6).
fn group_commit_model(fail: bool) -> Outcome {
    group_commit_model_with(2, fail, false)
}

/// [`group_commit_model`] with `committers` threads; with `poison_outside`
/// the model's own thread poisons the handle at some point while they run,
/// as a failed log write whose erase also fails does (`commit_state`),
/// outside any sync.
fn group_commit_model_with(committers: usize, fail: bool, poison_outside: bool) -> Outcome {
    let registry = Arc::new(Registry::new(snap(0, 1)));
    let group = Arc::new(GroupSync::new(0));
    let slot = Arc::new(WriterSlot::new());
    let disk = Arc::new(FakeDisk {
        state: loom::sync::Mutex::new(Disk::default()),
        fail,
    });
    let handles: Vec<_> = (0..committers)
        .map(|_| {
            let (registry, group, slot, disk) =
                (registry.clone(), group.clone(), slot.clone(), disk.clone());
            thread::spawn(move || {
                slot.acquire(true).unwrap();
                let txn = {
                    let mut d = disk.get();
                    d.written += 1; // L3: the record is written
                    d.written
                };
                group.written(&registry, snap(txn, 1), false);
                slot.release(); // L4
                let r =
                    group.wait_durable(&registry, txn, &|| disk.sync(), &|| disk.get().poisoned);
                let visible = registry.current().txn;
                let durable = disk.get().durable;
                assert!(
                    visible <= durable,
                    "readers see txn {visible}, durable {durable}"
                );
                if r.is_ok() {
                    assert!(durable >= txn, "txn {txn} acknowledged, durable {durable}");
                    assert!(
                        visible >= txn,
                        "txn {txn} acknowledged, readers see {visible}"
                    );
                }
                (txn, r)
            })
        })
        .collect();
    if poison_outside {
        disk.get().poisoned = true;
    }
    let results = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (registry, group, disk, results)
}

/// Model 3: group commit with a working sync. Both commits are
/// acknowledged, both are durable, readers see txn 2, and the two commits
/// needed one or two syncs (shared when the second record was written
/// before the first sync started).
#[test]
fn group_commit_shares_syncs() {
    loom::model(|| {
        let (registry, group, disk, results) = group_commit_model(false);
        for (txn, r) in &results {
            assert!(r.is_ok(), "txn {txn}: {r:?}");
            assert!(group.durable_txn() >= *txn);
        }
        assert_eq!(group.written_txn(), 2);
        assert_eq!(group.durable_txn(), 2);
        let d = disk.get();
        assert_eq!(d.durable, 2);
        assert_eq!(id(&registry.current()), (2, 1));
        assert!(
            (1..=2).contains(&d.syncs),
            "{} syncs for 2 commits",
            d.syncs
        );
    });
}

/// Model 3b: the sync fails (and poisons the handle, as `sync_or_poison`
/// does). Every waiter returns an error (the sync's own error for the
/// committer that ran it, `Poisoned` for the other), none returns `Ok`, nothing is
/// published, and the failed sync is never retried (fsyncgate: a second
/// sync could "succeed" after the first one dropped the writes).
#[test]
fn group_commit_failed_sync_fails_every_waiter() {
    loom::model(|| {
        let (registry, group, disk, results) = group_commit_model(true);
        for (txn, r) in &results {
            assert!(r.is_err(), "txn {txn} acknowledged after a failed sync");
        }
        // The committer that ran the sync gets its error; the other one
        // finds the handle poisoned.
        let io = results
            .iter()
            .filter(|(_, r)| matches!(r, Err(Error::Io(_))))
            .count();
        let poisoned = results
            .iter()
            .filter(|(_, r)| matches!(r, Err(Error::Poisoned)))
            .count();
        assert_eq!((io, poisoned), (1, 1), "{results:?}");
        assert_eq!(group.durable_txn(), 0);
        assert_eq!(registry.current().txn, 0);
        let d = disk.get();
        assert_eq!(d.durable, 0);
        assert_eq!(d.syncs, 1, "a failed sync was retried");
        assert!(d.poisoned);
    });
}

/// Model 3c: three committers, and the handle is poisoned outside any sync
/// (a failed log write) at any point while they run. Every committer
/// returns (a committer asleep waiting for a next sync that will never
/// run must be woken: loom reports a deadlock otherwise), a commit is
/// acknowledged only if a sync that started before the poisoning covered
/// it (checked inside the model), and no sync starts once the handle is
/// poisoned.
///
/// Seeded bug: a committer that finds the handle poisoned returns without
/// waking the others. With two committers waiting for the next sync, the
/// end of the sync in flight wakes one of them (`notify_one`), which
/// returns `Poisoned`, and the other sleeps forever: loom reports the
/// deadlock.
#[test]
fn group_commit_poisoned_outside_a_sync_wakes_every_waiter() {
    loom::model(|| {
        let (_registry, group, disk, results) = group_commit_model_with(3, false, true);
        assert_eq!(results.len(), 3);
        let d = disk.get();
        assert!(d.poisoned);
        for (txn, r) in &results {
            match r {
                Ok(()) => assert!(group.durable_txn() >= *txn),
                Err(e) => assert!(matches!(e, Error::Poisoned), "txn {txn}: {e:?}"),
            }
        }
        assert!(d.syncs <= 3, "{} syncs for 3 commits", d.syncs);
    });
}
