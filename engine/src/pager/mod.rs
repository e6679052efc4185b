//! The pager: page-granular I/O on the database file, checksum
//! verification of everything read, and the page cache.

pub mod cache;
pub mod page_writer;
pub mod pin;

use std::io;
use std::ops::Deref;
use std::sync::Arc;

use crate::checksum::checksum;
use crate::page::node::{Child, ChildAt, Node};
use crate::page::{overflow, PageRef};
use crate::vfs::VfsFile;
use crate::{Error, Result};

pub use cache::{Cache, PageGuard};
pub use page_writer::PageWriter;
pub use pin::{PinBudget, Pinned, RootPin};

/// A node being read: an in-memory node borrowed from its parent (or the
/// tree's root), or a page held by a cache guard.
pub enum NodeRef<'a> {
    /// An in-memory node.
    Mem(&'a Arc<Node>),
    /// A verified page pinned by its tree (see [`pin`]).
    Pinned(&'a Pinned),
    /// A verified page.
    Page(PageGuard),
}

impl Deref for NodeRef<'_> {
    type Target = Node;
    #[inline]
    fn deref(&self) -> &Node {
        match self {
            NodeRef::Mem(n) => n,
            NodeRef::Pinned(p) => p.node(),
            NodeRef::Page(g) => g,
        }
    }
}

impl<'a> NodeRef<'a> {
    /// Child `i` of this branch. A page's children are pages (a verified
    /// page holds no in-memory child), so the result borrows at most what
    /// `self` borrows.
    #[inline]
    pub fn child(&self, i: usize) -> ChildAt<'a> {
        match self {
            NodeRef::Mem(n) => {
                let n: &'a Arc<Node> = n;
                n.child(i)
            }
            NodeRef::Pinned(p) => {
                let n: &'a Arc<Node> = p.node();
                n.child(i)
            }
            NodeRef::Page(g) => match g.child(i) {
                ChildAt::Disk(r) => ChildAt::Disk(r),
                ChildAt::Mem(_) => unreachable!("a verified page has no in-memory child"),
            },
        }
    }

    /// The node as an owned `Arc`.
    pub fn into_arc(self) -> Arc<Node> {
        match self {
            NodeRef::Mem(n) => n.clone(),
            NodeRef::Pinned(p) => p.node().clone(),
            NodeRef::Page(g) => g.into_arc(),
        }
    }

    #[cfg(any(test, feature = "internals"))]
    /// The node, borrowed for `'a`, if it outlives this reference (an
    /// in-memory or pinned node).
    pub fn lasting(&self) -> Option<&'a Arc<Node>> {
        match self {
            NodeRef::Mem(n) => Some(n),
            NodeRef::Pinned(p) => Some(p.node()),
            NodeRef::Page(_) => None,
        }
    }
}

/// Page I/O for one open database file.
pub struct Pager {
    file: Arc<dyn VfsFile>,
    page_size: usize,
    cache: Arc<Cache>,
    /// Pages the trees' pins may hold.
    pins: Arc<PinBudget>,
    /// Memory, in pages, the leaf hints of pinned branches may hold.
    hints: Arc<PinBudget>,
    /// Deepest a valid tree in this file can be: every branch has at least
    /// two children, so a tree of depth `d` has at least `2^(d-1)` pages.
    max_depth: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("page_size", &self.page_size)
            .finish()
    }
}

fn read_error(page: u64, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        Error::corrupt(page, "page lies beyond the end of the file")
    } else {
        Error::Io(e)
    }
}

impl Pager {
    /// A pager over `file` with a cache of `cache_bytes`.
    pub fn new(file: Arc<dyn VfsFile>, page_size: usize, cache_bytes: usize) -> Pager {
        let cache = Cache::new(cache_bytes, page_size);
        Pager {
            file,
            page_size,
            pins: PinBudget::new((cache.frames() / 32).max(16)),
            hints: PinBudget::new((cache.frames() / 32).max(16)),
            cache,
            max_depth: std::sync::atomic::AtomicU32::new(64),
        }
    }

