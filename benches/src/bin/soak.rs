//! A soak run (issue 13, part C; not run by CI): threads of mixed reads,
//! writes, scans, bucket changes and checkpoints against one database for
//! a chosen time, with the database closed and reopened now and then. Every
//! read is checked, and the run reports throughput per kind of operation
//! and every anomaly (exit status 1 if there is any).
//!
//! ```text
//! cargo run --release -p vellum-bench --bin soak -- --secs 60 --threads 8 --seed 1
//! ```
//!
//! How reads are checked exactly although threads run concurrently:
//!
//! - Thread `t` alone writes the keys `w<t>/<k>` of the default bucket, its
//!   summary key `m<t>` (commit sequence number, key count, sum of values)
//!   and its bucket `b<t>` (created, changed and dropped by `t` only, with a
//!   key `#` holding the bucket's key count). Its model of them is exact, so
//!   its reads and scans of its own keys must equal the model.
//! - Reads of another thread's keys check what holds in every committed
//!   state: inside one snapshot, `m<u>` matches the count and sum of `u`'s
//!   keys and a bucket's `#` matches its keys; every value is well formed;
//!   and a later snapshot never sees `u`'s sequence number, nor the
//!   snapshot's transaction id, go backwards.
//! - Scans check order and bounds (forwards and backwards).
//! - For a reopen every thread pauses (they hold a shared lock during each
//!   operation; the reopen takes it exclusively), the handle is closed and
//!   reopened, `check()` must be clean and the whole database must equal
//!   the union of the threads' models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vellum::{Db, Durability, Error, Options, ReadTxn};

/// Command-line arguments.
#[derive(Parser, Debug)]
#[command(about = "Soak: concurrent mixed operations checked against a model")]
struct Args {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Seed of the threads' random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory for the database (default: a temporary one under
    /// `$VELLUM_BENCH_DIR`, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Seconds between reopens (0: never).
    #[arg(long, default_value_t = 10)]
    reopen_every: u64,
    /// Keys each thread writes in the default bucket.
    #[arg(long, default_value_t = 2000)]
    keys: u32,
    /// Commit with `Durability::Eventual` instead of `Immediate`.
    #[arg(long)]
    eventual: bool,
}

/// Kinds of operation, as counted.
const KINDS: [&str; 6] = ["write", "read", "scan", "bucket", "checkpoint", "reopen"];
const WRITE: usize = 0;
const READ: usize = 1;
const SCAN: usize = 2;
const BUCKET: usize = 3;
const CHECKPOINT: usize = 4;
const REOPEN: usize = 5;

/// Counters and anomalies shared by every thread.
#[derive(Default)]
struct Stats {
    ops: [AtomicU64; 6],
    commits: AtomicU64,
    anomalies: AtomicU64,
    first: Mutex<Vec<String>>,
}

impl Stats {
    fn anomaly(&self, what: String) {
        self.anomalies.fetch_add(1, Relaxed);
        let mut f = self.first.lock().unwrap();
        if f.len() < 20 {
            eprintln!("ANOMALY: {what}");
            f.push(what);
        }
    }
}

/// What thread `t` alone writes, exactly.
#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    /// Key number → value number of `w<t>/<k>`.
    keys: BTreeMap<u32, u64>,
    /// Commits of this thread (its summary's sequence number).
    seq: u64,
    /// Bucket `b<t>`: key number → value number, if it exists.
    bucket: Option<BTreeMap<u32, u64>>,
}

impl Model {
    fn sum(&self) -> u64 {
        self.keys.values().fold(0, |a, v| a.wrapping_add(*v))
    }
}

fn key(t: usize, k: u32) -> Vec<u8> {
    format!("w{t:02}/{k:06}").into_bytes()
}

fn prefix(t: usize) -> Vec<u8> {
    format!("w{t:02}/").into_bytes()
}

fn summary_key(t: usize) -> Vec<u8> {
    format!("m{t:02}").into_bytes()
}

fn bucket_name(t: usize) -> Vec<u8> {
    format!("b{t:02}").into_bytes()
}

