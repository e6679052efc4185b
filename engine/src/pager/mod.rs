//! The pager: page-granular I/O on the database file, checksum
//! verification of everything read, and the page cache.

pub mod cache;

use std::io;
use std::sync::Arc;

use crate::checksum::checksum;
use crate::page::node::{Child, Node, Value};
use crate::page::{overflow, PageRef};
use crate::vfs::VfsFile;
use crate::{Error, Result};

pub use cache::Cache;

/// Page I/O for one open database file.
pub struct Pager {
    file: Arc<dyn VfsFile>,
    page_size: usize,
    cache: Cache,
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
        Pager {
            file,
            page_size,
            cache: Cache::new(cache_bytes),
            max_depth: std::sync::atomic::AtomicU32::new(64),
        }
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

    /// The node referenced by `child`: in memory, cached, or read from disk
    /// and verified against the parent's checksum.
    pub fn node(&self, child: &Child) -> Result<Arc<Node>> {
        match child {
            Child::Mem(n) => Ok(n.clone()),
            Child::Disk(r) => self.read_node(*r),
        }
    }

    /// Reads (or finds in the cache) a tree node, verifying its checksum,
    /// its header and its invariants.
    pub fn read_node(&self, at: PageRef) -> Result<Arc<Node>> {
        if let Some(n) = self.cache.get(at.page, at.checksum) {
            return Ok(n);
        }
        let buf = self.read_verified(at, 1)?;
        let node = Arc::new(Node::decode(&buf, at.page)?);
        self.cache.insert(at.page, at.checksum, node.clone());
        Ok(node)
    }

    /// Reads a node bypassing the cache (integrity checks).
    pub fn read_node_uncached(&self, at: PageRef) -> Result<Node> {
        let buf = self.read_verified(at, 1)?;
        Node::decode(&buf, at.page)
    }

    /// Encodes `node` (all children on disk) into `page`, writes it and
    /// returns its reference. The written node is cached.
    pub fn write_node(&self, node: Node, page: u64, checkpoint: u64) -> Result<PageRef> {
        node.check_invariants(self.page_size, page)
            .expect("a node about to be written satisfies its invariants");
        let bytes = node.encode(page, checkpoint, self.page_size);
        let c = checksum(&bytes);
        self.write_pages(page, &bytes)?;
        self.cache.insert(page, c, Arc::new(node));
        Ok(PageRef { page, checksum: c })
    }

    /// The bytes of a value, reading its overflow run if it has one.
    pub fn value(&self, v: &Value) -> Result<Vec<u8>> {
        match v {
            Value::Inline(b) => Ok(b.clone()),
            Value::Big(b) => Ok(b.to_vec()),
            Value::Overflow { at, len } => {
                let pages = overflow::run_pages(*len as usize, self.page_size);
                let run = self.read_verified(*at, pages)?;
                overflow::decode(&run, at.page, *len as usize)
            }
        }
    }
}
