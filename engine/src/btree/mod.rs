//! The copy-on-write B+ tree.
//!
//! A tree is an `Option<Child>` root. Reads search the nodes where they lie
//! (pages in the cache, in-memory nodes through `Arc`s). Modifying
//! operations make every node on the path they change private to the
//! current transaction (a page is copied once; a node already private is
//! changed in place; one shared with a snapshot is copied by
//! `Arc::make_mut`), and report the pages they stop using so the
//! checkpoint can free them. Nothing here writes to disk except [`flush`].

pub mod build;
pub mod cursor;
pub mod flush;

use std::collections::HashMap;
use std::sync::Arc;

use crate::page::node::edit::{separator, split_point};
use crate::page::node::{fits, Child, ChildAt, Item, Node, OldValue, ValueSrc};
use crate::page::PageRef;
use crate::pager::{NodeRef, Pager, RootPin};

use crate::Result;

/// Pages that a modification stopped referencing: `(first page, pages)`.
pub type Freed = Vec<(u64, u64)>;

/// A node that split: the separator in front of its new right sibling, and
/// that sibling.
type Split = Option<(Vec<u8>, Node)>;

/// Context of a tree modification.
///
/// Exception safety: an operation that fails (a read error or detected
/// corruption) may have replaced on-disk nodes on its path by identical
/// in-memory copies, which it reports in `freed`, but it never leaves the
/// tree's content changed.
pub struct TreeMut<'a> {
    /// Page I/O.
    pub pager: &'a Pager,
    /// Pages dropped from the tree by copy-on-write.
    pub freed: &'a mut Freed,
    /// Nodes read before the operation started changing anything.
    prefetched: HashMap<PageRef, Arc<Node>>,
    /// Nodes this operation made: private copies (of pages, or of
    /// in-memory nodes shared with a snapshot) and nodes split off. Each
    /// costs about a page of memory until it is written.
    made: usize,
}

impl<'a> TreeMut<'a> {
    /// A modification context.
    pub fn new(pager: &'a Pager, freed: &'a mut Freed) -> TreeMut<'a> {
        TreeMut {
            pager,
            freed,
            prefetched: HashMap::new(),
            made: 0,
        }
    }

    /// Nodes made by the operations so far (see the field).
    pub fn made(&self) -> usize {
        self.made
    }

    fn page_size(&self) -> usize {
        self.pager.page_size()
    }

    /// A private copy of the page `r` (read before, or now). The page
    /// leaves the cache ([`crate::pager::Cache::forget`]): the tree being
    /// changed no longer uses it, and its frame serves the next copy.
    fn private_copy(&mut self, r: PageRef) -> Result<Arc<Node>> {
        let copy = match self.prefetched.get(&r) {
            Some(n) => Node::clone(n),
            None => Node::clone(&*self.pager.load(r)?),
        };
        self.pager.cache().forget(r);
        self.freed.push((r.page, 1));
        self.made += 1;
        Ok(Arc::new(copy))
    }

    /// `n` made private: copied first if a snapshot shares it.
    fn private<'n>(&mut self, n: &'n mut Arc<Node>) -> &'n mut Node {
        if Arc::get_mut(n).is_none() {
            self.made += 1;
        }
        Arc::make_mut(n)
    }

    /// The root, made private to this transaction.
    fn root_mut<'r>(&mut self, root: &'r mut Child) -> Result<&'r mut Node> {
        if let Child::Disk(r) = *root {
            *root = Child::Mem(self.private_copy(r)?);
        }
        match root {
            Child::Mem(n) => Ok(self.private(n)),
            Child::Disk(_) => unreachable!("made private above"),
        }
    }

    /// Child `i` of `parent`, made private to this transaction.
    fn child_mut<'n>(&mut self, parent: &'n mut Node, i: usize) -> Result<&'n mut Node> {
        if let ChildAt::Disk(r) = parent.child(i) {
            let copy = self.private_copy(r)?;
            check_bounds(parent, i, &copy, r.page)?;
            parent.set_child(i, Child::Mem(copy));
        }
        Ok(self.private(parent.child_mut(i).expect("the child is in memory")))
    }

    /// Child `i` of `parent` as it is (no copy); a page is recorded as no
    /// longer used, since the caller is about to replace it.
    fn take_child_content(&mut self, parent: &Node, i: usize) -> Result<Arc<Node>> {
        match parent.child(i) {
            ChildAt::Mem(n) => Ok(n.clone()),
            ChildAt::Disk(r) => {
                let n = match self.prefetched.get(&r) {
                    Some(n) => n.clone(),
                    None => self.pager.load(r)?.into_arc(),
                };
                check_bounds(parent, i, &n, r.page)?;
                self.freed.push((r.page, 1));
                Ok(n)
            }
        }
    }
}

