//! What the simulated disk does wrong: fault rates, named disk profiles and
//! explicitly scheduled one-shot errors.
//!
//! Rates are probabilities in `0.0..=1.0`, drawn from the run's one RNG.
//! A rate of exactly `0.0` draws nothing, so turning a fault off does not
//! shift the random stream of the other choices.

/// Fault rates and crash behaviour of one simulated disk.
///
/// Build one from a named profile and adjust fields:
///
/// ```
/// use vellum_sim::FaultConfig;
/// let mut cfg = FaultConfig::profile("torn").unwrap();
/// cfg.capacity = Some(1 << 20);
/// assert_eq!(cfg.atomic_unit, 512);
/// assert!(FaultConfig::profile_names().contains(&"chaos"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    // --- crash (power loss) -------------------------------------------------
    /// Size in bytes of the unit a write tears at (1, 512 or 4096 are the
    /// usual devices). Units are aligned to file offsets, not to the write.
    pub atomic_unit: u64,
    /// At a crash, the probability that an unsynced write is kept whole.
    pub crash_keep_write: f64,
    /// At a crash, the probability that an unsynced write is torn (some of
    /// its units land). The rest (`1 - keep - tear`) are dropped whole.
    pub crash_tear_write: f64,
    /// At a crash, apply the kept writes in a random order (between
    /// `set_len` operations, which stay in place) instead of issue order.
    pub crash_reorder: bool,
    /// For each unit of a torn write that does not land, the probability
    /// that it holds garbage instead of its old bytes. Garbage never touches
    /// bytes outside the write's range.
    pub torn_garbage: f64,
    /// At a crash, the probability that an unsynced `set_len` persists
    /// (a growth may persist without the data written into it).
    pub crash_keep_set_len: f64,
    /// At a crash, the probability that each directory operation (create,
    /// rename, remove) not yet made durable by `sync_dir` persists.
    pub crash_keep_dir_op: f64,
    /// At a crash, regions exposed by a persisted growth that no landed
    /// write covers hold garbage instead of zeros.
    pub garbage_unwritten: bool,

    // --- reported errors ------------------------------------------------------
    /// Probability that a `read_at` fails with EIO.
    pub read_eio: f64,
    /// Probability that a `write_at` fails with EIO.
    pub write_eio: f64,
    /// Probability that a `sync` fails with EIO (and loses writes it covered).
    pub sync_eio: f64,
    /// Probability that a `write_at` fails with ENOSPC.
    pub write_enospc: f64,
    /// Probability that a growing `set_len` fails with ENOSPC.
    pub set_len_enospc: f64,
    /// Total bytes (sum of the lengths of all linked files) the disk holds;
    /// writes and growth past it fail with ENOSPC. `None` is unlimited.
    pub capacity: Option<u64>,
    /// Probability that a failed `write_at` (EIO or injected ENOSPC) still
    /// applied a prefix of its bytes (to the volatile cache).
    pub failed_write_partial: f64,
    /// Probability that a failed `sync` loses *all* the pending operations it
    /// covered; otherwise each is lost independently with probability 1/2
    /// (at least one is lost) and the others become durable.
    pub failed_sync_drop_all: f64,

    // --- silent corruption ----------------------------------------------------
    /// Probability, per successful `sync`, of flipping one random bit of the
    /// file's durable data.
    pub bit_flip: f64,
    /// Probability, per successful `sync`, of flipping one bit inside a
    /// durable log record: a write that began with the record magic `VLOG`
    /// and that an earlier successful sync made durable (FORMAT.md §2.3:
    /// damage to a record a later record vouches for must be an error).
    pub log_bit_flip: f64,
    /// Probability, per write covered by a successful `sync`, that the write
    /// is silently not applied to durable data (lost / stale write).
    pub lost_write: f64,
    /// Probability, per write covered by a successful `sync`, that it lands
    /// at a different page-aligned offset. At most one per run.
    pub misdirected_write: f64,
    /// Probability, per successful `sync`, that a random durable sector of
    /// the file becomes unreadable (EIO) until rewritten.
    pub latent_sector: f64,
}

/// Names accepted by [`FaultConfig::profile`].
pub const PROFILE_NAMES: &[&str] = &[
    "none", "torn", "strict4k", "byte", "errors", "silent", "chaos",
];

impl Default for FaultConfig {
    /// The `"torn"` profile.
    fn default() -> Self {
        FaultConfig::torn()
    }
}

