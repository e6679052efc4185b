//! Damage to the log is told from a torn tail (docs/FORMAT.md §2.3): a
//! record that a later record shows was durable, once damaged, fails the
//! open with `Error::Corruption` naming it, instead of being replayed as a
//! shorter history; `Options::truncate_damaged_log` opens at the last
//! intact state for a user who accepts the loss.
//!
//! The files here are crash images (the file copied while the database is
//! open: every write issued, no closing checkpoint), so the log holds the
//! commits.

use std::path::{Path, PathBuf};

use vellum::page::log_record::{RecordHeader, HEADER_LEN};
use vellum::{Db, Durability, Error, Options};

const PS: usize = 4096;
const COMMITS: u64 = 6;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

/// A log record found in a file: its page and header.
struct Record {
    page: u64,
    header: RecordHeader,
}

/// The log records of the commits of `key(0..COMMITS)`: the last
/// `COMMITS` records of the newest epoch in `file`, in transaction order.
fn key_records(file: &[u8]) -> Vec<Record> {
    let mut recs = newest_records(file);
    assert!(recs.len() as u64 >= COMMITS, "the log holds the commits");
    recs.split_off(recs.len() - COMMITS as usize)
}

/// The log records of the newest epoch in `file`, in transaction order.
fn newest_records(file: &[u8]) -> Vec<Record> {
    let mut all: Vec<Record> = file
        .chunks_exact(PS)
        .enumerate()
        .filter_map(|(p, b)| {
            RecordHeader::decode(b).map(|(header, _)| Record {
                page: p as u64,
                header,
            })
        })
        .collect();
    let epoch = all.iter().map(|r| r.header.epoch).max().expect("records");
    all.retain(|r| r.header.epoch == epoch);
    all.sort_by_key(|r| r.header.txn);
    all
}

/// A crash image of a database whose log holds `COMMITS` commits (each
/// putting one key), made with `durability`, at `dir/name`.
fn image_with_logged_commits(dir: &Path, durability: Durability) -> PathBuf {
    let path = dir.join("live");
    let db = Options::new().durability(durability).open(&path).unwrap();
    // Whether or not this first commit is logged, the ones after it are.
    db.update(|tx| tx.put(b"first", b"by checkpoint")).unwrap();
    for i in 0..COMMITS {
        db.update(|tx| tx.put(key(i), vec![i as u8; 300])).unwrap();
    }
    let image = dir.join("image");
    std::fs::copy(&path, &image).unwrap();
    drop(db);
    key_records(&std::fs::read(&image).unwrap());
    image
}

/// The keys `key(i)` present, in order.
fn present(db: &Db) -> Vec<u64> {
    let tx = db.begin_read().unwrap();
    assert!(tx.get(b"first").unwrap().is_some());
    (0..COMMITS)
        .filter(|&i| tx.get(key(i)).unwrap().is_some())
        .collect()
}

/// Flips one byte at `offset` of record `r`'s first page.
fn flip(path: &Path, r: &Record, offset: usize) {
    let mut f = std::fs::read(path).unwrap();
    f[r.page as usize * PS + offset] ^= 0x40;
    std::fs::write(path, f).unwrap();
}

#[test]
fn a_damaged_record_that_a_later_record_vouches_for_fails_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with_logged_commits(dir.path(), Durability::Immediate);
    let recs = key_records(&std::fs::read(&image).unwrap());
    // Every record but the newest is vouched for by the next one, written
    // after the sync that acknowledged it.
    for (r, rec) in recs.iter().enumerate().take(recs.len() - 1) {
        for (what, offset) in [
            ("payload", HEADER_LEN + 10),
            ("durable mark", 33),
            ("header checksum", 50),
            ("magic", 1),
        ] {
            let path = dir.path().join(format!("r{r}-{offset}"));
            std::fs::copy(&image, &path).unwrap();
            flip(&path, rec, offset);
            let before = std::fs::read(&path).unwrap();
            match Options::new().open(&path) {
                Err(Error::Corruption { page, reason }) => {
                    assert_eq!(page, rec.page, "record {r}, {what}: {reason}");
                    let txn = rec.header.txn;
                    assert!(
                        reason.contains(&format!("transaction {txn} is damaged")),
                        "record {r}, {what}: {reason}"
                    );
                }
                Err(e) => panic!("record {r}, {what}: {e}"),
                Ok(db) => panic!("record {r}, {what}: opened with {:?}", present(&db)),
            }
            assert!(
                std::fs::read(&path).unwrap() == before,
                "a failed open wrote to the file"
            );
            // The same read-only.
            assert!(Options::new()
                .read_only(true)
                .open(&path)
                .unwrap_err()
                .is_corruption());
        }
    }
}

