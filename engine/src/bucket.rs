//! Buckets: independent ordered key spaces inside one database.

use std::ops::{Bound, RangeBounds};

use crate::btree::cursor::Root;
use crate::cursor::{prefix_end, Cursor, Range};
use crate::entry::{self, ValueRef};
use crate::page::node::Child;
use crate::pager::{Pager, RootPin};
use crate::txn::state::TxState;
use crate::txn::WriteTxn;
use crate::Result;

mod bulk;
mod cas;
mod ops;
mod read;
mod sequence;

pub use cas::CasMismatch;
pub use read::ReadBucket;

fn bound<K: AsRef<[u8]> + ?Sized>(b: Bound<&K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn bounds<'a, K: AsRef<[u8]> + ?Sized + 'a, R: RangeBounds<K>>(
    r: &'a R,
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (bound(r.start_bound()), bound(r.end_bound()))
}

/// A read-only view of a bucket at one version.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     let b = tx.create_bucket(b"fruit")?;
///     b.put(b"apple", b"red")?;
///     b.put(b"apricot", b"orange")?;
///     b.put(b"banana", b"yellow")
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// let fruit = tx.bucket(b"fruit").unwrap();
/// assert_eq!(fruit.len(), 3);
/// assert_eq!(fruit.prefix(b"ap").count(), 2);
/// ```
pub struct Bucket<'tx> {
    pager: &'tx Pager,
    root: Root<'tx>,
    len: u64,
    sequence: u64,
}

impl<'tx> Bucket<'tx> {
    pub(crate) fn new(pager: &'tx Pager, root: Root<'tx>, len: u64, sequence: u64) -> Bucket<'tx> {
        Bucket {
            pager,
            root,
            len,
            sequence,
        }
    }

    /// The value of `key`, borrowed from the page it lies in (see
    /// [`ValueRef`]; `.to_vec()` copies it out).
    ///
    /// # Errors
    /// [`crate::Error::KeyTooLarge`] for a key longer than any stored key
    /// can be (as every operation taking a key); I/O and corruption errors.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'tx>>> {
        let key = key.as_ref();
        self.check_key(key)?;
        match &self.root {
            Root::Borrowed(r, pin) => {
                let (r, pin): (&'tx Option<Child>, &'tx RootPin) = (r, pin);
                match crate::btree::get(self.pager, r, Some(pin), key)? {
                    Some((leaf, i)) => entry::value_in_snapshot(self.pager, leaf, i).map(Some),
                    None => Ok(None),
                }
            }
            Root::Owned(r, _) => match crate::btree::get(self.pager, r, None, key)? {
                Some((leaf, i)) => entry::value_in_owned(self.pager, leaf, i).map(Some),
                None => Ok(None),
            },
        }
    }

    /// Whether `key` is present (without reading a large value).
    /// [`crate::Error::KeyTooLarge`] as for [`Bucket::get`].
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.check_key(key.as_ref())?;
        let found = match &self.root {
            Root::Borrowed(r, pin) => crate::btree::get(self.pager, r, Some(pin), key.as_ref())?,
            Root::Owned(r, _) => crate::btree::get(self.pager, r, None, key.as_ref())?,
        };
        Ok(found.is_some())
    }

    /// Number of keys (O(1)).
    pub fn len(&self) -> u64 {
        self.len
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        crate::Limits::for_page_size(self.pager.page_size()).check_key(key)
    }

    /// Whether the bucket has no keys.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All entries in key order.
    pub fn iter(&self) -> Range<'tx> {
        Range::new(
            self.pager,
            self.root.clone(),
            Bound::Unbounded,
            Bound::Unbounded,
        )
    }

    /// Entries whose keys fall in `range` (`a..b`, `a..=b`, `a..`, `..b`).
    pub fn range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Range<'tx> {
        let (s, e) = bounds(&range);
        Range::new(self.pager, self.root.clone(), s, e)
    }

    /// Entries whose keys start with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Range<'tx> {
        let p = prefix.as_ref();
        let end = prefix_end(p);
        let e = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        Range::new(self.pager, self.root.clone(), Bound::Included(p), e)
    }

    /// A cursor over this version of the bucket.
    pub fn cursor(&self) -> Cursor<'tx> {
        Cursor::new(self.pager, self.root.clone())
    }
}

/// A bucket inside the write transaction: reads see the transaction's own
/// writes. Iterators and cursors see the bucket as it was when they were
/// created.
///
/// A handle names the bucket it was opened for: once that bucket is dropped
/// in the transaction, every use of the handle is
/// [`crate::Error::BucketDropped`], even after a bucket of the same name is
/// created again.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// let old = tx.create_bucket("logs").unwrap();
/// tx.drop_bucket("logs").unwrap();
/// let new = tx.create_bucket("logs").unwrap();
/// assert!(matches!(old.put(b"k", b"v"), Err(vellum::Error::BucketDropped(_))));
/// new.put(b"k", b"v").unwrap();
/// ```
pub struct BucketMut<'tx> {
    tx: &'tx WriteTxn,
    name: Vec<u8>,
    /// The bucket's incarnation when the handle was opened.
    incarnation: u64,
}

