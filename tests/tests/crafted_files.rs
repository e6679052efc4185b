//! Files built by hand against docs/FORMAT.md with valid checksums and
//! hostile contents (`vellum_tests::crafted`): each is opened read-only
//! and read-write, read, written, checked, closed and reopened. The rules:
//! no panic, hang or unbounded allocation; damage is `Error::Corruption`
//! (or a report from `Db::check`), and what the damage does not touch is
//! still there.

use std::path::Path;
use std::sync::Arc;

use vellum::vfs::{OpenMode, Vfs};
use vellum::{Db, Error, Options};
use vellum_sim::{FaultConfig, SimVfs};
use vellum_tests::crafted::hostile::{self, build, Hostile, Params, ALL, BUCKET};
use vellum_tests::crafted::key_limit;
use vellum_tests::fuzz_targets::{input_for, run_crafted_file};

const PATH: &str = "/crafted/db.vellum";

fn disk(image: &[u8]) -> SimVfs {
    let vfs = SimVfs::new(0, FaultConfig::none());
    let f = vfs
        .open(Path::new(PATH), OpenMode::CreateReadWrite)
        .unwrap();
    f.write_at(image, 0).unwrap();
    f.sync().unwrap();
    vfs.sync_dir(Path::new(PATH)).unwrap();
    vfs
}

fn open(vfs: &SimVfs, ps: usize, ro: bool) -> vellum::Result<Db> {
    Options::new()
        .vfs(Arc::new(vfs.clone()))
        .page_size(ps)
        .read_only(ro)
        .create(false)
        .open(PATH)
}

/// The file of `kind` with default parameters (1 KiB pages), on a disk.
fn file(kind: Hostile) -> (SimVfs, Params) {
    file_with(kind, Params::default())
}

fn file_with(kind: Hostile, p: Params) -> (SimVfs, Params) {
    (disk(&build(kind, &p)), p)
}

fn is_corruption(r: &vellum::Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(Error::Corruption { .. }))
}

/// Both opens fail with `Error::Corruption` and leave the file unchanged.
fn assert_open_refused(kind: Hostile, p: Params, why: &str) {
    let image = build(kind, &p);
    for ro in [true, false] {
        let vfs = disk(&image);
        match open(&vfs, p.ps, ro) {
            Err(Error::Corruption { reason, .. }) => {
                assert!(reason.contains(why), "{kind:?}: {reason}")
            }
            Err(e) => panic!("{kind:?} (read_only={ro}): {e:?}"),
            Ok(_) => panic!("{kind:?} (read_only={ro}): opened"),
        }
        assert!(
            vfs.contents(Path::new(PATH)).as_deref() == Some(&image[..]),
            "{kind:?}: a refused open changed the file"
        );
    }
}

/// The problems `Db::check` reports.
fn problems(db: &Db) -> Vec<String> {
    db.check().expect("check runs").problems
}

fn has(problems: &[String], what: &str) -> bool {
    problems.iter().any(|p| p.contains(what))
}

/// Every key of the named bucket `b` reads back (the damage is elsewhere).
fn bucket_b_intact(db: &Db, ps: usize) {
    db.view(|tx| {
        let b = tx.bucket(BUCKET)?;
        assert_eq!(b.get(b"a")?.as_deref(), Some(&b"1"[..]));
        assert_eq!(b.get(b"big")?.as_deref(), Some(&hostile::big_value(ps)[..]));
        assert_eq!(b.get(b"c")?.as_deref(), Some(&b"3"[..]));
        Ok(())
    })
    .expect("bucket b reads");
}

