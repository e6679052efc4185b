//! The hostile kinds: one structurally valid file with correct checksums
//! per rule of docs/FORMAT.md that a crafted file can break.
//!
//! Every file holds a default bucket of `keys` entries (`k0000`, `k0001`,
//! … with short inline values) and a named bucket `b` with three entries,
//! one of them an overflow value, plus whatever the kind changes. [`build`]
//! makes the file; [`Params`] varies the page size, the number of keys and
//! the details of the damage (which entry, how far past a limit).

use super::{
    catalog_value, inline_limit, key_limit, payload, Image, LogOp, Record, Ref, SlotSpec, Val,
};

/// A way a crafted file breaks the format while its checksums stay valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostile {
    /// No damage: the baseline every other kind starts from.
    None,
    /// A leaf key longer than the key limit plus one (§1.4), never the
    /// first key of its leaf (entry `pick | 1`).
    OversizedKey,
    /// Leaf keys exactly one byte past the key limit (the most §1.4 admits,
    /// for catalog keys) with the largest inline values: a page holds two,
    /// the bucket then grows by puts.
    KeysAtPageLimit,
    /// An inline value longer than `P/4` (§1.4).
    OversizedInlineValue,
    /// An overflow value longer than 1 GiB (§1.4).
    OversizedOverflowValue,
    /// An overflow entry whose length disagrees with its run (§1.6): a
    /// shorter length than the bytes written, or a run that would reach
    /// past the file.
    OverflowLenMismatch,
    /// An overflow reference to a page past the file's end, claiming 1 GiB.
    OverflowPastEnd,
    /// Two equal keys in one leaf.
    DuplicateKeys,
    /// Leaf keys out of order.
    UnsortedKeys,
    /// The last key of a leaf equals the first of the next leaf.
    DuplicateAcrossLeaves,
    /// A separator that disagrees with its children (keys of child 0 at or
    /// above it).
    SeparatorMismatch,
    /// A branch whose child is the branch itself. A reference cycle cannot
    /// carry a valid checksum (the page would contain its own hash), so the
    /// reference holds the checksum of the page before the edge was added.
    SelfCycle,
    /// A child pointing at its grandparent (stale checksum, as above).
    AncestorCycle,
    /// A chain of branches deeper than the file can hold, each naming the
    /// next and one shared leaf: what a cycle with valid checksums comes
    /// closest to.
    DeepChain,
    /// A branch whose two children are the same leaf page.
    SharedChild,
    /// The named bucket's root is the default bucket's root page.
    SharedAcrossBuckets,
    /// A bucket's root is the catalog's own root page.
    BucketRootIsCatalog,
    /// The catalog's key counts disagree with the trees (`u64::MAX`, 0).
    CountMismatch,
    /// A bucket sequence at `u64::MAX`.
    SequenceAtMax,
    /// A child reference to a page past the file's end.
    ChildPastEnd,
    /// A child reference to a page inside the file but past the
    /// checkpoint's page count.
    ChildPastPageCount,
    /// A catalog key `0x01` with an empty name.
    CatalogEmptyName,
    /// A catalog key of an unknown prefix.
    CatalogUnknownKey,
    /// A catalog name as long as the key limit plus one.
    CatalogLongName,
    /// A catalog value of 24 bytes (format 3).
    CatalogShortValue,
    /// A catalog value stored as an overflow reference.
    CatalogOverflowValue,
    /// A log record whose length runs past the extent, then a record that
    /// vouches for it.
    LogLenPastExtent,
    /// A log record whose length is `u32::MAX`.
    LogLenHuge,
    /// A log record whose operations put an oversized key.
    LogOversizedKey,
    /// A log record that puts into a bucket that does not exist, creates
    /// one with an oversized name and lowers a sequence.
    LogHostileOps,
    /// The allocator marks a live leaf free.
    BitmapFreesLivePage,
    /// The log extent overlaps the default bucket's root or a leaf.
    LogOverTree,
}

