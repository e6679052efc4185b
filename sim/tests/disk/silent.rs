//! Silent corruption: bit flips, lost and misdirected writes, latent sectors.

use crate::common::{disk, lossless, path, read_all};
use vellum::vfs::Vfs;
use vellum_sim::{ErrorCause, Fault, FaultConfig, SimIoError, SimVfs};

#[test]
fn latent_sector_error_until_rewritten() {
    let (vfs, f) = disk(1, lossless());
    f.write_at(&[5u8; 2048], 0).unwrap();
    f.sync().unwrap();
    vfs.add_latent_sector_error(path(), 600).unwrap();
    let mut buf = [0u8; 100];
    f.read_at(&mut buf, 0).unwrap(); // sector 0 is fine
    let err = f.read_at(&mut buf, 1000).unwrap_err();
    assert_eq!(SimIoError::of(&err), Some(SimIoError::Eio));
    assert!(f.read_at(&mut buf, 1000).is_err(), "stays bad");
    // It survives a crash: it is a property of the medium.
    vfs.crash();
    let f = vfs.open(path(), vellum::vfs::OpenMode::ReadWrite).unwrap();
    assert!(f.read_at(&mut buf, 1000).is_err());
    f.write_at(&[6u8; 10], 512).unwrap();
    f.read_at(&mut buf, 1000).unwrap();
    let log = vfs.injected_faults();
    assert!(log
        .iter()
        .any(|r| matches!(r.fault, Fault::LatentSector { offset: 512, .. })));
    assert!(log.iter().any(|r| matches!(
        r.fault,
        Fault::Error {
            cause: ErrorCause::LatentSector,
            ..
        }
    )));
    assert!(vfs.silent_faults_injected());
}

#[test]
fn bit_flip_is_visible_and_logged() {
    let (vfs, f) = disk(2, lossless());
    f.write_at(&[0u8; 100], 0).unwrap();
    f.sync().unwrap();
    vfs.flip_bit(path(), 42, 3).unwrap();
    let mut b = [0u8; 1];
    f.read_at(&mut b, 42).unwrap();
    assert_eq!(b[0], 8);
    assert!(vfs.flip_bit(path(), 100, 0).is_err());
    let (off, bit) = vfs.flip_random_bit(path()).unwrap();
    assert!(off < 100 && bit < 8);
    let flips = vfs
        .injected_faults()
        .into_iter()
        .filter(|r| matches!(r.fault, Fault::BitFlip { .. }))
        .count();
    assert_eq!(flips, 2);
    assert_eq!(vfs.stats().silent_faults, 2);
}

#[test]
fn lost_write_reports_success_but_is_not_durable() {
    let (vfs, f) = disk(3, lossless());
    f.write_at(&[1u8; 10], 0).unwrap();
    vfs.lose_next_synced_write();
    f.sync().unwrap();
    assert_eq!(vfs.durable_contents(path()).unwrap(), b"");
    vfs.crash();
    assert_eq!(read_all(&vfs, path()).unwrap(), b"");
    let log = vfs.injected_faults();
    assert!(matches!(
        log[0].fault,
        Fault::LostWrite { offset: 0, len: 10 }
    ));
}

#[test]
fn misdirected_write_lands_elsewhere() {
    let (vfs, f) = disk(4, lossless());
    f.write_at(&[0u8; 4 * 4096], 0).unwrap();
    f.sync().unwrap();
    f.write_at(&[9u8; 4096], 4096).unwrap();
    vfs.misdirect_next_synced_write();
    f.sync().unwrap();
    let d = vfs.durable_contents(path()).unwrap();
    assert!(d[4096..8192].iter().all(|&b| b == 0));
    let Fault::MisdirectedWrite { landed_at, .. } = vfs.injected_faults()[0].fault else {
        panic!()
    };
    assert_eq!(landed_at % 4096, 0);
    let l = landed_at as usize;
    assert!(d[l..l + 4096].iter().all(|&b| b == 9));
}

#[test]
fn silent_profile_injects_silent_faults_by_rate() {
    let vfs = SimVfs::with_profile(5, "silent").unwrap();
    let f = vfs
        .open(path(), vellum::vfs::OpenMode::CreateReadWrite)
        .unwrap();
    for i in 0..3000u64 {
        f.write_at(&[i as u8; 4096], (i % 16) * 4096).unwrap();
        f.sync().unwrap();
    }
    let log = vfs.injected_faults();
    assert!(log.iter().any(|r| r.fault.is_silent()));
    let misdirects = log
        .iter()
        .filter(|r| matches!(r.fault, Fault::MisdirectedWrite { .. }))
        .count();
    assert!(misdirects <= 1, "at most one misdirected write per run");
    // The profiles without silent faults inject none.
    assert!(!FaultConfig::profile("errors").unwrap().has_silent_faults());
}
