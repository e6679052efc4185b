//! A crash or reopen, then FORMAT.md §4 recovery, checking properties
//! (a)–(f) on what it recovers.

use super::disk::{Cell, Ckpt, Fate, Rec, Where};
use super::slot_pages::SlotView;
use super::state::{Event, Mem, Report, State};
use super::{CommitProtocol, Erase, Mutant};

/// What recovery after a crash or reopen is checked against.
struct Allowed {
    /// The crashed session's history.
    history: Vec<u8>,
    /// The length of the prefix it promised (acknowledged).
    floor: u8,
    /// An earlier history a crash may still reveal ([`Mem::alt`]).
    alt: Option<Vec<u8>>,
}

impl CommitProtocol {
    /// A crash (`crash`: the page cache is lost) or a reopen without one
    /// (`lie`: the failed sync's lost writes stay in the page cache): silent
    /// damage to the durable record at log position `damage` (before the
    /// pending writes' fates: one that reaches the disk covers it), the
    /// fates of the pending writes, then recovery.
    pub(super) fn crash(
        &self,
        s: &mut State,
        fates: &[(Where, Fate)],
        crash: bool,
        lie: bool,
        damage: Option<u8>,
    ) {
        let history = s.mem.history();
        let floor = self.floor(&s.mem);
        let during_recovery_ckpt = s.mem.run.as_ref().is_some_and(|r| r.recovery);
        if let Some(i) = damage {
            let loc = &mut s.log[i as usize];
            let Cell::Val(r) = loc.durable.clone() else {
                unreachable!("only a durable record is damaged")
            };
            loc.durable = Cell::Damaged(r);
            s.damage_left -= 1;
        }
        let torn_slot = s.resolve_all(fates, lie);
        if lie && matches!(s.mem.failing, Some((_, Erase::SyncFails))) {
            // The erase (zeros over the header) reached the page cache; its
            // sync failed, so the disk may hold the failed log write (even
            // the whole record).
            s.log[s.mem.chain.len()].cached = Some(Cell::Zero);
        }
        if crash {
            s.forget_cache();
        }
        // A crash lets the disk decide; a reopen after a failed erase may
        // have read the erase from the page cache while the disk holds the
        // record, which a later crash may still reveal (until the new
        // session's first checkpoint completes).
        let next_alt = match (&s.mem.alt, s.mem.failing) {
            _ if crash => None,
            (Some(a), _) => Some(a.clone()),
            (None, Some(_)) if lie => Some(history.clone()),
            _ => None,
        };
        let allowed = Allowed {
            history,
            floor,
            alt: s.mem.alt.take(),
        };
        let report = Report {
            lost_ack: false,
            not_prefix: false,
            bad_read: false,
            other_writer: false,
            newer_epoch: false,
            log_corruption: false,
            false_log_corruption: false,
            damage_excused: false,
            torn_told: false,
            torn_slot,
            fell_back: false,
            replayed: 0,
            stale_rejected: false,
            during_recovery_ckpt,
            after_c3_failure: s.c3_failed,
            after_c5_failure: s.c5_failed,
            after_confirm_failure: s.confirm_failed,
            read_cache_lie: false,
            after_append_failure: s.append_failed,
            after_erase_failure: s.mem.failing.is_some(),
            revealed: false,
        };
        self.recover(s, allowed, report, next_alt);
    }

    /// §4 step 4: the pages recovery blocks. The newest slot `chosen` may
    /// be a write only the page cache shows; the pages the older valid
    /// slots use and `chosen` does not stay blocked until the session
    /// confirms `chosen` (the earlier texts: only the second valid slot's).
    fn blocked_pages(&self, chosen: &Ckpt, older: &[Ckpt]) -> Vec<u8> {
        if self.mutant == Mutant::NoUnconfirmedBlocking {
            return Vec::new();
        }
        let considered = if self.mutant.slot_modulus().is_some() {
            &older[..older.len().min(1)]
        } else {
            older
        };
        let mut pages: Vec<u8> = considered
            .iter()
            .filter(|o| o.id < chosen.id && o.page != chosen.page)
            .map(|o| o.page)
            .collect();
        pages.sort_unstable();
        pages.dedup();
        pages
    }

