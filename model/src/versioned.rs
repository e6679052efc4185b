//! [`VersionedModel`]: the state after every commit, and what is known about
//! each commit's fate.
//!
//! Commit 0 is the initial state (an empty database unless given). Every
//! commit the harness attempts gets the next [`CommitId`], whether the
//! engine acknowledged it or returned an error, so the history is linear:
//! commit `c` is built on commit `c - 1`. What the harness learned about
//! each commit decides which states are acceptable later:
//!
//! - [`last_acked`](VersionedModel::last_acked): the newest commit whose
//!   `commit` call returned `Ok` (or that was later shown to have landed).
//!   A live handle must show at least this.
//! - [`last_acked_durable`](VersionedModel::last_acked_durable): the newest
//!   commit that must survive a crash: an acknowledged `Immediate` commit,
//!   or an acknowledged commit followed by an acknowledged `sync()`.
//! - [`last_attempted`](VersionedModel::last_attempted): the newest commit
//!   handed to the engine, acknowledged or not.
//!
//! A commit that returned an error may or may not have landed. The harness
//! resolves it before going on, with [`crate::recovery::check_live`] (the
//! handle is still usable) or [`crate::recovery::check_recovered`] (after a
//! crash or a reopen); both truncate the history to the commit observed.

use std::fmt;
use std::ops::{Deref, DerefMut, RangeInclusive};

use crate::history::ReadCheck;
use crate::state::State;

/// Number of a commit in the model's history; commit 0 is the initial state.
pub type CommitId = usize;

/// Durability mode of one commit, as in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Acknowledged means durable: survives any later crash.
    Immediate,
    /// No sync at commit: a crash may lose it (and only a suffix of commits).
    Eventual,
}

/// What the engine's `commit` call returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `commit` returned `Ok`.
    Ok,
    /// `commit` returned an error: the commit may or may not have landed.
    Err,
}

impl Outcome {
    /// The outcome of an engine result.
    ///
    /// ```
    /// use vellum_model::Outcome;
    /// assert_eq!(Outcome::of(&Ok::<(), ()>(())), Outcome::Ok);
    /// assert_eq!(Outcome::of(&Err::<(), _>("eio")), Outcome::Err);
    /// ```
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Err,
        }
    }
}

/// What is known about one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitStatus {
    /// Handed to the engine; its `commit` call has not returned yet.
    Pending,
    /// The engine acknowledged it.
    Acked,
    /// The engine returned an error; not known whether it landed.
    Failed,
    /// It was pending or failed, and a later observation (a recovered or
    /// live state, or a later acknowledged commit) showed that it landed.
    Landed,
}

/// One commit of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitInfo {
    /// Its number.
    pub id: CommitId,
    /// Durability mode it was committed with (`Immediate` for commit 0).
    pub durability: Durability,
    /// What is known about it.
    pub status: CommitStatus,
}

/// A model write transaction: a private copy of the latest state (O(1) to
/// make) that the harness changes alongside the engine's write transaction
/// and hands to [`VersionedModel::commit`]. Dropping it aborts. It reads
/// and writes through `Deref`/`DerefMut` to [`State`], so reads see the
/// transaction's own writes.
///
/// ```
/// use vellum_model::{VersionedModel, DEFAULT_BUCKET as D};
/// let model = VersionedModel::new();
/// let mut tx = model.begin_write();
/// tx.put(D, b"k", b"v").unwrap();
/// assert_eq!(tx.get(D, b"k").unwrap(), Some(&b"v"[..]));
/// assert_eq!(model.latest().get(D, b"k").unwrap(), None);
/// drop(tx); // abort
/// ```
#[derive(Clone)]
pub struct WriteTxn {
    base: CommitId,
    state: State,
}

impl WriteTxn {
    /// The commit this transaction started from.
    pub fn base(&self) -> CommitId {
        self.base
    }

    /// The transaction's state, with its writes.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The transaction's state, consuming it.
    pub fn into_state(self) -> State {
        self.state
    }
}

impl Deref for WriteTxn {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for WriteTxn {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteTxn(base {}) {:?}", self.base, self.state)
    }
}

#[derive(Clone)]
struct Version {
    state: State,
    info: CommitInfo,
}