/// Every kind, at three page sizes and several parameters, through the
/// fuzz target's body (open read-only and read-write, read everything,
/// write, close, reopen): no panic. The baseline file is sound.
#[test]
fn every_hostile_kind_is_opened_read_and_written_without_panic() {
    for i in 0..ALL.len() {
        for (ps, keys, per_leaf, pick, extra) in [
            (1024, 24, 6, 0, 1),
            (1024, 60, 9, 1, 700),
            (2048, 30, 4, 2, 3),
            (4096, 12, 3, 3, 65535),
            (1024, 4, 31, 7, 0),
            (2048, 259, 2, 65535, 40),
        ] {
            let p = Params {
                ps,
                keys,
                per_leaf,
                pick,
                extra,
            };
            for write in [true, false] {
                run_crafted_file(&input_for(i, &p, write));
            }
        }
    }
    let (vfs, p) = file(Hostile::None);
    let db = open(&vfs, p.ps, false).unwrap();
    assert_eq!(problems(&db), Vec::<String>::new());
    assert_eq!(db.begin_read().unwrap().len(), 24);
    bucket_b_intact(&db, p.ps);
}

/// Keys longer than the key limit plus one, inline values over `P/4` and
/// overflow values over 1 GiB are corruption on every path that reads the
/// page, for `check` too; other pages still read.
#[test]
fn oversized_keys_and_values_are_corruption() {
    for kind in [Hostile::OversizedKey, Hostile::OversizedInlineValue] {
        let (vfs, p) = file(kind);
        let db = open(&vfs, p.ps, false).unwrap();
        let k = hostile::key(p.pick | 1);
        assert!(
            is_corruption(&db.view(|tx| tx.get(&k).map(|v| v.map(|v| v.to_vec())))),
            "{kind:?}"
        );
        let r = db.update(|tx| tx.put(&k, b"new"));
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        assert!(!problems(&db).is_empty());
        // A key in another leaf reads.
        let far = hostile::key(p.keys - 1);
        let v = db.view(|tx| Ok(tx.get(&far)?.map(|v| v.to_vec()))).unwrap();
        assert_eq!(v, Some(hostile::value(p.keys - 1)), "{kind:?}");
        bucket_b_intact(&db, p.ps);
    }
    let (vfs, p) = file(Hostile::OversizedOverflowValue);
    let db = open(&vfs, p.ps, false).unwrap();
    let r = db.view(|tx| Ok(tx.bucket(BUCKET)?.get(b"big")?.map(|v| v.len())));
    assert!(is_corruption(&r), "{r:?}");
    assert!(has(&problems(&db), "out of range for its kind"));
}

/// Keys one byte past the key limit (the most a page admits, for catalog
/// keys) with the largest inline values: two to a page. Reading them works,
/// `get` refuses the key as too large, and puts that split those leaves
/// leave a sound tree.
#[test]
fn keys_at_the_page_limit_split_cleanly() {
    for ps in [1024, 4096] {
        let (vfs, p) = file_with(
            Hostile::KeysAtPageLimit,
            Params {
                ps,
                ..Params::default()
            },
        );
        let db = open(&vfs, p.ps, false).unwrap();
        let keys: Vec<Vec<u8>> = db
            .begin_read()
            .unwrap()
            .iter()
            .map(|e| e.unwrap().key().to_vec())
            .collect();
        assert_eq!(keys.len(), 4);
        assert!(keys.iter().all(|k| k.len() == key_limit(ps) + 1));
        let r = db.view(|tx| tx.get(&keys[0]).map(|v| v.is_some()));
        assert!(matches!(r, Err(Error::KeyTooLarge { .. })), "{r:?}");
        db.update(|tx| {
            for k in &keys {
                let mut next = k[..key_limit(ps) - 1].to_vec();
                next.push(b'y');
                tx.put(&next, vec![7u8; ps / 4])?;
            }
            Ok(())
        })
        .unwrap();
        db.checkpoint().unwrap();
        assert_eq!(problems(&db), Vec::<String>::new());
        assert_eq!(db.begin_read().unwrap().len(), 8);
    }
}

