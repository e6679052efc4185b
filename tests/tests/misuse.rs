//! Misuse gets a clear answer: nested write transactions, closing a
//! database something still holds, stale bucket handles, oversized keys on
//! reads, bucket names in errors and I/O errors that name the file.

use std::sync::mpsc;
use std::time::Duration;

use vellum::{Db, Error};

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("db")).unwrap();
    (dir, db)
}

#[test]
fn a_nested_write_on_the_same_thread_is_an_error_not_a_deadlock() {
    let (_dir, db) = open();
    let r = db.update(|tx| {
        tx.put(b"outer", b"1")?;
        assert!(matches!(db.begin_write(), Err(Error::NestedWrite)));
        assert!(matches!(db.try_begin_write(), Err(Error::NestedWrite)));
        assert!(matches!(db.checkpoint(), Err(Error::NestedWrite)));
        assert!(matches!(
            db.update(|tx| tx.put(b"inner", b"2")),
            Err(Error::NestedWrite)
        ));
        Ok(())
    });
    r.unwrap();
    // The outer transaction committed; nothing of the inner one exists, and
    // the writer is free again.
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(b"outer").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(tx.get(b"inner").unwrap().is_none());
    db.update(|tx| tx.put(b"after", b"3")).unwrap();
    db.checkpoint().unwrap();
}

#[test]
fn another_thread_still_waits_for_the_writer() {
    let (_dir, db) = open();
    let tx = db.begin_write().unwrap();
    tx.put(b"a", b"1").unwrap();
    let (sent, got) = mpsc::channel();
    let waiter = {
        let db = db.clone();
        std::thread::spawn(move || {
            assert!(matches!(db.try_begin_write(), Err(Error::WriterBusy)));
            // Blocks until the first transaction ends, then sees its commit.
            db.update(|tx| {
                let seen = tx.get(b"a")?.map(|v| v.to_vec());
                tx.put(b"b", b"2")?;
                Ok(seen)
            })
            .map(|seen| sent.send(seen).unwrap())
        })
    };
    assert!(got.recv_timeout(Duration::from_millis(200)).is_err());
    tx.commit().unwrap();
    waiter.join().unwrap().unwrap();
    assert_eq!(got.recv().unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn close_says_when_the_database_is_still_held() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();

    let clone = db.clone();
    assert!(matches!(clone.close(), Err(Error::StillOpen { others: 1 })));
    let reader = db.begin_read().unwrap();
    let writer_db = db.clone();
    let err = writer_db.close().unwrap_err();
    assert!(matches!(err, Error::StillOpen { others: 2 }), "{err:?}");
    assert!(err.to_string().contains("2 other"), "{err}");
    // Still open and locked: a second open is refused.
    assert!(matches!(Db::open(&path), Err(Error::Locked)));
    drop(reader);
    db.close().unwrap();
    // Closed: the lock is gone and the data is there, with nothing to replay.
    let db = Db::open(&path).unwrap();
    assert_eq!(db.replayed_on_open(), 0);
    assert_eq!(
        db.begin_read().unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let tx = db.begin_write().unwrap();
    assert!(matches!(
        db.clone().close(),
        Err(Error::StillOpen { others: 2 })
    ));
    drop(tx);
    db.close().unwrap();
}

#[test]
fn a_handle_to_a_dropped_bucket_is_stale_even_after_it_is_recreated() {
    let (_dir, db) = open();
    db.update(|tx| {
        tx.create_bucket("logs")?.put(b"old", b"1")?;
        tx.create_bucket("other")?.put(b"x", b"1")
    })
    .unwrap();
    let tx = db.begin_write().unwrap();
    let old = tx.bucket("logs").unwrap();
    let other = tx.bucket("other").unwrap();
    tx.drop_bucket("logs").unwrap();
    // Dropped and not recreated: stale, not "not found".
    assert!(matches!(old.get(b"old"), Err(Error::BucketDropped(ref n)) if n == b"logs"));
    let new = tx.create_bucket("logs").unwrap();
    for r in [
        old.put(b"k", b"v").map(|_| ()),
        old.delete(b"old").map(|_| ()),
        old.get(b"old").map(|_| ()),
        old.len().map(|_| ()),
        old.iter().map(|_| ()),
        old.insert_if_absent(b"k", b"v").map(|_| ()),
        old.load_sorted([(b"a", b"1")], 1.0).map(|_| ()),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::BucketDropped(_)), "{e:?}");
        assert!(e.to_string().contains("\"logs\""), "{e}");
    }
    // The other bucket's handle is unaffected; the new handle works.
    other.put(b"y", b"2").unwrap();
    new.put(b"new", b"2").unwrap();
    // Dropping the new one too makes it stale; a handle opened afterwards
    // for a third incarnation works.
    tx.drop_bucket("logs").unwrap();
    assert!(matches!(new.len(), Err(Error::BucketDropped(_))));
    let third = tx.create_bucket("logs").unwrap();
    third.put(b"third", b"3").unwrap();
    tx.commit().unwrap();

    let r = db.begin_read().unwrap();
    let logs: Vec<_> = r
        .bucket("logs")
        .unwrap()
        .iter()
        .map(|e| e.unwrap().into_pair())
        .collect();
    assert_eq!(logs, vec![(b"third".to_vec(), b"3".to_vec())]);
    assert_eq!(r.bucket("other").unwrap().len(), 2);
}

