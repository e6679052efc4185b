//! The writer slot: at most one write transaction at a time.

use crate::sync::{current_thread, Condvar, Mutex, ThreadId};
use crate::{Error, Result};

/// A binary semaphore with a blocking and a non-blocking acquire, which
/// remembers the thread that took it: that thread asking again gets
/// [`Error::NestedWrite`] instead of waiting for itself forever.
///
/// ```
/// let slot = vellum::txn::writer_slot::WriterSlot::new();
/// slot.acquire(true).unwrap();
/// assert!(matches!(slot.acquire(true), Err(vellum::Error::NestedWrite)));
/// std::thread::scope(|s| {
///     let other = s.spawn(|| slot.acquire(false)).join().unwrap();
///     assert!(matches!(other, Err(vellum::Error::WriterBusy)));
/// });
/// slot.release();
/// slot.acquire(false).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct WriterSlot {
    /// The thread holding the slot, if any.
    holder: Mutex<Option<ThreadId>>,
    cv: Condvar,
}

impl WriterSlot {
    /// A free slot.
    pub fn new() -> WriterSlot {
        WriterSlot::default()
    }

    /// Takes the slot, waiting while another thread holds it if `wait`,
    /// otherwise returning [`Error::WriterBusy`]. Returns
    /// [`Error::NestedWrite`] at once if the calling thread holds it.
    pub fn acquire(&self, wait: bool) -> Result<()> {
        let me = current_thread();
        let mut holder = self.holder.lock();
        while let Some(h) = *holder {
            if h == me {
                return Err(Error::NestedWrite);
            }
            if !wait {
                return Err(Error::WriterBusy);
            }
            holder = self.cv.wait(holder);
        }
        *holder = Some(me);
        Ok(())
    }

    /// Gives the slot back.
    pub fn release(&self) {
        let mut holder = self.holder.lock();
        debug_assert!(holder.is_some(), "releasing a writer slot that is not held");
        *holder = None;
        drop(holder);
        self.cv.notify_one();
    }

    /// Whether the slot is held.
    pub fn is_held(&self) -> bool {
        self.holder.lock().is_some()
    }
}
