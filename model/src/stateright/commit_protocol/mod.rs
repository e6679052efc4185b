//! Model 1: the commit protocol of `docs/FORMAT.md` §3 under crashes and
//! I/O errors, with recovery per §2.3 and §4, checked exhaustively by
//! stateright.
//!
//! With [`Mutant::None`] and [`ConfirmAt::BeforeC4`] (the default) the
//! model is the text: three checkpoint slot pages, each slot write carrying
//! a write sequence number; a new slot goes to a page chosen by content
//! (§1.2); failed C3/C5 syncs poison the handle (§3); C1–C2 errors abandon
//! the checkpoint and the session goes on (§3); a failed L3 log write is
//! erased (zeros over the record header at the tail, then a sync; poison if
//! either fails) and the session goes on (§3); the pages the newest slot
//! freed relative to every older valid slot stay blocked until the session
//! *confirms* the newest slot: right before its first slot write (after
//! C3) it writes a copy of the newest slot into a page that holds neither
//! the earliest copy of the newest checkpoint nor the latest copy of the
//! next newest, and syncs (§4 step 4); the first commit (or `db.sync()`) of
//! a session with nothing to checkpoint republishes the newest slot under a
//! new id (§4 step 4); a failing recovery checkpoint fails the open (§4
//! step 5); a session logs only in an epoch whose checkpoint it completed
//! itself (§4 step 6); a valid record of a newer epoch than the chosen
//! slot fails the open (§2.3); every record carries a *durable mark*, the
//! highest transaction the writer knew durable (§2.1, §3 L1); and recovery
//! tells a torn tail from damage: a record that fails a test ends the log
//! quietly if its position reads as unwritten (all-zero header, older
//! epoch) or no later header of the epoch vouches for it, and fails the
//! open with `Error::Corruption` if one does (§2.3 "a torn tail or
//! damage"). Each other [`Mutant`] removes or changes one rule; the tests
//! show the checker finds the resulting bug, including the rules of earlier
//! texts ([`Mutant::RecoveryCheckpointOnlyIfReplayed`],
//! [`Mutant::C3FailureKeepsHandleUsable`], [`Mutant::TwoSlots`],
//! [`Mutant::SlotModThree`], [`Mutant::LastCopyById`],
//! [`ConfirmAt::BeforeC1`], and the format 2 §2.3,
//! [`Mutant::NoDurableMark`]).
//!
//! **History.** The `k mod 3` text fell to two failed syncs in a row in one
//! boot (found by this model and by the simulator). Its successor, an exact
//! copy placed by "the last copy of an id" and made before C1, fell to this
//! model too: after a failed confirmation the next session sees the newest
//! checkpoint twice, cannot tell the durable copy from the page-cache lie,
//! and may overwrite the durable one. The write sequence number tells the
//! copies apart, and confirming after C3 makes "the next newest slot's pages
//! were reused" imply "the earliest copy of the newest slot is durable".
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
//! A [`Rec`] carries its epoch slot and the payloads and durable marks of
//! the records before it in its epoch and its own; from those the model
//! derives the §2.1 header fields (epoch, transaction id, previous link,
//! durable mark) exactly as the writer computed them (the link, a header
//! checksum, covers the previous record's mark too). The writer's mark is
//! [`Mem::durable`]: raised when a sync it issued returns (L5, `db.sync()`,
//! C3, and the sync of §3 L3's erase: every sync that covers the log
//! records before the tail) and set to `t` when checkpoint `t` completes
//! (C5–C6) or recovery replayed up to `t` (the engine's
//! `GroupSync::new(last_txn)`; a session logs only after its own C5 anyway).
//! A payload is a small tag: the index of the session (open) that issued
//! the transaction, so two sessions never write byte-identical records; with
//! [`CommitProtocol::retry_payloads`] a later session may also use tag 0, an
//! application retrying the very operation the first session issued at that
//! transaction id, which can make byte-identical records (the §4 step 6
//! scenario). [`Ckpt::by`] and [`Rec::writer`] are ghost fields (the session
//! that wrote the slot or record): they are not part of the bytes on disk,
//! recovery never looks at them, only the S8 property does. So is
//! [`Rec::covered`]: the highest transaction whose record the writer had
//! written in the epoch before a sync that returned before this record was
//! written, set from the sync events themselves ([`Mem::covered`], updated
//! wherever a sync returns), not from the mark; property (a) uses it.
//!
//! *Silent damage* ([`CommitProtocol::damage`], default 0): at a crash or
//! reopen, the durable cell of a log position that holds a whole record
//! becomes [`Cell::Damaged`] (ghost: the record it destroyed), unless a
//! pending write to the position reaches the disk. Per the §6 assumptions
//! damage is detected by checksums: a damaged position fails the record's
//! tests and is neither all zeros nor a valid header of any epoch. Damage
//! happens "before" the crash; since recovery is the only reader of the
//! log, damage at an earlier moment looks the same to it (a write that
//! reaches the position in between repairs it). Slots and tree pages are
//! never damaged (the §2.3 newer-epoch exception is still a false alarm
//! here).
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
//! | [`Action::Commit`], record fits, session has its own epoch | L1 encode (epoch `k`, transaction id, link, durable mark [`Mem::durable`]), L2 fits, L3 `write` at the tail and advance it, L4 release the writer slot (the next `Commit` may come before the `Sync`: group commit). `Eventual`: L5 no wait, L6 acknowledge at once |
//! | [`Action::Commit`], record does not fit | L2: commit by checkpoint = C1 + C2 of a checkpoint that includes the transaction; acknowledged at C5 |
//! | [`Action::Commit`], session without an epoch of its own | §4 steps 4 and 6: nothing needs checkpointing (no record was replayed, or step 5 would have checkpointed), so the commit first *republishes* the newest slot `k` as `k+1` (same tree, new id: C4–C5 only, in [`Action::Barrier1`] and [`Action::Barrier2`]), then logs L1–L3 in epoch `k+1` right after C6 |
//! | [`Action::AppendFails`] | L3's `write` fails: the commit fails and the tail stays; the bytes that landed stay pending (a later sync or crash leaves them lost, torn, or forming the whole record: the landed header over an earlier record with the same payload, or the whole write). Then the erase (zeros over the record header at the tail) and its `sync` ([`Erase::Synced`]: the position durably reads as an unwritten tail, an all-zero header, §2.3; the sync covers the records before the tail, so it raises [`Mem::durable`]; the session goes on and logs its next commit there); if the erase's write or sync fails ([`Erase::WriteFails`], [`Erase::SyncFails`], one of `sync_failures`), the handle is poisoned and the commit's outcome is unknown: it is part of the session's history ([`Mem::failing`]). With `cache_lie` a reopen then reads the erase from the page cache ([`Erase::SyncFails`]) or the record ([`Erase::WriteFails`]) whatever the disk holds |
//! | [`Action::Sync`] | L5 `Immediate`: the waiter's `sync` (atomic: a crash "during" it is a crash before it with some writes applied); it acknowledges (L6) every record this session wrote before it. `Eventual`: `db.sync()`. A sync acknowledges nothing in a session without an epoch of its own: the records recovery replayed may exist only in the page cache, and a sync does not write them again |
//! | [`Action::SyncFails`] | (with `cache_lie`) the L5 sync or `db.sync()` fails: poison (§3); the records it lost may stay in the page cache. Without the lie a failed L5 sync has the outcomes of a crash before it, so it is not an action then |
//! | [`Action::DbSync`] | (with `cache_lie`) `db.sync()` in a session without a checkpoint of its own: republish the newest slot first (C4–C5), which confirms it and acknowledges the state the open returned |
//! | [`Action::Checkpoint`] | C1 allocate (§5: lowest page not in use by checkpoint `k` and not blocked by §4 step 4; no readers here, see `page_reuse`) + C2 `write` the page. Also in a session without an epoch of its own: a full checkpoint, not a republish (so step 4's blocking matters) |
//! | [`Action::WriteFails`] | an error in C1–C2 (failed `write` or `set_len`, full disk): the checkpoint is abandoned, the in-memory state is unchanged (a commit-by-checkpoint fails), the session goes on; the failed write may still reach the disk (it stays pending), nothing refers to it. §4 step 5: if it was recovery's checkpoint, the open fails (only [`Action::Reopen`] follows) |
//! | [`Action::Barrier1`] | C3 `sync` (barrier 1; acknowledges L5 waiters; skipped by a republish) + C4 `write` of slot `k+1` into a page other than the one the session knows holds its current slot durably (empty, then oldest, §1.2). In a session that has not confirmed: C3 + the confirmation copy's `write` (§4 step 4) instead of C4 |
//! | [`Action::Confirm`] | the confirmation's `sync`: the newest slot is durable in the copy's page; the blocked pages are released; then C4 |
//! | [`Action::ConfirmFails`] | the confirmation's write or sync fails: poison (§3); the copy may stay in the page cache |
//! | [`Action::C3SyncFails`] | C3's `sync` fails: the handle is poisoned (§3); only [`Action::Reopen`] follows (a failing recovery checkpoint fails the open: the same) |
//! | [`Action::Barrier2`] | C5 `sync` (barrier 2) + C6 (pages of `k` freed by `k+1`, tail to the extent start, epoch `k+1`, the session now has an epoch of its own: §4 step 6, and step 4's blocking ends); a commit-by-checkpoint, a republish's `db.sync()`, and recovery's replayed records are acknowledged here; a republishing commit logs its record (L1–L3) |
//! | [`Action::C5SyncFails`] | C5's `sync` fails, or C4's slot write failed (the same: the slot write is pending, the handle poisoned, §3); only [`Action::Reopen`] follows |
//! | [`Action::Crash`] | §6 assumptions: each pending write independently lost, applied whole or torn (fails its checksum); with `damage` left, optionally silent damage to one durable record first; the page cache is lost; then recovery, below |
//! | [`Action::Reopen`] | after poisoning or a failed open: the handle is dropped (no close checkpoint) and the file opened again, in the same boot. Each pending write is lost, applied or torn on disk as in a crash; with `true` (after a failed sync, with `cache_lie`) a write that did not reach the disk whole stays visible in the page cache, and earlier cached writes stay too. Damage as in a crash. Does not use the crash budget |
//! | recovery (in `Crash`/`Reopen`) | §4 step 2: the valid slot with the larger id *in the view* (page cache over disk); 3: verify the pages it references; 4: replay the records accepted by §2.3 (magic/checksums, epoch `k`, txn id `t+1+i`, previous link; stop at the first failure, except that a whole record of an epoch greater than `k` fails the open with `Error::Corruption`; at a failure that is not an all-zero header (never written, or erased by L3) or a whole record of an older epoch, i.e. a torn or damaged position or a whole record of epoch `k` with the wrong id or link, search every later position for a vouching header, a whole record of epoch `k` with txn id `> u` and mark `>= u`, and fail the open with `Error::Corruption` if there is one; the model then stops), and block the pages the newest slot freed relative to every older valid slot; 5: if a record was replayed, run a checkpoint at once (its C1+C2 happen inside this action; its later steps are ordinary actions, so a second crash hits it: §6 S7; if it fails, the open fails); 6: the new session has no epoch of its own yet |
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
//! [`Action::WriteFails`]), misdirected writes and silent corruption of
//! slots and tree pages (§1.3 detects them like torn writes; so no slot is
//! ever damaged here, and the §2.3 exception must never fire), a crash
//! during file creation (§1.1), a page-cache drop while a handle is open,
//! readers (see `page_reuse`), `Options::truncate_damaged_log` (after
//! `Error::Corruption` the model stops). A failed L3 write and its erase
//! are modelled at record granularity: the landed bytes either form the
//! whole new record or fail the checksums. Records are one position each:
//! a record running past the extent, headers at the later pages of a
//! multi-page record (a value crafted to hold a vouching header, the second
//! limit of §2.3) and a torn write that leaves a record's header whole but
//! its payload broken (its header could still vouch, which is sound: its
//! mark was what its writer knew durable) are not modelled; the model's
//! torn record has no valid header.
//!
//! # Properties (checked on the state right after each crash/reopen + recovery)
//!
//! - (a) `always` [`P_ACKED`]: unless recovery fails the open on a damaged
//!   log record (§2.3), the recovered state contains every acknowledged
//!   transaction (`Eventual`: every
//!   transaction covered by a completed sync). The state recovered by the
//!   previous open counts as acknowledged when the disk held it (no
//!   page-cache lie was read); otherwise only once that session's own
//!   checkpoint (step 5), republish or `db.sync()` confirmed it (§6 S4).
//!   With the damage fault one exception: the log ended at a damaged record
//!   `u` of the chosen epoch and no later position holds a record of that
//!   epoch and writer whose ghost [`Rec::covered`] is `>= u` (none was
//!   written after a sync covering `u` returned, or none survived): the
//!   newest acknowledged record of §2.3 and §6 "Limits of detection"
//!   (`sometimes` [`S_DAMAGE_UNDETECTED`]). The exception is computed from
//!   sync events, not from the marks, so a wrong mark or a recovery that
//!   ignores marks breaks (a).
//! - (b) `always` [`P_PREFIX`]: the recovered state is exactly the state after
//!   some transaction of the crashed session's history (a prefix of it: no
//!   gap, nothing from an abandoned checkpoint or an earlier session, no
//!   commit that failed on a handle that stayed usable; S3, S4). One
//!   exception, the page-cache lie's mirror image: after a failed log
//!   write whose erase failed too (poison), a reopen may read the erase
//!   from the page cache while the disk holds the whole record; until the
//!   reopened session's first checkpoint completes (its C5 makes that
//!   record's epoch stale), a crash may recover a prefix of the poisoned
//!   session's history instead ([`Mem::alt`], `sometimes` [`S_REVEALED`]).
//!   The commit's outcome is unknown until then (FORMAT.md §3 L3).
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
//! - (f) `always` [`P_NO_FALSE_LOG_CORRUPTION`]: when recovery fails the
//!   open because a later header vouches for a failing record `u`, that
//!   position holds damage ([`Cell::Damaged`], ghost) to exactly the record
//!   of transaction `u` the epoch had there, i.e. record `u` was durable and
//!   is damaged (§2.3's claim). In particular, without the damage fault
//!   torn writes, lost writes, failed writes and crashes never make
//!   recovery report a damaged log record (`sometimes` [`S_TORN_TOLD`]: a
//!   torn record with a later record of its epoch after it ends the log
//!   quietly; [`S_DAMAGE_DETECTED`]: damage is reported).
//! - `sometimes` properties showing that the interesting cases are reached
//!   (among them: a republish, a blocked page skipped, recovery reading a
//!   lost write from the page cache).

