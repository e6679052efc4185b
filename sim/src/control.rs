//! Explicit fault injection on a [`SimVfs`], for tests and runners that
//! want a particular fault at a particular moment.
//!
//! These calls are not VFS operations (they are not counted by the crash
//! countdown) but they are folded into the trace hash and logged in
//! [`SimVfs::injected_faults`] when they damage data.

use std::io;
use std::path::Path;

use crate::disk::SECTOR_SIZE;
use crate::faults::{InjectedError, OpKind};
use crate::fs::{Inner, SimVfs, TAG_EXPLICIT};
use crate::log::{Fault, FaultRecord};
use crate::namespace::Ino;

impl Inner {
    /// The inode of `path` (current namespace) with durable bytes.
    fn durable_target(&self, path: &Path) -> io::Result<Ino> {
        self.ns
            .lookup(path)
            .filter(|ino| self.files.contains_key(ino))
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    /// Logs a silent fault injected outside any operation and folds it into
    /// the trace.
    fn log_explicit(&mut self, path: &Path, fault: Fault, values: &[u64]) {
        self.stats.silent_faults += 1;
        self.trace.record(TAG_EXPLICIT, values);
        self.log.push(FaultRecord {
            op_index: self.stats.ops,
            path: path.to_path_buf(),
            fault,
        });
    }

    fn flip(&mut self, path: &Path, offset: u64, bit: u8) -> io::Result<()> {
        let ino = self.durable_target(path)?;
        let file = self.files.get_mut(&ino).expect("checked");
        if offset >= file.durable.len() || bit > 7 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bit flip outside the durable data",
            ));
        }
        file.durable.flip_bit(offset, bit);
        file.rebuild_volatile();
        self.log_explicit(
            path,
            Fault::BitFlip { offset, bit },
            &[1, ino, offset, bit as u64],
        );
        Ok(())
    }
}

impl SimVfs {
    /// Fails the next operation of `kind` with `error`. See
    /// [`SimVfs::fail_nth`].
    ///
    /// ```
    /// use std::path::Path;
    /// use vellum::vfs::{OpenMode, Vfs};
    /// use vellum_sim::{FaultConfig, InjectedError, OpKind, SimVfs};
    /// let vfs = SimVfs::new(1, FaultConfig::none());
    /// let f = vfs.open(Path::new("f"), OpenMode::CreateReadWrite).unwrap();
    /// f.write_at(b"x", 0).unwrap();
    /// vfs.fail_next(OpKind::Sync, InjectedError::Eio);
    /// assert!(f.sync().is_err());
    /// assert!(f.sync().is_ok());
    /// ```
    pub fn fail_next(&self, kind: OpKind, error: InjectedError) {
        self.fail_nth(kind, 1, error);
    }

    /// Fails the `n`th (1-based; 0 counts as 1) next operation of `kind`
    /// with `error`, whatever the rates. A scheduled error on `sync` behaves
    /// like an EIO sync (it loses pending operations); on `write_at` a
    /// prefix may have been applied; elsewhere the operation has no effect.
    pub fn fail_nth(&self, kind: OpKind, n: u64, error: InjectedError) {
        self.shared.lock().errors.add(kind, n, error);
    }

    /// Forgets every error scheduled by [`SimVfs::fail_nth`].
    pub fn clear_scheduled_errors(&self) {
        self.shared.lock().errors.clear();
    }

    /// Flips bit `bit` (0..8) of byte `offset` of `path`'s durable data
    /// (silent corruption). The file's cached view is rebuilt, so reads see
    /// the flip unless a pending write covers it.
    pub fn flip_bit(&self, path: &Path, offset: u64, bit: u8) -> io::Result<()> {
        self.shared.lock().flip(path, offset, bit)
    }

    /// Flips a seeded random bit of `path`'s durable data; returns the byte
    /// offset and bit. `InvalidInput` if the file has no durable data.
    pub fn flip_random_bit(&self, path: &Path) -> io::Result<(u64, u8)> {
        let mut inner = self.shared.lock();
        let ino = inner.durable_target(path)?;
        let len = inner.files[&ino].durable.len();
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no durable data",
            ));
        }
        let offset = inner.rng.below(len);
        let bit = inner.rng.below(8) as u8;
        inner.flip(path, offset, bit)?;
        Ok((offset, bit))
    }

    /// Gives the 512-byte sector holding `offset` of `path` a latent error:
    /// every read touching it fails with EIO until a write touches it.
    pub fn add_latent_sector_error(&self, path: &Path, offset: u64) -> io::Result<()> {
        let mut inner = self.shared.lock();
        let ino = inner.durable_target(path)?;
        let sector = offset / SECTOR_SIZE;
        inner
            .files
            .get_mut(&ino)
            .expect("checked")
            .latent
            .insert(sector);
        let fault = Fault::LatentSector {
            offset: sector * SECTOR_SIZE,
            len: SECTOR_SIZE,
        };
        inner.log_explicit(path, fault, &[2, ino, sector]);
        Ok(())
    }

    /// The next successful `sync` (of any file) that covers at least one
    /// write silently loses one of them (seeded choice): it reports success
    /// but the write never reaches durable data. Calls accumulate.
    pub fn lose_next_synced_write(&self) {
        let mut inner = self.shared.lock();
        inner.silent.lost_writes += 1;
        inner.trace.record(TAG_EXPLICIT, &[3]);
    }

    /// The next successful `sync` that covers at least one write lands one
    /// of them (seeded choice) at another page-aligned offset inside the
    /// file; if the file offers no other place, the write lands normally.
    /// Explicit misdirections are not limited to one per run.
    pub fn misdirect_next_synced_write(&self) {
        let mut inner = self.shared.lock();
        inner.silent.misdirects += 1;
        inner.trace.record(TAG_EXPLICIT, &[4]);
    }

    /// Whether errors scheduled by [`SimVfs::fail_nth`] are still waiting.
    pub fn has_scheduled_errors(&self) -> bool {
        !self.shared.lock().errors.is_empty()
    }
}
