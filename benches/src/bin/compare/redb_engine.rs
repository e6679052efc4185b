//! redb.

use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use vellum_bench::Key;

use crate::engine::{touch, Engine, EngineInfo, Op, Res, Setup};

pub const INFO: EngineInfo = EngineInfo {
    name: "redb",
    label: "redb",
    crate_name: "redb",
    durability: "Durability::Immediate (the default; set explicitly on every write \
                 transaction): commit returns after fsync",
    cache: "Builder::set_cache_size(budget)",
    open,
};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

struct Redb {
    db: Database,
}

fn open(s: &Setup) -> Res<Box<dyn Engine>> {
    let db = Database::builder()
        .set_cache_size(s.cache_bytes as usize)
        .create(s.dir.join("redb.db"))?;
    Ok(Box::new(Redb { db }))
}

impl Engine for Redb {
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut t = tx.open_table(TABLE)?;
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        t.insert(&k[..], &v[..])?;
                    }
                    Op::Delete(k) => {
                        t.remove(&k[..])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TABLE)?;
        let mut sum = 0;
        for &i in idx {
            let v = t
                .get(&keys[i as usize][..])?
                .expect("loaded key is present");
            sum += touch(v.value());
        }
        Ok(sum)
    }

    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(TABLE)?;
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            for e in t.range(&keys[i as usize][..]..)?.take(len) {
                let (k, v) = e?;
                n += 1;
                sum += touch(k.value()) + touch(v.value());
            }
        }
        Ok((n, sum))
    }

    fn close(self: Box<Self>) -> Res<()> {
        drop(self.db);
        Ok(())
    }
}
