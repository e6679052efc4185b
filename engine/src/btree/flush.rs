//! Writing in-memory nodes to pages at a checkpoint.

use std::sync::Arc;

use crate::page::node::{leaf_entry_size, Branch, Child, Leaf, Node, Value};
use crate::page::HEADER_LEN;
use crate::page::{overflow, PageRef};
use crate::pager::Pager;
use crate::Result;

/// Where a checkpoint gets pages from.
pub trait PageSource {
    /// Allocates `pages` consecutive free pages and returns the first.
    fn alloc_pages(&mut self, pages: u64) -> Result<u64>;
}

/// Writes every in-memory node (and large value) under `child`, children
/// first, and returns the on-disk reference of the root.
pub fn flush(
    pager: &Pager,
    src: &mut dyn PageSource,
    checkpoint: u64,
    child: &Child,
) -> Result<PageRef> {
    let node = match child {
        Child::Disk(r) => return Ok(*r),
        Child::Mem(n) => n,
    };
    let disk = match &**node {
        Node::Leaf(l) => {
            let mut values = Vec::with_capacity(l.values.len());
            for v in &l.values {
                values.push(match v {
                    Value::Big(bytes) => {
                        crate::failpoint::hit("overflow::write")?;
                        let pages = overflow::run_pages(bytes.len(), pager.page_size());
                        let first = src.alloc_pages(pages)?;
                        let run = overflow::encode(bytes, first, checkpoint, pager.page_size());
                        let c = crate::checksum::checksum(&run);
                        pager.write_pages(first, &run)?;
                        Value::Overflow {
                            at: PageRef {
                                page: first,
                                checksum: c,
                            },
                            len: bytes.len() as u32,
                        }
                    }
                    other => other.clone(),
                });
            }
            Node::Leaf(Leaf {
                keys: l.keys.clone(),
                values,
            })
        }
        Node::Branch(b) => {
            let repacked = repack_leaves(b, pager.page_size());
            let b = repacked.as_ref().unwrap_or(b);
            let mut children = Vec::with_capacity(b.children.len());
            for c in &b.children {
                children.push(Child::Disk(flush(pager, src, checkpoint, c)?));
            }
            Node::Branch(Branch {
                keys: b.keys.clone(),
                children,
            })
        }
    };
    let page = src.alloc_pages(1)?;
    pager.write_node(disk, page, checkpoint)
}

/// Whether a tree has any in-memory node.
pub fn is_dirty(child: &Option<Child>) -> bool {
    matches!(child, Some(Child::Mem(_)))
}

/// Wraps an on-disk reference as a root.
pub fn disk_root(r: PageRef) -> Option<Child> {
    Some(Child::Disk(r))
}

/// Fill target for leaves repacked at a checkpoint (a fraction of the page).
const REPACK_FILL: f64 = 0.9;

fn mem_leaf(c: &Child) -> Option<&Leaf> {
    match c {
        Child::Mem(n) => match &**n {
            Node::Leaf(l) => Some(l),
            Node::Branch(_) => None,
        },
        Child::Disk(_) => None,
    }
}

/// Packs every run of two or more adjacent in-memory leaves under `b` into
/// as few leaves as fit at `REPACK_FILL`. These leaves are about to be
/// written anyway, so denser leaves cost no extra I/O and keep the file
/// small (random inserts otherwise leave leaves about two-thirds full).
/// Returns `None` when nothing would change.
pub fn repack_leaves(b: &Branch, page_size: usize) -> Option<Branch> {
    let target = (page_size as f64 * REPACK_FILL) as usize;
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(b.keys.len());
    let mut children: Vec<Child> = Vec::with_capacity(b.children.len());
    let mut changed = false;
    let mut i = 0;
    while i < b.children.len() {
        let mut j = i;
        while j < b.children.len() && mem_leaf(&b.children[j]).is_some() {
            j += 1;
        }
        if j - i < 2 {
            if i > 0 {
                keys.push(b.keys[i - 1].clone());
            }
            children.push(b.children[i].clone());
            i += 1;
            continue;
        }
        // Children i..j are in-memory leaves: repack them.
        let mut pieces: Vec<Leaf> = vec![Leaf::default()];
        let mut size = HEADER_LEN;
        for c in &b.children[i..j] {
            let l = mem_leaf(c).expect("checked above");
            for (k, v) in l.keys.iter().zip(&l.values) {
                let e = leaf_entry_size(k, v);
                let cur = pieces.last_mut().expect("non-empty");
                if !cur.keys.is_empty() && size + e > target {
                    pieces.push(Leaf::default());
                    size = HEADER_LEN;
                }
                let cur = pieces.last_mut().expect("non-empty");
                cur.keys.push(k.clone());
                cur.values.push(v.clone());
                size += e;
            }
        }
        pieces.retain(|p| !p.keys.is_empty());
        if pieces.len() < j - i && !pieces.is_empty() {
            changed = true;
            for (n, p) in pieces.into_iter().enumerate() {
                if n == 0 {
                    if i > 0 {
                        keys.push(b.keys[i - 1].clone());
                    }
                } else {
                    keys.push(p.keys[0].clone());
                }
                children.push(Child::Mem(Arc::new(Node::Leaf(p))));
            }
        } else {
            for (n, c) in b.children[i..j].iter().enumerate() {
                if i + n > 0 {
                    keys.push(b.keys[i + n - 1].clone());
                }
                children.push(c.clone());
            }
        }
        i = j;
    }
    // A branch needs two children, and its new separators (first keys of
    // the packed leaves) may be longer than the old ones: keep the original
    // unless the result is a valid branch that fits its page.
    let b = Branch { keys, children };
    (changed && b.children.len() >= 2 && Node::Branch(b.clone()).encoded_size() <= page_size)
        .then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(range: std::ops::Range<u32>) -> Child {
        Child::Mem(Arc::new(Node::Leaf(Leaf {
            keys: range.clone().map(|i| i.to_be_bytes().to_vec()).collect(),
            values: range.map(|_| Value::Inline(vec![7; 100])).collect(),
        })))
    }

    #[test]
    fn repack_merges_sparse_mem_leaves_and_keeps_separators_valid() {
        let b = Branch {
            keys: vec![
                10u32.to_be_bytes().to_vec(),
                20u32.to_be_bytes().to_vec(),
                30u32.to_be_bytes().to_vec(),
            ],
            children: vec![leaf(0..5), leaf(10..15), leaf(20..25), leaf(30..35)],
        };
        let r = repack_leaves(&b, 1024).expect("four sparse leaves pack into fewer");
        assert!(r.children.len() >= 2 && r.children.len() < 4);
        Node::Branch(r.clone()).check_invariants(1024, 0).unwrap();
        let mut all = Vec::new();
        for (i, c) in r.children.iter().enumerate() {
            let l = mem_leaf(c).unwrap();
            Node::Leaf(l.clone()).check_invariants(1024, 0).unwrap();
            if i > 0 {
                assert!(l.keys[0] >= r.keys[i - 1]);
            }
            if i < r.keys.len() {
                assert!(*l.keys.last().unwrap() < r.keys[i]);
            }
            all.extend(l.keys.iter().cloned());
        }
        assert_eq!(all.len(), 20);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }
}
