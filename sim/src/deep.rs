//! The `deep` workload (profile `deep`): seeds that build B+ trees of depth
//! 5 and more, long overflow runs and files of 1 GiB and more, and that
//! crash inside checkpoints writing hundreds of pages.
//!
//! The ordinary workload's trees stay at depth 4 at most (400 ops of keys
//! up to an eighth of a page). Here every page is 1 KiB and every key is
//! 209 bytes up to the engine's limit (230 at 1 KiB), with a long prefix
//! common to all so that separators stay long despite suffix truncation:
//! a leaf holds about four entries and a branch five children, and a
//! sorted load of 700–1,600 keys makes a tree of depth 5 or 6 in one op.
//! Then:
//!
//! - big transactions of random puts (splits at every level, upper-level
//!   splits included) and drains by long range deletes (whole subtrees go:
//!   merges of branches and root collapses), with values from empty to 300
//!   pages (long overflow runs), some keys exactly at the limit and a few
//!   past it (`KeyTooLarge`);
//! - crash points aimed inside the checkpoint that follows such a
//!   transaction: at its first sync (every page it wrote is pending, and the
//!   crash keeps, tears, drops and reorders them), at its second (the slot),
//!   and after a number of VFS operations drawn across the hundreds of page
//!   writes; failed page writes and syncs in those checkpoints; crashes
//!   during recovery;
//! - reads of every kind, and readers kept across the big changes;
//! - in one seed in [`GIANT_ONE_IN`], a *giant phase*: a key is overwritten
//!   by values of 150–200 MiB (mostly zeros, see [`Val::bytes`], so the
//!   sparse simulated file stores little of them) while a reader pins each
//!   old version, until the pinned runs make the file pass 1 GiB (some 130
//!   allocator bitmap pages at 1 KiB); the next overwrite's checkpoint,
//!   which grows the allocator across some 20 more bitmap pages, is
//!   crashed.
//!
//! Like the ordinary generator, the ops are explicit and any sub-list is
//! valid, so failures shrink.

use std::collections::{BTreeMap, BTreeSet};

use crate::rng::SimRng;
use crate::workload::{
    BucketId, Bytes, CursorStart, DbConfig, FaultOp, IoKind, KeyBound, Op, Read, Val,
};

/// The disk profile that runs this workload.
pub const DEEP_PROFILE: &str = "deep";
/// One seed in this many has a giant phase (a file past 1 GiB).
pub const GIANT_ONE_IN: u64 = 8;
/// The file size a giant phase grows the file past.
pub const GIANT_TARGET: u64 = 1 << 30;
/// Page size of every deep seed.
const PAGE: usize = 1024;
/// Logical keys are numbers below this.
const SPACE: u64 = 60_000;
/// Padding after a key's group letter, before its number.
const PAD: usize = 200;
/// The bucket of the giant phase.
const GIANT_BUCKET: BucketId = 9;

/// The deep workload of `seed`, about `len` ops long (a sorted load of a
/// thousand keys counts as one op), and its engine options.
pub fn generate(seed: u64, len: usize) -> (DbConfig, Vec<Op>) {
    let mut rng = SimRng::new(seed ^ 0x6465_6570_7472_6565);
    let config = DbConfig {
        page_size: PAGE,
        max_log_size: [16u64 << 10, 32 << 10, 64 << 10][rng.below(3) as usize],
        cache_size: [8usize, 32, 256][rng.below(3) as usize] * PAGE,
        eventual: rng.chance(0.25),
    };
    let giant = rng.below(GIANT_ONE_IN) == 0;
    let max_key = vellum::Limits::for_page_size(PAGE).max_key_len;
    let mut g = Deep {
        rng,
        ops: Vec::with_capacity(len + 64),
        keys: BTreeMap::new(),
        max_key,
        readers: 0,
        in_txn: false,
    };
    if g.rng.chance(0.05) {
        let after = g.rng.below(30) as u32;
        g.ops.push(Op::ArmRecoveryCrash { after });
    }
    // A deep tree at once, in a named bucket and (half the time) in the
    // default bucket built by random puts.
    g.build(1);
    if g.rng.chance(0.5) {
        g.grow(0, 300, 600);
    }
    let giant_at = g.rng.between(0, 3);
    let mut episodes = 0;
    while g.ops.len() < len {
        if giant && episodes == giant_at {
            g.giant();
        }
        g.episode();
        episodes += 1;
    }
    if giant && episodes <= giant_at {
        g.giant();
    }
    g.close_txn();
    (config, g.ops)
}

/// The generator's state: its idea of the keys (it ignores aborts and
/// crashes; the runner's model is exact), readers and transaction.
struct Deep {
    rng: SimRng,
    ops: Vec<Op>,
    keys: BTreeMap<BucketId, BTreeSet<u64>>,
    max_key: usize,
    readers: usize,
    in_txn: bool,
}

