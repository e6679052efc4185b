//! The `BTreeMap`-style operations on the default bucket, delegated to
//! [`crate::Bucket`] and [`BucketMut`] (whose documentation gives each
//! one's cost).

use std::ops::RangeBounds;

use super::{ReadTxn, WriteTxn};
use crate::bucket::{BucketMut, CasMismatch};
use crate::entry::Entry;
use crate::Result;

impl ReadTxn {
    /// The entry of the default bucket with the smallest key, if any (see
    /// [`crate::Bucket::first`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put_many([(b"b", b"2"), (b"a", b"1")])).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert_eq!(tx.first().unwrap().unwrap().key(), b"a");
    /// ```
    pub fn first(&self) -> Result<Option<Entry<'_>>> {
        self.default_bucket().first()
    }

    /// The entry of the default bucket with the largest key, if any (see
    /// [`crate::Bucket::last`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert!(tx.last().unwrap().is_none());
    /// ```
    pub fn last(&self) -> Result<Option<Entry<'_>>> {
        self.default_bucket().last()
    }
}

impl WriteTxn {
    /// Sets `key` to `value` in the default bucket; returns the value it
    /// replaced (see [`BucketMut::insert`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.insert(b"k", b"1").unwrap(), None);
    /// assert_eq!(tx.insert(b"k", b"2").unwrap(), Some(b"1".to_vec()));
    /// ```
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        self.default_bucket().insert(key, value)
    }

    /// Removes `key` from the default bucket; returns its value (see
    /// [`BucketMut::remove`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.remove(b"k").unwrap(), None);
    /// ```
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.default_bucket().remove(key)
    }

    /// The entry of the default bucket with the smallest key (see
    /// [`BucketMut::first`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"b", b""), (b"a", b"")]).unwrap();
    /// assert_eq!(tx.first().unwrap().unwrap().key(), b"a");
    /// ```
    pub fn first(&self) -> Result<Option<Entry<'_>>> {
        self.default_bucket().first()
    }

    /// The entry of the default bucket with the largest key (see
    /// [`BucketMut::last`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"b", b""), (b"a", b"")]).unwrap();
    /// assert_eq!(tx.last().unwrap().unwrap().key(), b"b");
    /// ```
    pub fn last(&self) -> Result<Option<Entry<'_>>> {
        self.default_bucket().last()
    }

    /// Removes and returns the entry of the default bucket with the
    /// smallest key (see [`BucketMut::pop_first`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.pop_first().unwrap(), None);
    /// ```
    pub fn pop_first(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.default_bucket().pop_first()
    }

    /// Removes and returns the entry of the default bucket with the
    /// largest key (see [`BucketMut::pop_last`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put(b"k", b"v").unwrap();
    /// assert_eq!(tx.pop_last().unwrap(), Some((b"k".to_vec(), b"v".to_vec())));
    /// assert!(tx.is_empty().unwrap());
    /// ```
    pub fn pop_last(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.default_bucket().pop_last()
    }

    /// Keeps only the entries of the default bucket for which
    /// `keep(key, value)` is true; returns how many it deleted (see
    /// [`BucketMut::retain`] for the cost).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"a", b"keep"), (b"b", b"drop")]).unwrap();
    /// assert_eq!(tx.retain(|_, v| v == b"keep").unwrap(), 1);
    /// ```
    pub fn retain(&self, keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        self.default_bucket().retain(keep)
    }

    /// Deletes every key of the default bucket in `range`; returns how
    /// many (see [`BucketMut::delete_range`] for the cost).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many((0u8..10).map(|i| ([i], b""))).unwrap();
    /// assert_eq!(tx.delete_range(&[3u8][..]..).unwrap(), 7);
    /// ```
    pub fn delete_range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<u64> {
        self.default_bucket().delete_range(range)
    }

    /// Sets or deletes `key` in the default bucket only if its value is
    /// `expected` (see [`BucketMut::compare_and_swap`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert!(tx.compare_and_swap(b"lock", None, Some(b"me".as_slice())).unwrap().is_ok());
    /// assert!(tx.compare_and_swap(b"lock", None, Some(b"you".as_slice())).unwrap().is_err());
    /// ```
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<std::result::Result<(), CasMismatch>> {
        BucketMut::compare_and_swap(&self.default_bucket(), key, expected, new)
    }
}
