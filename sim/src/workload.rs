//! The workload: operations as data, and the seeded generator that mixes
//! them.
//!
//! An [`Op`] is explicit and self-contained: it names its bucket, key and
//! value (a value is a length and a seed, expanded by [`Val::bytes`]), so a
//! list of ops can be saved, shrunk and replayed without the generator. Ops
//! that need something the runner may not have at that moment (a write
//! transaction, a live reader) get it or are skipped, so any sub-list of a
//! valid list is valid: that is what makes shrinking by deleting ops work.
//!
//! [`generate`] draws a list from one seed: write transactions that fill and
//! drain buckets (reaching leaf and branch splits, merges and page reuse),
//! large values (overflow runs), reads of every kind inside and outside
//! transactions, long-lived read snapshots, bucket create/drop, commits and
//! aborts, syncs, checkpoints, clean reopens, crashes at a scheduled point
//! (also during recovery), and fault bursts suited to the disk profile.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::SimRng;

/// A byte string, written in case files as a string with `\xNN` escapes.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Self {
        Bytes(b.to_vec())
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            match b {
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_escaped(&s)
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

/// Parses the escaped form written by `Bytes`'s `Display`.
fn parse_escaped(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or("truncated \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 4;
            }
            _ => return Err(format!("bad escape in {s:?}")),
        }
    }
    Ok(out)
}

/// Values at least this long are mostly zeros ([`Val::bytes`]).
pub const SPARSE_VALUE_MIN: usize = 1 << 20;
/// Distance between the stamps of a mostly-zero value.
pub const SPARSE_STAMP_EVERY: usize = 256 << 10;

/// A value: `len` bytes derived from `seed` ([`Val::bytes`]). Written as
/// `[len, seed]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Val(pub u32, pub u32);

impl Val {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0 as usize
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The value's bytes: a readable tag then pseudo-random bytes, all a
    /// function of `(len, seed)`. Values of [`SPARSE_VALUE_MIN`] bytes and
    /// more (only the `deep` workload's giant values) are zeros after the
    /// tag but for an 8-byte stamp of the seed and the position every
    /// [`SPARSE_STAMP_EVERY`] bytes, so that the simulated disk, which
    /// stores zeros over holes as nothing, holds little of them, while a
    /// value read back from the wrong run or the wrong place still differs.
    pub fn bytes(&self) -> Vec<u8> {
        let len = self.len();
        let mut out = format!("v{}:", self.1).into_bytes();
        out.truncate(len);
        if len >= SPARSE_VALUE_MIN {
            // Allocated zeroed, so the zeros cost no memory until touched.
            let mut zeros = vec![0u8; len];
            zeros[..out.len()].copy_from_slice(&out);
            out = zeros;
            for at in (SPARSE_STAMP_EVERY..len - 8).step_by(SPARSE_STAMP_EVERY) {
                let stamp = (u64::from(self.1) << 32) ^ at as u64 ^ 0x5eed_0000_0000_0001;
                out[at..at + 8].copy_from_slice(&stamp.to_le_bytes());
            }
            return out;
        }
        let mut x = (self.1 as u64) ^ 0x9e37_79b9_7f4a_7c15 ^ ((len as u64) << 32);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes()[..(len - out.len()).min(8)]);
        }
        out
    }
}

/// Bucket number: 0 is the default bucket, 1..=250 the named bucket
/// `"bucket-N"`, anything above names no valid bucket (the empty name) and
/// exercises the engine's rejection of it.
pub type BucketId = u8;

/// The bucket name for a [`BucketId`] (empty for the default bucket and
/// for the invalid ids).
pub fn bucket_name(b: BucketId) -> Vec<u8> {
    match b {
        0 | 251..=255 => Vec::new(),
        n => format!("bucket-{n}").into_bytes(),
    }
}

/// A key bound of a range read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyBound {
    /// No bound.
    Unbounded,
    /// Inclusive.
    Incl(Bytes),
    /// Exclusive.
    Excl(Bytes),
}

/// Where a cursor walk starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorStart {
    /// `first()`.
    First,
    /// `last()`.
    Last,
    /// `seek(key)`.
    Seek(Bytes),
}