#[test]
fn every_operation_taking_a_key_rejects_an_oversized_one() {
    let (_dir, db) = open();
    let max = db.limits().max_key_len;
    let long = vec![7u8; max + 1];
    let ok = vec![7u8; max];
    let too_large = |r: Result<(), Error>| matches!(r, Err(Error::KeyTooLarge { len, max: m }) if len == max + 1 && m == max);
    db.update(|tx| {
        tx.create_bucket("b")?;
        tx.put(&ok, b"v")
    })
    .unwrap();
    let tx = db.begin_write().unwrap();
    let b = tx.bucket("b").unwrap();
    assert!(too_large(tx.get(&long).map(|_| ())));
    assert!(too_large(tx.contains(&long).map(|_| ())));
    assert!(too_large(tx.put(&long, b"v")));
    assert!(too_large(tx.delete(&long).map(|_| ())));
    assert!(too_large(tx.insert_if_absent(&long, b"v").map(|_| ())));
    assert!(too_large(b.get(&long).map(|_| ())));
    assert!(too_large(b.contains(&long).map(|_| ())));
    assert!(too_large(b.put(&long, b"v")));
    assert!(too_large(b.delete(&long).map(|_| ())));
    assert!(tx.get(&ok).unwrap().is_some());
    drop(tx);
    let r = db.begin_read().unwrap();
    assert!(too_large(r.get(&long).map(|_| ())));
    assert!(too_large(r.contains(&long).map(|_| ())));
    assert!(too_large(r.bucket("b").unwrap().get(&long).map(|_| ())));
    assert!(r.get(&ok).unwrap().is_some());
    // Range bounds are positions, not keys: any length is accepted.
    assert_eq!(r.range(long.as_slice()..).count(), 0);
    assert_eq!(r.range(..long.as_slice()).count(), 1);
}

