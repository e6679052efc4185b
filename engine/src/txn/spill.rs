//! Spilling: a write transaction whose changed nodes pass its memory budget
//! writes them to free pages, so that a transaction of any size runs in
//! bounded memory (FORMAT.md §3 Spill, steps SP1–SP3; §5).
//!
//! The pages come from the writer's allocator, like a checkpoint's (C1),
//! and nothing durable refers to them: a crash leaves them free, an abort
//! gives them back at once, and a commit keeps the ones its trees refer to.
//! A spilled page the transaction stops using (a later change copies the
//! node into memory again) is given back at the next spill, unless a cursor
//! of the transaction, which may still read it, is open.

use std::collections::HashMap;

use crate::btree::cursor::ReuseGuard;
use crate::btree::flush::{flush, PageSource};
use crate::db::Inner;
use crate::freelist::Allocator;
use crate::page::node::Child;
use crate::pager::{PageWriter, RootPin};
use crate::txn::state::TxState;
use crate::Result;

/// What a transaction's spills wrote, and the memory it holds since.
#[derive(Debug, Default)]
pub struct Spilled {
    /// Runs written by spills that the transaction's trees may still refer
    /// to: first page -> (pages, number of the spill that wrote it).
    runs: HashMap<u64, (u64, u64)>,
    /// Spilled runs the trees no longer refer to, waiting to be given back
    /// (SP1), in the order they were released: (first page, pages, spill).
    released: Vec<(u64, u64, u64)>,
    /// Bytes of nodes made and large values held since the last spill.
    dirty: u64,
    /// Writes of spilled pages so far (each numbers the runs it writes).
    writes: u64,
}

/// The spill bookkeeping at a savepoint ([`Spilled::mark`]).
#[derive(Clone, Copy, Debug)]
pub struct SpillMark {
    writes: u64,
    released: usize,
    dirty: u64,
}

impl Spilled {
    /// Counts `bytes` more memory held by changed nodes or pending values.
    pub fn add_dirty(&mut self, bytes: u64) {
        self.dirty += bytes;
    }

    /// Memory held by changes since the last spill.
    pub fn dirty(&self) -> u64 {
        self.dirty
    }

    /// Whether `(first, pages)`, which the trees stopped using, is a spilled
    /// run; if so it is kept for giving back (and must not be freed by a
    /// checkpoint: nothing durable ever used it).
    pub fn take_back(&mut self, first: u64, pages: u64) -> bool {
        match self.runs.remove(&first) {
            Some((n, write)) => {
                debug_assert_eq!(n, pages, "a spilled run is freed whole");
                self.released.push((first, n, write));
                true
            }
            None => false,
        }
    }

    /// Gives back the released runs (SP1; at the end of the transaction no
    /// cursor of it is left).
    pub fn give_back_released(&mut self, alloc: &mut Allocator) {
        for (p, n, _) in self.released.drain(..) {
            alloc.unallocate(p, n);
        }
    }

    /// The transaction ends without committing (an abort or a failed
    /// commit): every spilled page is free again at once. (On a commit the
    /// runs its trees refer to simply stay in use, like pages a checkpoint
    /// allocated.)
    pub fn abort(&mut self, alloc: &mut Allocator) {
        self.give_back_released(alloc);
        for (p, (n, _)) in self.runs.drain() {
            alloc.unallocate(p, n);
        }
    }

    /// The bookkeeping now, to roll back to. Valid while nothing is given
    /// back: the caller holds a clone of the transaction's [`ReuseGuard`]
    /// meanwhile.
    pub fn mark(&self) -> SpillMark {
        SpillMark {
            writes: self.writes,
            released: self.released.len(),
            dirty: self.dirty,
        }
    }

    /// Back to `mark`, whose trees the transaction goes back to: the runs
    /// written since are released (those trees never referred to them),
    /// the runs released since but written before are in use again, and
    /// the memory count is the mark's (the trees hold its nodes again).
    pub fn rollback_to(&mut self, mark: &SpillMark) {
        let back = self.released.split_off(mark.released);
        for (p, n, write) in back {
            if write <= mark.writes {
                self.runs.insert(p, (n, write));
            } else {
                self.released.push((p, n, write));
            }
        }
        if self.writes > mark.writes {
            let later: Vec<u64> = self
                .runs
                .iter()
                .filter(|(_, (_, write))| *write > mark.writes)
                .map(|(p, _)| *p)
                .collect();
            for p in later {
                let (n, write) = self.runs.remove(&p).expect("listed above");
                self.released.push((p, n, write));
            }
        }
        self.dirty = mark.dirty;
    }

    /// Whether nothing is left to give back.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.released.is_empty()
    }
}

/// Settles a committing transaction's spilled pages when dropped, on every
/// path out of the commit (an error or a panic included): if the commit
/// installed the transaction's trees (the latest transaction id moved on),
/// the pages they refer to stay in use; otherwise every spilled page is
/// given back.
pub(crate) struct SettleSpills<'a> {
    inner: &'a Inner,
    spilled: Spilled,
    txn_before: u64,
}

