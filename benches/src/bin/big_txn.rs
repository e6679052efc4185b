//! One large write transaction, and the memory it takes.
//!
//! ```text
//! cargo run --release -p vellum-bench --bin big_txn -- [--keys N] [--cache-mb M] [--random | --load-sorted]
//! ```
//!
//! Puts `N` entries (24-byte keys, 150-byte values; in key order, in
//! random order with `--random`, or through `BucketMut::load_sorted` with
//! `--load-sorted`) into a fresh database in one durable transaction, then
//! reads every key back in a read transaction. Prints
//! the time of each step and the process's peak resident memory (VmHWM),
//! which SPEC §5 bounds by the cache budget plus 32 MiB, whatever the
//! transaction's size. The keys are generated on the fly from a seed, so
//! the harness itself holds almost nothing.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use rand::{RngCore, SeedableRng};
use vellum::Options;

#[derive(Parser)]
struct Args {
    /// Entries put.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Cache budget, MiB.
    #[arg(long, default_value_t = 64)]
    cache_mb: usize,
    /// Random key order (default: ascending).
    #[arg(long, conflicts_with = "load_sorted")]
    random: bool,
    /// Load the (ascending) entries with `load_sorted`, fill 1.0.
    #[arg(long)]
    load_sorted: bool,
    /// Directory for the database (default: a temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Entry `i`: its key (random bytes from the seed `i`, or `i` big-endian
/// padded) and value.
fn entry(i: u64, random: bool) -> ([u8; 24], [u8; 150]) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(i);
    let (mut k, mut v) = ([0u8; 24], [0u8; 150]);
    rng.fill_bytes(&mut v);
    if random {
        rng.fill_bytes(&mut k);
    } else {
        k[..8].copy_from_slice(&i.to_be_bytes());
    }
    (k, v)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args = Args::parse();
    let tmp = tempfile::tempdir_in(args.dir.clone().unwrap_or_else(std::env::temp_dir))
        .expect("temporary directory");
    let db = Options::new()
        .cache_size(args.cache_mb << 20)
        .open(tmp.path().join("big.vellum"))
        .expect("open");
    let t = Instant::now();
    let tx = db.begin_write().expect("begin");
    {
        let b = tx.create_bucket(b"t").expect("bucket");
        if args.load_sorted {
            let n = b
                .load_sorted((0..args.keys).map(|i| entry(i, false)), 1.0)
                .expect("load_sorted");
            assert_eq!(n, args.keys);
        } else {
            for i in 0..args.keys {
                let (k, v) = entry(i, args.random);
                b.put(k, v).expect("put");
            }
        }
    }
    let puts = t.elapsed();
    tx.commit().expect("commit");
    let total = t.elapsed();
    let rss_write = peak_rss_mib();
    let t = Instant::now();
    let rx = db.begin_read().expect("begin_read");
    let b = rx.bucket(b"t").expect("bucket");
    for i in 0..args.keys {
        let (k, v) = entry(i, args.random);
        let got = b.get(k).expect("get").expect("every key is there");
        assert_eq!(&*got, &v[..], "key {i} reads back its value");
    }
    let reads = t.elapsed();
    let stats = db.stats();
    println!(
        "keys {} cache {} MiB {}: puts {:.2} s, commit {:.2} s, reads {:.2} s; spills {}; peak RSS {:.1} MiB after the write, {:.1} MiB at the end",
        args.keys,
        args.cache_mb,
        match (args.random, args.load_sorted) {
            (true, _) => "random",
            (_, true) => "load_sorted",
            _ => "ascending",
        },
        puts.as_secs_f64(),
        (total - puts).as_secs_f64(),
        reads.as_secs_f64(),
        stats.spills,
        rss_write,
        peak_rss_mib(),
    );
}