impl std::fmt::Debug for BucketMut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketMut")
            .field("name", &String::from_utf8_lossy(&self.name))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Bucket<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("len", &self.len)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl<'tx> BucketMut<'tx> {
    pub(crate) fn new(tx: &'tx WriteTxn, name: Vec<u8>) -> BucketMut<'tx> {
        let incarnation = tx
            .state
            .borrow()
            .as_ref()
            .and_then(|s| s.incarnation_of(&name))
            .unwrap_or(0);
        BucketMut {
            tx,
            name,
            incarnation,
        }
    }

    /// Runs `f` on the transaction's state, for the bucket this handle was
    /// opened for ([`crate::Error::BucketDropped`] if it was dropped since).
    fn with_state<T>(&self, f: impl FnOnce(&mut TxState) -> Result<T>) -> Result<T> {
        self.tx.with_state(|s| {
            s.check_handle(&self.name, self.incarnation)?;
            f(s)
        })
    }

    /// The bucket's name (empty for the default bucket).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// A read-only view of the bucket's current content.
    pub fn view(&self) -> Result<Bucket<'tx>> {
        let (root, len, sequence) = self.with_state(|s| {
            let b = s
                .catalog
                .get(&self.name)
                .ok_or_else(|| crate::Error::BucketNotFound(self.name.clone()))?;
            Ok((b.root.clone(), b.len, b.sequence))
        })?;
        Ok(Bucket::new(
            &self.tx.inner.pager,
            Root::Owned(root, Some(self.tx.cursors.clone())),
            len,
            sequence,
        ))
    }

    /// The value of `key` as this transaction sees it.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'tx>>> {
        self.view()?.get(key)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.view()?.contains(key)
    }

    /// Number of keys (O(1)).
    pub fn len(&self) -> Result<u64> {
        Ok(self.view()?.len())
    }

    /// Whether the bucket is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let pager = &self.tx.inner.pager;
        self.with_state(|s| s.put(pager, &self.name, key.as_ref(), value.as_ref()))
            .map(|_| ())
    }

    /// Sets many keys (a batch form of [`BucketMut::put`]).
    pub fn put_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        // One operation at a time: each may spill first.
        for (k, v) in items {
            self.put(k, v)?;
        }
        Ok(())
    }

    /// Loads entries given in strictly increasing key order into this
    /// bucket, which must be empty, building its tree bottom-up with pages
    /// filled to about `fill` (0.5..=1.0; 1.0 packs them, lower leaves
    /// room for later inserts). Much faster than [`BucketMut::put_many`]
    /// for large sorted inputs: no search per key, no page split, and the
    /// transaction commits by one checkpoint that writes each page once
    /// (its entries are not logged). Returns how many entries were loaded.
    ///
    /// Errors, with nothing loaded: [`crate::Error::BucketNotEmpty`],
    /// [`crate::Error::NotSorted`] naming the first key out of order (a duplicate
    /// key is out of order), [`crate::Error::KeyTooLarge`],
    /// [`crate::Error::ValueTooLarge`].
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| {
    ///     let b = tx.create_bucket("ids")?;
    ///     let n = b.load_sorted((0u32..1000).map(|i| (i.to_be_bytes(), b"v")), 1.0)?;
    ///     assert_eq!(n, 1000);
    ///     Ok(())
    /// })
    /// .unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.create_bucket("unsorted").unwrap();
    /// let err = b.load_sorted([(b"b", b"1"), (b"a", b"2")], 1.0).unwrap_err();
    /// assert!(matches!(err, vellum::Error::NotSorted { index: 1 }));
    /// assert!(b.is_empty().unwrap());
    /// ```
    pub fn load_sorted<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
        fill: f64,
    ) -> Result<u64> {
        let inner = &self.tx.inner;
        let mut entries = Some(entries);
        let mut spill = crate::txn::spill::LoadSpiller::new(inner);
        self.with_state(|s| {
            s.load_sorted(
                &inner.pager,
                &self.name,
                fill,
                &mut |push| {
                    for (k, v) in entries.take().into_iter().flatten() {
                        push(k.as_ref(), v.as_ref())?;
                    }
                    Ok(())
                },
                &mut spill,
            )
        })
    }

    /// Sets `key` only if absent; returns whether it was inserted.
    pub fn insert_if_absent(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        if self.contains(key.as_ref())? {
            return Ok(false);
        }
        self.put(key, value)?;
        Ok(true)
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let pager = &self.tx.inner.pager;
        self.with_state(|s| s.delete(pager, &self.name, key.as_ref()))
    }

    /// Removes many keys; returns how many existed.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<u64> {
        let mut n = 0;
        for k in keys {
            n += u64::from(self.delete(k)?);
        }
        Ok(n)
    }

    /// All entries in key order.
    pub fn iter(&self) -> Result<Range<'tx>> {
        Ok(self.view()?.iter())
    }

    /// Entries whose keys fall in `range`.
    pub fn range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<Range<'tx>> {
        Ok(self.view()?.range(range))
    }

    /// Entries whose keys start with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'tx>> {
        Ok(self.view()?.prefix(prefix))
    }

    /// A cursor over the bucket's current content.
    pub fn cursor(&self) -> Result<Cursor<'tx>> {
        Ok(self.view()?.cursor())
    }
}
