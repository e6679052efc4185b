//! Loom models of the page cache (`pager/cache.rs`): lookups that take no
//! lock, inserts and CLOCK evictions under a stripe lock, single-flight
//! misses and guards that outlive eviction. Under `--cfg loom` the cache's
//! atomics, locks and `ArcCell` frames are loom's, so every interleaving of
//! the threads below is explored.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p vellum --test loom_cache --release
//! ```
//!
//! Checked:
//! - a lookup returns only the page it asked for (page number and
//!   checksum), whatever frame changes race with it, and a guard keeps
//!   reading that page after the frame was evicted and reused;
//! - concurrent misses of one page read it once, and every thread gets it;
//! - a failed read (a page that did not verify) is never published: the
//!   other threads read the page themselves, and nothing in the cache
//!   answers for it;
//! - a write transaction's private copy, which takes its frame by evicting
//!   a clean page (`Reclaim`), never takes the frame of a page a reader's
//!   guard still holds, and never hands out a frame twice.
//!
//! Seeded bugs, each applied to a scratch copy of the engine and caught by
//! these models with `LOOM_MAX_PREEMPTIONS=3` (docs/TESTING.md §9): the
//! probe returning the node in a frame without checking it is the page
//! asked for (model 1: a racing replacement hands out another page); the
//! probe checking the page number but not the checksum (model 1: a newer
//! image of a rewritten page answers for the older one); a waiter giving
//! up when its leader's read failed (model 3); a flight looked up and
//! registered under two separate acquisitions of the stripe lock
//! (model 2: two reads of one page); a miss that does not probe again
//! under the stripe lock (model 2). Writing model 3 found a real gap: a
//! waiter whose leader failed read the page itself but did not cache it.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use loom::thread;

use vellum::page::node::edit::encode_page;
use vellum::page::node::{Item, Node, ValueSrc};
use vellum::page::PageRef;
use vellum::pager::cache::{frame_bytes, Cache};
use vellum::Error;

const PS: usize = 1024;

/// Page `page`'s image with checksum `checksum`: a leaf whose one value
/// names both, so a reader can tell which image it holds. Read as the
/// pager reads a page, into a buffer of `c` (a frame of its arena, taken
/// from a clean page if none is free), since the cache keeps only those.
fn image(c: &Cache, page: u64, checksum: u64) -> Node {
    let tag = [page.to_le_bytes(), checksum.to_le_bytes()].concat();
    let items = [Item::Leaf {
        key: b"k",
        value: ValueSrc::Inline(&tag),
    }];
    let mut buf = c.buffer_for_read(PS);
    buf.copy_from_slice(&encode_page(true, &items, PS, page, 1));
    Node::from_verified_page(buf, PageRef { page, checksum }).unwrap()
}

/// Which image a node holds, read from its content.
fn tag(n: &Node) -> (u64, u64) {
    let v = match n.value(0) {
        vellum::page::node::ValueAt::Inline(v) => v,
        other => panic!("unexpected value {other:?}"),
    };
    (
        u64::from_le_bytes(v[..8].try_into().unwrap()),
        u64::from_le_bytes(v[8..].try_into().unwrap()),
    )
}

fn at(page: u64, checksum: u64) -> PageRef {
    PageRef { page, checksum }
}

/// A cache of `frames` frames (all in one set).
fn cache(frames: usize) -> Arc<Cache> {
    let c = Cache::new(frames * frame_bytes(PS), PS);
    assert_eq!(c.frames(), frames);
    c
}

/// Loads `r` through `c` with a loader that reads the right image.
fn load(c: &Cache, r: PageRef) -> vellum::pager::PageGuard {
    c.get_or_load(r, || Ok(image(c, r.page, r.checksum)))
        .unwrap()
}

