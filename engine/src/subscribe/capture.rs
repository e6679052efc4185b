//! What a write transaction captures for subscriptions while it runs.
//!
//! A transaction begins with the [`Watch`] of the subscriptions registered
//! at that moment (or none: then capturing costs one `Option` check per
//! operation). Each logged operation (and each entry of a sorted load,
//! which is not logged) whose bucket and key match a subscription is
//! copied once, tagged with its bucket; which subscriptions it matched is
//! remembered in `touched`. Past the largest capacity of the watching
//! subscriptions the capture stops copying and is `overflowed`: those
//! subscriptions could not buffer the transaction anyway, and get
//! [`crate::Event::Lagged`] instead of a partial transaction.

use std::sync::Arc;

use super::event::Change;
use crate::page::log_record::{decode_ops, op, Op};

/// One subscription as a transaction's capture sees it.
#[derive(Debug)]
pub(crate) struct Filter {
    /// The subscription's id.
    pub id: u64,
    /// Index of its bucket in [`Watch::buckets`].
    pub bucket: usize,
    pub prefix: Vec<u8>,
}

/// The subscriptions registered at some moment: shared by every
/// transaction that begins until the next subscribe or unsubscribe.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Subscriptions with a generation up to this one (and still live when
    /// the watch was made) are in it.
    pub gen: u64,
    /// The distinct bucket names of the filters.
    pub buckets: Vec<Vec<u8>>,
    /// Sorted by id.
    pub filters: Vec<Filter>,
    /// The most changes one transaction captures.
    pub max_capacity: usize,
}

impl Watch {
    /// A watch of `subs` (id, bucket, prefix, capacity), sorted by id.
    pub fn new<'a>(
        gen: u64,
        subs: impl Iterator<Item = (u64, &'a [u8], &'a [u8], usize)>,
    ) -> Watch {
        let mut w = Watch {
            gen,
            ..Watch::default()
        };
        for (id, bucket, prefix, capacity) in subs {
            let b = match w.bucket_of(bucket) {
                Some(b) => b,
                None => {
                    w.buckets.push(bucket.to_vec());
                    w.buckets.len() - 1
                }
            };
            w.filters.push(Filter {
                id,
                bucket: b,
                prefix: prefix.to_vec(),
            });
            w.max_capacity = w.max_capacity.max(capacity);
        }
        debug_assert!(w.filters.windows(2).all(|f| f[0].id < f[1].id));
        w
    }

    fn bucket_of(&self, name: &[u8]) -> Option<usize> {
        self.buckets.iter().position(|b| b == name)
    }

    /// The index of subscription `id` in `filters`.
    pub fn filter_index(&self, id: u64) -> Option<usize> {
        self.filters.binary_search_by_key(&id, |f| f.id).ok()
    }

    /// Whether filter `i` wants `c`.
    pub fn wants(&self, i: usize, c: &Captured) -> bool {
        let f = &self.filters[i];
        f.bucket == c.bucket && c.change.key().is_none_or(|k| k.starts_with(&f.prefix))
    }
}

/// A change some subscription wanted, and its bucket.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    /// Index in [`Watch::buckets`].
    pub bucket: usize,
    pub change: Change,
}

/// The changes of one transaction that the subscriptions of its watch
/// want.
#[derive(Debug)]
pub(crate) struct Capture {
    pub watch: Arc<Watch>,
    /// In the order the transaction made them (at most
    /// `watch.max_capacity`).
    pub changes: Vec<Captured>,
    /// Per filter: whether any change matched it.
    pub touched: Vec<bool>,
    /// More changes matched than `watch.max_capacity`: the touched
    /// subscriptions get `Lagged`.
    pub overflowed: bool,
}

impl Capture {
    pub fn new(watch: Arc<Watch>) -> Capture {
        let n = watch.filters.len();
        Capture {
            watch,
            changes: Vec::new(),
            touched: vec![false; n],
            overflowed: false,
        }
    }

    /// A capture of a logged payload (FORMAT.md §2.2), or `None` if it
    /// does not decode (it always does: the transaction encoded it).
    pub fn of_payload(watch: Arc<Watch>, payload: &[u8]) -> Option<Capture> {
        let mut c = Capture::new(watch);
        for o in decode_ops(payload, 0).ok()? {
            match o {
                Op::Put { bucket, key, value } => {
                    c.record(&bucket, op::PUT, Some(&key), Some(&value))
                }
                Op::Delete { bucket, key } => c.record(&bucket, op::DELETE, Some(&key), None),
                Op::DropBucket(bucket) => c.record(&bucket, op::DROP, None, None),
                // Not changes of keys: a subscription does not see them.
                Op::CreateBucket(_) | Op::SetSequence { .. } => {}
            }
        }
        Some(c)
    }

    /// Records one logged operation (`code` as in the log record).
    pub fn record(&mut self, bucket: &[u8], code: u8, key: Option<&[u8]>, value: Option<&[u8]>) {
        let Some(b) = self.watch.bucket_of(bucket) else {
            return;
        };
        let change = match (code, key, value) {
            (op::PUT, Some(key), Some(value)) => Change::Put {
                key: key.to_vec(),
                value: value.to_vec(),
            },
            (op::DELETE, Some(key), None) => Change::Delete { key: key.to_vec() },
            (op::DROP, None, None) => Change::BucketDropped,
            _ => return,
        };
        let mut matched = false;
        for (i, f) in self.watch.filters.iter().enumerate() {
            if f.bucket == b && key.is_none_or(|k| k.starts_with(&f.prefix)) {
                self.touched[i] = true;
                matched = true;
            }
        }
        if !matched || self.overflowed {
            return;
        }
        if self.changes.len() >= self.watch.max_capacity {
            self.overflowed = true;
            return;
        }
        self.changes.push(Captured { bucket: b, change });
    }

