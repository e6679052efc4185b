//! Crash resolution: what a power loss makes of a file's unsynced operations.
//!
//! For each pending operation, in issue order, the RNG decides:
//! - a `set_len` persists with probability
//!   [`FaultConfig::crash_keep_set_len`], else it is dropped;
//! - a write is kept whole ([`FaultConfig::crash_keep_write`]), torn
//!   ([`FaultConfig::crash_tear_write`]) or dropped (the rest).
//!
//! A torn write is cut at [`FaultConfig::atomic_unit`] boundaries (aligned to
//! file offsets) and lands its left part, its right part or a random subset
//! of its units (one third each); never all and never none. Each unit that
//! does not land keeps its old bytes or, with probability
//! [`FaultConfig::torn_garbage`], holds garbage (only within the write's own
//! byte range). A torn write that extends the file grows it to its full end
//! or only to the end of its last landed unit (one half each). A write that
//! fits in one unit cannot tear: it is kept or dropped (one half each).
//!
//! The surviving operations are then applied to the durable bytes. With
//! [`FaultConfig::crash_reorder`], the writes between two surviving
//! `set_len` operations are applied in a random order, so an older write to
//! the same place may win over a newer one. Regions exposed by growth that
//! no landed byte covers read as zeros, or as garbage with
//! [`FaultConfig::garbage_unwritten`].

use crate::disk::{FileState, PendingOp};
use crate::faults::FaultConfig;
use crate::rng::SimRng;
use crate::sparse::Sparse;

/// What one crash did, summed over all files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced writes that persisted whole.
    pub writes_kept: u64,
    /// Unsynced writes that persisted in part.
    pub writes_torn: u64,
    /// Unsynced writes that were lost.
    pub writes_dropped: u64,
    /// Unsynced `set_len` operations that persisted.
    pub set_lens_kept: u64,
    /// Unsynced `set_len` operations that were lost.
    pub set_lens_dropped: u64,
    /// Directory operations not made durable by `sync_dir` that persisted.
    pub dir_ops_kept: u64,
    /// Directory operations not made durable by `sync_dir` that were lost.
    pub dir_ops_dropped: u64,
    /// Paths that existed before the crash and are gone after it.
    pub paths_lost: u64,
    /// Open handles invalidated.
    pub handles_invalidated: u64,
}

