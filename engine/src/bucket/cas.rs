//! Compare-and-swap: a conditional put or delete.

use std::fmt;

use super::BucketMut;
use crate::Result;

/// What [`BucketMut::compare_and_swap`] found instead of the expected
/// value: the key's current value (`None`: absent). Nothing was changed.
///
/// ```
/// let m = vellum::CasMismatch { current: Some(b"v".to_vec()) };
/// assert_eq!(m.to_string(), "compare-and-swap mismatch: the key holds a 1-byte value");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CasMismatch {
    /// The value the key holds, if it is present.
    pub current: Option<Vec<u8>>,
}

impl fmt::Display for CasMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.current {
            Some(v) => write!(
                f,
                "compare-and-swap mismatch: the key holds a {}-byte value",
                v.len()
            ),
            None => write!(f, "compare-and-swap mismatch: the key is absent"),
        }
    }
}

impl std::error::Error for CasMismatch {}

impl BucketMut<'_> {
    /// Sets `key` to `new` (deletes it if `new` is `None`) only if its
    /// current value equals `expected` (`None`: the key is absent). Values
    /// are plain `Option<&[u8]>`, so `None` needs no annotation: pass
    /// `Some(v.as_slice())` or `Some(&v[..])`, or a previous mismatch's
    /// `current.as_deref()`.
    ///
    /// The outer `Result` is the engine's (I/O, [`crate::Error::KeyTooLarge`],
    /// [`crate::Error::ValueTooLarge`], [`crate::Error::BucketNotFound`]);
    /// the inner one is the comparison's: `Ok(())` when the swap happened,
    /// `Err(`[`CasMismatch`]`)` holding the current value when it did not
    /// (nothing is then changed or logged). A swap is logged as the one put
    /// or delete it makes; a swap from absent to absent changes and logs
    /// nothing. The single writer makes the comparison and the change
    /// atomic within the transaction; other transactions see both or
    /// neither. Costs a lookup that copies the current value out, then the
    /// put or delete.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// use vellum::CasMismatch;
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.default_bucket();
    /// let (one, two) = (b"1".as_slice(), b"2".as_slice());
    /// // Create only if absent.
    /// assert_eq!(b.compare_and_swap(b"k", None, Some(one)).unwrap(), Ok(()));
    /// // Replace only if unchanged.
    /// assert_eq!(b.compare_and_swap(b"k", Some(one), Some(two)).unwrap(), Ok(()));
    /// let stale = b.compare_and_swap(b"k", Some(one), Some(two)).unwrap();
    /// assert_eq!(stale, Err(CasMismatch { current: Some(b"2".to_vec()) }));
    /// // Retry from what it found; delete only if unchanged.
    /// let seen = stale.unwrap_err().current;
    /// assert_eq!(b.compare_and_swap(b"k", seen.as_deref(), None).unwrap(), Ok(()));
    /// assert!(!b.contains(b"k").unwrap());
    /// ```
    pub fn compare_and_swap(
        &self,
        key: impl AsRef<[u8]>,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<std::result::Result<(), CasMismatch>> {
        let key = key.as_ref();
        {
            let current = self.get(key)?;
            if current.as_deref() != expected {
                return Ok(Err(CasMismatch {
                    current: current.map(Vec::from),
                }));
            }
        }
        match new {
            Some(v) => self.put(key, v)?,
            None if expected.is_some() => {
                self.delete(key)?;
            }
            None => {}
        }
        Ok(Ok(()))
    }
}
