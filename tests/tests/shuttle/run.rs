//! One seed: a database on the simulated disk, committers, readers and a
//! checkpointer interleaved by the seed's scheduler, the disk powered off
//! at the seed's point, the crash resolved, the database reopened and the
//! history checked (`history.rs`).

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex as StdMutex};

use vellum::sync::planted::{self, Bug};
use vellum::{Db, Durability, Options};
use vellum_sim::{FaultConfig, InjectedError, OpKind, SimVfs};

use crate::history::{History, Read, State, Uid, Write};
use crate::sched::{Mode, Rng, SeedScheduler};
use crate::vfs::YieldVfs;

/// The data keys commits write and readers read: between filler keys, so
/// that they lie in different leaves and a commit rewrites only some of
/// the pages a snapshot reads.
const KEYS: [&[u8]; 4] = [b"f005k", b"f017k", b"f029k", b"f041k"];
/// Keys written once at setup so the tree has several pages.
const FILLER: usize = 48;

/// What a seed runs.
#[derive(Clone, Debug)]
pub struct Params {
    /// Committer threads and the commits of each.
    pub commits: Vec<u64>,
    /// Reader threads and the read transactions of each.
    pub reads: Vec<u64>,
    /// Checkpoints the checkpoint thread runs.
    pub checkpoints: u64,
    /// Power off after this many disk operations of the concurrent phase
    /// (otherwise at its end).
    pub crash_after: Option<u64>,
    /// Pages the page cache holds (0: no cache, every read goes to the
    /// disk, so a page reused under a reader is seen at once).
    pub cache_pages: usize,
    /// Pages of the log (4: a commit finds it full every few commits and
    /// commits by checkpoint).
    pub log_pages: u64,
    /// Reported disk errors (EIO on reads, writes and syncs, ENOSPC) at
    /// a few percent of operations, on top of the power loss.
    pub faults: bool,
    /// Fail the `n`th sync of the concurrent phase with EIO (it loses
    /// what it covered), whatever the rates.
    pub fail_sync: Option<u64>,
    /// How the scheduler chooses.
    pub mode: Mode,
}

impl Params {
    /// The parameters of `seed`.
    pub fn of(seed: u64) -> Params {
        let mut r = Rng::new(seed, 0);
        let commits = (0..r.range(2, 4)).map(|_| r.range(2, 4)).collect();
        let reads = (0..r.range(1, 3)).map(|_| r.range(3, 6)).collect();
        let checkpoints = r.range(1, 4);
        let crash_after = (!r.chance(1, 5)).then(|| r.range(0, 100));
        let cache_pages = [0, 4, 16][r.range(0, 2) as usize];
        let log_pages = [4, 16][r.range(0, 1) as usize];
        let faults = r.chance(1, 3);
        let mode = match seed % 5 {
            0 => Mode::Pct(3),
            1 | 3 => Mode::Delay,
            2 => Mode::Pct(10),
            _ => Mode::Random,
        };
        Params {
            commits,
            reads,
            checkpoints,
            crash_after,
            cache_pages,
            log_pages,
            faults,
            fail_sync: None,
            mode,
        }
    }
}

/// What a passing seed did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Commits acknowledged, read transactions completed, errors seen.
    pub counts: [u64; 3],
    /// The commit the recovered state ends with, and how many commits
    /// that is.
    pub recovered: (Uid, usize),
    /// Context switches of the execution.
    pub steps: usize,
    /// Disk operations of the concurrent phase.
    pub ops: u64,
    /// The disk's trace hash at the end (equal for equal executions).
    pub trace: u64,
}

/// Runs `seed` with `bug` planted (or none): `Err` describes the first
/// violation (or panic) found.
pub fn run_seed(seed: u64, bug: Option<Bug>) -> Result<Summary, String> {
    run_params(seed, Params::of(seed), bug)
}

