//! Typed buckets: a [`BucketDef`] names a bucket and the codecs of its
//! keys and values in one place; [`ReadTxn::open`] and [`WriteTxn::open`]
//! give views that take and return those types ([`TypedBucket`],
//! [`TypedBucketMut`], [`TypedRange`]). They are thin wrappers over the
//! untyped [`crate::Bucket`], [`crate::BucketMut`] and [`crate::Range`]:
//! each key is encoded by its [`KeyCodec`] (order-preserving, so typed
//! ranges are byte ranges), each value by its [`ValueCodec`].
//!
//! ```
//! use vellum::{BucketDef, Db};
//!
//! /// (city, year) -> population.
//! const POPULATION: BucketDef<(String, u16), u64> = BucketDef::new("population");
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path().join("db")).unwrap();
//! db.update(|tx| {
//!     let population = tx.open(&POPULATION)?; // created if missing
//!     population.put(&("Lyon".to_string(), 1990), &415_000)?;
//!     population.put(&("Lyon".to_string(), 2020), &522_000)?;
//!     population.put(&("Paris".to_string(), 2020), &2_145_000)
//! })
//! .unwrap();
//!
//! let tx = db.begin_read().unwrap();
//! let population = tx.open(&POPULATION).unwrap();
//! let lyon = ("Lyon".to_string(), 0)..("Lyon".to_string(), u16::MAX);
//! let years: Vec<u16> = population
//!     .range(lyon)
//!     .map(|entry| entry.map(|((_, year), _)| year))
//!     .collect::<vellum::Result<_>>()
//!     .unwrap();
//! assert_eq!(years, [1990, 2020]);
//! ```

mod range;
mod read;
mod write;

use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

pub use range::TypedRange;
pub use read::TypedBucket;
pub use write::TypedBucketMut;

use crate::codec::{KeyCodec, ValueCodec};
use crate::{ReadTxn, Result, WriteTxn};

/// A typed bucket's definition: its name, the codec of its keys `K` and
/// the codec of its values `V`. Declare it once as a constant and open it
/// in each transaction; the empty name means the default bucket.
///
/// ```
/// use vellum::{BucketDef, Db};
///
/// const SCORES: BucketDef<String, i64> = BucketDef::new("scores");
/// assert_eq!(SCORES.name(), "scores");
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.open(&SCORES)?.put("alice", &-3)).unwrap();
/// let tx = db.begin_read().unwrap();
/// assert_eq!(tx.open(&SCORES).unwrap().get("alice").unwrap(), Some(-3));
/// ```
pub struct BucketDef<K, V> {
    name: &'static str,
    codecs: PhantomData<fn() -> (K, V)>,
}

impl<K, V> BucketDef<K, V> {
    /// The definition of the bucket called `name` (UTF-8; the empty name
    /// is the default bucket, see [`BucketDef::default_bucket`]).
    pub const fn new(name: &'static str) -> BucketDef<K, V> {
        BucketDef {
            name,
            codecs: PhantomData,
        }
    }

    /// The default bucket, typed: the one [`ReadTxn::get`] and
    /// [`WriteTxn::put`] use.
    ///
    /// ```
    /// use vellum::{BucketDef, Db};
    /// const COUNTERS: BucketDef<u32, u64> = BucketDef::default_bucket();
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.open(&COUNTERS)?.put(&1, &10)).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// assert_eq!(tx.get(1u32.to_be_bytes()).unwrap().unwrap(), 10u64.to_be_bytes());
    /// ```
    pub const fn default_bucket() -> BucketDef<K, V> {
        BucketDef::new("")
    }

    /// The bucket's name (empty for the default bucket).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether this is the default bucket.
    pub const fn is_default_bucket(&self) -> bool {
        self.name.is_empty()
    }
}

impl<K, V> Clone for BucketDef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for BucketDef<K, V> {}

impl<K, V> fmt::Debug for BucketDef<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketDef")
            .field("name", &self.name)
            .field("keys", &std::any::type_name::<K>())
            .field("values", &std::any::type_name::<V>())
            .finish()
    }
}

impl ReadTxn {
    /// Opens a typed bucket in this snapshot ([`crate::Error::BucketNotFound`]
    /// if it does not exist in it).
    ///
    /// ```
    /// use vellum::{BucketDef, Db, Error};
    /// const TAGS: BucketDef<String, ()> = BucketDef::new("tags");
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path().join("db")).unwrap();
    /// assert!(matches!(db.begin_read().unwrap().open(&TAGS), Err(Error::BucketNotFound(_))));
    /// db.update(|tx| tx.open(&TAGS)?.put("rust", &())).unwrap();
    /// assert!(db.begin_read().unwrap().open(&TAGS).unwrap().contains("rust").unwrap());
    /// ```
    pub fn open<K: KeyCodec, V: ValueCodec>(
        &self,
        def: &BucketDef<K, V>,
    ) -> Result<TypedBucket<'_, K, V>> {
        let bucket = if def.is_default_bucket() {
            self.default_bucket()
        } else {
            self.bucket(def.name())?
        };
        Ok(TypedBucket::new(bucket))
    }
}

impl WriteTxn {
    /// Opens a typed bucket in this transaction, creating it if it does
    /// not exist (the creation is part of the transaction).
    ///
    /// ```
    /// use vellum::{BucketDef, Db};
    /// const VISITS: BucketDef<u64, u32> = BucketDef::new("visits");
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let visits = tx.open(&VISITS).unwrap();
    /// visits.put(&7, &1).unwrap();
    /// assert_eq!(visits.get(&7).unwrap(), Some(1));
    /// tx.commit().unwrap();
    /// ```
    pub fn open<K: KeyCodec, V: ValueCodec>(
        &self,
        def: &BucketDef<K, V>,
    ) -> Result<TypedBucketMut<'_, K, V>> {
        let bucket = if def.is_default_bucket() {
            self.default_bucket()
        } else {
            self.create_bucket_if_missing(def.name())?
        };
        Ok(TypedBucketMut::new(bucket))
    }
}

/// `key`'s whole-key encoding.
fn encode_key<K: KeyCodec>(key: &K::Borrowed) -> Vec<u8> {
    let mut out = Vec::new();
    K::encode_key(key, &mut out);
    out
}

/// The byte bounds of a typed key range.
fn encode_bounds<K: KeyCodec, Q: Borrow<K::Borrowed> + ?Sized>(
    range: &impl RangeBounds<Q>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let encode = |bound: Bound<&Q>| bound.map(|key| encode_key::<K>(key.borrow()));
    (encode(range.start_bound()), encode(range.end_bound()))
}

/// `value`'s encoding.
fn encode_value<V: ValueCodec>(value: &V::Borrowed) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    V::encode_value(value, &mut out)?;
    Ok(out)
}
