//! Random operation sequences, including commits, aborts, reopens and
//! bucket operations, checked against a `BTreeMap` model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use vellum::{Db, Durability, Error, Options};

#[derive(Clone, Debug)]
enum Op {
    Put(u8, Vec<u8>, usize),
    Delete(u8, Vec<u8>),
    InsertIfAbsent(u8, Vec<u8>, usize),
    CreateBucket(u8),
    DropBucket(u8),
    Commit,
    Abort,
    Reopen,
    Checkpoint,
    Range(u8, Vec<u8>, Vec<u8>),
}

type Model = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0u16..300).prop_map(|i| format!("k{i:04}").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..12),
        1 => (0u16..50, 20usize..200).prop_map(|(i, n)| {
            let mut k = format!("long{i:03}").into_bytes();
            k.resize(n, b'x');
            k
        }),
    ]
}

fn value_len() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..40, 2 => 40usize..300, 1 => 300usize..5000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (0u8..3, key(), value_len()).prop_map(|(b, k, v)| Op::Put(b, k, v)),
        12 => (0u8..3, key()).prop_map(|(b, k)| Op::Delete(b, k)),
        3 => (0u8..3, key(), value_len()).prop_map(|(b, k, v)| Op::InsertIfAbsent(b, k, v)),
        2 => (1u8..3).prop_map(Op::CreateBucket),
        1 => (1u8..3).prop_map(Op::DropBucket),
        6 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Checkpoint),
        2 => (0u8..3, key(), key()).prop_map(|(b, a, c)| Op::Range(b, a, c)),
    ]
}

fn bucket_name(b: u8) -> Vec<u8> {
    if b == 0 {
        Vec::new()
    } else {
        format!("bucket{b}").into_bytes()
    }
}

fn value(k: &[u8], len: usize, salt: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8) ^ k.first().copied().unwrap_or(0) ^ (salt as u8))
        .collect()
}

fn open(path: &std::path::Path) -> Db {
    Options::new()
        .page_size(1024)
        .max_log_size(16 * 1024)
        .cache_size(256 * 1024)
        .durability(Durability::Eventual)
        .open(path)
        .unwrap()
}

fn check_equal(db: &Db, model: &Model) {
    let tx = db.begin_read().unwrap();
    let mut names: Vec<Vec<u8>> = vec![Vec::new()];
    names.extend(tx.bucket_names());
    let model_names: Vec<Vec<u8>> = model.keys().cloned().collect();
    assert_eq!(names, model_names, "bucket lists differ");
    for (name, m) in model {
        let b = if name.is_empty() {
            tx.default_bucket()
        } else {
            tx.bucket(name).unwrap()
        };
        assert_eq!(b.len(), m.len() as u64);
        let got: Vec<(Vec<u8>, Vec<u8>)> = b.iter().map(|e| e.unwrap().into_pair()).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(got, want);
        let mut rev: Vec<(Vec<u8>, Vec<u8>)> =
            b.iter().rev().map(|e| e.unwrap().into_pair()).collect();
        rev.reverse();
        assert_eq!(rev, want);
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut db = open(&path);
    let mut committed: Model = BTreeMap::from([(Vec::new(), BTreeMap::new())]);
    let mut working = committed.clone();
    let mut tx = Some(db.begin_write().unwrap());
    for (i, op) in ops.into_iter().enumerate() {
        let t = tx.as_ref().unwrap();
        match op {
            Op::Put(b, k, len) => {
                let name = bucket_name(b);
                let v = value(&k, len, i);
                let r = if name.is_empty() {
                    t.put(&k, &v)
                } else {
                    t.bucket(&name).and_then(|bk| bk.put(&k, &v))
                };
                match working.get_mut(&name) {
                    Some(m) => {
                        r.unwrap();
                        m.insert(k, v);
                    }
                    None => assert!(matches!(r, Err(Error::BucketNotFound(_)))),
                }
            }
            Op::InsertIfAbsent(b, k, len) => {
                let name = bucket_name(b);
                let v = value(&k, len, i);
                let r = if name.is_empty() {
                    t.insert_if_absent(&k, &v)
                } else {
                    t.bucket(&name).and_then(|bk| bk.insert_if_absent(&k, &v))
                };
                match working.get_mut(&name) {
                    Some(m) => {
                        let inserted = !m.contains_key(&k);
                        assert_eq!(r.unwrap(), inserted);
                        m.entry(k).or_insert(v);
                    }
                    None => assert!(matches!(r, Err(Error::BucketNotFound(_)))),
                }
            }
            Op::Delete(b, k) => {
                let name = bucket_name(b);
                let r = if name.is_empty() {
                    t.delete(&k)
                } else {
                    t.bucket(&name).and_then(|bk| bk.delete(&k))
                };
                match working.get_mut(&name) {
                    Some(m) => assert_eq!(r.unwrap(), m.remove(&k).is_some()),
                    None => assert!(matches!(r, Err(Error::BucketNotFound(_)))),
                }
            }
            Op::CreateBucket(b) => {
                let name = bucket_name(b);
                let r = t.create_bucket(&name).map(|_| ());
                match working.entry(name) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        assert!(matches!(r, Err(Error::BucketExists(_))))
                    }
                    std::collections::btree_map::Entry::Vacant(v) => {
                        r.unwrap();
                        v.insert(BTreeMap::new());
                    }
                }
            }
            Op::DropBucket(b) => {
                let name = bucket_name(b);
                let r = t.drop_bucket(&name);
                if working.remove(&name).is_some() {
                    r.unwrap();
                } else {
                    assert!(matches!(r, Err(Error::BucketNotFound(_))));
                }
            }
            Op::Range(b, a, c) => {
                let name = bucket_name(b);
                if let Some(m) = working.get(&name) {
                    let (lo, hi) = if a <= c { (a, c) } else { (c, a) };
                    let bk = if name.is_empty() {
                        t.default_bucket()
                    } else {
                        t.bucket(&name).unwrap()
                    };
                    let got: Vec<Vec<u8>> = bk
                        .range(lo.as_slice()..hi.as_slice())
                        .unwrap()
                        .map(|e| e.unwrap().key().to_vec())
                        .collect();
                    let want: Vec<Vec<u8>> = m.range(lo..hi).map(|(k, _)| k.clone()).collect();
                    assert_eq!(got, want);
                    for (k, v) in m.iter().take(3) {
                        assert_eq!(bk.get(k).unwrap().map(|v| v.to_vec()).as_ref(), Some(v));
                    }
                }
            }
            Op::Commit => {
                tx.take().unwrap().commit().unwrap();
                committed = working.clone();
                check_equal(&db, &committed);
                tx = Some(db.begin_write().unwrap());
            }
            Op::Abort => {
                tx.take().unwrap().abort();
                working = committed.clone();
                tx = Some(db.begin_write().unwrap());
            }
            Op::Checkpoint => {
                tx.take().unwrap().commit().unwrap();
                committed = working.clone();
                db.checkpoint().unwrap();
                tx = Some(db.begin_write().unwrap());
            }
            Op::Reopen => {
                tx.take().unwrap().commit().unwrap();
                committed = working.clone();
                if i % 2 == 0 {
                    db.sync().unwrap();
                }
                drop(db);
                db = open(&path);
                check_equal(&db, &committed);
                tx = Some(db.begin_write().unwrap());
            }
        }
    }
    tx.take().unwrap().commit().unwrap();
    check_equal(&db, &working);
    drop(db);
    let db = open(&path);
    check_equal(&db, &working);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_ops_match_btreemap(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops);
    }
}
