//! I/O error paths, through a VFS that fails chosen operations: failed
//! syncs poison the handle, failed writes fail only their commit, a full
//! disk is survived, read errors surface as `Error::Io`. After every
//! failure a reopened database passes `check()` and holds every commit that
//! was acknowledged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vellum::{Db, Durability, Error, Options};
use vellum_sim::{FaultConfig, InjectedError, OpKind, SimVfs};
use vellum_tests::fail_vfs::{Arm, FailVfs, Fault, Faults, FileOp, EIO, ENOSPC};
use vellum_tests::util::{assert_check_ok, dump, num_key, owned_value, Buckets, Map};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

fn open_failing(path: &Path, durability: Durability) -> (Db, Arc<Faults>) {
    let vfs = FailVfs::new();
    let faults = vfs.faults();
    let db = Options::new()
        .durability(durability)
        .vfs(Arc::new(vfs))
        .open(path)
        .unwrap();
    (db, faults)
}

fn is_io(e: &Error, errno: i32) -> bool {
    matches!(e, Error::Io(io) if io.raw_os_error() == Some(errno))
}

fn default_map(b: &Buckets) -> &Map {
    &b[&Vec::new()]
}

/// Every entry point of a poisoned handle refuses with `Error::Poisoned`.
fn assert_poisoned(db: &Db) {
    assert!(db.is_poisoned());
    assert!(matches!(db.begin_read(), Err(Error::Poisoned)));
    assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
    assert!(matches!(db.try_begin_write(), Err(Error::Poisoned)));
    assert!(matches!(
        db.update(|tx| tx.put(b"x", b"y")),
        Err(Error::Poisoned)
    ));
    assert!(matches!(
        db.view(|tx| tx.get(b"x").map(owned_value)),
        Err(Error::Poisoned)
    ));
    assert!(matches!(db.sync(), Err(Error::Poisoned)));
    assert!(matches!(db.checkpoint(), Err(Error::Poisoned)));
    assert!(matches!(db.check(), Err(Error::Poisoned)));
}

fn commit_numbered(db: &Db, i: u64) -> vellum::Result<()> {
    db.update(|tx| {
        tx.put(num_key("c", i), i.to_le_bytes())?;
        tx.put(b"last", i.to_le_bytes())
    })
}

/// After reopening with the plain VFS: `check()` passes, every commit in
/// `acked` is there, and nothing else except possibly `maybe`.
fn assert_reopened(path: &Path, acked: &[u64], maybe: Option<u64>) {
    let db = Db::open(path).unwrap();
    assert_check_ok(&db);
    let tx = db.begin_read().unwrap();
    for &i in acked {
        assert_eq!(
            tx.get(num_key("c", i)).unwrap().map(|v| v.to_vec()),
            Some(i.to_le_bytes().to_vec()),
            "acknowledged commit {i} lost"
        );
    }
    let n = tx.prefix(b"c").count() as u64;
    let allowed = acked.len() as u64 + maybe.is_some() as u64;
    assert!(
        n >= acked.len() as u64 && n <= allowed,
        "{n} commits found, {} acknowledged",
        acked.len()
    );
    if n > acked.len() as u64 {
        let m = maybe.unwrap();
        assert!(tx.contains(num_key("c", m)).unwrap());
    }
}

#[test]
fn failed_sync_at_commit_returns_the_error_and_poisons() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    let mut acked = Vec::new();
    for i in 0..10 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    faults.arm(FileOp::Sync, Arm::once(Fault::Eio));
    let r = commit_numbered(&db, 10);
    assert!(
        matches!(&r, Err(e) if is_io(e, EIO)),
        "the commit returns the sync error: {r:?}"
    );
    assert_eq!(faults.injected(FileOp::Sync), 1);
    // Every later call fails, even though the disk works again.
    faults.clear();
    assert_poisoned(&db);
    let clone = db.clone();
    assert_poisoned(&clone);
    drop(db);
    drop(clone);
    assert_reopened(&path, &acked, Some(10));
}

