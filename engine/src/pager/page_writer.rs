//! Writing a checkpoint's pages in runs (FORMAT.md §3, C2).
//!
//! A checkpoint allocates its pages one after another, mostly consecutive
//! (children before their parent, from the allocator's lowest free pages
//! or the end of the file). A [`PageWriter`] gathers consecutive pages into
//! one buffer and writes each run with one call, up to [`RUN_BYTES`]; a
//! page that does not continue the run starts a new one. Pages reach the
//! cache only once their run is written, so the cache never holds a page
//! whose write failed. Nothing reads a page of the checkpoint being
//! written before [`PageWriter::finish`] (the checkpoint's pages are free
//! in every published snapshot), and the caller finishes the writer
//! before barrier 1.

use super::Pager;
use crate::checksum::checksum;
use crate::page::node::verify;
use crate::page::PageRef;
use crate::Result;

/// Largest run written with one call.
pub const RUN_BYTES: usize = 1 << 20;

/// Gathers a checkpoint's page writes into runs of consecutive pages.
pub struct PageWriter<'p> {
    pager: &'p Pager,
    /// First page of the pending run.
    first: u64,
    /// The pending run's bytes (whole pages).
    run: Vec<u8>,
    /// Tree pages of the pending run, to cache once it is written.
    nodes: Vec<PageRef>,
}

impl<'p> PageWriter<'p> {
    /// A writer with nothing pending.
    pub fn new(pager: &'p Pager) -> PageWriter<'p> {
        PageWriter {
            pager,
            first: 0,
            run: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// The pager written to.
    pub fn pager(&self) -> &'p Pager {
        self.pager
    }

    /// Queues an encoded tree page for `page` and returns its reference.
    /// The page is checked first (the pair of the check after reading).
    pub fn write_node(&mut self, bytes: &[u8], page: u64) -> Result<PageRef> {
        if let Err(e) = verify::verify(bytes, page) {
            panic!("a tree page about to be written is invalid: {e}");
        }
        let at = PageRef {
            page,
            checksum: checksum(bytes),
        };
        self.queue(page, bytes)?;
        self.nodes.push(at);
        Ok(at)
    }

    /// Queues whole pages (an overflow run) starting at `page`.
    pub fn write_pages(&mut self, page: u64, bytes: &[u8]) -> Result<()> {
        self.queue(page, bytes)
    }

    fn queue(&mut self, page: u64, bytes: &[u8]) -> Result<()> {
        let ps = self.pager.page_size();
        debug_assert_eq!(bytes.len() % ps, 0);
        let next = self.first + (self.run.len() / ps) as u64;
        if !self.run.is_empty() && (page != next || self.run.len() + bytes.len() > RUN_BYTES) {
            self.drain()?;
        }
        if self.run.is_empty() {
            self.first = page;
        }
        self.run.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes the pending run, then caches its tree pages.
    fn drain(&mut self) -> Result<()> {
        if self.run.is_empty() {
            return Ok(());
        }
        crate::failpoint::hit("checkpoint::write_run")?;
        self.pager.write_pages(self.first, &self.run)?;
        let ps = self.pager.page_size();
        for at in self.nodes.drain(..) {
            let off = (at.page - self.first) as usize * ps;
            self.pager
                .cache()
                .insert_written(&self.run[off..off + ps], at);
        }
        self.run.clear();
        Ok(())
    }

    /// Writes everything still pending. A writer dropped without this
    /// writes nothing more (the checkpoint was abandoned).
    pub fn finish(mut self) -> Result<()> {
        self.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::node::{Item, Node, ValueSrc};

    fn leaf(key: &[u8], page: u64, ps: usize) -> Box<[u8]> {
        let items = [Item::Leaf {
            key,
            value: ValueSrc::Inline(b"v"),
        }];
        Node::build(true, &items, ps).encode(page, 1)
    }

    #[test]
    fn runs_of_consecutive_pages_are_written_and_cached_once_finished() {
        let ps = 1024;
        let pager = Pager::in_memory(ps);
        let mut w = PageWriter::new(&pager);
        let mut refs = Vec::new();
        // Two runs: 10..=13 and 20..=21.
        for (i, page) in [10u64, 11, 12, 13, 20, 21].into_iter().enumerate() {
            refs.push(w.write_node(&leaf(&[i as u8], page, ps), page).unwrap());
        }
        let before = pager.file().len().unwrap();
        assert!(
            before < 21 * ps as u64,
            "the last run is pending until finish"
        );
        w.finish().unwrap();
        for (i, at) in refs.iter().enumerate() {
            let on_disk = pager.read_node_uncached(*at).unwrap();
            assert_eq!(on_disk.key(0), [i as u8]);
            assert_eq!(pager.load(*at).unwrap().key(0), [i as u8]);
        }
    }

    #[test]
    fn a_run_is_cut_at_its_size_limit() {
        let ps = 4096;
        let pager = Pager::in_memory(ps);
        let mut w = PageWriter::new(&pager);
        let pages = (RUN_BYTES / ps) as u64 + 3;
        for p in 0..pages {
            w.write_node(&leaf(&p.to_be_bytes(), 100 + p, ps), 100 + p)
                .unwrap();
        }
        // The first full run is written before the rest is queued.
        assert_eq!(
            pager.file().len().unwrap(),
            (100 + RUN_BYTES as u64 / ps as u64) * ps as u64
        );
        w.finish().unwrap();
        assert_eq!(pager.file().len().unwrap(), (100 + pages) * ps as u64);
    }

    #[test]
    fn an_abandoned_writer_caches_nothing_it_did_not_write() {
        let ps = 1024;
        let pager = Pager::in_memory(ps);
        let mut w = PageWriter::new(&pager);
        let at = w.write_node(&leaf(b"k", 40, ps), 40).unwrap();
        drop(w);
        assert!(pager.load(at).is_err(), "never written, never cached");
    }
}
