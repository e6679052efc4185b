//! Bucket sequences (`next_id`, `sequence`, `set_sequence`; FORMAT.md
//! §1.7, §2.2 op 5, §6 S9): ids 1, 2, 3, ... in order across commits,
//! checkpoints and reopens; an aborted transaction's ids come again; many
//! threads get distinct ids; no crash image loses an acknowledged durable
//! id; a dropped bucket's sequence goes with it; a crafted log record that
//! does not raise a sequence fails the open with `Error::Corruption`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use vellum::checksum::checksum;
use vellum::page::log_record::{RecordHeader, HEADER_LEN};
use vellum::{Db, Durability, Error, Options};
use vellum_tests::crash_vfs::{CrashVfs, Loss};
use vellum_tests::util::Rng;

const PS: usize = 1024;

fn opts() -> Options {
    Options::new()
        .page_size(PS)
        .max_log_size(16 * 1024)
        .cache_size(64 * 1024)
}

fn tmp() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("db");
    (d, p)
}

fn seq_of(db: &Db, bucket: &str) -> u64 {
    let tx = db.begin_read().unwrap();
    if bucket.is_empty() {
        tx.sequence()
    } else {
        tx.bucket(bucket).unwrap().sequence()
    }
}

#[test]
fn ids_count_up_across_commits_checkpoints_and_reopens() {
    let (_d, path) = tmp();
    let mut expect_default = 0u64;
    let mut expect_named = 0u64;
    for round in 0..6 {
        let db = opts().open(&path).unwrap();
        assert_eq!(seq_of(&db, ""), expect_default, "round {round}");
        if round > 0 {
            assert_eq!(seq_of(&db, "ids"), expect_named, "round {round}");
        }
        for i in 0..40u64 {
            let (a, b) = db
                .update(|tx| {
                    let named = tx.create_bucket_if_missing("ids")?;
                    let a = tx.next_id()?;
                    let b = named.next_id()?;
                    // A few ids in one transaction, and other changes too.
                    if i % 3 == 0 {
                        assert_eq!(named.next_id()?, b + 1);
                        named.put(b.to_be_bytes(), b"v")?;
                    }
                    Ok((a, b))
                })
                .unwrap();
            expect_default += 1;
            expect_named += if i % 3 == 0 { 2 } else { 1 };
            assert_eq!(a, expect_default);
            assert_eq!(b + u64::from(i % 3 == 0), expect_named);
            if i % 7 == 3 {
                db.checkpoint().unwrap();
            }
        }
        assert_eq!(seq_of(&db, ""), expect_default);
        assert_eq!(seq_of(&db, "ids"), expect_named);
        // The write side sees the same, and reading does not move it.
        let tx = db.begin_write().unwrap();
        assert_eq!(tx.sequence().unwrap(), expect_default);
        assert_eq!(tx.bucket("ids").unwrap().sequence().unwrap(), expect_named);
        tx.commit().unwrap();
        assert!(db.check().unwrap().is_ok());
        if round % 2 == 0 {
            db.close().unwrap();
        } else {
            drop(db);
        }
    }
}

#[test]
fn a_sequence_alone_survives_a_reopen_of_an_empty_default_bucket() {
    let (_d, path) = tmp();
    let db = opts().open(&path).unwrap();
    db.update(|tx| tx.next_id()).unwrap();
    db.checkpoint().unwrap();
    drop(db);
    let db = opts().open(&path).unwrap();
    assert!(db.begin_read().unwrap().is_empty());
    assert_eq!(seq_of(&db, ""), 1);
    assert_eq!(db.update(|tx| tx.next_id()).unwrap(), 2);
}

#[test]
fn ids_of_an_aborted_transaction_or_a_rolled_back_savepoint_come_again() {
    let (_d, path) = tmp();
    let db = opts().open(&path).unwrap();
    db.update(|tx| tx.create_bucket("b").map(|_| ())).unwrap();
    let tx = db.begin_write().unwrap();
    let b = tx.bucket("b").unwrap();
    assert_eq!((b.next_id().unwrap(), b.next_id().unwrap()), (1, 2));
    tx.abort();
    let tx = db.begin_write().unwrap();
    let b = tx.bucket("b").unwrap();
    assert_eq!(
        b.next_id().unwrap(),
        1,
        "the aborted ids were never committed"
    );
    let sp = tx.savepoint();
    assert_eq!(b.next_id().unwrap(), 2);
    tx.rollback_to(&sp).unwrap();
    assert_eq!(b.sequence().unwrap(), 1);
    assert_eq!(b.next_id().unwrap(), 2);
    tx.commit().unwrap();
    assert_eq!(seq_of(&db, "b"), 2);
    // A transaction dropped with ids taken (a failed `update`) gives them back.
    let r: vellum::Result<()> = db.update(|tx| {
        tx.bucket("b")?.next_id()?;
        Err(Error::InvalidBucketName)
    });
    assert!(r.is_err());
    assert_eq!(db.update(|tx| tx.bucket("b")?.next_id()).unwrap(), 3);
    drop(db);
    let db = opts().open(&path).unwrap();
    assert_eq!(seq_of(&db, "b"), 3);
}