impl FaultConfig {
    /// The profile called `name` (see [`PROFILE_NAMES`]), or `None`.
    ///
    /// - `none`: no injected faults; a crash only loses unsynced operations
    ///   (each write kept or dropped whole, reordered).
    /// - `torn`: 512 B sectors, aggressive tearing and reordering.
    /// - `strict4k`: like `torn` with a 4 KiB atomic unit.
    /// - `byte`: like `torn` with a 1-byte atomic unit and some garbage.
    /// - `errors`: `torn` plus EIO and ENOSPC rates.
    /// - `silent`: `torn` plus bit flips, lost and misdirected writes and
    ///   latent sector errors.
    /// - `chaos`: everything, garbage in torn and unwritten regions.
    /// - `deep`: the `torn` disk under the deep workload
    ///   ([`crate::deep`]: trees of depth 5+, files past 1 GiB); not in
    ///   [`PROFILE_NAMES`], so `all` does not rotate through it.
    pub fn profile(name: &str) -> Option<FaultConfig> {
        Some(match name {
            "none" => FaultConfig::none(),
            "torn" | "deep" => FaultConfig::torn(),
            "strict4k" => FaultConfig {
                atomic_unit: 4096,
                ..FaultConfig::torn()
            },
            "byte" => FaultConfig {
                atomic_unit: 1,
                torn_garbage: 0.1,
                ..FaultConfig::torn()
            },
            "errors" => FaultConfig::torn().with_errors(),
            "silent" => FaultConfig::torn().with_silent(),
            "chaos" => FaultConfig {
                torn_garbage: 0.25,
                garbage_unwritten: true,
                ..FaultConfig::torn().with_errors().with_silent()
            },
            _ => return None,
        })
    }

    /// The names of all profiles.
    pub fn profile_names() -> &'static [&'static str] {
        PROFILE_NAMES
    }

    /// No injected faults; a crash keeps or drops each unsynced operation
    /// whole (probability 1/2 each), in any order.
    pub fn none() -> FaultConfig {
        FaultConfig {
            atomic_unit: 512,
            crash_keep_write: 0.5,
            crash_tear_write: 0.0,
            crash_reorder: true,
            torn_garbage: 0.0,
            crash_keep_set_len: 0.5,
            crash_keep_dir_op: 0.5,
            garbage_unwritten: false,
            read_eio: 0.0,
            write_eio: 0.0,
            sync_eio: 0.0,
            write_enospc: 0.0,
            set_len_enospc: 0.0,
            capacity: None,
            failed_write_partial: 0.5,
            failed_sync_drop_all: 0.5,
            bit_flip: 0.0,
            log_bit_flip: 0.0,
            lost_write: 0.0,
            misdirected_write: 0.0,
            latent_sector: 0.0,
        }
    }

    /// 512-byte sectors; a crash keeps 35%, tears 40% and drops 25% of the
    /// unsynced writes, reordered; no reported errors, no silent faults.
    pub fn torn() -> FaultConfig {
        FaultConfig {
            crash_keep_write: 0.35,
            crash_tear_write: 0.4,
            torn_garbage: 0.05,
            ..FaultConfig::none()
        }
    }

    /// This configuration plus the reported-error rates of profile `errors`.
    pub fn with_errors(self) -> FaultConfig {
        FaultConfig {
            read_eio: 0.002,
            write_eio: 0.002,
            sync_eio: 0.01,
            write_enospc: 0.002,
            set_len_enospc: 0.01,
            ..self
        }
    }

    /// This configuration plus the silent-fault rates of profile `silent`.
    pub fn with_silent(self) -> FaultConfig {
        FaultConfig {
            bit_flip: 0.002,
            log_bit_flip: 0.004,
            lost_write: 0.001,
            misdirected_write: 0.001,
            latent_sector: 0.002,
            ..self
        }
    }

    /// This configuration with every reported error (EIO, ENOSPC, the
    /// capacity limit) turned off; crash behaviour and silent faults stay.
    pub fn without_errors(self) -> FaultConfig {
        FaultConfig {
            read_eio: 0.0,
            write_eio: 0.0,
            sync_eio: 0.0,
            write_enospc: 0.0,
            set_len_enospc: 0.0,
            capacity: None,
            ..self
        }
    }

    /// This configuration with every silent fault turned off.
    pub fn without_silent(self) -> FaultConfig {
        FaultConfig {
            bit_flip: 0.0,
            log_bit_flip: 0.0,
            lost_write: 0.0,
            misdirected_write: 0.0,
            latent_sector: 0.0,
            ..self
        }
    }

    /// Whether any silent (unreported) corruption can be injected by rate.
    pub fn has_silent_faults(&self) -> bool {
        self.bit_flip > 0.0
            || self.log_bit_flip > 0.0
            || self.lost_write > 0.0
            || self.misdirected_write > 0.0
            || self.latent_sector > 0.0
    }

    /// The atomic unit, at least 1.
    pub(crate) fn unit(&self) -> u64 {
        self.atomic_unit.max(1)
    }
}

