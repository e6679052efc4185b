//! Checking what readers observe: each operation's result, and snapshot
//! isolation.
//!
//! A read is a [`Query`] (get, contains, len, range, prefix, bucket list)
//! and the engine's [`Answer`]. [`Query::eval`] computes the model's answer
//! on any [`State`], so the same check serves write transactions (their
//! reads see their own writes) and read transactions.
//!
//! A [`ReadCheck`] follows one read transaction for its whole life. It
//! holds its own copies of the candidate states (O(1) each), so it can live
//! on the reader's thread while the writer and the model go on, and every
//! observation is checked at once. Snapshot isolation means every
//! observation of the transaction agrees with one and the same commit: the
//! one it started after. When that commit is known exactly (a
//! single-threaded simulator), the check has one candidate. A reader racing
//! with writers on real threads only knows an interval of commits; the check
//! then keeps the candidates consistent with everything observed so far and
//! fails when none is left. [`SharedModel`] wires this up for threads.
//!
//! ```
//! use vellum_model::{Answer, Durability, Outcome, Query, VersionedModel, DEFAULT_BUCKET as D};
//! let mut model = VersionedModel::new();
//! let mut tx = model.begin_write();
//! tx.put(D, b"k", b"1").unwrap();
//! model.commit(tx, Durability::Immediate, Outcome::Ok);
//!
//! let mut reader = model.begin_read(); // the reader starts after commit 1
//! let mut tx = model.begin_write();
//! tx.put(D, b"k", b"2").unwrap();
//! model.commit(tx, Durability::Immediate, Outcome::Ok);
//!
//! // The reader must still see commit 1.
//! assert!(reader.check_get(D, b"k", Ok(Some(b"1"))).is_ok());
//! let err = reader.check_get(D, b"k", Ok(Some(b"2"))).unwrap_err();
//! assert!(err.to_string().contains("commit 1"), "{err}");
//! ```

use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::state::{KeyRange, ModelError, ShowBucket, ShowBytes, State};
use crate::versioned::{CommitId, Durability, Outcome, VersionedModel, WriteTxn};

/// A read operation, as data: what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// `get(key)`: the value or `None`.
    Get {
        /// Bucket name ([`crate::DEFAULT_BUCKET`] for the default).
        bucket: Vec<u8>,
        /// The key.
        key: Vec<u8>,
    },
    /// `contains(key)`.
    Contains {
        /// Bucket name.
        bucket: Vec<u8>,
        /// The key.
        key: Vec<u8>,
    },
    /// `len()` of a bucket.
    Len {
        /// Bucket name.
        bucket: Vec<u8>,
    },
    /// An ordered scan of `start..end`, optionally reversed and cut after
    /// `limit` entries. Cursor moves are scans with a limit: `seek(k)` is
    /// `k..` with limit 1, `last()` is `..` reversed with limit 1.
    Range {
        /// Bucket name.
        bucket: Vec<u8>,
        /// Lower bound.
        start: Bound<Vec<u8>>,
        /// Upper bound.
        end: Bound<Vec<u8>>,
        /// Descending order.
        reverse: bool,
        /// At most this many entries.
        limit: Option<usize>,
    },
    /// The names of the named buckets, sorted.
    Buckets,
}

impl Query {
    /// `get(key)` in `bucket`.
    pub fn get(bucket: &[u8], key: &[u8]) -> Query {
        Query::Get {
            bucket: bucket.to_vec(),
            key: key.to_vec(),
        }
    }

    /// `contains(key)` in `bucket`.
    pub fn contains(bucket: &[u8], key: &[u8]) -> Query {
        Query::Contains {
            bucket: bucket.to_vec(),
            key: key.to_vec(),
        }
    }

    /// `len()` of `bucket`.
    pub fn len(bucket: &[u8]) -> Query {
        Query::Len {
            bucket: bucket.to_vec(),
        }
    }

    /// A forward scan of `range` (Rust range syntax, see [`KeyRange`]).
    pub fn range(bucket: &[u8], range: impl KeyRange) -> Query {
        let (start, end) = range.bounds();
        Query::Range {
            bucket: bucket.to_vec(),
            start: start.map(<[u8]>::to_vec),
            end: end.map(<[u8]>::to_vec),
            reverse: false,
            limit: None,
        }
    }

