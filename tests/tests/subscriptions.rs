//! Change subscriptions: what is delivered (the effective changes under a
//! prefix, once per durable transaction, in commit order), what is not
//! (other buckets and prefixes, aborted and rolled-back changes, commits
//! not yet durable), the bounded buffer (`Lagged` and the resync recipe),
//! and that nothing delivered is lost by a crash.

use std::collections::BTreeMap;
use std::sync::mpsc::TryRecvError;
use std::sync::Arc;

use vellum::{Change, Db, Durability, Event, Options, Subscription};
use vellum_tests::crash_vfs::{CrashVfs, Loss};
use vellum_tests::util::Rng;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn open(dir: &tempfile::TempDir) -> Db {
    Db::open(dir.path().join("db")).unwrap()
}

fn put(k: &[u8], v: &[u8]) -> Change {
    Change::Put {
        key: k.to_vec(),
        value: v.to_vec(),
    }
}

fn del(k: &[u8]) -> Change {
    Change::Delete { key: k.to_vec() }
}

/// Everything buffered now.
fn drain(sub: &Subscription) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        match sub.try_recv() {
            Ok(ev) => out.push(ev),
            Err(TryRecvError::Empty) => return out,
            Err(TryRecvError::Disconnected) => panic!("the database is open"),
        }
    }
}

fn changes(events: Vec<Event>) -> Vec<(u64, Vec<Change>)> {
    events
        .into_iter()
        .map(|ev| match ev {
            Event::Changes { txn, changes } => (txn, changes),
            Event::Lagged { .. } => panic!("unexpected lag"),
        })
        .collect()
}

fn prefix_content(db: &Db, bucket: &[u8], prefix: &[u8]) -> (u64, Model) {
    let tx = db.begin_read().unwrap();
    let b = if bucket.is_empty() {
        tx.default_bucket()
    } else {
        match tx.bucket(bucket) {
            Ok(b) => b,
            Err(_) => return (tx.txn_id(), Model::new()),
        }
    };
    let m = b
        .prefix(prefix)
        .map(|e| {
            let e = e.unwrap();
            (e.key().to_vec(), e.value().to_vec())
        })
        .collect();
    (tx.txn_id(), m)
}

fn apply(m: &mut Model, changes: &[Change]) {
    for c in changes {
        match c {
            Change::Put { key, value } => {
                m.insert(key.clone(), value.clone());
            }
            Change::Delete { key } => {
                m.remove(key);
            }
            Change::BucketDropped => m.clear(),
        }
    }
}

/// A mirror of a prefix kept by the documented recipe.
struct Mirror {
    bucket: Vec<u8>,
    prefix: Vec<u8>,
    map: Model,
    seen: u64,
    lags: u64,
}

impl Mirror {
    fn new(db: &Db, bucket: &[u8], prefix: &[u8]) -> Mirror {
        let (seen, map) = prefix_content(db, bucket, prefix);
        Mirror {
            bucket: bucket.to_vec(),
            prefix: prefix.to_vec(),
            map,
            seen,
            lags: 0,
        }
    }

    fn handle(&mut self, db: &Db, ev: Event) {
        match ev {
            Event::Lagged { resume_after } => {
                self.lags += 1;
                let (seen, map) = prefix_content(db, &self.bucket, &self.prefix);
                assert!(seen >= resume_after, "{seen} < {resume_after}");
                self.seen = seen;
                self.map = map;
            }
            Event::Changes { txn, changes } => {
                if txn > self.seen {
                    apply(&mut self.map, &changes);
                    self.seen = txn;
                }
            }
        }
    }
}

