//! The byte layout of tree pages (FORMAT.md §1.4, §1.5): the page header
//! fields a tree page uses, the slot directory and the two entry formats.
//!
//! This module is the only code that knows where a byte of a tree page
//! lives. Everything above it (the accessors and editors of [`super::Node`],
//! the B+ tree, cursors, checks, flushes) goes through these functions.
//!
//! The readers index the buffer with ordinary (bounds-checked) slicing: a
//! page read from disk is verified once ([`super::verify`]) before any of
//! them runs on it, and an in-memory page is only ever written by
//! [`super::edit`], so an out-of-bounds access is an engine bug, never a
//! property of the file.

use crate::page::{PageKind, PageRef, HEADER_LEN};

/// Bytes of one slot: the entry's u16 offset and its 4-byte key head.
pub const SLOT_LEN: usize = 6;
/// Bytes of a key head.
pub const HEAD_LEN: usize = 4;
/// Bytes of a page reference (page number, checksum).
pub const REF_LEN: usize = 16;
/// Fixed bytes of a leaf entry before its key: key length (2), value kind
/// (1), value length (4).
pub const LEAF_FIXED: usize = 7;
/// Fixed bytes of a branch entry besides its key: key length (2) and the
/// child reference (16).
pub const BRANCH_FIXED: usize = 2 + REF_LEN;

/// Value kind: the value's bytes follow the key.
pub const VALUE_INLINE: u8 = 0;
/// Value kind: a reference to an overflow run follows the key.
pub const VALUE_OVERFLOW: u8 = 1;
/// Value kind, in memory only: a large value not yet written to an
/// overflow run; the 16 bytes after the key hold its index in the node's
/// side table. Never valid on disk.
pub const VALUE_PENDING: u8 = 2;

/// A child reference whose page number is this is an in-memory child (its
/// checksum field is the index in the node's side table). Page 0 is the
/// file header, never a tree page, so no on-disk reference can be one.
pub const MEM_CHILD_PAGE: u64 = 0;

#[inline]
fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes")) as usize
}

#[inline]
fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize
}

#[inline]
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

// ---- header ----------------------------------------------------------

/// The page kind byte.
#[inline]
pub fn kind_byte(b: &[u8]) -> u8 {
    b[0]
}

/// Whether the page is a leaf.
#[inline]
pub fn is_leaf(b: &[u8]) -> bool {
    b[0] == PageKind::Leaf as u8
}

/// Number of entries (leaf keys, branch children).
#[inline]
pub fn count(b: &[u8]) -> usize {
    u16_at(b, 2)
}

/// Offset of the first entry byte.
#[inline]
pub fn data_start(b: &[u8]) -> usize {
    u32_at(b, 4)
}

/// The page number the header names.
#[inline]
pub fn own_page(b: &[u8]) -> u64 {
    u64_at(b, 8)
}

/// Offset where the slot directory ends (and the gap begins).
#[inline]
pub fn slots_end(count: usize) -> usize {
    HEADER_LEN + SLOT_LEN * count
}

/// Writes a tree page header.
#[inline]
pub fn write_header(
    b: &mut [u8],
    kind: PageKind,
    count: usize,
    data_start: usize,
    page: u64,
    checkpoint: u64,
) {
    b[0] = kind as u8;
    b[1] = 0;
    set_count(b, count);
    set_data_start(b, data_start);
    b[8..16].copy_from_slice(&page.to_le_bytes());
    b[16..24].copy_from_slice(&checkpoint.to_le_bytes());
}

/// Sets the page number and checkpoint the header names.
#[inline]
pub fn set_identity(b: &mut [u8], page: u64, checkpoint: u64) {
    b[8..16].copy_from_slice(&page.to_le_bytes());
    b[16..24].copy_from_slice(&checkpoint.to_le_bytes());
}