#[test]
fn failed_sync_of_db_sync_poisons_in_eventual_mode() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Eventual);
    let mut acked = Vec::new();
    for i in 0..5 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    db.sync().unwrap();
    commit_numbered(&db, 5).unwrap();
    faults.arm(FileOp::Sync, Arm::once(Fault::Eio));
    assert!(matches!(db.sync(), Err(e) if is_io(&e, EIO)));
    faults.clear();
    assert_poisoned(&db);
    drop(db);
    // No crash happened: the written commit 5 is in the file.
    acked.push(5);
    assert_reopened(&path, &acked, None);
}

#[test]
fn concurrent_committers_all_fail_when_their_shared_sync_fails() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    commit_numbered(&db, 0).unwrap();
    faults.arm(FileOp::Sync, Arm::always(Fault::Eio));
    let handles: Vec<_> = (1..=6u64)
        .map(|i| {
            let db = db.clone();
            std::thread::spawn(move || commit_numbered(&db, i))
        })
        .collect();
    for h in handles {
        let r = h.join().unwrap();
        assert!(
            matches!(&r, Err(Error::Poisoned)) || matches!(&r, Err(e) if is_io(e, EIO)),
            "no commit may succeed without a sync: {r:?}"
        );
    }
    faults.clear();
    assert_poisoned(&db);
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_check_ok(&db);
    assert!(db.view(|tx| tx.contains(num_key("c", 0))).unwrap());
}

#[test]
fn failed_sync_during_checkpoint_poisons_and_loses_nothing_acknowledged() {
    // Fail the first and the second sync of a checkpoint (barriers C3, C5).
    for nth in 0..2 {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, Durability::Immediate);
        let mut acked = Vec::new();
        for i in 0..20 {
            commit_numbered(&db, i).unwrap();
            acked.push(i);
        }
        faults.arm(FileOp::Sync, Arm::once(Fault::Eio).after(nth));
        let r = db.checkpoint();
        assert!(matches!(&r, Err(e) if is_io(e, EIO)), "sync #{nth}: {r:?}");
        faults.clear();
        assert_poisoned(&db);
        drop(db);
        assert_reopened(&path, &acked, None);
    }
}

#[test]
fn failed_or_torn_slot_write_poisons_and_recovery_falls_back() {
    for torn in [false, true] {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, Durability::Immediate);
        let mut acked = Vec::new();
        for i in 0..10 {
            commit_numbered(&db, i).unwrap();
            acked.push(i);
        }
        db.checkpoint().unwrap();
        for i in 10..20 {
            commit_numbered(&db, i).unwrap();
            acked.push(i);
        }
        let ps = db.page_size() as u64;
        let mut arm = Arm::once(Fault::Eio).in_range(ps..3 * ps);
        if torn {
            arm = arm.torn();
        }
        faults.arm(FileOp::Write, arm);
        let r = db.checkpoint();
        assert!(matches!(&r, Err(e) if is_io(e, EIO)), "torn={torn}: {r:?}");
        assert_eq!(
            faults.injected(FileOp::Write),
            1,
            "the slot write was attempted"
        );
        faults.clear();
        assert_poisoned(&db);
        drop(db);
        assert_reopened(&path, &acked, None);
    }
}

