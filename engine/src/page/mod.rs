//! Byte layouts of everything vellum stores (docs/FORMAT.md).
//!
//! Each page kind has an `encode` that asserts its invariants before the
//! bytes are written and a `decode` that checks them again after the bytes
//! are read, returning [`crate::Error::Corruption`] instead of panicking.

pub mod alloc_pages;
pub mod buf;
pub mod file_header;
pub mod huge;
pub mod log_record;
pub mod node;
pub mod overflow;
pub mod slot;

use crate::{Error, Result};

/// Length of the common page header.
pub const HEADER_LEN: usize = 24;

/// The kind byte at offset 0 of every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageKind {
    /// Branch node of a B+ tree.
    Branch = 1,
    /// Leaf node of a B+ tree.
    Leaf = 2,
    /// First page of an overflow run.
    Overflow = 3,
    /// Allocator bitmap.
    Bitmap = 4,
    /// Allocator index (references to bitmap pages).
    AllocIndex = 5,
}

impl PageKind {
    fn from_u8(b: u8) -> Option<PageKind> {
        Some(match b {
            1 => PageKind::Branch,
            2 => PageKind::Leaf,
            3 => PageKind::Overflow,
            4 => PageKind::Bitmap,
            5 => PageKind::AllocIndex,
            _ => return None,
        })
    }
}

/// A reference to a page (or overflow run) held by its parent: where it is
/// and the checksum its bytes must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRef {
    /// Page number.
    pub page: u64,
    /// XXH3-64 of the referenced page's (or run's) bytes.
    pub checksum: u64,
}

impl PageRef {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.page.to_le_bytes());
        out.extend_from_slice(&self.checksum.to_le_bytes());
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<PageRef> {
        Ok(PageRef {
            page: r.u64()?,
            checksum: r.u64()?,
        })
    }
}

/// The common 24-byte page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    /// Page kind.
    pub kind: PageKind,
    /// Entry count (meaning depends on the kind).
    pub count: u16,
    /// The page's own number.
    pub page: u64,
    /// The checkpoint that wrote it.
    pub checkpoint: u64,
}

impl PageHeader {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.kind as u8);
        out.push(0);
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.page.to_le_bytes());
        out.extend_from_slice(&self.checkpoint.to_le_bytes());
    }

    /// Reads and checks a header: the kind must be `expect` and the
    /// recorded page number must be `page` (catches misdirected writes).
    pub(crate) fn read(bytes: &[u8], page: u64, expect: &[PageKind]) -> Result<PageHeader> {
        let mut r = Reader::new(bytes, page);
        let kind_byte = r.u8()?;
        let kind = PageKind::from_u8(kind_byte)
            .filter(|k| expect.contains(k))
            .ok_or_else(|| Error::corrupt(page, format!("unexpected page kind {kind_byte}")))?;
        let _ = r.u8()?;
        let count = r.u16()?;
        let _ = r.u32()?;
        let own = r.u64()?;
        if own != page {
            return Err(Error::corrupt(
                page,
                format!("page header names page {own} (misdirected write?)"),
            ));
        }
        let checkpoint = r.u64()?;
        Ok(PageHeader {
            kind,
            count,
            page,
            checkpoint,
        })
    }
}

/// A bounds-checked little-endian reader that reports truncation as
/// corruption of `page`.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    page: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], page: u64) -> Self {
        Reader {
            bytes,
            pos: 0,
            page,
        }
    }

    pub(crate) fn at(bytes: &'a [u8], pos: usize, page: u64) -> Self {
        Reader { bytes, pos, page }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::corrupt(
                self.page,
                format!("truncated: need {n} bytes at offset {}", self.pos),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.bytes(2)?.try_into().unwrap()))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().unwrap()))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
}

/// Pads `buf` with zeros to exactly `len` bytes (it must not be longer).
pub(crate) fn pad_to(buf: &mut Vec<u8>, len: usize) {
    assert!(
        buf.len() <= len,
        "encoded page of {} bytes exceeds {len}",
        buf.len()
    );
    buf.resize(len, 0);
}