/// Checks that `child`, child `i` of `parent` read from page `page`, holds
/// only keys the parent's separators route to it (FORMAT.md §1.5: child
/// `i` holds the keys `q` with `s_i <= q < s_{i+1}`; a branch child's own
/// separators lie strictly above `s_i`, since its first child holds keys
/// from `s_i` on). Every page is verified sorted when it is read, so the
/// child's first and last keys decide it: two comparisons per level.
///
/// A write copies or merges only children that pass, so a crafted file
/// whose separators disagree with its children (valid checksums, each
/// page sorted) is `Error::Corruption` here instead of a merged page with
/// keys out of order that the check before writing would stop on.
fn check_bounds(parent: &Node, i: usize, child: &Node, page: u64) -> Result<()> {
    let leaf = child.is_leaf();
    let first = usize::from(!leaf);
    let n = child.len();
    if n <= first {
        return Ok(());
    }
    let (lo, hi) = (child.key(first), child.key(n - 1));
    let above_lo = i == 0 || {
        let s = parent.key(i);
        if leaf {
            s <= lo
        } else {
            s < lo
        }
    };
    let below_hi = i + 1 >= parent.len() || hi < parent.key(i + 1);
    if above_lo && below_hi {
        Ok(())
    } else {
        Err(crate::Error::corrupt(
            page,
            "keys outside the separators of the parent",
        ))
    }
}

/// Looks up `key`: the leaf that holds it and its index there. `pin` is
/// the root's pin, if the tree has one.
pub fn get<'a>(
    pager: &Pager,
    root: &'a Option<Child>,
    pin: Option<&'a RootPin>,
    key: &[u8],
) -> Result<Option<(NodeRef<'a>, usize)>> {
    let Some(root) = root else {
        return Ok(None);
    };
    let mut node = match pin {
        Some(pin) => pager.pinned_root(root, pin)?,
        None => pager.root(root)?,
    };
    for depth in 0..pager.max_depth() {
        if node.is_leaf() {
            return Ok(node.search(key).ok().map(|i| (node, i)));
        }
        node = pager.child_of(&node, node.child_index(key), depth)?;
    }
    Err(pager.too_deep(root.disk_page().unwrap_or(0)))
}

/// Splits entries that do not fit one page into two nodes, built in the
/// memory `near`'s bytes come from ([`Node::build_like`]); returns the left
/// one, the separator and the right one.
fn split_items(near: &Node, mut items: Vec<Item<'_>>, leaf: bool) -> (Node, Vec<u8>, Node) {
    let k = split_point(&items, near.page_size(), leaf);
    let sep = if leaf {
        separator(items[k - 1].key(), items[k].key()).to_vec()
    } else {
        items[k].key().to_vec()
    };
    let mut right = items.split_off(k);
    if !leaf {
        right[0].set_key(&[]);
    }
    (
        near.build_like(leaf, &items),
        sep,
        near.build_like(leaf, &right),
    )
}

/// A new root above `left` and its split-off sibling.
fn grow_root(root: &mut Option<Child>, sep: &[u8], right: Node) {
    let left = root.take().expect("a tree that split has a root");
    let right = Arc::new(right);
    let items = [
        Item::Branch {
            key: &[],
            child: left,
        },
        Item::Branch {
            key: sep,
            child: Child::Mem(right.clone()),
        },
    ];
    *root = Some(Child::Mem(Arc::new(right.build_like(false, &items))));
}

/// Inserts the child that split off child `i` of `node` right after it;
/// splits `node` if it does not fit.
fn adopt(node: &mut Node, i: usize, sep: Vec<u8>, right: Node) -> Split {
    let child = match node.branch_insert(i + 1, &sep, Child::Mem(Arc::new(right))) {
        Ok(()) => return None,
        Err(child) => child,
    };
    let mut items = node.items();
    items.insert(i + 1, Item::Branch { key: &sep, child });
    let (left, up, right) = split_items(node, items, false);
    *node = left;
    Some((up, right))
}

