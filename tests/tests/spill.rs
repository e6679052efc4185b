//! Spilling (FORMAT.md §3 Spill): a write transaction larger than its
//! memory budget writes its changed pages to free pages and goes on, so its
//! size is not bounded by memory. What a user relies on: the transaction
//! still commits (or aborts) whole, its own cursors keep reading what they
//! saw, the file does not fill with the pages spills wrote and later
//! replaced, and an abort leaves no page behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vellum::{Db, Durability, Options};
use vellum_tests::util::{assert_check_ok, num_key, Rng};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

/// 1 KiB pages and the smallest budgets: a transaction spills after about
/// 32 changed pages.
fn open(path: &Path) -> Db {
    Options::new()
        .page_size(1024)
        .cache_size(64 * 1024)
        .checkpoint_budget(64 * 1024)
        .durability(Durability::Eventual)
        .open(path)
        .unwrap()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!(
        "value {i} of round {round} {}",
        "x".repeat((i % 50) as usize)
    )
    .into_bytes()
}

/// 1 KiB pages and a 1 MiB budget (a transaction spills past 512 KiB),
/// holding keys `0..n` of round 0, all on disk (checkpointed).
fn open_1_mib_with_keys(path: &Path, n: u64) -> Db {
    let db = Options::new()
        .page_size(1024)
        .cache_size(64 * 1024)
        .checkpoint_budget(1 << 20)
        .durability(Durability::Eventual)
        .open(path)
        .unwrap();
    db.update(|tx| {
        for i in 0..n {
            tx.put(num_key("k", i), value(i, 0))?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    db.checkpoint().unwrap();
    db
}

fn content(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let tx = db.begin_read().unwrap();
    tx.iter()
        .map(|e| {
            let e = e.unwrap();
            (e.key().to_vec(), e.value().to_vec())
        })
        .collect()
}

#[test]
fn a_transaction_larger_than_its_budget_spills_and_commits_whole() {
    let (_d, path) = tmp();
    let db = open(&path);
    let mut model = BTreeMap::new();
    let mut rng = Rng::new(11);
    let tx = db.begin_write().unwrap();
    for _ in 0..6_000 {
        let i = rng.below(4_000);
        tx.put(num_key("k", i), value(i, 1)).unwrap();
        model.insert(num_key("k", i), value(i, 1));
        if rng.chance(1, 5) {
            let j = rng.below(4_000);
            let had = tx.delete(num_key("k", j)).unwrap();
            assert_eq!(had, model.remove(&num_key("k", j)).is_some());
        }
    }
    // The transaction reads its own writes across the spilled pages.
    for (k, v) in model.iter().step_by(97) {
        assert_eq!(tx.get(k).unwrap().unwrap().as_ref(), v.as_slice());
    }
    assert_eq!(tx.len().unwrap(), model.len() as u64);
    let spills = db.stats().spills;
    assert!(spills >= 5, "only {spills} spills");
    tx.commit().unwrap();
    assert_eq!(content(&db), model);
    assert_check_ok(&db);
    drop(db);
    let db = open(&path);
    assert_eq!(content(&db), model);
    assert_check_ok(&db);
}

#[test]
fn an_aborted_spilling_transaction_leaves_the_database_and_its_pages_as_they_were() {
    let (_d, path) = tmp();
    let db = open(&path);
    db.update(|tx| {
        for i in 0..1_000 {
            tx.put(num_key("k", i), value(i, 0))?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    let before = content(&db);
    for _ in 0..3 {
        let tx = db.begin_write().unwrap();
        for i in 0..3_000 {
            tx.put(num_key("k", i), value(i, 1)).unwrap();
        }
        assert!(db.stats().spills > 0);
        tx.abort();
        assert_eq!(content(&db), before);
    }
    db.checkpoint().unwrap();
    let s = db.stats();
    // No page the aborted spills took is left in use: the check finds
    // every page in use reachable, and the file is what one copy of the
    // tree and one transaction's spills need, not three.
    assert_check_ok(&db);
    assert!(
        s.file_pages - s.free_pages < 400,
        "{} pages in use for 1,000 small keys",
        s.file_pages - s.free_pages
    );
    drop(db);
    let db = open(&path);
    assert_eq!(content(&db), before);
}

#[test]
fn rewriting_the_same_keys_reuses_the_pages_of_earlier_spills() {
    let (_d, path) = tmp();
    let db = open(&path);
    let tx = db.begin_write().unwrap();
    for round in 0..20 {
        for i in 0..1_500 {
            tx.put(num_key("k", i), value(i, round)).unwrap();
        }
    }
    tx.commit().unwrap();
    let s = db.stats();
    assert!(s.spills >= 20, "only {} spills", s.spills);
    // Twenty rounds over the same keys: a spilled page the next round
    // replaces is free again at once, so the file holds about two copies
    // of the tree (about 100 pages each), not twenty.
    assert!(
        s.file_pages < 500,
        "{} pages for 1,500 small keys",
        s.file_pages
    );
    assert_check_ok(&db);
    let expect: BTreeMap<_, _> = (0..1_500)
        .map(|i| (num_key("k", i), value(i, 19)))
        .collect();
    assert_eq!(content(&db), expect);
}

#[test]
fn a_cursor_opened_before_a_spill_reads_what_it_saw_while_the_transaction_goes_on() {
    let (_d, path) = tmp();
    let db = open(&path);
    let tx = db.begin_write().unwrap();
    for i in 0..2_000 {
        tx.put(num_key("k", i), value(i, 0)).unwrap();
    }
    let mut old = tx.iter().unwrap();
    let first = old.next().unwrap().unwrap();
    assert_eq!(first.value(), value(0, 0).as_slice());
    let spills = db.stats().spills;
    // Rewrite everything several times: the pages the cursor's tree uses
    // are replaced, and later spills need pages.
    for round in 1..6 {
        for i in 0..2_000 {
            tx.put(num_key("k", i), value(i, round)).unwrap();
        }
    }
    assert!(db.stats().spills > spills + 3);
    let mut n = 1;
    for e in old {
        let e = e.unwrap();
        assert_eq!(e.key(), num_key("k", n).as_slice());
        assert_eq!(e.value(), value(n, 0).as_slice());
        n += 1;
    }
    assert_eq!(n, 2_000);
    // With the cursor gone, the next spill gives those pages back.
    for i in 0..2_000 {
        tx.put(num_key("k", i), value(i, 9)).unwrap();
    }
    tx.commit().unwrap();
    assert_check_ok(&db);
}

#[test]
fn large_values_are_spilled_to_overflow_runs() {
    let (_d, path) = tmp();
    let db = open(&path);
    let big = |i: u64| vec![(i % 251) as u8; 5_000 + i as usize];
    let tx = db.begin_write().unwrap();
    for i in 0..60 {
        tx.put(num_key("big", i), big(i)).unwrap();
    }
    // Overwrite half: their spilled runs are given back.
    for i in (0..60).step_by(2) {
        tx.put(num_key("big", i), big(i + 1)).unwrap();
    }
    assert!(db.stats().spills > 0);
    tx.commit().unwrap();
    assert_check_ok(&db);
    drop(db);
    let db = open(&path);
    let tx = db.begin_read().unwrap();
    for i in 0..60 {
        let want = if i % 2 == 0 { big(i + 1) } else { big(i) };
        assert_eq!(
            tx.get(num_key("big", i)).unwrap().unwrap().as_ref(),
            want.as_slice()
        );
    }
}

#[test]
fn a_sorted_load_larger_than_the_budget_writes_its_leaves_as_it_goes() {
    let (_d, path) = tmp();
    let db = open(&path);
    let n = db
        .update(|tx| {
            let b = tx.create_bucket("bulk")?;
            b.load_sorted((0..20_000).map(|i| (num_key("k", i), value(i, 0))), 1.0)
        })
        .unwrap();
    assert_eq!(n, 20_000);
    // About 1,500 leaves, spilled eight at a time (a quarter of the 32 KiB
    // limit): not one by one.
    let spills = db.stats().spills;
    assert!((100..400).contains(&spills), "{spills} spills");
    assert_check_ok(&db);
    drop(db);
    let db = open(&path);
    let tx = db.begin_read().unwrap();
    let b = tx.bucket("bulk").unwrap();
    assert_eq!(b.len(), 20_000);
    for (i, e) in b.iter().enumerate() {
        let e = e.unwrap();
        assert_eq!(e.key(), num_key("k", i as u64).as_slice());
        assert_eq!(e.value(), value(i as u64, 0).as_slice());
    }
}

#[test]
fn a_sorted_load_that_fails_after_spilling_leaves_no_page_behind() {
    let (_d, path) = tmp();
    let db = open(&path);
    db.update(|tx| tx.put(b"keep", b"me")).unwrap();
    let tx = db.begin_write().unwrap();
    let b = tx.create_bucket("bulk").unwrap();
    // Sorted for 15,000 entries (several spills), then a key out of order.
    let entries = (0..15_000)
        .map(|i| (num_key("k", i), value(i, 0)))
        .chain([(num_key("k", 3), b"late".to_vec())]);
    let err = b.load_sorted(entries, 1.0).unwrap_err();
    assert!(
        matches!(err, vellum::Error::NotSorted { index: 15_000 }),
        "{err:?}"
    );
    assert!(db.stats().spills > 0);
    assert!(b.is_empty().unwrap());
    // The transaction goes on and commits without the failed load's pages.
    tx.put(b"after", b"load").unwrap();
    tx.commit().unwrap();
    db.checkpoint().unwrap();
    assert_check_ok(&db);
    let s = db.stats();
    assert!(
        s.file_pages - s.free_pages < 100,
        "{} pages in use for two keys",
        s.file_pages - s.free_pages
    );
}

#[test]
fn copies_count_towards_the_budget_not_only_the_log_payload() {
    let (_d, path) = tmp();
    let db = open_1_mib_with_keys(&path, 20_000);
    let before = db.stats().spills;
    // Deleting every fourth key logs about 60 KB but copies every leaf
    // (about 1.5 MB of pages): past the 512 KiB limit, so it spills.
    let n = db
        .update(|tx| tx.delete_many((0..20_000).step_by(4).map(|i| num_key("k", i))))
        .unwrap();
    assert_eq!(n, 5_000);
    assert!(db.stats().spills > before, "the copies were not counted");
    assert_eq!(db.begin_read().unwrap().len(), 15_000);
    assert_check_ok(&db);
}

#[test]
fn changing_the_same_page_again_costs_no_more_memory() {
    let (_d, path) = tmp();
    let db = open_1_mib_with_keys(&path, 2_000);
    // 10,000 overwrites of one key copy its path once: a few KiB of pages
    // and about 200 KB of log, well under the 512 KiB limit.
    db.update(|tx| {
        for round in 0..10_000 {
            tx.put(num_key("k", 7), round.to_string())?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    assert_eq!(db.stats().spills, 0);
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.get(num_key("k", 7)).unwrap().unwrap(), b"9999");
}

#[test]
fn copies_of_pages_a_log_commit_left_in_memory_count_too() {
    let (_d, path) = tmp();
    let db = open_1_mib_with_keys(&path, 20_000);
    let small = |i: u64| i.to_string().into_bytes();
    // A log commit changes a few hundred leaves: they stay in memory,
    // shared with the snapshot, under the checkpoint budget.
    db.update(|tx| {
        for i in (0..5_000).step_by(10) {
            tx.put(num_key("k", i), small(i))?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    let (checkpoints, spills) = (db.stats().checkpoints_run, db.stats().spills);
    // The next transaction copies those shared leaves again, and more
    // from disk: together past the 512 KiB limit.
    db.update(|tx| {
        for i in (1..5_000).step_by(10).chain((10_000..13_000).step_by(10)) {
            tx.put(num_key("k", i), small(i))?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    assert_eq!(
        db.stats().checkpoints_run,
        checkpoints,
        "the setup checkpointed"
    );
    assert!(
        db.stats().spills > spills,
        "copies of shared in-memory pages were not counted"
    );
    assert_check_ok(&db);
}

#[test]
fn a_transaction_logging_more_than_half_the_log_commits_by_checkpoint() {
    // The payload a transaction keeps for the log is at most half the log
    // extent's maximum: past that it stops keeping it (its memory is freed)
    // and commits by checkpoint, however large the cache's budget.
    let (_d, path) = tmp();
    let db = Options::new()
        .cache_size(64 << 20)
        .max_log_size(256 << 10)
        .open(&path)
        .unwrap();
    db.update(|tx| tx.put(b"first", b"commit")).unwrap();
    let small = db.stats();
    assert!(small.log_pages_used > 0, "a small commit is logged");
    // About 200 KB of payload: under the log's 256 KiB, over half of it.
    db.update(|tx| {
        for i in 0..1_000 {
            tx.put(num_key("k", i), vec![7u8; 190])?;
        }
        Ok::<_, vellum::Error>(())
    })
    .unwrap();
    let s = db.stats();
    assert_eq!(
        s.checkpoints_run,
        small.checkpoints_run + 1,
        "committed by checkpoint"
    );
    assert_eq!(s.log_pages_used, 0, "nothing logged since the checkpoint");
    drop(db);
    let db = Options::new().open(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 1_001);
}
