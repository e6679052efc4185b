//! The state of the commit-protocol model: the disk, the open handle's
//! memory ([`Mem`]), a checkpoint in progress ([`Run`]) and what the last
//! recovery found ([`Report`]).

use super::disk::{Ckpt, Fate, Loc, Rec, SlotVal, Where};
use super::slot_pages::SlotView;
use super::Erase;

/// Where a checkpoint (or republish) in progress stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// §4 step 4: the confirmation copy of the newest slot is written; its
    /// sync comes next ([`super::Action::Confirm`]).
    Confirm,
    /// C1 + C2 done (a republish: ready for C4); C3 + C4 come next.
    Pages,
    /// C4 done; C5 + C6 come next.
    Slot,
}

/// A checkpoint in progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    /// Where it stands.
    pub step: Step,
    /// Checkpoint `k+1` being written; `None` until C1 (with
    /// [`super::ConfirmAt::BeforeC1`], C1 follows the confirmation).
    pub new: Option<Ckpt>,
    /// A transaction committed by this checkpoint (L2 or §4 step 6).
    pub big: Option<u8>,
    /// Run by recovery (§4 step 5).
    pub recovery: bool,
    /// A republish (§4 step 4): C4–C5 only, the tree of `k` under id `k+1`.
    pub republish: bool,
    /// The transaction whose commit started the republish: logged in the
    /// new epoch right after C6.
    pub then: Option<u8>,
}

/// In-memory state of the open handle.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mem {
    /// Current checkpoint `k`.
    pub ck: Ckpt,
    /// Payloads of the records in epoch `k` up to the tail (replayed or
    /// written); the tail is `chain.len()`.
    pub chain: Vec<u8>,
    /// Their durable marks (§2.1; the next record's link covers them).
    pub marks: Vec<u8>,
    /// The highest transaction id this session knows durable (§3 L1: a
    /// returned sync covered its record, or a completed checkpoint or the
    /// open's recovery held it; the engine's `GroupSync::durable_txn`):
    /// the durable mark of the next record.
    pub durable: u8,
    /// Ghost: the highest transaction id whose record this session wrote in
    /// epoch `k` before a sync that has since returned (`k`'s last
    /// transaction if none). Set from the sync events themselves
    /// (`State::sync_all`), independently of [`Mem::durable`]; each
    /// record carries it as [`Rec::covered`](super::Rec::covered).
    pub covered: u8,
    /// Length of the acknowledged prefix of the history.
    pub acked: u8,
    /// Length of the prefix covered by a completed sync.
    pub synced: u8,
    /// Checkpoint in progress.
    pub run: Option<Run>,
    /// No checkpoint of this session has completed yet (§4 step 6).
    pub needs_epoch: bool,
    /// §1.2: the checkpoint id and write sequence each slot page holds as
    /// far as this session knows (the valid slots it read at open, then its
    /// own slot writes).
    pub slot_view: SlotView,
    /// The highest write sequence this session knows of.
    pub seq: u8,
    /// The slot page this session knows holds its current slot durably
    /// (its confirmation copy, then its last C4; set when written, which is
    /// the same as when synced: a failed sync poisons the handle). `Some`
    /// once the session has confirmed the newest slot (§4 step 4) or
    /// written a slot of its own.
    pub durable_page: Option<u8>,
    /// §4 step 4: the pages the newest slot freed relative to the older
    /// valid slots, blocked until the session confirms the newest slot.
    pub blocked: Vec<u8>,
    /// A failed sync poisoned the handle: only a reopen follows.
    pub poisoned: bool,
    /// §3 L3: the payload of a commit whose log write failed and whose
    /// erase failed too (and how): its outcome is unknown (the handle is
    /// poisoned).
    pub failing: Option<(u8, Erase)>,
    /// Ghost: the history of an earlier session whose failed log write a
    /// crash may still reveal. A reopen after a failed erase may read the
    /// erased header from the page cache while the disk holds the record;
    /// until this session's first checkpoint completes (C5: that record's
    /// epoch is then stale) a crash may recover a prefix of this history
    /// instead of this session's.
    pub alt: Option<Vec<u8>>,
}

