//! The locks under `--cfg loom`: the `loom` model checker's versions,
//! so the loom tests explore every interleaving. Not compiled by
//! `cargo test`, so `.cargo/mutants.toml` leaves this file out.

/// A mutex.
#[derive(Debug, Default)]
pub struct Mutex<T>(loom::sync::Mutex<T>);
/// Its guard.
pub type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new mutex.
    pub fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }
    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().expect("loom mutex poisoned")
    }
}

/// A condition variable.
#[derive(Debug, Default)]
pub struct Condvar(loom::sync::Condvar);

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Self {
        Condvar(loom::sync::Condvar::new())
    }
    /// Waits, releasing and re-taking the guard's lock.
    pub fn wait<'a, T>(&self, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(g).expect("loom mutex poisoned")
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

pub use loom::sync::atomic::{AtomicBool, AtomicU64};

pub use loom::sync::atomic::AtomicUsize;

/// The loom model of the lock-free `ArcCell` of normal builds: a loom
/// mutex around the `Option<Arc>`, so loom explores every interleaving of
/// the cache's loads and stores (arc-swap's own correctness is its
/// crate's business).
pub struct ArcCell<T>(loom::sync::Mutex<Option<std::sync::Arc<T>>>);

/// What [`ArcCell::load`] returns.
pub struct ArcCellGuard<T>(Option<std::sync::Arc<T>>);

impl<T> std::ops::Deref for ArcCellGuard<T> {
    type Target = Option<std::sync::Arc<T>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> ArcCell<T> {
    /// An empty cell.
    pub fn empty() -> Self {
        ArcCell(loom::sync::Mutex::new(None))
    }
    /// The current value.
    pub fn load(&self) -> ArcCellGuard<T> {
        ArcCellGuard(self.0.lock().expect("loom mutex poisoned").clone())
    }
    /// Replaces the value.
    pub fn store(&self, v: Option<std::sync::Arc<T>>) {
        *self.0.lock().expect("loom mutex poisoned") = v;
    }
}

/// A guard holding `v`.
pub fn guard_of<T>(v: std::sync::Arc<T>) -> ArcCellGuard<T> {
    ArcCellGuard(Some(v))
}

/// The value a guard holds.
pub fn guard_into_inner<T>(g: ArcCellGuard<T>) -> Option<std::sync::Arc<T>> {
    g.0
}
