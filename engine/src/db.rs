//! The database handle.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::btree::Freed;
use crate::catalog::Catalog;
use crate::freelist::Allocator;
use crate::log::LogState;
use crate::options::Options;
use crate::pager::Pager;
use crate::snapshot::{Registry, Snapshot};
use crate::sync::{AtomicBool, AtomicU64, Mutex};
use crate::txn::group_commit::GroupSync;
use crate::txn::writer_slot::WriterSlot;
use crate::txn::{ReadTxn, WriteTxn};
use crate::vfs::{LockKind, OpenMode, VfsFile};
use crate::{Durability, Error, Limits, Result};

/// An open database. Cheap to clone (`Arc` inside), `Send + Sync`; the file
/// is checkpointed and closed when the last clone (and the last transaction)
/// is dropped.
///
/// ```
/// use vellum::Db;
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("example.vellum")).unwrap();
/// db.update(|tx| tx.put(b"hello", b"world")).unwrap();
/// // A value borrows from its transaction: copy it out to keep it.
/// let v = db.view(|tx| Ok(tx.get(b"hello")?.map(|v| v.to_vec())));
/// assert_eq!(v.unwrap().as_deref(), Some(&b"world"[..]));
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

/// State shared by every handle and transaction of one open database.
pub(crate) struct Inner {
    pub path: PathBuf,
    pub opts: Options,
    pub pager: Pager,
    pub limits: Limits,
    pub registry: Registry,
    pub core: Mutex<Core>,
    pub group: GroupSync,
    writer: WriterSlot,
    /// Held across each sync and the poisoning that follows its failure
    /// (see [`Inner::sync_or_poison`]).
    sync_lock: Mutex<()>,
    poisoned: AtomicBool,
    pub checkpoints: AtomicU64,
    /// Spills run by write transactions (FORMAT.md §3 Spill).
    pub spills: AtomicU64,
    pub replayed: u64,
    /// Change subscriptions and the commits waiting to be delivered.
    pub hub: Arc<crate::subscribe::Hub>,
}

/// The writer's state: the latest committed version (durable or not) and
/// everything a checkpoint needs. Locked only by the writer-slot holder,
/// checkpoints and maintenance.
pub(crate) struct Core {
    pub catalog: Arc<Catalog>,
    pub txn: u64,
    pub checkpoint: u64,
    pub checkpoint_txn: u64,
    pub alloc: Allocator,
    pub log: LogState,
    pub freed_since: Freed,
    pub catalog_pages: Vec<u64>,
    /// A record did not fit in the log since the last checkpoint: the
    /// pages the largest such record needs.
    pub log_full: Option<u64>,
    /// No checkpoint of this session has completed yet, so the log may hold
    /// stale records of the current epoch (FORMAT.md §4 step 6).
    pub needs_new_epoch: bool,
    /// The directory entry is known durable (synced by this session).
    pub dir_synced: bool,
    /// The slot of the last checkpoint (read at open or written since).
    pub slot: crate::page::slot::Slot,
    /// The page holding `slot`.
    pub slot_page: u64,
    /// Which checkpoint each slot page holds, and which one this session
    /// knows is durable (FORMAT.md §1.2, §4 step 4).
    pub slot_pages: crate::slots::SlotPages,
    /// Estimated bytes of in-memory nodes since the last checkpoint.
    pub dirty_bytes: u64,
}

