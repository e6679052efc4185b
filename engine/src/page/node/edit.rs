//! Changing a node: building a page from entries, and editing a node that
//! is private to a write transaction in place.
//!
//! A private node is edited like a slotted page: a new entry takes bytes
//! from the gap below the data start and one slot, shifting the slots
//! after it; a removed entry leaves a hole (counted as garbage) that a
//! compaction reclaims when the gap runs out. Every editor either succeeds
//! or reports that the entry does not fit, leaving the node unchanged, so
//! the tree can split instead.

use std::sync::Arc;

use super::layout::{self, SLOT_LEN};
use super::{Child, ChildAt, Node, Side, ValueAt};
use crate::page::buf::PageBuf;
use crate::page::{PageKind, PageRef, HEADER_LEN};

/// A value to store in a leaf entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSrc<'a> {
    /// Stored in the page.
    Inline(&'a [u8]),
    /// Stored in an overflow run: its reference and the value's length.
    Overflow(PageRef, u32),
    /// A large value to be written to an overflow run at the next
    /// checkpoint.
    Pending(Arc<[u8]>),
}

impl ValueSrc<'_> {
    /// Bytes the value takes in the page.
    fn payload_len(&self) -> usize {
        match self {
            ValueSrc::Inline(v) => v.len(),
            ValueSrc::Overflow(..) | ValueSrc::Pending(_) => layout::REF_LEN,
        }
    }
}

/// One entry to build a node from.
#[derive(Clone, Debug)]
pub enum Item<'a> {
    /// A leaf entry.
    Leaf {
        /// Its key.
        key: &'a [u8],
        /// Its value.
        value: ValueSrc<'a>,
    },
    /// A branch entry: the separator in front of a child (empty for the
    /// first child of a branch).
    Branch {
        /// The separator.
        key: &'a [u8],
        /// The child.
        child: Child,
    },
}

impl<'a> Item<'a> {
    /// The entry's key or separator.
    pub fn key(&self) -> &'a [u8] {
        match self {
            Item::Leaf { key, .. } | Item::Branch { key, .. } => key,
        }
    }

    /// Replaces the key or separator.
    pub fn set_key(&mut self, k: &'a [u8]) {
        match self {
            Item::Leaf { key, .. } | Item::Branch { key, .. } => *key = k,
        }
    }

    /// Bytes the entry and its slot take in a page.
    pub fn size(&self) -> usize {
        SLOT_LEN
            + match self {
                Item::Leaf { key, value } => {
                    layout::leaf_entry_size(key.len(), value.payload_len())
                }
                Item::Branch { key, .. } => layout::branch_entry_size(key.len()),
            }
    }
}

/// What a removed or overwritten value was, so that its overflow run can be
/// freed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OldValue {
    /// It was in the page.
    Inline,
    /// It was in this overflow run (value length in bytes).
    Overflow(PageRef, u32),
    /// It was waiting for its overflow run.
    Pending,
}

/// Whether entries of these sizes (slots included) fit in one page.
pub fn fits(total_size: usize, page_size: usize) -> bool {
    HEADER_LEN + total_size <= page_size
}

/// The shortest separator `s` with `left_last < s <= right_first`: a
/// prefix of `right_first` one byte longer than what it shares with
/// `left_last` (FORMAT.md §1.5, suffix truncation).
pub fn separator<'a>(left_last: &[u8], right_first: &'a [u8]) -> &'a [u8] {
    debug_assert!(left_last < right_first);
    let common = left_last
        .iter()
        .zip(right_first)
        .take_while(|(a, b)| a == b)
        .count();
    &right_first[..(common + 1).min(right_first.len())]
}

