//! [`Sparse`]: the bytes of a simulated file, stored in 4 KiB chunks of
//! which only the written ones take memory.
//!
//! A file is a length and a map from chunk index to chunk; a chunk that is
//! absent reads as zeros, and so does every byte past the length inside a
//! stored chunk (truncation zeroes it), so a later growth reads zeros as a
//! growth of a flat buffer would. Writing zeros over a hole stores nothing
//! and writing a whole chunk of zeros drops it, so a file of 1 GiB whose
//! pages are mostly zeros costs memory only for the rest. Chunks are shared
//! between copies ([`Arc`], copied on write), so the volatile view of a
//! file made from its durable bytes costs nothing until one of them
//! changes.
//!
//! Everything here is exactly what a flat `Vec<u8>` would do; only the
//! memory differs. [`Sparse::content_hash`] equals the hash of the flat
//! bytes for files up to [`FLAT_HASH_LIMIT`], so the trace of a run is the
//! same as with a flat buffer.

use std::collections::BTreeMap;
use std::sync::Arc;

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::rng::SimRng;

/// Bytes per chunk.
pub const CHUNK: u64 = 4096;
const CHUNK_BYTES: usize = CHUNK as usize;
/// Files up to this length hash as their flat bytes; longer ones by their
/// stored chunks (see [`Sparse::content_hash`]).
pub const FLAT_HASH_LIMIT: u64 = 64 << 20;

static ZEROS: [u8; CHUNK_BYTES] = [0; CHUNK_BYTES];

type Chunk = Arc<[u8; CHUNK_BYTES]>;

/// The bytes of a file, stored sparsely.
#[derive(Clone, Debug, Default)]
pub struct Sparse {
    len: u64,
    chunks: BTreeMap<u64, Chunk>,
}

/// The pieces of `offset..offset + len` by chunk: (chunk index, start in
/// the chunk, start in the range, length).
fn pieces(offset: u64, len: u64) -> impl Iterator<Item = (u64, usize, usize, usize)> {
    let end = offset + len;
    let mut at = offset;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let idx = at / CHUNK;
        let within = (at % CHUNK) as usize;
        let n = (CHUNK - at % CHUNK).min(end - at) as usize;
        let piece = (idx, within, (at - offset) as usize, n);
        at += n as u64;
        Some(piece)
    })
}

impl Sparse {
    /// An empty file.
    pub fn new() -> Sparse {
        Sparse::default()
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the length is 0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of chunk memory held (what the file costs).
    pub fn stored_bytes(&self) -> u64 {
        self.chunks.len() as u64 * CHUNK
    }

    /// Copies `offset..offset + buf.len()` into `buf`; the range must be
    /// inside the file.
    pub fn read(&self, buf: &mut [u8], offset: u64) {
        debug_assert!(offset + buf.len() as u64 <= self.len);
        for (idx, within, at, n) in pieces(offset, buf.len() as u64) {
            let dst = &mut buf[at..at + n];
            match self.chunks.get(&idx) {
                Some(c) => dst.copy_from_slice(&c[within..within + n]),
                None => dst.fill(0),
            }
        }
    }

    /// The bytes of `offset..offset + len`, or `None` if the range ends
    /// past the end of the file.
    pub fn get(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        let mut out = vec![0; len as usize];
        self.read(&mut out, offset);
        Some(out)
    }

    /// Writes `data` at `offset`, extending the file (with zeros) as needed.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        for (idx, within, at, n) in pieces(offset, data.len() as u64) {
            let src = &data[at..at + n];
            let zeros = src.iter().all(|&b| b == 0);
            match self.chunks.get_mut(&idx) {
                Some(_) if zeros && n == CHUNK_BYTES => {
                    self.chunks.remove(&idx);
                }
                Some(c) => Arc::make_mut(c)[within..within + n].copy_from_slice(src),
                None if zeros => {}
                None => {
                    let mut c = Arc::new([0u8; CHUNK_BYTES]);
                    Arc::make_mut(&mut c)[within..within + n].copy_from_slice(src);
                    self.chunks.insert(idx, c);
                }
            }
        }
        self.len = self.len.max(offset + data.len() as u64);
    }

    /// Truncates, or extends with zeros, to `len`.
    pub fn set_len(&mut self, len: u64) {
        if len < self.len {
            let keep = len.div_ceil(CHUNK);
            self.chunks.split_off(&keep);
            let within = (len % CHUNK) as usize;
            if within != 0 {
                if let Some(c) = self.chunks.get_mut(&(len / CHUNK)) {
                    Arc::make_mut(c)[within..].fill(0);
                }
            }
        }
        self.len = len;
    }

    /// Flips bit `bit` of the byte at `offset` (inside the file).
    pub fn flip_bit(&mut self, offset: u64, bit: u8) {
        let mut b = [0u8];
        self.read(&mut b, offset);
        b[0] ^= 1 << bit;
        self.write(offset, &b);
    }

    /// Fills `start..end` with garbage from `rng` (drawn exactly as
    /// `rng.fill` over a flat slice of that length), extending the file
    /// as needed.
    pub fn fill_garbage(&mut self, start: u64, end: u64, rng: &mut SimRng) {
        if end <= start {
            return;
        }
        let mut g = vec![0u8; (end - start) as usize];
        rng.fill(&mut g);
        self.write(start, &g);
    }

    /// The whole file as flat bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.get(0, self.len).expect("the whole file is in range")
    }

    /// A hash of the contents: for files up to [`FLAT_HASH_LIMIT`] exactly
    /// `xxh3_64` of the flat bytes; for longer ones a hash of the length
    /// and of every stored chunk that is not all zeros (index and bytes),
    /// so also a function of the contents alone.
    pub fn content_hash(&self) -> u64 {
        let mut h = Xxh3::new();
        if self.len <= FLAT_HASH_LIMIT {
            for (idx, within, _, n) in pieces(0, self.len) {
                match self.chunks.get(&idx) {
                    Some(c) => h.update(&c[within..within + n]),
                    None => h.update(&ZEROS[within..within + n]),
                }
            }
            return h.digest();
        }
        h.update(&self.len.to_le_bytes());
        for (idx, c) in self
            .chunks
            .iter()
            .filter(|(_, c)| c.iter().any(|&b| b != 0))
        {
            h.update(&idx.to_le_bytes());
            h.update(&xxh3_64(&c[..]).to_le_bytes());
        }
        h.digest()
    }
}

