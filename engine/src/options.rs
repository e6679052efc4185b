//! Options for opening a database, durability modes and size limits.

use std::fmt;
use std::sync::Arc;

use crate::vfs::{StdVfs, Vfs};
use crate::{Error, Result};

/// When a commit is durable.
///
/// ```
/// use vellum::{Durability, Options};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Options::new()
///     .durability(Durability::Eventual)
///     .open(dir.path().join("db"))
///     .unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap(); // returns before any sync
/// db.sync().unwrap(); // now it survives a power loss
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// `commit` returns after the commit's log record is synced: an
    /// acknowledged commit survives power loss. Concurrent committers share
    /// one sync (group commit).
    #[default]
    Immediate,
    /// `commit` returns without syncing. A crash may lose the latest
    /// commits, but recovery always yields a consistent earlier commit
    /// (only a suffix is lost). [`crate::Db::sync`] makes everything durable.
    Eventual,
}

/// How a database is opened. Build with [`Options::new`] and the setters,
/// then call [`Options::open`].
///
/// ```
/// use vellum::{Durability, Options};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Options::new()
///     .page_size(8192)
///     .cache_size(16 << 20)
///     .durability(Durability::Eventual)
///     .open(dir.path().join("db"))
///     .unwrap();
/// assert_eq!(db.page_size(), 8192);
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) page_size: usize,
    pub(crate) cache_size: usize,
    pub(crate) durability: Durability,
    pub(crate) read_only: bool,
    pub(crate) create: bool,
    pub(crate) max_log_size: u64,
    pub(crate) checkpoint_budget: Option<u64>,
    pub(crate) truncate_damaged_log: bool,
    pub(crate) vfs: Arc<dyn Vfs>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("page_size", &self.page_size)
            .field("cache_size", &self.cache_size)
            .field("durability", &self.durability)
            .field("read_only", &self.read_only)
            .field("create", &self.create)
            .field("max_log_size", &self.max_log_size)
            .field("checkpoint_budget", &self.checkpoint_budget)
            .field("truncate_damaged_log", &self.truncate_damaged_log)
            .field("vfs", &self.vfs)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

/// Smallest supported page size.
pub const MIN_PAGE_SIZE: usize = 1024;
/// Largest supported page size.
pub const MAX_PAGE_SIZE: usize = 65536;

impl Options {
    /// Defaults: 4 KiB pages, 64 MiB cache, [`Durability::Immediate`],
    /// read-write, create if missing, log extent up to 64 MiB, the
    /// operating system's files.
    pub fn new() -> Self {
        Options {
            page_size: 4096,
            cache_size: 64 << 20,
            durability: Durability::Immediate,
            read_only: false,
            create: true,
            max_log_size: 64 << 20,
            checkpoint_budget: None,
            truncate_damaged_log: false,
            vfs: Arc::new(StdVfs),
        }
    }

