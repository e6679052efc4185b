//! Page and record checksums: XXH3-64 (see docs/FORMAT.md).

/// The checksum of `bytes`, as stored in page references, slots and log
/// records.
#[inline]
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}