#[test]
fn threads_get_distinct_ids() {
    let (_d, path) = tmp();
    let db = opts()
        .durability(Durability::Immediate)
        .open(&path)
        .unwrap();
    db.update(|tx| tx.create_bucket("ids").map(|_| ())).unwrap();
    const THREADS: usize = 4;
    const EACH: usize = 60;
    let ids: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let db = db.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|_| db.update(|tx| tx.bucket("ids")?.next_id()).unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for mine in &ids {
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each thread's ids rise"
        );
    }
    let all: BTreeSet<u64> = ids.iter().flatten().copied().collect();
    assert_eq!(all.len(), THREADS * EACH, "no id handed out twice");
    assert_eq!(all, (1..=(THREADS * EACH) as u64).collect());
    assert_eq!(seq_of(&db, "ids"), (THREADS * EACH) as u64);
}

#[test]
fn a_dropped_buckets_sequence_goes_with_it() {
    let (_d, path) = tmp();
    let db = opts().open(&path).unwrap();
    db.update(|tx| {
        let b = tx.create_bucket("b")?;
        b.next_id()?;
        b.next_id()
    })
    .unwrap();
    // Dropped and created again in one transaction: a new bucket at 0.
    let id = db
        .update(|tx| {
            tx.drop_bucket("b")?;
            tx.create_bucket("b")?.next_id()
        })
        .unwrap();
    assert_eq!(id, 1);
    db.checkpoint().unwrap();
    db.update(|tx| tx.bucket("b")?.next_id()).unwrap();
    // Dropped in one transaction, created in the next, then reopened.
    db.update(|tx| tx.drop_bucket("b")).unwrap();
    db.update(|tx| tx.create_bucket("b").map(|_| ())).unwrap();
    assert_eq!(seq_of(&db, "b"), 0);
    drop(db);
    let db = opts().open(&path).unwrap();
    assert_eq!(seq_of(&db, "b"), 0);
    assert_eq!(db.update(|tx| tx.bucket("b")?.next_id()).unwrap(), 1);
}

#[test]
fn set_sequence_never_lowers_and_the_sequence_never_wraps() {
    let (_d, path) = tmp();
    let db = opts().open(&path).unwrap();
    db.update(|tx| {
        tx.set_sequence(u64::MAX - 1)?;
        assert!(matches!(
            tx.set_sequence(3),
            Err(Error::SequenceLowered {
                current,
                requested: 3,
                ..
            }) if current == u64::MAX - 1
        ));
        tx.set_sequence(u64::MAX - 1)?; // the same value: fine, nothing logged
        assert_eq!(tx.next_id()?, u64::MAX);
        assert!(matches!(tx.next_id(), Err(Error::SequenceExhausted(_))));
        // The transaction goes on; nothing changed.
        assert_eq!(tx.sequence()?, u64::MAX);
        Ok(())
    })
    .unwrap();
    drop(db);
    let db = opts().open(&path).unwrap();
    assert_eq!(seq_of(&db, ""), u64::MAX);
    assert!(matches!(
        db.update(|tx| tx.next_id()),
        Err(Error::SequenceExhausted(_))
    ));
}

#[test]
fn a_transaction_too_large_for_the_log_keeps_its_ids() {
    let (_d, path) = tmp();
    let db = opts().open(&path).unwrap();
    // 16 KiB of log, 12 bytes per id: thousands of ids commit by checkpoint.
    let last = db
        .update(|tx| {
            let b = tx.create_bucket("b")?;
            let mut last = 0;
            for _ in 0..5000 {
                last = b.next_id()?;
            }
            Ok(last)
        })
        .unwrap();
    assert_eq!(last, 5000);
    drop(db);
    let db = opts().open(&path).unwrap();
    assert_eq!(seq_of(&db, "b"), 5000);
}

