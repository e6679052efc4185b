//! The steps of FORMAT.md §3 (log commit L1–L6, checkpoint C1–C6) and of
//! §4 step 4 (confirmation, republish), as state transitions.

use super::disk::{Cell, Ckpt, Fate, Rec, SlotVal, Where};
use super::slot_pages;
use super::state::{Event, Mem, Run, State, Step};
use super::{CommitProtocol, ConfirmAt, Durability, Erase, Mutant};

impl CommitProtocol {
    /// The length of the history prefix the crashed session promised.
    pub(super) fn floor(&self, mem: &Mem) -> u8 {
        match self.durability {
            Durability::Immediate => mem.acked.max(mem.synced),
            Durability::Eventual => mem.synced,
        }
    }

    /// C1: lowest page that is free and reusable under checkpoint `k` (§5)
    /// and not blocked by §4 step 4. With several blocked pages the file
    /// grows: there is always a page beyond the blocked ones.
    fn allocate(&self, mem: &Mem) -> u8 {
        (0..self.pages)
            .find(|&p| {
                (self.mutant == Mutant::ReuseOwnFreed || p != mem.ck.page)
                    && !mem.blocked.contains(&p)
            })
            .expect("one page more than the current and the blocked ones")
    }

    /// A session must confirm the newest slot before its next slot write.
    pub(super) fn needs_confirm(&self, mem: &Mem) -> bool {
        self.mutant.confirms() && mem.durable_page.is_none()
    }

    /// §1.2 (or the earlier texts' `k mod n`): the slot page for the new
    /// checkpoint `id` of a confirmed session.
    fn page_for_new(&self, mem: &Mem, id: u8) -> usize {
        if let Some(n) = self.mutant.slot_modulus() {
            return (id % n) as usize;
        }
        let durable = match mem.durable_page {
            Some(p) => p as usize,
            // Without confirmation: not over the current slot's copy.
            None => slot_pages::copy_of(&mem.slot_view, mem.ck.id, slot_pages::Which::Earliest)
                .expect("the current slot is in a page"),
        };
        slot_pages::for_new(&mem.slot_view, durable)
    }

    /// Writes `ck` into slot page `page` (pending until a sync) with the
    /// next write sequence number.
    fn write_slot(&self, s: &mut State, page: usize, ck: Ckpt) {
        s.newest_slot = s.newest_slot.max(ck.id);
        s.mem.seq += 1;
        s.mem.slot_view[page] = Some((ck.id, s.mem.seq));
        s.slots[page].write(SlotVal { ck, seq: s.mem.seq });
    }

    /// Sync covering every write issued so far; L5 waiters return with it.
    /// Records replayed by recovery are not this session's writes: in a
    /// session without an epoch of its own a sync acknowledges nothing (the
    /// replayed records may exist only in the page cache, which a sync does
    /// not write again; §4 step 5).
    pub(super) fn sync(&self, s: &mut State) {
        s.sync_all();
        if s.mem.needs_epoch {
            return;
        }
        let logged = s.mem.logged() as u8;
        if self.durability == Durability::Immediate && logged >= s.mem.acked + 2 {
            s.event = Event::GroupCommit;
        }
        s.mem.synced = logged;
        s.mem.acked = s.mem.acked.max(logged);
        s.mem.durable = logged;
    }

    /// Starts checkpoint `k+1` (`big`: a transaction committed by it;
    /// `recovery`: §4 step 5) or a republish (§4 step 4; `then`: the
    /// transaction of the first commit, logged after C6). With
    /// [`ConfirmAt::BeforeC1`] an unconfirmed session first writes the
    /// confirmation copy; otherwise C1 + C2 happen now.
    pub(super) fn start_run(
        &self,
        s: &mut State,
        big: Option<u8>,
        recovery: bool,
        republish: bool,
        then: Option<u8>,
    ) {
        if self.sync_log_before_checkpoint && !republish && s.mem.synced < s.mem.logged() as u8 {
            self.sync(s);
        }
        s.mem.run = Some(Run {
            step: Step::Pages,
            new: None,
            big,
            recovery,
            republish,
            then,
        });
        if self.needs_confirm(&s.mem) && self.confirm_at == ConfirmAt::BeforeC1 {
            self.write_confirmation(s);
        } else {
            self.prepare(s);
        }
    }

