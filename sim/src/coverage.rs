//! Coverage counters: how often a run reached the states the simulator is
//! meant to exercise.
//!
//! The engine exposes no split or merge counters, so the runner infers them
//! from the tree shape that `db.check()` reports right after each
//! checkpoint (when every node is on disk): growth of the tree-page count
//! between two such samples counts that many page splits, shrinkage counts
//! merges (intervals that dropped a bucket are not counted as merges), and
//! depth changes count root splits and root collapses. These are lower
//! bounds: a split and a merge inside one interval cancel out. Page reuse is
//! a checkpoint after which the free-page count fell (a free page was
//! allocated) or that wrote changes without growing the file.

use std::fmt;

use serde::Serialize;

/// Counters of one run, or summed over a campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Runs summed into this.
    pub runs: u64,
    /// Ops executed.
    pub ops: u64,
    /// Commits acknowledged.
    pub commits_ok: u64,
    /// Commits that returned an error (resolved afterwards).
    pub commits_failed: u64,
    /// Failed commits that turned out to have landed.
    pub failed_commits_landed: u64,
    /// Failed commits a crash revealed after a reopen of the poisoned
    /// handle had not shown them (FORMAT.md §3 L3).
    pub failed_commits_revealed: u64,
    /// Write transactions aborted.
    pub aborts: u64,
    /// Reads checked against the model (every answer, every cursor step).
    pub reads_checked: u64,
    /// Reads by a read transaction after later commits (snapshot checks).
    pub snapshot_reads: u64,
    /// `next_id` answers checked against the model.
    pub ids_checked: u64,
    /// Ids of commits checked against every earlier surviving commit's
    /// ids of the same bucket (none handed out twice).
    pub ids_unique_checked: u64,
    /// Tree pages added between checkpoint samples (page splits, lower
    /// bound).
    pub splits: u64,
    /// Tree pages removed between checkpoint samples (merges, lower bound).
    pub merges: u64,
    /// Times a tree grew a level (root split).
    pub root_splits: u64,
    /// Times a tree lost a level (root collapse).
    pub root_collapses: u64,
    /// Deepest tree seen.
    pub max_depth: u64,
    /// Longest database file (bytes; the simulated file is sparse).
    pub max_file_bytes: u64,
    /// Values stored in overflow runs by acknowledged commits.
    pub overflow_values: u64,
    /// Of those, runs longer than one page (overflow chains).
    pub overflow_chains: u64,
    /// Checkpoints that reused freed pages.
    pub page_reuse: u64,
    /// Checkpoints run (seen through `stats().checkpoint`).
    pub checkpoints: u64,
    /// Spills of write transactions larger than their memory budget (seen
    /// through `stats().spills`; those in a session a crash ended are not
    /// counted).
    pub spills: u64,
    /// Checkpoints inferred from the shape samples.
    pub shape_samples: u64,
    /// Opens that replayed log records.
    pub log_replays: u64,
    /// Log records replayed.
    pub records_replayed: u64,
    /// Simulated power losses.
    pub crashes: u64,
    /// Power losses during an open (recovery).
    pub crashes_in_recovery: u64,
    /// Recoveries checked against the model (crashes and reopens).
    pub recoveries: u64,
    /// Recoveries that lost some (unacknowledged or Eventual) commits.
    pub recoveries_lost_suffix: u64,
    /// Unsynced writes torn by crashes.
    pub torn_writes: u64,
    /// Crashes that tore writes and recovered correctly.
    pub torn_recoveries: u64,
    /// Clean reopens.
    pub reopens: u64,
    /// Reopens after a poisoned handle.
    pub poison_reopens: u64,
    /// Errors injected by the disk (EIO, ENOSPC).
    pub injected_errors: u64,
    /// Sorted loads that loaded their entries.
    pub sorted_loads: u64,
    /// Silent faults injected.
    pub silent_faults: u64,
    /// Of those, bit flips inside durable log records.
    pub log_bit_flips: u64,
    /// Recoveries after log bit flips that lost the newest acknowledged
    /// commit (its record had no later record to vouch for it).
    pub log_flip_rollbacks: u64,
    /// Injected corruption that the engine reported as an error.
    pub corruption_detected: u64,
    /// Databases abandoned after detected corruption (a fresh one follows).
    pub databases_retired: u64,
    /// `db.check()` runs that passed.
    pub integrity_checks: u64,
    /// Leak checks (everything deleted, pages back to the baseline).
    pub leak_checks: u64,
}

