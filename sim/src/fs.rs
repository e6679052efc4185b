//! [`SimVfs`]: the simulated disk as a [`Vfs`], and its shared state.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use vellum::vfs::{OpenMode, Vfs, VfsFile};

use crate::crash::{crash_file, CrashReport};
use crate::disk::FileState;
use crate::error::{result_code, SimIoError};
use crate::faults::{ErrorSchedule, FaultConfig, InjectedError, OpKind};
use crate::file::SimFile;
use crate::lock::{HandleId, LockTable};
use crate::log::{ErrorCause, Fault, FaultRecord};
use crate::namespace::{Ino, Namespace};
use crate::rng::SimRng;
use crate::stats::{hash_path, SimStats, TraceHash};
use crate::sync::SilentSchedule;

/// Trace tag of a crash.
const TAG_CRASH: u8 = 200;
/// Trace tag of an explicitly injected fault.
pub(crate) const TAG_EXPLICIT: u8 = 201;

/// A deterministic, fault-injecting, in-memory [`Vfs`].
///
/// Every write lands in a per-file volatile cache; [`VfsFile::sync`] makes
/// the file's earlier writes and length changes durable; [`Vfs::sync_dir`]
/// makes creations, renames and removals in a directory durable.
/// [`SimVfs::crash`] simulates power loss: unsynced operations are kept,
/// dropped, torn and reordered as the [`FaultConfig`] says, every open
/// handle dies, and the engine reopens through [`Vfs::open`]. Errors and
/// silent corruption are injected by rate or on request, and every injected
/// fault is logged ([`SimVfs::injected_faults`]).
///
/// All randomness comes from one RNG seeded by `seed`, so a run is a pure
/// function of the seed and of the sequence of calls; [`SimVfs::trace_hash`]
/// summarises that sequence and its results to check it. Clones share the
/// same disk.
///
/// ```
/// use std::path::Path;
/// use vellum::vfs::{OpenMode, Vfs};
/// use vellum_sim::{FaultConfig, SimVfs};
///
/// let vfs = SimVfs::new(42, FaultConfig::profile("none").unwrap());
/// let path = Path::new("/db/data");
/// let f = vfs.open(path, OpenMode::CreateReadWrite).unwrap();
/// f.write_at(b"durable", 0).unwrap();
/// f.sync().unwrap();
/// vfs.sync_dir(path).unwrap();
/// f.write_at(b"VOLATILE", 0).unwrap(); // never synced
///
/// vfs.crash();
/// assert!(f.len().is_err()); // handles die with the crash
/// let f = vfs.open(path, OpenMode::ReadWrite).unwrap();
/// let mut buf = vec![0u8; f.len().unwrap() as usize];
/// f.read_at(&mut buf, 0).unwrap();
/// // The synced bytes survive; the unsynced write may or may not have.
/// assert!(buf == b"durable" || buf == b"VOLATILE");
/// ```
#[derive(Clone)]
pub struct SimVfs {
    pub(crate) shared: Arc<Mutex<Inner>>,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) seed: u64,
    pub(crate) cfg: FaultConfig,
    pub(crate) rng: SimRng,
    pub(crate) ns: Namespace,
    pub(crate) files: BTreeMap<Ino, FileState>,
    next_ino: Ino,
    next_handle: HandleId,
    pub(crate) locks: LockTable,
    /// Incremented by every crash; handles of older generations are dead.
    pub(crate) generation: u64,
    pub(crate) open_handles: u64,
    pub(crate) errors: ErrorSchedule,
    pub(crate) silent: SilentSchedule,
    crash_countdown: Option<u64>,
    /// Power off when the `n`th next operation of this kind starts.
    crash_at: Option<(OpKind, u64)>,
    powered_off: bool,
    pub(crate) stats: SimStats,
    pub(crate) trace: TraceHash,
    pub(crate) log: Vec<FaultRecord>,
    /// Index of the operation being executed, for the fault log.
    op_index: u64,
}

impl Inner {
    /// Starts an operation: checks the handle's generation, the power and
    /// the crash countdown, counts it, and returns a scheduled error to
    /// inject, if any.
    pub(crate) fn begin(
        &mut self,
        kind: OpKind,
        generation: Option<u64>,
    ) -> io::Result<Option<InjectedError>> {
        if generation.is_some_and(|g| g != self.generation) {
            self.trace.record(kind.code(), &[u64::MAX]);
            return Err(SimIoError::Crashed.to_io());
        }
        self.op_index = self.stats.ops;
        self.stats.ops += 1;
        if !self.powered_off {
            match self.crash_countdown {
                Some(0) => {
                    self.crash_countdown = None;
                    self.powered_off = true;
                }
                Some(n) => self.crash_countdown = Some(n - 1),
                None => {}
            }
            if let Some((k, n)) = self.crash_at {
                if k == kind {
                    if n <= 1 {
                        self.crash_at = None;
                        self.powered_off = true;
                    } else {
                        self.crash_at = Some((k, n - 1));
                    }
                }
            }
        }
        if self.powered_off {
            self.trace.record(kind.code(), &[u64::MAX - 1]);
            return Err(SimIoError::PoweredOff.to_io());
        }
        Ok(self.errors.on_op(kind))
    }

