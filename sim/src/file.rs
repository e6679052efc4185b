//! [`SimFile`]: an open handle on the simulated disk, and the per-file
//! operations with their injected errors.
//!
//! Error semantics, per operation:
//! - `read_at`: EIO by rate or schedule (nothing read); EIO when the range
//!   touches a latent sector; `UnexpectedEof` past the end of the file.
//! - `write_at`: EIO or ENOSPC by rate or schedule; ENOSPC when the growth
//!   would exceed the capacity. A failed write may have applied a prefix of
//!   its bytes (by [`crate::FaultConfig::failed_write_partial`], or the part
//!   that fits the capacity), which is then pending like any write.
//! - `sync`: EIO by rate or schedule (any scheduled error fails a sync as
//!   EIO would); see [`crate::sync`] for what it loses.
//! - `set_len`: ENOSPC by rate (growth only), by capacity, or any error by
//!   schedule; a failed `set_len` has no effect.
//! - `len`, `try_lock`, `unlock`: only scheduled errors.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use vellum::vfs::{LockKind, OpenMode, VfsFile};

use crate::disk::{ReadFailure, MAX_FILE_SIZE, SECTOR_SIZE};
use crate::error::SimIoError;
use crate::faults::{InjectedError, OpKind};
use crate::fs::Inner;
use crate::lock::HandleId;
use crate::log::{ErrorCause, Fault};
use crate::namespace::Ino;
use crate::stats::hash_bytes;
use crate::sync::{sync_failed, sync_ok};

/// An open file of a [`crate::SimVfs`]. Dies (every call returns
/// [`SimIoError::Crashed`]) when the disk crashes; dropping it releases its
/// lock.
pub struct SimFile {
    shared: Arc<Mutex<Inner>>,
    path: PathBuf,
    ino: Ino,
    handle: HandleId,
    generation: u64,
    mode: OpenMode,
}

impl SimFile {
    pub(crate) fn new(
        shared: Arc<Mutex<Inner>>,
        path: &Path,
        ino: Ino,
        handle: HandleId,
        generation: u64,
        mode: OpenMode,
    ) -> SimFile {
        SimFile {
            shared,
            path: path.to_path_buf(),
            ino,
            handle,
            generation,
            mode,
        }
    }

    /// The path this handle was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writable(&self) -> io::Result<()> {
        match self.mode {
            OpenMode::ReadOnly => Err(SimIoError::ReadOnlyHandle.to_io()),
            _ => Ok(()),
        }
    }
}

/// Picks the error to inject: a scheduled one, else one drawn by `rates`
/// in order.
fn pick_error(
    inner: &mut Inner,
    scheduled: Option<InjectedError>,
    rates: &[(f64, InjectedError)],
) -> Option<(InjectedError, ErrorCause)> {
    if let Some(e) = scheduled {
        return Some((e, ErrorCause::Scheduled));
    }
    for &(rate, e) in rates {
        if inner.rng.chance(rate) {
            return Some((e, ErrorCause::Rate));
        }
    }
    None
}