/// The reference model: the state after every commit (cheap: versions share
/// structure), and what is known about each commit.
///
/// ```
/// use vellum_model::{Durability, Outcome, VersionedModel, DEFAULT_BUCKET as D};
/// let mut model = VersionedModel::new();
///
/// let mut tx = model.begin_write();
/// tx.put(D, b"k", b"1").unwrap();
/// let c1 = model.commit(tx, Durability::Immediate, Outcome::Ok);
///
/// let mut tx = model.begin_write();
/// tx.put(D, b"k", b"2").unwrap();
/// let c2 = model.commit(tx, Durability::Eventual, Outcome::Ok);
///
/// assert_eq!((c1, c2), (1, 2));
/// assert_eq!(model.state(c1).unwrap().get(D, b"k").unwrap(), Some(&b"1"[..]));
/// assert_eq!(model.last_acked_durable(), 1);
/// assert_eq!(model.last_acked(), 2);
/// assert_eq!(model.crash_candidates(), 1..=2);
/// model.note_sync_ok();
/// assert_eq!(model.crash_candidates(), 2..=2);
/// ```
#[derive(Clone)]
pub struct VersionedModel {
    /// Id of `versions[0]` (older versions may have been forgotten).
    first: CommitId,
    versions: Vec<Version>,
    last_acked: CommitId,
    last_durable: CommitId,
}

impl Default for VersionedModel {
    fn default() -> Self {
        VersionedModel::new()
    }
}

impl VersionedModel {
    /// A model whose commit 0 is the empty database.
    pub fn new() -> VersionedModel {
        VersionedModel::starting_from(State::new())
    }

    /// A model whose commit 0 is `state` (for example a database loaded
    /// before the checked run), taken as durable.
    pub fn starting_from(state: State) -> VersionedModel {
        VersionedModel {
            first: 0,
            versions: vec![Version {
                state,
                info: CommitInfo {
                    id: 0,
                    durability: Durability::Immediate,
                    status: CommitStatus::Acked,
                },
            }],
            last_acked: 0,
            last_durable: 0,
        }
    }

    fn index(&self, c: CommitId) -> Option<usize> {
        c.checked_sub(self.first)
            .filter(|&i| i < self.versions.len())
    }

    fn version_mut(&mut self, c: CommitId) -> &mut Version {
        let i = self
            .index(c)
            .unwrap_or_else(|| panic!("commit {c} is not in the model's history"));
        &mut self.versions[i]
    }

    /// The newest commit handed to the engine, acknowledged or not.
    pub fn last_attempted(&self) -> CommitId {
        self.first + self.versions.len() - 1
    }

    /// The newest commit known to have landed: acknowledged, or shown to
    /// have landed by a later observation. A live handle shows at least this.
    pub fn last_acked(&self) -> CommitId {
        self.last_acked
    }

    /// The newest commit that must survive a crash: an acknowledged
    /// `Immediate` commit, an acknowledged commit covered by an acknowledged
    /// `sync()`, or the commit a previous recovery found on disk.
    pub fn last_acked_durable(&self) -> CommitId {
        self.last_durable
    }

    /// The oldest commit whose state is still kept (see
    /// [`forget_before`](Self::forget_before)).
    pub fn oldest_kept(&self) -> CommitId {
        self.first
    }

    /// The state after the newest attempted commit.
    pub fn latest(&self) -> &State {
        &self.versions.last().expect("history is never empty").state
    }

    /// The state after commit `c`, if kept.
    pub fn state(&self, c: CommitId) -> Option<&State> {
        self.index(c).map(|i| &self.versions[i].state)
    }

    /// What is known about commit `c`, if kept.
    pub fn info(&self, c: CommitId) -> Option<CommitInfo> {
        self.index(c).map(|i| self.versions[i].info)
    }

    /// The commits a state recovered after a crash may equal:
    /// `last_acked_durable ..= last_attempted`.
    ///
    /// Every acknowledged `Immediate` commit is at or below the lower end,
    /// so none can be lost. Because the history is linear and the candidates
    /// form one interval, accepting any of them means the commits lost are
    /// exactly a suffix of the history: `Eventual` loses only a suffix.
    pub fn crash_candidates(&self) -> RangeInclusive<CommitId> {
        self.last_durable..=self.last_attempted()
    }

    /// The commits a live handle's state may equal:
    /// `last_acked ..= last_attempted` (more than one only while a commit is
    /// pending or failed and unresolved).
    pub fn live_candidates(&self) -> RangeInclusive<CommitId> {
        self.last_acked..=self.last_attempted()
    }

