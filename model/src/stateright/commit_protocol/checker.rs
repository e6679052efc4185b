//! The stateright [`Model`] of the commit protocol: initial state, enabled
//! actions, transitions and properties.

use ::stateright::{Model, Property};

use super::disk::{Cell, Ckpt, Fate, Loc, SlotVal, Where};
use super::state::{Event, Mem, Report, State, Step};
use super::*;

impl CommitProtocol {
    /// The initial slot page of checkpoint 1 (the engine's page 1).
    fn first_slot_page(&self) -> usize {
        match self.mutant.slot_modulus() {
            Some(n) => (1 % n) as usize,
            None => 0,
        }
    }

    /// C1 may allocate while pages are blocked (§4 step 4): the
    /// confirmation comes after it, or there is none.
    fn allocates_while_blocked(&self) -> bool {
        self.confirm_at == ConfirmAt::BeforeC4 || !self.mutant.confirms()
    }

    /// The next commit is an L1–L3 log append (not a commit by checkpoint
    /// or a republish).
    fn logs_next_commit(&self, s: &State) -> bool {
        !s.mem.needs_epoch && s.mem.chain.len() < self.log_len as usize
    }

    /// How the erase after a failed log write may go. Without the page-cache
    /// lie a failed erase write and a failed erase sync have the same
    /// outcomes (the disk decides at the reopen), so only one is explored.
    fn erase_outcomes(&self, s: &State) -> Vec<Erase> {
        let mut out = vec![Erase::Synced];
        if s.sync_failures_left > 0 && self.mutant != Mutant::NoEraseAfterFailedLogWrite {
            if self.cache_lie {
                out.push(Erase::WriteFails);
            }
            out.push(Erase::SyncFails);
        }
        out
    }

    /// The damage choices of a crash or reopen with these fates: none, or
    /// (with damage left) each log position whose durable cell holds a
    /// whole record and whose pending write, if any, does not reach the
    /// disk (a write that does covers the damage: the same as none).
    fn damage_choices(&self, s: &State, fates: &[(Where, Fate)]) -> Vec<Option<u8>> {
        let mut out = vec![None];
        if s.damage_left == 0 {
            return out;
        }
        for (i, loc) in s.log.iter().enumerate() {
            let covered = fates
                .iter()
                .any(|&(w, f)| w == Where::Log(i as u8) && f != Fate::Lost);
            if matches!(loc.durable, Cell::Val(_)) && !covered {
                out.push(Some(i as u8));
            }
        }
        out
    }

