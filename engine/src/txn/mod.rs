//! Read and write transactions.

pub(crate) mod commit;
mod durability;
pub mod group_commit;
mod ops;
mod savepoint;
mod sequence;
pub(crate) mod spill;
pub mod state;
pub mod writer_slot;

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::btree::cursor::{ReuseGuard, Root};
use crate::bucket::{Bucket, BucketMut};
use crate::cursor::{Cursor, Range};
use crate::db::Inner;
use crate::entry::ValueRef;
use crate::snapshot::Snapshot;
use crate::{Durability, Error, Result};
pub use savepoint::Savepoint;
use state::TxState;

/// A read transaction: a consistent snapshot of the database as of the
/// last commit before it began. Reads never block and are never blocked by
/// the writer. Dropping it releases the snapshot (and the pages only it
/// could still reach).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"k", b"1")).unwrap();
/// let snapshot = db.begin_read().unwrap();
/// db.update(|tx| tx.put(b"k", b"2")).unwrap();
/// assert_eq!(snapshot.get(b"k").unwrap().as_deref(), Some(&b"1"[..]));
/// ```
pub struct ReadTxn {
    inner: Arc<Inner>,
    snap: Arc<Snapshot>,
}

impl ReadTxn {
    pub(crate) fn new(inner: Arc<Inner>) -> ReadTxn {
        let snap = inner.registry.begin();
        ReadTxn { inner, snap }
    }

    /// The id of the last transaction this snapshot contains.
    pub fn txn_id(&self) -> u64 {
        self.snap.txn
    }

    /// The default bucket.
    pub fn default_bucket(&self) -> Bucket<'_> {
        let b = &self.snap.catalog.default;
        Bucket::new(
            &self.inner.pager,
            Root::Borrowed(&b.root, &b.pin),
            b.len,
            b.sequence,
        )
    }

    /// The named bucket.
    pub fn bucket(&self, name: impl AsRef<[u8]>) -> Result<Bucket<'_>> {
        let name = name.as_ref();
        if name.is_empty() || name.len() > self.inner.limits.max_key_len {
            return Err(Error::InvalidBucketName);
        }
        let b = self
            .snap
            .catalog
            .named
            .get(name)
            .ok_or_else(|| Error::BucketNotFound(name.to_vec()))?;
        Ok(Bucket::new(
            &self.inner.pager,
            Root::Borrowed(&b.root, &b.pin),
            b.len,
            b.sequence,
        ))
    }

    /// Names of all named buckets, in order.
    pub fn bucket_names(&self) -> Vec<Vec<u8>> {
        self.snap.catalog.named.keys().cloned().collect()
    }

    /// Value of `key` in the default bucket, borrowed from the page it
    /// lies in ([`ValueRef`] dereferences to `[u8]`).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'_>>> {
        self.default_bucket().get(key)
    }

    /// Whether the default bucket has `key`.
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.default_bucket().contains(key)
    }

    /// Number of keys in the default bucket.
    pub fn len(&self) -> u64 {
        self.snap.catalog.default.len
    }

    /// Whether the default bucket is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All entries of the default bucket in key order.
    pub fn iter(&self) -> Range<'_> {
        self.default_bucket().iter()
    }

    /// Entries of the default bucket in a key range.
    pub fn range<K: AsRef<[u8]> + ?Sized>(
        &self,
        range: impl std::ops::RangeBounds<K>,
    ) -> Range<'_> {
        self.default_bucket().range(range)
    }

    /// Entries of the default bucket whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Range<'_> {
        self.default_bucket().prefix(prefix)
    }

    /// A cursor over the default bucket.
    pub fn cursor(&self) -> Cursor<'_> {
        self.default_bucket().cursor()
    }
}

/// Another handle on the same snapshot, registered as a reader of its own
/// (O(1): nothing is copied), e.g. to turn into a
/// [`crate::SnapshotIter`] while still using this one.
impl Clone for ReadTxn {
    fn clone(&self) -> ReadTxn {
        let snap = self.inner.registry.begin_again(&self.snap);
        ReadTxn {
            inner: self.inner.clone(),
            snap,
        }
    }
}

