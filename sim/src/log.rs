//! The log of every fault the simulated disk injected, so a checker knows
//! which misbehaviour it must tolerate (a reported error) or detect (silent
//! corruption).

use std::path::PathBuf;

use crate::crash::CrashReport;
use crate::faults::{InjectedError, OpKind};

/// Why a reported error was returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCause {
    /// Drawn by a rate of the [`crate::FaultConfig`].
    Rate,
    /// Scheduled by [`crate::SimVfs::fail_next`] or [`crate::SimVfs::fail_nth`].
    Scheduled,
    /// The write or growth would exceed [`crate::FaultConfig::capacity`].
    Capacity,
    /// The read touched a sector with a latent error.
    LatentSector,
}

/// One injected fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// A reported error: the operation returned EIO or ENOSPC.
    Error {
        /// The failed operation.
        op: OpKind,
        /// The error returned.
        error: InjectedError,
        /// Why.
        cause: ErrorCause,
        /// Offset (reads, writes) or length (`set_len`) of the operation.
        offset: u64,
        /// Length in bytes of the read or write; for a sync, the number of
        /// pending operations it covered.
        len: u64,
    },
    /// A failed `write_at` applied the first `applied` bytes anyway (to the
    /// volatile cache, from where they may become durable).
    PartialWrite {
        /// Offset of the write.
        offset: u64,
        /// Bytes of its prefix that were applied.
        applied: u64,
    },
    /// A failed `sync` lost `lost` of the `covered` pending operations for
    /// good (the others became durable). Reads may still return the lost
    /// data until a crash or [`crate::SimVfs::drop_caches`].
    SyncLoss {
        /// Pending operations the sync covered.
        covered: u64,
        /// Of those, how many can never become durable.
        lost: u64,
    },
    /// Silent: one bit of durable data was flipped.
    BitFlip {
        /// Byte offset in the file.
        offset: u64,
        /// Bit index in that byte (0 = least significant).
        bit: u8,
    },
    /// Silent: one bit of a durable log record was flipped.
    LogBitFlip {
        /// Byte offset in the file.
        offset: u64,
        /// Bit index in that byte (0 = least significant).
        bit: u8,
    },
    /// Silent: a sync reported success but this write was not applied to
    /// durable data (a lost or stale write).
    LostWrite {
        /// Offset of the lost write.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// Silent: a synced write landed at `landed_at` instead of `offset`
    /// (both page-aligned apart); the data at `offset` stayed old.
    MisdirectedWrite {
        /// Where the write was meant to go.
        offset: u64,
        /// Its length.
        len: u64,
        /// Where its bytes landed.
        landed_at: u64,
    },
    /// Silent until read: the sector at `offset` fails every read with EIO
    /// until a write touches it.
    LatentSector {
        /// Start of the sector.
        offset: u64,
        /// Sector size.
        len: u64,
    },
    /// A simulated power loss and what it did.
    Crash(CrashReport),
}

impl Fault {
    /// Whether this fault silently corrupts durable data (the checker must
    /// expect detection, never a wrong answer).
    pub fn is_silent(&self) -> bool {
        matches!(
            self,
            Fault::BitFlip { .. }
                | Fault::LogBitFlip { .. }
                | Fault::LostWrite { .. }
                | Fault::MisdirectedWrite { .. }
                | Fault::LatentSector { .. }
        )
    }

    /// Whether this fault was reported to the caller as an error.
    pub fn is_reported_error(&self) -> bool {
        matches!(self, Fault::Error { .. })
    }
}

/// A fault, when and where it was injected.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRecord {
    /// Number of VFS operations issued before this one (0-based index of
    /// the operation that injected it; for a crash, the count at the crash).
    pub op_index: u64,
    /// The file concerned (the path it was opened or named by); empty for
    /// a crash.
    pub path: PathBuf,
    /// What happened.
    pub fault: Fault,
}
