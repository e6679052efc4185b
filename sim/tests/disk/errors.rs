//! Reported errors: EIO, ENOSPC, failed syncs, read-only handles.

use crate::common::{disk, lossless, path, read_all};
use vellum::vfs::{OpenMode, Vfs};
use vellum_sim::{ErrorCause, Fault, FaultConfig, InjectedError, OpKind, SimIoError, SimVfs};

#[test]
fn failed_sync_loses_writes_for_good() {
    let mut all_lost = 0;
    for seed in 0..100 {
        let (vfs, f) = disk(seed, lossless());
        f.write_at(b"AAAA", 0).unwrap();
        f.sync().unwrap();
        f.write_at(b"B", 0).unwrap();
        f.write_at(b"C", 1).unwrap();
        f.write_at(b"D", 2).unwrap();
        vfs.fail_next(OpKind::Sync, InjectedError::Eio);
        let err = f.sync().unwrap_err();
        assert_eq!(SimIoError::of(&err), Some(SimIoError::Eio));
        // The page cache still shows the data (fsyncgate) ...
        assert_eq!(vfs.contents(path()).unwrap(), b"BCDA");
        // ... and retrying the sync "succeeds" without bringing it back.
        f.sync().unwrap();
        vfs.crash(); // lossless: any op still pending would survive
        let data = read_all(&vfs, path()).unwrap();
        assert_ne!(data, b"BCDA", "seed {seed}: a failed sync lost nothing");
        if data == b"AAAA" {
            all_lost += 1;
        }
        let faults = vfs.injected_faults();
        assert!(faults
            .iter()
            .any(|r| matches!(r.fault, Fault::SyncLoss { covered: 3, lost } if lost >= 1)));
    }
    assert!(all_lost > 0 && all_lost < 100);
}

#[test]
fn drop_caches_forgets_data_lost_by_failed_sync() {
    let (vfs, f) = disk(
        1,
        FaultConfig {
            failed_sync_drop_all: 1.0,
            ..lossless()
        },
    );
    f.write_at(b"x", 0).unwrap();
    vfs.fail_next(OpKind::Sync, InjectedError::Eio);
    assert!(f.sync().is_err());
    assert_eq!(f.len().unwrap(), 1);
    vfs.drop_caches();
    assert_eq!(f.len().unwrap(), 0);
}

#[test]
fn fail_nth_counts_operations_of_one_kind() {
    let (vfs, f) = disk(2, lossless());
    vfs.fail_nth(OpKind::Read, 3, InjectedError::Eio);
    f.write_at(b"abc", 0).unwrap();
    let mut b = [0u8; 1];
    f.read_at(&mut b, 0).unwrap();
    f.read_at(&mut b, 1).unwrap();
    assert!(f.read_at(&mut b, 2).is_err());
    f.read_at(&mut b, 2).unwrap();
    assert!(!vfs.has_scheduled_errors());
    vfs.fail_next(OpKind::Rename, InjectedError::Eio);
    assert!(vfs
        .rename(path(), std::path::Path::new("/db/other"))
        .is_err());
    assert!(vfs.exists(path()).unwrap());
}

#[test]
fn capacity_limit_returns_enospc() {
    let cfg = FaultConfig {
        capacity: Some(10_000),
        failed_write_partial: 0.0,
        ..lossless()
    };
    let (vfs, f) = disk(3, cfg);
    f.write_at(&[1u8; 8000], 0).unwrap();
    let err = f.write_at(&[2u8; 4000], 8000).unwrap_err();
    assert_eq!(SimIoError::of(&err), Some(SimIoError::Enospc));
    assert!(err.to_string().starts_with("ENOSPC"));
    // The part that fitted was written (a short write), like a real disk.
    assert_eq!(f.len().unwrap(), 10_000);
    // Overwrites inside the file still work; growth does not.
    f.write_at(&[3u8; 100], 0).unwrap();
    assert!(f.set_len(10_001).is_err());
    // Freeing space makes room again.
    f.set_len(1000).unwrap();
    f.write_at(&[4u8; 4000], 1000).unwrap();
    // Other files share the capacity.
    let g = vfs
        .open(std::path::Path::new("/db/other"), OpenMode::CreateReadWrite)
        .unwrap();
    assert!(g.write_at(&[0u8; 6000], 0).is_err());
    let faults = vfs.injected_faults();
    assert!(faults.iter().any(|r| matches!(
        r.fault,
        Fault::Error {
            cause: ErrorCause::Capacity,
            ..
        }
    )));
}

#[test]
fn failed_write_may_apply_a_prefix() {
    let mut partial = false;
    let mut nothing = false;
    for seed in 0..50 {
        let (vfs, f) = disk(seed, lossless());
        vfs.fail_next(OpKind::Write, InjectedError::Eio);
        assert!(f.write_at(&[1u8; 100], 0).is_err());
        let len = f.len().unwrap();
        assert!(len < 100);
        partial |= len > 0;
        nothing |= len == 0;
    }
    assert!(partial && nothing);
}

#[test]
fn error_profile_injects_errors_by_rate() {
    let vfs = SimVfs::with_profile(9, "errors").unwrap();
    let f = vfs.open(path(), OpenMode::CreateReadWrite).unwrap();
    let mut failures = 0;
    for i in 0..2000u64 {
        if f.write_at(&[i as u8; 64], (i % 32) * 64).is_err() {
            failures += 1;
        }
        if i % 10 == 0 && f.sync().is_err() {
            failures += 1;
        }
    }
    assert!(failures > 0);
    assert_eq!(vfs.stats().injected_errors, failures);
    assert!(vfs.injected_faults().iter().all(|r| !r.fault.is_silent()));
}

#[test]
fn read_only_handle_cannot_write() {
    let (vfs, _f) = disk(4, lossless());
    let ro = vfs.open(path(), OpenMode::ReadOnly).unwrap();
    let err = ro.write_at(b"x", 0).unwrap_err();
    assert_eq!(SimIoError::of(&err), Some(SimIoError::ReadOnlyHandle));
    assert!(ro.set_len(3).is_err());
    let missing = vfs.open(std::path::Path::new("/nope"), OpenMode::ReadWrite);
    assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
}