/// A read, checked against the model wherever it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Read {
    /// `get`.
    Get {
        /// Bucket.
        b: BucketId,
        /// Key.
        k: Bytes,
    },
    /// `contains`.
    Contains {
        /// Bucket.
        b: BucketId,
        /// Key.
        k: Bytes,
    },
    /// `len`.
    Len {
        /// Bucket.
        b: BucketId,
    },
    /// A range scan, optionally reversed and cut.
    Range {
        /// Bucket.
        b: BucketId,
        /// Lower bound.
        lo: KeyBound,
        /// Upper bound.
        hi: KeyBound,
        /// Descending.
        rev: bool,
        /// At most this many entries.
        limit: Option<u32>,
    },
    /// A prefix scan.
    Prefix {
        /// Bucket.
        b: BucketId,
        /// The prefix.
        p: Bytes,
        /// Descending.
        rev: bool,
    },
    /// A cursor walk: a start, then moves (`n` next, `p` prev, `c`
    /// current).
    Cursor {
        /// Bucket.
        b: BucketId,
        /// First move.
        start: CursorStart,
        /// Later moves.
        moves: String,
    },
    /// The list of named buckets.
    Buckets,
}

/// Which kind of VFS operation a scheduled error hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoKind {
    /// `read_at`.
    Read,
    /// `write_at`.
    Write,
    /// `sync`.
    Sync,
    /// `set_len`.
    SetLen,
}

/// An injected fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultOp {
    /// Fail the `n`th next operation of `io` (EIO, or ENOSPC).
    FailNth {
        /// Operation kind.
        io: IoKind,
        /// 1-based.
        n: u32,
        /// ENOSPC instead of EIO.
        enospc: bool,
    },
    /// Disk full: capacity is the bytes in use now plus `slack`.
    DiskFull {
        /// Bytes left.
        slack: u32,
    },
    /// Lift the capacity limit.
    DiskFree,
    /// Flip `n` random bits of the database file's durable data.
    FlipBits {
        /// How many.
        n: u32,
    },
    /// The next successful sync silently loses one of its writes.
    LoseNextSyncedWrite,
    /// The next successful sync lands one write at the wrong place.
    MisdirectNextSyncedWrite,
    /// A latent sector error at `per_mille`/1000 of the file.
    LatentSector {
        /// Position in the file, in thousandths of its length.
        per_mille: u32,
    },
}

impl FaultOp {
    /// Whether this fault corrupts data silently.
    pub fn is_silent(&self) -> bool {
        matches!(
            self,
            FaultOp::FlipBits { .. }
                | FaultOp::LoseNextSyncedWrite
                | FaultOp::MisdirectNextSyncedWrite
                | FaultOp::LatentSector { .. }
        )
    }
}

