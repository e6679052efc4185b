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
