//! The working state of a write transaction: its copy of the catalog, the
//! log payload it will append, and the pages it stopped using. Replay after
//! a crash drives the same state with logging off.

use std::sync::Arc;

use crate::btree::{self, Freed, TreeMut};
use crate::catalog::{BucketRoot, Catalog};
use crate::page::log_record::{encode_op, encode_set_sequence, op, Op};
use crate::page::node::Child;
use crate::page::node::{OldValue, ValueSrc};
use crate::page::overflow::run_pages;
use crate::pager::{Pager, RootPin};
use crate::txn::spill::Spilled;

use crate::{Error, Limits, Result};

/// Writes the leaves a sorted load has built so far (FORMAT.md §3 Spill).
pub trait SpillLeaves {
    /// Writes `leaves` (recording the runs in `spilled`) and returns their
    /// page references, in order.
    fn spill(
        &mut self,
        spilled: &mut Spilled,
        leaves: &[&Child],
    ) -> Result<Vec<crate::page::PageRef>>;

    /// The load failed: the leaves it wrote are used by no tree.
    fn failed(&mut self, spilled: &mut Spilled);
}

/// A transaction's private state.
pub struct TxState {
    /// The catalog as this transaction sees it.
    pub catalog: Catalog,
    /// Encoded operations (the log record payload).
    pub payload: Vec<u8>,
    /// Set when the payload grew past `log_limit`: the transaction will be
    /// committed by a checkpoint and the payload is no longer kept.
    pub too_big_for_log: bool,
    /// Largest payload kept for the log.
    pub log_limit: usize,
    /// Pages this transaction stopped using.
    pub freed: Freed,
    /// Whether anything changed.
    pub changed: bool,
    /// The committed transaction this one started from.
    pub base_txn: u64,
    /// What this transaction spilled (FORMAT.md §3 Spill).
    pub spilled: Spilled,
    /// Memory of changed nodes past which the transaction spills (`None`:
    /// never, as in replay, whose records the log's size bounds).
    spill_at: Option<u64>,
    limits: Limits,
    /// The changes subscriptions want (nothing without subscriptions):
    /// kept apart from the payload, which a large transaction drops.
    pub(crate) capture: crate::subscribe::TxCapture,
}

impl TxState {
    /// A transaction starting from `catalog`, spilling past `spill_at`
    /// bytes of changed nodes.
    pub fn new(
        catalog: Catalog,
        limits: Limits,
        log_limit: usize,
        spill_at: Option<u64>,
    ) -> TxState {
        TxState {
            catalog,
            payload: Vec::new(),
            too_big_for_log: false,
            log_limit,
            freed: Vec::new(),
            changed: false,
            base_txn: 0,
            spilled: Spilled::default(),
            spill_at,
            limits,
            capture: Default::default(),
        }
    }

    /// [`Error::BucketDropped`] unless the bucket called `name` is the
    /// creation `incarnation` (see [`BucketRoot::incarnation`]): a handle
    /// opened for it must not reach a bucket created after it was dropped.
    pub fn check_handle(&self, name: &[u8], incarnation: u64) -> Result<()> {
        match self.catalog.get(name) {
            Some(b) if b.incarnation == incarnation => Ok(()),
            _ => Err(Error::BucketDropped(name.to_vec())),
        }
    }

    /// The incarnation of the bucket called `name`, if it exists.
    pub fn incarnation_of(&self, name: &[u8]) -> Option<u64> {
        self.catalog.get(name).map(|b| b.incarnation)
    }

    /// Whether the changed nodes and the log payload passed the memory
    /// budget: the next operation spills first.
    pub fn spill_due(&self) -> bool {
        self.spill_at
            .is_some_and(|at| self.spilled.dirty() + self.payload.len() as u64 > at)
    }