/// The key number of `w<t>/<k>` or of a bucket key.
fn key_number(k: &[u8]) -> Option<u32> {
    let digits = k.rsplit(|&b| b == b'/').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A value: the number, then `v % 97` filler bytes derived from it.
fn value(v: u64) -> Vec<u8> {
    let mut b = v.to_le_bytes().to_vec();
    b.extend(std::iter::repeat_n(v as u8 ^ 0xa5, (v % 97) as usize));
    b
}

/// The number of a well-formed value.
fn parse_value(b: &[u8]) -> Option<u64> {
    let v = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    (b == value(v).as_slice()).then_some(v)
}

fn summary(seq: u64, count: u64, sum: u64) -> Vec<u8> {
    [seq, count, sum]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect()
}

fn parse_summary(b: &[u8]) -> Option<(u64, u64, u64)> {
    if b.len() != 24 {
        return None;
    }
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    Some((w(0), w(1), w(2)))
}

/// Everything threads share.
struct Shared {
    db: RwLock<Option<Db>>,
    models: Vec<Mutex<Model>>,
    stats: Stats,
    stop: AtomicBool,
    args: Args,
}

/// One worker thread's state.
struct Worker<'a> {
    t: usize,
    sh: &'a Shared,
    rng: StdRng,
    /// Highest sequence number seen of each thread's summary.
    seen_seq: Vec<u64>,
    /// Highest snapshot transaction id seen.
    seen_txn: u64,
}

type Res = std::result::Result<(), String>;

fn err(e: Error) -> String {
    format!("engine error: {e}")
}

