//! B+ tree nodes as page buffers (FORMAT.md §1.4, §1.5).
//!
//! A [`Node`] *is* its page: a verified page read from disk is kept as its
//! bytes and searched in place ([`Node::search`], [`Node::child_index`]);
//! a node changed by a write transaction is a private copy of such a buffer
//! (one copy, then edited in place by [`edit`]). Only [`layout`] knows where
//! the bytes are; this module and [`edit`] give the rest of the engine
//! entries by index.
//!
//! In memory, two things cannot be bytes yet: a child changed since the
//! last checkpoint (an `Arc<Node>`) and a large value not yet written to an
//! overflow run. Both live in the node's *side table*, and the page holds
//! their index in it (FORMAT.md never sees them: [`verify`] rejects both
//! markers in a page read from disk, and a checkpoint replaces them by
//! references before it writes a page).
//!
//! A [`Child`] is either a page on disk (its reference, checksum included)
//! or a node changed since the last checkpoint. Committed versions share
//! unchanged nodes through `Arc`, so a snapshot is a set of roots.

pub mod edit;
pub mod layout;
pub mod verify;

use std::cmp::Ordering;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::buf::PageBuf;
use super::PageRef;
use crate::Result;

pub use edit::{fits, Item, OldValue, ValueSrc};

/// A child of a branch, or the root of a tree.
#[derive(Clone, Debug)]
pub enum Child {
    /// A node on disk.
    Disk(PageRef),
    /// A node changed since the last checkpoint.
    Mem(Arc<Node>),
}

impl Child {
    /// The child as seen through a borrow.
    #[inline]
    pub fn as_at(&self) -> ChildAt<'_> {
        match self {
            Child::Disk(r) => ChildAt::Disk(*r),
            Child::Mem(n) => ChildAt::Mem(n),
        }
    }

    /// Its reference, if it is on disk.
    pub fn disk_ref(&self) -> Option<PageRef> {
        match self {
            Child::Disk(r) => Some(*r),
            Child::Mem(_) => None,
        }
    }

    /// The page it is on, if it is on disk.
    pub fn disk_page(&self) -> Option<u64> {
        match self {
            Child::Disk(r) => Some(r.page),
            Child::Mem(_) => None,
        }
    }
}

/// A child as seen through its parent: on disk, or borrowed from the
/// parent's side table.
#[derive(Clone, Copy, Debug)]
pub enum ChildAt<'a> {
    /// A page on disk.
    Disk(PageRef),
    /// An in-memory node.
    Mem(&'a Arc<Node>),
}

impl ChildAt<'_> {
    /// An owned handle to the same child.
    pub fn to_child(self) -> Child {
        match self {
            ChildAt::Disk(r) => Child::Disk(r),
            ChildAt::Mem(n) => Child::Mem(n.clone()),
        }
    }
}

/// A leaf value as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueAt<'a> {
    /// A small value, in the page.
    Inline(&'a [u8]),
    /// A large value in an overflow run.
    Overflow {
        /// Where the run is and its checksum.
        at: PageRef,
        /// Value length in bytes.
        len: u32,
    },
    /// A large value not yet written to an overflow run (in memory until
    /// the next checkpoint).
    Pending(&'a [u8]),
}

impl ValueAt<'_> {
    #[cfg(any(test, feature = "internals"))]
    /// The value's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            ValueAt::Inline(v) | ValueAt::Pending(v) => v.len(),
            ValueAt::Overflow { len, .. } => *len as usize,
        }
    }

    #[cfg(any(test, feature = "internals"))]
    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a side-table entry holds.
#[derive(Clone, Debug)]
pub(crate) enum Side {
    /// Unused (its child or value was removed).
    Free,
    /// An in-memory child of a branch.
    Child(Arc<Node>),
    /// A leaf value waiting for its overflow run.
    Big(Arc<[u8]>),
}

/// A B+ tree node: a page buffer plus its side table.
pub struct Node {
    /// The page bytes (exactly one page).
    buf: PageBuf,
    /// In-memory children and pending values, indexed from the page.
    side: Vec<Side>,
    /// Bytes of dead entries inside `data_start..P` (in-memory nodes only;
    /// a page from disk is canonical and has none).
    garbage: u32,
    /// For a verified page read from (or written to) disk: the checksum
    /// its parent holds. Zero for an in-memory node.
    checksum: u64,
    /// CLOCK bit of the page cache.
    referenced: AtomicBool,
    /// Filled to a fill factor the user chose (a sorted load): the
    /// checkpoint writes it as it is instead of repacking it.
    keep_fill: bool,
}

