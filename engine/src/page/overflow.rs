//! Overflow runs: values too large for a leaf (FORMAT.md §1.6).

use super::{PageHeader, PageKind, HEADER_LEN};
use crate::{Error, Result};

/// Number of pages a run holding `len` value bytes occupies.
pub fn run_pages(len: usize, page_size: usize) -> u64 {
    (HEADER_LEN + len).div_ceil(page_size) as u64
}

/// Encodes a value into a run starting at `page`; the result is a whole
/// number of pages.
pub fn encode(value: &[u8], page: u64, checkpoint: u64, page_size: usize) -> Vec<u8> {
    let pages = run_pages(value.len(), page_size) as usize;
    let mut b = Vec::with_capacity(pages * page_size);
    PageHeader {
        kind: PageKind::Overflow,
        count: 0,
        page,
        checkpoint,
    }
    .write(&mut b);
    b.extend_from_slice(value);
    b.resize(pages * page_size, 0);
    b
}

/// Extracts the value from a run's bytes (whose checksum the caller has
/// verified), checking the header and the padding.
pub fn decode(run: &[u8], page: u64, len: usize) -> Result<Vec<u8>> {
    PageHeader::read(run, page, &[PageKind::Overflow])?;
    let end = HEADER_LEN + len;
    if run.len() < end || run[end..].iter().any(|&b| b != 0) {
        return Err(Error::corrupt(page, "overflow run length mismatch"));
    }
    Ok(run[HEADER_LEN..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_across_pages() {
        let v: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let b = encode(&v, 9, 1, 4096);
        assert_eq!(b.len(), 3 * 4096);
        assert_eq!(run_pages(v.len(), 4096), 3);
        assert_eq!(decode(&b, 9, v.len()).unwrap(), v);
        assert!(decode(&b, 10, v.len()).is_err());
        assert!(decode(&b, 9, v.len() - 1).is_err());
    }
}