#[test]
fn failed_log_write_fails_only_that_commit() {
    for (durability, torn) in [
        (Durability::Immediate, false),
        (Durability::Immediate, true),
        (Durability::Eventual, false),
        (Durability::Eventual, true),
    ] {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, durability);
        let mut acked = Vec::new();
        for i in 0..5 {
            commit_numbered(&db, i).unwrap();
            acked.push(i);
        }
        let mut arm = Arm::once(Fault::Eio);
        if torn {
            arm = arm.torn();
        }
        faults.arm(FileOp::Write, arm);
        // A multi-page record, so a torn write leaves a partial record.
        let r = db.update(|tx| {
            tx.put(num_key("c", 5), 5u64.to_le_bytes())?;
            tx.put(b"payload", vec![0x5a; 3000])
        });
        assert!(
            matches!(&r, Err(e) if is_io(e, EIO)),
            "{durability:?} torn={torn}: {r:?}"
        );
        assert!(!db.is_poisoned(), "a failed write does not poison");
        // The failed commit is invisible, the handle keeps working.
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.get(num_key("c", 5)).unwrap().map(|v| v.to_vec()), None);
        assert_eq!(tx.get(b"payload").unwrap().map(|v| v.to_vec()), None);
        assert_eq!(
            tx.get(b"last").unwrap().map(|v| v.to_vec()),
            Some(4u64.to_le_bytes().to_vec())
        );
        drop(tx);
        for i in 6..15 {
            commit_numbered(&db, i).unwrap();
            acked.push(i);
        }
        db.sync().unwrap();
        let d = dump(&db).unwrap();
        assert_eq!(
            default_map(&d).get(&b"last"[..]).cloned(),
            Some(14u64.to_le_bytes().to_vec())
        );
        // Reopen after a crash-like exit (no checkpoint): the log replays.
        let image = std::fs::read(&path).unwrap();
        drop(db);
        let crash = path.with_extension("crash");
        std::fs::write(&crash, image).unwrap();
        for p in [&crash, &path] {
            assert_reopened(p, &acked, None);
            let db = Db::open(p).unwrap();
            assert_eq!(
                db.view(|tx| tx.get(b"payload").map(owned_value)).unwrap(),
                None,
                "a failed commit came back"
            );
        }
    }
}

#[test]
fn disk_full_during_a_large_commit_is_survived() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    let mut acked = Vec::new();
    for i in 0..5 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    db.checkpoint().unwrap();
    // The disk is full: the file cannot grow any more.
    let len = std::fs::metadata(&path).unwrap().len();
    faults.set_capacity(Some(len));
    let big = vec![0xabu8; 2 << 20];
    let r = db.update(|tx| tx.put(b"big", &big));
    assert!(matches!(&r, Err(e) if is_io(e, ENOSPC)), "{r:?}");
    assert!(!db.is_poisoned(), "a full disk must not poison the handle");
    assert_eq!(db.view(|tx| tx.get(b"big").map(owned_value)).unwrap(), None);
    // Small commits that fit in the log still work.
    for i in 5..8 {
        match commit_numbered(&db, i) {
            Ok(()) => acked.push(i),
            Err(e) => assert!(is_io(&e, ENOSPC), "{e:?}"),
        }
    }
    match db.checkpoint() {
        Ok(()) => {}
        Err(e) => assert!(is_io(&e, ENOSPC), "{e:?}"),
    }
    assert!(!db.is_poisoned());
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        len,
        "the file did not grow"
    );
    // Space is freed: everything works again.
    faults.set_capacity(None);
    db.update(|tx| tx.put(b"big", &big)).unwrap();
    for i in 8..12 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    db.checkpoint().unwrap();
    assert_check_ok(&db);
    drop(db);
    assert_reopened(&path, &acked, None);
    let db = Db::open(&path).unwrap();
    assert!(
        db.view(|tx| tx.get(b"big").map(owned_value))
            .unwrap()
            .unwrap()
            == big
    );
}

#[test]
fn disk_full_database_reopens_consistent_before_space_is_freed() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    let mut acked = Vec::new();
    for i in 0..5 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    faults.set_capacity(Some(std::fs::metadata(&path).unwrap().len()));
    // Fill the log until commits fail for lack of space.
    let mut failed = 0;
    for i in 5..200 {
        let r = db.update(|tx| {
            tx.put(num_key("c", i), i.to_le_bytes())?;
            tx.put(num_key("pad", i), vec![i as u8; 1500])
        });
        match r {
            Ok(()) => acked.push(i),
            Err(e) => {
                assert!(is_io(&e, ENOSPC), "{e:?}");
                failed += 1;
            }
        }
        assert!(!db.is_poisoned());
    }
    assert!(failed > 0, "the log filled up and a checkpoint was needed");
    // Close while the disk is still full (the closing checkpoint fails).
    drop(db);
    assert_reopened(&path, &acked, None);
}

