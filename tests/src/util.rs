//! Small helpers shared by the integration tests.

use std::collections::BTreeMap;

use vellum::page::slot::Slot;
use vellum::{Db, Entry, Error, ReadTxn};

/// A tiny seeded RNG (SplitMix64): tests stay deterministic without extra
/// dependencies.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `0..n` as usize.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// Shuffles `v` in place.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
    }
}

/// One bucket's content.
pub type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// Every bucket's content; the default bucket has the empty name.
pub type Buckets = BTreeMap<Vec<u8>, Map>;

/// An owned key-value pair.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Collects an iterator of entries as owned pairs, stopping at the first
/// error.
pub fn collect<'a>(
    iter: impl Iterator<Item = vellum::Result<Entry<'a>>>,
) -> vellum::Result<Vec<Pair>> {
    iter.map(|e| e.map(Entry::into_pair)).collect()
}

/// An entry yielded by a cursor move, as an owned pair.
pub fn own(e: Option<Entry<'_>>) -> Option<Pair> {
    e.map(Entry::into_pair)
}

/// A looked-up value, copied out.
pub fn owned_value(v: Option<vellum::ValueRef<'_>>) -> Option<Vec<u8>> {
    v.map(|v| v.to_vec())
}

/// The default bucket and every named bucket of a snapshot.
pub fn dump_txn(tx: &ReadTxn) -> vellum::Result<Buckets> {
    let mut out = Buckets::new();
    out.insert(
        Vec::new(),
        tx.iter().owned().collect::<vellum::Result<Map>>()?,
    );
    for name in tx.bucket_names() {
        let b = tx.bucket(&name)?;
        out.insert(name, b.iter().owned().collect::<vellum::Result<Map>>()?);
    }
    Ok(out)
}

/// The whole content of a database (latest snapshot).
pub fn dump(db: &Db) -> vellum::Result<Buckets> {
    let tx = db.begin_read()?;
    dump_txn(&tx)
}

/// Writes `content` into an empty database (buckets created as needed) in
/// one transaction.
pub fn load(db: &Db, content: &Buckets) -> vellum::Result<()> {
    db.update(|tx| {
        for (name, map) in content {
            if name.is_empty() {
                for (k, v) in map {
                    tx.put(k, v)?;
                }
            } else {
                let b = tx.create_bucket_if_missing(name)?;
                for (k, v) in map {
                    b.put(k, v)?;
                }
            }
        }
        Ok(())
    })
}

/// Panics unless `db.check()` passes.
pub fn assert_check_ok(db: &Db) {
    let report = db.check().expect("check runs");
    assert!(report.is_ok(), "integrity check failed: {report}");
}

/// Whether `e` is a detected-corruption style error (the typed errors a
/// damaged file may produce).
pub fn is_damage_error(e: &Error) -> bool {
    matches!(e, Error::Corruption { .. } | Error::NotADatabase)
}

/// A key made of a fixed-width decimal number (sorts numerically).
pub fn num_key(prefix: &str, i: u64) -> Vec<u8> {
    format!("{prefix}{i:08}").into_bytes()
}

/// The valid checkpoint slots in a file image (pages 1 to 3 of
/// `page_size` bytes), as `(page, slot, checkpoint checksum, write
/// sequence)`.
pub fn valid_slots(image: &[u8], page_size: usize) -> Vec<(usize, Slot, u64, u64)> {
    (1..4)
        .filter_map(|p| {
            let bytes = image.get(p * page_size..(p + 1) * page_size)?;
            let (slot, checksum, seq) = Slot::decode(bytes, p as u64).ok()?;
            Some((p, slot, checksum, seq))
        })
        .collect()
}
