//! Writing in-memory nodes to pages at a checkpoint.

use crate::page::node::{Branch, Child, Leaf, Node, Value};
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
