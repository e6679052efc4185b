//! The file header in page 0 (FORMAT.md §1.1).

use crate::checksum::checksum;
use crate::{Error, Result};

/// Magic bytes at offset 0.
pub const MAGIC: &[u8; 8] = b"VELLUMDB";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 4;
/// Bytes of the header that carry data (the rest of page 0 is zero).
pub const HEADER_BYTES: usize = 32;

/// Encodes a header for a file with the given page size, zero-padded to
/// `page_size` bytes.
pub fn encode(page_size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(page_size);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&(page_size as u32).to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    let c = checksum(&b);
    b.extend_from_slice(&c.to_le_bytes());
    b.resize(page_size, 0);
    b
}

/// What the first bytes of a file say.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderState {
    /// All zero: a file created by a crashed initialisation.
    Blank,
    /// A valid header with this page size.
    Valid {
        /// The file's page size.
        page_size: usize,
    },
}

/// Decodes the first [`HEADER_BYTES`] (or more) bytes of a file.
pub fn decode(bytes: &[u8]) -> Result<HeaderState> {
    if bytes.len() < HEADER_BYTES {
        return Err(Error::NotADatabase);
    }
    if bytes.iter().all(|&b| b == 0) {
        return Ok(HeaderState::Blank);
    }
    if &bytes[0..8] != MAGIC {
        return Err(Error::NotADatabase);
    }
    let stored = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    if checksum(&bytes[0..24]) != stored {
        return Err(Error::corrupt(0, "file header checksum mismatch"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let page_size = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    if crate::options::Options::validate_page_size(page_size).is_err() {
        return Err(Error::corrupt(0, format!("invalid page size {page_size}")));
    }
    Ok(HeaderState::Valid { page_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let b = encode(4096);
        assert_eq!(decode(&b).unwrap(), HeaderState::Valid { page_size: 4096 });
        assert_eq!(decode(&[0u8; 64]).unwrap(), HeaderState::Blank);
        let mut foreign = b.clone();
        foreign[0] = b'X';
        assert!(matches!(decode(&foreign), Err(Error::NotADatabase)));
        // Files of the earlier formats (nodes without a slot directory;
        // log headers without a durable mark) and one from a newer build
        // are refused by version.
        for version in [1, 2, 3, FORMAT_VERSION + 1] {
            let mut other = b.clone();
            other[8..12].copy_from_slice(&version.to_le_bytes());
            let c = checksum(&other[0..24]);
            other[24..32].copy_from_slice(&c.to_le_bytes());
            assert!(matches!(
                decode(&other),
                Err(Error::UnsupportedVersion { found, supported: FORMAT_VERSION }) if found == version
            ));
        }
        let mut flipped = b;
        flipped[13] ^= 1;
        assert!(decode(&flipped).unwrap_err().is_corruption());
    }
}
