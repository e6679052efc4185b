use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};

use super::*;
use crate::page::node::edit::encode_page;
use crate::page::node::{Item, ValueSrc};
use crate::Error;

const PS: usize = 1024;

/// The bytes of page `page`.
fn page_bytes(page: u64) -> Box<[u8]> {
    let items = [Item::Leaf {
        key: b"k",
        value: ValueSrc::Inline(&page.to_le_bytes()),
    }];
    encode_page(true, &items, PS, page, 1)
}

/// A verified page `page` whose parent holds `checksum`, on the heap.
fn node(page: u64, checksum: u64) -> Node {
    Node::from_verified_page(page_bytes(page), PageRef { page, checksum }).unwrap()
}

/// The page `page` read as the pager reads it: into a buffer of the cache.
fn read(c: &Cache, page: u64, checksum: u64) -> Node {
    let mut buf = c.buffer_for_read(PS);
    buf.copy_from_slice(&page_bytes(page));
    Node::from_verified_page(buf, PageRef { page, checksum }).unwrap()
}

fn at(page: u64, checksum: u64) -> PageRef {
    PageRef { page, checksum }
}

/// Loads through `c`, counting the calls of the loader.
fn load(c: &Cache, r: PageRef, calls: &StdAtomicUsize) -> PageGuard {
    load_with(c, r, calls, || read(c, r.page, r.checksum))
}

/// Loads through `c` with the loader `image`, counting its calls.
fn load_with(
    c: &Cache,
    r: PageRef,
    calls: &StdAtomicUsize,
    image: impl FnOnce() -> Node,
) -> PageGuard {
    c.get_or_load(r, || {
        calls.fetch_add(1, SeqCst);
        Ok(image())
    })
    .unwrap()
}

#[test]
fn a_hit_needs_the_same_page_and_checksum() {
    let c = Cache::new(64 * frame_bytes(PS), PS);
    let calls = StdAtomicUsize::new(0);
    let g = load(&c, at(7, 1), &calls);
    assert!(g.is_page(at(7, 1)));
    load(&c, at(7, 1), &calls);
    assert_eq!(calls.load(SeqCst), 1, "the second load hits");
    let g = load(&c, at(7, 2), &calls);
    assert_eq!(calls.load(SeqCst), 2, "another checksum is another page");
    assert!(g.is_page(at(7, 2)));
    assert_eq!(c.hits_and_misses(), (1, 2));
    // The newer image replaced the older one in its frame.
    assert_eq!(c.bytes(), frame_bytes(PS));
    load(&c, at(7, 2), &calls);
    assert_eq!(calls.load(SeqCst), 2);
}

#[test]
fn the_cache_never_holds_more_than_its_budget() {
    for budget in [
        0,
        frame_bytes(PS) - 1,
        3 * frame_bytes(PS),
        100_000,
        1 << 20,
    ] {
        let c = Cache::new(budget, PS);
        assert!(c.frames() * frame_bytes(PS) <= budget, "budget {budget}");
        let calls = StdAtomicUsize::new(0);
        for p in 4..2000 {
            let g = load(&c, at(p, p), &calls);
            assert!(g.is_page(at(p, p)));
        }
        assert!(c.bytes() <= budget, "budget {budget}: {} bytes", c.bytes());
        // Full, but for the frame a miss's reclaim may leave free (it
        // evicts from the sweep's set, the insert from the page's own).
        assert!(
            c.bytes() + frame_bytes(PS) >= c.frames() * frame_bytes(PS),
            "budget {budget}: full ({} of {} frames)",
            c.bytes() / frame_bytes(PS),
            c.frames()
        );
    }
}

#[test]
fn clock_gives_a_used_page_a_second_chance() {
    // One set of eight frames.
    let c = Cache::new(8 * frame_bytes(PS), PS);
    assert_eq!(c.frames(), 8);
    let calls = StdAtomicUsize::new(0);
    for p in 4..12 {
        load(&c, at(p, 1), &calls);
    }
    for round in 0..4 {
        load(&c, at(4, 1), &calls);
        load(&c, at(100 + round, 1), &calls);
    }
    let before = calls.load(SeqCst);
    load(&c, at(4, 1), &calls);
    assert_eq!(
        calls.load(SeqCst),
        before,
        "the page read every round stayed"
    );
}