/// Whether a leaf's bytes are in the canonical form (FORMAT.md §1.4):
/// entries packed in slot order from the data start to the end of the
/// page, zeros between the slot directory and the data start, and no
/// value pending in memory. Such bytes, with [`set_identity`], are the
/// page a checkpoint would encode from the leaf's entries.
pub fn is_packed_leaf(b: &[u8]) -> bool {
    let n = count(b);
    let end = slots_end(n);
    let mut o = data_start(b);
    if !is_leaf(b) || o < end || o > b.len() || b[end..o].iter().any(|&x| x != 0) {
        return false;
    }
    for i in 0..n {
        if slot(b, i) != o || o + LEAF_FIXED > b.len() || leaf_value_kind(b, o) == VALUE_PENDING {
            return false;
        }
        o += leaf_entry_len(b, o);
    }
    o == b.len()
}

/// Sets the entry count.
#[inline]
pub fn set_count(b: &mut [u8], n: usize) {
    let n = u16::try_from(n).expect("entry count fits u16");
    b[2..4].copy_from_slice(&n.to_le_bytes());
}

/// Sets the data start.
#[inline]
pub fn set_data_start(b: &mut [u8], d: usize) {
    let d = u32::try_from(d).expect("data start fits u32");
    b[4..8].copy_from_slice(&d.to_le_bytes());
}

// ---- slot directory --------------------------------------------------

/// Offset of entry `i`.
#[inline]
pub fn slot(b: &[u8], i: usize) -> usize {
    u16_at(b, HEADER_LEN + SLOT_LEN * i)
}

/// The head of entry `i`'s key, as stored in its slot.
#[inline]
pub fn head(b: &[u8], i: usize) -> u32 {
    let at = HEADER_LEN + SLOT_LEN * i + 2;
    u32::from_be_bytes(b[at..at + HEAD_LEN].try_into().expect("4 bytes"))
}