/// Runs `seed` with parameters `params` instead of its own.
pub fn run_params(seed: u64, params: Params, bug: Option<Bug>) -> Result<Summary, String> {
    let out = Arc::new(StdMutex::new(None));
    let mut config = shuttle::Config::new();
    config.stack_size = 1 << 20;
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.silence_warnings = true;
    let scheduler = SeedScheduler::new(seed, params.mode, 3000);
    let runner = shuttle::Runner::new(scheduler, config);
    let o = out.clone();
    planted::plant(bug);
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runner.run(move || {
            let s = execute(seed, &params);
            *o.lock().unwrap() = Some(s);
        })
    }));
    planted::plant(None);
    match r {
        Ok(_) => Ok(out.lock().unwrap().take().expect("the execution ran")),
        Err(e) => Err(panic_message(&e)),
    }
}

fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "a panic without a message".into()
    }
}

fn options(sim: &SimVfs, p: &Params) -> Options {
    // A cache frame costs a page plus its decoded node (about 1.5 KiB).
    Options::new()
        .vfs(Arc::new(YieldVfs(sim.clone())))
        .page_size(1024)
        .cache_size(p.cache_pages * 1536)
        .max_log_size(p.log_pages * 1024)
        .durability(Durability::Immediate)
}

fn filler(i: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("f{i:03}").into_bytes(),
        format!("filler value {i:03} ....................").into_bytes(),
    )
}

fn get(tx_get: vellum::Result<Option<vellum::ValueRef<'_>>>) -> vellum::Result<Option<Vec<u8>>> {
    Ok(tx_get?.map(|v| v.to_vec()))
}

fn parse_seq(v: Option<Vec<u8>>) -> Uid {
    let v = v.expect("seq is always set");
    String::from_utf8(v).unwrap().parse().unwrap()
}

