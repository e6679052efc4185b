//! Model 1: the commit protocol of `docs/FORMAT.md` §3 under crashes and
//! I/O errors, with recovery per §2.3 and §4, checked exhaustively by
//! stateright.
//!
//! **Revision note.** This model follows the FORMAT.md revision in which
//! checkpoint `k` went to slot `k mod 3` and a session confirmed the newest
//! slot by republishing it under a new id. For that revision the test
//! `commit_protocol_two_consecutive_cache_lies_defeat_three_slots` finds a
//! counterexample (two failed syncs in a row in one boot), which the
//! simulator found independently; the engine and FORMAT.md have since moved
//! to slot placement by content and confirmation by an exact copy (§1.2,
//! §4 step 4). Modelling that rule is the next step.
//!
//! With [`Mutant::None`] (the default) the model is that revision's text:
//! three checkpoint slots, checkpoint `k` in slot `k mod 3` (§1), failed
//! C3/C5 syncs poison the handle (§3), C1–C2 errors abandon the checkpoint
//! and the session goes on (§3), pages the newest slot freed relative to
//! the second valid slot stay blocked until the session's own checkpoint
//! (§4 step 4), the first commit (or `db.sync()`) of a session with nothing
//! to checkpoint republishes the newest slot (§4 step 4), a failing
//! recovery checkpoint fails the open (§4 step 5), a session logs only in an
//! epoch whose checkpoint it completed itself (§4 step 6), and a valid
//! record of a newer epoch than the chosen slot fails the open (§2.3). Each
//! other [`Mutant`] removes or changes one rule; the tests show the checker
//! finds the resulting bug, including rules of earlier texts
//! ([`Mutant::RecoveryCheckpointOnlyIfReplayed`],
//! [`Mutant::C3FailureKeepsHandleUsable`], [`Mutant::TwoSlots`]).
//!
//! # Abstract disk and page cache
//!
//! Three kinds of *locations*, each holding a durable [`Cell`], at most one
//! pending (written, not yet synced) value and at most one *cached* value
//! ([`Loc`]):
//!
//! - the three checkpoint slots (pages 1..=3, §1.2). A slot value is a
//!   [`Ckpt`]; its bytes *are* its checksum (hashing is collision free here),
//! - `pages` tree-page locations (§1.3; one page per checkpoint stands for
//!   its whole Merkle tree: catalog, allocator pages, overflow runs). The
//!   slot's page reference expects exactly the bytes of the [`Ckpt`] that
//!   wrote the page ([`Ckpt::tree`]; a republished slot references the page
//!   of the slot it republishes), so a stale (lost), torn or reused page
//!   fails verification,
//! - `log_len` record positions of the log extent (§2; one record = one
//!   position, records never share a page). The log extent itself is in
//!   use by every checkpoint (it never grows in this model).
//!
//! *The page-cache lie* ([`CommitProtocol::cache_lie`], the fault behind §4
//! steps 4–5): a failed sync may lose writes that the operating system's
//! page cache still shows (fsyncgate). The *durable* view of a location is
//! what a later crash leaves; the *cached* value is a lost write that a
//! reopen without crash still reads; a crash forgets it, a
//! new write to the location replaces it. Recovery always reads the view.
//!
//! A [`Rec`] carries its epoch slot and the payloads of the records before
//! it in its epoch; from those the model derives the §2.1 header fields
//! (epoch, transaction id, previous link) exactly as the writer computed them.
//! A payload is a small tag: the index of the session (open) that issued
//! the transaction, so two sessions never write byte-identical records; with
//! [`CommitProtocol::retry_payloads`] a later session may also use tag 0, an
//! application retrying the very operation the first session issued at that
//! transaction id, which can make byte-identical records (the §4 step 6
//! scenario). [`Ckpt::by`] and [`Rec::writer`] are ghost fields (the session
//! that wrote the slot or record): they are not part of the bytes on disk,
//! recovery never looks at them, only the S8 property does.
//!
//! Workload: any interleaving of up to `txns` commits and `checkpoints`
//! stand-alone checkpoints over all sessions, `Sync`s whenever the session
//! has unsynced records, `db.sync()` republishes (with `cache_lie`), up to
//! `crashes` crashes, `write_failures` C1–C2 errors and `sync_failures`
//! failed syncs. Page allocation is deterministic (lowest free page that is
//! neither in use by `k` nor blocked), so checkpoint `k+2` reuses the page
//! freed by `k+1` unless §4 step 4 blocks it; three page locations are
//! enough (in use, blocked, new).
//!
//! # Actions and the FORMAT.md step labels
//!
//! | action | FORMAT.md |
//! |---|---|
//! | initial state | §1.1 after creation (side file, sync, rename, directory sync): the slot of checkpoint 1 (slot 1) and its page are durable, the log extent holds no record. Checkpoint 1 is not the creating session's own (§4 step 6), so its first commit republishes it |
//! | [`Action::Commit`], record fits, session has its own epoch | L1 encode (epoch `k`, transaction id, link), L2 fits, L3 `write` at the tail and advance it, L4 release the writer slot (the next `Commit` may come before the `Sync`: group commit). `Eventual`: L5 no wait, L6 acknowledge at once |
//! | [`Action::Commit`], record does not fit | L2: commit by checkpoint = C1 + C2 of a checkpoint that includes the transaction; acknowledged at C5 |
//! | [`Action::Commit`], session without an epoch of its own | §4 steps 4 and 6: nothing needs checkpointing (no record was replayed, or step 5 would have checkpointed), so the commit first *republishes* the newest slot `k` as `k+1` (same tree, new id: C4–C5 only, in [`Action::Barrier1`] and [`Action::Barrier2`]), then logs L1–L3 in epoch `k+1` right after C6 |
//! | [`Action::Sync`] | L5 `Immediate`: the waiter's `sync` (atomic: a crash "during" it is a crash before it with some writes applied); it acknowledges (L6) every record this session wrote before it. `Eventual`: `db.sync()`. A sync acknowledges nothing in a session without an epoch of its own: the records recovery replayed may exist only in the page cache, and a sync does not write them again |
//! | [`Action::SyncFails`] | (with `cache_lie`) the L5 sync or `db.sync()` fails: poison (§3); the records it lost may stay in the page cache. Without the lie a failed L5 sync has the outcomes of a crash before it, so it is not an action then |
//! | [`Action::DbSync`] | (with `cache_lie`) `db.sync()` in a session without a checkpoint of its own: republish the newest slot first (C4–C5), which confirms it and acknowledges the state the open returned |
//! | [`Action::Checkpoint`] | C1 allocate (§5: lowest page not in use by checkpoint `k` and not blocked by §4 step 4; no readers here, see `page_reuse`) + C2 `write` the page. Also in a session without an epoch of its own: a full checkpoint, not a republish (so step 4's blocking matters) |
//! | [`Action::WriteFails`] | an error in C1–C2 (failed `write` or `set_len`, full disk): the checkpoint is abandoned, the in-memory state is unchanged (a commit-by-checkpoint fails), the session goes on; the failed write may still reach the disk (it stays pending), nothing refers to it. §4 step 5: if it was recovery's checkpoint, the open fails (only [`Action::Reopen`] follows) |
//! | [`Action::Barrier1`] | C3 `sync` (barrier 1; acknowledges L5 waiters; skipped by a republish) + C4 `write` slot `(k+1) mod 3` |
//! | [`Action::C3SyncFails`] | C3's `sync` fails: the handle is poisoned (§3); only [`Action::Reopen`] follows (a failing recovery checkpoint fails the open: the same) |
//! | [`Action::Barrier2`] | C5 `sync` (barrier 2) + C6 (pages of `k` freed by `k+1`, tail to the extent start, epoch `k+1`, the session now has an epoch of its own: §4 step 6, and step 4's blocking ends); a commit-by-checkpoint, a republish's `db.sync()`, and recovery's replayed records are acknowledged here; a republishing commit logs its record (L1–L3) |
//! | [`Action::C5SyncFails`] | C5's `sync` fails, or C4's slot write failed (the same: the slot write is pending, the handle poisoned, §3); only [`Action::Reopen`] follows |
//! | [`Action::Crash`] | §6 assumptions: each pending write independently lost, applied whole or torn (fails its checksum); the page cache is lost; then recovery, below |
//! | [`Action::Reopen`] | after poisoning or a failed open: the handle is dropped (no close checkpoint) and the file opened again, in the same boot. Each pending write is lost, applied or torn on disk as in a crash; with `true` (after a failed sync, with `cache_lie`) a write that did not reach the disk whole stays visible in the page cache, and earlier cached writes stay too. Does not use the crash budget |
//! | recovery (in `Crash`/`Reopen`) | §4 step 2: the valid slot with the larger id *in the view* (page cache over disk); 3: verify the pages it references; 4: replay the records accepted by §2.3 (magic/checksums, epoch `k`, txn id `t+1+i`, previous link; stop at the first failure, except that a whole record of an epoch greater than `k` fails the open with `Error::Corruption`), and block the page the newest slot freed relative to the second newest valid slot; 5: if a record was replayed, run a checkpoint at once (its C1+C2 happen inside this action; its later steps are ordinary actions, so a second crash hits it: §6 S7; if it fails, the open fails); 6: the new session has no epoch of its own yet |
//!
//! Merging C1+C2, C3+C4 and C5+C6 loses no behaviour: a crash right after
//! the merged action may lose the writes it issued, which is the state of a
//! crash before it, and C1 and C6 only change memory.
//!
//! After recovery the new session continues from the recovered state: its
//! log tail is the end of the accepted prefix, its epoch `k` and its link the
//! last accepted record's header checksum (the slot checksum if none). With
//! the protocol it never appends there (§4 step 6); the mutants without
//! step 6 do.
//!
//! Not modeled: several pages per checkpoint and shared (unchanged)
//! subtrees, log extent growth, file length (`set_len`: its errors are
//! [`Action::WriteFails`]), misdirected writes and silent corruption (§1.3
//! detects them like torn writes; so no slot is ever damaged here, and the
//! §2.3 exception must never fire), a crash during file creation (§1.1),
//! failed L3 log writes, a page-cache drop while a handle is open, readers
//! (see `page_reuse`).
//!
//! # Properties (checked on the state right after each crash/reopen + recovery)
//!
//! - (a) `always` [`P_ACKED`]: the recovered state contains every
//!   acknowledged transaction (`Eventual`: every transaction covered by a
//!   completed sync). The state recovered by the previous open counts as
//!   acknowledged when the disk held it (no page-cache lie was read);
//!   otherwise only once that session's own checkpoint (step 5), republish
//!   or `db.sync()` confirmed it (§6 S4).
//! - (b) `always` [`P_PREFIX`]: the recovered state is exactly the state after
//!   some transaction of the crashed session's history (a prefix of it: no
//!   gap, nothing from an abandoned checkpoint or an earlier session; S3, S4).
//! - (c) `always` [`P_DURABLE_READS`]: recovery finds a valid slot and every
//!   page that slot references holds, in the view recovery reads, the
//!   content the slot expects (S1, S2, S5; after a crash the view is the
//!   disk).
//! - (d) `always` [`P_ONE_WRITER`]: every record recovery accepts was written
//!   by the session that wrote the chosen slot (S8).
//! - (e) `always` [`P_NO_FALSE_CORRUPTION`]: the §2.3 exception never fires
//!   (no slot is ever damaged in this model, so a newer-epoch record would be
//!   a false alarm: a record of epoch `k+1` written while slot `k+1` could
//!   still be lost).
//! - `sometimes` properties showing that the interesting cases are reached
//!   (among them: a republish, a blocked page skipped, recovery reading a
//!   lost write from the page cache).