    /// Records pages the trees stopped using: a spilled run goes back to
    /// the spill bookkeeping (nothing durable used it), any other page is
    /// freed by the next checkpoint.
    fn stopped_using(&mut self, pages: Freed) {
        for (p, n) in pages {
            if !self.spilled.take_back(p, n) {
                self.freed.push((p, n));
            }
        }
    }

    /// Counts the memory an operation's new nodes hold.
    fn count_made(&mut self, made: usize, page_size: usize) {
        self.spilled.add_dirty((made * page_size) as u64);
    }

    fn log(&mut self, bucket: &[u8], code: u8, key: Option<&[u8]>, value: Option<&[u8]>) {
        self.capture.op(bucket, code, key, value);
        self.logged(|p| encode_op(p, bucket, code, key, value));
    }

    /// Marks the transaction changed and appends one operation, written by
    /// `encode`, to the payload, unless it outgrew the log.
    fn logged(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
        self.changed = true;
        if self.too_big_for_log {
            return;
        }
        encode(&mut self.payload);
        if self.payload.len() > self.log_limit {
            self.too_big_for_log = true;
            self.payload = Vec::new();
        }
    }

    /// Records that `bucket`'s sequence is now `value` (FORMAT.md §2.2 op 5).
    fn log_sequence(&mut self, bucket: &[u8], value: u64) {
        self.logged(|p| encode_set_sequence(p, bucket, value));
    }

    /// The sequence of `bucket` as this transaction sees it.
    pub fn sequence(&self, bucket: &[u8]) -> Result<u64> {
        self.catalog
            .get(bucket)
            .map(|b| b.sequence)
            .ok_or_else(|| Error::BucketNotFound(bucket.to_vec()))
    }

    /// Raises `bucket`'s sequence by one and returns it (logged).
    /// [`Error::SequenceExhausted`] at `u64::MAX`, with nothing changed.
    pub fn next_id(&mut self, bucket: &[u8]) -> Result<u64> {
        let b = self.bucket_mut(bucket)?;
        let id = b
            .sequence
            .checked_add(1)
            .ok_or_else(|| Error::SequenceExhausted(bucket.to_vec()))?;
        b.sequence = id;
        self.log_sequence(bucket, id);
        Ok(id)
    }

    /// Sets `bucket`'s sequence to `value`, which may not be below it
    /// ([`Error::SequenceLowered`]); logged only if it rises.
    pub fn set_sequence(&mut self, bucket: &[u8], value: u64) -> Result<()> {
        let b = self.bucket_mut(bucket)?;
        if value < b.sequence {
            return Err(Error::SequenceLowered {
                bucket: bucket.to_vec(),
                current: b.sequence,
                requested: value,
            });
        }
        if value > b.sequence {
            b.sequence = value;
            self.log_sequence(bucket, value);
        }
        Ok(())
    }

    /// Replays a *set sequence*: every logged value raised the sequence,
    /// so one that does not is refused (the open turns it into
    /// [`Error::Corruption`], FORMAT.md §2.2).
    fn replay_sequence(&mut self, bucket: &[u8], value: u64) -> Result<()> {
        let current = self.sequence(bucket)?;
        if value <= current {
            return Err(Error::SequenceLowered {
                bucket: bucket.to_vec(),
                current,
                requested: value,
            });
        }
        self.set_sequence(bucket, value)
    }

    /// Checks a key against the limits.
    pub fn check_key(&self, key: &[u8]) -> Result<()> {
        self.limits.check_key(key)
    }

    /// Checks a bucket name (empty means the default bucket and is only
    /// valid internally).
    pub fn check_bucket_name(&self, name: &[u8]) -> Result<()> {
        if name.is_empty() || name.len() > self.limits.max_key_len {
            return Err(Error::InvalidBucketName);
        }
        Ok(())
    }

    fn bucket_mut(&mut self, name: &[u8]) -> Result<&mut BucketRoot> {
        self.catalog
            .get_mut(name)
            .ok_or_else(|| Error::BucketNotFound(name.to_vec()))
    }