    /// A forward scan of the keys starting with `prefix`.
    pub fn prefix(bucket: &[u8], prefix: &[u8]) -> Query {
        let end = match crate::state::prefix_successor(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        Query::Range {
            bucket: bucket.to_vec(),
            start: Bound::Included(prefix.to_vec()),
            end,
            reverse: false,
            limit: None,
        }
    }

    /// This scan in descending order (no effect on other queries).
    pub fn reversed(mut self) -> Query {
        if let Query::Range { reverse, .. } = &mut self {
            *reverse = !*reverse;
        }
        self
    }

    /// This scan cut after `n` entries (no effect on other queries).
    pub fn limited(mut self, n: usize) -> Query {
        if let Query::Range { limit, .. } = &mut self {
            *limit = Some(n);
        }
        self
    }

    /// The model's answer on `state`.
    ///
    /// ```
    /// use vellum_model::{Answer, Query, State, DEFAULT_BUCKET as D};
    /// let mut s = State::new();
    /// s.put(D, b"a", b"1").unwrap();
    /// s.put(D, b"b", b"2").unwrap();
    /// assert_eq!(Query::get(D, b"a").eval(&s), Answer::Value(Some(b"1".to_vec())));
    /// assert_eq!(
    ///     Query::range(D, ..).reversed().limited(1).eval(&s),
    ///     Answer::Entries(vec![(b"b".to_vec(), b"2".to_vec())])
    /// );
    /// ```
    pub fn eval(&self, state: &State) -> Answer {
        let answer = match self {
            Query::Get { bucket, key } => state
                .get(bucket, key)
                .map(|v| Answer::Value(v.map(<[u8]>::to_vec))),
            Query::Contains { bucket, key } => state.contains(bucket, key).map(Answer::Bool),
            Query::Len { bucket } => state.len(bucket).map(Answer::Len),
            Query::Range {
                bucket,
                start,
                end,
                reverse,
                limit,
            } => state
                .range_bounds(
                    bucket,
                    start.as_ref().map(|k| &k[..]),
                    end.as_ref().map(|k| &k[..]),
                )
                .map(|it| {
                    let limit = limit.unwrap_or(usize::MAX);
                    let own = |(k, v): (&[u8], &[u8])| (k.to_vec(), v.to_vec());
                    Answer::Entries(if *reverse {
                        it.rev().take(limit).map(own).collect()
                    } else {
                        it.take(limit).map(own).collect()
                    })
                }),
            Query::Buckets => Ok(Answer::Buckets(state.list_buckets())),
        };
        answer.unwrap_or_else(Answer::Error)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Get { bucket, key } => {
                write!(f, "get({}, {})", ShowBucket(bucket), ShowBytes(key))
            }
            Query::Contains { bucket, key } => {
                write!(f, "contains({}, {})", ShowBucket(bucket), ShowBytes(key))
            }
            Query::Len { bucket } => write!(f, "len({})", ShowBucket(bucket)),
            Query::Range {
                bucket,
                start,
                end,
                reverse,
                limit,
            } => {
                let lo = match start {
                    Bound::Included(k) => ShowBytes(k).to_string(),
                    Bound::Excluded(k) => format!("(after {})", ShowBytes(k)),
                    Bound::Unbounded => String::new(),
                };
                let hi = match end {
                    Bound::Included(k) => format!("={}", ShowBytes(k)),
                    Bound::Excluded(k) => ShowBytes(k).to_string(),
                    Bound::Unbounded => String::new(),
                };
                write!(f, "range({}, {lo}..{hi})", ShowBucket(bucket))?;
                if *reverse {
                    f.write_str(".rev()")?;
                }
                if let Some(n) = limit {
                    write!(f, ".take({n})")?;
                }
                Ok(())
            }
            Query::Buckets => f.write_str("list_buckets()"),
        }
    }
}

/// Owned `(key, value)` pairs, as a scan returns them.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

