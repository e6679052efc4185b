use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::cursor::{Root, Seek, TreeCursor};
use super::flush::{flush, flush_owned, PageSource};
use super::*;
use crate::entry::value_in_snapshot;
use crate::page::overflow::run_pages;
use crate::pager::RootPin;

/// Allocates pages from a counter (nothing is ever reused).
struct Bump(u64);

impl PageSource for Bump {
    fn alloc_pages(&mut self, pages: u64) -> Result<u64> {
        let p = self.0;
        self.0 += pages;
        Ok(p)
    }
}

/// The pages (tree pages and overflow runs) reachable from `root`.
fn reachable(pager: &Pager, root: &Option<Child>) -> BTreeSet<u64> {
    let mut s = BTreeSet::new();
    for_each_page(pager, root, &mut |p, n| {
        for q in p..p + n {
            assert!(s.insert(q), "page {q} reached twice");
        }
        Ok(())
    })
    .unwrap();
    s
}

/// Every entry of the tree, walked with a cursor forwards.
fn contents(pager: &Pager, root: &Option<Child>, pin: &RootPin) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut c = TreeCursor::new(Root::Borrowed(root, pin));
    let mut out = Vec::new();
    let mut ok = c.first(pager).unwrap();
    while ok {
        let (leaf, i) = c.current().unwrap();
        let v = match leaf.value(i) {
            crate::page::node::ValueAt::Inline(v) | crate::page::node::ValueAt::Pending(v) => {
                v.to_vec()
            }
            crate::page::node::ValueAt::Overflow { at, len } => {
                pager.read_overflow(at, len).unwrap()
            }
        };
        out.push((leaf.key(i).to_vec(), v));
        ok = c.next(pager).unwrap();
    }
    out
}

fn keys_backwards(pager: &Pager, root: &Option<Child>, pin: &RootPin) -> Vec<Vec<u8>> {
    let mut c = TreeCursor::new(Root::Borrowed(root, pin));
    let mut out = Vec::new();
    let mut ok = c.last(pager).unwrap();
    while ok {
        out.push(c.key().unwrap().to_vec());
        ok = c.prev(pager).unwrap();
    }
    out
}

#[derive(Clone, Debug)]
enum Op {
    Put(u16, usize),
    Delete(u16),
    Flush,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u16..600, prop_oneof![4 => 0usize..80, 1 => 300usize..3000]).prop_map(|(k, v)| Op::Put(k, v)),
        4 => (0u16..600).prop_map(Op::Delete),
        1 => Just(Op::Flush),
    ]
}