impl From<&[u8]> for Sparse {
    fn from(b: &[u8]) -> Sparse {
        let mut s = Sparse::new();
        s.write(0, b);
        s.set_len(b.len() as u64);
        s
    }
}

impl From<Vec<u8>> for Sparse {
    fn from(b: Vec<u8>) -> Sparse {
        Sparse::from(&b[..])
    }
}

impl PartialEq for Sparse {
    fn eq(&self, other: &Sparse) -> bool {
        self.len == other.len && self.to_vec() == other.to_vec()
    }
}

impl Eq for Sparse {}

impl PartialEq<[u8]> for Sparse {
    fn eq(&self, other: &[u8]) -> bool {
        self.len == other.len() as u64 && self.to_vec() == other
    }
}

impl PartialEq<Vec<u8>> for Sparse {
    fn eq(&self, other: &Vec<u8>) -> bool {
        *self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Sparse {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the same operations to a flat buffer and a sparse file.
    #[test]
    fn behaves_like_a_flat_buffer() {
        let mut rng = SimRng::new(7);
        let mut flat: Vec<u8> = Vec::new();
        let mut s = Sparse::new();
        for _ in 0..3000 {
            match rng.below(10) {
                0..=5 => {
                    let off = rng.below(40_000);
                    let len = rng.below(9000) as usize;
                    let mut data = vec![0u8; len];
                    if rng.chance(0.7) {
                        rng.fill(&mut data);
                    }
                    let end = off as usize + len;
                    if flat.len() < end {
                        flat.resize(end, 0);
                    }
                    flat[off as usize..end].copy_from_slice(&data);
                    s.write(off, &data);
                }
                6 | 7 => {
                    let len = rng.below(50_000);
                    flat.resize(len as usize, 0);
                    s.set_len(len);
                }
                8 if !flat.is_empty() => {
                    let off = rng.below(flat.len() as u64);
                    flat[off as usize] ^= 4;
                    s.flip_bit(off, 2);
                }
                _ => {
                    let c = s.clone();
                    assert_eq!(c.to_vec(), flat);
                }
            }
            assert_eq!(s.len(), flat.len() as u64);
            assert_eq!(s.content_hash(), xxh3_64(&flat));
            let off = rng.below(flat.len() as u64 + 1);
            let len = rng.below(flat.len() as u64 - off + 1);
            assert_eq!(
                s.get(off, len).unwrap(),
                &flat[off as usize..(off + len) as usize]
            );
            assert!(s.get(off, flat.len() as u64 - off + 1).is_none());
        }
    }

    #[test]
    fn a_large_mostly_zero_file_costs_little() {
        let mut s = Sparse::new();
        s.set_len(1 << 30);
        s.write(512 << 20, b"hello");
        s.write(0, &vec![0u8; 1 << 20]);
        assert_eq!(s.len(), 1 << 30);
        assert_eq!(s.stored_bytes(), CHUNK);
        assert_eq!(s.get(512 << 20, 5).unwrap(), b"hello");
        let mut t = s.clone();
        assert_eq!(t.content_hash(), s.content_hash());
        t.write(512 << 20, b"j");
        assert_ne!(t.content_hash(), s.content_hash());
        t.write(512 << 20, &[0u8; CHUNK_BYTES]);
        assert_eq!(t.stored_bytes(), 0, "a chunk overwritten with zeros goes");
    }

    #[test]
    fn garbage_is_drawn_as_over_a_flat_slice() {
        let (mut a, mut b) = (SimRng::new(3), SimRng::new(3));
        let mut flat = vec![0u8; 10_000];
        a.fill(&mut flat[100..9000]);
        let mut s = Sparse::from(vec![0u8; 10_000]);
        s.fill_garbage(100, 9000, &mut b);
        assert_eq!(s.to_vec(), flat);
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
