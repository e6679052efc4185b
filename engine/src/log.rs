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

    /// Writes the record of transaction `txn` at the tail. On success the
    /// tail and link advance; on error nothing changes.
    pub fn append(&mut self, pager: &Pager, txn: u64, payload: &[u8]) -> Result<()> {
        let ps = pager.page_size();
        assert!(
            self.fits(payload.len(), ps),
            "caller checks that the record fits"
        );
        let (rec, link) = log_record::encode_record(self.epoch, txn, self.link, payload);
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

/// Reads the records accepted by FORMAT.md §2.3, calling `apply` for each
/// with its transaction id and operations. Returns the log state after the
/// last accepted record. Read errors end the log like a torn record would,
/// except I/O errors, which are returned.
pub fn replay(
    pager: &Pager,
    mut log: LogState,
    last_txn: u64,
    apply: &mut dyn FnMut(u64, Vec<Op>) -> Result<()>,
) -> Result<(LogState, u64)> {
    let ps = pager.page_size();
    let mut txn = last_txn;
    while log.tail < log.pages {
        let page = log.start + log.tail;
        let Some(first) = read_or_end(pager, page, 1)? else {
            break;
        };
        let Some((h, link)) = RecordHeader::decode(&first) else {
            break;
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
        if h.epoch != log.epoch || h.txn != txn + 1 || h.prev != log.link {
            break;
        }
        let pages = log.record_pages(h.payload_len as usize, ps);
        if log.tail + pages > log.pages {
            break;
        }
        let whole = if pages == 1 {
            first
        } else {
            match read_or_end(pager, page, pages)? {
                Some(b) => b,
                None => break,
            }
        };
        let payload = &whole[HEADER_LEN..HEADER_LEN + h.payload_len as usize];
        if crate::checksum::checksum(payload) != h.payload_checksum {
            break;
        }
        let ops = log_record::decode_ops(payload, page)?;
        apply(h.txn, ops)?;
        txn = h.txn;
        log.tail += pages;
        log.link = link;
    }
    Ok((log, txn))
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
