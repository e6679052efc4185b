//! Directory entries (create, rename, remove, sync_dir) and locks.

use std::path::Path;

use crate::common::{lossless, read_all};
use vellum::vfs::{LockKind, OpenMode, Vfs};
use vellum_sim::{FaultConfig, SimVfs};

#[test]
fn create_without_sync_dir_may_vanish() {
    let (mut vanished, mut survived) = (0, 0);
    for seed in 0..100 {
        let vfs = SimVfs::new(seed, FaultConfig::profile("none").unwrap());
        let p = Path::new("/d/new");
        let f = vfs.open(p, OpenMode::CreateReadWrite).unwrap();
        f.write_at(b"data", 0).unwrap();
        f.sync().unwrap(); // data durable, entry not
        vfs.crash();
        if vfs.exists(p).unwrap() {
            survived += 1;
            assert_eq!(read_all(&vfs, p).unwrap(), b"data");
        } else {
            vanished += 1;
        }
    }
    assert!(vanished > 0 && survived > 0);
}

#[test]
fn create_with_sync_dir_survives() {
    for seed in 0..50 {
        let vfs = SimVfs::new(seed, FaultConfig::profile("chaos").unwrap());
        let p = Path::new("/d/new");
        vfs.open(p, OpenMode::CreateReadWrite).unwrap();
        if vfs.sync_dir(p).is_ok() {
            vfs.crash();
            assert!(vfs.exists(p).unwrap());
        }
    }
}

#[test]
fn rename_is_durable_after_sync_dir_of_target() {
    let vfs = SimVfs::new(1, FaultConfig::profile("none").unwrap());
    let (tmp, dst) = (Path::new("/d/tmp"), Path::new("/d/dst"));
    let old = vfs.open(dst, OpenMode::CreateReadWrite).unwrap();
    old.write_at(b"old", 0).unwrap();
    old.sync().unwrap();
    let new = vfs.open(tmp, OpenMode::CreateReadWrite).unwrap();
    new.write_at(b"new", 0).unwrap();
    new.sync().unwrap();
    vfs.rename(tmp, dst).unwrap();
    assert!(!vfs.exists(tmp).unwrap());
    vfs.sync_dir(dst).unwrap();
    vfs.crash();
    assert_eq!(read_all(&vfs, dst).unwrap(), b"new");
    assert!(!vfs.exists(tmp).unwrap());
}

#[test]
fn unsynced_rename_is_all_or_nothing() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..100 {
        let vfs = SimVfs::new(seed, FaultConfig::profile("none").unwrap());
        let (a, b) = (Path::new("/d/a"), Path::new("/d/b"));
        let f = vfs.open(a, OpenMode::CreateReadWrite).unwrap();
        f.write_at(b"A", 0).unwrap();
        f.sync().unwrap();
        vfs.sync_dir(a).unwrap();
        vfs.rename(a, b).unwrap();
        vfs.crash();
        outcomes.insert((vfs.exists(a).unwrap(), vfs.exists(b).unwrap()));
    }
    let expected: std::collections::BTreeSet<_> = [(true, false), (false, true)].into();
    assert_eq!(outcomes, expected);
}

#[test]
fn remove_is_volatile_until_sync_dir() {
    let vfs = SimVfs::new(2, lossless());
    let p = Path::new("/d/x");
    vfs.open(p, OpenMode::CreateReadWrite).unwrap();
    vfs.sync_dir(p).unwrap();
    vfs.remove(p).unwrap();
    assert!(!vfs.exists(p).unwrap());
    assert!(vfs.remove(p).is_err());
    vfs.sync_dir(p).unwrap();
    vfs.crash();
    assert!(!vfs.exists(p).unwrap());
    assert!(vfs.paths().is_empty());
}

#[test]
fn locks_shared_and_exclusive_across_handles() {
    let vfs = SimVfs::new(3, lossless());
    let p = Path::new("/d/db");
    let a = vfs.open(p, OpenMode::CreateReadWrite).unwrap();
    let b = vfs.open(p, OpenMode::ReadOnly).unwrap();
    let c = vfs.open(p, OpenMode::ReadOnly).unwrap();
    assert!(a.try_lock(LockKind::Exclusive).unwrap());
    assert!(!b.try_lock(LockKind::Shared).unwrap());
    a.unlock().unwrap();
    assert!(b.try_lock(LockKind::Shared).unwrap());
    assert!(c.try_lock(LockKind::Shared).unwrap());
    assert!(!a.try_lock(LockKind::Exclusive).unwrap());
    drop(b);
    c.unlock().unwrap();
    assert!(a.try_lock(LockKind::Exclusive).unwrap());
    // A crash releases every lock.
    vfs.sync_dir(p).unwrap();
    vfs.crash();
    let d = vfs.open(p, OpenMode::ReadWrite).unwrap();
    assert!(d.try_lock(LockKind::Exclusive).unwrap());
}