fn key(k: u16) -> Vec<u8> {
    // Keys of varied lengths sharing prefixes.
    let mut v = format!("k{:03}", k % 200).into_bytes();
    v.extend(std::iter::repeat_n(b'x', (k / 200) as usize * 7));
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random puts and deletes (small and large values), with flushes to
    /// disk in between, against a `BTreeMap`: same contents forwards and
    /// backwards, every key found, seeks land right, the tree keeps its
    /// shape, and every page dropped by copy-on-write is reported freed
    /// exactly once (reachable now + freed = reachable at the last flush).
    #[test]
    fn tree_operations_match_a_map(ops in proptest::collection::vec(op_strategy(), 1..400)) {
        let ps = 1024;
        let pager = Pager::in_memory(ps);
        let limits = crate::Limits::for_page_size(ps);
        let mut src = Bump(crate::page::slot::RESERVED_PAGES);
        let mut root: Option<Child> = None;
        // One pin for the whole run: after each flush it names an older
        // root, which must be noticed, never used.
        let pin = RootPin::default();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut at_flush: BTreeSet<u64> = BTreeSet::new();
        let mut flushes = 0u32;
        let mut freed: BTreeSet<u64> = BTreeSet::new();
        let free = |freed: &mut BTreeSet<u64>, p: u64, n: u64| {
            for q in p..p + n {
                assert!(freed.insert(q), "page {q} freed twice");
            }
        };
        for op in ops {
            match op {
                Op::Put(k, vlen) => {
                    let (k, v) = (key(k), vec![(k % 251) as u8; vlen]);
                    let value = if vlen > limits.max_inline_value_len {
                        ValueSrc::Pending(Arc::from(&v[..]))
                    } else {
                        ValueSrc::Inline(&v)
                    };
                    let mut f = Freed::new();
                    let old = insert(&mut TreeMut::new(&pager, &mut f), &mut root, &k, value).unwrap();
                    for (p, n) in f { free(&mut freed, p, n); }
                    prop_assert_eq!(old.is_some(), model.contains_key(&k));
                    if let Some(OldValue::Overflow(at, len)) = old {
                        free(&mut freed, at.page, run_pages(len as usize, ps));
                    }
                    model.insert(k, v);
                }
                Op::Delete(k) => {
                    let k = key(k);
                    let mut f = Freed::new();
                    let old = delete(&mut TreeMut::new(&pager, &mut f), &mut root, &k).unwrap();
                    for (p, n) in f { free(&mut freed, p, n); }
                    prop_assert_eq!(old.is_some(), model.remove(&k).is_some());
                    if let Some(OldValue::Overflow(at, len)) = old {
                        free(&mut freed, at.page, run_pages(len as usize, ps));
                    }
                }
                Op::Flush => {
                    // Every other flush consumes the tree, as a checkpoint
                    // of a transaction's own trees does; the same pages
                    // must come out.
                    flushes += 1;
                    if let Some(r) = root.take() {
                        let mut w = crate::pager::PageWriter::new(&pager);
                        let at = if flushes.is_multiple_of(2) {
                            flush_owned(&mut w, &mut src, 1, r).unwrap()
                        } else {
                            flush(&mut w, &mut src, 1, &r).unwrap()
                        };
                        root = Some(Child::Disk(at));
                        w.finish().unwrap();
                    }
                    at_flush = reachable(&pager, &root);
                    freed.clear();
                    prop_assert_eq!(contents(&pager, &root, &pin), model.clone().into_iter().collect::<Vec<_>>());
                }
            }
            let now = reachable(&pager, &root);
            prop_assert!(now.is_disjoint(&freed), "a freed page is still reachable");
            let mut union = now.clone();
            union.extend(&freed);
            prop_assert_eq!(&union, &at_flush, "pages lost or invented by copy-on-write");
        }
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        prop_assert_eq!(contents(&pager, &root, &pin), want);
        let mut back: Vec<Vec<u8>> = model.keys().cloned().collect();
        back.reverse();
        prop_assert_eq!(keys_backwards(&pager, &root, &pin), back);
        for (k, v) in &model {
            let (leaf, i) = get(&pager, &root, Some(&pin), k).unwrap().expect("present");
            prop_assert_eq!(&*value_in_snapshot(&pager, leaf, i).unwrap(), v.as_slice());
        }
        // Seeks between keys land on the neighbours.
        for probe in [b"k050".to_vec(), b"k1".to_vec(), b"k199xx".to_vec(), b"z".to_vec(), vec![]] {
            let mut c = TreeCursor::new(Root::Borrowed(&root, &pin));
            let ge = model.range(probe.clone()..).next().map(|e| e.0.clone());
            let found = c.seek(&pager, &probe, Seek::Ge).unwrap();
            prop_assert_eq!(found.then(|| c.key().unwrap().to_vec()), ge);
            let lt = model.range(..probe.clone()).next_back().map(|e| e.0.clone());
            let found = c.seek(&pager, &probe, Seek::Lt).unwrap();
            prop_assert_eq!(found.then(|| c.key().unwrap().to_vec()), lt);
        }
        // Balanced, ordered, every node but the root at least non-empty.
        if let Some(r) = &root {
            let mut rep = crate::CheckReport::default();
            let cat = crate::catalog::Catalog {
                default: crate::catalog::BucketRoot { root: Some(r.clone()), len: model.len() as u64, sequence: 0, pin: Default::default(), incarnation: 0 },
                named: Default::default(),
            };
            crate::check::check_trees(&pager, &cat, &mut rep).unwrap();
            prop_assert!(rep.is_ok(), "{}", rep);
        }
    }
}

