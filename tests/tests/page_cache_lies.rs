//! Failed syncs whose writes the operating system's page cache keeps
//! showing (fsyncgate), read back by a later session of the same boot, then
//! a power loss.
//!
//! This is the end-to-end form of the counterexample the stateright model
//! found against an earlier slot rule (docs/TESTING.md §8, mutant
//! `LastCopyById`):
//!
//! 1. Checkpoint 4 is durable; checkpoint 5 reuses pages that checkpoint 3
//!    used, and a power loss during its slot sync loses slot 5.
//! 2. The next session replays the log and checkpoints; the sync of its
//!    confirmation copy of slot 4 fails. The copy is not durable, but the
//!    page cache still shows it, so the next session sees slot 4 twice.
//! 3. That session must not write over the durable copy: if it did, a power
//!    loss tearing the write would leave only slot 3, whose pages were
//!    reused in step 1.
//!
//! The tests sweep which sync fails in each middle session (one to three
//! lies in a row), at which sync the last session loses power, the slot
//! page each checkpoint lands in, and the crash's seed. After the final
//! recovery every acknowledged commit must be there and `check()` must
//! pass.

use std::path::Path;
use std::sync::Arc;

use vellum::page::slot::Slot;
use vellum::{Db, Durability, Options};
use vellum_sim::{FaultConfig, InjectedError, OpKind, SimVfs};
use vellum_tests::util::{assert_check_ok, dump, num_key, valid_slots, Buckets, Map};

const PATH: &str = "/db.vellum";
const PAGE_SIZE: usize = 1024;
const KEYS: u64 = 300;

/// A disk whose failed syncs lose everything they covered, and whose power
/// loss tears every unsynced write, filling the units that do not land with
/// garbage (a torn slot is then invalid, not an older copy).
fn disk(seed: u64) -> SimVfs {
    let mut cfg = FaultConfig::none();
    cfg.failed_sync_drop_all = 1.0;
    cfg.crash_keep_write = 0.0;
    cfg.crash_tear_write = 1.0;
    cfg.torn_garbage = 1.0;
    SimVfs::new(seed, cfg)
}

fn opts(vfs: &SimVfs) -> Options {
    Options::new()
        .page_size(PAGE_SIZE)
        .durability(Durability::Immediate)
        .max_log_size(64 * 1024)
        .vfs(Arc::new(vfs.clone()))
}

/// Overwrites every key with values of generation `g`: every leaf changes,
/// so the next checkpoint frees all the pages of the one before it.
fn rewrite_all(db: &Db, g: u64, model: &mut Map) {
    db.update(|tx| {
        for i in 0..KEYS {
            tx.put(num_key("k", i), g.to_le_bytes())?;
        }
        Ok::<_, vellum::Error>(())
    })
    .expect("a commit on a healthy disk");
    for i in 0..KEYS {
        model.insert(num_key("k", i), g.to_le_bytes().to_vec());
    }
}

/// How the first session's last checkpoint ends, at its slot sync.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Power fails: the slot write is torn.
    Crash,
    /// The sync fails: the slot is lost, but the page cache still shows it
    /// to the next session.
    Lie,
}

/// Session 1: checkpoints up to `N`, one more than `3 + rotation` (so the
/// slot pages hold different checkpoints for each rotation), logged commits
/// after it, then checkpoint `N + 1`, which reuses the pages `N - 1` used,
/// fails at its slot sync as `ending` says. Returns every acknowledged
/// commit.
fn first_session(vfs: &SimVfs, rotation: u64, ending: Ending) -> Map {
    let mut model = Map::new();
    let db = opts(vfs).open(PATH).expect("create");
    let mut g = 0;
    for _ in 0..(3 + rotation) {
        rewrite_all(&db, g, &mut model);
        g += 1;
        db.checkpoint().expect("checkpoint on a healthy disk");
    }
    // Logged (acknowledged, not yet checkpointed) commits: the next session
    // replays them, so its open runs a checkpoint.
    for _ in 0..2 {
        rewrite_all(&db, g, &mut model);
        g += 1;
    }
    // Barrier 1 of the checkpoint passes; barrier 2, with the slot write
    // pending, does not.
    match ending {
        Ending::Crash => vfs.schedule_crash_at(OpKind::Sync, 2),
        Ending::Lie => vfs.fail_nth(OpKind::Sync, 2, InjectedError::Eio),
    }
    assert!(db.checkpoint().is_err(), "the slot sync failed");
    drop(db);
    match ending {
        Ending::Crash => drop(vfs.crash()),
        Ending::Lie => vfs.clear_scheduled_errors(),
    }
    model
}

/// Opens (the open checkpoints the replayed log) and, if that worked,
/// commits once: an acknowledged commit goes into `model`, the key of a
/// failed one (which may or may not have landed) into `unknown`.
fn open_and_commit(vfs: &SimVfs, tag: u64, model: &mut Map, unknown: &mut Vec<Vec<u8>>) {
    if let Ok(db) = opts(vfs).open(PATH) {
        let key = num_key("session", tag);
        match db.update(|tx| tx.put(&key, b"acked")) {
            Ok(()) => {
                model.insert(key, b"acked".to_vec());
            }
            Err(_) => unknown.push(key),
        }
    }
}

