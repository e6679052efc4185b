//! Model 1: the commit protocol of `docs/FORMAT.md` §3 under crashes, with
//! recovery per §4, checked exhaustively by stateright.
//!
//! # Abstract disk
//!
//! Three kinds of *locations*, each holding a durable [`Cell`] and at most one
//! pending (written, not yet synced) value ([`Loc`]):
//!
//! - the two checkpoint slots (pages 1 and 2, §1.2). A slot value is a
//!   [`Ckpt`]; the value *is* its checksum (hashing is collision free here),
//! - `pages` tree-page locations (§1.3; one page per checkpoint stands for
//!   its whole Merkle tree: catalog, allocator pages, overflow runs). The
//!   slot's page reference expects exactly the [`Ckpt`] that wrote the page,
//!   so a stale (lost), torn or reused page fails verification,
//! - `log_len` record positions of the log extent (§2; one record = one
//!   position, records never share a page). The log extent itself is in
//!   use by every checkpoint (it never grows in this model).
//!
//! A [`Rec`] carries its epoch slot and the payloads of the records before
//! it in its epoch; from those the model derives the §2.1 header fields
//! (epoch, transaction id, previous link) exactly as the writer computed them.
//! A payload is a small tag: the index of the session (open) that issued
//! the transaction, so two sessions never write byte-identical records; with
//! [`CommitProtocol::retry_payloads`] a later session may also use tag 0, an
//! application retrying the very operation the first session issued at that
//! transaction id, which can make byte-identical records.
//!
//! Workload: any interleaving of up to `txns` commits and `checkpoints`
//! stand-alone checkpoints over all sessions, `Sync`s whenever something is
//! unsynced, and up to `crashes` crashes. Page allocation is deterministic
//! (lowest free page), so with two page locations checkpoint `k+2` always
//! reuses the page freed by `k+1`.
//!
//! # Actions and the FORMAT.md step labels
//!
//! | action | FORMAT.md |
//! |---|---|
//! | [`Action::Commit`], record fits | L1 encode (epoch `k`, link), L2 fits, L3 `write` at the tail and advance it, L4 release the writer slot (the next `Commit` may come before the `Sync`: group commit). `Eventual`: L5 no wait, L6 acknowledge at once |
//! | [`Action::Commit`], record does not fit | L2: commit by checkpoint = C1 + C2 of a checkpoint that includes the transaction (also under [`RecoveryCheckpoint::Required`] while no checkpoint has completed since open) |
//! | [`Action::Sync`] | L5 `Immediate`: the waiter's `sync` (atomic: a crash "during" it is a crash before it with some writes applied); it acknowledges (L6) every record written before it. `Eventual`: `db.sync()` |
//! | [`Action::Checkpoint`] | C1 allocate (§5: lowest page not in use by checkpoint `k`; no readers here, see `page_reuse`) + C2 `write` the page |
//! | [`Action::Barrier1`] | C3 `sync` (barrier 1; acknowledges L5 waiters) + C4 `write` slot `(k+1) mod 2` |
//! | [`Action::Barrier1Fails`] | C3's `sync` fails: each pending write is lost, applied or torn; §3 "an error in C1–C3 abandons the checkpoint … the database stays usable" |
//! | [`Action::Barrier2`] | C5 `sync` (barrier 2) + C6 (pages of `k` freed by `k+1`, tail to the extent start, epoch `k+1`); a commit-by-checkpoint is acknowledged here |
//! | [`Action::Crash`] | §6 assumptions: each pending write independently lost, applied whole or torn (fails its checksum); then §4 recovery: 2 choose the valid slot with the larger id, 3 verify the pages it references, 4 replay the records accepted by §2.3 (magic/checksums, epoch `k`, txn id `t+1+i`, previous link; stop at the first failure), 5 if a record was replayed run a checkpoint at once (its C1+C2 happen inside this action; its later steps are ordinary `Barrier1`/`Barrier2` actions, so a second crash hits it: §6 S7) |
//!
//! Merging C1+C2, C3+C4 and C5+C6 loses no behaviour: a crash right after
//! the merged action may lose the writes it issued, which is the state of a
//! crash before it, and C1 and C6 only change memory.
//!
//! After recovery the new session continues from the recovered state. If it
//! does not checkpoint (nothing replayed), its log tail is the end of the
//! accepted prefix, its epoch `k` and its link the last accepted record's
//! header checksum (the slot checksum if none): FORMAT.md does not say so
//! explicitly, it is the only reading consistent with §2.3.
//!
//! Not modeled: several pages per checkpoint and shared (unchanged)
//! subtrees, log extent growth, file length (`set_len`), misdirected writes
//! and silent corruption (§1.3 detects them like torn writes), file creation
//! (§1.1), failed L5/C4/C5 syncs (they poison the handle: the same disk
//! outcomes as [`Action::Crash`]), readers (see `page_reuse`).
//!
//! # Properties (checked on the state right after each crash + recovery)
//!
//! - (a) `always` [`P_ACKED`]: the recovered state contains every
//!   acknowledged transaction (`Eventual`: every transaction covered by a
//!   completed sync). The state recovered by the previous open counts as
//!   acknowledged.
//! - (b) `always` [`P_PREFIX`]: the recovered state is exactly the state after
//!   some transaction of the crashed session's history (a prefix of it: no
//!   gap, nothing from an abandoned checkpoint or an earlier session).
//! - (c) `always` [`P_DURABLE_READS`]: recovery finds a valid slot and every
//!   page that slot references is durable with the content the slot expects
//!   (S1, S2, S5).
//! - `sometimes` properties showing that the interesting cases are reached.

