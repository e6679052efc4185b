//! The pair assertions of tree pages: a page is checked with [`verify`]
//! before it is written (an engine bug stops there) and again after it is
//! read (damage the checksum could not catch, or a crafted file with valid
//! checksums, becomes [`crate::Error::Corruption`], never a panic later).
//!
//! A page passes only in the canonical form of FORMAT.md §1.4, with every
//! length and count within the format's limits, so the accessors of
//! [`super::layout`] can index it without further checks.

use super::layout;
use crate::page::slot::RESERVED_PAGES;
use crate::page::{PageKind, HEADER_LEN};
use crate::{Error, Limits, Result};

/// The longest key a tree page may hold: the key limit, plus the one-byte
/// prefix of a catalog key (FORMAT.md §1.4, §1.7).
pub fn max_page_key_len(limits: &Limits) -> usize {
    limits.max_key_len + 1
}

/// Checks that `b` is a valid leaf or branch page numbered `page`.
pub fn verify(b: &[u8], page: u64) -> Result<()> {
    let bad = |why: String| Err(Error::corrupt(page, why));
    let ps = b.len();
    if ps < HEADER_LEN {
        return bad(format!("tree page of {ps} bytes"));
    }
    let leaf = match layout::kind_byte(b) {
        k if k == PageKind::Leaf as u8 => true,
        k if k == PageKind::Branch as u8 => false,
        k => return bad(format!("unexpected page kind {k}")),
    };
    if b[1] != 0 {
        return bad("reserved header byte is not zero".into());
    }
    let own = layout::own_page(b);
    if own != page {
        return bad(format!("page header names page {own} (misdirected write?)"));
    }
    let n = layout::count(b);
    let d = layout::data_start(b);
    if leaf && n == 0 {
        return bad("empty leaf".into());
    }
    if !leaf && n < 2 {
        return bad(format!("branch with {n} children"));
    }
    if layout::slots_end(n) > d || d > ps {
        return bad(format!("{n} slots and data start {d} do not fit the page"));
    }
    if b[layout::slots_end(n)..d].iter().any(|&x| x != 0) {
        return bad("garbage between the slots and the entries".into());
    }
    let limits = Limits::for_page_size(ps);
    let mut o = d;
    let mut prev: Option<&[u8]> = None;
    for i in 0..n {
        if layout::slot(b, i) != o {
            return bad(format!("slot {i} does not point at entry {i}"));
        }
        let fixed = if leaf {
            layout::LEAF_FIXED
        } else {
            layout::BRANCH_FIXED
        };
        if o + fixed > ps {
            return bad(format!("entry {i} runs past the page"));
        }
        let klen = u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        if klen > max_page_key_len(&limits) {
            return bad(format!("key of {klen} bytes exceeds the key limit"));
        }
        let len = if leaf {
            if o + layout::LEAF_FIXED + klen > ps {
                return bad(format!("entry {i} runs past the page"));
            }
            let vlen = layout::leaf_value_len(b, o);
            match layout::leaf_value_kind(b, o) {
                layout::VALUE_INLINE if vlen <= limits.max_inline_value_len => {}
                layout::VALUE_OVERFLOW
                    if vlen > limits.max_inline_value_len && vlen <= limits.max_value_len => {}
                layout::VALUE_INLINE | layout::VALUE_OVERFLOW => {
                    return bad(format!("value length {vlen} out of range for its kind"))
                }
                k => return bad(format!("bad value kind {k}")),
            }
            let len = layout::leaf_entry_len(b, o);
            if o + len > ps {
                return bad(format!("entry {i} runs past the page"));
            }
            if layout::leaf_value_kind(b, o) == layout::VALUE_OVERFLOW {
                let r = layout::read_ref(b, layout::leaf_payload_at(b, o));
                if r.page < RESERVED_PAGES {
                    return bad(format!("overflow run at reserved page {}", r.page));
                }
            }
            len
        } else {
            let len = layout::branch_entry_len(b, o);
            if o + len > ps {
                return bad(format!("entry {i} runs past the page"));
            }
            if (i == 0) != (klen == 0) {
                return bad(format!("branch entry {i} has a separator of {klen} bytes"));
            }
            let r = layout::read_ref(b, layout::branch_ref_at(b, o));
            if r.page < RESERVED_PAGES {
                return bad(format!("child at reserved page {}", r.page));
            }
            len
        };
        if layout::head(b, i) != layout::key_head(layout::entry_key(b, o)) {
            return bad(format!("slot {i} holds the head of another key"));
        }
        if leaf || i > 0 {
            let key = layout::entry_key(b, o);
            if prev.is_some_and(|p| p >= key) {
                return bad("keys out of order".into());
            }
            prev = Some(key);
        }
        o += len;
    }
    if o != ps {
        return bad("entries do not end at the end of the page".into());
    }
    Ok(())
}