#[test]
fn set_len_failure_when_growing_the_file_is_survived() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    faults.arm(FileOp::SetLen, Arm::always(Fault::NoSpace));
    let mut acked = Vec::new();
    let mut failed = 0;
    for i in 0..150 {
        let r = db.update(|tx| {
            tx.put(num_key("c", i), i.to_le_bytes())?;
            tx.put(num_key("pad", i), vec![i as u8; 5000])
        });
        match r {
            Ok(()) => acked.push(i),
            Err(e) => {
                assert!(is_io(&e, ENOSPC), "{e:?}");
                failed += 1;
            }
        }
        assert!(!db.is_poisoned(), "ENOSPC from set_len must not poison");
    }
    let set_len_failures = faults.injected(FileOp::SetLen);
    faults.clear();
    // With space again, a checkpoint and further commits work.
    db.checkpoint().unwrap();
    for i in 150..160 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    assert_check_ok(&db);
    drop(db);
    assert_reopened(&path, &acked, None);
    assert!(
        set_len_failures > 0 || failed == 0,
        "set_len failed {set_len_failures} times, commits {failed}"
    );
}

#[test]
fn failed_tree_page_write_abandons_the_checkpoint_only() {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, Durability::Immediate);
    let mut acked = Vec::new();
    for i in 0..50 {
        commit_numbered(&db, i).unwrap();
        acked.push(i);
    }
    let ps = db.page_size() as u64;
    for torn in [false, true] {
        let mut arm = Arm::once(Fault::Eio).in_range(3 * ps..u64::MAX);
        if torn {
            arm = arm.torn();
        }
        faults.arm(FileOp::Write, arm);
        let r = db.checkpoint();
        assert!(matches!(&r, Err(e) if is_io(e, EIO)), "{r:?}");
        assert!(
            !db.is_poisoned(),
            "an error before the slot write abandons the checkpoint"
        );
        faults.clear();
        commit_numbered(&db, 50 + torn as u64).unwrap();
        acked.push(50 + torn as u64);
    }
    db.checkpoint().unwrap();
    assert_check_ok(&db);
    drop(db);
    assert_reopened(&path, &acked, None);
}

/// Writes a database of `n` keys over several leaves (page size 1024),
/// closes it and reopens it through a failing VFS with a cold cache.
fn cold_db(path: &Path, n: u64) -> (Db, Arc<Faults>) {
    {
        let db = Options::new().page_size(1024).open(path).unwrap();
        db.update(|tx| {
            for i in 0..n {
                tx.put(num_key("k", i), vec![i as u8; 40])?;
            }
            tx.put(b"zbig", vec![7u8; 10_000])
        })
        .unwrap();
    }
    let vfs = FailVfs::new();
    let faults = vfs.faults();
    let db = Options::new().vfs(Arc::new(vfs)).open(path).unwrap();
    (db, faults)
}

#[test]
fn read_errors_surface_as_io_errors_and_do_not_poison() {
    let (_d, path) = tmp();
    let (db, faults) = cold_db(&path, 2000);
    let tx = db.begin_read().unwrap();
    faults.arm(FileOp::Read, Arm::always(Fault::Eio));
    assert!(matches!(tx.get(num_key("k", 1500)), Err(e) if is_io(&e, EIO)));
    assert!(matches!(tx.contains(num_key("k", 1500)), Err(e) if is_io(&e, EIO)));
    let mut it = tx.iter();
    assert!(matches!(it.next(), Some(Err(e)) if is_io(&e, EIO)));
    assert!(it.next().is_none(), "an iterator ends after an error");
    assert!(matches!(tx.iter().next_back(), Some(Err(e)) if is_io(&e, EIO)));
    assert!(matches!(tx.cursor().first(), Err(e) if is_io(&e, EIO)));
    assert!(matches!(tx.cursor().seek(b"k"), Err(e) if is_io(&e, EIO)));
    assert!(matches!(db.check(), Err(e) if is_io(&e, EIO)));
    let r = db.update(|tx| tx.put(num_key("k", 1999), b"new"));
    assert!(matches!(&r, Err(e) if is_io(e, EIO)), "{r:?}");
    assert!(!db.is_poisoned(), "read errors do not poison");
    faults.clear();
    // Everything reads fine once the disk recovers.
    assert_eq!(
        tx.get(num_key("k", 1500)).unwrap().map(|v| v.to_vec()),
        Some(vec![(1500u64 % 256) as u8; 40])
    );
    assert_eq!(tx.iter().count(), 2001);
    assert_eq!(
        tx.get(b"zbig").unwrap().map(|v| v.to_vec()),
        Some(vec![7u8; 10_000])
    );
    drop(it);
    drop(tx);
    db.update(|tx| tx.put(num_key("k", 1999), b"new")).unwrap();
    assert_check_ok(&db);
    // An overflow value whose run cannot be read.
    let tx = db.begin_read().unwrap();
    faults.arm(FileOp::Read, Arm::always(Fault::Eio));
    let r = tx.get(b"zbig");
    faults.clear();
    assert!(matches!(&r, Err(e) if is_io(e, EIO)), "{r:?}");
}

