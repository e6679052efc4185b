//! The database's subscription hub: the registered subscriptions, and the
//! captured changes of committed transactions that wait for durability.
//!
//! A commit hands its capture to [`Hub::committed`] under the core lock,
//! after its log record is written (or its checkpoint completed) and
//! before any sync can cover it; so pending transactions queue in commit
//! order. Whoever makes transactions durable then calls [`Hub::deliver`]
//! (through `Inner::deliver_durable`), which hands each pending
//! transaction up to the durable and published one to the subscriptions,
//! in order, under the hub's lock. Locks: core, then hub, then a queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use parking_lot::Mutex;

use super::capture::{Capture, TxCapture, Watch};
use super::queue::Queue;

/// The subscriptions of one database.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    /// Live subscriptions (0: transactions capture nothing).
    live: AtomicUsize,
    /// Bumped by every subscribe.
    gen: AtomicU64,
    /// Some transaction waits for delivery.
    has_pending: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Sorted by id.
    subs: Vec<Arc<Queue>>,
    watch: Arc<Watch>,
    pending: VecDeque<Pending>,
    /// Changes held by `pending`.
    pending_changes: usize,
    next_id: u64,
    closed: bool,
}

/// A committed transaction waiting for durability.
#[derive(Debug)]
struct Pending {
    txn: u64,
    capture: Capture,
    /// Subscriptions registered after the transaction began, which its
    /// capture does not know, get `Lagged` (its log payload, from which it
    /// could be captured again, was dropped).
    stale: bool,
}

impl Hub {
    /// What a transaction beginning now captures: nothing (one atomic
    /// load) while there are no subscriptions.
    pub fn begin(&self) -> TxCapture {
        let gen = self.gen.load(SeqCst);
        if self.live.load(SeqCst) == 0 {
            return TxCapture { gen, capture: None };
        }
        let s = self.state.lock();
        TxCapture {
            gen: s.watch.gen,
            capture: (!s.watch.filters.is_empty()).then(|| Box::new(Capture::new(s.watch.clone()))),
        }
    }

    /// Registers a subscription; transactions up to `after` (committed
    /// before it) are not delivered to it. Called under the core lock, so
    /// that no commit runs meanwhile.
    pub fn subscribe(
        &self,
        bucket: &[u8],
        prefix: &[u8],
        capacity: usize,
        after: u64,
    ) -> Arc<Queue> {
        let mut s = self.state.lock();
        s.next_id += 1;
        // `live` before `gen`: a transaction that reads the new generation
        // in `begin` also sees a live subscription, and takes the watch
        // under the lock (after this one is in it); one that reads the old
        // generation is captured again at commit.
        self.live.fetch_add(1, SeqCst);
        let gen = self.gen.fetch_add(1, SeqCst) + 1;
        let q = Arc::new(Queue::new(s.next_id, gen, after, bucket, prefix, capacity));
        if s.closed {
            q.close();
        }
        s.subs.push(q.clone());
        Self::rewatch(&mut s, gen);
        q
    }

    /// Unregisters subscription `id`.
    pub fn unsubscribe(&self, id: u64) {
        let mut s = self.state.lock();
        if let Some(i) = s.subs.iter().position(|q| q.id == id) {
            s.subs.remove(i);
            self.live.fetch_sub(1, SeqCst);
            let gen = s.watch.gen;
            Self::rewatch(&mut s, gen);
        }
    }

    fn rewatch(s: &mut State, gen: u64) {
        let subs = s
            .subs
            .iter()
            .map(|q| (q.id, &q.bucket[..], &q.prefix[..], q.capacity));
        s.watch = Arc::new(Watch::new(gen, subs));
    }

    /// Transaction `txn` committed with `tx`'s capture; `payload` is its
    /// log payload if it kept it. Called under the core lock, before any
    /// sync or checkpoint can make `txn` durable.
    pub fn committed(&self, txn: u64, tx: TxCapture, payload: Option<&[u8]>) {
        if tx.capture.is_none() && tx.gen == self.gen.load(SeqCst) {
            return;
        }
        let mut s = self.state.lock();
        let (mut capture, stale) = match tx.capture {
            Some(c) if c.watch.gen == s.watch.gen => (*c, false),
            // Subscriptions were registered while it ran: capture its
            // payload for all of them, or, without one, give the new
            // ones `Lagged`.
            c => match payload.and_then(|p| Capture::of_payload(s.watch.clone(), p)) {
                Some(fresh) => (fresh, false),
                None => {
                    let old = Arc::new(Watch {
                        gen: tx.gen,
                        ..Watch::default()
                    });
                    (c.map_or_else(|| Capture::new(old), |c| *c), true)
                }
            },
        };
        if s.subs.is_empty() || (capture.is_empty() && !stale) {
            return;
        }
        // Bound what waits for durability (it only grows between syncs,
        // with `Eventual` commits): past what all subscriptions together
        // can buffer, a transaction's subscribers get `Lagged`.
        // An overflowed capture kept its first changes only for savepoint
        // rollbacks: they go now.
        // Saturating: capacities are the user's (a panic here, between the
        // log append and the commit's bookkeeping, would break the log).
        let limit = s
            .subs
            .iter()
            .fold(0usize, |a, q| a.saturating_add(q.capacity));
        if capture.overflowed || s.pending_changes.saturating_add(capture.changes.len()) > limit {
            capture.overflow();
        }
        s.pending_changes += capture.changes.len();
        s.pending.push_back(Pending {
            txn,
            capture,
            stale,
        });
        self.has_pending.store(true, SeqCst);
    }

    /// Whether some committed transaction waits for delivery.
    pub fn has_pending(&self) -> bool {
        self.has_pending.load(SeqCst)
    }

    /// Delivers every pending transaction up to `upto` (durable, and
    /// visible to new snapshots), in commit order.
    pub fn deliver(&self, upto: u64) {
        let mut s = self.state.lock();
        while s.pending.front().is_some_and(|p| p.txn <= upto) {
            let p = s.pending.pop_front().expect("checked");
            s.pending_changes -= p.capture.changes.len();
            for q in &s.subs {
                Self::deliver_to(q, &p);
            }
        }
        self.has_pending.store(!s.pending.is_empty(), SeqCst);
    }

    fn deliver_to(q: &Queue, p: &Pending) {
        if p.txn <= q.after {
            return;
        }
        let c = &p.capture;
        let Some(i) = (q.gen <= c.watch.gen)
            .then(|| c.watch.filter_index(q.id))
            .flatten()
        else {
            if p.stale {
                q.lag(p.txn);
            }
            return;
        };
        if !c.touched[i] {
            return;
        }
        if c.overflowed {
            q.lag(p.txn);
        } else {
            q.push(p.txn, c.changes_for(i));
        }
    }

    /// The database closed: every subscription ends once it has received
    /// what was delivered.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        for q in &s.subs {
            q.close();
        }
    }
}
