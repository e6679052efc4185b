//! Runs the SPEC §5 rows that vellum can run alone, at a configurable scale,
//! and prints a markdown table with absolute figures and ratios to this
//! machine's `fdatasync` rate, measured in the same run on the same file
//! system. The durable single-put rows run in rounds interleaved with short
//! fsync baselines and report the median per-round ratio, because a shared
//! disk's rate drifts several-fold within seconds.
//!
//! ```text
//! cargo run --release -p vellum-bench --bin perf_report -- [--keys N] [--reads N]
//!     [--thread-commits N] [--cache-mb N]
//! ```
//! Every flag can also be given as an environment variable:
//! `VELLUM_BENCH_KEYS` (default 200000; SPEC's scale is 1000000),
//! `VELLUM_BENCH_READS` (point reads per thread, default 500000),
//! `VELLUM_BENCH_THREAD_COMMITS` (commits per thread in the 16-thread row,
//! default 100), `VELLUM_BENCH_CACHE_MB` (page cache, default 64, the engine
//! default). Databases go to a temporary directory under `$VELLUM_BENCH_DIR`
//! (default: the system temp dir).

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use vellum::{Db, Durability, Options};
use vellum_bench::{
    current_rss, fdatasync_rate, filesystem_of, fmt_duration, fmt_int, fmt_mib, fmt_rate, peak_rss,
    random_key, random_pair, random_pairs, rng, sequential_write_bandwidth, temp_dir, Key, Rate,
    SyncPattern, SyncProbe, KEY_LEN, VALUE_LEN,
};

const THREADS: usize = 16;
const SINGLE_COMMITS: usize = 1000;
const BATCH_COMMITS: usize = 100;
const BATCH_SIZE: usize = 1000;
const EVENTUAL_COMMITS: usize = 10_000;
const DELETE_CHUNK: usize = 10_000;
const CRASH_COMMITS: usize = 1000;
const ROUNDS: usize = 5;

struct Config {
    keys: usize,
    reads: usize,
    thread_commits: usize,
    cache_mb: usize,
}

fn arg_or_env(args: &[String], flag: &str, env: &str, default: usize) -> usize {
    let from_args = args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned();
    let from_env = std::env::var(env).ok();
    match from_args.or(from_env) {
        Some(s) => s
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{flag} / {env}: not a number: {s}")),
        None => default,
    }
}

impl Config {
    fn from_env(args: &[String]) -> Config {
        Config {
            keys: arg_or_env(args, "--keys", "VELLUM_BENCH_KEYS", 200_000),
            reads: arg_or_env(args, "--reads", "VELLUM_BENCH_READS", 500_000),
            thread_commits: arg_or_env(
                args,
                "--thread-commits",
                "VELLUM_BENCH_THREAD_COMMITS",
                100,
            ),
            cache_mb: arg_or_env(args, "--cache-mb", "VELLUM_BENCH_CACHE_MB", 64),
        }
    }

    fn options(&self) -> Options {
        Options::new().cache_size(self.cache_mb << 20)
    }
}

/// One line of the report.
struct Row {
    workload: String,
    measured: String,
    ratio: String,
    target: &'static str,
}

struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(
        &mut self,
        workload: impl Into<String>,
        measured: String,
        ratio: String,
        target: &'static str,
    ) {
        let r = Row {
            workload: workload.into(),
            measured,
            ratio,
            target,
        };
        eprintln!("  -> {}: {} ({})", r.workload, r.measured, r.ratio);
        self.rows.push(r);
    }

    fn note(&mut self, s: String) {
        eprintln!("  note: {s}");
        self.notes.push(s);
    }
}

/// Latency percentiles of a set of operations.
fn latencies(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return String::new();
    }
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {}, p99 {}, max {}",
        fmt_duration(at(0.5)),
        fmt_duration(at(0.99)),
        fmt_duration(*v.last().expect("non-empty"))
    )
}

fn progress(s: &str) {
    eprintln!("[perf_report] {s}");
}

