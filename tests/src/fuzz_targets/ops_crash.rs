//! Target `ops_crash`: an operation sequence with crashes on the simulated
//! disk, checked against the reference model.
//!
//! Input layout: byte 0 seeds the disk's RNG; byte 1 is the configuration
//! (bit 0: 4 KiB pages instead of 1 KiB; bit 1: `Durability::Eventual`;
//! bit 2: a 4-page log extent, so checkpoints are frequent; bit 3: a 64 KiB
//! cache; bits 4-5: disk profile `torn`, `byte`, `strict4k` or `none`,
//! all crash-only: no reported errors, no silent corruption). Then one
//! operation per opcode byte ([`FuzzOp`], opcode modulo [`FuzzOp::COUNT`])
//! followed by its operand bytes; missing bytes read as zero. At most
//! [`MAX_OPS`] operations run, then a final crash and recovery.
//!
//! Checked: every result inside and outside the write transaction (gets,
//! ranges both ways, prefixes, cursor walks, bucket errors) equals the
//! model's; a long-lived reader keeps its snapshot; after every crash (and
//! every clean reopen) the recovered content equals a commit allowed by
//! [`vellum_model::check_recovered`] (no acknowledged durable commit lost,
//! only a suffix of `Eventual` commits) and `Db::check` finds nothing.
//! Any engine error other than the ones the model predicts, while the disk
//! is powered on, is a finding too.

use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use vellum::{Bucket, Db, Durability, Error, Options, ReadTxn, WriteTxn};
use vellum_model as model;
use vellum_model::{ModelError, Outcome, State, VersionedModel};
use vellum_sim::SimVfs;

use super::ByteReader;

/// Operations run per input.
pub const MAX_OPS: usize = 160;
/// Entries compared per range or scan.
const LIMIT: usize = 64;
/// Crash-only disk profiles, chosen by config bits 4-5.
const PROFILES: [&str; 4] = ["torn", "byte", "strict4k", "none"];
/// Opens attempted after a crash before giving up.
const OPEN_ATTEMPTS: usize = 4;

const PATH: &str = "/fuzz/ops.vellum";

/// Configuration bit: 4 KiB pages.
pub const CFG_PAGE_4K: u8 = 1;
/// Configuration bit: `Durability::Eventual`.
pub const CFG_EVENTUAL: u8 = 2;
/// Configuration bit: smallest log extent.
pub const CFG_SMALL_LOG: u8 = 4;
/// Configuration bit: 64 KiB cache.
pub const CFG_SMALL_CACHE: u8 = 8;

/// One operation of the sequence. Operands are small numbers: `b` picks a
/// bucket (`0` the default bucket, `1..=3` buckets `b1`..`b3`), `k` a key
/// (see [`key`]), `v` a value length (see [`value`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuzzOp {
    /// Put in the write transaction (begun if none is open).
    Put { b: u8, k: u8, v: u8, fill: u8 },
    /// Delete.
    Delete { b: u8, k: u8 },
    /// Point read (in the write transaction if one is open, else in a
    /// fresh read transaction).
    Get { b: u8, k: u8 },
    /// Range read; `flags`: start bound kind `% 3`, end bound kind
    /// `/ 3 % 3` (included, excluded, unbounded), bit 4 reversed.
    Range { b: u8, lo: u8, hi: u8, flags: u8 },
    /// `put_many` of keys `start*8 .. start*8 + n % 129`.
    PutMany { b: u8, start: u8, n: u8, v: u8 },
    /// `delete_many` of keys `start*8 .. start*8 + n % 129`.
    DeleteMany { b: u8, start: u8, n: u8 },
    /// Create a bucket.
    CreateBucket { b: u8 },
    /// Drop a bucket.
    DropBucket { b: u8 },
    /// Commit the write transaction.
    Commit,
    /// Abort it.
    Abort,
    /// `Db::sync`.
    Sync,
    /// Commit, then `Db::checkpoint`.
    Checkpoint,
    /// Power loss now, then recovery.
    Crash,
    /// Power the disk off after `n % 64` more disk operations; the engine
    /// call that meets it fails and the harness crashes and recovers.
    CrashAfter { n: u8 },
    /// Power loss now, and again after `n % 32` disk operations of the
    /// recovery, then recovery.
    CrashInRecovery { n: u8 },
    /// Clean close and reopen.
    Reopen,
    /// `Db::check` must report nothing.
    Check,
    /// Start (or restart) the long-lived reader.
    BeginReader,
    /// A range read through the long-lived reader (flags as in `Range`).
    ReaderRange { b: u8, lo: u8, hi: u8, flags: u8 },
    /// `insert_if_absent`.
    InsertIfAbsent { b: u8, k: u8, v: u8, fill: u8 },
    /// Prefix scan with the first `len % 6` bytes of key `k`.
    Prefix { b: u8, k: u8, len: u8 },
    /// Cursor: `first` (k = 0), `last` (k = 255) or `seek(key(k))`, then 8
    /// moves (bit set: `next`, clear: `prev`).
    Cursor { b: u8, k: u8, moves: u8 },
}

