//! The page allocator: which pages are in use, which are free, and which
//! were freed but may still be read by a live snapshot (FORMAT.md §1.8, §5).
//!
//! Two bitmaps are kept in memory. `in_use` is exactly what the on-disk
//! bitmap pages say for the checkpoint being built; `blocked` is `in_use`
//! plus the pages freed by recent checkpoints that some snapshot may still
//! reach. Allocation takes pages that are not blocked. A checkpoint rewrites
//! (copy-on-write) only the bitmap pages that changed, so its cost grows with
//! the pages it allocates and frees, never with the number of free pages.

use std::collections::BTreeSet;

use crate::page::alloc_pages::{self, bits_per_bitmap, refs_per_index};
use crate::page::slot::MAX_INDEX_REFS;
use crate::page::PageRef;
use crate::pager::Pager;
use crate::{Error, Result};

/// Pages at the start of the file that are always in use (header, slots).
pub use crate::page::slot::RESERVED_PAGES;

/// The allocator state.
#[derive(Clone, Debug)]
pub struct Allocator {
    page_size: usize,
    page_count: u64,
    in_use: Vec<u64>,
    blocked: Vec<u64>,
    /// `(freed by checkpoint, first page, pages)`.
    pending: Vec<(u64, u64, u64)>,
    bitmap_refs: Vec<Option<PageRef>>,
    index_refs: Vec<PageRef>,
    dirty: BTreeSet<usize>,
    hint: u64,
    /// Pages blocked until this session's first checkpoint is durable.
    unconfirmed: Vec<u64>,
}

fn get(bits: &[u64], p: u64) -> bool {
    bits.get((p / 64) as usize)
        .is_some_and(|w| w & (1 << (p % 64)) != 0)
}

fn set(bits: &mut Vec<u64>, p: u64, v: bool) {
    let w = (p / 64) as usize;
    if bits.len() <= w {
        bits.resize(w + 1, 0);
    }
    if v {
        bits[w] |= 1 << (p % 64);
    } else {
        bits[w] &= !(1 << (p % 64));
    }
}

impl Allocator {
    /// The allocator of a new, empty file.
    pub fn new(page_size: usize) -> Allocator {
        let mut a = Allocator {
            page_size,
            page_count: RESERVED_PAGES,
            in_use: Vec::new(),
            blocked: Vec::new(),
            pending: Vec::new(),
            bitmap_refs: Vec::new(),
            index_refs: Vec::new(),
            dirty: BTreeSet::new(),
            hint: RESERVED_PAGES,
            unconfirmed: Vec::new(),
        };
        for p in 0..RESERVED_PAGES {
            a.mark(p, true);
        }
        a
    }

    /// Loads the allocator of a checkpoint, verifying every page read.
    pub fn load(
        pager: &Pager,
        page_size: usize,
        page_count: u64,
        index_refs: &[PageRef],
    ) -> Result<Allocator> {
        let per_bitmap = bits_per_bitmap(page_size);
        let words_per_bitmap = (per_bitmap / 64) as usize;
        let expected = page_count.div_ceil(per_bitmap) as usize;
        let mut bitmap_refs = Vec::new();
        for r in index_refs {
            let bytes = pager.read_verified(*r, 1)?;
            bitmap_refs.extend(alloc_pages::decode_index(&bytes, r.page)?);
        }
        if bitmap_refs.len() != expected {
            return Err(Error::corrupt(
                index_refs.first().map_or(0, |r| r.page),
                format!("{} bitmap pages for {page_count} pages", bitmap_refs.len()),
            ));
        }
        let mut in_use = Vec::with_capacity(expected * words_per_bitmap);
        for r in &bitmap_refs {
            if !(RESERVED_PAGES..page_count).contains(&r.page) {
                return Err(Error::corrupt(r.page, "bitmap page out of range"));
            }
            let bytes = pager.read_verified(*r, 1)?;
            let mut words = alloc_pages::decode_bitmap(&bytes, r.page)?;
            words.resize(words_per_bitmap, 0);
            in_use.extend(words);
        }
        in_use.resize(page_count.div_ceil(64) as usize, 0);
        let a = Allocator {
            page_size,
            page_count,
            blocked: in_use.clone(),
            in_use,
            pending: Vec::new(),
            bitmap_refs: bitmap_refs.into_iter().map(Some).collect(),
            index_refs: index_refs.to_vec(),
            dirty: BTreeSet::new(),
            hint: RESERVED_PAGES,
            unconfirmed: Vec::new(),
        };
        if (0..RESERVED_PAGES).any(|p| !a.is_in_use(p)) {
            return Err(Error::corrupt(0, "reserved pages marked free"));
        }
        // Bits past the page count would describe pages that do not exist.
        let tail_start = page_count;
        let tail_end = a.in_use.len() as u64 * 64;
        if (tail_start..tail_end).any(|p| a.is_in_use(p)) {
            return Err(Error::corrupt(0, "allocator marks pages beyond the file"));
        }
        Ok(a)
    }

