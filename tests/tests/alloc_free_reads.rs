//! A read that finds its pages in the cache allocates nothing: `get`
//! returns a guard borrowed from the page, and a range walk yields entries
//! borrowed the same way (ISSUE 10). Shown with a global allocator that
//! counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use vellum::{Db, Durability, Options};
use vellum_tests::util::num_key;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations.
struct Counting;

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations this thread makes while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const KEYS: u64 = 20_000;

fn value(i: u64) -> Vec<u8> {
    vec![(i % 251) as u8; 150]
}

/// A database of `KEYS` keys with 150-byte values, reopened so that every
/// tree page is read from the file through the cache.
fn reopened(dir: &tempfile::TempDir) -> Db {
    let path = dir.path().join("db");
    let opts = || Options::new().cache_size(64 << 20);
    let db = opts().open(&path).unwrap();
    db.update(|tx| tx.put_many((0..KEYS).map(|i| (num_key("k", i), value(i)))))
        .unwrap();
    db.close().unwrap();
    opts().open(&path).unwrap()
}

fn get_all(db: &Db) {
    let tx = db.begin_read().unwrap();
    for i in 0..KEYS {
        let v = tx.get(num_key("k", i)).unwrap().expect("present");
        assert_eq!(v[0], (i % 251) as u8);
        black_box(&v[..]);
    }
}

#[test]
fn the_counter_counts_this_threads_allocations() {
    assert_eq!(allocations(|| drop(black_box(vec![0u8; 8]))), 1);
    assert_eq!(allocations(|| drop(black_box(Box::new(7u64)))), 1);
}

#[test]
fn a_get_that_hits_the_cache_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = reopened(&dir);
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| num_key("k", i)).collect();
    // Warm the cache (and this thread's one-time state).
    get_all(&db);
    let tx = db.begin_read().unwrap();
    let before = db.stats();
    let n = allocations(|| {
        for (i, k) in keys.iter().enumerate() {
            let v = tx.get(k).unwrap().expect("present");
            assert_eq!(v.len(), 150);
            assert_eq!(v[0], (i as u64 % 251) as u8);
            black_box(&v[..]);
        }
    });
    assert_eq!(n, 0, "{n} allocations in {KEYS} gets from the cache");
    // The root and upper branches are pinned; every get still looks its
    // leaf up in the page cache, and finds it there.
    let after = db.stats();
    let (hits, misses) = (
        after.cache_hits - before.cache_hits,
        after.cache_misses - before.cache_misses,
    );
    assert!(
        hits >= KEYS && misses == 0,
        "the gets went through the cache: {hits} hits, {misses} misses"
    );
}

#[test]
fn a_get_from_changes_not_yet_checkpointed_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Options::new()
        .durability(Durability::Eventual)
        .open(dir.path().join("db"))
        .unwrap();
    db.update(|tx| tx.put_many((0..KEYS).map(|i| (num_key("k", i), value(i)))))
        .unwrap();
    // Logged commits stay in memory until the next checkpoint.
    db.update(|tx| tx.put(num_key("k", 7), b"changed")).unwrap();
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| num_key("k", i)).collect();
    get_all_but(&db, 7);
    let tx = db.begin_read().unwrap();
    let n = allocations(|| {
        for k in &keys {
            black_box(tx.get(k).unwrap().expect("present").len());
        }
    });
    assert_eq!(n, 0, "{n} allocations in {KEYS} gets from in-memory nodes");
}

fn get_all_but(db: &Db, changed: u64) {
    let tx = db.begin_read().unwrap();
    for i in 0..KEYS {
        let v = tx.get(num_key("k", i)).unwrap().expect("present");
        if i != changed {
            assert_eq!(&v[..], &value(i)[..]);
        }
    }
}

#[test]
fn a_range_walk_from_the_cache_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = reopened(&dir);
    get_all(&db);
    let tx = db.begin_read().unwrap();
    let starts: Vec<Vec<u8>> = (0..KEYS).step_by(97).map(|i| num_key("k", i)).collect();
    let mut seen = 0;
    let n = allocations(|| {
        for s in &starts {
            for e in tx.range(&s[..]..).take(10) {
                let e = e.unwrap();
                seen += 1;
                black_box((e.key(), e.value()));
            }
            // Backwards too, and over keys only.
            for k in tx.range(..&s[..]).keys().rev().take(10) {
                black_box(&k.unwrap()[..]);
            }
        }
    });
    assert_eq!(seen, starts.len() * 10);
    assert_eq!(n, 0, "{n} allocations in {} scans of 10", starts.len());
}
