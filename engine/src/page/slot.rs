//! Checkpoint slots in pages 1, 2 and 3 (FORMAT.md §1.2).

use super::{PageRef, Reader};
use crate::checksum::checksum;
use crate::{Error, Result};

/// Magic bytes of a slot.
pub const MAGIC: &[u8; 8] = b"VELLSLOT";
/// Most allocator index pages a slot can reference.
pub const MAX_INDEX_REFS: usize = 32;
/// Number of slot pages (pages `1..=SLOTS`). Three, so that a confirmation
/// copy never overwrites the two slots recovery may still need (FORMAT.md
/// §1.2, §6 S2).
pub const SLOTS: u64 = 3;
/// Pages at the start of the file that are not allocated: header and slots.
pub const RESERVED_PAGES: u64 = 1 + SLOTS;
/// Larger page counts are rejected outright (above any page size's limit,
/// and small enough that `page_count * page_size` cannot overflow).
const MAX_PAGE_COUNT: u64 = 1 << 40;
/// Largest valid write sequence number (a writer starts at 1 and adds one
/// per slot write, so it never gets near; a larger one is a crafted file,
/// and `next_seq` could not exceed it without overflowing).
pub const MAX_SEQ: u64 = 1 << 62;
/// Offset of the checkpoint checksum (over the checkpoint's fields; log
/// records of its epoch link to it).
const CHECKSUM_AT: usize = 72 + 16 * MAX_INDEX_REFS;
/// Offset of the write sequence number (copies of one checkpoint differ
/// only in it).
const SEQ_AT: usize = CHECKSUM_AT + 8;
/// Offset of the write checksum (over everything before it).
const WRITE_CHECKSUM_AT: usize = SEQ_AT + 8;
/// Bytes of a slot; the rest of the page is zero.
const SLOT_LEN: usize = WRITE_CHECKSUM_AT + 8;

/// The content of a checkpoint slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Checkpoint id.
    pub checkpoint: u64,
    /// Last transaction contained in this checkpoint.
    pub last_txn: u64,
    /// Logical file size in pages.
    pub page_count: u64,
    /// First page of the log extent.
    pub log_start: u64,
    /// Length of the log extent in pages.
    pub log_pages: u64,
    /// Root of the catalog tree, if any bucket has content.
    pub catalog: Option<PageRef>,
    /// Allocator index pages.
    pub alloc_index: Vec<PageRef>,
}