impl Drop for ReadTxn {
    fn drop(&mut self) {
        self.inner.registry.end(&self.snap);
    }
}

/// The write transaction. Only one exists at a time. Reads see its own
/// writes; [`WriteTxn::commit`] makes them durable according to the
/// database's [`crate::Durability`]; dropping it without committing aborts.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// tx.put(b"a", b"1").unwrap();
/// assert_eq!(tx.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
/// assert!(!tx.insert_if_absent(b"a", b"2").unwrap());
/// tx.commit().unwrap();
/// ```
pub struct WriteTxn {
    pub(crate) inner: Arc<Inner>,
    pub(crate) state: RefCell<Option<TxState>>,
    /// Cloned into every cursor over this transaction's trees, so that a
    /// spill knows whether one may still read a spilled page.
    pub(crate) cursors: ReuseGuard,
    /// When `commit` returns ([`WriteTxn::set_durability`]).
    durability: Cell<Durability>,
    /// The savepoints one may still roll back to.
    savepoints: RefCell<savepoint::Savepoints>,
}

impl WriteTxn {
    pub(crate) fn begin(inner: Arc<Inner>, wait: bool) -> Result<WriteTxn> {
        inner.check_poisoned()?;
        if inner.opts.read_only {
            return Err(Error::ReadOnly);
        }
        inner.acquire_writer(wait)?;
        let (catalog, base_txn, committed) = {
            let core = inner.core.lock();
            ((*core.catalog).clone(), core.txn, core.dirty_bytes)
        };
        let (log_limit, spill_at) = inner.transaction_memory(committed);
        let mut state = TxState::new(catalog, inner.limits, log_limit, Some(spill_at));
        state.base_txn = base_txn;
        state.capture = inner.hub.begin();
        let durability = Cell::new(inner.opts.durability);
        Ok(WriteTxn {
            inner,
            state: RefCell::new(Some(state)),
            cursors: ReuseGuard::default(),
            durability,
            savepoints: RefCell::default(),
        })
    }

    pub(crate) fn with_state<T>(&self, f: impl FnOnce(&mut TxState) -> Result<T>) -> Result<T> {
        self.inner.check_poisoned()?;
        let mut s = self.state.borrow_mut();
        let s = s
            .as_mut()
            .expect("transaction state is present until commit");
        if s.spill_due() {
            spill::run(&self.inner, s, &self.cursors)?;
        }
        f(s)
    }

