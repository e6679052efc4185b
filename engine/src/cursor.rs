//! Ordered iteration: [`Range`] (a double-ended iterator) and [`Cursor`]
//! (explicit first / last / seek / next / prev).

use std::ops::Bound;

use crate::btree::cursor::{Seek, TreeCursor};
use crate::page::node::Child;
use crate::pager::Pager;
use crate::Result;

/// A key-value pair as returned by iteration.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Entries of a bucket within key bounds, in key order. Iterate backwards
/// with `.rev()` or `next_back`. Items are `Result`s because reading a page
/// can fail (an I/O error or detected corruption); after an error the
/// iterator ends.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| {
///     for k in [b"a", b"b", b"c", b"d"] {
///         tx.put(k, b"")?;
///     }
///     Ok::<_, vellum::Error>(())
/// })
/// .unwrap();
/// let tx = db.begin_read().unwrap();
/// let keys: Vec<Vec<u8>> = tx.range(&b"b"[..]..=&b"c"[..]).map(|e| e.unwrap().0).collect();
/// assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
/// let last = tx.iter().next_back().unwrap().unwrap();
/// assert_eq!(last.0, b"d");
/// ```
pub struct Range<'tx> {
    pager: &'tx Pager,
    front: TreeCursor,
    back: TreeCursor,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    front_started: bool,
    back_started: bool,
    last_front: Option<Vec<u8>>,
    last_back: Option<Vec<u8>>,
    done: bool,
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl<'tx> Range<'tx> {
    pub(crate) fn new(
        pager: &'tx Pager,
        root: Option<Child>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Range<'tx> {
        Range {
            pager,
            front: TreeCursor::new(root.clone()),
            back: TreeCursor::new(root),
            start: owned(start),
            end: owned(end),
            front_started: false,
            back_started: false,
            last_front: None,
            last_back: None,
            done: false,
        }
    }

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

    fn step_front(&mut self) -> Result<Option<Entry>> {
        let found = if self.front_started {
            self.front.next(self.pager)?
        } else {
            self.front_started = true;
            match &self.start {
                Bound::Included(k) => self.front.seek(self.pager, k, Seek::Ge)?,
                Bound::Excluded(k) => self.front.seek(self.pager, k, Seek::Gt)?,
                Bound::Unbounded => self.front.first(self.pager)?,
            }
        };
        if !found {
            return Ok(None);
        }
        let Some((k, v)) = self.front.current() else {
            return Ok(None);
        };
        if !self.below_end(k) || self.last_back.as_deref().is_some_and(|b| k >= b) {
            return Ok(None);
        }
        let entry = (k.to_vec(), self.pager.value(v)?);
        self.last_front = Some(entry.0.clone());
        Ok(Some(entry))
    }

    fn step_back(&mut self) -> Result<Option<Entry>> {
        let found = if self.back_started {
            self.back.prev(self.pager)?
        } else {
            self.back_started = true;
            match &self.end {
                Bound::Included(k) => self.back.seek(self.pager, k, Seek::Le)?,
                Bound::Excluded(k) => self.back.seek(self.pager, k, Seek::Lt)?,
                Bound::Unbounded => self.back.last(self.pager)?,
            }
        };
        if !found {
            return Ok(None);
        }
        let Some((k, v)) = self.back.current() else {
            return Ok(None);
        };
        if !self.above_start(k) || self.last_front.as_deref().is_some_and(|f| k <= f) {
            return Ok(None);
        }
        let entry = (k.to_vec(), self.pager.value(v)?);
        self.last_back = Some(entry.0.clone());
        Ok(Some(entry))
    }

    fn finish(&mut self, r: Result<Option<Entry>>) -> Option<Result<Entry>> {
        match r {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Iterator for Range<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r)
    }
}

impl std::iter::FusedIterator for Range<'_> {}

/// A movable position in a bucket. Each move returns the entry it lands on,
/// or `None` past either end.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| { tx.put(b"a", b"1")?; tx.put(b"c", b"3") }).unwrap();
/// let tx = db.begin_read().unwrap();
/// let mut c = tx.cursor();
/// assert_eq!(c.seek(b"b").unwrap().unwrap().0, b"c");
/// assert_eq!(c.prev().unwrap().unwrap().0, b"a");
/// assert!(c.prev().unwrap().is_none());
/// assert_eq!(c.last().unwrap().unwrap().1, b"3");
/// ```
pub struct Cursor<'tx> {
    pager: &'tx Pager,
    inner: TreeCursor,
}

impl<'tx> Cursor<'tx> {
    pub(crate) fn new(pager: &'tx Pager, root: Option<Child>) -> Cursor<'tx> {
        Cursor {
            pager,
            inner: TreeCursor::new(root),
        }
    }

    fn here(&self, found: bool) -> Result<Option<Entry>> {
        if !found {
            return Ok(None);
        }
        match self.inner.current() {
            Some((k, v)) => Ok(Some((k.to_vec(), self.pager.value(v)?))),
            None => Ok(None),
        }
    }

    /// Moves to the first entry.
    pub fn first(&mut self) -> Result<Option<Entry>> {
        let f = self.inner.first(self.pager)?;
        self.here(f)
    }

    /// Moves to the last entry.
    pub fn last(&mut self) -> Result<Option<Entry>> {
        let f = self.inner.last(self.pager)?;
        self.here(f)
    }

    /// Moves to the first entry whose key is `>= key`.
    pub fn seek(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Entry>> {
        let f = self.inner.seek(self.pager, key.as_ref(), Seek::Ge)?;
        self.here(f)
    }

    /// Moves to the next entry (from an unpositioned cursor: nothing).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>> {
        let f = self.inner.next(self.pager)?;
        self.here(f)
    }

    /// Moves to the previous entry.
    pub fn prev(&mut self) -> Result<Option<Entry>> {
        let f = self.inner.prev(self.pager)?;
        self.here(f)
    }

    /// The entry under the cursor, if positioned.
    pub fn current(&self) -> Result<Option<Entry>> {
        self.here(self.inner.current().is_some())
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
