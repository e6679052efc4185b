//! A builder of database files written from docs/FORMAT.md alone (format
//! 4), for files that are structurally valid, carry correct checksums and
//! hold hostile contents: oversized keys and values, duplicate or unsorted
//! keys, separators that disagree with their children, pages referenced
//! twice or by their own descendants, counts that disagree with the trees,
//! page numbers past the end, overflow and log lengths that lie.
//!
//! Nothing here calls the engine's encoders: checksums are XXH3-64 (seed 0)
//! from `xxhash-rust`, and every byte offset is the one the format
//! documents. The builder checks nothing about the contents it is given;
//! it writes exactly what it is asked to, so a test can say precisely which
//! rule a file breaks.
//!
//! [`hostile`] lists the hostile kinds and builds one file per kind;
//! [`Image`] is the page-level builder they use.

pub mod hostile;

use std::collections::BTreeSet;

/// XXH3-64 with seed 0: `H(x)` of FORMAT.md.
pub fn h(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Page kinds (FORMAT.md §1.3).
pub mod kind {
    /// A branch page.
    pub const BRANCH: u8 = 1;
    /// A leaf page.
    pub const LEAF: u8 = 2;
    /// The first page of an overflow run.
    pub const OVERFLOW: u8 = 3;
    /// An allocator bitmap page.
    pub const BITMAP: u8 = 4;
    /// An allocator index page.
    pub const INDEX: u8 = 5;
}

/// Bytes of the page header (FORMAT.md §1.3).
pub const HEADER_LEN: usize = 24;
/// Bytes of a log record header (FORMAT.md §2.1).
pub const RECORD_HEADER_LEN: usize = 56;
/// Bytes of a catalog value (FORMAT.md §1.7).
pub const CATALOG_VALUE_LEN: usize = 32;
/// Pages 0-3: the file header and the three slot pages.
pub const RESERVED_PAGES: u64 = 4;

/// The key limit of FORMAT.md §1.4 for page size `ps`.
pub fn key_limit(ps: usize) -> usize {
    (ps - 40) / 4 - 16
}

/// The longest inline value for page size `ps` (FORMAT.md §1.4).
pub fn inline_limit(ps: usize) -> usize {
    ps / 4
}

/// A page reference: page number and the checksum of the page (or run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ref {
    /// Page number.
    pub page: u64,
    /// `H` of the whole referenced page or run.
    pub checksum: u64,
}

/// The value of a leaf entry as it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// Kind 0: the bytes follow the key.
    Inline(Vec<u8>),
    /// Kind 1: a reference to an overflow run and the length it claims.
    Overflow {
        /// The run.
        at: Ref,
        /// The value length written in the entry.
        len: u32,
    },
    /// Any kind byte, length and payload, written as given.
    Raw {
        /// The value kind byte.
        kind: u8,
        /// The value length field.
        len: u32,
        /// The bytes after the key.
        payload: Vec<u8>,
    },
}

impl Val {
    fn parts(&self) -> (u8, u32, Vec<u8>) {
        match self {
            Val::Inline(v) => (0, v.len() as u32, v.clone()),
            Val::Overflow { at, len } => (1, *len, ref_bytes(*at).to_vec()),
            Val::Raw { kind, len, payload } => (*kind, *len, payload.clone()),
        }
    }
}

fn ref_bytes(r: Ref) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&r.page.to_le_bytes());
    b[8..].copy_from_slice(&r.checksum.to_le_bytes());
    b
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Encodes a tree page (FORMAT.md §1.4) from its entries' bytes: slot
/// directory with heads, zero gap, entries packed to the end of the page.
/// `None` when the entries do not fit (or an offset would not fit 16 bits).
fn tree_page(
    ps: usize,
    kind: u8,
    page: u64,
    checkpoint: u64,
    entries: &[(Vec<u8>, Vec<u8>)],
) -> Option<Vec<u8>> {
    let n = entries.len();
    let total: usize = entries.iter().map(|(_, e)| e.len()).sum();
    let d = ps.checked_sub(total)?;
    if HEADER_LEN + 6 * n > d || n > usize::from(u16::MAX) {
        return None;
    }
    let mut b = vec![0u8; ps];
    b[0] = kind;
    b[2..4].copy_from_slice(&(n as u16).to_le_bytes());
    b[4..8].copy_from_slice(&(d as u32).to_le_bytes());
    put_u64(&mut b, 8, page);
    put_u64(&mut b, 16, checkpoint);
    let mut o = d;
    for (i, (key, e)) in entries.iter().enumerate() {
        let at = HEADER_LEN + 6 * i;
        let off = u16::try_from(o).ok()?;
        b[at..at + 2].copy_from_slice(&off.to_le_bytes());
        let m = key.len().min(4);
        b[at + 2..at + 2 + m].copy_from_slice(&key[..m]);
        b[o..o + e.len()].copy_from_slice(e);
        o += e.len();
    }
    Some(b)
}

