//! Power loss: after every step of a workload, build images of what the
//! disk could hold if power were cut right then (unsynced writes lost,
//! partly kept, or torn at sector granularity) and recover each. The
//! recovered state must be one committed state no older than the last
//! durable commit (every acknowledged `Immediate` commit, everything before
//! a `sync` or checkpoint) and no newer than the last attempted one, and
//! `check()` must pass. A crash during recovery recovers the same state.

use std::path::Path;
use std::sync::Arc;

use vellum::{Db, Durability, Error, Options};
use vellum_tests::crash_vfs::{CrashVfs, Loss};
use vellum_tests::util::{dump, num_key, Buckets, Map, Rng};

fn opts(durability: Durability) -> Options {
    Options::new()
        .page_size(1024)
        .durability(durability)
        .max_log_size(32 * 1024)
        .cache_size(128 * 1024)
}

/// Applies step `i` to `db` and to a copy of `model`; returns the result,
/// the new model and whether the step makes everything durable.
fn step(db: &Db, i: u64, model: &Buckets, rng: &mut Rng) -> (vellum::Result<()>, Buckets, bool) {
    let mut next = model.clone();
    let mut barrier = false;
    let r = match i % 10 {
        0..=4 => {
            let n = 1 + rng.below(30);
            let mut puts = Vec::new();
            for _ in 0..n {
                let k = num_key("k", rng.below(400));
                let len = rng.index(120);
                let v = vec![(i % 251) as u8; len];
                puts.push((k, v));
            }
            for (k, v) in &puts {
                next.get_mut(&Vec::new())
                    .unwrap()
                    .insert(k.clone(), v.clone());
            }
            db.update(|tx| {
                for (k, v) in &puts {
                    tx.put(k, v)?;
                }
                Ok::<_, Error>(())
            })
        }
        5 => {
            let v: Vec<u8> = (0..20_000 + rng.index(20_000))
                .map(|j| (j as u64 ^ i) as u8)
                .collect();
            let k = num_key("big", i % 30);
            next.get_mut(&Vec::new())
                .unwrap()
                .insert(k.clone(), v.clone());
            db.update(|tx| tx.put(&k, &v))
        }
        6 => {
            barrier = true;
            db.checkpoint()
        }
        7 => {
            let name = num_key("bucket", i % 40);
            if next.remove(&name).is_some() {
                db.update(|tx| tx.drop_bucket(&name))
            } else {
                let mut m = Map::new();
                for j in 0..rng.below(100) {
                    m.insert(num_key("x", j), vec![j as u8; 30]);
                }
                next.insert(name.clone(), m.clone());
                db.update(|tx| {
                    let b = tx.create_bucket(&name)?;
                    for (k, v) in &m {
                        b.put(k, v)?;
                    }
                    Ok(())
                })
            }
        }
        8 => {
            let lo = rng.below(400);
            let dels: Vec<Vec<u8>> = (lo..lo + 60).map(|j| num_key("k", j)).collect();
            for k in &dels {
                next.get_mut(&Vec::new()).unwrap().remove(k);
            }
            db.update(|tx| {
                for k in &dels {
                    tx.delete(k)?;
                }
                Ok(())
            })
        }
        _ => {
            barrier = true;
            db.sync()
        }
    };
    (r, next, barrier)
}

/// Recovers `image` (also through a second crash during recovery) and
/// returns the index of the committed version it holds.
fn recover(
    image: Vec<u8>,
    durability: Durability,
    versions: &[Buckets],
    lo: usize,
    hi: usize,
    rng: &mut Rng,
    label: &str,
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image");
    std::fs::write(&path, &image).unwrap();
    let vfs = CrashVfs::new();
    let db = opts(durability)
        .vfs(Arc::new(vfs.clone()))
        .open(&path)
        .unwrap_or_else(|e| panic!("{label}: recovery failed: {e:?}"));
    let got = dump(&db).unwrap_or_else(|e| panic!("{label}: read after recovery failed: {e:?}"));
    let found = (lo..=hi).rev().find(|&v| versions[v] == got);
    let Some(v) = found else {
        let older = (0..lo).rev().find(|&v| versions[v] == got);
        panic!("{label}: recovered state is no committed state in {lo}..={hi} (matches older version {older:?})");
    };
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{label}: check after recovery: {report}");
    // Power fails again during or right after recovery (its checkpoint
    // maybe incomplete or torn).
    let loss = if rng.chance(1, 2) {
        Loss::AllUnsynced
    } else {
        Loss::RandomSectors
    };
    let at = rng.index(vfs.events(&path) + 1);
    let again = vfs.crash_image_at(&path, at, loss, rng);
    drop(db);
    recover_exactly(
        again,
        durability,
        &versions[v],
        &format!("{label}, crashed again during recovery"),
    );
    v
}