impl Deep {
    fn push(&mut self, op: Op) {
        match &op {
            op if op.is_write() => self.in_txn = true,
            Op::Commit | Op::Abort => self.in_txn = false,
            Op::BeginRead => self.readers += 1,
            Op::EndRead { .. } => self.readers = self.readers.saturating_sub(1),
            Op::Reopen { .. } | Op::CrashNow => {
                self.readers = 0;
                self.in_txn = false;
            }
            _ => {}
        }
        self.ops.push(op);
    }

    fn close_txn(&mut self) {
        if self.in_txn {
            self.push(Op::Commit);
        }
    }

    /// Logical key `n`: a group letter, 200 bytes of padding common to
    /// all keys, the number, and a tail of 0 bytes up to the limit, a
    /// function of `n`. Keys sort by `n`, and neighbours share the padding
    /// and some digits, so the engine's shortest separators (suffix
    /// truncation) are still over 200 bytes and a branch holds about five
    /// children.
    fn key(&self, n: u64) -> Bytes {
        let group = (n * 5 / SPACE) as u8;
        let mut k = vec![b'a' + group];
        k.extend((0..PAD).map(|i| b'.' + (i % 70) as u8));
        k.extend(format!("{n:08}").into_bytes());
        let h = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
        let want = k.len() + h as usize % (self.max_key - k.len() + 1);
        while k.len() < want {
            k.push(b'#' + ((k.len() + n as usize) % 50) as u8);
        }
        Bytes(k)
    }

    fn existing(&mut self, b: BucketId) -> (u64, Bytes) {
        let n = match self.keys.get(&b) {
            Some(s) if !s.is_empty() => {
                let i = self.rng.below(s.len() as u64) as usize;
                *s.iter().nth(i).expect("in range")
            }
            _ => self.rng.below(SPACE),
        };
        (n, self.key(n))
    }

    /// Mostly small values (four entries to a leaf), some at the inline
    /// limit, some overflow runs of 2–64 pages and a few of up to 300.
    fn value(&mut self) -> Val {
        let ps = PAGE as u64;
        let len = match self.rng.below(100) {
            0..=79 => self.rng.below(24),
            80..=87 => self.rng.between(ps / 4 - 2, ps / 4 + 2),
            88..=97 => self.rng.between(2 * ps, 64 * ps),
            _ => self.rng.between(100 * ps, 300 * ps),
        };
        Val(len as u32, self.rng.next_u64() as u32)
    }

    /// Creates bucket `b` and sorted-loads 700–1,600 keys into it.
    fn build(&mut self, b: BucketId) {
        self.close_txn();
        self.push(Op::CreateBucket { b });
        let count = self.rng.between(700, 1600);
        let step = self.rng.between(1, 30);
        let first = self.rng.below(SPACE / 4);
        let ns: Vec<u64> = (0..count)
            .map(|i| first + i * step)
            .filter(|&n| n < SPACE)
            .collect();
        let keys = ns.iter().map(|&n| self.key(n)).collect();
        self.keys.insert(b, ns.into_iter().collect());
        let len = if self.rng.chance(0.2) {
            self.rng.between(300, 3000) as u32
        } else {
            self.rng.below(24) as u32
        };
        let fill = self.rng.between(5, 10) as u8;
        let v = Val(len, self.rng.next_u64() as u32);
        self.push(Op::LoadSorted { b, keys, v, fill });
        self.push(Op::Commit);
        self.after_big_change();
    }

    /// A transaction of `lo..=hi` random puts (and some inserts, deletes
    /// and reads) into `b`.
    fn grow(&mut self, b: BucketId, lo: u64, hi: u64) {
        for _ in 0..self.rng.between(lo, hi) {
            match self.rng.below(100) {
                0..=79 => {
                    let n = self.rng.below(SPACE);
                    let (k, v) = (self.key(n), self.value());
                    self.keys.entry(b).or_default().insert(n);
                    self.push(Op::Put { b, k, v });
                }
                80..=84 => {
                    let n = self.rng.below(SPACE);
                    let (k, v) = (self.key(n), self.value());
                    self.keys.entry(b).or_default().insert(n);
                    self.push(Op::Insert { b, k, v });
                }
                85..=92 => {
                    let (n, k) = self.existing(b);
                    self.forget(b, n, 1);
                    self.push(Op::Delete { b, k });
                }
                93 => {
                    // One byte past the limit: KeyTooLarge.
                    let k = Bytes(vec![b'z'; self.max_key + 1]);
                    let v = self.value();
                    self.push(Op::Put { b, k, v });
                }
                _ => {
                    let q = self.read(b);
                    self.push(Op::Read(q));
                }
            }
        }
        self.end_txn();
    }