/// The head of `key`: its first 4 bytes, zero-padded, as a big-endian
/// integer (`head(a) < head(b)` implies `a < b`).
#[inline]
pub fn key_head(key: &[u8]) -> u32 {
    let mut h = [0u8; HEAD_LEN];
    let n = key.len().min(HEAD_LEN);
    h[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(h)
}

/// Compares two keys in the tree's order (bytewise, a prefix first), eight
/// bytes at a time.
#[inline]
pub fn cmp_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// Sets slot `i`: the offset of its entry and the head of its key.
#[inline]
pub fn set_slot(b: &mut [u8], i: usize, offset: usize, key: &[u8]) {
    let o = u16::try_from(offset).expect("entry offset fits u16");
    let at = HEADER_LEN + SLOT_LEN * i;
    b[at..at + 2].copy_from_slice(&o.to_le_bytes());
    b[at + 2..at + SLOT_LEN].copy_from_slice(&key_head(key).to_be_bytes());
}

// ---- leaf entries ------------------------------------------------------

/// Key of the leaf entry at offset `o`.
#[inline]
pub fn leaf_key(b: &[u8], o: usize) -> &[u8] {
    let k = u16_at(b, o);
    &b[o + LEAF_FIXED..o + LEAF_FIXED + k]
}

/// Value kind of the leaf entry at `o`.
#[inline]
pub fn leaf_value_kind(b: &[u8], o: usize) -> u8 {
    b[o + 2]
}

/// Value length of the leaf entry at `o` (the value's, not its bytes in
/// the page: 16 for an overflow or pending value).
#[inline]
pub fn leaf_value_len(b: &[u8], o: usize) -> usize {
    u32_at(b, o + 3)
}

/// Bytes the value of the leaf entry at `o` takes in the page.
#[inline]
fn leaf_payload_len(b: &[u8], o: usize) -> usize {
    if leaf_value_kind(b, o) == VALUE_INLINE {
        leaf_value_len(b, o)
    } else {
        REF_LEN
    }
}

/// The value bytes (inline) or the 16 reference bytes (overflow, pending)
/// of the leaf entry at `o`.
#[inline]
pub fn leaf_payload(b: &[u8], o: usize) -> &[u8] {
    let start = o + LEAF_FIXED + u16_at(b, o);
    &b[start..start + leaf_payload_len(b, o)]
}

/// Offset of the payload of the leaf entry at `o`.
#[inline]
pub fn leaf_payload_at(b: &[u8], o: usize) -> usize {
    o + LEAF_FIXED + u16_at(b, o)
}

/// Bytes of the leaf entry at `o`.
#[inline]
pub fn leaf_entry_len(b: &[u8], o: usize) -> usize {
    LEAF_FIXED + u16_at(b, o) + leaf_payload_len(b, o)
}

/// Bytes a leaf entry with this key and in-page value size takes.
#[inline]
pub fn leaf_entry_size(key_len: usize, payload_len: usize) -> usize {
    LEAF_FIXED + key_len + payload_len
}

/// Writes a leaf entry at `o`.
#[inline]
pub fn write_leaf_entry(
    b: &mut [u8],
    o: usize,
    key: &[u8],
    kind: u8,
    value_len: usize,
    payload: &[u8],
) {
    let klen = u16::try_from(key.len()).expect("key length fits u16");
    let vlen = u32::try_from(value_len).expect("value length fits u32");
    b[o..o + 2].copy_from_slice(&klen.to_le_bytes());
    b[o + 2] = kind;
    b[o + 3..o + 7].copy_from_slice(&vlen.to_le_bytes());
    let k = o + LEAF_FIXED;
    b[k..k + key.len()].copy_from_slice(key);
    let p = k + key.len();
    b[p..p + payload.len()].copy_from_slice(payload);
}

// ---- branch entries ----------------------------------------------------

/// Separator of the branch entry at `o` (empty for entry 0).
#[inline]
pub fn branch_key(b: &[u8], o: usize) -> &[u8] {
    let k = u16_at(b, o);
    &b[o + 2..o + 2 + k]
}

/// Offset of the child reference of the branch entry at `o`.
#[inline]
pub fn branch_ref_at(b: &[u8], o: usize) -> usize {
    o + 2 + u16_at(b, o)
}

/// Bytes of the branch entry at `o`.
#[inline]
pub fn branch_entry_len(b: &[u8], o: usize) -> usize {
    BRANCH_FIXED + u16_at(b, o)
}

/// Bytes a branch entry with this separator takes.
#[inline]
pub fn branch_entry_size(key_len: usize) -> usize {
    BRANCH_FIXED + key_len
}

/// Writes a branch entry at `o`.
#[inline]
pub fn write_branch_entry(b: &mut [u8], o: usize, key: &[u8], child: PageRef) {
    let klen = u16::try_from(key.len()).expect("separator length fits u16");
    b[o..o + 2].copy_from_slice(&klen.to_le_bytes());
    b[o + 2..o + 2 + key.len()].copy_from_slice(key);
    write_ref(b, o + 2 + key.len(), child);
}

// ---- references --------------------------------------------------------

/// The page reference at byte `at`.
#[inline]
pub fn read_ref(b: &[u8], at: usize) -> PageRef {
    PageRef {
        page: u64_at(b, at),
        checksum: u64_at(b, at + 8),
    }
}

/// Writes a page reference at byte `at`.
#[inline]
pub fn write_ref(b: &mut [u8], at: usize, r: PageRef) {
    b[at..at + 8].copy_from_slice(&r.page.to_le_bytes());
    b[at + 8..at + 16].copy_from_slice(&r.checksum.to_le_bytes());
}

// ---- either kind -------------------------------------------------------

/// Key (leaf) or separator (branch) of the entry at `o`.
#[inline]
pub fn entry_key(b: &[u8], o: usize) -> &[u8] {
    if is_leaf(b) {
        leaf_key(b, o)
    } else {
        branch_key(b, o)
    }
}

/// Bytes of the entry at `o`, whatever the page kind.
#[inline]
pub fn entry_len(b: &[u8], o: usize) -> usize {
    if is_leaf(b) {
        leaf_entry_len(b, o)
    } else {
        branch_entry_len(b, o)
    }
}
