//! The `BTreeMap`-style operations (insert, remove, first/last, pop,
//! retain, delete_range, compare_and_swap), owned iterators and
//! per-transaction durability: each checked against a `BTreeMap` model,
//! across commits, reopens and crash recovery (replay of the log must give
//! the same state), on empty and missing buckets and with oversized keys.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use vellum::{CasMismatch, Db, Durability, Error, Options, SnapshotIter};
use vellum_tests::crash_vfs::{CrashVfs, Loss};
use vellum_tests::util::{assert_check_ok, dump, num_key, Map, Pair, Rng};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

/// Small pages (trees several levels deep, values past 256 bytes in
/// overflow runs).
fn small(durability: Durability) -> Options {
    Options::new()
        .page_size(1024)
        .cache_size(256 << 10)
        .durability(durability)
}

fn default_map(db: &Db) -> Map {
    dump(db).unwrap().remove(&Vec::new()).unwrap()
}

// ---------------------------------------------------------------------
// Owned iterators

/// A function returning an iterator over a snapshot it opened: what
/// borrowing iterators cannot do.
fn bucket_entries(db: &Db, name: &[u8]) -> vellum::Result<SnapshotIter> {
    db.begin_read()?.into_bucket_iter(name)
}

fn default_entries(
    db: &Db,
) -> vellum::Result<impl DoubleEndedIterator<Item = vellum::Result<Pair>>> {
    Ok(db.begin_read()?.into_iter())
}

#[test]
fn owned_iterators_are_send_and_can_be_returned() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<SnapshotIter>();
    let (_d, path) = tmp();
    let db = small(Durability::Eventual).open(&path).unwrap();
    let mut model = Map::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..500 {
            let (k, v) = (num_key("k", i), vec![i as u8; (i % 7) as usize * 50]);
            b.put(&k, &v)?;
            tx.put(&k, &v)?;
            model.insert(k, v);
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let all: Map = bucket_entries(&db, b"b")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(all, model);
    let back: Vec<Pair> = default_entries(&db)
        .unwrap()
        .rev()
        .map(Result::unwrap)
        .collect();
    let want: Vec<Pair> = model.clone().into_iter().rev().collect();
    assert_eq!(back, want);
    // Moved to another thread while the writer goes on.
    let it = db
        .begin_read()
        .unwrap()
        .into_bucket_range(b"b", &num_key("k", 100)[..]..)
        .unwrap();
    db.update(|tx| tx.drop_bucket(b"b")).unwrap();
    let n = std::thread::spawn(move || it.count()).join().unwrap();
    assert_eq!(n, 400);
    // Both ends meet without overlap.
    let mut it = db
        .begin_read()
        .unwrap()
        .into_range(&num_key("k", 10)[..]..&num_key("k", 20)[..]);
    let mut seen = Vec::new();
    while let Some(e) = it.next() {
        seen.push(e.unwrap().0);
        if let Some(e) = it.next_back() {
            seen.push(e.unwrap().0);
        }
    }
    seen.sort();
    assert_eq!(seen, (10..20).map(|i| num_key("k", i)).collect::<Vec<_>>());
    assert!(it.next().is_none() && it.next_back().is_none());
    // Missing and invalid buckets.
    assert!(matches!(bucket_entries(&db, b"b"), Err(Error::BucketNotFound(n)) if n == b"b"));
    assert!(matches!(
        bucket_entries(&db, b""),
        Err(Error::InvalidBucketName)
    ));
    // The general constructor: any walk of the transaction.
    let it = SnapshotIter::new(db.begin_read().unwrap(), |tx| Ok(tx.prefix(b"k0000001"))).unwrap();
    assert_eq!(it.count(), 10);
}