impl Worker<'_> {
    fn run(&mut self) {
        while !self.sh.stop.load(Relaxed) {
            let roll = self.rng.gen_range(0..1000);
            let kind = match roll {
                0..=349 => WRITE,
                350..=649 => READ,
                650..=899 => SCAN,
                900..=997 => BUCKET,
                _ => CHECKPOINT,
            };
            let guard = self.sh.db.read().unwrap();
            let db = guard.as_ref().expect("the database is open");
            let mut model = self.sh.models[self.t].lock().unwrap();
            let r = match kind {
                WRITE => self.write(db, &mut model),
                READ => self.read(db, &model),
                SCAN => self.scan(db, &model),
                BUCKET => self.bucket(db, &mut model),
                _ => db.checkpoint().map_err(err),
            };
            drop(model);
            drop(guard);
            self.sh.stats.ops[kind].fetch_add(1, Relaxed);
            if let Err(e) = r {
                self.sh
                    .stats
                    .anomaly(format!("thread {} {}: {e}", self.t, KINDS[kind]));
            }
        }
    }

    /// Puts and deletes some of this thread's keys and its summary in one
    /// transaction; the model follows only if the commit succeeds.
    fn write(&mut self, db: &Db, model: &mut Model) -> Res {
        let mut next = model.clone();
        let mut ops = Vec::new();
        for _ in 0..self.rng.gen_range(1..=8) {
            let k = self.rng.gen_range(0..self.sh.args.keys);
            if self.rng.gen_bool(0.25) {
                next.keys.remove(&k);
                ops.push((k, None));
            } else {
                let v = self.rng.gen::<u64>() >> 8;
                next.keys.insert(k, v);
                ops.push((k, Some(v)));
            }
        }
        next.seq += 1;
        let sum = summary(next.seq, next.keys.len() as u64, next.sum());
        db.update(|tx| {
            for (k, v) in &ops {
                match v {
                    Some(v) => tx.put(key(self.t, *k), value(*v))?,
                    None => {
                        tx.delete(key(self.t, *k))?;
                    }
                }
            }
            tx.put(summary_key(self.t), &sum)
        })
        .map_err(err)?;
        *model = next;
        self.sh.stats.commits.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Checks the snapshot's transaction id never goes backwards.
    fn snapshot(&mut self, db: &Db) -> std::result::Result<ReadTxn, String> {
        let tx = db.begin_read().map_err(err)?;
        if tx.txn_id() < self.seen_txn {
            return Err(format!(
                "snapshot txn id went back from {} to {}",
                self.seen_txn,
                tx.txn_id()
            ));
        }
        self.seen_txn = tx.txn_id();
        Ok(tx)
    }

    /// Reads some keys: this thread's against its model; another thread's
    /// summary against its keys in the same snapshot.
    fn read(&mut self, db: &Db, model: &Model) -> Res {
        let tx = self.snapshot(db)?;
        for _ in 0..8 {
            let k = self.rng.gen_range(0..self.sh.args.keys);
            let got = tx.get(key(self.t, k)).map_err(err)?;
            let got = got.map(|v| parse_value(&v).ok_or("malformed value"));
            let want = model.keys.get(&k).copied();
            if got.transpose()? != want {
                return Err(format!("own key {k}: read {got:?}, model {want:?}"));
            }
        }
        let u = self.rng.gen_range(0..self.sh.args.threads);
        self.summary_matches(&tx, u)
    }

    /// Inside `tx`, thread `u`'s summary matches its keys and its sequence
    /// number has not gone backwards.
    fn summary_matches(&mut self, tx: &ReadTxn, u: usize) -> Res {
        let (seq, count, sum) = match tx.get(summary_key(u)).map_err(err)? {
            Some(v) => parse_summary(&v).ok_or("malformed summary")?,
            None => (0, 0, 0),
        };
        if seq < self.seen_seq[u] {
            return Err(format!(
                "thread {u}'s sequence went back from {} to {seq}",
                self.seen_seq[u]
            ));
        }
        self.seen_seq[u] = seq;
        let (mut n, mut s) = (0u64, 0u64);
        for e in tx.prefix(prefix(u)) {
            let e = e.map_err(err)?;
            let v = parse_value(e.value()).ok_or("malformed value")?;
            n += 1;
            s = s.wrapping_add(v);
        }
        if (n, s) != (count, sum) {
            return Err(format!(
                "thread {u} at seq {seq}: summary says {count} keys sum {sum}, scan finds {n} sum {s}"
            ));
        }
        Ok(())
    }

    /// Scans a random range of a random thread's keys, forwards or
    /// backwards: in order, inside the bounds, and equal to the model for
    /// this thread's own keys.
    fn scan(&mut self, db: &Db, model: &Model) -> Res {
        let tx = self.snapshot(db)?;
        let u = self.rng.gen_range(0..self.sh.args.threads);
        let a = self.rng.gen_range(0..self.sh.args.keys);
        let b = self.rng.gen_range(a..=self.sh.args.keys);
        let (lo, hi) = (key(u, a), key(u, b));
        let rev = self.rng.gen_bool(0.3);
        let mut it = tx.range(lo.as_slice()..hi.as_slice());
        let mut got = Vec::new();
        loop {
            let e = if rev { it.next_back() } else { it.next() };
            let Some(e) = e else { break };
            let e = e.map_err(err)?;
            let k = e.key();
            if k < lo.as_slice() || k >= hi.as_slice() {
                return Err(format!("scan of {a}..{b}: key {k:?} out of bounds"));
            }
            let kn = key_number(k).ok_or("malformed key")?;
            let v = parse_value(e.value()).ok_or("malformed value")?;
            got.push((kn, v));
        }
        if rev {
            got.reverse();
        }
        if got.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(format!("scan of {a}..{b} (rev {rev}): keys out of order"));
        }
        if u == self.t {
            let want: Vec<(u32, u64)> = model.keys.range(a..b).map(|(k, v)| (*k, *v)).collect();
            if got != want {
                return Err(format!(
                    "own scan of {a}..{b} (rev {rev}): {} entries, model {}",
                    got.len(),
                    want.len()
                ));
            }
        } else if a == 0 && b == self.sh.args.keys {
            return self.summary_matches(&tx, u);
        }
        Ok(())
    }

    /// Creates, changes or drops this thread's bucket, then checks another
    /// thread's bucket in a snapshot and this thread's against its model.
    fn bucket(&mut self, db: &Db, model: &mut Model) -> Res {
        let name = bucket_name(self.t);
        let mut next = model.bucket.clone();
        let drop_it = next.is_some() && self.rng.gen_bool(0.2);
        let mut ops = Vec::new();
        if drop_it {
            next = None;
        } else {
            let b = next.get_or_insert_with(BTreeMap::new);
            for _ in 0..self.rng.gen_range(1..=6) {
                let k = self.rng.gen_range(0..200);
                if self.rng.gen_bool(0.3) {
                    b.remove(&k);
                    ops.push((k, None));
                } else {
                    let v = self.rng.gen::<u64>() >> 8;
                    b.insert(k, v);
                    ops.push((k, Some(v)));
                }
            }
        }
        let count = next.as_ref().map_or(0, |b| b.len() as u64);
        db.update(|tx| {
            if drop_it {
                return tx.drop_bucket(&name);
            }
            let b = tx.create_bucket_if_missing(&name)?;
            for (k, v) in &ops {
                let kb = format!("{k:06}");
                match v {
                    Some(v) => b.put(kb, value(*v))?,
                    None => {
                        b.delete(kb)?;
                    }
                }
            }
            b.put("#", count.to_le_bytes())
        })
        .map_err(err)?;
        model.bucket = next;
        self.sh.stats.commits.fetch_add(1, Relaxed);
        let tx = self.snapshot(db)?;
        let u = self.rng.gen_range(0..self.sh.args.threads);
        let other = read_bucket(&tx, u)?;
        if let Some(b) = &other {
            let n = b.get(&u32::MAX).copied();
            let keys = b.keys().filter(|&&k| k != u32::MAX).count() as u64;
            if n != Some(keys) {
                return Err(format!("bucket {u}: '#' says {n:?}, {keys} keys"));
            }
        }
        let mine = read_bucket(&tx, self.t)?.map(|mut b| {
            b.remove(&u32::MAX);
            b
        });
        if mine != model.bucket {
            return Err(format!("own bucket differs from the model: {mine:?}"));
        }
        Ok(())
    }
}

