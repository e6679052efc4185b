//! Counters of what the simulated disk did, and the running trace hash used
//! to check that a run is deterministic.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Counters of one simulated disk, since it was created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every VFS operation issued (including failed ones, excluding calls on
    /// handles killed by a crash).
    pub ops: u64,
    /// `open` calls.
    pub opens: u64,
    /// `read_at` calls.
    pub reads: u64,
    /// `write_at` calls.
    pub writes: u64,
    /// Bytes passed to successful `write_at` calls.
    pub bytes_written: u64,
    /// `sync` calls.
    pub syncs: u64,
    /// `sync_dir` calls.
    pub dir_syncs: u64,
    /// `set_len` calls.
    pub set_lens: u64,
    /// `rename` and `remove` calls.
    pub dir_ops: u64,
    /// Simulated power losses.
    pub crashes: u64,
    /// Unsynced writes a crash kept whole.
    pub crash_writes_kept: u64,
    /// Unsynced writes a crash tore.
    pub crash_writes_torn: u64,
    /// Unsynced writes a crash dropped.
    pub crash_writes_dropped: u64,
    /// Unsynced `set_len` operations a crash dropped.
    pub crash_set_lens_dropped: u64,
    /// Unsynced directory operations a crash dropped.
    pub crash_dir_ops_dropped: u64,
    /// Errors returned by injection (rates, schedule, capacity, latent
    /// sectors).
    pub injected_errors: u64,
    /// Pending operations lost for good by failed syncs.
    pub sync_lost_ops: u64,
    /// Silent faults injected (bit flips, lost, misdirected writes, latent
    /// sectors).
    pub silent_faults: u64,
    /// Of those, bit flips aimed inside durable log records.
    pub log_bit_flips: u64,
    /// The largest length any file reached (as reads see it).
    pub max_file_len: u64,
}

/// A running 64-bit hash over every operation and its result.
#[derive(Clone, Debug)]
pub(crate) struct TraceHash {
    state: u64,
}

impl TraceHash {
    pub(crate) fn new(seed: u64) -> Self {
        TraceHash {
            state: xxh3_64_with_seed(b"vellum-sim trace", seed),
        }
    }

    /// Folds one event (a tag and a few numbers) into the hash.
    pub(crate) fn record(&mut self, tag: u8, values: &[u64]) {
        let mut buf = Vec::with_capacity(1 + values.len() * 8);
        buf.push(tag);
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        self.state = xxh3_64_with_seed(&buf, self.state);
    }

    pub(crate) fn value(&self) -> u64 {
        self.state
    }
}

/// Hash of a byte string, for folding data into the trace.
pub(crate) fn hash_bytes(data: &[u8]) -> u64 {
    xxh3_64(data)
}

/// Hash of a path, for folding names into the trace.
pub(crate) fn hash_path(path: &std::path::Path) -> u64 {
    xxh3_64(path.to_string_lossy().as_bytes())
}