impl Clone for Node {
    /// A private copy (for a write transaction): the same entries, no
    /// longer the identity of a page on disk.
    fn clone(&self) -> Node {
        Node {
            buf: self.buf.clone(),
            side: self.side.clone(),
            garbage: self.garbage,
            checksum: 0,
            referenced: AtomicBool::new(false),
            keep_fill: self.keep_fill,
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for i in 0..self.len() {
            if self.is_leaf() {
                l.entry(&(self.key(i), self.value(i)));
            } else {
                l.entry(&(self.key(i), self.child(i)));
            }
        }
        l.finish()
    }
}

impl PartialEq for Node {
    /// Same kind and the same entries (in-memory children compared by
    /// content, pending values by bytes).
    fn eq(&self, other: &Node) -> bool {
        if self.is_leaf() != other.is_leaf() || self.len() != other.len() {
            return false;
        }
        (0..self.len()).all(|i| {
            self.key(i) == other.key(i)
                && if self.is_leaf() {
                    self.value(i) == other.value(i)
                } else {
                    match (self.child(i), other.child(i)) {
                        (ChildAt::Disk(a), ChildAt::Disk(b)) => a == b,
                        (ChildAt::Mem(a), ChildAt::Mem(b)) => a == b,
                        _ => false,
                    }
                }
        })
    }
}
impl Eq for Node {}

impl Node {
    /// A node over `buf`, which must already be a valid page (verified, or
    /// built by [`edit`]).
    pub(crate) fn from_parts(buf: PageBuf, side: Vec<Side>, garbage: u32, checksum: u64) -> Node {
        Node {
            buf,
            side,
            garbage,
            checksum,
            referenced: AtomicBool::new(false),
            keep_fill: false,
        }
    }

    /// Marks an in-memory node as filled to a chosen fill factor, which
    /// the checkpoint keeps (no repacking).
    pub fn keep_fill(mut self) -> Node {
        self.keep_fill = true;
        self
    }

    /// Whether the checkpoint must keep this node's fill.
    pub fn keeps_fill(&self) -> bool {
        self.keep_fill
    }

    /// A page read from disk, whose bytes the caller has checked against
    /// the reference `at`: verified (FORMAT.md §1.4) and kept as it is.
    pub fn from_verified_page(buf: impl Into<PageBuf>, at: PageRef) -> Result<Node> {
        let buf = buf.into();
        verify::verify(&buf, at.page)?;
        Ok(Node::from_parts(buf, Vec::new(), 0, at.checksum))
    }

    /// A page that was checked with [`verify::verify`] before it was
    /// written (the pair of the check after reading: see
    /// [`crate::pager::PageWriter::write_node`]), kept without checking it again.
    pub(crate) fn from_checked_page(buf: impl Into<PageBuf>, at: PageRef) -> Node {
        let buf = buf.into();
        debug_assert!(
            verify::verify(&buf, at.page).is_ok(),
            "a page is checked before it is written"
        );
        Node::from_parts(buf, Vec::new(), 0, at.checksum)
    }

    /// Whether this leaf's bytes are already the canonical page for its
    /// entries (a leaf built or repacked since it was last edited in
    /// place, with no value pending in memory).
    pub fn is_packed_leaf(&self) -> bool {
        layout::is_packed_leaf(&self.buf)
    }

    /// The page a checkpoint writes for this leaf, which
    /// [`Node::is_packed_leaf`], as page `page` of checkpoint `checkpoint`:
    /// its bytes with the header's identity set.
    pub fn packed_leaf_page(&self, page: u64, checkpoint: u64) -> Box<[u8]> {
        debug_assert!(self.is_packed_leaf());
        let mut b = Box::<[u8]>::from(&*self.buf);
        layout::set_identity(&mut b, page, checkpoint);
        b
    }

    #[cfg(any(test, feature = "internals"))]
    /// Decodes page `page` from `bytes` (verified; its checksum becomes the
    /// node's identity).
    pub fn decode(bytes: &[u8], page: u64) -> Result<Node> {
        let at = PageRef {
            page,
            checksum: crate::checksum::checksum(bytes),
        };
        Node::from_verified_page(Box::<[u8]>::from(bytes), at)
    }