    /// Long range deletes and deletes in `b`: whole subtrees go.
    fn drain(&mut self, b: BucketId) {
        for _ in 0..self.rng.between(1, 6) {
            let (n, from) = self.existing(b);
            let count = self.rng.between(50, 1200);
            self.forget(b, n, count as usize);
            self.push(Op::DeleteRange {
                b,
                from,
                n: count as u32,
            });
            for _ in 0..self.rng.below(20) {
                let (n, k) = self.existing(b);
                self.forget(b, n, 1);
                self.push(Op::Delete { b, k });
            }
        }
        self.end_txn();
    }

    fn forget(&mut self, b: BucketId, from: u64, count: usize) {
        if let Some(s) = self.keys.get_mut(&b) {
            let gone: Vec<u64> = s.range(from..).take(count).copied().collect();
            for n in gone {
                s.remove(&n);
            }
        }
    }

    /// Commit (mostly), abort, or leave the transaction open.
    fn end_txn(&mut self) {
        match self.rng.below(100) {
            0..=86 => self.push(Op::Commit),
            87..=94 => self.push(Op::Abort),
            _ => {}
        }
        self.after_big_change();
    }

    /// After a big change: often a checkpoint (many pages), often with a
    /// crash point or a failure inside it.
    fn after_big_change(&mut self) {
        if self.rng.chance(0.3) {
            return;
        }
        match self.rng.below(100) {
            0..=24 => {
                // At barrier 1 (every page pending) or 2 (the slot).
                let n = if self.rng.chance(0.75) { 1 } else { 2 };
                self.push(Op::CrashAtSync { n });
            }
            25..=49 => {
                // Somewhere in the page writes.
                let after = match self.rng.below(3) {
                    0 => self.rng.below(40),
                    1 => self.rng.below(400),
                    _ => self.rng.below(2000),
                } as u32;
                self.push(Op::ArmCrash { after });
            }
            50..=57 => {
                let io = if self.rng.chance(0.8) {
                    IoKind::Write
                } else {
                    IoKind::Sync
                };
                let n = self.rng.between(1, 300) as u32;
                let enospc = io == IoKind::Write && self.rng.chance(0.5);
                self.push(Op::Fault(FaultOp::FailNth { io, n, enospc }));
            }
            58..=63 => {
                let after = self.rng.below(300) as u32;
                self.push(Op::ArmRecoveryCrash { after });
                self.close_txn();
                self.push(Op::Checkpoint);
                self.push(Op::CrashNow);
                return;
            }
            _ => {}
        }
        self.close_txn();
        self.push(Op::Checkpoint);
    }

    fn episode(&mut self) {
        let b = if self.rng.chance(0.6) {
            1
        } else {
            self.rng.below(3) as BucketId
        };
        match self.rng.below(100) {
            0..=29 => self.grow(b, 40, 250),
            30..=44 => self.drain(b),
            45..=51 => {
                let nb = self.rng.between(2, 3) as BucketId;
                if self.keys.contains_key(&nb) {
                    self.close_txn();
                    self.keys.remove(&nb);
                    self.push(Op::DropBucket { b: nb });
                    self.push(Op::Commit);
                }
                self.build(nb);
            }
            52..=66 => {
                for _ in 0..self.rng.between(1, 6) {
                    let q = self.read(b);
                    self.push(Op::Read(q));
                }
            }
            67..=76 => self.readers(b),
            77..=80 => {
                self.close_txn();
                self.push(Op::Check);
            }
            81..=83 => {
                self.close_txn();
                let eventual = self.rng.chance(0.3);
                self.push(Op::Reopen { eventual });
            }
            84..=87 => self.push(Op::Sync),
            88..=93 => {
                self.close_txn();
                self.push(Op::CrashNow);
            }
            _ => {
                self.close_txn();
                self.after_big_change();
            }
        }
    }

    fn bound(&mut self, b: BucketId) -> KeyBound {
        match self.rng.below(4) {
            0 => KeyBound::Unbounded,
            1 | 2 => KeyBound::Incl(self.existing(b).1),
            _ => KeyBound::Excl(self.existing(b).1),
        }
    }

