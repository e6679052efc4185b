//! Helpers shared by the simulator's tests.

use std::path::Path;
use std::sync::Arc;

use vellum::vfs::{OpenMode, Vfs, VfsFile};
use vellum_sim::{FaultConfig, SimVfs};

/// The database path used by the tests.
pub const DB: &str = "/db/data";

pub fn path() -> &'static Path {
    Path::new(DB)
}

/// A disk with `profile`, and `DB` created, durable and empty.
pub fn disk(seed: u64, cfg: FaultConfig) -> (SimVfs, Arc<dyn VfsFile>) {
    let vfs = SimVfs::new(seed, cfg);
    let f = vfs.open(path(), OpenMode::CreateReadWrite).unwrap();
    f.sync().unwrap();
    vfs.sync_dir(path()).unwrap();
    (vfs, f)
}

/// Reads the whole file through a fresh handle.
pub fn read_all(vfs: &SimVfs, p: &Path) -> Option<Vec<u8>> {
    let f = vfs.open(p, OpenMode::ReadOnly).ok()?;
    let mut buf = vec![0u8; f.len().unwrap() as usize];
    f.read_at(&mut buf, 0).unwrap();
    Some(buf)
}

/// A configuration with no crash loss at all: everything unsynced persists.
pub fn lossless() -> FaultConfig {
    FaultConfig {
        crash_keep_write: 1.0,
        crash_tear_write: 0.0,
        crash_keep_set_len: 1.0,
        crash_keep_dir_op: 1.0,
        crash_reorder: false,
        ..FaultConfig::none()
    }
}
