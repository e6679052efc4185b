//! The workload of the killed-process tests (`tests/tests/crash.rs`): a
//! child process (`src/bin/crash_child.rs`) runs it and the parent verifies
//! whatever state the kill left.

use vellum::{Db, Durability, Error, Options};

use crate::util::num_key;

/// Keys rewritten by every commit (all carry the commit number).
pub const GEN_KEYS: u64 = 20;

/// The large value of commit `i` (too large for the log).
pub fn big_value(i: u64) -> Vec<u8> {
    let mut v = vec![(i % 251) as u8; 60_000 + (i as usize % 7) * 1000];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v
}

pub fn opts(durability: Durability) -> Options {
    Options::new()
        .page_size(1024)
        .durability(durability)
        .max_log_size(256 * 1024)
        .cache_size(512 * 1024)
}

/// The last commit number in the database (`None` if none yet).
pub fn last_commit(db: &Db) -> Option<u64> {
    db.view(|tx| Ok::<_, vellum::Error>(tx.get(b"last")?.map(|v| v.to_vec())))
        .unwrap()
        .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
}

/// Commit `i` of the child's workload: a pure function of `i`, so the
/// parent can verify any state.
pub fn child_commit(db: &Db, i: u64, mixed: bool) -> vellum::Result<()> {
    db.update(|tx| {
        tx.put(num_key("c", i), i.to_le_bytes())?;
        tx.put(b"last", i.to_le_bytes())?;
        for j in 0..GEN_KEYS {
            tx.put(num_key("g", j), [i.to_le_bytes(), j.to_le_bytes()].concat())?;
        }
        let m = tx.create_bucket_if_missing(b"mirror")?;
        m.put(num_key("c", i), vec![i as u8; (i % 300) as usize])?;
        if mixed && i.is_multiple_of(10) {
            // Too large for the log: committed by a checkpoint.
            tx.put(b"big", big_value(i))?;
        }
        if mixed && i % 10 == 5 && i >= 10 {
            m.delete(num_key("c", i - 10))?;
        }
        Ok::<_, Error>(())
    })
}
