//! [`SnapshotIter`]: an iterator that owns the read transaction it walks,
//! so it can be returned from a function or moved to another thread.
//!
//! A [`Range`] borrows its [`ReadTxn`]: the pages it reads stay unreused
//! because that transaction's snapshot stays registered. An owned iterator
//! keeps the same guarantee by holding the transaction itself (shared by
//! `Arc`), which deregisters its snapshot only when the iterator and every
//! other clone of the transaction are gone.

use std::ops::RangeBounds;
use std::sync::Arc;

use crate::cursor::Range;
use crate::txn::ReadTxn;
use crate::Result;

/// An iterator over entries of one snapshot that owns that snapshot: its
/// items are owned `(key, value)` pairs, in key order, and it walks
/// backwards too (`.rev()`, `next_back`). Unlike a [`Range`] it borrows
/// nothing, so a function can return it:
///
/// ```
/// use vellum::{Db, SnapshotIter};
/// fn fruit(db: &Db) -> vellum::Result<SnapshotIter> {
///     let tx = db.begin_read()?;
///     tx.into_bucket_range(b"fruit", &b"a"[..]..&b"c"[..])
/// }
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     let b = tx.create_bucket(b"fruit")?;
///     b.put(b"apple", b"red")?;
///     b.put(b"banana", b"yellow")?;
///     b.put(b"cherry", b"red")
/// })
/// .unwrap();
/// let names: Vec<Vec<u8>> = fruit(&db).unwrap().map(|e| e.unwrap().0).collect();
/// assert_eq!(names, vec![b"apple".to_vec(), b"banana".to_vec()]);
/// ```
///
/// While it lives, its snapshot stays registered exactly as an open
/// [`ReadTxn`] does: later commits and checkpoints neither change what it
/// yields nor reuse the pages it may still read (which also means, as with
/// a long-lived read transaction, that pages freed since cannot be reused
/// until it is dropped). It never blocks and is never blocked by the
/// writer. Each step costs what a step of [`Range`] costs plus a copy of
/// the entry. Items are `Result`s because reading a page can fail; after
/// an error the iterator ends. It is `Send` (and may be moved to another
/// thread) like the transaction it holds.
pub struct SnapshotIter {
    // Declared before `txn`, so dropped first: it borrows from `txn`.
    range: Range<'static>,
    txn: Arc<ReadTxn>,
}

impl SnapshotIter {
    /// The walk `walk` makes of `txn` (any [`Range`] of it: a bucket's
    /// range, a prefix, ...), owning `txn`. The named constructors on
    /// [`ReadTxn`] ([`ReadTxn::into_range`], [`ReadTxn::into_bucket_range`],
    /// its `IntoIterator`) cover the common walks; this one covers the
    /// rest. Errors are `walk`'s.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| {
    ///     let b = tx.create_bucket(b"users")?;
    ///     b.put(b"ann", b"1")?;
    ///     b.put(b"bob", b"2")
    /// })
    /// .unwrap();
    /// let tx = db.begin_read().unwrap();
    /// let it = vellum::SnapshotIter::new(tx, |tx| Ok(tx.bucket(b"users")?.prefix(b"b"))).unwrap();
    /// let all: Vec<_> = it.collect::<Result<_, _>>().unwrap();
    /// assert_eq!(all, vec![(b"bob".to_vec(), b"2".to_vec())]);
    /// ```
    pub fn new(
        txn: ReadTxn,
        walk: impl for<'a> FnOnce(&'a ReadTxn) -> Result<Range<'a>>,
    ) -> Result<SnapshotIter> {
        let txn = Arc::new(txn);
        let range = walk(&txn)?;
        // SAFETY: `walk` works for every lifetime of its argument, so the
        // range borrows only from `*txn` (or from `'static` data). `*txn`
        // lies in the `Arc`'s allocation, which neither moves when the
        // `Arc` moves nor is freed while `self.txn` holds it; `range` is
        // dropped before `txn` (field order) and its borrowed items never
        // leave this type (`next` copies each entry out). Moving an `Arc`
        // asserts nothing about its pointee, so the borrow stays valid.
        let range = unsafe { std::mem::transmute::<Range<'_>, Range<'static>>(range) };
        Ok(SnapshotIter { range, txn })
    }

    /// The snapshot being walked: look keys up in the same version while
    /// iterating.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"k", b"1")).unwrap();
    /// let it = db.begin_read().unwrap().into_iter();
    /// db.update(|tx| tx.put(b"k", b"2")).unwrap();
    /// assert_eq!(it.txn().get(b"k").unwrap().unwrap(), b"1");
    /// ```
    pub fn txn(&self) -> &ReadTxn {
        &self.txn
    }
}

impl Iterator for SnapshotIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.range.next().map(|r| r.map(|e| e.into_pair()))
    }
}

impl DoubleEndedIterator for SnapshotIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|r| r.map(|e| e.into_pair()))
    }
}

impl std::iter::FusedIterator for SnapshotIter {}