mod checker;
mod disk;
mod protocol;
mod recover;
pub mod slot_pages;
mod state;

pub use disk::{Cell, Ckpt, Fate, Loc, Rec, SlotVal, Where};
pub use state::{Event, Mem, Report, Run, State, Step};

/// (a) An acknowledged commit is never lost, unless (damage fault) the log
/// ended at a damaged record of the epoch that no later record written
/// after a sync covering it follows (ghost [`Rec::covered`]).
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
/// (f) A log record that recovery reports damaged (§2.3 vouching header)
/// was a durable record of the epoch and is damaged (so without the damage
/// fault it never fires).
pub const P_NO_FALSE_LOG_CORRUPTION: &str =
    "a log record reported damaged was durable and is damaged, not torn";
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
/// A session confirms the newest slot by an exact copy (§4 step 4).
pub const S_CONFIRM: &str = "a session confirms the newest slot by an exact copy (§4 step 4)";
/// Recovery after a failed confirmation.
pub const S_CONFIRM_FAILURE: &str = "recovery after a failed confirmation";
/// A commit is logged where a failed log write was erased (§3 L3).
pub const S_LOGGED_AFTER_APPEND_FAILURE: &str =
    "a commit is logged where a failed log write was erased (§3 L3)";
/// Recovery after a failed log write whose erase failed too.
pub const S_ERASE_FAILURE: &str = "recovery after a failed log write whose erase failed";
/// A crash reveals a failed log write that the reopen before it did not
/// show (the page cache showed the erase, the disk held the record).
pub const S_REVEALED: &str = "a crash reveals a failed commit that a reopen did not show";
/// The log ends quietly at a torn record although a later record of the
/// epoch follows it (§2.3: its mark does not vouch).
pub const S_TORN_TOLD: &str = "the log ends at a torn record a later record does not vouch for";
/// Damage to a vouched-for record fails the open (§2.3).
pub const S_DAMAGE_DETECTED: &str = "damage to a vouched-for log record fails the open";
/// Damage to a record no later record vouches for (the newest acknowledged
/// ones) ends the log quietly and loses an acknowledged commit (§2.3, §6
/// "Limits of detection").
pub const S_DAMAGE_UNDETECTED: &str =
    "damage to a record no later record vouches for ends the log quietly";

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
    /// The first §1 text: two slots, checkpoint `k` in slot `k mod 2`, no
    /// confirmation (a session's first slot write is its republish or
    /// checkpoint), the page the newest slot freed relative to the second
    /// valid slot blocked until the session's first checkpoint completes.
    /// After a reopen that read an unconfirmed newest slot `k+1` from the
    /// page cache, the next slot write overwrites slot `k`, the only durable
    /// one.
    TwoSlots,
    /// The second §1 text: as [`Mutant::TwoSlots`] with three slots,
    /// checkpoint `k` in slot `k mod 3`. Two failed syncs in a row in one
    /// boot defeat it (two unconfirmed slots pile up).
    SlotModThree,
    /// Slots placed by content (never over the last copy of the current
    /// slot) but no confirmation: the pages older slots need stay blocked
    /// until the session's first checkpoint completes.
    NoConfirmation,
    /// Confirmation by a *new* id (a republish into a page that holds the
    /// last copy of neither the newest nor the next newest slot) instead of
    /// an exact copy: unconfirmed ids can pile up.
    ConfirmWithNewId,
    /// The confirmation copy protects only the newest slot, not the next
    /// newest.
    ConfirmKeepsOnlyNewest,
    /// The confirmation copy protects the *latest* copy of the newest slot
    /// (a failed confirmation's copy, only in the page cache) instead of
    /// the earliest.
    ProtectLatestCopyOfNewest,
    /// The confirmation copy protects the *earliest* copy of the next
    /// newest slot instead of the latest (the one a confirmation made
    /// durable before the newest slot was written).
    ProtectEarliestCopyOfNext,
    /// The previous §1.2 text: no write sequence; the confirmation copy
    /// goes to a page that holds the last copy of neither the newest nor
    /// the next newest *id*, else over any duplicate. A duplicate may be a
    /// failed confirmation's copy that only the page cache shows, and the
    /// other copy the only durable one.
    LastCopyById,
    /// No §4 step 4 blocking: the pages the newest slot freed relative to
    /// the older valid slots are reusable at once after open (matters only
    /// where an allocation precedes the confirmation:
    /// [`ConfirmAt::BeforeC4`], or without confirmation).
    NoUnconfirmedBlocking,
    /// A failed log write is not erased (§3 L3 without its last sentences):
    /// the commit fails, the handle stays usable, and the bytes that landed
    /// stay where they are (forming the whole record, for instance with an
    /// earlier record that has the same payload).
    NoEraseAfterFailedLogWrite,
    /// A failed erase (its write or its sync) after a failed log write
    /// leaves the handle usable instead of poisoning it: the failed commit
    /// is reported as failed although its record may be durable.
    EraseFailureKeepsHandleUsable,
    /// The format 2 text of §2.3: recovery ignores the durable marks and
    /// ends the log at the first record that fails a test, so damage to a
    /// durable record silently loses it and every later (acknowledged)
    /// commit.
    NoDurableMark,
    /// The writer puts the last transaction *written* in the durable mark,
    /// not the last one known durable: a record written before the sync
    /// vouches for a predecessor a crash may tear, and recovery reports a
    /// torn tail as corruption.
    MarkIsLastWritten,
    /// The sync of §3 L3's erase (after a failed log write) does not raise
    /// the durable mark, although it returned and covered every record
    /// before the tail (engine/src/txn/commit.rs at format 3: only the
    /// group-commit sync and a checkpoint raise `GroupSync::durable`). Safe
    /// (a lower mark never vouches falsely) but weaker than §2.1: damage
    /// to a record that only the erase's sync covered before the next
    /// record was written ends the log quietly.
    MarkIgnoresEraseSync,
}

