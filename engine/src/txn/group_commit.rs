//! Group commit: one sync makes every log record written before it durable,
//! so concurrent committers share syncs (FORMAT.md §3, L4–L6).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::db::Inner;
use crate::snapshot::Snapshot;
use crate::{Error, Result};

#[derive(Default)]
struct State {
    /// Highest transaction whose record has been written.
    written: u64,
    /// Highest transaction known durable.
    durable: u64,
    /// A sync is in flight.
    syncing: bool,
    /// Snapshots waiting for durability before readers may see them.
    waiting: VecDeque<Arc<Snapshot>>,
}

/// Tracks written and durable transactions and runs shared syncs.
#[derive(Default)]
pub struct GroupSync {
    state: Mutex<State>,
    cv: Condvar,
}

impl GroupSync {
    /// Starts with everything up to `txn` durable.
    pub fn new(txn: u64) -> GroupSync {
        let g = GroupSync::default();
        {
            let mut s = g.state.lock();
            s.written = txn;
            s.durable = txn;
        }
        g
    }

    /// Records that `snap.txn`'s log record is written; with `publish_now`
    /// readers see it at once (Eventual), otherwise after it is durable.
    pub fn written(&self, inner: &Inner, snap: Arc<Snapshot>, publish_now: bool) {
        let mut s = self.state.lock();
        s.written = s.written.max(snap.txn);
        if publish_now {
            drop(s);
            inner.registry.publish(snap);
        } else {
            s.waiting.push_back(snap);
        }
    }

    /// Everything up to `txn` is durable (a checkpoint completed).
    pub fn all_durable(&self, inner: &Inner, txn: u64) {
        let mut s = self.state.lock();
        s.written = s.written.max(txn);
        s.durable = s.durable.max(txn);
        Self::publish_durable(inner, &mut s);
        self.cv.notify_all();
    }

    fn publish_durable(inner: &Inner, s: &mut State) {
        let mut latest = None;
        while s.waiting.front().is_some_and(|w| w.txn <= s.durable) {
            latest = s.waiting.pop_front();
        }
        if let Some(snap) = latest {
            inner.registry.publish(snap);
        }
    }

    /// Returns once `txn` is durable, issuing the sync if no other thread
    /// is (group commit). A failed sync poisons the handle.
    pub fn wait_durable(&self, inner: &Inner, txn: u64) -> Result<()> {
        let mut s = self.state.lock();
        loop {
            if s.durable >= txn {
                return Ok(());
            }
            if inner.is_poisoned() {
                return Err(Error::Poisoned);
            }
            if s.syncing {
                self.cv.wait(&mut s);
                continue;
            }
            s.syncing = true;
            let target = s.written;
            drop(s);
            let r = inner.sync_or_poison();
            s = self.state.lock();
            s.syncing = false;
            if r.is_ok() {
                s.durable = s.durable.max(target);
                Self::publish_durable(inner, &mut s);
            }
            self.cv.notify_all();
            r?;
        }
    }

    /// The highest written transaction.
    pub fn written_txn(&self) -> u64 {
        self.state.lock().written
    }
}