use ::stateright::{Model, Property};

/// (a) An acknowledged commit is never lost.
pub const P_ACKED: &str = "acknowledged commits survive a crash";
/// (b) Recovery yields exactly the state after some transaction.
pub const P_PREFIX: &str = "recovered state is a prefix of the committed history";
/// (c) Recovery reads only durable data of the chosen checkpoint.
pub const P_DURABLE_READS: &str = "recovery reads only pages the chosen slot made durable";
/// A crash leaves a slot torn.
pub const S_TORN_SLOT: &str = "a crash tears a slot";
/// Recovery chooses the older slot because the newest slot write did not survive.
pub const S_FALLBACK: &str = "recovery falls back to the older slot";
/// Recovery replays at least one log record.
pub const S_REPLAY: &str = "recovery replays a log record";
/// Recovery replays two log records.
pub const S_REPLAY2: &str = "recovery replays two log records";
/// A crash hits the checkpoint run by recovery (§4 step 5, §6 S7).
pub const S_CRASH_IN_RECOVERY_CKPT: &str = "a crash hits recovery's own checkpoint";
/// One sync acknowledges two records (group commit, L5).
pub const S_GROUP_COMMIT: &str = "one sync acknowledges two commits";
/// A checkpoint allocates a page an earlier checkpoint used (§5).
pub const S_PAGE_REUSE: &str = "a checkpoint reuses a freed page";
/// Recovery succeeds after a checkpoint sync failure.
pub const S_C3_FAILURE: &str = "recovery after a failed C3 sync";

/// Commit durability mode (§3 L5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Durability {
    /// L5 waits for a sync that started after L3.
    Immediate,
    /// L5 does not wait.
    Eventual,
}

/// A deliberate deviation from FORMAT.md, to show the checker finds the bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// The protocol as written.
    None,
    /// Skip C3: the slot may become durable before the pages it references.
    SkipC3,
    /// Skip C5: epoch `k+1` records overwrite epoch `k` records while slot
    /// `k+1` may still be lost; the commit-by-checkpoint is acknowledged anyway.
    SkipC5,
    /// `Immediate` commits acknowledged without the L5 sync.
    SkipL5Sync,
    /// C1 of checkpoint `k+1` may allocate the pages that `k+1` itself frees
    /// (violates "never allocated by checkpoint `j` itself", §5).
    ReuseOwnFreed,
}

