//! Loom model of page pinning (`pager/pin.rs`): readers of one snapshot
//! share a tree's root pin, and the first walk through a branch pins it in
//! its parent's slot, within the database's pin budget. Under `--cfg loom`
//! the pin cells (`OnceCell`), the budget counter and the cache are loom's,
//! so every interleaving of the readers below is explored.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p vellum --test loom_pins --release
//! ```
//!
//! A second model races two readers through a pinned branch to the same
//! leaf, where the branch keeps leaf hints: the reader that loses the
//! race to decide the branch's children gives the hints' budget back, and
//! a hint stored by one is upgraded by the other (seeded bug, caught: the
//! loser keeps that budget).
//!
//! Checked, with two readers racing to pin the same root and branches:
//! - every lookup finds its own key and value (a pin hands out only the
//!   page its parent names);
//! - the pages pinned never exceed the budget, at any moment;
//! - a reader that loses the race to fill a slot gives its pin's budget
//!   back, and dropping the root pin gives every pin back.
//!
//! Seeded bugs, each applied to a scratch copy of the engine and caught
//! with `LOOM_MAX_PREEMPTIONS=3` (docs/TESTING.md §9): the budget taken
//! with a separate load and store instead of one `fetch_update` (the count
//! falls below the pins held); a lost race that keeps its budget (`mem::forget`
//! of the losing pin: pages stay counted after the root pin goes).
#![cfg(loom)]

use std::sync::Arc;

use loom::thread;

use vellum::btree::{self, build, flush};
use vellum::page::node::{Child, ValueSrc};
use vellum::pager::cache::frame_bytes;
use vellum::pager::pin::{hint_units, RootPin};
use vellum::pager::{PageWriter, Pager};
use vellum::vfs::{MemVfs, OpenMode, Vfs, VfsFile};

const PS: usize = 1024;
const KEYS: u64 = 60;

fn key(i: u64) -> [u8; 8] {
    (i * 7919).to_be_bytes()
}

/// The keys the readers look up: the two smallest (under the root's first
/// branch) and the largest (under its last).
const ORDER: [u64; 3] = [0, 1, KEYS - 1];

fn value(i: u64) -> Vec<u8> {
    vec![i as u8; 200]
}

struct Bump(u64);

impl flush::PageSource for Bump {
    fn alloc_pages(&mut self, pages: u64) -> vellum::Result<u64> {
        let p = self.0;
        self.0 += pages;
        Ok(p)
    }
}

/// A file holding a tree of three levels (root, branches, leaves of two
/// entries) and the tree's root.
fn tree() -> (Arc<dyn VfsFile>, Option<Child>) {
    let file = MemVfs::default()
        .open(std::path::Path::new("f"), OpenMode::CreateReadWrite)
        .unwrap();
    let values: Vec<_> = (0..KEYS).map(value).collect();
    let mut keys: Vec<_> = (0..KEYS).map(|i| (key(i), i)).collect();
    keys.sort();
    let built = build::build_sorted(
        keys.iter()
            .map(|(k, i)| (&k[..], ValueSrc::Inline(&values[*i as usize]))),
        PS,
        0.5,
    );
    let pager = Pager::new(file.clone(), PS, 64 * frame_bytes(PS));
    let mut out = PageWriter::new(&pager);
    let root = flush::flush(&mut out, &mut Bump(8), 1, built.as_ref().unwrap()).unwrap();
    out.finish().unwrap();
    (file, Some(Child::Disk(root)))
}

/// Looks `i` up through the shared root pin and checks the answer.
fn check_get(pager: &Pager, root: &Option<Child>, pin: &RootPin, i: u64) {
    let (leaf, at) = btree::get(pager, root, Some(pin), &key(i))
        .unwrap()
        .expect("every key is in the tree");
    assert_eq!(leaf.key(at), &key(i)[..]);
    match leaf.value(at) {
        vellum::page::node::ValueAt::Inline(v) => assert_eq!(v, &value(i)[..]),
        other => panic!("unexpected value {other:?}"),
    }
    for budget in [pager.pins(), pager.hints()] {
        assert!(budget.pinned() <= budget.max(), "{} taken", budget.pinned());
    }
}