/// The body of one shuttle execution; panics on a violation.
fn execute(seed: u64, p: &Params) -> Summary {
    let sim = SimVfs::new(seed, FaultConfig::torn());
    let path = Path::new("/db/shuttle.vellum");
    let db = options(&sim, p).open(path).expect("create");
    let mut initial = State::new();
    db.update(|tx| {
        for i in 0..FILLER {
            let (k, v) = filler(i);
            tx.put(k, v)?;
        }
        for k in KEYS {
            tx.put(k, b"init")?;
            initial.insert(k.to_vec(), b"init".to_vec());
        }
        tx.put(b"seq", b"0")
    })
    .expect("setup");
    db.checkpoint().expect("setup checkpoint");
    let ops_at_start = sim.stats().ops;
    if p.faults {
        sim.set_config(FaultConfig {
            read_eio: 0.01,
            write_eio: 0.02,
            sync_eio: 0.05,
            write_enospc: 0.01,
            set_len_enospc: 0.02,
            ..FaultConfig::torn()
        });
    }
    if let Some(n) = p.crash_after {
        sim.schedule_crash_after(n);
    }
    if let Some(n) = p.fail_sync {
        sim.fail_nth(OpKind::Sync, n, InjectedError::Eio);
    }
    let faults = p.faults || p.fail_sync.is_some();
    let hist = Arc::new(StdMutex::new(History::new(faults)));
    let mut threads = Vec::new();
    for (c, &n) in p.commits.iter().enumerate() {
        let (db, sim, hist) = (db.clone(), sim.clone(), hist.clone());
        threads.push(shuttle::thread::spawn(move || {
            committer(seed, c, n, &db, &sim, &hist)
        }));
    }
    for (r, &n) in p.reads.iter().enumerate() {
        let (db, sim, hist) = (db.clone(), sim.clone(), hist.clone());
        threads.push(shuttle::thread::spawn(move || {
            reader(r, n, &db, &sim, &hist)
        }));
    }
    {
        let (db, sim, hist, n) = (db.clone(), sim.clone(), hist.clone(), p.checkpoints);
        threads.push(shuttle::thread::spawn(move || {
            for _ in 0..n {
                shuttle::thread::yield_now();
                if let Err(e) = db.checkpoint() {
                    let off = sim.is_powered_off();
                    hist.lock().unwrap().error("checkpoint", &e, off);
                    break;
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("a thread panicked");
    }
    let ops = sim.stats().ops - ops_at_start;
    // Power off (if the countdown has not), resolve the crash, reopen
    // (without reported errors: recovery under them is the simulator's).
    sim.schedule_crash_after(0);
    sim.set_config(FaultConfig::torn());
    sim.clear_scheduled_errors();
    drop(db);
    sim.crash();
    let db = options(&sim, p).open(path).expect("reopen after the crash");
    let (seq, recovered) = db
        .view(|tx| {
            let seq = parse_seq(get(tx.get(b"seq"))?);
            let mut s = State::new();
            for k in KEYS {
                if let Some(v) = get(tx.get(k))? {
                    s.insert(k.to_vec(), v);
                }
            }
            for i in 0..FILLER {
                let (k, v) = filler(i);
                assert_eq!(get(tx.get(&k))?, Some(v), "filler key {i} after recovery");
            }
            Ok((seq, s))
        })
        .expect("read the recovered state");
    let report = db.check().expect("check");
    assert!(
        report.is_ok(),
        "seed {seed}: integrity check failed: {report}"
    );
    drop(db);
    let hist = hist.lock().unwrap();
    if let Err(e) = hist.check(&initial, seq, &recovered) {
        if std::env::var_os("SHUTTLE_VERBOSE").is_some() {
            eprintln!("history:\n{}", hist.describe());
            for f in sim.injected_faults() {
                eprintln!("disk: {f:?}");
            }
        }
        panic!("seed {seed}: {e}");
    }
    Summary {
        counts: hist.counts,
        recovered: (seq, hist.chain(seq).map_or(0, |c| c.len())),
        steps: shuttle::current::context_switches(),
        ops,
        trace: sim.trace_hash(),
    }
}

fn committer(seed: u64, c: usize, n: u64, db: &Db, sim: &SimVfs, hist: &StdMutex<History>) {
    let mut rng = Rng::new(seed, 100 + c as u64);
    for i in 0..n {
        let uid = (c as u64 + 1) * 100 + i;
        // Decided before the transaction, so the same for every schedule.
        let ops = if rng.chance(1, 3) { 1 } else { rng.range(2, 3) };
        let writes: Vec<Write> = (0..ops)
            .map(|j| {
                let k = KEYS[rng.range(0, KEYS.len() as u64 - 1) as usize].to_vec();
                let v = (!rng.chance(1, 5)).then(|| format!("v{uid}.{j}").into_bytes());
                (k, v)
            })
            .collect();
        let invoked = hist.lock().unwrap().now();
        let mut attempted = false;
        let r = (|| -> vellum::Result<()> {
            let tx = db.begin_write()?;
            let prev = parse_seq(get(tx.get(b"seq"))?);
            for (k, v) in &writes {
                match v {
                    Some(v) => tx.put(k, v)?,
                    None => {
                        tx.delete(k)?;
                    }
                }
            }
            tx.put(b"seq", uid.to_string())?;
            hist.lock()
                .unwrap()
                .attempt(uid, prev, invoked, writes.clone());
            attempted = true;
            tx.commit()
        })();
        let off = sim.is_powered_off();
        let mut h = hist.lock().unwrap();
        if attempted {
            h.returned(uid, r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
        if let Err(e) = r {
            h.error("commit", &e, off);
            return;
        }
    }
}

fn reader(r: usize, n: u64, db: &Db, sim: &SimVfs, hist: &StdMutex<History>) {
    for _ in 0..n {
        let invoked = hist.lock().unwrap().now();
        let res = (|| -> vellum::Result<Read> {
            let tx = db.begin_read()?;
            let seq = parse_seq(get(tx.get(b"seq"))?);
            // Two passes over the keys, the snapshot held across
            // scheduling points (and checkpoints, commits) in between.
            let mut values = Vec::new();
            for _ in 0..2 {
                shuttle::thread::yield_now();
                for k in KEYS {
                    values.push((k.to_vec(), get(tx.get(k))?));
                }
            }
            let (k, v) = filler(r * 7 % FILLER);
            if get(tx.get(&k))? != Some(v) {
                return Err(vellum::Error::Corruption {
                    page: 0,
                    reason: "a filler key changed".into(),
                });
            }
            Ok(Read {
                reader: r,
                invoked,
                seq,
                values,
            })
        })();
        let off = sim.is_powered_off();
        let mut h = hist.lock().unwrap();
        match res {
            Ok(read) => h.read(read),
            Err(e) => {
                h.error("read", &e, off);
                return;
            }
        }
    }
}
