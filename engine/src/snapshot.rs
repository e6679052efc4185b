//! Published snapshots and the registry of live readers.
//!
//! Taking a snapshot and registering it happen under one lock, so a
//! checkpoint that asks for the oldest live snapshot can never miss a reader
//! that is about to start (FORMAT.md §5).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sync::Mutex;

use crate::catalog::Catalog;

/// A committed state that readers can see.
#[derive(Debug)]
pub struct Snapshot {
    /// Last transaction included.
    pub txn: u64,
    /// The checkpoint whose pages this state references.
    pub base: u64,
    /// The buckets.
    pub catalog: Arc<Catalog>,
}

struct State {
    current: Arc<Snapshot>,
    /// Live readers by snapshot base checkpoint.
    live: BTreeMap<u64, usize>,
}

/// The current snapshot and the live readers.
pub struct Registry {
    state: Mutex<State>,
}

impl Registry {
    /// A registry publishing `initial`.
    pub fn new(initial: Arc<Snapshot>) -> Registry {
        Registry {
            state: Mutex::new(State {
                current: initial,
                live: BTreeMap::new(),
            }),
        }
    }

    /// Takes the current snapshot and registers a reader on it.
    pub fn begin(&self) -> Arc<Snapshot> {
        #[cfg(all(feature = "shuttle", not(loom)))]
        if crate::sync::planted::is(crate::sync::planted::Bug::LateRegistration) {
            // The planted bug (shuttle tests only): two critical sections.
            let snap = self.current();
            *self.state.lock().live.entry(snap.base).or_default() += 1;
            return snap;
        }
        let mut s = self.state.lock();
        let snap = s.current.clone();
        *s.live.entry(snap.base).or_default() += 1;
        snap
    }

    /// Registers one more reader on `snap`, a snapshot a live reader holds
    /// (so its pages are already kept: no checkpoint can slip in between).
    pub fn begin_again(&self, snap: &Arc<Snapshot>) -> Arc<Snapshot> {
        let mut s = self.state.lock();
        *s.live
            .get_mut(&snap.base)
            .expect("the snapshot has a live reader") += 1;
        snap.clone()
    }

    /// Unregisters a reader taken by [`Registry::begin`].
    pub fn end(&self, snap: &Snapshot) {
        let mut s = self.state.lock();
        let n = s
            .live
            .get_mut(&snap.base)
            .expect("ending a reader that was registered");
        *n -= 1;
        if *n == 0 {
            s.live.remove(&snap.base);
        }
    }

    /// Publishes `snap` if it is newer than (or as new as, with a newer
    /// base) the current one.
    pub fn publish(&self, snap: Arc<Snapshot>) {
        let mut s = self.state.lock();
        if (snap.txn, snap.base) >= (s.current.txn, s.current.base) {
            s.current = snap;
        }
    }

    /// The current snapshot, without registering a reader.
    pub fn current(&self) -> Arc<Snapshot> {
        self.state.lock().current.clone()
    }

    /// The base checkpoint of the oldest live reader.
    pub fn oldest_base(&self) -> Option<u64> {
        self.state.lock().live.keys().next().copied()
    }

    /// Number of live readers.
    pub fn live_readers(&self) -> usize {
        self.state.lock().live.values().sum()
    }
}
