//! fjall (LSM tree).

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use vellum_bench::Key;

use crate::engine::{touch, Engine, EngineInfo, Op, Res, Setup};

pub const INFO: EngineInfo = EngineInfo {
    name: "fjall",
    label: "fjall",
    crate_name: "fjall",
    durability: "every commit is a Batch with durability(Some(PersistMode::SyncData)): the \
                 journal is fdatasync'ed before commit returns; memtable flushes and \
                 compactions run on fjall's background threads",
    cache: "Config::cache_size(budget) (block cache); write buffer (64 MiB) and journal \
            (512 MiB) limits left at their defaults",
    open,
};

struct Fjall {
    keyspace: Keyspace,
    part: PartitionHandle,
}

fn open(s: &Setup) -> Res<Box<dyn Engine>> {
    let keyspace = Config::new(s.dir.join("fjall"))
        .cache_size(s.cache_bytes)
        .open()?;
    let part = keyspace.open_partition("kv", PartitionCreateOptions::default())?;
    Ok(Box::new(Fjall { keyspace, part }))
}

impl Engine for Fjall {
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()> {
        let mut batch = self
            .keyspace
            .batch()
            .durability(Some(PersistMode::SyncData));
        for op in ops {
            match op {
                Op::Put(k, v) => batch.insert(&self.part, &k[..], &v[..]),
                Op::Delete(k) => batch.remove(&self.part, &k[..]),
            }
        }
        batch.commit()?;
        Ok(())
    }

    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64> {
        let snap = self.part.snapshot();
        let mut sum = 0;
        for &i in idx {
            let v = snap.get(keys[i as usize])?.expect("loaded key is present");
            sum += touch(&v);
        }
        Ok(sum)
    }

    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)> {
        let snap = self.part.snapshot();
        let (mut n, mut sum) = (0, 0);
        for &i in idx {
            for e in snap.range(&keys[i as usize][..]..).take(len) {
                let (k, v) = e?;
                n += 1;
                sum += touch(&k) + touch(&v);
            }
        }
        Ok((n, sum))
    }

    fn close(self: Box<Self>) -> Res<()> {
        let Fjall { keyspace, part } = *self;
        drop(part);
        drop(keyspace);
        Ok(())
    }
}
