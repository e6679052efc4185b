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
//! - A pinned branch whose children are leaves keeps, instead of pins, a
//!   *weak* reference to each leaf where the cache last had it: a walk
//!   upgrades it instead of looking the leaf up in the cache's table (one
//!   miss fewer per leaf). A weak reference keeps no page alive: once the
//!   cache evicts the leaf and no reader holds it, the upgrade fails and the
//!   walk looks it up as before. The hints, and what they may keep (each
//!   node's small header allocation), are charged to a budget of their
//!   own, of the same size as the pins', so that they never take the
//!   budget of the branch pins above them.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::sync::{AtomicUsize, OnceCell, WeakCell};

use super::{NodeRef, PageGuard, Pager};
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

    /// Takes `units` pins from the budget, if that many are left.
    fn take(&self, units: usize) -> bool {
        self.pinned
            .fetch_update(Relaxed, Relaxed, |n| {
                (n + units <= self.max).then_some(n + units)
            })
            .is_ok()
    }

    /// Gives `units` pins back.
    fn give(&self, units: usize) {
        self.pinned.fetch_sub(units, Relaxed);
    }

    #[cfg(any(test, feature = "internals"))]
    /// Pages pinned now.
    pub fn pinned(&self) -> usize {
        self.pinned.load(Relaxed)
    }

    #[cfg(any(test, feature = "internals"))]
    /// Most pages that may be pinned.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// What a pinned branch keeps of its children, decided by the first child
/// a walk reads (every child of a branch is at the same height).
enum Kids {
    /// The children are branches: a pin slot for each.
    Branches(Box<[OnceCell<Pinned>]>),
    /// The children are leaves: where each was last found, and the hint
    /// budget they are charged to (`units` pages).
    Leaves {
        hints: Box<[Hint]>,
        budget: Arc<PinBudget>,
        units: usize,
    },
    /// Nothing: branch children of a pin at [`MAX_PIN_DEPTH`] or deeper.
    /// (Leaf children while the hint budget has no room leave the choice
    /// undecided, so that a later walk may still give them hints.)
    Nothing,
}

/// Where a leaf child was last found.
struct Hint {
    /// The leaf, while anything (the cache, a reader) keeps it.
    leaf: WeakCell<Node>,
    /// Address of its page bytes: only ever prefetched, so that the page
    /// loads while the upgrade reads the node (a stale address costs a
    /// useless prefetch, nothing else).
    bytes_at: AtomicUsize,
}

impl Hint {
    fn empty() -> Hint {
        Hint {
            leaf: WeakCell::empty(),
            bytes_at: AtomicUsize::new(0),
        }
    }

    fn store(&self, leaf: &Arc<Node>) {
        self.bytes_at.store(leaf.directory_span().0, Relaxed);
        self.leaf.store(leaf);
    }

    #[inline]
    fn upgrade(&self) -> Option<Arc<Node>> {
        crate::prefetch::page_start(self.bytes_at.load(Relaxed));
        self.leaf.upgrade()
    }
}

/// A pinned page and what it keeps of its children.
pub struct Pinned {
    node: Arc<Node>,
    /// Set when a walk first reads one of its children (a leaf's pin never
    /// has any).
    kids: OnceCell<Kids>,
    /// Given back when the pin goes (`None`: the root's pin, which is not
    /// counted: one per bucket whose tree a reader walked).
    budget: Option<Arc<PinBudget>>,
    /// The page's header and slot directory in memory (address, bytes),
    /// loaded ahead when a walk reaches the pin.
    directory: (usize, usize),
}

/// What a branch's leaf hints cost, in pages of the hint budget: each hint,
/// and the node header it may keep allocated after its page was evicted.
pub fn hint_units(children: usize, page_size: usize) -> usize {
    let per_hint = std::mem::size_of::<Hint>()
        + std::mem::size_of::<Node>()
        + 2 * std::mem::size_of::<usize>();
    (children * per_hint).div_ceil(page_size.max(1))
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pinned(page {})", self.node.page())
    }
}

