//! Change subscriptions: the committed puts and deletes under a key
//! prefix of a bucket, delivered in commit order once they are durable.
//!
//! # Guarantees
//!
//! - **Only durable changes.** A transaction's [`Event`] is delivered
//!   once the transaction is durable *and* visible to new snapshots: with
//!   [`crate::Durability::Immediate`] before (or as) its `commit`
//!   returns; with [`crate::Durability::Eventual`] at the next sync that
//!   covers it ([`Db::sync`], an `Immediate` commit's shared sync) or
//!   checkpoint. A crash never loses a delivered change.
//! - **Commit order, complete.** One event per committed transaction that
//!   changed something under the prefix, with its changes in the order
//!   the transaction made them (effective changes only, as the log
//!   records them: rolled-back savepoints and aborted transactions
//!   deliver nothing), `txn` strictly increasing, none skipped: every
//!   transaction committed after [`Db::subscribe`] returns is delivered,
//!   or covered by an [`Event::Lagged`]. Transactions too large for the
//!   log and sorted loads (committed by checkpoint) are delivered too.
//! - **Never blocks a commit.** Each subscription buffers at most
//!   `capacity` changes; when the next transaction does not fit, its event
//!   is dropped, and so are all later ones until the subscriber has
//!   drained the buffer and received [`Event::Lagged`].
//!
//! # Resynchronising
//!
//! On [`Event::Lagged`] (and, the same way, right after subscribing):
//! begin a read transaction, read the prefix from it, then keep receiving
//! and skip every event whose `txn` is at most the snapshot's
//! [`ReadTxn::txn_id`](crate::ReadTxn::txn_id). This is exact because an
//! event is dropped or delivered only after its transaction is visible to
//! new snapshots: the snapshot contains every transaction whose event was
//! dropped, and every later transaction arrives as an event after the
//! `Lagged`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use vellum::{Change, Event};
//! # let dir = tempfile::tempdir().unwrap();
//! # let db = vellum::Db::open(dir.path().join("db")).unwrap();
//! let sub = db.subscribe(b"", b"user/", 2).unwrap();
//! for i in 0..10u8 {
//!     db.update(|tx| tx.put([b"user/".as_slice(), &[i]].concat(), [i])).unwrap();
//! }
//! let mut mirror = BTreeMap::new();
//! let mut seen = 0; // events up to this transaction are in `mirror`
//! while let Ok(ev) = sub.try_recv() {
//!     match ev {
//!         Event::Lagged { .. } => {
//!             let snap = db.begin_read().unwrap();
//!             mirror = snap.prefix(b"user/").map(|e| {
//!                 let e = e.unwrap();
//!                 (e.key().to_vec(), e.value().to_vec())
//!             }).collect();
//!             seen = snap.txn_id();
//!         }
//!         Event::Changes { txn, changes } if txn > seen => {
//!             for c in changes {
//!                 match c {
//!                     Change::Put { key, value } => { mirror.insert(key, value); }
//!                     Change::Delete { key } => { mirror.remove(&key); }
//!                     Change::BucketDropped => mirror.clear(),
//!                 }
//!             }
//!             seen = txn;
//!         }
//!         Event::Changes { .. } => {} // already in the snapshot
//!     }
//! }
//! assert_eq!(mirror.len(), 10);
//! ```
//!
//! # Cost
//!
//! Without subscriptions a transaction checks one `Option` per operation
//! and one atomic load at begin, at commit and after each sync. With some, a transaction copies
//! each change that matches a subscription once, at most the largest
//! capacity of them (past it the matching subscriptions get `Lagged`);
//! committed transactions wait in the database until durable, at most as
//! many changes as all subscriptions together can buffer.

mod capture;
mod event;
mod hub;
mod queue;

use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

pub(crate) use capture::{CaptureMark, TxCapture};
pub use event::{Change, Event};
pub(crate) use hub::Hub;

use crate::{Db, Error, Result};
use queue::Queue;

/// A subscription to the committed changes under a key prefix of a
/// bucket, made by [`Db::subscribe`] (see the [module
/// documentation](self) for what it delivers, and when). Dropping it
/// unregisters it; once the database is closed (its last handle dropped),
/// it ends after the events delivered before.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// let sub = db.subscribe(b"", b"", 16).unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// drop(db); // closes the database: the iterator ends
/// let txns: Vec<_> = sub.map(|ev| ev.txn().unwrap()).collect();
/// assert_eq!(txns.len(), 1);
/// ```
#[derive(Debug)]
pub struct Subscription {
    queue: Arc<Queue>,
    hub: Weak<Hub>,
}

