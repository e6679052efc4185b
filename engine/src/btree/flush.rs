//! Writing in-memory nodes to pages at a checkpoint (through a
//! [`PageWriter`], which gathers them into runs of consecutive pages).

use std::sync::Arc;

use crate::page::node::edit::{encode_page, separator};
use crate::page::node::{fits, Child, ChildAt, Item, Node, ValueSrc};
use crate::page::{overflow, PageRef, HEADER_LEN};
use crate::pager::PageWriter;
use crate::Result;

/// Where a checkpoint gets pages from.
pub trait PageSource {
    /// Allocates `pages` consecutive free pages and returns the first.
    fn alloc_pages(&mut self, pages: u64) -> Result<u64>;
}

/// Writes every in-memory node (and large value) under `child`, children
/// first, and returns the on-disk reference of the root.
pub fn flush(
    out: &mut PageWriter<'_>,
    src: &mut dyn PageSource,
    checkpoint: u64,
    child: &Child,
) -> Result<PageRef> {
    match child {
        Child::Disk(r) => Ok(*r),
        Child::Mem(n) => flush_node(out, src, checkpoint, n),
    }
}

/// Writes a pending large value to a new overflow run.
fn write_overflow(
    out: &mut PageWriter<'_>,
    src: &mut dyn PageSource,
    checkpoint: u64,
    bytes: &[u8],
) -> Result<ValueSrc<'static>> {
    crate::failpoint::hit("overflow::write")?;
    let ps = out.pager().page_size();
    let pages = overflow::run_pages(bytes.len(), ps);
    let first = src.alloc_pages(pages)?;
    let run = overflow::encode(bytes, first, checkpoint, ps);
    let c = crate::checksum::checksum(&run);
    out.write_pages(first, &run)?;
    let len = u32::try_from(bytes.len()).expect("values are at most 1 GiB");
    Ok(ValueSrc::Overflow(
        PageRef {
            page: first,
            checksum: c,
        },
        len,
    ))
}

/// As [`flush`], for a tree the checkpoint may consume (a transaction's
/// own, committed by checkpoint). A node nothing else holds is dropped as
/// soon as its page is queued, so the arena frames of a large
/// transaction's nodes come back while the checkpoint is still copying the
/// pages it wrote into the cache; otherwise a load of a million keys needs
/// a second set of frames, fresh memory as large as the tree. Nodes a
/// snapshot or a savepoint shares are written as [`flush`] writes them.
pub fn flush_owned(
    out: &mut PageWriter<'_>,
    src: &mut dyn PageSource,
    checkpoint: u64,
    child: Child,
) -> Result<PageRef> {
    let n = match child {
        Child::Disk(r) => return Ok(r),
        Child::Mem(n) => n,
    };
    let node = match Arc::try_unwrap(n) {
        Ok(node) => node,
        Err(shared) => return flush_node(out, src, checkpoint, &shared),
    };
    if node.is_leaf() {
        return write_node(out, src, checkpoint, &node);
    }
    // Repacking first: the leaves repacked away are freed with the old
    // branch.
    let node = match repack_leaves(&node, out.pager().page_size()) {
        Some(repacked) => repacked,
        None => node,
    };
    let node = node.write_children(|c| flush_owned(out, src, checkpoint, Child::Mem(c)))?;
    write_node(out, src, checkpoint, &node)
}

fn flush_node(
    out: &mut PageWriter<'_>,
    src: &mut dyn PageSource,
    checkpoint: u64,
    node: &Node,
) -> Result<PageRef> {
    let repacked = if node.is_leaf() {
        None
    } else {
        repack_leaves(node, out.pager().page_size())
    };
    write_node(out, src, checkpoint, repacked.as_ref().unwrap_or(node))
}

/// Writes `node` (repacked already, if it is a branch), its in-memory
/// children and pending values first.
fn write_node(
    out: &mut PageWriter<'_>,
    src: &mut dyn PageSource,
    checkpoint: u64,
    node: &Node,
) -> Result<PageRef> {
    let ps = out.pager().page_size();
    if node.is_leaf() && node.is_packed_leaf() {
        // Already canonical (built or repacked, nothing pending): written
        // as it is, without encoding its entries again.
        let page = src.alloc_pages(1)?;
        let bytes = node.packed_leaf_page(page, checkpoint);
        return out.write_node(&bytes, page);
    }
    let mut items = node.items();
    for it in &mut items {
        match it {
            Item::Leaf { value, .. } => {
                if let ValueSrc::Pending(v) = value {
                    let v = v.clone();
                    *value = write_overflow(out, src, checkpoint, &v)?;
                }
            }
            Item::Branch { child, .. } => {
                if let Child::Mem(_) = child {
                    *child = Child::Disk(flush(out, src, checkpoint, child)?);
                }
            }
        }
    }
    let page = src.alloc_pages(1)?;
    let bytes = encode_page(node.is_leaf(), &items, ps, page, checkpoint);
    out.write_node(&bytes, page)
}

#[cfg(any(test, feature = "internals"))]
/// Whether a tree has any in-memory node.
pub fn is_dirty(child: &Option<Child>) -> bool {
    matches!(child, Some(Child::Mem(_)))
}

