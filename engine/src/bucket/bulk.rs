//! Operations over many entries: [`BucketMut::retain`] and
//! [`BucketMut::delete_range`].
//!
//! Neither deletes while it walks: each walks a batch of entries over a
//! view of the bucket, drops the walk, then deletes the batch's doomed keys
//! one by one (so the log records exactly one delete per removed key, and
//! no walk holds pages the deletes copy or a spill writes), and the next
//! batch seeks past the last key it saw.

use std::ops::{Bound, RangeBounds};

use super::{bounds, BucketMut};
use crate::Result;

/// Entries walked per batch.
const BATCH_ENTRIES: usize = 1024;
/// Bytes of doomed keys collected per batch, at most (plus one key).
const BATCH_KEY_BYTES: usize = 256 << 10;

/// One batch: the keys to delete and where the next batch starts (`None`
/// when the walk reached the end).
struct Batch {
    doomed: Vec<Vec<u8>>,
    resume_after: Option<Vec<u8>>,
}

impl BucketMut<'_> {
    /// Walks at most one batch of the bucket from `start` to `end`, calling
    /// `doom(key, value)` on each entry (with the value only if
    /// `with_values`).
    fn batch(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        with_values: bool,
        doom: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Batch> {
        let view = self.view()?;
        let range = view.range::<[u8]>((start, end));
        let mut doomed = Vec::new();
        let (mut seen, mut bytes) = (0, 0);
        let mut step = |key: &[u8], value: &[u8]| {
            seen += 1;
            if doom(key, value) {
                bytes += key.len();
                doomed.push(key.to_vec());
            }
            seen < BATCH_ENTRIES && bytes < BATCH_KEY_BYTES
        };
        let mut resume_after = None;
        if with_values {
            for e in range {
                let e = e?;
                if !step(e.key(), e.value()) {
                    resume_after = Some(e.key().to_vec());
                    break;
                }
            }
        } else {
            for k in range.keys() {
                let k = k?;
                if !step(&k, &[]) {
                    resume_after = Some(k.to_vec());
                    break;
                }
            }
        }
        Ok(Batch {
            doomed,
            resume_after,
        })
    }

    /// Deletes, batch by batch, the entries from `start` to `end` that
    /// `doom` picks; returns how many.
    fn delete_where(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        with_values: bool,
        doom: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let end = end.map(<[u8]>::to_vec);
        let mut start = start.map(<[u8]>::to_vec);
        let mut removed = 0;
        loop {
            let batch = self.batch(
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
                with_values,
                doom,
            )?;
            for k in &batch.doomed {
                removed += u64::from(self.delete(k)?);
            }
            match batch.resume_after {
                Some(k) => start = Bound::Excluded(k),
                None => return Ok(removed),
            }
        }
    }

    /// Keeps only the entries for which `keep(key, value)` returns true,
    /// deleting the others; returns how many it deleted. Like
    /// `BTreeMap::retain`, but a failure (an I/O error, say) can leave it
    /// half done: abort the transaction then.
    ///
    /// Cost: one walk over the whole bucket, reading every value (large
    /// ones from their overflow pages), plus a delete (a descent, copying
    /// the pages on its path once per transaction) per deleted key. The
    /// walk goes in batches of at most 1024 entries (and 256 KiB of doomed
    /// keys), each a new seek, so memory stays bounded whatever the bucket
    /// size; `keep` is called in key order, exactly once per entry,
    /// while no change is under way.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let b = tx.create_bucket(b"n").unwrap();
    /// b.put_many((0u32..10).map(|i| (i.to_be_bytes(), [i as u8 % 2]))).unwrap();
    /// let removed = b.retain(|_key, value| value == [0]).unwrap();
    /// assert_eq!((removed, b.len().unwrap()), (5, 5));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        self.delete_where(Bound::Unbounded, Bound::Unbounded, true, &mut |k, v| {
            !keep(k, v)
        })
    }

    /// Deletes every key in `range` (`a..b`, `a..=b`, `a..`, `..b`, or a
    /// pair of [`Bound`]s); returns how many it deleted. Each is logged as
    /// its own delete. A failure can leave it half done: abort the
    /// transaction then.
    ///
    /// Cost: a walk over the keys in the range (values are not read) in
    /// batches of at most 1024 keys, each a new seek, plus one delete (a
    /// descent, copying the pages on its path once per transaction) per
    /// key: O(k log n) for k keys, not the O(log n) of cutting off whole
    /// subtrees, and the commit logs every key.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put_many([(b"a", b""), (b"b", b""), (b"c", b""), (b"d", b"")]).unwrap();
    /// assert_eq!(tx.delete_range(&b"b"[..]..=&b"c"[..]).unwrap(), 2);
    /// let left: Vec<_> = tx.iter().unwrap().map(|e| e.unwrap().key().to_vec()).collect();
    /// assert_eq!(left, vec![b"a".to_vec(), b"d".to_vec()]);
    /// ```
    pub fn delete_range<K: AsRef<[u8]> + ?Sized>(&self, range: impl RangeBounds<K>) -> Result<u64> {
        let (start, end) = bounds(&range);
        self.delete_where(start, end, false, &mut |_, _| true)
    }
}