/// Keys 0..300 as 4-byte big-endian numbers.
fn keys_0_to_300() -> Vec<[u8; 4]> {
    (0..300u32).map(|i| i.to_be_bytes()).collect()
}

/// An in-memory tree of `keys` (20-byte values) with full leaves: two
/// levels at 1 KiB pages.
fn full_leaves(keys: &[[u8; 4]], ps: usize) -> Option<Child> {
    build::build_sorted(
        keys.iter().map(|k| (&k[..], ValueSrc::Inline(&[1; 20]))),
        ps,
        1.0,
    )
}

/// A delete that leaves its leaf more than a quarter full copies only the
/// path to its key: no sibling is merged or redistributed (each copied
/// sibling would be one more page written at the checkpoint).
#[test]
fn a_delete_leaving_its_leaf_full_enough_touches_only_its_path() {
    let ps = 1024;
    let pager = Pager::in_memory(ps);
    let keys = keys_0_to_300();
    let mut root = full_leaves(&keys, ps);
    let Some(Child::Mem(r)) = &root else { panic!() };
    let before: Vec<Arc<Node>> = (0..r.len())
        .map(|i| match r.child(i) {
            ChildAt::Mem(n) => n.clone(),
            ChildAt::Disk(_) => panic!(),
        })
        .collect();
    assert!(before.len() > 2, "a two-level tree");
    let mut freed = Freed::new();
    let old = delete(
        &mut TreeMut::new(&pager, &mut freed),
        &mut root,
        &0u32.to_be_bytes(),
    )
    .unwrap();
    assert_eq!(old, Some(OldValue::Inline));
    let Some(Child::Mem(r)) = &root else { panic!() };
    assert_eq!(r.len(), before.len(), "no merge");
    for (i, b) in before.iter().enumerate() {
        let ChildAt::Mem(n) = r.child(i) else {
            panic!()
        };
        assert_eq!(Arc::ptr_eq(n, b), i != 0, "child {i}");
    }
    assert!(get(&pager, &root, None, &0u32.to_be_bytes())
        .unwrap()
        .is_none());
    assert!(get(&pager, &root, None, &1u32.to_be_bytes())
        .unwrap()
        .is_some());
}

/// Merges are lazy: deleting all but one entry of a leaf merges nothing
/// (the leaf is packed when a checkpoint writes it); deleting its last
/// entry removes the leaf, its entries' neighbours intact.
#[test]
fn a_leaf_merges_only_when_a_delete_empties_it() {
    let ps = 1024;
    let pager = Pager::in_memory(ps);
    let keys = keys_0_to_300();
    let mut root = full_leaves(&keys, ps);
    let children = |root: &Option<Child>| match root {
        Some(Child::Mem(r)) => r.len(),
        _ => panic!("an in-memory branch root"),
    };
    let first_leaf_len = |root: &Option<Child>| match root {
        Some(Child::Mem(r)) => match r.child(0) {
            ChildAt::Mem(l) => l.len(),
            ChildAt::Disk(_) => panic!(),
        },
        _ => panic!(),
    };
    let before = children(&root);
    let n = first_leaf_len(&root) as u32;
    assert!(n > 2 && before > 2);
    let mut freed = Freed::new();
    for k in 0..n - 1 {
        let old = delete(
            &mut TreeMut::new(&pager, &mut freed),
            &mut root,
            &k.to_be_bytes(),
        );
        assert_eq!(old.unwrap(), Some(OldValue::Inline), "key {k}");
        assert_eq!(children(&root), before, "no merge after deleting key {k}");
    }
    assert_eq!(first_leaf_len(&root), 1, "a sparse leaf is kept");
    delete(
        &mut TreeMut::new(&pager, &mut freed),
        &mut root,
        &(n - 1).to_be_bytes(),
    )
    .unwrap();
    assert_eq!(children(&root), before - 1, "the emptied leaf is gone");
    let pin = RootPin::default();
    let left: Vec<Vec<u8>> = contents(&pager, &root, &pin)
        .into_iter()
        .map(|e| e.0)
        .collect();
    let want: Vec<Vec<u8>> = keys[n as usize..].iter().map(|k| k.to_vec()).collect();
    assert_eq!(left, want);
}