#[test]
fn read_errors_during_open_are_io_errors_and_release_the_lock() {
    let (_d, path) = tmp();
    drop(cold_db(&path, 500));
    for skip in 0..6 {
        let vfs = FailVfs::new();
        let faults = vfs.faults();
        faults.arm(FileOp::Read, Arm::always(Fault::Eio).after(skip));
        let r = Options::new().vfs(Arc::new(vfs)).open(&path);
        match r {
            Err(e) => assert!(is_io(&e, EIO), "read #{skip} failing: {e:?}"),
            Ok(db) => {
                // Open needed fewer reads; reads fail later instead.
                let tx = db.begin_read().unwrap();
                assert!(matches!(tx.get(num_key("k", 1)), Err(e) if is_io(&e, EIO)));
            }
        }
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 501);
}

/// A read error in the middle of a put (after the root was copied) must
/// leave the transaction consistent: committing afterwards gives a sound
/// database (no leaked pages) with the failed put either applied or not.
#[test]
fn read_error_inside_a_put_leaves_the_transaction_consistent() {
    let (_d, path) = tmp();
    let (db, faults) = cold_db(&path, 3000);
    let tx = db.begin_write().unwrap();
    // Warm the path to the first key only.
    assert!(tx.get(num_key("k", 0)).unwrap().is_some());
    faults.arm(FileOp::Read, Arm::always(Fault::Eio));
    let r = tx.put(num_key("k", 2999), b"changed");
    assert!(matches!(&r, Err(e) if is_io(e, EIO)), "{r:?}");
    faults.clear();
    // The application handles the error and carries on.
    tx.put(num_key("k", 1), b"also changed").unwrap();
    tx.commit().unwrap();
    db.checkpoint().unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "after a failed put: {report}");
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.len(), 3001);
    assert_eq!(
        tx.get(num_key("k", 1)).unwrap().as_deref(),
        Some(&b"also changed"[..])
    );
    drop(tx);
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_check_ok(&db);
}

/// A read error while a delete rebalances (reading the sibling) must not
/// drop other keys from the transaction.
#[test]
fn read_error_inside_a_delete_loses_no_other_keys() {
    let (_d, path) = tmp();
    let n = 3000u64;
    let (db, faults) = cold_db(&path, n);
    let tx = db.begin_write().unwrap();
    assert!(tx.get(num_key("k", 1000)).unwrap().is_some());
    faults.arm(FileOp::Read, Arm::always(Fault::Eio));
    // Delete keys of the warmed leaf until one needs an unread sibling.
    let mut deleted = Vec::new();
    let mut failed = None;
    for i in 1000..1100 {
        match tx.delete(num_key("k", i)) {
            Ok(true) => deleted.push(i),
            Ok(false) => panic!("key {i} missing"),
            Err(e) => {
                assert!(is_io(&e, EIO), "{e:?}");
                failed = Some(i);
                break;
            }
        }
    }
    faults.clear();
    let failed = failed.expect("a rebalance had to read a cold sibling");
    // The application handles the error and commits the rest.
    tx.commit().unwrap();
    let rtx = db.begin_read().unwrap();
    let mut missing = Vec::new();
    for i in 0..n {
        if deleted.contains(&i) || i == failed {
            continue;
        }
        if !rtx.contains(num_key("k", i)).unwrap() {
            missing.push(i);
        }
    }
    let len = rtx.len();
    let count = rtx.iter().count() as u64;
    drop(rtx);
    assert!(
        missing.is_empty(),
        "a failed delete of key {failed} silently removed {} other keys ({}..={})",
        missing.len(),
        missing.first().unwrap(),
        missing.last().unwrap()
    );
    assert_eq!(len, count, "len() disagrees with the keys present");
    assert_check_ok(&db);
}

