//! The locks with the `shuttle` feature (test builds only): each one is
//! either `parking_lot`'s/std's, exactly as in a normal build, or the
//! `shuttle` scheduler's, decided when it is created: inside a shuttle
//! execution (a test's `shuttle::Runner`) it is shuttle's, so the
//! scheduler controls and explores every interleaving at it; anywhere
//! else it is the normal one.
//!
//! Deciding at run time, not by `cfg`, is what lets the feature be
//! enabled by one test crate of the workspace: cargo unifies features, so
//! every test of that `cargo test` links this engine, and those outside a
//! shuttle execution must keep working. A lock made in one world and used
//! in the other panics (`mixed`): a database opened inside a shuttle
//! execution must be used and dropped inside it.
//!
//! Not compiled by a normal build of the engine; a workspace `cargo test`
//! compiles it instead of `parking.rs` (the `vellum-tests` crate enables
//! the feature), with every lock outside a shuttle execution taking the
//! `Real` arm. The `planted` module holds the deliberately broken variants
//! the shuttle tests must catch (docs/TESTING.md §9a).

use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Whether the calling code runs inside a shuttle execution (as one of
/// its threads), so that new locks should be shuttle's.
pub fn in_shuttle() -> bool {
    shuttle::current::try_get_current_task().is_some()
}

#[cold]
fn mixed() -> ! {
    panic!("a vellum lock made inside a shuttle execution used outside it, or the reverse")
}

/// A mutex.
pub enum Mutex<T> {
    /// Outside shuttle.
    Real(parking_lot::Mutex<T>),
    /// Inside a shuttle execution.
    Model(shuttle::sync::Mutex<T>),
}

/// Its guard.
pub enum MutexGuard<'a, T> {
    /// Of a [`Mutex::Real`].
    Real(parking_lot::MutexGuard<'a, T>),
    /// Of a [`Mutex::Model`].
    Model(shuttle::sync::MutexGuard<'a, T>),
}

impl<T> Mutex<T> {
    /// A new mutex.
    pub fn new(v: T) -> Self {
        if in_shuttle() {
            Mutex::Model(shuttle::sync::Mutex::new(v))
        } else {
            Mutex::Real(parking_lot::Mutex::new(v))
        }
    }
    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        match self {
            Mutex::Real(m) => MutexGuard::Real(m.lock()),
            Mutex::Model(m) => MutexGuard::Model(m.lock().expect("shuttle mutex poisoned")),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mutex::Real(m) => m.fmt(f),
            Mutex::Model(m) => m.fmt(f),
        }
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            MutexGuard::Real(g) => g,
            MutexGuard::Model(g) => g,
        }
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            MutexGuard::Real(g) => &mut *g,
            MutexGuard::Model(g) => &mut *g,
        }
    }
}

/// A condition variable.
#[derive(Debug)]
pub enum Condvar {
    /// Outside shuttle.
    Real(parking_lot::Condvar),
    /// Inside a shuttle execution.
    Model(shuttle::sync::Condvar),
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        if in_shuttle() {
            Condvar::Model(shuttle::sync::Condvar::new())
        } else {
            Condvar::Real(parking_lot::Condvar::new())
        }
    }
    /// Waits, releasing and re-taking the guard's lock.
    pub fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        match (self, g) {
            (Condvar::Real(c), MutexGuard::Real(mut g)) => {
                c.wait(&mut g);
                MutexGuard::Real(g)
            }
            (Condvar::Model(c), MutexGuard::Model(g)) => {
                MutexGuard::Model(c.wait(g).expect("shuttle mutex poisoned"))
            }
            _ => mixed(),
        }
    }
    /// Wakes one waiter.
    pub fn notify_one(&self) {
        match self {
            Condvar::Real(c) => {
                c.notify_one();
            }
            Condvar::Model(c) => c.notify_one(),
        }
    }
    /// Wakes every waiter.
    pub fn notify_all(&self) {
        match self {
            Condvar::Real(c) => {
                c.notify_all();
            }
            Condvar::Model(c) => c.notify_all(),
        }
    }
}

macro_rules! atomic {
    ($name:ident, $t:ty) => {
        /// An atomic integer (std's, or shuttle's inside an execution).
        #[derive(Debug)]
        pub enum $name {
            /// Outside shuttle.
            Real(std::sync::atomic::$name),
            /// Inside a shuttle execution.
            Model(shuttle::sync::atomic::$name),
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new(Default::default())
            }
        }

        impl $name {
            /// A new atomic holding `v`.
            pub fn new(v: $t) -> Self {
                if in_shuttle() {
                    $name::Model(shuttle::sync::atomic::$name::new(v))
                } else {
                    $name::Real(std::sync::atomic::$name::new(v))
                }
            }
            /// Loads the value.
            #[inline]
            pub fn load(&self, o: Ordering) -> $t {
                match self {
                    $name::Real(a) => a.load(o),
                    $name::Model(a) => a.load(o),
                }
            }
            /// Stores `v`.
            #[inline]
            pub fn store(&self, v: $t, o: Ordering) {
                match self {
                    $name::Real(a) => a.store(v, o),
                    $name::Model(a) => a.store(v, o),
                }
            }
            /// Stores `v`, returning the previous value.
            pub fn swap(&self, v: $t, o: Ordering) -> $t {
                match self {
                    $name::Real(a) => a.swap(v, o),
                    $name::Model(a) => a.swap(v, o),
                }
            }
            /// Compares and exchanges.
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                match self {
                    $name::Real(a) => a.compare_exchange(current, new, success, failure),
                    $name::Model(a) => a.compare_exchange(current, new, success, failure),
                }
            }
            /// Applies `f` until it succeeds or returns `None`.
            pub fn fetch_update(
                &self,
                set: Ordering,
                fetch: Ordering,
                f: impl FnMut($t) -> Option<$t>,
            ) -> Result<$t, $t> {
                match self {
                    $name::Real(a) => a.fetch_update(set, fetch, f),
                    $name::Model(a) => a.fetch_update(set, fetch, f),
                }
            }
        }
    };
}

