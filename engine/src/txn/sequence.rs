//! The default bucket's sequence, delegated to [`crate::Bucket`] and
//! [`BucketMut`] (see `bucket/sequence.rs` for the guarantee).

use super::{ReadTxn, WriteTxn};
use crate::bucket::BucketMut;
use crate::Result;

impl ReadTxn {
    /// The default bucket's sequence in this snapshot (see
    /// [`crate::Bucket::sequence`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.next_id()).unwrap();
    /// assert_eq!(db.begin_read().unwrap().sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.snap.catalog.default.sequence
    }
}

impl WriteTxn {
    /// Raises the default bucket's sequence by one and returns it (see
    /// [`BucketMut::next_id`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.next_id().unwrap(), 1);
    /// assert_eq!(tx.next_id().unwrap(), 2);
    /// tx.abort(); // the ids were never committed: they come again
    /// assert_eq!(db.update(|tx| tx.next_id()).unwrap(), 1);
    /// ```
    pub fn next_id(&self) -> Result<u64> {
        self.default_bucket().next_id()
    }

    /// The default bucket's sequence as this transaction sees it (see
    /// [`BucketMut::sequence`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.sequence().unwrap(), 0);
    /// ```
    pub fn sequence(&self) -> Result<u64> {
        self.default_bucket().sequence()
    }

    /// Sets the default bucket's sequence, never lowering it (see
    /// [`BucketMut::set_sequence`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.set_sequence(41).unwrap();
    /// assert_eq!(tx.next_id().unwrap(), 42);
    /// ```
    pub fn set_sequence(&self, value: u64) -> Result<()> {
        BucketMut::set_sequence(&self.default_bucket(), value)
    }
}