impl Mem {
    /// Transactions whose log record has been written.
    pub(super) fn logged(&self) -> usize {
        self.ck.state.len() + self.chain.len()
    }
    /// The session's history: every transaction issued so far.
    pub(super) fn history(&self) -> Vec<u8> {
        let mut h = self.ck.state.clone();
        h.extend_from_slice(&self.chain);
        h.extend(self.run.as_ref().and_then(|r| r.big));
        h.extend(self.failing.map(|(payload, _)| payload));
        h
    }
}

/// What one crash/reopen + recovery found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// (a) violated.
    pub lost_ack: bool,
    /// (b) violated.
    pub not_prefix: bool,
    /// (c) violated.
    pub bad_read: bool,
    /// (d) violated.
    pub other_writer: bool,
    /// (e) violated: open failed with `Error::Corruption` (§2.3 exception).
    pub newer_epoch: bool,
    /// The open failed with `Error::Corruption` naming a log record: it
    /// failed a test and a later header of the epoch vouches for it (§2.3
    /// "a torn tail or damage").
    pub log_corruption: bool,
    /// (f) violated: the record reported damaged was not a durable record
    /// of the epoch that silent damage destroyed (a torn write, say).
    pub false_log_corruption: bool,
    /// An acknowledged commit was lost, allowed by (a) because the log
    /// ended at a damaged record that no later record written after a sync
    /// covering it follows.
    pub damage_excused: bool,
    /// The log ended quietly at a torn record although a later record of
    /// the epoch follows it (written before the sync that would have
    /// covered the torn one: its mark does not vouch).
    pub torn_told: bool,
    /// The crash left a slot torn.
    pub torn_slot: bool,
    /// The chosen slot is older than the newest slot ever written.
    pub fell_back: bool,
    /// Records replayed.
    pub replayed: u8,
    /// Replay stopped at a whole record (a stale one).
    pub stale_rejected: bool,
    /// The crash hit recovery's own checkpoint.
    pub during_recovery_ckpt: bool,
    /// A C3 sync had failed in the crashed session.
    pub after_c3_failure: bool,
    /// A C5 sync had failed in the crashed session.
    pub after_c5_failure: bool,
    /// A confirmation had failed in the crashed session.
    pub after_confirm_failure: bool,
    /// Recovery chose a slot that only the page cache holds (a lost write
    /// of a failed sync) or replayed such a record.
    pub read_cache_lie: bool,
    /// A log write had failed in the crashed session (§3 L3).
    pub after_append_failure: bool,
    /// The erase after a failed log write had failed in the crashed session.
    pub after_erase_failure: bool,
    /// The recovered state is a prefix of an earlier session's history
    /// only ([`Mem::alt`]): a crash revealed a failed log write that the
    /// reopen before it did not show.
    pub revealed: bool,
}

/// Notable thing the last action did (for the properties).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Nothing notable.
    None,
    /// A sync acknowledged two or more commits.
    GroupCommit,
    /// C2 wrote a page location an earlier checkpoint had used.
    PageReuse,
    /// A session's first commit republished the newest slot (§4 steps 4, 6).
    Republish,
    /// `db.sync()` republished the newest slot (§4 step 4).
    SyncRepublish,
    /// A checkpoint skipped a page blocked by §4 step 4.
    Blocked,
    /// A session confirmed the newest slot (§4 step 4).
    Confirmed,
    /// A checkpoint completed in a session that had one abandoned by a C1–C2 error.
    CompletedAfterWriteFailure,
    /// A commit was logged at the position where a failed log write had
    /// been erased (§3 L3), in the same session.
    LoggedAfterAppendFailure,
    /// A crash/reopen and recovery.
    Recovered(Report),
}

