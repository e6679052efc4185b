//! A run is a pure function of the seed and the calls: the trace hash shows it.

use std::path::Path;

use vellum::vfs::{OpenMode, Vfs};
use vellum_sim::{FaultConfig, SimVfs};

/// A small workload with crashes, under every profile; returns the trace
/// hash and the final contents.
fn run(seed: u64, profile: &str) -> (u64, Option<Vec<u8>>, usize) {
    let vfs = SimVfs::with_profile(seed, profile).unwrap();
    let p = Path::new("/db/data");
    let mut f = vfs.open(p, OpenMode::CreateReadWrite).unwrap();
    let _ = vfs.sync_dir(p);
    for i in 0..400u64 {
        let off = (i * 7919) % (16 * 4096);
        let _ = f.write_at(&[(i % 251) as u8; 1500], off);
        if i % 5 == 0 {
            let _ = f.sync();
        }
        if i % 7 == 0 {
            let mut buf = [0u8; 100];
            let _ = f.read_at(&mut buf, off);
        }
        if i % 50 == 49 {
            vfs.schedule_crash_after(3);
        }
        if vfs.is_powered_off() {
            vfs.crash();
            f = match vfs.open(p, OpenMode::CreateReadWrite) {
                Ok(f) => f,
                Err(_) => continue,
            };
            let _ = vfs.sync_dir(p);
        }
    }
    vfs.crash();
    (
        vfs.trace_hash(),
        vfs.contents(p),
        vfs.injected_faults().len(),
    )
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    for profile in FaultConfig::profile_names() {
        let a = run(11, profile);
        let b = run(11, profile);
        assert_eq!(a, b, "profile {profile} is not deterministic");
        let c = run(12, profile);
        assert_ne!(a.0, c.0, "profile {profile}: seed does not matter");
    }
}

#[test]
fn clones_share_one_disk() {
    let vfs = SimVfs::new(1, FaultConfig::none());
    let other = vfs.clone();
    let p = Path::new("f");
    vfs.open(p, OpenMode::CreateReadWrite).unwrap();
    assert!(other.exists(p).unwrap());
    assert_eq!(vfs.trace_hash(), other.trace_hash());
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SimVfs>();
}