    /// Whether any subscription wants something of it.
    pub fn is_empty(&self) -> bool {
        !self.touched.iter().any(|t| *t)
    }

    /// Gives up the captured changes (the touched subscriptions get
    /// `Lagged`).
    pub fn overflow(&mut self) {
        self.overflowed = true;
        self.changes = Vec::new();
    }

    /// The changes filter `i` wants, in order.
    pub fn changes_for(&self, i: usize) -> Vec<Change> {
        self.changes
            .iter()
            .filter(|c| self.watch.wants(i, c))
            .map(|c| c.change.clone())
            .collect()
    }
}

/// Where a capture stood, to roll back to (a savepoint, a failed load).
#[derive(Clone, Debug)]
pub(crate) struct CaptureMark {
    len: usize,
    touched: Vec<bool>,
    overflowed: bool,
}

/// A write transaction's capture: the subscription generation it began
/// with, and the capture if any subscription was registered then.
#[derive(Debug, Default)]
pub(crate) struct TxCapture {
    /// The hub's generation when the transaction began.
    pub gen: u64,
    pub capture: Option<Box<Capture>>,
}

impl TxCapture {
    /// Records one logged operation, if anything watches.
    #[inline]
    pub fn op(&mut self, bucket: &[u8], code: u8, key: Option<&[u8]>, value: Option<&[u8]>) {
        if let Some(c) = &mut self.capture {
            c.record(bucket, code, key, value);
        }
    }

    /// The current position, to roll back to.
    pub fn mark(&self) -> Option<CaptureMark> {
        self.capture.as_ref().map(|c| CaptureMark {
            len: c.changes.len(),
            touched: c.touched.clone(),
            overflowed: c.overflowed,
        })
    }

    /// Forgets what was captured since `mark` (made by this capture).
    pub fn rollback(&mut self, mark: Option<&CaptureMark>) {
        if let (Some(c), Some(m)) = (&mut self.capture, mark) {
            c.changes.truncate(m.len);
            c.touched.clone_from(&m.touched);
            c.overflowed = m.overflowed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(cap: usize) -> Arc<Watch> {
        let subs: [(u64, &[u8], &[u8], usize); 3] = [
            (1, b"", b"a", cap),
            (2, b"users", b"", cap),
            (3, b"", b"ab", cap),
        ];
        Arc::new(Watch::new(5, subs.into_iter()))
    }

    #[test]
    fn only_matching_changes_are_captured_once_each() {
        let mut c = Capture::new(watch(10));
        c.record(b"", op::PUT, Some(b"abc"), Some(b"1"));
        c.record(b"", op::PUT, Some(b"b"), Some(b"2"));
        c.record(b"other", op::PUT, Some(b"abc"), Some(b"3"));
        c.record(b"users", op::CREATE, None, None);
        c.record(b"users", op::DROP, None, None);
        assert_eq!(c.changes.len(), 2);
        assert_eq!(c.touched, vec![true, true, true]);
        assert_eq!(c.changes_for(0), c.changes_for(2));
        assert_eq!(c.changes_for(1), vec![Change::BucketDropped]);
    }

    #[test]
    fn past_the_largest_capacity_the_capture_overflows_and_rolls_back() {
        let mut t = TxCapture {
            gen: 5,
            capture: Some(Box::new(Capture::new(watch(2)))),
        };
        t.op(b"", op::PUT, Some(b"a1"), Some(b""));
        let m = t.mark();
        t.op(b"", op::PUT, Some(b"a2"), Some(b""));
        t.op(b"", op::DELETE, Some(b"a1"), None);
        let c = t.capture.as_ref().unwrap();
        assert!(c.overflowed);
        assert_eq!(c.changes.len(), 2);
        t.rollback(m.as_ref());
        let c = t.capture.as_ref().unwrap();
        assert!(!c.overflowed);
        assert_eq!(c.changes_for(0).len(), 1);
        assert_eq!(c.touched, vec![true, false, false]);
    }

    #[test]
    fn a_payload_is_captured_like_the_operations_that_made_it() {
        let mut payload = Vec::new();
        crate::page::log_record::encode_op(&mut payload, b"", op::PUT, Some(b"ab"), Some(b"v"));
        crate::page::log_record::encode_op(&mut payload, b"users", op::CREATE, None, None);
        crate::page::log_record::encode_op(&mut payload, b"", op::DELETE, Some(b"ab"), None);
        let c = Capture::of_payload(watch(10), &payload).unwrap();
        assert_eq!(
            c.changes_for(2),
            vec![
                Change::Put {
                    key: b"ab".to_vec(),
                    value: b"v".to_vec()
                },
                Change::Delete {
                    key: b"ab".to_vec()
                }
            ]
        );
        assert!(!c.touched[1]);
    }
}