    /// The logical file size in pages.
    pub fn page_count(&self) -> u64 {
        self.page_count
    }

    /// The allocator index page references (for the slot).
    pub fn index_refs(&self) -> &[PageRef] {
        &self.index_refs
    }

    /// Every allocator page (index and bitmap) in use now.
    pub fn own_pages(&self) -> Vec<u64> {
        self.index_refs
            .iter()
            .map(|r| r.page)
            .chain(self.bitmap_refs.iter().flatten().map(|r| r.page))
            .collect()
    }

    /// Whether page `p` is in use by the checkpoint being built.
    pub fn is_in_use(&self, p: u64) -> bool {
        get(&self.in_use, p)
    }

    fn mark(&mut self, p: u64, used: bool) {
        set(&mut self.in_use, p, used);
        if used {
            set(&mut self.blocked, p, true);
        }
        self.dirty
            .insert((p / bits_per_bitmap(self.page_size)) as usize);
    }

    fn grow(&mut self, at_least: u64) -> Result<()> {
        let max_chunk = (16u64 << 20) / self.page_size as u64;
        let grow = (self.page_count / 8).clamp(16, max_chunk).max(at_least);
        let new_count = self.page_count + grow;
        if new_count > crate::Limits::for_page_size(self.page_size).max_file_pages {
            return Err(Error::FileTooLarge);
        }
        self.page_count = new_count;
        Ok(())
    }