macro_rules! atomic_int {
    ($name:ident, $t:ty) => {
        atomic!($name, $t);

        impl $name {
            /// Adds `v`, returning the previous value.
            #[inline]
            pub fn fetch_add(&self, v: $t, o: Ordering) -> $t {
                match self {
                    $name::Real(a) => a.fetch_add(v, o),
                    $name::Model(a) => a.fetch_add(v, o),
                }
            }
            /// Subtracts `v`, returning the previous value.
            #[inline]
            pub fn fetch_sub(&self, v: $t, o: Ordering) -> $t {
                match self {
                    $name::Real(a) => a.fetch_sub(v, o),
                    $name::Model(a) => a.fetch_sub(v, o),
                }
            }
            /// Stores the maximum of the value and `v`, returning the previous value.
            pub fn fetch_max(&self, v: $t, o: Ordering) -> $t {
                match self {
                    $name::Real(a) => a.fetch_max(v, o),
                    $name::Model(a) => a.fetch_max(v, o),
                }
            }
        }
    };
}

atomic!(AtomicBool, bool);
atomic_int!(AtomicU64, u64);
atomic_int!(AtomicUsize, usize);

/// A cell holding an optional `Arc`: `arc-swap`'s lock-free cell outside
/// shuttle; inside, a shuttle mutex around the `Option<Arc>` (as in the
/// loom model), so the scheduler interleaves the cache's loads and stores.
pub enum ArcCell<T> {
    /// Outside shuttle.
    Real(arc_swap::ArcSwapOption<T>),
    /// Inside a shuttle execution.
    Model(shuttle::sync::Mutex<Option<Arc<T>>>),
}

/// What [`ArcCell::load`] returns: dereferences to the `Option<Arc<T>>`.
pub enum ArcCellGuard<T> {
    /// An `arc-swap` guard.
    Real(arc_swap::Guard<Option<Arc<T>>>),
    /// An owned value.
    Owned(Option<Arc<T>>),
}

impl<T> std::ops::Deref for ArcCellGuard<T> {
    type Target = Option<Arc<T>>;
    #[inline]
    fn deref(&self) -> &Self::Target {
        match self {
            ArcCellGuard::Real(g) => g,
            ArcCellGuard::Owned(v) => v,
        }
    }
}

impl<T> ArcCell<T> {
    /// An empty cell.
    pub fn empty() -> Self {
        if in_shuttle() {
            ArcCell::Model(shuttle::sync::Mutex::new(None))
        } else {
            ArcCell::Real(arc_swap::ArcSwapOption::empty())
        }
    }
    /// The current value.
    #[inline]
    pub fn load(&self) -> ArcCellGuard<T> {
        match self {
            ArcCell::Real(c) => ArcCellGuard::Real(c.load()),
            ArcCell::Model(m) => ArcCellGuard::Owned(m.lock().expect("poisoned").clone()),
        }
    }
    /// Replaces the value.
    pub fn store(&self, v: Option<Arc<T>>) {
        match self {
            ArcCell::Real(c) => c.store(v),
            ArcCell::Model(m) => *m.lock().expect("poisoned") = v,
        }
    }
}

/// A cell holding a weak reference (see [`ArcCell`] for the two worlds).
pub enum WeakCell<T> {
    /// Outside shuttle.
    Real(arc_swap::ArcSwapAny<std::sync::Weak<T>>),
    /// Inside a shuttle execution.
    Model(shuttle::sync::Mutex<std::sync::Weak<T>>),
}

impl<T> WeakCell<T> {
    /// A cell referring to nothing.
    pub fn empty() -> Self {
        if in_shuttle() {
            WeakCell::Model(shuttle::sync::Mutex::new(std::sync::Weak::new()))
        } else {
            WeakCell::Real(arc_swap::ArcSwapAny::new(std::sync::Weak::new()))
        }
    }
    /// The value it refers to, if that is still alive.
    #[inline]
    pub fn upgrade(&self) -> Option<Arc<T>> {
        match self {
            WeakCell::Real(c) => c.load().upgrade(),
            WeakCell::Model(m) => m.lock().expect("poisoned").upgrade(),
        }
    }
    /// Refers to `v` from now on (without keeping it alive).
    pub fn store(&self, v: &Arc<T>) {
        match self {
            WeakCell::Real(c) => c.store(Arc::downgrade(v)),
            WeakCell::Model(m) => *m.lock().expect("poisoned") = Arc::downgrade(v),
        }
    }
}