impl Slot {
    /// Encodes to a full page as slot write number `seq`; returns the bytes
    /// and the checkpoint checksum (the same for every copy).
    pub fn encode(&self, page_size: usize, seq: u64) -> (Vec<u8>, u64) {
        assert!(self.alloc_index.len() <= MAX_INDEX_REFS);
        assert!((1..=MAX_SEQ).contains(&seq), "write sequence {seq}");
        assert!(
            self.page_count >= RESERVED_PAGES && self.log_start + self.log_pages <= self.page_count
        );
        let mut b = Vec::with_capacity(page_size);
        b.extend_from_slice(MAGIC);
        for v in [
            self.checkpoint,
            self.last_txn,
            self.page_count,
            self.log_start,
            self.log_pages,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let cat = self.catalog.unwrap_or(PageRef {
            page: 0,
            checksum: 0,
        });
        cat.write(&mut b);
        b.extend_from_slice(&(self.alloc_index.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for r in &self.alloc_index {
            r.write(&mut b);
        }
        b.resize(CHECKSUM_AT, 0);
        let c = checksum(&b);
        b.extend_from_slice(&c.to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        let w = checksum(&b);
        b.extend_from_slice(&w.to_le_bytes());
        debug_assert_eq!(b.len(), SLOT_LEN);
        b.resize(page_size, 0);
        (b, c)
    }

    /// Decodes and validates a slot page. Returns the slot, its checkpoint
    /// checksum and its write sequence number, or an error saying why it is
    /// not valid.
    pub fn decode(bytes: &[u8], slot_page: u64) -> Result<(Slot, u64, u64)> {
        if bytes.len() < SLOT_LEN {
            return Err(Error::corrupt(slot_page, "slot page too short"));
        }
        if &bytes[0..8] != MAGIC {
            return Err(Error::corrupt(slot_page, "bad slot magic"));
        }
        let stored = u64::from_le_bytes(bytes[CHECKSUM_AT..CHECKSUM_AT + 8].try_into().unwrap());
        if checksum(&bytes[..CHECKSUM_AT]) != stored {
            return Err(Error::corrupt(slot_page, "slot checksum mismatch"));
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        if checksum(&bytes[..WRITE_CHECKSUM_AT]) != u64_at(WRITE_CHECKSUM_AT) {
            return Err(Error::corrupt(slot_page, "slot write checksum mismatch"));
        }
        let seq = u64_at(SEQ_AT);
        if !(1..=MAX_SEQ).contains(&seq) {
            return Err(Error::corrupt(
                slot_page,
                "slot write sequence out of range",
            ));
        }
        let mut r = Reader::at(bytes, 8, slot_page);
        let checkpoint = r.u64()?;
        let last_txn = r.u64()?;
        let page_count = r.u64()?;
        let log_start = r.u64()?;
        let log_pages = r.u64()?;
        let cat = PageRef::read(&mut r)?;
        let n = r.u32()? as usize;
        let _ = r.u32()?;
        if n > MAX_INDEX_REFS {
            return Err(Error::corrupt(slot_page, "too many allocator index pages"));
        }
        let mut alloc_index = Vec::with_capacity(n);
        for _ in 0..n {
            alloc_index.push(PageRef::read(&mut r)?);
        }
        let in_range = |p: u64| (RESERVED_PAGES..page_count).contains(&p);
        if !(RESERVED_PAGES..=MAX_PAGE_COUNT).contains(&page_count)
            || log_start
                .checked_add(log_pages)
                .is_none_or(|e| e > page_count)
            || (log_pages > 0 && !in_range(log_start))
            || (cat.page != 0 && !in_range(cat.page))
            || alloc_index.iter().any(|r| !in_range(r.page))
        {
            return Err(Error::corrupt(slot_page, "slot fields out of range"));
        }
        let catalog = (cat.page != 0).then_some(cat);
        Ok((
            Slot {
                checkpoint,
                last_txn,
                page_count,
                log_start,
                log_pages,
                catalog,
                alloc_index,
            },
            stored,
            seq,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Slot {
        Slot {
            checkpoint: 7,
            last_txn: 42,
            page_count: 100,
            log_start: 10,
            log_pages: 16,
            catalog: Some(PageRef {
                page: 50,
                checksum: 99,
            }),
            alloc_index: vec![PageRef {
                page: 60,
                checksum: 1,
            }],
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let (b, c) = s.encode(4096, 9);
        let (d, c2, seq) = Slot::decode(&b, 2).unwrap();
        assert_eq!(d, s);
        assert_eq!(c, c2);
        assert_eq!(seq, 9);
        let (copy, c3) = s.encode(4096, 10);
        assert_ne!(copy, b, "copies differ in their write sequence");
        assert_eq!(c3, c, "log records link to the checkpoint, not the copy");
        assert_eq!(Slot::decode(&copy, 3).unwrap().2, 10);
    }

    #[test]
    fn torn_slot_is_invalid_and_any_page_may_hold_a_slot() {
        let (mut b, _) = sample().encode(4096, 1);
        for page in 1..=SLOTS {
            assert!(Slot::decode(&b, page).is_ok());
        }
        let mut torn_seq = b.clone();
        torn_seq[SEQ_AT] ^= 1;
        assert!(
            Slot::decode(&torn_seq, 2).is_err(),
            "the write checksum covers the sequence"
        );
        b[20] ^= 0xff;
        assert!(Slot::decode(&b, 2).is_err());
        assert!(Slot::decode(&[0u8; 4096], 2).is_err());
    }

    /// `bytes` with field `at` set to `v` and both checksums recomputed, as
    /// a writer with a bug (or a crafted file) would produce.
    fn sealed_with(mut bytes: Vec<u8>, fields: &[(usize, u64)]) -> Vec<u8> {
        for &(at, v) in fields {
            bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        let c = checksum(&bytes[..CHECKSUM_AT]);
        bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&c.to_le_bytes());
        let w = checksum(&bytes[..WRITE_CHECKSUM_AT]);
        bytes[WRITE_CHECKSUM_AT..WRITE_CHECKSUM_AT + 8].copy_from_slice(&w.to_le_bytes());
        bytes
    }

    #[test]
    fn each_field_out_of_range_alone_makes_a_checksummed_slot_invalid() {
        let (b, _) = sample().encode(4096, 1);
        // Offsets (FORMAT.md §1.2): page count 24, log extent 32 and 40,
        // catalog root page 48, first allocator index reference 72.
        let cases: &[(&str, &[(usize, u64)])] = &[
            ("page count below the reserved pages", &[(24, 3)]),
            ("page count above the limit", &[(24, MAX_PAGE_COUNT + 1)]),
            ("log extent past the end", &[(32, 90), (40, 16)]),
            ("log extent overflowing u64", &[(32, 10), (40, u64::MAX)]),
            ("log extent in the reserved pages", &[(32, 2), (40, 1)]),
            ("catalog root past the end", &[(48, 100)]),
            ("catalog root in the reserved pages", &[(48, 3)]),
            ("allocator index page past the end", &[(72, 100)]),
            ("allocator index page in the reserved pages", &[(72, 1)]),
            ("write sequence 0", &[(SEQ_AT, 0)]),
            ("write sequence past the limit", &[(SEQ_AT, MAX_SEQ + 1)]),
            ("write sequence u64::MAX", &[(SEQ_AT, u64::MAX)]),
        ];
        for (what, fields) in cases {
            let bad = sealed_with(b.clone(), fields);
            assert!(Slot::decode(&bad, 1).is_err(), "{what} was accepted");
        }
        // The edges that are valid.
        let edges: &[(&str, &[(usize, u64)])] = &[
            ("an empty log extent anywhere", &[(32, 0), (40, 0)]),
            (
                "a log extent ending at the last page",
                &[(32, 84), (40, 16)],
            ),
            ("no catalog", &[(48, 0), (56, 0)]),
            ("the largest write sequence", &[(SEQ_AT, MAX_SEQ)]),
            (
                "the smallest page count",
                &[
                    (24, RESERVED_PAGES),
                    (32, 4),
                    (40, 0),
                    (48, 0),
                    (56, 0),
                    (64, 0),
                    (72, 0),
                    (80, 0),
                ],
            ),
        ];
        for (what, fields) in edges {
            let good = sealed_with(b.clone(), fields);
            assert!(Slot::decode(&good, 1).is_ok(), "{what} was rejected");
        }
    }

    #[test]
    fn a_slot_may_reference_the_most_index_pages_and_no_more() {
        let mut s = sample();
        s.alloc_index = (0..MAX_INDEX_REFS as u64)
            .map(|i| PageRef {
                page: 60 + i,
                checksum: i,
            })
            .collect();
        let (b, _) = s.encode(4096, 1);
        assert_eq!(Slot::decode(&b, 1).unwrap().0, s);
        let bad = sealed_with(b, &[(64, MAX_INDEX_REFS as u64 + 1)]);
        assert!(Slot::decode(&bad, 1).is_err());
    }

    #[test]
    fn a_buffer_of_exactly_the_slot_length_decodes() {
        let (b, _) = sample().encode(4096, 1);
        assert_eq!(Slot::decode(&b[..SLOT_LEN], 1).unwrap().0, sample());
        assert!(Slot::decode(&b[..SLOT_LEN - 1], 1).is_err());
    }
}