    #[cfg(any(test, feature = "internals"))]
    /// Encodes a node whose children and values are all on disk as page
    /// `page` written by checkpoint `checkpoint` (canonical: the same
    /// entries always give the same bytes).
    pub fn encode(&self, page: u64, checkpoint: u64) -> Box<[u8]> {
        edit::encode_page(
            self.is_leaf(),
            &self.items(),
            self.page_size(),
            page,
            checkpoint,
        )
    }

    /// The page bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the bytes are in a frame of the page cache's arena (the
    /// only memory the cache keeps pages in).
    pub fn in_arena(&self) -> bool {
        self.buf.is_frame()
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.buf.len()
    }

    /// Whether this is a leaf.
    pub fn is_leaf(&self) -> bool {
        layout::is_leaf(&self.buf)
    }

    /// Number of entries: keys of a leaf, children of a branch.
    pub fn len(&self) -> usize {
        layout::count(&self.buf)
    }

    /// Whether the node has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(any(test, feature = "internals"))]
    /// For a page read from or written to disk, the checksum its parent
    /// holds; zero for an in-memory node.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// The page number in the header (zero for an in-memory node).
    pub fn page(&self) -> u64 {
        layout::own_page(&self.buf)
    }

    /// Whether this node is the verified page `at`.
    pub fn is_page(&self, at: PageRef) -> bool {
        self.checksum == at.checksum && self.page() == at.page && at.page != 0
    }

    /// The cache's CLOCK bit.
    pub(crate) fn referenced(&self) -> &AtomicBool {
        &self.referenced
    }

    /// Bytes the entries use: header, slots and live entries. A node that
    /// is not the root is rebalanced when this falls below a quarter page.
    pub fn used_bytes(&self) -> usize {
        let n = self.len();
        layout::slots_end(n) + self.buf.len()
            - layout::data_start(&self.buf)
            - self.garbage as usize
    }

    /// Key of entry `i`: a leaf's key, or a branch's separator (empty for
    /// child 0).
    pub fn key(&self, i: usize) -> &[u8] {
        let o = layout::slot(&self.buf, i);
        layout::entry_key(&self.buf, o)
    }

    /// Value of leaf entry `i`.
    pub fn value(&self, i: usize) -> ValueAt<'_> {
        let b = &*self.buf;
        let o = layout::slot(b, i);
        match layout::leaf_value_kind(b, o) {
            layout::VALUE_INLINE => ValueAt::Inline(layout::leaf_payload(b, o)),
            layout::VALUE_OVERFLOW => ValueAt::Overflow {
                at: layout::read_ref(b, layout::leaf_payload_at(b, o)),
                len: layout::leaf_value_len(b, o) as u32,
            },
            _ => {
                let idx = layout::read_ref(b, layout::leaf_payload_at(b, o)).page as usize;
                match &self.side[idx] {
                    Side::Big(v) => ValueAt::Pending(v),
                    other => unreachable!("pending value {idx} points at {other:?}"),
                }
            }
        }
    }

    /// What leaf entry `i` holds, as [`OldValue`] (for freeing what a
    /// replacement drops).
    pub fn old_value(&self, i: usize) -> OldValue {
        match self.value(i) {
            ValueAt::Inline(_) => OldValue::Inline,
            ValueAt::Overflow { at, len } => OldValue::Overflow(at, len),
            ValueAt::Pending(_) => OldValue::Pending,
        }
    }

    /// Where the inline value of leaf entry `i` lies in [`Node::bytes`]
    /// (`None` for a value outside the page).
    pub fn inline_value_span(&self, i: usize) -> Option<(usize, usize)> {
        self.leaf_spans(i).1
    }

    #[cfg(any(test, feature = "internals"))]
    /// Where key `i` lies in [`Node::bytes`].
    pub fn key_span(&self, i: usize) -> (usize, usize) {
        let k = self.key(i);
        let start = k.as_ptr() as usize - self.buf.as_ptr() as usize;
        (start, k.len())
    }

    /// Where the key of leaf entry `i` lies in [`Node::bytes`], and its
    /// value if that is inline: `((start, len), Some((start, len)))`.
    #[inline]
    pub fn leaf_spans(&self, i: usize) -> ((usize, usize), Option<(usize, usize)>) {
        let b = &*self.buf;
        let o = layout::slot(b, i);
        let key = layout::leaf_key(b, o);
        let key_span = (o + layout::LEAF_FIXED, key.len());
        let value = (layout::leaf_value_kind(b, o) == layout::VALUE_INLINE)
            .then(|| (key_span.0 + key_span.1, layout::leaf_value_len(b, o)));
        (key_span, value)
    }