#[test]
fn puts_and_deletes_under_the_prefix_arrive_once_in_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"", b"p/", 100).unwrap();
    db.update(|tx| {
        tx.put(b"p/a", b"1")?;
        tx.put(b"q/a", b"x")?;
        tx.put(b"p/b", b"2")
    })
    .unwrap();
    db.update(|tx| {
        tx.delete(b"p/a")?;
        tx.delete(b"p/zz")?; // absent: no change
        tx.put(b"p/b", b"3")
    })
    .unwrap();
    db.update(|tx| tx.put(b"q/only", b"")).unwrap(); // nothing under p/
    db.update(|tx| tx.delete_range(&b"p/"[..]..&b"p0"[..]).map(|_| ()))
        .unwrap();
    let got = changes(drain(&sub));
    assert_eq!(got.len(), 3);
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(got[0].1, vec![put(b"p/a", b"1"), put(b"p/b", b"2")]);
    assert_eq!(got[1].1, vec![del(b"p/a"), put(b"p/b", b"3")]);
    assert_eq!(got[2].1, vec![del(b"p/b")]);
    assert_eq!(got[2].0, db.begin_read().unwrap().txn_id());
    assert!(got[0].0 > sub.starts_after());
}

#[test]
fn other_buckets_and_prefixes_are_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    // The bucket does not exist yet.
    let users = db.subscribe(b"users", b"a", 100).unwrap();
    let all_users = db.subscribe(b"users", b"", 100).unwrap();
    let default = db.subscribe(b"", b"", 100).unwrap();
    db.update(|tx| {
        let u = tx.create_bucket(b"users")?;
        u.put(b"alice", b"1")?;
        u.put(b"bob", b"2")?;
        tx.create_bucket(b"other")?.put(b"alice", b"3")?;
        tx.put(b"k", b"4")
    })
    .unwrap();
    let got = changes(drain(&users));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec![put(b"alice", b"1")]);
    let got = changes(drain(&all_users));
    assert_eq!(got[0].1, vec![put(b"alice", b"1"), put(b"bob", b"2")]);
    assert_eq!(changes(drain(&default))[0].1, vec![put(b"k", b"4")]);
}

#[test]
fn aborted_and_rolled_back_changes_are_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"", b"", 100).unwrap();
    let tx = db.begin_write().unwrap();
    tx.put(b"aborted", b"").unwrap();
    tx.abort();
    let r = db.update(|tx| {
        tx.put(b"failed", b"")?;
        Err::<(), _>(vellum::Error::WriterBusy)
    });
    assert!(r.is_err());
    let tx = db.begin_write().unwrap();
    tx.put(b"kept", b"1").unwrap();
    let sp = tx.savepoint();
    tx.put(b"rolled back", b"").unwrap();
    tx.delete(b"kept").unwrap();
    tx.rollback_to(&sp).unwrap();
    tx.put(b"after", b"2").unwrap();
    tx.commit().unwrap();
    // A transaction rolled back to its start changes nothing.
    let tx = db.begin_write().unwrap();
    let sp = tx.savepoint();
    tx.put(b"nothing", b"").unwrap();
    tx.rollback_to(&sp).unwrap();
    tx.commit().unwrap();
    let got = changes(drain(&sub));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec![put(b"kept", b"1"), put(b"after", b"2")]);
}

#[test]
fn eventual_commits_arrive_only_once_synced() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .durability(Durability::Eventual)
        .open(dir.path().join("db"))
        .unwrap();
    let sub = db.subscribe(b"", b"", 100).unwrap();
    for i in 0..3u8 {
        db.update(|tx| tx.put([i], [i])).unwrap();
    }
    assert!(db.begin_read().unwrap().contains([2]).unwrap()); // visible...
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty)); // ...not durable
    db.sync().unwrap();
    assert_eq!(changes(drain(&sub)).len(), 3);
    // An Immediate commit's sync covers the Eventual ones before it.
    db.update(|tx| tx.put(b"e", b"")).unwrap();
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    let tx = db.begin_write().unwrap();
    tx.put(b"i", b"").unwrap();
    tx.set_durability(Durability::Immediate);
    tx.commit().unwrap();
    let got = changes(drain(&sub));
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].1, vec![put(b"i", b"")]);
    // A checkpoint makes them durable too.
    db.update(|tx| tx.put(b"c", b"")).unwrap();
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    db.checkpoint().unwrap();
    assert_eq!(changes(drain(&sub)).len(), 1);
}

