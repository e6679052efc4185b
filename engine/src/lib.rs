//! vellum: an embedded, crash-safe, ordered key-value store.
//!
//! A copy-on-write B+ tree with a redo log: every commit appends one log
//! record and (by default) syncs once; checkpoints write changed tree pages
//! copy-on-write. Every page is checksummed by its parent. See
//! `docs/ARCHITECTURE.md` and `docs/FORMAT.md` in the repository.
//!
//! ```
//! use vellum::Db;
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("quick.vellum")).unwrap();
//! db.update(|tx| {
//!     tx.put(b"apple", b"1")?;
//!     tx.put(b"banana", b"2")?;
//!     let users = tx.create_bucket(b"users")?;
//!     users.put(b"alice", b"admin")
//! })
//! .unwrap();
//! let tx = db.begin_read().unwrap();
//! assert_eq!(tx.get(b"apple").unwrap().as_deref(), Some(&b"1"[..]));
//! let keys: Vec<_> = tx.iter().map(|e| e.unwrap().key().to_vec()).collect();
//! assert_eq!(keys, vec![b"apple".to_vec(), b"banana".to_vec()]);
//! ```
#![warn(missing_docs)]

/// Declares the engine's internal modules: private in a normal build (the
/// API is what the crate root re-exports, plus [`vfs`]), public but hidden
/// from the documentation with the `internals` feature, which only the
/// project's own tests, simulator, fuzz targets and benchmarks enable. They
/// are not part of the API and may change in any release.
macro_rules! internal_modules {
    ($($m:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $m;
        #[cfg(not(feature = "internals"))]
        pub(crate) mod $m;
    )*};
}

internal_modules!(
    btree,
    bucket,
    catalog,
    check,
    checksum,
    create,
    cursor,
    entry,
    error,
    failpoint,
    freelist,
    log,
    options,
    page,
    pager,
    recovery,
    slots,
    snapshot,
    snapshot_iter,
    stats,
    sync,
    txn,
);
pub(crate) mod checkpoint;
mod db;
mod prefetch;
pub mod vfs;

pub use bucket::{Bucket, BucketMut, CasMismatch};
pub use check::CheckReport;
pub use cursor::{Cursor, Keys, Owned, Range};
pub use db::Db;
pub use entry::{Entry, KeyRef, ValueRef};
pub use error::{Error, Result};
pub use options::{Durability, Limits, Options};
pub use snapshot_iter::SnapshotIter;
pub use stats::Stats;
pub use txn::{ReadTxn, Savepoint, WriteTxn};