/// A workload of small commits, large (checkpointed) commits, explicit
/// checkpoints, bucket creation and drops, deletes and overwrites. Runs
/// with whatever faults are armed and tracks what must be in the database:
/// a failed operation that did not poison the handle changed nothing; once
/// poisoned, everything refuses.
struct Workload {
    model: Buckets,
    /// The state the failed operation would have produced, when the handle
    /// was poisoned by it (it may or may not be durable).
    maybe: Option<Buckets>,
    failures: u64,
}

fn apply_step(db: &Db, i: u64, model: &Buckets) -> (vellum::Result<()>, Buckets) {
    let mut next = model.clone();
    let r = match i % 8 {
        0..=3 => {
            let m = next.get_mut(&Vec::new()).unwrap();
            m.insert(num_key("c", i), i.to_le_bytes().to_vec());
            m.insert(b"last".to_vec(), i.to_le_bytes().to_vec());
            next.get_mut(&b"keep"[..])
                .unwrap()
                .insert(num_key("c", i), vec![i as u8; 100]);
            db.update(|tx| {
                tx.put(num_key("c", i), i.to_le_bytes())?;
                tx.put(b"last", i.to_le_bytes())?;
                tx.bucket(b"keep")?.put(num_key("c", i), vec![i as u8; 100])
            })
        }
        4 => {
            let v = vec![i as u8; 100_000];
            next.get_mut(&Vec::new())
                .unwrap()
                .insert(num_key("big", i), v.clone());
            db.update(|tx| tx.put(num_key("big", i), &v))
        }
        5 => db.checkpoint(),
        6 => {
            let name = num_key("b", i);
            let old = num_key("b", i.wrapping_sub(8));
            let mut b = Map::new();
            for j in 0..50 {
                b.insert(num_key("x", j), vec![j as u8; 60]);
            }
            next.insert(name.clone(), b.clone());
            let had_old = next.remove(&old).is_some();
            db.update(|tx| {
                let bk = tx.create_bucket(&name)?;
                for (k, v) in &b {
                    bk.put(k, v)?;
                }
                if had_old {
                    tx.drop_bucket(&old)?;
                }
                Ok(())
            })
        }
        _ => {
            let m = next.get_mut(&Vec::new()).unwrap();
            let del = num_key("c", i.saturating_sub(5));
            let existed = m.remove(&del).is_some();
            let big = num_key("big", i.saturating_sub(3));
            if m.contains_key(&big) {
                m.insert(big.clone(), b"small now".to_vec());
            }
            let overwrite = m.contains_key(&big);
            db.update(|tx| {
                assert_eq!(tx.delete(&del)?, existed);
                if overwrite {
                    tx.put(&big, b"small now")?;
                }
                Ok(())
            })
        }
    };
    (r, next)
}

/// Creates the bucket the workload writes to (before faults are armed).
fn setup(db: &Db) {
    db.update(|tx| tx.create_bucket_if_missing(b"keep").map(|_| ()))
        .unwrap();
}