impl Db {
    /// Subscribes to the changes under `prefix` (empty: all keys) in
    /// `bucket` (empty: the default bucket), which need not exist yet.
    /// Transactions committed after this returns are delivered; a
    /// snapshot begun after it returns contains every earlier one (this
    /// call waits for a sync in flight if needed). `capacity` bounds the
    /// changes buffered (at least 1); a transaction with more changes
    /// under the prefix arrives as [`Event::Lagged`].
    ///
    /// Waits while a commit or checkpoint runs (not for a whole write
    /// transaction).
    ///
    /// # Errors
    /// [`Error::InvalidBucketName`] if `bucket` is longer than a key may
    /// be; [`Error::Poisoned`].
    ///
    /// ```
    /// use vellum::{Change, Event};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let sub = db.subscribe(b"orders", b"2024-", 64).unwrap();
    /// db.update(|tx| {
    ///     let orders = tx.create_bucket(b"orders")?;
    ///     orders.put(b"2024-01", b"paid")?;
    ///     orders.put(b"2023-12", b"old") // not under the prefix
    /// })
    /// .unwrap();
    /// let Event::Changes { changes, .. } = sub.recv().unwrap() else { panic!() };
    /// assert_eq!(changes, vec![Change::Put { key: b"2024-01".to_vec(), value: b"paid".to_vec() }]);
    /// ```
    pub fn subscribe(
        &self,
        bucket: impl AsRef<[u8]>,
        prefix: impl AsRef<[u8]>,
        capacity: usize,
    ) -> Result<Subscription> {
        let inner = &self.inner;
        inner.check_poisoned()?;
        let bucket = bucket.as_ref();
        if bucket.len() > inner.limits.max_key_len {
            return Err(Error::InvalidBucketName);
        }
        let (queue, after) = {
            // No commit runs while it registers: every later one sees it.
            let core = inner.core.lock();
            let q = inner
                .hub
                .subscribe(bucket, prefix.as_ref(), capacity.max(1), core.txn);
            (q, core.txn)
        };
        let sub = Subscription {
            queue,
            hub: Arc::downgrade(&inner.hub),
        };
        // The transactions it skips must be in the snapshots begun from
        // now on: an `Immediate` one is shown once synced.
        if inner.registry.current().txn < after {
            inner.wait_durable(after)?;
        }
        Ok(sub)
    }
}

impl Subscription {
    /// Waits for the next event; [`RecvError`] once the database is
    /// closed and every event delivered before was received.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let sub = db.subscribe(b"", b"", 4).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| db.update(|tx| tx.put(b"k", b"v")).unwrap());
    ///     assert!(sub.recv().unwrap().txn().is_some());
    /// });
    /// ```
    pub fn recv(&self) -> std::result::Result<Event, RecvError> {
        self.queue.recv(true, None).map_err(|_| RecvError)
    }

    /// Waits up to `timeout` for the next event.
    ///
    /// ```
    /// use std::sync::mpsc::RecvTimeoutError;
    /// use std::time::Duration;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let sub = db.subscribe(b"", b"", 4).unwrap();
    /// let r = sub.recv_timeout(Duration::from_millis(1));
    /// assert_eq!(r, Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> std::result::Result<Event, RecvTimeoutError> {
        self.queue.recv(true, Instant::now().checked_add(timeout))
    }

    /// The next event if one is buffered.
    ///
    /// ```
    /// use std::sync::mpsc::TryRecvError;
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let sub = db.subscribe(b"", b"", 4).unwrap();
    /// assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    /// db.update(|tx| tx.put(b"k", b"v")).unwrap(); // Immediate: delivered by now
    /// assert!(sub.try_recv().is_ok());
    /// ```
    pub fn try_recv(&self) -> std::result::Result<Event, TryRecvError> {
        self.queue.recv(false, None).map_err(|e| match e {
            RecvTimeoutError::Timeout => TryRecvError::Empty,
            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// The last transaction committed before this subscription was made:
    /// events are delivered for later ones only, and every snapshot begun
    /// since [`Db::subscribe`] returned contains it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"k", b"v")).unwrap();
    /// let sub = db.subscribe(b"", b"", 4).unwrap();
    /// assert!(db.begin_read().unwrap().txn_id() >= sub.starts_after());
    /// ```
    pub fn starts_after(&self) -> u64 {
        self.queue.after
    }

    /// The capacity: the most changes it buffers.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// assert_eq!(db.subscribe(b"", b"", 0).unwrap().capacity(), 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.queue.capacity
    }
}

/// Blocking iteration: [`Subscription::recv`] until the database closes.
impl Iterator for Subscription {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.recv().ok()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.unsubscribe(self.queue.id);
        }
    }
}
