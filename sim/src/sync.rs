//! What `sync` does to a file: the barrier that makes pending operations
//! durable, with its failure modes.
//!
//! - A successful sync applies every pending operation to the durable bytes
//!   in issue order, except for silent faults: a write may be lost (not
//!   applied though the sync succeeds) or misdirected (applied at another
//!   page-aligned offset); afterwards a bit of the durable data may flip and
//!   a sector may become latent. When a silent fault hits, the volatile view
//!   is rebuilt from the durable bytes, so reads see the damage at once.
//! - A failed sync (EIO) loses all, or a seeded subset (at least one), of the
//!   operations it covered for good; the others become durable. Reads keep
//!   returning the lost data (the page cache still holds it, marked clean)
//!   until a crash or [`crate::SimVfs::drop_caches`].

use crate::disk::{apply_op, FileState, PendingOp};
use crate::disk::{PAGE_SIZE, SECTOR_SIZE};
use crate::faults::FaultConfig;
use crate::log::Fault;
use crate::rng::SimRng;
use crate::sparse::Sparse;

/// Silent faults scheduled explicitly, and the once-per-run budget.
#[derive(Clone, Debug, Default)]
pub(crate) struct SilentSchedule {
    /// Successful syncs (covering at least one write) still to lose a write.
    pub(crate) lost_writes: u32,
    /// Successful syncs (covering at least one write) still to misdirect one.
    pub(crate) misdirects: u32,
    /// A misdirected write already happened in this run.
    pub(crate) misdirect_used: bool,
}

/// A successful sync. Returns the silent faults injected.
pub(crate) fn sync_ok(
    file: &mut FileState,
    cfg: &FaultConfig,
    rng: &mut SimRng,
    sched: &mut SilentSchedule,
) -> Vec<Fault> {
    let ops = std::mem::take(&mut file.pending);
    let n_writes = ops
        .iter()
        .filter(|op| matches!(op, PendingOp::Write { .. }))
        .count() as u64;
    let mut lost_idx = None;
    let mut mis_idx = None;
    if n_writes > 0 && sched.lost_writes > 0 {
        sched.lost_writes -= 1;
        lost_idx = Some(rng.below(n_writes));
    }
    if n_writes > 0 && sched.misdirects > 0 {
        sched.misdirects -= 1;
        mis_idx = Some(rng.below(n_writes));
    }
    let mut faults = Vec::new();
    let mut wi = 0u64;
    for op in &ops {
        let PendingOp::Write { offset, data } = op else {
            apply_op(&mut file.durable, op);
            continue;
        };
        let idx = wi;
        wi += 1;
        let len = data.len() as u64;
        if lost_idx == Some(idx) || rng.chance(cfg.lost_write) {
            faults.push(Fault::LostWrite {
                offset: *offset,
                len,
            });
            continue;
        }
        let misdirect =
            mis_idx == Some(idx) || (!sched.misdirect_used && rng.chance(cfg.misdirected_write));
        if misdirect {
            if let Some(target) = misdirect_target(&mut file.durable, *offset, len, rng) {
                sched.misdirect_used = true;
                file.durable.write(target, data);
                faults.push(Fault::MisdirectedWrite {
                    offset: *offset,
                    len,
                    landed_at: target,
                });
                continue;
            }
        }
        file.durable.write(*offset, data);
    }
    if cfg.log_bit_flip > 0.0 {
        log_bit_flip(file, &ops, cfg, rng, &mut faults);
    }
    let dlen = file.durable.len();
    if dlen > 0 && rng.chance(cfg.bit_flip) {
        let offset = rng.below(dlen);
        let bit = rng.below(8) as u8;
        file.durable.flip_bit(offset, bit);
        faults.push(Fault::BitFlip { offset, bit });
    }
    if dlen > 0 && rng.chance(cfg.latent_sector) {
        let sector = rng.below(dlen.div_ceil(SECTOR_SIZE));
        file.latent.insert(sector);
        faults.push(Fault::LatentSector {
            offset: sector * SECTOR_SIZE,
            len: SECTOR_SIZE,
        });
    }
    if faults
        .iter()
        .any(|f| !matches!(f, Fault::LatentSector { .. }))
    {
        file.rebuild_volatile();
    }
    faults
}

/// The log record magic (FORMAT.md §2.1).
const LOG_MAGIC: &[u8; 4] = b"VLOG";