/// When recovery runs its own checkpoint (§4 step 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecoveryCheckpoint {
    /// FORMAT.md as written: only if a record was replayed.
    IfReplayed,
    /// Every writable open checkpoints before the first log write.
    Always,
    /// As `Always`, and if that checkpoint is abandoned (C3 failure),
    /// commits go by checkpoint until one completes: no session ever logs
    /// in the epoch of a crashed session.
    Required,
}

/// Model configuration.
#[derive(Clone, Debug)]
pub struct CommitProtocol {
    /// Tree-page locations.
    pub pages: u8,
    /// Record positions in the log extent.
    pub log_len: u8,
    /// Transactions the workload may commit (over all sessions).
    pub txns: u8,
    /// Stand-alone checkpoints the workload may run (over all sessions).
    pub checkpoints: u8,
    /// Crashes.
    pub crashes: u8,
    /// Failed C3 syncs (§3: "an error in C1–C3 abandons the checkpoint").
    pub c3_failures: u8,
    /// L5 mode.
    pub durability: Durability,
    /// Protocol deviation.
    pub mutant: Mutant,
    /// §4 step 5 rule.
    pub recovery_checkpoint: RecoveryCheckpoint,
    /// After a crash, a transaction may carry the same payload as the one
    /// the first session issued at that id (an application retrying).
    pub retry_payloads: bool,
    /// Candidate fix: a checkpoint first syncs the log (and acknowledges
    /// its waiters) before C1, so a failed C3 can only lose checkpoint pages.
    pub sync_log_before_checkpoint: bool,
}

impl Default for CommitProtocol {
    fn default() -> Self {
        CommitProtocol {
            pages: 2,
            log_len: 2,
            txns: 3,
            checkpoints: 2,
            crashes: 2,
            c3_failures: 0,
            durability: Durability::Immediate,
            mutant: Mutant::None,
            recovery_checkpoint: RecoveryCheckpoint::IfReplayed,
            retry_payloads: false,
            sync_log_before_checkpoint: false,
        }
    }
}

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
}

/// A log record (§2.1), as the writer encoded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rec {
    /// The checkpoint this log follows (gives the epoch and, for record 0, the link).
    pub epoch_slot: Ckpt,
    /// Payloads of records `0..=i` of this epoch; the last one is this record's.
    pub payloads: Vec<u8>,
}

/// The value of a §2.1 "previous link" field.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Link {
    Slot(Ckpt),
    Record(Rec),
}

impl Rec {
    fn epoch(&self) -> u8 {
        self.epoch_slot.id
    }
    fn txid(&self) -> usize {
        self.epoch_slot.state.len() + self.payloads.len()
    }
    fn link(&self) -> Link {
        let n = self.payloads.len();
        if n == 1 {
            Link::Slot(self.epoch_slot.clone())
        } else {
            Link::Record(Rec {
                epoch_slot: self.epoch_slot.clone(),
                payloads: self.payloads[..n - 1].to_vec(),
            })
        }
    }
}

/// Durable content of a location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cell<T> {
    /// Never written.
    Zero,
    /// A torn write: fails its checksum.
    Torn,
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
}

impl<T: Clone> Loc<T> {
    fn new(durable: Cell<T>) -> Self {
        Loc {
            durable,
            pending: None,
        }
    }
    fn write(&mut self, v: T) {
        // Never happens with the protocol (every location is synced before it
        // is written again); with mutants the older write is taken as flushed.
        if let Some(old) = self.pending.take() {
            self.durable = Cell::Val(old);
        }
        self.pending = Some(v);
    }
    fn sync(&mut self) {
        if let Some(v) = self.pending.take() {
            self.durable = Cell::Val(v);
        }
    }
    /// Crash or failed sync.
    fn resolve(&mut self, fate: Fate) {
        if let Some(v) = self.pending.take() {
            match fate {
                Fate::Lost => {}
                Fate::Applied => self.durable = Cell::Val(v),
                Fate::Torn => self.durable = Cell::Torn,
            }
        }
    }
}

