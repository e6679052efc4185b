//! SQLite through rusqlite (bundled).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use vellum_bench::Key;

use crate::engine::{touch, Engine, EngineInfo, Op, Res, Setup};

pub const INFO: EngineInfo = EngineInfo {
    name: "sqlite",
    label: "SQLite",
    crate_name: "rusqlite",
    durability: "journal_mode=WAL, synchronous=FULL: each commit fsyncs the WAL once \
                 (automatic checkpoints, every 1000 WAL pages, also sync the database file); \
                 table `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`; writes go through one \
                 writer connection behind a mutex (SQLite has one writer at a time), BEGIN \
                 IMMEDIATE",
    cache: "PRAGMA cache_size=-budget_KiB on every connection (SQLite's page cache is per \
            connection: the writer and each reader thread have their own)",
    open,
};

struct Sqlite {
    path: PathBuf,
    cache_kib: u64,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn connect(path: &PathBuf, cache_kib: u64) -> Res<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(60))?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    assert_eq!(mode.to_ascii_lowercase(), "wal", "SQLite refused WAL mode");
    c.execute_batch(&format!(
        "PRAGMA synchronous=FULL; PRAGMA cache_size=-{cache_kib};"
    ))?;
    Ok(c)
}

fn open(s: &Setup) -> Res<Box<dyn Engine>> {
    let path = s.dir.join("sqlite.db");
    let cache_kib = s.cache_bytes / 1024;
    let writer = connect(&path, cache_kib)?;
    writer.execute_batch(
        "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID",
    )?;
    Ok(Box::new(Sqlite {
        path,
        cache_kib,
        writer: Mutex::new(writer),
        readers: Mutex::new(Vec::new()),
    }))
}

impl Sqlite {
    /// Runs `f` on a reader connection of the pool (opening one if none is
    /// free), then returns the connection to the pool.
    fn with_reader<T>(&self, f: impl FnOnce(&mut Connection) -> Res<T>) -> Res<T> {
        let pooled = self.readers.lock().expect("pool lock").pop();
        let mut c = match pooled {
            Some(c) => c,
            None => connect(&self.path, self.cache_kib)?,
        };
        let r = f(&mut c);
        self.readers.lock().expect("pool lock").push(c);
        r
    }
}

impl Engine for Sqlite {
    fn commit(&self, ops: &mut dyn Iterator<Item = Op>) -> Res<()> {
        let mut c = self.writer.lock().expect("writer lock");
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)")?;
            let mut del = tx.prepare_cached("DELETE FROM kv WHERE k = ?1")?;
            for op in ops {
                match op {
                    Op::Put(k, v) => {
                        put.execute((&k[..], &v[..]))?;
                    }
                    Op::Delete(k) => {
                        del.execute([&k[..]])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_many(&self, keys: &[Key], idx: &[u32]) -> Res<u64> {
        self.with_reader(|c| {
            let tx = c.transaction()?;
            let mut sum = 0;
            {
                let mut st = tx.prepare_cached("SELECT v FROM kv WHERE k = ?1")?;
                for &i in idx {
                    let mut rows = st.query([&keys[i as usize][..]])?;
                    let row = rows.next()?.expect("loaded key is present");
                    sum += touch(row.get_ref(0)?.as_blob()?);
                }
            }
            tx.commit()?;
            Ok(sum)
        })
    }

    fn scan_many(&self, keys: &[Key], idx: &[u32], len: usize) -> Res<(u64, u64)> {
        self.with_reader(|c| {
            let tx = c.transaction()?;
            let (mut n, mut sum) = (0, 0);
            {
                let mut st =
                    tx.prepare_cached("SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2")?;
                for &i in idx {
                    let mut rows = st.query((&keys[i as usize][..], len as i64))?;
                    while let Some(row) = rows.next()? {
                        n += 1;
                        sum +=
                            touch(row.get_ref(0)?.as_blob()?) + touch(row.get_ref(1)?.as_blob()?);
                    }
                }
            }
            tx.commit()?;
            Ok((n, sum))
        })
    }

    fn prepare_threads(&self, n: usize) -> Res<()> {
        let mut pool = self.readers.lock().expect("pool lock");
        while pool.len() < n {
            pool.push(connect(&self.path, self.cache_kib)?);
        }
        Ok(())
    }

    fn close(self: Box<Self>) -> Res<()> {
        let Sqlite {
            writer, readers, ..
        } = *self;
        for c in readers.into_inner().expect("pool lock") {
            c.close().map_err(|(_, e)| e)?;
        }
        writer
            .into_inner()
            .expect("writer lock")
            .close()
            .map_err(|(_, e)| e)?;
        Ok(())
    }
}
