//! The copy-on-write B+ tree.
//!
//! A tree is an `Option<Child>` root. Modifying operations copy every node on
//! the path they change (nodes already private to the current transaction
//! are changed in place via `Arc::make_mut`), and report the pages they stop
//! using so the checkpoint can free them. Nothing here writes to disk except
//! [`flush`].

pub mod build;
pub mod cursor;
pub mod flush;
pub mod split;

use std::sync::Arc;

use crate::page::node::{Branch, Child, Leaf, Node, Value};
use crate::page::PageRef;
use crate::pager::Pager;
use crate::Result;

/// Pages that a modification stopped referencing: `(first page, pages)`.
pub type Freed = Vec<(u64, u64)>;

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
    pub prefetched: std::collections::HashMap<PageRef, Arc<Node>>,
}

impl<'a> TreeMut<'a> {
    /// A modification context.
    pub fn new(pager: &'a Pager, freed: &'a mut Freed) -> TreeMut<'a> {
        TreeMut {
            pager,
            freed,
            prefetched: Default::default(),
        }
    }

    /// Makes `child` a private in-memory node and returns it for mutation.
    fn make_mut<'c>(&mut self, child: &'c mut Child) -> Result<&'c mut Node> {
        if let Child::Disk(r) = child {
            let n = match self.prefetched.get(r) {
                Some(n) => n.clone(),
                None => self.pager.read_node(*r)?,
            };
            self.freed.push((r.page, 1));
            *child = Child::Mem(n);
        }
        match child {
            Child::Mem(arc) => Ok(Arc::make_mut(arc)),
            Child::Disk(_) => unreachable!("converted above"),
        }
    }
}

/// Index of the child of `b` that may contain `key`.
pub fn child_index(b: &Branch, key: &[u8]) -> usize {
    b.keys.partition_point(|s| s.as_slice() <= key)
}

/// Looks up `key`.
pub fn get(pager: &Pager, root: &Option<Child>, key: &[u8]) -> Result<Option<Value>> {
    let Some(mut child) = root.clone() else {
        return Ok(None);
    };
    for _ in 0..pager.max_depth() {
        let node = pager.node(&child)?;
        match &*node {
            Node::Leaf(l) => {
                return Ok(l
                    .keys
                    .binary_search_by(|k| k.as_slice().cmp(key))
                    .ok()
                    .map(|i| l.values[i].clone()))
            }
            Node::Branch(b) => child = b.children[child_index(b, key)].clone(),
        }
    }
    Err(pager.too_deep(match child {
        Child::Disk(r) => r.page,
        Child::Mem(_) => 0,
    }))
}

/// Inserts or replaces `key`; returns the previous value.
pub fn insert(
    t: &mut TreeMut<'_>,
    root: &mut Option<Child>,
    key: &[u8],
    value: Value,
) -> Result<Option<Value>> {
    let page_size = t.pager.page_size();
    let Some(r) = root else {
        *root = Some(Child::Mem(Arc::new(Node::Leaf(Leaf {
            keys: vec![key.to_vec()],
            values: vec![value],
        }))));
        return Ok(None);
    };
    let (old, splits) = insert_rec(t, r, key, value)?;
    grow_root(root, splits, page_size);
    Ok(old)
}

/// Puts new levels above `root` while the pieces split off it do not fit in
/// one branch.
fn grow_root(root: &mut Option<Child>, mut splits: Splits, page_size: usize) {
    while !splits.is_empty() {
        let left = root.take().expect("root present");
        let mut keys = Vec::with_capacity(splits.len());
        let mut children = vec![left];
        for (k, n) in splits {
            keys.push(k);
            children.push(Child::Mem(Arc::new(n)));
        }
        let mut b = Branch { keys, children };
        splits = if Node::Branch(b.clone()).encoded_size() > page_size {
            split::split_branch(&mut b, page_size)
        } else {
            Vec::new()
        };
        *root = Some(Child::Mem(Arc::new(Node::Branch(b))));
    }
}

type Splits = Vec<(Vec<u8>, Node)>;