/// One step of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Begin the write transaction (write ops begin one if none is open).
    Begin,
    /// `put`.
    Put {
        /// Bucket.
        b: BucketId,
        /// Key.
        k: Bytes,
        /// Value.
        v: Val,
    },
    /// `insert_if_absent`.
    Insert {
        /// Bucket.
        b: BucketId,
        /// Key.
        k: Bytes,
        /// Value.
        v: Val,
    },
    /// `delete`.
    Delete {
        /// Bucket.
        b: BucketId,
        /// Key.
        k: Bytes,
    },
    /// Delete the first `n` keys `>= from` (read with a range scan).
    DeleteRange {
        /// Bucket.
        b: BucketId,
        /// Start key.
        from: Bytes,
        /// How many.
        n: u32,
    },
    /// `load_sorted` of these keys (meant to be in increasing order; a
    /// case may put two out of order or repeat one), entry `i` getting
    /// value `Val(v.0, v.1 ^ i)`, at a fill of `fill` tenths.
    LoadSorted {
        /// Bucket.
        b: BucketId,
        /// Keys, in the order given.
        keys: Vec<Bytes>,
        /// Length and seed of the values.
        v: Val,
        /// Fill factor in tenths (5..=10).
        fill: u8,
    },
    /// `create_bucket`.
    CreateBucket {
        /// Bucket.
        b: BucketId,
    },
    /// `drop_bucket`.
    DropBucket {
        /// Bucket.
        b: BucketId,
    },
    /// `next_id` (after reading `sequence`).
    NextId {
        /// Bucket.
        b: BucketId,
    },
    /// `set_sequence` (refused below the current sequence).
    SetSequence {
        /// Bucket.
        b: BucketId,
        /// The value.
        value: u64,
    },
    /// A read in the write transaction if one is open, else in a new
    /// read transaction.
    Read(Read),
    /// Commit the write transaction.
    Commit,
    /// Abort (drop) the write transaction.
    Abort,
    /// Start a read transaction and keep it.
    BeginRead,
    /// A read on kept read transaction number `r` (modulo their number).
    ReaderRead {
        /// Which reader.
        r: u8,
        /// The read.
        q: Read,
    },
    /// End kept read transaction number `r`.
    EndRead {
        /// Which reader.
        r: u8,
    },
    /// `db.sync()`.
    Sync,
    /// `db.checkpoint()`.
    Checkpoint,
    /// `db.check()`, which must report no problem.
    Check,
    /// Close cleanly and reopen, with `Eventual` durability or not.
    Reopen {
        /// Durability of the new handle.
        eventual: bool,
    },
    /// Power off after `after` more VFS operations (then crash, reopen,
    /// check the recovered state).
    ArmCrash {
        /// VFS operations before the power goes.
        after: u32,
    },
    /// Power off now, crash, reopen.
    CrashNow,
    /// Power off when the `n`th next `sync` starts: whatever was written
    /// since the previous barrier is pending and the crash decides its fate.
    CrashAtSync {
        /// Which sync (1 = the next).
        n: u32,
    },
    /// The next open (recovery) powers off after `after` VFS operations.
    ArmRecoveryCrash {
        /// VFS operations before the power goes.
        after: u32,
    },
    /// The next open (recovery) powers off at its `n`th sync.
    RecoveryCrashAtSync {
        /// Which sync (1 = the first).
        n: u32,
    },
    /// Inject a fault.
    Fault(FaultOp),
}

impl Op {
    /// Whether this op changes the write transaction.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Op::Put { .. }
                | Op::Insert { .. }
                | Op::Delete { .. }
                | Op::DeleteRange { .. }
                | Op::LoadSorted { .. }
                | Op::CreateBucket { .. }
                | Op::DropBucket { .. }
                | Op::NextId { .. }
                | Op::SetSequence { .. }
        )
    }
}

/// Engine options of a run, drawn by the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbConfig {
    /// Page size of the file.
    pub page_size: usize,
    /// `Options::max_log_size`.
    pub max_log_size: u64,
    /// `Options::cache_size`.
    pub cache_size: usize,
    /// Whether the first handle uses `Eventual` durability.
    pub eventual: bool,
}

/// What a profile allows the generator to inject.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultMix {
    /// Scheduled EIO/ENOSPC and disk-full bursts.
    pub errors: bool,
    /// Bit flips, lost and misdirected writes, latent sectors.
    pub silent: bool,
}

impl FaultMix {
    /// The faults that suit a disk profile.
    pub fn for_profile(profile: &str) -> FaultMix {
        FaultMix {
            errors: matches!(profile, "errors" | "chaos"),
            silent: matches!(profile, "silent" | "chaos"),
        }
    }
}

/// How keys look in one run.
#[derive(Clone, Copy, Debug)]
struct KeyShape {
    /// Logical keys are numbers below this.
    space: u64,
    /// Typical key length (padding up to it).
    len: usize,
    /// Spread of key lengths.
    spread: usize,
}

/// The generator's rough idea of the database, to aim deletes at existing
/// keys and to alternate filling and draining. It ignores aborts and crashes
/// (the runner's model is exact; this only shapes the workload).
struct Shadow {
    keys: BTreeMap<BucketId, BTreeSet<u64>>,
    buckets: BTreeSet<BucketId>,
    draining: BTreeMap<BucketId, bool>,
    high: usize,
    low: usize,
    readers: usize,
    in_txn: bool,
    disk_full: Option<usize>,
}

/// A seeded workload generator.
pub struct Generator {
    rng: SimRng,
    ops: Vec<Op>,
    shape: KeyShape,
    page_size: usize,
    faults: FaultMix,
    s: Shadow,
}