/// Maybe flips a bit of a log record that an earlier sync made durable,
/// then remembers the records this sync made durable.
fn log_bit_flip(
    file: &mut FileState,
    ops: &[PendingOp],
    cfg: &FaultConfig,
    rng: &mut SimRng,
    faults: &mut Vec<Fault>,
) {
    let durable = &file.durable;
    // Records overwritten in any part since (the extent reused for other
    // pages, say), or cut off, are no longer candidates: a flip must land
    // in bytes that are still the record.
    file.log_records.retain(|&(o, l, h)| {
        durable
            .get(o, l)
            .is_some_and(|b| xxhash_rust::xxh3::xxh3_64(&b) == h)
    });
    if !file.log_records.is_empty() && rng.chance(cfg.log_bit_flip) {
        let i = rng.below(file.log_records.len() as u64) as usize;
        let (o, l, _) = file.log_records.remove(i);
        let offset = o + rng.below(l);
        let bit = rng.below(8) as u8;
        file.durable.flip_bit(offset, bit);
        faults.push(Fault::LogBitFlip { offset, bit });
    }
    let landed = |o: u64, data: &[u8]| {
        file.durable
            .get(o, data.len() as u64)
            .is_some_and(|b| b == data)
    };
    let new: Vec<(u64, u64, u64)> = ops
        .iter()
        .filter_map(|op| match op {
            PendingOp::Write { offset, data }
                if data.len() > 4 && data.starts_with(LOG_MAGIC) && landed(*offset, data) =>
            {
                Some((*offset, data.len() as u64, xxhash_rust::xxh3::xxh3_64(data)))
            }
            _ => None,
        })
        .collect();
    for (o, l, h) in new {
        file.log_records.retain(|&(p, _, _)| p != o);
        file.log_records.push((o, l, h));
    }
}

/// Picks where a misdirected write of `len` bytes meant for `offset` lands:
/// a different offset, a whole number of pages away, inside the file (which
/// is first extended to the intended end, as the file system's size update
/// is not misdirected). `None` when no such place exists.
fn misdirect_target(durable: &mut Sparse, offset: u64, len: u64, rng: &mut SimRng) -> Option<u64> {
    let end = offset + len;
    if durable.len() < end {
        durable.set_len(end);
    }
    let flen = durable.len();
    let below = offset / PAGE_SIZE; // pages we can move down
    let above = (flen - end) / PAGE_SIZE; // pages we can move up
    let choices = below + above;
    if choices == 0 {
        return None;
    }
    let pick = rng.below(choices);
    Some(if pick < below {
        offset - (pick + 1) * PAGE_SIZE
    } else {
        offset + (pick - below + 1) * PAGE_SIZE
    })
}

/// A failed sync: loses some or all covered operations for good.
pub(crate) fn sync_failed(file: &mut FileState, cfg: &FaultConfig, rng: &mut SimRng) -> Fault {
    let ops = std::mem::take(&mut file.pending);
    let covered = ops.len() as u64;
    if ops.is_empty() {
        return Fault::SyncLoss { covered, lost: 0 };
    }
    let mut lost: Vec<bool> = if rng.chance(cfg.failed_sync_drop_all) {
        vec![true; ops.len()]
    } else {
        ops.iter().map(|_| rng.chance(0.5)).collect()
    };
    if !lost.iter().any(|&l| l) {
        lost[rng.below(covered) as usize] = true;
    }
    for (op, &l) in ops.iter().zip(&lost) {
        if !l {
            apply_op(&mut file.durable, op);
        }
    }
    Fault::SyncLoss {
        covered,
        lost: lost.iter().filter(|&&l| l).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_sync_makes_everything_durable() {
        let mut f = FileState::default();
        f.write(b"hello", 3);
        f.set_len(6);
        let faults = sync_ok(
            &mut f,
            &FaultConfig::none(),
            &mut SimRng::new(0),
            &mut SilentSchedule::default(),
        );
        assert!(faults.is_empty());
        assert_eq!(f.durable, b"\0\0\0hel");
        assert_eq!(f.durable, f.volatile);
        assert!(f.pending.is_empty());
    }

    #[test]
    fn failed_sync_loses_at_least_one_op() {
        for seed in 0..50 {
            let mut f = FileState::default();
            f.write(b"a", 0);
            f.write(b"b", 1);
            let before = f.volatile.to_vec();
            let Fault::SyncLoss { covered, lost } =
                sync_failed(&mut f, &FaultConfig::none(), &mut SimRng::new(seed))
            else {
                panic!()
            };
            assert_eq!(covered, 2);
            assert!(lost >= 1);
            assert_ne!(f.durable, before);
            assert_eq!(f.volatile, before, "page cache keeps the data");
        }
    }

    #[test]
    fn misdirected_write_lands_a_page_away() {
        let mut f = FileState::default();
        f.write(&[0u8; 3 * 4096], 0);
        sync_ok(
            &mut f,
            &FaultConfig::none(),
            &mut SimRng::new(0),
            &mut SilentSchedule::default(),
        );
        f.write(&[7u8; 4096], 4096);
        let mut sched = SilentSchedule {
            misdirects: 1,
            ..Default::default()
        };
        let faults = sync_ok(
            &mut f,
            &FaultConfig::none(),
            &mut SimRng::new(5),
            &mut sched,
        );
        let [Fault::MisdirectedWrite { landed_at, .. }] = faults[..] else {
            panic!("{faults:?}")
        };
        assert!(landed_at == 0 || landed_at == 8192);
        let durable = f.durable.to_vec();
        assert!(durable[4096..8192].iter().all(|&b| b == 0));
        let l = landed_at as usize;
        assert!(durable[l..l + 4096].iter().all(|&b| b == 7));
        assert_eq!(f.volatile, f.durable);
    }
}
