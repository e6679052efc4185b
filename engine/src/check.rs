//! Full integrity verification (`Db::check`).
//!
//! Two independent walks:
//! 1. the latest committed state (including changes not yet checkpointed):
//!    every reachable page is re-read bypassing the cache and verified
//!    (checksum, header, invariants), keys are in order across the whole
//!    tree and inside their separators, all leaves are at one depth, every
//!    overflow run verifies, and each bucket's key count matches its `len`;
//! 2. the durable checkpoint on disk: the pages reachable from its slot
//!    (trees, overflow runs, catalog, allocator, log extent, header and
//!    slots) must be exactly the pages its bitmap marks in use — no page
//!    used twice, none leaked, none both free and reachable.

use std::collections::HashSet;
use std::fmt;

use crate::catalog::Catalog;
use crate::freelist::Allocator;
use crate::page::node::{ChildAt, Node, ValueAt};
use crate::page::overflow::run_pages;
use crate::page::slot::Slot;
use crate::pager::Pager;
use crate::{Error, Result};

/// The result of [`crate::Db::check`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.create_bucket("b")?.put(b"k", b"v")).unwrap();
/// db.checkpoint().unwrap();
/// let report = db.check().unwrap();
/// assert!(report.is_ok(), "{report}");
/// assert_eq!((report.buckets, report.keys), (1, 1));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Pages in the file (the durable checkpoint's page count).
    pub pages: u64,
    /// Pages in use by the durable checkpoint.
    pub used_pages: u64,
    /// Free pages in the durable checkpoint.
    pub free_pages: u64,
    /// Named buckets.
    pub buckets: u64,
    /// Keys in all buckets.
    pub keys: u64,
    /// Largest tree depth (1 = a single leaf).
    pub max_depth: u32,
    /// Tree pages verified on disk.
    pub tree_pages: u64,
    /// Overflow pages verified.
    pub overflow_pages: u64,
    /// Everything found wrong; empty when the database is sound.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pages ({} used, {} free), {} buckets, {} keys, depth {}, {} tree pages, {} overflow pages: ",
            self.pages,
            self.used_pages,
            self.free_pages,
            self.buckets,
            self.keys,
            self.max_depth,
            self.tree_pages,
            self.overflow_pages
        )?;
        if self.problems.is_empty() {
            write!(f, "ok")
        } else {
            write!(
                f,
                "{} problem(s): {}",
                self.problems.len(),
                self.problems.join("; ")
            )
        }
    }
}

/// Records an error as a problem; passes I/O errors up.
fn note<T>(r: &mut CheckReport, res: Result<T>) -> Result<Option<T>> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(Error::Io(e)) => Err(Error::Io(e)),
        Err(e) => {
            r.problems.push(e.to_string());
            Ok(None)
        }
    }
}

struct TreeWalk<'a> {
    pager: &'a Pager,
    report: &'a mut CheckReport,
    leaf_depth: Option<u32>,
    keys: u64,
    prev: Option<Vec<u8>>,
}