/// Thread `u`'s bucket in `tx`: key number → value number, `#` under
/// `u32::MAX`; `None` if it does not exist.
fn read_bucket(tx: &ReadTxn, u: usize) -> std::result::Result<Option<BTreeMap<u32, u64>>, String> {
    let b = match tx.bucket(bucket_name(u)) {
        Ok(b) => b,
        Err(Error::BucketNotFound(_)) => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut out = BTreeMap::new();
    for e in b.iter() {
        let e = e.map_err(err)?;
        if e.key() == b"#" {
            let n = e.value().try_into().map(u64::from_le_bytes);
            out.insert(u32::MAX, n.map_err(|_| "malformed '#'")?);
        } else {
            let k = key_number(e.key()).ok_or("malformed bucket key")?;
            out.insert(k, parse_value(e.value()).ok_or("malformed value")?);
        }
    }
    Ok(Some(out))
}

/// The whole database against every thread's model.
fn compare_all(db: &Db, models: &[Model]) -> Res {
    let tx = db.begin_read().map_err(err)?;
    let mut want: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (t, m) in models.iter().enumerate() {
        for (k, v) in &m.keys {
            want.insert(key(t, *k), value(*v));
        }
        if m.seq > 0 {
            want.insert(summary_key(t), summary(m.seq, m.keys.len() as u64, m.sum()));
        }
        let got = read_bucket(&tx, t)?.map(|mut b| {
            b.remove(&u32::MAX);
            b
        });
        if got != m.bucket {
            return Err(format!("after reopen: bucket of thread {t} differs"));
        }
    }
    let got: BTreeMap<Vec<u8>, Vec<u8>> = tx
        .iter()
        .map(|e| e.map(|e| (e.key().to_vec(), e.value().to_vec())))
        .collect::<vellum::Result<_>>()
        .map_err(err)?;
    if got != want {
        let diff = want
            .iter()
            .find(|(k, v)| got.get(*k) != Some(v))
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned());
        return Err(format!(
            "after reopen: {} keys, model {}, first difference {diff:?}",
            got.len(),
            want.len()
        ));
    }
    let names = tx.bucket_names();
    let want_names = models.iter().filter(|m| m.bucket.is_some()).count();
    if names.len() != want_names {
        return Err(format!(
            "after reopen: {} buckets, model {want_names}",
            names.len()
        ));
    }
    Ok(())
}