    /// Folds an operation and its result into the trace hash.
    pub(crate) fn finish<T>(&mut self, kind: OpKind, values: &[u64], res: &io::Result<T>) {
        let code = match res {
            Ok(_) => 0,
            Err(e) => result_code(e),
        };
        let mut v = values.to_vec();
        v.push(code);
        self.trace.record(kind.code(), &v);
    }

    /// Logs a fault injected by the current operation.
    pub(crate) fn log(&mut self, path: &Path, fault: Fault) {
        if fault.is_silent() {
            self.stats.silent_faults += 1;
        }
        if matches!(fault, Fault::LogBitFlip { .. }) {
            self.stats.log_bit_flips += 1;
        }
        self.log.push(FaultRecord {
            op_index: self.op_index,
            path: path.to_path_buf(),
            fault,
        });
    }

    /// Logs a reported error and returns it as an `io::Error`.
    pub(crate) fn inject_error(
        &mut self,
        path: &Path,
        op: OpKind,
        error: InjectedError,
        cause: ErrorCause,
        offset: u64,
        len: u64,
    ) -> io::Error {
        self.stats.injected_errors += 1;
        self.log(
            path,
            Fault::Error {
                op,
                error,
                cause,
                offset,
                len,
            },
        );
        match error {
            InjectedError::Eio => SimIoError::Eio.to_io(),
            InjectedError::Enospc => SimIoError::Enospc.to_io(),
        }
    }

    /// Bytes used by every linked file plus `ino`.
    pub(crate) fn used_bytes(&self, ino: Ino) -> u64 {
        let mut inodes = self.ns.live_inodes();
        inodes.insert(ino);
        inodes
            .iter()
            .filter_map(|i| self.files.get(i))
            .map(|f| f.len())
            .sum()
    }

    /// The file state of a live handle's inode.
    pub(crate) fn file_mut(&mut self, ino: Ino) -> &mut FileState {
        self.files.entry(ino).or_default()
    }

    fn open(&mut self, path: &Path, mode: OpenMode) -> io::Result<(Ino, HandleId)> {
        if let Some(e) = self.begin(OpKind::Open, None)? {
            return Err(self.inject_error(path, OpKind::Open, e, ErrorCause::Scheduled, 0, 0));
        }
        self.stats.opens += 1;
        let ino = match (self.ns.lookup(path), mode) {
            (Some(ino), _) => ino,
            (None, OpenMode::CreateReadWrite) => {
                let ino = self.next_ino;
                self.next_ino += 1;
                self.files.insert(ino, FileState::default());
                self.ns.create(path, ino);
                ino
            }
            (None, _) => return Err(io::ErrorKind::NotFound.into()),
        };
        let handle = self.next_handle;
        self.next_handle += 1;
        self.open_handles += 1;
        Ok((ino, handle))
    }

    fn dir_op(
        &mut self,
        kind: OpKind,
        path: &Path,
        trace: &[u64],
        f: impl FnOnce(&mut Namespace) -> io::Result<()>,
    ) -> io::Result<()> {
        let res = match self.begin(kind, None) {
            Err(e) => Err(e),
            Ok(Some(e)) => Err(self.inject_error(path, kind, e, ErrorCause::Scheduled, 0, 0)),
            Ok(None) => f(&mut self.ns),
        };
        self.finish(kind, trace, &res);
        res
    }