fn run_workload(db: &Db, steps: u64) -> Workload {
    let mut w = Workload {
        model: Buckets::from([(Vec::new(), Map::new()), (b"keep".to_vec(), Map::new())]),
        maybe: None,
        failures: 0,
    };
    for i in 0..steps {
        let (r, next) = apply_step(db, i, &w.model);
        match r {
            Ok(()) => w.model = next,
            Err(e) => {
                w.failures += 1;
                if db.is_poisoned() {
                    assert!(
                        matches!(e, Error::Io(_) | Error::Poisoned),
                        "step {i}: {e:?}"
                    );
                    w.maybe = Some(next);
                    assert_poisoned(db);
                    return w;
                }
                assert!(matches!(e, Error::Io(_)), "step {i}: unexpected {e:?}");
                // The failed operation left no trace.
                assert_eq!(
                    dump(db).unwrap(),
                    w.model,
                    "step {i}: a failed operation is visible"
                );
            }
        }
    }
    assert_eq!(dump(db).unwrap(), w.model);
    w
}

fn check_after_workload(path: &Path, w: &Workload) {
    let db = Db::open(path).unwrap();
    let report = db.check().unwrap();
    assert!(report.is_ok(), "after reopen: {report}");
    let got = dump(&db).unwrap();
    let ok = got == w.model || w.maybe.as_ref() == Some(&got);
    assert!(
        ok,
        "after reopen the state is neither the acknowledged one nor the in-flight one"
    );
}

/// Counts the operations of a clean run of the workload.
fn clean_counts(steps: u64, durability: Durability) -> (u64, u64, u64) {
    let (_d, path) = tmp();
    let (db, faults) = open_failing(&path, durability);
    setup(&db);
    let calls = || {
        (
            faults.calls(FileOp::Write),
            faults.calls(FileOp::Sync),
            faults.calls(FileOp::SetLen),
        )
    };
    let before = calls();
    let w = run_workload(&db, steps);
    assert_eq!(w.failures, 0);
    let after = calls();
    let counts = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
    drop(db);
    check_after_workload(&path, &w);
    counts
}

const STEPS: u64 = 24;

/// Runs the workload once per fault position `n` in `0..total` (or a
/// sample of them), with `arm(n)` armed on `op`.
fn sweep(op: FileOp, total: u64, arm: impl Fn(u64) -> Arm, samples: u64, durability: Durability) {
    let stride = (total / samples).max(1);
    let mut n = 0;
    while n < total {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, durability);
        setup(&db);
        faults.arm(op, arm(n));
        let w = run_workload(&db, STEPS);
        let injected = faults.injected(op);
        faults.clear();
        drop(db);
        check_after_workload(&path, &w);
        assert!(injected <= 1);
        n += stride;
    }
}

#[test]
fn sweep_a_failed_write_over_a_workload() {
    let (writes, _, _) = clean_counts(STEPS, Durability::Eventual);
    assert!(writes > 10);
    sweep(
        FileOp::Write,
        writes,
        |n| Arm::once(Fault::Eio).after(n),
        200,
        Durability::Eventual,
    );
}

#[test]
fn sweep_a_torn_write_over_a_workload() {
    let (writes, _, _) = clean_counts(STEPS, Durability::Eventual);
    sweep(
        FileOp::Write,
        writes,
        |n| Arm::once(Fault::Eio).after(n).torn(),
        200,
        Durability::Eventual,
    );
}

#[test]
fn sweep_a_failed_sync_over_a_workload() {
    for durability in [Durability::Eventual, Durability::Immediate] {
        let (_, syncs, _) = clean_counts(STEPS, durability);
        assert!(syncs > 2);
        sweep(
            FileOp::Sync,
            syncs,
            |n| Arm::once(Fault::Eio).after(n),
            200,
            durability,
        );
    }
}

#[test]
fn sweep_a_failed_write_over_an_immediate_workload() {
    let (writes, _, _) = clean_counts(STEPS, Durability::Immediate);
    sweep(
        FileOp::Write,
        writes,
        |n| Arm::once(Fault::Eio).after(n).torn(),
        12,
        Durability::Immediate,
    );
}

#[test]
fn sweep_enospc_on_set_len_over_a_workload() {
    let (_, _, set_lens) = clean_counts(STEPS, Durability::Eventual);
    sweep(
        FileOp::SetLen,
        set_lens.max(1),
        |n| Arm::once(Fault::NoSpace).after(n),
        20,
        Durability::Eventual,
    );
}