/// A guard holding `v` (for values that never were in a cell).
pub fn guard_of<T>(v: Arc<T>) -> ArcCellGuard<T> {
    ArcCellGuard::Owned(Some(v))
}

/// The value a guard holds, as an owned `Arc`.
pub fn guard_into_inner<T>(g: ArcCellGuard<T>) -> Option<Arc<T>> {
    match g {
        ArcCellGuard::Real(g) => arc_swap::Guard::into_inner(g),
        ArcCellGuard::Owned(v) => v,
    }
}

/// A cell written once, then read without a lock: std's `OnceLock`
/// outside shuttle; inside, a shuttle atomic pointer (as in the loom
/// model: racing initialisers each build a value, the loser drops its own).
pub enum OnceCell<T> {
    /// Outside shuttle.
    Real(std::sync::OnceLock<T>),
    /// Inside a shuttle execution.
    Model(shuttle::sync::atomic::AtomicPtr<T>),
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> OnceCell<T> {
    /// An empty cell.
    pub fn new() -> Self {
        if in_shuttle() {
            OnceCell::Model(shuttle::sync::atomic::AtomicPtr::new(std::ptr::null_mut()))
        } else {
            OnceCell::Real(std::sync::OnceLock::new())
        }
    }
    /// The value, if set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        match self {
            OnceCell::Real(c) => c.get(),
            // SAFETY: a non-null pointer came from `Box::into_raw` below and
            // is freed only in `drop`, which `&self` excludes.
            OnceCell::Model(p) => unsafe { p.load(Ordering::Acquire).as_ref() },
        }
    }
    /// Sets the value if the cell was empty; otherwise gives `v` back.
    pub fn set(&self, v: T) -> Result<(), T> {
        match self {
            OnceCell::Real(c) => c.set(v),
            OnceCell::Model(p) => {
                let mine = Box::into_raw(Box::new(v));
                match p.compare_exchange(
                    std::ptr::null_mut(),
                    mine,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => Ok(()),
                    // SAFETY: `mine` was never shared.
                    Err(_) => Err(*unsafe { Box::from_raw(mine) }),
                }
            }
        }
    }
    /// The value, set by `init` if the cell was empty.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        match self {
            OnceCell::Real(c) => c.get_or_init(init),
            OnceCell::Model(p) => {
                if let Some(v) = self.get() {
                    return v;
                }
                let mine = Box::into_raw(Box::new(init()));
                match p.compare_exchange(
                    std::ptr::null_mut(),
                    mine,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // SAFETY: as in `get`; `mine` is now owned by the cell.
                    Ok(_) => unsafe { &*mine },
                    Err(theirs) => {
                        // SAFETY: `mine` was never shared; `theirs` as in `get`.
                        drop(unsafe { Box::from_raw(mine) });
                        unsafe { &*theirs }
                    }
                }
            }
        }
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if let OnceCell::Model(p) = self {
            let p = *p.get_mut();
            if !p.is_null() {
                // SAFETY: the cell owns the value and no reader outlives `self`.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Identifies a thread (the writer slot remembers which one holds it):
/// inside a shuttle execution every shuttle thread runs on the test's OS
/// thread, so std's id would not tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadId {
    /// An OS thread.
    Real(std::thread::ThreadId),
    /// A shuttle thread.
    Model(shuttle::thread::ThreadId),
}

/// The calling thread's id.
pub fn current_thread() -> ThreadId {
    if in_shuttle() {
        ThreadId::Model(shuttle::thread::current().id())
    } else {
        ThreadId::Real(std::thread::current().id())
    }
}

/// Deliberately broken variants of the concurrent core, for showing that
/// the shuttle tests catch such bugs (docs/TESTING.md). Each is off unless
/// the calling OS thread planted it, so a test that plants one does not
/// disturb the tests running beside it: a shuttle execution runs all its
/// threads on the OS thread that started it.
pub mod planted {
    use std::cell::Cell;

    /// A planted bug.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Bug {
        /// Group commit: a sync marks durable every record written by its
        /// end instead of by its start, so a committer whose record was
        /// written while the sync ran is acknowledged before any sync
        /// covered it.
        EarlyAck,
        /// Reader registration: `Registry::begin` takes the current
        /// snapshot and registers its reader in two critical sections, so
        /// a checkpoint in between does not see the reader and lets its
        /// pages be reused.
        LateRegistration,
    }

    std::thread_local! {
        static PLANTED: Cell<Option<Bug>> = const { Cell::new(None) };
    }

    /// Plants `bug` (or none) for the calling OS thread.
    pub fn plant(bug: Option<Bug>) {
        PLANTED.with(|p| p.set(bug));
    }

    /// Whether `bug` is planted on the calling OS thread.
    pub fn is(bug: Bug) -> bool {
        PLANTED.with(|p| p.get() == Some(bug))
    }
}
