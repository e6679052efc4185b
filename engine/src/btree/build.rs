//! Bottom-up construction of a tree from sorted entries.

use std::sync::Arc;

use crate::page::node::edit::separator;
use crate::page::node::{Child, Item, Node, ValueSrc};
use crate::page::{PageRef, HEADER_LEN};

/// A node of the level being built, with the separator in front of it.
struct Built {
    sep: Vec<u8>,
    child: Child,
}

/// Builds an in-memory tree from entries in strictly increasing key order,
/// filling each page to about `fill` (0.5..=1.0) of its size.
pub fn build_sorted<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], ValueSrc<'a>)>,
    page_size: usize,
    fill: f64,
) -> Option<Child> {
    let mut b = SortedBuilder::new(page_size, fill);
    for (key, value) in entries {
        b.push(key, value)
            .expect("callers pass keys in increasing order");
    }
    b.finish()
}

/// A value held by the builder until its leaf is built.
enum HeldValue {
    Inline(Vec<u8>),
    Overflow(crate::page::PageRef, u32),
    Pending(Arc<[u8]>),
}

impl HeldValue {
    fn src(&self) -> ValueSrc<'_> {
        match self {
            HeldValue::Inline(v) => ValueSrc::Inline(v),
            HeldValue::Overflow(r, len) => ValueSrc::Overflow(*r, *len),
            HeldValue::Pending(a) => ValueSrc::Pending(a.clone()),
        }
    }
}

/// A key that was not greater than the one before it.
#[derive(Debug, PartialEq, Eq)]
pub struct OutOfOrder {
    /// Its position among the entries pushed (0-based).
    pub index: u64,
}

/// Builds a tree bottom-up from entries pushed in strictly increasing key
/// order, one leaf at a time: it holds one leaf's entries and the nodes
/// built so far, never the input.
pub struct SortedBuilder {
    page_size: usize,
    target: usize,
    level: Vec<Built>,
    leaf: Vec<(Vec<u8>, HeldValue)>,
    size: usize,
    prev_last: Option<Vec<u8>>,
    pushed: u64,
    /// Leaves of `level` before this index are written (on disk).
    written: usize,
    /// Large values held by the leaves in memory.
    pending_bytes: u64,
}

impl SortedBuilder {
    /// A builder of pages of `page_size` bytes filled to about `fill`
    /// (clamped to 0.5..=1.0; NaN counts as 1.0).
    pub fn new(page_size: usize, fill: f64) -> SortedBuilder {
        let fill = if fill.is_nan() {
            1.0
        } else {
            fill.clamp(0.5, 1.0)
        };
        SortedBuilder {
            page_size,
            target: ((page_size as f64) * fill) as usize,
            level: Vec::new(),
            leaf: Vec::new(),
            size: HEADER_LEN,
            prev_last: None,
            pushed: 0,
            written: 0,
            pending_bytes: 0,
        }
    }

    /// Memory held by the leaves built and not yet written (pages and
    /// large values).
    pub fn memory(&self) -> u64 {
        ((self.level.len() - self.written) * self.page_size) as u64 + self.pending_bytes
    }

    /// Writes the leaves built so far through `write` (which returns their
    /// page references in order) and keeps only the references.
    pub fn write_leaves(
        &mut self,
        write: &mut dyn FnMut(&[&Child]) -> crate::Result<Vec<PageRef>>,
    ) -> crate::Result<()> {
        let leaves: Vec<&Child> = self.level[self.written..]
            .iter()
            .map(|b| &b.child)
            .collect();
        if leaves.is_empty() {
            return Ok(());
        }
        let refs = write(&leaves)?;
        debug_assert_eq!(refs.len(), leaves.len());
        for (b, r) in self.level[self.written..].iter_mut().zip(refs) {
            b.child = Child::Disk(r);
        }
        self.written = self.level.len();
        self.pending_bytes = 0;
        Ok(())
    }

    /// Entries pushed so far.
    pub fn len(&self) -> u64 {
        self.pushed
    }

