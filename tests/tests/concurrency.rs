//! Snapshots under concurrent writes, group commit, and the threading
//! guarantees of `Db`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use vellum::{Db, Durability, Error, Options, ReadTxn};
use vellum_tests::fail_vfs::{FailVfs, FileOp};
use vellum_tests::util::{assert_check_ok, num_key, owned_value};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

#[test]
fn db_is_send_sync_and_clone() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync_clone::<Db>();
    assert_send_sync::<Error>();
    assert_send_sync::<Options>();
    // A snapshot can be handed to another thread, and shared by several.
    assert_send_sync::<ReadTxn>();
    fn assert_send<T: Send>() {}
    assert_send::<vellum::WriteTxn>();
}

#[test]
fn a_snapshot_moves_to_another_thread() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"1")).unwrap();
    let snap = db.begin_read().unwrap();
    db.update(|tx| tx.put(b"k", b"2")).unwrap();
    let snap = Arc::new(snap);
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let snap = snap.clone();
            thread::spawn(move || snap.get(b"k").unwrap().map(|v| v.to_vec()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().as_deref(), Some(&b"1"[..]));
    }
}

#[test]
fn check_runs_while_writers_commit() {
    let (_d, path) = tmp();
    let db = Options::new()
        .page_size(1024)
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        let progress = progress.clone();
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                db.update(|tx| {
                    tx.put(num_key("k", i % 700), vec![i as u8; (i % 200) as usize])?;
                    if i.is_multiple_of(3) {
                        tx.delete(num_key("k", (i * 7) % 700))?;
                    }
                    Ok::<_, Error>(())
                })
                .unwrap();
                if i % 50 == 49 {
                    db.checkpoint().unwrap();
                }
                i += 1;
                progress.store(i, Ordering::Release);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while progress.load(Ordering::Acquire) < 100 {
        assert!(Instant::now() < deadline, "the writer makes no progress");
        thread::yield_now();
    }
    let start = progress.load(Ordering::Acquire);
    let mut checks = 0;
    while checks < 20 || progress.load(Ordering::Acquire) < start + 300 {
        assert!(
            Instant::now() < deadline,
            "the writer starves while check() runs"
        );
        let report = db.check().unwrap();
        assert!(report.is_ok(), "check during commits: {report}");
        checks += 1;
    }
    stop.store(true, Ordering::Release);
    writer.join().unwrap();
    assert_check_ok(&db);
}

const KEYS: u64 = 300;
const BUCKET_KEYS: u64 = 100;

/// The value every key holds in generation `g` (some large enough to live
/// in overflow pages).
fn gen_value(g: u64, i: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&g.to_le_bytes());
    v.extend_from_slice(&i.to_le_bytes());
    let pad = if i.is_multiple_of(97) {
        3000
    } else {
        (i % 40) as usize
    };
    v.extend(std::iter::repeat_n((g ^ i) as u8, pad));
    v
}

/// Keys `var*` present in generation `g`: the tree shape changes too.
fn var_count(g: u64) -> u64 {
    (g * 7) % 60
}

