//! This machine's raw limits on the file system the benchmark databases use:
//! `fdatasync` rates for several write patterns and sequential write
//! bandwidth. These are the baselines SPEC §5's ratios refer to.
//!
//! ```text
//! cargo run --release -p vellum-bench --bin fsync_rate [-- SECONDS_PER_PATTERN]
//! ```
//! The directory is a temporary one under `$VELLUM_BENCH_DIR` (default: the
//! system temp dir), the same place the other benchmarks put databases.

use std::time::Duration;

use vellum_bench::{
    fdatasync_rate, filesystem_of, fmt_int, fmt_rate, sequential_write_bandwidth, temp_dir,
    SyncPattern,
};

fn main() -> std::io::Result<()> {
    let secs: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("seconds per pattern"))
        .unwrap_or(2.0);
    let dir = temp_dir();
    println!("directory: {}", dir.path().display());
    println!("file system: {}", filesystem_of(dir.path()));
    println!();
    println!("| pattern | ops | rate | mean latency |");
    println!("|---|---:|---:|---:|");
    for p in SyncPattern::ALL {
        let r = fdatasync_rate(dir.path(), p, Duration::from_secs_f64(secs))?;
        println!(
            "| {} | {} | {} | {:.0} µs |",
            p.describe(),
            fmt_int(r.ops),
            fmt_rate(r.per_sec()),
            r.micros_per_op()
        );
    }
    let total = 256u64 << 20;
    let bw = sequential_write_bandwidth(dir.path(), total)?;
    println!(
        "| sequential write 256 MiB in 1 MiB pwrites + one fdatasync | 1 | {:.0} MiB/s | |",
        bw / (1024.0 * 1024.0)
    );
    Ok(())
}