/// A read's result, as data: what the engine returned (or the model
/// expects).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Result of [`Query::Get`].
    Value(Option<Vec<u8>>),
    /// Result of [`Query::Contains`].
    Bool(bool),
    /// Result of [`Query::Len`].
    Len(usize),
    /// Result of [`Query::Range`], in the order returned.
    Entries(KeyValues),
    /// Result of [`Query::Buckets`].
    Buckets(Vec<Vec<u8>>),
    /// The operation was refused for a reason the model knows.
    Error(ModelError),
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        match self {
            Answer::Value(None) => f.write_str("None"),
            Answer::Value(Some(v)) => write!(f, "Some({})", ShowBytes(v)),
            Answer::Bool(b) => write!(f, "{b}"),
            Answer::Len(n) => write!(f, "{n}"),
            Answer::Entries(es) => {
                write!(f, "{} entries [", es.len())?;
                for (i, (k, v)) in es.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", ShowBytes(k), ShowBytes(v))?;
                }
                if es.len() > SHOWN {
                    f.write_str(", ..")?;
                }
                f.write_str("]")
            }
            Answer::Buckets(bs) => {
                f.write_str("[")?;
                for (i, b) in bs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", ShowBytes(b))?;
                }
                f.write_str("]")
            }
            Answer::Error(e) => write!(f, "Err({e})"),
        }
    }
}

/// Where two answers first part, for messages about long scans.
fn first_divergence(expected: &Answer, observed: &Answer) -> Option<String> {
    let (Answer::Entries(e), Answer::Entries(o)) = (expected, observed) else {
        return None;
    };
    let i = e.iter().zip(o).take_while(|(a, b)| a == b).count();
    let show = |x: Option<&(Vec<u8>, Vec<u8>)>| match x {
        Some((k, v)) => format!("{}: {}", ShowBytes(k), ShowBytes(v)),
        None => "the end".to_string(),
    };
    Some(format!(
        "first difference at entry {i}: expected {}, observed {}",
        show(e.get(i)),
        show(o.get(i))
    ))
}

/// The answer the engine gave differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What was asked.
    pub query: Query,
    /// What the model says.
    pub expected: Answer,
    /// What the engine returned.
    pub observed: Answer,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} returned {} but the model expects {}",
            self.query, self.observed, self.expected
        )?;
        if let Some(d) = first_divergence(&self.expected, &self.observed) {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Checks one answer against `state` (for write transactions, whose reads
/// see their own writes, or any single expected state).
///
/// ```
/// use vellum_model::{check_answer, Answer, Query, State, DEFAULT_BUCKET as D};
/// let s = State::new();
/// assert!(check_answer(&s, &Query::len(D), &Answer::Len(0)).is_ok());
/// let m = check_answer(&s, &Query::get(D, b"k"), &Answer::Value(Some(b"v".to_vec()))).unwrap_err();
/// assert_eq!(m.to_string(), r#"get(default, b"k") returned Some(b"v") but the model expects None"#);
/// ```
pub fn check_answer(state: &State, query: &Query, observed: &Answer) -> Result<(), Box<Mismatch>> {
    let expected = query.eval(state);
    if &expected == observed {
        Ok(())
    } else {
        Err(Box::new(Mismatch {
            query: query.clone(),
            expected,
            observed: observed.clone(),
        }))
    }
}

/// A candidate commit ruled out by an earlier observation of the same
/// reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuledOut {
    /// The commit.
    pub commit: CommitId,
    /// Index (0-based) of the observation that ruled it out.
    pub observation: usize,
    /// That observation and what the commit would have answered.
    pub mismatch: Mismatch,
}

/// A read transaction saw something no single commit it may have started
/// after explains: a snapshot-isolation (or plain wrong-answer) violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotViolation {
    /// The commits the reader may have started after, as first given.
    pub started_after: Vec<CommitId>,
    /// Index (0-based) of the failing observation in this read transaction.
    pub observation: usize,
    /// What was asked.
    pub query: Query,
    /// What the engine returned.
    pub observed: Answer,
    /// What each commit still consistent before this observation answers.
    pub expected: Vec<(CommitId, Answer)>,
    /// Candidates ruled out earlier, and by which observation.
    pub ruled_out: Vec<RuledOut>,
}