impl Mutant {
    /// The session after an open must complete a checkpoint before logging.
    fn step6(self) -> bool {
        !matches!(
            self,
            Mutant::RecoveryCheckpointOnlyIfReplayed | Mutant::RecoveryCheckpointAlways
        )
    }
    /// The earlier texts: checkpoint `k` in slot `k mod n`.
    fn slot_modulus(self) -> Option<u8> {
        match self {
            Mutant::TwoSlots => Some(2),
            Mutant::SlotModThree => Some(3),
            _ => None,
        }
    }
    /// A session confirms the newest slot before its first slot write.
    fn confirms(self) -> bool {
        self.slot_modulus().is_none() && self != Mutant::NoConfirmation
    }
    /// Which copies of the newest and the next newest slot a confirmation
    /// copy must not overwrite.
    fn protects(self) -> (Option<slot_pages::Which>, Option<slot_pages::Which>) {
        use slot_pages::Which::{Earliest, Latest};
        match self {
            Mutant::ConfirmKeepsOnlyNewest => (Some(Earliest), None),
            Mutant::ProtectLatestCopyOfNewest => (Some(Latest), Some(Latest)),
            Mutant::ProtectEarliestCopyOfNext => (Some(Earliest), Some(Earliest)),
            _ => (Some(Earliest), Some(Latest)),
        }
    }
}