    fn free_value(&mut self, v: &OldValue, page_size: usize) {
        if let OldValue::Overflow(at, len) = v {
            self.stopped_using(vec![(at.page, run_pages(*len as usize, page_size))]);
        }
    }

    /// Sets `key` to `value` in `bucket`; returns whether the key existed.
    pub fn put(&mut self, pager: &Pager, bucket: &[u8], key: &[u8], value: &[u8]) -> Result<bool> {
        let v = entry_value(&self.limits, key, value)?;
        let pending = match &v {
            ValueSrc::Pending(v) => v.len(),
            _ => 0,
        };
        let mut freed = Vec::new();
        let b = self.bucket_mut(bucket)?;
        let mut t = TreeMut::new(pager, &mut freed);
        let old = btree::insert(&mut t, &mut b.root, key, v);
        let made = t.made();
        if matches!(old, Ok(None)) {
            b.len = b.len.saturating_add(1); // see the delete
        }
        self.count_made(made, pager.page_size());
        self.spilled.add_dirty(pending as u64);
        // Pages copied before a failure are no longer referenced either.
        self.stopped_using(freed);
        let old = old?;
        if let Some(o) = &old {
            self.free_value(o, pager.page_size());
        }
        self.log(bucket, op::PUT, Some(key), Some(value));
        Ok(old.is_some())
    }