/// Duplicate and unsorted keys inside a leaf make the page invalid: reads
/// of it and writes into it are corruption.
#[test]
fn duplicate_and_unsorted_keys_in_a_leaf_are_corruption() {
    for kind in [Hostile::DuplicateKeys, Hostile::UnsortedKeys] {
        let (vfs, p) = file(kind);
        let db = open(&vfs, p.ps, false).unwrap();
        let k = hostile::key(0);
        let r = db.view(|tx| tx.get(&k).map(|v| v.is_some()));
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        let r = db.update(|tx| tx.put(&k, b"x"));
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        assert!(has(&problems(&db), "keys out of order"), "{kind:?}");
        bucket_b_intact(&db, p.ps);
    }
}

/// Separators that disagree with their children (a key below its
/// separator, the same key at the end of one leaf and the start of the
/// next): `check` reports it, and a write that copies or merges such a
/// child is corruption instead of building a page with keys out of order
/// (which the check before writing would stop on, a panic).
#[test]
fn separators_that_disagree_with_children_are_corruption_on_write() {
    for kind in [Hostile::SeparatorMismatch, Hostile::DuplicateAcrossLeaves] {
        let (vfs, p) = file(kind);
        let db = open(&vfs, p.ps, false).unwrap();
        assert!(has(&problems(&db), "outside its separators"), "{kind:?}");
        // Keys of child 0 at or above the separator.
        let r = db.update(|tx| {
            for i in 0..p.keys {
                tx.put(hostile::key(i), [1u8; 200])?;
            }
            Ok(())
        });
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        let r = db.update(|tx| {
            for i in 0..p.keys {
                tx.delete(hostile::key(i))?;
            }
            Ok(())
        });
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        db.checkpoint().unwrap();
        bucket_b_intact(&db, p.ps);
        drop(db);
        let db = open(&vfs, p.ps, false).unwrap();
        bucket_b_intact(&db, p.ps);
    }
}

/// A child reference to its own page or to an ancestor cannot carry a
/// valid checksum; a chain deeper than the file allows can. Both are
/// corruption on read and write.
#[test]
fn cycles_and_chains_deeper_than_the_file_are_corruption() {
    for kind in [
        Hostile::SelfCycle,
        Hostile::AncestorCycle,
        Hostile::DeepChain,
    ] {
        let (vfs, p) = file(kind);
        let db = open(&vfs, p.ps, false).unwrap();
        let n = db
            .begin_read()
            .unwrap()
            .iter()
            .take(1000)
            .take_while(|e| e.is_ok())
            .count();
        assert!(n < 1000, "{kind:?}: the walk did not stop");
        let r = db.view(|tx| tx.get(hostile::key(0)).map(|v| v.is_some()));
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        let r = db.update(|tx| tx.put(hostile::key(0), b"x"));
        assert!(is_corruption(&r), "{kind:?}: {r:?}");
        assert!(!problems(&db).is_empty());
        bucket_b_intact(&db, p.ps);
    }
}

/// A page referenced twice (two children of one branch, two buckets'
/// roots, a bucket's root that is a catalog page) is reported by `check`;
/// writes do not panic and the other bucket keeps its data.
#[test]
fn pages_referenced_twice_are_reported() {
    let (vfs, p) = file(Hostile::SharedChild);
    let db = open(&vfs, p.ps, false).unwrap();
    assert!(has(&problems(&db), "referenced twice"));
    let _ = db.update(|tx| tx.put(b"k9zz", b"x"));
    let _ = db.checkpoint();
    bucket_b_intact(&db, p.ps);

    for kind in [Hostile::SharedAcrossBuckets, Hostile::BucketRootIsCatalog] {
        let (vfs, p) = file(kind);
        let db = open(&vfs, p.ps, false).unwrap();
        assert!(has(&problems(&db), "referenced twice"), "{kind:?}");
        let r = db.update(|tx| tx.bucket(BUCKET)?.put(b"zz", b"x"));
        let _ = (r, db.checkpoint());
        drop(db);
        // A read-write open may refuse the file (its recovery checkpoint
        // meets the shared page again); read-only, every key is there.
        let rw = open(&vfs, p.ps, false);
        assert!(rw.is_ok() || is_corruption(&rw), "{kind:?}: {:?}", rw.err());
        drop(rw);
        let db = open(&vfs, p.ps, true).unwrap();
        let n = db
            .begin_read()
            .unwrap()
            .iter()
            .take(100)
            .filter(|e| e.is_ok())
            .count();
        assert_eq!(n, p.keys, "{kind:?}: the default bucket lost keys");
    }
}