/// Inserts or replaces `key`; returns what the previous value was.
pub fn insert(
    t: &mut TreeMut<'_>,
    root: &mut Option<Child>,
    key: &[u8],
    value: ValueSrc<'_>,
) -> Result<Option<OldValue>> {
    let ps = t.page_size();
    let Some(r) = root else {
        let blank = t.pager.cache().blank_page(ps);
        let leaf = Node::build_in(blank, true, &[Item::Leaf { key, value }]);
        *root = Some(Child::Mem(Arc::new(leaf)));
        t.made += 1;
        return Ok(None);
    };
    let node = t.root_mut(r)?;
    let (old, split) = insert_rec(t, node, key, value)?;
    if let Some((sep, right)) = split {
        grow_root(root, &sep, right);
        t.made += 1;
    }
    Ok(old)
}

fn insert_rec(
    t: &mut TreeMut<'_>,
    node: &mut Node,
    key: &[u8],
    value: ValueSrc<'_>,
) -> Result<(Option<OldValue>, Split)> {
    if node.is_leaf() {
        let (old, items) = match node.search(key) {
            Ok(i) => {
                if let Some(old) = node.leaf_replace(i, key, &value) {
                    return Ok((Some(old), None));
                }
                let old = node.old_value(i);
                let mut items = node.items();
                items[i] = Item::Leaf { key, value };
                (Some(old), items)
            }
            Err(i) => {
                if node.leaf_insert(i, key, &value) {
                    return Ok((None, None));
                }
                let mut items = node.items();
                items.insert(i, Item::Leaf { key, value });
                (None, items)
            }
        };
        let (left, sep, right) = split_items(node, items, true);
        *node = left;
        t.made += 1;
        return Ok((old, Some((sep, right))));
    }
    let i = node.child_index(key);
    let child = t.child_mut(node, i)?;
    let (old, split) = insert_rec(t, child, key, value)?;
    let split = match split {
        Some((sep, right)) => adopt(node, i, sep, right),
        None => None,
    };
    t.made += usize::from(split.is_some());
    Ok((old, split))
}

/// Removes `key`; returns what its value was if it was present. An absent
/// key leaves the tree (and its pages) untouched.
///
/// Merges are lazy: a delete copies only the path to its key, and a node is
/// merged with (or refilled from) a sibling only when it would be left
/// empty, or a branch with a single child. Leaves that deletes leave sparse
/// are packed when the checkpoint writes them ([`flush::repack_leaves`]).
pub fn delete(
    t: &mut TreeMut<'_>,
    root: &mut Option<Child>,
    key: &[u8],
) -> Result<Option<OldValue>> {
    let Some((leaf, _)) = get(t.pager, root, None, key)? else {
        return Ok(None);
    };
    // Only a delete that empties its leaf can rebalance, up to the root:
    // read every sibling it may merge with before anything changes, so
    // that a failed read leaves the tree as it was.
    let empties_leaf = leaf.len() == 1;
    drop(leaf);
    if empties_leaf && !prefetch_for_delete(t, root, key)? {
        return Ok(None);
    }
    let r = root.as_mut().expect("key found, so the tree has a root");
    let node = t.root_mut(r)?;
    let (old, split) = delete_rec(t, node, key)?;
    // Redistribution may lengthen separators and split the root.
    if let Some((sep, right)) = split {
        grow_root(root, &sep, right);
    }
    // Shrink the root: an empty leaf disappears, a branch with one child is
    // replaced by that child (both are in memory: made private above, or
    // the result of a merge).
    while let Some(Child::Mem(n)) = root {
        if n.is_leaf() && n.is_empty() {
            *root = None;
        } else if !n.is_leaf() && n.len() == 1 {
            *root = Some(n.child(0).to_child());
        } else {
            break;
        }
    }
    Ok(Some(old))
}

/// Reads every node a delete of `key` may touch (the path and, at each
/// level, the neighbours a rebalance may merge with) before anything
/// changes, so that a failed read leaves the tree untouched. Returns whether
/// the key is present.
fn prefetch_for_delete(t: &mut TreeMut<'_>, root: &Option<Child>, key: &[u8]) -> Result<bool> {
    let Some(root) = root else {
        return Ok(false);
    };
    let mut node = prefetch(t, root.as_at())?;
    for _ in 0..t.pager.max_depth() {
        if node.is_leaf() {
            return Ok(node.search(key).is_ok());
        }
        let i = node.child_index(key);
        for j in [i.checked_sub(1), Some(i + 1)].into_iter().flatten() {
            if j < node.len() {
                prefetch(t, node.child(j))?;
            }
        }
        node = prefetch(t, node.child(i))?;
    }
    Err(t.pager.too_deep(root.disk_page().unwrap_or(0)))
}