    /// The default bucket.
    pub fn default_bucket(&self) -> BucketMut<'_> {
        BucketMut::new(self, Vec::new())
    }

    /// The named bucket, which must exist.
    pub fn bucket(&self, name: impl AsRef<[u8]>) -> Result<BucketMut<'_>> {
        let name = name.as_ref();
        self.with_state(|s| {
            s.check_bucket_name(name)?;
            if s.catalog.named.contains_key(name) {
                Ok(())
            } else {
                Err(Error::BucketNotFound(name.to_vec()))
            }
        })?;
        Ok(BucketMut::new(self, name.to_vec()))
    }

    /// Creates a named bucket ([`Error::BucketExists`] if it exists).
    pub fn create_bucket(&self, name: impl AsRef<[u8]>) -> Result<BucketMut<'_>> {
        let name = name.as_ref();
        self.with_state(|s| s.create_bucket(name))?;
        Ok(BucketMut::new(self, name.to_vec()))
    }

    /// Opens the named bucket, creating it if it does not exist.
    pub fn create_bucket_if_missing(&self, name: impl AsRef<[u8]>) -> Result<BucketMut<'_>> {
        let name = name.as_ref();
        self.with_state(|s| {
            s.check_bucket_name(name)?;
            if !s.catalog.named.contains_key(name) {
                s.create_bucket(name)?;
            }
            Ok(())
        })?;
        Ok(BucketMut::new(self, name.to_vec()))
    }

    /// Drops a named bucket and everything in it.
    pub fn drop_bucket(&self, name: impl AsRef<[u8]>) -> Result<()> {
        let pager = &self.inner.pager;
        self.with_state(|s| s.drop_bucket(pager, name.as_ref()))
    }

    /// Names of all named buckets, in order.
    pub fn bucket_names(&self) -> Result<Vec<Vec<u8>>> {
        self.with_state(|s| Ok(s.catalog.named.keys().cloned().collect()))
    }

    /// Value of `key` in the default bucket, borrowed from the page it
    /// lies in ([`ValueRef`] dereferences to `[u8]`).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef<'_>>> {
        self.default_bucket().get(key)
    }

    /// Whether the default bucket has `key`.
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.default_bucket().contains(key)
    }

    /// Sets `key` to `value` in the default bucket.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.default_bucket().put(key, value)
    }

    /// Sets `key` only if it is absent; returns whether it was inserted.
    pub fn insert_if_absent(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool> {
        self.default_bucket().insert_if_absent(key, value)
    }

    /// Sets many keys in the default bucket (batch form of
    /// [`WriteTxn::put`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put_many((0u32..100).map(|i| (i.to_be_bytes(), b"v")))).unwrap();
    /// assert_eq!(db.begin_read().unwrap().len(), 100);
    /// ```
    pub fn put_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<()> {
        self.default_bucket().put_many(items)
    }

    /// Loads entries in strictly increasing key order into the empty
    /// default bucket, bottom-up (see [`BucketMut::load_sorted`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.load_sorted((0u32..100).map(|i| (i.to_be_bytes(), b"v")), 0.9))
    ///     .unwrap();
    /// assert_eq!(db.begin_read().unwrap().len(), 100);
    /// ```
    pub fn load_sorted<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
        fill: f64,
    ) -> Result<u64> {
        self.default_bucket().load_sorted(entries, fill)
    }

    /// Removes many keys from the default bucket; returns how many existed.
    pub fn delete_many<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<u64> {
        self.default_bucket().delete_many(keys)
    }

    /// Removes `key` from the default bucket; returns whether it existed.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.default_bucket().delete(key)
    }

    /// Number of keys in the default bucket.
    pub fn len(&self) -> Result<u64> {
        self.default_bucket().len()
    }

    /// Whether the default bucket is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// All entries of the default bucket (as of this call) in key order.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.default_bucket().iter()
    }

    /// Entries of the default bucket in a key range.
    pub fn range<K: AsRef<[u8]> + ?Sized>(
        &self,
        range: impl std::ops::RangeBounds<K>,
    ) -> Result<Range<'_>> {
        self.default_bucket().range(range)
    }

    /// Entries of the default bucket whose key starts with `prefix`.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'_>> {
        self.default_bucket().prefix(prefix)
    }

    /// A cursor over the default bucket (as of this call).
    pub fn cursor(&self) -> Result<Cursor<'_>> {
        self.default_bucket().cursor()
    }

    /// Commits: durable on return with [`crate::Durability::Immediate`]
    /// (the database's durability unless [`WriteTxn::set_durability`]
    /// chose another for this transaction).
    /// On error the transaction's changes may or may not have reached the
    /// disk; if the handle is poisoned, reopen to find out.
    pub fn commit(self) -> Result<()> {
        let state = self
            .state
            .borrow_mut()
            .take()
            .expect("transaction state is present until commit");
        let r = commit::commit(&self.inner, state, self.durability.get());
        let inner = self.inner.clone();
        drop(self); // releases the writer slot before waiting for the sync
        match r? {
            Some(txn) => inner.wait_durable(txn),
            None => Ok(()),
        }
    }

    /// Discards every change (the same as dropping the transaction).
    pub fn abort(self) {}
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        // An abort: the spilled pages are free again at once.
        if let Some(s) = self.state.get_mut() {
            if !s.spilled.is_empty() {
                s.spilled.abort(&mut self.inner.core.lock().alloc);
            }
        }
        self.inner.release_writer();
    }
}