impl FuzzOp {
    /// Number of opcodes.
    pub const COUNT: u8 = 22;

    fn decode(r: &mut ByteReader<'_>) -> FuzzOp {
        use FuzzOp::*;
        match r.u8() % Self::COUNT {
            0 => Put {
                b: r.u8(),
                k: r.u8(),
                v: r.u8(),
                fill: r.u8(),
            },
            1 => Delete {
                b: r.u8(),
                k: r.u8(),
            },
            2 => Get {
                b: r.u8(),
                k: r.u8(),
            },
            3 => Range {
                b: r.u8(),
                lo: r.u8(),
                hi: r.u8(),
                flags: r.u8(),
            },
            4 => PutMany {
                b: r.u8(),
                start: r.u8(),
                n: r.u8(),
                v: r.u8(),
            },
            5 => DeleteMany {
                b: r.u8(),
                start: r.u8(),
                n: r.u8(),
            },
            6 => CreateBucket { b: r.u8() },
            7 => DropBucket { b: r.u8() },
            8 => Commit,
            9 => Abort,
            10 => Sync,
            11 => Checkpoint,
            12 => Crash,
            13 => CrashAfter { n: r.u8() },
            14 => CrashInRecovery { n: r.u8() },
            15 => Reopen,
            16 => Check,
            17 => BeginReader,
            18 => ReaderRange {
                b: r.u8(),
                lo: r.u8(),
                hi: r.u8(),
                flags: r.u8(),
            },
            19 => InsertIfAbsent {
                b: r.u8(),
                k: r.u8(),
                v: r.u8(),
                fill: r.u8(),
            },
            20 => Prefix {
                b: r.u8(),
                k: r.u8(),
                len: r.u8(),
            },
            _ => Cursor {
                b: r.u8(),
                k: r.u8(),
                moves: r.u8(),
            },
        }
    }

    /// Appends the bytes that decode to this operation.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use FuzzOp::*;
        let (code, operands): (u8, Vec<u8>) = match *self {
            Put { b, k, v, fill } => (0, vec![b, k, v, fill]),
            Delete { b, k } => (1, vec![b, k]),
            Get { b, k } => (2, vec![b, k]),
            Range { b, lo, hi, flags } => (3, vec![b, lo, hi, flags]),
            PutMany { b, start, n, v } => (4, vec![b, start, n, v]),
            DeleteMany { b, start, n } => (5, vec![b, start, n]),
            CreateBucket { b } => (6, vec![b]),
            DropBucket { b } => (7, vec![b]),
            Commit => (8, vec![]),
            Abort => (9, vec![]),
            Sync => (10, vec![]),
            Checkpoint => (11, vec![]),
            Crash => (12, vec![]),
            CrashAfter { n } => (13, vec![n]),
            CrashInRecovery { n } => (14, vec![n]),
            Reopen => (15, vec![]),
            Check => (16, vec![]),
            BeginReader => (17, vec![]),
            ReaderRange { b, lo, hi, flags } => (18, vec![b, lo, hi, flags]),
            InsertIfAbsent { b, k, v, fill } => (19, vec![b, k, v, fill]),
            Prefix { b, k, len } => (20, vec![b, k, len]),
            Cursor { b, k, moves } => (21, vec![b, k, moves]),
        };
        out.push(code);
        out.extend_from_slice(&operands);
    }
}