fn write_generation(db: &Db, g: u64) {
    db.update(|tx| {
        tx.put(b"gen", g.to_le_bytes())?;
        for i in 0..KEYS {
            tx.put(num_key("k", i), gen_value(g, i))?;
        }
        for j in 0..60 {
            if j < var_count(g) {
                tx.put(num_key("var", j), gen_value(g, j))?;
            } else {
                tx.delete(num_key("var", j))?;
            }
        }
        let b = tx.create_bucket_if_missing(b"b")?;
        for i in 0..BUCKET_KEYS {
            b.put(num_key("b", i), gen_value(g, i + 1000))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Checks that everything a snapshot shows belongs to one generation;
/// returns it.
fn verify_snapshot(tx: &ReadTxn) -> u64 {
    let g = match tx.get(b"gen").unwrap().map(|v| v.to_vec()) {
        None => {
            assert_eq!(tx.len(), 0, "no generation yet, but keys exist");
            return 0;
        }
        Some(v) => u64::from_le_bytes(v.try_into().unwrap()),
    };
    let n_var = var_count(g);
    assert_eq!(tx.len(), 1 + KEYS + n_var, "len of generation {g}");
    // Point reads.
    for i in [0, 1, KEYS / 2, 97, KEYS - 1] {
        assert_eq!(
            tx.get(num_key("k", i)).unwrap().map(|v| v.to_vec()),
            Some(gen_value(g, i)),
            "gen {g} key {i}"
        );
    }
    // Full scan: keys and values of generation g only.
    let mut n = 0;
    for e in tx.iter() {
        let (k, v) = e.unwrap().into_pair();
        n += 1;
        if k == b"gen" {
            continue;
        }
        let i: u64 = std::str::from_utf8(&k[k.len() - 8..])
            .unwrap()
            .parse()
            .unwrap();
        if k.starts_with(b"var") {
            assert!(i < n_var, "gen {g}: stray key {k:?}");
        }
        assert_eq!(
            v,
            gen_value(g, i),
            "gen {g}: key {:?}",
            String::from_utf8_lossy(&k)
        );
    }
    assert_eq!(n, 1 + KEYS + n_var, "gen {g}: scan count");
    // A reverse scan of the bucket.
    let b = tx.bucket(b"b").unwrap();
    assert_eq!(b.len(), BUCKET_KEYS);
    let mut i = BUCKET_KEYS;
    for e in b.iter().rev() {
        let (k, v) = e.unwrap().into_pair();
        i -= 1;
        assert_eq!(k, num_key("b", i));
        assert_eq!(v, gen_value(g, i + 1000), "gen {g}: bucket key {i}");
    }
    assert_eq!(i, 0);
    g
}

fn run_snapshot_stress(path: &Path, durability: Durability, generations: u64, readers: usize) {
    let db = Options::new()
        .page_size(1024)
        .cache_size(128 * 1024)
        .max_log_size(32 * 1024)
        .durability(durability)
        .open(path)
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for r in 0..readers {
        let db = db.clone();
        let done = done.clone();
        let committed = committed.clone();
        let checks = checks.clone();
        handles.push(thread::spawn(move || {
            let mut held: Vec<(ReadTxn, u64)> = Vec::new();
            let mut last_seen = 0;
            let mut round = 0u64;
            let mut distinct = 0u64;
            while !done.load(Ordering::Acquire) || round < 3 {
                round += 1;
                let floor = committed.load(Ordering::Acquire);
                let tx = db.begin_read().unwrap();
                let g = verify_snapshot(&tx);
                assert!(
                    g >= floor,
                    "reader {r}: saw gen {g} after gen {floor} was acknowledged"
                );
                assert!(
                    g >= last_seen,
                    "reader {r}: generations went backwards {last_seen} -> {g}"
                );
                distinct += (g != last_seen) as u64;
                last_seen = g;
                // Older snapshots still show exactly their generation.
                for (old, og) in &held {
                    assert_eq!(
                        verify_snapshot(old),
                        *og,
                        "reader {r}: a held snapshot changed"
                    );
                }
                held.push((tx, g));
                if held.len() > 2 + r % 3 {
                    held.remove(0);
                }
                checks.fetch_add(1, Ordering::Relaxed);
            }
            for (old, og) in &held {
                assert_eq!(verify_snapshot(old), *og);
            }
            distinct
        }));
    }
    for g in 1..=generations {
        write_generation(&db, g);
        committed.store(g, Ordering::Release);
        if g % 10 == 0 {
            db.checkpoint().unwrap();
        }
        // Let the readers run between commits (bounded), so that they see
        // several generations even when the machine is busy and this
        // thread would otherwise commit them all before a reader wakes.
        let before = checks.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_millis(20);
        while checks.load(Ordering::Relaxed) < before + readers as u64 && Instant::now() < deadline
        {
            thread::yield_now();
        }
    }
    done.store(true, Ordering::Release);
    let mut distinct = 0;
    for h in handles {
        distinct += h.join().expect("a reader thread failed");
    }
    assert!(checks.load(Ordering::Relaxed) >= readers as u64 * 3);
    assert!(distinct >= 2, "readers ran concurrently with the writer");
    assert_eq!(verify_snapshot(&db.begin_read().unwrap()), generations);
    assert_check_ok(&db);
    drop(db);
    let db = Db::open(path).unwrap();
    assert_eq!(verify_snapshot(&db.begin_read().unwrap()), generations);
    assert_check_ok(&db);
}

#[test]
fn snapshots_never_change_under_concurrent_commits_eventual() {
    let (_d, path) = tmp();
    run_snapshot_stress(&path, Durability::Eventual, 300, 4);
}

#[test]
fn snapshots_never_change_under_concurrent_commits_immediate() {
    let (_d, path) = tmp();
    run_snapshot_stress(&path, Durability::Immediate, 80, 3);
}

#[test]
fn concurrent_updates_all_land_and_share_syncs() {
    let (_d, path) = tmp();
    let vfs = FailVfs::new();
    let faults = vfs.faults();
    let db = Options::new().vfs(Arc::new(vfs)).open(&path).unwrap();
    const THREADS: u64 = 8;
    const EACH: u64 = 40;
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let syncs_before = faults.calls(FileOp::Sync);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    db.update(|tx| tx.put(format!("t{t}-{i:04}"), i.to_le_bytes()))
                        .unwrap();
                    // Acknowledged: visible to a new reader at once.
                    assert!(db.view(|tx| tx.contains(format!("t{t}-{i:04}"))).unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = faults.calls(FileOp::Sync) - syncs_before;
    let commits = THREADS * EACH;
    assert_eq!(db.begin_read().unwrap().len(), commits);
    assert!(
        syncs < commits,
        "group commit: {syncs} syncs for {commits} concurrent commits"
    );
    drop(db);
    let db = Db::open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.len(), commits);
    for t in 0..THREADS {
        for i in 0..EACH {
            assert_eq!(
                tx.get(format!("t{t}-{i:04}")).unwrap().map(|v| v.to_vec()),
                Some(i.to_le_bytes().to_vec())
            );
        }
    }
    drop(tx);
    assert_check_ok(&db);
}

/// Concurrent committers while commits keep triggering checkpoints (tiny
/// log and cache): every acknowledged commit is visible and survives.
#[test]
fn concurrent_updates_with_checkpoints_in_the_commit_path() {
    let (_d, path) = tmp();
    let open = || {
        Options::new()
            .page_size(1024)
            .cache_size(64 * 1024)
            .max_log_size(8 * 1024)
            .open(&path)
            .unwrap()
    };
    let db = open();
    let handles: Vec<_> = (0..6u64)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..40u64 {
                    let k = format!("t{t}-{i:04}");
                    let v = vec![(t * 40 + i) as u8; ((t * 97 + i * 31) % 1500) as usize];
                    db.update(|tx| tx.put(&k, &v)).unwrap();
                    assert_eq!(db.view(|tx| tx.get(&k).map(owned_value)).unwrap(), Some(v));
                    if i % 13 == 0 {
                        db.checkpoint().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(db.begin_read().unwrap().len(), 240);
    assert_check_ok(&db);
    drop(db);
    let db = open();
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.len(), 240);
    for t in 0..6u64 {
        for i in 0..40u64 {
            let v = tx
                .get(format!("t{t}-{i:04}"))
                .unwrap()
                .map(|v| v.to_vec())
                .unwrap();
            assert_eq!(
                v,
                vec![(t * 40 + i) as u8; ((t * 97 + i * 31) % 1500) as usize]
            );
        }
    }
    drop(tx);
    assert_check_ok(&db);
}

#[test]
fn read_modify_write_updates_are_serialised() {
    let (_d, path) = tmp();
    let db = Options::new()
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    const THREADS: u64 = 8;
    const EACH: u64 = 100;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || {
                for _ in 0..EACH {
                    db.update(|tx| {
                        let n = tx
                            .get(b"counter")?
                            .map_or(0, |v| u64::from_le_bytes(v[..].try_into().unwrap()));
                        tx.put(b"counter", (n + 1).to_le_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let v = db
        .view(|tx| tx.get(b"counter").map(owned_value))
        .unwrap()
        .unwrap();
    assert_eq!(u64::from_le_bytes(v.try_into().unwrap()), THREADS * EACH);
}

#[test]
fn a_reader_started_after_commit_returns_sees_it() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        let (_d, path) = tmp();
        let db = Options::new().durability(durability).open(&path).unwrap();
        let (tx_send, rx) = mpsc::channel::<u64>();
        let reader_db = db.clone();
        let reader = thread::spawn(move || {
            for i in rx {
                let tx = reader_db.begin_read().unwrap();
                assert!(
                    tx.contains(num_key("k", i)).unwrap(),
                    "{durability:?}: commit {i} not visible"
                );
                assert!(tx.len() > i);
            }
        });
        for i in 0..150 {
            db.update(|tx| tx.put(num_key("k", i), b"v")).unwrap();
            if i % 50 == 49 {
                db.checkpoint().unwrap();
            }
            tx_send.send(i).unwrap();
        }
        drop(tx_send);
        reader.join().unwrap();
    }
}

#[test]
fn readers_are_not_blocked_by_an_open_writer_and_vice_versa() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"committed")).unwrap();
    let w = db.begin_write().unwrap();
    w.put(b"k", b"uncommitted").unwrap();
    let (send, recv) = mpsc::channel();
    let db2 = db.clone();
    thread::spawn(move || {
        let tx = db2.begin_read().unwrap();
        let v = tx.get(b"k").unwrap().map(|v| v.to_vec());
        let n = tx.iter().count();
        send.send((v, n)).unwrap();
    });
    let (v, n) = recv
        .recv_timeout(Duration::from_secs(10))
        .expect("a reader blocked behind the writer");
    assert_eq!(v.as_deref(), Some(&b"committed"[..]));
    assert_eq!(n, 1);
    w.commit().unwrap();
    // A long-lived reader does not block commits or checkpoints.
    let old = db.begin_read().unwrap();
    let started = Instant::now();
    for i in 0..50u64 {
        db.update(|tx| tx.put(num_key("n", i), [0u8; 100])).unwrap();
    }
    db.checkpoint().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(old.get(b"k").unwrap().as_deref(), Some(&b"uncommitted"[..]));
    assert_eq!(old.len(), 1);
}

/// A snapshot holding a bucket that is then dropped and whose pages are
/// freed keeps reading the right data while other threads write enough to
/// reuse every free page.
#[test]
fn long_lived_snapshot_survives_bucket_drop_and_page_reuse() {
    let (_d, path) = tmp();
    let db = Options::new()
        .page_size(1024)
        .cache_size(64 * 1024)
        .durability(Durability::Eventual)
        .open(&path)
        .unwrap();
    let value = |i: u64| -> Vec<u8> {
        let len = if i.is_multiple_of(10) { 2500 } else { 40 };
        (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
    };
    db.update(|tx| {
        let b = tx.create_bucket(b"doomed")?;
        for i in 0..800 {
            b.put(num_key("d", i), value(i))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.checkpoint().unwrap();
    let snap = db.begin_read().unwrap();
    db.update(|tx| tx.drop_bucket(b"doomed")).unwrap();
    db.checkpoint().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2u64)
        .map(|t| {
            let db = db.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Acquire) && round < 400 {
                    db.update(|tx| {
                        for i in 0..40 {
                            tx.put(
                                num_key(&format!("w{t}-"), (round * 40 + i) % 2000),
                                [round as u8; 90],
                            )?;
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                    if round.is_multiple_of(5) {
                        db.checkpoint().unwrap();
                    }
                    round += 1;
                }
            })
        })
        .collect();
    for _ in 0..6 {
        let b = snap.bucket(b"doomed").unwrap();
        assert_eq!(b.len(), 800);
        let mut n = 0;
        for e in b.iter() {
            let (k, v) = e.unwrap().into_pair();
            assert_eq!(k, num_key("d", n));
            assert!(
                v == value(n),
                "snapshot value of key {n} changed under page reuse"
            );
            n += 1;
        }
        assert_eq!(n, 800);
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Release);
    for w in writers {
        w.join().unwrap();
    }
    assert!(db.begin_read().unwrap().bucket(b"doomed").is_err());
    drop(snap);
    assert_check_ok(&db);
}

#[test]
fn clones_used_from_many_threads_close_on_last_drop() {
    let (_d, path) = tmp();
    let db = Db::open(&path).unwrap();
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                for i in 0..20 {
                    db.update(|tx| tx.put(num_key(&format!("t{t}-"), i), b"x"))
                        .unwrap();
                }
                // Each thread drops its clone here.
            })
        })
        .collect();
    drop(db);
    for h in handles {
        h.join().unwrap();
    }
    // Every clone is gone: the file is closed and unlocked.
    let db = Db::open(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 80);
    assert_eq!(db.replayed_on_open(), 0, "the last drop checkpointed");
}