/// Reads `child` (keeping a page in `t.prefetched`).
fn prefetch(t: &mut TreeMut<'_>, child: ChildAt<'_>) -> Result<Arc<Node>> {
    Ok(match child {
        ChildAt::Mem(n) => n.clone(),
        ChildAt::Disk(r) => {
            let n = t.pager.load(r)?.into_arc();
            t.prefetched.insert(r, n.clone());
            n
        }
    })
}

fn delete_rec(t: &mut TreeMut<'_>, node: &mut Node, key: &[u8]) -> Result<(OldValue, Split)> {
    if node.is_leaf() {
        let i = node
            .search(key)
            .expect("delete_rec is called only for present keys");
        return Ok((node.leaf_remove(i), None));
    }
    let i = node.child_index(key);
    let child = t.child_mut(node, i)?;
    let (old, split) = delete_rec(t, child, key)?;
    let underfull = child.is_empty() || (!child.is_leaf() && child.len() < 2);
    let split = match split {
        Some((sep, right)) => adopt(node, i, sep, right),
        None if underfull && node.len() > 1 => rebalance(t, node, i)?,
        None => None,
    };
    Ok((old, split))
}

/// Merges the empty (or single-child) child `i` of `node` with a sibling, or
/// redistributes their entries when the two do not fit in one page.
fn rebalance(t: &mut TreeMut<'_>, node: &mut Node, i: usize) -> Result<Split> {
    let ps = t.page_size();
    t.made += 2;
    let left = if i + 1 < node.len() { i } else { i - 1 };
    let l = t.take_child_content(node, left)?;
    let r = t.take_child_content(node, left + 1)?;
    let sep = node.key(left + 1).to_vec();
    let leaf = l.is_leaf();
    let mut items = l.items();
    let first_right = items.len();
    items.extend(r.items());
    if !leaf {
        items[first_right].set_key(&sep);
    }
    let total: usize = items.iter().map(Item::size).sum();
    if fits(total, ps) {
        let merged = l.build_like(leaf, &items);
        node.set_child(left, Child::Mem(Arc::new(merged)));
        node.branch_remove(left + 1);
        return Ok(None);
    }
    let (new_left, new_sep, new_right) = split_items(&l, items, leaf);
    node.set_child(left, Child::Mem(Arc::new(new_left)));
    node.set_child(left + 1, Child::Mem(Arc::new(new_right)));
    if node.set_separator(left + 1, &new_sep) {
        return Ok(None);
    }
    // The new separator is longer and the parent is full: split it.
    let right_child = node.branch_remove(left + 1);
    let mut items = node.items();
    items.insert(
        left + 1,
        Item::Branch {
            key: &new_sep,
            child: right_child,
        },
    );
    let (l2, up, r2) = split_items(node, items, false);
    *node = l2;
    Ok(Some((up, r2)))
}

/// Calls `visit(first_page, pages)` for every on-disk page and overflow run
/// reachable from `root` (in-memory nodes are descended, not reported). A
/// page reached twice, or a tree deeper than the file allows, is corruption.
pub fn for_each_page(
    pager: &Pager,
    root: &Option<Child>,
    visit: &mut dyn FnMut(u64, u64) -> Result<()>,
) -> Result<()> {
    let Some(root) = root else { return Ok(()) };
    // Valid pages lie inside the file: its length bounds the set's memory.
    let file_pages = pager.file().len()? / pager.page_size() as u64;
    let mut seen = crate::pageset::PageSet::new(file_pages);
    let mut stack = vec![(root.clone(), 1usize)];
    while let Some((c, depth)) = stack.pop() {
        if let Child::Disk(r) = &c {
            if !seen.insert(r.page) {
                return Err(crate::Error::corrupt(
                    r.page,
                    "page referenced twice in one tree",
                ));
            }
            if depth > pager.max_depth() {
                return Err(pager.too_deep(r.page));
            }
            visit(r.page, 1)?;
        }
        let node = pager.node(c.as_at())?;
        if node.is_leaf() {
            for i in 0..node.len() {
                if let crate::page::node::ValueAt::Overflow { at, len } = node.value(i) {
                    visit(
                        at.page,
                        crate::page::overflow::run_pages(len as usize, pager.page_size()),
                    )?;
                }
            }
        } else {
            for i in 0..node.len() {
                stack.push((node.child(i).to_child(), depth + 1));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
