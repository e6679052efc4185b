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

use std::fmt;

use crate::catalog::Catalog;
use crate::freelist::Allocator;
use crate::page::node::{ChildAt, Node, ValueAt};
use crate::page::overflow::run_pages;
use crate::page::slot::Slot;
use crate::pageset::PageBitmap;
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

/// Problems of one kind listed one by one: the first [`LISTED`], then a
/// count (a badly damaged file must not make the report as large as the
/// file).
const LISTED: usize = 32;

/// Which pages the durable checkpoint reaches, one bit per page of the file,
/// and which were reached twice or lie beyond the file.
struct Marks {
    seen: PageBitmap,
    twice: Vec<u64>,
    twice_more: u64,
    beyond: Option<u64>,
}

impl Marks {
    /// Marks for a checkpoint of `pages` pages (validated against the
    /// file's length by the caller).
    fn new(pages: u64) -> Marks {
        Marks {
            seen: PageBitmap::new(pages),
            twice: Vec::new(),
            twice_more: 0,
            beyond: None,
        }
    }

    /// Marks the `n` pages from `first` as reached.
    fn mark(&mut self, first: u64, n: u64) {
        let end = first.saturating_add(n);
        for p in first..end.min(self.seen.pages()) {
            if self.seen.insert(p) == Some(false) {
                if self.twice.len() < LISTED {
                    self.twice.push(p);
                } else {
                    self.twice_more += 1;
                }
            }
        }
        let past = first.max(self.seen.pages());
        if past < end && self.beyond.is_none_or(|b| past < b) {
            self.beyond = Some(past);
        }
    }

    /// Compares the marks with the allocator's in-use bits.
    fn report(self, in_use: impl Fn(u64) -> bool, report: &mut CheckReport) {
        for p in &self.twice {
            report
                .problems
                .push(format!("page {p} is referenced twice"));
        }
        if self.twice_more > 0 {
            report.problems.push(format!(
                "{} more page(s) referenced twice",
                self.twice_more
            ));
        }
        let (mut leaked, mut first_leak) = (0u64, None);
        let (mut free_listed, mut free_more) = (0, 0u64);
        for p in 0..self.seen.pages() {
            let used = in_use(p);
            let reach = self.seen.contains(p);
            if used && !reach {
                leaked += 1;
                first_leak.get_or_insert(p);
            } else if reach && !used {
                if free_listed < LISTED {
                    free_listed += 1;
                    report
                        .problems
                        .push(format!("page {p} is reachable but marked free"));
                } else {
                    free_more += 1;
                }
            }
        }
        if free_more > 0 {
            report.problems.push(format!(
                "{free_more} more page(s) reachable but marked free"
            ));
        }
        if let Some(p) = first_leak {
            report.problems.push(format!(
                "{leaked} page(s) marked in use but unreachable (leaked), first {p}"
            ));
        }
        if let Some(p) = self.beyond {
            report
                .problems
                .push(format!("page {p} is referenced but lies beyond the file"));
        }
    }
}

