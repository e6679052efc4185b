//! The writer slot: at most one write transaction at a time.

use crate::sync::{Condvar, Mutex};
use crate::{Error, Result};

/// A binary semaphore with a blocking and a non-blocking acquire.
///
/// ```
/// let slot = vellum::txn::writer_slot::WriterSlot::new();
/// slot.acquire(true).unwrap();
/// assert!(matches!(slot.acquire(false), Err(vellum::Error::WriterBusy)));
/// slot.release();
/// slot.acquire(false).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct WriterSlot {
    busy: Mutex<bool>,
    cv: Condvar,
}

impl WriterSlot {
    /// A free slot.
    pub fn new() -> WriterSlot {
        WriterSlot::default()
    }

    /// Takes the slot, waiting while it is held if `wait`, otherwise
    /// returning [`Error::WriterBusy`].
    pub fn acquire(&self, wait: bool) -> Result<()> {
        let mut busy = self.busy.lock();
        while *busy {
            if !wait {
                return Err(Error::WriterBusy);
            }
            busy = self.cv.wait(busy);
        }
        *busy = true;
        Ok(())
    }

    /// Gives the slot back.
    pub fn release(&self) {
        let mut busy = self.busy.lock();
        debug_assert!(*busy, "releasing a writer slot that is not held");
        *busy = false;
        drop(busy);
        self.cv.notify_one();
    }

    /// Whether the slot is held.
    pub fn is_held(&self) -> bool {
        *self.busy.lock()
    }
}
