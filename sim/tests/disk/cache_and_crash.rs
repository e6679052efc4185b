//! The volatile cache, sync as a barrier, and what a crash does.

use crate::common::{disk, lossless, path, read_all};
use vellum::vfs::{OpenMode, Vfs};
use vellum_sim::{FaultConfig, SimIoError, SimVfs};

#[test]
fn reads_see_pending_writes() {
    let (vfs, f) = disk(1, FaultConfig::profile("torn").unwrap());
    f.write_at(b"hello", 10).unwrap();
    assert_eq!(f.len().unwrap(), 15);
    let mut buf = [0u8; 15];
    f.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf[..10], &[0u8; 10]);
    assert_eq!(&buf[10..], b"hello");
    let mut past = [0u8; 2];
    let err = f.read_at(&mut past, 14).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(vfs.durable_contents(path()).unwrap(), b"");
    assert_eq!(vfs.pending_ops(), 1);
    f.set_len(12).unwrap();
    assert_eq!(vfs.contents(path()).unwrap(), b"\0\0\0\0\0\0\0\0\0\0he");
}

#[test]
fn sync_makes_writes_and_length_durable() {
    let (vfs, f) = disk(2, FaultConfig::profile("torn").unwrap());
    f.write_at(b"abc", 0).unwrap();
    f.set_len(5).unwrap();
    f.sync().unwrap();
    assert_eq!(vfs.durable_contents(path()).unwrap(), b"abc\0\0");
    assert_eq!(vfs.pending_ops(), 0);
}

#[test]
fn synced_data_survives_crash_in_profile_none() {
    for seed in 0..200 {
        let (vfs, f) = disk(seed, FaultConfig::profile("none").unwrap());
        f.write_at(&[7u8; 8192], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[9u8; 100], 8192).unwrap(); // unsynced append
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        assert!(data.len() == 8192 || data.len() == 8292, "seed {seed}");
        assert!(data[..8192].iter().all(|&b| b == 7), "seed {seed}");
    }
}

#[test]
fn crash_keeps_drops_or_tears_unsynced_writes() {
    let (mut kept, mut dropped, mut torn) = (0, 0, 0);
    for seed in 0..200 {
        let cfg = FaultConfig {
            torn_garbage: 0.0, // so every sector is recognisably old or new
            ..FaultConfig::profile("torn").unwrap()
        };
        let (vfs, f) = disk(seed, cfg);
        f.write_at(&[0xAA; 4096], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[0x55; 4096], 0).unwrap();
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        assert_eq!(data.len(), 4096);
        let new = data.iter().filter(|&&b| b == 0x55).count();
        let old = data.iter().filter(|&&b| b == 0xAA).count();
        match (new, old) {
            (4096, 0) => kept += 1,
            (0, 4096) => dropped += 1,
            _ => {
                torn += 1;
                // Tearing happens at 512-byte sectors.
                for sector in data.chunks(512) {
                    let first = sector[0];
                    let whole = sector.iter().all(|&b| b == first);
                    assert!(whole, "seed {seed}: a sector is mixed");
                }
            }
        }
    }
    assert!(
        kept > 10 && dropped > 10 && torn > 10,
        "{kept} {dropped} {torn}"
    );
}

#[test]
fn torn_garbage_corrupts_only_the_write_range() {
    let mut garbage = false;
    for seed in 0..200 {
        let cfg = FaultConfig {
            crash_keep_write: 0.0,
            crash_tear_write: 1.0,
            torn_garbage: 0.5,
            ..FaultConfig::none()
        };
        let (vfs, f) = disk(seed, cfg);
        f.write_at(&[0xAA; 2048], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[0x55; 1000], 100).unwrap();
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        assert!(data[..100].iter().all(|&b| b == 0xAA), "seed {seed}");
        assert!(data[1100..].iter().all(|&b| b == 0xAA), "seed {seed}");
        garbage |= data[100..1100].iter().any(|&b| b != 0xAA && b != 0x55);
    }
    assert!(garbage);
}

#[test]
fn crash_reorders_overlapping_writes() {
    // Two unsynced writes to the same place, both kept: with reordering the
    // older one sometimes wins.
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..100 {
        let cfg = FaultConfig {
            crash_keep_write: 1.0,
            crash_tear_write: 0.0,
            ..FaultConfig::none()
        };
        let (vfs, f) = disk(seed, cfg);
        f.write_at(b"1", 0).unwrap();
        f.write_at(b"2", 0).unwrap();
        vfs.crash();
        outcomes.insert(read_all(&vfs, path()).unwrap());
    }
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
}

