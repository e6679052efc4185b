//! The catalog: every bucket's tree root, key count and sequence
//! (FORMAT.md §1.7).

use std::collections::BTreeMap;

use crate::btree::build::build_sorted;
use crate::btree::cursor::{Root, TreeCursor};
use crate::btree::flush::{flush, flush_owned, PageSource};
use crate::page::node::{Child, ValueAt, ValueSrc};
use crate::page::PageRef;
use crate::pager::{PageWriter, Pager, RootPin};
use crate::{Error, Result};

/// One bucket: its tree, its number of keys and its sequence.
#[derive(Clone, Debug, Default)]
pub struct BucketRoot {
    /// Root of the bucket's tree (`None` when empty).
    pub root: Option<Child>,
    /// Number of keys.
    pub len: u64,
    /// The last id [`crate::BucketMut::next_id`] handed out (0: none).
    pub sequence: u64,
    /// The root page, once a reader looked it up.
    pub pin: RootPin,
    /// Which creation of the bucket this is, in memory only: 0 for a bucket
    /// that existed when the database was opened, otherwise a number
    /// [`BucketRoot::created`] gave no other creation in this process. A
    /// [`crate::BucketMut`] remembers it, so a handle outliving its bucket
    /// (dropped, or created after a savepoint that was rolled back) never
    /// reaches a later bucket of the same name.
    pub incarnation: u64,
}

impl BucketRoot {
    /// An empty bucket just created, with an incarnation of its own.
    pub fn created() -> BucketRoot {
        use std::sync::atomic::{AtomicU64, Ordering};
        // Process-wide and never reset, so never reused by a rollback.
        // Only compared for equality: no decision depends on its value.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        BucketRoot {
            incarnation: NEXT.fetch_add(1, Ordering::Relaxed),
            ..BucketRoot::default()
        }
    }
}

/// All buckets. The default bucket has the empty name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// The default bucket.
    pub default: BucketRoot,
    /// Named buckets.
    pub named: BTreeMap<Vec<u8>, BucketRoot>,
}

const DEFAULT_KEY: u8 = 0;
const NAMED_KEY: u8 = 1;
/// Size of a catalog value: root page, root checksum, key count, sequence.
pub const VALUE_LEN: usize = 32;

impl Catalog {
    /// The bucket called `name` (empty = default).
    pub fn get(&self, name: &[u8]) -> Option<&BucketRoot> {
        if name.is_empty() {
            Some(&self.default)
        } else {
            self.named.get(name)
        }
    }

    /// The bucket called `name`, mutably.
    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut BucketRoot> {
        if name.is_empty() {
            Some(&mut self.default)
        } else {
            self.named.get_mut(name)
        }
    }

    /// Every bucket with its name, default first.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &BucketRoot)> {
        std::iter::once((&[][..], &self.default))
            .chain(self.named.iter().map(|(k, v)| (k.as_slice(), v)))
    }

    /// Reads a catalog tree; returns the catalog and the catalog's own pages.
    pub fn load(pager: &Pager, root: Option<PageRef>) -> Result<(Catalog, Vec<u64>)> {
        let mut cat = Catalog::default();
        let mut pages = Vec::new();
        let root = root.map(Child::Disk);
        crate::btree::for_each_page(pager, &root, &mut |p, _| {
            pages.push(p);
            Ok(())
        })?;
        let at = root.as_ref().map_or(0, |c| match c {
            Child::Disk(r) => r.page,
            Child::Mem(_) => 0,
        });
        let mut c = TreeCursor::new(Root::Owned(root, None));
        let mut ok = c.first(pager)?;
        while ok {
            let (leaf, i) = c.current().expect("positioned");
            let k = leaf.key(i);
            let ValueAt::Inline(meta) = leaf.value(i) else {
                return Err(Error::corrupt(at, "catalog entry is not inline"));
            };
            if meta.len() != VALUE_LEN {
                return Err(Error::corrupt(at, "catalog entry has the wrong size"));
            }
            let u = |i: usize| u64::from_le_bytes(meta[i..i + 8].try_into().unwrap());
            let b = BucketRoot {
                root: (u(0) != 0).then_some(Child::Disk(PageRef {
                    page: u(0),
                    checksum: u(8),
                })),
                len: u(16),
                sequence: u(24),
                pin: RootPin::default(),
                incarnation: 0,
            };
            match k.split_first() {
                Some((&DEFAULT_KEY, [])) => cat.default = b,
                Some((&NAMED_KEY, name)) if !name.is_empty() => {
                    cat.named.insert(name.to_vec(), b);
                }
                _ => return Err(Error::corrupt(at, "bad catalog key")),
            }
            ok = c.next(pager)?;
        }
        Ok((cat, pages))
    }

    /// Flushes every bucket tree and writes a new catalog tree. Returns the
    /// catalog with on-disk roots, the catalog root and the catalog's pages.
    /// The catalog is consumed: nodes only it holds are freed as they are
    /// written ([`flush_owned`]); a caller that keeps its catalog writes a
    /// clone, whose nodes are all shared.
    pub fn write(
        mut self,
        pager: &Pager,
        src: &mut dyn PageSource,
        checkpoint: u64,
    ) -> Result<(Catalog, Option<PageRef>, Vec<u64>)> {
        let mut writer = PageWriter::new(pager);
        let mut out = Catalog::default();
        let mut entries = Vec::new();
        let buckets = std::iter::once((&[][..], &mut self.default))
            .chain(self.named.iter_mut().map(|(k, v)| (k.as_slice(), v)));
        for (name, b) in buckets {
            let old = b.root.as_ref().and_then(Child::disk_ref);
            let root = match b.root.take() {
                Some(c) => Some(flush_owned(&mut writer, src, checkpoint, c)?),
                None => None,
            };
            let b = &*b;
            let flushed = BucketRoot {
                root: root.map(Child::Disk),
                len: b.len,
                sequence: b.sequence,
                // The same root page keeps its pin; a new one gets a new pin.
                pin: match (old, root) {
                    (Some(old), Some(new)) if old == new => b.pin.clone(),
                    _ => RootPin::default(),
                },
                incarnation: b.incarnation,
            };
            if name.is_empty() {
                // No entry reads as an empty default bucket at sequence 0.
                if root.is_some() || b.sequence != 0 {
                    entries.push((vec![DEFAULT_KEY], meta(root, b)));
                }
                out.default = flushed;
            } else {
                let mut k = vec![NAMED_KEY];
                k.extend_from_slice(name);
                entries.push((k, meta(root, b)));
                out.named.insert(name.to_vec(), flushed);
            }
        }
        let tree = build_sorted(
            entries
                .iter()
                .map(|(k, v)| (k.as_slice(), ValueSrc::Inline(v))),
            pager.page_size(),
            1.0,
        );
        let root = match &tree {
            Some(c) => Some(flush(&mut writer, src, checkpoint, c)?),
            None => None,
        };
        // Every page is written before the catalog is read back.
        writer.finish()?;
        let mut pages = Vec::new();
        crate::btree::for_each_page(pager, &root.map(Child::Disk), &mut |p, _| {
            pages.push(p);
            Ok(())
        })?;
        Ok((out, root, pages))
    }
}

