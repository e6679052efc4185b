//! A failed log write (FORMAT.md §3 L3) on SimVfs, end to end.
//!
//! The setup makes the failed write dangerous: the log position it goes to
//! holds a record of an earlier epoch with byte-identical payload (the
//! application retries `put a = 1` after deleting `a`), so a landed header
//! over the old payload is a valid record of the new epoch. The write fails
//! after applying a prefix of its bytes; the engine erases the header and
//! syncs.
//!
//! - **The erase's sync succeeds:** the commit fails, the handle stays
//!   usable, and no power loss, at any later moment, brings the commit back.
//! - **The erase's sync fails** (losing a seeded subset of what it
//!   covered): the handle is poisoned and the commit's outcome is unknown.
//!   A reopen in the same boot reads the erase through the page cache (`a`
//!   absent) even where the disk holds the record, so a power loss right
//!   after the reopen may bring the commit back. Once the reopened session
//!   has run its first checkpoint (`db.sync()` or a commit), nothing can.
//!   The stateright model checks the same rule (docs/TESTING.md §8,
//!   `S_REVEALED`); the sweep asserts the revealing case is reached.

use std::path::Path;
use std::sync::Arc;

use vellum::{Db, Durability, Error, Options};
use vellum_sim::{FaultConfig, InjectedError, OpKind, SimVfs};
use vellum_tests::util::assert_check_ok;

const PATH: &str = "/db.vellum";
const BUCKET: &[u8] = b"b";

/// Failed writes apply a prefix of their bytes; a failed sync loses a
/// seeded subset of what it covered (the rest becomes durable). A power
/// loss drops every unsynced write, or with `crash_keeps` keeps them all in
/// a seeded order (so what a failed write left lands unless something
/// durable covers it).
fn disk(seed: u64, crash_keeps: bool) -> SimVfs {
    let mut cfg = FaultConfig::none();
    cfg.failed_write_partial = 1.0;
    cfg.failed_sync_drop_all = 0.0;
    cfg.crash_keep_write = if crash_keeps { 1.0 } else { 0.0 };
    cfg.crash_tear_write = 0.0;
    cfg.crash_reorder = crash_keeps;
    SimVfs::new(seed, cfg)
}

fn open(vfs: &SimVfs) -> Db {
    let opts = Options::new()
        .page_size(1024)
        .durability(Durability::Immediate)
        .vfs(Arc::new(vfs.clone()));
    let db = opts
        .open(Path::new(PATH))
        .expect("open on a disk without faults");
    assert_check_ok(&db);
    db
}

fn put(db: &Db, key: &[u8], value: &[u8]) -> vellum::Result<()> {
    db.update(|tx| tx.bucket(BUCKET)?.put(key, value))
}

fn get(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.view(|tx| Ok::<_, vellum::Error>(tx.bucket(BUCKET)?.get(key)?.map(|v| v.to_vec())))
        .expect("a read on a disk without faults")
}

/// What fails after the record write of the retried commit.
#[derive(Clone, Copy, Debug, PartialEq)]
enum EraseFails {
    /// Nothing: the erase is written and synced.
    No,
    /// The erase's write (which may apply a prefix of its zeros).
    Write,
    /// The erase's sync (which loses a seeded subset of what it covered).
    Sync,
}

/// Writes `put a = 1` and `delete a` into the log of one epoch, starts the
/// next epoch, and retries `put a = 1` with its record write failing (and
/// the erase as `erase` says). Returns the open handle.
fn fail_a_retried_commit(vfs: &SimVfs, erase: EraseFails) -> Db {
    let db = open(vfs);
    db.update(|tx| tx.create_bucket(BUCKET).map(drop)).unwrap();
    db.checkpoint().unwrap();
    put(&db, b"a", b"1").unwrap();
    db.update(|tx| tx.bucket(BUCKET)?.delete(b"a").map(drop))
        .unwrap();
    db.checkpoint().unwrap();
    vfs.fail_nth(OpKind::Write, 1, InjectedError::Eio);
    match erase {
        EraseFails::No => {}
        EraseFails::Write => vfs.fail_nth(OpKind::Write, 2, InjectedError::Eio),
        EraseFails::Sync => vfs.fail_nth(OpKind::Sync, 1, InjectedError::Eio),
    }
    assert!(matches!(put(&db, b"a", b"1"), Err(Error::Io(_))));
    assert_eq!(
        db.is_poisoned(),
        erase != EraseFails::No,
        "a failed erase poisons the handle, a synced one does not"
    );
    db
}

/// A power loss now, then recovery.
fn power_loss(vfs: &SimVfs, db: Db) -> Db {
    drop(db);
    vfs.crash();
    open(vfs)
}

/// What a power loss now leaves: the value of `a` after recovery.
fn a_after_power_loss(vfs: &SimVfs, db: Db) -> Option<Vec<u8>> {
    get(&power_loss(vfs, db), b"a")
}

