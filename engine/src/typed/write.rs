//! [`TypedBucketMut`]: a typed bucket inside the write transaction.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::RangeBounds;

use super::{encode_key, encode_value, TypedBucket, TypedRange};
use crate::codec::{KeyCodec, ValueCodec};
use crate::{BucketMut, Result};

/// A typed bucket inside the write transaction, from
/// [`crate::WriteTxn::open`]: reads see the transaction's own writes;
/// iterators see the bucket as it was when they were made (as for
/// [`crate::BucketMut`]).
///
/// ```
/// use vellum::{BucketDef, Db};
/// const STOCK: BucketDef<(String, u32), u64> = BucketDef::new("stock");
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// let stock = tx.open(&STOCK).unwrap();
/// let bolt = ("bolt".to_string(), 8);
/// stock.put(&bolt, &500).unwrap();
/// assert!(!stock.insert_if_absent(&bolt, &0).unwrap());
/// assert_eq!(stock.get(&bolt).unwrap(), Some(500));
/// assert!(stock.delete(&bolt).unwrap());
/// assert!(!stock.delete(&bolt).unwrap());
/// assert!(stock.is_empty().unwrap());
/// tx.commit().unwrap();
/// ```
pub struct TypedBucketMut<'tx, K, V> {
    bucket: BucketMut<'tx>,
    codecs: PhantomData<fn() -> (K, V)>,
}

impl<'tx, K: KeyCodec, V: ValueCodec> TypedBucketMut<'tx, K, V> {
    pub(crate) fn new(bucket: BucketMut<'tx>) -> TypedBucketMut<'tx, K, V> {
        TypedBucketMut {
            bucket,
            codecs: PhantomData,
        }
    }

    /// A typed read-only view of the bucket's current content.
    pub fn view(&self) -> Result<TypedBucket<'tx, K, V>> {
        Ok(TypedBucket::new(self.bucket.view()?))
    }

    /// The value of `key` as this transaction sees it, decoded.
    pub fn get(&self, key: &K::Borrowed) -> Result<Option<V::Owned>> {
        self.view()?.get(key)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &K::Borrowed) -> Result<bool> {
        self.bucket.contains(encode_key::<K>(key))
    }

    /// Number of keys (O(1)).
    pub fn len(&self) -> Result<u64> {
        self.bucket.len()
    }

    /// Whether the bucket is empty.
    pub fn is_empty(&self) -> Result<bool> {
        self.bucket.is_empty()
    }

    /// Sets `key` to `value`. An encoded key or value over the limits
    /// gives [`crate::Error::KeyTooLarge`] / [`crate::Error::ValueTooLarge`].
    pub fn put(&self, key: &K::Borrowed, value: &V::Borrowed) -> Result<()> {
        let value = encode_value::<V>(value)?;
        self.bucket.put(encode_key::<K>(key), value)
    }

    /// Sets `key` only if it is absent; returns whether it was inserted.
    pub fn insert_if_absent(&self, key: &K::Borrowed, value: &V::Borrowed) -> Result<bool> {
        let value = encode_value::<V>(value)?;
        self.bucket.insert_if_absent(encode_key::<K>(key), value)
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &K::Borrowed) -> Result<bool> {
        self.bucket.delete(encode_key::<K>(key))
    }

    /// All entries (as of this call) in key order.
    pub fn iter(&self) -> Result<TypedRange<'tx, K, V>> {
        Ok(self.view()?.iter())
    }

    /// Entries (as of this call) whose keys fall in `range`, each bound
    /// encoded by `K` (see [`TypedBucket::range`]).
    pub fn range<Q, R>(&self, range: R) -> Result<TypedRange<'tx, K, V>>
    where
        Q: Borrow<K::Borrowed> + ?Sized,
        R: RangeBounds<Q>,
    {
        Ok(self.view()?.range(range))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K::Owned, V::Owned)>> {
        self.view()?.first()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K::Owned, V::Owned)>> {
        self.view()?.last()
    }

    /// The untyped bucket underneath (bytes in, bytes out).
    pub fn untyped(&self) -> &BucketMut<'tx> {
        &self.bucket
    }
}