    /// Whether some commit after the last acknowledged one is pending or
    /// failed: the live state is then not known exactly.
    pub fn has_unresolved(&self) -> bool {
        self.last_attempted() > self.last_acked
    }

    /// Starts a write transaction on the newest attempted state. Start it
    /// once the engine's write transaction has begun (one writer at a time).
    pub fn begin_write(&self) -> WriteTxn {
        WriteTxn {
            base: self.last_attempted(),
            state: self.latest().clone(),
        }
    }

    /// Starts a read check that expects exactly the live state. If a commit
    /// is unresolved, the reader may see any of
    /// [`live_candidates`](Self::live_candidates) and the check accepts the
    /// first one consistent with all its observations.
    pub fn begin_read(&self) -> ReadCheck {
        self.read_between(self.live_candidates())
    }

    /// A read check for a reader known to have started after commit `c`.
    ///
    /// # Panics
    /// If commit `c` is not kept.
    pub fn read_at(&self, c: CommitId) -> ReadCheck {
        self.read_between(c..=c)
    }

    /// A read check for a reader that started after one of the `commits`
    /// (for readers racing with writers on real threads).
    ///
    /// # Panics
    /// If the range is empty or names a commit that is not kept.
    pub fn read_between(&self, commits: RangeInclusive<CommitId>) -> ReadCheck {
        let candidates = commits
            .map(|c| {
                let s = self
                    .state(c)
                    .unwrap_or_else(|| panic!("commit {c} is not in the model's history"));
                (c, s.clone())
            })
            .collect();
        ReadCheck::among(candidates)
    }

    /// Records a commit whose engine call has finished: `commit_begin` then
    /// `commit_finish`. Returns its number.
    ///
    /// # Panics
    /// If `txn` did not start from the newest attempted commit (two writers
    /// at once, or a transaction kept across a resolution): a harness bug.
    pub fn commit(&mut self, txn: WriteTxn, durability: Durability, outcome: Outcome) -> CommitId {
        let c = self.commit_begin(txn, durability);
        self.commit_finish(c, outcome);
        c
    }

    /// Records a commit about to be handed to the engine, as
    /// [`CommitStatus::Pending`]. Call it before the engine's `commit` so
    /// that readers starting meanwhile count it as a candidate.
    ///
    /// # Panics
    /// As [`commit`](Self::commit).
    pub fn commit_begin(&mut self, txn: WriteTxn, durability: Durability) -> CommitId {
        assert_eq!(
            txn.base,
            self.last_attempted(),
            "write transaction started at commit {} but the model is at commit {}",
            txn.base,
            self.last_attempted()
        );
        let id = self.last_attempted() + 1;
        self.versions.push(Version {
            state: txn.state,
            info: CommitInfo {
                id,
                durability,
                status: CommitStatus::Pending,
            },
        });
        id
    }

    /// Records what the engine's `commit` call for commit `c` returned.
    ///
    /// # Panics
    /// If `c` is not a pending commit.
    pub fn commit_finish(&mut self, c: CommitId, outcome: Outcome) {
        let v = self.version_mut(c);
        assert_eq!(
            v.info.status,
            CommitStatus::Pending,
            "commit {c} is not pending"
        );
        match outcome {
            Outcome::Err => v.info.status = CommitStatus::Failed,
            Outcome::Ok => {
                v.info.status = CommitStatus::Acked;
                let durable = v.info.durability == Durability::Immediate;
                self.mark_landed_through(c);
                if durable {
                    self.last_durable = self.last_durable.max(c);
                }
            }
        }
    }

    /// Records that `db.sync()` returned `Ok`: every commit acknowledged
    /// before it is durable. (Call it with the sync's result only; a failed
    /// sync proves nothing.)
    pub fn note_sync_ok(&mut self) {
        self.note_durable(self.last_acked);
    }

    /// Records that every commit up to `c` is durable, for a sync that
    /// covered only the commits acknowledged before it began (threads).
    pub fn note_durable(&mut self, c: CommitId) {
        assert!(
            c <= self.last_acked,
            "commit {c} cannot be durable: the last acknowledged commit is {}",
            self.last_acked
        );
        self.last_durable = self.last_durable.max(c);
    }

