//! Campaigns: many seeds, on all cores, with throughput, coverage and a
//! replay command for every failure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::case::Case;
use crate::coverage::Coverage;
use crate::runner::{run_case, Failure, FailureKind, RunOptions};
use crate::PROFILE_NAMES;

/// What to run.
#[derive(Clone, Debug)]
pub struct CampaignConfig {
    /// First seed.
    pub from: u64,
    /// Number of seeds.
    pub seeds: u64,
    /// Ops per seed.
    pub ops: usize,
    /// Disk profile; `None` rotates through all profiles by seed.
    pub profile: Option<String>,
    /// Worker threads.
    pub jobs: usize,
    /// Run each seed twice and compare the trace hashes.
    pub check_determinism: bool,
}

/// The disk profile a seed runs with: the given one, or the seed's turn in
/// the rotation through [`PROFILE_NAMES`].
pub fn profile_for(seed: u64, profile: Option<&str>) -> String {
    match profile {
        Some(p) if p != "all" => p.to_string(),
        _ => PROFILE_NAMES[(seed % PROFILE_NAMES.len() as u64) as usize].to_string(),
    }
}

/// A failing seed.
#[derive(Clone, Debug)]
pub struct SeedFailure {
    /// The seed.
    pub seed: u64,
    /// Its profile.
    pub profile: String,
    /// Ops per seed.
    pub ops: usize,
    /// What failed.
    pub failure: Failure,
}

impl SeedFailure {
    /// The command that reproduces this failure exactly.
    pub fn replay_command(&self) -> String {
        format!(
            "vellum-sim replay {} --profile {} --ops {}",
            self.seed, self.profile, self.ops
        )
    }

    /// One line: the replay command, then the failure as a shell comment.
    pub fn line(&self) -> String {
        let mut msg = self.failure.to_string().replace('\n', " ");
        if msg.len() > 400 {
            let mut cut = 400;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push_str("...");
        }
        format!("{}   # {msg}", self.replay_command())
    }

    /// The generated case of this seed.
    pub fn case(&self) -> Case {
        Case::generate(self.seed, &self.profile, self.ops)
    }
}

/// What a campaign did.
#[derive(Clone, Debug, Default)]
pub struct CampaignReport {
    /// Seeds run.
    pub seeds: u64,
    /// Failing seeds, in seed order.
    pub failures: Vec<SeedFailure>,
    /// Coverage summed over all seeds.
    pub coverage: Coverage,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl CampaignReport {
    /// Seeds per second.
    pub fn seeds_per_sec(&self) -> f64 {
        self.seeds as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Crash-recover cycles (power losses followed by a checked recovery)
    /// per second.
    pub fn crashes_per_sec(&self) -> f64 {
        self.coverage.crashes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs one seed (twice with `check_determinism`).
pub fn run_seed(
    seed: u64,
    profile: &str,
    ops: usize,
    check_determinism: bool,
) -> (Coverage, Option<Failure>) {
    let case = Case::generate(seed, profile, ops);
    let r = run_case(&case, RunOptions::default());
    if check_determinism {
        let again = run_case(&case, RunOptions::default());
        if again.trace_hash != r.trace_hash || again.failure != r.failure {
            return (
                r.coverage,
                Some(Failure {
                    kind: FailureKind::Nondeterminism,
                    op_index: 0,
                    message: format!(
                        "two runs of the same case differ: trace hash {:016x} then {:016x}{}",
                        r.trace_hash,
                        again.trace_hash,
                        again
                            .failure
                            .map(|f| format!("; second run failed: {f}"))
                            .unwrap_or_default()
                    ),
                }),
            );
        }
    }
    (r.coverage, r.failure)
}

/// Runs a campaign; `on_failure` is called (from a worker thread) as each
/// failure is found.
pub fn run_campaign(
    cfg: &CampaignConfig,
    on_failure: &(dyn Fn(&SeedFailure) + Sync),
) -> CampaignReport {
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let out = Mutex::new(CampaignReport::default());
    std::thread::scope(|scope| {
        for _ in 0..cfg.jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cfg.seeds {
                    break;
                }
                let seed = cfg.from + i;
                let profile = profile_for(seed, cfg.profile.as_deref());
                let (cov, failure) = run_seed(seed, &profile, cfg.ops, cfg.check_determinism);
                let sf = failure.map(|failure| SeedFailure {
                    seed,
                    profile,
                    ops: cfg.ops,
                    failure,
                });
                if let Some(f) = &sf {
                    on_failure(f);
                }
                let mut o = out.lock().expect("campaign report");
                o.seeds += 1;
                o.coverage.merge(&cov);
                o.failures.extend(sf);
            });
        }
    });
    let mut report = out.into_inner().expect("campaign report");
    report.failures.sort_by_key(|f| f.seed);
    report.elapsed = start.elapsed();
    report
}