#[test]
fn commits_never_wait_for_a_subscriber_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"", b"", 2).unwrap();
    for i in 0..1_000u32 {
        db.update(|tx| tx.put(i.to_be_bytes(), b"")).unwrap();
    }
    let last = db.begin_read().unwrap().txn_id();
    let got = drain(&sub);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].txn(), Some(sub.starts_after() + 1));
    assert_eq!(got[1].txn(), Some(sub.starts_after() + 2));
    assert_eq!(got[2], Event::Lagged { resume_after: last });
    // After the lag, events flow again.
    db.update(|tx| tx.put(b"next", b"")).unwrap();
    assert_eq!(drain(&sub)[0].txn(), Some(last + 1));
}

#[test]
fn a_slow_subscriber_resynchronises_to_exactly_the_prefix() {
    resync(Durability::Immediate);
}

/// With `Eventual` commits a resync snapshot may hold transactions not yet
/// durable, whose events arrive later: the recipe skips them.
#[test]
fn a_slow_subscriber_resynchronises_with_eventual_commits() {
    resync(Durability::Eventual);
}

fn resync(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .durability(durability)
        .open(dir.path().join("db"))
        .unwrap();
    let sub = db.subscribe(b"", b"p/", 2).unwrap();
    let mut mirror = Mirror::new(&db, b"", b"p/");
    let write = |db: &Db, seed: u64, n: u64| {
        let mut rng = Rng::new(seed);
        for _ in 0..n {
            db.update(|tx| {
                for _ in 0..1 + rng.below(3) {
                    let k = format!("{}/{}", ["p", "q"][rng.index(2)], rng.below(20));
                    if rng.chance(1, 3) {
                        tx.delete(k)?;
                    } else {
                        tx.put(k, rng.below(1000).to_string())?;
                    }
                }
                Ok(())
            })
            .unwrap();
            if rng.chance(1, 7) {
                db.sync().unwrap();
            }
        }
    };
    // Lags for sure: ten transactions into a buffer of two changes.
    write(&db, 1, 10);
    // Two writers (their commits share syncs), the subscriber reading
    // meanwhile, lagging now and then.
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for seed in [2, 3] {
            let (db, done) = (&db, &done);
            s.spawn(move || {
                write(db, seed, 1_000);
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while done.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            if let Ok(ev) = sub.recv_timeout(std::time::Duration::from_millis(10)) {
                mirror.handle(&db, ev);
            }
        }
    });
    db.sync().unwrap();
    for ev in drain(&sub) {
        mirror.handle(&db, ev);
    }
    assert!(mirror.lags >= 1);
    let (txn, want) = prefix_content(&db, b"", b"p/");
    assert_eq!(mirror.map, want);
    assert!(mirror.seen <= txn);
}