/// A delete that empties its leaf reads the sibling it merges with before
/// it changes anything: when that read fails, the delete fails and the
/// tree is as it was (the leaf still holds its last key).
#[test]
fn a_delete_whose_merge_cannot_read_the_sibling_changes_nothing() {
    let ps = 1024;
    let pager = Pager::in_memory(ps);
    let built = full_leaves(&keys_0_to_300(), ps);
    let mut w = crate::pager::PageWriter::new(&pager);
    let r = flush(
        &mut w,
        &mut Bump(crate::page::slot::RESERVED_PAGES),
        1,
        built.as_ref().unwrap(),
    )
    .unwrap();
    w.finish().unwrap();
    let mut root = Some(Child::Disk(r));
    let first_leaf = |root: &Option<Child>, pager: &Pager| -> (usize, Option<PageRef>) {
        let top = pager.root(root.as_ref().unwrap()).unwrap();
        let leaf = pager.node(top.child(0)).unwrap();
        let sibling = match top.child(1) {
            ChildAt::Disk(r) => Some(r),
            ChildAt::Mem(_) => None,
        };
        (leaf.len(), sibling)
    };
    let (n, sibling) = first_leaf(&root, &pager);
    let mut freed = Freed::new();
    for k in 0..n as u32 - 1 {
        delete(
            &mut TreeMut::new(&pager, &mut freed),
            &mut root,
            &k.to_be_bytes(),
        )
        .unwrap();
    }
    assert_eq!(first_leaf(&root, &pager).0, 1);
    // The sibling's page goes bad on disk; a pager with an empty cache
    // must read it.
    let sibling = sibling.expect("the sibling is on disk");
    pager.write_pages(sibling.page, &vec![0xA5; ps]).unwrap();
    let cold = Pager::new(pager.file().clone(), ps, 1 << 20);
    let last = (n as u32 - 1).to_be_bytes();
    assert!(delete(&mut TreeMut::new(&cold, &mut freed), &mut root, &last).is_err());
    assert_eq!(
        first_leaf(&root, &cold).0,
        1,
        "the failed delete changed the leaf"
    );
    assert!(get(&cold, &root, None, &last).unwrap().is_some());
}

/// Deletes shrink the root: a branch left with one child gives way to that
/// child, a leaf keeps its last key until it goes, and then the tree is
/// empty.
#[test]
fn deletes_shrink_the_root_to_a_leaf_and_then_to_nothing() {
    let ps = 1024;
    let pager = Pager::in_memory(ps);
    let mut root = None;
    let mut freed = Freed::new();
    let n = 60u32;
    for i in 0..n {
        insert(
            &mut TreeMut::new(&pager, &mut freed),
            &mut root,
            &i.to_be_bytes(),
            ValueSrc::Inline(&[3; 40]),
        )
        .unwrap();
    }
    let is_leaf = |root: &Option<Child>| pager.root(root.as_ref().unwrap()).unwrap().is_leaf();
    assert!(!is_leaf(&root), "two levels to start with");
    for i in 0..n - 1 {
        delete(
            &mut TreeMut::new(&pager, &mut freed),
            &mut root,
            &i.to_be_bytes(),
        )
        .unwrap();
    }
    assert!(is_leaf(&root), "the root shrank to a leaf");
    let last = (n - 1).to_be_bytes();
    let (leaf, i) = get(&pager, &root, None, &last)
        .unwrap()
        .expect("the last key");
    assert_eq!((leaf.len(), leaf.key(i)), (1, &last[..]));
    drop(leaf);
    delete(&mut TreeMut::new(&pager, &mut freed), &mut root, &last).unwrap();
    assert!(root.is_none(), "the tree is empty");
}