/// When, in a session's first checkpoint or republish, the confirmation of
/// §4 step 4 happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfirmAt {
    /// Not FORMAT.md: before C1, so C1 may reuse the pages of the next
    /// newest slot, and a failure before C4 leaves the newest slot's
    /// original (a page-cache lie) and a durable copy that the next session
    /// cannot tell apart from the other way round.
    BeforeC1,
    /// FORMAT.md §3: after C3, right before C4 (C1 allocates while the
    /// pages the older slots use are blocked).
    BeforeC4,
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
    /// Failed L3 log writes (§3: the commit fails, the record header at the
    /// tail is erased and synced; a failing erase, which takes one of
    /// `sync_failures`, poisons the handle).
    pub append_failures: u8,
    /// Failed syncs (C3, C5, a confirmation's, and with
    /// [`CommitProtocol::cache_lie`] L5 or `db.sync()`: §3, poison the handle).
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
    /// Where the confirmation of §4 step 4 happens.
    pub confirm_at: ConfirmAt,
    /// Silent damage to durable log records (§6 "Limits of detection":
    /// detected by checksums): at a crash or reopen, a log position whose
    /// durable cell holds a whole record (and that no write reaching the
    /// disk covers) may become [`Cell::Damaged`].
    pub damage: u8,
}