/// A checkpoint in progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Run {
    /// Checkpoint `k+1` being written.
    pub new: Ckpt,
    /// C4 done.
    pub slot_written: bool,
    /// Run by recovery (§4 step 5).
    pub recovery: bool,
}

/// In-memory state of the open handle.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mem {
    /// Current checkpoint `k`.
    pub ck: Ckpt,
    /// Payloads of the records written in epoch `k`; the tail is `chain.len()`.
    pub chain: Vec<u8>,
    /// Length of the acknowledged prefix of the history.
    pub acked: u8,
    /// Length of the prefix covered by a completed sync.
    pub synced: u8,
    /// Checkpoint in progress.
    pub run: Option<Run>,
    /// No checkpoint has completed since open ([`RecoveryCheckpoint::Required`]).
    pub needs_epoch: bool,
}

impl Mem {
    /// Transactions whose log record has been written.
    fn logged(&self) -> usize {
        self.ck.state.len() + self.chain.len()
    }
    /// The session's history: every transaction issued so far.
    fn history(&self) -> Vec<u8> {
        match &self.run {
            Some(run) => run.new.state.clone(),
            None => {
                let mut h = self.ck.state.clone();
                h.extend_from_slice(&self.chain);
                h
            }
        }
    }
}

/// What one crash + recovery found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// (a) violated.
    pub lost_ack: bool,
    /// (b) violated.
    pub not_prefix: bool,
    /// (c) violated.
    pub bad_read: bool,
    /// The crash left a slot torn.
    pub torn_slot: bool,
    /// The chosen slot is older than the newest slot ever written.
    pub fell_back: bool,
    /// Records replayed.
    pub replayed: u8,
    /// The crash hit recovery's own checkpoint.
    pub during_recovery_ckpt: bool,
    /// A C3 sync had failed in the crashed session.
    pub after_c3_failure: bool,
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
    /// A crash and recovery.
    Recovered(Report),
}

/// Model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Checkpoint slots 0 and 1.
    pub slots: [Loc<Ckpt>; 2],
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
    /// Failed C3 syncs left.
    pub c3_failures_left: u8,
    /// A C3 sync failed in this session.
    pub c3_failed: bool,
    /// Largest checkpoint id ever written to a slot.
    pub newest_slot: u8,
    /// A property was violated: stop exploring.
    pub halted: bool,
    /// Notable effect of the last action.
    pub event: Event,
}

impl State {
    /// The locations with a pending write, in a fixed order.
    fn pending(&self) -> Vec<Where> {
        let slots = (0..2).filter(|&i| self.slots[i].pending.is_some());
        let pages = (0..self.pages.len()).filter(|&i| self.pages[i].pending.is_some());
        let log = (0..self.log.len()).filter(|&i| self.log[i].pending.is_some());
        slots
            .map(|i| Where::Slot(i as u8))
            .chain(pages.map(|i| Where::Page(i as u8)))
            .chain(log.map(|i| Where::Log(i as u8)))
            .collect()
    }
    /// Every combination of fates for the pending writes.
    fn fate_choices(&self) -> Vec<Vec<(Where, Fate)>> {
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
    fn sync_all(&mut self) {
        self.slots.iter_mut().for_each(Loc::sync);
        self.pages.iter_mut().for_each(Loc::sync);
        self.log.iter_mut().for_each(Loc::sync);
    }
    /// Applies the fates of a crash or failed sync. Returns whether a slot was torn.
    fn resolve_all(&mut self, fates: &[(Where, Fate)]) -> bool {
        for &(w, f) in fates {
            match w {
                Where::Slot(i) => self.slots[i as usize].resolve(f),
                Where::Page(i) => self.pages[i as usize].resolve(f),
                Where::Log(i) => self.log[i as usize].resolve(f),
            }
        }
        fates
            .iter()
            .any(|&(w, f)| matches!(w, Where::Slot(_)) && f == Fate::Torn)
    }
}

/// A location of the abstract disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Where {
    /// Checkpoint slot 0 or 1.
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

/// Model actions (see the module table).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// L1–L3 (+ L5/L6 when `Eventual`), or L2 → commit by checkpoint (C1+C2).
    Commit {
        /// Payload tag.
        payload: u8,
    },
    /// L5 sync / `db.sync()`.
    Sync,
    /// C1 + C2 of a stand-alone checkpoint.
    Checkpoint,
    /// C3 + C4.
    Barrier1,
    /// C3's sync fails; fate of each pending write.
    Barrier1Fails(Vec<(Where, Fate)>),
    /// C5 + C6.
    Barrier2,
    /// Crash with the fate of each pending write, then §4 recovery.
    Crash(Vec<(Where, Fate)>),
}