/// Verifies the page accounting of the durable checkpoint `checkpoint`.
///
/// Memory: one bit per page of the checkpoint (whose page count is first
/// checked against the file's length, so a damaged count is a problem, not
/// a huge allocation), besides the allocator's own bitmap.
pub(crate) fn check_pages(pager: &Pager, slot_page: u64, report: &mut CheckReport) -> Result<()> {
    let res = pager
        .read_pages(slot_page, 1)
        .and_then(|b| Slot::decode(&b, slot_page));
    let Some((slot, _, _)) = note(report, res)? else {
        return Ok(());
    };
    report.pages = slot.page_count;
    let ps = pager.page_size() as u64;
    let file_len = pager.file().len()?;
    if slot.page_count.checked_mul(ps).is_none_or(|b| b > file_len) {
        report.problems.push(
            Error::corrupt(
                slot.page_count.saturating_sub(1),
                format!(
                    "the checkpoint counts {} pages but the file holds {}",
                    slot.page_count,
                    file_len / ps
                ),
            )
            .to_string(),
        );
        return Ok(());
    }
    let res = Allocator::load(pager, pager.page_size(), slot.page_count, &slot.alloc_index);
    let Some(alloc) = note(report, res)? else {
        return Ok(());
    };
    let mut marks = Marks::new(slot.page_count);
    marks.mark(0, crate::freelist::RESERVED_PAGES);
    marks.mark(slot.log_start, slot.log_pages);
    for p in alloc.own_pages() {
        marks.mark(p, 1);
    }
    let res = Catalog::load(pager, slot.catalog);
    if let Some((catalog, cat_pages)) = note(report, res)? {
        for p in cat_pages {
            marks.mark(p, 1);
        }
        for (_, b) in catalog.iter() {
            let res = crate::btree::for_each_page(pager, &b.root, &mut |p, n| {
                marks.mark(p, n);
                Ok(())
            });
            note(report, res)?;
        }
    }
    marks.report(|p| alloc.is_in_use(p), report);
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

    /// The problems `marks` gives against the in-use pages `used`.
    fn problems(marks: Marks, used: std::ops::Range<u64>) -> Vec<String> {
        let mut r = CheckReport::default();
        marks.report(|p| used.contains(&p), &mut r);
        r.problems
    }

    #[test]
    fn a_page_counted_twice_is_reported_and_the_marks_are_one_bit_a_page() {
        let mut m = Marks::new(64);
        m.mark(0, 20);
        assert!(problems(m, 0..20).is_empty(), "each page once: sound");
        let mut m = Marks::new(1 << 20);
        assert_eq!(m.seen.heap_bytes(), (1 << 20) / 8);
        m.mark(0, 20);
        m.mark(12, 1); // say, an overflow run and a tree page sharing page 12
        assert_eq!(problems(m, 0..20), ["page 12 is referenced twice"]);
        // A whole tree referenced twice: the first few pages are listed.
        let mut m = Marks::new(1000);
        m.mark(0, 500);
        m.mark(100, 300);
        let p = problems(m, 0..500);
        assert_eq!(p.len(), LISTED + 1, "{p:?}");
        assert_eq!(p[0], "page 100 is referenced twice");
        assert_eq!(p[LISTED], format!("{} more page(s) referenced twice", 300 - LISTED));
    }

    #[test]
    fn leaked_free_and_beyond_the_file_pages_are_reported() {
        let mut m = Marks::new(100);
        m.mark(0, 10);
        m.mark(95, 10); // a run that passes the end of the file
        m.mark(u64::MAX - 1, 5); // a damaged page number: no overflow
        let p = problems(m, 0..8);
        assert!(p.contains(&"page 8 is reachable but marked free".to_string()), "{p:?}");
        assert!(p.contains(&"page 95 is reachable but marked free".to_string()));
        assert!(p.contains(&"page 100 is referenced but lies beyond the file".to_string()));
        let mut m = Marks::new(100);
        m.mark(0, 4);
        let p = problems(m, 0..10);
        assert_eq!(
            p,
            ["6 page(s) marked in use but unreachable (leaked), first 4"]
        );
    }

    #[test]
    fn a_page_count_the_file_cannot_hold_is_a_problem_not_an_allocation() {
        let pager = Pager::in_memory(4096);
        let slot = Slot {
            checkpoint: 1,
            last_txn: 0,
            page_count: 1 << 40,
            log_start: 0,
            log_pages: 0,
            catalog: None,
            alloc_index: Vec::new(),
        };
        pager.write_pages(0, &vec![0; 4096]).unwrap();
        pager.write_pages(1, &slot.encode(4096, 1).0).unwrap();
        let mut r = CheckReport::default();
        check_pages(&pager, 1, &mut r).unwrap();
        assert_eq!(r.pages, 1 << 40);
        assert_eq!(
            r.problems,
            [format!(
                "corruption detected at page {}: the checkpoint counts {} pages but the file holds 2",
                (1u64 << 40) - 1,
                1u64 << 40
            )]
        );
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
