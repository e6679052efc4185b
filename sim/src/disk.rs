//! The state of one simulated file (an inode): its durable bytes, its
//! volatile view and the pending operations between them.
//!
//! - `durable` is what survives a crash for sure.
//! - `pending` holds every `write_at` and `set_len` since the last `sync`, in
//!   issue order; a crash keeps, drops, tears and reorders them.
//! - `volatile` is what reads return: normally `durable` with `pending`
//!   applied. After a failed sync it may still hold data that was lost for
//!   good (like a page cache whose dirty pages were marked clean, the
//!   "fsyncgate" behaviour), until a crash or an explicit cache drop.
//! - `latent` holds the sectors with latent read errors.
//!
//! Both byte layers are [`Sparse`]: chunks nobody wrote read as zeros and
//! cost no memory, and the volatile view shares its chunks with the
//! durable bytes until one of them changes, so a file of 1 GiB costs what
//! was written to it.

use std::collections::BTreeSet;

use crate::sparse::Sparse;

/// Granularity of latent sector errors, in bytes.
pub const SECTOR_SIZE: u64 = 512;
/// Granularity of misdirected writes, in bytes.
pub const PAGE_SIZE: u64 = 4096;
/// Largest file the simulator holds in memory (4 GiB); larger is EFBIG.
pub const MAX_FILE_SIZE: u64 = 1 << 32;

/// A volatile operation not yet made durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PendingOp {
    /// `write_at(data, offset)`.
    Write { offset: u64, data: Vec<u8> },
    /// `set_len(len)`.
    SetLen { len: u64 },
}

/// One inode.
#[derive(Clone, Debug, Default)]
pub(crate) struct FileState {
    pub(crate) durable: Sparse,
    pub(crate) volatile: Sparse,
    pub(crate) pending: Vec<PendingOp>,
    pub(crate) latent: BTreeSet<u64>,
    /// Durable writes that began with the log record magic, as (offset,
    /// length, hash of the bytes), made durable by successful syncs: where
    /// a log bit flip may land ([`crate::faults::FaultConfig::log_bit_flip`])
    /// while the bytes there are still exactly that record.
    pub(crate) log_records: Vec<(u64, u64, u64)>,
}

/// Why a read failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// The range ends past the end of the file.
    Eof,
    /// The range touches the latent sector with this index.
    Latent(u64),
}

impl FileState {
    /// Length as seen by reads.
    pub(crate) fn len(&self) -> u64 {
        self.volatile.len()
    }

    /// Reads from the volatile view.
    pub(crate) fn read(&self, buf: &mut [u8], offset: u64) -> Result<(), ReadFailure> {
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(ReadFailure::Eof)?;
        if end > self.len() {
            return Err(ReadFailure::Eof);
        }
        if let Some(s) = self.first_latent_in(offset, end) {
            return Err(ReadFailure::Latent(s));
        }
        self.volatile.read(buf, offset);
        Ok(())
    }

    /// The first latent sector overlapping `start..end`.
    fn first_latent_in(&self, start: u64, end: u64) -> Option<u64> {
        if self.latent.is_empty() || end <= start {
            return None;
        }
        let first = start / SECTOR_SIZE;
        let last = (end - 1) / SECTOR_SIZE;
        self.latent.range(first..=last).next().copied()
    }

    /// Records a write in the volatile view and the pending list. A write
    /// touching a latent sector repairs it (the drive remaps the sector).
    pub(crate) fn write(&mut self, data: &[u8], offset: u64) {
        if data.is_empty() {
            return;
        }
        self.volatile.write(offset, data);
        let end = offset + data.len() as u64;
        let sectors: Vec<u64> = self
            .latent
            .range(offset / SECTOR_SIZE..=(end - 1) / SECTOR_SIZE)
            .copied()
            .collect();
        for s in sectors {
            self.latent.remove(&s);
        }
        self.pending.push(PendingOp::Write {
            offset,
            data: data.to_vec(),
        });
    }

    /// Records a `set_len` in the volatile view and the pending list.
    pub(crate) fn set_len(&mut self, len: u64) {
        self.volatile.set_len(len);
        self.latent.retain(|&s| s * SECTOR_SIZE < len);
        self.pending.push(PendingOp::SetLen { len });
    }

    /// Rebuilds the volatile view as `durable` with `pending` applied
    /// (forgets data a failed sync lost, shows silent corruption).
    pub(crate) fn rebuild_volatile(&mut self) {
        let mut v = self.durable.clone();
        for op in &self.pending {
            apply_op(&mut v, op);
        }
        self.volatile = v;
    }

    /// Makes `durable` the whole truth: no pending operations, volatile view
    /// equal to durable (after a crash).
    pub(crate) fn reset_to_durable(&mut self) {
        self.pending.clear();
        self.volatile = self.durable.clone();
    }
}

/// Applies `op` to `buf`.
pub(crate) fn apply_op(buf: &mut Sparse, op: &PendingOp) {
    match op {
        PendingOp::Write { offset, data } => buf.write(*offset, data),
        PendingOp::SetLen { len } => buf.set_len(*len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_sees_pending_durable_does_not() {
        let mut f = FileState::default();
        f.write(b"abc", 2);
        assert_eq!(f.volatile, b"\0\0abc");
        assert!(f.durable.is_empty());
        let mut b = [0u8; 3];
        f.read(&mut b, 2).unwrap();
        assert_eq!(&b, b"abc");
        assert_eq!(f.read(&mut b, 3), Err(ReadFailure::Eof));
        f.set_len(3);
        assert_eq!(f.volatile, b"\0\0a");
        f.rebuild_volatile();
        assert_eq!(f.volatile, b"\0\0a");
        f.reset_to_durable();
        assert!(f.volatile.is_empty());
    }

    #[test]
    fn latent_sector_blocks_reads_until_written() {
        let mut f = FileState::default();
        f.write(&[1u8; 2048], 0);
        f.latent.insert(2);
        let mut b = [0u8; 10];
        f.read(&mut b, 0).unwrap();
        assert_eq!(f.read(&mut b, 1020), Err(ReadFailure::Latent(2)));
        f.write(&[2u8; 1], 1100);
        f.read(&mut b, 1020).unwrap();
    }
}