    /// Page size for a new file (a power of two, 1024..=65536). An existing
    /// file keeps the page size it was created with.
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.page_size = bytes;
        self
    }

    /// Bytes of decoded pages kept in the page cache.
    pub fn cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = bytes;
        self
    }

    /// The durability of commits (default [`Durability::Immediate`]).
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Open read-only with a shared lock: many read-only handles (or
    /// processes) may open the file at once; writes return
    /// [`Error::ReadOnly`].
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }

    /// Whether to create the file when it does not exist (default true).
    pub fn create(mut self, yes: bool) -> Self {
        self.create = yes;
        self
    }

    /// Largest size of the log extent. A bigger log means fewer
    /// checkpoints and longer (still bounded) recovery after a crash.
    pub fn max_log_size(mut self, bytes: u64) -> Self {
        self.max_log_size = bytes;
        self
    }

    /// Bytes of pages changed in memory since the last checkpoint after
    /// which a commit runs a checkpoint (default: half of
    /// [`Options::cache_size`]; at least 64 pages). Changed pages stay in
    /// memory until a checkpoint writes them, each once however often it
    /// changed, so a larger budget means fewer, larger checkpoints and
    /// less writing for the same changes, and more memory. A full log (see
    /// [`Options::max_log_size`]) or a clean close also checkpoints.
    ///
    /// The budget also bounds one write transaction, whatever its size:
    /// once its changed pages and log payload pass the budget less 8 MiB
    /// (at least half the budget), it *spills* them to free pages of the
    /// file and goes on (an abort gives those pages back; [`crate::Stats`]
    /// counts spills). So the memory of changes stays within about the
    /// cache plus this budget. With the defaults (64 MiB cache) a
    /// transaction of any size peaks near 96 MiB; spilling costs time when
    /// a transaction changes pages all over a tree larger than the budget,
    /// since a spilled page that changes again is copied and written again.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let db = vellum::Options::new()
    ///     .page_size(1024)
    ///     .checkpoint_budget(64 << 10)
    ///     .open(dir.path().join("db"))
    ///     .unwrap();
    /// // Far more than 64 KiB of changes in one transaction: it spills.
    /// db.update(|tx| {
    ///     for i in 0..5_000u32 {
    ///         tx.put(i.to_be_bytes(), [7u8; 40])?;
    ///     }
    ///     Ok(())
    /// })
    /// .unwrap();
    /// assert!(db.stats().spills > 0);
    /// assert_eq!(db.begin_read().unwrap().len(), 5_000);
    /// ```
    pub fn checkpoint_budget(mut self, bytes: u64) -> Self {
        self.checkpoint_budget = Some(bytes);
        self
    }

    /// What opening does when a log record that was durable is damaged
    /// (a later record shows that a sync covered it; docs/FORMAT.md §2.3).
    /// By default (`false`) the open fails with [`Error::Corruption`]
    /// naming the record, so acknowledged commits are never dropped
    /// silently. With `true` the log ends before the damaged record, as
    /// if it had been torn: the database opens at the last intact state,
    /// losing that commit and every later one, and a writable open makes
    /// that state the durable one at once.
    ///
    /// ```
    /// # use vellum::Options;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("db");
    /// # drop(Options::new().open(&path).unwrap());
    /// // After `Error::Corruption` from a damaged log, accept the loss:
    /// let db = Options::new().truncate_damaged_log(true).open(&path).unwrap();
    /// # drop(db);
    /// ```
    pub fn truncate_damaged_log(mut self, yes: bool) -> Self {
        self.truncate_damaged_log = yes;
        self
    }

    /// The file system to use (default: the operating system's).
    pub fn vfs(mut self, vfs: Arc<dyn Vfs>) -> Self {
        self.vfs = vfs;
        self
    }

    /// Opens (or creates) the database at `path` with these options.
    pub fn open(self, path: impl AsRef<std::path::Path>) -> Result<crate::Db> {
        crate::Db::open_with(path.as_ref(), self)
    }

    pub(crate) fn validate_page_size(p: usize) -> Result<()> {
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&p) || !p.is_power_of_two() {
            return Err(Error::InvalidOptions(format!(
                "page size {p} is not a power of two in {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}"
            )));
        }
        Ok(())
    }
}

/// Size limits, which depend on the page size.
///
/// ```
/// let l = vellum::Limits::for_page_size(4096);
/// assert_eq!(l.max_key_len, 998);
/// assert_eq!(l.max_value_len, 1 << 30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest key (and bucket name), in bytes.
    pub max_key_len: usize,
    /// Longest value, in bytes (1 GiB).
    pub max_value_len: usize,
    /// Values longer than this are stored in overflow pages.
    pub max_inline_value_len: usize,
    /// Largest file, in pages.
    pub max_file_pages: u64,
}

impl Limits {
    /// The limits for a page size.
    pub fn for_page_size(page_size: usize) -> Limits {
        // Saturating: a buffer too small to be a page (a decoder given
        // arbitrary bytes) gets zero limits, never an overflow.
        let body = page_size.saturating_sub(crate::page::HEADER_LEN);
        let refs_per_index = (body / 16) as u64;
        let bits_per_bitmap = (body * 8) as u64;
        Limits {
            max_key_len: (page_size.saturating_sub(40) / 4).saturating_sub(16),
            max_value_len: 1 << 30,
            max_inline_value_len: page_size / 4,
            max_file_pages: crate::page::slot::MAX_INDEX_REFS as u64
                * refs_per_index
                * bits_per_bitmap,
        }
    }

    /// [`Error::KeyTooLarge`](crate::Error::KeyTooLarge) if `key` is longer
    /// than [`Limits::max_key_len`]: the one check every operation taking
    /// a key makes (reads included, so a key too long to store is an error
    /// for `get` as for `put`, not an `Ok(None)`).
    pub(crate) fn check_key(&self, key: &[u8]) -> crate::Result<()> {
        if key.len() > self.max_key_len {
            return Err(crate::Error::KeyTooLarge {
                len: key.len(),
                max: self.max_key_len,
            });
        }
        Ok(())
    }
}
