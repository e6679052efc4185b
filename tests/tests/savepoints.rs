//! Savepoints: rolling back part of a write transaction, checked against a
//! model, with transactions large enough to spill (so that rolling back
//! crosses spills), then recovered from a crash (the log record must hold
//! exactly the operations kept) and checked for leaked or doubly used
//! pages.

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use vellum::{Db, Durability, Error, Options, Savepoint};
use vellum_tests::crash_vfs::{CrashVfs, Loss};
use vellum_tests::util::{assert_check_ok, dump, num_key, Buckets, Map, Rng};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

/// Small pages and a small budget: a transaction of a few hundred puts
/// spills.
fn small() -> Options {
    Options::new()
        .page_size(1024)
        .cache_size(256 << 10)
        .checkpoint_budget(64 << 10)
        .durability(Durability::Immediate)
}

#[derive(Clone, Debug)]
enum Op {
    /// Puts this many keys (from a seed) into the default bucket or "b".
    Puts(bool, u16, u64),
    /// Deletes keys below a bound (a range delete).
    DeleteBelow(bool, u16),
    CreateB,
    DropB,
    Savepoint,
    /// Rolls back to the live savepoint at this index (modulo their count).
    RollbackTo(usize),
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (any::<bool>(), 1u16..150, any::<u64>()).prop_map(|(b, n, s)| Op::Puts(b, n, s)),
        3 => (any::<bool>(), 0u16..400).prop_map(|(b, k)| Op::DeleteBelow(b, k)),
        1 => Just(Op::CreateB),
        1 => Just(Op::DropB),
        4 => Just(Op::Savepoint),
        4 => any::<usize>().prop_map(Op::RollbackTo),
        2 => Just(Op::Commit),
    ]
}

fn bucket_of(b: bool) -> Vec<u8> {
    if b {
        b"b".to_vec()
    } else {
        Vec::new()
    }
}

/// Applies a write op to the transaction and the model (a missing "b" is
/// an error on both sides, with nothing changed).
fn apply(tx: &vellum::WriteTxn, model: &mut Buckets, op: &Op) {
    match op {
        Op::Puts(b, n, seed) => {
            let name = bucket_of(*b);
            let Some(m) = model.get_mut(&name) else {
                assert!(matches!(tx.bucket(&name), Err(Error::BucketNotFound(_))));
                return;
            };
            let bucket = if name.is_empty() {
                tx.default_bucket()
            } else {
                tx.bucket(&name).unwrap()
            };
            let mut rng = Rng::new(*seed);
            for _ in 0..*n {
                let k = num_key("k", rng.below(400));
                let v = vec![rng.below(256) as u8; rng.index(300)];
                bucket.put(&k, &v).unwrap();
                m.insert(k, v);
            }
        }
        Op::DeleteBelow(b, bound) => {
            let name = bucket_of(*b);
            let Some(m) = model.get_mut(&name) else {
                return;
            };
            let bucket = if name.is_empty() {
                tx.default_bucket()
            } else {
                tx.bucket(&name).unwrap()
            };
            let end = num_key("k", u64::from(*bound));
            let n = bucket.delete_range(..&end[..]).unwrap();
            let before = m.len();
            m.retain(|k, _| *k >= end);
            assert_eq!(n, (before - m.len()) as u64);
        }
        Op::CreateB => {
            if model.contains_key(&b"b"[..]) {
                assert!(matches!(
                    tx.create_bucket(b"b"),
                    Err(Error::BucketExists(_))
                ));
            } else {
                tx.create_bucket(b"b").unwrap();
                model.insert(b"b".to_vec(), Map::new());
            }
        }
        Op::DropB => {
            if model.remove(&b"b"[..]).is_some() {
                tx.drop_bucket(b"b").unwrap();
            } else {
                assert!(tx.drop_bucket(b"b").is_err());
            }
        }
        _ => unreachable!("handled by the driver"),
    }
}

fn tx_content(tx: &vellum::WriteTxn) -> Buckets {
    let mut out = Buckets::new();
    out.insert(
        Vec::new(),
        tx.iter().unwrap().owned().map(Result::unwrap).collect(),
    );
    for name in tx.bucket_names().unwrap() {
        let b = tx.bucket(&name).unwrap();
        out.insert(
            name,
            b.iter().unwrap().owned().map(Result::unwrap).collect(),
        );
    }
    out
}

