//! Allocator bitmap and index pages (FORMAT.md §1.8).

use super::{pad_to, PageHeader, PageKind, PageRef, Reader, HEADER_LEN};
use crate::{Error, Result};

/// Pages covered by one bitmap page.
pub fn bits_per_bitmap(page_size: usize) -> u64 {
    ((page_size - HEADER_LEN) * 8) as u64
}

/// Bitmap page references held by one index page.
pub fn refs_per_index(page_size: usize) -> usize {
    (page_size - HEADER_LEN) / 16
}

/// Encodes a bitmap page from its words (bit `i` of word `w` is page
/// `w*64 + i` relative to the page's first covered page).
pub fn encode_bitmap(words: &[u64], page: u64, checkpoint: u64, page_size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(page_size);
    PageHeader {
        kind: PageKind::Bitmap,
        count: 0,
        page,
        checkpoint,
    }
    .write(&mut b);
    let nbytes = page_size - HEADER_LEN;
    for w in words {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.truncate(HEADER_LEN + nbytes);
    pad_to(&mut b, page_size);
    b
}

/// Decodes a bitmap page into `bits_per_bitmap / 64` words (rounded up).
pub fn decode_bitmap(bytes: &[u8], page: u64) -> Result<Vec<u64>> {
    PageHeader::read(bytes, page, &[PageKind::Bitmap])?;
    let body = &bytes[HEADER_LEN..];
    Ok(body
        .chunks(8)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(w)
        })
        .collect())
}

/// Encodes an index page referencing bitmap pages.
pub fn encode_index(refs: &[PageRef], page: u64, checkpoint: u64, page_size: usize) -> Vec<u8> {
    assert!(refs.len() <= refs_per_index(page_size));
    let mut b = Vec::with_capacity(page_size);
    PageHeader {
        kind: PageKind::AllocIndex,
        count: refs.len() as u16,
        page,
        checkpoint,
    }
    .write(&mut b);
    for r in refs {
        r.write(&mut b);
    }
    pad_to(&mut b, page_size);
    b
}

/// Decodes an index page.
pub fn decode_index(bytes: &[u8], page: u64) -> Result<Vec<PageRef>> {
    let h = PageHeader::read(bytes, page, &[PageKind::AllocIndex])?;
    if h.count as usize > refs_per_index(bytes.len()) {
        return Err(Error::corrupt(page, "index page count too large"));
    }
    let mut r = Reader::at(bytes, HEADER_LEN, page);
    (0..h.count).map(|_| PageRef::read(&mut r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_round_trip() {
        let n = (bits_per_bitmap(1024) / 64) as usize;
        let words: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        let b = encode_bitmap(&words, 5, 1, 1024);
        assert_eq!(b.len(), 1024);
        assert_eq!(decode_bitmap(&b, 5).unwrap(), words);
    }

    #[test]
    fn index_round_trip() {
        let refs: Vec<PageRef> = (0..10)
            .map(|i| PageRef {
                page: i + 3,
                checksum: i * 7,
            })
            .collect();
        let b = encode_index(&refs, 4, 1, 1024);
        assert_eq!(decode_index(&b, 4).unwrap(), refs);
        assert!(decode_index(&b, 5).is_err());
    }

    #[test]
    fn a_full_index_page_round_trips() {
        for ps in [1024, 4096] {
            let refs: Vec<PageRef> = (0..refs_per_index(ps) as u64)
                .map(|i| PageRef {
                    page: i + 3,
                    checksum: i * 7,
                })
                .collect();
            let b = encode_index(&refs, 4, 1, ps);
            assert_eq!(b.len(), ps);
            assert_eq!(decode_index(&b, 4).unwrap(), refs, "page size {ps}");
        }
    }
}
