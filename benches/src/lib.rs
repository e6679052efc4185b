//! Benchmarks for vellum: shared workload helpers.
//!
//! - `benches/engine.rs`: criterion benches of the SPEC §5 workloads at a
//!   small scale (`cargo bench -p vellum-bench`).
//! - `src/bin/fsync_rate.rs`: this machine's raw `fdatasync` rates on the
//!   file system the benchmark databases live on.
//! - `src/bin/perf_report.rs`: the SPEC §5 rows that vellum can run alone,
//!   as a markdown table with ratios to the fsync baseline.
//! - `src/bin/soak.rs`: threads of mixed operations checked against a model,
//!   with checkpoints and reopens, for a chosen time (not run by CI).
//!
//! Keys are 24 random bytes and values 150 random bytes, from a seeded RNG,
//! as in redb's published comparison. Databases are created in a temporary
//! directory under `$VELLUM_BENCH_DIR` (default: the system temp dir).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Key length of every workload.
pub const KEY_LEN: usize = 24;
/// Value length of every workload.
pub const VALUE_LEN: usize = 150;

/// A benchmark key.
pub type Key = [u8; KEY_LEN];
/// A benchmark value.
pub type Value = [u8; VALUE_LEN];

/// A seeded RNG (the same seed gives the same keys on every run).
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// One random key.
pub fn random_key(rng: &mut StdRng) -> Key {
    let mut k = [0u8; KEY_LEN];
    rng.fill_bytes(&mut k);
    k
}

/// One random key-value pair.
pub fn random_pair(rng: &mut StdRng) -> (Key, Value) {
    let mut v = [0u8; VALUE_LEN];
    let k = random_key(rng);
    rng.fill_bytes(&mut v);
    (k, v)
}

/// `n` random key-value pairs.
pub fn random_pairs(n: usize, seed: u64) -> Vec<(Key, Value)> {
    let mut r = rng(seed);
    (0..n).map(|_| random_pair(&mut r)).collect()
}

/// The directory benchmark databases are created under.
pub fn bench_root() -> PathBuf {
    std::env::var_os("VELLUM_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh temporary directory under [`bench_root`], removed on drop.
pub fn temp_dir() -> tempfile::TempDir {
    let root = bench_root();
    std::fs::create_dir_all(&root).expect("create the benchmark root");
    tempfile::Builder::new()
        .prefix("vellum-bench-")
        .tempdir_in(root)
        .expect("create a temporary directory")
}

/// The mount point, file system type and device that hold `path`
/// (from `/proc/self/mountinfo`; "unknown" elsewhere).
pub fn filesystem_of(path: &Path) -> String {
    let Ok(canon) = path.canonicalize() else {
        return "unknown".into();
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return "unknown".into();
    };
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        // id parent major:minor root mountpoint options... - fstype source superopts
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < dash + 3 || fields.len() < 5 {
            continue;
        }
        let mount = fields[4];
        let longer = match &best {
            Some((l, _)) => mount.len() > *l,
            None => true,
        };
        if canon.starts_with(mount) && longer {
            best = Some((
                mount.len(),
                format!("{} on {} ({})", fields[dash + 1], mount, fields[dash + 2]),
            ));
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, s)| s)
}

/// The result of a timed loop.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Operations done.
    pub ops: u64,
    /// Time they took.
    pub elapsed: Duration,
}

impl Rate {
    /// Operations per second.
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// Mean time per operation, in microseconds.
    pub fn micros_per_op(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }
}

/// Runs `op(i)` for i = 0, 1, ... until `budget` has passed.
fn timed_loop(budget: Duration, mut op: impl FnMut(u64) -> io::Result<()>) -> io::Result<Rate> {
    let start = Instant::now();
    let mut ops = 0;
    while start.elapsed() < budget {
        op(ops)?;
        ops += 1;
    }
    Ok(Rate {
        ops,
        elapsed: start.elapsed(),
    })
}

fn create(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

const BLOCK: usize = 4096;

/// Which raw `fdatasync` pattern to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPattern {
    /// `pwrite` one 4 KiB block that was written and synced beforehand, at
    /// the same offset each time, then `fdatasync`: the best case (no
    /// metadata to journal).
    Overwrite,
    /// `pwrite` the next 4 KiB block of a region that was written and synced
    /// beforehand (a log that has wrapped), then `fdatasync`.
    OverwriteSequential,
    /// `pwrite` the next 4 KiB block of a region made with `set_len` only
    /// (a sparse hole: every write allocates a block, so each `fdatasync`
    /// also commits file-system metadata), then `fdatasync`.
    SparseFill,
    /// Append a 4 KiB block at the end of the file (it grows), then
    /// `fdatasync` (the file size changes every time).
    Append,
}

