//! Checking a database's state against the history: after a crash and
//! reopen, or after a commit that returned an error.
//!
//! **Recovery rule.** After a crash and reopen the database must equal the
//! model at some commit `c` with
//! `last_acked_durable <= c <= last_attempted`
//! ([`VersionedModel::crash_candidates`]). The lower end is the newest
//! acknowledged `Immediate` commit (or acknowledged commit covered by an
//! acknowledged `sync()`), so no such commit is ever lost. The history is
//! linear, so recovering commit `c` means commits `c + 1 ..` were lost and
//! all before `c` kept: `Eventual` commits can only be lost as a suffix, and
//! a state that mixes commits (keeps commit 5, loses commit 4) equals no
//! commit and is rejected. A commit whose `commit` call returned an error
//! is inside the interval, so it may have landed or not; the match decides.
//!
//! **Resolution.** On a match, the model is truncated to `c` (later commits
//! did not land), `c` becomes the newest acknowledged and durable commit, and
//! the run continues from there. If several commits in the interval have
//! equal states, the newest is taken: they are indistinguishable, so any
//! choice gives the same checks afterwards.
//!
//! **Corruption.** Injected silent corruption must surface as an engine
//! error, never as data: a harness that reads the recovered state gets an
//! error (allowed when corruption was injected) or a state, and any state
//! that is not a candidate, corrupted data included, fails here.
//!
//! ```
//! use vellum_model::{check_recovered, Durability, Outcome, State, VersionedModel, DEFAULT_BUCKET as D};
//! let mut model = VersionedModel::new();
//! for (k, d) in [(b"a", Durability::Immediate), (b"b", Durability::Eventual)] {
//!     let mut tx = model.begin_write();
//!     tx.put(D, k, b"").unwrap();
//!     model.commit(tx, d, Outcome::Ok);
//! }
//! // The crash lost the Eventual commit 2: the disk has commit 1.
//! let recovered = model.state(1).unwrap().clone();
//! assert_eq!(check_recovered(&mut model, &recovered), Ok(1));
//! assert_eq!(model.last_attempted(), 1); // commit 2 is gone; go on from 1
//!
//! // Losing the Immediate commit 1 is an error.
//! let empty = State::new();
//! let err = check_recovered(&mut model, &empty).unwrap_err();
//! assert!(err.to_string().contains("equals commit 0"), "{err}");
//! ```

use std::fmt;
use std::ops::RangeInclusive;

use crate::state::{Difference, State};
use crate::versioned::{CommitId, VersionedModel};

/// How many differences a [`RecoveryError`] lists.
const DIFFERENCES_SHOWN: usize = 8;

/// How many candidates to rank by distance when no candidate matches (the
/// ones nearest the interval's ends: most likely the intended one).
const NEAREST_SEARCHED: usize = 64;

/// Which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Situation {
    /// After a crash (or any reopen): [`check_recovered`].
    AfterCrash,
    /// On a live handle, resolving failed commits: [`check_live`].
    Live,
    /// After a failed sync and a page-cache drop: [`check_after_cache_drop`].
    AfterCacheDrop,
}

/// The observed state equals no allowed commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryError {
    /// Which check failed.
    pub situation: Situation,
    /// The commits the state was allowed to equal.
    pub allowed: RangeInclusive<CommitId>,
    /// A kept commit outside `allowed` that the state equals, if any (the
    /// newest): below the interval means acknowledged commits were lost.
    pub equals_outside: Option<CommitId>,
    /// The allowed commit with the fewest differences from the state.
    pub nearest: CommitId,
    /// Number of differences from `nearest` (at least 1; counted up to a
    /// cap of 1,000).
    pub distance: usize,
    /// The first differences, model (`nearest`) vs observed.
    pub differences: Vec<Difference>,
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.situation {
            Situation::AfterCrash | Situation::AfterCacheDrop => "recovered state",
            Situation::Live => "live state",
        };
        let bound = match self.situation {
            Situation::AfterCrash | Situation::AfterCacheDrop => "last acknowledged durable commit",
            Situation::Live => "last acknowledged commit",
        };
        write!(
            f,
            "{what} matches no allowed commit: allowed {}..={} ({bound} {}, last attempted {})",
            self.allowed.start(),
            self.allowed.end(),
            self.allowed.start(),
            self.allowed.end()
        )?;
        if let Some(c) = self.equals_outside {
            if c < *self.allowed.start() {
                write!(
                    f,
                    "; it equals commit {c}, so acknowledged commits {}..={} were lost",
                    c + 1,
                    self.allowed.start()
                )?;
            } else {
                write!(f, "; it equals commit {c}, outside the history")?;
            }
        }
        write!(
            f,
            "; nearest allowed commit is {} with {}{} difference(s)",
            self.nearest,
            self.distance,
            if self.distance >= DISTANCE_CAP {
                "+"
            } else {
                ""
            }
        )?;
        for d in &self.differences {
            write!(f, "; {}", d.describe("model", "observed"))?;
        }
        if self.distance > self.differences.len() {
            f.write_str("; ...")?;
        }
        Ok(())
    }
}