    /// A read of `b`: gets, bounded and limited scans, cursor walks across
    /// many leaves.
    fn read(&mut self, b: BucketId) -> Read {
        match self.rng.below(10) {
            0..=2 => {
                let k = if self.rng.chance(0.8) {
                    self.existing(b).1
                } else {
                    let n = self.rng.below(SPACE);
                    self.key(n)
                };
                Read::Get { b, k }
            }
            3 => Read::Len { b },
            4..=6 => {
                let lo = self.bound(b);
                let hi = self.bound(b);
                let limit = Some(self.rng.between(1, 200) as u32);
                Read::Range {
                    b,
                    lo,
                    hi,
                    rev: self.rng.chance(0.4),
                    limit,
                }
            }
            7 => {
                let k = self.existing(b).1;
                let cut = self.rng.between(1, PAD as u64 + 7) as usize;
                Read::Prefix {
                    b,
                    p: Bytes(k.0[..cut].to_vec()),
                    rev: self.rng.chance(0.3),
                }
            }
            _ => {
                let start = match self.rng.below(3) {
                    0 => CursorStart::First,
                    1 => CursorStart::Last,
                    _ => CursorStart::Seek(self.existing(b).1),
                };
                let n = self.rng.between(1, 120);
                let fwd = self.rng.chance(0.5);
                let moves = (0..n)
                    .map(|_| match (self.rng.below(20), fwd) {
                        (0, _) => 'c',
                        (1..=3, true) | (4..=19, false) => 'p',
                        _ => 'n',
                    })
                    .collect();
                Read::Cursor { b, start, moves }
            }
        }
    }

    fn readers(&mut self, b: BucketId) {
        if self.readers < 4 && self.rng.chance(0.5) {
            self.push(Op::BeginRead);
        } else if self.readers > 0 && self.rng.chance(0.3) {
            let r = self.rng.below(8) as u8;
            self.push(Op::EndRead { r });
        }
        for _ in 0..self.rng.between(1, 3) {
            let r = self.rng.below(8) as u8;
            let q = if self.rng.chance(0.2) {
                Read::Range {
                    b,
                    lo: KeyBound::Unbounded,
                    hi: KeyBound::Unbounded,
                    rev: self.rng.chance(0.5),
                    limit: None,
                }
            } else {
                self.read(b)
            };
            self.push(Op::ReaderRead { r, q });
        }
    }

    /// Overwrites one key with values of 150–200 MiB, a reader pinning
    /// each old version, until the file passes [`GIANT_TARGET`]; then
    /// crashes the next overwrite's checkpoint and deletes the key.
    fn giant(&mut self) {
        self.close_txn();
        while self.readers > 0 {
            self.push(Op::EndRead { r: 0 });
        }
        let b = GIANT_BUCKET;
        self.push(Op::CreateBucket { b });
        self.push(Op::Commit);
        let vals: Vec<Val> = (0..2)
            .map(|_| {
                let len = self.rng.between(150 << 20, 200 << 20) as u32;
                Val(len, self.rng.next_u64() as u32)
            })
            .collect();
        let k = Bytes(b"giant".to_vec());
        let mut pinned = 0u64;
        let mut i = 0;
        while pinned < GIANT_TARGET + (16 << 20) {
            let v = vals[i % 2];
            i += 1;
            self.push(Op::Put { b, k: k.clone(), v });
            self.push(Op::Commit);
            self.push(Op::BeginRead);
            pinned += u64::from(v.0);
        }
        // Checks the live version (and the deep trees); then the crashed
        // growth.
        self.push(Op::Read(Read::Get { b, k: k.clone() }));
        self.push(Op::Check);
        if self.rng.chance(0.5) {
            self.push(Op::CrashAtSync { n: 1 });
        } else {
            let after = self.rng.below(60) as u32;
            self.push(Op::ArmCrash { after });
        }
        self.push(Op::Put {
            b,
            k: k.clone(),
            v: vals[i % 2],
        });
        self.push(Op::Commit);
        self.push(Op::CrashNow);
        self.push(Op::Delete { b, k });
        self.push(Op::Commit);
        self.push(Op::Checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_number_and_reach_the_limit() {
        let (_, ops) = generate(1, 50);
        let loads: Vec<&Vec<Bytes>> = ops
            .iter()
            .filter_map(|o| match o {
                Op::LoadSorted { keys, .. } => Some(keys),
                _ => None,
            })
            .collect();
        let keys = loads[0];
        assert!(keys.len() >= 400, "{}", keys.len());
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let max = vellum::Limits::for_page_size(PAGE).max_key_len;
        assert!(keys.iter().all(|k| (PAD + 9..=max).contains(&k.0.len())));
        assert!(keys.iter().any(|k| k.0.len() == max));
    }

    #[test]
    fn some_seeds_have_a_giant_phase_past_the_target() {
        let giant = (0..40)
            .map(|s| generate(s, 200).1)
            .find(|ops| {
                ops.iter()
                    .any(|o| matches!(o, Op::CreateBucket { b } if *b == GIANT_BUCKET))
            })
            .expect("a giant seed in 40");
        let written: u64 = giant
            .iter()
            .filter_map(|o| match o {
                Op::Put { b, v, .. } if *b == GIANT_BUCKET => Some(u64::from(v.0)),
                _ => None,
            })
            .sum();
        assert!(written > GIANT_TARGET);
        assert_eq!(generate(7, 300), generate(7, 300));
    }
}