#[test]
fn sweep_disk_capacity_over_a_workload() {
    // The file can grow only so far; later the disk has room again.
    let (_d, path) = tmp();
    let (db, _) = open_failing(&path, Durability::Eventual);
    setup(&db);
    run_workload(&db, STEPS);
    drop(db);
    let full = std::fs::metadata(&path).unwrap().len();
    for cap_pct in [10u64, 30, 50, 70, 90] {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, Durability::Eventual);
        setup(&db);
        let base = std::fs::metadata(&path).unwrap().len();
        faults.set_capacity(Some(base.max(full * cap_pct / 100)));
        let w = run_workload(&db, STEPS);
        assert!(
            w.maybe.is_none(),
            "a full disk poisoned the handle at {cap_pct}%"
        );
        // Room again: the workload continues where it left off.
        faults.set_capacity(None);
        db.update(|tx| tx.put(b"after", b"space")).unwrap();
        db.checkpoint().unwrap();
        drop(db);
        let mut w = w;
        w.model
            .get_mut(&Vec::new())
            .unwrap()
            .insert(b"after".to_vec(), b"space".to_vec());
        check_after_workload(&path, &w);
    }
}

/// A failure while creating a new database leaves a file that the next
/// open initialises or opens: never an unusable file.
#[test]
fn failures_while_creating_a_database_leave_a_usable_file() {
    // Count the writes and syncs of a creation.
    let counts = {
        let (_d, path) = tmp();
        let (db, faults) = open_failing(&path, Durability::Immediate);
        let c = (
            faults.calls(FileOp::Write),
            faults.calls(FileOp::Sync),
            faults.calls(FileOp::SetLen),
        );
        drop(db);
        c
    };
    let cases = (0..counts.0)
        .flat_map(|n| [(FileOp::Write, n, false), (FileOp::Write, n, true)])
        .chain((0..counts.1).map(|n| (FileOp::Sync, n, false)))
        .chain((0..counts.2).map(|n| (FileOp::SetLen, n, false)));
    for (op, n, torn) in cases {
        let (_d, path) = tmp();
        let vfs = FailVfs::new();
        let faults = vfs.faults();
        let mut arm = Arm::once(Fault::Eio).after(n);
        if torn {
            arm = arm.torn();
        }
        faults.arm(op, arm);
        let r = Options::new().vfs(Arc::new(vfs)).open(&path);
        let label = format!("{op:?} #{n} torn={torn}");
        match r {
            Err(e) => assert!(is_io(&e, EIO), "{label}: {e:?}"),
            Ok(db) => {
                assert!(
                    db.is_poisoned() || faults.injected(op) == 0,
                    "{label}: open succeeded after a failure"
                );
            }
        }
        let db = Db::open(&path).unwrap_or_else(|e| panic!("{label}: reopen failed: {e:?}"));
        db.update(|tx| tx.put(b"k", b"v")).unwrap();
        assert_check_ok(&db);
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(
            db.view(|tx| tx.get(b"k").map(owned_value))
                .unwrap()
                .as_deref(),
            Some(&b"v"[..]),
            "{label}"
        );
    }
}

/// A creation whose directory sync failed leaves the file's name only in
/// the operating system's cache. The next session syncs the directory
/// before its first commit is acknowledged, so a power loss after that
/// commit keeps the file and the commit.
#[test]
fn a_session_after_a_failed_directory_sync_makes_the_file_name_durable() {
    let mut cfg = FaultConfig::none();
    cfg.crash_keep_dir_op = 0.0; // a power loss drops every unsynced name
    let vfs = SimVfs::new(7, cfg);
    let path = Path::new("/dir/db.vellum");
    let opts = || Options::new().vfs(Arc::new(vfs.clone()));
    vfs.fail_next(OpKind::SyncDir, InjectedError::Eio);
    let r = opts().open(path);
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    let db = opts().open(path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    drop(db);
    vfs.crash();
    let db = opts()
        .create(false)
        .open(path)
        .expect("the acknowledged commit's file survives the power loss");
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert_check_ok(&db);
}