impl std::fmt::Debug for SnapshotIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotIter")
            .field("txn_id", &self.txn.txn_id())
            .finish_non_exhaustive()
    }
}

/// Consuming constructors: walks that own the transaction.
impl ReadTxn {
    /// Entries of the default bucket in a key range, as an iterator that
    /// owns this transaction (see [`SnapshotIter`]); the borrowed form is
    /// [`ReadTxn::range`]. To keep using the transaction as well, call it
    /// on a clone (a clone costs one registration, no copy).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put_many([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// let back: Vec<_> = tx.clone().into_range(&b"b"[..]..).rev().map(|e| e.unwrap().0).collect();
    /// assert_eq!(back, vec![b"c".to_vec(), b"b".to_vec()]);
    /// assert_eq!(tx.len(), 3);
    /// ```
    pub fn into_range<K: AsRef<[u8]> + ?Sized>(self, range: impl RangeBounds<K>) -> SnapshotIter {
        SnapshotIter::new(self, |tx| Ok(tx.range(range))).expect("the default bucket always exists")
    }

    /// Every entry of the named bucket, as an iterator that owns this
    /// transaction (see [`SnapshotIter`]). Errors:
    /// [`crate::Error::BucketNotFound`], [`crate::Error::InvalidBucketName`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v")).unwrap();
    /// let all: Vec<_> = db.begin_read().unwrap().into_bucket_iter(b"b").unwrap().collect();
    /// assert_eq!(all.len(), 1);
    /// assert!(db.begin_read().unwrap().into_bucket_iter(b"nope").is_err());
    /// ```
    pub fn into_bucket_iter(self, name: impl AsRef<[u8]>) -> Result<SnapshotIter> {
        SnapshotIter::new(self, |tx| Ok(tx.bucket(name)?.iter()))
    }

    /// Entries of the named bucket in a key range, as an iterator that owns
    /// this transaction (see [`SnapshotIter`], whose example uses it).
    /// Errors: [`crate::Error::BucketNotFound`],
    /// [`crate::Error::InvalidBucketName`].
    pub fn into_bucket_range<K: AsRef<[u8]> + ?Sized>(
        self,
        name: impl AsRef<[u8]>,
        range: impl RangeBounds<K>,
    ) -> Result<SnapshotIter> {
        SnapshotIter::new(self, |tx| Ok(tx.bucket(name)?.range(range)))
    }
}

/// Every entry of the default bucket, in key order, as an iterator that
/// owns the transaction (see [`SnapshotIter`]).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// for entry in db.begin_read().unwrap() {
///     let (key, value) = entry.unwrap();
///     assert_eq!((key, value), (b"k".to_vec(), b"v".to_vec()));
/// }
/// ```
impl IntoIterator for ReadTxn {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    type IntoIter = SnapshotIter;

    fn into_iter(self) -> SnapshotIter {
        SnapshotIter::new(self, |tx| Ok(tx.iter())).expect("the default bucket always exists")
    }
}

#[cfg(test)]
mod tests {
    //! The self-borrowing iterator under the conditions its `unsafe`
    //! relies on; run under Miri too (`cargo +nightly miri test -p vellum
    //! --lib -- snapshot_iter`), which checks every borrow it makes.

    use std::sync::Arc;

    use crate::vfs::MemVfs;
    use crate::Options;

    #[test]
    fn an_iterator_moved_around_keeps_reading_its_snapshot() {
        let db = Options::new()
            .page_size(1024)
            .cache_size(64 * 1024)
            .vfs(Arc::new(MemVfs::default()))
            .open("db")
            .unwrap();
        let key = |i: u32| i.to_be_bytes();
        db.update(|tx| {
            for i in 0..40 {
                tx.put(key(i), [i as u8; 40])?;
            }
            Ok(())
        })
        .unwrap();
        let mut a = db.begin_read().unwrap().into_iter();
        let mut b = db.begin_read().unwrap().into_range(&key(10)[..]..&key(20)[..]);
        // Later commits and a checkpoint free and reuse pages the snapshot
        // does not hold, and rewrite the ones it reads.
        db.update(|tx| {
            for i in 0..40 {
                tx.put(key(i), [0xee; 40])?;
            }
            Ok(())
        })
        .unwrap();
        db.checkpoint().unwrap();
        assert_eq!(a.next().unwrap().unwrap().0, key(0));
        // Moved: into a box, swapped, out again.
        let mut boxed = Box::new(b.next_back().map(|e| e.unwrap()));
        assert_eq!(boxed.take().unwrap().0, key(19));
        std::mem::swap(&mut a, &mut b);
        let rest_of_b: Vec<_> = a.map(|e| e.unwrap()).collect();
        assert_eq!(rest_of_b.len(), 9);
        assert!(rest_of_b.iter().all(|(k, v)| v[0] == k[3]));
        let moved = Box::new(b);
        let rest_of_a: Vec<_> = moved.rev().map(|e| e.unwrap()).collect();
        assert_eq!(rest_of_a.len(), 39);
        assert_eq!(rest_of_a[0], (key(39).to_vec(), vec![39; 40]));
    }
}