    #[cfg(any(test, feature = "internals"))]
    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// Adds an entry; its key must be greater than every key before it.
    pub fn push(&mut self, key: &[u8], value: ValueSrc<'_>) -> Result<(), OutOfOrder> {
        let last = self
            .leaf
            .last()
            .map(|(k, _)| k.as_slice())
            .or(self.prev_last.as_deref());
        if last.is_some_and(|l| l >= key) {
            return Err(OutOfOrder { index: self.pushed });
        }
        let size = Item::Leaf {
            key,
            value: value.clone(),
        }
        .size();
        if !self.leaf.is_empty() && self.size + size > self.target {
            self.finish_leaf();
        }
        let held = match value {
            ValueSrc::Inline(v) => HeldValue::Inline(v.to_vec()),
            ValueSrc::Overflow(r, len) => HeldValue::Overflow(r, len),
            ValueSrc::Pending(a) => {
                self.pending_bytes += a.len() as u64;
                HeldValue::Pending(a)
            }
        };
        self.size += size;
        self.leaf.push((key.to_vec(), held));
        self.pushed += 1;
        Ok(())
    }

    fn finish_leaf(&mut self) {
        let items: Vec<Item<'_>> = self
            .leaf
            .iter()
            .map(|(key, v)| Item::Leaf {
                key,
                value: v.src(),
            })
            .collect();
        let first = items[0].key();
        let sep = self
            .prev_last
            .as_deref()
            .map_or_else(Vec::new, |p| separator(p, first).to_vec());
        let node = Node::build(true, &items, self.page_size).keep_fill();
        drop(items);
        self.prev_last = self.leaf.pop().map(|(k, _)| k);
        self.leaf.clear();
        self.size = HEADER_LEN;
        self.level.push(Built {
            sep,
            child: Child::Mem(Arc::new(node)),
        });
    }

    /// The tree built (`None` if nothing was pushed).
    pub fn finish(mut self) -> Option<Child> {
        if !self.leaf.is_empty() {
            self.finish_leaf();
        }
        let mut level = self.level;
        while level.len() > 1 {
            level = branch_level(level, self.page_size, self.target);
        }
        level.pop().map(|b| b.child)
    }
}

/// Groups the nodes of one level under branches (at least two children
/// each).
fn branch_level(level: Vec<Built>, page_size: usize, target: usize) -> Vec<Built> {
    // Children of each branch, as (separator, child).
    let mut groups: Vec<Vec<(Vec<u8>, Child)>> = Vec::new();
    let mut size = HEADER_LEN;
    for b in level {
        let child = b.child;
        let item_size = Item::Branch {
            key: &b.sep,
            child: child.clone(),
        }
        .size();
        let start_new = match groups.last() {
            None => true,
            Some(g) => g.len() >= 2 && size + item_size > target,
        };
        if start_new {
            groups.push(Vec::new());
            size = HEADER_LEN;
        }
        size += item_size;
        groups.last_mut().expect("pushed").push((b.sep, child));
    }
    // A trailing branch with a single child takes one from its neighbour.
    if groups.len() > 1 && groups.last().is_some_and(|g| g.len() == 1) {
        let lone = groups.pop().expect("len > 1");
        let prev = groups.last_mut().expect("len > 1");
        prev.extend(lone);
        if !fits_branch(prev, page_size) {
            let moved = prev.split_off(prev.len() - 2);
            groups.push(moved);
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let items: Vec<Item<'_>> = g
                .iter()
                .enumerate()
                .map(|(i, (sep, c))| Item::Branch {
                    key: if i == 0 { &[] } else { sep },
                    child: c.clone(),
                })
                .collect();
            let node = Node::build(false, &items, page_size);
            drop(items);
            let sep = g.into_iter().next().expect("a branch has children").0;
            Built {
                sep,
                child: Child::Mem(Arc::new(node)),
            }
        })
        .collect()
}

fn fits_branch(g: &[(Vec<u8>, Child)], page_size: usize) -> bool {
    let total: usize = g
        .iter()
        .enumerate()
        .map(|(i, (sep, c))| {
            Item::Branch {
                key: if i == 0 { &[] } else { sep },
                child: c.clone(),
            }
            .size()
        })
        .sum();
    crate::page::node::fits(total, page_size)
}

#[cfg(test)]
mod tests;