/// The kinds of VFS operation, for scheduling errors and in the fault log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// [`vellum::vfs::Vfs::open`].
    Open,
    /// [`vellum::vfs::Vfs::exists`].
    Exists,
    /// [`vellum::vfs::Vfs::remove`].
    Remove,
    /// [`vellum::vfs::Vfs::rename`].
    Rename,
    /// [`vellum::vfs::Vfs::sync_dir`].
    SyncDir,
    /// [`vellum::vfs::VfsFile::read_at`].
    Read,
    /// [`vellum::vfs::VfsFile::write_at`].
    Write,
    /// [`vellum::vfs::VfsFile::sync`].
    Sync,
    /// [`vellum::vfs::VfsFile::set_len`].
    SetLen,
    /// [`vellum::vfs::VfsFile::len`].
    Len,
    /// [`vellum::vfs::VfsFile::try_lock`] and [`vellum::vfs::VfsFile::unlock`].
    Lock,
}

impl OpKind {
    pub(crate) fn code(self) -> u8 {
        self as u8
    }
}

/// An error the simulator can be told to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InjectedError {
    /// EIO. On `write_at` a prefix may have been applied; on `sync` some or
    /// all covered operations are lost for good.
    Eio,
    /// ENOSPC. On `write_at` a prefix may have been applied.
    Enospc,
}

/// One-shot errors scheduled by a test: "fail the `n`th next operation of
/// kind `k`".
#[derive(Clone, Debug, Default)]
pub(crate) struct ErrorSchedule {
    entries: Vec<(OpKind, u64, InjectedError)>,
}

impl ErrorSchedule {
    /// Fails the `n`th (1-based) next operation of `kind`.
    pub(crate) fn add(&mut self, kind: OpKind, n: u64, err: InjectedError) {
        self.entries.push((kind, n.max(1), err));
    }

    /// Counts one operation of `kind`; returns the error to inject, if any.
    /// When several entries fire at once the earliest scheduled wins and the
    /// others are consumed too.
    pub(crate) fn on_op(&mut self, kind: OpKind) -> Option<InjectedError> {
        let mut fired = None;
        self.entries.retain_mut(|(k, n, e)| {
            if *k != kind {
                return true;
            }
            *n -= 1;
            if *n == 0 {
                fired = fired.or(Some(*e));
                false
            } else {
                true
            }
        });
        fired
    }

    /// Forgets every scheduled error.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Whether any error is still scheduled.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_resolves() {
        for name in PROFILE_NAMES {
            let cfg = FaultConfig::profile(name).unwrap();
            assert!(cfg.crash_keep_write + cfg.crash_tear_write <= 1.0);
        }
        assert!(FaultConfig::profile("nope").is_none());
        assert_eq!(FaultConfig::profile("deep"), Some(FaultConfig::torn()));
        assert_eq!(FaultConfig::profile("strict4k").unwrap().atomic_unit, 4096);
        assert_eq!(FaultConfig::profile("byte").unwrap().atomic_unit, 1);
        assert!(!FaultConfig::none().has_silent_faults());
        assert!(FaultConfig::profile("chaos").unwrap().has_silent_faults());
    }

    #[test]
    fn schedule_fires_on_nth() {
        let mut s = ErrorSchedule::default();
        s.add(OpKind::Sync, 2, InjectedError::Eio);
        assert_eq!(s.on_op(OpKind::Write), None);
        assert_eq!(s.on_op(OpKind::Sync), None);
        assert_eq!(s.on_op(OpKind::Sync), Some(InjectedError::Eio));
        assert_eq!(s.on_op(OpKind::Sync), None);
        assert!(s.is_empty());
    }
}
