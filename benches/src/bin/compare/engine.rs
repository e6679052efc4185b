//! The interface every engine adapter implements, and the workload's
//! operations. Each adapter lives in its own file (`vellum_engine.rs`,
//! `redb_engine.rs`, ...) so that an API change touches one small file.

use std::path::PathBuf;

use vellum_bench::{Key, Value};

/// Errors of an adapter (the child process reports them and exits).
pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One operation of a write transaction.
pub enum Op {
    /// Insert or overwrite.
    Put(Key, Value),
    /// Delete (the key exists in this workload).
    Delete(Key),
}

/// Where and how an engine opens its database.
pub struct Setup {
    /// A directory of its own (created, empty on first open); every file the
    /// engine creates goes under it.
    pub dir: PathBuf,
    /// The cache budget, in bytes.
    pub cache_bytes: u64,
    /// Keys the workload loads (LMDB sizes its map from it).
    #[cfg_attr(not(feature = "heed"), allow(dead_code))]
    pub keys: usize,
}

/// An open database of one engine. `Sync`: the multi-threaded rows share
/// one handle between threads.
pub trait Engine: Sync {
    /// Applies `ops` in ONE write transaction and commits it durably (the
    /// commit has been synced to disk when this returns).
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()>;

    /// Gets `keys[i]` for every `i` in `idx`, all in ONE read transaction.
    /// Returns the sum of the values' lengths plus their first bytes (so
    /// that every value's bytes are touched); panics on a missing key.
    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64>;

    /// For every `i` in `idx`, reads up to `len` entries from `keys[i]`
    /// (inclusive) in key order, all in ONE read transaction. Returns
    /// (entries read, sum of key and value lengths plus their first bytes).
    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)>;

    /// Called once before `n` threads use the handle at the same time
    /// (SQLite opens its per-thread connections here, outside the timing).
    fn prepare_threads(&self, _n: usize) -> Res<()> {
        Ok(())
    }

    /// Closes the database (everything the engine does on close is timed).
    fn close(self: Box<Self>) -> Res<()>;
}

/// Touches a value: its length plus its first byte.
#[inline]
pub fn touch(v: &[u8]) -> u64 {
    v.len() as u64 + u64::from(v.first().copied().unwrap_or(0))
}

/// An engine the binary knows, compiled in or not.
pub struct EngineInfo {
    /// Name on the command line (`--engines`).
    pub name: &'static str,
    /// Column heading.
    pub label: &'static str,
    /// The crate providing it (its version is read from Cargo.lock).
    pub crate_name: &'static str,
    /// How durability is configured.
    pub durability: &'static str,
    /// How the cache budget is applied.
    pub cache: &'static str,
    /// Opens (creating if needed) the database under `setup.dir`.
    pub open: fn(&Setup) -> Res<Box<dyn Engine>>,
}