    /// Marks every unacknowledged commit up to `c` as landed and raises
    /// `last_acked` to `c`.
    fn mark_landed_through(&mut self, c: CommitId) {
        let end = self.index(c).expect("commit kept");
        for v in &mut self.versions[..=end] {
            if matches!(v.info.status, CommitStatus::Pending | CommitStatus::Failed) {
                v.info.status = CommitStatus::Landed;
            }
        }
        self.last_acked = self.last_acked.max(c);
    }

    /// Records that the engine was observed at commit `c`: commits after `c`
    /// did not land and are removed; commits up to `c` landed. With
    /// `after_crash`, `c` is also durable (it was read back from the disk)
    /// and acknowledged `Eventual` commits after it count as lost;
    /// without, `c` must not be below [`last_acked`](Self::last_acked).
    ///
    /// [`crate::recovery`] calls this after matching a state; call it
    /// directly only when the commit is known by other means.
    ///
    /// # Panics
    /// If `c` is outside [`crash_candidates`](Self::crash_candidates)
    /// (`after_crash`) or [`live_candidates`](Self::live_candidates).
    pub fn resolve_to(&mut self, c: CommitId, after_crash: bool) {
        let allowed = if after_crash {
            self.crash_candidates()
        } else {
            self.live_candidates()
        };
        assert!(
            allowed.contains(&c),
            "cannot resolve to commit {c}: allowed commits are {allowed:?}"
        );
        self.settle(c, after_crash);
    }

    /// Records that the engine was observed at commit `c` after a failed
    /// sync and a page-cache drop: `c` may be anywhere in
    /// [`crash_candidates`](Self::crash_candidates) (the failed sync may
    /// have lost acknowledged-but-unsynced commits), but seeing it does not
    /// make it durable.
    ///
    /// # Panics
    /// If `c` is outside [`crash_candidates`](Self::crash_candidates).
    pub fn resolve_after_cache_drop(&mut self, c: CommitId) {
        let allowed = self.crash_candidates();
        assert!(
            allowed.contains(&c),
            "cannot resolve to commit {c}: allowed commits are {allowed:?}"
        );
        self.settle(c, false);
    }

    fn settle(&mut self, c: CommitId, durable: bool) {
        let keep = self.index(c).expect("commit kept") + 1;
        self.versions.truncate(keep);
        self.last_acked = c;
        self.mark_landed_through(c);
        if durable {
            self.last_durable = c;
        }
    }

    /// Drops the states of commits before `c` to save memory; their
    /// [`CommitId`]s stay as they were. Read checks already started keep
    /// their own copies.
    ///
    /// # Panics
    /// If `c` is after [`last_acked_durable`](Self::last_acked_durable)
    /// (recovery may still need those states).
    pub fn forget_before(&mut self, c: CommitId) {
        assert!(
            c <= self.last_durable,
            "cannot forget commits up to {c}: recovery may need any commit from {}",
            self.last_durable
        );
        if c > self.first {
            self.versions.drain(..c - self.first);
            self.first = c;
        }
    }

    /// The kept commits, oldest first.
    pub fn commits(&self) -> impl DoubleEndedIterator<Item = (CommitInfo, &State)> + '_ {
        self.versions.iter().map(|v| (v.info, &v.state))
    }
}

