//! The virtual file system: every byte vellum reads or writes goes through
//! these two traits.
//!
//! The engine never touches `std::fs` outside [`StdVfs`]. The deterministic
//! simulator (crate `vellum-sim`) supplies a `Vfs` whose disk loses, reorders
//! and tears unsynced writes, so the whole engine can be exercised against
//! power loss from a single seed.
//!
//! # Contract
//! - `write_at` may land in a volatile cache: only a later `sync` of the same
//!   file makes it durable. Reads always see earlier writes (durable or not).
//! - `sync` is a barrier for the file's data *and* its length.
//! - A newly created or renamed file survives a crash only after
//!   [`Vfs::sync_dir`] of its parent directory.
//! - `read_at` fills the whole buffer or fails; reading past the end of the
//!   file is an [`std::io::ErrorKind::UnexpectedEof`] error.
//!
//! ```
//! use vellum::vfs::{StdVfs, Vfs, OpenMode};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("f");
//! let file = StdVfs.open(&path, OpenMode::CreateReadWrite).unwrap();
//! file.write_at(b"hello", 0).unwrap();
//! file.sync().unwrap();
//! let mut buf = [0u8; 5];
//! file.read_at(&mut buf, 0).unwrap();
//! assert_eq!(&buf, b"hello");
//! ```

use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(windows)]
mod windows;

/// How a file is opened.
///
/// ```
/// use vellum::vfs::{MemVfs, OpenMode, Vfs};
/// let vfs = MemVfs::default();
/// assert!(vfs.open("f".as_ref(), OpenMode::ReadWrite).is_err()); // must exist
/// vfs.open("f".as_ref(), OpenMode::CreateReadWrite).unwrap();
/// vfs.open("f".as_ref(), OpenMode::ReadOnly).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    ReadOnly,
    /// Read and write; the file must exist.
    ReadWrite,
    /// Read and write; the file is created if it does not exist.
    CreateReadWrite,
}

/// Advisory whole-file lock kinds.
///
/// ```
/// use vellum::vfs::{LockKind, MemVfs, OpenMode, Vfs};
/// let vfs = MemVfs::default();
/// let a = vfs.open("f".as_ref(), OpenMode::CreateReadWrite).unwrap();
/// let b = vfs.open("f".as_ref(), OpenMode::ReadWrite).unwrap();
/// assert!(a.try_lock(LockKind::Exclusive).unwrap());
/// assert!(!b.try_lock(LockKind::Shared).unwrap()); // held exclusively
/// a.unlock().unwrap();
/// assert!(b.try_lock(LockKind::Shared).unwrap());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders at once (read-only opens).
    Shared,
    /// One holder, no shared holders (read-write opens).
    Exclusive,
}

/// A file system: opens files and manages directory entries. Give one to
/// [`crate::Options::vfs`] to put a database anywhere: [`StdVfs`] (the
/// default), [`MemVfs`], or your own (the project's simulator implements
/// one whose disk loses, reorders and tears writes).
///
/// ```
/// use std::sync::Arc;
/// use vellum::vfs::{MemVfs, Vfs};
/// let vfs = Arc::new(MemVfs::default());
/// let db = vellum::Options::new().vfs(vfs.clone()).open("app.db").unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// assert!(vfs.exists("app.db".as_ref()).unwrap());
/// ```
pub trait Vfs: Send + Sync + Debug {
    /// Opens (and with [`OpenMode::CreateReadWrite`] creates) a file.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>>;
    /// Whether a file exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the directory entries (creations, renames, removals) in the
    /// directory that contains `path` durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
}

