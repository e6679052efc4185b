//! vellum: all the code that depends on vellum's API is in this file.

use vellum::{Db, Durability, Options};
use vellum_bench::Key;

use crate::engine::{touch, Engine, EngineInfo, Op, Res, Setup};

pub const INFO: EngineInfo = EngineInfo {
    name: "vellum",
    label: "vellum",
    crate_name: "vellum",
    durability: "Durability::Immediate (the default): commit returns after its log record \
                 is fdatasync'ed (concurrent committers share one sync)",
    cache: "Options::cache_size(budget)",
    open,
};

struct Vellum {
    db: Db,
}

fn open(s: &Setup) -> Res<Box<dyn Engine>> {
    let db = Options::new()
        .cache_size(s.cache_bytes as usize)
        .durability(Durability::Immediate)
        .open(s.dir.join("vellum.db"))?;
    Ok(Box::new(Vellum { db }))
}

impl Engine for Vellum {
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()> {
        self.db.update(|tx| {
            for op in ops {
                match op {
                    Op::Put(k, v) => tx.put(k, v)?,
                    Op::Delete(k) => {
                        tx.delete(k)?;
                    }
                }
            }
            Ok::<_, vellum::Error>(())
        })?;
        Ok(())
    }

    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64> {
        let tx = self.db.begin_read()?;
        let mut sum = 0;
        for &i in idx {
            let v = tx.get(keys[i as usize])?.expect("loaded key is present");
            sum += touch(&v);
        }
        Ok(sum)
    }

    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)> {
        let tx = self.db.begin_read()?;
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            for e in tx.range(&keys[i as usize][..]..).take(len) {
                let e = e?;
                n += 1;
                sum += touch(e.key()) + touch(e.value());
            }
        }
        Ok((n, sum))
    }

    fn close(self: Box<Self>) -> Res<()> {
        self.db.close()?;
        Ok(())
    }
}