/// A middle session: its `fail`th sync fails (a page-cache lie).
fn lying_session(vfs: &SimVfs, fail: u64, tag: u64, model: &mut Map, unknown: &mut Vec<Vec<u8>>) {
    vfs.fail_nth(OpKind::Sync, fail, InjectedError::Eio);
    open_and_commit(vfs, tag, model, unknown);
    vfs.clear_scheduled_errors();
}

/// The last session loses power at its `crash`th sync.
fn crashing_session(
    vfs: &SimVfs,
    crash: u64,
    tag: u64,
    model: &mut Map,
    unknown: &mut Vec<Vec<u8>>,
) {
    vfs.schedule_crash_at(OpKind::Sync, crash);
    open_and_commit(vfs, tag, model, unknown);
    vfs.crash();
}

/// Recovers and compares with the acknowledged commits; keys whose commit
/// failed may hold their value or be absent.
fn assert_recovered(vfs: &SimVfs, model: &Map, unknown: &[Vec<u8>], label: &str) {
    let db = opts(vfs)
        .create(false)
        .open(PATH)
        .unwrap_or_else(|e| panic!("{label}: recovery failed: {e}"));
    let got: Buckets = dump(&db).unwrap_or_else(|e| panic!("{label}: read failed: {e}"));
    assert_eq!(got.len(), 1, "{label}: only the default bucket");
    let mut got = got[&Vec::new()].clone();
    for key in unknown {
        if let Some(v) = got.remove(key) {
            assert_eq!(v, b"acked", "{label}: a failed commit left a bad value");
        }
    }
    assert!(
        got == *model,
        "{label}: recovered state differs from the acknowledged commits \
         ({} keys recovered, {} expected)",
        got.len(),
        model.len()
    );
    assert_check_ok(&db);
}

fn run(ending: Ending, rotation: u64, lies: &[u64], crash: u64, seed: u64) {
    let label = format!(
        "{ending:?}, rotation {rotation}, failed syncs {lies:?}, crash at sync {crash}, seed {seed}"
    );
    let vfs = disk(seed);
    let mut model = first_session(&vfs, rotation, ending);
    let mut unknown = Vec::new();
    for (tag, &fail) in lies.iter().enumerate() {
        lying_session(&vfs, fail, tag as u64, &mut model, &mut unknown);
    }
    crashing_session(&vfs, crash, lies.len() as u64, &mut model, &mut unknown);
    assert_recovered(&vfs, &model, &unknown, &label);
}

#[test]
fn one_failed_sync_read_back_then_power_loss() {
    for rotation in 0..3 {
        for fail in 1..=3 {
            for crash in 1..=3 {
                for seed in 0..3 {
                    for ending in [Ending::Crash, Ending::Lie] {
                        run(ending, rotation, &[fail], crash, seed);
                    }
                }
            }
        }
    }
}

#[test]
fn two_failed_syncs_in_a_row_read_back_then_power_loss() {
    for rotation in 0..3 {
        for first in 1..=3 {
            for second in 1..=3 {
                for crash in 1..=3 {
                    for ending in [Ending::Crash, Ending::Lie] {
                        run(ending, rotation, &[first, second], crash, rotation + first);
                    }
                }
            }
        }
    }
}

/// Beyond the model's bounds (it checks at most two failed syncs in a row):
/// three sessions in a row each lose a sync.
#[test]
fn three_failed_syncs_in_a_row_read_back_then_power_loss() {
    for rotation in 0..3 {
        for lies in 0..8u64 {
            let lies = [1 + (lies & 1), 1 + (lies >> 1 & 1), 1 + (lies >> 2 & 1)];
            for crash in 1..=3 {
                for ending in [Ending::Crash, Ending::Lie] {
                    run(ending, rotation, &lies, crash, rotation + lies[0]);
                }
            }
        }
    }
}

/// The sweep reaches the case it is about: a session that reads back a
/// copy of the newest slot only the page cache holds, beside its durable
/// copy (two valid slot pages with the same checkpoint id).
#[test]
fn the_sweep_reaches_two_copies_of_the_newest_slot() {
    let vfs = disk(0);
    first_session(&vfs, 0, Ending::Crash);
    vfs.fail_nth(OpKind::Sync, 2, InjectedError::Eio);
    let _ = opts(&vfs).open(PATH);
    vfs.clear_scheduled_errors();
    let image = vfs.contents(Path::new(PATH)).expect("the file exists");
    let durable = vfs.durable_contents(Path::new(PATH)).expect("durable");
    let page = |bytes: &[u8], p: usize| bytes[p * PAGE_SIZE..(p + 1) * PAGE_SIZE].to_vec();
    let lies: Vec<usize> = (1..4)
        .filter(|&p| page(&image, p) != page(&durable, p))
        .collect();
    assert_eq!(
        lies.len(),
        1,
        "one slot page only the cache shows: {lies:?}"
    );
    let lie = lies[0];
    // The same checkpoint (slot and checkpoint checksum), another copy.
    let checkpoint = |(p, slot, checksum, _): (usize, Slot, u64, u64)| (p, (slot, checksum));
    let (_, lied) = valid_slots(&image, PAGE_SIZE)
        .into_iter()
        .map(checkpoint)
        .find(|(p, _)| *p == lie)
        .expect("the cached page is a valid slot");
    let twins: Vec<usize> = valid_slots(&durable, PAGE_SIZE)
        .into_iter()
        .map(checkpoint)
        .filter(|(p, c)| *p != lie && *c == lied)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        twins.len(),
        1,
        "the cached page is a copy of the one durable newest slot (page {lie})"
    );
}