/// Model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Checkpoint slots 0, 1 and 2 (pages 1..=3).
    pub slots: [Loc<SlotVal>; 3],
    /// Tree-page locations.
    pub pages: Vec<Loc<Ckpt>>,
    /// Log extent record positions.
    pub log: Vec<Loc<Rec>>,
    /// The open handle.
    pub mem: Mem,
    /// Sessions opened so far minus one.
    pub session: u8,
    /// Budgets.
    pub txns_left: u8,
    /// Stand-alone checkpoints left.
    pub ckpts_left: u8,
    /// Crashes left.
    pub crashes_left: u8,
    /// C1–C2 errors left.
    pub write_failures_left: u8,
    /// Failed syncs left (C3, C5, confirmation, the erase after a failed
    /// log write, and with the page-cache lie L5).
    pub sync_failures_left: u8,
    /// Failed L3 log writes left.
    pub append_failures_left: u8,
    /// A C1–C2 error abandoned a checkpoint in this session.
    pub write_failed: bool,
    /// A C3 sync failed in this session.
    pub c3_failed: bool,
    /// A C5 sync failed in this session.
    pub c5_failed: bool,
    /// An L5 sync or `db.sync()` failed in this session (only with
    /// [`super::CommitProtocol::cache_lie`]).
    pub l5_failed: bool,
    /// The sync of a confirmation copy (or its write) failed in this session.
    pub confirm_failed: bool,
    /// A log write failed in this session (§3 L3).
    pub append_failed: bool,
    /// Largest checkpoint id ever written to a slot.
    pub newest_slot: u8,
    /// Silent damage to log records left (§6 "Limits of detection").
    pub damage_left: u8,
    /// Stop exploring: a property was violated, or the open failed with
    /// `Error::Corruption` (the file needs the user: FORMAT.md §2.3
    /// `truncate_damaged_log`, not modelled).
    pub halted: bool,
    /// Notable effect of the last action.
    pub event: Event,
}

impl State {
    /// The locations with a pending write, in a fixed order.
    pub(super) fn pending(&self) -> Vec<Where> {
        let slots = (0..3).filter(|&i| self.slots[i].pending.is_some());
        let pages = (0..self.pages.len()).filter(|&i| self.pages[i].pending.is_some());
        let log = (0..self.log.len()).filter(|&i| self.log[i].pending.is_some());
        slots
            .map(|i| Where::Slot(i as u8))
            .chain(pages.map(|i| Where::Page(i as u8)))
            .chain(log.map(|i| Where::Log(i as u8)))
            .collect()
    }
    /// Every combination of fates for the pending writes.
    pub(super) fn fate_choices(&self) -> Vec<Vec<(Where, Fate)>> {
        let mut out = vec![Vec::new()];
        for w in self.pending() {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    [Fate::Lost, Fate::Applied, Fate::Torn].map(|f| {
                        let mut v: Vec<(Where, Fate)> = prefix.clone();
                        v.push((w, f));
                        v
                    })
                })
                .collect();
        }
        out
    }
    /// A sync that returned: every write issued so far is durable (and
    /// so, ghost [`Mem::covered`], every record this session wrote in its
    /// epoch).
    pub(super) fn sync_all(&mut self) {
        self.slots.iter_mut().for_each(Loc::sync);
        self.pages.iter_mut().for_each(Loc::sync);
        self.log.iter_mut().for_each(Loc::sync);
        if !self.mem.needs_epoch {
            self.mem.covered = self.mem.logged() as u8;
        }
    }
    /// A crash empties the page cache.
    pub(super) fn forget_cache(&mut self) {
        self.slots.iter_mut().for_each(|l| l.cached = None);
        self.pages.iter_mut().for_each(|l| l.cached = None);
        self.log.iter_mut().for_each(|l| l.cached = None);
    }
    /// The page cache shows a write the disk does not hold.
    pub(super) fn any_cached(&self) -> bool {
        self.slots.iter().any(|l| l.cached.is_some())
            || self.pages.iter().any(|l| l.cached.is_some())
            || self.log.iter().any(|l| l.cached.is_some())
    }
    /// Applies the fates of a crash or failed sync (`lie`: the lost writes
    /// stay in the page cache). Returns whether a slot was torn.
    pub(super) fn resolve_all(&mut self, fates: &[(Where, Fate)], lie: bool) -> bool {
        for &(w, f) in fates {
            match w {
                Where::Slot(i) => self.slots[i as usize].resolve(f, lie),
                Where::Page(i) => self.pages[i as usize].resolve(f, lie),
                Where::Log(i) => self.log[i as usize].resolve(f, lie),
            }
        }
        fates
            .iter()
            .any(|&(w, f)| matches!(w, Where::Slot(_)) && f == Fate::Torn)
    }
}