impl fmt::Display for SnapshotViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let started = match self.started_after.as_slice() {
            [c] => format!("started after commit {c}"),
            cs => format!(
                "started after one of commits {}..={}",
                cs.first().copied().unwrap_or_default(),
                cs.last().copied().unwrap_or_default()
            ),
        };
        write!(
            f,
            "snapshot isolation violated: read transaction {started}; observation #{} {} returned {}",
            self.observation, self.query, self.observed
        )?;
        for (c, a) in &self.expected {
            write!(f, "; commit {c} gives {a}")?;
            if let Some(d) = first_divergence(a, &self.observed) {
                write!(f, " ({d})")?;
            }
        }
        for r in &self.ruled_out {
            write!(
                f,
                "; commit {} was ruled out by observation #{}: {}",
                r.commit, r.observation, r.mismatch
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SnapshotViolation {}

/// Follows one read transaction: checks each observation against the
/// state of the commit it started after, for its whole life.
///
/// Obtain one from [`VersionedModel::begin_read`] (reader starts now),
/// [`VersionedModel::read_at`], [`VersionedModel::read_between`], or
/// [`SharedModel::begin_read`]. It owns cheap copies of its candidate
/// states: it is `Send`, needs no lock, and stays valid whatever the model
/// does afterwards. After a violation it keeps its candidates, so later
/// observations are still checked.
///
/// ```
/// use vellum_model::{ReadCheck, State, DEFAULT_BUCKET as D};
/// let mut old = State::new();
/// old.put(D, b"k", b"old").unwrap();
/// let mut new = old.clone();
/// new.put(D, b"k", b"new").unwrap();
///
/// // A reader that started after commit 4 or 5 (racing with the writer).
/// let mut r = ReadCheck::among(vec![(4, old), (5, new)]);
/// r.check_get(D, b"k", Ok(Some(b"new"))).unwrap();
/// assert_eq!(r.commit(), Some(5));
/// // It must keep seeing commit 5.
/// let e = r.check_get(D, b"k", Ok(Some(b"old"))).unwrap_err();
/// assert!(e.to_string().contains("commit 4 was ruled out by observation #0"), "{e}");
/// ```
#[derive(Debug, Clone)]
pub struct ReadCheck {
    started_after: Vec<CommitId>,
    candidates: Vec<(CommitId, State)>,
    ruled_out: Vec<RuledOut>,
    observations: usize,
}

impl ReadCheck {
    /// A reader that started after `commit`, whose state is `state`.
    pub fn at(commit: CommitId, state: State) -> ReadCheck {
        ReadCheck::among(vec![(commit, state)])
    }

    /// A reader that started after one of the given commits.
    ///
    /// # Panics
    /// If `candidates` is empty.
    pub fn among(candidates: Vec<(CommitId, State)>) -> ReadCheck {
        assert!(!candidates.is_empty(), "a reader needs a candidate commit");
        ReadCheck {
            started_after: candidates.iter().map(|(c, _)| *c).collect(),
            candidates,
            ruled_out: Vec::new(),
            observations: 0,
        }
    }

    /// Checks one observation; on success, keeps only the candidates that
    /// agree with it.
    pub fn observe(
        &mut self,
        query: Query,
        observed: Answer,
    ) -> Result<(), Box<SnapshotViolation>> {
        let index = self.observations;
        self.observations += 1;
        let expected: Vec<(CommitId, Answer)> = self
            .candidates
            .iter()
            .map(|(c, s)| (*c, query.eval(s)))
            .collect();
        if !expected.iter().any(|(_, a)| *a == observed) {
            return Err(Box::new(SnapshotViolation {
                started_after: self.started_after.clone(),
                observation: index,
                query,
                observed,
                expected,
                ruled_out: self.ruled_out.clone(),
            }));
        }
        let mut keep = Vec::with_capacity(self.candidates.len());
        for ((c, s), (_, a)) in self.candidates.drain(..).zip(expected) {
            if a == observed {
                keep.push((c, s));
            } else {
                self.ruled_out.push(RuledOut {
                    commit: c,
                    observation: index,
                    mismatch: Mismatch {
                        query: query.clone(),
                        expected: a,
                        observed: observed.clone(),
                    },
                });
            }
        }
        self.candidates = keep;
        Ok(())
    }

    /// Checks a `get`.
    pub fn check_get(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        observed: Result<Option<&[u8]>, ModelError>,
    ) -> Result<(), Box<SnapshotViolation>> {
        let answer = observed.map_or_else(Answer::Error, |v| Answer::Value(v.map(<[u8]>::to_vec)));
        self.observe(Query::get(bucket, key), answer)
    }

    /// Checks a `contains`.
    pub fn check_contains(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        observed: Result<bool, ModelError>,
    ) -> Result<(), Box<SnapshotViolation>> {
        let answer = observed.map_or_else(Answer::Error, Answer::Bool);
        self.observe(Query::contains(bucket, key), answer)
    }

    /// Checks a bucket's `len`.
    pub fn check_len(
        &mut self,
        bucket: &[u8],
        observed: Result<usize, ModelError>,
    ) -> Result<(), Box<SnapshotViolation>> {
        let answer = observed.map_or_else(Answer::Error, Answer::Len);
        self.observe(Query::len(bucket), answer)
    }

    /// Checks a complete forward scan of `range`. For reversed or cut
    /// scans, build the [`Query`] and call [`observe`](Self::observe).
    pub fn check_range(
        &mut self,
        bucket: &[u8],
        range: impl KeyRange,
        observed: Result<KeyValues, ModelError>,
    ) -> Result<(), Box<SnapshotViolation>> {
        let answer = observed.map_or_else(Answer::Error, Answer::Entries);
        self.observe(Query::range(bucket, range), answer)
    }

    /// Checks a complete forward prefix scan.
    pub fn check_prefix(
        &mut self,
        bucket: &[u8],
        prefix: &[u8],
        observed: Result<KeyValues, ModelError>,
    ) -> Result<(), Box<SnapshotViolation>> {
        let answer = observed.map_or_else(Answer::Error, Answer::Entries);
        self.observe(Query::prefix(bucket, prefix), answer)
    }

    /// Checks the list of named buckets.
    pub fn check_buckets(&mut self, observed: Vec<Vec<u8>>) -> Result<(), Box<SnapshotViolation>> {
        self.observe(Query::Buckets, Answer::Buckets(observed))
    }

    /// The commit this reader is pinned to, once only one candidate is left.
    pub fn commit(&self) -> Option<CommitId> {
        match self.candidates.as_slice() {
            [(c, _)] => Some(*c),
            _ => None,
        }
    }

    /// The commits still consistent with everything observed.
    pub fn candidates(&self) -> Vec<CommitId> {
        self.candidates.iter().map(|(c, _)| *c).collect()
    }

    /// The state of the oldest remaining candidate: what to expect when
    /// driving the reader (exact once [`commit`](Self::commit) is `Some`).
    pub fn state(&self) -> &State {
        &self.candidates[0].1
    }

    /// Number of observations checked so far.
    pub fn observations(&self) -> usize {
        self.observations
    }
}

/// A [`VersionedModel`] shared by real threads, for histories recorded
/// from concurrent readers and writers.
///
/// The writer registers each commit before handing it to the engine and
/// records the result after; a reader notes the newest acknowledged commit
/// before beginning its engine transaction and the newest attempted one
/// after. The engine's snapshot must be one of the commits in between,
/// and the [`ReadCheck`] accepts exactly those.
///
/// ```
/// use std::thread;
/// use vellum_model::{Durability, SharedModel, VersionedModel, DEFAULT_BUCKET as D};
/// let shared = SharedModel::new(VersionedModel::new());
/// let writer = {
///     let shared = shared.clone();
///     thread::spawn(move || {
///         for i in 0..50u32 {
///             let ((), mut tx) = shared.begin_write(|| ()); // engine begin_write here
///             tx.put(D, b"k", &i.to_be_bytes()).unwrap();
///             let (_c, res) = shared.commit(tx, Durability::Eventual, || Ok::<(), ()>(()));
///             res.unwrap();
///         }
///     })
/// };
/// // Here the "engine" is the model itself: a reader takes its snapshot
/// // inside `open`.
/// let (snapshot, mut check) = shared.begin_read(|| shared.lock().latest().clone());
/// let v = snapshot.get(D, b"k").unwrap().map(<[u8]>::to_vec);
/// check.check_get(D, b"k", Ok(v.as_deref())).unwrap();
/// writer.join().unwrap();
/// ```
#[derive(Clone, Default)]
pub struct SharedModel {
    inner: Arc<Mutex<VersionedModel>>,
}

impl SharedModel {
    /// Shares `model`.
    pub fn new(model: VersionedModel) -> SharedModel {
        SharedModel {
            inner: Arc::new(Mutex::new(model)),
        }
    }

    /// Locks the model (a panic on another thread does not poison it for
    /// the checker).
    pub fn lock(&self) -> MutexGuard<'_, VersionedModel> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Begins a read: `open` begins the engine's read transaction. Returns
    /// its result and the check for it. The model lock is not held while
    /// `open` runs.
    pub fn begin_read<T>(&self, open: impl FnOnce() -> T) -> (T, ReadCheck) {
        let lo = self.lock().last_acked();
        let txn = open();
        let model = self.lock();
        let hi = model.last_attempted();
        // A resolution meanwhile may have removed commits above `lo`.
        let lo = lo.min(hi).max(model.oldest_kept());
        (txn, model.read_between(lo..=hi))
    }

    /// Begins a write: `open` begins the engine's write transaction (and
    /// waits for the writer slot); the model transaction starts after it.
    pub fn begin_write<T>(&self, open: impl FnOnce() -> T) -> (T, WriteTxn) {
        let txn = open();
        (txn, self.lock().begin_write())
    }

    /// Commits: registers the commit as pending, runs `engine_commit`
    /// without the lock, then records its outcome. Returns the commit
    /// number and the engine's result.
    pub fn commit<T, E>(
        &self,
        txn: WriteTxn,
        durability: Durability,
        engine_commit: impl FnOnce() -> Result<T, E>,
    ) -> (CommitId, Result<T, E>) {
        let c = self.lock().commit_begin(txn, durability);
        let result = engine_commit();
        self.lock().commit_finish(c, Outcome::of(&result));
        (c, result)
    }

    /// Runs `sync` (the engine's `db.sync()`); if it returns `Ok`, every
    /// commit acknowledged before it began is durable.
    pub fn sync<T, E>(&self, sync: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let covered = self.lock().last_acked();
        let result = sync();
        if result.is_ok() {
            let mut model = self.lock();
            if covered <= model.last_acked() {
                model.note_durable(covered);
            }
        }
        result
    }
}

impl fmt::Debug for SharedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedModel({:?})", *self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::DEFAULT_BUCKET as D;

    fn commit_put(m: &mut VersionedModel, k: &[u8], v: &[u8]) -> CommitId {
        let mut tx = m.begin_write();
        tx.put(D, k, v).unwrap();
        m.commit(tx, Durability::Immediate, Outcome::Ok)
    }

    #[test]
    fn reader_sees_its_snapshot_while_writes_continue() {
        let mut m = VersionedModel::new();
        commit_put(&mut m, b"a", b"1");
        let mut r = m.begin_read();
        assert_eq!(r.commit(), Some(1));
        for i in 0..10u8 {
            commit_put(&mut m, b"a", &[i]);
            commit_put(&mut m, &[b'k', i], b"");
            r.check_get(D, b"a", Ok(Some(b"1"))).unwrap();
            r.check_len(D, Ok(1)).unwrap();
            r.check_range(D, ..b"z", Ok(vec![(b"a".to_vec(), b"1".to_vec())]))
                .unwrap();
        }
        assert_eq!(r.observations(), 30);
    }

    #[test]
    fn catches_a_wrong_read() {
        let mut m = VersionedModel::new();
        commit_put(&mut m, b"a", b"1");
        commit_put(&mut m, b"b", b"2");
        let mut r = m.read_at(1);
        // Seeing commit 2's key from a reader of commit 1 is a violation.
        let v = r.check_contains(D, b"b", Ok(true)).unwrap_err();
        assert_eq!(v.expected, vec![(1, Answer::Bool(false))]);
        let msg = v.to_string();
        assert!(msg.contains("started after commit 1"), "{msg}");
        assert!(
            msg.contains("observation #0 contains(default, b\"b\") returned true"),
            "{msg}"
        );
        // Wrong scan: message names the first differing entry.
        let v = r
            .check_prefix(D, b"", Ok(vec![(b"a".to_vec(), b"2".to_vec())]))
            .unwrap_err();
        assert!(v.to_string().contains("first difference at entry 0"), "{v}");
        // Missing bucket must be reported as such.
        r.check_get(
            b"nope",
            b"k",
            Err(ModelError::BucketNotFound(b"nope".to_vec())),
        )
        .unwrap();
        assert!(r.check_get(b"nope", b"k", Ok(None)).is_err());
        assert!(r.check_buckets(vec![]).is_ok());
    }

    #[test]
    fn racing_reader_is_pinned_by_its_first_distinguishing_read() {
        let mut m = VersionedModel::new();
        commit_put(&mut m, b"a", b"1");
        commit_put(&mut m, b"a", b"2");
        commit_put(&mut m, b"b", b"3");
        let mut r = m.read_between(1..=3);
        // get(a)=2 fits commits 2 and 3.
        r.check_get(D, b"a", Ok(Some(b"2"))).unwrap();
        assert_eq!(r.candidates(), vec![2, 3]);
        // contains(b)=false fits only commit 2.
        r.check_contains(D, b"b", Ok(false)).unwrap();
        assert_eq!(r.commit(), Some(2));
        let v = r.check_len(D, Ok(2)).unwrap_err();
        assert_eq!(v.ruled_out.len(), 2);
        let msg = v.to_string();
        assert!(msg.contains("one of commits 1..=3"), "{msg}");
        assert!(
            msg.contains("commit 1 was ruled out by observation #0"),
            "{msg}"
        );
        assert!(
            msg.contains("commit 3 was ruled out by observation #1"),
            "{msg}"
        );
        // The reader keeps its candidate after a violation.
        r.check_len(D, Ok(1)).unwrap();
    }

    #[test]
    fn scans_reversed_and_limited() {
        let mut s = State::new();
        for k in [b"a", b"b", b"c"] {
            s.put(D, k, b"").unwrap();
        }
        let e = |ks: &[&[u8]]| Answer::Entries(ks.iter().map(|k| (k.to_vec(), vec![])).collect());
        assert_eq!(Query::range(D, b"a"..b"c").eval(&s), e(&[b"a", b"b"]));
        assert_eq!(
            Query::range(D, b"b"..).reversed().eval(&s),
            e(&[b"c", b"b"])
        );
        assert_eq!(Query::range(D, b"b"..).limited(1).eval(&s), e(&[b"b"]));
        assert_eq!(Query::prefix(D, b"c").eval(&s), e(&[b"c"]));
        assert_eq!(
            Query::get(b"x", b"k").eval(&s),
            Answer::Error(ModelError::BucketNotFound(b"x".to_vec()))
        );
        assert_eq!(
            Query::range(D, b"a"..=b"b")
                .reversed()
                .limited(1)
                .to_string(),
            "range(default, b\"a\"..=b\"b\").rev().take(1)"
        );
        assert_eq!(
            Query::range(D, b"a"..b"b").to_string(),
            "range(default, b\"a\"..b\"b\")"
        );
        assert_eq!(Query::range(D, ..).to_string(), "range(default, ..)");
    }

    #[test]
    fn shared_model_across_threads() {
        let shared = SharedModel::new(VersionedModel::new());
        // "Engine" = a mutex-protected State published on commit.
        let engine = Arc::new(Mutex::new(State::new()));
        let writer = {
            let (shared, engine) = (shared.clone(), engine.clone());
            std::thread::spawn(move || {
                for i in 0..200u32 {
                    let ((), mut tx) = shared.begin_write(|| ());
                    tx.put(D, &(i % 7).to_be_bytes(), &i.to_be_bytes()).unwrap();
                    let snapshot = tx.state().clone();
                    let (_, r) = shared.commit(tx, Durability::Eventual, || {
                        *engine.lock().unwrap() = snapshot;
                        Ok::<(), ()>(())
                    });
                    r.unwrap();
                }
            })
        };
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (shared, engine) = (shared.clone(), engine.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let (snap, mut check) =
                            shared.begin_read(|| engine.lock().unwrap().clone());
                        for k in 0..7u32 {
                            let v = snap.get(D, &k.to_be_bytes()).unwrap();
                            check.check_get(D, &k.to_be_bytes(), Ok(v)).unwrap();
                        }
                        check.check_len(D, snap.len(D)).unwrap();
                    }
                })
            })
            .collect();
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(shared.lock().last_acked(), 200);
        shared.sync(|| Ok::<(), ()>(())).unwrap();
        assert_eq!(shared.lock().last_acked_durable(), 200);
    }
}
