//! Black-box tests of the public API: what a user writes, what they get
//! back, the errors they can match on and the documented limits.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use vellum::{Db, Durability, Error, Options};
use vellum_tests::util::{assert_check_ok, collect, num_key, own, owned_value, Map, Pair, Rng};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

fn small(path: &Path) -> Db {
    Options::new()
        .page_size(1024)
        .durability(Durability::Eventual)
        .open(path)
        .unwrap()
}

fn entries(m: &Map) -> Vec<Pair> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn keys_of(v: &[Pair]) -> Vec<Vec<u8>> {
    v.iter().map(|e| e.0.clone()).collect()
}

/// A database (page size 1024, so trees are several levels deep) holding
/// `n` keys `k00000000..` with distinct values; returns it and its model.
fn populated(path: &Path, n: u64) -> (Db, Map) {
    let db = small(path);
    let mut model = Map::new();
    db.update(|tx| {
        for i in 0..n {
            let k = num_key("k", i * 2);
            let v = format!("value-{i}").into_bytes();
            tx.put(&k, &v)?;
            model.insert(k, v);
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    (db, model)
}

#[test]
fn open_creates_file_and_reopen_keeps_data() {
    let (_d, path) = tmp();
    assert!(!path.exists());
    {
        let db = Db::open(&path).unwrap();
        assert!(path.exists());
        assert_eq!(db.path(), path.as_path());
        assert_eq!(db.page_size(), 4096);
        assert_eq!(db.durability(), Durability::Immediate);
        assert!(!db.is_poisoned());
        let tx = db.begin_read().unwrap();
        assert!(tx.is_empty());
        assert_eq!(tx.len(), 0);
        assert!(tx.bucket_names().is_empty());
        assert_eq!(tx.get(b"missing").unwrap().map(|v| v.to_vec()), None);
        drop(tx);
        db.update(|tx| {
            tx.put(b"alpha", b"1")?;
            tx.put(b"beta", b"2")?;
            let b = tx.create_bucket(b"users")?;
            b.put(b"alice", b"admin")?;
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    // Reopen (Immediate: the commit is in the log; a clean close checkpoints).
    for round in 0..3 {
        let db = Db::open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        assert_eq!(
            tx.get(b"alpha").unwrap().as_deref(),
            Some(&b"1"[..]),
            "round {round}"
        );
        assert_eq!(tx.get(b"beta").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(tx.len(), 2);
        assert_eq!(tx.bucket_names(), vec![b"users".to_vec()]);
        let users = tx.bucket(b"users").unwrap();
        assert_eq!(users.get(b"alice").unwrap().as_deref(), Some(&b"admin"[..]));
        assert_eq!(users.len(), 1);
        drop(tx);
        assert_check_ok(&db);
        if round == 1 {
            db.close().unwrap();
        }
    }
}

#[test]
fn explicit_close_reports_ok_and_data_survives() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    let clone = db.clone();
    // Closing one of two clones does not close the database, and says so.
    assert!(matches!(db.close(), Err(Error::StillOpen { others: 1 })));
    assert_eq!(
        clone
            .view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    clone.close().unwrap();
    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.replayed_on_open(),
        0,
        "a clean close leaves nothing to replay"
    );
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn create_false_on_missing_file_fails_without_creating_it() {
    let (_d, path) = tmp();
    let r = Options::new().create(false).open(&path);
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    assert!(!path.exists());
    // ... and opens an existing one.
    drop(Db::open(&path).unwrap());
    let db = Options::new().create(false).open(&path).unwrap();
    db.update(|tx| tx.put(b"a", b"b")).unwrap();
}

#[test]
fn byte_keys_sort_lexicographically_including_empty_and_0xff() {
    let (_d, path) = tmp();
    let db = small(&path);
    let max = db.limits().max_key_len;
    let mut keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0, 0xff],
        vec![1],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        vec![0x7f],
        vec![0x80],
        vec![0xfe, 0xff, 0xff],
        vec![0xff],
        vec![0xff, 0],
        vec![0xff, 0xff],
        vec![0xff; 3],
        vec![0xff; max],
        vec![0; max],
    ];
    let mut rng = Rng::new(7);
    rng.shuffle(&mut keys);
    db.update(|tx| {
        for (i, k) in keys.iter().enumerate() {
            tx.put(k, i.to_le_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let mut model = Map::new();
    for (i, k) in keys.iter().enumerate() {
        model.insert(k.clone(), i.to_le_bytes().to_vec());
    }
    let verify = |db: &Db| {
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.len(), model.len() as u64);
        assert_eq!(collect(tx.iter()).unwrap(), entries(&model));
        let mut rev = collect(tx.iter().rev()).unwrap();
        rev.reverse();
        assert_eq!(rev, entries(&model));
        for (k, v) in &model {
            assert_eq!(
                tx.get(k).unwrap().map(|v| v.to_vec()).as_ref(),
                Some(v),
                "key {k:?}"
            );
            assert!(tx.contains(k).unwrap());
        }
        // The empty key is the smallest, [0xff; max] the largest.
        assert_eq!(
            tx.iter().next().unwrap().unwrap().key().to_vec(),
            Vec::<u8>::new()
        );
        assert_eq!(
            tx.iter().next_back().unwrap().unwrap().key().to_vec(),
            vec![0xff; max]
        );
        assert_eq!(
            tx.get([0xff, 0xff, 0xff, 0xff])
                .unwrap()
                .map(|v| v.to_vec()),
            None
        );
        assert_eq!(tx.get([0u8; 3]).unwrap().map(|v| v.to_vec()), None);
    };
    verify(&db);
    drop(db);
    let db = small(&path);
    verify(&db);
    // The empty key can be overwritten and deleted like any other.
    db.update(|tx| {
        tx.put(b"", b"empty")?;
        assert_eq!(tx.get(b"").unwrap().as_deref(), Some(&b"empty"[..]));
        assert!(tx.delete(b"")?);
        assert!(!tx.contains(b"")?);
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    let db = small(&path);
    assert!(!db.view(|tx| tx.contains(b"")).unwrap());
    assert_eq!(
        db.view(|tx| Ok::<_, Error>(tx.len())).unwrap(),
        model.len() as u64 - 1
    );
    assert_check_ok(&db);
}

type Bounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

fn as_ref_bounds(b: &Bounds) -> (Bound<&[u8]>, Bound<&[u8]>) {
    fn one(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
        match b {
            Bound::Included(k) => Bound::Included(k.as_slice()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
            Bound::Unbounded => Bound::Unbounded,
        }
    }
    (one(&b.0), one(&b.1))
}

/// What a range should yield; `BTreeMap::range` panics on inverted bounds,
/// a database returns nothing.
fn model_range(m: &Map, b: &Bounds) -> Vec<Pair> {
    let empty = match (&b.0, &b.1) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e))
        | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        _ => false,
    };
    if empty {
        return Vec::new();
    }
    m.range::<[u8], _>(as_ref_bounds(b))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn interesting_bounds(model: &Map) -> Vec<Bounds> {
    let ks: Vec<Vec<u8>> = model.keys().cloned().collect();
    let first = ks[0].clone();
    let last = ks[ks.len() - 1].clone();
    let mid = ks[ks.len() / 2].clone();
    let q = ks[ks.len() / 4].clone();
    // Keys between stored ones (odd numbers are absent).
    let absent_lo = num_key("k", 101);
    let absent_hi = num_key("k", 1501);
    let points = [
        vec![],
        first.clone(),
        q.clone(),
        mid.clone(),
        last.clone(),
        absent_lo.clone(),
        absent_hi.clone(),
        b"a".to_vec(),
        b"z".to_vec(),
        vec![0xff],
    ];
    let mut out = vec![(Bound::Unbounded, Bound::Unbounded)];
    for a in &points {
        out.push((Bound::Included(a.clone()), Bound::Unbounded));
        out.push((Bound::Excluded(a.clone()), Bound::Unbounded));
        out.push((Bound::Unbounded, Bound::Included(a.clone())));
        out.push((Bound::Unbounded, Bound::Excluded(a.clone())));
        for b in &points {
            out.push((Bound::Included(a.clone()), Bound::Excluded(b.clone())));
            out.push((Bound::Included(a.clone()), Bound::Included(b.clone())));
            out.push((Bound::Excluded(a.clone()), Bound::Excluded(b.clone())));
            out.push((Bound::Excluded(a.clone()), Bound::Included(b.clone())));
        }
    }
    out
}

#[test]
fn range_syntax_forms_match_btreemap() {
    let (_d, path) = tmp();
    let (db, model) = populated(&path, 2000);
    let tx = db.begin_read().unwrap();
    let a = num_key("k", 100);
    let b = num_key("k", 1000);
    let ma = |r: Bounds| model_range(&model, &r);
    // The Rust range forms a user writes.
    assert_eq!(
        collect(tx.range(a.clone()..b.clone())).unwrap(),
        ma((Bound::Included(a.clone()), Bound::Excluded(b.clone())))
    );
    assert_eq!(
        collect(tx.range(a.clone()..=b.clone())).unwrap(),
        ma((Bound::Included(a.clone()), Bound::Included(b.clone())))
    );
    assert_eq!(
        collect(tx.range(a.clone()..)).unwrap(),
        ma((Bound::Included(a.clone()), Bound::Unbounded))
    );
    assert_eq!(
        collect(tx.range(..b.clone())).unwrap(),
        ma((Bound::Unbounded, Bound::Excluded(b.clone())))
    );
    assert_eq!(
        collect(tx.range(..=b.clone())).unwrap(),
        ma((Bound::Unbounded, Bound::Included(b.clone())))
    );
    assert_eq!(collect(tx.range::<[u8]>(..)).unwrap(), entries(&model));
    // &str and &[u8] bounds work too.
    let n = collect(tx.range("k00000100".."k00000110")).unwrap();
    assert_eq!(
        keys_of(&n),
        vec![
            num_key("k", 100),
            num_key("k", 102),
            num_key("k", 104),
            num_key("k", 106),
            num_key("k", 108)
        ]
    );
    let n = collect(tx.range(&b"k00000100"[..]..=&b"k00000104"[..])).unwrap();
    assert_eq!(n.len(), 3);
    // Empty and inverted ranges yield nothing (and do not panic).
    assert!(collect(tx.range(a.clone()..a.clone())).unwrap().is_empty());
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = collect(tx.range(b.clone()..a.clone())).unwrap();
    assert!(inverted.is_empty());
    assert!(collect(tx.range(b.clone()..a.clone()).rev())
        .unwrap()
        .is_empty());
    assert_eq!(collect(tx.range(a.clone()..=a.clone())).unwrap().len(), 1);
}

#[test]
fn every_bound_combination_forward_and_reverse() {
    let (_d, path) = tmp();
    let (db, model) = populated(&path, 2000);
    let check = |label: &str, got_fwd: Vec<Pair>, got_rev: Vec<Pair>, want: &[Pair], r: &Bounds| {
        assert_eq!(got_fwd, want, "{label} forward {r:?}");
        let mut rev = got_rev;
        rev.reverse();
        assert_eq!(rev, want, "{label} reverse {r:?}");
    };
    let tx = db.begin_read().unwrap();
    for r in interesting_bounds(&model) {
        let want = model_range(&model, &r);
        let fwd = collect(tx.range::<[u8]>(as_ref_bounds(&r))).unwrap();
        let rev = collect(tx.range::<[u8]>(as_ref_bounds(&r)).rev()).unwrap();
        check("read txn", fwd, rev, &want, &r);
    }
    drop(tx);
    // The same through a write transaction (in-memory, uncheckpointed nodes).
    let wtx = db.begin_write().unwrap();
    wtx.put(num_key("k", 5), b"new").unwrap();
    let mut m2 = model.clone();
    m2.insert(num_key("k", 5), b"new".to_vec());
    for r in interesting_bounds(&m2) {
        let want = model_range(&m2, &r);
        let fwd = collect(wtx.range::<[u8]>(as_ref_bounds(&r)).unwrap()).unwrap();
        let rev = collect(wtx.range::<[u8]>(as_ref_bounds(&r)).unwrap().rev()).unwrap();
        check("write txn", fwd, rev, &want, &r);
    }
}

#[test]
fn mixed_next_and_next_back_meet_in_the_middle() {
    let (_d, path) = tmp();
    let (db, model) = populated(&path, 600);
    let tx = db.begin_read().unwrap();
    let mut rng = Rng::new(11);
    let mut ranges = interesting_bounds(&model);
    ranges.truncate(120);
    for (n, r) in ranges.iter().enumerate() {
        let want = model_range(&model, r);
        let mut it = tx.range::<[u8]>(as_ref_bounds(r));
        let mut front = Vec::new();
        let mut back = Vec::new();
        loop {
            let from_front = match n % 3 {
                0 => rng.chance(1, 2),
                1 => front.len() <= back.len(),
                _ => rng.chance(1, 8),
            };
            let e = if from_front {
                it.next()
            } else {
                it.next_back()
            };
            match e {
                Some(e) => {
                    let e = e.unwrap().into_pair();
                    if from_front {
                        front.push(e)
                    } else {
                        back.push(e)
                    }
                }
                None => break,
            }
        }
        // Exhausted from both ends, for good.
        assert!(it.next().is_none());
        assert!(it.next_back().is_none());
        assert!(it.next().is_none());
        back.reverse();
        front.extend(back);
        assert_eq!(front, want, "range {r:?}");
    }
    // A two-element range: one from each end, then nothing.
    let a = num_key("k", 10);
    let b = num_key("k", 12);
    let mut it = tx.range(a.clone()..=b.clone());
    assert_eq!(it.next().unwrap().unwrap().key().to_vec(), a);
    assert_eq!(it.next_back().unwrap().unwrap().key().to_vec(), b);
    assert!(it.next_back().is_none());
    assert!(it.next().is_none());
    // A one-element range from the back, then the front sees nothing.
    let mut it = tx.range(a.clone()..=a.clone());
    assert_eq!(it.next_back().unwrap().unwrap().key().to_vec(), a);
    assert!(it.next().is_none());
}

#[test]
fn prefix_scans_including_0xff_prefixes() {
    let (_d, path) = tmp();
    let db = small(&path);
    let mut model = Map::new();
    let mut keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 1],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"abd".to_vec(),
        b"ac".to_vec(),
        b"b".to_vec(),
        vec![b'a', 0xff],
        vec![b'a', 0xff, 0xff],
        vec![b'a', 0xff, 0xff, 1],
        vec![b'b', 0],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff],
        vec![0xff, 0xff, 0xff, 0x00],
    ];
    for i in 0..500u32 {
        keys.push(format!("user/{i:05}").into_bytes());
        keys.push(format!("user/{i:05}/email").into_bytes());
        keys.push(format!("usr{i}").into_bytes());
    }
    db.update(|tx| {
        for k in &keys {
            tx.put(k, k.len().to_be_bytes())?;
            model.insert(k.clone(), k.len().to_be_bytes().to_vec());
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let prefixes: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"abz".to_vec(),
        vec![b'a', 0xff],
        vec![b'a', 0xff, 0xff],
        vec![0xff],
        vec![0xff, 0xff],
        vec![0xff, 0xff, 0xff],
        vec![0xff, 0xff, 0xff, 0xff],
        b"user/".to_vec(),
        b"user/00042".to_vec(),
        b"user/00042/".to_vec(),
        b"us".to_vec(),
        b"zzz".to_vec(),
    ];
    let tx = db.begin_read().unwrap();
    for p in &prefixes {
        let want: Vec<Pair> = model
            .iter()
            .filter(|(k, _)| k.starts_with(p))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(collect(tx.prefix(p)).unwrap(), want, "prefix {p:?}");
        let mut rev = collect(tx.prefix(p).rev()).unwrap();
        rev.reverse();
        assert_eq!(rev, want, "reverse prefix {p:?}");
    }
    assert_eq!(collect(tx.prefix(b"user/")).unwrap().len(), 1000);
    assert_eq!(collect(tx.prefix(b"user/00042")).unwrap().len(), 2);
}

#[test]
fn cursors_on_empty_buckets_return_nothing() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.create_bucket(b"empty").map(|_| ()))
        .unwrap();
    let tx = db.begin_read().unwrap();
    for b in [tx.default_bucket(), tx.bucket(b"empty").unwrap()] {
        let mut c = b.cursor();
        assert_eq!(own(c.current().unwrap()), None);
        assert_eq!(own(c.first().unwrap()), None);
        assert_eq!(own(c.last().unwrap()), None);
        assert_eq!(own(c.seek(b"").unwrap()), None);
        assert_eq!(own(c.seek(b"x").unwrap()), None);
        assert_eq!(own(c.next().unwrap()), None);
        assert_eq!(own(c.prev().unwrap()), None);
        assert!(b.iter().next().is_none());
        assert!(b.iter().next_back().is_none());
        assert!(b.prefix(b"").next().is_none());
        assert_eq!(b.len(), 0);
        assert!(b.is_empty());
    }
    // A bucket emptied by deletes behaves the same.
    db.update(|tx| {
        for i in 0..300 {
            tx.put(num_key("k", i), [1u8; 20])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.checkpoint().unwrap();
    db.update(|tx| {
        for i in 0..300 {
            assert!(tx.delete(num_key("k", i))?);
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let mut c = tx.cursor();
    assert_eq!(own(c.first().unwrap()), None);
    assert_eq!(own(c.last().unwrap()), None);
    assert_eq!(own(c.seek(b"k").unwrap()), None);
    assert!(tx.iter().next().is_none());
    assert!(tx.iter().next_back().is_none());
    assert_eq!(tx.len(), 0);
}

#[test]
fn cursor_moves_at_edges_and_across_leaves() {
    let (_d, path) = tmp();
    let (db, model) = populated(&path, 1500);
    let want = entries(&model);
    let check = |c: &mut vellum::Cursor<'_>| {
        // first / prev at the start.
        assert_eq!(own(c.first().unwrap()).as_ref(), Some(&want[0]));
        assert_eq!(own(c.current().unwrap()).as_ref(), Some(&want[0]));
        assert_eq!(own(c.prev().unwrap()), None);
        // last / next at the end.
        assert_eq!(own(c.last().unwrap()).as_ref(), want.last());
        assert_eq!(own(c.next().unwrap()), None);
        // Full walks in both directions.
        let mut fwd = vec![own(c.first().unwrap()).unwrap()];
        while let Some(e) = own(c.next().unwrap()) {
            fwd.push(e);
        }
        assert_eq!(fwd, want);
        let mut back = vec![own(c.last().unwrap()).unwrap()];
        while let Some(e) = own(c.prev().unwrap()) {
            back.push(e);
        }
        back.reverse();
        assert_eq!(back, want);
        // Seeks: exact, between keys, before the first, after the last.
        assert_eq!(
            own(c.seek(num_key("k", 500)).unwrap()).unwrap().0,
            num_key("k", 500)
        );
        assert_eq!(
            own(c.seek(num_key("k", 501)).unwrap()).unwrap().0,
            num_key("k", 502)
        );
        assert_eq!(own(c.next().unwrap()).unwrap().0, num_key("k", 504));
        assert_eq!(own(c.prev().unwrap()).unwrap().0, num_key("k", 502));
        assert_eq!(own(c.prev().unwrap()).unwrap().0, num_key("k", 500));
        assert_eq!(own(c.seek(b"").unwrap()).as_ref(), Some(&want[0]));
        assert_eq!(own(c.seek(b"a").unwrap()).as_ref(), Some(&want[0]));
        assert_eq!(own(c.seek(b"k99999999").unwrap()), None);
        assert_eq!(own(c.seek([0xff]).unwrap()), None);
        let last_key = &want.last().unwrap().0;
        assert_eq!(own(c.seek(last_key).unwrap()).as_ref(), want.last());
        // Seek to every 7th key and step both ways (crosses leaf edges).
        for i in (0..want.len()).step_by(7) {
            assert_eq!(own(c.seek(&want[i].0).unwrap()).as_ref(), Some(&want[i]));
            if i + 1 < want.len() {
                assert_eq!(own(c.next().unwrap()).as_ref(), Some(&want[i + 1]));
                assert_eq!(own(c.prev().unwrap()).as_ref(), Some(&want[i]));
            }
            if i > 0 {
                assert_eq!(own(c.prev().unwrap()).as_ref(), Some(&want[i - 1]));
            }
        }
    };
    let tx = db.begin_read().unwrap();
    check(&mut tx.cursor());
    drop(tx);
    // Through a write transaction, and after reopening (nodes from disk).
    let wtx = db.begin_write().unwrap();
    check(&mut wtx.cursor().unwrap());
    drop(wtx);
    drop(db);
    let db = small(&path);
    let tx = db.begin_read().unwrap();
    check(&mut tx.cursor());
}

#[test]
fn insert_if_absent_contains_and_delete_return_values() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        assert!(tx.insert_if_absent(b"k", b"first")?);
        assert!(!tx.insert_if_absent(b"k", b"second")?);
        assert_eq!(tx.get(b"k")?.as_deref(), Some(&b"first"[..]));
        assert!(tx.contains(b"k")?);
        assert!(!tx.contains(b"nope")?);
        let b = tx.create_bucket(b"b")?;
        assert!(b.insert_if_absent(b"k", b"bucket")?);
        assert!(!b.insert_if_absent(b"k", b"again")?);
        assert_eq!(b.get(b"k")?.as_deref(), Some(&b"bucket"[..]));
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(b"k").unwrap().as_deref(), Some(&b"first"[..]));
    assert!(tx.contains(b"k").unwrap());
    assert_eq!(
        tx.bucket(b"b").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"bucket"[..])
    );
    drop(tx);
    db.update(|tx| {
        assert!(!tx.insert_if_absent(b"k", b"third")?);
        assert!(tx.delete(b"k")?);
        assert!(!tx.delete(b"k")?);
        assert!(!tx.delete(b"never")?);
        assert!(!tx.contains(b"k")?);
        assert_eq!(tx.get(b"k")?, None);
        assert!(tx.insert_if_absent(b"k", b"fourth")?);
        let b = tx.bucket(b"b")?;
        assert!(b.delete(b"k")?);
        assert!(!b.delete(b"k")?);
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    let db = small(&path);
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(b"k").unwrap().as_deref(), Some(&b"fourth"[..]));
    assert_eq!(tx.len(), 1);
    assert!(tx.bucket(b"b").unwrap().is_empty());
}

#[test]
fn empty_value_is_distinct_from_absent() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.put(b"empty", b"")).unwrap();
    for _ in 0..2 {
        let tx = db.begin_read().unwrap();
        assert_eq!(
            tx.get(b"empty").unwrap().map(|v| v.to_vec()),
            Some(Vec::new())
        );
        assert!(tx.contains(b"empty").unwrap());
        assert_eq!(
            collect(tx.iter()).unwrap(),
            vec![(b"empty".to_vec(), vec![])]
        );
    }
    drop(db);
    let db = small(&path);
    assert_eq!(
        db.view(|tx| tx.get(b"empty").map(owned_value)).unwrap(),
        Some(Vec::new())
    );
}

#[test]
fn len_is_exact_after_puts_overwrites_deletes_aborts_and_reopen() {
    let (_d, path) = tmp();
    let mut db = small(&path);
    let mut rng = Rng::new(3);
    let names: [&[u8]; 3] = [b"", b"one", b"two"];
    db.update(|tx| {
        tx.create_bucket(b"one")?;
        tx.create_bucket(b"two").map(|_| ())
    })
    .unwrap();
    let mut model: BTreeMap<&[u8], Map> = names.iter().map(|n| (*n, Map::new())).collect();
    for round in 0..40 {
        let tx = db.begin_write().unwrap();
        let mut working = model.clone();
        for _ in 0..rng.below(200) {
            let name = names[rng.index(3)];
            let b = if name.is_empty() {
                tx.default_bucket()
            } else {
                tx.bucket(name).unwrap()
            };
            let k = num_key("", rng.below(300));
            let m = working.get_mut(name).unwrap();
            match rng.below(5) {
                0 | 1 => {
                    b.put(&k, [round as u8; 3]).unwrap();
                    m.insert(k, vec![round as u8; 3]);
                }
                2 => {
                    let existed = m.remove(&k).is_some();
                    assert_eq!(b.delete(&k).unwrap(), existed);
                }
                3 => {
                    let inserted = b.insert_if_absent(&k, [9]).unwrap();
                    assert_eq!(inserted, !m.contains_key(&k));
                    m.entry(k).or_insert(vec![9]);
                }
                _ => {
                    let ks: Vec<Vec<u8>> = (0..5).map(|_| num_key("", rng.below(300))).collect();
                    let mut existed = 0;
                    for k in &ks {
                        existed += m.remove(k).is_some() as u64;
                    }
                    assert_eq!(b.delete_many(&ks).unwrap(), existed);
                }
            }
            assert_eq!(b.len().unwrap(), m.len() as u64);
        }
        if rng.chance(1, 4) {
            tx.abort();
        } else {
            tx.commit().unwrap();
            model = working;
        }
        if rng.chance(1, 8) {
            db.checkpoint().unwrap();
        }
        if rng.chance(1, 8) {
            drop(db);
            db = small(&path);
        }
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.len(), model[&b""[..]].len() as u64);
        for name in &names[1..] {
            let b = tx.bucket(name).unwrap();
            assert_eq!(b.len(), model[name].len() as u64, "round {round}");
            assert_eq!(b.iter().count() as u64, b.len());
        }
    }
    assert_check_ok(&db);
}

#[test]
fn put_many_and_delete_many() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        let b = tx.create_bucket(b"batch")?;
        b.put_many((0..100u64).map(|i| (num_key("k", i), i.to_be_bytes())))?;
        assert_eq!(b.len()?, 100);
        let removed = b.delete_many((0..200u64).step_by(2).map(|i| num_key("k", i)))?;
        assert_eq!(removed, 50);
        assert_eq!(b.len()?, 50);
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let b = tx.bucket(b"batch").unwrap();
    let got = collect(b.iter()).unwrap();
    let want: Vec<Pair> = (0..100u64)
        .filter(|i| i % 2 == 1)
        .map(|i| (num_key("k", i), i.to_be_bytes().to_vec()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn buckets_create_open_drop_list_and_errors() {
    let (_d, path) = tmp();
    let db = small(&path);
    let max = db.limits().max_key_len;
    db.update(|tx| {
        let a = tx.create_bucket(b"a")?;
        a.put(b"k", b"in a")?;
        tx.put(b"k", b"in default")?;
        assert!(matches!(tx.create_bucket(b"a"), Err(Error::BucketExists(n)) if n == b"a"));
        assert!(matches!(tx.bucket(b"missing"), Err(Error::BucketNotFound(n)) if n == b"missing"));
        assert!(matches!(
            tx.drop_bucket(b"missing"),
            Err(Error::BucketNotFound(_))
        ));
        assert!(matches!(
            tx.create_bucket(b""),
            Err(Error::InvalidBucketName)
        ));
        assert!(matches!(tx.bucket(b""), Err(Error::InvalidBucketName)));
        assert!(matches!(tx.drop_bucket(b""), Err(Error::InvalidBucketName)));
        assert!(matches!(
            tx.create_bucket_if_missing(b""),
            Err(Error::InvalidBucketName)
        ));
        assert!(matches!(
            tx.create_bucket(vec![b'n'; max + 1]),
            Err(Error::InvalidBucketName)
        ));
        tx.create_bucket(vec![b'n'; max])?.put(b"x", b"y")?;
        tx.create_bucket([0u8])?;
        tx.create_bucket([0xffu8, 0xff])?;
        tx.create_bucket(b"B")?;
        // create_bucket_if_missing opens an existing bucket.
        let again = tx.create_bucket_if_missing(b"a")?;
        assert_eq!(again.get(b"k")?.as_deref(), Some(&b"in a"[..]));
        assert_eq!(again.name(), b"a");
        Ok::<_, Error>(())
    })
    .unwrap();
    let expected_names = vec![
        vec![0u8],
        b"B".to_vec(),
        b"a".to_vec(),
        vec![b'n'; max],
        vec![0xff, 0xff],
    ];
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.bucket_names(), expected_names);
    assert!(matches!(
        tx.bucket(b"missing"),
        Err(Error::BucketNotFound(_))
    ));
    assert!(matches!(tx.bucket(b""), Err(Error::InvalidBucketName)));
    assert_eq!(tx.get(b"k").unwrap().as_deref(), Some(&b"in default"[..]));
    assert_eq!(
        tx.bucket(b"a").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"in a"[..])
    );
    // Names are case-sensitive byte strings.
    assert!(tx.bucket(b"A").is_err());
    let snapshot = tx;
    // Drop, then recreate: the new bucket starts empty.
    db.update(|tx| {
        tx.drop_bucket(b"a")?;
        assert!(matches!(tx.bucket(b"a"), Err(Error::BucketNotFound(_))));
        assert!(matches!(
            tx.drop_bucket(b"a"),
            Err(Error::BucketNotFound(_))
        ));
        let a = tx.create_bucket(b"a")?;
        assert!(a.is_empty()?);
        assert_eq!(a.get(b"k")?, None);
        tx.drop_bucket(b"B")?;
        Ok::<_, Error>(())
    })
    .unwrap();
    // The old snapshot still sees the old buckets.
    assert_eq!(snapshot.bucket_names(), expected_names);
    assert_eq!(
        snapshot.bucket(b"a").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"in a"[..])
    );
    drop(snapshot);
    let after = vec![vec![0u8], b"a".to_vec(), vec![b'n'; max], vec![0xff, 0xff]];
    assert_eq!(db.begin_read().unwrap().bucket_names(), after);
    drop(db);
    let db = small(&path);
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.bucket_names(), after);
    assert!(tx.bucket(b"a").unwrap().is_empty());
    assert_eq!(
        tx.bucket(vec![b'n'; max])
            .unwrap()
            .get(b"x")
            .unwrap()
            .as_deref(),
        Some(&b"y"[..])
    );
    drop(tx);
    assert_check_ok(&db);
}

/// `Error::InvalidBucketName`: "A bucket name is empty or longer than
/// `Limits::max_key_len`" — the same answer from every entry point.
#[test]
fn too_long_bucket_name_is_invalid_everywhere() {
    let (_d, path) = tmp();
    let db = small(&path);
    let long = vec![b'n'; db.limits().max_key_len + 1];
    let tx = db.begin_write().unwrap();
    assert!(matches!(tx.bucket(&long), Err(Error::InvalidBucketName)));
    assert!(matches!(
        tx.create_bucket(&long),
        Err(Error::InvalidBucketName)
    ));
    assert!(matches!(
        tx.create_bucket_if_missing(&long),
        Err(Error::InvalidBucketName)
    ));
    assert!(matches!(
        tx.drop_bucket(&long),
        Err(Error::InvalidBucketName)
    ));
    drop(tx);
    let r = db.begin_read().unwrap();
    let got = r.bucket(&long).map(|_| ());
    assert!(
        matches!(got, Err(Error::InvalidBucketName)),
        "ReadTxn::bucket: {got:?}"
    );
}

#[test]
fn many_buckets_with_long_names_survive_reopen() {
    let (_d, path) = tmp();
    let db = small(&path);
    let max = db.limits().max_key_len;
    let name = |i: u32| {
        let mut n = format!("{i:05}").into_bytes();
        n.resize(
            if i.is_multiple_of(2) {
                max
            } else {
                5 + (i as usize % 50)
            },
            b'_',
        );
        n
    };
    db.update(|tx| {
        for i in 0..200 {
            tx.create_bucket(name(i))?.put(b"i", i.to_le_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.checkpoint().unwrap();
    db.update(|tx| {
        for i in (0..200).step_by(3) {
            tx.drop_bucket(name(i))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    let db = small(&path);
    let tx = db.begin_read().unwrap();
    let mut want: Vec<Vec<u8>> = (0..200).filter(|i| i % 3 != 0).map(name).collect();
    want.sort();
    assert_eq!(tx.bucket_names(), want);
    for i in (0..200).filter(|i| i % 3 != 0) {
        let b = tx.bucket(name(i)).unwrap();
        assert_eq!(
            b.get(b"i").unwrap().map(|v| v.to_vec()),
            Some(i.to_le_bytes().to_vec())
        );
    }
    drop(tx);
    assert_check_ok(&db);
}

#[test]
fn key_and_value_limits_are_exact_at_every_page_size() {
    for ps in [1024usize, 4096, 65536] {
        let (_d, path) = tmp();
        let db = Options::new().page_size(ps).open(&path).unwrap();
        let l = db.limits();
        assert_eq!(l, vellum::Limits::for_page_size(ps));
        assert!(l.max_key_len > 0 && l.max_key_len < ps);
        let max_key = vec![0xabu8; l.max_key_len];
        let too_long = vec![0xabu8; l.max_key_len + 1];
        let too_big_value = vec![0u8; l.max_value_len + 1];
        let tx = db.begin_write().unwrap();
        tx.put(&max_key, b"max key").unwrap();
        match tx.put(&too_long, b"v") {
            Err(Error::KeyTooLarge { len, max }) => {
                assert_eq!((len, max), (l.max_key_len + 1, l.max_key_len));
            }
            other => panic!("page size {ps}: expected KeyTooLarge, got {other:?}"),
        }
        assert!(matches!(
            tx.insert_if_absent(&too_long, b"v"),
            Err(Error::KeyTooLarge { .. })
        ));
        match tx.put(b"k", &too_big_value) {
            Err(Error::ValueTooLarge { len, max }) => {
                assert_eq!((len, max), (l.max_value_len + 1, l.max_value_len));
            }
            other => panic!("page size {ps}: expected ValueTooLarge, got {other:?}"),
        }
        let b = tx.create_bucket(b"b").unwrap();
        assert!(matches!(
            b.put(&too_long, b"v"),
            Err(Error::KeyTooLarge { .. })
        ));
        assert!(matches!(
            b.put(b"k", &too_big_value),
            Err(Error::ValueTooLarge { .. })
        ));
        // Lookups with an oversized key never find anything.
        assert!(!matches!(tx.get(&too_long), Ok(Some(_))));
        assert!(!matches!(tx.contains(&too_long), Ok(true)));
        assert!(!matches!(tx.delete(&too_long), Ok(true)));
        // A rejected put leaves the transaction usable and unchanged.
        assert_eq!(tx.len().unwrap(), 1);
        assert_eq!(b.len().unwrap(), 0);
        b.put(&max_key, vec![7u8; l.max_inline_value_len]).unwrap();
        tx.commit().unwrap();
        drop(too_big_value);
        drop(db);
        let db = Options::new().open(&path).unwrap();
        assert_eq!(db.page_size(), ps);
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.get(&max_key).unwrap().as_deref(), Some(&b"max key"[..]));
        assert_eq!(tx.len(), 1);
        let b = tx.bucket(b"b").unwrap();
        assert_eq!(
            b.get(&max_key).unwrap().map(|v| v.to_vec()),
            Some(vec![7u8; l.max_inline_value_len])
        );
        assert_eq!(b.len(), 1);
        drop(tx);
        assert_check_ok(&db);
    }
}

/// Many maximum-size keys with maximum inline values, inserted and deleted
/// in random order: stresses splits and merges at the size limits.
#[test]
fn maximum_size_entries_split_and_merge_correctly() {
    for ps in [1024usize, 4096] {
        let (_d, path) = tmp();
        let mut db = Options::new()
            .page_size(ps)
            .durability(Durability::Eventual)
            .open(&path)
            .unwrap();
        let l = db.limits();
        let mut rng = Rng::new(ps as u64);
        let key = |i: u64, len: usize| {
            let mut k = format!("{i:06}").into_bytes();
            k.resize(len, (i % 251) as u8);
            k
        };
        let mut model = Map::new();
        for round in 0..12 {
            db.update(|tx| {
                for _ in 0..120 {
                    let i = rng.below(400);
                    let klen = if rng.chance(2, 3) {
                        l.max_key_len
                    } else {
                        6 + rng.index(l.max_key_len - 6)
                    };
                    let k = key(i, klen);
                    if rng.chance(1, 3) {
                        let existed = model.remove(&k).is_some();
                        assert_eq!(tx.delete(&k)?, existed);
                    } else {
                        let vlen = match rng.below(4) {
                            0 => l.max_inline_value_len,
                            1 => l.max_inline_value_len + 1,
                            2 => 0,
                            _ => rng.index(l.max_inline_value_len),
                        };
                        let v = rng.bytes(vlen);
                        tx.put(&k, &v)?;
                        model.insert(k, v);
                    }
                }
                Ok::<_, Error>(())
            })
            .unwrap();
            if round % 3 == 2 {
                db.checkpoint().unwrap();
            }
            if round % 4 == 3 {
                drop(db);
                db = Options::new().open(&path).unwrap();
            }
            let got = collect(db.begin_read().unwrap().iter()).unwrap();
            assert_eq!(got, entries(&model), "page size {ps} round {round}");
        }
        assert_check_ok(&db);
        // Delete everything: the tree collapses.
        db.update(|tx| {
            for k in model.keys() {
                assert!(tx.delete(k)?);
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        drop(db);
        let db = Options::new().open(&path).unwrap();
        assert!(db.begin_read().unwrap().is_empty());
        assert!(db.begin_read().unwrap().iter().next().is_none());
        assert_check_ok(&db);
    }
}

#[test]
fn values_at_inline_and_overflow_boundaries_round_trip() {
    for ps in [1024usize, 4096] {
        let (_d, path) = tmp();
        let db = Options::new().page_size(ps).open(&path).unwrap();
        let inline = db.limits().max_inline_value_len;
        let mut lens = vec![
            0,
            1,
            inline - 1,
            inline,
            inline + 1,
            ps - 24 - 1,
            ps - 24,
            ps - 24 + 1,
        ];
        lens.extend([2 * ps - 24, 2 * ps - 23, 3 * ps, 5 * ps + 17]);
        let value = |len: usize, salt: u8| {
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ salt)
                .collect::<Vec<u8>>()
        };
        db.update(|tx| {
            for (i, &len) in lens.iter().enumerate() {
                tx.put(num_key("v", i as u64), value(len, 1))?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        let verify = |db: &Db, salt: u8| {
            let tx = db.begin_read().unwrap();
            for (i, &len) in lens.iter().enumerate() {
                let got = tx
                    .get(num_key("v", i as u64))
                    .unwrap()
                    .map(|v| v.to_vec())
                    .unwrap();
                assert_eq!(got.len(), len, "ps {ps} len {len}");
                assert!(
                    got == value(len, salt),
                    "ps {ps}: value of length {len} differs"
                );
            }
        };
        verify(&db, 1);
        db.checkpoint().unwrap();
        verify(&db, 1);
        // Overwrite every value (old overflow runs are freed).
        db.update(|tx| {
            for (i, &len) in lens.iter().enumerate() {
                tx.put(num_key("v", i as u64), value(len, 2))?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        verify(&db, 2);
        drop(db);
        let db = Options::new().open(&path).unwrap();
        verify(&db, 2);
        assert_check_ok(&db);
    }
}

fn big_value(len: usize, salt: u64) -> Vec<u8> {
    let mut rng = Rng::new(salt);
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

#[test]
fn large_values_round_trip_and_survive_reopen() {
    let (_d, path) = tmp();
    let one_mb = big_value(1 << 20, 1);
    let ten_mb = big_value(10 << 20, 2);
    {
        let db = Db::open(&path).unwrap();
        db.update(|tx| {
            tx.put(b"1mb", &one_mb)?;
            tx.put(b"small", b"s")
        })
        .unwrap();
        db.update(|tx| tx.put(b"10mb", &ten_mb)).unwrap();
        let tx = db.begin_read().unwrap();
        assert!(tx.get(b"1mb").unwrap().map(|v| v.to_vec()).unwrap() == one_mb);
        assert!(tx.get(b"10mb").unwrap().map(|v| v.to_vec()).unwrap() == ten_mb);
        assert!(tx.contains(b"10mb").unwrap());
        let all = collect(tx.iter()).unwrap();
        assert_eq!(
            keys_of(&all),
            vec![b"10mb".to_vec(), b"1mb".to_vec(), b"small".to_vec()]
        );
        assert!(all[0].1 == ten_mb);
        drop(tx);
        assert_check_ok(&db);
    }
    let size_with_values = std::fs::metadata(&path).unwrap().len();
    assert!(
        size_with_values >= 11 << 20,
        "file holds the values: {size_with_values}"
    );
    {
        let db = Db::open(&path).unwrap();
        let tx = db.begin_read().unwrap();
        assert!(tx.get(b"1mb").unwrap().map(|v| v.to_vec()).unwrap() == one_mb);
        assert!(tx.get(b"10mb").unwrap().map(|v| v.to_vec()).unwrap() == ten_mb);
        drop(tx);
        // Overwrite one with a small value, delete the other: pages are freed.
        db.update(|tx| {
            tx.put(b"10mb", b"now small")?;
            assert!(tx.delete(b"1mb")?);
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_check_ok(&db);
    }
    let db = Db::open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(b"10mb").unwrap().as_deref(), Some(&b"now small"[..]));
    assert_eq!(tx.get(b"1mb").unwrap().map(|v| v.to_vec()), None);
    drop(tx);
    assert_check_ok(&db);
    // The freed pages are reused: writing 10 MB again barely grows the file.
    db.update(|tx| tx.put(b"again", &ten_mb)).unwrap();
    drop(db);
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after <= size_with_values + (2 << 20),
        "freed overflow pages are reused: {size_with_values} -> {after}"
    );
}

#[derive(Debug)]
enum AppError {
    Db(Error),
    Rejected,
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

#[test]
fn update_commits_on_ok_and_aborts_on_err() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.put(b"base", b"1")).unwrap();
    let r: Result<(), AppError> = db.update_with(|tx| {
        tx.put(b"base", b"2")?;
        tx.put(b"new", b"x")?;
        tx.create_bucket(b"bucket")?;
        Err(AppError::Rejected)
    });
    assert!(matches!(r, Err(AppError::Rejected)));
    // A vellum error from inside the closure aborts too.
    let r = db.update(|tx| {
        tx.put(b"base", b"3")?;
        tx.put(vec![0u8; 100_000], b"key too large")
    });
    assert!(matches!(r, Err(Error::KeyTooLarge { .. })));
    // ... also when converted into the application's error type.
    let r: Result<(), AppError> = db.update_with(|tx| {
        tx.put(b"base", b"4")?;
        tx.put(b"k", vec![0u8; tx.len()? as usize + (1 << 30)])?;
        Ok(())
    });
    assert!(
        matches!(r, Err(AppError::Db(Error::ValueTooLarge { .. }))),
        "{r:?}"
    );
    let check = |db: &Db| {
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.get(b"base").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(tx.get(b"new").unwrap().map(|v| v.to_vec()), None);
        assert!(tx.bucket_names().is_empty());
        assert_eq!(tx.len(), 1);
    };
    check(&db);
    // The writer slot was released.
    drop(db.try_begin_write().unwrap());
    // update returns the closure's value.
    let n = db.update(|tx| Ok::<_, Error>(tx.len()? + 41)).unwrap();
    assert_eq!(n, 42);
    drop(db);
    check(&small(&path));
}

#[test]
fn panic_inside_update_aborts_and_releases_the_writer() {
    let (_d, path) = tmp();
    let db = small(&path);
    let db2 = db.clone();
    // The panic unwinds through `update` on another thread.
    let r = std::thread::spawn(move || {
        db2.update(|tx| -> Result<(), Error> {
            tx.put(b"k", b"v").unwrap();
            panic!("application bug (expected by this test)")
        })
    })
    .join();
    assert!(r.is_err());
    let tx = db
        .try_begin_write()
        .expect("the writer slot is free after a panic");
    assert_eq!(tx.get(b"k").unwrap().map(|v| v.to_vec()), None);
    tx.put(b"k2", b"v2").unwrap();
    tx.commit().unwrap();
    assert_eq!(db.view(|tx| tx.get(b"k").map(owned_value)).unwrap(), None);
    assert_eq!(
        db.view(|tx| tx.get(b"k2").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v2"[..])
    );
}

#[test]
fn view_runs_in_a_snapshot_and_returns_its_value() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.put(b"a", b"1")).unwrap();
    let (v, n) = db
        .view(|tx| Ok::<_, Error>((tx.get(b"a")?.map(|v| v.to_vec()), tx.len())))
        .unwrap();
    assert_eq!(v.as_deref(), Some(&b"1"[..]));
    assert_eq!(n, 1);
    let r: Result<(), AppError> = db.view_with(|_| Err(AppError::Rejected));
    assert!(matches!(r, Err(AppError::Rejected)));
    let r = db.view(|tx| tx.bucket(b"nope").map(|_| ()));
    assert!(matches!(r, Err(Error::BucketNotFound(_))));
}

#[test]
fn dropping_or_aborting_a_write_txn_discards_everything() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| tx.put(b"keep", b"1")).unwrap();
    {
        let tx = db.begin_write().unwrap();
        tx.put(b"keep", b"changed").unwrap();
        tx.put(b"gone", b"x").unwrap();
        tx.create_bucket(b"gone").unwrap();
        // Reads inside see the transaction's own writes ...
        assert_eq!(tx.get(b"keep").unwrap().as_deref(), Some(&b"changed"[..]));
        assert_eq!(tx.len().unwrap(), 2);
        assert_eq!(tx.bucket_names().unwrap(), vec![b"gone".to_vec()]);
        // ... a concurrent reader does not.
        let r = db.begin_read().unwrap();
        assert_eq!(r.get(b"keep").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(r.get(b"gone").unwrap().map(|v| v.to_vec()), None);
        assert!(r.bucket_names().is_empty());
    } // dropped
    let tx = db.begin_write().unwrap();
    tx.delete(b"keep").unwrap();
    tx.abort();
    let tx = db.begin_write().unwrap();
    tx.put(b"big", vec![1u8; 100_000]).unwrap();
    drop(tx);
    let check = |db: &Db| {
        let r = db.begin_read().unwrap();
        assert_eq!(
            collect(r.iter()).unwrap(),
            vec![(b"keep".to_vec(), b"1".to_vec())]
        );
        assert!(r.bucket_names().is_empty());
    };
    check(&db);
    drop(db);
    let db = small(&path);
    check(&db);
    assert_check_ok(&db);
}

#[test]
fn committing_an_empty_write_txn_is_fine() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.begin_write().unwrap().commit().unwrap();
    db.update(|_| Ok::<_, Error>(())).unwrap();
    db.update(|tx| tx.put(b"a", b"1")).unwrap();
    db.begin_write().unwrap().commit().unwrap();
    // An insert_if_absent that finds the key and a delete of a missing key
    // change nothing.
    db.update(|tx| {
        assert!(!tx.insert_if_absent(b"a", b"2")?);
        assert!(!tx.delete(b"zz")?);
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    let db = small(&path);
    assert_eq!(
        collect(db.begin_read().unwrap().iter()).unwrap(),
        vec![(b"a".to_vec(), b"1".to_vec())]
    );
}

#[test]
fn iterators_inside_a_write_txn_see_the_state_when_created() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        for i in 0..500 {
            tx.put(num_key("k", i), b"old")?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_write().unwrap();
    let mut it = tx.iter().unwrap();
    let mut cursor = tx.cursor().unwrap();
    let first = it.next().unwrap().unwrap();
    assert_eq!(first.key(), num_key("k", 0));
    // Change everything under the iterator.
    for i in 0..500 {
        if i % 2 == 0 {
            tx.delete(num_key("k", i)).unwrap();
        } else {
            tx.put(num_key("k", i), b"new").unwrap();
        }
    }
    for i in 500..700 {
        tx.put(num_key("k", i), b"new").unwrap();
    }
    let rest = collect(it).unwrap();
    assert_eq!(rest.len(), 499);
    assert!(rest.iter().all(|(_, v)| v == b"old"));
    let mut n = 0;
    let mut e = cursor.first().unwrap();
    while let Some(entry) = e {
        assert_eq!(entry.value(), b"old");
        n += 1;
        e = cursor.next().unwrap();
    }
    assert_eq!(n, 500);
    // A new iterator sees the transaction's writes.
    let now = collect(tx.iter().unwrap()).unwrap();
    assert_eq!(now.len(), 450);
    assert!(now.iter().all(|(_, v)| v == b"new"));
    drop((first, cursor));
    tx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 450);
}

#[test]
fn snapshot_is_fixed_at_begin() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        tx.create_bucket(b"b")?.put(b"x", b"1")?;
        tx.put(b"k", b"1")
    })
    .unwrap();
    let snap = db.begin_read().unwrap();
    let id = snap.txn_id();
    for i in 2..40u32 {
        db.update(|tx| {
            tx.put(b"k", i.to_string())?;
            tx.put(num_key("n", i as u64), vec![i as u8; 300])?;
            tx.bucket(b"b")?.put(b"x", i.to_string())
        })
        .unwrap();
        if i % 10 == 0 {
            db.checkpoint().unwrap();
        }
    }
    db.update(|tx| tx.drop_bucket(b"b")).unwrap();
    db.checkpoint().unwrap();
    assert_eq!(snap.txn_id(), id);
    assert_eq!(snap.get(b"k").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.len(), 1);
    assert_eq!(
        snap.bucket(b"b").unwrap().get(b"x").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(
        collect(snap.iter()).unwrap(),
        vec![(b"k".to_vec(), b"1".to_vec())]
    );
    let now = db.begin_read().unwrap();
    assert!(now.txn_id() > id);
    assert_eq!(now.get(b"k").unwrap().as_deref(), Some(&b"39"[..]));
    assert!(now.bucket(b"b").is_err());
}

#[test]
fn try_begin_write_reports_writer_busy_and_begin_write_waits() {
    let (_d, path) = tmp();
    let db = small(&path);
    let tx = db.begin_write().unwrap();
    // On the thread holding the writer, waiting would never end.
    assert!(matches!(db.try_begin_write(), Err(Error::NestedWrite)));
    let other = db.clone();
    let busy = std::thread::spawn(move || other.try_begin_write().map(|_| ()));
    assert!(matches!(busy.join().unwrap(), Err(Error::WriterBusy)));
    tx.put(b"first", b"1").unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let db2 = db.clone();
    let h = std::thread::spawn(move || {
        started_tx.send(()).unwrap();
        let tx = db2.begin_write().unwrap();
        // It runs after the first writer committed.
        let seen = tx.get(b"first").unwrap().map(|v| v.to_vec());
        tx.put(b"second", b"2").unwrap();
        tx.commit().unwrap();
        done_tx.send(seen).unwrap();
    });
    started_rx.recv().unwrap();
    assert!(
        done_rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "begin_write must wait while another writer is open"
    );
    tx.commit().unwrap();
    let seen = done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(seen.as_deref(), Some(&b"1"[..]));
    h.join().unwrap();
    // Free again.
    drop(db.try_begin_write().unwrap());
    assert_eq!(db.view(|tx| Ok::<_, Error>(tx.len())).unwrap(), 2);
}

#[test]
fn second_writable_open_is_locked_until_every_handle_is_gone() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    assert!(matches!(Db::open(&path), Err(Error::Locked)));
    let clone = db.clone();
    drop(db);
    assert!(
        matches!(Db::open(&path), Err(Error::Locked)),
        "a clone keeps it open"
    );
    let reader = clone.begin_read().unwrap();
    drop(clone);
    assert!(
        matches!(Db::open(&path), Err(Error::Locked)),
        "a live read transaction keeps it open"
    );
    assert_eq!(reader.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    drop(reader);
    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn read_only_opens_share_and_exclude_writers() {
    let (_d, path) = tmp();
    {
        let db = Db::open(&path).unwrap();
        db.update(|tx| {
            tx.put(b"k", b"v")?;
            tx.create_bucket(b"b").map(|_| ())
        })
        .unwrap();
        // While a writer holds the file, a read-only open is refused
        // (the writer's exclusive lock conflicts with the shared lock).
        let ro = Options::new().read_only(true).open(&path);
        assert!(matches!(ro, Err(Error::Locked)), "{ro:?}");
    }
    let before = std::fs::read(&path).unwrap();
    let ro1 = Options::new().read_only(true).open(&path).unwrap();
    let ro2 = Options::new().read_only(true).open(&path).unwrap();
    for ro in [&ro1, &ro2] {
        assert_eq!(
            ro.view(|tx| tx.get(b"k").map(owned_value))
                .unwrap()
                .as_deref(),
            Some(&b"v"[..])
        );
        assert!(matches!(ro.begin_write(), Err(Error::ReadOnly)));
        assert!(matches!(ro.try_begin_write(), Err(Error::ReadOnly)));
        assert!(matches!(
            ro.update(|tx| tx.put(b"x", b"y")),
            Err(Error::ReadOnly)
        ));
        assert!(matches!(ro.checkpoint(), Err(Error::ReadOnly)));
        ro.sync().unwrap();
        assert_check_ok(ro);
    }
    // A writer cannot open while readers hold the file.
    assert!(matches!(Db::open(&path), Err(Error::Locked)));
    drop(ro1);
    assert!(matches!(Db::open(&path), Err(Error::Locked)));
    drop(ro2);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "read-only handles never write"
    );
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k2", b"v2")).unwrap();
}

#[test]
fn read_only_open_of_a_missing_file_fails_and_creates_nothing() {
    let (_d, path) = tmp();
    let r = Options::new().read_only(true).open(&path);
    assert!(r.is_err());
    assert!(!path.exists());
}

#[test]
fn page_sizes_and_invalid_options() {
    for ps in [1024usize, 2048, 4096, 8192, 16384, 32768, 65536] {
        let (_d, path) = tmp();
        let db = Options::new().page_size(ps).open(&path).unwrap();
        assert_eq!(db.page_size(), ps);
        db.update(|tx| {
            for i in 0..200 {
                tx.put(num_key("k", i), vec![i as u8; 100])?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        drop(db);
        // The existing file's page size wins over the option.
        let other = if ps == 4096 { 1024 } else { 4096 };
        let db = Options::new().page_size(other).open(&path).unwrap();
        assert_eq!(db.page_size(), ps);
        assert_eq!(db.limits(), vellum::Limits::for_page_size(ps));
        let tx = db.begin_read().unwrap();
        assert_eq!(tx.len(), 200);
        assert_eq!(
            tx.get(num_key("k", 199)).unwrap().map(|v| v.to_vec()),
            Some(vec![199u8; 100])
        );
        drop(tx);
        assert_check_ok(&db);
    }
    for bad in [0usize, 1, 512, 1000, 3000, 4097, 131072, 1 << 20] {
        let (_d, path) = tmp();
        let r = Options::new().page_size(bad).open(&path);
        assert!(
            matches!(r, Err(Error::InvalidOptions(_))),
            "page size {bad}: {r:?}"
        );
        assert!(!path.exists(), "an invalid open creates no file");
    }
}

#[test]
fn eventual_durability_commits_are_visible_and_survive_clean_close() {
    let (_d, path) = tmp();
    let db = Options::new()
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    assert_eq!(db.durability(), Durability::Eventual);
    for i in 0..100 {
        db.update(|tx| tx.put(num_key("k", i), b"v")).unwrap();
        assert!(db.view(|tx| tx.contains(num_key("k", i))).unwrap());
    }
    db.sync().unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 100);
}

#[test]
fn errors_display_and_expose_sources() {
    let io = Error::Io(std::io::Error::other("disk on fire"));
    assert!(io.to_string().contains("disk on fire"));
    assert!(std::error::Error::source(&io).is_some());
    let all = [
        Error::NotADatabase,
        Error::Locked,
        Error::ReadOnly,
        Error::Poisoned,
        Error::WriterBusy,
        Error::InvalidBucketName,
        Error::FileTooLarge,
        Error::BucketNotFound(b"x".to_vec()),
        Error::BucketExists(b"x".to_vec()),
        Error::KeyTooLarge { len: 2, max: 1 },
        Error::ValueTooLarge { len: 2, max: 1 },
        Error::UnsupportedVersion {
            found: 9,
            supported: 1,
        },
        Error::InvalidOptions("x".into()),
    ];
    for e in &all {
        assert!(!e.to_string().is_empty());
        assert!(!e.is_corruption());
    }
    // Errors can cross threads and be boxed.
    fn send_sync<T: Send + Sync + 'static>(_: T) {}
    send_sync(Error::Locked);
    let _boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Locked);
}

#[test]
fn stats_report_counts_readers_and_pinned_pages() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    let s = db.stats();
    assert_eq!(s.page_size, 4096);
    assert_eq!((s.live_readers, s.oldest_reader_checkpoint), (0, None));
    assert_eq!((s.buckets, s.default_bucket_keys), (0, 0));
    let txn0 = s.last_txn;
    db.update(|tx| {
        tx.put_many((0..100u64).map(|i| (num_key("k", i), [1u8; 10])))?;
        tx.create_bucket(b"one")?;
        tx.create_bucket(b"two").map(|_| ())
    })
    .unwrap();
    db.update(|tx| tx.put(b"big", vec![9u8; 1 << 20])).unwrap();
    let s = db.stats();
    assert_eq!((s.buckets, s.default_bucket_keys), (2, 101));
    assert_eq!(s.last_txn, txn0 + 2);
    let runs = s.checkpoints_run;
    db.checkpoint().unwrap();
    assert_eq!(db.stats().checkpoints_run, runs + 1);
    // A reader pins what it can see.
    let reader = db.begin_read().unwrap();
    let s = db.stats();
    let file_pages_with_value = s.file_pages;
    assert_eq!(s.live_readers, 1);
    assert_eq!(s.oldest_reader_checkpoint, Some(s.checkpoint));
    db.update(|tx| tx.put(b"big", b"small")).unwrap();
    db.checkpoint().unwrap();
    db.checkpoint().unwrap();
    let pinned = db.stats().pinned_pages;
    assert!(
        pinned >= 256,
        "a reader of a 1 MiB value pins its pages: {pinned}"
    );
    assert_eq!(reader.get(b"big").unwrap().map(|v| v.len()), Some(1 << 20));
    drop(reader);
    db.checkpoint().unwrap();
    db.checkpoint().unwrap();
    let s = db.stats();
    assert_eq!((s.live_readers, s.oldest_reader_checkpoint), (0, None));
    assert!(
        s.pinned_pages < 64,
        "released after the reader ended: {}",
        s.pinned_pages
    );
    // Free again: free pages, or (at the end of the file) given back by
    // the allocator.
    let given_back = file_pages_with_value.saturating_sub(s.file_pages);
    assert!(
        s.free_pages + given_back >= 256,
        "the value's pages are free again: {} free, {given_back} given back",
        s.free_pages
    );
    assert!(s.file_pages * 4096 <= std::fs::metadata(&path).unwrap().len());
    // Reads count in the cache statistics.
    let before = db.stats();
    for _ in 0..3 {
        db.view(|tx| tx.get(num_key("k", 5)).map(owned_value))
            .unwrap();
    }
    let after = db.stats();
    assert!(after.cache_hits + after.cache_misses > before.cache_hits + before.cache_misses);
}

#[test]
fn batch_forms_on_the_default_bucket() {
    let (_d, path) = tmp();
    let db = small(&path);
    db.update(|tx| {
        tx.put_many((0..50u64).map(|i| (num_key("k", i), i.to_le_bytes())))?;
        assert_eq!(
            tx.delete_many([num_key("k", 1), num_key("k", 1), num_key("x", 0)])?,
            1
        );
        Ok::<_, Error>(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.len(), 49);
    assert_eq!(
        tx.get(num_key("k", 49)).unwrap().map(|v| v.to_vec()),
        Some(49u64.to_le_bytes().to_vec())
    );
    assert_eq!(tx.get(num_key("k", 1)).unwrap().map(|v| v.to_vec()), None);
}

#[test]
fn extreme_cache_and_log_sizes_still_work() {
    for (cache, log) in [
        (0usize, 0u64),
        (0, 1),
        (1, 4096),
        (64 << 20, 1),
        (4096, 1 << 20),
    ] {
        let (_d, path) = tmp();
        let opts = || {
            Options::new()
                .page_size(1024)
                .cache_size(cache)
                .max_log_size(log)
        };
        let db = match opts().open(&path) {
            Ok(db) => db,
            Err(Error::InvalidOptions(_)) => continue,
            Err(e) => panic!("cache {cache} log {log}: {e:?}"),
        };
        let mut model = Map::new();
        for c in 0..20u64 {
            db.update(|tx| {
                for i in 0..30 {
                    let k = num_key("k", (c * 37 + i * 11) % 500);
                    let v = vec![c as u8; (i as usize * 13) % 700];
                    tx.put(&k, &v)?;
                    model.insert(k, v);
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        }
        assert_eq!(
            collect(db.begin_read().unwrap().iter()).unwrap(),
            entries(&model)
        );
        assert_check_ok(&db);
        drop(db);
        let db = opts().open(&path).unwrap();
        assert_eq!(
            collect(db.begin_read().unwrap().iter()).unwrap(),
            entries(&model),
            "cache {cache} log {log}"
        );
        assert_check_ok(&db);
    }
}

/// The log extent starts small and grows (at least doubling, and to at
/// least a quarter of the file, up to `max_log_size`) each time a checkpoint
/// was forced by a full log, so a busy database checkpoints less and less
/// often.
#[test]
fn a_full_log_grows_up_to_the_configured_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let db = vellum::Options::new()
        .page_size(1024)
        .max_log_size(256 * 1024)
        .open(dir.path().join("db"))
        .unwrap();
    let initial = db.stats().log_pages;
    let max_pages = 256 * 1024 / 1024;
    assert!(initial < max_pages, "the log starts below its maximum");
    let mut seen = vec![initial];
    // One small commit fills one log page: commit until the log has grown
    // to its maximum.
    for i in 0u32..2_000 {
        db.update(|tx| tx.put(i.to_be_bytes(), b"v")).unwrap();
        let now = db.stats().log_pages;
        if *seen.last().unwrap() != now {
            seen.push(now);
        }
        if now == max_pages {
            break;
        }
    }
    assert_eq!(*seen.last().unwrap(), max_pages, "log sizes seen: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[1] >= (w[0] * 2).min(max_pages)),
        "each growth at least doubles: {seen:?}"
    );
    // It never exceeds the maximum, and a full log at its maximum is
    // reused in place (FORMAT.md §3 C1 allocates an extent only when the
    // log grows): the newest slot's log extent stays where it is.
    let path = dir.path().join("db");
    let at_max = newest_slot_log_extent(&path);
    let checkpoints = db.stats().checkpoints_run;
    for i in 2_000u32..2_600 {
        db.update(|tx| tx.put(i.to_be_bytes(), b"v")).unwrap();
        assert_eq!(db.stats().log_pages, max_pages);
        assert_eq!(newest_slot_log_extent(&path), at_max, "commit {i}");
    }
    assert!(
        db.stats().checkpoints_run >= checkpoints + 2,
        "the log filled at its maximum size more than once"
    );
    assert!(db.check().unwrap().is_ok());
}

/// `Options::checkpoint_budget` decides how much changed memory a
/// checkpoint waits for: the same commits checkpoint often under a small
/// budget and not at all under a large one (the log is large enough for
/// both), and both databases hold the same data.
#[test]
fn the_checkpoint_budget_sets_how_often_commits_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, budget: u64| {
        let db = vellum::Options::new()
            .page_size(1024)
            .max_log_size(16 << 20)
            .checkpoint_budget(budget)
            .open(dir.path().join(name))
            .unwrap();
        // Grow the log first, so that only the budget triggers checkpoints.
        db.update(|tx| {
            for i in 0u32..5_000 {
                tx.put(i.to_be_bytes(), [1u8; 100])?;
            }
            Ok::<(), Error>(())
        })
        .unwrap();
        db.update(|tx| tx.put(b"grow", vec![0u8; 300 << 10]))
            .unwrap();
        let before = db.stats().checkpoints_run;
        for c in 0u32..40 {
            db.update(|tx| {
                for i in 0..50u32 {
                    tx.put((i * 97 + c).to_be_bytes(), c.to_le_bytes())?;
                }
                Ok::<(), Error>(())
            })
            .unwrap();
        }
        let n = db.stats().checkpoints_run - before;
        let all = collect(db.begin_read().unwrap().iter()).unwrap();
        (n, all)
    };
    let (small, a) = run("small", 64 << 10);
    let (large, b) = run("large", 1 << 30);
    assert!(small >= 5, "a 64 KiB budget checkpoints often: {small}");
    assert_eq!(large, 0, "a 1 GiB budget never fills here");
    assert_eq!(a, b);
}

/// The log extent (first page, pages) of the newest valid slot in the file
/// at `path` (1 KiB pages).
fn newest_slot_log_extent(path: &std::path::Path) -> (u64, u64) {
    let image = std::fs::read(path).unwrap();
    let (_, slot, _, _) = vellum_tests::util::valid_slots(&image, 1024)
        .into_iter()
        .max_by_key(|(_, s, _, seq)| (s.checkpoint, *seq))
        .expect("a valid slot");
    (slot.log_start, slot.log_pages)
}

/// Opening a database that was closed cleanly replays nothing and runs no
/// checkpoint: the file is byte-for-byte unchanged until the first commit.
#[test]
fn opening_a_cleanly_closed_database_does_not_write_to_it() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    db.close().unwrap();
    let before = std::fs::read(&path).unwrap();
    let db = Db::open(&path).unwrap();
    assert_eq!(db.replayed_on_open(), 0);
    assert_eq!(db.stats().checkpoints_run, 0, "open ran a checkpoint");
    assert!(
        std::fs::read(&path).unwrap() == before,
        "opening a clean file wrote to it"
    );
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
}

/// 1 KiB pages, `Eventual`, a 2 MiB log and a cache of `cache` bytes.
fn small_pages_with_cache(cache: usize) -> Options {
    Options::new()
        .page_size(1024)
        .durability(Durability::Eventual)
        .max_log_size(2 << 20)
        .cache_size(cache)
}

/// Changes held in memory between checkpoints are bounded by half the
/// cache: once the commits since the last checkpoint exceed it, a commit
/// runs a checkpoint although the log still has room.
#[test]
fn a_checkpoint_runs_once_changes_exceed_half_the_cache() {
    let (_d, path) = tmp();
    let batch = |db: &Db, prefix: &str, i: u64| {
        db.update(|tx| tx.put_many((0..100).map(|j| (num_key(prefix, i * 100 + j), [7u8; 100]))))
            .unwrap();
    };
    // With a 64 MiB cache only a full log forces checkpoints: fill it until
    // it has grown to its 2 MiB maximum.
    {
        let db = small_pages_with_cache(64 << 20).open(&path).unwrap();
        for i in 0..400 {
            batch(&db, "w", i);
        }
        assert_eq!(db.stats().log_pages, 2048, "the log reached its maximum");
    }
    // A 256 KiB cache allows 128 KiB of changes between checkpoints.
    let db = small_pages_with_cache(256 << 10).open(&path).unwrap();
    assert_eq!(db.stats().log_pages, 2048);
    // The session's first commit publishes a checkpoint of its own.
    db.update(|tx| tx.put(b"first", b"x")).unwrap();
    let start = db.stats().checkpoints_run;
    let mut committed = 0u64;
    let mut i = 0;
    let mut log_used = 0;
    while db.stats().checkpoints_run == start {
        log_used = db.stats().log_pages_used;
        batch(&db, "d", i);
        i += 1;
        committed += 100 * 100;
        assert!(
            committed <= 256 << 10,
            "no checkpoint after {committed} bytes of values were committed"
        );
    }
    assert!(
        committed >= 64 << 10,
        "a checkpoint ran after only {committed} bytes"
    );
    assert!(log_used < 1024, "the log had room: {log_used} pages used");
    assert!(db.check().unwrap().is_ok());
}

/// However small the cache, 64 pages of changes may accumulate between
/// checkpoints: a tiny cache does not turn every commit into a checkpoint.
#[test]
fn a_tiny_cache_still_lets_changes_accumulate_between_checkpoints() {
    let (_d, path) = tmp();
    let db = small_pages_with_cache(1024).open(&path).unwrap();
    // The session's first commit publishes a checkpoint of its own.
    db.update(|tx| tx.put(b"first", b"x")).unwrap();
    let start = db.stats().checkpoints_run;
    for i in 0..2 {
        db.update(|tx| tx.put_many((0..10).map(|j| (num_key("t", i * 10 + j), [7u8; 100]))))
            .unwrap();
    }
    assert_eq!(
        db.stats().checkpoints_run,
        start,
        "2 KiB of changes forced a checkpoint"
    );
    assert!(db.check().unwrap().is_ok());
}

/// A `MemVfs` enforces the same locks as the operating system's files: one
/// writable handle, or any number of read-only ones.
#[test]
fn mem_vfs_databases_are_locked_like_files() {
    let vfs: std::sync::Arc<dyn vellum::vfs::Vfs> =
        std::sync::Arc::new(vellum::vfs::MemVfs::default());
    let open = |read_only: bool| {
        Options::new()
            .vfs(vfs.clone())
            .read_only(read_only)
            .open("mem.db")
    };
    let db = open(false).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    assert!(matches!(open(false), Err(Error::Locked)));
    let ro = open(true);
    assert!(matches!(ro, Err(Error::Locked)), "{ro:?}");
    drop(db);
    let ro1 = open(true).unwrap();
    let ro2 = open(true).unwrap();
    assert!(matches!(open(false), Err(Error::Locked)));
    assert_eq!(
        ro2.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    drop(ro1);
    assert!(matches!(open(false), Err(Error::Locked)));
    drop(ro2);
    open(false).unwrap();
}

/// The operating system's VFS acts on real files: `exists`, `rename` and
/// `remove` (which the engine itself never calls, but a custom VFS built on
/// it may).
#[test]
fn std_vfs_names_are_the_file_systems() {
    use vellum::vfs::{OpenMode, StdVfs, Vfs};
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(!StdVfs.exists(&a).unwrap());
    let f = StdVfs.open(&a, OpenMode::CreateReadWrite).unwrap();
    f.write_at(b"data", 0).unwrap();
    f.sync().unwrap();
    drop(f);
    assert!(StdVfs.exists(&a).unwrap());
    StdVfs.rename(&a, &b).unwrap();
    StdVfs.sync_dir(&b).unwrap();
    assert!(!a.exists());
    assert_eq!(std::fs::read(&b).unwrap(), b"data");
    StdVfs.remove(&b).unwrap();
    assert!(!b.exists(), "remove deleted the file");
    assert!(!StdVfs.exists(&b).unwrap());
    let e = StdVfs.remove(&b).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}