/// A tree, its root, and what `inspect` reads of it through a pager
/// without pins (the first branch under the root, its first child). Built
/// in a model of its own: a pager's atomics are loom's, usable only inside
/// a model.
fn built_tree<T: Send + 'static>(
    inspect: fn(&vellum::pager::NodeRef<'_>, &vellum::pager::NodeRef<'_>) -> T,
) -> (Arc<Arc<dyn VfsFile>>, Arc<Option<Child>>, T) {
    let built = Arc::new(std::sync::Mutex::new(None));
    let slot = built.clone();
    loom::model(move || {
        let (file, root) = tree();
        let p = Pager::new(file.clone(), PS, 64 * frame_bytes(PS)).with_pin_budget(0);
        let pin = RootPin::default();
        let r = p.pinned_root(root.as_ref().unwrap(), &pin).unwrap();
        assert!(r.len() >= 2 && !r.is_leaf(), "the root is a branch");
        let b = p.child_of(&r, 0, 0).unwrap();
        let found = inspect(&b, &p.child_of(&b, 0, 1).unwrap());
        *slot.lock().unwrap() = Some((file, root, found));
    });
    let (file, root, found) = built.lock().unwrap().take().unwrap();
    (Arc::new(file), Arc::new(root), found)
}

/// Two readers of one snapshot walk through the same root and branches
/// while pinning them, with a budget of two branch pins: both may take
/// one for the first branch, where only one can win.
#[test]
fn racing_readers_pin_within_the_budget_and_give_it_back() {
    let (file, root, ()) = built_tree(|branch, leaf| {
        assert!(!branch.is_leaf(), "the root's children are branches");
        assert!(leaf.is_leaf(), "the tree has three levels");
    });
    loom::model(move || {
        // No hints: this model is about the pins (the next one is about hints).
        let pager = Arc::new(
            Pager::new((*file).clone(), PS, 64 * frame_bytes(PS))
                .with_pin_budget(2)
                .with_hint_budget(0),
        );
        // The pages are cached first (a walk without pins), so the model
        // explores the pins' races rather than the cache's (loom_cache.rs).
        for i in ORDER {
            assert!(btree::get(&pager, &root, None, &key(i)).unwrap().is_some());
        }
        assert_eq!(pager.pins().pinned(), 0);
        let pin = RootPin::default();
        // Both walk through the root's first branch; the second reader
        // then goes on to the last branch.
        let readers: Vec<_> = [&ORDER[..1], &ORDER[1..]]
            .into_iter()
            .map(|ks| {
                let (pager, root, pin) = (pager.clone(), root.clone(), pin.clone());
                thread::spawn(move || {
                    for &i in ks {
                        check_get(&pager, &root, &pin, i);
                    }
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        // The first branch, and the last one unless a reader still held a
        // pin it was about to lose when the last branch was reached.
        let pinned = pager.pins().pinned();
        assert!((1..=2).contains(&pinned), "{pinned} branches pinned");
        drop(pin);
        assert_eq!(pager.pins().pinned(), 0, "the pins went with the root pin");
    });
}

/// Two readers walk to the same leaf at once (the two smallest keys) through
/// a pinned branch, with a hint budget that holds the branch's leaf hints
/// twice: both may take the hints' budget, only one decides what the
/// branch keeps (the other gives its budget back), and one stores the hint
/// while the other upgrades it. Every answer is right, the budget is never exceeded, and
/// all of it comes back with the root pin.
#[test]
fn racing_readers_share_leaf_hints_and_give_their_budget_back() {
    // What the hints of the branch the readers pass cost.
    let (file, root, units) = built_tree(|branch, _| hint_units(branch.len(), PS));
    loom::model(move || {
        let pager = Arc::new(
            Pager::new((*file).clone(), PS, 64 * frame_bytes(PS))
                .with_pin_budget(1)
                // Room for both readers to take the hints' budget.
                .with_hint_budget(2 * units),
        );
        for i in [0, 1] {
            assert!(btree::get(&pager, &root, None, &key(i)).unwrap().is_some());
        }
        let pin = RootPin::default();
        // The root and the branch are pinned first, so that the model
        // explores the races below the branch (the pins' own races are the
        // model above).
        {
            let top = (*root).as_ref().unwrap();
            let r = pager.pinned_root(top, &pin).unwrap();
            assert!(!pager.child_of(&r, 0, 0).unwrap().is_leaf());
            assert_eq!(pager.pins().pinned(), 1);
        }
        let readers: Vec<_> = [0, 1]
            .into_iter()
            .map(|i| {
                let (pager, root, pin) = (pager.clone(), root.clone(), pin.clone());
                thread::spawn(move || {
                    check_get(&pager, &root, &pin, i);
                    // Again: through the hint a first get left.
                    check_get(&pager, &root, &pin, i);
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        // Both readers may take the hints' budget, only one keeps it.
        assert_eq!(pager.hints().pinned(), units);
        assert_eq!(pager.pins().pinned(), 1);
        drop(pin);
        assert_eq!(
            pager.hints().pinned(),
            0,
            "the hints went with the root pin"
        );
        assert_eq!(pager.pins().pinned(), 0, "the pins went with the root pin");
    });
}
