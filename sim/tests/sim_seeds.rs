//! The simulator's fixed budget under `cargo test`: seeds of every disk
//! profile, a determinism check, a crash-point sweep and a coverage check.
//!
//! `VELLUM_SIM_SCALE=N` multiplies the seed counts (for a longer run in CI
//! or by hand); a campaign proper is `vellum-sim run` (see docs/TESTING.md).

use vellum_sim::campaign::{run_campaign, CampaignConfig, CampaignReport};
use vellum_sim::deep::DEEP_PROFILE;
use vellum_sim::workload::{Bytes, DbConfig, Op, Val, SPARSE_VALUE_MIN};
use vellum_sim::{run_case, Case, Coverage, RunOptions};

/// Ops per generated seed.
const OPS: usize = 400;

fn scale() -> u64 {
    std::env::var("VELLUM_SIM_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn campaign(profile: &str, from: u64, seeds: u64, check_determinism: bool) -> CampaignReport {
    let cfg = CampaignConfig {
        from,
        seeds: seeds * scale(),
        ops: OPS,
        profile: Some(profile.to_string()),
        jobs: 1,
        check_determinism,
    };
    run_campaign(&cfg, &|_| {})
}

fn assert_clean(r: &CampaignReport) {
    if !r.failures.is_empty() {
        let lines: Vec<String> = r.failures.iter().take(25).map(|f| f.line()).collect();
        panic!(
            "{} of {} seeds failed; replay each with the command shown{}:\n{}",
            r.failures.len(),
            r.seeds,
            if r.failures.len() > lines.len() {
                " (first 25)"
            } else {
                ""
            },
            lines.join("\n")
        );
    }
}

#[test]
fn seeds_none() {
    assert_clean(&campaign("none", 0, 4500, false));
}

#[test]
fn seeds_torn() {
    assert_clean(&campaign("torn", 0, 6000, false));
}

#[test]
fn seeds_strict4k() {
    assert_clean(&campaign("strict4k", 0, 4500, false));
}

#[test]
fn seeds_byte() {
    assert_clean(&campaign("byte", 0, 6000, false));
}

#[test]
fn seeds_errors() {
    assert_clean(&campaign("errors", 0, 4500, false));
}

#[test]
fn seeds_silent() {
    assert_clean(&campaign("silent", 0, 4500, false));
}

#[test]
fn seeds_chaos() {
    assert_clean(&campaign("chaos", 0, 4500, false));
}

/// Each seed run twice gives the same trace hash and the same outcome
/// (failures of other kinds are the per-profile tests' business).
#[test]
fn runs_are_deterministic() {
    let mut r = campaign("all", 100_000, 140, true);
    r.failures
        .retain(|f| f.failure.kind == vellum_sim::FailureKind::Nondeterminism);
    assert_clean(&r);
}

/// A small workload of rounds (puts, an overflow value, a delete, a
/// commit, a checkpoint) with a reader kept from the second round on. In
/// `Eventual` mode every sync belongs to a checkpoint, half of them to its
/// slot (C5).
fn sweep_workload(rounds: usize, keys: usize) -> Vec<Op> {
    let mut ops = Vec::new();
    let key =
        |r: usize, i: usize| Bytes(format!("k{r:02}-{i:03}-{}", "x".repeat(i % 7)).into_bytes());
    for r in 0..rounds {
        for i in 0..keys {
            let len = if i == 3 {
                700
            } else {
                30 + (i as u32 * 13) % 90
            };
            ops.push(Op::Put {
                b: 0,
                k: key(r, i),
                v: Val(len, (r * 100 + i) as u32),
            });
        }
        if r > 0 {
            ops.push(Op::Delete {
                b: 0,
                k: key(r - 1, 1),
            });
        }
        ops.push(Op::Commit);
        if r == 1 {
            ops.push(Op::BeginRead);
        }
        ops.push(Op::Checkpoint);
    }
    ops
}

/// Runs the sweep workload crashed at each of its syncs in turn (where the
/// crash decides what of the writes since the previous barrier lands: a
/// log record, the pages of a checkpoint, or its slot), for `seeds` disk
/// seeds.
fn sweep(profile: &str, seeds: u64, eventual: bool) -> Coverage {
    let config = DbConfig {
        page_size: 1024,
        max_log_size: 16 << 10,
        cache_size: 8 << 10,
        eventual,
    };
    let work = sweep_workload(6, 6);
    let base = Case {
        seed: 0,
        profile: profile.to_string(),
        config,
        note: None,
        ops: work.clone(),
    };
    let syncs = run_case(&base, RunOptions::default()).sim.syncs;
    assert!(syncs >= 8, "the sweep workload makes {syncs} syncs");
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    for seed in 0..seeds * scale() {
        for n in 1..=syncs as u32 {
            let mut ops = vec![Op::CrashAtSync { n }];
            ops.extend(work.iter().cloned());
            let case = Case {
                seed,
                ops,
                ..base.clone()
            };
            let r = run_case(&case, RunOptions::default());
            cov.merge(&r.coverage);
            if let Some(f) = r.failure {
                failures.push(format!("seed {seed}, crash at sync {n}: {f}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} crash point(s) failed (a case is the sweep workload with CrashAtSync {{ n }} first):\n{}",
        failures.len(),
        failures.join("\n")
    );
    cov
}

#[test]
fn crash_at_every_sync_byte_eventual() {
    let cov = sweep("byte", 150, true);
    assert!(cov.torn_recoveries > 0);
}

#[test]
fn crash_at_every_sync_byte() {
    sweep("byte", 40, false);
}

#[test]
fn crash_at_every_sync_torn() {
    sweep("torn", 40, false);
}

/// A short campaign reaches every structural state the simulator is meant
/// to exercise.
#[test]
fn coverage_is_reached() {
    let r = campaign("torn", 200_000, 40, false);
    assert_clean(&r);
    let c = &r.coverage;
    for (name, n) in c.reached() {
        assert!(n > 0, "{name} never reached:\n{c}");
    }
    assert!(c.root_splits > 0 && c.max_depth >= 3, "{c}");
    assert!(c.snapshot_reads > 0 && c.leak_checks > 0, "{c}");
    assert!(c.crashes_in_recovery > 0, "{c}");
}

/// Whether a deep seed has a giant phase (values past
/// [`SPARSE_VALUE_MIN`], a file past 1 GiB): those are for campaigns.
fn is_giant(case: &Case) -> bool {
    case.ops
        .iter()
        .any(|o| matches!(o, Op::Put { v, .. } if v.len() >= SPARSE_VALUE_MIN))
}

/// The deep profile's seeds without a giant phase: trees of depth 5 and
/// more, upper-level splits and merges, crashes inside checkpoints of
/// many pages; each run twice for determinism.
#[test]
fn seeds_deep() {
    let mut cov = Coverage::default();
    let mut failures = Vec::new();
    let mut seeds = 0;
    for seed in (0..).take(28 * scale() as usize) {
        let case = Case::generate(seed, DEEP_PROFILE, OPS);
        if is_giant(&case) {
            continue;
        }
        seeds += 1;
        let r = run_case(&case, RunOptions::default());
        if let Some(f) = &r.failure {
            failures.push(format!(
                "vellum-sim replay {seed} --profile deep --ops {OPS}   # {f}"
            ));
        }
        if seed % 4 == 0 {
            let again = run_case(&case, RunOptions::default());
            assert_eq!(again.trace_hash, r.trace_hash, "deep seed {seed} differs");
        }
        cov.merge(&r.coverage);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(seeds >= 20, "{seeds} seeds without a giant phase");
    assert!(cov.max_depth >= 6, "{cov}");
    assert!(cov.root_collapses > 0 && cov.merges > 0, "{cov}");
    assert!(
        cov.torn_recoveries > 0 && cov.crashes_in_recovery > 0,
        "{cov}"
    );
    assert!(cov.overflow_chains > 0 && cov.spills > 0, "{cov}");
}

/// A small giant phase: a key overwritten by 24 MiB values while readers
/// pin the old versions, so the file grows past 100 MiB (over a dozen
/// allocator bitmap pages at 1 KiB), then a crash at each sync of the
/// growth's checkpoint in turn, over a few disk seeds.
#[test]
fn crash_during_allocator_growth() {
    let big = |i: u32| Val(24 << 20, 77 + i % 2);
    let mut work = vec![Op::CreateBucket { b: 9 }, Op::Commit];
    for i in 0..5 {
        work.push(Op::Put {
            b: 9,
            k: Bytes(b"giant".to_vec()),
            v: big(i),
        });
        work.push(Op::Commit);
        work.push(Op::BeginRead);
    }
    let config = DbConfig {
        page_size: 1024,
        max_log_size: 16 << 10,
        cache_size: 32 << 10,
        eventual: false,
    };
    let mut cov = Coverage::default();
    for seed in 0..3 * scale() {
        for n in 1..=3 {
            let mut ops = work.clone();
            ops.push(Op::CrashAtSync { n });
            ops.push(Op::Put {
                b: 9,
                k: Bytes(b"giant".to_vec()),
                v: big(5),
            });
            ops.push(Op::Commit);
            ops.push(Op::CrashNow);
            let case = Case {
                seed,
                profile: DEEP_PROFILE.to_string(),
                config,
                note: None,
                ops,
            };
            let r = run_case(&case, RunOptions::default());
            assert!(
                r.failure.is_none(),
                "seed {seed}, crash at sync {n}: {:?}",
                r.failure
            );
            cov.merge(&r.coverage);
        }
    }
    assert!(cov.max_file_bytes > 120 << 20, "{cov}");
    assert!(cov.torn_writes > 0, "{cov}");
}