    /// Power loss.
    pub(crate) fn crash(&mut self) -> CrashReport {
        let mut report = CrashReport {
            handles_invalidated: self.open_handles,
            ..CrashReport::default()
        };
        self.generation += 1;
        self.open_handles = 0;
        self.locks.clear();
        self.powered_off = false;
        self.crash_countdown = None;
        self.crash_at = None;
        let nsc = self.ns.crash(self.cfg.crash_keep_dir_op, &mut self.rng);
        report.dir_ops_kept = nsc.kept;
        report.dir_ops_dropped = nsc.dropped;
        report.paths_lost = nsc.paths_lost;
        let durable = self.ns.durable_inodes();
        self.files.retain(|ino, _| durable.contains(ino));
        let mut content = Vec::new();
        for (ino, f) in self.files.iter_mut() {
            crash_file(f, &self.cfg, &mut self.rng, &mut report);
            content.push(*ino);
            content.push(f.durable.content_hash());
        }
        let s = &mut self.stats;
        s.crashes += 1;
        s.crash_writes_kept += report.writes_kept;
        s.crash_writes_torn += report.writes_torn;
        s.crash_writes_dropped += report.writes_dropped;
        s.crash_set_lens_dropped += report.set_lens_dropped;
        s.crash_dir_ops_dropped += report.dir_ops_dropped;
        content.extend([
            report.writes_kept,
            report.writes_torn,
            report.writes_dropped,
            report.set_lens_dropped,
            report.dir_ops_dropped,
        ]);
        self.trace.record(TAG_CRASH, &content);
        self.log.push(FaultRecord {
            op_index: self.stats.ops,
            path: PathBuf::new(),
            fault: Fault::Crash(report.clone()),
        });
        report
    }
}

impl SimVfs {
    /// A fresh, empty disk whose every random choice derives from `seed`.
    pub fn new(seed: u64, config: FaultConfig) -> SimVfs {
        let inner = Inner {
            seed,
            cfg: config,
            rng: SimRng::new(seed),
            ns: Namespace::default(),
            files: BTreeMap::new(),
            next_ino: 1,
            next_handle: 1,
            locks: LockTable::default(),
            generation: 0,
            open_handles: 0,
            errors: ErrorSchedule::default(),
            silent: SilentSchedule::default(),
            crash_countdown: None,
            crash_at: None,
            powered_off: false,
            stats: SimStats::default(),
            trace: TraceHash::new(seed),
            log: Vec::new(),
            op_index: 0,
        };
        SimVfs {
            shared: Arc::new(Mutex::new(inner)),
        }
    }

    /// A fresh disk with the named profile (see [`FaultConfig::profile`]).
    pub fn with_profile(seed: u64, profile: &str) -> Option<SimVfs> {
        FaultConfig::profile(profile).map(|cfg| SimVfs::new(seed, cfg))
    }

    /// The seed this disk was created with.
    pub fn seed(&self) -> u64 {
        self.shared.lock().seed
    }

    /// The current fault configuration.
    pub fn config(&self) -> FaultConfig {
        self.shared.lock().cfg.clone()
    }

    /// Replaces the fault configuration from now on (for example to stop
    /// injecting errors while a runner verifies a recovered database).
    pub fn set_config(&self, config: FaultConfig) {
        self.shared.lock().cfg = config;
    }

    /// Simulates power loss now, and returns what it did.
    ///
    /// Each file's pending operations are resolved as described in
    /// [`crate::crash`]; pending directory operations persist or not
    /// (see [`crate::namespace`]); files no durable entry names are gone.
    /// Afterwards nothing is pending, every handle opened before returns a
    /// "crashed" error ([`crate::SimIoError::Crashed`]) on every call, all
    /// locks are released, a scheduled crash countdown is cancelled and the
    /// disk is powered on again. Scheduled errors and silent faults stay
    /// scheduled.
    pub fn crash(&self) -> CrashReport {
        self.shared.lock().crash()
    }

    /// Powers the disk off after `n` more VFS operations.
    ///
    /// Exactly: the next `n` operations (any [`Vfs`] or [`VfsFile`] method
    /// called through this disk or its live handles, whether it succeeds or
    /// fails) run normally; the one after them and every later one has no
    /// effect and returns [`crate::SimIoError::PoweredOff`], until
    /// [`SimVfs::crash`] is called, which resolves the crash as usual.
    /// `n = 0` powers off before the next operation. Calls through handles
    /// killed by an earlier crash are not counted. A new call replaces an
    /// earlier countdown.
    pub fn schedule_crash_after(&self, n: u64) {
        self.shared.lock().crash_countdown = Some(n);
    }

    /// Powers the disk off when the `n`th (1-based; 0 counts as 1) next
    /// operation of `kind` starts: that operation and every later one fail
    /// as after [`SimVfs::schedule_crash_after`], until [`SimVfs::crash`].
    /// Crashing at a `sync` is the interesting case: everything written
    /// since the previous barrier is still pending, so the crash decides
    /// what of it lands. Independent of the countdown; a new call replaces
    /// an earlier one.
    pub fn schedule_crash_at(&self, kind: OpKind, n: u64) {
        self.shared.lock().crash_at = Some((kind, n.max(1)));
    }

    /// Cancels a countdown set by [`SimVfs::schedule_crash_after`] or
    /// [`SimVfs::schedule_crash_at`] that has not yet expired.
    pub fn cancel_scheduled_crash(&self) {
        let mut inner = self.shared.lock();
        inner.crash_countdown = None;
        inner.crash_at = None;
    }