impl std::error::Error for RecoveryError {}

const DISTANCE_CAP: usize = 1000;

/// The newest commit in `range` whose state equals `observed` (digests
/// first, then full comparison), without changing the model.
pub fn find_commit(
    model: &VersionedModel,
    observed: &State,
    range: RangeInclusive<CommitId>,
) -> Option<CommitId> {
    range.rev().find(|&c| {
        model
            .state(c)
            .is_some_and(|s| s.digest() == observed.digest() && s == observed)
    })
}

/// Checks the state read back after a crash and reopen (see the module
/// docs): on success returns the commit it equals and resolves the model
/// to it ([`VersionedModel::resolve_to`] with `after_crash`).
pub fn check_recovered(
    model: &mut VersionedModel,
    observed: &State,
) -> Result<CommitId, RecoveryError> {
    check(model, observed, Situation::AfterCrash)
}

/// Checks the state of a live handle after a `commit` returned an error
/// but the handle is still usable (for example after disk full): the
/// state must equal a commit in [`VersionedModel::live_candidates`]. On
/// success returns it and resolves the model to it (the failed commit
/// landed or not), without treating anything as durable.
pub fn check_live(model: &mut VersionedModel, observed: &State) -> Result<CommitId, RecoveryError> {
    check(model, observed, Situation::Live)
}

/// Checks the state read after a failed sync and a page-cache drop, with no
/// crash: unsynced writes may still be visible, but a failed sync may have
/// lost any of them, so the state may be anything from the last durable
/// commit on ([`VersionedModel::crash_candidates`]), and seeing a commit
/// does not make it durable.
pub fn check_after_cache_drop(
    model: &mut VersionedModel,
    observed: &State,
) -> Result<CommitId, RecoveryError> {
    check(model, observed, Situation::AfterCacheDrop)
}

fn check(
    model: &mut VersionedModel,
    observed: &State,
    situation: Situation,
) -> Result<CommitId, RecoveryError> {
    let allowed = match situation {
        Situation::AfterCrash | Situation::AfterCacheDrop => model.crash_candidates(),
        Situation::Live => model.live_candidates(),
    };
    match find_commit(model, observed, allowed.clone()) {
        Some(c) => {
            match situation {
                Situation::AfterCacheDrop => model.resolve_after_cache_drop(c),
                _ => model.resolve_to(c, situation == Situation::AfterCrash),
            }
            Ok(c)
        }
        None => Err(explain(model, observed, situation, allowed)),
    }
}

