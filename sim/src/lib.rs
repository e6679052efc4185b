//! Deterministic simulator for vellum.
//!
//! This crate supplies [`SimVfs`], an in-memory implementation of the
//! engine's [`vellum::vfs::Vfs`] whose disk loses, reorders and tears
//! unsynced writes at a simulated power loss, injects reported errors (EIO,
//! ENOSPC) and silent corruption (bit flips, lost and misdirected writes,
//! latent sector errors), and draws every choice from one seeded RNG, so a
//! whole run is a pure function of its seed and of the calls made.
//!
//! Modules, one concept each:
//! - [`fs`]: [`SimVfs`], the disk as a `Vfs`, crash and inspection API;
//! - [`mod@file`]: [`SimFile`], an open handle, and per-operation errors;
//! - [`control`]: explicit, one-shot fault injection;
//! - [`faults`]: [`FaultConfig`] rates and the named disk profiles;
//! - [`disk`]: durable bytes, volatile view and pending ops of one file;
//! - [`sparse`]: a file's bytes in chunks, unwritten ones costing nothing;
//! - [`sync`]: what a (failed) sync makes durable;
//! - [`crash`]: how a crash resolves pending writes (keep, drop, tear,
//!   reorder);
//! - [`namespace`]: directory entries and `sync_dir`;
//! - [`lock`]: advisory locks; [`log`]: the injected-fault log;
//! - [`stats`]: counters and the trace hash; [`rng`]: the seeded RNG;
//! - [`error`]: the simulator's I/O error payloads.
//!
//! The runner, on top of the disk (see `docs/TESTING.md`):
//! - [`workload`]: ops as data and the seeded generator;
//! - [`deep`]: the `deep` profile's workload (depth 5+, files past 1 GiB);
//! - [`runner`]: runs a case against the engine and the model, checking
//!   every result, snapshot, recovery, integrity and page accounting;
//! - [`case`]: case files (seed, profile, options, op list);
//! - [`shrink`]: delta debugging of failing cases;
//! - [`coverage`]: what a run reached (splits, merges, overflow, reuse...);
//! - [`campaign`]: many seeds on all cores, with replay commands.
//!
//! Fault semantics in brief (details in each module):
//! - `write_at`/`set_len` go to a per-file volatile cache that reads see;
//!   `sync` makes that file's earlier operations durable; `sync_dir` makes
//!   creations, renames and removals in that directory durable.
//! - [`SimVfs::crash`]: each unsynced write is kept, dropped or torn at the
//!   atomic unit (left part, right part or random units; non-landed units
//!   old or garbage), kept writes are reordered, each unsynced `set_len` and
//!   directory operation persists or not; handles die, locks are released.
//! - [`SimVfs::schedule_crash_after`]: after `n` more operations every
//!   operation fails until `crash()` is called.
//! - Reported errors by rate or [`SimVfs::fail_nth`]: EIO on read, write,
//!   sync; ENOSPC on write, set_len and past [`FaultConfig::capacity`]. A
//!   failed sync loses some or all of what it covered, for good; a failed
//!   write may have applied a prefix.
//! - Silent faults by rate or explicit call: bit flips, lost writes, one
//!   misdirected write per run, latent sector errors; all logged in
//!   [`SimVfs::injected_faults`].

pub mod campaign;
pub mod case;
pub mod control;
pub mod coverage;
pub mod crash;
pub mod deep;
pub mod disk;
pub mod error;
pub mod faults;
pub mod file;
pub mod fs;
pub mod lock;
pub mod log;
pub mod namespace;
pub mod rng;
pub mod runner;
pub mod shrink;
pub mod sparse;
pub mod stats;
pub mod sync;
pub mod workload;

pub use case::Case;
pub use coverage::Coverage;
pub use crash::CrashReport;
pub use error::SimIoError;
pub use faults::{FaultConfig, InjectedError, OpKind, PROFILE_NAMES};
pub use file::SimFile;
pub use fs::SimVfs;
pub use log::{ErrorCause, Fault, FaultRecord};
pub use runner::{run_case, Failure, FailureKind, RunOptions, RunReport};
pub use stats::SimStats;