    #[cfg(any(test, feature = "internals"))]
    /// The same pager with a pin budget of `max` pages instead of the
    /// default (a 32nd of the cache's frames, at least 16): the loom model
    /// of pins runs out of budget with a small tree.
    pub fn with_pin_budget(mut self, max: usize) -> Pager {
        self.pins = PinBudget::new(max);
        self
    }

    #[cfg(any(test, feature = "internals"))]
    /// The same pager with a budget of `max` pages for leaf hints instead
    /// of the default (a 32nd of the cache's frames, at least 16).
    pub fn with_hint_budget(mut self, max: usize) -> Pager {
        self.hints = PinBudget::new(max);
        self
    }

    /// A pager over a fresh in-memory file (unit tests).
    #[cfg(test)]
    pub(crate) fn in_memory(page_size: usize) -> Pager {
        use crate::vfs::{MemVfs, OpenMode, Vfs};
        let file = MemVfs::default()
            .open(std::path::Path::new("f"), OpenMode::CreateReadWrite)
            .expect("a MemVfs file opens");
        Pager::new(file, page_size, 1 << 20)
    }

    /// Records the file's page count, which bounds the depth of any valid
    /// tree in it (so a crafted tree whose branches share children cannot
    /// make a walk take exponential time).
    pub fn set_page_count(&self, pages: u64) {
        let depth = 64 - pages.max(1).leading_zeros() + 1;
        self.max_depth
            .store(depth, std::sync::atomic::Ordering::Relaxed);
    }

    /// The deepest a valid tree in this file can be.
    pub fn max_depth(&self) -> usize {
        self.max_depth.load(std::sync::atomic::Ordering::Relaxed) as usize
    }

    /// The error for a tree deeper than [`Pager::max_depth`].
    pub fn too_deep(&self, page: u64) -> Error {
        Error::corrupt(page, "tree is deeper than the file's size allows")
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    #[cfg(any(test, feature = "internals"))]
    /// The budget of pinned pages (for statistics and tests).
    pub fn pins(&self) -> &PinBudget {
        &self.pins
    }

    #[cfg(any(test, feature = "internals"))]
    /// The budget of leaf hints, in pages (for statistics and tests).
    pub fn hints(&self) -> &PinBudget {
        &self.hints
    }

    /// The cache (for statistics).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The underlying file.
    pub fn file(&self) -> &Arc<dyn VfsFile> {
        &self.file
    }

    /// Reads `pages` consecutive pages starting at `page`.
    pub fn read_pages(&self, page: u64, pages: u64) -> Result<Vec<u8>> {
        let ps = self.page_size as u64;
        let off = page
            .checked_mul(ps)
            .ok_or_else(|| Error::corrupt(page, "page number out of range"))?;
        let bytes = pages
            .checked_mul(ps)
            .ok_or_else(|| Error::corrupt(page, "run length out of range"))?;
        // Never allocate for a run the file cannot hold (a damaged length).
        if pages > 1 && off.saturating_add(bytes) > self.file.len()? {
            return Err(Error::corrupt(
                page,
                "page run lies beyond the end of the file",
            ));
        }
        let mut buf = vec![0u8; bytes as usize];
        self.file
            .read_at(&mut buf, off)
            .map_err(|e| read_error(page, e))?;
        Ok(buf)
    }

    /// Reads `pages` pages at `at.page` and verifies them against `at`.
    pub fn read_verified(&self, at: PageRef, pages: u64) -> Result<Vec<u8>> {
        let buf = self.read_pages(at.page, pages)?;
        if checksum(&buf) != at.checksum {
            return Err(Error::corrupt(at.page, "checksum mismatch"));
        }
        Ok(buf)
    }

    /// Writes whole pages starting at `page`.
    pub fn write_pages(&self, page: u64, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len() % self.page_size, 0);
        self.file.write_at(bytes, page * self.page_size as u64)?;
        Ok(())
    }