impl CommitProtocol {
    fn floor(&self, mem: &Mem) -> u8 {
        match self.durability {
            Durability::Immediate => mem.acked.max(mem.synced),
            Durability::Eventual => mem.synced,
        }
    }

    /// C1: lowest page that is free and reusable under checkpoint `k` (§5).
    fn allocate(&self, ck: &Ckpt) -> u8 {
        (0..self.pages)
            .find(|&p| self.mutant == Mutant::ReuseOwnFreed || p != ck.page)
            .expect("at least two page locations")
    }

    /// Sync covering every write issued so far; L5 waiters return with it.
    fn sync(&self, s: &mut State) {
        s.sync_all();
        let logged = s.mem.logged() as u8;
        if self.durability == Durability::Immediate && logged >= s.mem.acked + 2 {
            s.event = Event::GroupCommit;
        }
        s.mem.synced = logged;
        s.mem.acked = s.mem.acked.max(logged);
    }

    /// C1 + C2 of checkpoint `k+1`; `big` is a transaction committed by it.
    fn begin_checkpoint(&self, s: &mut State, big: Option<u8>, recovery: bool) {
        if self.sync_log_before_checkpoint && s.mem.synced < s.mem.logged() as u8 {
            self.sync(s);
        }
        let mut state = s.mem.history();
        state.extend(big);
        let new = Ckpt {
            id: s.mem.ck.id + 1,
            state,
            page: self.allocate(&s.mem.ck),
        };
        let loc = &mut s.pages[new.page as usize];
        if matches!(loc.durable, Cell::Val(_)) && s.event == Event::None {
            s.event = Event::PageReuse;
        }
        loc.write(new.clone());
        s.mem.run = Some(Run {
            new,
            slot_written: false,
            recovery,
        });
    }

    /// §4 recovery after a crash, checking (a), (b), (c).
    fn recover(&self, s: &mut State, history: Vec<u8>, floor: u8, mut report: Report) {
        // §4.2: the valid slot with the larger checkpoint id.
        let chosen = s
            .slots
            .iter()
            .filter_map(|l| match &l.durable {
                Cell::Val(ck) => Some(ck.clone()),
                _ => None,
            })
            .max_by_key(|ck| ck.id);
        let Some(chosen) = chosen else {
            report.bad_read = true;
            s.halted = true;
            s.event = Event::Recovered(report);
            return;
        };
        report.fell_back = chosen.id < s.newest_slot;
        // §4.3: pages referenced by the slot, verified against its references.
        if s.pages[chosen.page as usize].durable != Cell::Val(chosen.clone()) {
            report.bad_read = true;
        }
        // §4.4 / §2.3: replay the accepted records.
        let k = chosen.id;
        let t = chosen.state.len();
        let mut accepted: Vec<u8> = Vec::new();
        let mut prev: Option<Rec> = None;
        for (i, loc) in s.log.iter().enumerate() {
            // Magic, header checksum and payload checksum: a torn or never
            // written position fails them.
            let Cell::Val(r) = &loc.durable else { break };
            let expected_link = match &prev {
                None => Link::Slot(chosen.clone()),
                Some(p) => Link::Record(p.clone()),
            };
            if r.epoch() != k || r.txid() != t + 1 + i || r.link() != expected_link {
                break;
            }
            accepted.push(*r.payloads.last().expect("a record has a payload"));
            prev = Some(r.clone());
        }
        report.replayed = accepted.len() as u8;
        let mut recovered = chosen.state.clone();
        recovered.extend_from_slice(&accepted);
        report.lost_ack = recovered.len() < floor as usize;
        report.not_prefix =
            recovered.len() > history.len() || history[..recovered.len()] != recovered[..];
        let violated = report.lost_ack || report.not_prefix || report.bad_read;
        s.event = Event::Recovered(report);
        if violated {
            s.halted = true;
            return;
        }
        // The new session.
        s.session += 1;
        s.c3_failed = false;
        let len = recovered.len() as u8;
        s.mem = Mem {
            ck: chosen,
            chain: accepted,
            acked: len,
            synced: len,
            run: None,
            needs_epoch: self.recovery_checkpoint == RecoveryCheckpoint::Required,
        };
        // §4.5.
        let replayed = !s.mem.chain.is_empty();
        if replayed || self.recovery_checkpoint != RecoveryCheckpoint::IfReplayed {
            self.begin_checkpoint(s, None, true);
        }
    }

