//! Bad input files: garbage, truncated, foreign versions and silently
//! corrupted pages. The rules checked: open returns a typed error (never a
//! panic) and leaves the file untouched; a corrupted page is reported as
//! `Error::Corruption`, never returned as data.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use vellum::page::file_header::FORMAT_VERSION;
use vellum::{Db, Durability, Error, Options};
use vellum_tests::util::{
    assert_check_ok, dump, is_damage_error, num_key, owned_value, Buckets, Map, Rng,
};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

fn h(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Opens read-write and read-only; both must fail with an error accepted
/// by `ok_err`, and the file must be byte-for-byte unchanged.
fn assert_rejected_untouched(path: &Path, ok_err: impl Fn(&Error) -> bool) {
    let before = std::fs::read(path).unwrap();
    for ro in [false, true] {
        let r = catch_unwind(AssertUnwindSafe(|| Options::new().read_only(ro).open(path)));
        match r {
            Err(_) => panic!("open (read_only={ro}) panicked on a bad file"),
            Ok(Ok(_)) => panic!("open (read_only={ro}) accepted a bad file"),
            Ok(Err(e)) => assert!(ok_err(&e), "open (read_only={ro}): unexpected error {e:?}"),
        }
        assert!(
            std::fs::read(path).unwrap() == before,
            "a rejected open modified the file"
        );
    }
    // Refusing must also release the lock: a second attempt gets the same
    // answer, not Error::Locked.
    let e = Options::new().open(path).unwrap_err();
    assert!(!matches!(e, Error::Locked), "lock leaked by a failed open");
}

#[test]
fn format_header_and_slots_match_the_documented_layout() {
    let (_d, path) = tmp();
    let db = Options::new().page_size(2048).open(&path).unwrap();
    db.update(|tx| {
        tx.put(b"k", b"v")?;
        tx.next_id().map(|_| ())
    })
    .unwrap();
    drop(db);
    let f = std::fs::read(&path).unwrap();
    let ps = 2048usize;
    assert_eq!(f.len() % ps, 0, "the file is a whole number of pages");
    assert_eq!(&f[0..8], b"VELLUMDB");
    assert_eq!(
        u32::from_le_bytes(f[8..12].try_into().unwrap()),
        4,
        "format version"
    );
    assert_eq!(u32::from_le_bytes(f[12..16].try_into().unwrap()), ps as u32);
    assert_eq!(
        u64::from_le_bytes(f[24..32].try_into().unwrap()),
        h(&f[0..24])
    );
    assert!(f[32..ps].iter().all(|&b| b == 0), "rest of page 0 is zero");
    let u64_at = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
    let mut valid = Vec::new();
    for slot in [1usize, 2, 3] {
        let s = &f[slot * ps..(slot + 1) * ps];
        if &s[0..8] == b"VELLSLOT"
            && u64_at(s, 584) == h(&s[0..584])
            && u64_at(s, 600) == h(&s[0..600])
        {
            assert!(
                s[608..].iter().all(|&b| b == 0),
                "rest of the slot page is zero"
            );
            let page_count = u64_at(s, 24);
            assert!(page_count >= 4 && page_count as usize * ps <= f.len());
            // (checkpoint id, write sequence)
            valid.push((u64_at(s, 8), u64_at(s, 592)));
        }
    }
    assert!(!valid.is_empty());
    let mut seqs: Vec<u64> = valid.iter().map(|v| v.1).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        valid.len(),
        "every slot write has its own sequence number"
    );
    // The create, the first commit's confirmation + republish and the
    // close's checkpoint: the newest checkpoint is the latest write.
    let newest = valid.iter().max().unwrap();
    assert_eq!(newest.1, *seqs.last().unwrap());
    assert!(newest.0 >= 2, "the session wrote checkpoints of its own");

    // Tree pages (FORMAT.md §1.3, §1.4): slots of 6 bytes (offset, key
    // head). The catalog is one leaf holding the
    // default bucket's entry (key 0x00, 32 bytes, §1.7), whose root is one
    // leaf holding k -> v.
    let slot = (1..=3)
        .map(|p| &f[p * ps..(p + 1) * ps])
        .filter(|s| &s[0..8] == b"VELLSLOT" && u64_at(s, 584) == h(&s[0..584]))
        .max_by_key(|s| (u64_at(s, 8), u64_at(s, 592)))
        .unwrap();
    let leaf = |page: u64, checksum: u64| -> &[u8] {
        let p = &f[page as usize * ps..(page as usize + 1) * ps];
        assert_eq!(h(p), checksum, "the parent holds the page's checksum");
        assert_eq!(p[0], 2, "a leaf");
        assert_eq!(p[1], 0);
        assert_eq!(u64_at(p, 8), page, "the page names itself");
        p
    };
    let u16_at = |s: &[u8], at: usize| u16::from_le_bytes([s[at], s[at + 1]]) as usize;
    let u32_at =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap()) as usize;
    // One entry: count 1, data start = its offset, the gap zero, and the
    // entry (key length, value kind, value length, key, value) ends the page.
    let one_entry = |p: &[u8], key: &[u8], value_len: usize| -> usize {
        assert_eq!(u16_at(p, 2), 1, "one entry");
        let entry = 7 + key.len() + value_len;
        let d = u32_at(p, 4);
        assert_eq!(d, ps - entry, "data start");
        assert_eq!(u16_at(p, 24), d, "slot 0 points at entry 0");
        let mut head = [0u8; 4];
        head[..key.len().min(4)].copy_from_slice(&key[..key.len().min(4)]);
        assert_eq!(p[26..30], head, "slot 0 holds the key's head");
        assert!(p[30..d].iter().all(|&b| b == 0), "the gap is zero");
        assert_eq!(u16_at(p, d), key.len());
        assert_eq!(p[d + 2], 0, "inline value");
        assert_eq!(u32_at(p, d + 3), value_len);
        assert_eq!(&p[d + 7..d + 7 + key.len()], key);
        d + 7 + key.len()
    };
    let catalog = leaf(u64_at(slot, 48), u64_at(slot, 56));
    let meta = one_entry(catalog, &[0], 32);
    let (root, root_checksum, len, sequence) = (
        u64_at(catalog, meta),
        u64_at(catalog, meta + 8),
        u64_at(catalog, meta + 16),
        u64_at(catalog, meta + 24),
    );
    assert_eq!(len, 1, "the default bucket holds one key");
    assert_eq!(sequence, 1, "the default bucket handed out one id");
    let bucket = leaf(root, root_checksum);
    let v = one_entry(bucket, b"k", 1);
    assert_eq!(&bucket[v..], b"v");
}