use ::stateright::{Model, Property};

/// (a) An acknowledged commit is never lost.
pub const P_ACKED: &str = "acknowledged commits survive a crash";
/// (b) Recovery yields exactly the state after some transaction.
pub const P_PREFIX: &str = "recovered state is a prefix of the committed history";
/// (c) Recovery reads only durable data of the chosen checkpoint.
pub const P_DURABLE_READS: &str = "recovery reads only pages the chosen slot made durable";
/// (d) §6 S8: accepted records were written by the session that wrote the chosen slot.
pub const P_ONE_WRITER: &str =
    "every accepted record was written by the session that created its epoch (S8)";
/// (e) The §2.3 newer-epoch exception never fires without a damaged slot.
pub const P_NO_FALSE_CORRUPTION: &str = "recovery never finds a record of a newer epoch";
/// A crash leaves a slot torn.
pub const S_TORN_SLOT: &str = "a crash tears a slot";
/// Recovery chooses the older slot because the newest slot write did not survive.
pub const S_FALLBACK: &str = "recovery falls back to the older slot";
/// Recovery replays at least one log record.
pub const S_REPLAY: &str = "recovery replays a log record";
/// Recovery replays two log records.
pub const S_REPLAY2: &str = "recovery replays two log records";
/// Recovery stops at a whole record that fails the epoch, id or link test.
pub const S_STALE_REJECTED: &str = "recovery rejects a whole stale record";
/// A crash hits the checkpoint run by recovery (§4 step 5, §6 S7).
pub const S_CRASH_IN_RECOVERY_CKPT: &str = "a crash hits recovery's own checkpoint";
/// One sync acknowledges two records (group commit, L5).
pub const S_GROUP_COMMIT: &str = "one sync acknowledges two commits";
/// A checkpoint allocates a page an earlier checkpoint used (§5).
pub const S_PAGE_REUSE: &str = "a checkpoint reuses a freed page";
/// A session's first commit republishes the newest slot (§4 steps 4 and 6).
pub const S_REPUBLISH: &str = "a first commit republishes the newest slot (§4 step 4)";
/// `db.sync()` republishes the newest slot (§4 step 4).
pub const S_SYNC_REPUBLISH: &str = "db.sync() republishes the newest slot (§4 step 4)";
/// A checkpoint skips a page blocked by §4 step 4.
pub const S_BLOCKED: &str = "a checkpoint skips a page blocked by §4 step 4";
/// Recovery reads a slot or record that only the page cache holds.
pub const S_CACHE_LIE: &str = "recovery reads a lost write the page cache still shows";
/// A checkpoint completes in a session that had one abandoned by a C1–C2 error.
pub const S_WRITE_FAILURE: &str = "a checkpoint completes after a C1-C2 error abandoned one";
/// Recovery after a failed C3 sync.
pub const S_C3_FAILURE: &str = "recovery after a failed C3 sync";
/// Recovery after a failed C5 sync.
pub const S_C5_FAILURE: &str = "recovery after a failed C5 sync";

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
    /// The earlier §4 text: step 5 (checkpoint if a record was replayed)
    /// without step 6, so a session that replayed nothing logs in epoch `k`
    /// at once, from the end of the accepted prefix.
    RecoveryCheckpointOnlyIfReplayed,
    /// Every writable open runs a checkpoint (step 5 unconditionally), but
    /// there is no step 6: when that checkpoint is abandoned by a C1–C2
    /// error the session logs in epoch `k`.
    RecoveryCheckpointAlways,
    /// The earlier §3 text: a failed C3 sync abandons the checkpoint (each
    /// pending write lost, applied or torn) and the handle stays usable.
    C3FailureKeepsHandleUsable,
    /// A failed C5 sync (or C4 slot write) abandons the checkpoint (the slot
    /// write lost, applied or torn) and the handle stays usable in epoch `k`.
    C5FailureKeepsHandleUsable,
    /// The earlier §1 text: two slots, checkpoint `k` in slot `k mod 2`.
    /// After a reopen that read an unconfirmed newest slot `k+1` from the
    /// page cache, the next slot write overwrites slot `k`, the only durable
    /// one.
    TwoSlots,
    /// No §4 step 4 blocking: the pages the newest slot freed relative to
    /// the second valid slot are reusable at once after open.
    NoUnconfirmedBlocking,
}

