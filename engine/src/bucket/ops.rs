//! Single-entry operations in the style of `BTreeMap`: [`BucketMut::insert`]
//! and [`BucketMut::remove`] returning the previous value, the smallest and
//! largest entries, and popping them.

use super::{Bucket, BucketMut};
use crate::entry::Entry;
use crate::Result;

impl<'tx> Bucket<'tx> {
    /// The entry with the smallest key, if any (one descent along the left
    /// edge of the tree).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put_many([(b"b", b"2"), (b"a", b"1")])).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert_eq!(tx.default_bucket().first().unwrap().unwrap().key(), b"a");
    /// ```
    pub fn first(&self) -> Result<Option<Entry<'tx>>> {
        self.iter().next().transpose()
    }

    /// The entry with the largest key, if any (one descent along the right
    /// edge of the tree).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put_many([(b"b", b"2"), (b"a", b"1")])).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert_eq!(tx.default_bucket().last().unwrap().unwrap().value(), b"2");
    /// ```
    pub fn last(&self) -> Result<Option<Entry<'tx>>> {
        self.iter().next_back().transpose()
    }
}

impl<'tx> BucketMut<'tx> {
    /// Sets `key` to `value` and returns the value it replaced (`None` if
    /// the key was absent), like `BTreeMap::insert`. Logged as one put,
    /// exactly as [`BucketMut::put`]. Costs a lookup that copies the
    /// previous value out (reading its overflow pages if it is large) and
    /// then the put; [`BucketMut::put`] skips the lookup.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.create_bucket(b"b").unwrap();
    /// assert_eq!(b.insert(b"k", b"1").unwrap(), None);
    /// assert_eq!(b.insert(b"k", b"2").unwrap(), Some(b"1".to_vec()));
    /// ```
    pub fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Vec<u8>>> {
        // `get` checks the key's size before anything changes.
        let key = key.as_ref();
        let old = self.get(key)?.map(Vec::from);
        self.put(key, value)?;
        Ok(old)
    }

    /// Removes `key` and returns its value (`None`, with nothing changed
    /// or logged, if it was absent), like `BTreeMap::remove`. Costs a
    /// lookup that copies the value out and, if found, the delete;
    /// [`BucketMut::delete`] skips the copy.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put(b"k", b"v").unwrap();
    /// assert_eq!(tx.remove(b"k").unwrap(), Some(b"v".to_vec()));
    /// assert_eq!(tx.remove(b"k").unwrap(), None);
    /// ```
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref();
        let Some(old) = self.get(key)?.map(Vec::from) else {
            return Ok(None);
        };
        self.delete(key)?;
        Ok(Some(old))
    }

    /// The entry with the smallest key as this transaction sees it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert!(tx.first().unwrap().is_none());
    /// tx.put(b"m", b"1").unwrap();
    /// assert_eq!(tx.first().unwrap().unwrap().key(), b"m");
    /// ```
    pub fn first(&self) -> Result<Option<Entry<'tx>>> {
        self.view()?.first()
    }

    /// The entry with the largest key as this transaction sees it.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"a", b"1"), (b"z", b"2")]).unwrap();
    /// assert_eq!(tx.last().unwrap().unwrap().key(), b"z");
    /// ```
    pub fn last(&self) -> Result<Option<Entry<'tx>>> {
        self.view()?.last()
    }

    /// Removes the entry with the smallest key and returns it (`None` on an
    /// empty bucket), like `BTreeMap::pop_first`: a queue's dequeue. Costs
    /// a descent to the first entry and a delete.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put(b"2", b"second job").unwrap();
    /// tx.put(b"1", b"first job").unwrap();
    /// assert_eq!(tx.pop_first().unwrap(), Some((b"1".to_vec(), b"first job".to_vec())));
    /// assert_eq!(tx.len().unwrap(), 1);
    /// ```
    pub fn pop_first(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let first = self.first()?.map(Entry::into_pair);
        self.pop(first)
    }

    /// Removes the entry with the largest key and returns it (`None` on an
    /// empty bucket), like `BTreeMap::pop_last`. Costs a descent to the
    /// last entry and a delete.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"a", b"1"), (b"b", b"2")]).unwrap();
    /// assert_eq!(tx.pop_last().unwrap(), Some((b"b".to_vec(), b"2".to_vec())));
    /// ```
    pub fn pop_last(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let last = self.last()?.map(Entry::into_pair);
        self.pop(last)
    }

    fn pop(&self, entry: Option<(Vec<u8>, Vec<u8>)>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if let Some((k, _)) = &entry {
            self.delete(k)?;
        }
        Ok(entry)
    }
}
