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

pub mod btree;
pub mod bucket;
pub mod catalog;
pub mod check;
pub(crate) mod checkpoint;
pub mod checksum;
pub mod create;
pub mod cursor;
mod db;
pub mod entry;
pub mod error;
pub mod failpoint;
pub mod freelist;
pub mod log;
pub mod options;
pub mod page;
pub mod pager;
mod prefetch;
pub mod recovery;
pub mod slots;
pub mod snapshot;
pub mod snapshot_iter;
pub mod stats;
pub mod subscribe;
pub mod sync;
pub mod txn;
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
pub use subscribe::{Change, Event, Subscription};
pub use txn::{ReadTxn, Savepoint, WriteTxn};