impl Mutant {
    /// The session after an open must complete a checkpoint before logging.
    fn step6(self) -> bool {
        !matches!(
            self,
            Mutant::RecoveryCheckpointOnlyIfReplayed | Mutant::RecoveryCheckpointAlways
        )
    }
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
    /// C1–C2 errors (§3: abandon the checkpoint, the handle stays usable).
    pub write_failures: u8,
    /// Failed C3/C5 syncs (§3: poison the handle).
    pub sync_failures: u8,
    /// L5 mode.
    pub durability: Durability,
    /// Protocol deviation.
    pub mutant: Mutant,
    /// After a crash, a transaction may carry the same payload as the one
    /// the first session issued at that id (an application retrying).
    pub retry_payloads: bool,
    /// The fault of §4 step 4: a failed sync (C3, C5, L5 or `db.sync()`)
    /// whose lost writes stay visible to a reopen without crash (the
    /// operating system's page cache still shows them; the disk, what a
    /// later crash leaves, does not hold them).
    pub cache_lie: bool,
    /// Not in FORMAT.md: a checkpoint first syncs the log (and acknowledges
    /// its waiters) before C1, so a failed C3 can only lose checkpoint pages.
    /// With [`Mutant::C3FailureKeepsHandleUsable`] this is the alternative
    /// to poisoning on a failed C3.
    pub sync_log_before_checkpoint: bool,
}

