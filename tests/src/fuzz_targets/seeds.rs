//! The seed corpora of the fuzz targets, built from scratch: database files
//! written by the engine on a simulated disk (whole, truncated, with a bit
//! flipped in a tree page, with a damaged slot, header only, with log
//! records to replay), their single pages, hand-written operation
//! sequences, and random bytes.
//!
//! `VELLUM_WRITE_CORPUS=1 cargo test -p vellum-tests --test fuzz_corpus`
//! writes them to `fuzz/corpus/<target>/seed-*` (see
//! `tests/tests/fuzz_corpus.rs`).

use std::path::Path;
use std::sync::Arc;

use vellum::page::alloc_pages;
use vellum::page::node::edit::encode_page;
use vellum::page::node::{layout, Child, ChildAt, Item, Node, ValueAt, ValueSrc};
use vellum::page::slot::Slot;
use vellum::page::PageRef;
use vellum::{Db, Options};
use vellum_sim::{FaultConfig, SimVfs};

use super::ops_crash::{
    FuzzOp, OpsEncoder, CFG_EVENTUAL, CFG_PAGE_4K, CFG_SMALL_CACHE, CFG_SMALL_LOG,
};
use super::MAX_FILE_BYTES;
use crate::util::Rng;

/// One corpus file: target, file name, content.
pub type Seed = (&'static str, String, Vec<u8>);

const DB_PATH: &str = "/seed/db.vellum";

/// A database file image and its page size.
struct Image {
    bytes: Vec<u8>,
    page_size: usize,
}

fn open(vfs: &SimVfs, page_size: usize) -> Db {
    Options::new()
        .vfs(Arc::new(vfs.clone()))
        .page_size(page_size)
        .max_log_size(4 * page_size as u64)
        .open(DB_PATH)
        .expect("a fresh simulated database opens")
}

/// A database with `keys` keys in the default bucket (every tenth value
/// large enough for an overflow run) and a small named bucket. With
/// `clean`, closed (checkpointed); without, the durable image after the
/// last commits, whose log records recovery replays.
fn image(page_size: usize, keys: u32, clean: bool) -> Image {
    let vfs = SimVfs::new(1, FaultConfig::none());
    let db = open(&vfs, page_size);
    db.update(|tx| {
        for i in 0..keys {
            let v = if i % 10 == 3 && i < 50 {
                vec![i as u8; page_size / 2]
            } else {
                format!("value-{i}").into_bytes()
            };
            tx.put(format!("key-{i:05}"), v)?;
        }
        let b = tx.create_bucket(b"users")?;
        b.put(b"alice", b"admin")?;
        b.put(b"bob", b"")
    })
    .expect("seed writes");
    db.checkpoint().expect("seed checkpoint");
    // A few commits after the checkpoint: log records (a delete, an
    // overwrite, a bucket dropped and one created).
    db.update(|tx| tx.put(b"key-00001", b"changed"))
        .expect("commit");
    db.update(|tx| tx.delete(b"key-00002").map(|_| ()))
        .expect("commit");
    db.update(|tx| {
        tx.drop_bucket(b"users")?;
        tx.create_bucket(b"logs")?.put(b"1", b"x")
    })
    .expect("commit");
    let bytes = if clean {
        db.close().expect("close");
        vfs.contents(Path::new(DB_PATH)).expect("file exists")
    } else {
        vfs.durable_contents(Path::new(DB_PATH))
            .expect("file exists")
    };
    assert!(
        bytes.len() <= MAX_FILE_BYTES,
        "seed image of {} bytes (page size {page_size}, {keys} keys, clean {clean})",
        bytes.len()
    );
    Image { bytes, page_size }
}

/// The pages of `kind` reachable from the newest slot, in walk order
/// (catalog first, then each bucket's tree depth-first, children in key
/// order), so a seed damages a page the engine will read.
fn pages_of_kind(img: &Image, kind: u8) -> Vec<usize> {
    reachable(img)
        .into_iter()
        .filter(|&(_, k)| k == kind)
        .map(|(p, _)| p)
        .collect()
}

fn reachable(img: &Image) -> Vec<(usize, u8)> {
    fn walk(img: &Image, page: u64, catalog: bool, out: &mut Vec<(usize, u8)>) {
        let node = Node::decode(&self::page(img, page as usize), page).expect("seed page decodes");
        if node.is_leaf() {
            out.push((page as usize, 2));
            for i in 0..node.len() {
                match node.value(i) {
                    ValueAt::Overflow { at, .. } => out.push((at.page as usize, 3)),
                    ValueAt::Inline(meta)
                        if catalog && meta.len() == vellum::catalog::VALUE_LEN =>
                    {
                        let root = get_u64(meta, 0);
                        if root != 0 {
                            walk(img, root, false, out);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            out.push((page as usize, 1));
            for i in 0..node.len() {
                if let ChildAt::Disk(r) = node.child(i) {
                    walk(img, r.page, catalog, out);
                }
            }
        }
    }
    let sp = newest_slot(img);
    let (slot, _, _) = Slot::decode(&page(img, sp), sp as u64).expect("seed slot decodes");
    let mut out = Vec::new();
    for r in &slot.alloc_index {
        out.push((r.page as usize, 5));
        let refs = alloc_pages::decode_index(&page(img, r.page as usize), r.page)
            .expect("seed index decodes");
        out.extend(refs.iter().map(|b| (b.page as usize, 4)));
    }
    if let Some(root) = slot.catalog {
        walk(img, root.page, true, &mut out);
    }
    out
}

fn log_pages(img: &Image) -> Vec<usize> {
    img.bytes
        .chunks(img.page_size)
        .enumerate()
        .filter(|(i, p)| *i >= 3 && &p[0..4] == b"VLOG")
        .map(|(i, _)| i)
        .collect()
}

fn page(img: &Image, i: usize) -> Vec<u8> {
    img.bytes[i * img.page_size..(i + 1) * img.page_size].to_vec()
}

fn with_flags(flags: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.push(flags);
    v.extend_from_slice(bytes);
    v
}

fn open_bytes_seeds(out: &mut Vec<Seed>) {
    let mut add = |name: &str, flags: u8, bytes: &[u8]| {
        out.push((
            "open_bytes",
            format!("seed-{name}"),
            with_flags(flags, bytes),
        ));
    };
    let small = image(1024, 40, true);
    let logged = image(1024, 40, false);
    let big = image(4096, 8, true);
    let deep = image(1024, 300, true);
    add("valid-1k", 0, &small.bytes);
    add("valid-1k-reseal-write", 3, &small.bytes);
    add("valid-4k", 0, &big.bytes);
    add("valid-1k-deep", 2, &deep.bytes);
    add("log-to-replay", 0, &logged.bytes);
    add("log-to-replay-write", 2, &logged.bytes);
    add(
        "truncated",
        0,
        &small.bytes[..small.bytes.len() - small.page_size - 100],
    );
    add("truncated-reseal", 1, &deep.bytes[..deep.bytes.len() / 2]);
    add("header-only", 0, &small.bytes[..small.page_size]);
    add("header-32-bytes", 0, &small.bytes[..32]);
    add("blank-512", 0, &[0u8; 512]);
    add("empty", 0, &[]);

    // A flipped bit in a tree page: detected by its checksum; resealed, it
    // reaches the decoder and the cursors.
    let leaves = pages_of_kind(&deep, 2);
    let branches = pages_of_kind(&deep, 1);
    for (name, pages, at) in [("leaf", &leaves, 40usize), ("branch", &branches, 30)] {
        if let Some(&p) = pages.get(pages.len() / 2) {
            let mut b = deep.bytes.clone();
            b[p * deep.page_size + at] ^= 0x10;
            if name == "leaf" {
                add(&format!("bitflip-{name}"), 0, &b);
            }
            add(&format!("bitflip-{name}-reseal"), 1, &b);
            // A count larger than the entries.
            let mut b = deep.bytes.clone();
            b[p * deep.page_size + 2] = b[p * deep.page_size + 2].wrapping_add(1);
            add(&format!("count-{name}-reseal"), 1, &b);
        }
    }
    if let Some(&p) = pages_of_kind(&small, 3).first() {
        let mut b = small.bytes.clone();
        b[p * small.page_size + 100] ^= 1;
        add("bitflip-overflow", 0, &b);
    }
    // Damaged slots: the newest, then both.
    let mut b = small.bytes.clone();
    let newest = if u64::from_le_bytes(b[1024 + 8..1024 + 16].try_into().unwrap())
        > u64::from_le_bytes(b[2048 + 8..2048 + 16].try_into().unwrap())
    {
        1
    } else {
        2
    };
    b[newest * 1024 + 20] ^= 0xff;
    add("slot-newest-damaged", 0, &b);
    let mut b2 = b.clone();
    b2[(3 - newest) * 1024 + 20] ^= 0xff;
    add("slot-both-damaged", 0, &b2);
    // A slot whose fields are out of range but checksummed.
    let mut b = small.bytes.clone();
    b[newest * 1024 + 24..newest * 1024 + 32].copy_from_slice(&u64::MAX.to_le_bytes());
    add("slot-huge-page-count-reseal", 1, &b);
    // A log record damaged after its header.
    if let Some(&p) = log_pages(&logged).first() {
        let mut b = logged.bytes.clone();
        b[p * logged.page_size + 60] ^= 0x40;
        add("log-payload-flip", 0, &b);
        add("log-payload-flip-reseal", 1, &b);
    }
    // Foreign and future headers.
    let mut b = small.bytes[..3 * small.page_size].to_vec();
    b[8] = vellum::page::file_header::FORMAT_VERSION as u8 + 1;
    add("future-version-reseal", 1, &b);
    let mut b = small.bytes[..3 * small.page_size].to_vec();
    b[0] = b'X';
    add("foreign-magic", 0, &b);
    // Random bytes, and random bytes behind a valid header.
    let mut rng = Rng::new(0x5eed);
    add("random", 0, &rng.bytes(3000));
    let mut b = small.bytes[..small.page_size].to_vec();
    b.extend(rng.bytes(small.page_size * 6));
    add("header-then-random-reseal", 1, &b);
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The page of the valid slot with the largest checkpoint id (the latest
/// copy of it).
fn newest_slot(img: &Image) -> usize {
    (1..=slot_pages())
        .filter_map(|sp| {
            let (s, _, seq) = Slot::decode(&page(img, sp), sp as u64).ok()?;
            Some(((s.checkpoint, seq), sp))
        })
        .max()
        .expect("a seed image has a valid slot")
        .1
}

fn slot_pages() -> usize {
    vellum::page::slot::SLOTS as usize
}

/// Offsets (in the image) of the leaf entries whose value is an overflow
/// reference: the entry's value-length field.
fn overflow_entries(img: &Image) -> Vec<usize> {
    let mut out = Vec::new();
    for p in pages_of_kind(img, 2) {
        let pg = page(img, p);
        for i in 0..layout::count(&pg) {
            let o = layout::slot(&pg, i);
            if layout::leaf_value_kind(&pg, o) == layout::VALUE_OVERFLOW {
                out.push(p * img.page_size + o + 3);
            }
        }
    }
    out
}

/// Hand-made files with valid checksums (an attacker recomputes XXH3 as
/// easily as the engine) that reproduce engine bugs found while building
/// the fuzz targets; see docs/TESTING.md.
fn crafted_seeds(out: &mut Vec<Seed>) {
    let mut add = |name: &str, bytes: &[u8]| {
        out.push((
            "open_bytes",
            format!("seed-bug-{name}"),
            with_flags(1, bytes),
        ));
    };
    let small = image(1024, 40, true);
    let ps = small.page_size;

    // A catalog whose branches each name the next one as both children: 2^40
    // root-to-leaf paths through 41 pages. Open walks every path.
    let mut b = small.bytes.clone();
    let first = b.len() / ps;
    let levels = 40;
    for i in 0..=levels {
        let page = (first + i) as u64;
        let next = Child::Disk(PageRef {
            page: page + 1,
            checksum: 0,
        });
        let pg = if i < levels {
            let items = [
                Item::Branch {
                    key: b"",
                    child: next.clone(),
                },
                Item::Branch {
                    key: b"m",
                    child: next,
                },
            ];
            encode_page(false, &items, ps, page, 99)
        } else {
            // The default bucket, empty.
            let items = [Item::Leaf {
                key: &[0],
                value: ValueSrc::Inline(&[0; vellum::catalog::VALUE_LEN]),
            }];
            encode_page(true, &items, ps, page, 99)
        };
        b.extend_from_slice(&pg);
    }
    let slot = newest_slot(&small) * ps;
    put_u64(&mut b, slot + 48, first as u64);
    let pages = (b.len() / ps) as u64;
    put_u64(&mut b, slot + 24, pages);
    add("catalog-dag-hang", &b);

    // An overflow reference whose length says 4 GiB: the run is allocated
    // before it is read or verified.
    let mut b = small.bytes.clone();
    for at in overflow_entries(&small) {
        b[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    }
    add("overflow-len-4gib", &b);

    // An empty leaf as the first child of a branch: `Cursor::first` returns
    // `None` with the branch left on the cursor's path; `next` then reports
    // an entry and panics looking for it.
    let deep = image(1024, 300, true);
    let mut b = deep.bytes.clone();
    for br in pages_of_kind(&deep, 1) {
        let pg = page(&deep, br);
        let child =
            layout::read_ref(&pg, layout::branch_ref_at(&pg, layout::slot(&pg, 0))).page as usize;
        if child * ps < b.len() && b[child * ps] == 2 {
            b[child * ps + 2..child * ps + 4].fill(0);
            b[child * ps + 4..child * ps + 8].copy_from_slice(&(ps as u32).to_le_bytes());
            b[child * ps + 24..(child + 1) * ps].fill(0);
        }
    }
    add("empty-first-leaf", &b);
}

fn decode_page_seeds(out: &mut Vec<Seed>) {
    let mut add = |name: String, bytes: Vec<u8>| out.push(("decode_page", name, bytes));
    let small = image(1024, 40, false);
    let deep = image(1024, 300, true);
    add("seed-file-header".into(), page(&small, 0));
    add("seed-slot-1".into(), page(&small, 1));
    add("seed-slot-2".into(), page(&small, 2));
    let kinds = [
        (1u8, "branch", &deep),
        (2, "leaf", &deep),
        (3, "overflow", &small),
        (4, "bitmap", &small),
        (5, "alloc-index", &small),
    ];
    for (kind, name, img) in kinds {
        if let Some(&p) = pages_of_kind(img, kind).first() {
            let bytes = page(img, p);
            let mut flipped = bytes.clone();
            flipped[30] ^= 4;
            let mut short = bytes.clone();
            short.truncate(bytes.len() / 3);
            add(format!("seed-{name}"), bytes);
            add(format!("seed-{name}-flipped"), flipped);
            add(format!("seed-{name}-truncated"), short);
        }
    }
    if let Some(&p) = log_pages(&small).first() {
        add("seed-log-record".into(), page(&small, p));
    }
    let mut rng = Rng::new(0xdec0de);
    add("seed-random".into(), rng.bytes(1024));
}

fn ops_crash_seeds(out: &mut Vec<Seed>) {
    use FuzzOp::*;
    let mut add = |name: &str, bytes: Vec<u8>| {
        out.push(("ops_crash", format!("seed-{name}"), bytes));
    };
    add(
        "basic",
        OpsEncoder::new(1, 0)
            .ops([
                Put {
                    b: 0,
                    k: 1,
                    v: 10,
                    fill: 1,
                },
                Put {
                    b: 0,
                    k: 2,
                    v: 20,
                    fill: 2,
                },
                Get { b: 0, k: 1 },
                Commit,
                Delete { b: 0, k: 1 },
                Range {
                    b: 0,
                    lo: 0,
                    hi: 9,
                    flags: 2,
                },
                Commit,
                Crash,
                Get { b: 0, k: 2 },
                Cursor {
                    b: 0,
                    k: 0,
                    moves: 0b1011_0111,
                },
            ])
            .finish(),
    );
    add(
        "buckets",
        OpsEncoder::new(2, CFG_SMALL_LOG)
            .ops([
                CreateBucket { b: 1 },
                CreateBucket { b: 1 },
                CreateBucket { b: 0 },
                Put {
                    b: 1,
                    k: 5,
                    v: 5,
                    fill: 0,
                },
                Put {
                    b: 2,
                    k: 5,
                    v: 5,
                    fill: 0,
                },
                Commit,
                DropBucket { b: 1 },
                DropBucket { b: 3 },
                Commit,
                Reopen,
                CreateBucket { b: 1 },
                Prefix { b: 1, k: 5, len: 2 },
                Commit,
                Check,
            ])
            .finish(),
    );
    add(
        "splits-overflow-crash-after",
        OpsEncoder::new(3, CFG_SMALL_LOG | CFG_SMALL_CACHE)
            .ops([
                PutMany {
                    b: 0,
                    start: 0,
                    n: 128,
                    v: 40,
                },
                Commit,
                PutMany {
                    b: 0,
                    start: 16,
                    n: 128,
                    v: 230,
                },
                Commit,
                CrashAfter { n: 20 },
                PutMany {
                    b: 0,
                    start: 8,
                    n: 100,
                    v: 10,
                },
                Commit,
                DeleteMany {
                    b: 0,
                    start: 0,
                    n: 120,
                },
                Commit,
                Range {
                    b: 0,
                    lo: 0,
                    hi: 255,
                    flags: 16,
                },
            ])
            .finish(),
    );
    add(
        "eventual-sync-checkpoint",
        OpsEncoder::new(4, CFG_EVENTUAL)
            .ops([
                Put {
                    b: 0,
                    k: 1,
                    v: 1,
                    fill: 1,
                },
                Commit,
                Put {
                    b: 0,
                    k: 2,
                    v: 2,
                    fill: 2,
                },
                Commit,
                Sync,
                Put {
                    b: 0,
                    k: 3,
                    v: 250,
                    fill: 3,
                },
                Commit,
                Checkpoint,
                Put {
                    b: 0,
                    k: 4,
                    v: 4,
                    fill: 4,
                },
                Commit,
                Crash,
            ])
            .finish(),
    );
    add(
        "reader-snapshot",
        OpsEncoder::new(5, CFG_PAGE_4K)
            .ops([
                PutMany {
                    b: 0,
                    start: 0,
                    n: 60,
                    v: 30,
                },
                Commit,
                BeginReader,
                DeleteMany {
                    b: 0,
                    start: 0,
                    n: 30,
                },
                Commit,
                Checkpoint,
                ReaderRange {
                    b: 0,
                    lo: 0,
                    hi: 0,
                    flags: 8,
                },
                Put {
                    b: 0,
                    k: 7,
                    v: 200,
                    fill: 9,
                },
                Commit,
                ReaderRange {
                    b: 0,
                    lo: 3,
                    hi: 40,
                    flags: 16,
                },
                Check,
            ])
            .finish(),
    );
    add(
        "crash-in-recovery",
        OpsEncoder::new(6, CFG_SMALL_LOG)
            .ops([
                PutMany {
                    b: 0,
                    start: 0,
                    n: 50,
                    v: 20,
                },
                Commit,
                Put {
                    b: 0,
                    k: 200,
                    v: 5,
                    fill: 5,
                },
                Commit,
                Put {
                    b: 0,
                    k: 201,
                    v: 5,
                    fill: 5,
                },
                Commit,
                CrashInRecovery { n: 3 },
                CrashInRecovery { n: 9 },
                Get { b: 0, k: 200 },
            ])
            .finish(),
    );
    add(
        "abort-insert-if-absent",
        OpsEncoder::new(7, CFG_EVENTUAL | CFG_SMALL_CACHE | 0x10)
            .ops([
                InsertIfAbsent {
                    b: 0,
                    k: 1,
                    v: 3,
                    fill: 0,
                },
                InsertIfAbsent {
                    b: 0,
                    k: 1,
                    v: 4,
                    fill: 0,
                },
                Abort,
                InsertIfAbsent {
                    b: 0,
                    k: 1,
                    v: 5,
                    fill: 0,
                },
                Commit,
                CrashAfter { n: 2 },
                Put {
                    b: 0,
                    k: 9,
                    v: 9,
                    fill: 9,
                },
                Commit,
                Reopen,
            ])
            .finish(),
    );
    let mut rng = Rng::new(0x0b5);
    for i in 0..4 {
        let mut b = vec![rng.next_u64() as u8, rng.next_u64() as u8];
        b.extend(rng.bytes(200 + 150 * i));
        add(&format!("random-{i}"), b);
    }
}

/// One input per hostile kind of `crafted_file`, with and without the
/// writes, at two page sizes.
fn crafted_file_seeds(out: &mut Vec<Seed>) {
    use crate::crafted::hostile::{Params, ALL};
    for (i, kind) in ALL.iter().enumerate() {
        let name = format!("{kind:?}").to_lowercase();
        let small = Params::default();
        let large = Params {
            ps: 4096,
            keys: 40,
            per_leaf: 5,
            pick: 3,
            extra: 300,
        };
        out.push((
            "crafted_file",
            format!("seed-{name}"),
            super::input_for(i, &small, true),
        ));
        out.push((
            "crafted_file",
            format!("seed-{name}-4k"),
            super::input_for(i, &large, i % 2 == 0),
        ));
    }
}

/// Every seed of every target.
pub fn corpus() -> Vec<Seed> {
    let mut out = Vec::new();
    crafted_file_seeds(&mut out);
    ops_crash_seeds(&mut out);
    open_bytes_seeds(&mut out);
    crafted_seeds(&mut out);
    decode_page_seeds(&mut out);
    out
}