/// Every kind, in a stable order (the fuzz target picks by index).
pub const ALL: &[Hostile] = &[
    Hostile::None,
    Hostile::OversizedKey,
    Hostile::KeysAtPageLimit,
    Hostile::OversizedInlineValue,
    Hostile::OversizedOverflowValue,
    Hostile::OverflowLenMismatch,
    Hostile::OverflowPastEnd,
    Hostile::DuplicateKeys,
    Hostile::UnsortedKeys,
    Hostile::DuplicateAcrossLeaves,
    Hostile::SeparatorMismatch,
    Hostile::SelfCycle,
    Hostile::AncestorCycle,
    Hostile::DeepChain,
    Hostile::SharedChild,
    Hostile::SharedAcrossBuckets,
    Hostile::BucketRootIsCatalog,
    Hostile::CountMismatch,
    Hostile::SequenceAtMax,
    Hostile::ChildPastEnd,
    Hostile::ChildPastPageCount,
    Hostile::CatalogEmptyName,
    Hostile::CatalogUnknownKey,
    Hostile::CatalogLongName,
    Hostile::CatalogShortValue,
    Hostile::CatalogOverflowValue,
    Hostile::LogLenPastExtent,
    Hostile::LogLenHuge,
    Hostile::LogOversizedKey,
    Hostile::LogHostileOps,
    Hostile::BitmapFreesLivePage,
    Hostile::LogOverTree,
];

/// What varies between files of one kind.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Page size (1024, 2048 or 4096 keep files small).
    pub ps: usize,
    /// Keys of the default bucket (at least 4).
    pub keys: usize,
    /// Keys per leaf of the default bucket (at least 1, at most what
    /// leaves three leaves).
    pub per_leaf: usize,
    /// Chooses the entry or leaf the damage goes to.
    pub pick: usize,
    /// How far past a limit (bytes), where the kind has one.
    pub extra: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ps: 1024,
            keys: 24,
            per_leaf: 6,
            pick: 1,
            extra: 1,
        }
    }
}

/// Key `i` of the default bucket.
pub fn key(i: usize) -> Vec<u8> {
    format!("k{i:04}").into_bytes()
}

/// Value of key `i` of the default bucket.
pub fn value(i: usize) -> Vec<u8> {
    vec![i as u8; 4 + i % 9]
}

/// The default bucket's entries.
pub fn entries(n: usize) -> Vec<(Vec<u8>, Val)> {
    (0..n).map(|i| (key(i), Val::Inline(value(i)))).collect()
}

/// The overflow value of the named bucket `b` (key `big`).
pub fn big_value(ps: usize) -> Vec<u8> {
    (0..ps + 100).map(|i| (i % 251) as u8).collect()
}

/// Name of the named bucket.
pub const BUCKET: &[u8] = b"b";

/// The parts every kind starts from.
struct Base {
    img: Image,
    default_root: Ref,
    leaves: Vec<Ref>,
    named_root: Ref,
    big: Ref,
    keys: u64,
}

fn base(p: &Params, entries: &[(Vec<u8>, Val)]) -> Base {
    let mut img = Image::new(p.ps);
    let mut leaves = Vec::new();
    let mut children = Vec::new();
    for chunk in entries.chunks(p.per_leaf.max(1)) {
        let r = img.leaf(chunk);
        leaves.push(r);
        let sep = if children.is_empty() {
            Vec::new()
        } else {
            chunk[0].0.clone()
        };
        children.push((sep, r));
    }
    let default_root = if children.len() == 1 {
        children[0].1
    } else {
        img.branch(&children)
    };
    let big = img.overflow(&big_value(p.ps));
    let named_root = img.leaf(&[
        (b"a".to_vec(), Val::Inline(b"1".to_vec())),
        (
            b"big".to_vec(),
            Val::Overflow {
                at: big,
                len: big_value(p.ps).len() as u32,
            },
        ),
        (b"c".to_vec(), Val::Inline(b"3".to_vec())),
    ]);
    Base {
        img,
        default_root,
        leaves,
        named_root,
        big,
        keys: entries.len() as u64,
    }
}