/// After every step, crash images (unsynced writes lost, kept, or kept in
/// part, sector by sector) must recover a sequence at least every id a
/// durable commit returned and at most the last id handed out.
#[test]
fn no_crash_image_loses_a_durable_id() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let vfs = CrashVfs::new();
        let db = opts()
            .durability(durability)
            .vfs(Arc::new(vfs.clone()))
            .open(&path)
            .unwrap();
        db.update(|tx| tx.create_bucket("ids").map(|_| ())).unwrap();
        db.sync().unwrap();
        let mut rng = Rng::new(7);
        let (mut durable, mut handed) = (0u64, 0u64);
        for step in 0..60u64 {
            match step % 9 {
                4 => {
                    db.sync().unwrap();
                    durable = handed;
                }
                8 => {
                    db.checkpoint().unwrap();
                    durable = handed;
                }
                _ => {
                    let n = 1 + rng.below(4);
                    let id = db
                        .update(|tx| {
                            let b = tx.bucket("ids")?;
                            let mut id = 0;
                            for _ in 0..n {
                                id = b.next_id()?;
                            }
                            b.put(id.to_be_bytes(), vec![step as u8; 200])?;
                            Ok(id)
                        })
                        .unwrap();
                    assert_eq!(id, handed + n);
                    handed = id;
                    if durability == Durability::Immediate {
                        durable = handed;
                    }
                }
            }
            for (i, loss) in [Loss::AllUnsynced, Loss::RandomWrites, Loss::RandomSectors]
                .into_iter()
                .enumerate()
            {
                let image = vfs.crash_image(&path, loss, &mut rng);
                let copy = dir.path().join(format!("copy-{step}-{i}"));
                std::fs::write(&copy, image).unwrap();
                let got = recovered_sequence(&copy);
                assert!(
                    (durable..=handed).contains(&got),
                    "{durability:?} step {step} {loss:?}: recovered {got}, durable {durable}, handed out {handed}"
                );
                std::fs::remove_file(&copy).unwrap();
            }
        }
    }
}

fn recovered_sequence(path: &Path) -> u64 {
    let db = opts().open(path).unwrap();
    assert!(db.check().unwrap().is_ok());
    let got = seq_of(&db, "ids");
    // The recovered bucket's keys are ids it handed out, none above it.
    let tx = db.begin_read().unwrap();
    if let Some(e) = tx.bucket("ids").unwrap().last().unwrap() {
        let k = u64::from_be_bytes(e.key().try_into().unwrap());
        assert!(k <= got, "key {k} above the sequence {got}");
    }
    drop(tx);
    // And the next id is above every one the recovered state holds.
    let next = db.update(|tx| tx.bucket("ids")?.next_id()).unwrap();
    assert_eq!(next, got + 1);
    got
}

/// A database whose log ends with the record of `next_id` on bucket `b`
/// returning 3 (the one before returned 2); `edit` rewrites that record's
/// payload and the record is resealed (payload and header checksums), so
/// only replay's own rule can refuse it.
fn open_with_last_record(edit: impl FnOnce(&mut Vec<u8>)) -> vellum::Result<u64> {
    let (d, path) = tmp();
    let db = opts()
        .durability(Durability::Immediate)
        .open(&path)
        .unwrap();
    db.update(|tx| tx.create_bucket("b")?.next_id()).unwrap();
    db.update(|tx| tx.bucket("b")?.next_id()).unwrap();
    db.update(|tx| tx.bucket("b")?.next_id()).unwrap();
    let image = d.path().join("image");
    std::fs::copy(&path, &image).unwrap();
    drop(db);
    let mut file = std::fs::read(&image).unwrap();
    let (page, header) = file
        .chunks_exact(PS)
        .enumerate()
        .filter_map(|(p, b)| RecordHeader::decode(b).map(|(h, _)| (p, h)))
        .max_by_key(|(_, h)| (h.epoch, h.txn))
        .expect("the log holds records");
    let at = page * PS + HEADER_LEN;
    let mut payload = file[at..at + header.payload_len as usize].to_vec();
    // op 5, bucket "b", value 3.
    let mut expect = vec![5u8, 1, 0, b'b'];
    expect.extend_from_slice(&3u64.to_le_bytes());
    assert_eq!(payload, expect, "the last record is the third next_id");
    edit(&mut payload);
    let resealed = RecordHeader {
        payload_len: payload.len() as u32,
        payload_checksum: checksum(&payload),
        ..header
    };
    file[page * PS..page * PS + HEADER_LEN].copy_from_slice(&resealed.encode().0);
    file[at..at + payload.len()].copy_from_slice(&payload);
    std::fs::write(&image, &file).unwrap();
    let db = opts().open(&image)?;
    let s = seq_of(&db, "b");
    Ok(s)
}

#[test]
fn replay_refuses_a_record_that_does_not_raise_the_sequence() {
    // The resealing itself is sound: a raised value replays.
    let raised = open_with_last_record(|p| p[4..12].copy_from_slice(&9u64.to_le_bytes()));
    assert_eq!(raised.unwrap(), 9);
    for (what, value) in [("equal", 2u64), ("lower", 1), ("zero", 0)] {
        let r = open_with_last_record(|p| p[4..12].copy_from_slice(&value.to_le_bytes()));
        assert!(matches!(r, Err(Error::Corruption { .. })), "{what}: {r:?}");
    }
    // A bucket that does not exist, and a payload cut inside the value.
    let r = open_with_last_record(|p| p[3] = b'c');
    assert!(matches!(r, Err(Error::Corruption { .. })), "{r:?}");
    let r = open_with_last_record(|p| p.truncate(9));
    assert!(matches!(r, Err(Error::Corruption { .. })), "{r:?}");
}
