//! The runner's rule for a failed commit whose outcome a reopen does not
//! settle (FORMAT.md §3 L3): a log write fails over an earlier epoch's
//! record with the same payload, the erase's sync fails too (poison), the
//! reopen in the same boot reads the erase through the page cache, and a
//! power loss before the reopened session's first checkpoint may bring the
//! commit back. The runner must accept that (and only that); the sweep
//! asserts the case is reached and no seed fails.

use vellum_sim::workload::DbConfig;
use vellum_sim::{run_case, Case, RunOptions};

/// `put a` and `delete a` logged in one epoch, a new epoch, then the same
/// `put a` with its record write and the next sync failing, then a power
/// loss.
const OPS: &str = r#"[
    {"create_bucket":{"b":0}}, "commit", "checkpoint",
    {"put":{"b":0,"k":"a","v":[40,7]}}, "commit",
    {"delete":{"b":0,"k":"a"}}, "commit", "checkpoint",
    {"fault":{"fail_nth":{"io":"write","n":1,"enospc":false}}},
    {"fault":{"fail_nth":{"io":"sync","n":1,"enospc":false}}},
    {"put":{"b":0,"k":"a","v":[40,7]}}, "commit",
    "crash_now",
    {"put":{"b":0,"k":"b","v":[8,1]}}, "commit",
    "crash_now"
]"#;

#[test]
fn a_crash_may_reveal_a_failed_commit_until_the_reopened_session_checkpoints() {
    let mut revealed = 0;
    let mut failures = Vec::new();
    for seed in 0..300 {
        let case = Case {
            seed,
            profile: "none".into(),
            config: DbConfig {
                page_size: 1024,
                max_log_size: 64 * 1024,
                cache_size: 256 * 1024,
                eventual: false,
            },
            note: None,
            ops: serde_json::from_str(OPS).expect("valid ops"),
        };
        let r = run_case(&case, RunOptions { verbose: true });
        if let Some(f) = r.failure {
            failures.push(format!("seed {seed}: {f}"));
        }
        revealed += r
            .log
            .iter()
            .filter(|l| l.contains("the crash revealed"))
            .count();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(revealed > 0, "no seed reached the case");
}