impl Base {
    /// The catalog naming both buckets with these roots and counts; returns
    /// the slot spec to finish with.
    fn catalog(&mut self, default: Option<Ref>, named: Option<Ref>) -> SlotSpec {
        let cat = self.img.catalog(&[
            (Vec::new(), catalog_value(default, self.keys, 7)),
            (BUCKET.to_vec(), catalog_value(named, 3, 0)),
        ]);
        SlotSpec {
            catalog: cat,
            ..SlotSpec::default()
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let (d, n) = (Some(self.default_root), Some(self.named_root));
        let spec = self.catalog(d, n);
        self.img.finish(&spec)
    }
}

/// Replaces the default bucket's tree with a branch over `leaves` (built
/// from entry groups); returns the root.
fn tree_of(img: &mut Image, groups: &[Vec<(Vec<u8>, Val)>], seps: &[Vec<u8>]) -> Ref {
    let mut children = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let r = img.leaf(g);
        children.push((
            if i == 0 {
                Vec::new()
            } else {
                seps[i - 1].clone()
            },
            r,
        ));
    }
    img.branch(&children)
}

/// Builds the file of `kind` with parameters `p`.
pub fn build(kind: Hostile, p: &Params) -> Vec<u8> {
    let ps = p.ps;
    let n = p.keys.max(4);
    // At least three leaves in the baseline tree, whatever the parameters.
    let per = p.per_leaf.clamp(1, (n - 1) / 3);
    let p = &Params {
        keys: n,
        per_leaf: per,
        ..*p
    };
    let mut es = entries(n);
    let pick = p.pick % n;
    let extra = p.extra.max(1);
    match kind {
        Hostile::None => base(p, &es).finish(),
        Hostile::OversizedKey => {
            let room = ps - 24 - 6 - 7 - 16;
            let len = (key_limit(ps) + 1 + extra).min(room);
            // An odd entry, so it is never the first of its leaf and the
            // separators above it stay within the limit.
            let j = if pick | 1 < n { pick | 1 } else { 1 };
            let mut k = key(j);
            k.resize(len, b'x');
            es[j].0 = k;
            let mut b = base(&Params { per_leaf: 2, ..*p }, &es);
            b.keys = n as u64;
            b.finish()
        }
        Hostile::KeysAtPageLimit => {
            let es: Vec<_> = (0..4)
                .map(|i| {
                    let mut k = key(i);
                    k.resize(key_limit(ps) + 1, b'x');
                    (k, Val::Inline(vec![i as u8; inline_limit(ps)]))
                })
                .collect();
            base(&Params { per_leaf: 2, ..*p }, &es).finish()
        }
        Hostile::OversizedInlineValue => {
            es[pick].1 = Val::Inline(vec![1; (inline_limit(ps) + extra).min(ps - 100)]);
            base(&Params { per_leaf: 1, ..*p }, &es).finish()
        }
        Hostile::OversizedOverflowValue => {
            let mut b = base(p, &es);
            let at = b.big;
            b.named_root = b.img.leaf(&[(
                b"big".to_vec(),
                Val::Overflow {
                    at,
                    len: ((1u64 << 30) + extra as u64).min(u32::MAX as u64) as u32,
                },
            )]);
            b.finish()
        }
        Hostile::OverflowLenMismatch => {
            let mut b = base(p, &es);
            let real = big_value(ps).len();
            let (at, len) = if pick.is_multiple_of(2) {
                // Shorter than the bytes written: same run, nonzero padding.
                (b.big, (real - extra.min(real - ps / 4 - 1)) as u32)
            } else {
                // Longer: the run's pages reach past the file's end; the
                // checksum covers the pages that exist while it is built.
                let len = real + ps * (256 + extra % 64);
                let pages = (24 + len).div_ceil(ps) as u64;
                (b.img.run_ref(b.big.page, pages), len as u32)
            };
            b.named_root = b.img.leaf(&[(b"big".to_vec(), Val::Overflow { at, len })]);
            b.finish()
        }
        Hostile::OverflowPastEnd => {
            let mut b = base(p, &es);
            let page = if pick.is_multiple_of(2) {
                1 << 40
            } else {
                u64::MAX - 1
            };
            b.named_root = b.img.leaf(&[(
                b"big".to_vec(),
                Val::Overflow {
                    at: Ref { page, checksum: 0 },
                    len: 1 << 30,
                },
            )]);
            b.finish()
        }
        Hostile::DuplicateKeys => {
            let j = (pick + 1).min(n - 1).max(1);
            es[j].0 = es[j - 1].0.clone();
            base(p, &es).finish()
        }
        Hostile::UnsortedKeys => {
            let j = pick.max(1);
            es.swap(j - 1, j);
            base(p, &es).finish()
        }
        Hostile::DuplicateAcrossLeaves => {
            let mut b = base(p, &es);
            let mut g0: Vec<_> = es[..per].to_vec();
            g0.push(es[per].clone());
            let g1 = es[per..].to_vec();
            b.default_root = tree_of(&mut b.img, &[g0, g1], &[es[per].0.clone()]);
            b.finish()
        }
        Hostile::SeparatorMismatch => {
            let mut b = base(p, &es);
            let cut = (pick % (n - 2)) + 1;
            // Child 0 holds keys up to `cut + 1`, but the separator says
            // child 1 starts at key `cut`.
            let g0 = es[..=cut + 1].to_vec();
            let g1 = es[cut + 2..].to_vec();
            let groups = if g1.is_empty() {
                vec![g0.clone(), g0]
            } else {
                vec![g0, g1]
            };
            b.default_root = tree_of(&mut b.img, &groups, &[es[cut].0.clone()]);
            b.finish()
        }
        Hostile::SelfCycle | Hostile::AncestorCycle => {
            let mut b = base(p, &es);
            let leaf = b.leaves[0];
            let inner = b
                .img
                .branch(&[(Vec::new(), leaf), (es[per].0.clone(), b.leaves[1])]);
            let root = b
                .img
                .branch(&[(Vec::new(), inner), (es[2 * per].0.clone(), leaf)]);
            // Now point a child at its own page (or the root), keeping the
            // stale checksum the page had before.
            let (victim, target) = if kind == Hostile::SelfCycle {
                (inner, inner)
            } else {
                (inner, root)
            };
            let stale = Ref {
                page: target.page,
                checksum: b.img.ref_to(target.page).checksum,
            };
            let _ = b.img.branch_at(
                victim.page,
                &[(Vec::new(), stale), (es[per].0.clone(), b.leaves[1])],
            );
            let inner_now = b.img.ref_to(inner.page);
            let children = [(Vec::new(), inner_now), (es[2 * per].0.clone(), leaf)];
            b.default_root = b.img.branch_at(root.page, &children).unwrap_or(inner_now);
            b.finish()
        }
        Hostile::DeepChain => {
            let mut b = base(p, &es);
            let leaf = b.leaves[0];
            let mut child = leaf;
            for _ in 0..(24 + extra % 40) {
                child = b.img.branch(&[(Vec::new(), child), (b"zz".to_vec(), leaf)]);
            }
            b.default_root = child;
            b.finish()
        }
        Hostile::SharedChild => {
            let mut b = base(p, &es);
            let i = pick % b.leaves.len();
            let leaf = b.leaves[i];
            b.default_root = b.img.branch(&[(Vec::new(), leaf), (b"k9".to_vec(), leaf)]);
            b.finish()
        }
        Hostile::SharedAcrossBuckets => {
            let mut b = base(p, &es);
            b.named_root = b.default_root;
            b.finish()
        }
        Hostile::BucketRootIsCatalog => {
            // A catalog of two leaves under a branch; the named bucket's
            // root is the catalog's first leaf (whose checksum does not
            // depend on the second leaf, which holds that root).
            let mut b = base(p, &es);
            let c0 = b.img.leaf(&[(
                vec![0],
                Val::Inline(catalog_value(Some(b.default_root), n as u64, 7)),
            )]);
            let c1 = b
                .img
                .leaf(&[(vec![1, b'b'], Val::Inline(catalog_value(Some(c0), 3, 0)))]);
            let cat = b.img.branch(&[(Vec::new(), c0), (vec![1], c1)]);
            let spec = SlotSpec {
                catalog: Some(cat),
                ..SlotSpec::default()
            };
            b.img.finish(&spec)
        }
        Hostile::CountMismatch => {
            let mut b = base(p, &es);
            b.keys = if pick.is_multiple_of(2) { u64::MAX } else { 0 };
            b.finish()
        }
        Hostile::SequenceAtMax => {
            let mut b = base(p, &es);
            let cat = b.img.catalog(&[
                (
                    Vec::new(),
                    catalog_value(Some(b.default_root), n as u64, u64::MAX),
                ),
                (
                    BUCKET.to_vec(),
                    catalog_value(Some(b.named_root), 3, u64::MAX),
                ),
            ]);
            let spec = SlotSpec {
                catalog: cat,
                ..SlotSpec::default()
            };
            b.img.finish(&spec)
        }
        Hostile::ChildPastEnd => {
            let mut b = base(p, &es);
            let past = Ref {
                page: 1 << (20 + extra % 40),
                checksum: 0,
            };
            b.default_root = b
                .img
                .branch(&[(Vec::new(), b.leaves[0]), (es[per].0.clone(), past)]);
            b.finish()
        }
        Hostile::ChildPastPageCount => {
            // A leaf inside the file but past the page count: its page
            // number is chosen beyond everything `finish` allocates.
            let mut b = base(p, &es);
            let mut spec = b.catalog(None, None);
            let stray_page = b.img.next_page() + spec.log_pages + 16 + (extra % 16) as u64;
            let stray = (1..=es.len() - per)
                .rev()
                .find_map(|m| b.img.leaf_page(stray_page, &es[per..per + m]))
                .expect("one entry fits a page");
            let stray_ref = Ref {
                page: stray_page,
                checksum: super::h(&stray),
            };
            let root = b
                .img
                .branch(&[(Vec::new(), b.leaves[0]), (es[per].0.clone(), stray_ref)]);
            let cat = b.img.catalog(&[
                (Vec::new(), catalog_value(Some(root), n as u64, 7)),
                (BUCKET.to_vec(), catalog_value(Some(b.named_root), 3, 0)),
            ]);
            spec.catalog = cat;
            spec.beyond = vec![(stray_page, stray)];
            b.img.finish(&spec)
        }
        Hostile::CatalogEmptyName | Hostile::CatalogUnknownKey | Hostile::CatalogLongName => {
            let mut b = base(p, &es);
            let k = match kind {
                Hostile::CatalogEmptyName => vec![1],
                Hostile::CatalogUnknownKey => vec![2 + (extra % 200) as u8, b'x'],
                _ => {
                    let mut k = vec![1];
                    k.resize(key_limit(ps) + 2, b'n');
                    k
                }
            };
            let cat = b.img.leaf(&[
                (
                    vec![0],
                    Val::Inline(catalog_value(Some(b.default_root), n as u64, 0)),
                ),
                (k, Val::Inline(catalog_value(Some(b.named_root), 3, 0))),
            ]);
            let spec = SlotSpec {
                catalog: Some(cat),
                ..SlotSpec::default()
            };
            b.img.finish(&spec)
        }
        Hostile::CatalogShortValue | Hostile::CatalogOverflowValue => {
            let mut b = base(p, &es);
            let v = if kind == Hostile::CatalogShortValue {
                Val::Inline(catalog_value(Some(b.named_root), 3, 0)[..24].to_vec())
            } else {
                Val::Overflow {
                    at: b.big,
                    len: big_value(ps).len() as u32,
                }
            };
            let cat = b.img.leaf(&[
                (
                    vec![0],
                    Val::Inline(catalog_value(Some(b.default_root), n as u64, 0)),
                ),
                (vec![1, b'b'], v),
            ]);
            let spec = SlotSpec {
                catalog: Some(cat),
                ..SlotSpec::default()
            };
            b.img.finish(&spec)
        }
        Hostile::LogLenPastExtent
        | Hostile::LogLenHuge
        | Hostile::LogOversizedKey
        | Hostile::LogHostileOps => {
            let mut b = base(p, &es);
            let mut spec = b.catalog(Some(b.default_root), Some(b.named_root));
            let good = payload(&[LogOp::Put(Vec::new(), b"log-key".to_vec(), b"v".to_vec())]);
            spec.log_pages = 8;
            spec.records = match kind {
                Hostile::LogLenPastExtent => vec![
                    Record {
                        len_field: Some((ps * (8 + extra % 8)) as u32),
                        payload: good.clone(),
                        durable: 0,
                    },
                    Record {
                        payload: good,
                        len_field: None,
                        durable: spec.last_txn + 1,
                    },
                ],
                Hostile::LogLenHuge => vec![Record {
                    len_field: Some(u32::MAX - (extra % 256) as u32),
                    payload: good,
                    durable: 0,
                }],
                Hostile::LogOversizedKey => {
                    let mut k = b"log".to_vec();
                    k.resize(key_limit(ps) + extra.min(ps), b'x');
                    vec![Record {
                        payload: payload(&[LogOp::Put(Vec::new(), k, b"v".to_vec())]),
                        ..Record::default()
                    }]
                }
                _ => {
                    let mut long = b"name".to_vec();
                    long.resize(key_limit(ps) + 1, b'n');
                    let ops = match pick % 4 {
                        0 => vec![LogOp::Put(
                            b"missing".to_vec(),
                            b"k".to_vec(),
                            b"v".to_vec(),
                        )],
                        1 => vec![LogOp::Create(long)],
                        2 => vec![LogOp::SetSequence(Vec::new(), 3)],
                        _ => vec![
                            LogOp::Create(BUCKET.to_vec()),
                            LogOp::Drop(b"nope".to_vec()),
                        ],
                    };
                    vec![Record {
                        payload: payload(&ops),
                        ..Record::default()
                    }]
                }
            };
            b.img.finish(&spec)
        }
        Hostile::BitmapFreesLivePage => {
            let mut b = base(p, &es);
            let mut spec = b.catalog(Some(b.default_root), Some(b.named_root));
            spec.mark_free = vec![b.leaves[pick % b.leaves.len()].page];
            b.img.finish(&spec)
        }
        Hostile::LogOverTree => {
            // The extent lies over the default bucket's root (even `pick`)
            // or its first leaf (odd): build the tree, then point the slot's
            // extent at it.
            let b = base(p, &es);
            let first = if pick.is_multiple_of(2) {
                b.default_root.page
            } else {
                b.leaves[0].page
            };
            let mut bytes = b.finish();
            rewrite_slot_log(&mut bytes, ps, first, 1);
            bytes
        }
    }
}

/// Points the slot in page 1 of `bytes` at a log extent of `pages` pages
/// from `start`, recomputing both slot checksums.
pub fn rewrite_slot_log(bytes: &mut [u8], ps: usize, start: u64, pages: u64) {
    let s = &mut bytes[ps..2 * ps];
    s[32..40].copy_from_slice(&start.to_le_bytes());
    s[40..48].copy_from_slice(&pages.to_le_bytes());
    let c = super::h(&s[0..584]);
    s[584..592].copy_from_slice(&c.to_le_bytes());
    let w = super::h(&s[0..600]);
    s[600..608].copy_from_slice(&w.to_le_bytes());
}