/// How one write lands.
enum Landing {
    /// Every byte.
    Whole { offset: u64, data: Vec<u8> },
    /// Some units. `units[i]` says what unit `i` (counted from the unit
    /// holding `offset`) becomes.
    Torn {
        offset: u64,
        data: Vec<u8>,
        units: Vec<UnitFate>,
        full_length: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UnitFate {
    Landed,
    Old,
    Garbage,
}

/// A surviving operation, in the order it will be applied.
enum Step {
    SetLen(u64),
    Write(Landing),
}

/// Resolves `file`'s pending operations into its durable bytes and resets
/// the file to its durable state.
pub(crate) fn crash_file(
    file: &mut FileState,
    cfg: &FaultConfig,
    rng: &mut SimRng,
    report: &mut CrashReport,
) {
    let ops = std::mem::take(&mut file.pending);
    let mut plan = decide(ops, cfg, rng, report);
    if cfg.crash_reorder {
        shuffle_between_set_lens(&mut plan, rng);
    }
    for step in plan {
        match step {
            Step::SetLen(len) => grow_or_truncate(&mut file.durable, len, cfg, rng),
            Step::Write(landing) => apply_landing(&mut file.durable, landing, cfg, rng),
        }
    }
    file.latent
        .retain(|&s| s * crate::disk::SECTOR_SIZE < file.durable.len());
    file.reset_to_durable();
}

/// Draws the fate of every pending operation.
fn decide(
    ops: Vec<PendingOp>,
    cfg: &FaultConfig,
    rng: &mut SimRng,
    report: &mut CrashReport,
) -> Vec<Step> {
    let unit = cfg.unit();
    let mut plan = Vec::new();
    for op in ops {
        match op {
            PendingOp::SetLen { len } => {
                if rng.chance(cfg.crash_keep_set_len) {
                    report.set_lens_kept += 1;
                    plan.push(Step::SetLen(len));
                } else {
                    report.set_lens_dropped += 1;
                }
            }
            PendingOp::Write { offset, data } => {
                let draw = rng.unit_f64();
                let n_units = unit_count(offset, data.len() as u64, unit);
                let fate = if draw < cfg.crash_keep_write {
                    0
                } else if draw < cfg.crash_keep_write + cfg.crash_tear_write {
                    if n_units >= 2 {
                        1
                    } else if rng.chance(0.5) {
                        0
                    } else {
                        2
                    }
                } else {
                    2
                };
                match fate {
                    0 => {
                        report.writes_kept += 1;
                        plan.push(Step::Write(Landing::Whole { offset, data }));
                    }
                    1 => {
                        report.writes_torn += 1;
                        let units = tear_units(n_units, cfg, rng);
                        let full_length = rng.chance(0.5);
                        plan.push(Step::Write(Landing::Torn {
                            offset,
                            data,
                            units,
                            full_length,
                        }));
                    }
                    _ => report.writes_dropped += 1,
                }
            }
        }
    }
    plan
}

/// Number of atomic units the byte range `offset..offset+len` touches.
fn unit_count(offset: u64, len: u64, unit: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    (offset + len - 1) / unit - offset / unit + 1
}

/// Chooses which of `n >= 2` units land: left part, right part or a random
/// subset, never all and never none.
fn tear_units(n: u64, cfg: &FaultConfig, rng: &mut SimRng) -> Vec<UnitFate> {
    let n = n as usize;
    let mut landed = vec![false; n];
    match rng.below(3) {
        0 => {
            let k = rng.between(1, n as u64 - 1) as usize;
            landed[..k].iter_mut().for_each(|l| *l = true);
        }
        1 => {
            let k = rng.between(1, n as u64 - 1) as usize;
            landed[n - k..].iter_mut().for_each(|l| *l = true);
        }
        _ => {
            for l in landed.iter_mut() {
                *l = rng.chance(0.5);
            }
            if landed.iter().all(|&l| l) {
                landed[rng.below(n as u64) as usize] = false;
            } else if !landed.iter().any(|&l| l) {
                landed[rng.below(n as u64) as usize] = true;
            }
        }
    }
    landed
        .into_iter()
        .map(|l| {
            if l {
                UnitFate::Landed
            } else if rng.chance(cfg.torn_garbage) {
                UnitFate::Garbage
            } else {
                UnitFate::Old
            }
        })
        .collect()
}

/// Shuffles each run of writes between two `set_len` steps.
fn shuffle_between_set_lens(plan: &mut [Step], rng: &mut SimRng) {
    for run in plan.split_mut(|s| matches!(s, Step::SetLen(_))) {
        rng.shuffle(run);
    }
}

/// Applies a persisted `set_len`; fresh bytes are zeros or garbage.
fn grow_or_truncate(buf: &mut Sparse, len: u64, cfg: &FaultConfig, rng: &mut SimRng) {
    let old = buf.len();
    buf.set_len(len);
    if cfg.garbage_unwritten && len > old {
        buf.fill_garbage(old, len, rng);
    }
}

/// Extends `buf` to at least `end` bytes; fresh bytes are zeros or garbage.
fn extend_to(buf: &mut Sparse, end: u64, cfg: &FaultConfig, rng: &mut SimRng) {
    if buf.len() < end {
        grow_or_truncate(buf, end, cfg, rng);
    }
}

fn apply_landing(buf: &mut Sparse, landing: Landing, cfg: &FaultConfig, rng: &mut SimRng) {
    match landing {
        Landing::Whole { offset, data } => {
            extend_to(buf, offset + data.len() as u64, cfg, rng);
            buf.write(offset, &data);
        }
        Landing::Torn {
            offset,
            data,
            units,
            full_length,
        } => {
            let unit = cfg.unit();
            let write_end = offset + data.len() as u64;
            let first_unit = offset / unit;
            // Byte range of unit i within the write.
            let range = |i: usize| {
                let u = first_unit + i as u64;
                let s = (u * unit).max(offset);
                let e = ((u + 1) * unit).min(write_end);
                (s, e)
            };
            let end = if full_length {
                write_end
            } else {
                units
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| **f == UnitFate::Landed)
                    .map(|(i, _)| range(i).1)
                    .max()
                    .unwrap_or(offset)
            };
            extend_to(buf, end, cfg, rng);
            let limit = buf.len();
            for (i, fate) in units.iter().enumerate() {
                let (s, e) = range(i);
                let e = e.min(limit);
                if s >= e {
                    continue;
                }
                match fate {
                    UnitFate::Landed => {
                        buf.write(s, &data[(s - offset) as usize..(e - offset) as usize])
                    }
                    UnitFate::Garbage => buf.fill_garbage(s, e, rng),
                    UnitFate::Old => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_pending(ops: &[(u64, Vec<u8>)]) -> FileState {
        let mut f = FileState::default();
        for (off, data) in ops {
            f.write(data, *off);
        }
        f
    }

    #[test]
    fn unit_counts() {
        assert_eq!(unit_count(0, 512, 512), 1);
        assert_eq!(unit_count(1, 512, 512), 2);
        assert_eq!(unit_count(0, 4096, 512), 8);
        assert_eq!(unit_count(100, 0, 512), 0);
    }

    #[test]
    fn keep_all_config_keeps_everything_in_order() {
        let cfg = FaultConfig {
            crash_keep_write: 1.0,
            crash_tear_write: 0.0,
            crash_keep_set_len: 1.0,
            crash_reorder: false,
            ..FaultConfig::none()
        };
        let mut f = file_with_pending(&[(0, vec![1; 1000]), (500, vec![2; 1000])]);
        let expect = f.volatile.to_vec();
        let mut r = CrashReport::default();
        crash_file(&mut f, &cfg, &mut SimRng::new(1), &mut r);
        assert_eq!(f.durable, expect);
        assert_eq!(r.writes_kept, 2);
    }

    #[test]
    fn torn_writes_mix_old_and_new_units() {
        let cfg = FaultConfig {
            crash_keep_write: 0.0,
            crash_tear_write: 1.0,
            torn_garbage: 0.0,
            ..FaultConfig::none()
        };
        for seed in 0..50 {
            let mut f = FileState {
                durable: vec![0xAA; 4096].into(),
                volatile: vec![0xAA; 4096].into(),
                ..Default::default()
            };
            f.write(&[0x55; 4096], 0);
            let mut r = CrashReport::default();
            crash_file(&mut f, &cfg, &mut SimRng::new(seed), &mut r);
            assert_eq!(r.writes_torn, 1);
            let durable = f.durable.to_vec();
            let new = durable.chunks(512).filter(|c| c.iter().all(|&b| b == 0x55));
            let old = durable.chunks(512).filter(|c| c.iter().all(|&b| b == 0xAA));
            let (n, o) = (new.count(), old.count());
            assert_eq!(n + o, 8, "every sector is wholly old or new");
            assert!(n > 0 && o > 0);
        }
    }
}
