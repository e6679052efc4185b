//! The locks of a normal build: `parking_lot`'s, and std's atomics.

/// A mutex.
#[derive(Debug, Default)]
pub struct Mutex<T>(parking_lot::Mutex<T>);
/// Its guard.
pub type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new mutex.
    pub fn new(v: T) -> Self {
        Mutex(parking_lot::Mutex::new(v))
    }
    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }
}

/// A condition variable.
#[derive(Debug, Default)]
pub struct Condvar(parking_lot::Condvar);

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Condvar(parking_lot::Condvar::new())
    }
    /// Waits, releasing and re-taking the guard's lock.
    pub fn wait<'a, T>(&self, mut g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(&mut g);
        g
    }
    /// Wakes one waiter.
    pub fn notify_one(&self) {
        self.0.notify_one();
    }
    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

pub use std::sync::atomic::{AtomicBool, AtomicU64};

pub use std::sync::atomic::AtomicUsize;

/// A cell holding an optional `Arc` that readers load without a lock and
/// without touching the `Arc`'s shared reference count (`arc-swap`: a
/// loaded guard records the pointer in a slot of the loading thread).
pub struct ArcCell<T>(arc_swap::ArcSwapOption<T>);

/// What [`ArcCell::load`] returns: dereferences to the `Option<Arc<T>>`.
pub type ArcCellGuard<T> = arc_swap::Guard<Option<std::sync::Arc<T>>>;

impl<T> ArcCell<T> {
    /// An empty cell.
    pub fn empty() -> Self {
        ArcCell(arc_swap::ArcSwapOption::empty())
    }
    /// The current value.
    #[inline]
    pub fn load(&self) -> ArcCellGuard<T> {
        self.0.load()
    }
    /// Replaces the value (the old one is dropped once no guard holds it).
    pub fn store(&self, v: Option<std::sync::Arc<T>>) {
        self.0.store(v);
    }
}

/// A cell holding a weak reference that readers upgrade without a lock
/// (`arc-swap` with weak pointers: a load records the pointer in a slot of
/// the loading thread; the upgrade increments the target's strong count).
pub struct WeakCell<T>(arc_swap::ArcSwapAny<std::sync::Weak<T>>);

impl<T> WeakCell<T> {
    /// A cell referring to nothing.
    pub fn empty() -> Self {
        WeakCell(arc_swap::ArcSwapAny::new(std::sync::Weak::new()))
    }
    /// The value it refers to, if that is still alive.
    #[inline]
    pub fn upgrade(&self) -> Option<std::sync::Arc<T>> {
        self.0.load().upgrade()
    }
    /// Refers to `v` from now on (without keeping it alive).
    pub fn store(&self, v: &std::sync::Arc<T>) {
        self.0.store(std::sync::Arc::downgrade(v));
    }
}

/// A guard holding `v` (for values that never were in a cell).
pub fn guard_of<T>(v: std::sync::Arc<T>) -> ArcCellGuard<T> {
    arc_swap::Guard::from_inner(Some(v))
}

/// The value a guard holds, as an owned `Arc`.
pub fn guard_into_inner<T>(g: ArcCellGuard<T>) -> Option<std::sync::Arc<T>> {
    arc_swap::Guard::into_inner(g)
}

/// A cell written once, then read without a lock (`std`'s `OnceLock`).
pub type OnceCell<T> = std::sync::OnceLock<T>;

/// Identifies a thread (the writer slot remembers which one holds it).
pub use std::thread::ThreadId;

/// The calling thread's id.
pub fn current_thread() -> ThreadId {
    std::thread::current().id()
}
