//! A fault-injecting VFS: wraps [`StdVfs`] and makes chosen file operations
//! fail with a chosen `io::Error`.
//!
//! ```
//! use std::sync::Arc;
//! use vellum_tests::fail_vfs::{Arm, Fault, FailVfs, FileOp};
//! let dir = tempfile::tempdir().unwrap();
//! let vfs = FailVfs::new();
//! let faults = vfs.faults();
//! let db = vellum::Options::new()
//!     .vfs(Arc::new(vfs))
//!     .open(dir.path().join("db"))
//!     .unwrap();
//! faults.arm(FileOp::Sync, Arm::once(Fault::Eio));
//! assert!(db.update(|tx| tx.put(b"k", b"v")).is_err());
//! assert!(db.is_poisoned());
//! ```

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use vellum::vfs::{LockKind, OpenMode, StdVfs, Vfs, VfsFile};

/// A file operation that can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileOp {
    /// `read_at`.
    Read,
    /// `write_at`.
    Write,
    /// `sync`.
    Sync,
    /// `set_len`.
    SetLen,
}

const OPS: [FileOp; 4] = [FileOp::Read, FileOp::Write, FileOp::Sync, FileOp::SetLen];

fn op_index(op: FileOp) -> usize {
    match op {
        FileOp::Read => 0,
        FileOp::Write => 1,
        FileOp::Sync => 2,
        FileOp::SetLen => 3,
    }
}

/// The error an injected failure returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `EIO` (raw OS error 5).
    Eio,
    /// `ENOSPC` (raw OS error 28, `io::ErrorKind::StorageFull`).
    NoSpace,
}

/// Raw OS error number of `EIO`.
pub const EIO: i32 = 5;
/// Raw OS error number of `ENOSPC`.
pub const ENOSPC: i32 = 28;

impl Fault {
    /// The `io::Error` for this fault.
    pub fn to_io(self) -> io::Error {
        match self {
            Fault::Eio => io::Error::from_raw_os_error(EIO),
            Fault::NoSpace => io::Error::from_raw_os_error(ENOSPC),
        }
    }
}

/// When and how an operation fails.
#[derive(Clone, Debug)]
pub struct Arm {
    /// Matching operations to let through before failing.
    pub skip: u64,
    /// How many matching operations fail after that (`u64::MAX`: all).
    pub times: u64,
    /// The error returned.
    pub fault: Fault,
    /// For writes: write the first half of the buffer before failing.
    pub torn: bool,
    /// Only operations touching this byte range match (reads and writes;
    /// `None` = any offset).
    pub range: Option<Range<u64>>,
}

impl Arm {
    /// Fail the next matching operation once.
    pub fn once(fault: Fault) -> Arm {
        Arm {
            skip: 0,
            times: 1,
            fault,
            torn: false,
            range: None,
        }
    }

    /// Fail every matching operation until disarmed.
    pub fn always(fault: Fault) -> Arm {
        Arm {
            times: u64::MAX,
            ..Arm::once(fault)
        }
    }

    /// Let `n` matching operations through first.
    pub fn after(mut self, n: u64) -> Arm {
        self.skip = n;
        self
    }

    /// Writes land half-way before failing.
    pub fn torn(mut self) -> Arm {
        self.torn = true;
        self
    }

    /// Only operations touching bytes in `range` match.
    pub fn in_range(mut self, range: Range<u64>) -> Arm {
        self.range = Some(range);
        self
    }
}

#[derive(Debug, Default)]
struct State {
    arms: [Option<Arm>; 4],
    calls: [u64; 4],
    injected: [u64; 4],
    capacity: Option<u64>,
}