    /// C1 + C2 of a checkpoint (its tree page), or the new slot of a
    /// republish (the tree of `k` under id `k+1`); the run is then at
    /// [`Step::Pages`].
    fn prepare(&self, s: &mut State) {
        let run = s.mem.run.as_ref().expect("checkpoint running");
        let ck = &s.mem.ck;
        let new = if run.republish {
            Ckpt {
                id: ck.id + 1,
                state: ck.state.clone(),
                page: ck.page,
                tree: ck.tree,
                by: s.session,
            }
        } else {
            let page = self.allocate(&s.mem);
            let new = Ckpt {
                id: ck.id + 1,
                state: s.mem.history(),
                page,
                tree: ck.id + 1,
                by: s.session,
            };
            if s.event == Event::None {
                if s.mem.blocked.iter().any(|&b| b < page) {
                    s.event = Event::Blocked;
                } else if matches!(s.pages[page as usize].durable, Cell::Val(_)) {
                    s.event = Event::PageReuse;
                }
            }
            s.pages[page as usize].write(new.clone());
            new
        };
        let run = s.mem.run.as_mut().expect("checkpoint running");
        run.new = Some(new);
        run.step = Step::Pages;
    }

    /// §4 step 4: write the confirmation copy of the newest slot (same id,
    /// same bytes) into a page that holds the last copy of neither the
    /// newest nor the next newest slot. The mutants change the copy or the
    /// page.
    fn write_confirmation(&self, s: &mut State) {
        let view = &s.mem.slot_view;
        let page = match self.mutant {
            Mutant::LastCopyById => slot_pages::for_copy_by_id(view),
            m => {
                let (newest, next) = m.protects();
                slot_pages::for_copy(view, newest, next)
            }
        };
        let copy = if self.mutant == Mutant::ConfirmWithNewId {
            // A republish under a new id instead of a copy: from now on the
            // session's current slot is the new one (same tree and state).
            let ck = &s.mem.ck;
            let new = Ckpt {
                id: ck.id + 1,
                state: ck.state.clone(),
                page: ck.page,
                tree: ck.tree,
                by: s.session,
            };
            s.mem.ck = new.clone();
            new
        } else {
            s.mem.ck.clone()
        };
        self.write_slot(s, page, copy);
        s.mem.durable_page = Some(page as u8);
        s.mem.run.as_mut().expect("checkpoint running").step = Step::Confirm;
    }

    /// The confirmation's sync: the newest slot is now durable, the pages
    /// the older slots needed are unblocked; then the step that follows.
    pub(super) fn confirm(&self, s: &mut State) {
        s.sync_all();
        s.mem.blocked.clear();
        if s.event == Event::None {
            s.event = Event::Confirmed;
        }
        match self.confirm_at {
            ConfirmAt::BeforeC1 => self.prepare(s),
            ConfirmAt::BeforeC4 => self.write_c4(s),
        }
    }

    /// C3 (skipped by a republish) + C4, or with [`ConfirmAt::BeforeC4`]
    /// in an unconfirmed session C3 + the confirmation copy.
    pub(super) fn barrier1(&self, s: &mut State) {
        let republish = s.mem.run.as_ref().is_some_and(|r| r.republish);
        // C3: barrier 1 (covers every earlier log record: L5 waiters return).
        if self.mutant != Mutant::SkipC3 && !republish {
            self.sync(s);
        }
        if self.needs_confirm(&s.mem) {
            self.write_confirmation(s);
        } else {
            self.write_c4(s);
        }
    }

    /// C4: the new slot, into a page chosen by §1.2.
    fn write_c4(&self, s: &mut State) {
        let run = s.mem.run.as_mut().expect("checkpoint running");
        run.step = Step::Slot;
        let new = run.new.clone().expect("C1 done before C4");
        let page = self.page_for_new(&s.mem, new.id);
        self.write_slot(s, page, new);
        s.mem.durable_page = Some(page as u8);
    }

    /// C5 + C6: the slot is durable, the new epoch starts; a
    /// commit-by-checkpoint is acknowledged, a republishing commit logs
    /// its record. The session's own checkpoint ends the blocking (the
    /// mutants without confirmation end it only here).
    pub(super) fn barrier2(&self, s: &mut State) {
        if self.mutant != Mutant::SkipC5 {
            s.sync_all();
        }
        let run = s.mem.run.take().expect("checkpoint running");
        let new = run.new.expect("C1 done before C5");
        let len = new.state.len() as u8;
        s.mem.ck = new;
        s.mem.chain.clear();
        s.mem.marks.clear();
        // The checkpoint holds every transaction up to `len` (§3 L1); the
        // new epoch has no record yet.
        s.mem.durable = len;
        s.mem.covered = len;
        s.mem.needs_epoch = false;
        s.mem.blocked.clear();
        // The session's own epoch is durable: records of older epochs are
        // stale for good, a failed log write of an earlier session too.
        s.mem.alt = None;
        s.mem.acked = len;
        if self.mutant != Mutant::SkipC5 {
            s.mem.synced = len;
        }
        if s.write_failed && s.event == Event::None {
            s.event = Event::CompletedAfterWriteFailure;
        }
        if let Some(payload) = run.then {
            self.log_commit(s, payload);
        }
    }