fn explain(
    model: &VersionedModel,
    observed: &State,
    situation: Situation,
    allowed: RangeInclusive<CommitId>,
) -> RecoveryError {
    let equals_outside = find_commit(
        model,
        observed,
        model.oldest_kept()..=model.last_attempted(),
    );
    // Rank candidates nearest the interval's ends first.
    let (lo, hi) = (*allowed.start(), *allowed.end());
    let mut searched: Vec<CommitId> = allowed.clone().collect();
    if searched.len() > NEAREST_SEARCHED {
        let half = NEAREST_SEARCHED / 2;
        searched = (lo..lo + half).chain(hi + 1 - half..=hi).collect();
    }
    let (nearest, distance) = searched
        .iter()
        .rev()
        .map(|&c| {
            let s = model.state(c).expect("allowed commits are kept");
            (c, s.differences(observed, DISTANCE_CAP).len())
        })
        .min_by_key(|&(_, d)| d)
        .expect("the allowed range is never empty");
    let differences = model
        .state(nearest)
        .expect("kept")
        .differences(observed, DIFFERENCES_SHOWN);
    RecoveryError {
        situation,
        allowed,
        equals_outside,
        nearest,
        distance: distance.max(1),
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DEFAULT_BUCKET as D;
    use crate::versioned::{CommitStatus, Durability, Outcome};

    /// Commits one put per entry of `plan` (key = index) and returns the model.
    fn model_with(plan: &[(Durability, Outcome)]) -> VersionedModel {
        let mut m = VersionedModel::new();
        for (i, &(d, o)) in plan.iter().enumerate() {
            let mut tx = m.begin_write();
            tx.put(D, &[i as u8], b"v").unwrap();
            m.commit(tx, d, o);
        }
        m
    }

    use Durability::{Eventual as E, Immediate as I};

    #[test]
    fn accepts_every_commit_in_range() {
        let plan = [
            (I, Outcome::Ok),
            (E, Outcome::Ok),
            (E, Outcome::Ok),
            (I, Outcome::Err),
        ];
        let base = model_with(&plan);
        assert_eq!(base.crash_candidates(), 1..=4);
        for c in 1..=4 {
            let mut m = base.clone();
            let observed = m.state(c).unwrap().clone();
            assert_eq!(check_recovered(&mut m, &observed), Ok(c));
            assert_eq!(m.last_attempted(), c);
            assert_eq!(m.last_acked_durable(), c);
            assert_eq!(m.last_acked(), c);
        }
    }

    #[test]
    fn rejects_lost_durable_commit() {
        let mut m = model_with(&[(E, Outcome::Ok), (I, Outcome::Ok), (E, Outcome::Ok)]);
        let observed = m.state(1).unwrap().clone();
        let err = check_recovered(&mut m, &observed).unwrap_err();
        assert_eq!(err.allowed, 2..=3);
        assert_eq!(err.equals_outside, Some(1));
        assert_eq!(err.nearest, 2);
        assert_eq!(err.distance, 1);
        let msg = err.to_string();
        assert!(msg.contains("allowed 2..=3"), "{msg}");
        assert!(
            msg.contains("acknowledged commits 2..=2 were lost"),
            "{msg}"
        );
        assert!(
            msg.contains("bucket default, key b\"\\x01\": model has b\"v\", observed has nothing"),
            "{msg}"
        );
        // The model is unchanged by a failed check.
        assert_eq!(m.last_attempted(), 3);
    }

    #[test]
    fn rejects_non_suffix_loss_and_foreign_data() {
        let mut m = model_with(&[(E, Outcome::Ok), (E, Outcome::Ok), (E, Outcome::Ok)]);
        // Commit 2 lost but commit 3 kept: no commit has this state.
        let mut observed = m.state(1).unwrap().clone();
        observed.put(D, &[2], b"v").unwrap();
        let err = check_recovered(&mut m, &observed).unwrap_err();
        assert_eq!(err.equals_outside, None);
        assert_eq!(err.distance, 1);
        // Corrupted data returned as a value.
        let mut observed = m.state(3).unwrap().clone();
        observed.put(D, &[0], b"\xffrot").unwrap();
        let err = check_recovered(&mut m, &observed).unwrap_err();
        assert_eq!(err.nearest, 3);
        assert!(
            err.to_string().contains("observed has b\"\\xffrot\""),
            "{err}"
        );
    }

    #[test]
    fn truncation_then_continue() {
        let mut m = model_with(&[(I, Outcome::Ok), (E, Outcome::Ok), (E, Outcome::Err)]);
        let observed = m.state(2).unwrap().clone();
        assert_eq!(check_recovered(&mut m, &observed), Ok(2));
        let mut tx = m.begin_write();
        tx.put(D, b"new", b"").unwrap();
        let c = m.commit(tx, E, Outcome::Ok);
        assert_eq!(c, 3);
        // The lost commit's key is not in the new history.
        assert_eq!(m.latest().get(D, &[2]).unwrap(), None);
        // A second crash can't go below the recovered commit.
        let old = m.state(1).unwrap().clone();
        let err = check_recovered(&mut m, &old).unwrap_err();
        assert_eq!(err.allowed, 2..=3);
    }

    #[test]
    fn live_resolution_of_failed_commit() {
        // Failed commit that did not land.
        let mut m = model_with(&[(E, Outcome::Ok), (I, Outcome::Err)]);
        let observed = m.state(1).unwrap().clone();
        assert_eq!(check_live(&mut m, &observed), Ok(1));
        assert_eq!(m.last_attempted(), 1);
        assert_eq!(m.last_acked_durable(), 0);
        // Failed commit that did land.
        let mut m = model_with(&[(E, Outcome::Ok), (I, Outcome::Err)]);
        let observed = m.state(2).unwrap().clone();
        assert_eq!(check_live(&mut m, &observed), Ok(2));
        assert_eq!(m.info(2).unwrap().status, CommitStatus::Landed);
        // A live handle cannot lose an acknowledged Eventual commit.
        let mut m = model_with(&[(E, Outcome::Ok), (E, Outcome::Err)]);
        let err = check_live(&mut m, &State::new()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("live state matches no allowed commit: allowed 1..=2"),
            "{err}"
        );
    }

    #[test]
    fn equal_states_resolve_to_the_newest() {
        let mut m = VersionedModel::new();
        let mut tx = m.begin_write();
        tx.put(D, b"k", b"v").unwrap();
        m.commit(tx, E, Outcome::Ok);
        let mut tx = m.begin_write();
        tx.delete(D, b"k").unwrap();
        m.commit(tx, E, Outcome::Ok);
        assert_eq!(check_recovered(&mut m.clone(), &State::new()), Ok(2));
    }

    #[test]
    fn long_histories_explain_quickly() {
        let plan = vec![(E, Outcome::Ok); 300];
        let mut m = model_with(&plan);
        let mut observed = m.latest().clone();
        observed.put(D, b"zz", b"").unwrap();
        let err = check_recovered(&mut m, &observed).unwrap_err();
        assert_eq!(err.nearest, 300);
        assert_eq!(err.allowed, 0..=300);
    }
}
