//! The runner: executes a [`Case`] against the real engine on a [`SimVfs`]
//! and checks every outcome against the reference model
//! ([`vellum_model`]).
//!
//! Everything runs on one thread, so the sequence of VFS calls, and with it
//! the whole run, is a pure function of the case. The checks:
//!
//! - **Every operation's result** (puts, deletes, bucket operations, every
//!   read and every cursor step) equals the model's, inside the write
//!   transaction (which sees its own writes) and outside it.
//! - **Snapshot isolation**: each kept read transaction is checked, for its
//!   whole life, against the model state of the commit it started after,
//!   while later commits and checkpoints happen.
//! - **Recovery**: after a crash and reopen the database equals the model at
//!   some commit `c` with last acknowledged durable commit `<= c <=` last
//!   attempted commit ([`vellum_model::check_recovered`]); after a clean
//!   reopen, or a failed commit on a usable handle, it equals a commit at or
//!   after the last acknowledged one ([`vellum_model::check_live`]). The
//!   model is then resolved to that commit and the run goes on. One
//!   exception: a reopen of a poisoned handle in the same boot reads the
//!   page cache, which may hide a failed commit the disk holds (FORMAT.md
//!   §3 L3), so until that session's first checkpoint a crash may also
//!   recover a commit of the history before the reopen.
//! - **Integrity**: `db.check()` reports no problem after every recovery,
//!   after every checkpoint and on request.
//! - **Errors**: the engine may return an I/O error only when the disk
//!   injected one (or lost power) during the operation, `Poisoned` only
//!   when the handle is poisoned, and `Corruption` only after silent
//!   corruption was injected into the database file. Any other error is a
//!   failure.
//! - **Silent corruption** must surface as an error, never as data: once
//!   silent faults were injected, reads may fail, but an answer that is
//!   returned must still be right, and a recovered state must equal some
//!   commit of the history (a lost write can make the newest commits vanish
//!   without a trace, which no engine can detect; mixed or invented data is
//!   still a failure), including the commits before an earlier rollback.
//!   A database on which corruption was detected is retired and the run
//!   continues on a fresh one.
//! - **No page leaks**: at the end everything is deleted and checkpointed,
//!   and the pages in use must return to what a fresh database uses
//!   (allowing for the log extent and allocator pages, which may have
//!   grown).

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use vellum::{Bucket, BucketMut, Db, Durability, Error, Limits, Options, ReadTxn, WriteTxn};
use vellum_model::{self as model, Answer, ModelError, Outcome, Query, ReadCheck, State};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::case::Case;
use crate::coverage::Coverage;
use crate::faults::{FaultConfig, InjectedError, OpKind};
use crate::rng::SimRng;
use crate::stats::SimStats;
use crate::workload::{
    bucket_name, BucketId, Bytes, CursorStart, FaultOp, IoKind, KeyBound, Op, Read, Val,
    SPARSE_VALUE_MIN,
};
use crate::SimVfs;

mod sequence;
use sequence::{IdEvent, IdLedger};

/// Which check failed. Shrinking keeps a smaller case only if it fails the
/// same kind of check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// An operation's result differs from the model's.
    WrongResult,
    /// A read transaction saw something other than its snapshot.
    Snapshot,
    /// The state after a crash and reopen is not an allowed commit.
    Recovery,
    /// The state of a live handle (after a failed commit or a clean
    /// reopen) is not an allowed commit.
    LiveState,
    /// `db.check()` reported a problem.
    Integrity,
    /// The engine returned an error the faults injected do not explain.
    UnexpectedError,
    /// The database could not be opened.
    Open,
    /// Pages did not return to the baseline after deleting everything.
    Leak,
    /// The engine panicked.
    Panic,
    /// Two runs of the same case differed.
    Nondeterminism,
}

impl FailureKind {
    /// A short stable name (used in case files and messages).
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::WrongResult => "wrong-result",
            FailureKind::Snapshot => "snapshot",
            FailureKind::Recovery => "recovery",
            FailureKind::LiveState => "live-state",
            FailureKind::Integrity => "integrity",
            FailureKind::UnexpectedError => "unexpected-error",
            FailureKind::Open => "open",
            FailureKind::Leak => "leak",
            FailureKind::Panic => "panic",
            FailureKind::Nondeterminism => "nondeterminism",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Which check.
    pub kind: FailureKind,
    /// Index of the op during (or after) which it failed; the op count for
    /// the final checks.
    pub op_index: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at op {}: {}", self.kind, self.op_index, self.message)
    }
}

/// What one run did.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The first failed check, if any (the run stops there).
    pub failure: Option<Failure>,
    /// Coverage counters.
    pub coverage: Coverage,
    /// Hash of the disk's trace and the run's results, for determinism
    /// checks.
    pub trace_hash: u64,
    /// The disk's counters.
    pub sim: SimStats,
    /// With [`RunOptions::verbose`], a line per op and event.
    pub log: Vec<String>,
}

/// How to run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep a log line per op and event.
    pub verbose: bool,
}

type R<T> = Result<T, Failure>;

thread_local! {
    static QUIET_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs (once) a panic hook that stays silent on threads running a
/// case, so that shrinking a panicking case does not flood the output.
fn install_quiet_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_PANICS.with(|q| q.get())
                && std::env::var_os("VELLUM_SIM_SHOW_PANICS").is_none()
            {
                LAST_PANIC.with(|l| *l.borrow_mut() = Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `case` and reports the first failed check and the coverage.
pub fn run_case(case: &Case, opts: RunOptions) -> RunReport {
    install_quiet_hook();
    let Some(cfg) = FaultConfig::profile(&case.profile) else {
        return RunReport {
            failure: Some(Failure {
                kind: FailureKind::Open,
                op_index: 0,
                message: format!("unknown profile {:?}", case.profile),
            }),
            coverage: Coverage::default(),
            trace_hash: 0,
            sim: SimStats::default(),
            log: Vec::new(),
        };
    };
    let sim = SimVfs::new(disk_seed(case.seed), cfg.clone());
    let mut runner = Runner::new(case, sim.clone(), cfg, opts.verbose);
    QUIET_PANICS.with(|q| q.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| runner.run()));
    QUIET_PANICS.with(|q| q.set(false));
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(f)) => Some(f),
        Err(p) => {
            let msg = LAST_PANIC
                .with(|l| l.borrow_mut().take())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into())
                .replace('\n', " ");
            Some(Failure {
                kind: FailureKind::Panic,
                op_index: runner.op_index,
                message: msg,
            })
        }
    };
    // Drop engine handles before reading the disk's final counters.
    runner.readers.clear();
    runner.txn = None;
    let db = runner.db.take();
    sim.schedule_crash_after(0);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
    let stats = sim.stats();
    if opts.verbose {
        runner.log.push("injected faults:".into());
        for f in sim.injected_faults() {
            runner
                .log
                .push(format!("  op#{} {:?}", f.op_index, f.fault));
        }
    }
    let mut cov = runner.cov.clone();
    cov.runs = 1;
    cov.injected_errors = stats.injected_errors;
    cov.silent_faults = stats.silent_faults;
    cov.log_bit_flips = stats.log_bit_flips;
    cov.max_file_bytes = stats.max_file_len;
    let mut h = xxh3_64_with_seed(&runner.digest.to_le_bytes(), sim.trace_hash());
    h = xxh3_64_with_seed(format!("{cov:?}").as_bytes(), h);
    RunReport {
        failure,
        coverage: cov,
        trace_hash: h,
        sim: stats,
        log: std::mem::take(&mut runner.log),
    }
}

/// The disk's seed for a run seed (the workload uses another stream).
pub fn disk_seed(seed: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x6469_736b
}

/// What a write transaction has done, on both sides.
struct Txn {
    e: WriteTxn,
    m: model::WriteTxn,
    /// The ids `next_id` returned and the buckets dropped, in order.
    ids: Vec<IdEvent>,
    overflow_values: u64,
    overflow_chains: u64,
}