    /// L1: the durable mark of the next record (§2.1): the highest
    /// transaction id the session knows durable. The mutant puts the last
    /// transaction written instead.
    fn mark(&self, mem: &Mem) -> u8 {
        match self.mutant {
            Mutant::MarkIsLastWritten => mem.logged() as u8,
            _ => mem.durable,
        }
    }

    /// L1 + the write of L3: the record of the next transaction at the
    /// tail. Returns its durable mark.
    fn write_record(&self, s: &mut State, payload: u8) -> u8 {
        let tail = s.mem.chain.len();
        let mark = self.mark(&s.mem);
        let mut payloads = s.mem.chain.clone();
        payloads.push(payload);
        let mut marks = s.mem.marks.clone();
        marks.push(mark);
        let rec = Rec {
            epoch_slot: s.mem.ck.clone(),
            payloads,
            marks,
            writer: s.session,
            covered: s.mem.covered,
        };
        s.log[tail].write(rec);
        mark
    }

    /// L1–L3 (+ L5/L6 when `Eventual`) in the session's own epoch.
    pub(super) fn log_commit(&self, s: &mut State, payload: u8) {
        let mark = self.write_record(s, payload);
        s.mem.chain.push(payload);
        s.mem.marks.push(mark);
        if s.append_failed && s.event == Event::None {
            s.event = Event::LoggedAfterAppendFailure;
        }
        // L5/L6: Eventual (or the mutant) acknowledges without a sync.
        if self.durability == Durability::Eventual || self.mutant == Mutant::SkipL5Sync {
            s.mem.acked = s.mem.logged() as u8;
        }
    }

    /// §3 L3: the record's write fails. What landed stays pending: a crash
    /// or a sync may leave it lost, torn, or forming the whole record (the
    /// landed header over an earlier record with the same payload, say).
    /// The commit fails and the tail stays; then the erase of the header at
    /// the tail and its sync. If the erase fails the handle is poisoned and
    /// the commit's outcome is unknown ([`Mem::failing`](super::Mem::failing)).
    /// The mutants skip the erase, or keep the handle usable when it fails.
    pub(super) fn append_fails(&self, s: &mut State, payload: u8, erase: Erase) {
        s.txns_left -= 1;
        s.append_failures_left -= 1;
        s.append_failed = true;
        let tail = s.mem.chain.len();
        self.write_record(s, payload);
        match erase {
            Erase::Synced => {
                if self.mutant != Mutant::NoEraseAfterFailedLogWrite {
                    // The sync covers every earlier write too (it
                    // acknowledges nothing: no L5 waiter issued it), and
                    // it is a returned sync: the next record's durable
                    // mark covers the records before the tail (§3 L1).
                    s.sync_all();
                    s.log[tail].erase_durably();
                    if self.mutant != Mutant::MarkIgnoresEraseSync {
                        s.mem.durable = s.mem.logged() as u8;
                    }
                }
            }
            Erase::WriteFails | Erase::SyncFails => {
                s.sync_failures_left -= 1;
                if self.mutant != Mutant::EraseFailureKeepsHandleUsable {
                    s.mem.failing = Some((payload, erase));
                    s.mem.poisoned = true;
                }
            }
        }
    }

    /// A failed C3 or C5 sync: poison, or (mutants) abandon and go on.
    pub(super) fn sync_fails(&self, s: &mut State, fates: &[(Where, Fate)], keep_usable: bool) {
        s.sync_failures_left -= 1;
        if keep_usable {
            // The failed sync may have lost any of its writes; the checkpoint
            // is abandoned (its transaction, if any, fails); L5 waiters keep
            // waiting.
            s.resolve_all(fates, false);
            s.mem.run = None;
        } else {
            s.mem.poisoned = true;
        }
    }

    /// The payload tags a commit of this session may carry.
    pub(super) fn payloads(&self, s: &State) -> Vec<u8> {
        if s.session == 0 {
            vec![0]
        } else if self.retry_payloads {
            vec![0, s.session]
        } else {
            vec![s.session]
        }
    }
}