fn run(ops: &[Op]) {
    let (_d, path) = tmp();
    let vfs = CrashVfs::new();
    let db = small().vfs(Arc::new(vfs.clone())).open(&path).unwrap();
    // The session's first commit is a checkpoint; the rest go to the log.
    db.update(|tx| tx.put(b"start", b"")).unwrap();
    let mut committed = dump(&db).unwrap();
    let mut model = committed.clone();
    let mut tx = db.begin_write().unwrap();
    let mut points: Vec<(Savepoint, Buckets)> = Vec::new();
    for op in ops {
        match op {
            Op::Savepoint => points.push((tx.savepoint(), model.clone())),
            Op::RollbackTo(i) => {
                if points.is_empty() {
                    continue;
                }
                let i = i % points.len();
                points.truncate(i + 1);
                tx.rollback_to(&points[i].0).unwrap();
                model = points[i].1.clone();
                assert_eq!(tx_content(&tx), model);
            }
            Op::Commit => {
                points.clear();
                tx.commit().unwrap();
                committed = model.clone();
                assert_eq!(dump(&db).unwrap(), committed);
                tx = db.begin_write().unwrap();
            }
            op => apply(&tx, &mut model, op),
        }
    }
    drop(points);
    tx.commit().unwrap();
    committed = model;
    assert_eq!(dump(&db).unwrap(), committed);
    // Recovery replays exactly the operations kept.
    let image = vfs.crash_image(&path, Loss::AllUnsynced, &mut Rng::new(1));
    let copy = path.with_extension("crashed");
    std::fs::write(&copy, image).unwrap();
    let recovered = Db::open(&copy).unwrap();
    assert_eq!(dump(&recovered).unwrap(), committed);
    // No spilled page leaked or used twice.
    db.checkpoint().unwrap();
    assert_check_ok(&db);
    assert_eq!(dump(&db).unwrap(), committed);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn savepoints_match_a_model_across_spills(ops in proptest::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}

#[test]
fn rolling_back_across_spills_keeps_the_file_consistent() {
    let (_d, path) = tmp();
    let db = small().open(&path).unwrap();
    let tx = db.begin_write().unwrap();
    tx.put_many((0..500u64).map(|i| (num_key("k", i), vec![1u8; 200])))
        .unwrap();
    let sp = tx.savepoint();
    let spills = db.stats().spills;
    for round in 2..6u8 {
        tx.put_many((0..500u64).map(|i| (num_key("k", i), vec![round; 200])))
            .unwrap();
    }
    assert!(
        db.stats().spills > spills,
        "the changes after the savepoint spilled"
    );
    tx.rollback_to(&sp).unwrap();
    drop(sp);
    tx.put(b"after", b"rollback").unwrap();
    tx.commit().unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.len(), 501);
    for e in tx.range(&num_key("k", 0)[..]..) {
        assert_eq!(e.unwrap().value(), &[1u8; 200][..]);
    }
    drop(tx);
    db.checkpoint().unwrap();
    assert_check_ok(&db);
}

#[test]
fn rolling_back_a_sorted_load_commits_the_rest_by_checkpoint() {
    let (_d, path) = tmp();
    let db = small().open(&path).unwrap();
    db.update(|tx| tx.put(b"start", b"")).unwrap();
    let tx = db.begin_write().unwrap();
    tx.put(b"kept", b"1").unwrap();
    let sp = tx.savepoint();
    tx.create_bucket(b"loaded")
        .unwrap()
        .load_sorted((0..5000u32).map(|i| (i.to_be_bytes(), b"v")), 1.0)
        .unwrap();
    tx.rollback_to(&sp).unwrap();
    tx.commit().unwrap();
    let all = dump(&db).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[&Vec::new()].len(), 2);
    drop(db);
    let db = small().open(&path).unwrap();
    assert_eq!(dump(&db).unwrap(), all);
    assert_check_ok(&db);
}

#[test]
fn rolling_back_everything_commits_nothing() {
    let (_d, path) = tmp();
    let db = small().open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    let before = db.begin_read().unwrap().txn_id();
    let tx = db.begin_write().unwrap();
    let sp = tx.savepoint();
    tx.put(b"k", b"changed").unwrap();
    tx.create_bucket(b"new").unwrap();
    tx.rollback_to(&sp).unwrap();
    tx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().txn_id(), before);
}

#[test]
#[should_panic(expected = "forgotten")]
fn a_savepoint_after_the_one_rolled_back_to_is_forgotten() {
    let (_d, path) = tmp();
    let db = small().open(&path).unwrap();
    let tx = db.begin_write().unwrap();
    let first = tx.savepoint();
    let second = tx.savepoint();
    tx.rollback_to(&first).unwrap();
    let _ = tx.rollback_to(&second);
}

#[test]
#[should_panic(expected = "another transaction")]
fn a_savepoint_of_another_transaction_is_refused() {
    let (_d, path) = tmp();
    let db = small().open(&path).unwrap();
    let old = db.begin_write().unwrap();
    let sp = old.savepoint();
    drop(old);
    let tx = db.begin_write().unwrap();
    let _ = tx.rollback_to(&sp);
}
