//! The concurrent history of one execution and its checks.
//!
//! Every commit reads the sequence key `seq` (the id of the commit it
//! follows) and writes its own unique id there, plus values no other
//! commit writes. A single writer commits at a time, so the `prev` links
//! of the commits that took effect form one chain from the initial state:
//! the commit order. A state (recovered, or seen by a read transaction)
//! names its last commit in `seq`, so it is "the state after the prefix of
//! the commit order that ends there", which the checks recompute.

use std::collections::{BTreeMap, BTreeSet};

/// A commit's id (0: the initial state).
pub type Uid = u64;
/// The data keys and their values.
pub type State = BTreeMap<Vec<u8>, Vec<u8>>;
/// What a commit writes: a value, or a delete.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// How a commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not (yet) returned.
    Pending,
    /// `commit` returned `Ok` at this time.
    Acked(u64),
    /// `commit` returned an error (its effect is unknown).
    Failed(String),
}

/// One write transaction that reached `commit`.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The commit it read in `seq` (its predecessor if it takes effect).
    pub prev: Uid,
    /// When `begin_write` was called.
    pub invoked: u64,
    /// Its writes, in order.
    pub writes: Vec<Write>,
    /// How it ended.
    pub outcome: Outcome,
}

/// One read transaction that read everything it meant to.
#[derive(Clone, Debug)]
pub struct Read {
    /// The reader thread.
    pub reader: usize,
    /// When `begin_read` was called.
    pub invoked: u64,
    /// The commit its snapshot ends with (`seq`).
    pub seq: Uid,
    /// Each data key read, in the order read, with what it held.
    pub values: Vec<Write>,
}

/// The history, appended to by every thread under one (std) lock that is
/// never held across a scheduling point.
#[derive(Debug, Default)]
pub struct History {
    clock: u64,
    /// The commits, by id.
    pub attempts: BTreeMap<Uid, Attempt>,
    /// The completed reads.
    pub reads: Vec<Read>,
    /// Things that must never happen whatever the order (an error while
    /// the disk was powered on, corruption).
    pub problems: Vec<String>,
    /// Commits that returned `Ok`, reads completed, errors seen.
    pub counts: [u64; 3],
    /// Every error seen, in order.
    pub errors: Vec<String>,
    /// The disk reports errors: I/O errors (and the poisoned handle they
    /// leave) are expected at any time, not only once it is powered off.
    faults: bool,
}

impl History {
    /// An empty history; `faults`: the disk reports errors.
    pub fn new(faults: bool) -> History {
        History {
            faults,
            ..History::default()
        }
    }

    /// The next logical time (every event gets a distinct one, in real-time
    /// order).
    pub fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A commit reached `commit`.
    pub fn attempt(&mut self, uid: Uid, prev: Uid, invoked: u64, writes: Vec<Write>) {
        let old = self.attempts.insert(
            uid,
            Attempt {
                prev,
                invoked,
                writes,
                outcome: Outcome::Pending,
            },
        );
        assert!(old.is_none(), "commit id {uid} used twice");
    }

    /// `commit` returned.
    pub fn returned(&mut self, uid: Uid, r: Result<(), String>) {
        let t = self.now();
        let a = self.attempts.get_mut(&uid).expect("attempted");
        a.outcome = match r {
            Ok(()) => {
                self.counts[0] += 1;
                Outcome::Acked(t)
            }
            Err(e) => {
                self.counts[2] += 1;
                Outcome::Failed(e)
            }
        };
    }

    /// A read transaction completed.
    pub fn read(&mut self, read: Read) {
        self.counts[1] += 1;
        self.reads.push(read);
    }

    /// An error: an I/O error, or the poisoned handle one leaves, is fine
    /// once the disk is powered off, or at any time if it reports errors;
    /// anything else (corruption above all) is a problem.
    pub fn error(&mut self, what: &str, e: &vellum::Error, powered_off: bool) {
        self.counts[2] += 1;
        self.errors.push(format!("{what}: {e} at {}", self.clock));
        let io = matches!(e, vellum::Error::Io(_) | vellum::Error::Poisoned);
        if !io || !(powered_off || self.faults) {
            self.problems
                .push(format!("{what}: {e} (disk powered off: {powered_off})"));
        }
    }