/// Commits `n` single random puts, one per transaction; returns the rate and
/// each commit's latency.
fn single_puts(db: &Db, n: usize, seed: u64) -> (Rate, Vec<Duration>) {
    let mut r = rng(seed);
    let pairs: Vec<_> = (0..n).map(|_| random_pair(&mut r)).collect();
    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for (k, v) in &pairs {
        let t = Instant::now();
        db.update(|tx| tx.put(k, v)).expect("single-put commit");
        lat.push(t.elapsed());
    }
    (
        Rate {
            ops: n as u64,
            elapsed: start.elapsed(),
        },
        lat,
    )
}

/// Point reads of random loaded keys on `threads` threads, each with its
/// own read transaction; returns the total rate.
fn point_reads(db: &Db, keys: &Arc<Vec<Key>>, threads: usize, reads: usize) -> Rate {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            let keys = keys.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut r = rng(1000 + t as u64);
                let idx: Vec<usize> = (0..reads)
                    .map(|_| (rand::RngCore::next_u64(&mut r) % keys.len() as u64) as usize)
                    .collect();
                barrier.wait();
                let tx = db.begin_read().expect("begin_read");
                let mut bytes = 0usize;
                for i in idx {
                    let v = tx
                        .get(keys[i])
                        .expect("get")
                        .expect("loaded key is present");
                    bytes += v.len();
                }
                assert_eq!(bytes, reads * VALUE_LEN);
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().expect("reader thread");
    }
    Rate {
        ops: (threads * reads) as u64,
        elapsed: start.elapsed(),
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn ratio(x: f64) -> String {
    format!("{x:.2}x")
}

/// The child side of the crash-recovery row: commits and exits without
/// closing (no destructors run, so no checkpoint: the log must be replayed).
fn crash_child(path: &str, commits: usize) -> ! {
    let db = Options::new().open(path).expect("open in child");
    let mut r = rng(99);
    for _ in 0..commits {
        let (k, v) = random_pair(&mut r);
        db.update(|tx| tx.put(k, v)).expect("child commit");
    }
    std::process::exit(0);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--crash-child") {
        crash_child(&args[i + 1], args[i + 2].parse().expect("commit count"));
    }
    let cfg = Config::from_env(&args);
    let run_start = Instant::now();
    let load_start = load_average();
    let dir = temp_dir();
    let path = dir.path().join("bench.vellum");
    let fs = filesystem_of(dir.path());
    let mut rep = Report {
        rows: Vec::new(),
        notes: Vec::new(),
    };
    progress(&format!(
        "keys {}, reads/thread {}, 16-thread commits/thread {}, cache {} MiB, dir {} ({fs})",
        cfg.keys,
        cfg.reads,
        cfg.thread_commits,
        cfg.cache_mb,
        dir.path().display()
    ));
    let entry = (KEY_LEN + VALUE_LEN) as u64;

    // Machine limits.
    progress("fsync baseline (before)");
    let budget = Duration::from_millis(1500);
    let base_before = fdatasync_rate(dir.path(), SyncPattern::Overwrite, budget).expect("fsync");
    let base_seq =
        fdatasync_rate(dir.path(), SyncPattern::OverwriteSequential, budget).expect("fsync");
    let bandwidth = sequential_write_bandwidth(dir.path(), 128 << 20).expect("bandwidth");

    let pairs = Arc::new(random_pairs(cfg.keys, 1));
    let keys: Arc<Vec<Key>> = Arc::new(pairs.iter().map(|(k, _)| *k).collect());
    let rss_before_db = current_rss().unwrap_or(0);

    // Bulk load.
    progress("bulk load");
    let db = cfg.options().open(&path).expect("open");
    let start = Instant::now();
    db.update(|tx| {
        for (k, v) in pairs.iter() {
            tx.put(k, v)?;
        }
        Ok::<_, vellum::Error>(())
    })
    .expect("bulk load");
    let load = start.elapsed();
    let start = Instant::now();
    db.checkpoint().expect("checkpoint after load");
    let ckpt = start.elapsed();
    let live = cfg.keys as u64 * entry;
    rep.row(
        format!(
            "bulk load of {} random keys in one txn",
            fmt_int(cfg.keys as u64)
        ),
        format!(
            "{} ({}); then checkpoint {}",
            fmt_duration(load),
            fmt_rate(cfg.keys as f64 / load.as_secs_f64()),
            fmt_duration(ckpt)
        ),
        format!(
            "{:.1}x the time to write the live bytes sequentially ({:.0} MiB/s)",
            load.as_secs_f64() / (live as f64 / bandwidth),
            bandwidth / 1048576.0
        ),
        "<= LMDB (2.5-3.0 s for 1M)",
    );
    let after_load = file_len(&path);
    rep.row(
        "file size after load",
        format!("{} (live {})", fmt_mib(after_load), fmt_mib(live)),
        format!("{:.2}x live bytes", after_load as f64 / live as f64),
        "<= 1.3x live bytes",
    );

    // Durable single puts, single-threaded and on 16 threads. Each
    // single-threaded commit alternates with raw fdatasyncs so that the
    // ratio compares operations made under the same disk conditions (the
    // shared disk's rate drifts several-fold within seconds); each round's
    // 16-thread run is compared to the same round's single-thread run.
    progress(&format!(
        "{SINGLE_COMMITS} durable single-put commits (each after one raw in-place and one raw \
         sparse-region fdatasync) and {THREADS} threads x {} commits, in {ROUNDS} rounds",
        cfg.thread_commits
    ));
    let per_thread = cfg.thread_commits.div_ceil(ROUNDS);
    let (mut single_ops, mut single_time, mut lat) = (0u64, Duration::ZERO, Vec::new());
    let (mut multi_ops, mut multi_time, mut mt_lat) = (0u64, Duration::ZERO, Vec::new());
    let (mut base_ops, mut base_time) = (0u64, Duration::ZERO);
    let (mut sparse_ops, mut sparse_time) = (0u64, Duration::ZERO);
    let mut single_vs_base = Vec::new();
    let mut single_vs_sparse = Vec::new();
    let mut multi_vs_single = Vec::new();
    let mut in_place = SyncProbe::new(dir.path(), SyncPattern::Overwrite).expect("probe");
    let mut sparse = SyncProbe::new(dir.path(), SyncPattern::SparseFill).expect("probe");
    for round in 0..ROUNDS {
        // One raw in-place sync, one raw sparse-region sync, one vellum
        // commit, in turn: the three see the same disk conditions.
        let n = SINGLE_COMMITS / ROUNDS;
        let mut r = rng(2 + 1000 * round as u64);
        let (mut t_base, mut t_sparse, mut t_single) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..n {
            t_base += in_place.step().expect("fsync");
            t_sparse += sparse.step().expect("fsync");
            let (k, v) = random_pair(&mut r);
            let t = Instant::now();
            db.update(|tx| tx.put(k, v)).expect("single-put commit");
            let d = t.elapsed();
            lat.push(d);
            t_single += d;
        }
        let single = Rate {
            ops: n as u64,
            elapsed: t_single,
        };
        let b1 = Rate {
            ops: n as u64,
            elapsed: t_base,
        };
        let sp = Rate {
            ops: n as u64,
            elapsed: t_sparse,
        };
        let barrier = Arc::new(Barrier::new(THREADS + 1));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let db = db.clone();
                let barrier = barrier.clone();
                let seed = 200 + t as u64 + 1000 * round as u64;
                thread::spawn(move || {
                    barrier.wait();
                    single_puts(&db, per_thread, seed).1
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            mt_lat.extend(h.join().expect("writer thread"));
        }
        let multi = Rate {
            ops: (THREADS * per_thread) as u64,
            elapsed: start.elapsed(),
        };
        let base = b1.per_sec();
        eprintln!(
            "  round {round}: fsync in place {} (sparse {}), single {}, {THREADS} threads {}",
            fmt_rate(b1.per_sec()),
            fmt_rate(sp.per_sec()),
            fmt_rate(single.per_sec()),
            fmt_rate(multi.per_sec())
        );
        single_vs_base.push(single.per_sec() / base);
        single_vs_sparse.push(single.per_sec() / sp.per_sec());
        multi_vs_single.push(multi.per_sec() / single.per_sec());
        single_ops += single.ops;
        single_time += single.elapsed;
        multi_ops += multi.ops;
        multi_time += multi.elapsed;
        base_ops += b1.ops;
        base_time += b1.elapsed;
        sparse_ops += sp.ops;
        sparse_time += sp.elapsed;
    }
    let single = Rate {
        ops: single_ops,
        elapsed: single_time,
    };
    let multi = Rate {
        ops: multi_ops,
        elapsed: multi_time,
    };
    let rounds_base = Rate {
        ops: base_ops,
        elapsed: base_time,
    };
    let rounds_sparse = Rate {
        ops: sparse_ops,
        elapsed: sparse_time,
    };
    progress("fsync baseline (after)");
    let base_after = fdatasync_rate(dir.path(), SyncPattern::Overwrite, budget).expect("fsync");
    let baseline = (base_before.per_sec() + rounds_base.per_sec() + base_after.per_sec()) / 3.0;
    rep.row(
        "fdatasync baseline (pwrite 4 KiB in place + fdatasync)",
        format!(
            "{} before, {} interleaved with the single-put commits, {} after (mean {}); \
             next 4 KiB of a written region {}; of a sparse region {} (interleaved)",
            fmt_rate(base_before.per_sec()),
            fmt_rate(rounds_base.per_sec()),
            fmt_rate(base_after.per_sec()),
            fmt_rate(baseline),
            fmt_rate(base_seq.per_sec()),
            fmt_rate(rounds_sparse.per_sec())
        ),
        "1.00x".into(),
        "",
    );
    rep.row(
        format!("{} durable single-put commits", fmt_int(single.ops)),
        format!(
            "{} in {} ({})",
            fmt_rate(single.per_sec()),
            fmt_duration(single.elapsed),
            latencies(lat)
        ),
        format!(
            "median per round {} the interleaved in-place fdatasync rate (rounds: {}); \
             {} the interleaved sparse-region rate",
            ratio(median(&single_vs_base)),
            list(&single_vs_base),
            ratio(median(&single_vs_sparse))
        ),
        ">= 0.9x the fdatasync rate",
    );
    rep.row(
        format!("{THREADS} threads x {per_thread} x {ROUNDS} durable single-put commits"),
        format!(
            "{} total ({} commits in {}; {})",
            fmt_rate(multi.per_sec()),
            fmt_int(multi.ops),
            fmt_duration(multi.elapsed),
            latencies(mt_lat)
        ),
        format!(
            "median per round {} the single-thread rate (rounds: {}); overall {} the in-place fdatasync rate",
            ratio(median(&multi_vs_single)),
            list(&multi_vs_single),
            ratio(multi.per_sec() / rounds_base.per_sec())
        ),
        ">= 4x vellum's single-thread rate",
    );

    // Batches.
    progress("100 durable commits of 1,000 random puts");
    let mut r = rng(3);
    let batches: Vec<Vec<_>> = (0..BATCH_COMMITS)
        .map(|_| (0..BATCH_SIZE).map(|_| random_pair(&mut r)).collect())
        .collect();
    let mut lat = Vec::new();
    let start = Instant::now();
    for b in &batches {
        let t = Instant::now();
        db.update(|tx| {
            for (k, v) in b {
                tx.put(k, v)?;
            }
            Ok::<_, vellum::Error>(())
        })
        .expect("batch commit");
        lat.push(t.elapsed());
    }
    let batch = start.elapsed();
    let floor = BATCH_COMMITS as f64 / baseline;
    rep.row(
        "100 durable commits of 1,000 random puts",
        format!(
            "{} ({} puts; per commit {})",
            fmt_duration(batch),
            fmt_rate((BATCH_COMMITS * BATCH_SIZE) as f64 / batch.as_secs_f64()),
            latencies(lat)
        ),
        format!(
            "{:.1}x the time of 100 fdatasyncs ({:.2} s)",
            batch.as_secs_f64() / floor,
            floor
        ),
        "within 1.5x of fjall (fjall 0.35 s for 1M keys)",
    );

    // Eventual commits (not a SPEC row; shows the cost without the sync).
    progress("Eventual single-put commits");
    let start = Instant::now();
    drop(db);
    let close_after_writes = start.elapsed();
    let edb = cfg
        .options()
        .durability(Durability::Eventual)
        .open(&path)
        .expect("reopen eventual");
    let (eventual, lat) = single_puts(&edb, EVENTUAL_COMMITS, 4);
    let start = Instant::now();
    edb.sync().expect("sync");
    let sync = start.elapsed();
    rep.row(
        format!(
            "{} Eventual single-put commits (not a SPEC row)",
            fmt_int(EVENTUAL_COMMITS as u64)
        ),
        format!(
            "{} ({}); final Db::sync {}",
            fmt_rate(eventual.per_sec()),
            latencies(lat),
            fmt_duration(sync)
        ),
        format!(
            "{} the fdatasync rate",
            ratio(eventual.per_sec() / baseline)
        ),
        "",
    );
    drop(edb);
    let db = cfg.options().open(&path).expect("reopen");

    // Reads.
    progress("random point reads");
    let r1 = point_reads(&db, &keys, 1, cfg.reads);
    let r2 = point_reads(&db, &keys, 2, cfg.reads);
    rep.row(
        "random point reads, 1 thread",
        format!(
            "{} ({:.2} µs/get)",
            fmt_rate(r1.per_sec()),
            r1.micros_per_op()
        ),
        String::new(),
        ">= LMDB (700k/s)",
    );
    rep.row(
        "random point reads, 2 threads",
        fmt_rate(r2.per_sec()),
        format!("{} the 1-thread rate", ratio(r2.per_sec() / r1.per_sec())),
        ">= LMDB (1.4M/s)",
    );

    progress("range scans of 10");
    let scans = (cfg.reads / 2).max(1);
    let mut r = rng(5);
    let starts: Vec<Key> = (0..scans).map(|_| random_key(&mut r)).collect();
    let tx = db.begin_read().expect("begin_read");
    let start = Instant::now();
    let mut got = 0usize;
    for s in &starts {
        for e in tx.range(&s[..]..).take(10) {
            let e = e.expect("scan entry");
            got += e.key().len() + e.value().len();
        }
    }
    let scan = Rate {
        ops: scans as u64,
        elapsed: start.elapsed(),
    };
    drop(tx);
    assert!(got > 0);
    rep.row(
        "range scans of 10 entries (random start), 1 thread",
        format!(
            "{} scans ({} entries)",
            fmt_rate(scan.per_sec()),
            fmt_rate(scan.per_sec() * 10.0)
        ),
        String::new(),
        ">= LMDB (345k/s)",
    );

    // Delete half.
    progress("delete half the loaded keys, 10,000 per commit");
    let half = cfg.keys / 2;
    let mut lat = Vec::new();
    let start = Instant::now();
    for chunk in keys[..half].chunks(DELETE_CHUNK) {
        let t = Instant::now();
        db.update(|tx| {
            for k in chunk {
                assert!(tx.delete(k)?, "loaded key is present");
            }
            Ok::<_, vellum::Error>(())
        })
        .expect("delete commit");
        lat.push(t.elapsed());
    }
    let del = start.elapsed();
    let commits = half.div_ceil(DELETE_CHUNK);
    rep.row(
        format!(
            "delete half ({} keys), 10,000 per commit ({commits} commits)",
            fmt_int(half as u64)
        ),
        format!(
            "{} ({} deletes; per commit {})",
            fmt_duration(del),
            fmt_rate(half as f64 / del.as_secs_f64()),
            latencies(lat)
        ),
        format!(
            "{:.1}x the time of {commits} fdatasyncs",
            del.as_secs_f64() * baseline / commits as f64
        ),
        "within 1.5x of RocksDB (2.1 s for 1M)",
    );
    db.checkpoint().expect("checkpoint after delete");
    let live_keys = db.begin_read().expect("begin_read").len();
    let live_after = live_keys * entry;
    let after_delete = file_len(&path);
    rep.row(
        "file size after deleting half (+ checkpoint; no compaction API)",
        format!(
            "{} ({} keys, live {})",
            fmt_mib(after_delete),
            fmt_int(live_keys),
            fmt_mib(live_after)
        ),
        format!("{:.2}x live bytes", after_delete as f64 / live_after as f64),
        "<= 1.1x live after compaction",
    );

    // Reopen after clean close.
    progress("reopen after clean close");
    let start = Instant::now();
    db.close().expect("close");
    let close = start.elapsed();
    let mut opens = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let db = cfg.options().open(&path).expect("reopen");
        opens.push(start.elapsed());
        let start = Instant::now();
        let tx = db.begin_read().expect("read");
        let found = tx.get(keys[half]).expect("get").is_some();
        let first_get = start.elapsed();
        drop(tx);
        assert!(found);
        if opens.len() == 1 {
            rep.note(format!(
                "first get after reopen: {} (cold page cache of the handle)",
                fmt_duration(first_get)
            ));
        }
        drop(db);
    }
    opens.sort();
    rep.row(
        "reopen after clean close",
        format!(
            "median {} (min {}, max {} over 5); close itself {}",
            fmt_duration(opens[2]),
            fmt_duration(opens[0]),
            fmt_duration(opens[4]),
            fmt_duration(close)
        ),
        String::new(),
        "under 2 ms",
    );

    // Reopen after a crash: a child process commits and exits without
    // closing, so its records are replayed.
    progress("reopen after crash");
    let exe = std::env::current_exe().expect("current exe");
    let status = Command::new(exe)
        .arg("--crash-child")
        .arg(&path)
        .arg(CRASH_COMMITS.to_string())
        .status()
        .expect("spawn crash child");
    assert!(status.success(), "crash child failed: {status}");
    let start = Instant::now();
    let db = cfg.options().open(&path).expect("reopen after crash");
    let reopen = start.elapsed();
    let mut r = rng(99);
    let tx = db.begin_read().expect("begin_read");
    let present = (0..CRASH_COMMITS)
        .filter(|_| {
            let (k, v) = random_pair(&mut r);
            tx.get(k).expect("get").as_deref() == Some(&v[..])
        })
        .count();
    drop(tx);
    if present != CRASH_COMMITS {
        rep.note(format!(
            "ERROR: only {present} of {CRASH_COMMITS} acknowledged durable commits survived the crash"
        ));
    }
    rep.row(
        format!(
            "reopen after crash ({} unclosed commits)",
            fmt_int(CRASH_COMMITS as u64)
        ),
        format!(
            "{} ({} records replayed; the other commits went by checkpoint (a session's \
             first commit, a full log); {present}/{CRASH_COMMITS} commits present)",
            fmt_duration(reopen),
            fmt_int(db.replayed_on_open())
        ),
        String::new(),
        "bounded by the last transactions, not the file",
    );
    drop(db);

    if let Some(peak) = peak_rss() {
        rep.row(
            "peak memory (process VmHWM)",
            format!(
                "{} total; {} above the RSS before opening (the benchmark's own keys/values ~{})",
                fmt_mib(peak),
                fmt_mib(peak.saturating_sub(rss_before_db)),
                fmt_mib(cfg.keys as u64 * entry)
            ),
            format!("cache {} MiB", cfg.cache_mb),
            "<= configured cache + 32 MiB",
        );
    }
    if close_after_writes > Duration::from_millis(100) {
        rep.note(format!(
            "dropping the handle after the write rows (checkpoint on close) took {}",
            fmt_duration(close_after_writes)
        ));
    }

    let load_end = load_average();
    println!();
    println!(
        "vellum perf report: {} keys ({} B keys, {} B values), cache {} MiB, {} ({fs}), {} cores",
        fmt_int(cfg.keys as u64),
        KEY_LEN,
        VALUE_LEN,
        cfg.cache_mb,
        dir.path().display(),
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "load average (1/5/15 min) at start {load_start}, at end {load_end}; total run {}",
        fmt_duration(run_start.elapsed())
    );
    println!();
    println!("| workload | vellum | ratio | SPEC target |");
    println!("|---|---|---|---|");
    for r in &rep.rows {
        println!(
            "| {} | {} | {} | {} |",
            r.workload, r.measured, r.ratio, r.target
        );
    }
    if !rep.notes.is_empty() {
        println!();
        for n in &rep.notes {
            println!("- {n}");
        }
    }
}
