//! Bucket sequences in the runner (FORMAT.md §1.7, §6 S9): `next_id` and
//! `set_sequence` checked against the model, and the [`IdLedger`] that
//! checks, across the whole surviving history of a run, that no id of a
//! bucket is handed out by two commits.
//!
//! The model already pins every answer ((a): each `next_id` equals the
//! model's) and every recovered sequence ((b): a recovered state, sequences
//! included, equals an allowed commit). The ledger checks the promise
//! itself, from the ids the engine returned: each commit's ids are compared
//! with those of every earlier commit of the history, back to the commit
//! that dropped the bucket (a bucket created again starts at 0, FORMAT.md
//! §1.7). Commits a crash discarded are forgotten when the model reuses
//! their numbers, so ids of lost commits (aborted, failed, or `Eventual`
//! commits no sync covered) may come again, as the guarantee allows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use vellum::Error;
use vellum_model::{CommitId, ModelError, ShowBytes};

use super::{bucket_mut, Expect, Runner, R};
use crate::workload::{bucket_name, BucketId};

/// What a write transaction did to sequences, in order.
#[derive(Clone, Debug)]
pub(super) enum IdEvent {
    /// `next_id` on the bucket returned this id.
    Id(Vec<u8>, u64),
    /// The bucket was dropped (its ids are forgotten).
    Dropped(Vec<u8>),
}

/// The ids handed out by each commit of the history (see the module
/// documentation).
#[derive(Debug, Default)]
pub(super) struct IdLedger {
    commits: BTreeMap<CommitId, Vec<IdEvent>>,
}

impl IdLedger {
    /// Forgets everything (the model's history was replaced: a rollback
    /// after silent corruption, a revealed commit, a retired database).
    pub(super) fn clear(&mut self) {
        self.commits.clear();
    }

    /// The ids of the current incarnation of `name` that commits before
    /// this one handed out: back to the latest drop of the bucket.
    fn live_ids(&self, name: &[u8]) -> BTreeSet<u64> {
        let mut ids = BTreeSet::new();
        for events in self.commits.values().rev() {
            for e in events.iter().rev() {
                match e {
                    IdEvent::Dropped(n) if n == name => return ids,
                    IdEvent::Id(n, id) if n == name => {
                        ids.insert(*id);
                    }
                    _ => {}
                }
            }
        }
        ids
    }

    /// Records commit `c`'s events, after checking that none of its ids was
    /// handed out before by this bucket incarnation. Commits numbered `c`
    /// or later belong to a history a crash discarded. Returns how many ids
    /// were checked.
    pub(super) fn commit(&mut self, c: CommitId, events: Vec<IdEvent>) -> Result<u64, String> {
        drop(self.commits.split_off(&c));
        let mut live: HashMap<Vec<u8>, BTreeSet<u64>> = HashMap::new();
        let mut checked = 0;
        for e in &events {
            match e {
                IdEvent::Dropped(n) => {
                    live.insert(n.clone(), BTreeSet::new());
                }
                IdEvent::Id(n, id) => {
                    let ids = match live.get_mut(n) {
                        Some(ids) => ids,
                        None => live.entry(n.clone()).or_insert(self.live_ids(n)),
                    };
                    if !ids.insert(*id) {
                        return Err(format!(
                            "commit {c}: next_id on bucket {} returned {id}, an id the \
                             history already handed out (FORMAT.md §6 S9)",
                            ShowBytes(n)
                        ));
                    }
                    checked += 1;
                }
            }
        }
        if !events.is_empty() {
            self.commits.insert(c, events);
        }
        Ok(checked)
    }
}

impl Runner<'_> {
    /// `sequence` then `next_id` on bucket `b`, both against the model.
    pub(super) fn next_id(&mut self, b: BucketId) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let t = self.txn.as_mut().expect("begun");
        let exp = match t.m.sequence(&name) {
            Ok(s) => Expect::Ok(s),
            Err(e) => Expect::Model(e),
        };
        let got = bucket_mut(&t.e, &name).and_then(|bk| bk.sequence());
        if !self.compare(|| format!("sequence({b})"), got, exp)? {
            return Ok(());
        }
        let t = self.txn.as_mut().expect("begun");
        let exp = match t.m.next_id(&name) {
            Ok(id) => Expect::Ok(id),
            Err(e) => Expect::Model(e),
        };
        let got = bucket_mut(&t.e, &name).and_then(|bk| bk.next_id());
        let id = got.as_ref().ok().copied();
        if self.compare(|| format!("next_id({b})"), got, exp)? {
            self.cov.ids_checked += 1;
            let id = id.expect("compare passed an Ok");
            let t = self.txn.as_mut().expect("begun");
            t.ids.push(IdEvent::Id(name, id));
        }
        Ok(())
    }

    /// `set_sequence(value)` on bucket `b`, against the model.
    pub(super) fn set_sequence(&mut self, b: BucketId, value: u64) -> R<()> {
        if !self.ensure_txn()? {
            return Ok(());
        }
        let name = bucket_name(b);
        let t = self.txn.as_mut().expect("begun");
        let exp = match t.m.set_sequence(&name, value) {
            Ok(()) => Expect::Ok(()),
            Err(e) => Expect::Model(e),
        };
        let got = bucket_mut(&t.e, &name).and_then(|bk| bk.set_sequence(value));
        self.compare(|| format!("set_sequence({b}, {value})"), got, exp)?;
        Ok(())
    }
}

/// Whether an engine error is the sequence error the model expects (used
/// by the runner's comparison of write results).
pub(super) fn same_sequence_error(got: &Error, exp: &ModelError) -> bool {
    match (got, exp) {
        (Error::SequenceExhausted(a), ModelError::SequenceExhausted(b)) => a == b,
        (
            Error::SequenceLowered {
                bucket,
                current,
                requested,
            },
            ModelError::SequenceLowered {
                bucket: b,
                current: c,
                requested: r,
            },
        ) => (bucket, current, requested) == (b, c, r),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: &str, v: u64) -> IdEvent {
        IdEvent::Id(n.as_bytes().to_vec(), v)
    }

    #[test]
    fn the_ledger_refuses_an_id_twice_within_an_incarnation_only() {
        let mut l = IdLedger::default();
        assert_eq!(l.commit(1, vec![id("a", 1), id("a", 2), id("", 1)]), Ok(3));
        assert!(l.commit(2, vec![id("a", 2)]).is_err());
        // A crash discarded commit 2 onwards: commit 2 again is new.
        assert_eq!(l.commit(2, vec![id("a", 3)]), Ok(1));
        // Commit 2 is discarded by a new commit 2: its id 3 is free again.
        assert_eq!(l.commit(2, vec![id("a", 3)]), Ok(1));
        assert!(l.commit(3, vec![id("", 1)]).is_err());
        // Dropped and created again: ids restart.
        let drop_a = IdEvent::Dropped(b"a".to_vec());
        assert_eq!(l.commit(3, vec![drop_a.clone(), id("a", 1)]), Ok(1));
        assert_eq!(l.commit(4, vec![id("a", 2)]), Ok(1));
        assert!(l.commit(5, vec![id("a", 1)]).is_err());
        // Within one commit, before and after a drop.
        assert_eq!(
            l.commit(
                5,
                vec![id("b", 1), IdEvent::Dropped(b"b".to_vec()), id("b", 1)]
            ),
            Ok(2)
        );
        assert!(l.commit(6, vec![id("b", 1)]).is_err());
    }
}