    /// Whether the countdown expired and the disk waits for [`SimVfs::crash`].
    pub fn is_powered_off(&self) -> bool {
        self.shared.lock().powered_off
    }

    /// Operations left before the scheduled power-off, if one is scheduled.
    pub fn crash_countdown(&self) -> Option<u64> {
        self.shared.lock().crash_countdown
    }

    /// Counters since creation.
    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats.clone()
    }

    /// Running hash of every operation, its arguments, its result and every
    /// crash outcome. Equal seeds and equal call sequences give equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.shared.lock().trace.value()
    }

    /// Every fault injected so far, in order (reported errors, silent
    /// corruption, failed-sync losses, partial writes and crashes).
    pub fn injected_faults(&self) -> Vec<FaultRecord> {
        self.shared.lock().log.clone()
    }

    /// Whether any silent corruption has been injected so far.
    pub fn silent_faults_injected(&self) -> bool {
        self.shared.lock().stats.silent_faults > 0
    }

    /// Drops the page cache: every file's volatile view is rebuilt from its
    /// durable bytes and its pending operations, so data lost by a failed
    /// sync or a silent fault stops being readable. Not an operation: it is
    /// not counted and not traced.
    pub fn drop_caches(&self) {
        let mut inner = self.shared.lock();
        for f in inner.files.values_mut() {
            f.rebuild_volatile();
        }
    }

    /// The bytes a read of `path` would return now, if it exists. Not an
    /// operation (no faults, not traced).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let inner = self.shared.lock();
        let ino = inner.ns.lookup(path)?;
        inner.files.get(&ino).map(|f| f.volatile.to_vec())
    }

    /// The bytes `path` is sure to hold after a crash, if its durable entry
    /// exists. Not an operation (no faults, not traced).
    pub fn durable_contents(&self, path: &Path) -> Option<Vec<u8>> {
        let inner = self.shared.lock();
        let ino = inner.ns.durable_lookup(path)?;
        inner.files.get(&ino).map(|f| f.durable.to_vec())
    }

    /// Paths that exist now, in order.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.shared
            .lock()
            .ns
            .paths()
            .map(Path::to_path_buf)
            .collect()
    }

    /// Number of operations a crash could still lose: pending writes and
    /// `set_len`s of all files plus pending directory operations.
    pub fn pending_ops(&self) -> usize {
        let inner = self.shared.lock();
        inner.files.values().map(|f| f.pending.len()).sum::<usize>() + inner.ns.pending_len()
    }
}

impl fmt::Debug for SimVfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("SimVfs")
            .field("seed", &inner.seed)
            .field("files", &inner.files.len())
            .field("generation", &inner.generation)
            .field("ops", &inner.stats.ops)
            .finish()
    }
}

impl Vfs for SimVfs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn VfsFile>> {
        let mut inner = self.shared.lock();
        let res = inner.open(path, mode);
        let mode_code = match mode {
            OpenMode::ReadOnly => 0,
            OpenMode::ReadWrite => 1,
            OpenMode::CreateReadWrite => 2,
        };
        inner.finish(OpKind::Open, &[hash_path(path), mode_code], &res);
        let (ino, handle) = res?;
        let generation = inner.generation;
        drop(inner);
        Ok(Arc::new(SimFile::new(
            self.shared.clone(),
            path,
            ino,
            handle,
            generation,
            mode,
        )))
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut inner = self.shared.lock();
        let res = match inner.begin(OpKind::Exists, None) {
            Err(e) => Err(e),
            Ok(Some(e)) => {
                Err(inner.inject_error(path, OpKind::Exists, e, ErrorCause::Scheduled, 0, 0))
            }
            Ok(None) => Ok(inner.ns.lookup(path).is_some()),
        };
        let found = matches!(res, Ok(true)) as u64;
        inner.finish(OpKind::Exists, &[hash_path(path), found], &res);
        res
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.shared.lock();
        inner.stats.dir_ops += 1;
        inner.dir_op(OpKind::Remove, path, &[hash_path(path)], |ns| {
            ns.remove(path)
                .map(|_| ())
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut inner = self.shared.lock();
        inner.stats.dir_ops += 1;
        let trace = [hash_path(from), hash_path(to)];
        inner.dir_op(OpKind::Rename, from, &trace, |ns| {
            ns.rename(from, to)
                .map(|_| ())
                .ok_or_else(|| io::ErrorKind::NotFound.into())
        })
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.shared.lock();
        inner.stats.dir_syncs += 1;
        inner.dir_op(OpKind::SyncDir, path, &[hash_path(path)], |ns| {
            ns.sync_dir(path);
            Ok(())
        })
    }
}