/// The catalog value of bucket `b` whose tree was flushed to `root`.
fn meta(root: Option<PageRef>, b: &BucketRoot) -> Vec<u8> {
    let r = root.unwrap_or(PageRef {
        page: 0,
        checksum: 0,
    });
    let mut v = Vec::with_capacity(VALUE_LEN);
    v.extend_from_slice(&r.page.to_le_bytes());
    v.extend_from_slice(&r.checksum.to_le_bytes());
    v.extend_from_slice(&b.len.to_le_bytes());
    v.extend_from_slice(&b.sequence.to_le_bytes());
    debug_assert_eq!(v.len(), VALUE_LEN);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freelist::Allocator;

    fn sequences(c: &Catalog) -> Vec<(Vec<u8>, u64)> {
        c.iter().map(|(n, b)| (n.to_vec(), b.sequence)).collect()
    }

    /// Sequences survive a write and a load; the default bucket gets an
    /// entry for its sequence alone, and none when it is empty at 0.
    #[test]
    fn sequences_round_trip() {
        let pager = Pager::in_memory(1024);
        let mut alloc = Allocator::new(1024);
        let mut cat = Catalog::default();
        let (_, root, _) = cat.clone().write(&pager, &mut alloc, 1).unwrap();
        assert!(root.is_none(), "an empty default bucket at 0 has no entry");
        cat.default.sequence = 7;
        cat.named.insert(
            b"a".to_vec(),
            BucketRoot {
                sequence: u64::MAX,
                ..BucketRoot::default()
            },
        );
        cat.named.insert(b"b".to_vec(), BucketRoot::default());
        let (written, root, _) = cat.clone().write(&pager, &mut alloc, 2).unwrap();
        assert_eq!(sequences(&written), sequences(&cat));
        let (back, _) = Catalog::load(&pager, root).unwrap();
        assert_eq!(
            sequences(&back),
            vec![(vec![], 7), (b"a".to_vec(), u64::MAX), (b"b".to_vec(), 0)]
        );
    }

    /// A catalog value of the format-3 size (24 bytes) or any other size
    /// but 32 is corruption, not a panic.
    #[test]
    fn a_value_of_another_size_is_corruption() {
        let pager = Pager::in_memory(1024);
        let mut alloc = Allocator::new(1024);
        for len in [0, 24, 31, 33, 40] {
            let value = vec![0u8; len];
            let tree = build_sorted(
                std::iter::once((&[DEFAULT_KEY][..], ValueSrc::Inline(&value))),
                1024,
                1.0,
            )
            .expect("one entry");
            let mut writer = PageWriter::new(&pager);
            let root = flush(&mut writer, &mut alloc, 1, &tree).unwrap();
            writer.finish().unwrap();
            let r = Catalog::load(&pager, Some(root));
            assert!(
                matches!(r, Err(Error::Corruption { .. })),
                "{len}-byte value: {r:?}"
            );
        }
    }
}
