//! Group commit: one sync makes every log record written before it durable,
//! so concurrent committers share syncs (FORMAT.md §3, L4–L6).
//!
//! Decoupled from the database: the caller passes the sync to run and the
//! registry to publish into, so loom tests can drive it with fakes.
//!
//! Waking only who can go on: syncs are numbered, and a committer waits on
//! the condition variable of the sync that will cover its record: the one
//! in flight if its record was written before that sync started, else the
//! next one. When a sync ends it wakes every committer it covered and one
//! committer of the next sync, to run it. The others of that next sync sleep
//! on until it ends. (With one condition variable for all, every sync woke
//! every waiting committer, and most went back to sleep: with 16
//! committers on 2 cores, 30 context switches per commit.)

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
    /// Number of the latest sync started (the one in flight if `syncing`).
    sync_no: u64,
    /// What the sync in flight covers: records up to this transaction.
    sync_target: u64,
    /// Snapshots waiting for durability before readers may see them.
    waiting: VecDeque<Arc<Snapshot>>,
}

/// Clears the in-flight flag if the sync unwinds.
struct SyncingGuard<'a>(&'a GroupSync);

impl Drop for SyncingGuard<'_> {
    fn drop(&mut self) {
        self.0.state.lock().syncing = false;
        self.0.wake_all();
    }
}

/// Tracks written and durable transactions and runs shared syncs.
#[derive(Debug, Default)]
pub struct GroupSync {
    state: Mutex<State>,
    /// Committers waiting for sync number `n` wait on `cv[n % 2]` (only
    /// the sync in flight and the next one have waiters).
    cv: [Condvar; 2],
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
            cv: [Condvar::new(), Condvar::new()],
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
        self.wake_all();
    }

    fn wake_all(&self) {
        for cv in &self.cv {
            cv.notify_all();
        }
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
                // Poisoned outside a sync (a failed log write, say): the
                // committers still asleep waiting for a next sync must
                // learn it too, since none will run.
                drop(s);
                self.wake_all();
                return Err(Error::Poisoned);
            }
            if s.syncing {
                // The sync in flight covers our record if it was written
                // before that sync started; otherwise the next one will.
                let covering = if txn <= s.sync_target {
                    s.sync_no
                } else {
                    s.sync_no + 1
                };
                s = self.cv[(covering % 2) as usize].wait(s);
                continue;
            }
            s.syncing = true;
            s.sync_no += 1;
            let (no, target) = (s.sync_no, s.written);
            s.sync_target = target;
            drop(s);
            // If `sync` panics, clear `syncing` and wake the waiters so that
            // a caller who catches the panic does not hang the others.
            let guard = SyncingGuard(self);
            let r = sync();
            std::mem::forget(guard);
            s = self.state.lock();
            s.syncing = false;
            if r.is_ok() {
                // The planted bug (shuttle tests only): what was written by
                // the sync's end, not its start.
                #[cfg(all(feature = "shuttle", not(loom)))]
                let target = if crate::sync::planted::is(crate::sync::planted::Bug::EarlyAck) {
                    s.written
                } else {
                    target
                };
                s.durable = s.durable.max(target);
                Self::publish_durable(registry, &mut s);
                drop(s);
                // Everyone this sync covered, and one committer to run the
                // next sync for the others.
                self.cv[(no % 2) as usize].notify_all();
                self.cv[((no + 1) % 2) as usize].notify_one();
            } else {
                // The handle is poisoned: every waiter returns.
                drop(s);
                self.wake_all();
            }
            r?;
            s = self.state.lock();
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
