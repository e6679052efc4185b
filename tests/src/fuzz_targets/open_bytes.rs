//! Target `open_bytes`: arbitrary bytes opened as a database file, then
//! every read path walked.
//!
//! Input layout: byte 0 is a flag byte, the rest (at most
//! [`MAX_FILE_BYTES`]) is the file.
//!
//! - flag bit 0: before opening, recompute every checksum the file's own
//!   structure leads to ([`reseal`]): header, slots, tree and overflow
//!   references, allocator pages and the log chain. Without it nearly every
//!   mutation stops at the first checksum; with it the damage reaches the
//!   decoders, the cursors and the integrity check.
//! - flag bit 1: after walking the read-write handle, also write through
//!   it (put, delete, overflow value, bucket create and drop, commit,
//!   checkpoint), walk again, close and reopen.
//!
//! The file is opened read-only and (on a fresh copy) read-write through a
//! fault-free [`SimVfs`]. Every call must return `Ok` or a typed `Error`;
//! loops are capped so a damaged tree cannot make the walk itself endless.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use vellum::checksum::checksum;
use vellum::page::{file_header, log_record, slot};
use vellum::vfs::{OpenMode, Vfs};
use vellum::{Bucket, Db, Options, ReadTxn};
use vellum_sim::{FaultConfig, SimVfs};

/// Largest file image used (longer inputs are cut): bounds the work and
/// the memory a single input can ask for.
pub const MAX_FILE_BYTES: usize = 128 * 1024;

/// Steps of any one iteration loop.
const STEPS: usize = 512;
/// Keys remembered per bucket for point reads and seeks.
const KEYS_KEPT: usize = 48;
/// Buckets walked.
const BUCKETS_WALKED: usize = 16;

const FLAG_RESEAL: u8 = 1;
const FLAG_WRITE: u8 = 2;