impl Default for CommitProtocol {
    fn default() -> Self {
        CommitProtocol {
            pages: 3,
            log_len: 2,
            txns: 3,
            checkpoints: 2,
            crashes: 2,
            write_failures: 0,
            sync_failures: 0,
            durability: Durability::Immediate,
            mutant: Mutant::None,
            retry_payloads: false,
            cache_lie: false,
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
    /// Id of the checkpoint that wrote that page: `id` itself, or for a
    /// republished slot (§4 step 4) the id of the slot it republishes.
    pub tree: u8,
    /// Ghost: the session that wrote it (not on disk).
    pub by: u8,
}

impl Ckpt {
    /// Same bytes on disk (ghost fields ignored).
    fn same_bytes(&self, other: &Ckpt) -> bool {
        self.id == other.id
            && self.state == other.state
            && self.page == other.page
            && self.tree == other.tree
    }
    /// Whether `page` (the content of a page location) is the tree page this
    /// slot references.
    fn references(&self, page: &Ckpt) -> bool {
        page.id == self.tree && page.state == self.state && page.page == self.page
    }
}

/// A log record (§2.1), as the writer encoded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rec {
    /// The checkpoint this log follows (gives the epoch and, for record 0, the link).
    pub epoch_slot: Ckpt,
    /// Payloads of records `0..=i` of this epoch; the last one is this record's.
    pub payloads: Vec<u8>,
    /// Ghost: the session that wrote it (not on disk).
    pub writer: u8,
}

impl Rec {
    fn epoch(&self) -> u8 {
        self.epoch_slot.id
    }
    fn txid(&self) -> usize {
        self.epoch_slot.state.len() + self.payloads.len()
    }
    /// The previous-link field equals the slot checksum of `chosen` (no
    /// `prev`) or the header checksum of `prev`: same bytes as the record or
    /// slot this record's writer linked to.
    fn links_to(&self, prev: Option<&Rec>, chosen: &Ckpt) -> bool {
        let n = self.payloads.len();
        match prev {
            None => n == 1 && self.epoch_slot.same_bytes(chosen),
            Some(p) => {
                n >= 2
                    && p.epoch_slot.same_bytes(&self.epoch_slot)
                    && p.payloads[..] == self.payloads[..n - 1]
            }
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
    /// A write a failed sync lost that the operating system's page cache
    /// still shows (fsyncgate): a reopen without a crash reads it, a crash
    /// forgets it.
    pub cached: Option<T>,
}

impl<T: Clone> Loc<T> {
    fn new(durable: Cell<T>) -> Self {
        Loc {
            durable,
            pending: None,
            cached: None,
        }
    }
    /// What a read sees now (no write pending): the page cache, else the disk.
    fn view(&self) -> Cell<T> {
        match &self.cached {
            Some(v) => Cell::Val(v.clone()),
            None => self.durable.clone(),
        }
    }
    fn write(&mut self, v: T) {
        self.cached = None;
        // With the protocol this happens only when an abandoned checkpoint's
        // page is written again; the older write is taken as flushed (it may
        // have been), which is harmless for a page nothing refers to.
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
    /// Crash or failed sync. With `lie` (a failed sync whose lost writes
    /// stay visible to a reopen without crash) a write that did not reach
    /// the disk whole stays in the page cache.
    fn resolve(&mut self, fate: Fate, lie: bool) {
        if let Some(v) = self.pending.take() {
            match fate {
                Fate::Lost => {}
                Fate::Applied => self.durable = Cell::Val(v.clone()),
                Fate::Torn => self.durable = Cell::Torn,
            }
            if lie && fate != Fate::Applied {
                self.cached = Some(v);
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
    /// Length of the acknowledged prefix of the history.
    pub acked: u8,
    /// Length of the prefix covered by a completed sync.
    pub synced: u8,
    /// Checkpoint in progress.
    pub run: Option<Run>,
    /// No checkpoint of this session has completed yet (§4 step 6).
    pub needs_epoch: bool,
    /// §4 step 4: the page the newest slot freed relative to the second
    /// valid slot, blocked until a checkpoint of this session completes.
    pub blocked: Option<u8>,
    /// A failed sync poisoned the handle: only a reopen follows.
    pub poisoned: bool,
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
    /// Recovery chose a slot that only the page cache holds (a lost write
    /// of a failed sync) or replayed such a record.
    pub read_cache_lie: bool,
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
    /// A checkpoint completed in a session that had one abandoned by a C1–C2 error.
    CompletedAfterWriteFailure,
    /// A crash/reopen and recovery.
    Recovered(Report),
}

/// Model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Checkpoint slots 0, 1 and 2 (pages 1..=3).
    pub slots: [Loc<Ckpt>; 3],
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
    /// Failed C3/C5 syncs left.
    pub sync_failures_left: u8,
    /// A C1–C2 error abandoned a checkpoint in this session.
    pub write_failed: bool,
    /// A C3 sync failed in this session.
    pub c3_failed: bool,
    /// A C5 sync failed in this session.
    pub c5_failed: bool,
    /// An L5 sync or `db.sync()` failed in this session (only with
    /// [`CommitProtocol::cache_lie`]).
    pub l5_failed: bool,
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
    /// A crash empties the page cache.
    fn forget_cache(&mut self) {
        self.slots.iter_mut().for_each(|l| l.cached = None);
        self.pages.iter_mut().for_each(|l| l.cached = None);
        self.log.iter_mut().for_each(|l| l.cached = None);
    }
    /// The page cache shows a write the disk does not hold.
    fn any_cached(&self) -> bool {
        self.slots.iter().any(|l| l.cached.is_some())
            || self.pages.iter().any(|l| l.cached.is_some())
            || self.log.iter().any(|l| l.cached.is_some())
    }
    /// Applies the fates of a crash or failed sync (`lie`: the lost writes
    /// stay in the page cache). Returns whether a slot was torn.
    fn resolve_all(&mut self, fates: &[(Where, Fate)], lie: bool) -> bool {
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

/// Model actions (see the module table).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// L1–L3 (+ L5/L6 when `Eventual`), or commit by checkpoint (C1+C2):
    /// L2 (does not fit) or §4 step 6 (no epoch of its own yet).
    Commit {
        /// Payload tag.
        payload: u8,
    },
    /// L5 sync / `db.sync()`.
    Sync,
    /// An L5 sync (or `db.sync()`) fails: the handle is poisoned. Only with
    /// [`CommitProtocol::cache_lie`] (otherwise its outcomes are those of a
    /// crash before the sync).
    SyncFails,
    /// `db.sync()` in a session without a checkpoint of its own: republish
    /// the newest slot first (C4–C5).
    DbSync,
    /// C1 + C2 of a stand-alone checkpoint.
    Checkpoint,
    /// An error in C1–C2: the checkpoint is abandoned, the session goes on.
    WriteFails,
    /// C3 + C4.
    Barrier1,
    /// C3's sync fails. With the protocol: poison (the fates are decided at
    /// the reopen, the vector is empty); with
    /// [`Mutant::C3FailureKeepsHandleUsable`]: the fate of each pending write.
    C3SyncFails(Vec<(Where, Fate)>),
    /// C5 + C6.
    Barrier2,
    /// C5's sync (or C4's slot write) fails. With the protocol: poison (empty
    /// vector); with [`Mutant::C5FailureKeepsHandleUsable`]: the fate of each
    /// pending write.
    C5SyncFails(Vec<(Where, Fate)>),
    /// Crash with the fate of each pending write, then §4 recovery.
    Crash(Vec<(Where, Fate)>),
    /// Reopen a poisoned handle (or after a failed open): the fate of each
    /// pending write, then §4 recovery. With `true` (only after a failed
    /// sync, with [`CommitProtocol::cache_lie`]) the writes that did not
    /// reach the disk whole stay visible in the page cache, and recovery
    /// reads them.
    Reopen(Vec<(Where, Fate)>, bool),
}

impl CommitProtocol {
    fn floor(&self, mem: &Mem) -> u8 {
        match self.durability {
            Durability::Immediate => mem.acked.max(mem.synced),
            Durability::Eventual => mem.synced,
        }
    }

    /// C1: lowest page that is free and reusable under checkpoint `k` (§5)
    /// and not blocked by §4 step 4.
    fn allocate(&self, mem: &Mem) -> u8 {
        (0..self.pages)
            .find(|&p| {
                (self.mutant == Mutant::ReuseOwnFreed || p != mem.ck.page) && mem.blocked != Some(p)
            })
            .expect("at least three page locations")
    }

    /// §1.2: the slot of checkpoint `id`.
    fn slot_of(&self, id: u8) -> usize {
        if self.mutant == Mutant::TwoSlots {
            (id % 2) as usize
        } else {
            (id % 3) as usize
        }
    }

    /// Sync covering every write issued so far; L5 waiters return with it.
    /// Records replayed by recovery are not this session's writes: in a
    /// session without an epoch of its own a sync acknowledges nothing (the
    /// replayed records may exist only in the page cache, which a sync does
    /// not write again; §4 step 5).
    fn sync(&self, s: &mut State) {
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
    }

    /// C1 + C2 of checkpoint `k+1`; `big` is a transaction committed by it.
    fn begin_checkpoint(&self, s: &mut State, big: Option<u8>, recovery: bool) {
        if self.sync_log_before_checkpoint && s.mem.synced < s.mem.logged() as u8 {
            self.sync(s);
        }
        let mut state = s.mem.history();
        state.extend(big);
        let page = self.allocate(&s.mem);
        let new = Ckpt {
            id: s.mem.ck.id + 1,
            state,
            page,
            tree: s.mem.ck.id + 1,
            by: s.session,
        };
        if s.event == Event::None {
            if s.mem.blocked.is_some_and(|b| b < page) {
                s.event = Event::Blocked;
            } else if matches!(s.pages[page as usize].durable, Cell::Val(_)) {
                s.event = Event::PageReuse;
            }
        }
        s.pages[page as usize].write(new.clone());
        s.mem.run = Some(Run {
            new,
            slot_written: false,
            recovery,
            republish: false,
            then: None,
        });
    }

    /// §4 step 4: republish the newest slot under id `k+1` (C4–C5 only,
    /// starting at [`Action::Barrier1`], which skips C3); `then` is the
    /// transaction of the first commit, logged after C6.
    fn begin_republish(&self, s: &mut State, then: Option<u8>) {
        let ck = &s.mem.ck;
        let new = Ckpt {
            id: ck.id + 1,
            state: ck.state.clone(),
            page: ck.page,
            tree: ck.tree,
            by: s.session,
        };
        s.mem.run = Some(Run {
            new,
            slot_written: false,
            recovery: false,
            republish: true,
            then,
        });
    }

    /// L1–L3 (+ L5/L6 when `Eventual`) in the session's own epoch.
    fn log_commit(&self, s: &mut State, payload: u8) {
        let tail = s.mem.chain.len();
        let mut payloads = s.mem.chain.clone();
        payloads.push(payload);
        let rec = Rec {
            epoch_slot: s.mem.ck.clone(),
            payloads,
            writer: s.session,
        };
        s.log[tail].write(rec);
        s.mem.chain.push(payload);
        // L5/L6: Eventual (or the mutant) acknowledges without a sync.
        if self.durability == Durability::Eventual || self.mutant == Mutant::SkipL5Sync {
            s.mem.acked = s.mem.logged() as u8;
        }
    }

    /// A failed C3 or C5 sync: poison, or (mutants) abandon and go on.
    fn sync_fails(&self, s: &mut State, fates: &[(Where, Fate)], keep_usable: bool) {
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

    /// A crash (`crash`: the page cache is lost) or a reopen without one
    /// (`lie`: the failed sync's lost writes stay in the page cache): the
    /// fates of the pending writes, then recovery.
    fn crash(&self, s: &mut State, fates: &[(Where, Fate)], crash: bool, lie: bool) {
        let history = s.mem.history();
        let floor = self.floor(&s.mem);
        let during_recovery_ckpt = s.mem.run.as_ref().is_some_and(|r| r.recovery);
        let torn_slot = s.resolve_all(fates, lie);
        if crash {
            s.forget_cache();
        }
        let report = Report {
            lost_ack: false,
            not_prefix: false,
            bad_read: false,
            other_writer: false,
            newer_epoch: false,
            torn_slot,
            fell_back: false,
            replayed: 0,
            stale_rejected: false,
            during_recovery_ckpt,
            after_c3_failure: s.c3_failed,
            after_c5_failure: s.c5_failed,
            read_cache_lie: false,
        };
        self.recover(s, history, floor, report);
    }

    /// §4 recovery, checking (a)–(e). Recovery reads what a read sees now:
    /// the page cache over the disk.
    fn recover(&self, s: &mut State, history: Vec<u8>, floor: u8, mut report: Report) {
        // §4 step 2: the valid slot with the larger checkpoint id.
        let mut valid: Vec<(Ckpt, bool)> = s
            .slots
            .iter()
            .filter_map(|l| match l.view() {
                Cell::Val(ck) => Some((ck, l.cached.is_some())),
                _ => None,
            })
            .collect();
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
        let mut accepted: Vec<u8> = Vec::new();
        let mut prev: Option<Rec> = None;
        for (i, loc) in s.log.iter().enumerate() {
            // Magic, header checksum and payload checksum: a torn or never
            // written position fails them.
            let Cell::Val(r) = loc.view() else { break };
            if r.epoch() != k || r.txid() != t + 1 + i || !r.links_to(prev.as_ref(), &chosen) {
                // §2.3 exception: a valid record of a newer epoch fails the open.
                report.newer_epoch = r.epoch() > k;
                report.stale_rejected = true;
                break;
            }
            report.other_writer |= r.writer != chosen.by;
            report.read_cache_lie |= loc.cached.is_some();
            accepted.push(*r.payloads.last().expect("a record has a payload"));
            prev = Some(r);
        }
        report.replayed = accepted.len() as u8;
        let mut recovered = chosen.state.clone();
        recovered.extend_from_slice(&accepted);
        report.lost_ack = recovered.len() < floor as usize;
        report.not_prefix =
            recovered.len() > history.len() || history[..recovered.len()] != recovered[..];
        let violated = report.lost_ack
            || report.not_prefix
            || report.bad_read
            || report.other_writer
            || report.newer_epoch;
        s.event = Event::Recovered(report);
        if violated {
            s.halted = true;
            return;
        }
        // Step 4: the page the newest checkpoint freed relative to the
        // second valid slot stays blocked.
        let blocked = match valid.get(1) {
            Some((second, _))
                if second.page != chosen.page && self.mutant != Mutant::NoUnconfirmedBlocking =>
            {
                Some(second.page)
            }
            _ => None,
        };
        // The new session. What it read counts as acknowledged when the disk
        // holds it (the page cache shows nothing the disk lacks); otherwise
        // only once its own checkpoint (step 5), republish or sync confirms it.
        s.session += 1;
        s.write_failed = false;
        s.c3_failed = false;
        s.c5_failed = false;
        s.l5_failed = false;
        let len = recovered.len() as u8;
        let known = if s.any_cached() { floor } else { len };
        s.mem = Mem {
            ck: chosen,
            chain: accepted,
            acked: known,
            synced: known,
            run: None,
            // Step 6.
            needs_epoch: self.mutant.step6(),
            blocked,
            poisoned: false,
        };
        // Step 5.
        let replayed = !s.mem.chain.is_empty();
        if replayed || self.mutant == Mutant::RecoveryCheckpointAlways {
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
        slots[self.slot_of(1)] = Loc::new(Cell::Val(ck1.clone()));
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
                blocked: None,
                poisoned: false,
            },
            session: 0,
            txns_left: self.txns,
            ckpts_left: self.checkpoints,
            crashes_left: self.crashes,
            write_failures_left: self.write_failures,
            sync_failures_left: self.sync_failures,
            write_failed: false,
            c3_failed: false,
            c5_failed: false,
            l5_failed: false,
            newest_slot: 1,
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
            let sync_failed = s.c3_failed || s.c5_failed || s.l5_failed;
            if self.cache_lie && sync_failed {
                actions.extend(choices.iter().cloned().map(|f| Action::Reopen(f, true)));
            }
            actions.extend(choices.into_iter().map(|f| Action::Reopen(f, false)));
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
                }
                if s.ckpts_left > 0 {
                    actions.push(Action::Checkpoint);
                }
                if self.cache_lie && s.mem.needs_epoch && s.mem.chain.is_empty() {
                    actions.push(Action::DbSync);
                }
            }
            Some(run) if run.slot_written => {
                actions.push(Action::Barrier2);
                actions.extend(failures(keep_c5, Action::C5SyncFails));
            }
            Some(run) if run.republish => actions.push(Action::Barrier1),
            Some(_) => {
                actions.push(Action::Barrier1);
                if s.write_failures_left > 0 {
                    actions.push(Action::WriteFails);
                }
                actions.extend(failures(keep_c3, Action::C3SyncFails));
            }
        }
        if !s.mem.needs_epoch && s.mem.synced < s.mem.logged() as u8 {
            actions.push(Action::Sync);
            if self.cache_lie && s.sync_failures_left > 0 {
                actions.push(Action::SyncFails);
            }
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
                let fits = tail < self.log_len as usize;
                if !fits || (s.mem.needs_epoch && !s.mem.chain.is_empty()) {
                    // L2, or §4 step 6 with replayed records to checkpoint
                    // (only when a mutant let recovery's checkpoint fail
                    // without failing the open): commit by checkpoint.
                    self.begin_checkpoint(&mut s, Some(payload), false);
                } else if s.mem.needs_epoch {
                    // §4 step 6 with nothing to checkpoint (the session has
                    // logged nothing): step 4 republish, then log.
                    self.begin_republish(&mut s, Some(payload));
                    s.event = Event::Republish;
                } else {
                    self.log_commit(&mut s, payload);
                }
            }
            Action::Sync => self.sync(&mut s),
            Action::SyncFails => {
                s.sync_failures_left -= 1;
                s.l5_failed = true;
                s.mem.poisoned = true;
            }
            Action::DbSync => {
                self.begin_republish(&mut s, None);
                s.event = Event::SyncRepublish;
            }
            Action::Checkpoint => {
                s.ckpts_left -= 1;
                self.begin_checkpoint(&mut s, None, false);
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
            Action::Barrier1 => {
                let republish = s.mem.run.as_ref().is_some_and(|r| r.republish);
                // C3: barrier 1 (covers every earlier log record: L5 waiters
                // return). A republish is C4–C5 only.
                if self.mutant != Mutant::SkipC3 && !republish {
                    self.sync(&mut s);
                }
                // C4.
                let run = s.mem.run.as_mut().expect("checkpoint running");
                run.slot_written = true;
                let new = run.new.clone();
                s.newest_slot = s.newest_slot.max(new.id);
                let slot = self.slot_of(new.id);
                s.slots[slot].write(new);
            }
            Action::C3SyncFails(fates) => {
                s.c3_failed = true;
                let keep = self.mutant == Mutant::C3FailureKeepsHandleUsable;
                self.sync_fails(&mut s, &fates, keep);
            }
            Action::Barrier2 => {
                // C5: barrier 2.
                if self.mutant != Mutant::SkipC5 {
                    s.sync_all();
                }
                // C6: new epoch, tail to the start; commit-by-checkpoint acknowledged.
                // The session's own checkpoint: step 4's blocking ends.
                let run = s.mem.run.take().expect("checkpoint running");
                let len = run.new.state.len() as u8;
                s.mem.ck = run.new;
                s.mem.chain.clear();
                s.mem.needs_epoch = false;
                s.mem.blocked = None;
                s.mem.acked = len;
                if self.mutant != Mutant::SkipC5 {
                    s.mem.synced = len;
                }
                if s.write_failed && s.event == Event::None {
                    s.event = Event::CompletedAfterWriteFailure;
                }
                if let Some(payload) = run.then {
                    self.log_commit(&mut s, payload);
                }
            }
            Action::C5SyncFails(fates) => {
                s.c5_failed = true;
                let keep = self.mutant == Mutant::C5FailureKeepsHandleUsable;
                self.sync_fails(&mut s, &fates, keep);
            }
            Action::Crash(fates) => {
                s.crashes_left -= 1;
                self.crash(&mut s, &fates, true, false);
            }
            Action::Reopen(fates, lie) => self.crash(&mut s, &fates, false, lie),
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
        if self.mutant == Mutant::None && self.crashes + self.sync_failures > 0 {
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
        if self.sync_failures > 0 {
            props.push(Property::sometimes(S_C3_FAILURE, |_, s| {
                report(s).is_some_and(|r| r.after_c3_failure)
            }));
            props.push(Property::sometimes(S_C5_FAILURE, |_, s| {
                report(s).is_some_and(|r| r.after_c5_failure)
            }));
        }
        props
    }
}
