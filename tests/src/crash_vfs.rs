//! A power-loss VFS: wraps [`StdVfs`] and records, per file, its content
//! when opened and every write, `set_len` and successful `sync` since.
//! [`CrashVfs::crash_image`] builds what the disk could hold after a power
//! cut at this instant (or, with [`CrashVfs::crash_image_at`], after any
//! earlier event): the synced content plus a random subset of the unsynced
//! writes, each possibly torn at 512-byte sector granularity.
//!
//! ```
//! use std::sync::Arc;
//! use vellum_tests::crash_vfs::{CrashVfs, Loss};
//! use vellum_tests::util::Rng;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("db");
//! let vfs = CrashVfs::new();
//! let db = vellum::Options::new().vfs(Arc::new(vfs.clone())).open(&path).unwrap();
//! db.update(|tx| tx.put(b"k", b"v")).unwrap();
//! let image = vfs.crash_image(&path, Loss::AllUnsynced, &mut Rng::new(1));
//! let copy = dir.path().join("copy");
//! std::fs::write(&copy, image).unwrap();
//! let db2 = vellum::Db::open(&copy).unwrap();
//! assert!(db2.view(|tx| tx.contains(b"k")).unwrap()); // Immediate: durable
//! ```

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vellum::vfs::{LockKind, OpenMode, StdVfs, Vfs, VfsFile};

use crate::util::Rng;

const SECTOR: u64 = 512;

#[derive(Clone, Debug)]
enum Event {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    SetLen(u64),
    /// A successful sync: every earlier event is durable.
    Sync,
}

#[derive(Debug, Default)]
struct History {
    /// The file's content when it was opened.
    initial: Vec<u8>,
    events: Vec<Event>,
}

/// Which unsynced writes a crash image keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Every unsynced write is lost.
    AllUnsynced,
    /// Every unsynced write landed (a process kill).
    Nothing,
    /// Each unsynced write (or length change) landed or not, at random.
    RandomWrites,
    /// Each 512-byte sector of each unsynced write landed or not, at random.
    RandomSectors,
}

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct CrashVfs {
    files: Arc<Mutex<HashMap<PathBuf, History>>>,
}

fn read_all(f: &dyn VfsFile) -> io::Result<Vec<u8>> {
    let len = f.len()? as usize;
    let mut buf = vec![0u8; len];
    f.read_at(&mut buf, 0)?;
    Ok(buf)
}

fn apply(image: &mut Vec<u8>, e: &Event) {
    match e {
        Event::SetLen(n) => image.resize(*n as usize, 0),
        Event::Write { offset, data } => {
            let end = *offset as usize + data.len();
            if image.len() < end {
                image.resize(end, 0);
            }
            image[*offset as usize..end].copy_from_slice(data);
        }
        Event::Sync => {}
    }
}

impl CrashVfs {
    /// A new VFS with no files.
    pub fn new() -> CrashVfs {
        CrashVfs::default()
    }

    /// Number of events (writes, length changes, syncs) on `path` so far:
    /// the crash points of [`CrashVfs::crash_image_at`].
    pub fn events(&self, path: &Path) -> usize {
        let files = self.files.lock().unwrap();
        files.get(path).map_or(0, |h| h.events.len())
    }

    /// The bytes the file at `path` could hold after a power cut now.
    pub fn crash_image(&self, path: &Path, loss: Loss, rng: &mut Rng) -> Vec<u8> {
        self.crash_image_at(path, usize::MAX, loss, rng)
    }

    /// The bytes the file could hold after a power cut following its first
    /// `at` events.
    pub fn crash_image_at(&self, path: &Path, at: usize, loss: Loss, rng: &mut Rng) -> Vec<u8> {
        let files = self.files.lock().unwrap();
        let h = files.get(path).expect("a file opened through this VFS");
        let events = &h.events[..at.min(h.events.len())];
        let last_sync = events.iter().rposition(|e| matches!(e, Event::Sync));
        let (synced, pending) = match last_sync {
            Some(i) => (&events[..i], &events[i + 1..]),
            None => (&events[..0], events),
        };
        let mut image = h.initial.clone();
        for e in synced {
            apply(&mut image, e);
        }
        for e in pending {
            match e {
                Event::Sync => unreachable!("after the last sync"),
                Event::SetLen(_) => {
                    let keep = match loss {
                        Loss::AllUnsynced => false,
                        Loss::Nothing => true,
                        _ => rng.chance(1, 2),
                    };
                    if keep {
                        apply(&mut image, e);
                    }
                }
                Event::Write { offset, data } => {
                    let whole = match loss {
                        Loss::AllUnsynced => Some(false),
                        Loss::Nothing => Some(true),
                        Loss::RandomWrites => Some(rng.chance(1, 2)),
                        Loss::RandomSectors => None,
                    };
                    let end = offset + data.len() as u64;
                    let mut at = *offset;
                    while at < end {
                        let stop = ((at / SECTOR + 1) * SECTOR).min(end);
                        if whole.unwrap_or_else(|| rng.chance(1, 2)) {
                            let piece = Event::Write {
                                offset: at,
                                data: data[(at - offset) as usize..(stop - offset) as usize]
                                    .to_vec(),
                            };
                            apply(&mut image, &piece);
                        }
                        at = stop;
                    }
                }
            }
        }
        image
    }
}

impl Vfs for CrashVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let inner = StdVfs.open(path, mode)?;
        let mut files = self.files.lock().unwrap();
        // A file opened again starts from what is on disk now.
        files.insert(
            path.to_path_buf(),
            History {
                initial: read_all(&*inner)?,
                events: Vec::new(),
            },
        );
        Ok(Arc::new(CrashFile {
            inner,
            path: path.to_path_buf(),
            files: self.files.clone(),
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
struct CrashFile {
    inner: Arc<dyn VfsFile>,
    path: PathBuf,
    files: Arc<Mutex<HashMap<PathBuf, History>>>,
}

impl VfsFile for CrashFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        // Recorded under the lock together with the write, so the order of
        // the events is the order the writes reached the file.
        let mut files = self.files.lock().unwrap();
        self.inner.write_at(buf, offset)?;
        files
            .entry(self.path.clone())
            .or_default()
            .events
            .push(Event::Write {
                offset,
                data: buf.to_vec(),
            });
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        // Writes that complete while the sync runs may or may not be
        // covered: the sync counts from where it started.
        let start = {
            let files = self.files.lock().unwrap();
            files.get(&self.path).map_or(0, |h| h.events.len())
        };
        self.inner.sync()?;
        let mut files = self.files.lock().unwrap();
        files
            .entry(self.path.clone())
            .or_default()
            .events
            .insert(start, Event::Sync);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut files = self.files.lock().unwrap();
        self.inner.set_len(len)?;
        files
            .entry(self.path.clone())
            .or_default()
            .events
            .push(Event::SetLen(len));
        Ok(())
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
