//! Directory entries: which path names which inode, durably and as seen now.
//!
//! The simulator has one flat namespace keyed by full path; the "directory"
//! of a path is its parent (`.` when it has none). Creations, renames and
//! removals change the volatile namespace at once and are recorded as
//! pending directory operations. `sync_dir(p)` makes durable, in issue
//! order, every pending operation that names a path in `p`'s directory
//! (a rename across directories is made durable by syncing either). At a
//! crash each remaining pending operation persists independently with
//! probability [`crate::FaultConfig::crash_keep_dir_op`], applied in issue
//! order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::rng::SimRng;

/// Inode number.
pub(crate) type Ino = u64;

/// A directory operation not yet durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DirOp {
    Create {
        path: PathBuf,
        ino: Ino,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
        ino: Ino,
    },
    Remove {
        path: PathBuf,
        ino: Ino,
    },
}

impl DirOp {
    fn touches(&self, dir: &Path) -> bool {
        match self {
            DirOp::Create { path, .. } | DirOp::Remove { path, .. } => parent_dir(path) == dir,
            DirOp::Rename { from, to, .. } => parent_dir(from) == dir || parent_dir(to) == dir,
        }
    }

    fn apply(&self, entries: &mut BTreeMap<PathBuf, Ino>) {
        match self {
            DirOp::Create { path, ino } => {
                entries.insert(path.clone(), *ino);
            }
            DirOp::Rename { from, to, ino } => {
                if entries.get(from) == Some(ino) {
                    entries.remove(from);
                }
                entries.insert(to.clone(), *ino);
            }
            DirOp::Remove { path, ino } => {
                if entries.get(path) == Some(ino) {
                    entries.remove(path);
                }
            }
        }
    }
}

/// The directory that holds `path` (`.` for a bare name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Durable and volatile directory entries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Namespace {
    durable: BTreeMap<PathBuf, Ino>,
    volatile: BTreeMap<PathBuf, Ino>,
    pending: Vec<DirOp>,
}

/// What a crash did to the namespace.
#[derive(Debug, Default)]
pub(crate) struct NamespaceCrash {
    pub(crate) kept: u64,
    pub(crate) dropped: u64,
    pub(crate) paths_lost: u64,
}

impl Namespace {
    /// The inode `path` names now.
    pub(crate) fn lookup(&self, path: &Path) -> Option<Ino> {
        self.volatile.get(path).copied()
    }

    /// Names a new inode.
    pub(crate) fn create(&mut self, path: &Path, ino: Ino) {
        self.volatile.insert(path.to_path_buf(), ino);
        self.pending.push(DirOp::Create {
            path: path.to_path_buf(),
            ino,
        });
    }

    /// Renames `from` to `to`, replacing `to`. `None` if `from` is missing.
    pub(crate) fn rename(&mut self, from: &Path, to: &Path) -> Option<Ino> {
        let ino = self.lookup(from)?;
        if from == to {
            return Some(ino);
        }
        self.volatile.remove(from);
        self.volatile.insert(to.to_path_buf(), ino);
        self.pending.push(DirOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            ino,
        });
        Some(ino)
    }

    /// Unlinks `path`. `None` if it is missing.
    pub(crate) fn remove(&mut self, path: &Path) -> Option<Ino> {
        let ino = self.volatile.remove(path)?;
        self.pending.push(DirOp::Remove {
            path: path.to_path_buf(),
            ino,
        });
        Some(ino)
    }

    /// Makes durable the pending operations naming a path in the directory
    /// holding `path`. Returns how many.
    pub(crate) fn sync_dir(&mut self, path: &Path) -> u64 {
        let dir = parent_dir(path).to_path_buf();
        let mut n = 0;
        let durable = &mut self.durable;
        self.pending.retain(|op| {
            if op.touches(&dir) {
                op.apply(durable);
                n += 1;
                false
            } else {
                true
            }
        });
        n
    }

    /// Power loss: each pending operation persists or not; the volatile
    /// namespace becomes the durable one.
    pub(crate) fn crash(&mut self, keep: f64, rng: &mut SimRng) -> NamespaceCrash {
        let mut out = NamespaceCrash::default();
        for op in std::mem::take(&mut self.pending) {
            if rng.chance(keep) {
                op.apply(&mut self.durable);
                out.kept += 1;
            } else {
                out.dropped += 1;
            }
        }
        out.paths_lost = self
            .volatile
            .keys()
            .filter(|p| !self.durable.contains_key(*p))
            .count() as u64;
        self.volatile = self.durable.clone();
        out
    }

    /// Inodes named in the durable namespace.
    pub(crate) fn durable_inodes(&self) -> BTreeSet<Ino> {
        self.durable.values().copied().collect()
    }

    /// Inodes named now.
    pub(crate) fn live_inodes(&self) -> BTreeSet<Ino> {
        self.volatile.values().copied().collect()
    }

    /// The durable entry for `path`.
    pub(crate) fn durable_lookup(&self, path: &Path) -> Option<Ino> {
        self.durable.get(path).copied()
    }

    /// Paths named now, in order.
    pub(crate) fn paths(&self) -> impl Iterator<Item = &Path> {
        self.volatile.keys().map(|p| p.as_path())
    }

    /// Number of pending directory operations.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_dir_makes_only_its_directory_durable() {
        let mut ns = Namespace::default();
        ns.create(Path::new("/a/x"), 1);
        ns.create(Path::new("/b/y"), 2);
        assert_eq!(ns.sync_dir(Path::new("/a/anything")), 1);
        assert_eq!(ns.durable_lookup(Path::new("/a/x")), Some(1));
        assert_eq!(ns.durable_lookup(Path::new("/b/y")), None);
        let out = ns.crash(0.0, &mut SimRng::new(0));
        assert_eq!(out.dropped, 1);
        assert_eq!(out.paths_lost, 1);
        assert_eq!(ns.lookup(Path::new("/b/y")), None);
        assert_eq!(ns.lookup(Path::new("/a/x")), Some(1));
    }

    #[test]
    fn rename_replaces_target() {
        let mut ns = Namespace::default();
        ns.create(Path::new("d/t"), 1);
        ns.create(Path::new("d/f"), 2);
        ns.sync_dir(Path::new("d/f"));
        assert_eq!(ns.rename(Path::new("d/t"), Path::new("d/f")), Some(1));
        assert_eq!(ns.lookup(Path::new("d/f")), Some(1));
        assert_eq!(ns.durable_lookup(Path::new("d/f")), Some(2));
        ns.sync_dir(Path::new("d/f"));
        assert_eq!(ns.durable_lookup(Path::new("d/f")), Some(1));
        assert_eq!(ns.durable_lookup(Path::new("d/t")), None);
        assert_eq!(parent_dir(Path::new("x")), Path::new("."));
    }
}
