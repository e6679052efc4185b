//! A position in a tree: the path from the root to one leaf entry.
//!
//! The cursor reads one version of the tree whatever is committed
//! meanwhile: in-memory nodes are immutable once shared (a writer copies
//! before it changes one), and pages are kept from reuse by the snapshot
//! the cursor reads (FORMAT.md §5). How it holds the nodes of its path:
//!
//! - in-memory nodes of a tree it borrows (a read transaction's snapshot)
//!   by reference, and those of a tree it owns (a write transaction's view)
//!   by `Arc`;
//! - the leaf it stands on, when it is a page, by `Arc` (one reference
//!   count increment per leaf visited, so the entries it yields can share
//!   the page);
//! - pinned pages above the leaf by reference to their pin, through
//!   which a move reaches the next leaf (its hint, `pager/pin.rs`);
//! - other pages above the leaf by reference only (page number and
//!   checksum), looked up in the cache again when the cursor moves to
//!   another leaf: moving never writes the shared reference counts of the
//!   upper pages every reader passes.
//!
//! Landing in a leaf going forward prefetches the entries a walk reads
//! next (`WALK_PREFETCH_BYTES`).

use std::sync::Arc;

use smallvec::SmallVec;

use crate::page::node::{Child, ChildAt, Node};
use crate::page::PageRef;
use crate::pager::{NodeRef, PageGuard, Pager, Pinned, RootPin};
use crate::Result;

/// The tree a cursor walks.
#[derive(Clone, Debug)]
pub enum Root<'t> {
    /// Borrowed for the cursor's whole life (a snapshot's tree), with its
    /// root's pin.
    Borrowed(&'t Option<Child>, &'t RootPin),
    /// Owned by the cursor (a copy of a write transaction's root), with the
    /// transaction's [`ReuseGuard`] if its pages may be spilled ones.
    Owned(Option<Child>, Option<ReuseGuard>),
}

/// Held by every cursor over a write transaction's tree: while a clone
/// lives, the transaction gives none of its spilled pages back for reuse
/// (FORMAT.md §3 SP1), since the cursor may still read them.
#[derive(Clone, Debug, Default)]
pub struct ReuseGuard(std::sync::Arc<()>);

impl ReuseGuard {
    /// Whether any clone other than this one lives.
    pub fn shared(&self) -> bool {
        std::sync::Arc::strong_count(&self.0) > 1
    }