/// Model 1: a reader looks up page 4 (checksum 1) twice while a writer
/// fills the two-frame set with other pages and a newer image of page 4
/// (checksum 2). Every guard the reader gets is page 4's checksum-1 image,
/// and the guard it keeps across the writer's evictions still reads it.
#[test]
fn a_lookup_returns_only_the_page_it_asked_for() {
    loom::model(|| {
        let c = cache(2);
        load(&c, at(4, 1));
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                // A newer image of page 4 (the page was freed and rewritten).
                c.insert_verified(Arc::new(image(&c, 4, 2)));
                load(&c, at(5, 1));
                load(&c, at(6, 1));
            })
        };
        let reader = {
            let c = c.clone();
            thread::spawn(move || {
                let kept = load(&c, at(4, 1));
                assert_eq!(tag(&kept), (4, 1));
                let again = load(&c, at(4, 1));
                assert!(again.is_page(at(4, 1)));
                assert_eq!(tag(&again), (4, 1));
                kept
            })
        };
        writer.join().unwrap();
        let kept = reader.join().unwrap();
        // Evicted or replaced by now, still readable through the guard.
        assert_eq!(tag(&kept), (4, 1));
        assert!(kept.is_page(at(4, 1)));
        let newest = load(&c, at(4, 2));
        assert_eq!(tag(&newest), (4, 2));
    });
}

/// Model 2: two threads miss the same page at once. It is read once, and
/// both get it.
#[test]
fn concurrent_misses_read_a_page_once() {
    loom::model(|| {
        let c = cache(2);
        let reads = Arc::new(StdAtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (c, reads) = (c.clone(), reads.clone());
                thread::spawn(move || {
                    let g = c
                        .get_or_load(at(7, 3), || {
                            reads.fetch_add(1, SeqCst);
                            Ok(image(&c, 7, 3))
                        })
                        .unwrap();
                    assert_eq!(tag(&g), (7, 3));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(reads.load(SeqCst), 1, "one page, read twice");
    });
}

/// Model 3: one thread's read of a page fails verification, the other's
/// succeeds. The failed read publishes nothing: the first thread gets its
/// error (or the page the other thread verified), the second always gets
/// the page, and afterwards the cache answers only with the verified page.
#[test]
fn a_failed_read_publishes_nothing() {
    loom::model(|| {
        let c = cache(2);
        let failing = {
            let c = c.clone();
            thread::spawn(move || {
                c.get_or_load(at(8, 5), || {
                    Err(Error::Corruption {
                        page: 8,
                        reason: "checksum mismatch".into(),
                    })
                })
                .map(|g| tag(&g))
            })
        };
        let good = {
            let c = c.clone();
            thread::spawn(move || tag(&load(&c, at(8, 5))))
        };
        match failing.join().unwrap() {
            Ok(t) => assert_eq!(t, (8, 5), "a page it never verified"),
            Err(e) => assert!(e.is_corruption(), "{e}"),
        }
        assert_eq!(good.join().unwrap(), (8, 5));
        let reads = StdAtomicUsize::new(0);
        let g = c
            .get_or_load(at(8, 5), || {
                reads.fetch_add(1, SeqCst);
                Ok(image(&c, 8, 5))
            })
            .unwrap();
        assert_eq!(tag(&g), (8, 5));
        assert_eq!(reads.load(SeqCst), 0, "the verified page is cached");
    });
}

/// Model 4: a writer makes private copies of cached pages while every
/// frame is in use, so each copy's frame comes from an eviction racing
/// with a reader. The reader's guard keeps its page's bytes (its frame is
/// not reused while the guard lives), each copy holds the bytes it copied,
/// and the cache still answers only with the page asked for.
#[test]
fn a_copy_never_takes_a_frame_a_guard_holds() {
    loom::model(|| {
        let c = cache(2);
        load(&c, at(4, 1));
        load(&c, at(5, 1));
        let writer = {
            let c = c.clone();
            thread::spawn(move || {
                let copy = Node::clone(&load(&c, at(5, 1)));
                let again = Node::clone(&copy);
                assert_eq!((tag(&copy), tag(&again)), ((5, 1), (5, 1)));
            })
        };
        let reader = {
            let c = c.clone();
            thread::spawn(move || {
                let kept = load(&c, at(4, 1));
                thread::yield_now();
                assert_eq!(tag(&kept), (4, 1));
                kept
            })
        };
        writer.join().unwrap();
        let kept = reader.join().unwrap();
        assert_eq!(tag(&kept), (4, 1));
        assert_eq!(tag(&load(&c, at(4, 1))), (4, 1));
    });
}
