//! Pins of a tree's upper pages.
//!
//! Every operation on a tree walks down from its root, so the root and the
//! branches just below it are the same few pages for every reader. A pin
//! keeps such a page at hand where the walk finds it (in the catalog of the
//! snapshot, and in the pin of its parent), so that those levels need no
//! cache lookup: the walk reads a `OnceCell` (a load, no write) instead of a
//! set, a frame and a node header.
//!
//! - The root's pin is shared by the catalogs that refer to the same root
//!   (a snapshot and the write transaction that started from it), and is
//!   used only while it is the page the root reference names.
//! - A child's pin is set from its parent's own reference, and a pinned page
//!   never changes, so it is always the right child.
//! - Only branches are pinned below the root, down to [`MAX_PIN_DEPTH`],
//!   and only while the database's pins stay within a budget (a 32nd of the
//!   cache's frames, at least 16): pinned pages are usually cached too (the
//!   same `Arc`), so the budget bounds the memory they can hold beyond the
//!   cache. Pins go when the catalogs holding them go.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::sync::{AtomicUsize, OnceCell};

use super::{NodeRef, Pager};
use crate::page::node::{Child, ChildAt, Node};
use crate::Result;

/// Deepest level (the root is 0) whose pages are pinned.
pub const MAX_PIN_DEPTH: usize = 3;

/// How many pages a database may pin.
#[derive(Debug)]
pub struct PinBudget {
    pinned: AtomicUsize,
    max: usize,
}

impl PinBudget {
    /// A budget of `max` pinned pages.
    pub fn new(max: usize) -> Arc<PinBudget> {
        Arc::new(PinBudget {
            pinned: AtomicUsize::new(0),
            max,
        })
    }

    /// Takes one pin from the budget, if any is left.
    fn take(&self) -> bool {
        self.pinned
            .fetch_update(Relaxed, Relaxed, |n| (n < self.max).then_some(n + 1))
            .is_ok()
    }

    /// Pages pinned now.
    pub fn pinned(&self) -> usize {
        self.pinned.load(Relaxed)
    }

    /// Most pages that may be pinned.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// A pinned page and the pins of its children.
pub struct Pinned {
    node: Arc<Node>,
    /// One slot per child for branches above [`MAX_PIN_DEPTH`]; empty
    /// otherwise.
    kids: Box<[OnceCell<Pinned>]>,
    /// Given back when the pin goes (`None`: the root's pin, which is not
    /// counted: one per bucket whose tree a reader walked).
    budget: Option<Arc<PinBudget>>,
}

impl Pinned {
    fn new(node: Arc<Node>, depth: usize, budget: Option<Arc<PinBudget>>) -> Pinned {
        let kids = if node.is_leaf() || depth >= MAX_PIN_DEPTH {
            Box::default()
        } else {
            (0..node.len()).map(|_| OnceCell::new()).collect()
        };
        Pinned { node, kids, budget }
    }

    /// The pinned page.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.pinned.fetch_sub(1, Relaxed);
        }
    }
}

/// A tree's root page, pinned by the catalog that refers to it once a
/// reader has looked it up. Clones share the pin.
#[derive(Clone, Default)]
pub struct RootPin(Arc<OnceCell<Pinned>>);

impl std::fmt::Debug for RootPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get() {
            Some(p) => write!(f, "RootPin(page {})", p.node.page()),
            None => write!(f, "RootPin(empty)"),
        }
    }
}

impl Pager {
    /// The root node of a tree, through its pin (filled on first use).
    #[inline]
    pub fn pinned_root<'a>(&self, root: &'a Child, pin: &'a RootPin) -> Result<NodeRef<'a>> {
        let Child::Disk(r) = root else {
            return self.root(root);
        };
        if let Some(p) = pin.0.get() {
            if p.node.is_page(*r) {
                return Ok(NodeRef::Pinned(p));
            }
            return Ok(NodeRef::Page(self.load(*r)?));
        }
        let _ = pin.0.set(Pinned::new(self.load(*r)?.into_arc(), 0, None));
        match pin.0.get() {
            Some(p) if p.node.is_page(*r) => Ok(NodeRef::Pinned(p)),
            _ => Ok(NodeRef::Page(self.load(*r)?)),
        }
    }

    /// Child `i` of `parent`, a node at `depth` below its tree's root:
    /// through the parent's pins when the parent is pinned (pinning the
    /// child if it is a branch, shallow enough, and the budget allows).
    #[inline]
    pub fn child_of<'a>(
        &self,
        parent: &NodeRef<'a>,
        i: usize,
        depth: usize,
    ) -> Result<NodeRef<'a>> {
        match parent {
            NodeRef::Pinned(p) => self.pinned_child(p, i, depth, None),
            other => self.node(other.child(i)),
        }
    }

    /// Child `i` of the pinned `parent` (see [`Pager::child_of`]), for a
    /// walk that goes on to its child `next` if there is one (a scan): a
    /// leaf missing from the cache is read together with that sibling when
    /// they are adjacent on disk ([`Pager::load_with_neighbor`]).
    pub fn pinned_child<'a>(
        &self,
        parent: &'a Pinned,
        i: usize,
        depth: usize,
        next: Option<usize>,
    ) -> Result<NodeRef<'a>> {
        let Some(slot) = parent.kids.get(i) else {
            return self.node(parent.node.child(i));
        };
        if let Some(kid) = slot.get() {
            return Ok(NodeRef::Pinned(kid));
        }
        let r = match parent.node.child(i) {
            ChildAt::Disk(r) => r,
            ChildAt::Mem(_) => unreachable!("a verified page has no in-memory child"),
        };
        let page = self.load_with_neighbor(r, next.and_then(|j| parent.node.disk_child(j)))?;
        if page.is_leaf() || !self.pins.take() {
            return Ok(NodeRef::Page(page));
        }
        // Losing a race to pin it drops this pin, which gives its budget
        // back.
        let _ = slot.set(Pinned::new(
            page.into_arc(),
            depth + 1,
            Some(self.pins.clone()),
        ));
        Ok(NodeRef::Pinned(slot.get().expect("set just above")))
    }
}