fn insert_rec(
    t: &mut TreeMut<'_>,
    child: &mut Child,
    key: &[u8],
    value: Value,
) -> Result<(Option<Value>, Splits)> {
    let page_size = t.pager.page_size();
    let node = t.make_mut(child)?;
    let old = match node {
        Node::Leaf(l) => match l.keys.binary_search_by(|k| k.as_slice().cmp(key)) {
            Ok(i) => Some(std::mem::replace(&mut l.values[i], value)),
            Err(i) => {
                l.keys.insert(i, key.to_vec());
                l.values.insert(i, value);
                None
            }
        },
        Node::Branch(b) => {
            let i = child_index(b, key);
            let (old, splits) = insert_rec(t, &mut b.children[i], key, value)?;
            adopt_splits(b, i, splits);
            old
        }
    };
    Ok((old, split_if_oversized(node, page_size)))
}

/// Splits `node` into pieces that fit a page if it has outgrown one; the
/// node keeps the first piece.
fn split_if_oversized(node: &mut Node, page_size: usize) -> Splits {
    if node.encoded_size() <= page_size {
        return Vec::new();
    }
    match node {
        Node::Leaf(l) => split::split_leaf(l, page_size),
        Node::Branch(b) => split::split_branch(b, page_size),
    }
}

/// Inserts the pieces child `i` of `b` split into, right after it.
fn adopt_splits(b: &mut Branch, i: usize, splits: Splits) {
    for (j, (k, n)) in splits.into_iter().enumerate() {
        b.keys.insert(i + j, k);
        b.children.insert(i + j + 1, Child::Mem(Arc::new(n)));
    }
}

/// Removes `key`; returns its value if it was present. An absent key leaves
/// the tree (and its pages) untouched.
pub fn delete(t: &mut TreeMut<'_>, root: &mut Option<Child>, key: &[u8]) -> Result<Option<Value>> {
    if !prefetch_for_delete(t, root, key)? {
        return Ok(None);
    }
    let page_size = t.pager.page_size();
    let r = root.as_mut().expect("key found, so the tree has a root");
    let (old, splits) = delete_rec(t, r, key)?;
    // Redistribution may lengthen separators and split the root.
    grow_root(root, splits, page_size);
    // Shrink the root: an empty leaf disappears, a branch with one child is
    // replaced by that child.
    loop {
        let node = t.pager.node(root.as_ref().expect("root present"))?;
        match &*node {
            Node::Leaf(l) if l.keys.is_empty() => {
                *root = None;
                break;
            }
            Node::Branch(b) if b.children.len() == 1 => {
                let only = b.children[0].clone();
                *root = Some(only);
            }
            _ => break,
        }
    }
    Ok(Some(old))
}

/// Removes `key` below `child`; returns the value and, like insertion, the
/// pieces `child` had to split into (redistributing two siblings can put a
/// longer separator into a branch that was nearly full).
/// Reads every node a delete of `key` may touch (the path and, at each
/// level, the neighbours a rebalance may merge with) before anything
/// changes, so that a failed read leaves the tree untouched. Returns whether
/// the key is present.
fn prefetch_for_delete(t: &mut TreeMut<'_>, root: &Option<Child>, key: &[u8]) -> Result<bool> {
    let Some(mut child) = root.clone() else {
        return Ok(false);
    };
    for _ in 0..t.pager.max_depth() {
        let node = t.pager.node(&child)?;
        if let Child::Disk(r) = &child {
            t.prefetched.insert(*r, node.clone());
        }
        match &*node {
            Node::Leaf(l) => return Ok(l.keys.binary_search_by(|k| k.as_slice().cmp(key)).is_ok()),
            Node::Branch(b) => {
                let i = child_index(b, key);
                for j in [i.checked_sub(1), Some(i + 1)].into_iter().flatten() {
                    if let Some(Child::Disk(r)) = b.children.get(j) {
                        let n = t.pager.read_node(*r)?;
                        t.prefetched.insert(*r, n);
                    }
                }
                child = b.children[i].clone();
            }
        }
    }
    Err(t.pager.too_deep(0))
}

