//! [`TypedBucket`]: a typed read view of a bucket at one version.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use super::{encode_bounds, encode_key, TypedRange};
use crate::codec::{KeyCodec, ValueCodec};
use crate::{Bucket, Result};

/// A read-only typed view of a bucket at one version, from
/// [`crate::ReadTxn::open`] or [`crate::TypedBucketMut::view`]. Keys are
/// encoded by `K`, values decoded by `V`; stored bytes that do not decode
/// give [`crate::Error::Decode`].
///
/// ```
/// use vellum::{BucketDef, Db};
/// const PRICES: BucketDef<String, u32> = BucketDef::new("prices");
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     let prices = tx.open(&PRICES)?;
///     prices.put("apple", &120)?;
///     prices.put("banana", &80)?;
///     prices.put("cherry", &400)
/// })
/// .unwrap();
///
/// let tx = db.begin_read().unwrap();
/// let prices = tx.open(&PRICES).unwrap();
/// assert_eq!(prices.get("banana").unwrap(), Some(80));
/// assert_eq!(prices.get("durian").unwrap(), None);
/// assert_eq!(prices.len(), 3);
/// assert_eq!(prices.first().unwrap(), Some(("apple".to_string(), 120)));
/// assert_eq!(prices.last().unwrap(), Some(("cherry".to_string(), 400)));
/// let cheap: Vec<String> = prices
///     .range("b"..)
///     .rev()
///     .map(|e| e.unwrap().0)
///     .collect();
/// assert_eq!(cheap, ["cherry", "banana"]);
/// ```
pub struct TypedBucket<'tx, K, V> {
    bucket: Bucket<'tx>,
    codecs: PhantomData<fn() -> (K, V)>,
}

impl<'tx, K: KeyCodec, V: ValueCodec> TypedBucket<'tx, K, V> {
    pub(crate) fn new(bucket: Bucket<'tx>) -> TypedBucket<'tx, K, V> {
        TypedBucket {
            bucket,
            codecs: PhantomData,
        }
    }

    /// The value of `key`, decoded.
    pub fn get(&self, key: &K::Borrowed) -> Result<Option<V::Owned>> {
        match self.bucket.get(encode_key::<K>(key))? {
            Some(value) => V::decode_value(&value).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `key` is present (its value is not read nor decoded).
    pub fn contains(&self, key: &K::Borrowed) -> Result<bool> {
        self.bucket.contains(encode_key::<K>(key))
    }

    /// Number of keys (O(1)).
    pub fn len(&self) -> u64 {
        self.bucket.len()
    }

    /// Whether the bucket has no keys.
    pub fn is_empty(&self) -> bool {
        self.bucket.is_empty()
    }

    /// All entries in key order (double-ended).
    pub fn iter(&self) -> TypedRange<'tx, K, V> {
        TypedRange::new(self.bucket.iter())
    }

    /// Entries whose keys fall in `range` (`a..b`, `a..=b`, `a..`, `..b`,
    /// or a pair of [`Bound`]s), each bound encoded by `K`. A bound is a
    /// key or anything that borrows as one: `"a".."c"` for `String` keys
    /// (a pair of `Bound<&str>` can be read as bounds of `str` or of
    /// `&str`, so it needs the type named:
    /// `range::<str, _>((Bound::Excluded("a"), Bound::Unbounded))`).
    pub fn range<Q, R>(&self, range: R) -> TypedRange<'tx, K, V>
    where
        Q: Borrow<K::Borrowed> + ?Sized,
        R: RangeBounds<Q>,
    {
        let (start, end) = encode_bounds::<K, Q>(&range);
        let bytes: (Bound<&[u8]>, Bound<&[u8]>) = (
            start.as_ref().map(Vec::as_slice),
            end.as_ref().map(Vec::as_slice),
        );
        TypedRange::new(self.bucket.range::<[u8]>(bytes))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K::Owned, V::Owned)>> {
        self.iter().next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K::Owned, V::Owned)>> {
        self.iter().next_back().transpose()
    }

    /// The untyped view underneath (bytes in, bytes out).
    pub fn untyped(&self) -> &Bucket<'tx> {
        &self.bucket
    }
}