    /// Gives back the growth slack at the end of the file: lowers the page
    /// count to just past the last page that is in use or may still be read
    /// (blocked), keeping the number of bitmap pages. Growth adds an eighth
    /// of the file at a time so that allocations stay cheap; without this,
    /// up to that eighth would stay in the file as free pages. Called once
    /// a checkpoint has allocated everything, before the file's length is
    /// set.
    pub fn trim_tail(&mut self) {
        let last_blocked = self
            .blocked
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)
            .map_or(0, |(i, w)| {
                i as u64 * 64 + 63 - u64::from(w.leading_zeros())
            });
        let per_bitmap = bits_per_bitmap(self.page_size);
        let bitmaps = self.page_count.div_ceil(per_bitmap);
        let keeps_bitmaps = (bitmaps.saturating_sub(1)) * per_bitmap + 1;
        let count = (last_blocked + 1)
            .max(keeps_bitmaps)
            .max(RESERVED_PAGES)
            .min(self.page_count);
        debug_assert!((count..self.page_count).all(|p| !get(&self.blocked, p)));
        self.page_count = count;
        self.hint = self.hint.min(count);
    }

    /// Allocates `n` consecutive pages that are neither in use nor possibly
    /// visible to a snapshot, growing the file if there are none.
    pub fn allocate(&mut self, n: u64) -> Result<u64> {
        assert!(n >= 1);
        crate::failpoint::hit("alloc::allocate")?;
        loop {
            if let Some(p) = self.find_run(n) {
                for q in p..p + n {
                    debug_assert!(!get(&self.blocked, q));
                    self.mark(q, true);
                }
                self.hint = p + n;
                return Ok(p);
            }
            self.grow(n)?;
        }
    }

    fn find_run(&self, n: u64) -> Option<u64> {
        let search = |from: u64, to: u64| -> Option<u64> {
            let mut run = 0;
            let mut p = from;
            while p < to {
                // Skip whole blocked words quickly.
                if p.is_multiple_of(64) && run == 0 {
                    if let Some(&w) = self.blocked.get((p / 64) as usize) {
                        if w == u64::MAX {
                            p += 64;
                            continue;
                        }
                    }
                }
                if get(&self.blocked, p) {
                    run = 0;
                } else {
                    run += 1;
                    if run == n {
                        return Some(p + 1 - n);
                    }
                }
                p += 1;
            }
            None
        };
        let hint = self.hint.clamp(RESERVED_PAGES, self.page_count);
        search(hint, self.page_count).or_else(|| search(RESERVED_PAGES, self.page_count))
    }

    /// Marks `n` pages from `first` as no longer in use by the checkpoint
    /// being built (`checkpoint`); they stay blocked until
    /// [`Allocator::release`] says no snapshot can reach them.
    ///
    /// The run comes from a reference in the file (a crafted one may name a
    /// page near `u64::MAX` or a run past the page count): the whole run is
    /// checked before any page is marked, so an error changes nothing.
    pub fn free(&mut self, first: u64, n: u64, checkpoint: u64) -> Result<()> {
        let end = first
            .checked_add(n)
            .filter(|&end| first >= RESERVED_PAGES && end <= self.page_count)
            .ok_or_else(|| Error::corrupt(first, "page freed twice or never allocated"))?;
        if let Some(p) = (first..end).find(|&p| !self.is_in_use(p)) {
            return Err(Error::corrupt(p, "page freed twice or never allocated"));
        }
        for p in first..end {
            self.mark(p, false);
        }
        self.pending.push((checkpoint, first, n));
        Ok(())
    }

    /// Gives back `n` pages from `first` that [`Allocator::allocate`]
    /// handed out since the last checkpoint and that nothing durable and no
    /// snapshot can reach (an open transaction's spilled pages, FORMAT.md
    /// §3 Spill): they are free again at once.
    pub fn unallocate(&mut self, first: u64, n: u64) {
        for p in first..first + n {
            debug_assert!(
                p >= RESERVED_PAGES && p < self.page_count && self.is_in_use(p),
                "page {p} given back but not allocated"
            );
            self.mark(p, false);
            set(&mut self.blocked, p, false);
        }
        self.hint = self.hint.min(first);
    }

    /// Unblocks pages freed by checkpoints `<= oldest_snapshot_base`
    /// (every live snapshot was taken at or after that checkpoint), or all
    /// pending pages when `None` (no snapshot is live).
    pub fn release(&mut self, oldest_snapshot_base: Option<u64>) {
        let blocked = &mut self.blocked;
        self.pending.retain(|&(by, first, n)| {
            let free = oldest_snapshot_base.is_none_or(|base| by <= base);
            if free {
                for p in first..first + n {
                    set(blocked, p, false);
                }
            }
            !free
        });
    }

    /// Keeps `pages` (free) from being allocated until [`Allocator::confirm`].
    pub fn block_until_confirmed(&mut self, pages: Vec<u64>) {
        for &p in &pages {
            debug_assert!(!self.is_in_use(p));
            set(&mut self.blocked, p, true);
        }
        self.unconfirmed = pages;
    }

    /// A checkpoint of this session is durable: unblock the pages held by
    /// [`Allocator::block_until_confirmed`].
    pub fn confirm(&mut self) {
        for p in std::mem::take(&mut self.unconfirmed) {
            if !self.is_in_use(p) {
                set(&mut self.blocked, p, false);
            }
        }
    }

    /// Pages freed but still blocked by snapshots.
    pub fn pending_pages(&self) -> u64 {
        self.pending.iter().map(|p| p.2).sum()
    }

    /// Free pages (not in use) below the page count.
    pub fn free_pages(&self) -> u64 {
        let used: u64 = self.in_use.iter().map(|w| w.count_ones() as u64).sum();
        self.page_count - used
    }

    /// Writes the changed bitmap pages and the index pages above them to new
    /// locations (copy-on-write), freeing the old locations.
    pub fn persist(&mut self, pager: &Pager, checkpoint: u64) -> Result<()> {
        crate::failpoint::hit("alloc::persist")?;
        let per_bitmap = bits_per_bitmap(self.page_size);
        let per_index = refs_per_index(self.page_size);
        let mut new_bitmaps: BTreeSet<usize> = BTreeSet::new();
        let mut new_index: BTreeSet<usize> = BTreeSet::new();
        loop {
            let nb = self.page_count.div_ceil(per_bitmap) as usize;
            while self.bitmap_refs.len() < nb {
                self.dirty.insert(self.bitmap_refs.len());
                self.bitmap_refs.push(None);
            }
            let ni = nb.div_ceil(per_index);
            if ni > MAX_INDEX_REFS {
                return Err(Error::FileTooLarge);
            }
            let todo: Vec<usize> = self
                .dirty
                .iter()
                .copied()
                .filter(|j| *j < nb && !new_bitmaps.contains(j))
                .collect();
            let index_todo: Vec<usize> = (0..ni)
                .filter(|i| {
                    !new_index.contains(i)
                        && (*i >= self.index_refs.len()
                            || new_bitmaps.iter().chain(&todo).any(|j| j / per_index == *i))
                })
                .collect();
            if todo.is_empty() && index_todo.is_empty() {
                break;
            }
            for j in todo {
                let at = self.allocate(1)?;
                if let Some(old) = self.bitmap_refs[j] {
                    self.free(old.page, 1, checkpoint)?;
                }
                self.bitmap_refs[j] = Some(PageRef {
                    page: at,
                    checksum: 0,
                });
                new_bitmaps.insert(j);
            }
            for i in index_todo {
                let at = self.allocate(1)?;
                if let Some(old) = self.index_refs.get(i).copied() {
                    self.free(old.page, 1, checkpoint)?;
                    self.index_refs[i].page = at;
                } else {
                    self.index_refs.push(PageRef {
                        page: at,
                        checksum: 0,
                    });
                }
                new_index.insert(i);
            }
        }
        let words_per_bitmap = (per_bitmap / 64) as usize;
        for &j in &new_bitmaps {
            let r = self.bitmap_refs[j]
                .as_mut()
                .expect("relocated bitmap has a location");
            let from = j * words_per_bitmap;
            let mut words: Vec<u64> = self.in_use.get(from..).unwrap_or(&[]).to_vec();
            words.resize(words_per_bitmap, 0);
            let bytes = alloc_pages::encode_bitmap(&words, r.page, checkpoint, self.page_size);
            r.checksum = crate::checksum::checksum(&bytes);
            pager.write_pages(r.page, &bytes)?;
        }
        for &i in &new_index {
            let refs: Vec<PageRef> = self.bitmap_refs[i * per_index..]
                .iter()
                .take(per_index)
                .map(|r| r.expect("every bitmap has a location"))
                .collect();
            let at = self.index_refs[i].page;
            let bytes = alloc_pages::encode_index(&refs, at, checkpoint, self.page_size);
            self.index_refs[i].checksum = crate::checksum::checksum(&bytes);
            pager.write_pages(at, &bytes)?;
        }
        self.dirty.clear();
        Ok(())
    }
}