    /// Removes `key` from `bucket`; returns whether it existed.
    pub fn delete(&mut self, pager: &Pager, bucket: &[u8], key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        let mut freed = Vec::new();
        let b = self.bucket_mut(bucket)?;
        let before = b.root.as_ref().and_then(Child::disk_ref);
        let mut t = TreeMut::new(pager, &mut freed);
        let old = btree::delete(&mut t, &mut b.root, key);
        let made = t.made();
        // A root that collapsed onto a page it did not name needs a pin of
        // its own (the old one stays with the snapshots that share it).
        let after = b.root.as_ref().and_then(Child::disk_ref);
        if after.is_some() && after != before {
            b.pin = RootPin::default();
        }
        if matches!(old, Ok(Some(_))) {
            // Saturating: the count comes from the file, and a crafted or
            // damaged one may disagree with the tree (`check()` reports
            // that); it must not panic or wrap here.
            b.len = b.len.saturating_sub(1);
        }
        self.count_made(made, pager.page_size());
        self.stopped_using(freed);
        let old = old?;
        match old {
            Some(o) => {
                self.free_value(&o, pager.page_size());
                self.log(bucket, op::DELETE, Some(key), None);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Loads entries in strictly increasing key order into the empty
    /// `bucket`, bottom-up, filling pages to about `fill`. Nothing changes
    /// on an error. The transaction is then committed by checkpoint (its
    /// log record would repeat every entry). Leaves are spilled through
    /// `spill` as they are built, whenever they pass a quarter of the
    /// transaction's memory limit, so a load of any size holds about that
    /// much besides the separators and branches above its leaves.
    /// `feed` calls the function it is given once per entry, in order.
    #[allow(clippy::type_complexity)]
    pub fn load_sorted(
        &mut self,
        pager: &Pager,
        bucket: &[u8],
        fill: f64,
        feed: &mut dyn FnMut(&mut dyn FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()>,
        spill: &mut dyn SpillLeaves,
    ) -> Result<u64> {
        let b = self.bucket_mut(bucket)?;
        if b.len > 0 || b.root.is_some() {
            return Err(Error::BucketNotEmpty(bucket.to_vec()));
        }
        let limits = self.limits;
        // Leaves go to disk in key order, so small batches cost nothing
        // more: a quarter of the limit, leaving room for what the
        // transaction holds.
        let limit = self.spill_at.map(|at| at / 4);
        let spilled = &mut self.spilled;
        // The entries are not logged: subscriptions capture them here.
        let capture = &mut self.capture;
        let mark = capture.mark();
        let mut builder = btree::build::SortedBuilder::new(pager.page_size(), fill);
        let fed = feed(&mut |key, value| {
            builder
                .push(key, entry_value(&limits, key, value)?)
                .map_err(|e| Error::NotSorted { index: e.index })?;
            capture.op(bucket, op::PUT, Some(key), Some(value));
            if limit.is_some_and(|l| builder.memory() > l) {
                builder.write_leaves(&mut |leaves| spill.spill(spilled, leaves))?;
            }
            Ok(())
        });
        if let Err(e) = fed {
            // The leaves this load spilled are not used by any tree.
            spill.failed(&mut self.spilled);
            self.capture.rollback(mark.as_ref());
            return Err(e);
        }
        let n = builder.len();
        if n == 0 {
            return Ok(0);
        }
        self.spilled.add_dirty(builder.memory());
        let root = builder.finish();
        let b = self.bucket_mut(bucket)?;
        b.root = root;
        b.len = n;
        b.pin = RootPin::default();
        self.changed = true;
        self.too_big_for_log = true;
        self.payload = Vec::new();
        Ok(n)
    }

    /// Creates a named bucket.
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<()> {
        self.check_bucket_name(name)?;
        if self.catalog.named.contains_key(name) {
            return Err(Error::BucketExists(name.to_vec()));
        }
        self.catalog
            .named
            .insert(name.to_vec(), BucketRoot::created());
        self.log(name, op::CREATE, None, None);
        Ok(())
    }

    /// Drops a named bucket and frees its pages.
    pub fn drop_bucket(&mut self, pager: &Pager, name: &[u8]) -> Result<()> {
        self.check_bucket_name(name)?;
        let b = self
            .catalog
            .named
            .get(name)
            .ok_or_else(|| Error::BucketNotFound(name.to_vec()))?;
        let mut freed = Vec::new();
        btree::for_each_page(pager, &b.root, &mut |p, n| {
            freed.push((p, n));
            Ok(())
        })?;
        self.catalog.named.remove(name);
        self.stopped_using(freed);
        self.log(name, op::DROP, None, None);
        Ok(())
    }

    /// Applies a replayed operation.
    pub fn apply(&mut self, pager: &Pager, op: Op) -> Result<()> {
        match op {
            Op::Put { bucket, key, value } => self.put(pager, &bucket, &key, &value).map(|_| ()),
            Op::Delete { bucket, key } => self.delete(pager, &bucket, &key).map(|_| ()),
            Op::CreateBucket(name) => self.create_bucket(&name),
            Op::DropBucket(name) => self.drop_bucket(pager, &name),
            Op::SetSequence { bucket, value } => self.replay_sequence(&bucket, value),
        }
    }
}


/// The value of a new entry as a leaf stores it (inline, or pending for an
/// overflow run), once the key and value pass the limits.
fn entry_value<'a>(limits: &Limits, key: &[u8], value: &'a [u8]) -> Result<ValueSrc<'a>> {
    limits.check_key(key)?;
    if value.len() > limits.max_value_len {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: limits.max_value_len,
        });
    }
    Ok(if value.len() > limits.max_inline_value_len {
        ValueSrc::Pending(Arc::from(value))
    } else {
        ValueSrc::Inline(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key count read from the file that disagrees with the tree (a
    /// crafted or damaged catalog) neither panics nor wraps.
    #[test]
    fn a_key_count_that_disagrees_with_the_tree_never_wraps() {
        let pager = Pager::in_memory(1024);
        let limits = Limits::for_page_size(1024);
        let mut s = TxState::new(Catalog::default(), limits, 1 << 20, None);
        assert!(!s.put(&pager, b"", b"k", b"v").unwrap());
        s.catalog.default.len = 0;
        assert!(s.delete(&pager, b"", b"k").unwrap());
        assert_eq!(s.catalog.default.len, 0);
        s.catalog.default.len = u64::MAX;
        assert!(!s.put(&pager, b"", b"k2", b"v").unwrap());
        assert_eq!(s.catalog.default.len, u64::MAX);
    }
}
