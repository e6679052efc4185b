//! Group commit: one sync makes every log record written before it durable,
//! so concurrent committers share syncs (FORMAT.md §3, L4–L6).
//!
//! Decoupled from the database: the caller passes the sync to run and the
//! registry to publish into, so loom tests can drive it with fakes.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::snapshot::{Registry, Snapshot};
use crate::sync::{Condvar, Mutex, MutexGuard};
use crate::{Error, Result};

#[derive(Debug, Default)]
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

/// Clears the in-flight flag if the sync unwinds.
struct SyncingGuard<'a>(&'a GroupSync);

impl Drop for SyncingGuard<'_> {
    fn drop(&mut self) {
        self.0.state.lock().syncing = false;
        self.0.cv.notify_all();
    }
}

/// Tracks written and durable transactions and runs shared syncs.
#[derive(Debug, Default)]
pub struct GroupSync {
    state: Mutex<State>,
    cv: Condvar,
}

impl GroupSync {
    /// Starts with everything up to `txn` durable.
    pub fn new(txn: u64) -> GroupSync {
        GroupSync {
            state: Mutex::new(State {
                written: txn,
                durable: txn,
                ..State::default()
            }),
            cv: Condvar::new(),
        }
    }

    /// Records that `snap.txn`'s log record is written; with `publish_now`
    /// readers see it at once (Eventual), otherwise after it is durable.
    pub fn written(&self, registry: &Registry, snap: Arc<Snapshot>, publish_now: bool) {
        let mut s = self.state.lock();
        s.written = s.written.max(snap.txn);
        if publish_now {
            drop(s);
            registry.publish(snap);
        } else {
            s.waiting.push_back(snap);
        }
    }

    /// Everything up to `txn` is durable (a checkpoint completed).
    pub fn all_durable(&self, registry: &Registry, txn: u64) {
        let mut s = self.state.lock();
        s.written = s.written.max(txn);
        s.durable = s.durable.max(txn);
        Self::publish_durable(registry, &mut s);
        drop(s);
        self.cv.notify_all();
    }

    fn publish_durable(registry: &Registry, s: &mut MutexGuard<'_, State>) {
        let mut latest = None;
        while s.waiting.front().is_some_and(|w| w.txn <= s.durable) {
            latest = s.waiting.pop_front();
        }
        if let Some(snap) = latest {
            registry.publish(snap);
        }
    }

    /// Returns once `txn` is durable. If no sync is in flight this thread
    /// runs `sync` (covering every record written so far) for everyone; a
    /// failing `sync` must poison the handle, which `poisoned` reports.
    pub fn wait_durable(
        &self,
        registry: &Registry,
        txn: u64,
        sync: &dyn Fn() -> Result<()>,
        poisoned: &dyn Fn() -> bool,
    ) -> Result<()> {
        let mut s = self.state.lock();
        loop {
            if s.durable >= txn {
                return Ok(());
            }
            if poisoned() {
                return Err(Error::Poisoned);
            }
            if s.syncing {
                s = self.cv.wait(s);
                continue;
            }
            s.syncing = true;
            let target = s.written;
            drop(s);
            // If `sync` panics, clear `syncing` and wake the waiters so that
            // a caller who catches the panic does not hang the others.
            let guard = SyncingGuard(self);
            let r = sync();
            std::mem::forget(guard);
            s = self.state.lock();
            s.syncing = false;
            if r.is_ok() {
                s.durable = s.durable.max(target);
                Self::publish_durable(registry, &mut s);
            }
            self.cv.notify_all();
            r?;
        }
    }

    /// The highest written transaction.
    pub fn written_txn(&self) -> u64 {
        self.state.lock().written
    }

    /// The highest durable transaction.
    pub fn durable_txn(&self) -> u64 {
        self.state.lock().durable
    }
}