/// Changing a tree shared with a snapshot copies what it changes: the
/// snapshot's nodes keep their content.
#[test]
fn a_shared_tree_is_copied_not_changed() {
    let ps = 1024;
    let pager = Pager::in_memory(ps);
    let mut root = None;
    for i in 0..500u32 {
        let mut f = Freed::new();
        insert(
            &mut TreeMut::new(&pager, &mut f),
            &mut root,
            &i.to_be_bytes(),
            ValueSrc::Inline(b"old"),
        )
        .unwrap();
    }
    let snapshot = root.clone();
    let pin = RootPin::default();
    let before = contents(&pager, &snapshot, &pin);
    for i in (0..500u32).step_by(3) {
        let mut f = Freed::new();
        insert(
            &mut TreeMut::new(&pager, &mut f),
            &mut root,
            &i.to_be_bytes(),
            ValueSrc::Inline(b"new value"),
        )
        .unwrap();
        delete(
            &mut TreeMut::new(&pager, &mut f),
            &mut root,
            &(i + 1).to_be_bytes(),
        )
        .unwrap();
    }
    assert_eq!(contents(&pager, &snapshot, &pin), before);
    assert_ne!(contents(&pager, &root, &pin), before);
}

/// Walks pin the upper branches of a tree, never a leaf, and give the
/// branches above the leaves hints to their leaves, never holding more
/// than the budget (a 32nd of the cache's frames, at least 16), and give
/// the budget back when the tree's pin goes; answers are the same with and
/// without pins, and a walk through the hints finds its leaves without the
/// cache's table.
#[test]
fn pins_stay_within_their_budget_and_go_with_the_root_pin() {
    let ps = 1024;
    for n in [2_000u64, 200_000] {
        let pager = Pager::in_memory(ps);
        let keys: Vec<[u8; 8]> = (0..n).map(|i| (i * 7919).to_be_bytes()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        let root = build::build_sorted(
            sorted.iter().map(|k| (&k[..], ValueSrc::Inline(&k[..]))),
            ps,
            1.0,
        );
        let mut src = Bump(crate::page::slot::RESERVED_PAGES);
        let mut w = crate::pager::PageWriter::new(&pager);
        let root = Some(Child::Disk(
            flush::flush(&mut w, &mut src, 1, root.as_ref().unwrap()).unwrap(),
        ));
        w.finish().unwrap();
        // Branches below the root (the pages that may be pinned), and the
        // budget the hints of the branches above the leaves take.
        let root_page = root.as_ref().unwrap().disk_page().unwrap();
        let (mut branches, mut hint_units) = (0, 0);
        for_each_page(&pager, &root, &mut |p, _| {
            let bytes = pager.read_pages(p, 1).unwrap();
            if crate::page::node::layout::is_leaf(&bytes) {
                return Ok(());
            }
            branches += (p != root_page) as usize;
            let node = Node::from_checked_page(
                bytes.into_boxed_slice(),
                PageRef {
                    page: p,
                    checksum: 0,
                },
            );
            let ChildAt::Disk(first) = node.child(0) else {
                unreachable!("a page's children are pages")
            };
            if crate::page::node::layout::is_leaf(&pager.read_pages(first.page, 1).unwrap()) {
                hint_units += crate::pager::pin::hint_units(node.len(), ps);
            }
            Ok(())
        })
        .unwrap();
        let pin = RootPin::default();
        for k in keys.iter().step_by(3) {
            let with = get(&pager, &root, Some(&pin), k)
                .unwrap()
                .map(|(n, i)| n.key(i).to_vec());
            let without = get(&pager, &root, None, k)
                .unwrap()
                .map(|(n, i)| n.key(i).to_vec());
            assert_eq!(with, Some(k.to_vec()));
            assert_eq!(with, without);
        }
        let (pinned, max) = (pager.pins().pinned(), pager.pins().max());
        assert_eq!(max, (pager.cache().frames() / 32).max(16));
        // Every branch is visited, so all of them are pinned up to the cap;
        // the hints have a budget of their own, so they never take a pin's.
        assert_eq!(
            pinned,
            branches.min(max),
            "{n} keys: {branches} branches, cap {max}"
        );
        let (hinted, hint_max) = (pager.hints().pinned(), pager.hints().max());
        assert_eq!(hint_max, max);
        assert!(hinted <= hint_max, "{n} keys: {hinted} of {hint_max}");
        if hint_units <= hint_max {
            assert_eq!(hinted, hint_units, "{n} keys: every leaf-parent has hints");
        } else {
            assert!(
                hinted + crate::pager::pin::hint_units(ps, ps) > hint_max,
                "{n} keys: the hint budget ({hinted} of {hint_max}) is left unused"
            );
        }
        // With the hints in place, gets through them count as cache hits
        // (and read nothing).
        if hint_units <= hint_max {
            let (hits, misses) = pager.cache().hits_and_misses();
            for k in keys.iter().step_by(3) {
                assert!(get(&pager, &root, Some(&pin), k).unwrap().is_some());
            }
            let (hits2, misses2) = pager.cache().hits_and_misses();
            assert_eq!(misses2, misses, "every leaf is cached");
            assert!(
                hits2 >= hits + keys.len() as u64 / 3,
                "hint hits are counted"
            );
        }
        // A cursor walk through the pins sees every key in order.
        assert_eq!(contents(&pager, &root, &pin).len(), keys.len());
        drop(pin);
        assert_eq!(pager.pins().pinned(), 0, "the pins went with the root pin");
        assert_eq!(
            pager.hints().pinned(),
            0,
            "the hints went with the root pin"
        );
    }
}

/// How many of the pages under `root` (all on disk) the cache holds.
fn cached_pages(pager: &Pager, root: PageRef) -> (usize, usize) {
    let (mut cached, mut total) = (0, 0);
    let mut stack = vec![root];
    while let Some(at) = stack.pop() {
        total += 1;
        cached += usize::from(pager.cache().contains(at));
        let n = pager.load(at).unwrap();
        if !n.is_leaf() {
            stack.extend((0..n.len()).filter_map(|i| n.disk_child(i)));
        }
    }
    (cached, total)
}

/// A checkpoint that consumes a transaction's tree ([`flush_owned`])
/// frees each node once its page is queued, so the pages it caches take
/// the frames the tree's nodes held: every page it writes is cached even
/// when the tree fills the cache's arena. Writing a tree that stays
/// shared ([`flush`]) finds no free frame for most of its pages.
#[test]
fn a_consumed_tree_hands_its_frames_to_the_pages_it_caches() {
    use crate::vfs::{MemVfs, OpenMode, Vfs};
    let ps = 1024;
    let build = || {
        let file = MemVfs::default()
            .open(std::path::Path::new("f"), OpenMode::CreateReadWrite)
            .unwrap();
        let pager = Pager::new(file, ps, 400 * crate::pager::cache::frame_bytes(ps));
        let mut root = None;
        let mut freed = Freed::new();
        // Keys in a scattered order leave leaves about two-thirds full,
        // so the tree takes most of the 400 frames.
        for i in 0..2_500u32 {
            let k = i.wrapping_mul(2_654_435_761).to_be_bytes();
            let mut t = TreeMut::new(&pager, &mut freed);
            insert(&mut t, &mut root, &k, ValueSrc::Inline(&[7; 60])).unwrap();
        }
        (pager, root.unwrap())
    };
    let (pager, root) = build();
    let mut w = crate::pager::PageWriter::new(&pager);
    let at = flush_owned(&mut w, &mut Bump(crate::page::slot::RESERVED_PAGES), 1, root).unwrap();
    w.finish().unwrap();
    let (cached, total) = cached_pages(&pager, at);
    assert!(total > 200, "the tree has {total} pages");
    assert_eq!(cached, total, "every page written is cached");

    let (pager, root) = build();
    let mut w = crate::pager::PageWriter::new(&pager);
    let at = flush(&mut w, &mut Bump(crate::page::slot::RESERVED_PAGES), 1, &root).unwrap();
    w.finish().unwrap();
    drop(root);
    let (cached, total) = cached_pages(&pager, at);
    assert!(cached < total / 2, "{cached} of {total} cached with the tree held");
}
