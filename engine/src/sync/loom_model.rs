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