impl Coverage {
    /// Adds `other` into `self` (maxima for `max_depth` and
    /// `max_file_bytes`).
    pub fn merge(&mut self, o: &Coverage) {
        macro_rules! add {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        add!(
            runs,
            ops,
            commits_ok,
            commits_failed,
            failed_commits_landed,
            failed_commits_revealed,
            aborts,
            reads_checked,
            snapshot_reads,
            ids_checked,
            ids_unique_checked,
            splits,
            merges,
            root_splits,
            root_collapses,
            overflow_values,
            overflow_chains,
            page_reuse,
            checkpoints,
            spills,
            shape_samples,
            log_replays,
            records_replayed,
            crashes,
            crashes_in_recovery,
            recoveries,
            recoveries_lost_suffix,
            torn_writes,
            torn_recoveries,
            reopens,
            poison_reopens,
            injected_errors,
            sorted_loads,
            silent_faults,
            log_bit_flips,
            log_flip_rollbacks,
            corruption_detected,
            databases_retired,
            integrity_checks,
            leak_checks
        );
        self.max_depth = self.max_depth.max(o.max_depth);
        self.max_file_bytes = self.max_file_bytes.max(o.max_file_bytes);
    }

    /// Names of the structural events a campaign must reach, with counts.
    pub fn reached(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("splits", self.splits),
            ("merges", self.merges),
            ("overflow_chains", self.overflow_chains),
            ("page_reuse", self.page_reuse),
            ("log_replays", self.log_replays),
            ("torn_recoveries", self.torn_recoveries),
            ("checkpoints", self.checkpoints),
            ("spills", self.spills),
        ]
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  ops {}  commits ok {} / failed {} (landed {}, revealed by a crash {})  aborts {}",
            self.ops,
            self.commits_ok,
            self.commits_failed,
            self.failed_commits_landed,
            self.failed_commits_revealed,
            self.aborts
        )?;
        writeln!(
            f,
            "  reads checked {} (snapshot reads {})  sorted loads {}  next_id answers {} (checked unique in the history {})",
            self.reads_checked,
            self.snapshot_reads,
            self.sorted_loads,
            self.ids_checked,
            self.ids_unique_checked
        )?;
        writeln!(
            f,
            "  splits {}  merges {}  root splits {}  root collapses {}  max depth {}  max file size {:.1} MiB",
            self.splits,
            self.merges,
            self.root_splits,
            self.root_collapses,
            self.max_depth,
            self.max_file_bytes as f64 / f64::from(1 << 20)
        )?;
        writeln!(
            f,
            "  overflow values {} (multi-page chains {})  page reuse {}  checkpoints {} (shape samples {})  spills {}",
            self.overflow_values,
            self.overflow_chains,
            self.page_reuse,
            self.checkpoints,
            self.shape_samples,
            self.spills
        )?;
        writeln!(
            f,
            "  crashes {} (in recovery {})  recoveries {} (lost suffix {})  log replays {} ({} records)",
            self.crashes,
            self.crashes_in_recovery,
            self.recoveries,
            self.recoveries_lost_suffix,
            self.log_replays,
            self.records_replayed
        )?;
        writeln!(
            f,
            "  torn writes {} (torn crashes recovered {})  reopens {}  poisoned reopens {}",
            self.torn_writes, self.torn_recoveries, self.reopens, self.poison_reopens
        )?;
        write!(
            f,
            "  injected errors {}  silent faults {} (log bit flips {}, newest record lost {})  corruption detected {}  dbs retired {}  integrity checks {}  leak checks {}",
            self.injected_errors,
            self.silent_faults,
            self.log_bit_flips,
            self.log_flip_rollbacks,
            self.corruption_detected,
            self.databases_retired,
            self.integrity_checks,
            self.leak_checks
        )
    }
}
