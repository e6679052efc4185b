//! Creating a database file (FORMAT.md §1.1).
//!
//! The whole initial image (allocator, zeroed log extent, slot of
//! checkpoint 1, header) is written to `<path>.vellum-new`, synced, renamed
//! over `path` and the directory synced. A crash or error at any point
//! leaves either no file at `path` (the next open starts again) or a
//! complete, durable one: never a partial file that a later open could
//! mistake for damage or trust from a stale page cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::freelist::Allocator;
use crate::page::{file_header, slot::Slot};
use crate::pager::Pager;
use crate::vfs::{LockKind, OpenMode, VfsFile};
use crate::{Error, Options, Result};

/// Pages of the first log extent.
fn initial_log_pages(page_size: usize, max_pages: u64) -> u64 {
    ((64 * 1024 / page_size) as u64).max(16).min(max_pages)
}

/// The side file a creation is prepared in.
pub fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".vellum-new");
    PathBuf::from(name)
}

/// Creates the database at `path` atomically (see the module docs), unless
/// a file that is not empty is there by now (another handle or process
/// created it first: then this does nothing). Never replaces a file that
/// another handle holds: [`Error::Locked`].
pub(crate) fn create(path: &Path, opts: &Options) -> Result<()> {
    let vfs = &opts.vfs;
    if vfs.exists(path)? {
        let target = vfs.open(path, OpenMode::ReadWrite)?;
        if !target.try_lock(LockKind::Exclusive)? {
            return Err(Error::Locked);
        }
        let empty = target.is_empty();
        let _ = target.unlock();
        if !empty? {
            return Ok(());
        }
    }
    let staging = staging_path(path);
    let file = vfs.open(&staging, OpenMode::CreateReadWrite)?;
    if !file.try_lock(LockKind::Exclusive)? {
        return Err(Error::Locked);
    }
    let r = (|| {
        file.set_len(0)?;
        write_image(opts, &file)?;
        file.sync()?;
        vfs.rename(&staging, path)?;
        vfs.sync_dir(path)?;
        Ok(())
    })();
    let _ = file.unlock();
    r
}

/// Writes the image of an empty database into `file`: allocator, zeroed
/// log extent, the slot of checkpoint 1 and the header.
pub(crate) fn write_image(opts: &Options, file: &Arc<dyn VfsFile>) -> Result<()> {
    let ps = opts.page_size;
    let pager = Pager::new(file.clone(), ps, 1 << 20);
    let mut alloc = Allocator::new(ps);
    let log_pages = initial_log_pages(ps, (opts.max_log_size / ps as u64).max(4));
    let log_start = alloc.allocate(log_pages)?;
    alloc.persist(&pager, 1)?;
    file.set_len(alloc.page_count() * ps as u64)?;
    pager.zero_fill(log_start, log_pages)?;
    let slot = Slot {
        checkpoint: 1,
        last_txn: 0,
        page_count: alloc.page_count(),
        log_start,
        log_pages,
        catalog: None,
        alloc_index: alloc.index_refs().to_vec(),
    };
    let (bytes, _) = slot.encode(ps, 1);
    pager.write_pages(1, &bytes)?;
    pager.write_pages(0, &file_header::encode(ps))?;
    Ok(())
}

/// Whether either slot page (at this page size) holds a valid slot.
pub(crate) fn any_valid_slot(file: &Arc<dyn VfsFile>, ps: usize) -> bool {
    let mut page = vec![0u8; ps];
    (1..=crate::page::slot::SLOTS)
        .any(|p| file.read_at(&mut page, p * ps as u64).is_ok() && Slot::decode(&page, p).is_ok())
}
