//! What a [`Subscription`](super::Subscription) yields.

/// One effective change of a committed transaction, as its log record
/// holds it (a put of a value equal to the old one is still a put; a
/// delete of an absent key is no change).
///
/// ```
/// use vellum::Change;
/// let c = Change::Put { key: b"k".to_vec(), value: b"v".to_vec() };
/// assert_eq!(c.key(), Some(&b"k"[..]));
/// assert_eq!(Change::BucketDropped.key(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// `key` was set to `value`.
    Put {
        /// The key (it starts with the subscription's prefix).
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// `key` was deleted (it existed).
    Delete {
        /// The key (it starts with the subscription's prefix).
        key: Vec<u8>,
    },
    /// The subscription's bucket was dropped, with everything in it. A
    /// bucket created again under the same name is the same subscription's
    /// bucket: later changes to it are delivered.
    BucketDropped,
}

impl Change {
    /// The key a put or delete changed (`None` for
    /// [`Change::BucketDropped`]).
    ///
    /// ```
    /// let c = vellum::Change::Delete { key: b"gone".to_vec() };
    /// assert_eq!(c.key(), Some(&b"gone"[..]));
    /// ```
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Change::Put { key, .. } | Change::Delete { key } => Some(key),
            Change::BucketDropped => None,
        }
    }
}

/// An item of a [`Subscription`](super::Subscription).
///
/// ```
/// let ev = vellum::Event::Changes { txn: 7, changes: vec![] };
/// assert_eq!(ev.txn(), Some(7));
/// assert_eq!(vellum::Event::Lagged { resume_after: 9 }.txn(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The changes one durable transaction made under the subscription's
    /// prefix, in the order it made them. Transactions arrive in commit
    /// order (`txn` strictly increases).
    Changes {
        /// The transaction's id (what [`crate::ReadTxn::txn_id`] of a
        /// snapshot containing it reports at least).
        txn: u64,
        /// Its changes under the prefix, never empty.
        changes: Vec<Change>,
    },
    /// The subscription's buffer overflowed: the events of some
    /// transactions after the last one received (up to `resume_after`)
    /// were dropped. A snapshot begun now contains all of them
    /// (its [`crate::ReadTxn::txn_id`] is at least `resume_after`): re-read
    /// the prefix from it and skip later events whose `txn` is not above
    /// its `txn_id` (see [`Subscription`](super::Subscription)).
    Lagged {
        /// The last transaction whose events were dropped.
        resume_after: u64,
    },
}

impl Event {
    /// The transaction of a [`Event::Changes`].
    ///
    /// ```
    /// let ev = vellum::Event::Changes { txn: 3, changes: vec![vellum::Change::BucketDropped] };
    /// assert_eq!(ev.txn(), Some(3));
    /// ```
    pub fn txn(&self) -> Option<u64> {
        match self {
            Event::Changes { txn, .. } => Some(*txn),
            Event::Lagged { .. } => None,
        }
    }
}
