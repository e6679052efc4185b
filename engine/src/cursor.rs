//! Ordered iteration: [`Range`] (a double-ended iterator of borrowed
//! entries), [`Keys`] (keys only) and [`Cursor`] (explicit first / last /
//! seek / next / prev).

use std::ops::Bound;

use smallvec::SmallVec;

use crate::btree::cursor::{Root, Seek, TreeCursor};
use crate::entry::{Entry, KeyRef};
use crate::pager::Pager;
use crate::Result;

/// Entries of a bucket within key bounds, in key order. Iterate backwards
/// with `.rev()` or `next_back`. Each item is an [`Entry`] borrowed from
/// the page it lies in (no copy, no allocation per entry); items are
/// `Result`s because reading a page can fail (an I/O error or detected
/// corruption); after an error the iterator ends.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     for k in [b"a", b"b", b"c", b"d"] {
///         tx.put(k, b"")?;
///     }
///     Ok(())
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// let keys: Vec<Vec<u8>> = tx
///     .range(&b"b"[..]..=&b"c"[..])
///     .map(|e| e.unwrap().key().to_vec())
///     .collect();
/// assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
/// let last = tx.iter().next_back().unwrap().unwrap();
/// assert_eq!(last.key(), b"d");
/// ```
pub struct Range<'tx> {
    pager: &'tx Pager,
    front: TreeCursor<'tx>,
    /// The back end, made on its first move (a forward walk, the common
    /// case, never needs it). Inline, not boxed: a backward walk from the
    /// cache allocates nothing either.
    back: Option<TreeCursor<'tx>>,
    start: Bound<BoundKey>,
    end: Bound<BoundKey>,
    front_started: bool,
    with_values: bool,
    done: bool,
}

/// A bound's key, kept without allocating when it is short.
type BoundKey = SmallVec<[u8; 32]>;

fn owned(b: Bound<&[u8]>) -> Bound<BoundKey> {
    match b {
        Bound::Included(k) => Bound::Included(SmallVec::from_slice(k)),
        Bound::Excluded(k) => Bound::Excluded(SmallVec::from_slice(k)),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'tx> Range<'tx> {
    pub(crate) fn new(
        pager: &'tx Pager,
        root: Root<'tx>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Range<'tx> {
        Range {
            pager,
            front: TreeCursor::new(root),
            back: None,
            start: owned(start),
            end: owned(end),
            front_started: false,
            with_values: true,
            done: false,
        }
    }

    /// The same walk yielding keys only: a large value's overflow run is
    /// never read.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"big", vec![7u8; 100_000])).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// let keys: Vec<Vec<u8>> = tx.iter().keys().map(|k| k.unwrap().to_vec()).collect();
    /// assert_eq!(keys, vec![b"big".to_vec()]);
    /// ```
    pub fn keys(mut self) -> Keys<'tx> {
        self.with_values = false;
        Keys(self)
    }

    /// The same walk yielding owned `(key, value)` pairs: the convenience
    /// for collecting into owned containers (each entry is copied).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"k", b"v")).unwrap();
    /// let tx = db.begin_read().unwrap();
    /// let all: Vec<(Vec<u8>, Vec<u8>)> = tx.iter().owned().collect::<Result<_, _>>().unwrap();
    /// assert_eq!(all, vec![(b"k".to_vec(), b"v".to_vec())]);
    /// ```
    pub fn owned(self) -> Owned<'tx> {
        Owned(self)
    }

    #[inline]
    fn below_end(&self, key: &[u8]) -> bool {
        match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn above_start(&self, key: &[u8]) -> bool {
        match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        }
    }

    /// Moves the front end: to the first entry in bounds, then on.
    #[inline]
    fn move_front(&mut self) -> Result<bool> {
        if self.front_started {
            return self.front.next(self.pager);
        }
        self.front_started = true;
        match &self.start {
            Bound::Included(k) => self.front.seek(self.pager, k, Seek::Ge),
            Bound::Excluded(k) => self.front.seek(self.pager, k, Seek::Gt),
            Bound::Unbounded => self.front.first(self.pager),
        }
    }

    /// Moves the back end: to the last entry in bounds, then back.
    fn move_back(&mut self) -> Result<bool> {
        if let Some(back) = &mut self.back {
            return back.prev(self.pager);
        }
        let back = self.back.insert(TreeCursor::new(self.front.root().clone()));
        match &self.end {
            Bound::Included(k) => back.seek(self.pager, k, Seek::Le),
            Bound::Excluded(k) => back.seek(self.pager, k, Seek::Lt),
            Bound::Unbounded => back.last(self.pager),
        }
    }

    /// Ends the iteration, passing on `e` if it was an error.
    #[cold]
    fn end(&mut self, e: Option<crate::Error>) -> Option<Result<Entry<'tx>>> {
        self.done = true;
        e.map(Err)
    }
}

