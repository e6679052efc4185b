//! `vellum-sim`: run simulation campaigns against the vellum engine, and
//! replay or shrink a failing seed. See `docs/TESTING.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vellum_sim::campaign::{profile_for, run_campaign, CampaignConfig, SeedFailure};
use vellum_sim::deep::DEEP_PROFILE;
use vellum_sim::shrink::{shrink, ShrinkBudget};
use vellum_sim::{run_case, Case, RunOptions, PROFILE_NAMES};

/// Default ops per seed.
const DEFAULT_OPS: usize = 400;

#[derive(Parser)]
#[command(
    name = "vellum-sim",
    version,
    about = "Deterministic simulation of the vellum engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a campaign of seeds; print throughput, coverage and, for each
    /// failure, one line with the command that replays it.
    Run(RunArgs),
    /// Replay one seed (or a case file) exactly, optionally shrinking it.
    Replay(ReplayArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Number of seeds.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Ops per seed.
    #[arg(long, default_value_t = DEFAULT_OPS)]
    ops: usize,
    /// Disk profile (none, torn, strict4k, byte, errors, silent, chaos), or
    /// `all` to rotate through them by seed, or `deep` (its own workload:
    /// trees of depth 5+, files past 1 GiB; not in `all`).
    #[arg(long, default_value = "all")]
    profile: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run each seed twice and compare the trace hashes.
    #[arg(long)]
    check_determinism: bool,
    /// Shrink each failure and save it as a case file in `--save`.
    #[arg(long)]
    shrink: bool,
    /// Where `--shrink` saves cases.
    #[arg(long, default_value = "tests/cases")]
    save: PathBuf,
}

#[derive(Args)]
struct ReplayArgs {
    /// The seed to replay.
    seed: Option<u64>,
    /// Replay this case file instead of a seed.
    #[arg(long, conflicts_with = "seed")]
    case: Option<PathBuf>,
    /// Disk profile (default: the seed's turn in the rotation, as `run`).
    #[arg(long)]
    profile: Option<String>,
    /// Ops per seed (as given to `run`).
    #[arg(long, default_value_t = DEFAULT_OPS)]
    ops: usize,
    /// Print every op and event.
    #[arg(long, short)]
    verbose: bool,
    /// Shrink the failure to a minimal op list and save it.
    #[arg(long)]
    shrink: bool,
    /// Where `--shrink` saves the case.
    #[arg(long, default_value = "tests/cases")]
    save: PathBuf,
    /// Print the (generated) case as JSON and exit.
    #[arg(long)]
    dump: bool,
}

fn main() -> ExitCode {
    keep_large_allocations();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(a) => run(a),
        Cmd::Replay(a) => replay(a),
    }
}

/// Serves large allocations from the heap and keeps freed memory there.
///
/// The deep profile's giant values (150–200 MiB, see
/// `vellum_sim::deep`) are copied several times per put by the engine and
/// the runner; glibc serves each copy with a fresh `mmap` and unmaps it on
/// free, so every copy faults in its pages again, which costs several
/// times the copying itself (a giant seed: 11 s of CPU, 7 of them in the
/// kernel, against 5 s). Other profiles allocate nothing that large.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations() {
    // SAFETY: mallopt only changes two thresholds of the allocator; it is
    // called before any other thread exists.
    // One arena: a worker thread's own arena cannot hold an allocation
    // larger than its heap and would map it afresh.
    let ok = unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
    };
    if !ok {
        eprintln!("vellum-sim: mallopt refused; giant values will run slower");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations() {}

fn check_profile(p: &str) -> bool {
    if p == "all" || p == DEEP_PROFILE || PROFILE_NAMES.contains(&p) {
        return true;
    }
    eprintln!(
        "unknown profile {p:?}; known: all, {}, {DEEP_PROFILE}",
        PROFILE_NAMES.join(", ")
    );
    false
}

fn run(a: RunArgs) -> ExitCode {
    if !check_profile(&a.profile) {
        return ExitCode::from(2);
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cfg = CampaignConfig {
        from: a.from,
        seeds: a.seeds,
        ops: a.ops,
        profile: Some(a.profile.clone()),
        jobs,
        check_determinism: a.check_determinism,
    };
    println!(
        "vellum-sim: seeds {}..{} ({}), {} ops each, {} job(s){}",
        a.from,
        a.from + a.seeds,
        a.profile,
        a.ops,
        jobs,
        if a.check_determinism {
            ", each run twice (determinism)"
        } else {
            ""
        }
    );
    let report = run_campaign(&cfg, &|f: &SeedFailure| println!("{}", f.line()));
    let secs = report.elapsed.as_secs_f64();
    println!(
        "{} seeds in {secs:.1} s: {:.2} seeds/s, {:.1} crash-recover cycles/s ({} crashes)",
        report.seeds,
        report.seeds_per_sec(),
        report.crashes_per_sec(),
        report.coverage.crashes
    );
    println!("coverage:\n{}", report.coverage);
    if report.failures.is_empty() {
        println!("no failures");
        return ExitCode::SUCCESS;
    }
    println!(
        "{} failing seed(s), each listed above",
        report.failures.len()
    );
    if a.shrink {
        for f in &report.failures {
            shrink_and_save(&f.case(), &f.failure, &a.save);
        }
    }
    ExitCode::FAILURE
}

fn shrink_and_save(case: &Case, failure: &vellum_sim::Failure, dir: &std::path::Path) {
    println!(
        "shrinking seed {} ({} ops, {})...",
        case.seed,
        case.ops.len(),
        failure.kind
    );
    let s = shrink(case, failure, ShrinkBudget::default());
    let mut out = s.case.clone();
    out.note = Some(s.failure.to_string());
    let path = dir.join(format!(
        "{}-{}-{}.json",
        s.failure.kind, out.profile, out.seed
    ));
    match out.save(&path) {
        Ok(()) => println!(
            "shrunk to {} ops in {} runs: {}\nsaved {}\nreplay: vellum-sim replay --case {}",
            out.ops.len(),
            s.runs,
            s.failure,
            path.display(),
            path.display()
        ),
        Err(e) => eprintln!("could not save {}: {e}", path.display()),
    }
}

fn replay(a: ReplayArgs) -> ExitCode {
    let case = match (&a.case, a.seed) {
        (Some(path), _) => match Case::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        (None, Some(seed)) => {
            let profile = profile_for(seed, a.profile.as_deref());
            if !check_profile(&profile) {
                return ExitCode::from(2);
            }
            Case::generate(seed, &profile, a.ops)
        }
        (None, None) => {
            eprintln!("give a SEED or --case FILE");
            return ExitCode::from(2);
        }
    };
    if a.dump {
        print!("{}", case.to_json());
        return ExitCode::SUCCESS;
    }
    let r = run_case(&case, RunOptions { verbose: a.verbose });
    for line in &r.log {
        println!("{line}");
    }
    println!(
        "seed {} profile {} ops {}: trace hash {:016x}",
        case.seed,
        case.profile,
        case.ops.len(),
        r.trace_hash
    );
    println!("coverage:\n{}", r.coverage);
    match r.failure {
        None => {
            println!("passed");
            ExitCode::SUCCESS
        }
        Some(f) => {
            println!("FAILED: {f}");
            if a.shrink {
                shrink_and_save(&case, &f, &a.save);
            }
            ExitCode::FAILURE
        }
    }
}