const PATH: &str = "/fuzz/db.vellum";

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    if let Some(s) = at.checked_add(8).and_then(|end| b.get_mut(at..end)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Recomputes, in place, every checksum that the structure of `img` (a
/// database file image) leads to, children before parents: the file header;
/// for each slot with the right magic, its catalog tree, each bucket tree
/// its catalog leaves name, overflow runs, allocator index and bitmap pages,
/// and the slot itself; then the log records after each slot (payload
/// checksum, link, header checksum), older checkpoint first. Anything out of
/// range is left alone. Never panics, whatever the bytes.
pub fn reseal(img: &mut [u8]) {
    if img.len() < 32 || &img[0..8] != file_header::MAGIC {
        return;
    }
    let c = checksum(&img[0..24]);
    put_u64(img, 24, c);
    let ps = u32_at(img, 12).unwrap_or(0) as usize;
    if !(1024..=65536).contains(&ps) || !ps.is_power_of_two() {
        return;
    }
    let npages = (img.len() / ps) as u64;
    let mut r = Resealer {
        img,
        ps,
        npages,
        done: HashMap::new(),
        busy: HashSet::new(),
    };
    let mut slots = Vec::new();
    for sp in [1u64, 2] {
        let Some(off) = r.offset(sp) else { continue };
        if &r.img[off..off + 8] != slot::MAGIC {
            continue;
        }
        let cat = u64_at(r.img, off + 48).unwrap_or(0);
        if cat != 0 {
            if let Some(c) = r.tree(cat, true, 0) {
                put_u64(r.img, off + 56, c);
            }
        }
        let n = u32_at(r.img, off + 64).unwrap_or(0).min(32) as usize;
        for i in 0..n {
            let at = off + 72 + 16 * i;
            let p = u64_at(r.img, at).unwrap_or(0);
            if let Some(c) = r.alloc_index(p) {
                put_u64(r.img, at + 8, c);
            }
        }
        let c = checksum(&r.img[off..off + 584]);
        put_u64(r.img, off + 584, c);
        let w = checksum(&r.img[off..off + 600]);
        put_u64(r.img, off + 600, w);
        let id = u64_at(r.img, off + 8).unwrap_or(0);
        let log_start = u64_at(r.img, off + 32).unwrap_or(0);
        let log_pages = u64_at(r.img, off + 40).unwrap_or(0);
        slots.push((id, sp, c, log_start, log_pages));
    }
    slots.sort_unstable();
    for (_, _, c, start, pages) in slots {
        r.log_chain(start, pages, c);
    }
}

struct Resealer<'a> {
    img: &'a mut [u8],
    ps: usize,
    npages: u64,
    /// Pages already resealed, with their new checksums.
    done: HashMap<u64, u64>,
    /// Pages on the current path (a reference cycle is left stale).
    busy: HashSet<u64>,
}

impl Resealer<'_> {
    /// Byte offset of a page (not the header or a slot) inside the image.
    fn offset(&self, page: u64) -> Option<usize> {
        if page == 0 || page >= self.npages {
            return None;
        }
        usize::try_from(page).ok()?.checked_mul(self.ps)
    }

    fn data_offset(&self, page: u64) -> Option<usize> {
        if page < 3 {
            return None;
        }
        self.offset(page)
    }

    /// Reseals the tree page `page` and everything below it; returns its
    /// new checksum.
    fn tree(&mut self, page: u64, catalog: bool, depth: u32) -> Option<u64> {
        if depth > 64 {
            return None;
        }
        let off = self.data_offset(page)?;
        if let Some(&c) = self.done.get(&page) {
            return Some(c);
        }
        if !self.busy.insert(page) {
            return None;
        }
        let end = off + self.ps;
        let kind = self.img[off];
        let count = u16_at(self.img, off + 2).unwrap_or(0);
        let mut pos = off + 24;
        match kind {
            1 => {
                if pos + 16 <= end {
                    let p = u64_at(self.img, pos).unwrap_or(0);
                    if let Some(c) = self.tree(p, catalog, depth + 1) {
                        put_u64(self.img, pos + 8, c);
                    }
                    pos += 16;
                }
                for _ in 0..count {
                    let Some(klen) = u16_at(self.img, pos) else {
                        break;
                    };
                    pos += 2 + klen as usize;
                    if pos + 16 > end {
                        break;
                    }
                    let p = u64_at(self.img, pos).unwrap_or(0);
                    if let Some(c) = self.tree(p, catalog, depth + 1) {
                        put_u64(self.img, pos + 8, c);
                    }
                    pos += 16;
                }
            }
            2 => {
                for _ in 0..count {
                    if pos + 7 > end {
                        break;
                    }
                    let klen = u16_at(self.img, pos).unwrap_or(0) as usize;
                    let vkind = self.img[pos + 2];
                    let vlen = u32_at(self.img, pos + 3).unwrap_or(0) as usize;
                    pos += 7 + klen;
                    match vkind {
                        0 => {
                            if catalog && vlen == 24 && pos + 24 <= end {
                                let p = u64_at(self.img, pos).unwrap_or(0);
                                if p != 0 {
                                    if let Some(c) = self.tree(p, false, 0) {
                                        put_u64(self.img, pos + 8, c);
                                    }
                                }
                            }
                            pos = pos.saturating_add(vlen);
                        }
                        1 => {
                            if pos + 16 > end {
                                break;
                            }
                            let p = u64_at(self.img, pos).unwrap_or(0);
                            if let Some(c) = self.overflow(p, vlen) {
                                put_u64(self.img, pos + 8, c);
                            }
                            pos += 16;
                        }
                        _ => break,
                    }
                }
            }
            _ => {}
        }
        let c = checksum(&self.img[off..end]);
        self.busy.remove(&page);
        self.done.insert(page, c);
        Some(c)
    }

    /// The checksum of an overflow run, if it lies inside the image.
    fn overflow(&self, page: u64, len: usize) -> Option<u64> {
        let off = self.data_offset(page)?;
        let bytes = (24 + len).div_ceil(self.ps).checked_mul(self.ps)?;
        Some(checksum(self.img.get(off..off.checked_add(bytes)?)?))
    }

    /// Reseals an allocator index page's bitmap references; returns its
    /// new checksum.
    fn alloc_index(&mut self, page: u64) -> Option<u64> {
        let off = self.data_offset(page)?;
        if self.img[off] == 5 {
            let count = (u16_at(self.img, off + 2).unwrap_or(0) as usize).min((self.ps - 24) / 16);
            for i in 0..count {
                let at = off + 24 + 16 * i;
                let p = u64_at(self.img, at).unwrap_or(0);
                if let Some(b) = self.data_offset(p) {
                    let c = checksum(&self.img[b..b + self.ps]);
                    put_u64(self.img, at + 8, c);
                }
            }
        }
        Some(checksum(&self.img[off..off + self.ps]))
    }

    /// Relinks the log records that start the extent `start..start+pages`.
    fn log_chain(&mut self, start: u64, pages: u64, slot_checksum: u64) {
        let mut link = slot_checksum;
        let mut tail = 0u64;
        while tail < pages {
            let Some(off) = start.checked_add(tail).and_then(|p| self.data_offset(p)) else {
                return;
            };
            if &self.img[off..off + 4] != log_record::MAGIC {
                return;
            }
            let plen = u32_at(self.img, off + 4).unwrap_or(0) as usize;
            let body = off + log_record::HEADER_LEN;
            let Some(payload) = self.img.get(body..body + plen) else {
                return;
            };
            let pc = checksum(payload);
            put_u64(self.img, off + 32, pc);
            put_u64(self.img, off + 24, link);
            let hc = checksum(&self.img[off..off + 40]);
            put_u64(self.img, off + 40, hc);
            link = hc;
            tail += (log_record::HEADER_LEN + plen).div_ceil(self.ps) as u64;
        }
    }
}