impl<'tx> Iterator for Range<'tx> {
    type Item = Result<Entry<'tx>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // The common step: the next entry of the same leaf.
        if self.front_started && self.back.is_none() {
            if let Some((held, i)) = self.front.next_in_leaf() {
                let e = match Entry::at(self.pager, held, i, self.with_values) {
                    Ok(e) => e,
                    Err(e) => return self.end(Some(e)),
                };
                if !self.below_end(e.key()) {
                    return self.end(None);
                }
                return Some(Ok(e));
            }
        }
        match self.move_front() {
            Ok(true) => {}
            Ok(false) => return self.end(None),
            Err(e) => return self.end(Some(e)),
        }
        let Some((held, _, i)) = self.front.current_held() else {
            return self.end(None);
        };
        let e = match Entry::at(self.pager, held, i, self.with_values) {
            Ok(e) => e,
            Err(e) => return self.end(Some(e)),
        };
        let k = e.key();
        // The back end stands on the last entry it yielded: stop before it.
        let before_back = match &self.back {
            Some(back) => back.key().is_some_and(|b| k < b),
            None => true,
        };
        if !self.below_end(k) || !before_back {
            return self.end(None);
        }
        Some(Ok(e))
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.move_back() {
            Ok(true) => {}
            Ok(false) => return self.end(None),
            Err(e) => return self.end(Some(e)),
        }
        let Some((held, _, i)) = self.back.as_ref().and_then(|b| b.current_held()) else {
            return self.end(None);
        };
        let e = match Entry::at(self.pager, held, i, self.with_values) {
            Ok(e) => e,
            Err(e) => return self.end(Some(e)),
        };
        let k = e.key();
        if !self.above_start(k) || (self.front_started && self.front.key().is_none_or(|f| k <= f)) {
            return self.end(None);
        }
        Some(Ok(e))
    }
}

impl std::iter::FusedIterator for Range<'_> {}

/// The keys of a [`Range`] ([`Range::keys`]): no value is read, so a walk
/// over keys never touches an overflow run.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put_many([(b"a", b"1"), (b"b", b"2")])).unwrap();
/// let tx = db.begin_read().unwrap();
/// let keys: Vec<Vec<u8>> = tx.iter().keys().map(|k| k.unwrap().to_vec()).collect();
/// assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
/// ```
pub struct Keys<'tx>(Range<'tx>);

impl<'tx> Iterator for Keys<'tx> {
    type Item = Result<KeyRef<'tx>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(Entry::into_key))
    }
}

impl DoubleEndedIterator for Keys<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|r| r.map(Entry::into_key))
    }
}

impl std::iter::FusedIterator for Keys<'_> {}

/// The entries of a [`Range`] as owned pairs ([`Range::owned`]).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"a", b"1")).unwrap();
/// let tx = db.begin_read().unwrap();
/// let pairs: Vec<(Vec<u8>, Vec<u8>)> = tx.iter().owned().collect::<Result<_, _>>().unwrap();
/// assert_eq!(pairs, [(b"a".to_vec(), b"1".to_vec())]);
/// ```
pub struct Owned<'tx>(Range<'tx>);

impl Iterator for Owned<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(Entry::into_pair))
    }
}

impl DoubleEndedIterator for Owned<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|r| r.map(Entry::into_pair))
    }
}

impl std::iter::FusedIterator for Owned<'_> {}

/// A movable position in a bucket. Each move returns the entry it lands on
/// (borrowed, like [`Range`]'s), or `None` past either end.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| { tx.put(b"a", b"1")?; tx.put(b"c", b"3") }).unwrap();
/// let tx = db.begin_read().unwrap();
/// let mut c = tx.cursor();
/// assert_eq!(c.seek(b"b").unwrap().unwrap().key(), b"c");
/// assert_eq!(c.prev().unwrap().unwrap().key(), b"a");
/// assert!(c.prev().unwrap().is_none());
/// assert_eq!(c.last().unwrap().unwrap().value(), b"3");
/// ```
pub struct Cursor<'tx> {
    pager: &'tx Pager,
    inner: TreeCursor<'tx>,
}

impl<'tx> Cursor<'tx> {
    pub(crate) fn new(pager: &'tx Pager, root: Root<'tx>) -> Cursor<'tx> {
        Cursor {
            pager,
            inner: TreeCursor::new(root),
        }
    }

    fn here(&self, found: bool) -> Result<Option<Entry<'tx>>> {
        if !found {
            return Ok(None);
        }
        match self.inner.current_held() {
            Some((held, _, i)) => Entry::at(self.pager, held, i, true).map(Some),
            None => Ok(None),
        }
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> Result<Option<Entry<'tx>>> {
        let f = self.inner.first(self.pager)?;
        self.here(f)
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> Result<Option<Entry<'tx>>> {
        let f = self.inner.last(self.pager)?;
        self.here(f)
    }

    /// Moves to the first entry whose key is `>= key`.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Entry<'tx>>> {
        let f = self.inner.seek(self.pager, key.as_ref(), Seek::Ge)?;
        self.here(f)
    }

    /// Moves to the next entry (from an unpositioned cursor: nothing).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'tx>>> {
        let f = self.inner.next(self.pager)?;
        self.here(f)
    }

    /// Moves to the previous entry.
    pub fn prev(&mut self) -> Result<Option<Entry<'tx>>> {
        let f = self.inner.prev(self.pager)?;
        self.here(f)
    }

    /// The entry under the cursor, if positioned.
    pub fn current(&self) -> Result<Option<Entry<'tx>>> {
        self.here(self.inner.current().is_some())
    }

    /// The key under the cursor, if positioned (never reads a value).
    pub fn key(&self) -> Option<&[u8]> {
        self.inner.key()
    }
}

/// The smallest key greater than every key that starts with `prefix`, if
/// there is one.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut p = prefix.to_vec();
    while let Some(last) = p.pop() {
        if last < 0xff {
            p.push(last + 1);
            return Some(p);
        }
    }
    None
}