    /// Whether `other` is a clone of this guard (so belongs to the same
    /// transaction).
    pub fn same(&self, other: &ReuseGuard) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// How the cursor holds a node of its path.
#[derive(Clone, Debug)]
pub enum Held<'t> {
    /// An in-memory node of a borrowed tree.
    Ref(&'t Node),
    /// A pinned page of a borrowed tree (a move reaches its children
    /// through its pins and hints).
    Pinned(&'t Pinned),
    /// A node held by `Arc` (a leaf page, or a node of an owned tree).
    Arc(Arc<Node>),
    /// A page above the leaf, looked up again when needed.
    Disk(PageRef),
}

/// A node being looked at during a move.
enum View<'t> {
    Ref(&'t Node),
    Pinned(&'t Pinned),
    Arc(Arc<Node>),
    Page(PageRef, PageGuard),
}

impl<'t> View<'t> {
    fn node(&self) -> &Node {
        match self {
            View::Ref(n) => n,
            View::Pinned(p) => p.node(),
            View::Arc(n) => n,
            View::Page(_, g) => g,
        }
    }

    /// How to keep this node in the path.
    fn hold(self, leaf: bool) -> Held<'t> {
        match self {
            View::Ref(n) => Held::Ref(n),
            View::Pinned(p) => Held::Pinned(p),
            View::Arc(n) => Held::Arc(n),
            View::Page(_, g) if leaf => Held::Arc(g.into_arc()),
            View::Page(r, _) => Held::Disk(r),
        }
    }

    /// Child `i` of this node, which is at `depth` below the root, for a
    /// walk going `forward` (or back): a child read from the file comes
    /// with its next sibling that way when the two are adjacent on disk
    /// ([`Pager::load_with_neighbor`]).
    fn child(&self, pager: &Pager, i: usize, depth: usize, forward: bool) -> Result<View<'t>> {
        let next = if forward {
            i.checked_add(1)
        } else {
            i.checked_sub(1)
        };
        if let View::Pinned(p) = self {
            let p: &'t Pinned = p;
            return Ok(match pager.pinned_child(p, i, depth, next)? {
                NodeRef::Pinned(kid) => View::Pinned(kid),
                NodeRef::Mem(n) => View::Ref(n),
                NodeRef::Page(g) => match p.node().child(i) {
                    ChildAt::Disk(r) => View::Page(r, g),
                    ChildAt::Mem(_) => unreachable!("a pinned page has no in-memory child"),
                },
            });
        }
        let at = match self {
            View::Ref(n) => {
                let n: &'t Node = n;
                n.child(i)
            }
            View::Arc(n) => match n.child(i) {
                ChildAt::Mem(c) => return Ok(View::Arc(c.clone())),
                ChildAt::Disk(r) => ChildAt::Disk(r),
            },
            View::Pinned(_) => unreachable!("handled above"),
            View::Page(_, g) => match g.child(i) {
                ChildAt::Disk(r) => ChildAt::Disk(r),
                ChildAt::Mem(_) => unreachable!("a verified page has no in-memory child"),
            },
        };
        Ok(match at {
            ChildAt::Mem(c) => View::Ref(c),
            ChildAt::Disk(r) => {
                let nb = next.and_then(|j| self.node().disk_child(j));
                View::Page(r, pager.load_with_neighbor(r, nb)?)
            }
        })
    }
}

fn view<'t>(pager: &Pager, held: &Held<'t>) -> Result<View<'t>> {
    Ok(match held {
        Held::Ref(n) => View::Ref(n),
        Held::Pinned(p) => View::Pinned(p),
        Held::Arc(n) => View::Arc(n.clone()),
        Held::Disk(r) => View::Page(*r, pager.load(*r)?),
    })
}

/// Bytes of entries a forward walk loads ahead when it lands in a leaf
/// (by a seek, or by stepping into the next leaf): a scan then waits for
/// one miss instead of one per entry (16 lines, about five entries of 24-
/// byte keys and 150-byte values).
const WALK_PREFETCH_BYTES: usize = 1024;

/// Where a seek lands relative to the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// First entry with key `>=` the key.
    Ge,
    /// First entry with key `>` the key.
    Gt,
    /// Last entry with key `<=` the key.
    Le,
    /// Last entry with key `<` the key.
    Lt,
}

/// Levels a cursor keeps without allocating (five levels of 4 KiB pages
/// hold billions of keys; deeper trees spill to the heap).
const INLINE_LEVELS: usize = 5;