#[test]
fn a_guard_keeps_its_page_after_eviction() {
    let c = Cache::new(8 * frame_bytes(PS), PS);
    let calls = StdAtomicUsize::new(0);
    let g = load(&c, at(4, 1), &calls);
    for p in 5..100 {
        load(&c, at(p, 1), &calls);
    }
    assert!(g.is_page(at(4, 1)), "the evicted page is still readable");
    assert_eq!(g.key(0), b"k");
}

#[test]
fn concurrent_misses_of_one_page_read_it_once() {
    let c = Cache::new(64 * frame_bytes(PS), PS);
    let calls = Arc::new(StdAtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, calls, barrier) = (c.clone(), calls.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let g = c
                    .get_or_load(at(9, 3), || {
                        calls.fetch_add(1, SeqCst);
                        // Slow enough that the others arrive while reading.
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        Ok(read(&c, 9, 3))
                    })
                    .unwrap();
                assert!(g.is_page(at(9, 3)));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(calls.load(SeqCst), 1);
}

#[test]
fn a_failed_read_is_not_cached_and_waiters_read_again() {
    let c = Cache::new(64 * frame_bytes(PS), PS);
    let r = c.get_or_load(at(5, 1), || Err(Error::corrupt(5, "checksum mismatch")));
    assert!(r.unwrap_err().is_corruption());
    let calls = StdAtomicUsize::new(0);
    load(&c, at(5, 1), &calls);
    assert_eq!(calls.load(SeqCst), 1, "the failure was not cached");
}

#[test]
fn a_cache_without_frames_still_serves_pages() {
    let c = Cache::new(0, PS);
    let calls = StdAtomicUsize::new(0);
    for _ in 0..3 {
        assert!(load(&c, at(4, 1), &calls).is_page(at(4, 1)));
    }
    assert_eq!(calls.load(SeqCst), 3);
    let n = node(4, 1);
    c.insert_written(n.bytes(), at(4, 1));
    assert_eq!(c.bytes(), 0);
}

#[test]
fn a_page_on_the_heap_is_not_cached() {
    let c = Cache::new(8 * frame_bytes(PS), PS);
    let calls = StdAtomicUsize::new(0);
    for _ in 0..2 {
        load_with(&c, at(4, 1), &calls, || node(4, 1));
    }
    assert_eq!(calls.load(SeqCst), 2, "read twice: never cached");
    assert_eq!(c.bytes(), 0);
    c.insert_verified(Arc::new(node(5, 1)));
    assert_eq!(c.bytes(), 0);
}

#[test]
fn private_copies_displace_cached_pages() {
    // One set of eight frames, all holding cached pages.
    let c = Cache::new(8 * frame_bytes(PS), PS);
    let calls = StdAtomicUsize::new(0);
    for p in 4..12 {
        load(&c, at(p, 1), &calls);
    }
    assert_eq!(c.bytes(), 8 * frame_bytes(PS), "full");
    // A write transaction copies three of them and builds a node from
    // one: each takes the frame of an evicted page, not heap memory.
    let copies: Vec<Node> = (4..7)
        .map(|p| Node::clone(&load(&c, at(p, 1), &calls)))
        .collect();
    let built = copies[0].build_like(true, &copies[1].items());
    assert!(copies.iter().chain([&built]).all(Node::in_arena));
    assert_eq!(c.bytes(), 4 * frame_bytes(PS), "four pages made room");
    // With every frame lent out, a copy goes to the heap and a read is
    // served without being cached.
    let more: Vec<Node> = (0..4).map(|_| Node::clone(&copies[0])).collect();
    assert!(more.iter().all(Node::in_arena));
    assert_eq!(c.bytes(), 0);
    assert!(!Node::clone(&copies[0]).in_arena());
    let before = calls.load(SeqCst);
    load(&c, at(4, 1), &calls);
    load(&c, at(4, 1), &calls);
    assert_eq!(calls.load(SeqCst), before + 2);
    // Once the copies go, their frames serve the cache again.
    drop((copies, built, more));
    load(&c, at(4, 1), &calls);
    load(&c, at(4, 1), &calls);
    assert_eq!(calls.load(SeqCst), before + 3);
}