impl Inner {
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }

    pub fn check_poisoned(&self) -> Result<()> {
        if self.is_poisoned() {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Syncs the file; a failure poisons the handle (the page cache and the
    /// in-memory state can no longer be trusted to match the disk).
    ///
    /// One sync at a time, and a failed one poisons before the next starts:
    /// a failed sync drops the writes it covered for good, and a later sync
    /// of the same file reports success (the kernel reports the error
    /// once). Without the lock a group sync could start while a
    /// checkpoint's sync was failing, succeed, and acknowledge commits
    /// whose log records the failed sync had dropped, or a checkpoint
    /// publish a slot over pages a failed group sync had dropped (found by
    /// tests/tests/shuttle.rs: `a_failed_sync_is_seen_by_the_next_sync`).
    pub fn sync_or_poison(&self) -> Result<()> {
        let _one = self.sync_lock.lock();
        self.check_poisoned()?;
        self.pager.sync().inspect_err(|_| self.poison())
    }

    pub fn max_log_pages(&self) -> u64 {
        (self.opts.max_log_size / self.pager.page_size() as u64).max(4)
    }

    /// In-memory changes allowed between checkpoints
    /// ([`crate::Options::checkpoint_budget`], by default half the cache).
    pub fn dirty_budget(&self) -> u64 {
        self.opts
            .checkpoint_budget
            .unwrap_or(self.opts.cache_size as u64 / 2)
            .max(64 * self.pager.page_size() as u64)
    }

    /// A write transaction's memory, given the `committed` bytes of changes
    /// not yet checkpointed: the memory of changed nodes plus log payload
    /// past which it spills (the checkpoint budget less 8 MiB for what the
    /// count leaves out: node headers, side tables, the allocator's own, but
    /// at least half the budget; less the committed changes, but at least a
    /// quarter of the budget), and the largest log payload it keeps (half
    /// the log extent's maximum, and at most half of the spill limit, so
    /// that spilling always frees most of the memory). Committed and
    /// uncommitted changes together stay within about the checkpoint budget
    /// (half the cache by default), so the rest of the cache keeps clean
    /// pages.
    pub fn transaction_memory(&self, committed: u64) -> (usize, u64) {
        let budget = self.dirty_budget();
        let spill_at = budget
            .saturating_sub(8 << 20)
            .max(budget / 2)
            .saturating_sub(committed)
            .max(budget / 4);
        let log_max = self.max_log_pages() * self.pager.page_size() as u64 / 2;
        let log_limit = log_max.min(spill_at / 2);
        (log_limit as usize, spill_at)
    }

    pub fn acquire_writer(&self, wait: bool) -> Result<()> {
        self.writer.acquire(wait)
    }

    pub fn release_writer(&self) {
        self.writer.release();
    }

    /// Waits until `txn` is durable (group commit), then delivers what
    /// became durable to the subscriptions.
    pub fn wait_durable(&self, txn: u64) -> Result<()> {
        let r = self.group.wait_durable(
            &self.registry,
            txn,
            &|| {
                crate::failpoint::hit("commit::before_sync").inspect_err(|_| self.poison())?;
                self.sync_or_poison()
            },
            &|| self.is_poisoned(),
        );
        self.deliver_durable();
        r
    }

    /// Hands the subscriptions every committed transaction that is durable
    /// and visible to new snapshots. Called after each place durability
    /// advances (a group sync in [`Inner::wait_durable`], the end of a
    /// checkpoint, the erased tail of a failed log write), by the thread
    /// that advanced it.
    /// Without pending commits (always, without subscriptions) it costs
    /// one atomic load.
    pub fn deliver_durable(&self) {
        // A commit is queued before the sync or checkpoint that covers it
        // starts, so whoever advances durability past it sees it here.
        if !self.hub.has_pending() {
            return;
        }
        let durable = self.group.durable_txn();
        self.hub.deliver(durable.min(self.registry.current().txn));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // While unwinding from a panic the state may be inconsistent (and a
        // second panic would abort): leave everything to recovery.
        if !self.opts.read_only && !self.is_poisoned() && !std::thread::panicking() {
            let mut core = self.core.lock();
            if core.txn != core.checkpoint_txn {
                // A failure here leaves the log to recovery; nothing is lost.
                let _ = crate::checkpoint::run(self, &mut core);
            }
        }
        self.hub.close();
        let _ = self.pager.file().unlock();
    }
}

impl Db {
    /// Opens the database at `path`, creating it if it does not exist, with
    /// default [`Options`].
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Options::new().open(path)
    }

    pub(crate) fn open_with(path: &Path, opts: Options) -> Result<Db> {
        Options::validate_page_size(opts.page_size)?;
        let vfs = opts.vfs.clone();
        if !opts.read_only && opts.create {
            let absent = !vfs.exists(path)?;
            if absent || vfs.open(path, OpenMode::ReadOnly)?.is_empty()? {
                crate::create::create(path, &opts)?;
            }
        }
        let (mode, lock) = if opts.read_only {
            (OpenMode::ReadOnly, LockKind::Shared)
        } else {
            (OpenMode::ReadWrite, LockKind::Exclusive)
        };
        let file = vfs.open(path, mode)?;
        if !file.try_lock(lock)? {
            return Err(Error::Locked);
        }
        let r = Self::open_locked(path, opts, file.clone());
        if r.is_err() {
            let _ = file.unlock();
        }
        r
    }

    fn open_locked(path: &Path, opts: Options, file: Arc<dyn VfsFile>) -> Result<Db> {
        use crate::page::file_header::{decode, HeaderState};
        let len = file.len()?;
        if len == 0 {
            return Err(Error::NotADatabase);
        }
        let mut head = vec![0u8; (len.min(512)) as usize];
        file.read_at(&mut head, 0)?;
        match decode(&head)? {
            HeaderState::Valid { page_size } => Self::recover(path, opts, file, page_size),
            // Creation never leaves a partial file at `path` (it renames a
            // complete one into place), so a blank header is damage or a
            // foreign file: never write to it.
            HeaderState::Blank => Err(if crate::create::any_valid_slot(&file, opts.page_size) {
                Error::corrupt(0, "file header is blank but checkpoints exist")
            } else {
                Error::NotADatabase
            }),
        }
    }

    /// Opens an initialised file: FORMAT.md §4.
    fn recover(path: &Path, opts: Options, file: Arc<dyn VfsFile>, ps: usize) -> Result<Db> {
        let pager = Pager::new(file.clone(), ps, opts.cache_size);
        let slots = crate::recovery::valid_slots(&pager)?;
        crate::failpoint::hit("recovery::after_slots")?;
        let crate::recovery::ValidSlot {
            slot,
            checksum: slot_checksum,
            page: slot_page,
            ..
        } = slots[0].clone();
        let slot_pages =
            crate::slots::SlotPages::new(slots.iter().map(|v| (v.page, v.slot.checkpoint, v.seq)));
        pager.set_page_count(slot.page_count);
        if file.len()? < slot.page_count * ps as u64 {
            return Err(Error::corrupt(
                slot.page_count - 1,
                "file is shorter than its last checkpoint",
            ));
        }
        let mut alloc = Allocator::load(&pager, ps, slot.page_count, &slot.alloc_index)?;
        if !opts.read_only {
            // The newest slot may be one only the OS cache shows: keep the
            // pages of every older checkpoint until it is confirmed.
            // Each older checkpoint once, however many copies of its slot exist.
            let mut older: Vec<&crate::page::slot::Slot> = slots
                .iter()
                .map(|v| &v.slot)
                .filter(|s| s.checkpoint < slot.checkpoint)
                .collect();
            older.dedup_by_key(|s| s.checkpoint);
            let mut blocked = Vec::new();
            for o in older {
                blocked.extend(crate::recovery::unconfirmed_frees(&pager, &alloc, o)?);
            }
            blocked.sort_unstable();
            blocked.dedup();
            alloc.block_until_confirmed(blocked);
        }
        crate::failpoint::hit("recovery::after_alloc_load")?;
        let (catalog, catalog_pages) = Catalog::load(&pager, slot.catalog)?;
        check_log_extent(&slot, &alloc, &catalog, &catalog_pages)?;
        let limits = Limits::for_page_size(ps);
        let log = LogState {
            epoch: slot.checkpoint,
            start: slot.log_start,
            pages: slot.log_pages,
            tail: 0,
            link: slot_checksum,
        };
        // Replay the log tail onto the in-memory trees.
        let mut state = crate::txn::state::TxState::new(catalog.clone(), limits, 0, None);
        let damaged = if opts.truncate_damaged_log {
            crate::log::Damaged::Truncate
        } else {
            crate::log::Damaged::Fail
        };
        let replay = crate::log::replay(&pager, log, slot.last_txn, damaged, &mut |_, ops| {
            crate::failpoint::hit("recovery::replay_record")?;
            for op in ops {
                state.apply(&pager, op).map_err(|e| match e {
                    Error::Io(e) => Error::Io(e),
                    Error::Corruption { page, reason } => Error::Corruption { page, reason },
                    other => Error::corrupt(slot.log_start, format!("log replay failed: {other}")),
                })?;
            }
            Ok(())
        })?;
        let (log, last_txn) = (replay.log, replay.last_txn);
        let replayed = last_txn - slot.last_txn;
        let opts_read_only = opts.read_only;
        let catalog = Arc::new(state.catalog);
        let snap = Arc::new(Snapshot {
            txn: last_txn,
            base: slot.checkpoint,
            catalog: catalog.clone(),
        });
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            limits,
            registry: Registry::new(snap),
            core: Mutex::new(Core {
                catalog,
                txn: last_txn,
                checkpoint: slot.checkpoint,
                checkpoint_txn: slot.last_txn,
                alloc,
                log,
                freed_since: state.freed,
                catalog_pages,
                log_full: None,
                needs_new_epoch: !opts_read_only,
                dir_synced: opts_read_only,
                slot: slot.clone(),
                slot_page,
                slot_pages,
                dirty_bytes: 0,
            }),
            group: GroupSync::new(last_txn),
            writer: WriterSlot::new(),
            sync_lock: Mutex::new(()),
            poisoned: AtomicBool::new(false),
            checkpoints: AtomicU64::new(0),
            spills: AtomicU64::new(0),
            replayed,
            hub: Arc::default(),
            pager,
            opts,
        });
        if (replayed > 0 || replay.cut_at.is_some()) && !inner.opts.read_only {
            // FORMAT.md §4 step 5: bound the next recovery (and, after a
            // damaged record was cut, make the shorter history the durable
            // one, so the next open does not meet the damage again).
            crate::failpoint::hit("recovery::before_checkpoint")?;
            let mut core = inner.core.lock();
            // The replayed records may exist only in the operating system's
            // cache (their sync failed in an earlier session): only this
            // checkpoint makes the replayed transactions durable, so the open
            // fails if it does (FORMAT.md §4 step 5).
            crate::checkpoint::run(&inner, &mut core)?;
        }
        Ok(Db { inner })
    }

    /// Starts a read transaction: a snapshot of the latest committed state
    /// that never changes and never blocks or is blocked by the writer.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        self.inner.check_poisoned()?;
        Ok(ReadTxn::new(self.inner.clone()))
    }

    /// Starts the write transaction, waiting while another one is open.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        WriteTxn::begin(self.inner.clone(), true)
    }

    /// Starts the write transaction, or returns [`Error::WriterBusy`] at once
    /// if another one is open.
    pub fn try_begin_write(&self) -> Result<WriteTxn> {
        WriteTxn::begin(self.inner.clone(), false)
    }

    /// Runs `f` in a write transaction and commits if it returns `Ok`
    /// (aborts on `Err`). The closure's error type is [`Error`], so `?` and
    /// a final `Ok(())` need no annotation; for a closure with its own error
    /// type use [`Db::update_with`].
    ///
    /// # Errors
    /// What `f` returns, or the commit's error. [`Error::NestedWrite`] if
    /// the calling thread already holds the write transaction (an `update`
    /// inside an `update`): waiting would block forever.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| {
    ///     tx.create_bucket(b"users")?;
    ///     tx.bucket(b"users")?.put(b"alice", b"1")?;
    ///     Ok(())
    /// })
    /// .unwrap();
    /// let nested = db.update(|_| db.update(|tx| tx.put(b"k", b"v")));
    /// assert!(matches!(nested, Err(vellum::Error::NestedWrite)));
    /// ```
    pub fn update<T>(&self, f: impl FnOnce(&WriteTxn) -> Result<T>) -> Result<T> {
        self.update_with(f)
    }

    /// [`Db::update`] for a closure whose error type is the caller's own
    /// (anything a vellum [`Error`] converts into).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// #[derive(Debug)]
    /// enum AppError {
    ///     Db(vellum::Error),
    ///     NotANumber,
    /// }
    /// impl From<vellum::Error> for AppError {
    ///     fn from(e: vellum::Error) -> Self {
    ///         AppError::Db(e)
    ///     }
    /// }
    /// let r = db.update_with(|tx| {
    ///     let n: u32 = "12x".parse().map_err(|_| AppError::NotANumber)?;
    ///     tx.put(b"n", n.to_be_bytes())?;
    ///     Ok(())
    /// });
    /// assert!(matches!(r, Err(AppError::NotANumber)));
    /// assert!(db.begin_read().unwrap().get(b"n").unwrap().is_none());
    /// ```
    pub fn update_with<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&WriteTxn) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.begin_write()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a read transaction (for a closure with its own error
    /// type, [`Db::view_with`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"k", b"v")).unwrap();
    /// let v = db.view(|tx| Ok(tx.get(b"k")?.map(|v| v.to_vec()))).unwrap();
    /// assert_eq!(v.as_deref(), Some(&b"v"[..]));
    /// ```
    pub fn view<T>(&self, f: impl FnOnce(&ReadTxn) -> Result<T>) -> Result<T> {
        self.view_with(f)
    }

    /// [`Db::view`] for a closure whose error type is the caller's own.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let r: Result<usize, Box<dyn std::error::Error>> = db.view_with(|tx| {
    ///     let n = tx.len() as usize;
    ///     if n == 0 { Err("empty".into()) } else { Ok(n) }
    /// });
    /// assert_eq!(r.unwrap_err().to_string(), "empty");
    /// ```
    pub fn view_with<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&ReadTxn) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.begin_read()?;
        f(&tx)
    }

    /// Makes every commit so far durable (useful with
    /// [`Durability::Eventual`]), and the state this handle opened with:
    /// after reopening a handle poisoned by a failed sync, in the same
    /// boot, that state may be one the page cache showed and the disk
    /// does not hold yet.
    pub fn sync(&self) -> Result<()> {
        self.inner.check_poisoned()?;
        if self.inner.opts.read_only {
            return Ok(());
        }
        {
            // Until this session has a durable checkpoint of its own, the
            // newest slot may be one that only the OS cache shows (FORMAT.md
            // §4 step 4): make it durable before promising anything.
            let mut core = self.inner.core.lock();
            if core.needs_new_epoch {
                debug_assert_eq!(core.txn, core.checkpoint_txn);
                crate::checkpoint::republish(&self.inner, &mut core)?;
            }
        }
        let txn = self.inner.group.written_txn();
        self.inner.wait_durable(txn)
    }

    /// Writes every change since the last checkpoint into the tree pages
    /// now, so the log is empty and reopening replays nothing. Waits while a
    /// write transaction is open on another thread.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::NestedWrite`] if the calling thread
    /// holds the write transaction; I/O errors (which poison the handle).
    pub fn checkpoint(&self) -> Result<()> {
        self.inner.check_poisoned()?;
        if self.inner.opts.read_only {
            return Err(Error::ReadOnly);
        }
        self.inner.acquire_writer(true)?;
        let r = {
            let mut core = self.inner.core.lock();
            crate::checkpoint::run(&self.inner, &mut core)
        };
        self.inner.release_writer();
        r
    }

    /// Closes the database: checkpoints, releases the file's lock and
    /// closes it, reporting errors that dropping would have to ignore.
    ///
    /// # Errors
    /// [`Error::StillOpen`] if other clones of this handle or live
    /// transactions (read or write) still hold the database: this handle
    /// is gone, but the file stays open and locked until the last of them is
    /// dropped (which checkpoints and closes it, ignoring errors). Errors
    /// of the checkpoint (the log keeps every commit: nothing is lost).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("db");
    /// let db = vellum::Db::open(&path).unwrap();
    /// let reader = db.begin_read().unwrap();
    /// let err = db.clone().close().unwrap_err();
    /// assert!(matches!(err, vellum::Error::StillOpen { others: 2 }));
    /// drop(reader);
    /// db.close().unwrap();
    /// vellum::Db::open(&path).unwrap(); // the lock was released
    /// ```
    pub fn close(self) -> Result<()> {
        let others = Arc::strong_count(&self.inner) - 1;
        if others > 0 {
            return Err(Error::StillOpen { others });
        }
        if !self.inner.opts.read_only {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Verifies the whole database: every reachable page (checksums, key
    /// order, balance, key counts) and the page accounting of the durable
    /// checkpoint (no page both free and used, none leaked). Commits wait
    /// while it runs. Problems are listed in the report; only I/O errors are
    /// returned as `Err`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// db.update(|tx| tx.put(b"k", b"v")).unwrap();
    /// let report = db.check().unwrap();
    /// assert!(report.is_ok(), "{report}");
    /// ```
    pub fn check(&self) -> Result<crate::CheckReport> {
        self.inner.check_poisoned()?;
        let core = self.inner.core.lock();
        let mut report = crate::CheckReport::default();
        crate::check::check_trees(&self.inner.pager, &core.catalog, &mut report)?;
        crate::check::check_pages(&self.inner.pager, core.slot_page, &mut report)?;
        Ok(report)
    }

    /// Counters and sizes (no I/O).
    pub fn stats(&self) -> crate::Stats {
        use std::sync::atomic::Ordering::Relaxed;
        let core = self.inner.core.lock();
        let cache = self.inner.pager.cache();
        let (cache_hits, cache_misses) = cache.hits_and_misses();
        crate::Stats {
            page_size: self.inner.pager.page_size(),
            file_pages: core.alloc.page_count(),
            free_pages: core.alloc.free_pages() - core.alloc.pending_pages(),
            pinned_pages: core.alloc.pending_pages(),
            buckets: core.catalog.named.len() as u64,
            default_bucket_keys: core.catalog.default.len,
            last_txn: core.txn,
            checkpoint: core.checkpoint,
            checkpoints_run: self.inner.checkpoints.load(Relaxed),
            spills: self.inner.spills.load(Relaxed),
            log_pages_used: core.log.tail,
            log_pages: core.log.pages,
            cache_hits,
            cache_misses,
            cache_bytes: cache.bytes() as u64,
            live_readers: self.inner.registry.live_readers() as u64,
            oldest_reader_checkpoint: self.inner.registry.oldest_base(),
        }
    }

    /// The page size of the file.
    pub fn page_size(&self) -> usize {
        self.inner.pager.page_size()
    }

    /// Size limits of this database.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// The path the database was opened from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The durability of this handle's commits.
    pub fn durability(&self) -> Durability {
        self.inner.opts.durability
    }

    /// Whether an earlier failure poisoned this handle.
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Number of log records replayed when this handle was opened.
    pub fn replayed_on_open(&self) -> u64 {
        self.inner.replayed
    }
}

/// The log extent must not overlap a page the checkpoint uses otherwise:
/// appending records would overwrite it. Open checks the pages it knows
/// without walking the trees (FORMAT.md §6 S6): the allocator's own pages,
/// the catalog's pages and every bucket's root. A crafted file whose extent
/// overlaps a deeper tree page opens; `Db::check` reports that page as
/// referenced twice.
fn check_log_extent(
    slot: &crate::page::slot::Slot,
    alloc: &Allocator,
    catalog: &Catalog,
    catalog_pages: &[u64],
) -> Result<()> {
    // `Slot::decode` checked that the extent lies below the page count.
    let log = slot.log_start..slot.log_start + slot.log_pages;
    let roots = catalog
        .iter()
        .filter_map(|(_, b)| b.root.as_ref()?.disk_page());
    let overlap = alloc
        .own_pages()
        .into_iter()
        .chain(catalog_pages.iter().copied())
        .chain(roots)
        .find(|p| log.contains(p));
    match overlap {
        Some(p) => Err(Error::corrupt(
            p,
            "the log extent overlaps a tree or allocator page",
        )),
        None => Ok(()),
    }
}
