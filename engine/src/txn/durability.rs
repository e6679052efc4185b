//! Per-transaction durability: a transaction may commit with another
//! [`Durability`] than the database's.

use std::cell::Cell;

use super::WriteTxn;
use crate::Durability;

impl WriteTxn {
    /// Chooses when [`WriteTxn::commit`] returns, for this transaction
    /// only (it starts with the database's, [`crate::Db::durability`]):
    ///
    /// - [`Durability::Immediate`] on an `Eventual` database: `commit`
    ///   syncs (sharing the sync with concurrent committers) and returns
    ///   once this commit, and every earlier one, survives power loss;
    ///   readers see it once it is synced.
    /// - [`Durability::Eventual`] on an `Immediate` database: `commit`
    ///   returns without syncing, and readers see the commit at once; a
    ///   crash may lose it (and any later commit), never an earlier
    ///   acknowledged one. Since readers are shown the whole new state,
    ///   they also see earlier `Immediate` commits whose sync is still
    ///   under way.
    ///
    /// Either way a crash leaves a prefix of the commits: the log is
    /// replayed in order. Setting it costs nothing; it may be called any
    /// time before `commit`, the last call wins.
    ///
    /// ```
    /// use vellum::{Durability, Options};
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = Options::new().durability(Durability::Eventual).open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.put(b"invoice", b"paid").unwrap();
    /// tx.set_durability(Durability::Immediate);
    /// assert_eq!(tx.durability(), Durability::Immediate);
    /// tx.commit().unwrap(); // synced: survives a crash from here on
    /// ```
    pub fn set_durability(&self, durability: Durability) {
        Cell::set(&self.durability, durability);
    }

    /// The durability [`WriteTxn::commit`] will use (see
    /// [`WriteTxn::set_durability`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// assert_eq!(tx.durability(), db.durability());
    /// ```
    pub fn durability(&self) -> Durability {
        self.durability.get()
    }
}