fn delete_rec(t: &mut TreeMut<'_>, child: &mut Child, key: &[u8]) -> Result<(Value, Splits)> {
    let page_size = t.pager.page_size();
    let node = t.make_mut(child)?;
    let old = match node {
        Node::Leaf(l) => {
            let i = l
                .keys
                .binary_search_by(|k| k.as_slice().cmp(key))
                .expect("delete_rec is called only for present keys");
            l.keys.remove(i);
            l.values.remove(i)
        }
        Node::Branch(b) => {
            let i = child_index(b, key);
            let (old, splits) = delete_rec(t, &mut b.children[i], key)?;
            adopt_splits(b, i, splits);
            let size = t.pager.node(&b.children[i])?.encoded_size();
            if size < page_size / 4 && b.children.len() > 1 {
                rebalance(t, b, i)?;
            }
            old
        }
    };
    Ok((old, split_if_oversized(node, page_size)))
}

/// Merges the underfull child `i` of `b` with a sibling, or redistributes
/// their entries when the two do not fit in one page.
fn rebalance(t: &mut TreeMut<'_>, b: &mut Branch, i: usize) -> Result<()> {
    let page_size = t.pager.page_size();
    let left = if i + 1 < b.children.len() { i } else { i - 1 };
    // Every read happens before the first structural change, so a failed
    // read leaves the tree as it was (only copied, never cut).
    t.make_mut(&mut b.children[left])?;
    t.make_mut(&mut b.children[left + 1])?;
    let mut right_child = b.children.remove(left + 1);
    let sep = b.keys.remove(left);
    let right = std::mem::replace(t.make_mut(&mut right_child)?, Node::Leaf(Leaf::default()));
    let merged = t.make_mut(&mut b.children[left])?;
    match (merged, right) {
        (Node::Leaf(l), Node::Leaf(r)) => {
            l.keys.extend(r.keys);
            l.values.extend(r.values);
        }
        (Node::Branch(l), Node::Branch(r)) => {
            l.keys.push(sep);
            l.keys.extend(r.keys);
            l.children.extend(r.children);
        }
        _ => unreachable!("siblings are at the same depth"),
    }
    let merged = t.make_mut(&mut b.children[left])?;
    let pieces = split_if_oversized(merged, page_size);
    adopt_splits(b, left, pieces);
    Ok(())
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
    let mut seen = std::collections::HashSet::new();
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
        let node = pager.node(&c)?;
        match &*node {
            Node::Leaf(l) => {
                for v in &l.values {
                    if let Value::Overflow { at, len } = v {
                        visit(
                            at.page,
                            crate::page::overflow::run_pages(*len as usize, pager.page_size()),
                        )?;
                    }
                }
            }
            Node::Branch(b) => stack.extend(b.children.iter().map(|c| (c.clone(), depth + 1))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The children of the root branch of `root`.
    fn root_children(root: &Option<Child>) -> Vec<Arc<Node>> {
        let Some(Child::Mem(n)) = root else {
            panic!("an in-memory root")
        };
        let Node::Branch(b) = &**n else {
            panic!("a branch root")
        };
        b.children
            .iter()
            .map(|c| match c {
                Child::Mem(n) => n.clone(),
                Child::Disk(_) => panic!("in-memory children"),
            })
            .collect()
    }

    /// A delete that leaves its leaf more than a quarter full copies only
    /// the path to its key: no sibling is merged or redistributed (each
    /// copied sibling would be one more page written at the checkpoint).
    #[test]
    fn a_delete_leaving_its_leaf_full_enough_touches_only_its_path() {
        let ps = 1024;
        let pager = Pager::in_memory(ps);
        let entries = (0..300u32).map(|i| (i.to_be_bytes().to_vec(), Value::Inline(vec![1; 20])));
        let mut root = build::build_sorted(entries, ps, 1.0);
        let before = root_children(&root);
        assert!(before.len() > 2, "a two-level tree");
        let mut freed = Freed::new();
        let mut t = TreeMut::new(&pager, &mut freed);
        let old = delete(&mut t, &mut root, &0u32.to_be_bytes()).unwrap();
        assert!(matches!(old, Some(Value::Inline(_))));
        let after = root_children(&root);
        assert_eq!(after.len(), before.len(), "no merge");
        assert!(
            !Arc::ptr_eq(&after[0], &before[0]),
            "the key's leaf is a copy"
        );
        for i in 1..before.len() {
            assert!(Arc::ptr_eq(&after[i], &before[i]), "sibling {i} was copied");
        }
        assert_eq!(get(&pager, &root, &0u32.to_be_bytes()).unwrap(), None);
        assert!(get(&pager, &root, &1u32.to_be_bytes()).unwrap().is_some());
    }
}