impl<'a> SettleSpills<'a> {
    /// Takes over `spilled` for the commit about to run, giving back the
    /// runs the trees no longer use at once (no cursor of the transaction
    /// is left).
    pub fn new(inner: &'a Inner, mut spilled: Spilled) -> SettleSpills<'a> {
        let mut core = inner.core.lock();
        spilled.give_back_released(&mut core.alloc);
        let txn_before = core.txn;
        drop(core);
        SettleSpills {
            inner,
            spilled,
            txn_before,
        }
    }
}

impl Drop for SettleSpills<'_> {
    fn drop(&mut self) {
        let mut core = self.inner.core.lock();
        if core.txn == self.txn_before {
            self.spilled.abort(&mut core.alloc);
        }
    }
}

/// Allocates from the writer's allocator and records every run at once in
/// the transaction's spill bookkeeping, so that a panic half-way through
/// leaves them to the abort that follows.
struct SpillSource<'a> {
    alloc: &'a mut Allocator,
    spilled: &'a mut Spilled,
    /// The runs of this spill.
    runs: Vec<(u64, u64)>,
}

impl PageSource for SpillSource<'_> {
    fn alloc_pages(&mut self, pages: u64) -> Result<u64> {
        let p = self.alloc.allocate(pages)?;
        let write = self.spilled.writes;
        self.spilled.runs.insert(p, (pages, write));
        self.runs.push((p, pages));
        Ok(p)
    }
}

/// SP2 for `nodes` (in-memory subtrees, each written children first):
/// allocates from the writer's allocator, writes, and returns their page
/// references and the runs it wrote. On an error every page it allocated
/// is given back.
#[allow(clippy::type_complexity)]
fn write_nodes(
    inner: &Inner,
    spilled: &mut Spilled,
    nodes: &[&Child],
) -> Result<(Vec<crate::page::PageRef>, Vec<(u64, u64)>)> {
    let pager = &inner.pager;
    let mut core = inner.core.lock();
    let next = core.checkpoint + 1;
    spilled.writes += 1;
    let slot_pages = core.slot.page_count;
    let mut src = SpillSource {
        alloc: &mut core.alloc,
        spilled,
        runs: Vec::new(),
    };
    let written = (|| {
        crate::failpoint::hit("spill::write")?;
        let mut writer = PageWriter::new(pager);
        let refs = nodes
            .iter()
            .map(|c| flush(&mut writer, &mut src, next, c))
            .collect::<Result<Vec<_>>>()?;
        writer.finish()?;
        Ok(refs)
    })();
    let SpillSource {
        alloc,
        spilled,
        runs,
    } = src;
    match written {
        Ok(refs) => {
            // The page count bounds the depth of a valid tree (the pager's
            // check).
            pager.set_page_count(alloc.page_count().max(slot_pages));
            inner
                .spills
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok((refs, runs))
        }
        Err(e) => {
            for (p, n) in runs {
                spilled.runs.remove(&p);
                alloc.unallocate(p, n);
            }
            Err(e)
        }
    }
}

/// Spills every changed node of `state`'s trees (SP1–SP3). On an error the
/// trees are unchanged and every page this spill allocated is given back.
pub(crate) fn run(inner: &Inner, state: &mut TxState, cursors: &ReuseGuard) -> Result<()> {
    // SP1: spilled pages an open cursor may still read wait.
    if !cursors.shared() {
        state
            .spilled
            .give_back_released(&mut inner.core.lock().alloc);
    }
    // SP2: allocate and write, children first.
    let (names, roots): (Vec<Vec<u8>>, Vec<&Child>) = state
        .catalog
        .iter()
        .filter_map(|(name, b)| match &b.root {
            Some(c @ Child::Mem(_)) => Some((name.to_vec(), c)),
            _ => None,
        })
        .unzip();
    let (refs, _) = write_nodes(inner, &mut state.spilled, &roots)?;
    // SP3: the trees refer to the spilled pages.
    for (name, root) in names.into_iter().zip(refs) {
        let b = state
            .catalog
            .get_mut(&name)
            .expect("a bucket spilled is in the catalog");
        b.root = Some(Child::Disk(root));
        b.pin = RootPin::default();
    }
    state.spilled.dirty = 0;
    Ok(())
}

/// The leaves a sorted load has built so far, spilled (SP2) as the load
/// goes, so that a load of any size holds about one budget of leaves. The
/// runs this load wrote are tracked: a load that fails gives them back.
pub(crate) struct LoadSpiller<'a> {
    inner: &'a Inner,
    /// Runs written by this load.
    runs: Vec<(u64, u64)>,
}

impl<'a> LoadSpiller<'a> {
    /// A spiller for one sorted load.
    pub fn new(inner: &'a Inner) -> LoadSpiller<'a> {
        LoadSpiller {
            inner,
            runs: Vec::new(),
        }
    }
}

impl crate::txn::state::SpillLeaves for LoadSpiller<'_> {
    fn spill(
        &mut self,
        spilled: &mut Spilled,
        leaves: &[&Child],
    ) -> Result<Vec<crate::page::PageRef>> {
        let (refs, runs) = write_nodes(self.inner, spilled, leaves)?;
        self.runs.extend(runs);
        Ok(refs)
    }

    fn failed(&mut self, spilled: &mut Spilled) {
        for (p, n) in self.runs.drain(..) {
            spilled.take_back(p, n);
        }
    }
}