    /// Everything recorded, one event a line (for a failing seed).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (u, a) in &self.attempts {
            out += &format!(
                "commit {u}: began at {}, follows {}, writes {:?}, {:?}\n",
                a.invoked,
                a.prev,
                a.writes
                    .iter()
                    .map(|(k, v)| (
                        String::from_utf8_lossy(k).into_owned(),
                        v.as_deref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                    ))
                    .collect::<Vec<_>>(),
                a.outcome
            );
        }
        for r in &self.reads {
            out += &format!("read by {} at {}: seq {}\n", r.reader, r.invoked, r.seq);
        }
        for e in &self.errors {
            out += &format!("error: {e}\n");
        }
        out
    }

    /// The commits from the initial state up to `uid`, oldest first.
    pub fn chain(&self, uid: Uid) -> Result<Vec<Uid>, String> {
        let mut chain = Vec::new();
        let mut at = uid;
        while at != 0 {
            if chain.len() > self.attempts.len() {
                return Err(format!("the prev links from {uid} form a cycle"));
            }
            chain.push(at);
            at = self
                .attempts
                .get(&at)
                .ok_or_else(|| format!("seq names commit {at}, which no thread attempted"))?
                .prev;
        }
        chain.reverse();
        Ok(chain)
    }

    /// The state after the commits up to `uid`, from `initial`.
    pub fn state_of(&self, initial: &State, uid: Uid) -> Result<State, String> {
        let mut s = initial.clone();
        for c in self.chain(uid)? {
            for (k, v) in &self.attempts[&c].writes {
                match v {
                    Some(v) => s.insert(k.clone(), v.clone()),
                    None => s.remove(k),
                };
            }
        }
        Ok(s)
    }

    fn acked(&self) -> impl Iterator<Item = (Uid, u64)> + '_ {
        self.attempts.iter().filter_map(|(&u, a)| match a.outcome {
            Outcome::Acked(t) => Some((u, t)),
            _ => None,
        })
    }

    /// Checks the history against the state recovered after the crash
    /// (`recovered_seq` and the data keys `recovered`).
    pub fn check(
        &self,
        initial: &State,
        recovered_seq: Uid,
        recovered: &State,
    ) -> Result<(), String> {
        if let Some(p) = self.problems.first() {
            return Err(format!("error during the run: {p}"));
        }
        // (b) The recovered state is the state after a prefix of the
        // commit order: the one its `seq` names.
        let expected = self.state_of(initial, recovered_seq)?;
        if &expected != recovered {
            return Err(format!(
                "recovered state is not the state after commit {recovered_seq}: \
                 recovered {}, expected {}",
                show(recovered),
                show(&expected)
            ));
        }
        let durable: BTreeSet<Uid> = self.chain(recovered_seq)?.into_iter().collect();
        let mut chains = BTreeMap::new();
        let mut chain_of = |u: Uid| -> Result<BTreeSet<Uid>, String> {
            if let Some(c) = chains.get(&u) {
                return Ok(std::clone::Clone::clone(c));
            }
            let c: BTreeSet<Uid> = self.chain(u)?.into_iter().collect();
            chains.insert(u, c.clone());
            Ok(c)
        };
        for (a, acked_at) in self.acked() {
            // (a) No acknowledged commit is lost.
            if !durable.contains(&a) {
                return Err(format!(
                    "commit {a} was acknowledged but the recovered state (after \
                     commit {recovered_seq}) does not contain it"
                ));
            }
            // (d) Linearizable commits: a commit that began after `a` was
            // acknowledged comes after it in the commit order.
            for (&b, att) in &self.attempts {
                if att.invoked > acked_at && !chain_of(b)?.contains(&a) {
                    return Err(format!(
                        "commit {b} began after commit {a} was acknowledged \
                         but does not follow it (it follows {})",
                        att.prev
                    ));
                }
            }
        }
        let mut last_seen: BTreeMap<usize, (Uid, usize)> = BTreeMap::new();
        for r in &self.reads {
            // (c) Snapshot isolation: every key a read transaction read
            // shows the same state, the one its `seq` names.
            let state = self.state_of(initial, r.seq)?;
            for (k, v) in &r.values {
                if state.get(k) != v.as_ref() {
                    return Err(format!(
                        "reader {} saw seq {} but {} = {:?}; the state after commit {} \
                         has {:?}",
                        r.reader,
                        r.seq,
                        String::from_utf8_lossy(k),
                        v.as_deref().map(String::from_utf8_lossy),
                        r.seq,
                        state.get(k).map(|v| String::from_utf8_lossy(v))
                    ));
                }
            }
            // What readers see is durable (Immediate durability): it
            // survives the crash.
            if r.seq != 0 && !durable.contains(&r.seq) {
                return Err(format!(
                    "reader {} saw commit {} but the recovered state (after commit \
                     {recovered_seq}) does not contain it",
                    r.reader, r.seq
                ));
            }
            // Linearizable reads: a read that began after a commit was
            // acknowledged sees it.
            let seen = chain_of(r.seq)?;
            for (a, acked_at) in self.acked() {
                if acked_at < r.invoked && !seen.contains(&a) {
                    return Err(format!(
                        "reader {} began after commit {a} was acknowledged but saw \
                         the state after commit {}, without it",
                        r.reader, r.seq
                    ));
                }
            }
            // Each reader's snapshots never go back.
            if let Some((prev, n)) = last_seen.get(&r.reader) {
                if seen.len() < *n {
                    return Err(format!(
                        "reader {} saw commit {prev} then the older state after {}",
                        r.reader, r.seq
                    ));
                }
            }
            last_seen.insert(r.reader, (r.seq, seen.len()));
        }
        Ok(())
    }
}

fn show(s: &State) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            )
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}
