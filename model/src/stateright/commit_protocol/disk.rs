//! The abstract disk of the commit-protocol model: slot and tree-page
//! contents ([`Ckpt`]), log records ([`Rec`]), and locations with a durable
//! value, a pending write and a page-cache value ([`Loc`]).

/// A checkpoint: slot content and, since hashing is collision free, its
/// checksum. `state` is the logical database: the payload of every
/// transaction `1..=t` (so `t = state.len()`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ckpt {
    /// Checkpoint id `k`.
    pub id: u8,
    /// Payloads of transactions `1..=t`.
    pub state: Vec<u8>,
    /// The page location holding this checkpoint's tree.
    pub page: u8,
    /// Id of the checkpoint that wrote that page: `id` itself, or for a
    /// republished slot (§4 step 4) the id of the slot it republishes.
    pub tree: u8,
    /// Ghost: the session that wrote it (not on disk).
    pub by: u8,
}

impl Ckpt {
    /// Same bytes on disk (ghost fields ignored).
    pub(super) fn same_bytes(&self, other: &Ckpt) -> bool {
        self.id == other.id
            && self.state == other.state
            && self.page == other.page
            && self.tree == other.tree
    }
    /// Whether `page` (the content of a page location) is the tree page this
    /// slot references.
    pub(super) fn references(&self, page: &Ckpt) -> bool {
        page.id == self.tree && page.state == self.state && page.page == self.page
    }
}

/// The content of a slot page (§1.2): a checkpoint and the write sequence
/// number of this slot write (copies of one checkpoint differ only in it;
/// log records link to the checkpoint, not to the sequence number).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotVal {
    /// The checkpoint.
    pub ck: Ckpt,
    /// Write sequence number.
    pub seq: u8,
}

/// A log record (§2.1), as the writer encoded it.
///
/// The header checksum covers the epoch, transaction id, previous link and
/// durable mark, and the link of record `i` is the header checksum of
/// record `i-1`: so a record's bytes determine the payloads and marks of
/// every earlier record of its epoch, which is what `payloads` and `marks`
/// hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rec {
    /// The checkpoint this log follows (gives the epoch and, for record 0, the link).
    pub epoch_slot: Ckpt,
    /// Payloads of records `0..=i` of this epoch; the last one is this record's.
    pub payloads: Vec<u8>,
    /// Durable marks (§2.1: the highest transaction id the writer knew
    /// durable when it wrote the record) of records `0..=i` of this epoch;
    /// the last one is this record's.
    pub marks: Vec<u8>,
    /// Ghost: the session that wrote it (not on disk).
    pub writer: u8,
    /// Ghost (not on disk, recovery never looks at it): the highest
    /// transaction id whose record the writer had written in this epoch
    /// before a sync that returned before this record was written (the
    /// slot's last transaction if none). Tracked from the sync events, not
    /// from the mark; property (a) uses it.
    pub covered: u8,
}

impl Rec {
    pub(super) fn epoch(&self) -> u8 {
        self.epoch_slot.id
    }
    pub(super) fn txid(&self) -> usize {
        self.epoch_slot.state.len() + self.payloads.len()
    }
    /// The durable mark field (§2.1).
    pub(super) fn mark(&self) -> usize {
        *self.marks.last().expect("a record has a mark") as usize
    }
    /// The previous-link field equals the slot checksum of `chosen` (no
    /// `prev`) or the header checksum of `prev`: same bytes as the record or
    /// slot this record's writer linked to.
    pub(super) fn links_to(&self, prev: Option<&Rec>, chosen: &Ckpt) -> bool {
        let n = self.payloads.len();
        match prev {
            None => n == 1 && self.epoch_slot.same_bytes(chosen),
            Some(p) => {
                n >= 2
                    && p.epoch_slot.same_bytes(&self.epoch_slot)
                    && p.payloads[..] == self.payloads[..n - 1]
                    && p.marks[..] == self.marks[..n - 1]
            }
        }
    }
    /// Whether this is a *vouching header* for transaction `u` in a log of
    /// epoch `k` (§2.3: magic and header checksum good, epoch `k`,
    /// transaction id `> u`, durable mark `>= u`).
    pub(super) fn vouches_for(&self, k: u8, u: usize) -> bool {
        self.epoch() == k && self.txid() > u && self.mark() >= u
    }
}

/// Durable content of a location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cell<T> {
    /// All zeros: never written, or (a log position) a record header
    /// erased by §3 L3.
    Zero,
    /// A torn write: fails its checksum. For a log record the header is
    /// what fails (a torn write that left the header whole and broke the
    /// payload is not told apart; see the module docs).
    Torn,
    /// Silent damage to a durable value (only log records are damaged
    /// here): detected by its checksums (FORMAT.md §6), not all zeros and
    /// not a valid header of any epoch. Ghost: the value it destroyed
    /// (recovery never looks at it; the properties do).
    Damaged(T),
    /// A whole value.
    Val(T),
}

/// A location: durable content plus an unsynced write.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc<T> {
    /// What survives a crash now.
    pub durable: Cell<T>,
    /// Written, not yet synced.
    pub pending: Option<T>,
    /// What the operating system's page cache shows instead of the disk
    /// after a failed sync (fsyncgate): a write the sync lost, or (a failed
    /// log write's erase, §3 L3) a header of zeros over a record the disk
    /// holds. A reopen without a crash reads it, a crash forgets it.
    pub cached: Option<Cell<T>>,
}

impl<T: Clone> Loc<T> {
    pub(super) fn new(durable: Cell<T>) -> Self {
        Loc {
            durable,
            pending: None,
            cached: None,
        }
    }
    /// What a read sees now (no write pending): the page cache, else the disk.
    pub(super) fn view(&self) -> Cell<T> {
        self.cached.clone().unwrap_or_else(|| self.durable.clone())
    }
    pub(super) fn write(&mut self, v: T) {
        self.cached = None;
        // With the protocol this happens only when an abandoned checkpoint's
        // page is written again; the older write is taken as flushed (it may
        // have been), which is harmless for a page nothing refers to.
        if let Some(old) = self.pending.take() {
            self.durable = Cell::Val(old);
        }
        self.pending = Some(v);
    }
    pub(super) fn sync(&mut self) {
        if let Some(v) = self.pending.take() {
            self.durable = Cell::Val(v);
        }
    }
    /// Crash or failed sync. With `lie` (a failed sync whose lost writes
    /// stay visible to a reopen without crash) a write that did not reach
    /// the disk whole stays in the page cache.
    pub(super) fn resolve(&mut self, fate: Fate, lie: bool) {
        if let Some(v) = self.pending.take() {
            match fate {
                Fate::Lost => {}
                Fate::Applied => self.durable = Cell::Val(v.clone()),
                Fate::Torn => self.durable = Cell::Torn,
            }
            if lie && fate != Fate::Applied {
                self.cached = Some(Cell::Val(v));
            }
        }
    }
    /// §3 L3: zeros over the record header at this position, then a sync
    /// that succeeded: the position durably reads as an unwritten tail
    /// (§2.3: an all-zero header ends the log).
    pub(super) fn erase_durably(&mut self) {
        self.pending = None;
        self.cached = None;
        self.durable = Cell::Zero;
    }
}

/// A location of the abstract disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Where {
    /// Checkpoint slot 0, 1 or 2.
    Slot(u8),
    /// A tree-page location.
    Page(u8),
    /// A record position of the log extent.
    Log(u8),
}

/// What a crash (or a failed sync) does to one pending write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    /// The old durable content stays.
    Lost,
    /// The write reached the disk whole.
    Applied,
    /// The location holds a mix that fails its checksum.
    Torn,
}