impl SyncPattern {
    /// Every pattern.
    pub const ALL: [SyncPattern; 4] = [
        SyncPattern::Overwrite,
        SyncPattern::OverwriteSequential,
        SyncPattern::SparseFill,
        SyncPattern::Append,
    ];

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            SyncPattern::Overwrite => {
                "pwrite 4 KiB in place (preallocated, same block) + fdatasync"
            }
            SyncPattern::OverwriteSequential => {
                "pwrite next 4 KiB of a preallocated, written region + fdatasync"
            }
            SyncPattern::SparseFill => "pwrite next 4 KiB of a set_len (sparse) region + fdatasync",
            SyncPattern::Append => "append 4 KiB at EOF (file grows) + fdatasync",
        }
    }
}

/// A file prepared for one [`SyncPattern`], on which single
/// `pwrite` + `fdatasync` operations can be timed one at a time (so that
/// they can be interleaved with the operations they are compared to).
pub struct SyncProbe {
    file: File,
    path: PathBuf,
    pattern: SyncPattern,
    block: [u8; BLOCK],
    next: u64,
}

/// Blocks of the preallocated / sparse regions (256 MiB): enough for any
/// plausible rate over a few seconds; the probe wraps around after that.
const REGION_BLOCKS: u64 = 64 * 1024;

impl SyncProbe {
    /// Creates and prepares the file `dir/fsync-<pattern>`.
    pub fn new(dir: &Path, pattern: SyncPattern) -> io::Result<SyncProbe> {
        let path = dir.join(format!("fsync-{pattern:?}"));
        let file = create(&path)?;
        match pattern {
            SyncPattern::Overwrite => {
                file.write_all_at(&[0u8; BLOCK], 0)?;
                file.sync_all()?;
            }
            SyncPattern::OverwriteSequential => {
                let chunk = vec![0x5au8; 1 << 20];
                let mut off = 0;
                while off < REGION_BLOCKS * BLOCK as u64 {
                    file.write_all_at(&chunk, off)?;
                    off += chunk.len() as u64;
                }
                file.sync_all()?;
            }
            SyncPattern::SparseFill => {
                file.set_len(REGION_BLOCKS * BLOCK as u64)?;
                file.sync_all()?;
            }
            SyncPattern::Append => file.sync_all()?,
        }
        Ok(SyncProbe {
            file,
            path,
            pattern,
            block: [0u8; BLOCK],
            next: 0,
        })
    }

    /// One `pwrite` of 4 KiB + `fdatasync`; returns how long it took.
    pub fn step(&mut self) -> io::Result<Duration> {
        let i = self.next;
        self.next += 1;
        self.block[..8].copy_from_slice(&i.to_le_bytes());
        let off = match self.pattern {
            SyncPattern::Overwrite => 0,
            SyncPattern::OverwriteSequential | SyncPattern::SparseFill => {
                (i % REGION_BLOCKS) * BLOCK as u64
            }
            SyncPattern::Append => i * BLOCK as u64,
        };
        let start = Instant::now();
        self.file.write_all_at(&self.block, off)?;
        self.file.sync_data()?;
        Ok(start.elapsed())
    }
}

impl Drop for SyncProbe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Measures `pattern` for about `budget` in `dir`.
pub fn fdatasync_rate(dir: &Path, pattern: SyncPattern, budget: Duration) -> io::Result<Rate> {
    let mut probe = SyncProbe::new(dir, pattern)?;
    timed_loop(budget, |_| probe.step().map(|_| ()))
}

/// Sequential write bandwidth: `total` bytes in 1 MiB writes, then one
/// `fdatasync`; returns bytes per second.
pub fn sequential_write_bandwidth(dir: &Path, total: u64) -> io::Result<f64> {
    let path = dir.join("seq-write");
    let f = create(&path)?;
    let chunk = vec![0xa5u8; 1 << 20];
    let start = Instant::now();
    let mut off = 0;
    while off < total {
        f.write_all_at(&chunk, off)?;
        off += chunk.len() as u64;
    }
    f.sync_data()?;
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(off as f64 / secs)
}

/// Peak resident memory of this process (VmHWM), in bytes, on Linux.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

/// Current resident memory of this process (VmRSS), in bytes, on Linux.
pub fn current_rss() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Formats a rate with thousands separators, e.g. `12,345/s`.
pub fn fmt_rate(per_sec: f64) -> String {
    format!("{}/s", fmt_int(per_sec.round() as u64))
}

/// Formats an integer with thousands separators.
pub fn fmt_int(n: u64) -> String {
    let digits: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = digits
        .chunks(3)
        .map(|g| g.iter().rev().collect())
        .rev()
        .collect();
    groups.join(",")
}

/// Formats a duration in the most readable unit.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// Formats a byte count in MiB.
pub fn fmt_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_duration(Duration::from_micros(1500)), "1.50 ms");
    }

    #[test]
    fn pairs_are_seeded() {
        assert_eq!(random_pairs(3, 7), random_pairs(3, 7));
        assert_ne!(random_pairs(3, 7), random_pairs(3, 8));
    }
}