    /// §4 recovery, checking (a)–(e) against what the crashed session
    /// allowed. Recovery reads what a read sees now: the page cache over
    /// the disk. `alt` is the new session's [`Mem::alt`].
    fn recover(&self, s: &mut State, allowed: Allowed, mut report: Report, alt: Option<Vec<u8>>) {
        let Allowed {
            history,
            floor,
            alt: alt_before,
        } = allowed;
        // §4 step 2: the valid slot with the larger checkpoint id.
        let mut slot_view: SlotView = [None; 3];
        let mut valid: Vec<(Ckpt, bool)> = Vec::new();
        for (i, l) in s.slots.iter().enumerate() {
            if let Cell::Val(v) = l.view() {
                slot_view[i] = Some((v.ck.id, v.seq));
                valid.push((v.ck, l.cached.is_some()));
            }
        }
        let seq = slot_view
            .iter()
            .flatten()
            .map(|&(_, q)| q)
            .max()
            .unwrap_or(0);
        valid.sort_by_key(|(ck, _)| std::cmp::Reverse(ck.id));
        let Some((chosen, slot_cached)) = valid.first().cloned() else {
            report.bad_read = true;
            s.halted = true;
            s.event = Event::Recovered(report);
            return;
        };
        report.read_cache_lie = slot_cached;
        report.fell_back = chosen.id < s.newest_slot;
        // Step 3: pages referenced by the slot, verified against its references.
        let page_ok = match s.pages[chosen.page as usize].view() {
            Cell::Val(p) => chosen.references(&p),
            _ => false,
        };
        report.bad_read = !page_ok;
        // Step 4 / §2.3: replay the accepted records.
        let k = chosen.id;
        let t = chosen.state.len();
        let view: Vec<Cell<Rec>> = s.log.iter().map(|l| l.view()).collect();
        let mut accepted: Vec<u8> = Vec::new();
        let mut marks: Vec<u8> = Vec::new();
        let mut prev: Option<Rec> = None;
        // The record transaction `t + 1 + i` must be at position `i`.
        let expected = |r: &Rec, i: usize, prev: Option<&Rec>| {
            r.epoch() == k && r.txid() == t + 1 + i && r.links_to(prev, &chosen)
        };
        // Where and why the accepted records end: `Some(i)` when position
        // `i` holds a record that was written in epoch `k` and fails a
        // test (torn or damaged, §2.3 "a torn tail or damage"); `None` at
        // an unwritten tail (all-zero header, older epoch, end of extent).
        let mut suspect: Option<usize> = None;
        for (i, cell) in view.iter().enumerate() {
            match cell {
                Cell::Val(r) if expected(r, i, prev.as_ref()) => {
                    report.other_writer |= r.writer != chosen.by;
                    report.read_cache_lie |= s.log[i].cached.is_some();
                    accepted.push(*r.payloads.last().expect("a record has a payload"));
                    marks.push(r.mark() as u8);
                    prev = Some(r.clone());
                    continue;
                }
                Cell::Val(r) => {
                    report.stale_rejected = true;
                    // §2.3 exception: a valid record of a newer epoch fails
                    // the open. An older epoch's header is an unwritten
                    // tail; a header of epoch `k` with the wrong
                    // transaction id or link was written and fails a test.
                    report.newer_epoch = r.epoch() > k;
                    if r.epoch() == k {
                        suspect = Some(i);
                    }
                }
                Cell::Zero => {}
                // Magic, header checksum or payload checksum fail.
                Cell::Torn | Cell::Damaged(_) => suspect = Some(i),
            }
            break;
        }
        if let Some(i) = suspect.filter(|_| !report.newer_epoch) {
            // §2.3: look for a vouching header at every later position of
            // the extent (the mutant, format 2, does not: the log ends).
            let u = t + 1 + i;
            let vouched = view[i + 1..]
                .iter()
                .any(|c| matches!(c, Cell::Val(r) if r.vouches_for(k, u)));
            if vouched && self.mutant != Mutant::NoDurableMark {
                // Error::Corruption naming record `u`. (f): it was the
                // durable record of transaction `u` and is damaged.
                report.log_corruption = true;
                report.false_log_corruption = !matches!(
                    &view[i],
                    Cell::Damaged(r) if expected(r, i, prev.as_ref())
                );
            } else {
                report.torn_told = matches!(view[i], Cell::Torn)
                    && view[i + 1..]
                        .iter()
                        .any(|c| matches!(c, Cell::Val(r) if r.epoch() == k));
            }
        }
        report.replayed = accepted.len() as u8;
        let mut recovered = chosen.state.clone();
        recovered.extend_from_slice(&accepted);
        // (a) and (b) hold if the open succeeds. They are also checked on
        // the state replay reached when the newer-epoch exception fails the
        // open, as before format 3: (e) forbids that exception here anyway,
        // and the slot-placement mutants that overwrite the only durable
        // slot are reported as a lost commit.
        let opened = !report.log_corruption;
        // (a) with the damage fault: the log may lose acknowledged commits
        // only by ending at a damaged record of this epoch that no later
        // record written after a sync covering it follows (ghost
        // `Rec::covered`, not the marks).
        let i = accepted.len();
        let excused = view.get(i).is_some_and(|c| match c {
            Cell::Damaged(r) if expected(r, i, prev.as_ref()) => !view[i + 1..].iter().any(|c| {
                matches!(c, Cell::Val(f) if f.epoch_slot.same_bytes(&r.epoch_slot)
                        && f.writer == r.writer
                        && f.covered as usize >= r.txid())
            }),
            _ => false,
        });
        let lost = opened && recovered.len() < floor as usize;
        report.lost_ack = lost && !excused;
        report.damage_excused = lost && excused;
        let prefix_of =
            |h: &[u8]| h.len() >= recovered.len() && h[..recovered.len()] == recovered[..];
        let in_history = prefix_of(&history);
        report.revealed = !in_history && alt_before.as_deref().is_some_and(prefix_of);
        report.not_prefix = opened && !in_history && !report.revealed;
        let violated = report.lost_ack
            || report.not_prefix
            || report.bad_read
            || report.other_writer
            || report.newer_epoch
            || report.false_log_corruption;
        s.event = Event::Recovered(report);
        if violated || !opened {
            // A violation, or the open failed with Error::Corruption: stop.
            s.halted = true;
            return;
        }
        let older: Vec<Ckpt> = valid[1..].iter().map(|(ck, _)| ck.clone()).collect();
        let blocked = self.blocked_pages(&chosen, &older);
        // The new session. What it read counts as acknowledged when the disk
        // holds it (the page cache shows nothing the disk lacks); otherwise
        // only once its own checkpoint (step 5), republish or sync confirms it.
        s.session += 1;
        s.write_failed = false;
        s.c3_failed = false;
        s.c5_failed = false;
        s.l5_failed = false;
        s.confirm_failed = false;
        s.append_failed = false;
        let len = recovered.len() as u8;
        let known = if s.any_cached() { floor } else { len };
        s.mem = Mem {
            ck: chosen,
            chain: accepted,
            marks,
            // The engine's `GroupSync::new(last_txn)`. It matters only to
            // the mutants without §4 step 6 (the session logs in epoch `k`).
            durable: len,
            covered: len,
            acked: known,
            synced: known,
            run: None,
            // Step 6.
            needs_epoch: self.mutant.step6(),
            slot_view,
            seq,
            durable_page: None,
            blocked,
            poisoned: false,
            failing: None,
            alt,
        };
        // Step 5.
        let replayed = !s.mem.chain.is_empty();
        if replayed || self.mutant == Mutant::RecoveryCheckpointAlways {
            self.start_run(s, None, true, false, None);
        }
    }
}
