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

/// The loom model of `WeakCell`: a loom mutex around the `Weak`.
pub struct WeakCell<T>(loom::sync::Mutex<std::sync::Weak<T>>);

impl<T> WeakCell<T> {
    /// A cell referring to nothing.
    pub fn empty() -> Self {
        WeakCell(loom::sync::Mutex::new(std::sync::Weak::new()))
    }
    /// The value it refers to, if that is still alive.
    pub fn upgrade(&self) -> Option<std::sync::Arc<T>> {
        self.0.lock().expect("loom mutex poisoned").upgrade()
    }
    /// Refers to `v` from now on.
    pub fn store(&self, v: &std::sync::Arc<T>) {
        *self.0.lock().expect("loom mutex poisoned") = std::sync::Arc::downgrade(v);
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

/// The loom model of `std`'s `OnceLock`: a loom atomic pointer, so loom
/// sees the happens-before edge from the value's construction to every
/// reader (racing initialisers each build a value; the loser drops its
/// own).
pub struct OnceCell<T>(loom::sync::atomic::AtomicPtr<T>);

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> OnceCell<T> {
    /// An empty cell.
    pub fn new() -> Self {
        OnceCell(loom::sync::atomic::AtomicPtr::new(std::ptr::null_mut()))
    }
    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        let p = self.0.load(std::sync::atomic::Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` below and
        // is freed only in `drop`, which `&self` excludes.
        unsafe { p.as_ref() }
    }
    /// Sets the value if the cell was empty; otherwise gives `v` back.
    pub fn set(&self, v: T) -> Result<(), T> {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let mine = Box::into_raw(Box::new(v));
        match self
            .0
            .compare_exchange(std::ptr::null_mut(), mine, AcqRel, Acquire)
        {
            Ok(_) => Ok(()),
            // SAFETY: `mine` was never shared.
            Err(_) => Err(*unsafe { Box::from_raw(mine) }),
        }
    }
    /// The value, set by `init` if the cell was empty.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        let mine = Box::into_raw(Box::new(init()));
        match self
            .0
            .compare_exchange(std::ptr::null_mut(), mine, AcqRel, Acquire)
        {
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

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        let p = self.0.with_mut(|p| *p);
        if !p.is_null() {
            // SAFETY: the cell owns the value and no reader outlives `self`.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// Identifies a loom thread (the writer slot remembers which one holds it).
pub use loom::thread::ThreadId;

/// The calling loom thread's id.
pub fn current_thread() -> ThreadId {
    loom::thread::current().id()
}