    /// Every crash or reopen action: each combination of fates, each damage.
    fn with_damage(
        &self,
        s: &State,
        choices: Vec<Vec<(Where, Fate)>>,
        make: impl Fn(Vec<(Where, Fate)>, Option<u8>) -> Action,
    ) -> Vec<Action> {
        choices
            .into_iter()
            .flat_map(|f| {
                self.damage_choices(s, &f)
                    .into_iter()
                    .map(|d| make(f.clone(), d))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Up to two older slots' pages may be blocked while a page is
    /// allocated: one page more than the current and the blocked ones.
    fn min_pages(&self) -> u8 {
        let blocks_two = self.mutant.slot_modulus().is_none()
            && self.mutant != Mutant::NoUnconfirmedBlocking
            && self.allocates_while_blocked();
        if blocks_two {
            4
        } else {
            3
        }
    }
}

impl Model for CommitProtocol {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        assert!(
            self.pages >= self.min_pages(),
            "this configuration needs {} page locations",
            self.min_pages()
        );
        assert!(
            !(self.mutant == Mutant::ConfirmWithNewId && self.confirm_at == ConfirmAt::BeforeC4),
            "ConfirmWithNewId is modelled with ConfirmAt::BeforeC1 only"
        );
        // §1.1 file creation: checkpoint 1 (empty database) in its slot and
        // its page, durable; the log extent holds no record.
        let ck1 = Ckpt {
            id: 1,
            state: Vec::new(),
            page: 0,
            tree: 1,
            by: 0,
        };
        let mut pages = vec![Loc::new(Cell::Zero); self.pages as usize];
        pages[0] = Loc::new(Cell::Val(ck1.clone()));
        let mut slots = [
            Loc::new(Cell::Zero),
            Loc::new(Cell::Zero),
            Loc::new(Cell::Zero),
        ];
        let first = self.first_slot_page();
        slots[first] = Loc::new(Cell::Val(SlotVal {
            ck: ck1.clone(),
            seq: 1,
        }));
        let mut slot_view = [None; 3];
        slot_view[first] = Some((1, 1));
        vec![State {
            slots,
            pages,
            log: vec![Loc::new(Cell::Zero); self.log_len as usize],
            mem: Mem {
                ck: ck1,
                chain: Vec::new(),
                acked: 0,
                synced: 0,
                run: None,
                // §4 step 6: checkpoint 1 is not the session's own.
                needs_epoch: self.mutant.step6(),
                slot_view,
                seq: 1,
                durable_page: None,
                blocked: Vec::new(),
                poisoned: false,
                failing: None,
                alt: None,
                marks: Vec::new(),
                durable: 0,
                covered: 0,
            },
            session: 0,
            txns_left: self.txns,
            ckpts_left: self.checkpoints,
            crashes_left: self.crashes,
            write_failures_left: self.write_failures,
            sync_failures_left: self.sync_failures,
            append_failures_left: self.append_failures,
            write_failed: false,
            c3_failed: false,
            c5_failed: false,
            l5_failed: false,
            confirm_failed: false,
            append_failed: false,
            newest_slot: 1,
            damage_left: self.damage,
            halted: false,
            event: Event::None,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        if s.halted {
            return;
        }
        if s.mem.poisoned {
            let choices = s.fate_choices();
            let sync_failed = s.c3_failed
                || s.c5_failed
                || s.l5_failed
                || s.confirm_failed
                || s.mem.failing.is_some();
            if self.cache_lie && sync_failed {
                actions.extend(
                    self.with_damage(s, choices.clone(), |f, d| Action::Reopen(f, true, d)),
                );
            }
            actions.extend(self.with_damage(s, choices, |f, d| Action::Reopen(f, false, d)));
            return;
        }
        let keep_c3 = self.mutant == Mutant::C3FailureKeepsHandleUsable;
        let keep_c5 = self.mutant == Mutant::C5FailureKeepsHandleUsable;
        let need_fates = s.crashes_left > 0 || (s.sync_failures_left > 0 && (keep_c3 || keep_c5));
        let fates = if need_fates {
            s.fate_choices()
        } else {
            Vec::new()
        };
        let failures = |keep: bool, make: fn(Vec<(Where, Fate)>) -> Action| -> Vec<Action> {
            if s.sync_failures_left == 0 {
                Vec::new()
            } else if keep {
                fates.iter().cloned().map(make).collect()
            } else {
                vec![make(Vec::new())]
            }
        };
        match &s.mem.run {
            None => {
                if s.txns_left > 0 {
                    for payload in self.payloads(s) {
                        actions.push(Action::Commit { payload });
                    }
                    if self.logs_next_commit(s) && s.append_failures_left > 0 {
                        for payload in self.payloads(s) {
                            for erase in self.erase_outcomes(s) {
                                actions.push(Action::AppendFails { payload, erase });
                            }
                        }
                    }
                }
                if s.ckpts_left > 0 {
                    actions.push(Action::Checkpoint);
                }
                if self.cache_lie && s.mem.needs_epoch && s.mem.chain.is_empty() {
                    actions.push(Action::DbSync);
                }
            }
            Some(run) => match run.step {
                Step::Confirm => {
                    actions.push(Action::Confirm);
                    if s.sync_failures_left > 0 {
                        actions.push(Action::ConfirmFails);
                    }
                }
                Step::Slot => {
                    actions.push(Action::Barrier2);
                    actions.extend(failures(keep_c5, Action::C5SyncFails));
                }
                Step::Pages if run.republish => actions.push(Action::Barrier1),
                Step::Pages => {
                    actions.push(Action::Barrier1);
                    if s.write_failures_left > 0 {
                        actions.push(Action::WriteFails);
                    }
                    actions.extend(failures(keep_c3, Action::C3SyncFails));
                }
            },
        }
        if !s.mem.needs_epoch && s.mem.synced < s.mem.logged() as u8 {
            actions.push(Action::Sync);
            if self.cache_lie && s.sync_failures_left > 0 {
                actions.push(Action::SyncFails);
            }
        }
        if s.crashes_left > 0 {
            actions.extend(self.with_damage(s, fates, Action::Crash));
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        s.event = Event::None;
        match action {
            Action::Commit { payload } => {
                s.txns_left -= 1;
                let tail = s.mem.chain.len();
                let fits = tail < self.log_len as usize;
                if !fits || (s.mem.needs_epoch && !s.mem.chain.is_empty()) {
                    // L2, or §4 step 6 with replayed records to checkpoint
                    // (only when a mutant let recovery's checkpoint fail
                    // without failing the open): commit by checkpoint.
                    self.start_run(&mut s, Some(payload), false, false, None);
                } else if s.mem.needs_epoch {
                    // §4 step 6 with nothing to checkpoint (the session has
                    // logged nothing): step 4 republish, then log.
                    s.event = Event::Republish;
                    self.start_run(&mut s, None, false, true, Some(payload));
                } else {
                    self.log_commit(&mut s, payload);
                }
            }
            Action::AppendFails { payload, erase } => self.append_fails(&mut s, payload, erase),
            Action::Sync => self.sync(&mut s),
            Action::SyncFails => {
                s.sync_failures_left -= 1;
                s.l5_failed = true;
                s.mem.poisoned = true;
            }
            Action::DbSync => {
                s.event = Event::SyncRepublish;
                self.start_run(&mut s, None, false, true, None);
            }
            Action::Checkpoint => {
                s.ckpts_left -= 1;
                self.start_run(&mut s, None, false, false, None);
            }
            Action::Confirm => self.confirm(&mut s),
            Action::ConfirmFails => {
                // A failed write or sync of the copy: poison (§3).
                s.sync_failures_left -= 1;
                s.confirm_failed = true;
                s.mem.poisoned = true;
            }
            Action::WriteFails => {
                // §3: nothing on disk refers to the pages written, the
                // in-memory state is unchanged, the handle stays usable.
                // §4 step 5: if this was recovery's checkpoint, the open fails.
                s.write_failures_left -= 1;
                s.write_failed = true;
                let run = s.mem.run.take().expect("checkpoint running");
                if run.recovery && self.mutant.step6() {
                    s.mem.poisoned = true;
                }
            }
            Action::Barrier1 => self.barrier1(&mut s),
            Action::C3SyncFails(fates) => {
                s.c3_failed = true;
                let keep = self.mutant == Mutant::C3FailureKeepsHandleUsable;
                self.sync_fails(&mut s, &fates, keep);
            }
            Action::Barrier2 => self.barrier2(&mut s),
            Action::C5SyncFails(fates) => {
                s.c5_failed = true;
                let keep = self.mutant == Mutant::C5FailureKeepsHandleUsable;
                self.sync_fails(&mut s, &fates, keep);
            }
            Action::Crash(fates, damage) => {
                s.crashes_left -= 1;
                self.crash(&mut s, &fates, true, false, damage);
            }
            Action::Reopen(fates, lie, damage) => self.crash(&mut s, &fates, false, lie, damage),
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        fn report(s: &State) -> Option<&Report> {
            match &s.event {
                Event::Recovered(r) => Some(r),
                _ => None,
            }
        }
        let mut props = vec![
            Property::always(P_ACKED, |_, s| !report(s).is_some_and(|r| r.lost_ack)),
            Property::always(P_PREFIX, |_, s| !report(s).is_some_and(|r| r.not_prefix)),
            Property::always(P_DURABLE_READS, |_, s| {
                !report(s).is_some_and(|r| r.bad_read)
            }),
            Property::always(P_ONE_WRITER, |_, s| {
                !report(s).is_some_and(|r| r.other_writer)
            }),
            Property::always(P_NO_FALSE_CORRUPTION, |_, s| {
                !report(s).is_some_and(|r| r.newer_epoch)
            }),
            Property::always(P_NO_FALSE_LOG_CORRUPTION, |_, s| {
                !report(s).is_some_and(|r| r.false_log_corruption)
            }),
            Property::sometimes(S_TORN_SLOT, |_, s| report(s).is_some_and(|r| r.torn_slot)),
            Property::sometimes(S_FALLBACK, |_, s| report(s).is_some_and(|r| r.fell_back)),
            Property::sometimes(S_REPLAY, |_, s| report(s).is_some_and(|r| r.replayed >= 1)),
            Property::sometimes(S_PAGE_REUSE, |_, s: &State| s.event == Event::PageReuse),
        ];
        if self.log_len >= 2 {
            props.push(Property::sometimes(S_REPLAY2, |_, s| {
                report(s).is_some_and(|r| r.replayed >= 2)
            }));
            props.push(Property::sometimes(S_STALE_REJECTED, |_, s| {
                report(s).is_some_and(|r| r.stale_rejected)
            }));
        }
        if self.log_len >= 2 && self.mutant != Mutant::NoDurableMark && self.crashes > 0 {
            props.push(Property::sometimes(S_TORN_TOLD, |_, s| {
                report(s).is_some_and(|r| r.torn_told)
            }));
        }
        if self.damage > 0 && self.mutant == Mutant::None {
            props.push(Property::sometimes(S_DAMAGE_DETECTED, |_, s| {
                report(s).is_some_and(|r| r.log_corruption)
            }));
            props.push(Property::sometimes(S_DAMAGE_UNDETECTED, |_, s| {
                report(s).is_some_and(|r| r.damage_excused)
            }));
        }
        if self.crashes >= 2 {
            props.push(Property::sometimes(S_CRASH_IN_RECOVERY_CKPT, |_, s| {
                report(s).is_some_and(|r| r.during_recovery_ckpt)
            }));
        }
        if self.mutant.step6() {
            props.push(Property::sometimes(S_REPUBLISH, |_, s: &State| {
                s.event == Event::Republish
            }));
        }
        if self.mutant.step6() && self.cache_lie {
            props.push(Property::sometimes(S_SYNC_REPUBLISH, |_, s: &State| {
                s.event == Event::SyncRepublish
            }));
        }
        if self.mutant.confirms() {
            props.push(Property::sometimes(S_CONFIRM, |_, s: &State| {
                s.event == Event::Confirmed
            }));
        }
        if self.mutant == Mutant::None
            && self.allocates_while_blocked()
            && self.crashes + self.sync_failures > 0
        {
            props.push(Property::sometimes(S_BLOCKED, |_, s: &State| {
                s.event == Event::Blocked
            }));
        }
        if self.cache_lie && self.sync_failures > 0 {
            props.push(Property::sometimes(S_CACHE_LIE, |_, s| {
                report(s).is_some_and(|r| r.read_cache_lie)
            }));
        }
        if self.durability == Durability::Immediate && self.mutant == Mutant::None {
            props.push(Property::sometimes(S_GROUP_COMMIT, |_, s: &State| {
                s.event == Event::GroupCommit
            }));
        }
        if self.write_failures > 0 {
            props.push(Property::sometimes(S_WRITE_FAILURE, |_, s: &State| {
                s.event == Event::CompletedAfterWriteFailure
            }));
        }
        if self.append_failures > 0 && self.mutant == Mutant::None {
            props.push(Property::sometimes(
                S_LOGGED_AFTER_APPEND_FAILURE,
                |_, s: &State| s.event == Event::LoggedAfterAppendFailure,
            ));
            if self.sync_failures > 0 {
                props.push(Property::sometimes(S_ERASE_FAILURE, |_, s| {
                    report(s).is_some_and(|r| r.after_erase_failure)
                }));
            }
            if self.sync_failures > 0 && self.cache_lie && self.crashes > 0 {
                props.push(Property::sometimes(S_REVEALED, |_, s| {
                    report(s).is_some_and(|r| r.revealed)
                }));
            }
        }
        if self.sync_failures > 0 {
            props.push(Property::sometimes(S_C3_FAILURE, |_, s| {
                report(s).is_some_and(|r| r.after_c3_failure)
            }));
            props.push(Property::sometimes(S_C5_FAILURE, |_, s| {
                report(s).is_some_and(|r| r.after_c5_failure)
            }));
            if self.mutant.confirms() {
                props.push(Property::sometimes(S_CONFIRM_FAILURE, |_, s| {
                    report(s).is_some_and(|r| r.after_confirm_failure)
                }));
            }
        }
        props
    }
}