impl Default for CommitProtocol {
    fn default() -> Self {
        CommitProtocol {
            pages: 4,
            log_len: 2,
            txns: 3,
            checkpoints: 2,
            crashes: 2,
            write_failures: 0,
            append_failures: 0,
            sync_failures: 0,
            durability: Durability::Immediate,
            mutant: Mutant::None,
            retry_payloads: false,
            cache_lie: false,
            sync_log_before_checkpoint: false,
            confirm_at: ConfirmAt::BeforeC4,
            damage: 0,
        }
    }
}

/// §3 L3: what happens to the erase after a failed log write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Erase {
    /// The zeros are written over the record header and the sync returns:
    /// the position is durably invalid, the handle stays usable.
    Synced,
    /// The erase's write fails: poison; the page cache may still show what
    /// the failed log write left (the record, with the page-cache lie).
    WriteFails,
    /// The erase's sync fails: poison; the page cache shows the zeros (with
    /// the page-cache lie) while the disk may hold the whole record.
    SyncFails,
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
    /// L3's write fails (the bytes that landed may form the whole record:
    /// its fate is decided by a later crash or sync), then the erase of
    /// the record header at the tail and its sync ([`Erase`]).
    AppendFails {
        /// Payload tag.
        payload: u8,
        /// What happens to the erase.
        erase: Erase,
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
    /// C1 + C2 of a stand-alone checkpoint (or, before the session's
    /// confirmation with [`ConfirmAt::BeforeC1`], the confirmation copy's write).
    Checkpoint,
    /// §4 step 4: the confirmation copy's sync, then the step that follows
    /// it (C1 + C2 with [`ConfirmAt::BeforeC1`], C4 with [`ConfirmAt::BeforeC4`]).
    Confirm,
    /// The confirmation's sync (or its write) fails: poison.
    ConfirmFails,
    /// An error in C1–C2: the checkpoint is abandoned, the session goes on.
    WriteFails,
    /// C3 + C4 (or, before the session's confirmation with
    /// [`ConfirmAt::BeforeC4`], C3 + the confirmation copy's write).
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
    /// Crash with the fate of each pending write, then §4 recovery. With
    /// `Some(i)` (one of [`CommitProtocol::damage`]) the durable record at
    /// log position `i` was silently damaged before it.
    Crash(Vec<(Where, Fate)>, Option<u8>),
    /// Reopen a poisoned handle (or after a failed open): the fate of each
    /// pending write, then §4 recovery. With `true` (only after a failed
    /// sync, with [`CommitProtocol::cache_lie`]) the writes that did not
    /// reach the disk whole stay visible in the page cache, and recovery
    /// reads them. The last field: damage, as for [`Action::Crash`].
    Reopen(Vec<(Where, Fate)>, bool, Option<u8>),
}
