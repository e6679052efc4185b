//! LMDB through heed.

use std::ops::Bound;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions};
use vellum_bench::{Key, KEY_LEN, VALUE_LEN};

use crate::engine::{touch, Engine, EngineInfo, Op, Res, Setup};

pub const INFO: EngineInfo = EngineInfo {
    name: "heed",
    label: "LMDB (heed)",
    crate_name: "heed",
    durability: "default environment flags (no NOSYNC, NOMETASYNC, MAPASYNC or WRITEMAP): \
                 mdb_txn_commit fdatasyncs the data pages, then writes the meta page through \
                 a descriptor opened with O_DSYNC (two syncs per commit, by LMDB's design)",
    cache: "no cache of its own (reads go through the mmap, i.e. the OS page cache); map size \
            = max(budget, 8 x live bytes + 256 MiB)",
    open,
};

struct Lmdb {
    env: Env,
    db: Database<'static, Bytes, Bytes>,
}

fn open(s: &Setup) -> Res<Box<dyn Engine>> {
    let live = (s.keys * (KEY_LEN + VALUE_LEN)) as u64;
    let page = 4096;
    let map = (s.cache_bytes.max(8 * live + (256 << 20))).div_ceil(page) * page;
    // SAFETY: the environment is opened once per process at a time, and
    // its files are not touched by anything else while it is open.
    let env = unsafe { EnvOpenOptions::new().map_size(map as usize).open(&s.dir)? };
    let rtxn = env.read_txn()?;
    let db: Database<'static, Bytes, Bytes> = env
        .open_databases_and_commit(rtxn, |dbo, rtxn| {
            dbo.open_database(rtxn, None)
                .map(CommitOrAbort::<_, ()>::Commit)
        })?
        .unwrap_commit()
        .expect("the unnamed database always exists");
    Ok(Box::new(Lmdb { env, db }))
}

impl Engine for Lmdb {
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()> {
        let mut tx = self.env.write_txn()?;
        for op in ops {
            match op {
                Op::Put(k, v) => self.db.put(&mut tx, &k[..], &v[..])?,
                Op::Delete(k) => {
                    self.db.delete(&mut tx, &k[..])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64> {
        let tx = self.env.read_txn()?;
        let mut sum = 0;
        for &i in idx {
            let v = self
                .db
                .get(&tx, &keys[i as usize][..])?
                .expect("loaded key is present");
            sum += touch(v);
        }
        Ok(sum)
    }

    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)> {
        let tx = self.env.read_txn()?;
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            let range = (Bound::Included(&keys[i as usize][..]), Bound::Unbounded);
            for e in self.db.range(&tx, &range)?.take(len) {
                let (k, v) = e?;
                n += 1;
                sum += touch(k) + touch(v);
            }
        }
        Ok((n, sum))
    }

    fn close(self: Box<Self>) -> Res<()> {
        let closing = self.env.prepare_for_closing();
        closing.wait();
        Ok(())
    }
}