/// Builds `ops_crash` inputs (for seed corpora and tests).
///
/// ```
/// use vellum_tests::fuzz_targets::{run_ops_crash, OpsEncoder, FuzzOp};
/// let input = OpsEncoder::new(7, 0)
///     .op(FuzzOp::Put { b: 0, k: 1, v: 10, fill: 3 })
///     .op(FuzzOp::Commit)
///     .op(FuzzOp::Crash)
///     .finish();
/// run_ops_crash(&input);
/// ```
#[derive(Clone, Debug)]
pub struct OpsEncoder {
    bytes: Vec<u8>,
}

impl OpsEncoder {
    /// An input with this disk seed and configuration byte.
    pub fn new(seed: u8, config: u8) -> OpsEncoder {
        OpsEncoder {
            bytes: vec![seed, config],
        }
    }

    /// Appends an operation.
    pub fn op(mut self, op: FuzzOp) -> OpsEncoder {
        op.encode(&mut self.bytes);
        self
    }

    /// Appends operations.
    pub fn ops(mut self, ops: impl IntoIterator<Item = FuzzOp>) -> OpsEncoder {
        for op in ops {
            op.encode(&mut self.bytes);
        }
        self
    }

    /// The input bytes.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// The name of bucket operand `b`: empty (the default bucket) or `b1`..`b3`.
pub fn bucket(b: u8) -> Vec<u8> {
    match b % 4 {
        0 => Vec::new(),
        n => format!("b{n}").into_bytes(),
    }
}

/// Key number `id`: four digits, then `(id % 5) * 7` bytes of padding, so
/// keys sort by number and vary in length.
pub fn key(id: u32) -> Vec<u8> {
    let mut k = format!("{id:04}").into_bytes();
    k.resize(k.len() + (id % 5) as usize * 7, b'x');
    k
}

/// Value of length selector `v`: below 192, `v % 64` bytes (inline); from
/// 192, `(v - 192) * 70` bytes (up to 4,410: overflow runs at either page
/// size).
pub fn value(v: u8, fill: u8) -> Vec<u8> {
    let len = if v < 192 {
        (v % 64) as usize
    } else {
        (v as usize - 192) * 70
    };
    (0..len).map(|i| fill ^ (i as u8)).collect()
}

fn many(start: u8, n: u8) -> std::ops::Range<u32> {
    let s = start as u32 * 8;
    s..s + (n % 129) as u32
}

fn bound(kind: u8, k: u8) -> Bound<Vec<u8>> {
    match kind % 3 {
        0 => Bound::Included(key(k as u32)),
        1 => Bound::Excluded(key(k as u32)),
        _ => Bound::Unbounded,
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A read, run the same way on the engine and on the model.
#[derive(Clone, Debug)]
enum Query {
    Get(Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    Prefix(Vec<u8>),
    Cursor(u8, u8),
}

impl Query {
    fn range(lo: u8, hi: u8, flags: u8) -> Query {
        Query::Range(bound(flags, lo), bound(flags / 3, hi), flags & 16 != 0)
    }
}

type Entry = (Vec<u8>, Vec<u8>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Value(Option<Vec<u8>>),
    Entries(Vec<Entry>),
    Cursor(Vec<Option<Entry>>),
}

fn engine_answer(b: &Bucket<'_>, q: &Query) -> vellum::Result<Answer> {
    Ok(match q {
        Query::Get(k) => {
            let v = b.get(k)?;
            let c = b.contains(k)?;
            if c != v.is_some() {
                return Ok(Answer::Entries(vec![(
                    b"contains disagrees with get".to_vec(),
                    k.clone(),
                )]));
            }
            Answer::Value(v.map(|v| v.to_vec()))
        }
        Query::Range(lo, hi, rev) => {
            let r = b.range::<[u8]>((as_ref(lo), as_ref(hi)));
            let r = r.owned();
            let v: vellum::Result<Vec<Entry>> = if *rev {
                r.rev().take(LIMIT).collect()
            } else {
                r.take(LIMIT).collect()
            };
            Answer::Entries(v?)
        }
        Query::Prefix(p) => Answer::Entries(
            b.prefix(p)
                .owned()
                .take(LIMIT)
                .collect::<vellum::Result<_>>()?,
        ),
        Query::Cursor(start, moves) => {
            let mut c = b.cursor();
            let mut out = vec![match start {
                0 => c.first()?,
                255 => c.last()?,
                k => c.seek(key(*k as u32))?,
            }
            .map(vellum::Entry::into_pair)];
            for i in 0..8 {
                out.push(
                    if moves & (1 << i) != 0 {
                        c.next()?
                    } else {
                        c.prev()?
                    }
                    .map(vellum::Entry::into_pair),
                );
            }
            Answer::Cursor(out)
        }
    })
}

fn model_answer(s: &State, name: &[u8], q: &Query) -> Result<Answer, ModelError> {
    let owned = |(k, v): (&[u8], &[u8])| (k.to_vec(), v.to_vec());
    Ok(match q {
        Query::Get(k) => Answer::Value(s.get(name, k)?.map(<[u8]>::to_vec)),
        Query::Range(lo, hi, rev) => {
            let it = s.range_bounds(name, as_ref(lo), as_ref(hi))?;
            Answer::Entries(if *rev {
                it.rev().take(LIMIT).map(owned).collect()
            } else {
                it.take(LIMIT).map(owned).collect()
            })
        }
        Query::Prefix(p) => Answer::Entries(s.prefix(name, p)?.take(LIMIT).map(owned).collect()),
        Query::Cursor(start, moves) => {
            let all: Vec<Entry> = s.iter(name)?.map(owned).collect();
            let n = all.len();
            let mut pos = match start {
                0 => (n > 0).then_some(0),
                255 => n.checked_sub(1),
                k => {
                    let k = key(*k as u32);
                    let i = all.partition_point(|(x, _)| *x < k);
                    (i < n).then_some(i)
                }
            };
            let at = |p: Option<usize>| p.map(|i| all[i].clone());
            let mut out = vec![at(pos)];
            for i in 0..8 {
                pos = if moves & (1 << i) != 0 {
                    pos.and_then(|p| (p + 1 < n).then_some(p + 1))
                } else {
                    pos.and_then(|p| p.checked_sub(1))
                };
                out.push(at(pos));
            }
            Answer::Cursor(out)
        }
    })
}

/// The model's answer to naming a bucket (the engine checks the name before
/// looking at the items of a batch, so an empty batch still fails).
fn exists(s: &State, name: &[u8]) -> Result<(), ModelError> {
    if s.bucket_exists(name) {
        Ok(())
    } else {
        Err(ModelError::BucketNotFound(name.to_vec()))
    }
}

fn same_error(e: &Error, m: &ModelError) -> bool {
    match (e, m) {
        (Error::BucketNotFound(a), ModelError::BucketNotFound(b)) => a == b,
        (Error::BucketExists(a), ModelError::BucketExists(b)) => a == b,
        (Error::InvalidBucketName, ModelError::InvalidBucketName) => true,
        _ => false,
    }
}

/// The whole content of a database, checking each bucket's `len`.
fn read_all(db: &Db) -> Result<State, String> {
    let rt = db.begin_read().map_err(|e| e.to_string())?;
    let mut s = State::new();
    let mut names = vec![Vec::new()];
    names.extend(rt.bucket_names());
    for name in names {
        let b = if name.is_empty() {
            rt.default_bucket()
        } else {
            s.create_bucket(&name)
                .map_err(|e| format!("bucket_names listed {e}"))?;
            rt.bucket(&name).map_err(|e| e.to_string())?
        };
        let mut n = 0u64;
        for e in b.iter() {
            let e = e.map_err(|e| e.to_string())?;
            s.put(&name, e.key(), e.value()).expect("bucket exists");
            n += 1;
        }
        if n != b.len() {
            return Err(format!(
                "bucket {:?}: len() is {} but iteration found {n}",
                String::from_utf8_lossy(&name),
                b.len()
            ));
        }
    }
    Ok(s)
}

struct Harness {
    sim: SimVfs,
    opts: Options,
    dur: model::Durability,
    db: Option<Db>,
    txn: Option<(WriteTxn, model::WriteTxn)>,
    reader: Option<(ReadTxn, State)>,
    model: VersionedModel,
    log: Vec<String>,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness").field("sim", &self.sim).finish()
    }
}

impl Harness {
    fn fail(&self, msg: impl fmt::Display) -> ! {
        let from = self.log.len().saturating_sub(40);
        panic!(
            "ops_crash finding: {msg}\n(last attempted commit {}, last durable {})\nsteps:\n  {}",
            self.model.last_attempted(),
            self.model.last_acked_durable(),
            self.log[from..].join("\n  ")
        );
    }

    fn note(&mut self, s: impl Into<String>) {
        self.log.push(s.into());
    }

    fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the database is open between operations")
    }

    /// An engine error is expected only once the disk is powered off
    /// (after `CrashAfter`); anything else is a finding.
    fn require_power_loss(&self, what: &str, e: &Error) {
        if !self.sim.is_powered_off() {
            self.fail(format!("{what}: unexpected engine error {e:?}"));
        }
    }

    fn drop_all(&mut self) {
        self.reader = None;
        self.txn = None;
        self.db = None;
    }

    /// Power loss: the disk goes off, every handle is dropped (a handle's
    /// drop cannot write any more), unsynced writes are resolved.
    fn power_loss(&mut self) {
        if !self.sim.is_powered_off() {
            self.sim.schedule_crash_after(0);
        }
        self.drop_all();
        let rep = self.sim.crash();
        self.note(format!(
            "  crash: kept {} torn {} dropped {}",
            rep.writes_kept, rep.writes_torn, rep.writes_dropped
        ));
    }

    /// Crash now (optionally again during recovery), reopen and verify.
    fn crash_recover(&mut self, in_recovery: Option<u64>) {
        self.power_loss();
        if let Some(n) = in_recovery {
            self.sim.schedule_crash_after(n);
        }
        self.open_verify();
    }

    /// Opens (crashing again whenever the disk powers off during open),
    /// then checks the content against the model and runs `Db::check`.
    fn open_verify(&mut self) {
        let mut db = None;
        for _ in 0..OPEN_ATTEMPTS {
            let r = self.opts.clone().open(PATH);
            if self.sim.is_powered_off() {
                drop(r);
                self.note("  power lost during open");
                self.power_loss();
                continue;
            }
            self.sim.cancel_scheduled_crash();
            match r {
                Ok(d) => {
                    db = Some(d);
                    break;
                }
                Err(e) => self.fail(format!("open failed on a crash-only disk: {e:?}")),
            }
        }
        let Some(db) = db else {
            self.fail("could not open the database");
        };
        let replayed = db.replayed_on_open();
        let state = match read_all(&db) {
            Ok(s) => s,
            Err(e) => self.fail(format!("reading the recovered database: {e}")),
        };
        match model::check_recovered(&mut self.model, &state) {
            Ok(c) => self.note(format!(
                "  recovered commit {c} ({replayed} records replayed)"
            )),
            Err(e) => self.fail(e),
        }
        match db.check() {
            Ok(rep) if rep.is_ok() => {}
            Ok(rep) => self.fail(format!("Db::check after open: {rep}")),
            Err(e) => self.fail(format!("Db::check after open failed: {e:?}")),
        }
        self.db = Some(db);
    }

    /// Begins the write transaction if none is open; `false` if the power
    /// went off (the harness has recovered).
    fn ensure_txn(&mut self) -> bool {
        if self.txn.is_some() {
            return true;
        }
        match self.db().begin_write() {
            Ok(tx) => {
                self.txn = Some((tx, self.model.begin_write()));
                true
            }
            Err(e) => {
                self.require_power_loss("begin_write", &e);
                self.crash_recover(None);
                false
            }
        }
    }

    /// Compares an engine result with the model's.
    fn expect<T: PartialEq + fmt::Debug>(
        &mut self,
        what: &str,
        engine: vellum::Result<T>,
        model: Result<T, ModelError>,
    ) {
        match (engine, model) {
            (Ok(a), Ok(b)) => {
                if a != b {
                    self.fail(format!("{what}: engine returned {a:?}, model {b:?}"));
                }
            }
            (Err(e), m) if self.sim.is_powered_off() => {
                let _ = m;
                self.note(format!("  {what}: power lost ({e})"));
                self.crash_recover(None);
            }
            (Err(e), Err(m)) if same_error(&e, &m) => {}
            (e, m) => self.fail(format!("{what}: engine returned {e:?}, model {m:?}")),
        }
    }

    /// A write inside the transaction: `f` runs on the engine and the model
    /// transaction.
    fn write<T: PartialEq + fmt::Debug>(
        &mut self,
        what: &str,
        f: impl FnOnce(&WriteTxn, &mut model::WriteTxn) -> (vellum::Result<T>, Result<T, ModelError>),
    ) {
        if !self.ensure_txn() {
            return;
        }
        let (tx, mtx) = self.txn.as_mut().expect("ensured");
        let (e, m) = f(tx, mtx);
        self.expect(what, e, m);
    }

    /// A read: in the write transaction if one is open, else in a fresh read
    /// transaction.
    fn read(&mut self, name: &[u8], q: Query) {
        let what = format!("read {q:?} in bucket {:?}", String::from_utf8_lossy(name));
        let (e, m) = if let Some((tx, mtx)) = &self.txn {
            let e = if name.is_empty() {
                tx.default_bucket().view()
            } else {
                tx.bucket(name).and_then(|b| b.view())
            }
            .and_then(|b| engine_answer(&b, &q));
            (e, model_answer(mtx, name, &q))
        } else {
            let e = self.db().begin_read().and_then(|rt| {
                let b = if name.is_empty() {
                    rt.default_bucket()
                } else {
                    rt.bucket(name)?
                };
                engine_answer(&b, &q)
            });
            (e, model_answer(self.model.latest(), name, &q))
        };
        self.expect(&what, e, m);
    }

    fn reader_read(&mut self, name: &[u8], q: Query) {
        let Some((rt, state)) = &self.reader else {
            return;
        };
        let what = format!("reader {q:?} in bucket {:?}", String::from_utf8_lossy(name));
        let e = if name.is_empty() {
            Ok(rt.default_bucket())
        } else {
            rt.bucket(name)
        }
        .and_then(|b| engine_answer(&b, &q));
        let m = model_answer(state, name, &q);
        self.expect(&what, e, m);
    }

    fn commit(&mut self) {
        let Some((tx, mtx)) = self.txn.take() else {
            return;
        };
        let c = self.model.commit_begin(mtx, self.dur);
        match tx.commit() {
            Ok(()) => {
                self.model.commit_finish(c, Outcome::Ok);
                self.note(format!("  commit {c} acknowledged"));
            }
            Err(e) => {
                self.model.commit_finish(c, Outcome::Err);
                self.require_power_loss("commit", &e);
                self.note(format!("  commit {c} failed: {e}"));
                self.crash_recover(None);
            }
        }
    }

    /// Runs a handle-level call that makes every acknowledged commit durable
    /// when it returns `Ok`.
    fn durable_call(&mut self, what: &str, f: impl FnOnce(&Db) -> vellum::Result<()>) {
        match f(self.db()) {
            Ok(()) => self.model.note_sync_ok(),
            Err(e) => {
                self.require_power_loss(what, &e);
                self.note(format!("  {what}: power lost ({e})"));
                self.crash_recover(None);
            }
        }
    }

    fn exec(&mut self, op: &FuzzOp) {
        use FuzzOp::*;
        self.note(format!("{op:?}"));
        match *op {
            Put { b, k, v, fill } => {
                let (name, key, val) = (bucket(b), key(k as u32), value(v, fill));
                self.write("put", |tx, m| {
                    let e = if name.is_empty() {
                        tx.put(&key, &val)
                    } else {
                        tx.bucket(&name).and_then(|b| b.put(&key, &val))
                    };
                    (e, m.put(&name, &key, &val).map(|_| ()))
                });
            }
            InsertIfAbsent { b, k, v, fill } => {
                let (name, key, val) = (bucket(b), key(k as u32), value(v, fill));
                self.write("insert_if_absent", |tx, m| {
                    let e = if name.is_empty() {
                        tx.insert_if_absent(&key, &val)
                    } else {
                        tx.bucket(&name)
                            .and_then(|b| b.insert_if_absent(&key, &val))
                    };
                    (e, m.insert_if_absent(&name, &key, &val))
                });
            }
            Delete { b, k } => {
                let (name, key) = (bucket(b), key(k as u32));
                self.write("delete", |tx, m| {
                    let e = if name.is_empty() {
                        tx.delete(&key)
                    } else {
                        tx.bucket(&name).and_then(|b| b.delete(&key))
                    };
                    (e, m.delete(&name, &key).map(|o| o.is_some()))
                });
            }
            PutMany { b, start, n, v } => {
                let name = bucket(b);
                let items: Vec<(Vec<u8>, Vec<u8>)> = many(start, n)
                    .map(|i| (key(i), value(v, i as u8)))
                    .collect();
                self.write("put_many", |tx, m| {
                    let e = if name.is_empty() {
                        tx.put_many(items.iter().map(|(k, v)| (k, v)))
                    } else {
                        tx.bucket(&name)
                            .and_then(|b| b.put_many(items.iter().map(|(k, v)| (k, v))))
                    };
                    let mut r = exists(m, &name);
                    for (k, v) in &items {
                        if let Err(err) = m.put(&name, k, v) {
                            r = Err(err);
                            break;
                        }
                    }
                    (e, r)
                });
            }
            DeleteMany { b, start, n } => {
                let name = bucket(b);
                let keys: Vec<Vec<u8>> = many(start, n).map(key).collect();
                self.write("delete_many", |tx, m| {
                    let e = if name.is_empty() {
                        tx.delete_many(&keys)
                    } else {
                        tx.bucket(&name).and_then(|b| b.delete_many(&keys))
                    };
                    let mut r = exists(m, &name).map(|()| 0u64);
                    for k in &keys {
                        match m.delete(&name, k) {
                            Ok(o) => r = r.map(|n| n + o.is_some() as u64),
                            Err(err) => {
                                r = Err(err);
                                break;
                            }
                        }
                    }
                    (e, r)
                });
            }
            CreateBucket { b } => {
                let name = bucket(b);
                self.write("create_bucket", |tx, m| {
                    (tx.create_bucket(&name).map(|_| ()), m.create_bucket(&name))
                });
            }
            DropBucket { b } => {
                let name = bucket(b);
                self.write("drop_bucket", |tx, m| {
                    (tx.drop_bucket(&name), m.drop_bucket(&name))
                });
            }
            Get { b, k } => self.read(&bucket(b), Query::Get(key(k as u32))),
            Range { b, lo, hi, flags } => self.read(&bucket(b), Query::range(lo, hi, flags)),
            Prefix { b, k, len } => {
                let mut p = key(k as u32);
                p.truncate((len % 6) as usize);
                self.read(&bucket(b), Query::Prefix(p));
            }
            Cursor { b, k, moves } => self.read(&bucket(b), Query::Cursor(k, moves)),
            Commit => self.commit(),
            Abort => self.txn = None,
            Sync => self.durable_call("sync", Db::sync),
            Checkpoint => {
                self.commit();
                if self.db.is_some() {
                    self.durable_call("checkpoint", Db::checkpoint);
                }
            }
            Crash => self.crash_recover(None),
            CrashAfter { n } => self.sim.schedule_crash_after((n % 64) as u64),
            CrashInRecovery { n } => self.crash_recover(Some((n % 32) as u64)),
            Reopen => {
                self.txn = None;
                self.reader = None;
                let db = self.db.take().expect("open");
                match db.close() {
                    Ok(()) => {
                        self.model.note_sync_ok();
                        self.open_verify();
                    }
                    Err(e) => {
                        self.require_power_loss("close", &e);
                        self.crash_recover(None);
                    }
                }
            }
            Check => match self.db().check() {
                Ok(rep) if rep.is_ok() => {}
                Ok(rep) => self.fail(format!("Db::check: {rep}")),
                Err(e) => {
                    self.require_power_loss("check", &e);
                    self.crash_recover(None);
                }
            },
            BeginReader => {
                self.reader = None;
                match self.db().begin_read() {
                    Ok(rt) => self.reader = Some((rt, self.model.latest().clone())),
                    Err(e) => {
                        self.require_power_loss("begin_read", &e);
                        self.crash_recover(None);
                    }
                }
            }
            ReaderRange { b, lo, hi, flags } => {
                self.reader_read(&bucket(b), Query::range(lo, hi, flags))
            }
        }
    }
}

/// Runs an operation sequence (see the module docs) and checks it.
///
/// # Panics
/// On any finding: a result that differs from the model, a recovered state
/// no allowed commit equals, a failed integrity check, an unexpected error,
/// or an engine panic.
pub fn run_ops_crash(data: &[u8]) {
    let mut r = ByteReader::new(data);
    let seed = r.u8() as u64;
    let cfg = r.u8();
    let page_size = if cfg & CFG_PAGE_4K != 0 { 4096 } else { 1024 };
    let eventual = cfg & CFG_EVENTUAL != 0;
    let profile = PROFILES[((cfg >> 4) & 3) as usize];
    let sim = SimVfs::with_profile(seed, profile).expect("known profile");
    let opts = Options::new()
        .vfs(Arc::new(sim.clone()))
        .page_size(page_size)
        .max_log_size(if cfg & CFG_SMALL_LOG != 0 {
            4 * page_size as u64
        } else {
            64 * 1024
        })
        .cache_size(if cfg & CFG_SMALL_CACHE != 0 {
            64 << 10
        } else {
            4 << 20
        })
        .durability(if eventual {
            Durability::Eventual
        } else {
            Durability::Immediate
        });
    let mut h = Harness {
        sim,
        opts,
        dur: if eventual {
            model::Durability::Eventual
        } else {
            model::Durability::Immediate
        },
        db: None,
        txn: None,
        reader: None,
        model: VersionedModel::new(),
        log: vec![format!(
            "seed {seed}, page size {page_size}, {profile}, eventual {eventual}, config {cfg:#04x}"
        )],
    };
    h.open_verify();
    let mut n = 0;
    while !r.is_empty() && n < MAX_OPS {
        let op = FuzzOp::decode(&mut r);
        h.exec(&op);
        n += 1;
    }
    h.note("final crash");
    h.crash_recover(None);
    drop(h.db.take());
}