#[test]
fn byte_unit_tears_inside_sectors() {
    let mut mixed_sector = false;
    for seed in 0..100 {
        let (vfs, f) = disk(seed, FaultConfig::profile("byte").unwrap());
        f.write_at(&[0u8; 512], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[1u8; 512], 0).unwrap();
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        let ones = data.iter().filter(|&&b| b == 1).count();
        mixed_sector |= ones > 0 && ones < 512;
    }
    assert!(mixed_sector);
}

#[test]
fn strict4k_never_tears_a_page() {
    for seed in 0..100 {
        let cfg = FaultConfig {
            torn_garbage: 0.0,
            ..FaultConfig::profile("strict4k").unwrap()
        };
        let (vfs, f) = disk(seed, cfg);
        f.write_at(&[0u8; 8192], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[1u8; 8192], 0).unwrap();
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        for page in data.chunks(4096) {
            assert!(page.iter().all(|&b| b == page[0]), "seed {seed}");
        }
    }
}

#[test]
fn growth_may_persist_without_its_data() {
    let (mut empty_growth, mut full, mut none) = (false, false, false);
    for seed in 0..200 {
        let (vfs, f) = disk(seed, FaultConfig::profile("none").unwrap());
        f.set_len(4096).unwrap();
        f.write_at(&[3u8; 4096], 0).unwrap();
        vfs.crash();
        let data = read_all(&vfs, path()).unwrap();
        match data.len() {
            0 => none = true,
            4096 if data.iter().all(|&b| b == 0) => empty_growth = true,
            4096 if data.iter().all(|&b| b == 3) => full = true,
            n => panic!("unexpected length {n}"),
        }
    }
    assert!(empty_growth && full && none);
}

#[test]
fn crash_invalidates_handles_and_clears_pending() {
    let (vfs, f) = disk(3, lossless());
    f.write_at(b"x", 0).unwrap();
    let report = vfs.crash();
    assert_eq!(report.writes_kept, 1);
    assert_eq!(report.handles_invalidated, 1);
    let err = f.write_at(b"y", 0).unwrap_err();
    assert_eq!(SimIoError::of(&err), Some(SimIoError::Crashed));
    assert_eq!(vfs.pending_ops(), 0);
    assert_eq!(read_all(&vfs, path()).unwrap(), b"x");
    assert_eq!(vfs.stats().crashes, 1);
}

#[test]
fn scheduled_crash_powers_off_after_n_operations() {
    let (vfs, f) = disk(4, lossless());
    vfs.schedule_crash_after(2);
    f.write_at(b"a", 0).unwrap();
    f.write_at(b"b", 1).unwrap();
    assert_eq!(vfs.crash_countdown(), Some(0));
    let err = f.write_at(b"c", 2).unwrap_err();
    assert_eq!(SimIoError::of(&err), Some(SimIoError::PoweredOff));
    assert!(vfs.is_powered_off());
    assert!(vfs.open(path(), OpenMode::ReadOnly).is_err());
    vfs.crash();
    assert!(!vfs.is_powered_off());
    assert_eq!(read_all(&vfs, path()).unwrap(), b"ab");

    // n = 0 powers off before the next operation.
    vfs.schedule_crash_after(0);
    assert!(vfs.exists(path()).is_err());
    vfs.crash();
    assert!(vfs.exists(path()).unwrap());
}

#[test]
fn garbage_unwritten_fills_exposed_growth() {
    let cfg = FaultConfig {
        crash_keep_write: 0.0,
        crash_keep_set_len: 1.0,
        garbage_unwritten: true,
        ..FaultConfig::none()
    };
    let vfs = SimVfs::new(5, cfg);
    let f = vfs.open(path(), OpenMode::CreateReadWrite).unwrap();
    vfs.sync_dir(path()).unwrap();
    f.set_len(4096).unwrap();
    f.write_at(&[0u8; 4096], 0).unwrap();
    vfs.crash();
    let data = read_all(&vfs, path()).unwrap();
    assert_eq!(data.len(), 4096);
    assert!(data.iter().any(|&b| b != 0));
}