    /// Writes zeros over `pages` pages from `page`, so that the blocks are
    /// allocated and written on disk: later overwrites (log records) then
    /// sync without file-system metadata changes.
    pub fn zero_fill(&self, page: u64, pages: u64) -> Result<()> {
        const CHUNK_PAGES: u64 = 256;
        let zeros = vec![0u8; CHUNK_PAGES.min(pages) as usize * self.page_size];
        let mut done = 0;
        while done < pages {
            let n = CHUNK_PAGES.min(pages - done);
            self.write_pages(page + done, &zeros[..n as usize * self.page_size])?;
            done += n;
        }
        Ok(())
    }

    /// Writes bytes at a byte offset (log records).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.file.write_at(bytes, offset)?;
        Ok(())
    }

    /// Makes all earlier writes durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync()?;
        Ok(())
    }

    /// The node `child` refers to: in memory, cached, or read from disk and
    /// verified against the parent's checksum.
    #[inline]
    pub fn node<'a>(&self, child: ChildAt<'a>) -> Result<NodeRef<'a>> {
        match child {
            ChildAt::Mem(n) => Ok(NodeRef::Mem(n)),
            ChildAt::Disk(r) => Ok(NodeRef::Page(self.load(r)?)),
        }
    }

    /// The root node of a tree.
    pub fn root<'a>(&self, root: &'a Child) -> Result<NodeRef<'a>> {
        self.node(root.as_at())
    }

    /// The page `at` from the cache, or read, verified and cached.
    #[inline]
    pub fn load(&self, at: PageRef) -> Result<PageGuard> {
        self.cache.get_or_load(at, || self.read_node_uncached(at))
    }

    /// [`Pager::load`] for a walk that likely wants `neighbor` next (a
    /// scan's next leaf): on a miss, when `neighbor` is the page right
    /// before or after `at` and is not cached, both pages are read with one
    /// call. The neighbour is cached only if it verifies against its own
    /// reference; if it does not, whoever reads it later finds out.
    pub fn load_with_neighbor(&self, at: PageRef, neighbor: Option<PageRef>) -> Result<PageGuard> {
        self.cache.get_or_load(at, || match neighbor {
            Some(nb) if nb.page.abs_diff(at.page) == 1 && !self.cache.contains(nb) => {
                self.read_pair(at, nb)
            }
            _ => self.read_node_uncached(at),
        })
    }

    /// Reads `at` and its adjacent page `nb` with one call (see
    /// [`Pager::load_with_neighbor`]), through a buffer each thread keeps
    /// (two pages; a miss allocates nothing but the cache frames).
    fn read_pair(&self, at: PageRef, nb: PageRef) -> Result<Node> {
        thread_local! {
            static PAIR: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let ps = self.page_size;
        let first = at.page.min(nb.page);
        let Some(off) = first.checked_mul(ps as u64) else {
            return self.read_node_uncached(at);
        };
        // `try_borrow_mut`: under the shuttle tests every simulated thread
        // runs on one OS thread, and one of them may be switched out
        // inside this closure (at the cache's locks); another then reads
        // with a buffer of its own.
        let read = PAIR.with(|cell| -> Option<Result<Node>> {
            let mut own;
            let mut borrowed = cell.try_borrow_mut();
            let pair: &mut Vec<u8> = match borrowed.as_deref_mut() {
                Ok(p) => p,
                Err(_) => {
                    own = Vec::new();
                    &mut own
                }
            };
            pair.resize(2 * ps, 0);
            // Past the end of the file, say: `at` alone tells what is wrong.
            self.file.read_at(&mut pair[..2 * ps], off).ok()?;
            let (low, high) = pair[..2 * ps].split_at(ps);
            let (mine, theirs) = if first == at.page {
                (low, high)
            } else {
                (high, low)
            };
            if let Ok(n) = self.verified_copy(theirs, nb) {
                self.cache.insert_verified(Arc::new(n));
            }
            Some(self.verified_copy(mine, at))
        });
        match read {
            Some(r) => r,
            None => self.read_node_uncached(at),
        }
    }

    /// The page `at` from bytes read for it: checksum against `at`, then
    /// the page's own checks, in a buffer of the cache's.
    fn verified_copy(&self, bytes: &[u8], at: PageRef) -> Result<Node> {
        if checksum(bytes) != at.checksum {
            return Err(Error::corrupt(at.page, "checksum mismatch"));
        }
        let mut buf = self.cache.buffer_for_read(self.page_size);
        buf.copy_from_slice(bytes);
        Node::from_verified_page(buf, at)
    }

    /// Reads a node bypassing the cache: checksum against `at`, then the
    /// page's own checks (FORMAT.md §1.4).
    pub fn read_node_uncached(&self, at: PageRef) -> Result<Node> {
        let off = at
            .page
            .checked_mul(self.page_size as u64)
            .ok_or_else(|| Error::corrupt(at.page, "page number out of range"))?;
        let mut buf = self.cache.buffer_for_read(self.page_size);
        self.file
            .read_at(&mut buf, off)
            .map_err(|e| read_error(at.page, e))?;
        if checksum(&buf) != at.checksum {
            return Err(Error::corrupt(at.page, "checksum mismatch"));
        }
        Node::from_verified_page(buf, at)
    }

    /// Reads the value of `len` bytes in the overflow run `at`.
    pub fn read_overflow(&self, at: PageRef, len: u32) -> Result<Vec<u8>> {
        let pages = overflow::run_pages(len as usize, self.page_size);
        let run = self.read_verified(at, pages)?;
        overflow::decode(&run, at.page, len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::node::{Item, ValueSrc};

    /// Writes one-entry leaves at `pages` and returns their references.
    fn leaves(pager: &Pager, pages: &[u64]) -> Vec<PageRef> {
        let mut w = PageWriter::new(pager);
        let refs = pages
            .iter()
            .map(|&p| {
                let items = [Item::Leaf {
                    key: &p.to_be_bytes(),
                    value: ValueSrc::Inline(b"v"),
                }];
                let bytes = Node::build(true, &items, pager.page_size()).encode(p, 1);
                w.write_node(&bytes, p).unwrap()
            })
            .collect();
        w.finish().unwrap();
        refs
    }

    /// A pager over the same file with an empty cache.
    fn reopened(pager: &Pager) -> Pager {
        Pager::new(pager.file().clone(), pager.page_size(), 1 << 20)
    }

    #[test]
    fn a_miss_reads_the_adjacent_neighbour_along_and_caches_it_if_it_verifies() {
        let pager = Pager::in_memory(1024);
        let r = leaves(&pager, &[10, 11, 12, 20]);
        let cold = reopened(&pager);
        // Forward and backward neighbours.
        assert_eq!(
            cold.load_with_neighbor(r[1], Some(r[2])).unwrap().key(0),
            11u64.to_be_bytes()
        );
        assert!(cold.cache().contains(r[2]), "the next page came along");
        assert!(!cold.cache().contains(r[0]));
        let cold = reopened(&pager);
        cold.load_with_neighbor(r[1], Some(r[0])).unwrap();
        assert!(cold.cache().contains(r[0]), "the previous page came along");
        // A neighbour that is not adjacent is not read.
        let cold = reopened(&pager);
        cold.load_with_neighbor(r[2], Some(r[3])).unwrap();
        assert!(!cold.cache().contains(r[3]));
        // A neighbour that fails its checksum is not cached, and the page
        // asked for is still served; reading the neighbour reports it.
        let cold = reopened(&pager);
        let wrong = PageRef {
            page: 11,
            checksum: r[1].checksum ^ 1,
        };
        assert_eq!(
            cold.load_with_neighbor(r[0], Some(wrong)).unwrap().key(0),
            10u64.to_be_bytes()
        );
        assert!(!cold.cache().contains(wrong) && !cold.cache().contains(r[1]));
        assert!(cold.load(wrong).is_err());
        // The page asked for is verified as ever.
        let cold = reopened(&pager);
        let bad = PageRef {
            page: 10,
            checksum: r[0].checksum ^ 1,
        };
        assert!(cold.load_with_neighbor(bad, Some(r[1])).is_err());
        // A neighbour past the end of the file: the page alone is read.
        let cold = reopened(&pager);
        let beyond = PageRef {
            page: 21,
            checksum: 0,
        };
        assert_eq!(
            cold.load_with_neighbor(r[3], Some(beyond)).unwrap().key(0),
            20u64.to_be_bytes()
        );
    }
}