/// The bytes of one leaf entry (FORMAT.md §1.4). The key length field is
/// the key's length cut to 16 bits.
pub fn leaf_entry(key: &[u8], v: &Val) -> Vec<u8> {
    let (kind, len, payload) = v.parts();
    let mut e = Vec::with_capacity(7 + key.len() + payload.len());
    e.extend_from_slice(&(key.len() as u16).to_le_bytes());
    e.push(kind);
    e.extend_from_slice(&len.to_le_bytes());
    e.extend_from_slice(key);
    e.extend_from_slice(&payload);
    e
}

/// The bytes of one branch entry (FORMAT.md §1.5).
pub fn branch_entry(sep: &[u8], child: Ref) -> Vec<u8> {
    let mut e = Vec::with_capacity(18 + sep.len());
    e.extend_from_slice(&(sep.len() as u16).to_le_bytes());
    e.extend_from_slice(sep);
    e.extend_from_slice(&ref_bytes(child));
    e
}

/// A catalog value (FORMAT.md §1.7).
pub fn catalog_value(root: Option<Ref>, keys: u64, sequence: u64) -> Vec<u8> {
    let mut v = vec![0u8; CATALOG_VALUE_LEN];
    if let Some(r) = root {
        put_u64(&mut v, 0, r.page);
        put_u64(&mut v, 8, r.checksum);
    }
    put_u64(&mut v, 16, keys);
    put_u64(&mut v, 24, sequence);
    v
}

/// The catalog key of a bucket: `0x00` for the default bucket (empty
/// name), `0x01 ‖ name` otherwise.
pub fn catalog_key(name: &[u8]) -> Vec<u8> {
    if name.is_empty() {
        vec![0]
    } else {
        let mut k = vec![1];
        k.extend_from_slice(name);
        k
    }
}

/// One log operation (FORMAT.md §2.2).
#[derive(Clone, Debug)]
pub enum LogOp {
    /// Op 1.
    Put(Vec<u8>, Vec<u8>, Vec<u8>),
    /// Op 2.
    Delete(Vec<u8>, Vec<u8>),
    /// Op 3.
    Create(Vec<u8>),
    /// Op 4.
    Drop(Vec<u8>),
    /// Op 5.
    SetSequence(Vec<u8>, u64),
}