/// The workload of `seed` for a disk `profile`, about `len` ops long, and
/// the engine options to run it with (profile `deep`: [`crate::deep`]).
pub fn generate(seed: u64, profile: &str, len: usize) -> (DbConfig, Vec<Op>) {
    if profile == crate::deep::DEEP_PROFILE {
        return crate::deep::generate(seed, len);
    }
    // Each profile gets its own workload for a seed.
    let salt = profile.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = SimRng::new(seed ^ 0x776f_726b_6c6f_6164 ^ salt);
    let page_size = if rng.chance(0.6) { 1024 } else { 4096 };
    let max_log_size = [16u64 << 10, 32 << 10, 64 << 10][rng.below(3) as usize];
    let cache_pages = [8usize, 32, 256][rng.below(3) as usize];
    let config = DbConfig {
        page_size,
        max_log_size,
        cache_size: cache_pages * page_size,
        eventual: rng.chance(0.25),
    };
    let shape = match rng.below(4) {
        0 => KeyShape {
            space: 300,
            len: 8,
            spread: 4,
        },
        1 => KeyShape {
            space: 2000,
            len: 12,
            spread: 8,
        },
        2 => KeyShape {
            space: 1000,
            len: 40,
            spread: 30,
        },
        _ => KeyShape {
            space: 600,
            len: page_size / 12,
            spread: page_size / 10,
        },
    };
    let per_leaf = page_size / (shape.len + 30);
    let high = (per_leaf * rng.between(6, 40) as usize).clamp(20, shape.space as usize / 2);
    let mut g = Generator {
        rng,
        ops: Vec::with_capacity(len + 64),
        shape,
        page_size,
        faults: FaultMix::for_profile(profile),
        s: Shadow {
            keys: BTreeMap::new(),
            buckets: BTreeSet::new(),
            draining: BTreeMap::new(),
            high,
            low: high / 8,
            readers: 0,
            in_txn: false,
            disk_full: None,
        },
    };
    g.s.keys.insert(0, BTreeSet::new());
    g.s.buckets.insert(0);
    // Sometimes the power fails while the file is being created.
    if g.chance(0.12) {
        let op = if g.chance(0.5) {
            Op::RecoveryCrashAtSync {
                n: g.rng.between(1, 3) as u32,
            }
        } else {
            Op::ArmRecoveryCrash {
                after: g.rng.below(30) as u32,
            }
        };
        g.push(op);
    }
    while g.ops.len() < len {
        g.episode();
    }
    if g.s.in_txn {
        g.push(Op::Commit);
    }
    (config, g.ops)
}