impl Inner {
    fn read(&mut self, h: &SimFile, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let scheduled = self.begin(OpKind::Read, Some(h.generation))?;
        self.stats.reads += 1;
        let len = buf.len() as u64;
        let rate = self.cfg.read_eio;
        if let Some((e, cause)) = pick_error(self, scheduled, &[(rate, InjectedError::Eio)]) {
            return Err(self.inject_error(&h.path, OpKind::Read, e, cause, offset, len));
        }
        match self.file_mut(h.ino).read(buf, offset) {
            Ok(()) => Ok(()),
            Err(ReadFailure::Eof) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "failed to fill whole buffer",
            )),
            Err(ReadFailure::Latent(s)) => Err(self.inject_error(
                &h.path,
                OpKind::Read,
                InjectedError::Eio,
                ErrorCause::LatentSector,
                s * SECTOR_SIZE,
                SECTOR_SIZE,
            )),
        }
    }

    fn write(&mut self, h: &SimFile, data: &[u8], offset: u64) -> io::Result<()> {
        let scheduled = self.begin(OpKind::Write, Some(h.generation))?;
        h.writable()?;
        self.stats.writes += 1;
        let len = data.len() as u64;
        let end = match offset.checked_add(len) {
            Some(end) if end <= MAX_FILE_SIZE => end,
            _ => return Err(SimIoError::FileTooLarge.to_io()),
        };
        let rates = [
            (self.cfg.write_eio, InjectedError::Eio),
            (self.cfg.write_enospc, InjectedError::Enospc),
        ];
        let mut failure = pick_error(self, scheduled, &rates).map(|(e, c)| (e, c, None));
        if failure.is_none() {
            if let Some(cap) = self.cfg.capacity {
                let cur = self.file_mut(h.ino).len();
                let used = self.used_bytes(h.ino);
                if end > cur && used + (end - cur) > cap {
                    let room = cur + cap.saturating_sub(used);
                    let fits = room.saturating_sub(offset).min(len);
                    failure = Some((InjectedError::Enospc, ErrorCause::Capacity, Some(fits)));
                }
            }
        }
        let Some((error, cause, fits)) = failure else {
            self.file_mut(h.ino).write(data, offset);
            self.stats.bytes_written += len;
            self.stats.max_file_len = self.stats.max_file_len.max(end);
            return Ok(());
        };
        let applied = match fits {
            Some(n) => n,
            None if len > 1 && self.rng.chance(self.cfg.failed_write_partial) => {
                self.rng.between(1, len - 1)
            }
            None => 0,
        };
        if applied > 0 {
            self.file_mut(h.ino)
                .write(&data[..applied as usize], offset);
            self.log(&h.path, Fault::PartialWrite { offset, applied });
        }
        Err(self.inject_error(&h.path, OpKind::Write, error, cause, offset, len))
    }

    fn sync(&mut self, h: &SimFile) -> io::Result<()> {
        let scheduled = self.begin(OpKind::Sync, Some(h.generation))?;
        self.stats.syncs += 1;
        let rate = self.cfg.sync_eio;
        let failure = pick_error(self, scheduled, &[(rate, InjectedError::Eio)]);
        let file = self.files.entry(h.ino).or_default();
        match failure {
            Some((error, cause)) => {
                let fault = sync_failed(file, &self.cfg, &mut self.rng);
                let Fault::SyncLoss { covered, lost } = fault else {
                    unreachable!("sync_failed returns SyncLoss")
                };
                self.stats.sync_lost_ops += lost;
                let err = self.inject_error(&h.path, OpKind::Sync, error, cause, 0, covered);
                self.log(&h.path, fault);
                Err(err)
            }
            None => {
                let faults = sync_ok(file, &self.cfg, &mut self.rng, &mut self.silent);
                for f in faults {
                    self.log(&h.path, f);
                }
                Ok(())
            }
        }
    }

    fn set_len(&mut self, h: &SimFile, len: u64) -> io::Result<()> {
        let scheduled = self.begin(OpKind::SetLen, Some(h.generation))?;
        h.writable()?;
        self.stats.set_lens += 1;
        if len > MAX_FILE_SIZE {
            return Err(SimIoError::FileTooLarge.to_io());
        }
        let cur = self.file_mut(h.ino).len();
        let growing = len > cur;
        let rate = if growing {
            self.cfg.set_len_enospc
        } else {
            0.0
        };
        let mut failure = pick_error(self, scheduled, &[(rate, InjectedError::Enospc)]);
        if failure.is_none() && growing {
            if let Some(cap) = self.cfg.capacity {
                if self.used_bytes(h.ino) + (len - cur) > cap {
                    failure = Some((InjectedError::Enospc, ErrorCause::Capacity));
                }
            }
        }
        if let Some((e, cause)) = failure {
            return Err(self.inject_error(&h.path, OpKind::SetLen, e, cause, len, 0));
        }
        self.file_mut(h.ino).set_len(len);
        self.stats.max_file_len = self.stats.max_file_len.max(len);
        Ok(())
    }

    /// `len`, `try_lock`, `unlock`: operations with only scheduled errors.
    fn simple<T>(
        &mut self,
        h: &SimFile,
        kind: OpKind,
        f: impl FnOnce(&mut Inner) -> T,
    ) -> io::Result<T> {
        if let Some(e) = self.begin(kind, Some(h.generation))? {
            return Err(self.inject_error(&h.path, kind, e, ErrorCause::Scheduled, 0, 0));
        }
        Ok(f(self))
    }
}

impl VfsFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let res = inner.read(self, buf, offset);
        inner.finish(OpKind::Read, &[self.ino, offset, buf.len() as u64], &res);
        res
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let res = inner.write(self, buf, offset);
        let values = [self.ino, offset, buf.len() as u64, hash_bytes(buf)];
        inner.finish(OpKind::Write, &values, &res);
        res
    }

    fn sync(&self) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let res = inner.sync(self);
        inner.finish(OpKind::Sync, &[self.ino], &res);
        res
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let res = inner.set_len(self, len);
        inner.finish(OpKind::SetLen, &[self.ino, len], &res);
        res
    }

    fn len(&self) -> io::Result<u64> {
        let mut inner = self.shared.lock();
        let ino = self.ino;
        let res = inner.simple(self, OpKind::Len, |i| i.file_mut(ino).len());
        let v = *res.as_ref().unwrap_or(&u64::MAX);
        inner.finish(OpKind::Len, &[self.ino, v], &res);
        res
    }

    fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        let mut inner = self.shared.lock();
        let (ino, handle) = (self.ino, self.handle);
        let res = inner.simple(self, OpKind::Lock, |i| i.locks.try_lock(ino, handle, kind));
        let k = matches!(kind, LockKind::Exclusive) as u64;
        let got = matches!(res, Ok(true)) as u64;
        inner.finish(OpKind::Lock, &[self.ino, k, got], &res);
        res
    }

    fn unlock(&self) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let (ino, handle) = (self.ino, self.handle);
        let res = inner.simple(self, OpKind::Lock, |i| i.locks.unlock(ino, handle));
        inner.finish(OpKind::Lock, &[self.ino, 2], &res);
        res
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        if inner.generation == self.generation {
            inner.locks.unlock(self.ino, self.handle);
            inner.open_handles = inner.open_handles.saturating_sub(1);
        }
    }
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFile")
            .field("path", &self.path)
            .field("ino", &self.ino)
            .field("handle", &self.handle)
            .field("generation", &self.generation)
            .field("mode", &self.mode)
            .finish()
    }
}