/// A fault-free simulated disk holding `image` at [`PATH`], durably.
fn disk_with(image: &[u8]) -> SimVfs {
    let vfs = SimVfs::new(0, FaultConfig::none());
    let path = Path::new(PATH);
    let f = vfs
        .open(path, OpenMode::CreateReadWrite)
        .expect("the simulated disk creates a file");
    if !image.is_empty() {
        f.write_at(image, 0).expect("the simulated disk writes");
    }
    f.sync().expect("the simulated disk syncs");
    vfs.sync_dir(path)
        .expect("the simulated disk syncs a directory");
    vfs
}

fn options(vfs: &SimVfs, page_size: usize, read_only: bool) -> Options {
    Options::new()
        .vfs(Arc::new(vfs.clone()))
        .page_size(page_size)
        .cache_size(1 << 20)
        .max_log_size(64 * 1024)
        .read_only(read_only)
        .create(false)
}

/// Opens `image` read-only, then a fresh copy read-write, walking every
/// read path of each handle that opens (see the module docs).
///
/// # Panics
/// Only where the engine panics (a finding).
pub fn run_open_bytes(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut image = rest[..rest.len().min(MAX_FILE_BYTES)].to_vec();
    if flags & FLAG_RESEAL != 0 {
        reseal(&mut image);
    }
    let head = &image[..image.len().min(512)];
    let page_size = match file_header::decode(head) {
        Ok(file_header::HeaderState::Valid { page_size }) => page_size,
        _ => 1024,
    };

    if avoid_known_bugs() && hits_known_bug(&image, page_size) {
        return;
    }
    exercise(&image, page_size, flags & FLAG_WRITE != 0);
}

/// Opens `image` read-only (which must leave it unchanged) and, on a fresh
/// copy, read-write, walking every read path of each handle that opens;
/// with `write_too`, also writes through the read-write handle, walks
/// again, closes and reopens.
///
/// # Panics
/// Only where the engine panics, or a read-only handle changes the file.
pub(crate) fn exercise(image: &[u8], page_size: usize, write_too: bool) {
    // Read-only: must not change the file.
    let vfs = disk_with(image);
    if let Ok(db) = options(&vfs, page_size, true).open(PATH) {
        walk(&db);
        drop(db);
        assert!(
            vfs.contents(Path::new(PATH)).as_deref() == Some(image),
            "a read-only handle changed the file"
        );
    }

    // Read-write, on a fresh copy.
    let vfs = disk_with(image);
    let opts = options(&vfs, page_size, false);
    let Ok(db) = opts.clone().open(PATH) else {
        return;
    };
    let keys = walk(&db);
    if write_too {
        write(&db, &keys, page_size);
        walk(&db);
        let _ = db.close();
        if let Ok(db) = opts.open(PATH) {
            walk(&db);
        }
    }
}

/// Walks every read path; returns some keys of the default bucket.
fn walk(db: &Db) -> Vec<Vec<u8>> {
    let _ = db.stats();
    let _ = (db.page_size(), db.limits(), db.replayed_on_open());
    let mut default_keys = Vec::new();
    if let Ok(rt) = db.begin_read() {
        default_keys = walk_txn(&rt);
    }
    if let Ok(report) = db.check() {
        let _ = report.to_string();
    }
    let _ = db.view(|tx| Ok::<_, vellum::Error>(tx.get(b"k")?.map(|v| v.to_vec())));
    default_keys
}