/// An open file with positional I/O.
///
/// ```
/// use vellum::vfs::{MemVfs, OpenMode, Vfs};
/// let f = MemVfs::default().open("f".as_ref(), OpenMode::CreateReadWrite).unwrap();
/// f.write_at(b"page", 4096).unwrap(); // extends the file with zeros
/// assert_eq!(f.len().unwrap(), 4100);
/// let mut buf = [1u8; 4];
/// f.read_at(&mut buf, 0).unwrap();
/// assert_eq!(buf, [0; 4]);
/// assert!(f.read_at(&mut buf, 4098).is_err()); // past the end
/// ```
pub trait VfsFile: Send + Sync + Debug {
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every earlier write and length change of this file durable.
    fn sync(&self) -> io::Result<()>;
    /// Truncates or extends (with zeros) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Tries to take an advisory lock without waiting. `Ok(false)` means
    /// another holder has a conflicting lock.
    fn try_lock(&self, kind: LockKind) -> io::Result<bool>;
    /// Releases the lock taken by [`VfsFile::try_lock`].
    fn unlock(&self) -> io::Result<()>;
}

/// The default [`Vfs`]: the operating system's files, positional I/O,
/// `fdatasync` for [`VfsFile::sync`] and `flock` (via fs2) for locks.
/// Its errors name the operation and the path ([`FileOpError`]).
///
/// ```
/// use vellum::vfs::{OpenMode, StdVfs, Vfs};
/// let dir = tempfile::tempdir().unwrap();
/// let err = StdVfs.open(&dir.path().join("missing"), OpenMode::ReadOnly).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert!(err.to_string().starts_with("open read-only "), "{err}");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct StdVfs;

#[derive(Debug)]
struct StdFile {
    file: std::fs::File,
    path: PathBuf,
}

/// The error of one [`StdVfs`] operation: what was done, to which path,
/// and the operating system's error (its [`std::error::Error::source`];
/// [`crate::Error::raw_os_error`] finds its code). `StdVfs` returns it
/// inside an [`io::Error`] of the same [`io::ErrorKind`].
///
/// ```
/// use vellum::vfs::FileOpError;
/// let dir = tempfile::tempdir().unwrap();
/// let err = vellum::Db::open(dir.path()).unwrap_err(); // a directory
/// let vellum::Error::Io(io) = &err else { panic!("{err:?}") };
/// let op = io.get_ref().and_then(|e| e.downcast_ref::<FileOpError>()).unwrap();
/// assert_eq!(op.path, dir.path());
/// assert!(op.source.raw_os_error().is_some());
/// ```
#[derive(Debug)]
pub struct FileOpError {
    /// What was being done (`"open"`, `"write 4096 bytes at 8192"`, ...).
    pub op: String,
    /// The file (or directory) it was done to.
    pub path: PathBuf,
    /// The operating system's error.
    pub source: io::Error,
}

impl std::fmt::Display for FileOpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.op, self.path.display(), self.source)
    }
}

impl std::error::Error for FileOpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `r` with its error wrapped in a [`FileOpError`] naming `op` (made only
/// on failure) and `path`.
fn named<T>(r: io::Result<T>, path: &Path, op: impl FnOnce() -> String) -> io::Result<T> {
    r.map_err(|source| {
        io::Error::new(
            source.kind(),
            FileOpError {
                op: op(),
                path: path.to_path_buf(),
                source,
            },
        )
    })
}

impl Vfs for StdVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut o = std::fs::OpenOptions::new();
        match mode {
            OpenMode::ReadOnly => o.read(true),
            OpenMode::ReadWrite => o.read(true).write(true),
            OpenMode::CreateReadWrite => o.read(true).write(true).create(true),
        };
        let file = named(o.open(path), path, || {
            match mode {
                OpenMode::ReadOnly => "open read-only",
                OpenMode::ReadWrite => "open read-write",
                OpenMode::CreateReadWrite => "create or open read-write",
            }
            .into()
        })?;
        Ok(Arc::new(StdFile {
            file,
            path: path.to_path_buf(),
        }))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        named(path.try_exists(), path, || "look up".into())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        named(std::fs::remove_file(path), path, || "remove".into())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        named(std::fs::rename(from, to), from, || {
            format!("rename to {}", to.display())
        })
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        #[cfg(unix)]
        {
            let r = std::fs::File::open(&dir).and_then(|d| d.sync_all());
            named(r, &dir, || "sync directory".into())
        }
        #[cfg(not(unix))]
        {
            let _ = dir;
            Ok(())
        }
    }
}