#[test]
fn garbage_files_are_rejected_and_left_untouched() {
    let mut rng = Rng::new(99);
    for len in [
        1usize,
        7,
        31,
        32,
        33,
        100,
        511,
        512,
        513,
        4096,
        3 * 4096 + 7,
        65536,
        300_000,
    ] {
        let (_d, path) = tmp();
        let mut bytes = rng.bytes(len);
        bytes[0] |= 1; // never all-zero
        std::fs::write(&path, &bytes).unwrap();
        assert_rejected_untouched(&path, |e| {
            matches!(e, Error::NotADatabase | Error::Corruption { .. })
        });
    }
    // Text files, an ELF-like header, a SQLite header.
    for content in [
        b"hello world\n".repeat(1000),
        [b"\x7fELF\x02\x01\x01".to_vec(), vec![0u8; 5000]].concat(),
        [
            b"SQLite format 3\0".to_vec(),
            vec![0x10, 0x00],
            vec![0u8; 8000],
        ]
        .concat(),
    ] {
        let (_d, path) = tmp();
        std::fs::write(&path, &content).unwrap();
        assert_rejected_untouched(&path, |e| matches!(e, Error::NotADatabase));
    }
}

#[test]
fn right_magic_with_garbage_is_rejected_and_left_untouched() {
    let mut rng = Rng::new(5);
    for len in [8usize, 24, 32, 512, 4096, 40_000] {
        let (_d, path) = tmp();
        let mut bytes = rng.bytes(len);
        bytes[..8].copy_from_slice(b"VELLUMDB");
        std::fs::write(&path, &bytes).unwrap();
        assert_rejected_untouched(&path, is_damage_error);
    }
}