impl TreeWalk<'_> {
    /// The node `child` refers to: in memory, or re-read from disk
    /// bypassing the cache (so damage on disk is seen even if a good copy
    /// is cached).
    fn node(&mut self, child: ChildAt<'_>) -> Result<Option<std::sync::Arc<Node>>> {
        match child {
            ChildAt::Mem(n) => Ok(Some(n.clone())),
            ChildAt::Disk(r) => {
                let res = self.pager.read_node_uncached(r);
                let n = note(self.report, res)?;
                if n.is_some() {
                    self.report.tree_pages += 1;
                }
                Ok(n.map(std::sync::Arc::new))
            }
        }
    }

    /// Walks `child`, whose keys must lie in `[lo, hi)`.
    fn walk(
        &mut self,
        bucket: &str,
        child: ChildAt<'_>,
        depth: u32,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        is_root: bool,
    ) -> Result<()> {
        if depth as usize > self.pager.max_depth() {
            self.report
                .problems
                .push(format!("bucket {bucket}: tree deeper than the file allows"));
            return Ok(());
        }
        let Some(node) = self.node(child)? else {
            return Ok(());
        };
        let ps = self.pager.page_size();
        if let Err(e) = node.check_shape() {
            self.report.problems.push(format!("bucket {bucket}: {e}"));
        }
        if !is_root && node.is_empty() {
            self.report
                .problems
                .push(format!("bucket {bucket}: empty non-root node"));
        }
        if node.is_leaf() {
            match self.leaf_depth {
                None => self.leaf_depth = Some(depth),
                Some(d) if d != depth => self
                    .report
                    .problems
                    .push(format!("bucket {bucket}: leaves at depths {d} and {depth}")),
                _ => {}
            }
            for i in 0..node.len() {
                let k = node.key(i);
                if lo.is_some_and(|lo| k < lo) || hi.is_some_and(|hi| k >= hi) {
                    self.report
                        .problems
                        .push(format!("bucket {bucket}: key outside its separators"));
                }
                if self.prev.as_deref().is_some_and(|p| p >= k) {
                    self.report
                        .problems
                        .push(format!("bucket {bucket}: keys out of order"));
                }
                self.prev = Some(k.to_vec());
                self.keys += 1;
                if let ValueAt::Overflow { at, len } = node.value(i) {
                    let res = self
                        .pager
                        .read_overflow(at, len)
                        .map(|b| b.len() == len as usize);
                    if let Some(ok) = note(self.report, res)? {
                        if !ok {
                            self.report
                                .problems
                                .push(format!("bucket {bucket}: overflow length mismatch"));
                        }
                        self.report.overflow_pages += run_pages(len as usize, ps);
                    }
                }
            }
        } else {
            let n = node.len();
            for i in 0..n {
                let clo = if i == 0 { lo } else { Some(node.key(i)) };
                let chi = if i + 1 == n {
                    hi
                } else {
                    Some(node.key(i + 1))
                };
                self.walk(bucket, node.child(i), depth + 1, clo, chi, false)?;
            }
        }
        Ok(())
    }
}

/// Verifies the trees of `catalog` (the latest committed state).
pub(crate) fn check_trees(
    pager: &Pager,
    catalog: &Catalog,
    report: &mut CheckReport,
) -> Result<()> {
    report.buckets = catalog.named.len() as u64;
    for (name, b) in catalog.iter() {
        let label = if name.is_empty() {
            "<default>".to_string()
        } else {
            String::from_utf8_lossy(name).into_owned()
        };
        let mut w = TreeWalk {
            pager,
            report,
            leaf_depth: None,
            keys: 0,
            prev: None,
        };
        if let Some(root) = &b.root {
            w.walk(&label, root.as_at(), 1, None, None, true)?;
        }
        let (keys, depth) = (w.keys, w.leaf_depth.unwrap_or(0));
        report.keys += keys;
        report.max_depth = report.max_depth.max(depth);
        if keys != b.len {
            report.problems.push(format!(
                "bucket {label}: len is {} but {keys} keys found",
                b.len
            ));
        }
    }
    Ok(())
}

