//! Savepoints: rolling back part of a write transaction.
//!
//! The transaction's trees are copy-on-write `Arc` roots in its catalog,
//! so a savepoint is a copy of the catalog (one root per bucket; the nodes
//! are shared, and changes made after it copy the nodes they touch instead
//! of changing them in place) plus the lengths of what only grows: the log
//! payload, the list of pages the trees stopped using, the spill
//! bookkeeping. Rolling back restores the catalog and cuts those back, so
//! the log record keeps exactly the operations before the savepoint.
//!
//! Spilled pages are the delicate part (FORMAT.md §3 Spill): the
//! savepoint's trees may refer to runs that later changes stop using, and
//! a spill normally gives such runs back for reuse. A savepoint holds a
//! clone of the transaction's [`ReuseGuard`], like an open cursor, so none
//! is given back while it lives; rolling back makes the runs written since
//! free again and the ones released since in use again
//! ([`Spilled::rollback_to`](crate::txn::spill::Spilled::rollback_to)).

use super::WriteTxn;
use crate::btree::cursor::ReuseGuard;
use crate::catalog::Catalog;
use crate::txn::spill::SpillMark;
use crate::Result;

/// The savepoints of a transaction one may still roll back to, oldest
/// first (rolling back to one forgets the later ones).
#[derive(Debug, Default)]
pub(crate) struct Savepoints {
    live: Vec<u64>,
    next: u64,
}

/// A point inside a write transaction to roll back to with
/// [`WriteTxn::rollback_to`]; made by [`WriteTxn::savepoint`].
///
/// While it lives, the transaction's spilled pages that later changes
/// stop using are not reused (the savepoint may need them again), and a
/// spill cannot release the memory of the nodes the savepoint shares: for
/// a transaction large enough to spill, keep savepoints short-lived.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// tx.put(b"kept", b"1").unwrap();
/// let sp = tx.savepoint();
/// tx.put(b"undone", b"2").unwrap();
/// tx.rollback_to(&sp).unwrap();
/// tx.commit().unwrap();
/// let r = db.begin_read().unwrap();
/// assert!(r.get(b"kept").unwrap().is_some());
/// assert!(r.get(b"undone").unwrap().is_none());
/// ```
#[derive(Debug)]
pub struct Savepoint {
    catalog: Catalog,
    payload_len: usize,
    changed: bool,
    freed_len: usize,
    spill: SpillMark,
    capture: Option<crate::subscribe::CaptureMark>,
    number: u64,
    /// Keeps spilled runs the catalog may refer to from reuse, and names
    /// the transaction.
    guard: ReuseGuard,
}

impl WriteTxn {
    /// Marks the transaction's current state, to roll back to later with
    /// [`WriteTxn::rollback_to`]. Costs a copy of the catalog (one root
    /// per bucket, no node copied); changes made while it lives copy each
    /// node they touch once more, as changes after a commit do.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put(b"order", b"placed").unwrap();
    /// let before_payment = tx.savepoint();
    /// tx.put(b"payment", b"declined").unwrap();
    /// tx.create_bucket(b"receipts").unwrap();
    /// tx.rollback_to(&before_payment).unwrap();
    /// assert!(!tx.contains(b"payment").unwrap());
    /// assert!(tx.bucket_names().unwrap().is_empty());
    /// tx.commit().unwrap(); // commits the order only
    /// assert!(db.begin_read().unwrap().contains(b"order").unwrap());
    /// ```
    pub fn savepoint(&self) -> Savepoint {
        let state = self.state.borrow();
        let s = state
            .as_ref()
            .expect("transaction state is present until commit");
        let mut points = self.savepoints.borrow_mut();
        points.next += 1;
        let number = points.next;
        points.live.push(number);
        Savepoint {
            catalog: s.catalog.clone(),
            payload_len: s.payload.len(),
            changed: s.changed,
            freed_len: s.freed.len(),
            spill: s.spilled.mark(),
            capture: s.capture.mark(),
            number,
            guard: self.cursors.clone(),
        }
    }

    /// Undoes every change made since `savepoint` (writes, buckets
    /// created or dropped), as if they had never been made: they are not
    /// logged, and the savepoint stays usable. Savepoints made after it
    /// are forgotten. Iterators and cursors opened meanwhile still read
    /// what they saw. Costs the copy of the catalog back, plus one pass
    /// over the runs spilled since, if any.
    ///
    /// One exception: if the transaction grew too large for the log since
    /// the savepoint, it still commits by a checkpoint (writing the
    /// restored state), since its log payload was dropped.
    ///
    /// # Panics
    ///
    /// If `savepoint` belongs to another transaction or was forgotten by
    /// rolling back to an earlier one.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// let start = tx.savepoint();
    /// for attempt in 0..3u8 {
    ///     tx.put(b"try", [attempt]).unwrap();
    ///     tx.rollback_to(&start).unwrap();
    /// }
    /// assert!(tx.is_empty().unwrap());
    /// ```
    pub fn rollback_to(&self, savepoint: &Savepoint) -> Result<()> {
        assert!(
            savepoint.guard.same(&self.cursors),
            "rollback_to: a savepoint of another transaction"
        );
        {
            let mut points = self.savepoints.borrow_mut();
            let at = points
                .live
                .iter()
                .position(|n| *n == savepoint.number)
                .expect("rollback_to: a savepoint forgotten by rolling back to an earlier one");
            points.live.truncate(at + 1);
        }
        self.inner.check_poisoned()?;
        let mut state = self.state.borrow_mut();
        let s = state
            .as_mut()
            .expect("transaction state is present until commit");
        s.catalog = savepoint.catalog.clone();
        if !s.too_big_for_log {
            s.payload.truncate(savepoint.payload_len);
        }
        s.changed = savepoint.changed;
        s.freed.truncate(savepoint.freed_len);
        s.spilled.rollback_to(&savepoint.spill);
        s.capture.rollback(savepoint.capture.as_ref());
        Ok(())
    }
}
