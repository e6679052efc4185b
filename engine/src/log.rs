//! The redo log: appending records and replaying them (FORMAT.md §2).

use crate::page::log_record::{self, Op, RecordHeader, HEADER_LEN};
use crate::pager::Pager;
use crate::Result;

/// Where the log of the current checkpoint is and how far it is written.
#[derive(Clone, Copy, Debug)]
pub struct LogState {
    /// Checkpoint id this log follows (the records' epoch).
    pub epoch: u64,
    /// First page of the extent.
    pub start: u64,
    /// Extent length in pages.
    pub pages: u64,
    /// Pages used by records so far.
    pub tail: u64,
    /// Header checksum of the last record (or the slot checksum).
    pub link: u64,
}

impl LogState {
    /// Pages a record with this payload occupies.
    pub fn record_pages(&self, payload_len: usize, page_size: usize) -> u64 {
        (HEADER_LEN + payload_len).div_ceil(page_size) as u64
    }

    /// Whether a record with this payload fits in the rest of the extent.
    pub fn fits(&self, payload_len: usize, page_size: usize) -> bool {
        self.tail + self.record_pages(payload_len, page_size) <= self.pages
    }

    /// Writes the record of transaction `txn` at the tail, with `durable`
    /// the highest transaction known durable (FORMAT.md §2.1). On success
    /// the tail and link advance; on error nothing changes.
    pub fn append(&mut self, pager: &Pager, txn: u64, durable: u64, payload: &[u8]) -> Result<()> {
        let ps = pager.page_size();
        assert!(
            self.fits(payload.len(), ps),
            "caller checks that the record fits"
        );
        assert!(durable < txn, "a record cannot vouch for itself");
        let (rec, link) = log_record::encode_record(self.epoch, txn, self.link, durable, payload);
        pager.write_at((self.start + self.tail) * ps as u64, &rec)?;
        self.tail += self.record_pages(payload.len(), ps);
        self.link = link;
        Ok(())
    }

    /// Overwrites the header of the record slot at the tail with zeros (not
    /// synced): after a failed [`LogState::append`], the bytes that did land
    /// together with what the extent already held (an earlier record with
    /// the same payload, say) may form a valid record there (FORMAT.md §3
    /// L3).
    pub fn erase_tail(&self, pager: &Pager) -> Result<()> {
        let ps = pager.page_size() as u64;
        pager.write_at((self.start + self.tail) * ps, &[0u8; HEADER_LEN])
    }
}

/// What recovery does with a log record that is damaged although a later
/// record shows it was durable (FORMAT.md §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damaged {
    /// Fail the open with `Error::Corruption` naming the record.
    Fail,
    /// End the log before it, as if it were torn (the user accepts the
    /// loss of that commit and every later one).
    Truncate,
}

/// Why the accepted records ended at a position of the extent.
enum End {
    /// The position holds what an unwritten tail holds: zeros, or a record
    /// of an older epoch (the extent was reused), or the extent is full.
    Clean,
    /// The position holds something else: a torn write, or damage.
    Suspect,
}

/// A record that passed every test, read from the tail.
struct Record {
    header: RecordHeader,
    /// Its header checksum (the next record's link).
    link: u64,
    /// Pages it occupies.
    pages: u64,
    /// Header and payload bytes (the pages' padding cut off).
    bytes: Vec<u8>,
}

impl Record {
    fn payload(&self) -> &[u8] {
        &self.bytes[HEADER_LEN..]
    }
}

/// What [`replay`] found.
#[derive(Debug)]
pub struct Replayed {
    /// The log state after the last accepted record.
    pub log: LogState,
    /// The last transaction replayed (the slot's when none was).
    pub last_txn: u64,
    /// With [`Damaged::Truncate`]: the transaction id of a damaged record
    /// that a later record vouched for, where the log was cut.
    pub cut_at: Option<u64>,
}

