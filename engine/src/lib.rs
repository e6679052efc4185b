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
//!
//! # Typed buckets
//!
//! A [`BucketDef`] names a bucket and the types of its keys and values;
//! [`ReadTxn::open`] and [`WriteTxn::open`] (which creates the bucket if
//! it is missing) give views that take and return those types. Keys are
//! encoded order-preserving ([`KeyCodec`]: integers, `bool`, strings, byte
//! strings, fixed arrays and tuples of them), so a typed range is a range
//! of the typed keys; values by a [`ValueCodec`] (the same types, and any
//! serde type through `Postcard<T>` with the `serde` feature). See
//! [`codec`] for the encodings.
//!
//! ```
//! use vellum::{BucketDef, Db};
//!
//! /// (user id, day) -> logins that day.
//! const LOGINS: BucketDef<(u64, u32), u16> = BucketDef::new("logins");
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("typed.vellum")).unwrap();
//! db.update(|tx| {
//!     let logins = tx.open(&LOGINS)?;
//!     logins.put(&(7, 19_000), &3)?;
//!     logins.put(&(7, 19_001), &1)?;
//!     logins.put(&(8, 19_000), &5)
//! })
//! .unwrap();
//! let tx = db.begin_read().unwrap();
//! let logins = tx.open(&LOGINS).unwrap();
//! assert_eq!(logins.get(&(7, 19_001)).unwrap(), Some(1));
//! let user_7: u16 = logins
//!     .range((7, 0)..(8, 0))
//!     .map(|entry| entry.map(|(_, n)| n))
//!     .sum::<vellum::Result<u16>>()
//!     .unwrap();
//! assert_eq!(user_7, 4);
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
    typed,
);
pub(crate) mod checkpoint;
pub mod codec;
mod db;
mod prefetch;
pub mod vfs;

pub use bucket::{Bucket, BucketMut, CasMismatch};
pub use check::CheckReport;
#[cfg(feature = "serde")]
pub use codec::Postcard;
pub use codec::{KeyCodec, ValueCodec};
pub use cursor::{Cursor, Keys, Owned, Range};
pub use db::Db;
pub use entry::{Entry, KeyRef, ValueRef};
pub use error::{Error, Result};
pub use options::{Durability, Limits, Options};
pub use snapshot_iter::SnapshotIter;
pub use stats::Stats;
pub use txn::{ReadTxn, Savepoint, WriteTxn};
pub use typed::{BucketDef, TypedBucket, TypedBucketMut, TypedRange};