/// A path from the root to a leaf entry; empty when unpositioned.
#[derive(Clone, Debug)]
pub struct TreeCursor<'t> {
    root: Root<'t>,
    /// Branches from the root down, then the leaf, each with the index of
    /// the child (or entry) the path goes through.
    path: SmallVec<[(Held<'t>, usize); INLINE_LEVELS]>,
}

/// The node a path element holds, if it holds it (a leaf always is).
#[inline]
fn held_node<'a>(h: &'a Held<'_>) -> Option<&'a Node> {
    match h {
        Held::Ref(n) => Some(n),
        Held::Pinned(p) => Some(p.node()),
        Held::Arc(n) => Some(n),
        Held::Disk(_) => None,
    }
}

impl<'t> TreeCursor<'t> {
    /// A cursor over the tree `root`.
    pub fn new(root: Root<'t>) -> TreeCursor<'t> {
        TreeCursor {
            root,
            path: SmallVec::new(),
        }
    }

    /// The tree it walks.
    pub fn root(&self) -> &Root<'t> {
        &self.root
    }

    fn root_view(&self, pager: &Pager) -> Result<Option<View<'t>>> {
        Ok(match &self.root {
            Root::Borrowed(r, pin) => {
                let (r, pin): (&'t Option<Child>, &'t RootPin) = (r, pin);
                match r {
                    None => None,
                    Some(root) => match pager.pinned_root(root, pin)? {
                        NodeRef::Mem(n) => Some(View::Ref(n)),
                        NodeRef::Pinned(p) => Some(View::Pinned(p)),
                        NodeRef::Page(g) => Some(View::Page(
                            root.disk_ref().expect("a page root is on disk"),
                            g,
                        )),
                    },
                }
            }
            Root::Owned(None, _) => None,
            Root::Owned(Some(Child::Mem(n)), _) => Some(View::Arc(n.clone())),
            Root::Owned(Some(Child::Disk(p)), _) => Some(View::Page(*p, pager.load(*p)?)),
        })
    }

    /// The leaf under the cursor and the entry's index in it.
    #[inline]
    pub fn current(&self) -> Option<(&Node, usize)> {
        let (held, i) = self.path.last()?;
        let node = held_node(held)?;
        (node.is_leaf() && *i < node.len()).then_some((node, *i))
    }

    /// The leaf under the cursor as it is held, the leaf, and the entry's
    /// index.
    #[inline]
    pub fn current_held(&self) -> Option<(&Held<'t>, &Node, usize)> {
        let (held, i) = self.path.last()?;
        let node = held_node(held)?;
        (node.is_leaf() && *i < node.len()).then_some((held, node, *i))
    }

    /// The key under the cursor.
    #[inline]
    pub fn key(&self) -> Option<&[u8]> {
        self.current().map(|(n, i)| n.key(i))
    }

    /// Leaves the cursor unpositioned unless `r` found an entry, so that a
    /// failed or empty descent never leaves a branch on top of the path.
    #[inline]
    fn settle(&mut self, r: Result<bool>) -> Result<bool> {
        match r {
            Ok(true) if self.current().is_some() => Ok(true),
            Ok(_) => {
                self.path.clear();
                Ok(false)
            }
            Err(e) => {
                self.path.clear();
                Err(e)
            }
        }
    }

    /// Descends from `v` to a leaf, choosing at each branch the child
    /// `pick(node)` and in the leaf the entry `pick(leaf)`; the walk will
    /// then go `forward` (or back).
    fn descend(
        &mut self,
        pager: &Pager,
        mut v: View<'t>,
        forward: bool,
        mut pick: impl FnMut(&Node) -> usize,
    ) -> Result<()> {
        loop {
            if self.path.len() >= pager.max_depth() {
                let page = match &v {
                    View::Page(r, _) => r.page,
                    _ => 0,
                };
                return Err(pager.too_deep(page));
            }
            let i = pick(v.node());
            if v.node().is_leaf() {
                if forward {
                    v.node().prefetch_from(i, WALK_PREFETCH_BYTES);
                }
                self.path.push((v.hold(true), i));
                return Ok(());
            }
            let next = v.child(pager, i, self.path.len(), forward)?;
            self.path.push((v.hold(false), i));
            v = next;
        }
    }

    /// Descends from `v` to its first (or last) entry.
    fn descend_edge(&mut self, pager: &Pager, v: View<'t>, last: bool) -> Result<bool> {
        self.descend(pager, v, !last, |n| if last { n.len() - 1 } else { 0 })?;
        Ok(self.current().is_some())
    }

    /// Moves to the first entry.
    pub fn first(&mut self, pager: &Pager) -> Result<bool> {
        self.path.clear();
        let r = match self.root_view(pager) {
            Ok(Some(v)) => self.descend_edge(pager, v, false),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        self.settle(r)
    }

    /// Moves to the last entry.
    pub fn last(&mut self, pager: &Pager) -> Result<bool> {
        self.path.clear();
        let r = match self.root_view(pager) {
            Ok(Some(v)) => self.descend_edge(pager, v, true),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        self.settle(r)
    }

    /// Positions relative to `key`; returns whether an entry was found.
    pub fn seek(&mut self, pager: &Pager, key: &[u8], how: Seek) -> Result<bool> {
        let r = self.seek_inner(pager, key, how);
        self.settle(r)
    }

    fn seek_inner(&mut self, pager: &Pager, key: &[u8], how: Seek) -> Result<bool> {
        self.path.clear();
        let Some(root) = self.root_view(pager)? else {
            return Ok(false);
        };
        let forward = matches!(how, Seek::Ge | Seek::Gt);
        self.descend(pager, root, forward, |n| {
            if !n.is_leaf() {
                return n.child_index(key);
            }
            match how {
                Seek::Ge | Seek::Lt => n.lower_bound(key, false),
                Seek::Gt | Seek::Le => n.lower_bound(key, true),
            }
        })?;
        let (leaf_len, i) = match self.path.last() {
            Some((held, i)) => match held_node(held) {
                Some(n) => (n.len(), *i),
                None => return Ok(false),
            },
            None => return Ok(false),
        };
        if leaf_len == 0 {
            return Ok(false);
        }
        let at = &mut self.path.last_mut().expect("descended to a leaf").1;
        match how {
            Seek::Ge | Seek::Gt => {
                if i < leaf_len {
                    return Ok(true);
                }
                // Past the end of this leaf: the next entry is in the next one.
                *at = leaf_len - 1;
                self.next_inner(pager)
            }
            Seek::Le | Seek::Lt => {
                if i > 0 {
                    *at = i - 1;
                    return Ok(true);
                }
                *at = 0;
                self.prev_inner(pager)
            }
        }
    }

    /// Moves to the next entry if it is in the same leaf, and returns the
    /// leaf as held and the new index; `None` (the cursor unchanged) when
    /// the move needs another leaf or the cursor is unpositioned.
    #[inline]
    pub fn next_in_leaf(&mut self) -> Option<(&Held<'t>, usize)> {
        let (held, i) = self.path.last_mut()?;
        let n = held_node(held)?;
        if n.is_leaf() && *i + 1 < n.len() {
            *i += 1;
            return Some((held, *i));
        }
        None
    }

    /// Moves to the next entry; `false` (and unpositioned) past the end.
    #[inline]
    pub fn next(&mut self, pager: &Pager) -> Result<bool> {
        // Within the leaf: no lookup, nothing to settle.
        if let Some((held, i)) = self.path.last_mut() {
            if let Some(n) = held_node(held) {
                if n.is_leaf() && *i + 1 < n.len() {
                    *i += 1;
                    return Ok(true);
                }
            }
        }
        let r = self.next_inner(pager);
        self.settle(r)
    }

    /// Moves to the previous entry; `false` (and unpositioned) before the
    /// start.
    #[inline]
    pub fn prev(&mut self, pager: &Pager) -> Result<bool> {
        if let Some((held, i)) = self.path.last_mut() {
            if let Some(n) = held_node(held) {
                if n.is_leaf() && *i > 0 && *i < n.len() {
                    *i -= 1;
                    return Ok(true);
                }
            }
        }
        let r = self.prev_inner(pager);
        self.settle(r)
    }

    fn next_inner(&mut self, pager: &Pager) -> Result<bool> {
        self.step(pager, true)
    }

    fn prev_inner(&mut self, pager: &Pager) -> Result<bool> {
        self.step(pager, false)
    }

    /// One entry forward or back: within the leaf, or up to the nearest
    /// branch with a child further on that side and down its edge.
    fn step(&mut self, pager: &Pager, forward: bool) -> Result<bool> {
        let Some((leaf, i)) = self.current() else {
            self.path.clear();
            return Ok(false);
        };
        let len = leaf.len();
        let at = &mut self.path.last_mut().expect("positioned").1;
        if forward && i + 1 < len {
            *at = i + 1;
            return Ok(true);
        }
        if !forward && i > 0 {
            *at = i - 1;
            return Ok(true);
        }
        self.path.pop();
        while let Some((held, i)) = self.path.pop() {
            let v = view(pager, &held)?;
            let n = v.node().len();
            let next = if forward {
                (i + 1 < n).then_some(i + 1)
            } else {
                i.checked_sub(1)
            };
            let Some(j) = next else {
                continue;
            };
            let child = v.child(pager, j, self.path.len(), forward)?;
            self.path.push((held, j));
            return self.descend_edge(pager, child, !forward);
        }
        Ok(false)
    }
}
