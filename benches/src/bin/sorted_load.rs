//! Sorted bulk load against the disk's sequential write speed.
//!
//! ```text
//! cargo run --release -p vellum-bench --bin sorted_load -- [--keys N] [--dir D]
//! ```
//!
//! Loads the same `N` entries (24-byte random keys, sorted; 150-byte
//! values) into a fresh database three ways, each one durable commit:
//! `load_sorted` at fill 1.0, `put_many` in key order and `put_many` in
//! random order. Then writes a file as large as the loaded database in
//! 1 MiB `write`s followed by one `fdatasync` (the disk's sequential write
//! time for those bytes) and prints a markdown table with each way's time
//! and its ratio to that.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::{RngCore, SeedableRng};
use vellum::{Db, Options};

#[derive(Parser)]
struct Args {
    /// Entries loaded.
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Directory for the databases (default: a temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Cache budget, MiB.
    #[arg(long, default_value_t = 1024)]
    cache_mb: usize,
    /// Run only the first way (`load_sorted`), e.g. under a profiler.
    #[arg(long)]
    only_load: bool,
}

type Entries = Vec<([u8; 24], [u8; 150])>;

/// One way to load the entries, by name.
type Way<'a> = (&'a str, &'a dyn Fn(&vellum::WriteTxn));

fn entries(n: usize) -> Entries {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut e: Entries = (0..n)
        .map(|_| {
            let (mut k, mut v) = ([0u8; 24], [0u8; 150]);
            rng.fill_bytes(&mut k);
            rng.fill_bytes(&mut v);
            (k, v)
        })
        .collect();
    e.sort_unstable_by_key(|a| a.0);
    e.dedup_by(|a, b| a.0 == b.0);
    e
}

fn open(path: &Path, cache_mb: usize) -> Db {
    Options::new()
        .cache_size(cache_mb << 20)
        .open(path)
        .expect("open")
}

/// What one way took.
struct Timing {
    /// The whole durable transaction.
    total: Duration,
    /// Of that, the commit.
    commit: Duration,
    /// The file's size after a close.
    size: u64,
}

/// Times one durable transaction doing `f`.
fn timed(path: &Path, cache_mb: usize, f: impl FnOnce(&vellum::WriteTxn)) -> Timing {
    let db = open(path, cache_mb);
    let t = Instant::now();
    let tx = db.begin_write().expect("begin");
    f(&tx);
    let c = Instant::now();
    tx.commit().expect("commit");
    let (total, commit) = (t.elapsed(), c.elapsed());
    db.close().expect("close");
    let size = std::fs::metadata(path).expect("stat").len();
    Timing {
        total,
        commit,
        size,
    }
}

/// Time to write `bytes` sequentially (1 MiB writes) and fdatasync them.
fn disk_sequential(dir: &Path, bytes: u64) -> Duration {
    let path = dir.join("sequential");
    let buf = vec![0x5au8; 1 << 20];
    let t = Instant::now();
    let mut f = std::fs::File::create(&path).expect("create");
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
    f.sync_data().expect("fdatasync");
    let took = t.elapsed();
    drop(f);
    let _ = std::fs::remove_file(&path);
    took
}

fn main() {
    let args = Args::parse();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let e = entries(args.keys);
    let live: u64 = e.len() as u64 * (24 + 150);
    let mut rows = Vec::new();
    let ways: [Way<'_>; 3] = [
        ("load_sorted, fill 1.0", &|tx| {
            tx.load_sorted(e.iter().map(|(k, v)| (k, v)), 1.0)
                .expect("load");
        }),
        ("put_many, key order", &|tx| {
            tx.put_many(e.iter().map(|(k, v)| (k, v))).expect("put");
        }),
        ("put_many, random order", &|tx| {
            let mut idx: Vec<usize> = (0..e.len()).collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            for i in (1..idx.len()).rev() {
                idx.swap(i, rng.next_u32() as usize % (i + 1));
            }
            tx.put_many(idx.iter().map(|&i| (&e[i].0, &e[i].1)))
                .expect("put");
        }),
    ];
    let n_ways = if args.only_load { 1 } else { ways.len() };
    for (i, (name, f)) in ways.iter().enumerate().take(n_ways) {
        let path = dir.join(format!("db{i}"));
        let t = timed(&path, args.cache_mb, f);
        let _ = std::fs::remove_file(&path);
        rows.push((name.to_string(), t));
    }
    let seq = disk_sequential(&dir, rows[0].1.size);
    println!(
        "{} entries, {:.1} MiB live; the disk writes the loaded file's {:.1} MiB sequentially in {:.2} s\n",
        e.len(),
        live as f64 / (1 << 20) as f64,
        rows[0].1.size as f64 / (1 << 20) as f64,
        seq.as_secs_f64()
    );
    println!(
        "| way | time (of which commit) | x the disk's sequential write | file (x live bytes) |"
    );
    println!("|---|---:|---:|---:|");
    for (name, t) in rows {
        println!(
            "| {name} | {:.2} s ({:.2} s) | {:.2}x | {:.1} MiB ({:.2}x) |",
            t.total.as_secs_f64(),
            t.commit.as_secs_f64(),
            t.total.as_secs_f64() / seq.as_secs_f64(),
            t.size as f64 / (1 << 20) as f64,
            t.size as f64 / live as f64
        );
    }
}
