//! Target `decode_page`: every page decoder on arbitrary bytes.
//!
//! Each decoder must return `Ok` or an error, never panic. Whatever decodes
//! is encoded again and must decode to the same value (and, where the
//! encoding is canonical, to the same bytes): an encoder that panics on a
//! value its decoder accepted is a finding too.

use vellum::page::log_record::{self, RecordHeader};
use vellum::page::node::Node;
use vellum::page::slot::Slot;
use vellum::page::{alloc_pages, file_header, overflow, HEADER_LEN};

/// The largest input looked at (a page is at most 64 KiB).
const MAX_PAGE_BYTES: usize = 65536;

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn nodes(bytes: &[u8], page: u64) {
    let Ok(node) = Node::decode(bytes, page) else {
        return;
    };
    let checkpoint = u64_at(bytes, 16).expect("a decoded page has a header");
    let again = node.encode(page, checkpoint).into_vec();
    assert_eq!(again.len(), bytes.len(), "re-encoded node changed size");
    let back = Node::decode(&again, page).expect("a re-encoded node decodes");
    assert_eq!(back, node, "node round trip changed the node");
    assert!(
        again == bytes,
        "Node::decode accepted a non-canonical page (re-encoding differs)"
    );
}

fn allocator_pages(bytes: &[u8], page: u64) {
    if let Ok(words) = alloc_pages::decode_bitmap(bytes, page) {
        let checkpoint = u64_at(bytes, 16).expect("a decoded page has a header");
        let again = alloc_pages::encode_bitmap(&words, page, checkpoint, bytes.len());
        assert_eq!(again.len(), bytes.len());
        assert_eq!(
            &again[HEADER_LEN..],
            &bytes[HEADER_LEN..],
            "bitmap body changed"
        );
        let back = alloc_pages::decode_bitmap(&again, page).expect("re-encoded bitmap decodes");
        assert_eq!(back, words, "bitmap round trip");
    }
    if let Ok(refs) = alloc_pages::decode_index(bytes, page) {
        let checkpoint = u64_at(bytes, 16).expect("a decoded page has a header");
        let again = alloc_pages::encode_index(&refs, page, checkpoint, bytes.len());
        let back = alloc_pages::decode_index(&again, page).expect("re-encoded index decodes");
        assert_eq!(back, refs, "index round trip");
    }
}

fn overflow_runs(bytes: &[u8], page: u64) {
    let body = bytes.len().saturating_sub(HEADER_LEN);
    let trimmed = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| (i + 1).saturating_sub(HEADER_LEN));
    let from_input = u32_at(bytes, 4).unwrap_or(0) as usize;
    for len in [body, trimmed, from_input] {
        if let Ok(v) = overflow::decode(bytes, page, len) {
            assert_eq!(v.len(), len, "overflow value of the wrong length");
            assert_eq!(&bytes[HEADER_LEN..HEADER_LEN + len], &v[..]);
        }
    }
}

fn slots(bytes: &[u8]) {
    for slot_page in [1u64, 2] {
        let Ok((slot, checksum, seq)) = Slot::decode(bytes, slot_page) else {
            continue;
        };
        let (again, c) = slot.encode(bytes.len(), seq);
        let (back, c2, seq2) = Slot::decode(&again, slot_page).expect("re-encoded slot decodes");
        assert_eq!(back, slot, "slot round trip");
        assert_eq!(
            (c, c2, seq2),
            (checksum, checksum, seq),
            "slot checksum round trip"
        );
    }
}

fn log_records(bytes: &[u8]) {
    if let Some((h, c)) = RecordHeader::decode(bytes) {
        let (again, c2) = h.encode();
        assert_eq!(c, c2, "record header checksum round trip");
        assert_eq!(
            &again[..],
            &bytes[..log_record::HEADER_LEN],
            "record header round trip"
        );
        let start = log_record::HEADER_LEN;
        if let Some(payload) = bytes.get(start..start + h.payload_len as usize) {
            ops(payload);
        }
    }
    ops(bytes);
    ops(bytes.get(log_record::HEADER_LEN..).unwrap_or(&[]));
}

fn ops(payload: &[u8]) {
    let Ok(ops) = log_record::decode_ops(payload, 0) else {
        return;
    };
    let mut again = Vec::with_capacity(payload.len());
    for op in &ops {
        match op {
            log_record::Op::Put { bucket, key, value } => log_record::encode_op(
                &mut again,
                bucket,
                log_record::op::PUT,
                Some(key),
                Some(value),
            ),
            log_record::Op::Delete { bucket, key } => {
                log_record::encode_op(&mut again, bucket, log_record::op::DELETE, Some(key), None)
            }
            log_record::Op::CreateBucket(b) => {
                log_record::encode_op(&mut again, b, log_record::op::CREATE, None, None)
            }
            log_record::Op::DropBucket(b) => {
                log_record::encode_op(&mut again, b, log_record::op::DROP, None, None)
            }
            log_record::Op::SetSequence { bucket, value } => {
                log_record::encode_set_sequence(&mut again, bucket, *value)
            }
        }
    }
    assert!(again == payload, "log payload round trip changed the bytes");
}

/// Feeds `data` (at most 64 KiB of it) to every page decoder: tree nodes,
/// allocator bitmap and index pages and overflow runs (as the page named in
/// their own header and as page 3), checkpoint slots (as pages 1 and 2),
/// log record headers and payloads, and the file header.
///
/// # Panics
/// When a decoder panics, or a decoded value does not survive re-encoding.
pub fn run_decode_page(data: &[u8]) {
    let bytes = &data[..data.len().min(MAX_PAGE_BYTES)];
    let own = u64_at(bytes, 8);
    for page in own.into_iter().chain([3u64]) {
        nodes(bytes, page);
        allocator_pages(bytes, page);
        overflow_runs(bytes, page);
    }
    slots(bytes);
    log_records(bytes);
    if let Ok(file_header::HeaderState::Valid { page_size }) = file_header::decode(bytes) {
        assert!(page_size.is_power_of_two() && (1024..=65536).contains(&page_size));
    }
}