impl Pinned {
    fn new(node: Arc<Node>, budget: Option<Arc<PinBudget>>) -> Pinned {
        let directory = node.directory_span();
        Pinned {
            node,
            kids: OnceCell::new(),
            budget,
            directory,
        }
    }

    /// Starts loading what a search of the page reads first (its slot
    /// directory), so that its lines arrive together rather than one per
    /// probe of the binary search.
    #[inline]
    fn prefetch(&self) {
        crate::prefetch::lines(self.directory.0, self.directory.1);
    }

    /// The pinned page.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.give(1);
        }
        if let Some(Kids::Leaves { budget, units, .. }) = self.kids.get() {
            budget.give(*units);
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
                p.prefetch();
                return Ok(NodeRef::Pinned(p));
            }
            return Ok(NodeRef::Page(self.load(*r)?));
        }
        let _ = pin.0.set(Pinned::new(self.load(*r)?.into_arc(), None));
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
        let r = match parent.node.child(i) {
            ChildAt::Disk(r) => r,
            ChildAt::Mem(_) => unreachable!("a verified page has no in-memory child"),
        };
        let neighbor = next.and_then(|j| parent.node.disk_child(j));
        match parent.kids.get() {
            Some(Kids::Leaves { hints, .. }) => {
                if let Some(leaf) = hints[i].upgrade() {
                    debug_assert!(leaf.is_page(r), "a hint names its child's page");
                    self.cache.note_hit(&leaf);
                    return Ok(NodeRef::Page(PageGuard::owned(leaf)));
                }
            }
            Some(Kids::Branches(pins)) => {
                if let Some(kid) = pins[i].get() {
                    kid.prefetch();
                    return Ok(NodeRef::Pinned(kid));
                }
            }
            Some(Kids::Nothing) | None => {}
        }
        let page = self.load_with_neighbor(r, neighbor)?;
        match self.kids_of(parent, &page, depth) {
            Some(Kids::Leaves { hints, .. }) => hints[i].store(page.shared()),
            Some(Kids::Branches(pins)) => return Ok(self.pin(&pins[i], page)),
            Some(Kids::Nothing) | None => {}
        }
        Ok(NodeRef::Page(page))
    }

    /// What `parent` (at `depth`) keeps of its children, decided from
    /// `child`, one of them, if no walk decided it yet. `None` (undecided)
    /// while the children are leaves and the hint budget has no room: a
    /// later walk tries again (a failed take writes nothing shared).
    fn kids_of<'a>(&self, parent: &'a Pinned, child: &Node, depth: usize) -> Option<&'a Kids> {
        if let Some(kids) = parent.kids.get() {
            return Some(kids);
        }
        let n = parent.node.len();
        let kids = if child.is_leaf() {
            let units = hint_units(n, self.page_size);
            if !self.hints.take(units) {
                return None;
            }
            Kids::Leaves {
                hints: (0..n).map(|_| Hint::empty()).collect(),
                budget: self.hints.clone(),
                units,
            }
        } else if depth < MAX_PIN_DEPTH {
            Kids::Branches((0..n).map(|_| OnceCell::new()).collect())
        } else {
            Kids::Nothing
        };
        if let Err(Kids::Leaves { budget, units, .. }) = parent.kids.set(kids) {
            // Another walk decided first: give back what this one took.
            budget.give(units);
        }
        parent.kids.get()
    }

    /// Pins the branch `page` in `slot` if the budget allows (a leaf is
    /// never pinned).
    fn pin<'a>(&self, slot: &'a OnceCell<Pinned>, page: PageGuard) -> NodeRef<'a> {
        if page.is_leaf() || !self.pins.take(1) {
            return NodeRef::Page(page);
        }
        // Losing a race to pin it drops this pin, which gives its budget
        // back.
        let _ = slot.set(Pinned::new(page.into_arc(), Some(self.pins.clone())));
        NodeRef::Pinned(slot.get().expect("set just above"))
    }
}
