//! Log records: one per committed transaction (FORMAT.md §2).

use super::Reader;
use crate::checksum::checksum;
use crate::{Error, Result};

/// Magic bytes of a record header.
pub const MAGIC: &[u8; 4] = b"VLOG";
/// Length of a record header.
pub const HEADER_LEN: usize = 56;

/// One logical operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value` in `bucket` (empty name = default bucket).
    Put {
        /// Bucket name.
        bucket: Vec<u8>,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
    },
    /// Remove `key` from `bucket`.
    Delete {
        /// Bucket name.
        bucket: Vec<u8>,
        /// Key.
        key: Vec<u8>,
    },
    /// Create the named bucket.
    CreateBucket(Vec<u8>),
    /// Drop the named bucket and its content.
    DropBucket(Vec<u8>),
    /// Set `bucket`'s sequence to `value` (FORMAT.md §2.2 op 5): logged by
    /// every `next_id` and by a `set_sequence` that raised it.
    SetSequence {
        /// Bucket name.
        bucket: Vec<u8>,
        /// The new sequence, greater than the bucket's current one.
        value: u64,
    },
}

/// Appends the encoding of one operation to a payload.
pub fn encode_op(
    out: &mut Vec<u8>,
    bucket: &[u8],
    op: u8,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    out.push(op);
    out.extend_from_slice(&(bucket.len() as u16).to_le_bytes());
    out.extend_from_slice(bucket);
    if let Some(k) = key {
        out.extend_from_slice(&(k.len() as u16).to_le_bytes());
        out.extend_from_slice(k);
    }
    if let Some(v) = value {
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// Appends the encoding of a *set sequence* operation (op 5) to a payload.
pub fn encode_set_sequence(out: &mut Vec<u8>, bucket: &[u8], value: u64) {
    encode_op(out, bucket, op::SET_SEQUENCE, None, None);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Op byte values.
pub mod op {
    /// Put.
    pub const PUT: u8 = 1;
    /// Delete.
    pub const DELETE: u8 = 2;
    /// Create bucket.
    pub const CREATE: u8 = 3;
    /// Drop bucket.
    pub const DROP: u8 = 4;
    /// Set sequence.
    pub const SET_SEQUENCE: u8 = 5;
}

/// Decodes a payload into operations.
pub fn decode_ops(payload: &[u8], page: u64) -> Result<Vec<Op>> {
    let mut r = Reader::new(payload, page);
    let mut ops = Vec::new();
    while r.remaining() > 0 {
        let code = r.u8()?;
        let blen = r.u16()? as usize;
        let bucket = r.bytes(blen)?.to_vec();
        let op = match code {
            op::PUT => {
                let klen = r.u16()? as usize;
                let key = r.bytes(klen)?.to_vec();
                let vlen = r.u32()? as usize;
                let value = r.bytes(vlen)?.to_vec();
                Op::Put { bucket, key, value }
            }
            op::DELETE => {
                let klen = r.u16()? as usize;
                let key = r.bytes(klen)?.to_vec();
                Op::Delete { bucket, key }
            }
            op::CREATE => Op::CreateBucket(bucket),
            op::DROP => Op::DropBucket(bucket),
            op::SET_SEQUENCE => Op::SetSequence {
                bucket,
                value: r.u64()?,
            },
            _ => return Err(Error::corrupt(page, format!("unknown log op {code}"))),
        };
        ops.push(op);
    }
    Ok(ops)
}

/// A record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Payload length.
    pub payload_len: u32,
    /// Checkpoint id this log follows.
    pub epoch: u64,
    /// Transaction id.
    pub txn: u64,
    /// Header checksum of the previous record (or the slot checksum).
    pub prev: u64,
    /// The highest transaction id the writer knew durable when it wrote
    /// this record (FORMAT.md §2.1): evidence that earlier records were.
    pub durable: u64,
    /// Checksum of the payload.
    pub payload_checksum: u64,
}

impl RecordHeader {
    /// Encodes the header; returns the bytes and the header checksum.
    pub fn encode(&self) -> ([u8; HEADER_LEN], u64) {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&self.payload_len.to_le_bytes());
        b[8..16].copy_from_slice(&self.epoch.to_le_bytes());
        b[16..24].copy_from_slice(&self.txn.to_le_bytes());
        b[24..32].copy_from_slice(&self.prev.to_le_bytes());
        b[32..40].copy_from_slice(&self.durable.to_le_bytes());
        b[40..48].copy_from_slice(&self.payload_checksum.to_le_bytes());
        let c = checksum(&b[0..48]);
        b[48..56].copy_from_slice(&c.to_le_bytes());
        (b, c)
    }

    /// Decodes a header; `None` if the magic or header checksum is wrong
    /// (the end of the log, not an error).
    pub fn decode(b: &[u8]) -> Option<(RecordHeader, u64)> {
        if b.len() < HEADER_LEN || &b[0..4] != MAGIC {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        let c = u64_at(48);
        if checksum(&b[0..48]) != c {
            return None;
        }
        Some((
            RecordHeader {
                payload_len: u32::from_le_bytes(b[4..8].try_into().unwrap()),
                epoch: u64_at(8),
                txn: u64_at(16),
                prev: u64_at(24),
                durable: u64_at(32),
                payload_checksum: u64_at(40),
            },
            c,
        ))
    }
}

/// Builds a full record (header + payload); returns it with its header
/// checksum.
pub fn encode_record(
    epoch: u64,
    txn: u64,
    prev: u64,
    durable: u64,
    payload: &[u8],
) -> (Vec<u8>, u64) {
    let h = RecordHeader {
        payload_len: u32::try_from(payload.len()).expect("payload fits u32"),
        epoch,
        txn,
        prev,
        durable,
        payload_checksum: checksum(payload),
    };
    let (hb, c) = h.encode();
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&hb);
    out.extend_from_slice(payload);
    (out, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_ops_round_trip() {
        let mut p = Vec::new();
        encode_op(&mut p, b"", op::PUT, Some(b"k"), Some(b"v"));
        encode_op(&mut p, b"users", op::DELETE, Some(b"k2"), None);
        encode_op(&mut p, b"b", op::CREATE, None, None);
        encode_op(&mut p, b"b", op::DROP, None, None);
        encode_set_sequence(&mut p, b"", 7);
        encode_set_sequence(&mut p, b"b", u64::MAX);
        let (rec, c) = encode_record(3, 10, 77, 8, &p);
        let (h, c2) = RecordHeader::decode(&rec).unwrap();
        assert_eq!(c, c2);
        assert_eq!((h.epoch, h.txn, h.prev, h.durable), (3, 10, 77, 8));
        assert_eq!(h.payload_checksum, checksum(&rec[HEADER_LEN..]));
        let ops = decode_ops(&rec[HEADER_LEN..], 0).unwrap();
        assert_eq!(
            ops,
            vec![
                Op::Put {
                    bucket: vec![],
                    key: b"k".to_vec(),
                    value: b"v".to_vec()
                },
                Op::Delete {
                    bucket: b"users".to_vec(),
                    key: b"k2".to_vec()
                },
                Op::CreateBucket(b"b".to_vec()),
                Op::DropBucket(b"b".to_vec()),
                Op::SetSequence {
                    bucket: vec![],
                    value: 7
                },
                Op::SetSequence {
                    bucket: b"b".to_vec(),
                    value: u64::MAX
                },
            ]
        );
        let mut torn = rec.clone();
        torn[20] ^= 1;
        assert!(RecordHeader::decode(&torn).is_none());
        // A payload cut anywhere inside an operation is corruption.
        for cut in 1..p.len() {
            let r = decode_ops(&p[..cut], 0);
            assert!(
                r.is_ok() || matches!(r, Err(Error::Corruption { .. })),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            decode_ops(&p[..p.len() - 1], 0),
            Err(Error::Corruption { .. })
        ));
    }
}