#[test]
fn bucket_names_print_as_text() {
    let (_dir, db) = open();
    let tx = db.begin_read().unwrap();
    let Err(e) = tx.bucket("users") else {
        panic!("no such bucket")
    };
    assert_eq!(format!("{e:?}"), r#"BucketNotFound("users")"#);
    assert_eq!(e.to_string(), r#"bucket "users" not found"#);
    let Err(e) = tx.bucket([0xff, b'a']) else {
        panic!("no such bucket")
    };
    assert_eq!(format!("{e:?}"), r#"BucketNotFound(b"\xffa")"#);
    let e = db
        .update(|tx| {
            tx.create_bucket("x")?;
            tx.create_bucket("x").map(|_| ())
        })
        .unwrap_err();
    assert_eq!(format!("{e:?}"), r#"BucketExists("x")"#);
}

#[test]
fn io_errors_name_the_operation_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the database file should be.
    let path = dir.path().join("a-directory");
    std::fs::create_dir(&path).unwrap();
    let e = Db::open(&path).unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("a-directory"), "{msg}");
    assert!(msg.contains("open") || msg.contains("read"), "{msg}");
    assert!(e.raw_os_error().is_some(), "{e:?}");
    // A missing directory: the OS code is still there (ENOENT on Unix).
    let missing = dir.path().join("no").join("such").join("db");
    let e = Db::open(&missing).unwrap_err();
    assert!(e.to_string().contains("such"), "{e}");
    #[cfg(unix)]
    assert_eq!(e.raw_os_error(), Some(2));
}

#[test]
fn closures_need_no_error_annotation() {
    let (_dir, db) = open();
    db.update(|tx| {
        tx.put(b"a", b"1")?;
        tx.create_bucket("b")?.put(b"k", b"v")?;
        Ok(())
    })
    .unwrap();
    let n = db.view(|tx| Ok(tx.len() + tx.bucket("b")?.len())).unwrap();
    assert_eq!(n, 2);
}

#[test]
fn creating_never_replaces_a_file_another_handle_holds() {
    use std::sync::Arc;
    use vellum::vfs::{LockKind, MemVfs, OpenMode, Vfs};
    let vfs = MemVfs::default();
    // An empty file (what a creation looks for) that someone holds locked.
    let held = vfs.open("db".as_ref(), OpenMode::CreateReadWrite).unwrap();
    assert!(held.try_lock(LockKind::Exclusive).unwrap());
    held.write_at(b"", 0).unwrap();
    let opts = || vellum::Options::new().vfs(Arc::new(vfs.clone()));
    assert!(matches!(opts().open("db"), Err(Error::Locked)));
    // Not replaced: the holder's file is the one at the path.
    held.write_at(b"mine", 0).unwrap();
    let again = vfs.open("db".as_ref(), OpenMode::ReadOnly).unwrap();
    let mut buf = [0u8; 4];
    again.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"mine");
    held.set_len(0).unwrap();
    held.unlock().unwrap();
    // Released and empty: the open creates the database.
    let db = opts().open("db").unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
}

#[test]
fn rolling_back_a_drop_makes_the_old_handle_valid_again() {
    let (_dir, db) = open();
    db.update(|tx| tx.create_bucket("b")?.put(b"k", b"1"))
        .unwrap();
    let tx = db.begin_write().unwrap();
    let b = tx.bucket("b").unwrap();
    let sp = tx.savepoint();
    tx.drop_bucket("b").unwrap();
    assert!(matches!(b.get(b"k"), Err(Error::BucketDropped(_))));
    tx.rollback_to(&sp).unwrap();
    assert_eq!(b.get(b"k").unwrap().as_deref(), Some(&b"1"[..]));
    b.put(b"k", b"2").unwrap();
    tx.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.bucket("b").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

#[test]
fn a_handle_to_a_bucket_created_after_a_rolled_back_savepoint_stays_stale() {
    let (_dir, db) = open();
    let tx = db.begin_write().unwrap();
    let sp = tx.savepoint();
    let h = tx.create_bucket("a").unwrap();
    h.put(b"k", b"1").unwrap();
    tx.rollback_to(&sp).unwrap();
    // The bucket h was opened for is gone with the rollback.
    assert!(matches!(h.get(b"k"), Err(Error::BucketDropped(_))));
    let again = tx.create_bucket("a").unwrap();
    assert!(matches!(h.put(b"k", b"2"), Err(Error::BucketDropped(_))));
    again.put(b"k", b"3").unwrap();
    tx.commit().unwrap();
    let r = db.begin_read().unwrap();
    assert_eq!(
        r.bucket("a").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"3"[..])
    );
    // A handle opened in a later transaction for the committed bucket works
    // until that bucket is dropped and created again.
    let tx = db.begin_write().unwrap();
    let h = tx.bucket("a").unwrap();
    h.put(b"k", b"4").unwrap();
    tx.drop_bucket("a").unwrap();
    tx.create_bucket("a").unwrap();
    assert!(matches!(h.get(b"k"), Err(Error::BucketDropped(_))));
}