/// The shared switchboard of a [`FailVfs`] and every file it opened.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms failures of `op` (replacing an earlier arm of the same op).
    pub fn arm(&self, op: FileOp, arm: Arm) {
        self.lock().arms[op_index(op)] = Some(arm);
    }

    /// Disarms `op`.
    pub fn disarm(&self, op: FileOp) {
        self.lock().arms[op_index(op)] = None;
    }

    /// Disarms everything and removes the capacity limit.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.arms = Default::default();
        s.capacity = None;
    }

    /// Limits the file size: a write or `set_len` that would grow a file
    /// beyond `bytes` fails with `ENOSPC` (`None`: unlimited).
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.lock().capacity = bytes;
    }

    /// Calls of `op` so far (failed or not).
    pub fn calls(&self, op: FileOp) -> u64 {
        self.lock().calls[op_index(op)]
    }

    /// Failures injected into `op` so far (capacity failures included).
    pub fn injected(&self, op: FileOp) -> u64 {
        self.lock().injected[op_index(op)]
    }

    /// Failures injected into any operation so far.
    pub fn injected_total(&self) -> u64 {
        OPS.iter().map(|&o| self.injected(o)).sum()
    }

    /// Decides whether this call fails: `Some((fault, torn))` if so.
    fn decide(&self, op: FileOp, span: Option<Range<u64>>) -> Option<(Fault, bool)> {
        let mut s = self.lock();
        let i = op_index(op);
        s.calls[i] += 1;
        let arm = s.arms[i].as_mut()?;
        if let (Some(r), Some(sp)) = (&arm.range, &span) {
            if sp.end <= r.start || sp.start >= r.end {
                return None;
            }
        }
        if arm.skip > 0 {
            arm.skip -= 1;
            return None;
        }
        if arm.times == 0 {
            return None;
        }
        if arm.times != u64::MAX {
            arm.times -= 1;
        }
        let out = (arm.fault, arm.torn);
        s.injected[i] += 1;
        Some(out)
    }

    fn over_capacity(&self, op: FileOp, new_len: u64, cur_len: u64) -> bool {
        let mut s = self.lock();
        match s.capacity {
            Some(cap) if new_len > cap && new_len > cur_len => {
                s.injected[op_index(op)] += 1;
                true
            }
            _ => false,
        }
    }
}

/// A [`Vfs`] over the operating system's files that fails on command.
#[derive(Debug, Clone, Default)]
pub struct FailVfs {
    faults: Arc<Faults>,
}

impl FailVfs {
    /// A new VFS with nothing armed.
    pub fn new() -> FailVfs {
        FailVfs::default()
    }

    /// The switchboard shared with every file this VFS opens.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }
}

impl Vfs for FailVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let inner = StdVfs.open(path, mode)?;
        Ok(Arc::new(FailFile {
            inner,
            faults: self.faults.clone(),
        }))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        StdVfs.exists(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        StdVfs.remove(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        StdVfs.rename(from, to)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        StdVfs.sync_dir(path)
    }
}

#[derive(Debug)]
struct FailFile {
    inner: Arc<dyn VfsFile>,
    faults: Arc<Faults>,
}

impl VfsFile for FailFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let span = offset..offset + buf.len() as u64;
        if let Some((fault, _)) = self.faults.decide(FileOp::Read, Some(span)) {
            return Err(fault.to_io());
        }
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let end = offset + buf.len() as u64;
        if let Some((fault, torn)) = self.faults.decide(FileOp::Write, Some(offset..end)) {
            if torn && buf.len() > 1 {
                self.inner.write_at(&buf[..buf.len() / 2], offset)?;
            }
            return Err(fault.to_io());
        }
        if self
            .faults
            .over_capacity(FileOp::Write, end, self.inner.len()?)
        {
            return Err(Fault::NoSpace.to_io());
        }
        self.inner.write_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        if let Some((fault, _)) = self.faults.decide(FileOp::Sync, None) {
            return Err(fault.to_io());
        }
        self.inner.sync()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if let Some((fault, _)) = self.faults.decide(FileOp::SetLen, None) {
            return Err(fault.to_io());
        }
        if self
            .faults
            .over_capacity(FileOp::SetLen, len, self.inner.len()?)
        {
            return Err(Fault::NoSpace.to_io());
        }
        self.inner.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        self.inner.try_lock(kind)
    }

    fn unlock(&self) -> io::Result<()> {
        self.inner.unlock()
    }
}
