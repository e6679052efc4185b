//! [`TypedRange`]: typed entries of a bucket in key order.

use std::marker::PhantomData;

use crate::codec::{KeyCodec, ValueCodec};
use crate::entry::Entry;
use crate::{Range, Result};

/// Entries of a typed bucket within key bounds, in key order, decoded:
/// items are `Result<(key, value)>`. Iterate backwards with `.rev()` or
/// `next_back`. An entry whose bytes do not decode gives
/// [`crate::Error::Decode`] and the walk goes on past it; an error reading
/// a page ends the walk (as for [`crate::Range`]).
///
/// ```
/// use vellum::{BucketDef, Db};
/// const SQUARES: BucketDef<i32, i64> = BucketDef::new("squares");
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     let squares = tx.open(&SQUARES)?;
///     for i in -3..=3 {
///         squares.put(&i, &(i64::from(i) * i64::from(i)))?;
///     }
///     Ok(())
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// let squares = tx.open(&SQUARES).unwrap();
/// let keys: Vec<i32> = squares.range(-1..=1).map(|e| e.unwrap().0).collect();
/// assert_eq!(keys, [-1, 0, 1]);
/// let (k, v) = squares.iter().next_back().unwrap().unwrap();
/// assert_eq!((k, v), (3, 9));
/// ```
pub struct TypedRange<'tx, K, V> {
    entries: Range<'tx>,
    codecs: PhantomData<fn() -> (K, V)>,
}

impl<'tx, K: KeyCodec, V: ValueCodec> TypedRange<'tx, K, V> {
    pub(crate) fn new(entries: Range<'tx>) -> TypedRange<'tx, K, V> {
        TypedRange {
            entries,
            codecs: PhantomData,
        }
    }

    fn decode(entry: Result<Entry<'tx>>) -> Result<(K::Owned, V::Owned)> {
        let entry = entry?;
        Ok((K::decode_key(entry.key())?, V::decode_value(entry.value())?))
    }
}

impl<K: KeyCodec, V: ValueCodec> Iterator for TypedRange<'_, K, V> {
    type Item = Result<(K::Owned, V::Owned)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.entries.next().map(Self::decode)
    }
}

impl<K: KeyCodec, V: ValueCodec> DoubleEndedIterator for TypedRange<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.entries.next_back().map(Self::decode)
    }
}

impl<K: KeyCodec, V: ValueCodec> std::iter::FusedIterator for TypedRange<'_, K, V> {}