/// A retried commit failed as `erase` says on the disk of `seed`; the
/// poisoned handle is reopened in the same boot (through the page cache).
fn reopened_after_failure(seed: u64, erase: EraseFails) -> (SimVfs, Db) {
    let vfs = disk(seed, false);
    drop(fail_a_retried_commit(&vfs, erase));
    let db = open(&vfs);
    (vfs, db)
}

#[test]
fn a_failed_log_write_whose_erase_is_synced_never_comes_back() {
    for seed in 0..40 {
        // Power lost right after the failure, keeping every unsynced write.
        let vfs = disk(seed, true);
        let db = fail_a_retried_commit(&vfs, EraseFails::No);
        assert_eq!(get(&db, b"a"), None);
        assert_eq!(a_after_power_loss(&vfs, db), None, "seed {seed}");
        // The session goes on and logs its next commit at the same tail.
        let vfs = disk(seed, false);
        let db = fail_a_retried_commit(&vfs, EraseFails::No);
        put(&db, b"c", b"2").unwrap();
        let reopened = power_loss(&vfs, db);
        assert_eq!(get(&reopened, b"a"), None, "seed {seed}");
        assert_eq!(get(&reopened, b"c"), Some(b"2".to_vec()), "seed {seed}");
    }
}

#[test]
fn a_failed_erase_leaves_the_outcome_unknown_until_the_reopened_session_checkpoints() {
    let mut revealed = 0;
    for erase in [EraseFails::Write, EraseFails::Sync] {
        for seed in 0..64 {
            let label = format!("{erase:?}, seed {seed}");
            // Reopen in the same boot, then lose power at once: the page
            // cache may show the commit (the erase's write failed) or hide
            // it (the erase's sync failed) whatever the disk holds.
            let (vfs, db) = reopened_after_failure(seed, erase);
            let shown = get(&db, b"a");
            if erase == EraseFails::Sync {
                assert_eq!(shown, None, "{label}: the page cache shows the erase");
            }
            let after = a_after_power_loss(&vfs, db);
            for a in [&shown, &after] {
                assert!(
                    a.as_deref().is_none_or(|v| v == b"1"),
                    "{label}: only the failed commit may appear"
                );
            }
            revealed += usize::from(shown.is_none() && after.is_some());
            // Reopen, `db.sync()` (a republish, §4 step 4), lose power: what
            // the reopen showed is now durable.
            let (vfs, db) = reopened_after_failure(seed, erase);
            let shown = get(&db, b"a");
            db.sync().unwrap();
            assert_eq!(a_after_power_loss(&vfs, db), shown, "{label}, after sync");
            // Reopen, commit something else (acknowledged), lose power.
            let (vfs, db) = reopened_after_failure(seed, erase);
            let shown = get(&db, b"a");
            put(&db, b"c", b"2").unwrap();
            let db = power_loss(&vfs, db);
            assert_eq!(get(&db, b"a"), shown, "{label}, after a commit");
            assert_eq!(get(&db, b"c"), Some(b"2".to_vec()), "{label}");
        }
    }
    assert!(
        revealed > 0,
        "no seed left the record durable and its erase lost: the sweep does not reach the case"
    );
}

/// The log records in `vfs`'s database file, as (transaction id, durable
/// mark), in file order.
fn record_marks(vfs: &SimVfs) -> Vec<(u64, u64)> {
    use vellum::page::log_record::RecordHeader;
    use vellum::vfs::{OpenMode, Vfs};
    let f = vfs.open(Path::new(PATH), OpenMode::ReadOnly).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_at(&mut bytes, 0).unwrap();
    bytes
        .chunks_exact(1024)
        .filter_map(RecordHeader::decode)
        .map(|(h, _)| (h.txn, h.durable))
        .collect()
}

/// The erase's sync covers every record written before it, so the next
/// record's durable mark vouches for them (FORMAT.md §2.1, found by the
/// stateright model): with `Eventual` commits nothing else synced them.
#[test]
fn the_record_after_a_synced_erase_vouches_for_the_records_before_it() {
    let vfs = disk(3, false);
    let db = Options::new()
        .page_size(1024)
        .durability(Durability::Eventual)
        .vfs(Arc::new(vfs.clone()))
        .open(Path::new(PATH))
        .unwrap();
    db.update(|tx| tx.create_bucket(BUCKET).map(drop)).unwrap();
    db.checkpoint().unwrap();
    put(&db, b"x", b"1").unwrap();
    let logged = record_marks(&vfs);
    let (x, mark) = *logged.iter().max().expect("the commit was logged");
    assert!(mark < x, "nothing synced the record yet");
    vfs.fail_nth(OpKind::Write, 1, InjectedError::Eio);
    assert!(matches!(put(&db, b"y", b"2"), Err(Error::Io(_))));
    assert!(!db.is_poisoned(), "the erase was synced");
    put(&db, b"z", b"3").unwrap();
    let (z, mark) = *record_marks(&vfs).iter().max().unwrap();
    assert_eq!(z, x + 1, "the failed commit took no transaction id");
    assert!(
        mark >= x,
        "record {z} has mark {mark}: it does not vouch for {x}"
    );
}