/// FORMAT.md §1.1: the right magic with a checksum mismatch or an invalid
/// page size is `Error::Corruption { page: 0 }` (a damaged vellum file, not
/// a foreign one), and the file is left untouched.
#[test]
fn a_damaged_header_is_corruption_of_page_zero_as_documented() {
    let (_d, path) = tmp();
    populate(&path, 4096);
    let orig = std::fs::read(&path).unwrap();
    let mut bad_checksum = orig.clone();
    bad_checksum[20] ^= 0x40;
    let mut bad_page_size = orig.clone();
    write_header(&mut bad_page_size, FORMAT_VERSION, 3000);
    for (what, f) in [
        ("checksum mismatch", bad_checksum),
        ("invalid page size", bad_page_size),
    ] {
        std::fs::write(&path, &f).unwrap();
        let r = Db::open(&path);
        assert!(
            matches!(r, Err(Error::Corruption { page: 0, .. })),
            "{what}: {r:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), f, "{what}: file modified");
    }
}

#[test]
fn header_checksum_mismatch_is_rejected_and_left_untouched() {
    let (_d, path) = tmp();
    populate(&path, 1024);
    let mut f = std::fs::read(&path).unwrap();
    f[20] ^= 0x40; // reserved field, covered by the header checksum
    std::fs::write(&path, &f).unwrap();
    assert_rejected_untouched(&path, is_damage_error);
}

fn write_header(f: &mut [u8], version: u32, page_size: u32) {
    f[8..12].copy_from_slice(&version.to_le_bytes());
    f[12..16].copy_from_slice(&page_size.to_le_bytes());
    let c = h(&f[0..24]);
    f[24..32].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn newer_format_version_is_unsupported_and_left_untouched() {
    let (_d, path) = tmp();
    populate(&path, 4096);
    let orig = std::fs::read(&path).unwrap();
    // 1: the format before tree pages had a slot directory; 2: before log
    // records carried a durable mark; 3: before catalog values carried the
    // bucket sequence.
    for version in [1u32, 2, 3, FORMAT_VERSION + 1, 7, u32::MAX, 0] {
        let mut f = orig.clone();
        write_header(&mut f, version, 4096);
        std::fs::write(&path, &f).unwrap();
        assert_rejected_untouched(
            &path,
            |e| matches!(e, Error::UnsupportedVersion { found, supported: FORMAT_VERSION } if *found == version),
        );
    }
}

#[test]
fn invalid_page_size_in_header_is_rejected_and_left_untouched() {
    let (_d, path) = tmp();
    populate(&path, 4096);
    let orig = std::fs::read(&path).unwrap();
    for ps in [0u32, 1, 512, 4095, 131072, 8192, 1024] {
        let mut f = orig.clone();
        write_header(&mut f, FORMAT_VERSION, ps);
        std::fs::write(&path, &f).unwrap();
        assert_rejected_untouched(&path, is_damage_error);
    }
}

#[test]
fn zero_length_file_is_initialised_as_a_new_database() {
    let (_d, path) = tmp();
    std::fs::write(&path, b"").unwrap();
    let db = Db::open(&path).unwrap();
    assert!(db.begin_read().unwrap().is_empty());
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert_check_ok(&db);
}

#[test]
fn zero_length_file_read_only_is_an_error_and_untouched() {
    let (_d, path) = tmp();
    std::fs::write(&path, b"").unwrap();
    let r = Options::new().read_only(true).open(&path);
    assert!(matches!(r, Err(Error::NotADatabase)), "{r:?}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

/// FORMAT.md §1.1: creation renames a complete file into place, so a file
/// whose first 512 bytes are zero is never a creation in progress: open
/// refuses it with `NotADatabase` and leaves it untouched.
#[test]
fn blank_file_is_not_a_database_and_is_left_untouched() {
    for len in [512usize, 4096, 3 * 4096] {
        let (_d, path) = tmp();
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let r = Db::open(&path);
        assert!(matches!(r, Err(Error::NotADatabase)), "{len}: {r:?}");
        assert_eq!(std::fs::read(&path).unwrap(), vec![0u8; len]);
    }
}

/// An interrupted creation leaves at most the side file
/// `<path>.vellum-new`; the next open creates the database afresh.
#[test]
fn leftover_staging_file_does_not_block_creation() {
    let (_d, path) = tmp();
    let staging = vellum::create::staging_path(&path);
    std::fs::write(&staging, vec![0xAB; 5000]).unwrap();
    let db = Db::open(&path).unwrap();
    db.update(|tx| tx.put(b"k", b"v")).unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.view(|tx| tx.get(b"k").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert!(!staging.exists(), "the side file was renamed into place");
}

/// A populated database whose header sector was zeroed (a lost or rotted
/// write) must not be mistaken for a crashed creation and wiped: open
/// either refuses with an error, leaving the file alone, or recovers the
/// data. Silently re-initialising loses every committed transaction.
#[test]
fn zeroed_header_of_a_populated_database_does_not_lose_data() {
    let (_d, path) = tmp();
    let expected = populate(&path, 4096);
    let mut f = std::fs::read(&path).unwrap();
    f[..512].fill(0);
    std::fs::write(&path, &f).unwrap();
    let before = f;
    match Db::open(&path) {
        Err(e) => {
            let after = std::fs::read(&path).unwrap();
            assert!(
                after == before,
                "open refused ({e:?}) but modified the file: {} bytes before, {} after",
                before.len(),
                after.len()
            );
            assert!(is_damage_error(&e), "{e:?}");
        }
        Ok(db) => {
            let got = dump(&db).unwrap();
            assert!(
                got == expected,
                "open silently re-initialised a populated database whose header was zeroed: \
                 {} keys before, {} buckets / {} default keys after",
                expected.values().map(|m| m.len()).sum::<usize>(),
                got.len() - 1,
                got[&Vec::new()].len()
            );
        }
    }
}

/// FORMAT.md §1.1: a zeroed header with a valid slot at the configured page
/// size is `Error::Corruption { page: 0 }` (a damaged database), not
/// `Error::NotADatabase`, for read-write and read-only opens alike, and the
/// file is left untouched.
#[test]
fn zeroed_header_with_valid_slots_is_corruption_of_page_zero() {
    for ps in [1024, 4096] {
        let (_d, path) = tmp();
        populate(&path, ps);
        let mut f = std::fs::read(&path).unwrap();
        f[..512].fill(0);
        std::fs::write(&path, &f).unwrap();
        for ro in [false, true] {
            let r = Options::new().page_size(ps).read_only(ro).open(&path);
            assert!(
                matches!(r, Err(Error::Corruption { page: 0, .. })),
                "page size {ps}, read_only={ro}: {r:?}"
            );
        }
        assert!(std::fs::read(&path).unwrap() == f, "the file was modified");
    }
}

/// A foreign file that happens to start with a zero sector (an ISO 9660
/// image starts with 32 KiB of zeros, many disk images and sparse files
/// do too) opened by mistake must not be truncated and overwritten. The
/// FORMAT.md rule "first 512 bytes zero = crashed creation" is only safe
/// when the rest of the file is what a crashed creation can leave.
#[test]
fn foreign_file_with_a_zero_first_sector_is_not_destroyed() {
    let (_d, path) = tmp();
    let mut f = vec![0u8; 32 * 1024];
    f.extend(b"CD001");
    f.extend(Rng::new(3).bytes(200_000));
    std::fs::write(&path, &f).unwrap();
    let r = Db::open(&path);
    let after = std::fs::read(&path).unwrap();
    assert!(
        after == f,
        "open (returned {}) rewrote a {}-byte foreign file (now {} bytes)",
        match &r {
            Ok(_) => "Ok".to_string(),
            Err(e) => format!("{e:?}"),
        },
        f.len(),
        after.len()
    );
}

/// Writes a database with a default bucket and two named buckets (inline
/// and overflow values) in several commits, closes it (checkpoint), and
/// returns its content.
fn populate(path: &Path, page_size: usize) -> Buckets {
    let db = Options::new().page_size(page_size).open(path).unwrap();
    let mut model = Buckets::new();
    let mut rng = Rng::new(page_size as u64);
    model.insert(Vec::new(), Map::new());
    model.insert(b"alpha".to_vec(), Map::new());
    model.insert(b"big".to_vec(), Map::new());
    for c in 0..8u64 {
        db.update(|tx| {
            tx.create_bucket_if_missing(b"alpha")?;
            tx.create_bucket_if_missing(b"big")?;
            for i in 0..40 {
                let k = num_key("d", c * 40 + i);
                let n = rng.index(60);
                let v = rng.bytes(n);
                tx.put(&k, &v)?;
                model.get_mut(&Vec::new()).unwrap().insert(k, v);
                let k = num_key("a", c * 40 + i);
                let n = 10 + rng.index(200);
                let v = rng.bytes(n);
                tx.bucket(b"alpha")?.put(&k, &v)?;
                model.get_mut(&b"alpha"[..]).unwrap().insert(k, v);
            }
            for i in 0..3 {
                let k = num_key("b", c * 3 + i);
                let n = page_size / 2 + rng.index(3 * page_size);
                let v = rng.bytes(n);
                tx.bucket(b"big")?.put(&k, &v)?;
                model.get_mut(&b"big"[..]).unwrap().insert(k, v);
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    assert_eq!(dump(&db).unwrap(), model);
    drop(db);
    model
}

#[test]
fn truncated_files_get_a_typed_error_and_are_left_untouched() {
    let (_d, path) = tmp();
    populate(&path, 1024);
    let full = std::fs::read(&path).unwrap();
    let ps = 1024usize;
    let mut cuts = vec![
        10usize,
        32,
        100,
        600,
        ps,
        ps + 100,
        2 * ps,
        3 * ps,
        3 * ps + 1,
        full.len() / 2,
        full.len() - ps,
        full.len() - 1,
    ];
    cuts.retain(|&c| c < full.len());
    for cut in cuts {
        std::fs::write(&path, &full[..cut]).unwrap();
        assert_rejected_untouched(&path, is_damage_error);
    }
}

#[test]
fn trailing_garbage_after_the_last_page_is_harmless() {
    let (_d, path) = tmp();
    let expected = populate(&path, 1024);
    let mut f = std::fs::read(&path).unwrap();
    f.extend(Rng::new(1).bytes(10_000));
    std::fs::write(&path, &f).unwrap();
    let db = Db::open(&path).unwrap();
    assert_eq!(dump(&db).unwrap(), expected);
    assert_check_ok(&db);
    db.update(|tx| tx.put(b"more", b"data")).unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(
        db.view(|tx| tx.get(b"more").map(owned_value))
            .unwrap()
            .as_deref(),
        Some(&b"data"[..])
    );
}

/// How reading a possibly damaged database went.
#[derive(Debug, Default)]
struct Outcome {
    /// A read returned `Error::Corruption`.
    saw_corruption: bool,
}

/// Reads everything every way and checks each answer: the right data or
/// `Error::Corruption`. Never wrong data. `versions` lists the acceptable
/// states; every bucket read successfully must match one single version.
fn read_everything(db: &Db, versions: &[Buckets], label: &str) -> Outcome {
    let mut out = Outcome::default();
    let tx = match db.begin_read() {
        Ok(tx) => tx,
        Err(e) => panic!("{label}: begin_read failed: {e:?}"),
    };
    let names = tx.bucket_names();
    let mut candidates: Vec<&Buckets> = versions
        .iter()
        .filter(|v| v.keys().skip(1).cloned().collect::<Vec<_>>() == names)
        .collect();
    assert!(
        !candidates.is_empty(),
        "{label}: bucket list {names:?} matches no committed state"
    );
    let mut all_names = vec![Vec::new()];
    all_names.extend(names);
    for name in &all_names {
        let b = if name.is_empty() {
            tx.default_bucket()
        } else {
            tx.bucket(name)
                .unwrap_or_else(|e| panic!("{label}: listed bucket fails to open: {e:?}"))
        };
        let mut note = |r: &Error, what: &str| {
            assert!(
                r.is_corruption(),
                "{label}: {what} of bucket {name:?} returned {r:?}"
            );
            out.saw_corruption = true;
        };
        // Full forward scan.
        match b.iter().owned().collect::<vellum::Result<Map>>() {
            Ok(m) => {
                candidates.retain(|v| v[name] == m);
                assert!(
                    !candidates.is_empty(),
                    "{label}: bucket {name:?} scanned to wrong data"
                );
            }
            Err(e) => note(&e, "forward scan"),
        }
        // Reverse scan: every entry seen must be right.
        for e in b.iter().rev() {
            match e {
                Ok(e) => {
                    let (k, v) = e.into_pair();
                    candidates.retain(|c| c[name].get(&k) == Some(&v));
                    assert!(
                        !candidates.is_empty(),
                        "{label}: reverse scan of {name:?} returned a wrong entry"
                    );
                }
                Err(e) => {
                    note(&e, "reverse scan");
                    break;
                }
            }
        }
        // Point reads of every key any version has.
        let mut keys: Vec<&Vec<u8>> = versions
            .iter()
            .flat_map(|v| v.get(name).into_iter().flat_map(|m| m.keys()))
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            match b.get(k) {
                Ok(v) => {
                    candidates.retain(|c| c[name].get(k).map(|x| &x[..]) == v.as_deref());
                    assert!(
                        !candidates.is_empty(),
                        "{label}: get({k:?}) in {name:?} returned wrong data"
                    );
                }
                Err(e) => note(&e, "get"),
            }
        }
        if !b.is_empty() {
            candidates.retain(|c| c[name].len() as u64 == b.len());
            assert!(
                !candidates.is_empty(),
                "{label}: len of {name:?} is {} in no committed state",
                b.len()
            );
        }
    }
    out
}

/// Copies `image` with one byte changed, opens it and reads everything.
fn check_damaged_image(
    image: &[u8],
    at: usize,
    xor: u8,
    versions: &[Buckets],
    label: &str,
) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged");
    let mut f = image.to_vec();
    f[at] ^= xor;
    std::fs::write(&path, &f).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let db = match Options::new().durability(Durability::Eventual).open(&path) {
            Ok(db) => db,
            Err(e) => {
                assert!(
                    is_damage_error(&e) || matches!(e, Error::UnsupportedVersion { .. }),
                    "{label}: open failed with {e:?}"
                );
                return;
            }
        };
        let out = read_everything(&db, versions, label);
        // check() must find what reads found (it re-reads from disk).
        let report = db
            .check()
            .unwrap_or_else(|e| panic!("{label}: check failed with {e:?}"));
        if out.saw_corruption {
            assert!(
                !report.is_ok(),
                "{label}: reads saw corruption but check() passed: {report}"
            );
        }
        // A write that touches everything either works or reports the damage.
        let w = db.update(|tx| {
            tx.put(b"after-damage", b"1")?;
            for name in tx.bucket_names()? {
                tx.bucket(&name)?.put(b"after-damage", b"1")?;
            }
            Ok::<_, Error>(())
        });
        if let Err(e) = w {
            assert!(
                e.is_corruption(),
                "{label}: write after damage failed with {e:?}"
            );
        }
        drop(db);
    }));
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{label}: {msg}")
    })
}

/// Flip one byte in every page of a closed database (two positions per
/// page): reading returns the right data or `Error::Corruption`, never
/// wrong data, never a panic.
#[test]
fn a_flipped_byte_in_any_page_is_detected_or_harmless() {
    let (_d, path) = tmp();
    let ps = 1024usize;
    let expected = populate(&path, ps);
    let image = std::fs::read(&path).unwrap();
    let pages = image.len() / ps;
    let versions = vec![expected];
    let mut rng = Rng::new(1234);
    let mut failures = Vec::new();
    let mut tried = 0;
    for p in 0..pages {
        let page = &image[p * ps..(p + 1) * ps];
        // Never-written pages: a sample is enough.
        if page.iter().all(|&b| b == 0) && p % 8 != 0 {
            continue;
        }
        // Headers (kind, count, own page number, checksums) or the body.
        let at = if p < 3 || rng.chance(1, 3) {
            p * ps + rng.index(32)
        } else {
            p * ps + 32 + rng.index(ps - 32)
        };
        let xor = 1u8 << rng.below(8);
        let label = format!("page {p} byte {} xor {xor:#04x}", at % ps);
        tried += 1;
        if let Err(e) = check_damaged_image(&image, at, xor, &versions, &label) {
            failures.push(e);
        }
    }
    assert!(tried > 100);
    assert!(
        failures.is_empty(),
        "{} of {tried} damaged images misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same over a crash image (the log holds commits that no checkpoint
/// contains): damage in a log record cuts the replay short, giving an
/// earlier committed state, never a mixture.
#[test]
fn a_flipped_byte_in_a_crash_image_gives_a_committed_state_or_an_error() {
    let (_d, path) = tmp();
    let ps = 1024usize;
    let db = Options::new().page_size(ps).open(&path).unwrap();
    let mut versions: Vec<Buckets> = Vec::new();
    let mut model = Buckets::from([(Vec::new(), Map::new()), (b"b".to_vec(), Map::new())]);
    db.update(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap();
    versions.push(model.clone());
    for c in 0..12u64 {
        db.update(|tx| {
            for i in 0..20 {
                let k = num_key("k", (c * 7 + i * 13) % 150);
                let v = format!("c{c}-{i}").into_bytes();
                tx.put(&k, &v)?;
                model
                    .get_mut(&Vec::new())
                    .unwrap()
                    .insert(k.clone(), v.clone());
                tx.bucket(b"b")?.put(&k, &v)?;
                model.get_mut(&b"b"[..]).unwrap().insert(k, v);
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        versions.push(model.clone());
        if c == 5 {
            db.checkpoint().unwrap();
        }
    }
    // The process "dies" now: the image has the log but no final checkpoint.
    let image = std::fs::read(&path).unwrap();
    drop(db);
    let pages = image.len() / ps;
    let mut rng = Rng::new(77);
    let mut failures = Vec::new();
    for p in 0..pages {
        for _ in 0..2 {
            let at = p * ps + rng.index(ps.min(200));
            let label = format!("crash image page {p} byte {}", at % ps);
            if let Err(e) = check_damaged_image(&image, at, 0x10, &versions, &label) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} damaged images misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Finds the pages that look like tree pages (leaf or branch header whose
/// own page number matches).
fn tree_pages(image: &[u8], ps: usize) -> Vec<usize> {
    (3..image.len() / ps)
        .filter(|&p| {
            let pg = &image[p * ps..(p + 1) * ps];
            (pg[0] == 1 || pg[0] == 2)
                && u64::from_le_bytes(pg[8..16].try_into().unwrap()) == p as u64
        })
        .collect()
}

#[test]
fn check_reports_a_corrupted_tree_page() {
    let (_d, path) = tmp();
    let ps = 1024usize;
    let expected = populate(&path, ps);
    let image = std::fs::read(&path).unwrap();
    let candidates = tree_pages(&image, ps);
    assert!(candidates.len() > 10, "expected a multi-page tree");
    let mut detected = 0;
    for &p in &candidates {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut f = image.clone();
        f[p * ps + 100] ^= 0x01;
        std::fs::write(&path, &f).unwrap();
        let db = match Db::open(&path) {
            Ok(db) => db,
            Err(e) => {
                assert!(e.is_corruption(), "page {p}: {e:?}");
                detected += 1;
                continue;
            }
        };
        let report = db.check().unwrap();
        let data = dump(&db);
        match &data {
            Ok(d) => assert_eq!(d, &expected, "page {p}: wrong data"),
            // The error names the damaged page.
            Err(e) => assert!(
                matches!(e, Error::Corruption { page, .. } if *page == p as u64),
                "page {p}: {e:?}"
            ),
        }
        if data.is_err() {
            assert!(
                !report.is_ok(),
                "page {p}: data unreadable but check() is ok"
            );
        }
        if !report.is_ok() {
            detected += 1;
            assert!(!report.problems.is_empty());
            assert!(!report.to_string().is_empty());
        }
    }
    // Some candidates may be stale copies in free pages; most are live.
    assert!(
        detected * 2 >= candidates.len(),
        "check() found {detected} of {} corrupted tree pages",
        candidates.len()
    );
}

/// Builds a database through several checkpoints, recording the state
/// after each commit.
fn checkpointed_history(path: &Path) -> Vec<Buckets> {
    let db = Options::new().page_size(1024).open(path).unwrap();
    let mut versions = vec![Buckets::from([(Vec::new(), Map::new())])];
    let mut model = versions[0].clone();
    for c in 1..=6u64 {
        db.update(|tx| {
            tx.put(b"gen", c.to_le_bytes())?;
            model
                .get_mut(&Vec::new())
                .unwrap()
                .insert(b"gen".to_vec(), c.to_le_bytes().to_vec());
            for i in 0..30 {
                let k = num_key("k", c * 100 + i);
                tx.put(&k, [c as u8; 50])?;
                model
                    .get_mut(&Vec::new())
                    .unwrap()
                    .insert(k, vec![c as u8; 50]);
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        versions.push(model.clone());
        db.checkpoint().unwrap();
    }
    drop(db);
    versions
}

#[test]
fn a_damaged_checkpoint_slot_falls_back_to_the_other_one() {
    let (_d, path) = tmp();
    let versions = checkpointed_history(&path);
    let image = std::fs::read(&path).unwrap();
    let ps = 1024usize;
    for slot in [1usize, 2, 3] {
        for off in [0usize, 9, 17, 30, 50, 70, 100, 583, 585] {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("db");
            let mut f = image.clone();
            f[slot * ps + off] ^= 0x04;
            std::fs::write(&p, &f).unwrap();
            let label = format!("slot page {slot} byte {off}");
            let db = Db::open(&p).unwrap_or_else(|e| panic!("{label}: open failed: {e:?}"));
            let got = dump(&db).unwrap_or_else(|e| panic!("{label}: read failed: {e:?}"));
            assert!(
                versions.contains(&got),
                "{label}: state is not a committed one"
            );
            assert_check_ok(&db);
            // Writing on from the fallback state is safe.
            db.update(|tx| tx.put(b"after", b"fallback")).unwrap();
            db.checkpoint().unwrap();
            db.update(|tx| tx.put(b"after2", b"x")).unwrap();
            drop(db);
            let db = Db::open(&p).unwrap();
            let mut want = got.clone();
            let m = want.get_mut(&Vec::new()).unwrap();
            m.insert(b"after".to_vec(), b"fallback".to_vec());
            m.insert(b"after2".to_vec(), b"x".to_vec());
            assert_eq!(dump(&db).unwrap(), want, "{label}");
            assert_check_ok(&db);
        }
    }
}

#[test]
fn all_checkpoint_slots_damaged_is_corruption_and_untouched() {
    let (_d, path) = tmp();
    checkpointed_history(&path);
    let mut f = std::fs::read(&path).unwrap();
    f[1024 + 3] ^= 0x01;
    f[2048 + 3] ^= 0x01;
    f[3072 + 3] ^= 0x01;
    std::fs::write(&path, &f).unwrap();
    assert_rejected_untouched(&path, |e| e.is_corruption());
}