/// Encodes operations as a record payload.
pub fn payload(ops: &[LogOp]) -> Vec<u8> {
    let mut p = Vec::new();
    let bucket = |p: &mut Vec<u8>, b: &[u8]| {
        p.extend_from_slice(&(b.len() as u16).to_le_bytes());
        p.extend_from_slice(b);
    };
    for op in ops {
        match op {
            LogOp::Put(b, k, v) => {
                p.push(1);
                bucket(&mut p, b);
                p.extend_from_slice(&(k.len() as u16).to_le_bytes());
                p.extend_from_slice(k);
                p.extend_from_slice(&(v.len() as u32).to_le_bytes());
                p.extend_from_slice(v);
            }
            LogOp::Delete(b, k) => {
                p.push(2);
                bucket(&mut p, b);
                p.extend_from_slice(&(k.len() as u16).to_le_bytes());
                p.extend_from_slice(k);
            }
            LogOp::Create(b) => {
                p.push(3);
                bucket(&mut p, b);
            }
            LogOp::Drop(b) => {
                p.push(4);
                bucket(&mut p, b);
            }
            LogOp::SetSequence(b, v) => {
                p.push(5);
                bucket(&mut p, b);
                p.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    p
}

/// A log record to place in the extent (FORMAT.md §2.1). The link, the
/// transaction id and the epoch are filled in by [`Image::finish`] unless
/// overridden.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// Payload length field; `None` for the payload's length.
    pub len_field: Option<u32>,
    /// Durable mark.
    pub durable: u64,
}

/// What the slot of the built file says (FORMAT.md §1.2).
#[derive(Clone, Debug)]
pub struct SlotSpec {
    /// Checkpoint id.
    pub checkpoint: u64,
    /// Last transaction contained.
    pub last_txn: u64,
    /// Catalog root.
    pub catalog: Option<Ref>,
    /// Log extent length in pages (the extent is allocated by `finish`).
    pub log_pages: u64,
    /// Records written at the start of the extent, in order.
    pub records: Vec<Record>,
    /// Page count override (default: the pages built).
    pub page_count: Option<u64>,
    /// Pages to mark free in the bitmap although they are in use.
    pub mark_free: Vec<u64>,
    /// Pages written past the page count (the file grows to hold them).
    pub beyond: Vec<(u64, Vec<u8>)>,
}

impl Default for SlotSpec {
    fn default() -> Self {
        SlotSpec {
            checkpoint: 2,
            last_txn: 5,
            catalog: None,
            log_pages: 4,
            records: Vec::new(),
            page_count: None,
            mark_free: Vec::new(),
            beyond: Vec::new(),
        }
    }
}

/// A file image under construction: page `n` of the file is `pages[n]`.
#[derive(Clone, Debug)]
pub struct Image {
    /// Page size.
    pub ps: usize,
    /// Every page built so far (0-3 are filled in by [`Image::finish`]).
    pub pages: Vec<Vec<u8>>,
    /// Checkpoint id written into page headers.
    pub checkpoint: u64,
}

impl Image {
    /// An empty image with page size `ps` (a power of two in 1024..=65536).
    pub fn new(ps: usize) -> Image {
        Image {
            ps,
            pages: vec![vec![0u8; ps]; RESERVED_PAGES as usize],
            checkpoint: 2,
        }
    }

    /// The page number the next page built gets.
    pub fn next_page(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Appends `n` zero pages; returns the first one's number.
    pub fn alloc(&mut self, n: u64) -> u64 {
        let first = self.next_page();
        for _ in 0..n {
            self.pages.push(vec![0u8; self.ps]);
        }
        first
    }

    /// A reference to page `page` as it is now.
    pub fn ref_to(&self, page: u64) -> Ref {
        Ref {
            page,
            checksum: h(&self.pages[page as usize]),
        }
    }

    /// Places `bytes` (one page) at `page` and returns its reference.
    pub fn set_page(&mut self, page: u64, bytes: Vec<u8>) -> Ref {
        assert_eq!(bytes.len(), self.ps, "one page");
        self.pages[page as usize] = bytes;
        self.ref_to(page)
    }

    /// The bytes of a leaf with these entries, naming itself page `page`,
    /// or `None` if they do not fit. Nothing about the entries is checked.
    pub fn leaf_page(&self, page: u64, entries: &[(Vec<u8>, Val)]) -> Option<Vec<u8>> {
        let raw: Vec<_> = entries
            .iter()
            .map(|(k, v)| (k.clone(), leaf_entry(k, v)))
            .collect();
        tree_page(self.ps, kind::LEAF, page, self.checkpoint, &raw)
    }

    /// Writes a leaf with these entries at `page`, or `None` if they do not
    /// fit. Nothing about the entries is checked.
    pub fn leaf_at(&mut self, page: u64, entries: &[(Vec<u8>, Val)]) -> Option<Ref> {
        let b = self.leaf_page(page, entries)?;
        Some(self.set_page(page, b))
    }

    /// Builds a leaf on a new page with as many of `entries` as fit (the
    /// ones at the end that do not are left out, so any input builds).
    pub fn leaf(&mut self, entries: &[(Vec<u8>, Val)]) -> Ref {
        let p = self.alloc(1);
        let mut n = entries.len();
        loop {
            if let Some(r) = self.leaf_at(p, &entries[..n]) {
                return r;
            }
            n -= 1;
        }
    }

    /// Writes a branch at `page`: child `i` with separator `i` (the first
    /// separator is written as given, normally empty).
    pub fn branch_at(&mut self, page: u64, children: &[(Vec<u8>, Ref)]) -> Option<Ref> {
        let raw: Vec<_> = children
            .iter()
            .map(|(s, r)| (s.clone(), branch_entry(s, *r)))
            .collect();
        let b = tree_page(self.ps, kind::BRANCH, page, self.checkpoint, &raw)?;
        Some(self.set_page(page, b))
    }

    /// Builds a branch on a new page with as many of `children` as fit (as
    /// [`Image::leaf`] does).
    pub fn branch(&mut self, children: &[(Vec<u8>, Ref)]) -> Ref {
        let p = self.alloc(1);
        let mut n = children.len();
        loop {
            if let Some(r) = self.branch_at(p, &children[..n]) {
                return r;
            }
            n -= 1;
        }
    }

    /// Writes `value` as an overflow run (FORMAT.md §1.6) on new pages.
    pub fn overflow(&mut self, value: &[u8]) -> Ref {
        let pages = (HEADER_LEN + value.len()).div_ceil(self.ps) as u64;
        let first = self.alloc(pages);
        let mut run = vec![0u8; pages as usize * self.ps];
        run[0] = kind::OVERFLOW;
        put_u64(&mut run, 8, first);
        put_u64(&mut run, 16, self.checkpoint);
        run[HEADER_LEN..HEADER_LEN + value.len()].copy_from_slice(value);
        for (i, chunk) in run.chunks(self.ps).enumerate() {
            self.pages[first as usize + i] = chunk.to_vec();
        }
        Ref {
            page: first,
            checksum: h(&run),
        }
    }

    /// A reference to the `pages`-page run at `first` as the pages are now
    /// (pages past the image count as absent: the checksum covers what
    /// exists).
    pub fn run_ref(&self, first: u64, pages: u64) -> Ref {
        let mut bytes = Vec::new();
        for p in first..first + pages {
            if let Some(b) = self.pages.get(p as usize) {
                bytes.extend_from_slice(b);
            }
        }
        Ref {
            page: first,
            checksum: h(&bytes),
        }
    }

    /// Builds a valid tree of at most two levels over `entries` (sorted,
    /// small enough for one leaf each `per_leaf`); returns its root.
    pub fn tree(&mut self, entries: &[(Vec<u8>, Val)], per_leaf: usize) -> Option<Ref> {
        if entries.is_empty() {
            return None;
        }
        let per_leaf = per_leaf.max(1);
        if entries.len() <= per_leaf {
            return Some(self.leaf(entries));
        }
        let mut children = Vec::new();
        for chunk in entries.chunks(per_leaf) {
            let r = self.leaf(chunk);
            let sep = if children.is_empty() {
                Vec::new()
            } else {
                chunk[0].0.clone()
            };
            children.push((sep, r));
        }
        Some(self.branch(&children))
    }

    /// Builds a catalog leaf from `(name, value)` pairs (names sorted by
    /// their catalog keys).
    pub fn catalog(&mut self, buckets: &[(Vec<u8>, Vec<u8>)]) -> Option<Ref> {
        if buckets.is_empty() {
            return None;
        }
        let entries: Vec<_> = buckets
            .iter()
            .map(|(n, v)| (catalog_key(n), Val::Inline(v.clone())))
            .collect();
        Some(self.leaf(&entries))
    }

    /// Finishes the file: allocates the log extent and the allocator pages
    /// (marking every page built in use, except `spec.mark_free`), writes
    /// the slot into page 1, the records into the extent and the header.
    pub fn finish(mut self, spec: &SlotSpec) -> Vec<u8> {
        let ps = self.ps;
        let log_start = self.alloc(spec.log_pages);
        let bits = ((ps - HEADER_LEN) * 8) as u64;
        // Allocator pages: enough bitmaps for every page including
        // themselves, one index page (small files only).
        let bitmap_pages = (self.next_page() + 2).div_ceil(bits);
        let first_bitmap = self.alloc(bitmap_pages);
        let index = self.alloc(1);
        let page_count = spec.page_count.unwrap_or(self.next_page());
        let covered = page_count.div_ceil(bits);
        let in_use: BTreeSet<u64> = (0..self.next_page())
            .filter(|p| !spec.mark_free.contains(p))
            .collect();
        let mut refs = Vec::new();
        for j in 0..covered {
            let page = if j < bitmap_pages {
                first_bitmap + j
            } else {
                self.alloc(1)
            };
            let mut b = vec![0u8; ps];
            b[0] = kind::BITMAP;
            put_u64(&mut b, 8, page);
            put_u64(&mut b, 16, self.checkpoint);
            for i in 0..bits {
                let p = j * bits + i;
                if p < page_count && in_use.contains(&p) {
                    b[HEADER_LEN + (i / 8) as usize] |= 1 << (i % 8);
                }
            }
            refs.push(self.set_page(page, b));
        }
        let mut b = vec![0u8; ps];
        b[0] = kind::INDEX;
        b[2..4].copy_from_slice(&(refs.len() as u16).to_le_bytes());
        put_u64(&mut b, 8, index);
        put_u64(&mut b, 16, self.checkpoint);
        for (i, r) in refs.iter().enumerate() {
            b[HEADER_LEN + 16 * i..HEADER_LEN + 16 * (i + 1)].copy_from_slice(&ref_bytes(*r));
        }
        let index_ref = self.set_page(index, b);

        // The slot (§1.2), in page 1.
        let mut s = vec![0u8; ps];
        s[0..8].copy_from_slice(b"VELLSLOT");
        put_u64(&mut s, 8, spec.checkpoint);
        put_u64(&mut s, 16, spec.last_txn);
        put_u64(&mut s, 24, page_count);
        put_u64(&mut s, 32, log_start);
        put_u64(&mut s, 40, spec.log_pages);
        if let Some(c) = spec.catalog {
            put_u64(&mut s, 48, c.page);
            put_u64(&mut s, 56, c.checksum);
        }
        s[64..68].copy_from_slice(&1u32.to_le_bytes());
        s[72..88].copy_from_slice(&ref_bytes(index_ref));
        let slot_checksum = h(&s[0..584]);
        put_u64(&mut s, 584, slot_checksum);
        put_u64(&mut s, 592, 1);
        let w = h(&s[0..600]);
        put_u64(&mut s, 600, w);
        self.pages[1] = s;

        // Log records (§2.1), linked from the slot checksum.
        let mut link = slot_checksum;
        let mut tail = 0u64;
        for (i, r) in spec.records.iter().enumerate() {
            let mut rec = vec![0u8; RECORD_HEADER_LEN];
            rec[0..4].copy_from_slice(b"VLOG");
            let len = r.len_field.unwrap_or(r.payload.len() as u32);
            rec[4..8].copy_from_slice(&len.to_le_bytes());
            put_u64(&mut rec, 8, spec.checkpoint);
            put_u64(&mut rec, 16, spec.last_txn + 1 + i as u64);
            put_u64(&mut rec, 24, link);
            put_u64(&mut rec, 32, r.durable);
            put_u64(&mut rec, 40, h(&r.payload));
            let hc = h(&rec[0..48]);
            put_u64(&mut rec, 48, hc);
            link = hc;
            rec.extend_from_slice(&r.payload);
            let pages = rec.len().div_ceil(ps) as u64;
            rec.resize(pages as usize * ps, 0);
            for (k, chunk) in rec.chunks(ps).enumerate() {
                let p = (log_start + tail) as usize + k;
                if p < self.pages.len() {
                    self.pages[p] = chunk.to_vec();
                }
            }
            tail += pages;
        }

        // The header (§1.1).
        let mut hd = vec![0u8; ps];
        hd[0..8].copy_from_slice(b"VELLUMDB");
        hd[8..12].copy_from_slice(&4u32.to_le_bytes());
        hd[12..16].copy_from_slice(&(ps as u32).to_le_bytes());
        let c = h(&hd[0..24]);
        put_u64(&mut hd, 24, c);
        self.pages[0] = hd;
        for (p, bytes) in &spec.beyond {
            let p = *p as usize;
            if self.pages.len() <= p {
                self.pages.resize(p + 1, vec![0u8; ps]);
            }
            self.pages[p] = bytes.clone();
        }
        self.pages.concat()
    }
}
