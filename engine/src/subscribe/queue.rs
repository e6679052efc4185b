//! One subscription's bounded buffer: the hub pushes without ever
//! waiting; when the buffer is full it drops the event and remembers that
//! the subscriber lagged, which the subscriber reads once it has drained
//! what was buffered before.

use std::collections::VecDeque;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::event::{Change, Event};

/// What the hub knows of a subscription.
#[derive(Debug)]
pub(crate) struct Queue {
    pub id: u64,
    /// The hub's generation once it was registered.
    pub gen: u64,
    /// Transactions up to this one committed before it was registered:
    /// they are not delivered.
    pub after: u64,
    pub bucket: Vec<u8>,
    pub prefix: Vec<u8>,
    /// The most changes it buffers.
    pub capacity: usize,
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Events and how many changes each holds.
    events: VecDeque<(Event, usize)>,
    /// Changes buffered.
    used: usize,
    /// Events were dropped, the last of them this transaction's.
    lagged: Option<u64>,
    /// The database is closed: nothing more will come.
    closed: bool,
}

impl Queue {
    pub fn new(
        id: u64,
        gen: u64,
        after: u64,
        bucket: &[u8],
        prefix: &[u8],
        capacity: usize,
    ) -> Queue {
        Queue {
            id,
            gen,
            after,
            bucket: bucket.to_vec(),
            prefix: prefix.to_vec(),
            capacity,
            state: Mutex::default(),
            ready: Condvar::new(),
        }
    }

    /// Buffers transaction `txn`'s changes, or drops them and marks the
    /// subscriber lagged if they do not fit (or it already lags: events
    /// after a dropped one would leave a gap).
    pub fn push(&self, txn: u64, changes: Vec<Change>) {
        let n = changes.len();
        let mut s = self.state.lock();
        if s.lagged.is_some() || s.used + n > self.capacity {
            s.lagged = Some(txn);
        } else {
            s.used += n;
            s.events.push_back((Event::Changes { txn, changes }, n));
        }
        drop(s);
        self.ready.notify_one();
    }

    /// Drops transaction `txn`'s changes: the subscriber lagged.
    pub fn lag(&self, txn: u64) {
        self.state.lock().lagged = Some(txn);
        self.ready.notify_one();
    }

    /// No more events will come.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next item: waits until `deadline` (`None`: forever) if `wait`.
    pub fn recv(&self, wait: bool, deadline: Option<Instant>) -> Result<Event, RecvTimeoutError> {
        let mut s = self.state.lock();
        loop {
            if let Some((ev, n)) = s.events.pop_front() {
                s.used -= n;
                return Ok(ev);
            }
            if let Some(resume_after) = s.lagged.take() {
                return Ok(Event::Lagged { resume_after });
            }
            if s.closed {
                return Err(RecvTimeoutError::Disconnected);
            }
            if !wait {
                return Err(RecvTimeoutError::Timeout);
            }
            match deadline {
                None => self.ready.wait(&mut s),
                Some(d) => {
                    if self.ready.wait_until(&mut s, d).timed_out() {
                        // One last look: an event may have come with the
                        // deadline.
                        if s.events.is_empty() && s.lagged.is_none() && !s.closed {
                            return Err(RecvTimeoutError::Timeout);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: u8) -> Change {
        Change::Put {
            key: vec![k],
            value: vec![],
        }
    }

    #[test]
    fn a_full_buffer_drops_until_drained_then_reports_the_lag() {
        let q = Queue::new(1, 1, 0, b"", b"", 2);
        q.push(1, vec![put(1)]);
        q.push(2, vec![put(2)]);
        q.push(3, vec![put(3)]); // full: dropped
        assert_eq!(q.recv(false, None).unwrap().txn(), Some(1));
        q.push(4, vec![put(4)]); // room, but after a gap: dropped
        assert_eq!(q.recv(false, None).unwrap().txn(), Some(2));
        assert_eq!(
            q.recv(false, None).unwrap(),
            Event::Lagged { resume_after: 4 }
        );
        assert_eq!(q.recv(false, None), Err(RecvTimeoutError::Timeout));
        q.push(5, vec![put(5), put(6)]);
        q.close();
        assert_eq!(q.recv(true, None).unwrap().txn(), Some(5));
        assert_eq!(q.recv(true, None), Err(RecvTimeoutError::Disconnected));
    }

    #[test]
    fn a_transaction_larger_than_the_buffer_is_a_lag() {
        let q = Queue::new(1, 1, 0, b"", b"", 1);
        q.push(1, vec![put(1), put(2)]);
        assert_eq!(
            q.recv(false, None).unwrap(),
            Event::Lagged { resume_after: 1 }
        );
    }
}