/// Verifies the page accounting of the durable checkpoint `checkpoint`.
pub(crate) fn check_pages(pager: &Pager, slot_page: u64, report: &mut CheckReport) -> Result<()> {
    let res = pager
        .read_pages(slot_page, 1)
        .and_then(|b| Slot::decode(&b, slot_page));
    let Some((slot, _, _)) = note(report, res)? else {
        return Ok(());
    };
    report.pages = slot.page_count;
    let res = Allocator::load(pager, pager.page_size(), slot.page_count, &slot.alloc_index);
    let Some(alloc) = note(report, res)? else {
        return Ok(());
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut dup = Vec::new();
    // The first page of each run that reaches past the page count. Page
    // numbers and run lengths come from the file: only the pages below the
    // page count are marked (a crafted reference near `u64::MAX`, or a run
    // claiming 1 GiB, neither overflows nor fills `seen`).
    let mut beyond = Vec::new();
    let page_count = slot.page_count;
    let mut mark = |first: u64, n: u64| {
        let end = first.saturating_add(n);
        if end > page_count {
            beyond.push(first);
        }
        for p in first..end.min(page_count) {
            if !seen.insert(p) {
                dup.push(p);
            }
        }
    };
    mark(0, crate::freelist::RESERVED_PAGES);
    mark(slot.log_start, slot.log_pages);
    for p in alloc.own_pages() {
        mark(p, 1);
    }
    let res = Catalog::load(pager, slot.catalog);
    if let Some((catalog, cat_pages)) = note(report, res)? {
        for p in cat_pages {
            mark(p, 1);
        }
        for (_, b) in catalog.iter() {
            let res = crate::btree::for_each_page(pager, &b.root, &mut |p, n| {
                mark(p, n);
                Ok(())
            });
            note(report, res)?;
        }
    }
    for p in dup {
        report
            .problems
            .push(format!("page {p} is referenced twice"));
    }
    let mut leaked = 0u64;
    let mut first_leak = None;
    for p in 0..slot.page_count {
        let used = alloc.is_in_use(p);
        let reach = seen.contains(&p);
        if used && !reach {
            leaked += 1;
            first_leak.get_or_insert(p);
        } else if reach && !used {
            report
                .problems
                .push(format!("page {p} is reachable but marked free"));
        }
    }
    if let Some(p) = first_leak {
        report.problems.push(format!(
            "{leaked} page(s) marked in use but unreachable (leaked), first {p}"
        ));
    }
    if let Some(p) = beyond.first() {
        report
            .problems
            .push(format!("page {p} is referenced but lies beyond the file"));
    }
    report.free_pages = alloc.free_pages();
    report.used_pages = slot.page_count - report.free_pages;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::page::node::{Child, Item, ValueSrc};

    /// Walks an in-memory tree as `check` does and returns the report.
    fn walk(root: &Child) -> CheckReport {
        let pager = Pager::in_memory(1024);
        let mut report = CheckReport::default();
        let mut w = TreeWalk {
            pager: &pager,
            report: &mut report,
            leaf_depth: None,
            keys: 0,
            prev: None,
        };
        w.walk("b", root.as_at(), 1, None, None, true).unwrap();
        report
    }

    fn leaf(keys: &[&[u8]]) -> Child {
        let items: Vec<Item<'_>> = keys
            .iter()
            .map(|k| Item::Leaf {
                key: k,
                value: ValueSrc::Inline(&[1]),
            })
            .collect();
        Child::Mem(Arc::new(Node::build(true, &items, 1024)))
    }

    fn branch(children: Vec<Child>) -> Child {
        let items = [
            Item::Branch {
                key: &[],
                child: children[0].clone(),
            },
            Item::Branch {
                key: b"m",
                child: children[1].clone(),
            },
        ];
        Child::Mem(Arc::new(Node::build(false, &items, 1024)))
    }

    #[test]
    fn an_empty_node_is_a_problem_below_the_root_only() {
        let r = walk(&leaf(&[]));
        assert!(r.is_ok(), "an empty root leaf is an empty tree: {r}");
        let r = walk(&branch(vec![leaf(&[b"a"]), leaf(&[b"n"])]));
        assert!(r.is_ok(), "{r}");
        let r = walk(&branch(vec![leaf(&[b"a"]), leaf(&[])]));
        assert!(
            r.problems.iter().any(|p| p.contains("empty non-root node")),
            "{r}"
        );
    }

    #[test]
    fn a_key_outside_its_separators_is_a_problem() {
        let r = walk(&branch(vec![leaf(&[b"a"]), leaf(&[b"b"])]));
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("outside its separators")),
            "{r}"
        );
    }
}