fn recover_exactly(image: Vec<u8>, durability: Durability, want: &Buckets, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image2");
    std::fs::write(&path, &image).unwrap();
    let db = opts(durability)
        .open(&path)
        .unwrap_or_else(|e| panic!("{label}: {e:?}"));
    assert!(
        &dump(&db).unwrap() == want,
        "{label}: a different state than the first recovery"
    );
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{label}: {report}");
}

fn run(durability: Durability, steps: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let vfs = CrashVfs::new();
    let db = opts(durability)
        .vfs(Arc::new(vfs.clone()))
        .open(&path)
        .unwrap();
    let mut rng = Rng::new(seed);
    let mut versions = vec![Buckets::from([(Vec::new(), Map::new())])];
    // The oldest version a power cut may fall back to.
    let mut floor = 0;
    // Images that recovered an older state than the latest: the harness
    // really loses writes.
    let mut fell_back = check_images(
        &vfs,
        &path,
        durability,
        &versions,
        floor,
        &mut rng,
        "after open",
    );
    for i in 0..steps {
        let current = versions.last().unwrap().clone();
        let events_before = vfs.events(&path);
        let floor_before = floor;
        let (r, next, barrier) = step(&db, i, &current, &mut rng);
        r.unwrap_or_else(|e| panic!("step {i}: {e:?}"));
        if next != current {
            versions.push(next);
        }
        if barrier || durability == Durability::Immediate {
            floor = versions.len() - 1;
        }
        assert!(
            dump(&db).unwrap() == *versions.last().unwrap(),
            "step {i}: live state differs from the model"
        );
        // Power cuts in the middle of the step (inside the commit or the
        // checkpoint): the step may or may not have happened.
        let events_after = vfs.events(&path);
        for _ in 0..3 {
            if events_after > events_before {
                let at = events_before + rng.index(events_after - events_before);
                let loss =
                    [Loss::AllUnsynced, Loss::RandomWrites, Loss::RandomSectors][rng.index(3)];
                let image = vfs.crash_image_at(&path, at, loss, &mut rng);
                let label = format!("{durability:?} step {i}, cut after event {at} of {events_before}..{events_after}, {loss:?}");
                let v = recover(
                    image,
                    durability,
                    &versions,
                    floor_before,
                    versions.len() - 1,
                    &mut rng,
                    &label,
                );
                fell_back += (v < versions.len() - 1) as u64;
            }
        }
        fell_back += check_images(
            &vfs,
            &path,
            durability,
            &versions,
            floor,
            &mut rng,
            &format!("{durability:?} step {i}"),
        );
    }
    assert!(
        fell_back > 0,
        "no power cut ever lost a write: the harness is not cutting"
    );
}

fn check_images(
    vfs: &CrashVfs,
    path: &Path,
    durability: Durability,
    versions: &[Buckets],
    floor: usize,
    rng: &mut Rng,
    label: &str,
) -> u64 {
    let hi = versions.len() - 1;
    let mut fell_back = 0;
    for loss in [Loss::AllUnsynced, Loss::RandomWrites, Loss::RandomSectors] {
        let image = vfs.crash_image(path, loss, rng);
        let v = recover(
            image,
            durability,
            versions,
            floor,
            hi,
            rng,
            &format!("{label}, {loss:?}"),
        );
        fell_back += (v < hi) as u64;
    }
    // Nothing lost (a killed process): the latest state exactly.
    let image = vfs.crash_image(path, Loss::Nothing, rng);
    recover(
        image,
        durability,
        versions,
        hi,
        hi,
        rng,
        &format!("{label}, nothing lost"),
    );
    fell_back
}

#[test]
fn power_loss_at_every_step_immediate() {
    run(Durability::Immediate, 60, 1);
}

#[test]
fn power_loss_at_every_step_eventual() {
    run(Durability::Eventual, 60, 2);
}

#[test]
fn power_loss_during_creation_leaves_an_openable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let vfs = CrashVfs::new();
    let db = opts(Durability::Immediate)
        .vfs(Arc::new(vfs.clone()))
        .open(&path)
        .unwrap();
    drop(db);
    // FORMAT.md §1.1: every write of the creation goes to the side file,
    // which is synced and then renamed into place. A cut before the rename
    // leaves no database (the next open creates it); a cut after it finds
    // the side file's synced image, which must be a complete empty database
    // even if nothing unsynced survived.
    let staging = vellum::create::staging_path(&path);
    let n = vfs.events(&staging);
    assert!(n >= 3, "the creation wrote to the side file ({n} events)");
    let empty = Buckets::from([(Vec::new(), Map::new())]);
    let mut rng = Rng::new(3);
    for loss in [Loss::AllUnsynced, Loss::RandomSectors, Loss::Nothing] {
        let image = vfs.crash_image_at(&staging, n, loss, &mut rng);
        recover_exactly(
            image,
            Durability::Immediate,
            &empty,
            &format!("creation image as renamed, {loss:?}"),
        );
    }
}