fn walk_txn(rt: &ReadTxn) -> Vec<Vec<u8>> {
    let _ = (rt.txn_id(), rt.len(), rt.is_empty());
    let _ = rt.get(b"");
    let _ = rt.contains(b"\xff");
    let _ = rt.bucket(b"");
    let _ = rt.bucket(b"no such bucket \xff");
    for e in rt.iter().take(4) {
        if e.is_err() {
            break;
        }
    }
    let _ = rt.cursor().first();
    let default_keys = walk_bucket(&rt.default_bucket());
    for name in rt.bucket_names().iter().take(BUCKETS_WALKED) {
        if let Ok(b) = rt.bucket(name) {
            walk_bucket(&b);
        }
    }
    default_keys
}

/// Collects up to [`STEPS`] entries; stops at the first error.
fn drain<'a, I: Iterator<Item = vellum::Result<vellum::Entry<'a>>>>(
    it: I,
    keys: &mut Vec<Vec<u8>>,
) {
    for e in it.take(STEPS) {
        match e {
            Ok(e) => {
                if keys.len() < KEYS_KEPT {
                    keys.push(e.key().to_vec());
                }
            }
            Err(_) => break,
        }
    }
}

fn walk_bucket(b: &Bucket<'_>) -> Vec<Vec<u8>> {
    let _ = (b.len(), b.is_empty());
    let mut keys = Vec::new();
    drain(b.iter(), &mut keys);
    drain(b.iter().rev(), &mut keys);
    // Both ends of one range, alternating, until they meet.
    let mut r = b.iter();
    for i in 0..STEPS {
        let e = if i % 2 == 0 { r.next() } else { r.next_back() };
        match e {
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    keys.sort();
    keys.dedup();
    for k in &keys {
        let _ = b.get(k);
        let _ = b.contains(k);
        let mut longer = k.clone();
        longer.push(0);
        let _ = b.get(&longer);
    }
    let _ = b.get(b"");
    let _ = b.get([0xffu8; 8]);

    let mut moves = vec![
        Move::Current,
        Move::Next,
        Move::Prev,
        Move::First,
        Move::NextAll,
    ];
    moves.extend([
        Move::Next,
        Move::Current,
        Move::Last,
        Move::PrevAll,
        Move::Prev,
    ]);
    moves.extend([
        Move::Current,
        Move::First,
        Move::Prev,
        Move::Last,
        Move::Next,
    ]);
    for k in keys.iter().step_by(4) {
        moves.extend([
            Move::Seek(k.clone()),
            Move::Next,
            Move::Seek(k.clone()),
            Move::Prev,
        ]);
    }
    moves.extend([
        Move::Seek(Vec::new()),
        Move::Seek(vec![0xff; 16]),
        Move::Prev,
    ]);
    cursor_moves(b, &moves);

    let mut sink = Vec::new();
    drain(b.prefix(b""), &mut sink);
    for k in keys.iter().step_by(8) {
        drain(b.prefix(&k[..k.len().min(1)]), &mut sink);
        drain(b.prefix(k).rev(), &mut sink);
    }
    drain(b.prefix([0xffu8, 0xff]), &mut sink);
    if let (Some(lo), Some(hi)) = (keys.first(), keys.last()) {
        let (lo, hi) = (lo.as_slice(), hi.as_slice());
        drain(b.range(lo..hi), &mut sink);
        drain(b.range(lo..=hi).rev(), &mut sink);
        drain(b.range(hi..lo), &mut sink);
        drain(
            b.range::<[u8]>((Bound::Excluded(lo), Bound::Excluded(hi))),
            &mut sink,
        );
        drain(
            b.range::<[u8]>((Bound::Excluded(lo), Bound::Unbounded))
                .rev(),
            &mut sink,
        );
        drain(b.range(..hi), &mut sink);
    }
    keys
}

/// A cursor call.
enum Move {
    First,
    Last,
    Next,
    Prev,
    Current,
    Seek(Vec<u8>),
    /// `next` until it returns `None` or an error (at most [`STEPS`]).
    NextAll,
    /// `prev` likewise.
    PrevAll,
}

/// Runs cursor calls in order on one cursor, going on after `None` and
/// after errors (a caller may: the API does not forbid it). With known bugs
/// avoided, a cursor that returned `None` or an error is replaced by a
/// fresh one (equivalent after `None`: the cursor is then unpositioned).
fn cursor_moves(b: &Bucket<'_>, moves: &[Move]) {
    let mut c = b.cursor();
    for m in moves {
        let repeat = matches!(m, Move::NextAll | Move::PrevAll);
        for _ in 0..if repeat { STEPS } else { 1 } {
            let r = match m {
                Move::First => c.first(),
                Move::Last => c.last(),
                Move::Next | Move::NextAll => c.next(),
                Move::Prev | Move::PrevAll => c.prev(),
                Move::Current => c.current(),
                Move::Seek(k) => c.seek(k),
            };
            match r {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    if avoid_known_bugs() {
                        c = b.cursor();
                    }
                    break;
                }
            }
        }
    }
}

/// Whether `VELLUM_FUZZ_AVOID_KNOWN` is set: the harness then steers around
/// engine bugs already reported (listed in docs/TESTING.md), so a fuzzing
/// run can find new ones instead of rediscovering them. The corpus replay
/// test never sets it, so the reproducers keep failing until fixed.
pub fn avoid_known_bugs() -> bool {
    static AVOID: OnceLock<bool> = OnceLock::new();
    *AVOID.get_or_init(|| std::env::var_os("VELLUM_FUZZ_AVOID_KNOWN").is_some())
}

/// Known bugs reached by opening the file:
/// - a slot whose page count times the page size overflows `u64` makes open
///   panic (`attempt to multiply with overflow`, engine db.rs);
/// - a leaf entry whose overflow length is far beyond the file makes a read
///   allocate that length (up to 4 GiB) before anything is verified.
fn hits_known_bug(image: &[u8], page_size: usize) -> bool {
    let huge_slot = [1usize, 2].iter().any(|&sp| {
        let off = sp * page_size;
        image.get(off..off + 8) == Some(&slot::MAGIC[..])
            && u64_at(image, off + 24).is_some_and(|n| n.checked_mul(page_size as u64).is_none())
    });
    huge_slot
        || image
            .chunks(page_size)
            .any(|p| huge_overflow_len(p, image.len()))
}

/// Whether leaf page `p` has an overflow entry longer than `limit` bytes.
fn huge_overflow_len(p: &[u8], limit: usize) -> bool {
    if p.first() != Some(&2) {
        return false;
    }
    let count = u16_at(p, 2).unwrap_or(0);
    let mut pos = 24usize;
    for _ in 0..count {
        let (Some(klen), Some(&kind), Some(vlen)) =
            (u16_at(p, pos), p.get(pos + 2), u32_at(p, pos + 3))
        else {
            return false;
        };
        if kind == 1 && vlen as usize > limit {
            return true;
        }
        pos += 7 + klen as usize + if kind == 1 { 16 } else { vlen as usize };
    }
    false
}

/// Writes through a handle opened on a damaged file: each call may fail
/// with a typed error, none may panic.
fn write(db: &Db, keys: &[Vec<u8>], page_size: usize) {
    if let Ok(tx) = db.begin_write() {
        let _ = tx.put(b"fuzz-key", b"value");
        for k in keys.iter().take(4) {
            let _ = tx.delete(k);
        }
        if let Some(k) = keys.get(4) {
            let _ = tx.put(k, vec![0xa5; page_size]);
        }
        let _ = tx.insert_if_absent(b"fuzz-key-2", b"v");
        // Large neighbours of the keys read: the leaves holding them (the
        // damaged ones, in a crafted file) split.
        for k in keys.iter().take(16) {
            let mut next = k.clone();
            next.push(0);
            let _ = tx.put(&next, vec![0x5a; page_size / 4]);
        }
        if let Ok(names) = tx.bucket_names() {
            if let Some(first) = names.first() {
                if let Ok(b) = tx.bucket(first) {
                    let _ = b.put(b"k", b"v");
                    let _ = b.iter().map(|it| it.take(STEPS).count());
                }
                let _ = tx.drop_bucket(first);
            }
        }
        if let Ok(b) = tx.create_bucket_if_missing(b"fuzz-bucket") {
            let _ = b.put(b"a", b"1");
        }
        let _ = tx.iter().map(|it| it.take(STEPS).count());
        let _ = tx.commit();
    }
    let _ = db.update(|tx| tx.put_many((0u32..64).map(|i| (i.to_be_bytes(), [1u8; 40]))));
    let _ = db.checkpoint();
    let _ = db.sync();
}
