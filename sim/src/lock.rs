//! Advisory whole-file locks (flock semantics) between handles.
//!
//! Locks belong to an open handle and are taken on the inode, so two handles
//! of the same path conflict exactly as two `flock` file descriptions do:
//! an exclusive lock conflicts with any lock held by another handle; shared
//! locks coexist. Re-locking through the same handle converts its lock.
//! Closing (dropping) a handle or a crash releases its locks.

use std::collections::{BTreeMap, BTreeSet};

use vellum::vfs::LockKind;

use crate::namespace::Ino;

/// Identity of an open handle.
pub(crate) type HandleId = u64;

#[derive(Clone, Debug, Default)]
struct Holders {
    shared: BTreeSet<HandleId>,
    exclusive: Option<HandleId>,
}

/// Locks of every inode.
#[derive(Clone, Debug, Default)]
pub(crate) struct LockTable {
    locks: BTreeMap<Ino, Holders>,
}

impl LockTable {
    /// Takes (or converts to) `kind` for `handle`; `false` on conflict, in
    /// which case the handle's previous lock is unchanged.
    pub(crate) fn try_lock(&mut self, ino: Ino, handle: HandleId, kind: LockKind) -> bool {
        let h = self.locks.entry(ino).or_default();
        let other_exclusive = h.exclusive.is_some_and(|e| e != handle);
        let other_shared = h.shared.iter().any(|&s| s != handle);
        let ok = match kind {
            LockKind::Shared => !other_exclusive,
            LockKind::Exclusive => !other_exclusive && !other_shared,
        };
        if ok {
            h.shared.remove(&handle);
            if h.exclusive == Some(handle) {
                h.exclusive = None;
            }
            match kind {
                LockKind::Shared => {
                    h.shared.insert(handle);
                }
                LockKind::Exclusive => h.exclusive = Some(handle),
            }
        }
        ok
    }

    /// Releases whatever `handle` holds on `ino`.
    pub(crate) fn unlock(&mut self, ino: Ino, handle: HandleId) {
        if let Some(h) = self.locks.get_mut(&ino) {
            h.shared.remove(&handle);
            if h.exclusive == Some(handle) {
                h.exclusive = None;
            }
            if h.shared.is_empty() && h.exclusive.is_none() {
                self.locks.remove(&ino);
            }
        }
    }

    /// Releases every lock (a crash).
    pub(crate) fn clear(&mut self) {
        self.locks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_conflicts_with_others() {
        let mut t = LockTable::default();
        assert!(t.try_lock(1, 10, LockKind::Shared));
        assert!(t.try_lock(1, 11, LockKind::Shared));
        assert!(!t.try_lock(1, 12, LockKind::Exclusive));
        assert!(!t.try_lock(1, 10, LockKind::Exclusive));
        t.unlock(1, 11);
        assert!(t.try_lock(1, 10, LockKind::Exclusive));
        assert!(!t.try_lock(1, 11, LockKind::Shared));
        assert!(t.try_lock(2, 11, LockKind::Exclusive));
        t.clear();
        assert!(t.try_lock(1, 11, LockKind::Exclusive));
    }
}