/// Reads the records accepted by FORMAT.md §2.3, calling `apply` for each
/// with its transaction id and operations. A record that ends the log
/// although a later record vouches for it is `Error::Corruption` (or, with
/// [`Damaged::Truncate`], the end of the log); I/O errors are returned.
pub fn replay(
    pager: &Pager,
    mut log: LogState,
    last_txn: u64,
    damaged: Damaged,
    apply: &mut dyn FnMut(u64, Vec<Op>) -> Result<()>,
) -> Result<Replayed> {
    let mut txn = last_txn;
    let mut cut_at = None;
    loop {
        match next_record(pager, &log, txn)? {
            Ok(r) => {
                let ops = log_record::decode_ops(r.payload(), log.start + log.tail)?;
                apply(r.header.txn, ops)?;
                txn = r.header.txn;
                log.tail += r.pages;
                log.link = r.link;
            }
            Err(End::Clean) => break,
            Err(End::Suspect) => {
                if let Some((at, by)) = vouching_header(pager, &log, txn + 1)? {
                    if damaged == Damaged::Truncate {
                        cut_at = Some(txn + 1);
                        break;
                    }
                    return Err(crate::Error::corrupt(
                        log.start + log.tail,
                        format!(
                            "log record of transaction {} is damaged, but the record of \
                                 transaction {} at page {at} shows it was durable",
                            txn + 1,
                            by
                        ),
                    ));
                }
                break;
            }
        }
    }
    Ok(Replayed {
        log,
        last_txn: txn,
        cut_at,
    })
}

/// The record at the tail if it passes every test of FORMAT.md §2.3
/// (header, link, payload length and checksum), else why the log ends.
fn next_record(
    pager: &Pager,
    log: &LogState,
    txn: u64,
) -> Result<std::result::Result<Record, End>> {
    let ps = pager.page_size();
    if log.tail >= log.pages {
        return Ok(Err(End::Clean));
    }
    let page = log.start + log.tail;
    let Some(first) = read_or_end(pager, page, 1)? else {
        return Ok(Err(End::Suspect));
    };
    let Some((h, link)) = RecordHeader::decode(&first) else {
        return Ok(Err(if first[..HEADER_LEN].iter().all(|&b| b == 0) {
            End::Clean
        } else {
            End::Suspect
        }));
    };
    if h.epoch > log.epoch {
        // Records of epoch k+1 are written only after slot k+1 is
        // durable (FORMAT.md §3 C5), so that slot existed and is now
        // damaged: rolling back to slot k would lose commits silently.
        return Err(crate::Error::corrupt(
            page,
            format!(
                "log holds records of checkpoint {} but the newest valid slot is {}",
                h.epoch, log.epoch
            ),
        ));
    }
    if h.epoch < log.epoch {
        return Ok(Err(End::Clean));
    }
    if h.txn != txn + 1 || h.prev != log.link {
        return Ok(Err(End::Suspect));
    }
    let pages = log.record_pages(h.payload_len as usize, ps);
    if log.tail + pages > log.pages {
        return Ok(Err(End::Suspect));
    }
    let mut bytes = first;
    if pages > 1 {
        // The first page is read already: only the rest.
        match read_or_end(pager, page + 1, pages - 1)? {
            Some(rest) => bytes.extend_from_slice(&rest),
            None => return Ok(Err(End::Suspect)),
        }
    }
    bytes.truncate(HEADER_LEN + h.payload_len as usize);
    let r = Record {
        header: h,
        link,
        pages,
        bytes,
    };
    if crate::checksum::checksum(r.payload()) != h.payload_checksum {
        return Ok(Err(End::Suspect));
    }
    Ok(Ok(r))
}

/// Pages of the extent read at a time while looking for evidence.
const SCAN_CHUNK: u64 = 64;

/// A header after the tail that vouches for transaction `u` (FORMAT.md
/// §2.3): epoch of this log, a later transaction, durable mark `>= u`.
/// Returns its page and transaction id.
fn vouching_header(pager: &Pager, log: &LogState, u: u64) -> Result<Option<(u64, u64)>> {
    let ps = pager.page_size();
    let mut p = log.tail + 1;
    while p < log.pages {
        let n = SCAN_CHUNK.min(log.pages - p);
        let Some(chunk) = read_or_end(pager, log.start + p, n)? else {
            return Ok(None);
        };
        for (i, page) in chunk.chunks_exact(ps).enumerate() {
            if let Some((h, _)) = RecordHeader::decode(page) {
                if h.epoch == log.epoch && h.txn > u && h.durable >= u {
                    return Ok(Some((log.start + p + i as u64, h.txn)));
                }
            }
        }
        p += n;
    }
    Ok(None)
}
/// Reads log pages; a read that fails verification (beyond the file, say)
/// is the end of the log (`None`), an I/O error is returned.
fn read_or_end(pager: &Pager, page: u64, pages: u64) -> Result<Option<Vec<u8>>> {
    match pager.read_pages(page, pages) {
        Ok(b) => Ok(Some(b)),
        Err(crate::Error::Io(e)) => Err(crate::Error::Io(e)),
        Err(_) => Ok(None),
    }
}
