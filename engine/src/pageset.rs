//! Sets of page numbers whose memory is bounded by the file's size: one bit
//! per page of the file at most, never one hash-table entry per page of a
//! large file (issue 13: `check` and whole-tree walks on a file of many
//! gigabytes).

use std::collections::HashSet;

/// Set pages listed in a sparse [`PageSet`] before it becomes a bitmap, per
/// page of its bound. At 1/256 a hash set of `u64` (9 bytes a bucket, at
/// most about 2.3 buckets an entry right after it grows) stays under
/// `bound / 8` bytes, the size of the bitmap that replaces it.
const SPARSE_PER_PAGE: u64 = 256;

/// A set of the page numbers below a fixed bound: one bit per page, so
/// `bound / 8` bytes (rounded up to whole words) whatever is inserted.
///
/// The bound must come from something validated against the file (a page
/// count checked against the file's length, or the length itself), never
/// from an unchecked number read from the file.
#[derive(Clone, Debug)]
pub(crate) struct PageBitmap {
    words: Vec<u64>,
    pages: u64,
}

impl PageBitmap {
    /// An empty set of the pages `0..pages`.
    pub(crate) fn new(pages: u64) -> PageBitmap {
        PageBitmap {
            words: vec![0; pages.div_ceil(64) as usize],
            pages,
        }
    }

    /// The bound: pages `0..pages()` can be stored.
    pub(crate) fn pages(&self) -> u64 {
        self.pages
    }

    /// Adds `p`: `Some(true)` if it was not in the set, `Some(false)` if it
    /// was, `None` if it lies at or past the bound (nothing is stored).
    pub(crate) fn insert(&mut self, p: u64) -> Option<bool> {
        if p >= self.pages {
            return None;
        }
        let (w, bit) = ((p / 64) as usize, 1u64 << (p % 64));
        let new = self.words[w] & bit == 0;
        self.words[w] |= bit;
        Some(new)
    }

    /// Whether `p` is in the set (never, past the bound).
    pub(crate) fn contains(&self, p: u64) -> bool {
        p < self.pages && self.words[(p / 64) as usize] & (1 << (p % 64)) != 0
    }

    /// Bytes of heap memory the set holds.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.capacity() * std::mem::size_of::<u64>()
    }
}

/// A set of page numbers that starts as a hash set (cheap for the few pages
/// of a small tree in a large file) and turns into a [`PageBitmap`] of
/// `bound` pages once it holds more than `bound / 256` of them (or 64, in a
/// small file), so its
/// memory never passes about `bound / 8` bytes (plus the pages at or past
/// the bound, which a walk reads, and fails on, right after inserting).
#[derive(Debug)]
pub(crate) struct PageSet {
    sparse: HashSet<u64>,
    dense: Option<PageBitmap>,
    bound: u64,
}

impl PageSet {
    /// An empty set for the pages of a file of `bound` pages.
    pub(crate) fn new(bound: u64) -> PageSet {
        PageSet {
            sparse: HashSet::new(),
            dense: None,
            bound,
        }
    }

    /// Adds `p`; whether it was not in the set already.
    pub(crate) fn insert(&mut self, p: u64) -> bool {
        if let Some(d) = &mut self.dense {
            if let Some(new) = d.insert(p) {
                return new;
            }
            return self.sparse.insert(p);
        }
        let new = self.sparse.insert(p);
        if self.sparse.len() as u64 > (self.bound / SPARSE_PER_PAGE).max(64) {
            let mut d = PageBitmap::new(self.bound);
            self.sparse.retain(|&q| d.insert(q).is_none());
            self.sparse.shrink_to_fit();
            self.dense = Some(d);
        }
        new
    }

    /// Bytes of heap memory the set holds (the hash table's estimated from
    /// its capacity: a `u64` and a control byte per bucket, 8 buckets per 7
    /// entries).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let sparse = self.sparse.capacity() * 8 / 7 * (std::mem::size_of::<u64>() + 1);
        sparse + self.dense.as_ref().map_or(0, PageBitmap::heap_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bitmap_holds_one_bit_per_page_whatever_is_inserted() {
        let pages = 1 << 20;
        let mut b = PageBitmap::new(pages);
        assert_eq!(b.heap_bytes(), (pages / 8) as usize);
        for p in (0..pages).rev() {
            assert_eq!(b.insert(p), Some(true));
        }
        assert_eq!(b.insert(77), Some(false), "a page inserted twice");
        assert!(b.contains(0) && b.contains(pages - 1));
        assert_eq!(b.insert(pages), None, "past the bound: not stored");
        assert!(!b.contains(pages) && !b.contains(u64::MAX));
        assert_eq!(b.heap_bytes(), (pages / 8) as usize, "never grows");
        assert_eq!(b.pages(), pages);
        // Not a multiple of 64: rounded up to a whole word.
        assert_eq!(PageBitmap::new(65).heap_bytes(), 16);
        assert_eq!(PageBitmap::new(0).heap_bytes(), 0);
    }

    #[test]
    fn a_page_set_stays_within_a_bitmap_of_its_bound() {
        let bound = 1 << 20;
        let mut s = PageSet::new(bound);
        // A small tree in a large file: a few entries, far below bound / 8.
        for p in 0..100 {
            assert!(s.insert(p * 1000));
        }
        assert!(s.dense.is_none());
        assert!(s.heap_bytes() < 4096, "{}", s.heap_bytes());
        // Every page of the file: the set becomes a bitmap.
        let mut peak = 0;
        for p in 0..bound {
            assert_eq!(s.insert(p), p % 1000 != 0 || p >= 100_000, "page {p}");
            peak = peak.max(s.heap_bytes());
        }
        assert!(s.dense.is_some());
        assert!(!s.insert(5), "a page inserted twice");
        // The hash set before the switch and the bitmap after, each at
        // most bound / 8 bytes (the hash set's estimate is generous).
        assert!(peak <= 2 * (bound / 8) as usize, "peak {peak}");
        assert!(s.heap_bytes() <= (bound / 8) as usize + 64);
        // Pages past the bound are kept apart (and still deduplicated).
        assert!(s.insert(bound + 3));
        assert!(!s.insert(bound + 3));
    }
}