#[cfg(any(test, feature = "internals"))]
/// Wraps an on-disk reference as a root.
pub fn disk_root(r: PageRef) -> Option<Child> {
    Some(Child::Disk(r))
}

/// Fill target for leaves repacked at a checkpoint (a fraction of the page).
const REPACK_FILL: f64 = 0.9;

/// An in-memory leaf that may be repacked (not one a sorted load filled to
/// the fill factor its caller chose).
fn mem_leaf(c: ChildAt<'_>) -> Option<&Arc<Node>> {
    match c {
        ChildAt::Mem(n) if n.is_leaf() && !n.keeps_fill() => Some(n),
        _ => None,
    }
}

/// Packs every run of two or more adjacent in-memory leaves under the
/// branch `b` into as few leaves as fit at `REPACK_FILL`. These leaves are
/// about to be written anyway, so denser leaves cost no extra I/O and keep
/// the file small (random inserts otherwise leave leaves about two-thirds
/// full). Returns `None` when nothing would change.
pub fn repack_leaves(b: &Node, page_size: usize) -> Option<Node> {
    let target = (page_size as f64 * REPACK_FILL) as usize;
    let n = b.len();
    // The new branch: each child with the separator in front of it.
    let mut plan: Vec<(Vec<u8>, Child)> = Vec::with_capacity(n);
    let mut changed = false;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && mem_leaf(b.child(j)).is_some() {
            j += 1;
        }
        if j - i < 2 {
            plan.push((b.key(i).to_vec(), b.child(i).to_child()));
            i += 1;
            continue;
        }
        // Children i..j are in-memory leaves: repack them.
        let mut pieces: Vec<Vec<Item<'_>>> = vec![Vec::new()];
        let mut size = HEADER_LEN;
        for c in i..j {
            let leaf = mem_leaf(b.child(c)).expect("checked above");
            for it in leaf.items() {
                let cur = pieces.last_mut().expect("non-empty");
                if !cur.is_empty() && size + it.size() > target {
                    pieces.push(Vec::new());
                    size = HEADER_LEN;
                }
                size += it.size();
                pieces.last_mut().expect("non-empty").push(it);
            }
        }
        pieces.retain(|p| !p.is_empty());
        if !pieces.is_empty() && pieces.len() < j - i {
            changed = true;
            for (p, piece) in pieces.iter().enumerate() {
                let sep = if p == 0 {
                    b.key(i).to_vec()
                } else {
                    let prev = pieces[p - 1].last().expect("non-empty").key();
                    separator(prev, piece[0].key()).to_vec()
                };
                plan.push((
                    sep,
                    Child::Mem(Arc::new(Node::build(true, piece, page_size))),
                ));
            }
        } else {
            for c in i..j {
                plan.push((b.key(c).to_vec(), b.child(c).to_child()));
            }
        }
        i = j;
    }
    if !changed || plan.len() < 2 {
        return None;
    }
    // The new separators may be longer than the old ones: keep the
    // original unless the result fits its page.
    let items: Vec<Item<'_>> = plan
        .iter()
        .enumerate()
        .map(|(k, (sep, c))| Item::Branch {
            key: if k == 0 { &[] } else { sep },
            child: c.clone(),
        })
        .collect();
    let total: usize = items.iter().map(Item::size).sum();
    fits(total, page_size).then(|| Node::build(false, &items, page_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::node::ValueAt;

    fn leaf(range: std::ops::Range<u32>) -> Child {
        let keys: Vec<[u8; 4]> = range.map(|i| i.to_be_bytes()).collect();
        let items: Vec<Item<'_>> = keys
            .iter()
            .map(|k| Item::Leaf {
                key: k,
                value: ValueSrc::Inline(&[7; 100]),
            })
            .collect();
        Child::Mem(Arc::new(Node::build(true, &items, 1024)))
    }

    #[test]
    fn repack_merges_sparse_mem_leaves_and_keeps_separators_valid() {
        let seps = [
            10u32.to_be_bytes(),
            20u32.to_be_bytes(),
            30u32.to_be_bytes(),
        ];
        let children = [leaf(0..5), leaf(10..15), leaf(20..25), leaf(30..35)];
        let items: Vec<Item<'_>> = children
            .iter()
            .enumerate()
            .map(|(i, c)| Item::Branch {
                key: if i == 0 { &[] } else { &seps[i - 1] },
                child: c.clone(),
            })
            .collect();
        let b = Node::build(false, &items, 1024);
        let r = repack_leaves(&b, 1024).expect("four sparse leaves pack into fewer");
        assert!(r.len() >= 2 && r.len() < 4);
        let mut all = Vec::new();
        for i in 0..r.len() {
            let ChildAt::Mem(l) = r.child(i) else {
                panic!("repacked leaves are in memory")
            };
            for k in 0..l.len() {
                if i > 0 {
                    assert!(l.key(k) >= r.key(i), "key below its separator");
                }
                if i + 1 < r.len() {
                    assert!(l.key(k) < r.key(i + 1), "key above the next separator");
                }
                assert!(matches!(l.value(k), ValueAt::Inline(v) if v == [7; 100]));
                all.push(l.key(k).to_vec());
            }
        }
        assert_eq!(all.len(), 20);
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }
}