#[test]
fn truncating_a_damaged_log_opens_at_the_last_intact_state_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with_logged_commits(dir.path(), Durability::Immediate);
    let recs = key_records(&std::fs::read(&image).unwrap());
    for (r, rec) in recs.iter().enumerate().take(recs.len() - 1) {
        let path = dir.path().join(format!("cut{r}"));
        std::fs::copy(&image, &path).unwrap();
        flip(&path, rec, HEADER_LEN + 3);
        // Read-only: the shorter history, nothing written.
        let before = std::fs::read(&path).unwrap();
        {
            let ro = Options::new()
                .read_only(true)
                .truncate_damaged_log(true)
                .open(&path)
                .unwrap();
            assert_eq!(present(&ro), (0..r as u64).collect::<Vec<_>>());
        }
        assert!(std::fs::read(&path).unwrap() == before);
        // Writable: the shorter history becomes the durable one, so a
        // later open without the option neither fails nor loses more.
        let db = Options::new()
            .truncate_damaged_log(true)
            .open(&path)
            .unwrap();
        assert_eq!(present(&db), (0..r as u64).collect::<Vec<_>>());
        assert!(db.check().unwrap().is_ok(), "record {r}");
        // Even before any commit of this session (a crash image of it).
        let fresh = dir.path().join(format!("cut{r}-fresh"));
        std::fs::copy(&path, &fresh).unwrap();
        let again = Options::new().open(&fresh).unwrap();
        assert_eq!(present(&again), (0..r as u64).collect::<Vec<_>>());
        drop(again);
        db.update(|tx| tx.put(b"after", b"the cut")).unwrap();
        let image2 = dir.path().join(format!("cut{r}-image"));
        std::fs::copy(&path, &image2).unwrap();
        drop(db);
        for p in [&path, &image2] {
            let db = Options::new().open(p).unwrap();
            assert_eq!(present(&db), (0..r as u64).collect::<Vec<_>>());
            assert!(db.begin_read().unwrap().get(b"after").unwrap().is_some());
        }
    }
}

#[test]
fn the_newest_record_and_an_unacknowledged_tail_end_the_log_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // Immediate: nothing after the newest record vouches for it, so its
    // damage reads as a torn write (FORMAT.md §2.3).
    let image = image_with_logged_commits(dir.path(), Durability::Immediate);
    let recs = key_records(&std::fs::read(&image).unwrap());
    flip(&image, recs.last().unwrap(), HEADER_LEN + 3);
    let db = Options::new().open(&image).unwrap();
    assert_eq!(present(&db), (0..COMMITS - 1).collect::<Vec<_>>());
    drop(db);
    // Eventual: no record was known durable when the next was written, so
    // damage anywhere ends the log there.
    let dir = tempfile::tempdir().unwrap();
    let image = image_with_logged_commits(dir.path(), Durability::Eventual);
    let recs = key_records(&std::fs::read(&image).unwrap());
    for rec in &recs {
        assert!(rec.header.durable < recs[0].header.txn, "nothing synced");
    }
    flip(&image, &recs[2], HEADER_LEN + 3);
    let db = Options::new().open(&image).unwrap();
    assert_eq!(present(&db), vec![0, 1]);
}

#[test]
fn each_immediate_record_vouches_for_the_ones_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with_logged_commits(dir.path(), Durability::Immediate);
    let recs = key_records(&std::fs::read(&image).unwrap());
    for w in recs.windows(2) {
        assert_eq!(
            w[1].header.durable, w[0].header.txn,
            "a single Immediate writer: each record was written after the previous one's sync"
        );
    }
}

#[test]
fn cutting_at_the_epochs_first_record_is_durable_too() {
    // Nothing is replayed then, yet the cut must still be made durable.
    let dir = tempfile::tempdir().unwrap();
    let image = image_with_logged_commits(dir.path(), Durability::Immediate);
    let recs = newest_records(&std::fs::read(&image).unwrap());
    flip(&image, &recs[0], HEADER_LEN + 3);
    assert!(Options::new().open(&image).unwrap_err().is_corruption());
    let db = Options::new()
        .truncate_damaged_log(true)
        .open(&image)
        .unwrap();
    assert_eq!(db.replayed_on_open(), 0);
    let crash = dir.path().join("crash");
    std::fs::copy(&image, &crash).unwrap();
    drop(db);
    for p in [&image, &crash] {
        let db = Options::new().open(p).unwrap();
        let tx = db.begin_read().unwrap();
        assert!((0..COMMITS).all(|i| tx.get(key(i)).unwrap().is_none()));
    }
}