impl fmt::Debug for VersionedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VersionedModel {{ commits {}..={}, last_acked_durable {}, last_acked {}, latest {:?} }}",
            self.first,
            self.last_attempted(),
            self.last_durable,
            self.last_acked,
            self.latest()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DEFAULT_BUCKET as D;

    fn put(model: &mut VersionedModel, k: &[u8], d: Durability, o: Outcome) -> CommitId {
        let mut tx = model.begin_write();
        tx.put(D, k, k).unwrap();
        model.commit(tx, d, o)
    }

    #[test]
    fn versions_are_independent() {
        let mut m = VersionedModel::new();
        let c1 = put(&mut m, b"a", Durability::Immediate, Outcome::Ok);
        let c2 = put(&mut m, b"b", Durability::Immediate, Outcome::Ok);
        assert_eq!(m.state(0).unwrap().len(D).unwrap(), 0);
        assert_eq!(m.state(c1).unwrap().len(D).unwrap(), 1);
        assert_eq!(m.state(c2).unwrap().len(D).unwrap(), 2);
        // An aborted transaction changes nothing.
        let mut tx = m.begin_write();
        tx.put(D, b"z", b"z").unwrap();
        drop(tx);
        assert_eq!(m.latest().len(D).unwrap(), 2);
        assert_eq!(m.last_attempted(), 2);
    }

    #[test]
    fn durability_bookkeeping() {
        let mut m = VersionedModel::new();
        put(&mut m, b"1", Durability::Immediate, Outcome::Ok);
        put(&mut m, b"2", Durability::Eventual, Outcome::Ok);
        put(&mut m, b"3", Durability::Eventual, Outcome::Ok);
        assert_eq!(m.crash_candidates(), 1..=3);
        assert_eq!(m.live_candidates(), 3..=3);
        assert!(!m.has_unresolved());
        let c4 = put(&mut m, b"4", Durability::Immediate, Outcome::Err);
        assert_eq!(m.info(c4).unwrap().status, CommitStatus::Failed);
        assert_eq!(m.crash_candidates(), 1..=4);
        assert_eq!(m.live_candidates(), 3..=4);
        assert!(m.has_unresolved());
        m.note_sync_ok();
        assert_eq!(m.last_acked_durable(), 3);
        // An acknowledged commit after a failed one proves it landed.
        put(&mut m, b"5", Durability::Eventual, Outcome::Ok);
        assert_eq!(m.info(c4).unwrap().status, CommitStatus::Landed);
        assert_eq!(m.last_acked(), 5);
        assert_eq!(m.last_acked_durable(), 3);
        put(&mut m, b"6", Durability::Immediate, Outcome::Ok);
        assert_eq!(m.crash_candidates(), 6..=6);
    }

    #[test]
    fn resolve_truncates_and_continues() {
        let mut m = VersionedModel::new();
        put(&mut m, b"1", Durability::Immediate, Outcome::Ok);
        put(&mut m, b"2", Durability::Eventual, Outcome::Ok);
        put(&mut m, b"3", Durability::Eventual, Outcome::Err);
        m.resolve_to(1, true);
        assert_eq!(m.last_attempted(), 1);
        assert_eq!(m.last_acked(), 1);
        assert_eq!(m.last_acked_durable(), 1);
        let c = put(&mut m, b"x", Durability::Eventual, Outcome::Ok);
        assert_eq!(c, 2);
        assert_eq!(m.latest().get(D, b"2").unwrap(), None);
        assert_eq!(m.latest().get(D, b"x").unwrap(), Some(&b"x"[..]));

        // Live resolution of a failed commit that landed.
        put(&mut m, b"y", Durability::Immediate, Outcome::Err);
        m.resolve_to(3, false);
        assert_eq!(m.info(3).unwrap().status, CommitStatus::Landed);
        assert_eq!(m.last_acked(), 3);
        assert_eq!(m.last_acked_durable(), 1);
    }

    #[test]
    #[should_panic(expected = "allowed commits are 2..=3")]
    fn live_resolution_cannot_lose_acknowledged_commits() {
        let mut m = VersionedModel::new();
        put(&mut m, b"1", Durability::Eventual, Outcome::Ok);
        put(&mut m, b"2", Durability::Eventual, Outcome::Ok);
        put(&mut m, b"3", Durability::Eventual, Outcome::Err);
        m.resolve_to(1, false);
    }

    #[test]
    #[should_panic(expected = "started at commit 0 but the model is at commit 1")]
    fn stale_writer_is_a_harness_bug() {
        let mut m = VersionedModel::new();
        let t1 = m.begin_write();
        let t2 = m.begin_write();
        m.commit(t1, Durability::Immediate, Outcome::Ok);
        m.commit(t2, Durability::Immediate, Outcome::Ok);
    }

    #[test]
    fn forget_keeps_ids() {
        let mut m = VersionedModel::new();
        for k in [b"1", b"2", b"3"] {
            put(&mut m, k, Durability::Immediate, Outcome::Ok);
        }
        m.forget_before(2);
        assert_eq!(m.oldest_kept(), 2);
        assert!(m.state(1).is_none());
        assert_eq!(m.state(3).unwrap().len(D).unwrap(), 3);
        assert_eq!(m.commits().count(), 2);
        assert_eq!(put(&mut m, b"4", Durability::Eventual, Outcome::Ok), 4);
    }
}