#[test]
fn a_transaction_too_big_for_the_log_and_a_sorted_load_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .page_size(1024)
        .max_log_size(16 * 1024)
        .open(dir.path().join("db"))
        .unwrap();
    let sub = db.subscribe(b"", b"p/", 1_000).unwrap();
    let small = db.subscribe(b"", b"p/", 10).unwrap();
    let loaded = db.subscribe(b"load", b"", 2_000).unwrap();
    let big = |i: u32| (format!("p/{i:05}"), vec![7u8; 100]);
    db.update(|tx| {
        for i in 0..500 {
            let (k, v) = big(i);
            tx.put(k, v)?;
            tx.put(format!("q/{i}"), [0u8; 100])?; // not captured
        }
        Ok(())
    })
    .unwrap();
    let got = changes(drain(&sub));
    assert_eq!(got.len(), 1);
    let want: Vec<Change> = (0..500)
        .map(big)
        .map(|(k, v)| put(k.as_bytes(), &v))
        .collect();
    assert_eq!(got[0].1, want);
    // Past the capacity of a subscription: `Lagged`, never part of it.
    assert_eq!(
        drain(&small),
        vec![Event::Lagged {
            resume_after: got[0].0
        }]
    );
    db.update(|tx| {
        let b = tx.create_bucket(b"load")?;
        b.load_sorted((0..1_500u32).map(|i| (i.to_be_bytes(), [1u8; 8])), 1.0)?;
        // A failed load captures nothing.
        let c = tx.create_bucket(b"load2")?;
        assert!(c.load_sorted([(b"b", b""), (b"a", b"")], 1.0).is_err());
        Ok(())
    })
    .unwrap();
    let got = changes(drain(&loaded));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.len(), 1_500);
    assert_eq!(got[0].1[1_499], put(&1_499u32.to_be_bytes(), &[1u8; 8]));
}

#[test]
fn dropping_the_bucket_delivers_bucket_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"b", b"x", 100).unwrap();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"x1", b""))
        .unwrap();
    db.update(|tx| {
        tx.drop_bucket(b"b")?;
        tx.create_bucket(b"b")?.put(b"x2", b"")
    })
    .unwrap();
    db.update(|tx| tx.drop_bucket(b"b")).unwrap();
    let got = changes(drain(&sub));
    assert_eq!(got[0].1, vec![put(b"x1", b"")]);
    assert_eq!(got[1].1, vec![Change::BucketDropped, put(b"x2", b"")]);
    assert_eq!(got[2].1, vec![Change::BucketDropped]);
}

#[test]
fn concurrent_committers_deliver_every_transaction_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"", b"", 100_000).unwrap();
    const THREADS: u32 = 8;
    const EACH: u32 = 200;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let db = &db;
            s.spawn(move || {
                for i in 0..EACH {
                    db.update(|tx| tx.put(format!("{t}/{i}"), b"")).unwrap();
                }
            });
        }
    });
    let got = changes(drain(&sub));
    assert_eq!(got.len(), (THREADS * EACH) as usize);
    let first = sub.starts_after() + 1;
    for (i, (txn, c)) in got.iter().enumerate() {
        assert_eq!(*txn, first + i as u64, "strictly increasing, none missing");
        assert_eq!(c.len(), 1);
    }
}

#[test]
fn a_subscription_made_during_a_write_transaction_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .page_size(1024)
        .max_log_size(16 * 1024)
        .open(dir.path().join("db"))
        .unwrap();
    // A logged transaction: captured again from its payload at commit.
    let tx = db.begin_write().unwrap();
    tx.put(b"k", b"1").unwrap();
    let sub =
        std::thread::scope(|s| s.spawn(|| db.subscribe(b"", b"", 100).unwrap()).join()).unwrap();
    tx.commit().unwrap();
    assert_eq!(changes(drain(&sub))[0].1, vec![put(b"k", b"1")]);
    // A transaction too big for the log kept no payload: `Lagged`.
    let tx = db.begin_write().unwrap();
    for i in 0..500u32 {
        tx.put(i.to_be_bytes(), [0u8; 100]).unwrap();
    }
    let late =
        std::thread::scope(|s| s.spawn(|| db.subscribe(b"", b"", 100).unwrap()).join()).unwrap();
    tx.commit().unwrap();
    let txn = db.begin_read().unwrap().txn_id();
    assert_eq!(drain(&late), vec![Event::Lagged { resume_after: txn }]);
}