impl VfsFile for StdFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset);
        #[cfg(windows)]
        let r = windows::read_exact_at(&self.file, buf, offset);
        named(r, &self.path, || {
            format!("read {} bytes at {offset}", buf.len())
        })
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        let r = std::os::unix::fs::FileExt::write_all_at(&self.file, buf, offset);
        #[cfg(windows)]
        let r = windows::write_all_at(&self.file, buf, offset);
        named(r, &self.path, || {
            format!("write {} bytes at {offset}", buf.len())
        })
    }

    fn sync(&self) -> io::Result<()> {
        named(self.file.sync_data(), &self.path, || "sync".into())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        named(self.file.set_len(len), &self.path, || {
            format!("set length to {len}")
        })
    }

    fn len(&self) -> io::Result<u64> {
        named(self.file.metadata(), &self.path, || "read metadata".into()).map(|m| m.len())
    }

    fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        let r = match kind {
            LockKind::Shared => fs2::FileExt::try_lock_shared(&self.file),
            LockKind::Exclusive => fs2::FileExt::try_lock_exclusive(&self.file),
        };
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == fs2::lock_contended_error().kind() => Ok(false),
            Err(e) => named(Err(e), &self.path, || {
                match kind {
                    LockKind::Shared => "lock (shared)",
                    LockKind::Exclusive => "lock (exclusive)",
                }
                .into()
            }),
        }
    }

    fn unlock(&self) -> io::Result<()> {
        named(fs2::FileExt::unlock(&self.file), &self.path, || {
            "unlock".into()
        })
    }
}

/// A [`Vfs`] held entirely in memory: files live as long as the `MemVfs`
/// (clones share them). Syncs do nothing; nothing survives the process.
/// Useful for tests and for throwaway databases.
///
/// ```
/// use std::sync::Arc;
/// use vellum::{vfs::MemVfs, Options};
/// let db = Options::new().vfs(Arc::new(MemVfs::default())).open("mem.db").unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemVfs {
    files: Arc<parking_lot::Mutex<std::collections::HashMap<std::path::PathBuf, Arc<MemFile>>>>,
}

/// A file of a [`MemVfs`].
#[derive(Debug, Default)]
struct MemFile {
    data: parking_lot::Mutex<Vec<u8>>,
    locks: parking_lot::Mutex<(usize, bool)>,
}

impl Vfs for MemVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut files = self.files.lock();
        match files.get(path) {
            Some(f) => Ok(f.clone()),
            None if mode == OpenMode::CreateReadWrite => {
                let f = Arc::new(MemFile::default());
                files.insert(path.to_path_buf(), f.clone());
                Ok(f)
            }
            None => Err(io::ErrorKind::NotFound.into()),
        }
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.files.lock().contains_key(path))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.files
            .lock()
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut files = self.files.lock();
        let f = files.remove(from).ok_or(io::ErrorKind::NotFound)?;
        files.insert(to.to_path_buf(), f);
        Ok(())
    }

    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

impl VfsFile for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let data = self.data.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if end > data.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.copy_from_slice(&data[start..end]);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut data = self.data.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start + buf.len();
        if end > data.len() {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.data.lock().resize(len, 0);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.data.lock().len() as u64)
    }

    fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        let mut l = self.locks.lock();
        match kind {
            LockKind::Shared if !l.1 => {
                l.0 += 1;
                Ok(true)
            }
            LockKind::Exclusive if !l.1 && l.0 == 0 => {
                l.1 = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn unlock(&self) -> io::Result<()> {
        let mut l = self.locks.lock();
        if l.1 {
            l.1 = false;
        } else {
            l.0 = l.0.saturating_sub(1);
        }
        Ok(())
    }
}
