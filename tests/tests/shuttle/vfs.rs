//! The simulated disk as the shuttle threads see it: `SimVfs`, with a
//! scheduling point before every file operation and after every sync.
//!
//! A `SimVfs` call is one atomic step (its lock is never held across a
//! scheduling point); the yields make I/O a place where other threads run,
//! as a blocking call would: another committer can write its record while
//! a sync is "in flight" (between the sync's start, where the scheduler
//! switched away, and its return), and the scheduler (see `sched.rs`)
//! drops the priority of a thread that does I/O.

use std::io;
use std::path::Path;
use std::sync::Arc;

use vellum::vfs::{LockKind, OpenMode, Vfs, VfsFile};
use vellum_sim::SimVfs;

/// `SimVfs` with scheduling points.
#[derive(Debug, Clone)]
pub struct YieldVfs(pub SimVfs);

#[derive(Debug)]
struct YieldFile(Arc<dyn VfsFile>);

fn switch() {
    shuttle::thread::yield_now();
}

impl Vfs for YieldVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        switch();
        Ok(Arc::new(YieldFile(self.0.open(path, mode)?)))
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.exists(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        switch();
        self.0.remove(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        switch();
        self.0.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        switch();
        let r = self.0.sync_dir(path);
        switch();
        r
    }
}

impl VfsFile for YieldFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        switch();
        self.0.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        switch();
        self.0.write_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        switch();
        let r = self.0.sync();
        switch();
        r
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        switch();
        self.0.set_len(len)
    }
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn try_lock(&self, kind: LockKind) -> io::Result<bool> {
        self.0.try_lock(kind)
    }
    fn unlock(&self) -> io::Result<()> {
        self.0.unlock()
    }
}
