//! Per-bucket monotonic sequences: unique ids that survive crashes
//! (FORMAT.md §1.7, §2.2 op 5, §6 S9), like bbolt's `NextSequence`.
//!
//! Every bucket, the default one included, has a `u64` sequence, 0 when it
//! is created. [`BucketMut::next_id`] raises it by one and returns it, so a
//! bucket hands out 1, 2, 3, ... The sequence is part of the transaction:
//! an abort (or a rollback to an earlier savepoint) takes the ids back, a
//! commit keeps them, and after any crash the recovered sequence is at
//! least every id a durable commit returned. So no id is handed out twice
//! among transactions that committed durably (an
//! [`crate::Durability::Immediate`] commit that returned `Ok`, an
//! [`crate::Durability::Eventual`] one covered by a later sync). Dropping a
//! bucket drops its sequence: a bucket created again under the same name
//! starts at 0.

use super::{Bucket, BucketMut};
use crate::Result;

impl Bucket<'_> {
    /// The bucket's sequence at this version: the last id
    /// [`BucketMut::next_id`] handed out in a committed transaction (0 if
    /// none). O(1).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.create_bucket("orders")?.next_id()).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert_eq!(tx.bucket("orders").unwrap().sequence(), 1);
    /// assert_eq!(tx.default_bucket().sequence(), 0);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

impl BucketMut<'_> {
    /// Raises the bucket's sequence by one and returns the new value: the
    /// first call on a new bucket returns 1, the next 2, and so on, across
    /// transactions, checkpoints, reopens and crashes.
    ///
    /// The id is taken for good once the transaction commits durably; if
    /// it aborts, fails to commit, or rolls back to a savepoint made before
    /// this call, the id was never committed and may be handed out again.
    /// Each call logs one operation of 11 bytes plus the bucket name (FORMAT.md §2.2).
    ///
    /// # Errors
    /// [`crate::Error::SequenceExhausted`] when the sequence is `u64::MAX`
    /// (it never wraps; nothing is changed); [`crate::Error::BucketDropped`]
    /// for a handle whose bucket was dropped.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let id = db
    ///     .update(|tx| {
    ///         let users = tx.create_bucket_if_missing("users")?;
    ///         let id = users.next_id()?;
    ///         users.put(id.to_be_bytes(), b"alice")?;
    ///         Ok(id)
    ///     })
    ///     .unwrap();
    /// assert_eq!(id, 1);
    /// assert_eq!(db.update(|tx| tx.bucket("users")?.next_id()).unwrap(), 2);
    /// ```
    pub fn next_id(&self) -> Result<u64> {
        self.with_state(|s| s.next_id(&self.name))
    }

    /// The bucket's sequence as this transaction sees it (the last id
    /// handed out, 0 if none), without changing it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.create_bucket("jobs").unwrap();
    /// assert_eq!(b.sequence().unwrap(), 0);
    /// b.next_id().unwrap();
    /// assert_eq!(b.sequence().unwrap(), 1);
    /// ```
    pub fn sequence(&self) -> Result<u64> {
        self.with_state(|s| s.sequence(&self.name))
    }

    /// Sets the bucket's sequence to `value`, so that the next
    /// [`BucketMut::next_id`] returns `value + 1` (to continue ids taken
    /// elsewhere, for instance). The sequence never goes down, since an id
    /// may not be handed out twice: a `value` below it is
    /// [`crate::Error::SequenceLowered`] (nothing is changed); the same
    /// value changes and logs nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.create_bucket("imported").unwrap();
    /// b.set_sequence(1000).unwrap();
    /// assert_eq!(b.next_id().unwrap(), 1001);
    /// assert!(matches!(
    ///     b.set_sequence(5),
    ///     Err(vellum::Error::SequenceLowered { current: 1001, requested: 5, .. })
    /// ));
    /// ```
    pub fn set_sequence(&self, value: u64) -> Result<()> {
        self.with_state(|s| s.set_sequence(&self.name, value))
    }
}
