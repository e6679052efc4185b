//! Shrinking: reduce a failing case to a minimal op list that still fails
//! the same kind of check.
//!
//! Delta debugging over the op list: cut everything after the failing op,
//! remove chunks (halves, quarters, ... single ops), then simplify what is
//! left (shorter values, earlier crash points, shorter cursor walks, fewer
//! deletes), and repeat until nothing changes or the run budget is spent.
//! Every candidate is run with the case's own seed, so the disk makes the
//! same choices for the same sequence of calls; a shorter list changes that
//! sequence, so a candidate may fail differently; it is kept only if it
//! fails the same [`FailureKind`].

use std::time::{Duration, Instant};

use crate::case::Case;
use crate::runner::{run_case, Failure, FailureKind, RunOptions};
use crate::workload::{FaultOp, Op, Read, Val};

/// Limits of one shrink.
#[derive(Clone, Copy, Debug)]
pub struct ShrinkBudget {
    /// Most candidate runs.
    pub runs: usize,
    /// Most wall-clock time.
    pub time: Duration,
}

impl Default for ShrinkBudget {
    fn default() -> Self {
        ShrinkBudget {
            runs: 4000,
            time: Duration::from_secs(120),
        }
    }
}

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Case,
    /// How it fails.
    pub failure: Failure,
    /// Candidate runs made.
    pub runs: usize,
}

struct Search {
    kind: FailureKind,
    budget: ShrinkBudget,
    start: Instant,
    runs: usize,
    best: Case,
    failure: Failure,
}

impl Search {
    fn exhausted(&self) -> bool {
        self.runs >= self.budget.runs || self.start.elapsed() >= self.budget.time
    }

    /// Runs `cand`; keeps it if it fails the same way.
    fn try_case(&mut self, mut cand: Case) -> bool {
        if self.exhausted() {
            return false;
        }
        self.runs += 1;
        let r = run_case(&cand, RunOptions::default());
        match r.failure {
            Some(f) if f.kind == self.kind => {
                if f.op_index + 1 < cand.ops.len() {
                    cand.ops.truncate(f.op_index + 1);
                }
                self.best = cand;
                self.failure = f;
                true
            }
            _ => false,
        }
    }
}

/// Shrinks `case`, which fails with `failure`, within `budget`.
pub fn shrink(case: &Case, failure: &Failure, budget: ShrinkBudget) -> Shrunk {
    let mut s = Search {
        kind: failure.kind,
        budget,
        start: Instant::now(),
        runs: 0,
        best: case.clone(),
        failure: failure.clone(),
    };
    if failure.op_index + 1 < case.ops.len() {
        let mut cand = case.clone();
        cand.ops.truncate(failure.op_index + 1);
        s.try_case(cand);
    }
    loop {
        let before = s.best.ops.len();
        let before_ops = s.best.ops.clone();
        // Remove chunks, largest first.
        let mut chunk = (s.best.ops.len() / 2).max(1);
        loop {
            let mut i = 0;
            while i < s.best.ops.len() && !s.exhausted() {
                let mut cand = s.best.clone();
                let end = (i + chunk).min(cand.ops.len());
                cand.ops.drain(i..end);
                if !s.try_case(cand) {
                    i += chunk;
                }
            }
            if chunk == 1 || s.exhausted() {
                break;
            }
            chunk /= 2;
        }
        // Simplify single ops.
        let mut i = 0;
        while i < s.best.ops.len() && !s.exhausted() {
            for simpler in simplifications(&s.best.ops[i]) {
                let mut cand = s.best.clone();
                cand.ops[i] = simpler;
                if s.try_case(cand) {
                    break;
                }
            }
            i += 1;
        }
        if s.exhausted() || (s.best.ops.len() == before && s.best.ops == before_ops) {
            break;
        }
    }
    Shrunk {
        case: s.best,
        failure: s.failure,
        runs: s.runs,
    }
}

fn smaller_val(v: Val) -> Vec<Val> {
    let mut out = Vec::new();
    if v.0 > 0 {
        out.push(Val(0, v.1));
    }
    if v.0 > 8 {
        out.push(Val(v.0 / 2, v.1));
    }
    out
}

fn smaller_read(q: &Read) -> Vec<Read> {
    match q {
        Read::Cursor { b, start, moves } if !moves.is_empty() => {
            let half: String = moves.chars().take(moves.len() / 2).collect();
            vec![Read::Cursor {
                b: *b,
                start: start.clone(),
                moves: half,
            }]
        }
        _ => Vec::new(),
    }
}

/// Simpler variants of one op, most aggressive first.
fn simplifications(op: &Op) -> Vec<Op> {
    match op {
        Op::Put { b, k, v } => smaller_val(*v)
            .into_iter()
            .map(|v| Op::Put {
                b: *b,
                k: k.clone(),
                v,
            })
            .collect(),
        Op::Insert { b, k, v } => smaller_val(*v)
            .into_iter()
            .map(|v| Op::Insert {
                b: *b,
                k: k.clone(),
                v,
            })
            .collect(),
        Op::DeleteRange { b, from, n } if *n > 1 => vec![
            Op::DeleteRange {
                b: *b,
                from: from.clone(),
                n: 1,
            },
            Op::DeleteRange {
                b: *b,
                from: from.clone(),
                n: n / 2,
            },
        ],
        Op::ArmCrash { after } if *after > 0 => {
            vec![Op::ArmCrash { after: 0 }, Op::ArmCrash { after: after / 2 }]
        }
        Op::ArmRecoveryCrash { after } if *after > 0 => vec![
            Op::ArmRecoveryCrash { after: 0 },
            Op::ArmRecoveryCrash { after: after / 2 },
        ],
        Op::CrashAtSync { n } if *n > 1 => vec![Op::CrashAtSync { n: 1 }],
        Op::RecoveryCrashAtSync { n } if *n > 1 => vec![Op::RecoveryCrashAtSync { n: 1 }],
        Op::Read(q) => smaller_read(q).into_iter().map(Op::Read).collect(),
        Op::ReaderRead { r, q } => smaller_read(q)
            .into_iter()
            .map(|q| Op::ReaderRead { r: *r, q })
            .collect(),
        Op::Fault(FaultOp::FlipBits { n }) if *n > 1 => vec![Op::Fault(FaultOp::FlipBits { n: 1 })],
        Op::Fault(FaultOp::FailNth { io, n, enospc }) if *n > 1 => vec![
            Op::Fault(FaultOp::FailNth {
                io: *io,
                n: 1,
                enospc: *enospc,
            }),
            Op::Fault(FaultOp::FailNth {
                io: *io,
                n: n / 2,
                enospc: *enospc,
            }),
        ],
        _ => Vec::new(),
    }
}
