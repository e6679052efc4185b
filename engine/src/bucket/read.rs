//! [`ReadBucket`]: the reads a read-only [`Bucket`] and a write
//! transaction's [`BucketMut`] share, so code can take either.

use std::ops::RangeBounds;

use super::{Bucket, BucketMut};
use crate::cursor::{Cursor, Range};
use crate::entry::{Entry, ValueRef};
use crate::Result;

/// Reads of a bucket, the same for a snapshot's [`Bucket`] and a write
/// transaction's [`BucketMut`] (which sees the transaction's own writes).
/// Every method returns a `Result`: on a [`BucketMut`] even `len` can fail
/// (a handle to a dropped bucket, a poisoned database). The inherent
/// methods of [`Bucket`] that cannot fail (`len`, `iter`, ...) keep their
/// plain return types; import this trait to call the fallible forms, as
/// generic code does.
///
/// ```
/// use vellum::{Db, ReadBucket};
///
/// /// Counts the keys under `prefix` in any bucket, read-only or not.
/// fn count_under<'tx>(b: &impl ReadBucket<'tx>, prefix: &[u8]) -> vellum::Result<usize> {
///     Ok(b.prefix(prefix)?.count())
/// }
///
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     let users = tx.create_bucket("users")?;
///     users.put(b"u:1", b"ann")?;
///     users.put(b"u:2", b"bob")?;
///     assert_eq!(count_under(&users, b"u:")?, 2); // a BucketMut
///     Ok(())
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// assert_eq!(count_under(&tx.bucket("users").unwrap(), b"u:").unwrap(), 2); // a Bucket
/// ```
pub trait ReadBucket<'tx> {
    /// The value of `key` (see [`Bucket::get`]).
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'tx>>>;
    /// Whether `key` is present.
    fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool>;
    /// Number of keys (O(1)).
    fn len(&self) -> Result<u64>;
    /// Whether the bucket has no keys.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
    /// All entries in key order.
    fn iter(&self) -> Result<Range<'tx>>;
    /// Entries whose keys fall in `range`.
    fn range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<Range<'tx>>;
    /// Entries whose keys start with `prefix`.
    fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'tx>>;
    /// The entry with the smallest key.
    fn first(&self) -> Result<Option<Entry<'tx>>>;
    /// The entry with the largest key.
    fn last(&self) -> Result<Option<Entry<'tx>>>;
    /// A cursor over the bucket.
    fn cursor(&self) -> Result<Cursor<'tx>>;
}

impl<'tx> ReadBucket<'tx> for Bucket<'tx> {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'tx>>> {
        Bucket::get(self, key)
    }
    fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Bucket::contains(self, key)
    }
    fn len(&self) -> Result<u64> {
        Ok(Bucket::len(self))
    }
    fn iter(&self) -> Result<Range<'tx>> {
        Ok(Bucket::iter(self))
    }
    fn range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<Range<'tx>> {
        Ok(Bucket::range(self, range))
    }
    fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'tx>> {
        Ok(Bucket::prefix(self, prefix))
    }
    fn first(&self) -> Result<Option<Entry<'tx>>> {
        Bucket::first(self)
    }
    fn last(&self) -> Result<Option<Entry<'tx>>> {
        Bucket::last(self)
    }
    fn cursor(&self) -> Result<Cursor<'tx>> {
        Ok(Bucket::cursor(self))
    }
}

impl<'tx> ReadBucket<'tx> for BucketMut<'tx> {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'tx>>> {
        BucketMut::get(self, key)
    }
    fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        BucketMut::contains(self, key)
    }
    fn len(&self) -> Result<u64> {
        BucketMut::len(self)
    }
    fn iter(&self) -> Result<Range<'tx>> {
        BucketMut::iter(self)
    }
    fn range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<Range<'tx>> {
        BucketMut::range(self, range)
    }
    fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'tx>> {
        BucketMut::prefix(self, prefix)
    }
    fn first(&self) -> Result<Option<Entry<'tx>>> {
        BucketMut::first(self)
    }
    fn last(&self) -> Result<Option<Entry<'tx>>> {
        BucketMut::last(self)
    }
    fn cursor(&self) -> Result<Cursor<'tx>> {
        BucketMut::cursor(self)
    }
}