    fn payloads(&self, s: &State) -> Vec<u8> {
        if s.session == 0 {
            vec![0]
        } else if self.retry_payloads {
            vec![0, s.session]
        } else {
            vec![s.session]
        }
    }
}

impl Model for CommitProtocol {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        // File creation: checkpoint 0 (empty database) in slot 0, durable.
        let ck0 = Ckpt {
            id: 0,
            state: Vec::new(),
            page: 0,
        };
        let mut pages = vec![Loc::new(Cell::Zero); self.pages as usize];
        pages[0] = Loc::new(Cell::Val(ck0.clone()));
        vec![State {
            slots: [Loc::new(Cell::Val(ck0.clone())), Loc::new(Cell::Zero)],
            pages,
            log: vec![Loc::new(Cell::Zero); self.log_len as usize],
            mem: Mem {
                ck: ck0,
                chain: Vec::new(),
                acked: 0,
                synced: 0,
                run: None,
                needs_epoch: false,
            },
            session: 0,
            txns_left: self.txns,
            ckpts_left: self.checkpoints,
            crashes_left: self.crashes,
            c3_failures_left: self.c3_failures,
            c3_failed: false,
            newest_slot: 0,
            halted: false,
            event: Event::None,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        if s.halted {
            return;
        }
        let fates = if s.crashes_left > 0 || s.c3_failures_left > 0 {
            s.fate_choices()
        } else {
            Vec::new()
        };
        match &s.mem.run {
            None => {
                if s.txns_left > 0 {
                    for payload in self.payloads(s) {
                        actions.push(Action::Commit { payload });
                    }
                }
                if s.ckpts_left > 0 {
                    actions.push(Action::Checkpoint);
                }
            }
            Some(run) => {
                if run.slot_written {
                    actions.push(Action::Barrier2);
                } else {
                    actions.push(Action::Barrier1);
                    if s.c3_failures_left > 0 {
                        actions.extend(fates.iter().cloned().map(Action::Barrier1Fails));
                    }
                }
            }
        }
        if s.mem.synced < s.mem.logged() as u8 {
            actions.push(Action::Sync);
        }
        if s.crashes_left > 0 {
            actions.extend(fates.into_iter().map(Action::Crash));
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        s.event = Event::None;
        match action {
            Action::Commit { payload } => {
                s.txns_left -= 1;
                let tail = s.mem.chain.len();
                if tail < self.log_len as usize && !s.mem.needs_epoch {
                    // L1 encode, L3 write at the tail and advance it.
                    let mut payloads = s.mem.chain.clone();
                    payloads.push(payload);
                    let rec = Rec {
                        epoch_slot: s.mem.ck.clone(),
                        payloads,
                    };
                    s.log[tail].write(rec);
                    s.mem.chain.push(payload);
                    // L5/L6: Eventual (or the mutant) acknowledges without a sync.
                    if self.durability == Durability::Eventual || self.mutant == Mutant::SkipL5Sync
                    {
                        s.mem.acked = s.mem.logged() as u8;
                    }
                } else {
                    // L2: commit by checkpoint.
                    self.begin_checkpoint(&mut s, Some(payload), false);
                }
            }
            Action::Sync => self.sync(&mut s),
            Action::Checkpoint => {
                s.ckpts_left -= 1;
                self.begin_checkpoint(&mut s, None, false);
            }
            Action::Barrier1 => {
                // C3: barrier 1 (covers every earlier log record: L5 waiters return).
                if self.mutant != Mutant::SkipC3 {
                    self.sync(&mut s);
                }
                // C4.
                let run = s.mem.run.as_mut().expect("checkpoint running");
                run.slot_written = true;
                let new = run.new.clone();
                s.newest_slot = s.newest_slot.max(new.id);
                s.slots[(new.id % 2) as usize].write(new);
            }
            Action::Barrier1Fails(fates) => {
                // The failed sync may have lost any of its writes; the
                // checkpoint is abandoned (its transaction, if any, fails);
                // the handle stays usable (§3). L5 waiters keep waiting.
                s.c3_failures_left -= 1;
                s.c3_failed = true;
                s.resolve_all(&fates);
                s.mem.run = None;
            }
            Action::Barrier2 => {
                // C5: barrier 2.
                if self.mutant != Mutant::SkipC5 {
                    s.sync_all();
                }
                // C6: new epoch, tail to the start; commit-by-checkpoint acknowledged.
                let run = s.mem.run.take().expect("checkpoint running");
                let len = run.new.state.len() as u8;
                s.mem.ck = run.new;
                s.mem.chain.clear();
                s.mem.needs_epoch = false;
                s.mem.acked = len;
                if self.mutant != Mutant::SkipC5 {
                    s.mem.synced = len;
                }
            }
            Action::Crash(fates) => {
                s.crashes_left -= 1;
                let history = s.mem.history();
                let floor = self.floor(&s.mem);
                let during_recovery_ckpt = s.mem.run.as_ref().is_some_and(|r| r.recovery);
                let torn_slot = s.resolve_all(&fates);
                let report = Report {
                    lost_ack: false,
                    not_prefix: false,
                    bad_read: false,
                    torn_slot,
                    fell_back: false,
                    replayed: 0,
                    during_recovery_ckpt,
                    after_c3_failure: s.c3_failed,
                };
                self.recover(&mut s, history, floor, report);
            }
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
            Property::sometimes(S_TORN_SLOT, |_, s| report(s).is_some_and(|r| r.torn_slot)),
            Property::sometimes(S_FALLBACK, |_, s| report(s).is_some_and(|r| r.fell_back)),
            Property::sometimes(S_REPLAY, |_, s| report(s).is_some_and(|r| r.replayed >= 1)),
            Property::sometimes(S_REPLAY2, |_, s| report(s).is_some_and(|r| r.replayed >= 2)),
            Property::sometimes(S_PAGE_REUSE, |_, s: &State| s.event == Event::PageReuse),
        ];
        if self.crashes >= 2 {
            props.push(Property::sometimes(S_CRASH_IN_RECOVERY_CKPT, |_, s| {
                report(s).is_some_and(|r| r.during_recovery_ckpt)
            }));
        }
        if self.durability == Durability::Immediate && self.mutant == Mutant::None {
            props.push(Property::sometimes(S_GROUP_COMMIT, |_, s: &State| {
                s.event == Event::GroupCommit
            }));
        }
        if self.c3_failures > 0 {
            props.push(Property::sometimes(S_C3_FAILURE, |_, s| {
                report(s).is_some_and(|r| r.after_c3_failure)
            }));
        }
        props
    }
}