impl Generator {
    fn push(&mut self, op: Op) {
        if let Some(n) = self.s.disk_full.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.s.disk_full = None;
                self.ops.push(Op::Fault(FaultOp::DiskFree));
            }
        }
        match &op {
            Op::Begin => self.s.in_txn = true,
            op if op.is_write() => self.s.in_txn = true,
            Op::Commit | Op::Abort => self.s.in_txn = false,
            Op::BeginRead => self.s.readers += 1,
            Op::EndRead { .. } => self.s.readers = self.s.readers.saturating_sub(1),
            Op::Reopen { .. } | Op::CrashNow => {
                self.s.readers = 0;
                self.s.in_txn = false;
            }
            _ => {}
        }
        self.ops.push(op);
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.chance(p)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len() as u64) as usize]
    }

    /// The key bytes of logical key `n`: a group prefix, the number, and
    /// padding whose length is a function of `n`.
    fn key(&self, n: u64) -> Bytes {
        let group = (n * 7 / self.shape.space.max(1)) as u8;
        let mut k = format!("{}/{n:06}", (b'a' + group) as char).into_bytes();
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        let want = self.shape.len + (h as usize % (self.shape.spread + 1));
        while k.len() < want {
            k.push(b'.' + (k.len() % 40) as u8);
        }
        Bytes(k)
    }

    fn any_key(&mut self) -> Bytes {
        match self.rng.below(100) {
            0 => Bytes(Vec::new()),
            1 => {
                let n = self.rng.between(1, 6) as usize;
                let mut b = vec![0u8; n];
                self.rng.fill(&mut b);
                Bytes(b)
            }
            2 => Bytes(vec![0xff; self.rng.between(1, 3) as usize]),
            _ => {
                let n = self.rng.below(self.shape.space);
                self.key(n)
            }
        }
    }

    /// A key the shadow thinks exists in `b` (or any key).
    fn existing_key(&mut self, b: BucketId) -> Bytes {
        let set = self.s.keys.get(&b);
        match set {
            Some(set) if !set.is_empty() => {
                let i = self.rng.below(set.len() as u64) as usize;
                let n = *set.iter().nth(i).expect("in range");
                self.key(n)
            }
            _ => self.any_key(),
        }
    }

    fn value(&mut self) -> Val {
        let ps = self.page_size as u64;
        let len = match self.rng.below(100) {
            0..=59 => self.rng.below(40),
            60..=84 => self.rng.between(40, 200),
            85..=96 => self.rng.between(ps / 4 + 1, ps + ps / 2),
            _ => self.rng.between(ps, 3 * ps + 100),
        };
        Val(len as u32, self.rng.next_u64() as u32)
    }

    fn bucket(&mut self) -> BucketId {
        if self.chance(0.6) || self.s.buckets.len() == 1 {
            return 0;
        }
        let named: Vec<BucketId> = self.s.buckets.iter().copied().filter(|&b| b != 0).collect();
        if self.chance(0.9) && !named.is_empty() {
            self.pick(&named)
        } else {
            self.rng.between(1, 4) as BucketId
        }
    }

    fn draining(&mut self, b: BucketId) -> bool {
        let n = self.s.keys.get(&b).map_or(0, |s| s.len());
        let d = self.s.draining.entry(b).or_insert(false);
        if n >= self.s.high {
            *d = true;
        } else if n <= self.s.low {
            *d = false;
        }
        *d
    }

    fn episode(&mut self) {
        let r = self.rng.below(100);
        match r {
            0..=44 => self.write_txn(),
            45..=56 => {
                for _ in 0..self.rng.between(1, 3) {
                    let q = self.read();
                    self.push(Op::Read(q));
                }
            }
            57..=65 => self.readers(),
            66..=68 => self.push(Op::Sync),
            69..=71 => {
                self.close_txn();
                self.push(Op::Checkpoint);
            }
            72..=73 => self.push(Op::Check),
            74..=76 => {
                self.close_txn();
                let eventual = self.chance(0.3);
                self.push(Op::Reopen { eventual });
            }
            77..=84 => self.crash(),
            85..=88 => self.buckets(),
            _ => {
                if self.faults.errors || self.faults.silent {
                    self.fault();
                } else {
                    self.write_txn();
                }
            }
        }
    }

    fn close_txn(&mut self) {
        if self.s.in_txn {
            self.push(Op::Commit);
        }
    }

    fn write_txn(&mut self) {
        if !self.s.in_txn && self.chance(0.5) {
            self.push(Op::Begin);
        }
        let n = match self.rng.below(100) {
            0..=59 => self.rng.between(1, 4),
            60..=94 => self.rng.between(5, 20),
            _ => self.rng.between(40, 160),
        };
        let b = self.bucket();
        for _ in 0..n {
            self.write_op(b);
        }
        self.sequence_ops(b);
        match self.rng.below(100) {
            0..=84 => self.push(Op::Commit),
            85..=94 => self.push(Op::Abort),
            _ => {} // left open: later ops run inside it
        }
    }

    fn write_op(&mut self, b: BucketId) {
        let draining = self.draining(b);
        let r = self.rng.below(100);
        if draining {
            match r {
                0..=49 => {
                    let k = self.existing_key(b);
                    self.forget(b, &k);
                    self.push(Op::Delete { b, k });
                }
                50..=57 => {
                    let from = self.existing_key(b);
                    let n = self.rng.between(2, 40) as u32;
                    self.forget_from(b, &from, n as usize);
                    self.push(Op::DeleteRange { b, from, n });
                }
                58..=74 => self.put(b),
                _ => {
                    let q = self.read_in(b);
                    self.push(Op::Read(q));
                }
            }
        } else {
            match r {
                0..=69 => self.put(b),
                70..=74 => {
                    let n = self.rng.below(self.shape.space);
                    let k = self.key(n);
                    let v = self.value();
                    self.remember(b, n);
                    self.push(Op::Insert { b, k, v });
                }
                75..=84 => {
                    let k = self.existing_key(b);
                    self.forget(b, &k);
                    self.push(Op::Delete { b, k });
                }
                _ => {
                    let q = self.read_in(b);
                    self.push(Op::Read(q));
                }
            }
        }
    }

    /// Now and then ids from `b` and the default bucket, and a
    /// `set_sequence` (below the sequence, to a larger value, or next to
    /// `u64::MAX` so that `next_id` runs out). Decided from the number of
    /// ops so far, without drawing from the generator's random stream, so
    /// the rest of a seed's workload is what it was before sequences
    /// existed.
    fn sequence_ops(&mut self, b: BucketId) {
        let at = self.ops.len() as u64;
        match at % 7 {
            0 | 1 => {
                for _ in 0..1 + at % 3 {
                    self.push(Op::NextId { b });
                }
            }
            2 => self.push(Op::NextId { b: 0 }),
            3 if at.is_multiple_of(4) => {
                let value = match (at / 28) % 4 {
                    0 => at % 20,
                    1 => 1000 + at,
                    // Runs out soon: the default bucket is never dropped,
                    // so only named buckets go near the end.
                    2 if b != 0 => u64::MAX - at % 3,
                    _ => at % 50,
                };
                self.push(Op::SetSequence { b, value });
                self.push(Op::NextId { b });
            }
            _ => {}
        }
    }

    fn put(&mut self, b: BucketId) {
        let (k, n) = if self.chance(0.03) {
            (self.any_key(), None)
        } else if self.chance(0.2) {
            // Overwrite an existing key.
            let k = self.existing_key(b);
            (k, None)
        } else {
            let n = self.rng.below(self.shape.space);
            (self.key(n), Some(n))
        };
        if let Some(n) = n {
            self.remember(b, n);
        }
        let v = self.value();
        self.push(Op::Put { b, k, v });
    }

    /// After some bucket creations, a sorted load into it. Decided from the
    /// number of ops so far, without drawing from the generator's random
    /// stream, so the rest of a seed's workload is what it was before
    /// loads existed.
    fn load_sorted(&mut self, b: BucketId) {
        let at = self.ops.len() as u64;
        if !at.is_multiple_of(3) {
            return;
        }
        let space = self.shape.space.max(1);
        let count = 1 + (at * 7919 % 150);
        let first = at * 104_729 % space;
        let step = 1 + at % 3;
        let mut ns: Vec<u64> = (0..count)
            .map(|i| first + i * step)
            .filter(|&n| n < space)
            .collect();
        if ns.is_empty() {
            ns.push(first);
        }
        let mut keys: Vec<Bytes> = ns.iter().map(|&n| self.key(n)).collect();
        match at % 13 {
            // Out of order, or a repeated key: nothing is loaded.
            0 if keys.len() > 2 => keys.swap(1, 2),
            1 if keys.len() > 1 => keys[1] = keys[0].clone(),
            _ => {
                for n in ns {
                    self.remember(b, n);
                }
            }
        }
        let ps = self.page_size as u32;
        let len = match at % 5 {
            0 => ps + 7,
            1 => ps / 4 + 1,
            _ => (at % 60) as u32,
        };
        let fill = 5 + (at % 6) as u8;
        self.push(Op::LoadSorted {
            b,
            keys,
            v: Val(len, at as u32),
            fill,
        });
    }

    fn remember(&mut self, b: BucketId, n: u64) {
        self.s.keys.entry(b).or_default().insert(n);
    }

    fn logical(&self, k: &Bytes) -> Option<u64> {
        let s = std::str::from_utf8(&k.0).ok()?;
        s.get(2..8)?.parse().ok()
    }

    fn forget(&mut self, b: BucketId, k: &Bytes) {
        if let Some(n) = self.logical(k) {
            if let Some(s) = self.s.keys.get_mut(&b) {
                s.remove(&n);
            }
        }
    }

    fn forget_from(&mut self, b: BucketId, k: &Bytes, count: usize) {
        let Some(n) = self.logical(k) else { return };
        if let Some(s) = self.s.keys.get_mut(&b) {
            let gone: Vec<u64> = s.range(n..).take(count).copied().collect();
            for g in gone {
                s.remove(&g);
            }
        }
    }

    fn bound(&mut self, b: BucketId) -> KeyBound {
        match self.rng.below(5) {
            0 => KeyBound::Unbounded,
            1 | 2 => KeyBound::Incl(self.existing_key(b)),
            3 => KeyBound::Excl(self.existing_key(b)),
            _ => KeyBound::Incl(self.any_key()),
        }
    }

    fn read(&mut self) -> Read {
        let b = self.bucket();
        self.read_in(b)
    }

    fn read_in(&mut self, b: BucketId) -> Read {
        match self.rng.below(100) {
            0..=29 => {
                let k = if self.chance(0.7) {
                    self.existing_key(b)
                } else {
                    self.any_key()
                };
                Read::Get { b, k }
            }
            30..=36 => Read::Contains {
                b,
                k: self.existing_key(b),
            },
            37..=41 => Read::Len { b },
            42..=64 => {
                let lo = self.bound(b);
                let hi = self.bound(b);
                let limit = if self.chance(0.5) {
                    Some(self.rng.between(1, 30) as u32)
                } else {
                    None
                };
                Read::Range {
                    b,
                    lo,
                    hi,
                    rev: self.chance(0.4),
                    limit,
                }
            }
            65..=74 => {
                let k = self.existing_key(b);
                let cut = self.rng.between(0, k.0.len().min(5) as u64) as usize;
                Read::Prefix {
                    b,
                    p: Bytes(k.0[..cut].to_vec()),
                    rev: self.chance(0.3),
                }
            }
            75..=96 => {
                let start = match self.rng.below(3) {
                    0 => CursorStart::First,
                    1 => CursorStart::Last,
                    _ => CursorStart::Seek(self.existing_key(b)),
                };
                let n = self.rng.between(0, 24);
                let fwd = self.rng.unit_f64();
                let moves = (0..n)
                    .map(|_| {
                        let x = self.rng.unit_f64();
                        if x < 0.05 {
                            'c'
                        } else if x < fwd {
                            'n'
                        } else {
                            'p'
                        }
                    })
                    .collect();
                Read::Cursor { b, start, moves }
            }
            _ => Read::Buckets,
        }
    }

    fn readers(&mut self) {
        match self.rng.below(12) {
            0..=2 if self.s.readers < 4 => self.push(Op::BeginRead),
            3 if self.s.readers > 0 => {
                let r = self.rng.below(8) as u8;
                self.push(Op::EndRead { r });
            }
            _ => {
                if self.s.readers == 0 {
                    self.push(Op::BeginRead);
                }
                for _ in 0..self.rng.between(1, 3) {
                    let r = self.rng.below(8) as u8;
                    let q = if self.chance(0.3) {
                        // A whole bucket: touches every page the old
                        // snapshot can reach.
                        let b = self.bucket();
                        Read::Range {
                            b,
                            lo: KeyBound::Unbounded,
                            hi: KeyBound::Unbounded,
                            rev: self.chance(0.5),
                            limit: None,
                        }
                    } else {
                        self.read()
                    };
                    self.push(Op::ReaderRead { r, q });
                }
            }
        }
    }

    fn crash(&mut self) {
        match self.rng.below(20) {
            0..=6 => {
                let after = if self.chance(0.5) {
                    self.rng.below(12)
                } else {
                    self.rng.below(150)
                } as u32;
                self.push(Op::ArmCrash { after });
            }
            7..=12 => {
                let n = self.rng.between(1, 4) as u32;
                self.push(Op::CrashAtSync { n });
                if self.chance(0.5) {
                    // Make a checkpoint likely before the sync comes.
                    self.close_txn();
                    self.push(Op::Checkpoint);
                }
            }
            13..=15 => {
                self.s.in_txn = false;
                self.push(Op::CrashNow);
            }
            _ => {
                if self.chance(0.5) {
                    let after = self.rng.below(40) as u32;
                    self.push(Op::ArmRecoveryCrash { after });
                } else {
                    let n = self.rng.between(1, 3) as u32;
                    self.push(Op::RecoveryCrashAtSync { n });
                }
                self.s.in_txn = false;
                self.push(Op::CrashNow);
            }
        }
    }

    fn buckets(&mut self) {
        let b = self.rng.between(1, 4) as BucketId;
        let op = if self.chance(0.05) {
            Op::CreateBucket { b: 255 }
        } else if self.s.buckets.contains(&b) && self.chance(0.4) {
            self.s.buckets.remove(&b);
            self.s.keys.remove(&b);
            Op::DropBucket { b }
        } else {
            self.s.buckets.insert(b);
            Op::CreateBucket { b }
        };
        let created = matches!(op, Op::CreateBucket { b: c } if c == b);
        self.push(op);
        if created {
            self.load_sorted(b);
        }
        if self.chance(0.7) {
            for _ in 0..self.rng.between(1, 12) {
                self.write_op(b);
            }
        }
        if self.chance(0.9) {
            self.push(Op::Commit);
        } else {
            self.push(Op::Abort);
        }
    }

    fn fault(&mut self) {
        let mut kinds = Vec::new();
        if self.faults.errors {
            kinds.extend([0, 0, 0, 1]);
        }
        if self.faults.silent {
            kinds.extend([2, 2, 3, 4, 5]);
        }
        let kind = self.pick(&kinds);
        match kind {
            0 => {
                for _ in 0..self.rng.between(1, 3) {
                    let io =
                        self.pick(&[IoKind::Read, IoKind::Write, IoKind::Sync, IoKind::SetLen]);
                    let n = self.rng.between(1, 25) as u32;
                    let enospc = matches!(io, IoKind::Write | IoKind::SetLen) && self.chance(0.5);
                    self.push(Op::Fault(FaultOp::FailNth { io, n, enospc }));
                }
            }
            1 if self.s.disk_full.is_none() => {
                let slack = self.rng.below(16 * self.page_size as u64) as u32;
                self.push(Op::Fault(FaultOp::DiskFull { slack }));
                self.s.disk_full = Some(self.rng.between(3, 30) as usize);
            }
            1 => {}
            2 => {
                let n = self.rng.between(1, 3) as u32;
                self.push(Op::Fault(FaultOp::FlipBits { n }));
            }
            3 => self.push(Op::Fault(FaultOp::LoseNextSyncedWrite)),
            4 => self.push(Op::Fault(FaultOp::MisdirectNextSyncedWrite)),
            _ => {
                let per_mille = self.rng.below(1000) as u32;
                self.push(Op::Fault(FaultOp::LatentSector { per_mille }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_json() {
        let b = Bytes(vec![0, b'a', b'\\', 0xff, b'"', b'x']);
        let s = serde_json::to_string(&b).unwrap();
        let back: Bytes = serde_json::from_str(&s).unwrap();
        assert_eq!(back, b);
        assert_eq!(b.to_string(), "\\x00a\\\\\\xff\"x");
    }

    #[test]
    fn values_are_a_function_of_len_and_seed() {
        assert_eq!(Val(100, 7).bytes(), Val(100, 7).bytes());
        assert_ne!(Val(100, 7).bytes(), Val(100, 8).bytes());
        for len in [0, 1, 3, 9, 1000, 5000] {
            assert_eq!(Val(len, 3).bytes().len(), len as usize);
        }
    }

    #[test]
    fn generation_is_deterministic_and_varied() {
        let (c1, a) = generate(5, "chaos", 300);
        let (c2, b) = generate(5, "chaos", 300);
        assert_eq!(c1, c2);
        assert_eq!(a, b);
        assert!(a.len() >= 300);
        let (_, other) = generate(6, "chaos", 300);
        assert_ne!(a, other);
        let has = |f: &dyn Fn(&Op) -> bool| a.iter().any(f);
        assert!(has(&|o| matches!(o, Op::Put { .. })));
        assert!(has(&|o| matches!(o, Op::Commit)));
        assert!(has(&|o| matches!(o, Op::Fault(_))));
        let json = serde_json::to_string(&a).unwrap();
        let back: Vec<Op> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