/// Where to split `items` into two nodes that each fit a page: the index
/// of the first item of the right node, chosen to balance the two sizes.
/// A branch keeps at least two children on each side.
pub fn split_point(items: &[Item<'_>], page_size: usize, leaf: bool) -> usize {
    let min = if leaf { 1 } else { 2 };
    let n = items.len();
    assert!(n >= 2 * min, "a node of {n} entries cannot split");
    let total: usize = items.iter().map(Item::size).sum();
    let mut left = items[..min - 1].iter().map(Item::size).sum::<usize>();
    let mut best: Option<(usize, usize)> = None;
    for k in min..=n - min {
        left += items[k - 1].size();
        // The right node's first entry loses its separator in a branch, so
        // `total - left` is an upper bound of its size.
        let worst = left.max(total - left);
        if fits(left, page_size)
            && fits(total - left, page_size)
            && best.is_none_or(|(_, w)| worst < w)
        {
            best = Some((k, worst));
        }
    }
    best.expect("two entries always fit in a page (FORMAT.md §1.4)")
        .0
}

/// Writes `items` as a canonical page (FORMAT.md §1.4) into `buf`, a
/// zeroed page. In-memory children and pending values go to `side`, or
/// must not occur when `side` is `None` (a page about to be written to
/// disk).
fn write_page(
    buf: &mut [u8],
    leaf: bool,
    items: &[Item<'_>],
    page: u64,
    checkpoint: u64,
    mut side: Option<&mut Vec<Side>>,
) {
    let page_size = buf.len();
    debug_assert!(buf.iter().all(|&b| b == 0), "a page is built in zeroes");
    let total: usize = items.iter().map(Item::size).sum();
    assert!(
        fits(total, page_size),
        "{} entries of {total} bytes overflow a page",
        items.len()
    );
    let n = items.len();
    let data_start = page_size - (total - n * SLOT_LEN);
    let mut o = data_start;
    let mut side_ref = |s: Side| -> PageRef {
        let side = side
            .as_deref_mut()
            .expect("no in-memory child or pending value in a page written to disk");
        side.push(s);
        PageRef {
            page: layout::MEM_CHILD_PAGE,
            checksum: (side.len() - 1) as u64,
        }
    };
    for (i, it) in items.iter().enumerate() {
        let key = match it {
            Item::Branch { .. } if i == 0 => &[][..],
            it => it.key(),
        };
        layout::set_slot(buf, i, o, key);
        match it {
            Item::Leaf { key, value } => {
                assert!(leaf, "a leaf entry in a branch");
                let (kind, len) = match value {
                    ValueSrc::Inline(v) => (layout::VALUE_INLINE, v.len()),
                    ValueSrc::Overflow(_, len) => (layout::VALUE_OVERFLOW, *len as usize),
                    ValueSrc::Pending(v) => (layout::VALUE_PENDING, v.len()),
                };
                let mut r = [0u8; layout::REF_LEN];
                let payload: &[u8] = match value {
                    ValueSrc::Inline(v) => v,
                    ValueSrc::Overflow(at, _) => {
                        layout::write_ref(&mut r, 0, *at);
                        &r
                    }
                    ValueSrc::Pending(v) => {
                        let at = side_ref(Side::Big(v.clone()));
                        layout::write_ref(
                            &mut r,
                            0,
                            PageRef {
                                page: at.checksum,
                                checksum: 0,
                            },
                        );
                        &r
                    }
                };
                layout::write_leaf_entry(buf, o, key, kind, len, payload);
            }
            Item::Branch { key, child } => {
                assert!(!leaf, "a branch entry in a leaf");
                assert!(
                    i > 0 || key.is_empty(),
                    "a branch's first entry has a separator"
                );
                let r = match child {
                    Child::Disk(r) => *r,
                    Child::Mem(n) => side_ref(Side::Child(n.clone())),
                };
                layout::write_branch_entry(buf, o, key, r);
            }
        }
        o += it.size() - SLOT_LEN;
    }
    debug_assert_eq!(o, page_size);
    let kind = if leaf {
        PageKind::Leaf
    } else {
        PageKind::Branch
    };
    layout::write_header(buf, kind, n, data_start, page, checkpoint);
}

/// Encodes entries whose children and values are all on disk as the page
/// `page` written by checkpoint `checkpoint`.
pub fn encode_page(
    leaf: bool,
    items: &[Item<'_>],
    page_size: usize,
    page: u64,
    checkpoint: u64,
) -> Box<[u8]> {
    let mut buf = vec![0u8; page_size].into_boxed_slice();
    write_page(&mut buf, leaf, items, page, checkpoint, None);
    buf
}

impl Node {
    /// An in-memory node holding `items` (which must fit in a page; a
    /// branch's first item has an empty separator), in heap memory.
    pub fn build(leaf: bool, items: &[Item<'_>], page_size: usize) -> Node {
        Node::build_in(vec![0u8; page_size].into_boxed_slice().into(), leaf, items)
    }

    /// As [`Node::build`], in the memory this node's bytes come from: a
    /// frame of the cache's arena if they are in one (a write transaction
    /// splitting, merging or compacting a page it copied), so that the
    /// nodes a transaction makes count against the cache's memory.
    pub fn build_like(&self, leaf: bool, items: &[Item<'_>]) -> Node {
        Node::build_in(self.buf.blank_like(), leaf, items)
    }

    /// As [`Node::build`], in `buf` (a zeroed page: see
    /// [`crate::pager::Cache::blank_page`]).
    pub fn build_in(mut buf: PageBuf, leaf: bool, items: &[Item<'_>]) -> Node {
        let mut side = Vec::new();
        write_page(&mut buf, leaf, items, 0, 0, Some(&mut side));
        Node::from_parts(buf, side, 0, 0)
    }

    /// Entry `i` as an item.
    pub fn item(&self, i: usize) -> Item<'_> {
        if self.is_leaf() {
            let value = match self.value(i) {
                ValueAt::Inline(v) => ValueSrc::Inline(v),
                ValueAt::Overflow { at, len } => ValueSrc::Overflow(at, len),
                ValueAt::Pending(_) => ValueSrc::Pending(
                    self.pending_value(i)
                        .expect("a pending value has a side entry")
                        .clone(),
                ),
            };
            Item::Leaf {
                key: self.key(i),
                value,
            }
        } else {
            Item::Branch {
                key: self.key(i),
                child: self.child(i).to_child(),
            }
        }
    }

    /// Every entry, in order.
    pub fn items(&self) -> Vec<Item<'_>> {
        (0..self.len()).map(|i| self.item(i)).collect()
    }

    /// Rewrites the node without holes (and its side table without unused
    /// entries).
    pub fn compact(&mut self) {
        let rebuilt = self.build_like(self.is_leaf(), &self.items());
        *self = rebuilt;
    }

    fn gap(&self) -> usize {
        layout::data_start(&self.buf) - layout::slots_end(self.len())
    }

    /// Takes `size` entry bytes (and room for one more slot) below the data
    /// start, compacting first if only that makes room. `None` if the node
    /// cannot hold it.
    fn reserve(&mut self, size: usize) -> Option<usize> {
        if self.gap() < size + SLOT_LEN {
            if self.gap() + (self.garbage as usize) < size + SLOT_LEN {
                return None;
            }
            self.compact();
        }
        let d = layout::data_start(&self.buf) - size;
        layout::set_data_start(&mut self.buf, d);
        Some(d)
    }

    /// Makes entry `i` the one at offset `o` (whose key is `key`),
    /// shifting the slots after it.
    fn insert_slot(&mut self, i: usize, o: usize, key: &[u8]) {
        let n = self.len();
        let at = layout::slots_end(i);
        self.buf
            .copy_within(at..layout::slots_end(n), at + SLOT_LEN);
        layout::set_count(&mut self.buf, n + 1);
        layout::set_slot(&mut self.buf, i, o, key);
    }

    /// Removes slot `i`; returns the offset and length of its entry, whose
    /// bytes are now free.
    fn remove_slot(&mut self, i: usize) -> (usize, usize) {
        let n = self.len();
        let o = layout::slot(&self.buf, i);
        let len = layout::entry_len(&self.buf, o);
        let at = layout::slots_end(i);
        self.buf
            .copy_within(at + SLOT_LEN..layout::slots_end(n), at);
        layout::set_count(&mut self.buf, n - 1);
        self.release(o, len);
        (o, len)
    }

    /// Frees `len` entry bytes at `o`.
    fn release(&mut self, o: usize, len: usize) {
        if o == layout::data_start(&self.buf) {
            layout::set_data_start(&mut self.buf, o + len);
        } else {
            self.garbage += len as u32;
        }
    }

    fn push_side(&mut self, s: Side) -> u64 {
        self.side.push(s);
        (self.side.len() - 1) as u64
    }

    /// What leaf entry `i` holds, detaching a pending value from the side
    /// table (its entry is about to be removed or overwritten).
    fn take_value(&mut self, i: usize) -> OldValue {
        match self.value(i) {
            ValueAt::Inline(_) => OldValue::Inline,
            ValueAt::Overflow { at, len } => OldValue::Overflow(at, len),
            ValueAt::Pending(_) => {
                let o = layout::slot(&self.buf, i);
                let idx = layout::read_ref(&self.buf, layout::leaf_payload_at(&self.buf, o)).page;
                self.side[idx as usize] = Side::Free;
                OldValue::Pending
            }
        }
    }

    fn write_leaf(&mut self, o: usize, key: &[u8], value: &ValueSrc<'_>) {
        let (kind, len, r) = match value {
            ValueSrc::Inline(v) => (layout::VALUE_INLINE, v.len(), None),
            ValueSrc::Overflow(at, len) => (layout::VALUE_OVERFLOW, *len as usize, Some(*at)),
            ValueSrc::Pending(v) => {
                let idx = self.push_side(Side::Big(v.clone()));
                let r = PageRef {
                    page: idx,
                    checksum: 0,
                };
                (layout::VALUE_PENDING, v.len(), Some(r))
            }
        };
        let mut bytes = [0u8; layout::REF_LEN];
        let payload: &[u8] = match (value, r) {
            (ValueSrc::Inline(v), _) => v,
            (_, Some(r)) => {
                layout::write_ref(&mut bytes, 0, r);
                &bytes
            }
            _ => unreachable!("a reference for every value outside the page"),
        };
        layout::write_leaf_entry(&mut self.buf, o, key, kind, len, payload);
    }

    /// Inserts a new leaf entry at position `i` (the caller keeps the keys
    /// ordered). Returns `false`, leaving the node unchanged, if it does
    /// not fit.
    pub fn leaf_insert(&mut self, i: usize, key: &[u8], value: &ValueSrc<'_>) -> bool {
        debug_assert!(self.is_leaf());
        let size = layout::leaf_entry_size(key.len(), value.payload_len());
        let Some(o) = self.reserve(size) else {
            return false;
        };
        self.write_leaf(o, key, value);
        self.insert_slot(i, o, key);
        true
    }

    /// Replaces the value of leaf entry `i` (whose key is `key`); returns
    /// what it was, or `None`, leaving the node unchanged, if the new entry
    /// does not fit.
    pub fn leaf_replace(&mut self, i: usize, key: &[u8], value: &ValueSrc<'_>) -> Option<OldValue> {
        debug_assert!(self.is_leaf() && self.key(i) == key);
        let o = layout::slot(&self.buf, i);
        let old_len = layout::leaf_entry_len(&self.buf, o);
        let new_len = layout::leaf_entry_size(key.len(), value.payload_len());
        if new_len <= old_len {
            let old = self.take_value(i);
            self.write_leaf(o, key, value);
            if new_len < old_len {
                self.garbage += (old_len - new_len) as u32;
            }
            return Some(old);
        }
        if self.gap() + self.garbage as usize + old_len < new_len {
            return None;
        }
        let old = self.take_value(i);
        self.remove_slot(i);
        assert!(self.leaf_insert(i, key, value), "room was checked");
        Some(old)
    }

    /// Removes leaf entry `i`; returns its value.
    pub fn leaf_remove(&mut self, i: usize) -> OldValue {
        debug_assert!(self.is_leaf());
        let old = self.take_value(i);
        self.remove_slot(i);
        old
    }

    fn child_ref(&mut self, child: Child) -> PageRef {
        match child {
            Child::Disk(r) => r,
            Child::Mem(n) => PageRef {
                page: layout::MEM_CHILD_PAGE,
                checksum: self.push_side(Side::Child(n)),
            },
        }
    }

    /// Inserts child `child` with separator `key` at position `i >= 1` of a
    /// branch. Gives the child back, leaving the node unchanged, if it does
    /// not fit.
    pub fn branch_insert(&mut self, i: usize, key: &[u8], child: Child) -> Result<(), Child> {
        debug_assert!(!self.is_leaf() && i >= 1);
        let Some(o) = self.reserve(layout::branch_entry_size(key.len())) else {
            return Err(child);
        };
        let r = self.child_ref(child);
        layout::write_branch_entry(&mut self.buf, o, key, r);
        self.insert_slot(i, o, key);
        self.compact_side_if_sparse();
        Ok(())
    }

    /// Detaches child `i` from the side table (its entry is about to go).
    fn take_child(&mut self, i: usize) -> Child {
        match self.child(i) {
            ChildAt::Disk(r) => Child::Disk(r),
            ChildAt::Mem(_) => {
                let o = layout::slot(&self.buf, i);
                let idx = layout::read_ref(&self.buf, layout::branch_ref_at(&self.buf, o)).checksum;
                match std::mem::replace(&mut self.side[idx as usize], Side::Free) {
                    Side::Child(n) => Child::Mem(n),
                    other => unreachable!("in-memory child points at {other:?}"),
                }
            }
        }
    }

    /// Replaces every in-memory child of this branch, in order, by the page
    /// `write` makes of it. Each child is handed over: this node holds it
    /// no longer while `write` runs, so a child nothing else holds is
    /// `write`'s alone (a checkpoint consuming a transaction's tree frees
    /// each node once its page is queued). On an error the node is dropped
    /// with the children it still holds.
    pub fn write_children(
        mut self,
        mut write: impl FnMut(Arc<Node>) -> crate::Result<PageRef>,
    ) -> crate::Result<Node> {
        debug_assert!(!self.is_leaf());
        for i in 0..self.len() {
            if let Child::Mem(c) = self.take_child(i) {
                // `take_child` left the page's reference pointing at a
                // free side entry; `set_child` replaces it.
                let r = write(c)?;
                self.set_child(i, Child::Disk(r));
            }
        }
        Ok(self)
    }

    /// Removes child `i >= 1` of a branch and the separator in front of it;
    /// returns the child.
    pub fn branch_remove(&mut self, i: usize) -> Child {
        debug_assert!(!self.is_leaf() && i >= 1);
        let c = self.take_child(i);
        self.remove_slot(i);
        c
    }

    /// Replaces child `i` of a branch.
    pub fn set_child(&mut self, i: usize, child: Child) {
        debug_assert!(!self.is_leaf());
        let o = layout::slot(&self.buf, i);
        let at = layout::branch_ref_at(&self.buf, o);
        let old = layout::read_ref(&self.buf, at);
        let r = match (old.page == layout::MEM_CHILD_PAGE, child) {
            (true, Child::Mem(n)) => {
                self.side[old.checksum as usize] = Side::Child(n);
                old
            }
            (was_mem, child) => {
                if was_mem {
                    self.side[old.checksum as usize] = Side::Free;
                }
                self.child_ref(child)
            }
        };
        layout::write_ref(&mut self.buf, at, r);
        self.compact_side_if_sparse();
    }

    /// Replaces the separator in front of child `i >= 1`. Returns `false`,
    /// leaving the node unchanged, if it does not fit.
    pub fn set_separator(&mut self, i: usize, key: &[u8]) -> bool {
        debug_assert!(!self.is_leaf() && i >= 1);
        let o = layout::slot(&self.buf, i);
        let old_len = layout::branch_entry_len(&self.buf, o);
        let new_len = layout::branch_entry_size(key.len());
        let r = layout::read_ref(&self.buf, layout::branch_ref_at(&self.buf, o));
        if new_len <= old_len {
            layout::write_branch_entry(&mut self.buf, o, key, r);
            layout::set_slot(&mut self.buf, i, o, key);
            self.garbage += (old_len - new_len) as u32;
            return true;
        }
        if self.gap() + self.garbage as usize + old_len < new_len {
            return false;
        }
        // Detach the child first: making room may compact the node, which
        // renumbers the side table.
        let child = self.take_child(i);
        self.remove_slot(i);
        let o = self.reserve(new_len).expect("room was checked");
        let r = self.child_ref(child);
        layout::write_branch_entry(&mut self.buf, o, key, r);
        self.insert_slot(i, o, key);
        true
    }

    /// Child `i` of a branch, for changing it, if it is in memory.
    pub fn child_mut(&mut self, i: usize) -> Option<&mut Arc<Node>> {
        let o = layout::slot(&self.buf, i);
        let r = layout::read_ref(&self.buf, layout::branch_ref_at(&self.buf, o));
        if r.page != layout::MEM_CHILD_PAGE {
            return None;
        }
        match &mut self.side[r.checksum as usize] {
            Side::Child(n) => Some(n),
            other => unreachable!("in-memory child points at {other:?}"),
        }
    }

    /// Keeps the side table from growing without bound in a node that
    /// stays in memory across many changes.
    fn compact_side_if_sparse(&mut self) {
        if self.side.len() > 2 * self.len() + 8 {
            self.compact();
        }
    }
}
