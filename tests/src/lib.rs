//! Shared helpers for vellum integration tests.
//!
//! - [`fail_vfs`]: a [`vellum::vfs::Vfs`] wrapper that injects I/O errors
//!   (EIO, ENOSPC, torn writes, a disk capacity) on chosen operations.
//! - [`util`]: a seeded RNG, whole-database dumps and small assertions.

pub mod fail_vfs;
pub mod util;
