//! `load_sorted`: a bottom-up load of sorted entries into an empty bucket.
//! The result reads like the same entries put one by one, survives a crash
//! once committed, packs pages to the fill asked for, and bad input is a
//! typed error that loads nothing and leaves the transaction usable.

use vellum::{Db, Durability, Error, Options};

fn key(i: u64) -> [u8; 8] {
    (i * 3).to_be_bytes()
}

fn value(i: u64) -> Vec<u8> {
    // Mostly small values, some past the inline limit (overflow runs).
    let len = if i.is_multiple_of(997) {
        5000
    } else {
        20 + (i % 50) as usize
    };
    vec![(i % 251) as u8; len]
}

fn open(path: &std::path::Path) -> Db {
    Options::new()
        .durability(Durability::Immediate)
        .open(path)
        .unwrap()
}

#[test]
fn a_loaded_bucket_reads_back_every_entry_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = open(&path);
    const N: u64 = 50_000;
    db.update(|tx| {
        let b = tx.create_bucket("loaded")?;
        assert_eq!(b.load_sorted((0..N).map(|i| (key(i), value(i))), 1.0)?, N);
        // The transaction sees the load and can go on writing.
        assert_eq!(b.len()?, N);
        b.put(key(N), b"after the load")?;
        assert_eq!(b.get(key(7))?.unwrap().to_vec(), value(7));
        Ok::<_, Error>(())
    })
    .unwrap();
    let image = dir.path().join("image");
    std::fs::copy(&path, &image).unwrap();
    assert!(db.check().unwrap().is_ok());
    drop(db);
    for p in [&path, &image] {
        let db = open(p);
        let tx = db.begin_read().unwrap();
        let b = tx.bucket("loaded").unwrap();
        assert_eq!(b.len(), N + 1);
        let mut i = 0;
        for e in b.iter() {
            let e = e.unwrap();
            if i < N {
                assert_eq!(e.key(), &key(i)[..]);
                assert_eq!(e.value().to_vec(), value(i));
            }
            i += 1;
        }
        assert_eq!(i, N + 1);
        assert!(db.check().unwrap().is_ok());
    }
}

#[test]
fn bad_input_is_a_typed_error_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    let tx = db.begin_write().unwrap();
    let b = tx.create_bucket("b").unwrap();
    let out_of_order = (0..100u64).map(|i| (key(if i == 60 { 59 } else { i }), b"v"));
    assert!(matches!(
        b.load_sorted(out_of_order, 1.0),
        Err(Error::NotSorted { index: 60 })
    ));
    let duplicate = [(b"a", b"1"), (b"b", b"2"), (b"b", b"3")];
    assert!(matches!(
        b.load_sorted(duplicate, 1.0),
        Err(Error::NotSorted { index: 2 })
    ));
    let long = vec![b'k'; db.limits().max_key_len + 1];
    assert!(matches!(
        b.load_sorted([(b"a".to_vec(), b"1"), (long, b"2")], 1.0),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(b.is_empty().unwrap(), "a failed load loads nothing");
    // The transaction is still usable; a non-empty bucket is refused.
    b.put(b"x", b"y").unwrap();
    assert!(matches!(
        b.load_sorted([(b"y", b"1")], 1.0),
        Err(Error::BucketNotEmpty(n)) if n == b"b"
    ));
    assert!(matches!(
        tx.bucket("missing").map(|_| ()),
        Err(Error::BucketNotFound(_))
    ));
    tx.commit().unwrap();
    let tx = db.begin_read().unwrap();
    let b = tx.bucket("b").unwrap();
    assert_eq!(b.len(), 1);
    assert!(b.get(b"x").unwrap().is_some());
}

#[test]
fn an_aborted_load_leaves_nothing_and_an_empty_load_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir.path().join("db"));
    {
        let tx = db.begin_write().unwrap();
        tx.load_sorted((0..1000u64).map(|i| (key(i), value(i))), 1.0)
            .unwrap();
        assert_eq!(tx.len().unwrap(), 1000);
        tx.abort();
    }
    assert!(db.begin_read().unwrap().is_empty());
    db.update(|tx| {
        assert_eq!(
            tx.load_sorted(std::iter::empty::<(&[u8], &[u8])>(), 1.0)?,
            0
        );
        Ok::<_, Error>(())
    })
    .unwrap();
    assert!(db.begin_read().unwrap().is_empty());
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn fill_sets_how_full_the_pages_are() {
    // The same entries at fill 1.0 take fewer pages than at 0.5, and at 1.0
    // fewer than inserting them one by one (whose splits leave pages half
    // full).
    let pages = |how: &str| {
        let dir = tempfile::tempdir().unwrap();
        let db = open(&dir.path().join("db"));
        let entries = || (0..20_000u64).map(|i| (key(i), [7u8; 40]));
        db.update(|tx| {
            match how {
                "put" => tx.put_many(entries())?,
                "1.0" => drop(tx.load_sorted(entries(), 1.0)?),
                _ => drop(tx.load_sorted(entries(), 0.5)?),
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        db.checkpoint().unwrap();
        db.check().unwrap().tree_pages
    };
    let (full, half, put) = (pages("1.0"), pages("0.5"), pages("put"));
    assert!(full < put, "fill 1.0: {full} pages, one by one: {put}");
    assert!(
        half as f64 > 1.7 * full as f64,
        "fill 0.5: {half} pages, fill 1.0: {full}"
    );
}
