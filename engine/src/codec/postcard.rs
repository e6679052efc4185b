//! [`Postcard`]: a value codec for any serde type (feature `serde`).

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::value::ValueCodec;
use super::{decode_error, expect_end};
use crate::{Error, Result};

/// Stores values of any `T: Serialize + DeserializeOwned` in the
/// [postcard](https://docs.rs/postcard) format: compact (integers as
/// varints, no field names, no padding) and stable (postcard 1.x keeps its
/// wire format). Fields are identified by position, so adding, removing or
/// reordering fields of `T` changes the format: stored values then fail to
/// decode with [`Error::Decode`]. Enabled by the engine's `serde`
/// feature. For values only: postcard's byte order is not the key order,
/// so it is not a [`crate::KeyCodec`].
///
/// `Postcard<T>` is only a name for the codec, never a value: a bucket
/// `BucketDef<u64, Postcard<User>>` takes and returns `User`s.
///
/// ```
/// use vellum::{BucketDef, Db, Postcard};
///
/// /// User id -> (name, roles).
/// const USERS: BucketDef<u64, Postcard<(String, Vec<String>)>> = BucketDef::new("users");
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     tx.open(&USERS)?
///         .put(&1, &("alice".to_string(), vec!["admin".to_string()]))
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// let (name, roles) = tx.open(&USERS).unwrap().get(&1).unwrap().unwrap();
/// assert_eq!((name.as_str(), roles.len()), ("alice", 1));
/// ```
pub struct Postcard<T>(PhantomData<fn() -> T>);

impl<T: Serialize + DeserializeOwned> ValueCodec for Postcard<T> {
    type Owned = T;
    type Borrowed = T;

    fn encode_value(value: &T, out: &mut Vec<u8>) -> Result<()> {
        let encoded = postcard::to_allocvec(value).map_err(|e| Error::Encode {
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        out.extend_from_slice(&encoded);
        Ok(())
    }

    fn decode_value(bytes: &[u8]) -> Result<T> {
        let (value, rest) = postcard::take_from_bytes::<T>(bytes)
            .map_err(|e| decode_error::<T>(format!("postcard: {e}")))?;
        expect_end::<T>(rest)?;
        Ok(value)
    }
}