/// A key count that disagrees with the tree is reported, and puts and
/// deletes adjust it without wrapping; a sequence at `u64::MAX` makes
/// `next_id` fail instead of wrapping.
#[test]
fn counts_and_sequences_that_disagree_are_reported_not_wrapped() {
    for pick in [0, 1] {
        let (vfs, p) = file_with(
            Hostile::CountMismatch,
            Params {
                pick,
                ..Params::default()
            },
        );
        let db = open(&vfs, p.ps, false).unwrap();
        assert!(has(&problems(&db), "keys found"));
        let stored = db.begin_read().unwrap().len();
        db.update(|tx| {
            tx.delete(hostile::key(0))?;
            tx.put(b"new", b"v")?;
            tx.put(b"new2", b"v")?;
            Ok(())
        })
        .unwrap();
        let after = db.begin_read().unwrap().len();
        // From u64::MAX: -1 +2 saturates; from 0: the delete stays at 0.
        assert_eq!(after, if pick == 0 { u64::MAX } else { 2 }, "from {stored}");
    }
    let (vfs, p) = file(Hostile::SequenceAtMax);
    let db = open(&vfs, p.ps, false).unwrap();
    let r = db.update(|tx| tx.next_id());
    assert!(r.is_err(), "{r:?}");
    assert_eq!(db.view(|tx| Ok(tx.sequence())).unwrap(), u64::MAX);
}

/// Page numbers past the file's end and past the checkpoint's page count,
/// in child and overflow references: corruption when read (no allocation
/// of the claimed run), `check` names them, and a write that would free
/// them is refused.
#[test]
fn page_numbers_past_the_end_are_corruption() {
    let (vfs, p) = file(Hostile::ChildPastEnd);
    let db = open(&vfs, p.ps, false).unwrap();
    let last = hostile::key(p.keys - 1);
    assert!(is_corruption(
        &db.view(|tx| tx.get(&last).map(|v| v.is_some()))
    ));
    assert!(has(&problems(&db), "beyond the file"));

    let (vfs, p) = file(Hostile::ChildPastPageCount);
    let db = open(&vfs, p.ps, false).unwrap();
    assert!(has(&problems(&db), "beyond the file"));
    let r = db
        .update(|tx| tx.put(&last, b"x"))
        .and_then(|()| db.checkpoint());
    assert!(is_corruption(&r), "{r:?}");
    bucket_b_intact(&db, p.ps);

    for pick in [0, 1] {
        let (vfs, p) = file_with(
            Hostile::OverflowPastEnd,
            Params {
                pick,
                ..Params::default()
            },
        );
        let db = open(&vfs, p.ps, false).unwrap();
        let r = db.view(|tx| Ok(tx.bucket(BUCKET)?.get(b"big")?.map(|v| v.len())));
        assert!(is_corruption(&r), "{r:?}");
        assert!(has(&problems(&db), "beyond the file"));
        let r = db
            .update(|tx| tx.bucket(BUCKET)?.put(b"big", b"small"))
            .and_then(|()| db.checkpoint());
        assert!(is_corruption(&r), "pick {pick}: {r:?}");
        // Whatever failed, the handle still answers, without panicking.
        let big = db.view(|tx| Ok(tx.bucket(BUCKET)?.get(b"big")?.map(|v| v.to_vec())));
        assert!(
            matches!(&big, Ok(Some(v)) if v == b"small") || is_corruption(&big),
            "{big:?}"
        );
    }
}