/// A kept read transaction and its check.
struct Reader {
    e: ReadTxn,
    check: ReadCheck,
    began_at: usize,
}

/// A crash scheduled for the next open.
#[derive(Clone, Copy, Debug)]
enum RecoveryCrash {
    After(u32),
    AtSync(u32),
}

/// An expected outcome of a write op.
#[derive(Debug, PartialEq)]
enum Expect<T> {
    Ok(T),
    Model(ModelError),
    KeyTooLarge,
    /// `load_sorted` into a bucket that holds keys.
    NotEmpty,
    /// `load_sorted` of keys out of order at this position.
    NotSorted(u64),
}

struct Runner<'c> {
    case: &'c Case,
    sim: SimVfs,
    base_cfg: FaultConfig,
    quiet: bool,
    path: PathBuf,
    generation: u32,
    db: Option<Db>,
    durability: Durability,
    txn: Option<Txn>,
    readers: Vec<Reader>,
    model: model::VersionedModel,
    /// The ids each commit of the history handed out.
    ledger: IdLedger,
    /// The histories before each rollback after silent corruption (oldest
    /// first): a later silent fault may roll the database back further, to
    /// a commit only they remember.
    past: Vec<model::VersionedModel>,
    /// The histories before each reopen of a poisoned handle in the same
    /// boot that showed an earlier commit (the second field) than the last
    /// attempted one: the page cache may have hidden a failed commit the
    /// disk holds (a failed log write whose erase was lost, FORMAT.md §3
    /// L3), which a power loss reveals until the reopened session's first
    /// checkpoint completes.
    unsettled: Vec<(model::VersionedModel, usize)>,
    limits: Limits,
    rt: SimRng,
    silent_base: u64,
    /// Log bit flips injected before this database (see `silent_base`).
    log_flip_base: u64,
    /// The model's durable floor (`last_acked_durable`) now, and what it
    /// was before its latest advance over commits that changed something:
    /// the commits in between became durable by one sync, so their records
    /// vouch for none of them.
    floor_now: usize,
    floor_before: usize,
    op_index: usize,
    errs_at_start: u64,
    recovery_crash: Option<RecoveryCrash>,
    /// The reopen in progress follows a page-cache drop (no crash).
    cache_dropped: bool,
    /// A commit that returned an error on a handle still usable.
    failed_commit: Option<usize>,
    /// An op of the write transaction failed: abort it after the op.
    disrupted: bool,
    /// Corruption was reported (after silent faults): retire the db.
    corrupted: bool,
    retiring: u32,
    cov: Coverage,
    digest: u64,
    verbose: bool,
    log: Vec<String>,
    // Coverage sampling.
    last_checkpoint: u64,
    /// `stats().spills` of the open handle at the last sample.
    last_spills: u64,
    txn_at_checkpoint: u64,
    prev_stats: Option<vellum::Stats>,
    shape: Option<(u64, u32)>,
    dropped_since_sample: bool,
    /// The bytes of each mostly-zero value put so far (the deep workload's
    /// giants), made once and shared with the model.
    giants: HashMap<Val, Arc<[u8]>>,
}

fn is_disk_error(e: &Error) -> bool {
    matches!(e, Error::Io(_) | Error::Corruption { .. } | Error::Poisoned)
}

fn bound(b: &KeyBound) -> Bound<&[u8]> {
    match b {
        KeyBound::Unbounded => Bound::Unbounded,
        KeyBound::Incl(k) => Bound::Included(k.as_slice()),
        KeyBound::Excl(k) => Bound::Excluded(k.as_slice()),
    }
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    b.map(<[u8]>::to_vec)
}

fn range_query(
    b: &[u8],
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    rev: bool,
    limit: Option<usize>,
) -> Query {
    Query::Range {
        bucket: b.to_vec(),
        start: owned(lo),
        end: owned(hi),
        reverse: rev,
        limit,
    }
}

fn collect<'a>(
    it: impl Iterator<Item = vellum::Result<vellum::Entry<'a>>>,
    limit: Option<usize>,
) -> Result<model::KeyValues, Error> {
    it.take(limit.unwrap_or(usize::MAX))
        .map(|e| e.map(vellum::Entry::into_pair))
        .collect()
}

/// Where a read runs.
#[derive(Clone, Copy)]
enum Src<'a> {
    Read(&'a ReadTxn),
    Write(&'a WriteTxn),
}

fn bucket_mut<'a>(t: &'a WriteTxn, name: &[u8]) -> vellum::Result<BucketMut<'a>> {
    if name.is_empty() {
        Ok(t.default_bucket())
    } else {
        t.bucket(name)
    }
}

fn open_bucket<'a>(src: Src<'a>, name: &[u8]) -> vellum::Result<Bucket<'a>> {
    match src {
        Src::Read(r) if name.is_empty() => Ok(r.default_bucket()),
        Src::Read(r) => r.bucket(name),
        Src::Write(w) => bucket_mut(w, name)?.view(),
    }
}