#[test]
fn dropping_unregisters_and_closing_ends_the_iterator() {
    fn is_send<T: Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let sub = db.subscribe(b"", b"", 100).unwrap();
    is_send(&sub);
    drop(db.subscribe(b"", b"", 100).unwrap());
    let reader = std::thread::spawn(move || sub.collect::<Vec<_>>());
    db.update(|tx| tx.put(b"a", b"")).unwrap();
    db.update(|tx| tx.put(b"b", b"")).unwrap();
    db.close().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 2);
}

#[test]
fn closing_delivers_what_the_final_checkpoint_makes_durable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .durability(Durability::Eventual)
        .open(dir.path().join("db"))
        .unwrap();
    let sub = db.subscribe(b"", b"", 100).unwrap();
    db.update(|tx| tx.put(b"a", b"")).unwrap();
    drop(db);
    assert_eq!(sub.count(), 1);
}

/// Every delivered change survives a power cut at any moment: the
/// recovered state is the state after some transaction at least as late as
/// the last one delivered.
#[test]
fn nothing_delivered_is_lost_by_a_crash() {
    let mut rng = Rng::new(12);
    for durability in [Durability::Eventual, Durability::Immediate] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let vfs = CrashVfs::new();
        let db = Options::new()
            .page_size(1024)
            .max_log_size(32 * 1024)
            .cache_size(128 * 1024)
            .durability(durability)
            .vfs(Arc::new(vfs.clone()))
            .open(&path)
            .unwrap();
        let sub = db.subscribe(b"", b"", 10_000).unwrap();
        // The prefix's content after each transaction.
        let mut versions: BTreeMap<u64, Model> = BTreeMap::new();
        let mut model = Model::new();
        versions.insert(db.begin_read().unwrap().txn_id(), model.clone());
        let mut delivered = Model::new();
        let mut last_delivered = sub.starts_after();
        for step in 0..150u64 {
            db.update(|tx| {
                for _ in 0..1 + rng.below(3) {
                    let k = rng.below(40).to_be_bytes();
                    if rng.chance(1, 4) {
                        if tx.delete(k)? {
                            model.remove(&k[..]);
                        }
                    } else {
                        let v = vec![step as u8; rng.below(300) as usize];
                        tx.put(k, &v)?;
                        model.insert(k.to_vec(), v);
                    }
                }
                Ok(())
            })
            .unwrap();
            versions.insert(db.begin_read().unwrap().txn_id(), model.clone());
            match rng.below(10) {
                0 => db.sync().unwrap(),
                1 => db.checkpoint().unwrap(),
                _ => {}
            }
            for (txn, c) in changes(drain(&sub)) {
                assert!(txn > last_delivered);
                apply(&mut delivered, &c);
                last_delivered = txn;
            }
            assert_eq!(delivered, versions[&last_delivered]);
            if step % 5 == 0 {
                let loss = [Loss::AllUnsynced, Loss::RandomSectors][rng.index(2)];
                let image = vfs.crash_image(&path, loss, &mut rng);
                let copy = dir.path().join(format!("crash{step}"));
                std::fs::write(&copy, image).unwrap();
                let db2 = Options::new().page_size(1024).open(&copy).unwrap();
                let (txn, got) = prefix_content(&db2, b"", b"");
                assert!(
                    txn >= last_delivered,
                    "{durability:?} step {step}: recovered up to {txn}, delivered {last_delivered}"
                );
                assert_eq!(got, versions[&txn], "step {step}");
            }
        }
    }
}

#[test]
fn huge_capacities_do_not_overflow_the_pending_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = vellum::Db::open(dir.path().join("db")).unwrap();
    let a = db.subscribe(b"", b"", usize::MAX).unwrap();
    let b = db.subscribe(b"", b"", usize::MAX).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    db.update(|tx| tx.put(b"k2", b"v")).unwrap();
    for sub in [&a, &b] {
        let txns: Vec<_> = std::iter::from_fn(|| sub.try_recv().ok())
            .map(|e| e.txn().unwrap())
            .collect();
        assert_eq!(txns.len(), 2, "{txns:?}");
    }
}