impl crate::btree::flush::PageSource for Allocator {
    fn alloc_pages(&mut self, pages: u64) -> Result<u64> {
        self.allocate(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freeing_a_page_not_in_use_is_corruption() {
        let mut a = Allocator::new(4096);
        let p = a.allocate(2).unwrap();
        a.free(p, 1, 2).unwrap();
        assert!(!a.is_in_use(p) && a.is_in_use(p + 1));
        assert!(a.free(p, 1, 2).is_err(), "a page freed twice");
        assert!(a.free(p + 2, 1, 2).is_err(), "a page never allocated");
        assert!(a.free(RESERVED_PAGES - 1, 1, 2).is_err(), "a slot page");
        assert!(a.free(a.page_count, 1, 2).is_err(), "a page past the end");
        assert!(a.is_in_use(p + 1), "the failed frees changed nothing else");
    }

    #[test]
    fn trimming_gives_back_the_growth_slack_but_no_page_in_use_or_blocked() {
        let mut a = Allocator::new(1024);
        let pages: Vec<u64> = (0..200).map(|_| a.allocate(1).unwrap()).collect();
        assert!(a.page_count() > 200 + RESERVED_PAGES, "grown with slack");
        let last = *pages.last().unwrap();
        // A freed page near the end stays blocked (a snapshot may read it).
        a.free(last, 1, 2).unwrap();
        a.trim_tail();
        assert_eq!(a.page_count(), last + 1, "the blocked page is kept");
        a.release(None);
        a.trim_tail();
        assert_eq!(a.page_count(), last, "released: trimmed too");
        assert_eq!(a.free_pages(), 0);
        // The next allocation grows the file again.
        assert_eq!(a.allocate(1).unwrap(), last);
    }

    #[test]
    fn trimming_never_drops_a_bitmap_page() {
        // Two bitmap pages' worth of pages, only the first 5,000 in use:
        // the count stops one page into the second bitmap, whose page the
        // checkpoint has already written (a slot's bitmap count must match
        // its page count).
        let per = bits_per_bitmap(1024);
        let mut a = Allocator::new(1024);
        a.page_count = per + 100;
        let words = (a.page_count as usize).div_ceil(64);
        a.in_use = vec![0; words];
        for p in 0..5_000 {
            set(&mut a.in_use, p, true);
        }
        a.blocked = a.in_use.clone();
        a.trim_tail();
        assert_eq!(a.page_count(), per + 1);
        assert_eq!(a.page_count().div_ceil(per), 2);
    }

    #[test]
    fn growth_is_capped_at_16_mib_per_step() {
        // A file of 2M pages (8 GiB) with every page in use: growing by an
        // eighth would add 1 GiB at once; the step is capped at 16 MiB.
        let mut a = Allocator::new(4096);
        a.page_count = 2_000_000;
        let words = (a.page_count as usize).div_ceil(64);
        a.in_use = vec![u64::MAX; words];
        a.blocked = a.in_use.clone();
        let before = a.page_count;
        let p = a.allocate(1).unwrap();
        assert!(p >= before, "no free page, so the file grew");
        assert_eq!(a.page_count - before, (16 << 20) / 4096);
        // A small file grows by at least 16 pages.
        let mut b = Allocator::new(4096);
        b.allocate(1).unwrap();
        assert_eq!(b.page_count, RESERVED_PAGES + 16);
    }

    #[test]
    fn persist_rewrites_the_index_when_only_a_later_bitmap_changed() {
        let ps = 1024;
        let per_bitmap = bits_per_bitmap(ps);
        let pager = Pager::in_memory(ps);
        // Three bitmap pages under one index page. The pages the first two
        // cover are all in use, so the allocator's own pages land in the
        // third.
        let mut a = Allocator::new(ps);
        a.page_count = 3 * per_bitmap;
        a.in_use = vec![u64::MAX; (2 * per_bitmap / 64) as usize];
        a.in_use.resize(a.page_count.div_ceil(64) as usize, 0);
        a.blocked = a.in_use.clone();
        a.dirty = (0..3).collect();
        a.persist(&pager, 1).unwrap();
        // Free a page of the second bitmap only: the first is unchanged.
        let p = per_bitmap + 10;
        a.free(p, 1, 2).unwrap();
        assert!(!a.dirty.contains(&0));
        a.persist(&pager, 2).unwrap();
        let loaded = Allocator::load(&pager, ps, a.page_count, a.index_refs()).unwrap();
        assert!(!loaded.is_in_use(p), "the reloaded allocator lost the free");
        assert!(loaded.in_use == a.in_use);
        assert_eq!(loaded.own_pages(), a.own_pages());
    }

    #[test]
    fn the_file_grows_up_to_its_documented_maximum_and_no_further() {
        let ps = 1024;
        let max = crate::Limits::for_page_size(ps).max_file_pages;
        // FORMAT.md §1.8: 32 index pages of (P-24)/16 bitmap references,
        // each bitmap page covering (P-24)*8 pages.
        let p = ps as u64 - 24;
        assert_eq!(max, 32 * (p / 16) * (p * 8));
        // Every page in use, one growth step (16 MiB) below the maximum.
        let step = (16 << 20) / ps as u64;
        let mut a = Allocator::new(ps);
        a.page_count = max - step;
        a.in_use = vec![u64::MAX; a.page_count.div_ceil(64) as usize];
        for q in a.page_count..a.in_use.len() as u64 * 64 {
            set(&mut a.in_use, q, false);
        }
        a.blocked = a.in_use.clone();
        assert_eq!(a.allocate(1).unwrap(), max - step);
        assert_eq!(a.page_count(), max, "grew to exactly the maximum");
        assert!(matches!(a.allocate(step), Err(Error::FileTooLarge)));
        assert_eq!(a.page_count(), max);
        // One page more would need a 33rd index page.
        let mut b = Allocator::new(ps);
        b.page_count = max + 1;
        let r = b.persist(&Pager::in_memory(ps), 1);
        assert!(matches!(r, Err(Error::FileTooLarge)), "{r:?}");
    }

    #[test]
    fn freed_pages_wait_for_release() {
        let mut a = Allocator::new(1024);
        let p = a.allocate(1).unwrap();
        let q = a.allocate(3).unwrap();
        assert!(p >= RESERVED_PAGES && q > p);
        a.free(p, 1, 5).unwrap();
        assert!(!a.is_in_use(p));
        let r = a.allocate(1).unwrap();
        assert_ne!(r, p, "a pending page is not reused");
        a.release(Some(4));
        assert_ne!(a.allocate(1).unwrap(), p, "an older snapshot still pins it");
        a.release(Some(5));
        a.hint = 0;
        assert_eq!(a.allocate(1).unwrap(), p);
        assert!(a.free(p + 1000, 1, 6).is_err());
    }

    #[test]
    fn pages_given_back_are_reused_at_once_and_leave_no_bit_set() {
        let mut a = Allocator::new(1024);
        let p = a.allocate(3).unwrap();
        let q = a.allocate(1).unwrap();
        a.unallocate(p, 3);
        assert!((p..p + 3).all(|x| !a.is_in_use(x)));
        assert!(a.is_in_use(q));
        assert_eq!(
            a.allocate(2).unwrap(),
            p,
            "given-back pages need no release"
        );
        a.unallocate(p, 2);
        a.unallocate(q, 1);
        assert_eq!(
            a.free_pages(),
            a.page_count() - RESERVED_PAGES,
            "nothing stays in use"
        );
        assert_eq!(a.pending_pages(), 0);
    }
}