/// Runs `q` on the engine: the observations made, as (query, answer)
/// pairs, and the disk error that cut the read short, if any.
fn engine_read(src: Src<'_>, q: &Read) -> (Vec<(Query, Answer)>, Option<Error>) {
    let mut obs = Vec::new();
    if let Read::Buckets = q {
        let names = match src {
            Src::Read(r) => Ok(r.bucket_names()),
            Src::Write(w) => w.bucket_names(),
        };
        return match names {
            Ok(n) => (vec![(Query::Buckets, Answer::Buckets(n))], None),
            Err(e) => (obs, Some(e)),
        };
    }
    let b = match q {
        Read::Get { b, .. }
        | Read::Contains { b, .. }
        | Read::Len { b }
        | Read::Range { b, .. }
        | Read::Prefix { b, .. }
        | Read::Cursor { b, .. } => *b,
        Read::Buckets => unreachable!(),
    };
    let name = bucket_name(b);
    let first_query = match q {
        Read::Get { k, .. } => Query::get(&name, k.as_slice()),
        Read::Contains { k, .. } => Query::contains(&name, k.as_slice()),
        _ => Query::len(&name),
    };
    let bucket = match open_bucket(src, &name) {
        Ok(bk) => bk,
        Err(Error::BucketNotFound(n)) => {
            obs.push((first_query, Answer::Error(ModelError::BucketNotFound(n))));
            return (obs, None);
        }
        Err(Error::InvalidBucketName) => {
            obs.push((first_query, Answer::Error(ModelError::InvalidBucketName)));
            return (obs, None);
        }
        Err(e) => return (obs, Some(e)),
    };
    let mut err = None;
    match q {
        Read::Get { k, .. } => match bucket.get(k.as_slice()) {
            Ok(v) => obs.push((first_query, Answer::Value(v.map(|v| v.to_vec())))),
            Err(e) => err = Some(e),
        },
        Read::Contains { k, .. } => match bucket.contains(k.as_slice()) {
            Ok(v) => obs.push((first_query, Answer::Bool(v))),
            Err(e) => err = Some(e),
        },
        Read::Len { .. } => obs.push((first_query, Answer::Len(bucket.len() as usize))),
        Read::Range {
            lo, hi, rev, limit, ..
        } => {
            let (lo, hi) = (bound(lo), bound(hi));
            let limit = limit.map(|l| l as usize);
            let it = bucket.range::<[u8]>((lo, hi));
            let got = if *rev {
                collect(it.rev(), limit)
            } else {
                collect(it, limit)
            };
            match got {
                Ok(es) => obs.push((range_query(&name, lo, hi, *rev, limit), Answer::Entries(es))),
                Err(e) => err = Some(e),
            }
        }
        Read::Prefix { p, rev, .. } => {
            let it = bucket.prefix(p.as_slice());
            let got = if *rev {
                collect(it.rev(), None)
            } else {
                collect(it, None)
            };
            let mut query = Query::prefix(&name, p.as_slice());
            if *rev {
                query = query.reversed();
            }
            match got {
                Ok(es) => obs.push((query, Answer::Entries(es))),
                Err(e) => err = Some(e),
            }
        }
        Read::Cursor { start, moves, .. } => {
            let mut c = bucket.cursor();
            let mut pos: Option<Vec<u8>> = None;
            let steps = std::iter::once(None).chain(moves.chars().map(Some));
            for step in steps {
                let (query, got) = match step {
                    None => match start {
                        CursorStart::First => (
                            range_query(&name, Bound::Unbounded, Bound::Unbounded, false, Some(1)),
                            c.first(),
                        ),
                        CursorStart::Last => (
                            range_query(&name, Bound::Unbounded, Bound::Unbounded, true, Some(1)),
                            c.last(),
                        ),
                        CursorStart::Seek(k) => (
                            range_query(
                                &name,
                                Bound::Included(k.as_slice()),
                                Bound::Unbounded,
                                false,
                                Some(1),
                            ),
                            c.seek(k.as_slice()),
                        ),
                    },
                    Some(m) => {
                        let query = match (&pos, m) {
                            // Unpositioned: every move finds nothing.
                            (None, _) => range_query(
                                &name,
                                Bound::Excluded(&b""[..]),
                                Bound::Excluded(&b""[..]),
                                false,
                                Some(1),
                            ),
                            (Some(p), 'n') => range_query(
                                &name,
                                Bound::Excluded(p),
                                Bound::Unbounded,
                                false,
                                Some(1),
                            ),
                            (Some(p), 'p') => range_query(
                                &name,
                                Bound::Unbounded,
                                Bound::Excluded(p),
                                true,
                                Some(1),
                            ),
                            (Some(p), _) => range_query(
                                &name,
                                Bound::Included(p),
                                Bound::Included(p),
                                false,
                                Some(1),
                            ),
                        };
                        let got = match m {
                            'n' => c.next(),
                            'p' => c.prev(),
                            _ => c.current(),
                        };
                        (query, got)
                    }
                };
                match got {
                    Ok(e) => {
                        pos = e.as_ref().map(|e| e.key().to_vec());
                        obs.push((
                            query,
                            Answer::Entries(e.into_iter().map(vellum::Entry::into_pair).collect()),
                        ));
                    }
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
        }
        Read::Buckets => unreachable!(),
    }
    (obs, err)
}

/// Reads the whole database through a new read transaction, checking each
/// bucket's O(1) `len` against its entries.
fn read_all(db: &Db) -> Result<(State, Vec<String>), Error> {
    let rt = db.begin_read()?;
    let mut s = State::new();
    let mut problems = Vec::new();
    let mut names = vec![Vec::new()];
    names.extend(rt.bucket_names());
    for name in names {
        let b = if name.is_empty() {
            rt.default_bucket()
        } else {
            s.create_bucket(&name).expect("names are unique");
            rt.bucket(&name)?
        };
        s.set_sequence(&name, b.sequence())
            .expect("a fresh bucket's sequence is 0");
        let mut n = 0u64;
        for e in b.iter() {
            let e = e?;
            s.put(&name, e.key(), e.value()).expect("bucket exists");
            n += 1;
        }
        if n != b.len() {
            problems.push(format!(
                "bucket {:?}: len() says {} but iteration found {n}",
                String::from_utf8_lossy(&name),
                b.len()
            ));
        }
    }
    Ok((s, problems))
}

/// Pages a fresh database uses beyond its log extent and allocator pages
/// (header, slots, catalog), by engine options; `sequence`: with a default
/// bucket whose sequence is not 0 (its catalog entry stays, FORMAT.md
/// §1.7, so the catalog keeps a page).
fn baseline_pages(case: &Case, sequence: bool) -> Result<u64, String> {
    type Baselines = Mutex<HashMap<(usize, u64, usize, bool), u64>>;
    static CACHE: OnceLock<Baselines> = OnceLock::new();
    let key = (
        case.config.page_size,
        case.config.max_log_size,
        case.config.cache_size,
        sequence,
    );
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().expect("baseline cache").get(&key) {
        return Ok(*v);
    }
    let sim = SimVfs::new(1, FaultConfig::none());
    let db = Options::new()
        .vfs(Arc::new(sim))
        .page_size(case.config.page_size)
        .max_log_size(case.config.max_log_size)
        .cache_size(case.config.cache_size)
        .open("/baseline/db")
        .map_err(|e| e.to_string())?;
    // Put and delete one key so that the catalog has the shape it has at
    // the end of a run.
    db.update(|tx| {
        if sequence {
            tx.next_id()?;
        }
        tx.put(b"k", b"v")
    })
    .map_err(|e| e.to_string())?;
    db.update(|tx| tx.delete(b"k").map(|_| ()))
        .map_err(|e| e.to_string())?;
    db.checkpoint().map_err(|e| e.to_string())?;
    db.checkpoint().map_err(|e| e.to_string())?;
    let rep = db.check().map_err(|e| e.to_string())?;
    let st = db.stats();
    let v = rep.used_pages - st.log_pages - allocator_pages(case.config.page_size, rep.pages);
    cache.lock().expect("baseline cache").insert(key, v);
    Ok(v)
}

/// Bitmap and index pages the allocator needs for a file of `pages` pages
/// (FORMAT.md §1.8).
fn allocator_pages(page_size: usize, pages: u64) -> u64 {
    let per_bitmap = ((page_size - 24) * 8) as u64;
    let refs = ((page_size - 24) / 16) as u64;
    let bitmaps = pages.div_ceil(per_bitmap);
    bitmaps + bitmaps.div_ceil(refs)
}

impl<'c> Runner<'c> {
    fn new(case: &'c Case, sim: SimVfs, cfg: FaultConfig, verbose: bool) -> Runner<'c> {
        Runner {
            case,
            sim,
            base_cfg: cfg,
            quiet: false,
            path: PathBuf::from("/db/vellum"),
            generation: 0,
            db: None,
            durability: if case.config.eventual {
                Durability::Eventual
            } else {
                Durability::Immediate
            },
            txn: None,
            readers: Vec::new(),
            model: model::VersionedModel::new(),
            ledger: IdLedger::default(),
            limits: Limits::for_page_size(case.config.page_size),
            rt: SimRng::new(case.seed ^ 0x7275_6e6e_6572),
            silent_base: 0,
            log_flip_base: 0,
            floor_now: 0,
            floor_before: 0,
            past: Vec::new(),
            unsettled: Vec::new(),
            op_index: 0,
            errs_at_start: 0,
            recovery_crash: None,
            cache_dropped: false,
            failed_commit: None,
            disrupted: false,
            corrupted: false,
            retiring: 0,
            cov: Coverage::default(),
            digest: 0,
            verbose,
            log: Vec::new(),
            last_checkpoint: 0,
            last_spills: 0,
            txn_at_checkpoint: 0,
            prev_stats: None,
            shape: None,
            dropped_since_sample: false,
            giants: HashMap::new(),
        }
    }

    fn note(&mut self, msg: impl FnOnce() -> String) {
        if self.verbose {
            let m = msg();
            self.log.push(format!("      {m}"));
        }
    }

    fn fail(&self, kind: FailureKind, message: String) -> Failure {
        Failure {
            kind,
            op_index: self.op_index,
            message,
        }
    }

    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the runner keeps a database open between ops")
    }

    fn tainted(&self) -> bool {
        self.sim.stats().silent_faults > self.silent_base
    }

    /// Whether every silent fault this database suffered was a bit flip
    /// inside a durable log record.
    fn only_log_flips(&self) -> bool {
        let s = self.sim.stats();
        s.silent_faults - self.silent_base == s.log_bit_flips - self.log_flip_base
    }

    fn mdur(&self) -> model::Durability {
        match self.durability {
            Durability::Immediate => model::Durability::Immediate,
            Durability::Eventual => model::Durability::Eventual,
        }
    }

    fn run(&mut self) -> R<()> {
        let case = self.case;
        let ops = &case.ops;
        // Leading crash and fault ops apply to the creation of the file.
        let lead = ops
            .iter()
            .take_while(|o| {
                matches!(
                    o,
                    Op::ArmRecoveryCrash { .. } | Op::RecoveryCrashAtSync { .. } | Op::Fault(_)
                )
            })
            .count();
        for (i, op) in ops[..lead].iter().enumerate() {
            self.op_index = i;
            if self.verbose {
                self.log.push(format!("[{i}] {op:?} (before creation)"));
            }
            self.cov.ops += 1;
            self.exec(op)?;
        }
        self.open_verify(false, false)?;
        for (i, op) in ops.iter().enumerate().skip(lead) {
            self.op_index = i;
            self.errs_at_start = self.sim.stats().injected_errors;
            if self.verbose {
                self.log.push(format!("[{i}] {op:?}"));
            }
            self.cov.ops += 1;
            self.exec(op)?;
            self.after_op()?;
            self.digest = xxh3_64_with_seed(
                &(self.model.last_attempted() as u64).to_le_bytes(),
                self.digest,
            );
        }
        self.op_index = ops.len();
        self.finish()
    }

    // ----------------------------------------------------------------- errors

    /// Accepts an engine error the injected faults explain, or fails.
    fn tolerate(&mut self, e: &Error, what: &str) -> R<()> {
        let stats = self.sim.stats();
        let injected = stats.injected_errors > self.errs_at_start || self.sim.is_powered_off();
        let ok = match e {
            Error::Io(_) => injected || self.tainted(),
            Error::Poisoned => self.db.as_ref().is_some_and(|d| d.is_poisoned()),
            Error::Corruption { .. } => self.tainted(),
            _ => false,
        };
        if !ok {
            return Err(self.fail(
                FailureKind::UnexpectedError,
                format!(
                    "{what} returned `{e}` but the disk injected no error during this op (powered off: {}, silent faults: {})",
                    self.sim.is_powered_off(),
                    stats.silent_faults - self.silent_base
                ),
            ));
        }
        if e.is_corruption() {
            self.cov.corruption_detected += 1;
            self.corrupted = true;
        }
        self.note(|| format!("{what}: tolerated `{e}`"));
        Ok(())
    }

    /// Stops injecting reported errors (after repeated failures to open or
    /// read back), until [`Runner::unquiet`].
    fn quiet(&mut self) {
        if !self.quiet {
            self.quiet = true;
            let cfg = self.sim.config().without_errors();
            self.sim.set_config(cfg);
            self.sim.clear_scheduled_errors();
            self.note(|| "errors paused".into());
        }
    }

    fn unquiet(&mut self) {
        if self.quiet {
            self.quiet = false;
            self.sim.set_config(self.base_cfg.clone());
            self.note(|| "errors resumed".into());
        }
    }

    // ------------------------------------------------------------- lifecycle

    fn open_db(&self) -> vellum::Result<Db> {
        Options::new()
            .vfs(Arc::new(self.sim.clone()))
            .page_size(self.case.config.page_size)
            .max_log_size(self.case.config.max_log_size)
            .cache_size(self.case.config.cache_size)
            .durability(self.durability)
            .open(&self.path)
    }

    fn drop_all(&mut self) {
        self.readers.clear();
        self.txn = None;
        self.db = None;
    }

    /// Opens the database (retrying through crashes during recovery and
    /// injected errors), then checks its state against the model and runs
    /// `db.check()`.
    fn open_verify(&mut self, mut after_crash: bool, torn: bool) -> R<()> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 40 {
                return Err(self.fail(
                    FailureKind::Open,
                    "could not open the database in 40 attempts".into(),
                ));
            }
            match self.recovery_crash.take() {
                Some(RecoveryCrash::After(n)) => self.sim.schedule_crash_after(n as u64),
                Some(RecoveryCrash::AtSync(n)) => {
                    self.sim.schedule_crash_at(OpKind::Sync, n as u64)
                }
                None => {}
            }
            let r = self.open_db();
            self.sim.cancel_scheduled_crash();
            if self.sim.is_powered_off() {
                drop(r);
                let rep = self.sim.crash();
                self.cov.crashes += 1;
                self.cov.crashes_in_recovery += 1;
                self.cov.torn_writes += rep.writes_torn;
                self.note(|| format!("power lost during open; crash: {rep:?}"));
                after_crash = true;
                continue;
            }
            match r {
                Ok(db) => {
                    self.db = Some(db);
                    break;
                }
                Err(e) => {
                    self.note(|| format!("open failed: {e}"));
                    let injected = self.sim.stats().injected_errors > self.errs_at_start;
                    match &e {
                        _ if self.tainted() && (attempts >= 3 || !matches!(e, Error::Io(_))) => {
                            self.cov.corruption_detected += 1;
                            return self.retire();
                        }
                        Error::Io(_) if injected || self.tainted() => {
                            self.errs_at_start = self.sim.stats().injected_errors;
                            if attempts >= 3 {
                                self.quiet();
                            }
                        }
                        _ => {
                            return Err(self.fail(FailureKind::Open, format!("open failed: {e}")));
                        }
                    }
                }
            }
        }
        let replayed = self.db().replayed_on_open();
        if replayed > 0 {
            self.cov.log_replays += 1;
            self.cov.records_replayed += replayed;
        }
        self.note(|| format!("opened ({replayed} log records replayed)"));
        let failed = self.failed_commit.take();
        if !self.verify_state(after_crash, failed)? {
            return Ok(()); // retired
        }
        let Some(rep) = self.integrity_check("check after open")? else {
            return Ok(());
        };
        self.unquiet();
        self.cov.recoveries += 1;
        if torn {
            self.cov.torn_recoveries += 1;
        }
        let st = self.db().stats();
        self.last_checkpoint = st.checkpoint;
        self.last_spills = st.spills;
        self.txn_at_checkpoint = st.last_txn;
        self.prev_stats = Some(st);
        self.shape = Some((rep.tree_pages, rep.max_depth));
        self.cov.max_depth = self.cov.max_depth.max(rep.max_depth as u64);
        self.dropped_since_sample = false;
        Ok(())
    }

    /// Reads the whole database and checks it against the model; returns
    /// `false` if the database was retired instead.
    fn verify_state(&mut self, after_crash: bool, failed: Option<usize>) -> R<bool> {
        let Some(state) = self.read_state()? else {
            return Ok(false);
        };
        let last = self.model.last_attempted();
        let res = if self.cache_dropped && !after_crash {
            model::check_after_cache_drop(&mut self.model, &state)
        } else if after_crash {
            model::check_recovered(&mut self.model, &state)
        } else {
            model::check_live(&mut self.model, &state)
        };
        match res {
            Ok(c) => {
                self.note(|| format!("state equals commit {c} (last attempted {last})"));
                if after_crash {
                    // The disk decided every outcome.
                    self.unsettled.clear();
                }
                if c < last {
                    self.cov.recoveries_lost_suffix += 1;
                }
                if failed.is_some_and(|f| c >= f) {
                    self.cov.failed_commits_landed += 1;
                }
                Ok(true)
            }
            Err(err) => {
                if after_crash {
                    // Only a commit after the one the reopen showed, and
                    // only while nothing was acknowledged since (the
                    // session's first commit checkpoints first).
                    let acked = self.model.last_acked();
                    let revealed = self.unsettled.iter().rev().find_map(|(m, shown)| {
                        let mut m = m.clone();
                        let c = model::check_recovered(&mut m, &state).ok()?;
                        (c > *shown && acked <= *shown).then_some((m, c))
                    });
                    if let Some((m, c)) = revealed {
                        self.note(|| {
                            format!(
                                "the crash revealed commit {c}, which a reopen after poisoning \
                                 did not show (FORMAT.md §3 L3)"
                            )
                        });
                        self.cov.failed_commits_revealed += 1;
                        self.model = m;
                        self.unsettled.clear();
                        self.ledger.clear();
                        return Ok(true);
                    }
                }
                let kind = if after_crash {
                    FailureKind::Recovery
                } else {
                    FailureKind::LiveState
                };
                if self.tainted() && self.only_log_flips() && self.past.is_empty() {
                    // Damage to a durable log record is an error (FORMAT.md
                    // §2.3) unless no later record vouches for it: only the
                    // commits made durable by the latest sync may go (the
                    // newest `Immediate` commit, or an `Eventual` batch
                    // that a `sync()` covered), since every record written
                    // after that sync vouches for them.
                    self.note_floor();
                    let m = &self.model;
                    let lo = self
                        .floor_before
                        .min(m.last_acked_durable().saturating_sub(1))
                        .max(m.oldest_kept());
                    if let Some(c) = model::find_commit(m, &state, lo..=m.last_attempted()) {
                        self.note(|| {
                            format!(
                                "after a log bit flip the state rolled back to commit {c} \
                                 (the newest acknowledged commit's record was damaged)"
                            )
                        });
                        self.cov.log_flip_rollbacks += 1;
                        let current = model::VersionedModel::starting_from(state);
                        self.past.push(std::mem::replace(&mut self.model, current));
                        self.ledger.clear();
                        return Ok(true);
                    }
                    return Err(self.fail(
                        kind,
                        format!(
                            "after bit flips inside durable log records only, the state is \
                             not a commit from {lo} on: a damaged record was dropped \
                             silently ({err})"
                        ),
                    ));
                }
                if self.tainted() {
                    let generations = std::iter::once(&self.model).chain(self.past.iter().rev());
                    let found = generations.enumerate().find_map(|(back, m)| {
                        let all = m.oldest_kept()..=m.last_attempted();
                        model::find_commit(m, &state, all).map(|c| (back, c))
                    });
                    if let Some((back, c)) = found {
                        self.note(|| {
                            format!(
                                "after silent corruption the state rolled back to commit {c} \
                                 ({back} rollback(s) earlier in the history)"
                            )
                        });
                        let current = model::VersionedModel::starting_from(state);
                        self.past.push(std::mem::replace(&mut self.model, current));
                        self.ledger.clear();
                        return Ok(true);
                    }
                }
                Err(self.fail(kind, err.to_string()))
            }
        }
    }

    /// The whole database as a model state (`None`: retired after detected
    /// corruption).
    fn read_state(&mut self) -> R<Option<State>> {
        for attempt in 0..6 {
            if attempt >= 2 {
                self.quiet();
            }
            match read_all(self.db()) {
                Ok((s, problems)) => {
                    if let Some(p) = problems.first() {
                        return Err(self.fail(FailureKind::WrongResult, p.clone()));
                    }
                    return Ok(Some(s));
                }
                Err(e) => {
                    if self.sim.is_powered_off() {
                        // The caller's settle() crashes and recovers.
                        self.note(|| format!("reading back: power lost ({e})"));
                        return Ok(None);
                    }
                    if self.tainted() {
                        if e.is_corruption() {
                            self.cov.corruption_detected += 1;
                        }
                        self.note(|| format!("reading back failed after silent faults: {e}"));
                        self.retire()?;
                        return Ok(None);
                    }
                    self.tolerate(&e, "reading the whole database")?;
                    self.errs_at_start = self.sim.stats().injected_errors;
                }
            }
        }
        Err(self.fail(
            FailureKind::UnexpectedError,
            "could not read the database back".into(),
        ))
    }

    /// Abandons a database on which corruption was detected and continues
    /// on a fresh one.
    fn retire(&mut self) -> R<()> {
        self.retiring += 1;
        if self.retiring > 8 {
            return Err(self.fail(
                FailureKind::Open,
                "too many databases retired in a row".into(),
            ));
        }
        self.cov.databases_retired += 1;
        if !self.sim.is_powered_off() {
            self.sim.schedule_crash_after(0);
        }
        self.drop_all();
        self.sim.crash();
        self.generation += 1;
        self.path = PathBuf::from(format!("/db/vellum-{}", self.generation));
        self.model = model::VersionedModel::new();
        self.ledger.clear();
        self.past.clear();
        self.unsettled.clear();
        self.silent_base = self.sim.stats().silent_faults;
        self.log_flip_base = self.sim.stats().log_bit_flips;
        self.recovery_crash = None;
        self.failed_commit = None;
        self.corrupted = false;
        self.disrupted = false;
        self.note(|| "database retired after detected corruption; starting a fresh one".into());
        let r = self.open_verify(false, false);
        self.retiring -= 1;
        r
    }

    /// Power loss now: drop every handle, crash the disk, recover, check.
    fn crash_recover(&mut self) -> R<()> {
        if !self.sim.is_powered_off() {
            self.sim.schedule_crash_after(0);
        }
        self.drop_all();
        let rep = self.sim.crash();
        self.cov.crashes += 1;
        self.cov.torn_writes += rep.writes_torn;
        self.note(|| format!("crash: {rep:?}"));
        self.open_verify(true, rep.writes_torn > 0)
    }

    /// The handle is poisoned: reopen, after a crash, after dropping the
    /// page cache, or as it is (the runner picks).
    fn poison_reopen(&mut self) -> R<()> {
        self.cov.poison_reopens += 1;
        match self.rt.below(3) {
            0 => {
                self.note(|| "poisoned: crash and reopen".into());
                self.crash_recover()
            }
            1 => {
                self.note(|| "poisoned: drop caches and reopen".into());
                self.drop_all();
                self.sim.drop_caches();
                // Dropping the cache forgets what a failed sync lost, but
                // unsynced writes stay visible: the state may be anything
                // from the last durable commit on, and what the reopen
                // shows is not thereby durable.
                self.cache_dropped = true;
                let r = self.open_verify(false, false);
                self.cache_dropped = false;
                r
            }
            _ => {
                self.note(|| "poisoned: reopen".into());
                self.drop_all();
                if self.sim.is_powered_off() {
                    self.sim.crash();
                    return self.open_verify(true, false);
                }
                let (before, crashes, generation) =
                    (self.model.clone(), self.cov.crashes, self.generation);
                self.open_verify(false, false)?;
                // Only a reopen that read the page cache (no crash, the same
                // database), showed less than was attempted, and replayed
                // nothing (replayed records are checkpointed by the open,
                // which settles everything).
                let shown = self.model.last_attempted();
                let unsettled = shown < before.last_attempted()
                    && self.cov.crashes == crashes
                    && self.generation == generation
                    && self.db.as_ref().is_some_and(|d| d.replayed_on_open() == 0);
                if unsettled {
                    self.unsettled.push((before, shown));
                }
                Ok(())
            }
        }
    }

    /// `db.check()`: `None` if it could not run (tolerated error) or the
    /// database was retired.
    fn integrity_check(&mut self, what: &str) -> R<Option<vellum::CheckReport>> {
        match self.db().check() {
            Ok(rep) if rep.is_ok() => {
                self.cov.integrity_checks += 1;
                Ok(Some(rep))
            }
            Ok(rep) => {
                if self.tainted() {
                    self.cov.corruption_detected += 1;
                    self.note(|| format!("{what} found problems after silent faults: {rep}"));
                    self.retire()?;
                    Ok(None)
                } else {
                    Err(self.fail(FailureKind::Integrity, format!("{what}: {rep}")))
                }
            }
            Err(e) => {
                if self.tainted() {
                    self.retire()?;
                    return Ok(None);
                }
                self.tolerate(&e, what)?;
                Ok(None)
            }
        }
    }

    // ------------------------------------------------------------------ ops

    fn exec(&mut self, op: &Op) -> R<()> {
        match op {
            Op::Begin => {
                self.ensure_txn()?;
            }
            Op::Put { b, k, v } => self.put(*b, k, *v, false)?,
            Op::Insert { b, k, v } => self.put(*b, k, *v, true)?,
            Op::Delete { b, k } => self.delete(*b, k)?,
            Op::DeleteRange { b, from, n } => self.delete_range(*b, from, *n)?,
            Op::LoadSorted { b, keys, v, fill } => self.load_sorted(*b, keys, *v, *fill)?,
            Op::CreateBucket { b } => self.bucket_op(*b, true)?,
            Op::DropBucket { b } => self.bucket_op(*b, false)?,
            Op::NextId { b } => self.next_id(*b)?,
            Op::SetSequence { b, value } => self.set_sequence(*b, *value)?,
            Op::Read(q) => {
                if self.txn.is_some() {
                    self.txn_read(q)?;
                } else {
                    self.fresh_read(q)?;
                }
            }
            Op::Commit => self.commit()?,
            Op::Abort => {
                if self.txn.take().is_some() {
                    self.cov.aborts += 1;
                }
            }
            Op::BeginRead => {
                if self.readers.len() < 8 {
                    match self.db().begin_read() {
                        Ok(e) => {
                            let check = self.model.begin_read();
                            let began_at = self.model.last_attempted();
                            self.readers.push(Reader { e, check, began_at });
                        }
                        Err(e) => self.tolerate(&e, "begin_read")?,
                    }
                }
            }
            Op::ReaderRead { r, q } => self.reader_read(*r, q)?,
            Op::EndRead { r } => {
                if !self.readers.is_empty() {
                    let i = *r as usize % self.readers.len();
                    self.readers.remove(i);
                }
            }
            Op::Sync => match self.db().sync() {
                Ok(()) => self.model.note_sync_ok(),
                Err(e) => self.tolerate(&e, "sync")?,
            },
            Op::Checkpoint => {
                if self.txn.take().is_some() {
                    self.cov.aborts += 1;
                }
                match self.db().checkpoint() {
                    Ok(()) => self.model.note_sync_ok(),
                    Err(e) => self.tolerate(&e, "checkpoint")?,
                }
            }
            Op::Check => {
                self.integrity_check("check")?;
            }
            Op::Reopen { eventual } => self.reopen(*eventual)?,
            Op::ArmCrash { after } => self.sim.schedule_crash_after(*after as u64),
            Op::CrashNow => self.crash_recover()?,
            Op::CrashAtSync { n } => self.sim.schedule_crash_at(OpKind::Sync, *n as u64),
            Op::ArmRecoveryCrash { after } => {
                self.recovery_crash = Some(RecoveryCrash::After(*after))
            }
            Op::RecoveryCrashAtSync { n } => self.recovery_crash = Some(RecoveryCrash::AtSync(*n)),
            Op::Fault(f) => self.fault(f),
        }
        Ok(())
    }

    /// Deals with a power loss, a poisoned handle or detected corruption,
    /// until none is left.
    fn settle(&mut self) -> R<bool> {
        let mut acted = false;
        loop {
            if self.sim.is_powered_off() {
                self.crash_recover()?;
            } else if self.db().is_poisoned() {
                self.poison_reopen()?;
            } else if self.corrupted {
                self.corrupted = false;
                self.retire()?;
            } else {
                return Ok(acted);
            }
            acted = true;
        }
    }

    /// Follows the model's durable floor (see `floor_before`).
    fn note_floor(&mut self) {
        let f = self.model.last_acked_durable();
        if f < self.floor_now {
            // A new history (a rollback or a fresh database).
            (self.floor_before, self.floor_now) = (f, f);
        } else if f > self.floor_now {
            // Commits that changed nothing write no log record, so they
            // vouch for nothing: a floor that advances over such commits
            // only keeps the earlier records as exposed as they were (the
            // newest record may still be the one a flip damages).
            let base = self.model.state(self.floor_now);
            let no_records =
                base.is_some() && (self.floor_now + 1..=f).all(|c| self.model.state(c) == base);
            if no_records {
                self.floor_now = f;
            } else {
                (self.floor_before, self.floor_now) = (self.floor_now, f);
            }
        }
    }

    fn after_op(&mut self) -> R<()> {
        self.note_floor();
        if self.settle()? {
            return Ok(());
        }
        if self.disrupted {
            self.disrupted = false;
            if self.txn.take().is_some() {
                self.cov.aborts += 1;
                self.note(|| "write transaction aborted after an error".into());
            }
        }
        if let Some(f) = self.failed_commit.take() {
            // The handle is usable: find out whether the commit landed.
            if !self.verify_state(false, Some(f))? {
                self.settle()?;
                return Ok(());
            }
        }
        self.sample()?;
        self.settle()?;
        Ok(())
    }

    /// Coverage: checkpoints, page reuse, and the tree shape after each
    /// checkpoint.
    fn sample(&mut self) -> R<()> {
        let st = self.db().stats();
        self.cov.spills += st.spills.saturating_sub(self.last_spills);
        self.last_spills = st.spills;
        if st.checkpoint != self.last_checkpoint {
            // A checkpoint of this session is durable: records of earlier
            // epochs are stale for good.
            self.unsettled.clear();
            self.cov.checkpoints += st.checkpoint.saturating_sub(self.last_checkpoint);
            if let Some(p) = &self.prev_stats {
                let reused = st.free_pages < p.free_pages
                    || (st.file_pages == p.file_pages && st.last_txn > self.txn_at_checkpoint);
                if reused {
                    self.cov.page_reuse += 1;
                }
            }
            self.last_checkpoint = st.checkpoint;
            self.txn_at_checkpoint = st.last_txn;
            if let Some(rep) = self.integrity_check("check after checkpoint")? {
                self.cov.shape_samples += 1;
                let (pages, depth) = (rep.tree_pages, rep.max_depth);
                if let Some((p0, d0)) = self.shape {
                    if pages > p0 {
                        self.cov.splits += pages - p0;
                    } else if pages < p0 && !self.dropped_since_sample {
                        self.cov.merges += p0 - pages;
                    }
                    if depth > d0 {
                        self.cov.root_splits += (depth - d0) as u64;
                    } else if depth < d0 && !self.dropped_since_sample {
                        self.cov.root_collapses += (d0 - depth) as u64;
                    }
                }
                self.cov.max_depth = self.cov.max_depth.max(depth as u64);
                self.shape = Some((pages, depth));
                self.dropped_since_sample = false;
            } else if self.db.is_none() {
                return Ok(());
            }
        }
        if let Some(db) = &self.db {
            self.prev_stats = Some(db.stats());
        }
        Ok(())
    }

    fn ensure_txn(&mut self) -> R<bool> {
        if self.txn.is_some() {
            return Ok(true);
        }
        match self.db().begin_write() {
            Ok(e) => {
                self.txn = Some(Txn {
                    e,
                    m: self.model.begin_write(),
                    ids: Vec::new(),
                    overflow_values: 0,
                    overflow_chains: 0,
                });
                Ok(true)
            }
            Err(e) => {
                self.tolerate(&e, "begin_write")?;
                Ok(false)
            }
        }
    }

    /// Compares a write op's engine result with the model's expectation.
    fn compare<T: PartialEq + fmt::Debug>(
        &mut self,
        what: impl Fn() -> String,
        got: vellum::Result<T>,
        exp: Expect<T>,
    ) -> R<bool> {
        let consistent = match (&got, &exp) {
            (Ok(g), Expect::Ok(e)) => g == e,
            (Err(Error::BucketNotFound(a)), Expect::Model(ModelError::BucketNotFound(b))) => a == b,
            (Err(Error::BucketExists(a)), Expect::Model(ModelError::BucketExists(b))) => a == b,
            (Err(Error::InvalidBucketName), Expect::Model(ModelError::InvalidBucketName)) => true,
            (Err(Error::KeyTooLarge { .. }), Expect::KeyTooLarge) => true,
            (Err(Error::BucketNotEmpty(_)), Expect::NotEmpty) => true,
            (Err(Error::NotSorted { index }), Expect::NotSorted(i)) => index == i,
            (Err(e), Expect::Model(m)) if sequence::same_sequence_error(e, m) => true,
            (Err(e), _) if is_disk_error(e) => {
                self.tolerate(e, &what())?;
                self.disrupted = true;
                return Ok(false);
            }
            _ => false,
        };
        self.cov.reads_checked += 1;
        if consistent {
            Ok(got.is_ok())
        } else {
            Err(self.fail(
                FailureKind::WrongResult,
                format!("{} returned {got:?} but the model expects {exp:?}", what()),
            ))
        }
    }

    fn put(&mut self, b: BucketId, k: &Bytes, v: Val, insert: bool) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let giant = (v.len() >= SPARSE_VALUE_MIN && !insert).then(|| {
            self.giants
                .entry(v)
                .or_insert_with(|| Arc::from(v.bytes()))
                .clone()
        });
        let owned;
        let value: &[u8] = match &giant {
            Some(g) => g,
            None => {
                owned = v.bytes();
                &owned
            }
        };
        let key = k.as_slice();
        let max_key = self.limits.max_key_len;
        let t = self.txn.as_mut().expect("begun");
        let exp = if !t.m.bucket_exists(&name) {
            Expect::Model(ModelError::BucketNotFound(name.clone()))
        } else if key.len() > max_key {
            Expect::KeyTooLarge
        } else if insert {
            Expect::Ok(
                t.m.insert_if_absent(&name, key, value)
                    .expect("bucket exists"),
            )
        } else {
            match &giant {
                Some(g) => t.m.put_shared(&name, key, g.clone()),
                None => t.m.put(&name, key, value).map(|_| ()),
            }
            .expect("bucket exists");
            Expect::Ok(true)
        };
        let got = bucket_mut(&t.e, &name).and_then(|bk| {
            if insert {
                bk.insert_if_absent(key, value)
            } else {
                bk.put(key, value).map(|()| true)
            }
        });
        let stored = matches!(exp, Expect::Ok(true));
        let op = if insert { "insert_if_absent" } else { "put" };
        let ok = self.compare(
            || format!("{op}({b}, {k:?}, {} bytes)", value.len()),
            got,
            exp,
        )?;
        if ok && stored && value.len() > self.limits.max_inline_value_len {
            let t = self.txn.as_mut().expect("begun");
            t.overflow_values += 1;
            if 24 + value.len() > self.case.config.page_size {
                t.overflow_chains += 1;
            }
        }
        Ok(())
    }

    fn delete(&mut self, b: BucketId, k: &Bytes) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let key = k.as_slice();
        let max_key = self.limits.max_key_len;
        let t = self.txn.as_mut().expect("begun");
        let exp = if !t.m.bucket_exists(&name) {
            Expect::Model(ModelError::BucketNotFound(name.clone()))
        } else if key.len() > max_key {
            Expect::KeyTooLarge
        } else {
            Expect::Ok(t.m.delete(&name, key).expect("bucket exists").is_some())
        };
        let got = bucket_mut(&t.e, &name).and_then(|bk| bk.delete(key));
        self.compare(|| format!("delete({b}, {k:?})"), got, exp)?;
        Ok(())
    }

    fn load_sorted(&mut self, b: BucketId, keys: &[Bytes], v: Val, fill: u8) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let max_key = self.limits.max_key_len;
        let values: Vec<Vec<u8>> = (0..keys.len())
            .map(|i| Val(v.0, v.1 ^ i as u32).bytes())
            .collect();
        let t = self.txn.as_mut().expect("begun");
        // The engine checks each entry in turn: its key's length, then its
        // order; nothing is loaded unless all pass.
        let first_bad = keys.iter().enumerate().find_map(|(i, k)| {
            if k.as_slice().len() > max_key {
                Some(Expect::KeyTooLarge)
            } else if i > 0 && keys[i - 1].as_slice() >= k.as_slice() {
                Some(Expect::NotSorted(i as u64))
            } else {
                None
            }
        });
        let exp = if !t.m.bucket_exists(&name) {
            Expect::Model(ModelError::BucketNotFound(name.clone()))
        } else if !t.m.is_empty(&name).expect("bucket exists") {
            Expect::NotEmpty
        } else if let Some(bad) = first_bad {
            bad
        } else {
            for (k, v) in keys.iter().zip(&values) {
                t.m.put(&name, k.as_slice(), v).expect("bucket exists");
            }
            Expect::Ok(keys.len() as u64)
        };
        let entries = keys.iter().map(|k| k.as_slice()).zip(values.iter());
        let got =
            bucket_mut(&t.e, &name).and_then(|bk| bk.load_sorted(entries, f64::from(fill) / 10.0));
        let ok = self.compare(
            || format!("load_sorted({b}, {} keys, fill {fill})", keys.len()),
            got,
            exp,
        )?;
        if ok {
            self.cov.sorted_loads += 1;
        }
        Ok(())
    }

    fn delete_range(&mut self, b: BucketId, from: &Bytes, n: u32) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let q = Read::Range {
            b,
            lo: KeyBound::Incl(from.clone()),
            hi: KeyBound::Unbounded,
            rev: false,
            limit: Some(n),
        };
        let Some(obs) = self.txn_read(&q)? else {
            return Ok(());
        };
        let keys: Vec<Vec<u8>> = match obs.first() {
            Some((_, Answer::Entries(es))) => es.iter().map(|(k, _)| k.clone()).collect(),
            _ => return Ok(()),
        };
        for k in keys {
            if self.txn.is_none() {
                break;
            }
            self.delete(b, &Bytes(k))?;
        }
        Ok(())
    }

    fn bucket_op(&mut self, b: BucketId, create: bool) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let t = self.txn.as_mut().expect("begun");
        let exp = match if create {
            t.m.create_bucket(&name)
        } else {
            t.m.drop_bucket(&name)
        } {
            Ok(()) => Expect::Ok(()),
            Err(e) => Expect::Model(e),
        };
        let got = if create {
            t.e.create_bucket(&name).map(|_| ())
        } else {
            t.e.drop_bucket(&name)
        };
        let what = if create {
            "create_bucket"
        } else {
            "drop_bucket"
        };
        let ok = self.compare(|| format!("{what}({b})"), got, exp)?;
        if ok && !create {
            self.dropped_since_sample = true;
            if let Some(t) = self.txn.as_mut() {
                t.ids.push(IdEvent::Dropped(name));
            }
        }
        Ok(())
    }

    /// A read inside the write transaction; returns the observations (if
    /// the read completed).
    fn txn_read(&mut self, q: &Read) -> R<Option<Vec<(Query, Answer)>>> {
        let t = self.txn.as_ref().expect("caller checked");
        let (obs, err) = engine_read(Src::Write(&t.e), q);
        for (query, answer) in &obs {
            self.cov.reads_checked += 1;
            let t = self.txn.as_ref().expect("caller checked");
            if let Err(m) = model::check_answer(t.m.state(), query, answer) {
                return Err(self.fail(
                    FailureKind::WrongResult,
                    format!("in the write transaction: {m}"),
                ));
            }
        }
        if let Some(e) = err {
            self.tolerate(&e, &format!("{q:?} in the write transaction"))?;
            self.disrupted = true;
            return Ok(None);
        }
        Ok(Some(obs))
    }

    fn fresh_read(&mut self, q: &Read) -> R<()> {
        let rt = match self.db().begin_read() {
            Ok(rt) => rt,
            Err(e) => return self.tolerate(&e, "begin_read"),
        };
        let mut check = self.model.begin_read();
        let (obs, err) = engine_read(Src::Read(&rt), q);
        drop(rt);
        for (query, answer) in obs {
            self.cov.reads_checked += 1;
            if let Err(v) = check.observe(query, answer) {
                return Err(self.fail(FailureKind::WrongResult, v.to_string()));
            }
        }
        if let Some(e) = err {
            self.tolerate(&e, &format!("{q:?}"))?;
        }
        Ok(())
    }

    fn reader_read(&mut self, r: u8, q: &Read) -> R<()> {
        if self.readers.is_empty() {
            return Ok(());
        }
        let i = r as usize % self.readers.len();
        let later = self.model.last_attempted() > self.readers[i].began_at;
        let (obs, err) = engine_read(Src::Read(&self.readers[i].e), q);
        for (query, answer) in obs {
            self.cov.reads_checked += 1;
            if later {
                self.cov.snapshot_reads += 1;
            }
            if let Err(v) = self.readers[i].check.observe(query, answer) {
                return Err(self.fail(FailureKind::Snapshot, v.to_string()));
            }
        }
        if let Some(e) = err {
            self.tolerate(&e, &format!("reader {i}: {q:?}"))?;
        }
        Ok(())
    }

    fn commit(&mut self) -> R<()> {
        let Some(t) = self.txn.take() else {
            return Ok(());
        };
        // A transaction that changed nothing is acknowledged without a
        // sync, so it promises nothing about earlier commits.
        let changed = t.m.state() != self.model.latest();
        let dur = if changed {
            self.mdur()
        } else {
            model::Durability::Eventual
        };
        let c = self.model.commit_begin(t.m, dur);
        // The ids this commit hands out, against every earlier commit of
        // the history (FORMAT.md §6 S9).
        match self.ledger.commit(c, t.ids) {
            Ok(n) => self.cov.ids_unique_checked += n,
            Err(msg) => return Err(self.fail(FailureKind::WrongResult, msg)),
        }
        let r = t.e.commit();
        self.model.commit_finish(c, Outcome::of(&r));
        match r {
            Ok(()) => {
                self.cov.commits_ok += 1;
                self.cov.overflow_values += t.overflow_values;
                self.cov.overflow_chains += t.overflow_chains;
                self.note(|| format!("commit {c} acknowledged"));
                Ok(())
            }
            Err(e) => {
                self.cov.commits_failed += 1;
                self.tolerate(&e, &format!("commit {c}"))?;
                self.failed_commit = Some(c);
                Ok(())
            }
        }
    }

    fn reopen(&mut self, eventual: bool) -> R<()> {
        self.readers.clear();
        if self.txn.take().is_some() {
            self.cov.aborts += 1;
        }
        // Checkpoint through the handle kept in `self.db` (as `close` does
        // for the last handle), so that no engine handle is a local that a
        // panic would drop while unwinding.
        match self.db().checkpoint() {
            Ok(()) => self.model.note_sync_ok(),
            Err(e) => self.tolerate(&e, "close")?,
        }
        self.db = None;
        self.cov.reopens += 1;
        self.durability = if eventual {
            Durability::Eventual
        } else {
            Durability::Immediate
        };
        if self.sim.is_powered_off() {
            let rep = self.sim.crash();
            self.cov.crashes += 1;
            self.cov.torn_writes += rep.writes_torn;
            return self.open_verify(true, rep.writes_torn > 0);
        }
        self.open_verify(false, false)
    }

    fn fault(&mut self, f: &FaultOp) {
        let path = self.path.clone();
        match f {
            FaultOp::FailNth { io, n, enospc } => {
                let kind = match io {
                    IoKind::Read => OpKind::Read,
                    IoKind::Write => OpKind::Write,
                    IoKind::Sync => OpKind::Sync,
                    IoKind::SetLen => OpKind::SetLen,
                };
                let err = if *enospc {
                    InjectedError::Enospc
                } else {
                    InjectedError::Eio
                };
                self.sim.fail_nth(kind, *n as u64, err);
            }
            FaultOp::DiskFull { slack } => {
                let used: u64 = self
                    .sim
                    .paths()
                    .iter()
                    .filter_map(|p| self.sim.contents(p))
                    .map(|c| c.len() as u64)
                    .sum();
                self.base_cfg.capacity = Some(used + *slack as u64);
                if !self.quiet {
                    self.sim.set_config(self.base_cfg.clone());
                }
            }
            FaultOp::DiskFree => {
                self.base_cfg.capacity = None;
                if !self.quiet {
                    self.sim.set_config(self.base_cfg.clone());
                }
            }
            FaultOp::FlipBits { n } => {
                for _ in 0..*n {
                    let _ = self.sim.flip_random_bit(&path);
                }
            }
            FaultOp::LoseNextSyncedWrite => self.sim.lose_next_synced_write(),
            FaultOp::MisdirectNextSyncedWrite => self.sim.misdirect_next_synced_write(),
            FaultOp::LatentSector { per_mille } => {
                let len = self
                    .sim
                    .durable_contents(&path)
                    .map_or(0, |c| c.len() as u64);
                if len > 0 {
                    let _ = self
                        .sim
                        .add_latent_sector_error(&path, len * *per_mille as u64 / 1000);
                }
            }
        }
    }

    // ---------------------------------------------------------------- finish

    /// The end of a run: no more faults; the state must equal the model;
    /// then everything is deleted and the pages in use must return to a
    /// fresh database's.
    fn finish(&mut self) -> R<()> {
        self.sim.cancel_scheduled_crash();
        self.recovery_crash = None;
        let calm = self.base_cfg.clone().without_errors().without_silent();
        self.base_cfg = calm.clone();
        self.quiet = false;
        self.sim.set_config(calm);
        self.sim.clear_scheduled_errors();
        self.errs_at_start = self.sim.stats().injected_errors;
        self.readers.clear();
        if self.txn.take().is_some() {
            self.cov.aborts += 1;
        }
        if self.settle()? {
            // Recovered and verified.
        } else if !self.verify_state(false, None)? {
            return Ok(());
        }
        if self.tainted() {
            return Ok(());
        }
        if self.integrity_check("final check")?.is_none() {
            return Ok(());
        }
        // Delete everything, in one transaction.
        let db = self.db().clone();
        let emptied = (|| -> vellum::Result<()> {
            let tx = db.begin_write()?;
            for name in tx.bucket_names()? {
                tx.drop_bucket(&name)?;
            }
            let keys: Vec<Vec<u8>> = tx
                .iter()?
                .keys()
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<vellum::Result<_>>()?;
            for k in keys {
                tx.delete(&k)?;
            }
            tx.commit()?;
            db.checkpoint()?;
            db.checkpoint()
        })();
        if let Err(e) = emptied {
            if self.tainted() {
                return Ok(());
            }
            return Err(self.fail(
                FailureKind::UnexpectedError,
                format!("deleting everything failed: {e}"),
            ));
        }
        let rep = match db.check() {
            Ok(rep) => rep,
            Err(e) => {
                return Err(self.fail(
                    FailureKind::UnexpectedError,
                    format!("final check failed: {e}"),
                ))
            }
        };
        if self.tainted() {
            return Ok(());
        }
        if !rep.is_ok() {
            return Err(self.fail(
                FailureKind::Integrity,
                format!("after deleting everything: {rep}"),
            ));
        }
        let st = db.stats();
        // Ids of the default bucket survive everything (it is never
        // dropped): its catalog entry stays, and every checkpoint rewrites
        // the catalog page and the allocator pages that track it, so the
        // last checkpoint's frees are pending.
        let sequence = db.begin_read().map_or(0, |r| r.sequence()) != 0;
        let base = baseline_pages(self.case, sequence).map_err(|e| {
            self.fail(
                FailureKind::UnexpectedError,
                format!("baseline database: {e}"),
            )
        })?;
        let used =
            rep.used_pages - st.log_pages - allocator_pages(self.case.config.page_size, rep.pages);
        let pinned_ok = if sequence {
            st.pinned_pages <= 1 + allocator_pages(self.case.config.page_size, rep.pages)
        } else {
            st.pinned_pages == 0
        };
        if rep.keys != 0 || used != base || !pinned_ok {
            return Err(self.fail(
                FailureKind::Leak,
                format!(
                    "after deleting everything and two checkpoints: {used} pages in use besides the log ({} pages) and allocator, a fresh database uses {base}; {} pinned; report: {rep}",
                    st.log_pages, st.pinned_pages
                ),
            ));
        }
        self.cov.leak_checks += 1;
        drop(db);
        Ok(())
    }
}