/// An overflow length shorter than the run's bytes, or one whose run would
/// reach past the file: corruption, reported by `check`.
#[test]
fn overflow_lengths_that_disagree_are_corruption() {
    for pick in [0, 1] {
        let (vfs, p) = file_with(
            Hostile::OverflowLenMismatch,
            Params {
                pick,
                ..Params::default()
            },
        );
        let db = open(&vfs, p.ps, true).unwrap();
        let r = db.view(|tx| Ok(tx.bucket(BUCKET)?.get(b"big")?.map(|v| v.len())));
        assert!(is_corruption(&r), "pick {pick}: {r:?}");
        assert!(!problems(&db).is_empty());
    }
}

/// Catalog entries with an empty name, an unknown prefix, a name past the
/// key limit, a value of the wrong size or stored out of line: open
/// refuses the file.
#[test]
fn hostile_catalog_entries_refuse_the_open() {
    assert_open_refused(
        Hostile::CatalogEmptyName,
        Params::default(),
        "bad catalog key",
    );
    assert_open_refused(
        Hostile::CatalogUnknownKey,
        Params::default(),
        "bad catalog key",
    );
    assert_open_refused(Hostile::CatalogLongName, Params::default(), "key limit");
    assert_open_refused(Hostile::CatalogShortValue, Params::default(), "wrong size");
    assert_open_refused(
        Hostile::CatalogOverflowValue,
        Params::default(),
        "not inline",
    );
}

/// Log records: a length past the extent with a later record vouching for
/// it is corruption; a `u32::MAX` length ends the log (nothing replayed,
/// nothing allocated); operations a writer cannot have logged refuse the
/// open; an extent over a bucket's root refuses it too.
#[test]
fn hostile_log_records_and_extents() {
    assert_open_refused(Hostile::LogLenPastExtent, Params::default(), "durable");
    let (vfs, p) = file(Hostile::LogLenHuge);
    let db = open(&vfs, p.ps, false).unwrap();
    assert_eq!(db.replayed_on_open(), 0);
    assert!(!db
        .view(|tx| tx.get(b"log-key").map(|v| v.is_some()))
        .unwrap());
    assert_open_refused(
        Hostile::LogOversizedKey,
        Params::default(),
        "exceeds the limit",
    );
    for (pick, why) in [
        (0, "not found"),
        (1, "too long"),
        (2, "not above"),
        (3, "already exists"),
    ] {
        let p = Params {
            pick,
            ..Params::default()
        };
        assert_open_refused(Hostile::LogHostileOps, p, why);
    }
    assert_open_refused(
        Hostile::LogOverTree,
        Params {
            pick: 0,
            ..Params::default()
        },
        "log extent",
    );
    // Over a deeper page: open does not walk the trees, `check` reports it.
    let (vfs, p) = file_with(
        Hostile::LogOverTree,
        Params {
            pick: 1,
            ..Params::default()
        },
    );
    let db = open(&vfs, p.ps, true).unwrap();
    assert!(has(&problems(&db), "referenced twice"));
}

/// An allocator that marks a live page free: `check` reports it and a
/// write that would free the page again is corruption.
#[test]
fn a_bitmap_that_frees_a_live_page_is_reported() {
    let (vfs, p) = file(Hostile::BitmapFreesLivePage);
    let db = open(&vfs, p.ps, false).unwrap();
    assert!(has(&problems(&db), "reachable but marked free"));
    let k = hostile::key(p.pick % 4 * p.per_leaf);
    let r = db
        .update(|tx| tx.put(&k, b"x"))
        .and_then(|()| db.checkpoint());
    assert!(is_corruption(&r), "{r:?}");
    bucket_b_intact(&db, p.ps);
}