/// An owned iterator keeps its snapshot registered: many later commits
/// (overwriting and deleting every key) and checkpoints, which free and
/// reuse pages, do not change what it reads, from either end, whether it
/// had started or not.
#[test]
fn owned_iterator_outlives_later_commits_and_checkpoints() {
    let (_d, path) = tmp();
    let db = small(Durability::Eventual).open(&path).unwrap();
    let mut model = Map::new();
    db.update(|tx| {
        let b = tx.create_bucket(b"b")?;
        for i in 0..3000u64 {
            let k = num_key("k", i);
            let v = format!("v{i}-{}", "x".repeat((i % 13) as usize * 40)).into_bytes();
            tx.put(&k, &v)?;
            b.put(&k, &v)?;
            model.insert(k, v);
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.checkpoint().unwrap();
    let tx = db.begin_read().unwrap();
    let id = tx.txn_id();
    let mut started = tx.clone().into_iter();
    let mut from_back = tx.clone().into_bucket_iter(b"b").unwrap();
    let lazy = tx
        .into_bucket_range(b"b", &num_key("k", 1000)[..]..)
        .unwrap();
    let mut front_half: Vec<Pair> = (&mut started).take(1500).map(Result::unwrap).collect();
    let mut back_half: Vec<Pair> = (&mut from_back)
        .rev()
        .take(1500)
        .map(Result::unwrap)
        .collect();
    assert_eq!(db.stats().live_readers, 3);

    let mut rng = Rng::new(7);
    for round in 0..60u64 {
        db.update(|tx| {
            let b = tx.bucket(b"b")?;
            for _ in 0..200 {
                let k = num_key("k", rng.below(3000));
                if rng.chance(1, 3) {
                    tx.delete(&k)?;
                    b.delete(&k)?;
                } else {
                    let v = vec![round as u8; rng.index(400)];
                    tx.put(&k, &v)?;
                    b.put(&k, &v)?;
                }
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        if round % 6 == 5 {
            db.checkpoint().unwrap();
        }
    }
    db.update(|tx| {
        tx.delete_range::<[u8]>(..)?;
        tx.drop_bucket(b"b")
    })
    .unwrap();
    db.checkpoint().unwrap();

    front_half.extend(started.map(Result::unwrap));
    assert_eq!(front_half, model.clone().into_iter().collect::<Vec<_>>());
    back_half.extend(from_back.rev().map(Result::unwrap));
    back_half.reverse();
    assert_eq!(back_half, model.clone().into_iter().collect::<Vec<_>>());
    let tail: Vec<Pair> = lazy.map(Result::unwrap).collect();
    assert_eq!(
        tail,
        model
            .range(num_key("k", 1000)..)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    );
    // All three are gone, and with them the snapshot.
    assert_eq!(db.stats().live_readers, 0);
    assert!(db.begin_read().unwrap().txn_id() > id);
    assert_check_ok(&db);
}

#[test]
fn a_clone_of_a_read_txn_keeps_the_snapshot_after_the_original_drops() {
    let (_d, path) = tmp();
    let db = small(Durability::Eventual).open(&path).unwrap();
    db.update(|tx| tx.put_many((0..2000u64).map(|i| (num_key("k", i), vec![1u8; 100]))))
        .unwrap();
    let tx = db.begin_read().unwrap();
    let copy = tx.clone();
    assert_eq!(db.stats().live_readers, 2);
    drop(tx);
    for round in 0..20u8 {
        db.update(|tx| tx.put_many((0..2000u64).map(|i| (num_key("k", i), vec![round; 90]))))
            .unwrap();
        db.checkpoint().unwrap();
    }
    assert_eq!(copy.len(), 2000);
    for e in copy.iter() {
        assert_eq!(e.unwrap().value(), &[1u8; 100][..]);
    }
    drop(copy);
    assert_eq!(db.stats().live_readers, 0);
    assert_check_ok(&db);
}

// ---------------------------------------------------------------------
// Operations against a model

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, usize),
    Remove(u8),
    Put(u8, usize),
    Delete(u8),
    First,
    Last,
    PopFirst,
    PopLast,
    /// Keep the entries whose key byte is not divisible by the number.
    Retain(u8),
    DeleteRange(Bound<u8>, Bound<u8>),
    /// Key, expected (`None`: absent; `Some(true)`: the current value,
    /// `Some(false)`: a value it does not hold), new value length.
    Cas(u8, Option<bool>, Option<usize>),
    Commit,
    Abort,
    Reopen,
    Checkpoint,
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

/// Distinct per op, sometimes past the inline limit (an overflow run).
fn value(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i + seed) as u8).collect()
}

fn bound() -> impl Strategy<Value = Bound<u8>> {
    prop_oneof![
        (0u8..64).prop_map(Bound::Included),
        (0u8..64).prop_map(Bound::Excluded),
        Just(Bound::Unbounded),
    ]
}

fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![6 => 0usize..40, 1 => 200usize..2000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (0u8..64, value_len()).prop_map(|(k, v)| Op::Insert(k, v)),
        8 => (0u8..64).prop_map(Op::Remove),
        6 => (0u8..64, value_len()).prop_map(|(k, v)| Op::Put(k, v)),
        3 => (0u8..64).prop_map(Op::Delete),
        2 => Just(Op::First),
        2 => Just(Op::Last),
        3 => Just(Op::PopFirst),
        3 => Just(Op::PopLast),
        1 => (2u8..6).prop_map(Op::Retain),
        2 => (bound(), bound()).prop_map(|(a, b)| Op::DeleteRange(a, b)),
        8 => (0u8..64, proptest::option::of(any::<bool>()), proptest::option::of(value_len()))
            .prop_map(|(k, e, n)| Op::Cas(k, e, n)),
        4 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Checkpoint),
    ]
}

fn key_bound(b: Bound<u8>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(key(k)),
        Bound::Excluded(k) => Bound::Excluded(key(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn borrowed(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether `(start, end)` is a range `BTreeMap::range` accepts.
fn valid_range(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a <= b
        }
        _ => true,
    }
}

/// Applies `op` to the transaction's bucket and to `model`, checking the
/// results agree.
fn apply(b: &vellum::BucketMut<'_>, model: &mut Map, op: &Op, seed: usize) {
    let own = |e: Option<vellum::Entry<'_>>| e.map(|e| e.into_pair());
    let first = |m: &Map| m.first_key_value().map(|(k, v)| (k.clone(), v.clone()));
    let last = |m: &Map| m.last_key_value().map(|(k, v)| (k.clone(), v.clone()));
    match op {
        Op::Insert(k, len) => {
            let v = value(seed, *len);
            assert_eq!(b.insert(key(*k), &v).unwrap(), model.insert(key(*k), v));
        }
        Op::Remove(k) => assert_eq!(b.remove(key(*k)).unwrap(), model.remove(&key(*k))),
        Op::Put(k, len) => {
            let v = value(seed, *len);
            b.put(key(*k), &v).unwrap();
            model.insert(key(*k), v);
        }
        Op::Delete(k) => assert_eq!(b.delete(key(*k)).unwrap(), model.remove(&key(*k)).is_some()),
        Op::First => assert_eq!(own(b.first().unwrap()), first(model)),
        Op::Last => assert_eq!(own(b.last().unwrap()), last(model)),
        Op::PopFirst => assert_eq!(b.pop_first().unwrap(), model.pop_first()),
        Op::PopLast => assert_eq!(b.pop_last().unwrap(), model.pop_last()),
        Op::Retain(d) => {
            let keep = |k: &[u8]| !k[1].is_multiple_of(*d);
            let before = model.len();
            let mut calls = 0;
            let removed = b
                .retain(|k, v| {
                    calls += 1;
                    assert_eq!(model.get(k).map(Vec::as_slice), Some(v));
                    keep(k)
                })
                .unwrap();
            model.retain(|k, _| keep(k));
            assert_eq!(calls, before);
            assert_eq!(removed, (before - model.len()) as u64);
        }
        Op::DeleteRange(s, e) => {
            let (s, e) = (key_bound(*s), key_bound(*e));
            let doomed: Vec<Vec<u8>> = if valid_range(&s, &e) {
                model
                    .range((s.clone(), e.clone()))
                    .map(|(k, _)| k.clone())
                    .collect()
            } else {
                Vec::new()
            };
            for k in &doomed {
                model.remove(k);
            }
            let n = b
                .delete_range::<[u8]>((borrowed(&s), borrowed(&e)))
                .unwrap();
            assert_eq!(n, doomed.len() as u64);
        }
        Op::Cas(k, expected, new) => {
            let k = key(*k);
            let current = model.get(&k).cloned();
            let expected: Option<Vec<u8>> = match expected {
                None => None,
                Some(true) => current.clone(),
                Some(false) => Some(b"never stored".to_vec()),
            };
            let new = new.map(|len| value(seed, len));
            let r = b
                .compare_and_swap(&k, expected.as_deref(), new.as_deref())
                .unwrap();
            if expected == current {
                assert_eq!(r, Ok(()));
                match new {
                    Some(v) => model.insert(k, v),
                    None => model.remove(&k),
                };
            } else {
                assert_eq!(r, Err(CasMismatch { current }));
            }
        }
        Op::Commit | Op::Abort | Op::Reopen | Op::Checkpoint => {
            unreachable!("handled by the driver")
        }
    }
    assert_eq!(b.len().unwrap(), model.len() as u64);
}

/// Runs `ops` on bucket `name` (empty: the default bucket) of a database
/// on a crash-recording VFS, checking each against the model, then checks
/// that recovery from a crash (after the last, synced, commit) replays the
/// log to the committed model.
fn run_model(name: &[u8], ops: &[Op]) {
    let (_d, path) = tmp();
    let vfs = CrashVfs::new();
    let open = || {
        small(Durability::Immediate)
            .vfs(Arc::new(vfs.clone()))
            .open(&path)
            .unwrap()
    };
    let mut db = open();
    if !name.is_empty() {
        db.update(|tx| tx.create_bucket(name).map(|_| ())).unwrap();
    }
    let mut committed = Map::new();
    let mut model = committed.clone();
    let mut tx = Some(db.begin_write().unwrap());
    for (seed, op) in ops.iter().enumerate() {
        match op {
            Op::Commit => {
                tx.take().unwrap().commit().unwrap();
                committed = model.clone();
            }
            Op::Abort => {
                tx.take().unwrap().abort();
                model = committed.clone();
            }
            Op::Reopen => {
                drop(tx.take());
                model = committed.clone();
                drop(db);
                db = open();
            }
            Op::Checkpoint => {
                drop(tx.take());
                model = committed.clone();
                db.checkpoint().unwrap();
            }
            op => {
                let t = tx.as_ref().unwrap();
                let b = if name.is_empty() {
                    t.default_bucket()
                } else {
                    t.bucket(name).unwrap()
                };
                apply(&b, &mut model, op, seed);
            }
        }
        if tx.is_none() {
            let r = db.begin_read().unwrap();
            let b = if name.is_empty() {
                r.default_bucket()
            } else {
                r.bucket(name).unwrap()
            };
            let got: Map = b.iter().owned().map(Result::unwrap).collect();
            assert_eq!(got, committed);
            tx = Some(db.begin_write().unwrap());
        }
    }
    if let Some(t) = tx.take() {
        t.commit().unwrap();
        committed = model;
    }
    // Every commit was acknowledged Immediate: a crash now loses none, and
    // replaying the log (the operations' effective changes) rebuilds them.
    let image = vfs.crash_image(&path, Loss::AllUnsynced, &mut Rng::new(1));
    let copy = path.with_extension("crashed");
    std::fs::write(&copy, image).unwrap();
    let recovered = small(Durability::Immediate).open(&copy).unwrap();
    let mut all = dump(&recovered).unwrap();
    assert_eq!(all.remove(name).unwrap(), committed);
    assert_check_ok(&recovered);
    drop(db);
    let reopened = small(Durability::Immediate).open(&path).unwrap();
    assert_eq!(dump(&reopened).unwrap().remove(name).unwrap(), committed);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ops_match_btreemap_in_the_default_bucket(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(b"", &ops);
    }

    #[test]
    fn ops_match_btreemap_in_a_named_bucket(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(b"named", &ops);
    }
}

/// Many keys (a deep tree, several batches of retain and delete_range),
/// with a spill in the middle of the transaction.
#[test]
fn bulk_operations_on_a_large_bucket() {
    let (_d, path) = tmp();
    let db = small(Durability::Eventual)
        .checkpoint_budget(64 << 10)
        .open(&path)
        .unwrap();
    let mut model = Map::new();
    let tx = db.begin_write().unwrap();
    for i in 0..6000u64 {
        let (k, v) = (
            num_key("k", i),
            vec![(i % 251) as u8; (i % 5) as usize * 30],
        );
        tx.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    let removed = tx.retain(|k, _| k.last().unwrap() % 3 != 0).unwrap();
    let before = model.len();
    model.retain(|k, _| k.last().unwrap() % 3 != 0);
    assert_eq!(removed, (before - model.len()) as u64);
    let (a, b) = (num_key("k", 1000), num_key("k", 4500));
    let n = tx.delete_range(&a[..]..&b[..]).unwrap();
    let doomed: Vec<_> = model
        .range(a.clone()..b.clone())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(n, doomed.len() as u64);
    for k in doomed {
        model.remove(&k);
    }
    tx.commit().unwrap();
    assert!(db.stats().spills > 0);
    assert_eq!(default_map(&db), model);
    assert_check_ok(&db);
    drop(db);
    let db = small(Durability::Eventual).open(&path).unwrap();
    assert_eq!(default_map(&db), model);
}

// ---------------------------------------------------------------------
// Edge cases

/// On an empty bucket every operation finds nothing, and a transaction of
/// operations that change nothing commits nothing (no new transaction id:
/// nothing was logged).
#[test]
fn operations_on_an_empty_bucket_change_and_log_nothing() {
    let (_d, path) = tmp();
    let db = small(Durability::Immediate).open(&path).unwrap();
    db.update(|tx| tx.create_bucket(b"e").map(|_| ())).unwrap();
    let before = db.begin_read().unwrap().txn_id();
    {
        let r = db.begin_read().unwrap();
        assert!(r.first().unwrap().is_none() && r.last().unwrap().is_none());
        let b = r.bucket(b"e").unwrap();
        assert!(b.first().unwrap().is_none() && b.last().unwrap().is_none());
        assert_eq!(r.into_bucket_iter(b"e").unwrap().count(), 0);
    }
    let tx = db.begin_write().unwrap();
    for b in [tx.default_bucket(), tx.bucket(b"e").unwrap()] {
        assert!(b.first().unwrap().is_none());
        assert!(b.last().unwrap().is_none());
        assert_eq!(b.pop_first().unwrap(), None);
        assert_eq!(b.pop_last().unwrap(), None);
        assert_eq!(b.remove(b"k").unwrap(), None);
        assert_eq!(b.retain(|_, _| false).unwrap(), 0);
        assert_eq!(b.delete_range::<[u8]>(..).unwrap(), 0);
        assert_eq!(b.compare_and_swap(b"k", None, None).unwrap(), Ok(()));
        assert_eq!(
            b.compare_and_swap(b"k", Some(b"v".as_slice()), None)
                .unwrap(),
            Err(CasMismatch { current: None })
        );
    }
    tx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().txn_id(), before);
    // With content: operations that keep everything log nothing either.
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    let before = db.begin_read().unwrap().txn_id();
    let tx = db.begin_write().unwrap();
    assert_eq!(tx.retain(|_, _| true).unwrap(), 0);
    assert_eq!(tx.delete_range(&b"l"[..]..).unwrap(), 0);
    assert_eq!(tx.remove(b"j").unwrap(), None);
    assert!(tx
        .compare_and_swap(b"k", Some(b"w".as_slice()), None)
        .unwrap()
        .is_err());
    tx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().txn_id(), before);
}

#[test]
fn operations_on_a_missing_bucket_fail() {
    let (_d, path) = tmp();
    let db = small(Durability::Eventual).open(&path).unwrap();
    let missing =
        |r: vellum::Result<()>| matches!(r, Err(Error::BucketNotFound(n)) if n == b"gone");
    let stale = |r: vellum::Result<()>| matches!(r, Err(Error::BucketDropped(n)) if n == b"gone");
    let tx = db.begin_write().unwrap();
    assert!(missing(tx.bucket(b"gone").map(|_| ())));
    let b = tx.create_bucket(b"gone").unwrap();
    b.put(b"k", b"v").unwrap();
    tx.drop_bucket(b"gone").unwrap();
    // A handle that outlived its bucket is stale.
    assert!(stale(b.insert(b"k", b"v").map(|_| ())));
    assert!(stale(b.remove(b"k").map(|_| ())));
    assert!(stale(b.first().map(|_| ())));
    assert!(stale(b.last().map(|_| ())));
    assert!(stale(b.pop_first().map(|_| ())));
    assert!(stale(b.pop_last().map(|_| ())));
    assert!(stale(b.retain(|_, _| true).map(|_| ())));
    assert!(stale(b.delete_range::<[u8]>(..).map(|_| ())));
    assert!(stale(b.compare_and_swap(b"k", None, None).map(|_| ())));
    tx.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert!(missing(r.bucket(b"gone").map(|_| ())));
    assert!(missing(r.clone().into_bucket_iter(b"gone").map(|_| ())));
    assert!(missing(
        r.into_bucket_range(b"gone", &b"a"[..]..).map(|_| ())
    ));
}

#[test]
fn oversized_keys_and_values_are_rejected_without_change() {
    let (_d, path) = tmp();
    let db = small(Durability::Eventual).open(&path).unwrap();
    let max = db.limits().max_key_len;
    let long = vec![b'x'; max + 1];
    let too_large = |r: vellum::Result<()>| matches!(r, Err(Error::KeyTooLarge { len, max: m }) if len == max + 1 && m == max);
    let tx = db.begin_write().unwrap();
    tx.put(b"k", b"v").unwrap();
    assert!(too_large(tx.insert(&long, b"v").map(|_| ())));
    assert!(too_large(tx.remove(&long).map(|_| ())));
    assert!(too_large(
        tx.compare_and_swap(&long, None, Some(b"v".as_slice()))
            .map(|_| ())
    ));
    // The longest key works.
    let longest = vec![b'y'; max];
    assert_eq!(tx.insert(&longest, b"1").unwrap(), None);
    assert_eq!(
        tx.compare_and_swap(&longest, Some(b"1".as_slice()), None)
            .unwrap(),
        Ok(())
    );
    // Bounds may be any length: they are not stored.
    assert_eq!(tx.delete_range(&long[..]..).unwrap(), 0);
    let huge = vec![0u8; db.limits().max_value_len + 1];
    assert!(matches!(
        tx.insert(b"k", &huge),
        Err(Error::ValueTooLarge { .. })
    ));
    assert!(matches!(
        tx.compare_and_swap(b"k", Some(b"v".as_slice()), Some(&huge)),
        Err(Error::ValueTooLarge { .. })
    ));
    assert_eq!(tx.get(b"k").unwrap().unwrap(), b"v");
    assert_eq!(tx.len().unwrap(), 1);
    tx.commit().unwrap();
    assert_eq!(
        default_map(&db),
        Map::from([(b"k".to_vec(), b"v".to_vec())])
    );
}

// ---------------------------------------------------------------------
// Per-transaction durability

/// What a power cut now would leave: the recovered default bucket.
fn after_power_cut(vfs: &CrashVfs, path: &Path, name: &str) -> Map {
    let image = vfs.crash_image(path, Loss::AllUnsynced, &mut Rng::new(3));
    let copy = path.with_extension(name);
    std::fs::write(&copy, image).unwrap();
    let db = small(Durability::Immediate).open(&copy).unwrap();
    default_map(&db)
}

#[test]
fn an_immediate_transaction_on_an_eventual_database_survives_a_crash() {
    let (_d, path) = tmp();
    let vfs = CrashVfs::new();
    let db = small(Durability::Eventual)
        .vfs(Arc::new(vfs.clone()))
        .open(&path)
        .unwrap();
    // The session's first commit is a checkpoint (FORMAT.md §4 step 6).
    db.update(|tx| tx.put(b"base", b"0")).unwrap();
    db.update(|tx| tx.put(b"a", b"eventual")).unwrap();
    let lost = after_power_cut(&vfs, &path, "c1");
    assert!(
        !lost.contains_key(&b"a"[..]),
        "an Eventual commit was not synced"
    );

    let tx = db.begin_write().unwrap();
    assert_eq!(tx.durability(), Durability::Eventual);
    tx.set_durability(Durability::Immediate);
    tx.put(b"b", b"immediate").unwrap();
    tx.commit().unwrap();
    let kept = after_power_cut(&vfs, &path, "c2");
    // The sync made it and every earlier commit durable.
    assert_eq!(
        kept.get(&b"a"[..]).map(Vec::as_slice),
        Some(&b"eventual"[..])
    );
    assert_eq!(
        kept.get(&b"b"[..]).map(Vec::as_slice),
        Some(&b"immediate"[..])
    );

    // The next transaction is Eventual again.
    db.update(|tx| tx.put(b"c", b"eventual")).unwrap();
    assert!(db.begin_read().unwrap().contains(b"c").unwrap());
    let after = after_power_cut(&vfs, &path, "c3");
    assert!(after.contains_key(&b"b"[..]) && !after.contains_key(&b"c"[..]));
}

#[test]
fn an_eventual_transaction_on_an_immediate_database_is_not_synced() {
    let (_d, path) = tmp();
    let vfs = CrashVfs::new();
    let db = small(Durability::Immediate)
        .vfs(Arc::new(vfs.clone()))
        .open(&path)
        .unwrap();
    db.update(|tx| tx.put(b"base", b"0")).unwrap();
    let tx = db.begin_write().unwrap();
    tx.set_durability(Durability::Eventual);
    tx.put(b"a", b"eventual").unwrap();
    tx.commit().unwrap();
    // Readers see it at once, though nothing synced it.
    assert_eq!(
        db.begin_read().unwrap().get(b"a").unwrap().unwrap(),
        b"eventual"
    );
    let lost = after_power_cut(&vfs, &path, "c1");
    assert!(lost.contains_key(&b"base"[..]) && !lost.contains_key(&b"a"[..]));
    // The next (Immediate) commit's sync covers it too.
    db.update(|tx| tx.put(b"b", b"immediate")).unwrap();
    let kept = after_power_cut(&vfs, &path, "c2");
    assert!(kept.contains_key(&b"a"[..]) && kept.contains_key(&b"b"[..]));
    // An Eventual transaction that changes nothing returns at once too.
    let tx = db.begin_write().unwrap();
    tx.set_durability(Durability::Eventual);
    assert_eq!(tx.remove(b"missing").unwrap(), None);
    tx.commit().unwrap();
    db.sync().unwrap();
    assert_eq!(after_power_cut(&vfs, &path, "c3").len(), 3);
}