fn open(path: &Path, args: &Args) -> vellum::Result<Db> {
    let d = if args.eventual {
        Durability::Eventual
    } else {
        Durability::Immediate
    };
    Options::new().durability(d).open(path)
}

/// Pauses every thread, closes and reopens the database, and compares it
/// with the models.
fn reopen(sh: &Shared, path: &Path) -> Res {
    let mut g = sh.db.write().unwrap();
    let db = g.take().expect("the database is open");
    db.close().map_err(|e| format!("close: {e}"))?;
    let db = open(path, &sh.args).map_err(|e| format!("reopen: {e}"))?;
    let report = db.check().map_err(err)?;
    let models: Vec<Model> = sh
        .models
        .iter()
        .map(|m| m.lock().unwrap().clone())
        .collect();
    let r = compare_all(&db, &models);
    *g = Some(db);
    sh.stats.ops[REOPEN].fetch_add(1, Relaxed);
    if !report.is_ok() {
        return Err(format!("check after reopen: {report}"));
    }
    r
}

/// Exits with status 1 on any anomaly (after the database is closed and a
/// temporary directory removed).
fn main() -> std::process::ExitCode {
    let args = Args::parse();
    assert!(
        args.threads > 0 && args.keys > 0,
        "threads and keys must be positive"
    );
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).expect("create --dir");
            d.clone()
        }
        None => {
            tmp = vellum_bench::temp_dir();
            tmp.path().to_path_buf()
        }
    };
    let path = dir.join("soak.vellum");
    let _ = std::fs::remove_file(&path);
    println!(
        "soak: {} s, {} threads, seed {}, {} keys a thread, reopen every {} s, {} durability, {}",
        args.secs,
        args.threads,
        args.seed,
        args.keys,
        args.reopen_every,
        if args.eventual {
            "eventual"
        } else {
            "immediate"
        },
        path.display()
    );
    let db = open(&path, &args).expect("open the database");
    let sh = Shared {
        db: RwLock::new(Some(db)),
        models: (0..args.threads).map(|_| Mutex::default()).collect(),
        stats: Stats::default(),
        stop: AtomicBool::new(false),
        args,
    };
    let start = Instant::now();
    let end = start + Duration::from_secs(sh.args.secs);
    std::thread::scope(|s| {
        for t in 0..sh.args.threads {
            let sh = &sh;
            s.spawn(move || {
                Worker {
                    t,
                    sh,
                    rng: StdRng::seed_from_u64(
                        sh.args.seed.wrapping_mul(1000).wrapping_add(t as u64),
                    ),
                    seen_seq: vec![0; sh.args.threads],
                    seen_txn: 0,
                }
                .run()
            });
        }
        let every = Duration::from_secs(sh.args.reopen_every);
        let mut next_reopen = start + every;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            if sh.args.reopen_every > 0 && Instant::now() >= next_reopen && Instant::now() < end {
                if let Err(e) = reopen(&sh, &path) {
                    sh.stats.anomaly(e);
                }
                next_reopen = Instant::now() + every;
            }
        }
        sh.stop.store(true, Relaxed);
    });
    let elapsed = start.elapsed().as_secs_f64();
    // A last reopen and full comparison after every thread stopped.
    if let Err(e) = reopen(&sh, &path) {
        sh.stats.anomaly(e);
    }
    let st = &sh.stats;
    println!("| kind | ops | ops/s |");
    println!("|---|---:|---:|");
    for (i, k) in KINDS.iter().enumerate() {
        let n = st.ops[i].load(Relaxed);
        println!("| {k} | {n} | {:.0} |", n as f64 / elapsed);
    }
    let db = sh.db.read().unwrap();
    let stats = db.as_ref().map(Db::stats);
    println!(
        "elapsed {elapsed:.1} s; commits {}; checkpoints {} (explicit); reopens {} (the last after the run); file {} pages",
        st.commits.load(Relaxed),
        st.ops[CHECKPOINT].load(Relaxed),
        st.ops[REOPEN].load(Relaxed),
        stats.map_or(0, |s| s.file_pages)
    );
    let anomalies = st.anomalies.load(Relaxed);
    println!("anomalies: {anomalies}");
    drop(db);
    if anomalies > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
