//! vellum: an embedded, crash-safe, ordered key-value store.
//!
//! One file holds a copy-on-write B+ tree per bucket and a redo log. A
//! commit appends one log record and (by default) syncs once, sharing the
//! sync with concurrent committers; checkpoints later write the changed
//! tree pages to free pages, never over live ones. Every page is checksummed
//! by its parent, so damage is reported as an error, never returned as data.
//! The file format is described in `docs/FORMAT.md` and the design in
//! `docs/ARCHITECTURE.md` of the source repository.
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
//! # A tour of the API
//!
//! **Opening.** [`Db::open`] opens or creates a file with default
//! [`Options`]; `Options::new().cache_size(..).durability(..).open(path)`
//! sets the page cache's budget, the [`Durability`] of commits
//! (`Immediate`: durable when `commit` returns; `Eventual`: durable at the
//! next [`Db::sync`], group sync or checkpoint) and more. A [`Db`] is a
//! cheap, `Send + Sync` handle: clone it into every thread. A read-write
//! open holds the file exclusively ([`Error::Locked`] for the next);
//! [`Db::close`] checkpoints and releases it ([`Error::StillOpen`] if
//! clones or transactions still hold it).
//!
//! **Transactions.** [`Db::begin_read`] takes a snapshot ([`ReadTxn`]) that
//! never changes, never blocks and is never blocked. [`Db::begin_write`]
//! starts *the* write transaction ([`WriteTxn`]): one at a time, the next
//! one waits ([`Db::try_begin_write`] does not wait: [`Error::WriterBusy`];
//! a nested one on the same thread is [`Error::NestedWrite`], never a
//! deadlock). A write transaction commits with [`WriteTxn::commit`] and is
//! aborted when dropped. [`Db::update`] and [`Db::view`] run a closure in a
//! transaction; [`WriteTxn::savepoint`] and [`WriteTxn::rollback_to`] undo
//! part of one; [`WriteTxn::set_durability`] changes one commit's
//! durability.
//!
//! **Buckets.** Independent ordered key spaces: the default bucket (the
//! methods of the transactions themselves) and named ones
//! ([`WriteTxn::create_bucket`], [`WriteTxn::bucket`],
//! [`ReadTxn::bucket`], [`WriteTxn::drop_bucket`]). A [`Bucket`] reads a
//! snapshot; a [`BucketMut`] reads and writes inside the write transaction;
//! [`ReadBucket`] is what both can read, for code that takes either.
//!
//! **Reading.** `get` returns a [`ValueRef`] that borrows from the cached
//! page (no copy; `.to_vec()` to keep it). `iter`, `range`, `prefix`
//! return a double-ended [`Range`] of [`Entry`]s in key order; a [`Cursor`]
//! seeks and steps both ways; `first` and `last` find the ends. Iterators
//! borrow their transaction; [`ReadTxn::into_range`] and
//! [`ReadTxn::into_bucket_iter`] give a [`SnapshotIter`] that owns its
//! snapshot and can be returned from a function.
//!
//! **Writing.** `put`, `delete`, [`BucketMut::insert`] and
//! [`BucketMut::remove`] (returning the previous value),
//! `insert_if_absent`, [`BucketMut::compare_and_swap`], `pop_first`,
//! `pop_last`, [`BucketMut::retain`], [`BucketMut::delete_range`], and
//! [`BucketMut::load_sorted`] for bulk loads of sorted input into an empty
//! bucket at sequential-write speed. Transactions of any size run in
//! bounded memory: past their budget they spill changed pages to free
//! space in the file.
//!
//! **Typed buckets.** A [`BucketDef`] fixes a bucket's key and value types
//! (see below and [`codec`]).
//!
//! **Errors.** One [`Error`] type whose variants a caller can match:
//! bad input ([`Error::KeyTooLarge`], [`Error::BucketNotFound`], ...),
//! misuse, I/O errors (naming the file and the operation), and
//! [`Error::Corruption`] for damage the checksums found. A failed sync
//! poisons the handle ([`Error::Poisoned`]): reopen to learn what is
//! durable. No acknowledged commit is lost by a crash or power loss.
//!
//! **Watching changes.** [`Db::subscribe`] delivers the puts and deletes
//! under a key prefix of a bucket, transaction by transaction in commit
//! order, once they are durable ([`Subscription`], [`Event`], [`Change`]);
//! its buffer is bounded, so a slow subscriber never holds up commits: it
//! receives [`Event::Lagged`] and resynchronises from a snapshot.
//!
//! **Checking.** [`Db::check`] verifies every page and the
//! page accounting; [`Db::stats`] reports counters; the [`vfs`] module's
//! [`vfs::Vfs`] trait lets every file operation go elsewhere (the
//! [`vfs::MemVfs`] keeps the database in memory).
//!
//! **What blocks.** Reads never block. A write transaction waits for the
//! previous one to end; with `Immediate` durability `commit` waits for the
//! shared sync; [`Db::checkpoint`] waits for the write transaction to
//! end; commits wait while [`Db::check`] runs; a checkpoint that the log's
//! size or the cache's budget requires runs inside the commit that needs
//! it.
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
mod pageset;
mod prefetch;
pub mod subscribe;
pub mod vfs;

pub use bucket::{Bucket, BucketMut, CasMismatch, ReadBucket};
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
pub use subscribe::{Change, Event, Subscription};
pub use txn::{ReadTxn, Savepoint, WriteTxn};
pub use typed::{BucketDef, TypedBucket, TypedBucketMut, TypedRange};
