//! Criterion benches of the SPEC §5 workloads at a small scale (24-byte
//! random keys, 150-byte values, seeded):
//!
//! - `commit/durable_single_put`: one put per `Immediate` commit;
//! - `commit/durable_batch_1000`: 1,000 random puts per `Immediate` commit
//!   (throughput counts puts);
//! - `commit/eventual_single_put`: one put per `Eventual` commit;
//! - `read/point_get`: random gets of present keys on a preloaded database,
//!   one thread, one read transaction per measured batch;
//! - `read/range_scan_10`: 10 entries from a random start key.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench -p vellum-bench --bench engine
//! ```
//! `VELLUM_BENCH_PRELOAD` sets the preloaded key count (default 100000);
//! databases go under `$VELLUM_BENCH_DIR` (default: the system temp dir).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rand::RngCore;
use vellum::{Db, Durability, Options};
use vellum_bench::{random_key, random_pair, random_pairs, rng, temp_dir, Key};

fn preload_count() -> usize {
    std::env::var("VELLUM_BENCH_PRELOAD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// Times `iters` commits of `per_commit` fresh random puts each.
fn bench_commits(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    durability: Durability,
    per_commit: usize,
) {
    let dir = temp_dir();
    let db = Options::new()
        .durability(durability)
        .open(dir.path().join("db"))
        .expect("open");
    let mut r = rng(11);
    g.throughput(Throughput::Elements(per_commit as u64));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let batches: Vec<Vec<_>> = (0..iters)
                .map(|_| (0..per_commit).map(|_| random_pair(&mut r)).collect())
                .collect();
            let start = Instant::now();
            for batch in &batches {
                db.update(|tx| {
                    for (k, v) in batch {
                        tx.put(k, v)?;
                    }
                    Ok::<_, vellum::Error>(())
                })
                .expect("commit");
            }
            start.elapsed()
        })
    });
    drop(db);
}

fn commits(c: &mut Criterion) {
    let mut g = c.benchmark_group("commit");
    bench_commits(&mut g, "durable_single_put", Durability::Immediate, 1);
    bench_commits(&mut g, "durable_batch_1000", Durability::Immediate, 1000);
    bench_commits(&mut g, "eventual_single_put", Durability::Eventual, 1);
    g.finish();
}

fn preloaded(n: usize) -> (tempfile::TempDir, Db, Vec<Key>) {
    let dir = temp_dir();
    let db = Db::open(dir.path().join("db")).expect("open");
    let pairs = random_pairs(n, 1);
    db.update(|tx| {
        for (k, v) in &pairs {
            tx.put(k, v)?;
        }
        Ok::<_, vellum::Error>(())
    })
    .expect("preload");
    db.checkpoint().expect("checkpoint");
    let keys = pairs.into_iter().map(|(k, _)| k).collect();
    (dir, db, keys)
}

fn reads(c: &mut Criterion) {
    let (_dir, db, keys) = preloaded(preload_count());
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(1));
    let mut r = rng(12);
    g.bench_function("point_get", |b| {
        b.iter_custom(|iters| {
            let idx: Vec<usize> = (0..iters)
                .map(|_| (r.next_u64() % keys.len() as u64) as usize)
                .collect();
            let tx = db.begin_read().expect("begin_read");
            let start = Instant::now();
            for i in idx {
                black_box(tx.get(keys[i]).expect("get").expect("present"));
            }
            start.elapsed()
        })
    });
    g.bench_function("range_scan_10", |b| {
        b.iter_custom(|iters| {
            let starts: Vec<Key> = (0..iters).map(|_| random_key(&mut r)).collect();
            let tx = db.begin_read().expect("begin_read");
            let start = Instant::now();
            for s in &starts {
                for e in tx.range(&s[..]..).take(10) {
                    black_box(e.expect("entry"));
                }
            }
            start.elapsed()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = commits, reads
}
criterion_main!(benches);