    /// Starts loading the bytes a forward walk from leaf entry `i` reads
    /// next: up to `ahead` bytes of entries from entry `i` on (a page read
    /// from the file holds its entries in slot order).
    #[inline]
    pub fn prefetch_from(&self, i: usize, ahead: usize) {
        let b = &*self.buf;
        if i < self.len() {
            let o = layout::slot(b, i);
            let len = ahead.min(b.len() - o);
            crate::prefetch::lines(b.as_ptr() as usize + o, len);
        }
    }

    /// Where the header and slot directory lie in memory (address, bytes):
    /// what a search reads before it reads any entry.
    pub fn directory_span(&self) -> (usize, usize) {
        (self.buf.as_ptr() as usize, layout::slots_end(self.len()))
    }

    /// The pending value of leaf entry `i` as a shared handle, if it is one.
    pub fn pending_value(&self, i: usize) -> Option<&Arc<[u8]>> {
        let b = &*self.buf;
        let o = layout::slot(b, i);
        if layout::leaf_value_kind(b, o) != layout::VALUE_PENDING {
            return None;
        }
        let idx = layout::read_ref(b, layout::leaf_payload_at(b, o)).page as usize;
        match &self.side[idx] {
            Side::Big(v) => Some(v),
            _ => None,
        }
    }

    /// Child `i` of a branch.
    pub fn child(&self, i: usize) -> ChildAt<'_> {
        let b = &*self.buf;
        let o = layout::slot(b, i);
        let r = layout::read_ref(b, layout::branch_ref_at(b, o));
        if r.page == layout::MEM_CHILD_PAGE {
            match &self.side[r.checksum as usize] {
                Side::Child(n) => ChildAt::Mem(n),
                other => unreachable!("in-memory child {} points at {other:?}", r.checksum),
            }
        } else {
            ChildAt::Disk(r)
        }
    }

    /// Child `i` of a branch if there is one and it is on disk.
    pub fn disk_child(&self, i: usize) -> Option<PageRef> {
        if i >= self.len() {
            return None;
        }
        match self.child(i) {
            ChildAt::Disk(r) => Some(r),
            ChildAt::Mem(_) => None,
        }
    }

    /// Checks the order and shape of an in-memory node (a page from disk
    /// passed the stricter [`verify::verify`]): keys strictly increasing, a
    /// branch with at least two children and no separator in front of the
    /// first.
    pub fn check_shape(&self) -> std::result::Result<(), String> {
        let n = self.len();
        let first = if self.is_leaf() {
            0
        } else {
            if n < 2 {
                return Err(format!("branch with {n} children"));
            }
            if !self.key(0).is_empty() {
                return Err("separator in front of a branch's first child".into());
            }
            1
        };
        if (first + 1..n).any(|i| self.key(i - 1) >= self.key(i)) {
            return Err("keys out of order".into());
        }
        if self.used_bytes() > self.page_size() {
            return Err("node larger than a page".into());
        }
        Ok(())
    }

    /// Binary search of a leaf for `key`: `Ok(i)` if entry `i` has it,
    /// `Err(i)` where it would be inserted. Compares the slots' key heads
    /// and reads an entry's key only when its head equals `key`'s.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<usize, usize> {
        let b = &*self.buf;
        let h = layout::key_head(key);
        let (mut lo, mut hi) = (0, layout::count(b));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = match layout::head(b, mid).cmp(&h) {
                Ordering::Equal => layout::cmp_keys(layout::leaf_key(b, layout::slot(b, mid)), key),
                o => o,
            };
            match ord {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// First entry of a leaf whose key is `>= key` (`> key` if `strict`).
    pub fn lower_bound(&self, key: &[u8], strict: bool) -> usize {
        match self.search(key) {
            Ok(i) if strict => i + 1,
            Ok(i) | Err(i) => i,
        }
    }

    /// Index of the child of a branch that may hold `key`: the last child
    /// whose separator is `<= key` (heads first, as in [`Node::search`]).
    #[inline]
    pub fn child_index(&self, key: &[u8]) -> usize {
        let b = &*self.buf;
        let h = layout::key_head(key);
        let (mut lo, mut hi) = (1, layout::count(b));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let le = match layout::head(b, mid).cmp(&h) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    layout::cmp_keys(layout::branch_key(b, layout::slot(b, mid)), key)
                        != Ordering::Greater
                }
            };
            if le {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo - 1
    }
}

#[cfg(test)]
mod tests;
