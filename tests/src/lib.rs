//! Shared helpers for vellum integration tests.
//!
//! - [`fail_vfs`]: a [`vellum::vfs::Vfs`] wrapper that injects I/O errors
//!   (EIO, ENOSPC, torn writes, a disk capacity) on chosen operations.
//! - [`crash_vfs`]: a [`vellum::vfs::Vfs`] wrapper that remembers what was
//!   synced and builds power-loss images (unsynced writes lost or torn).
//! - [`crafted`]: a builder of database files with valid checksums and
//!   hostile contents, written from docs/FORMAT.md.
//! - [`util`]: a seeded RNG, whole-database dumps and small assertions.

pub mod crafted;
pub mod crash_vfs;
pub mod crash_workload;
pub mod fail_vfs;
pub mod fuzz_targets;
pub mod util;
