//! Model 2: page reuse with concurrent read snapshots, `docs/FORMAT.md` §5
//! (and the "in use by checkpoint `k`" definition of §1.8), checked
//! exhaustively by stateright.
//!
//! With [`Mutant::None`] (the default) the model is the FORMAT.md text; each
//! other [`Mutant`] breaks one rule and the tests show the checker finds it.
//!
//! # Abstraction
//!
//! `pages` page locations. Checkpoint 0 uses pages `0` and `1` (a root and a
//! leaf; every checkpoint uses two pages). A checkpoint rewrites, copy-on-
//! write, a non-empty subset of the pages of the current checkpoint `k` (the
//! changed nodes) into newly allocated pages. Each page remembers the
//! interval of checkpoints of its current incarnation: written by checkpoint
//! `since`, in use by checkpoints `since..freed_by`. A snapshot pinned at
//! checkpoint `s` reaches exactly the pages in use by `s` (plus in-memory
//! nodes, which are not pages).
//!
//! # Actions and the FORMAT.md step labels
//!
//! | action | FORMAT.md |
//! |---|---|
//! | [`Action::BeginRead`] | a read snapshot is taken: it pins the current checkpoint id `k` (the checkpoint whose pages its trees reference; log commits since `k` are in-memory nodes) |
//! | [`Action::EndRead`] | the snapshot is dropped; freed pages it held back become reusable (§5 "when every live read snapshot was taken after checkpoint `j`") |
//! | [`Action::Allocate`] | §3 C1 (+ C2): the changed nodes get pages that are free and *reusable*: never used / free at open, or freed by some `j ≤ k` with no live snapshot older than `j`. Never a page that `k+1` itself frees (§5 "never allocated by checkpoint `j` itself") |
//! | [`Action::Finish`] | §3 C3–C5 (they do not change which pages are in use) + C6: the replaced pages of `k` are *freed by `k+1`*; each is reusable at once if no live snapshot is older than `k+1`, else held until the last such snapshot ends (§5). The session's own checkpoint has completed: pages blocked at open (§4 step 4) become free |
//! | [`Action::Reopen`] | a crash (before C5 of a checkpoint in flight, which is abandoned) or a close, then open: §4 steps 2–3 choose checkpoint `k`; §5 "on open there are no snapshots, so every page not in use by the chosen checkpoint is free", except that §4 step 4 blocks the pages `k` freed relative to the older valid slots (here `k-1`: the model tracks the two newest checkpoints; it keeps blocked those an earlier open blocked, if no checkpoint completed since) until this session confirms slot `k`. The confirmation comes after C3 of the session's first checkpoint, so that is the same as "until its first checkpoint completes" here. Whether slot `k` is durable is checked by `commit_protocol` ([`super::commit_protocol::Mutant::NoUnconfirmedBlocking`]) |
//!
//! | [`Action::BeginTxn`] | a write transaction starts (it holds the writer slot: no checkpoint runs until it ends) |
//! | [`Action::Spill`] | §3 SP1–SP2: first give back the spilled pages the transaction stopped using, unless its cursor is open (SP1); then spill one changed node into a page that is free and reusable under `k` (the same rule as C1) |
//! | [`Action::Replace`] | §3 SP3: a later change copies a spilled node into memory again; the transaction stops using that spilled page |
//! | [`Action::OpenCursor`] / [`Action::CloseCursor`] | a cursor of the transaction (it may read every spilled page its trees use when it opens, until it closes) |
//! | [`Action::EndTxn`] | §3 Spill, end of the transaction: an abort gives every spilled page back at once; a commit gives back those no longer used and keeps the others in use (modelled as in use by `k`: snapshots taken after the commit reach them; after a crash the engine finds them free, which the model conservatively does not) |
//!
//! Snapshots may be taken and dropped between C1 and C6, so the model covers
//! readers that start while a checkpoint is in flight (they pin `k`).
//! Which checkpoint a commit goes by (§3 L2, §4 step 6) and what the log
//! holds (§2, §6 S3, S8) do not change which pages are in use; they are
//! checked by `commit_protocol`. The durability side of page reuse (§6 S2:
//! checkpoint `k+1` never overwrites a page recovery may still need) is
//! checked there too ([`super::commit_protocol::Mutant::ReuseOwnFreed`]).
//!
//! # Properties
//!
//! - `always` [`P_NO_REUSE_UNDER_READER`]: no page reachable by a live
//!   snapshot is ever reallocated.
//! - `always` [`P_RELEASED`]: a page freed by `j` with no live snapshot older
//!   than `j` is in the reusable set (freed pages return to use as soon as the
//!   last older reader ends).
//! - `always` [`P_REUSABLE_UNREACHABLE`]: no page in the reusable set is
//!   reachable by a live snapshot.
//! - `always` [`P_NO_REUSE_UNDER_CURSOR`]: no page a write transaction's
//!   open cursor may read is reallocated (by a spill).
//! - `sometimes` (with spills): a page a spill gave back is spilled again;
//!   a page the transaction stopped using waits for its cursor.
//! - `sometimes`: a freed page is reallocated; a freed page is held back by a
//!   reader; a page that was held back is reallocated after its reader ended;
//!   a page freed before a reopen is reallocated after it; a page is blocked
//!   at open (§4 step 4).

use ::stateright::{Model, Property};

/// No page reachable by a live snapshot is reallocated.
pub const P_NO_REUSE_UNDER_READER: &str = "no page reachable by a live snapshot is reallocated";
/// Freed pages with no older live snapshot are reusable.
pub const P_RELEASED: &str = "a freed page with no older live snapshot is reusable";
/// Reusable pages are unreachable by live snapshots.
pub const P_REUSABLE_UNREACHABLE: &str = "no reusable page is reachable by a live snapshot";
/// No page a write transaction's cursor may read is reallocated.
pub const P_NO_REUSE_UNDER_CURSOR: &str =
    "no page a write transaction's open cursor may read is reallocated";
/// A page a spill gave back is spilled again.
pub const S_SPILL_REUSED: &str = "a page a spill gave back is spilled again";
/// A spilled page the transaction stopped using waits for its cursor.
pub const S_SPILL_HELD_BY_CURSOR: &str =
    "a spilled page the transaction stopped using waits for its cursor";
/// A freed page is allocated again.
pub const S_REALLOCATED: &str = "a freed page is reallocated";
/// A freed page is held back by a live snapshot.
pub const S_HELD: &str = "a freed page is held back by a live snapshot";
/// A page held back by a snapshot is reallocated after it ended.
pub const S_HELD_THEN_REALLOCATED: &str = "a held-back page is reallocated after its reader ended";
/// A page is blocked at open by §4 step 4.
pub const S_BLOCKED_AT_OPEN: &str = "a page freed by the newest checkpoint is blocked at open";
/// A page freed (or allocated by an abandoned checkpoint) before a reopen is
/// reallocated after it.
pub const S_REALLOCATED_AFTER_REOPEN: &str = "a page free at open is reallocated";

/// A deliberate deviation from FORMAT.md §5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// The rule as written.
    None,
    /// Freed pages are reusable at once, ignoring live snapshots.
    IgnoreReaders,
    /// Checkpoint `k+1` may allocate the pages it is itself freeing.
    ReuseOwnFreed,
    /// Held pages are released only when the next checkpoint starts, not
    /// when the last older reader ends (a liveness bug, not a safety bug).
    LazyRelease,
    /// A snapshot taken while a checkpoint is in flight is pinned at `k+1`
    /// although its trees still reference the pages of `k` (the pin and the
    /// published tree are not read atomically).
    PinNewIdEarly,
    /// SP1 gives back the spilled pages the transaction stopped using even
    /// while its cursor, which may still read them, is open.
    SpillIgnoresCursor,
}

/// Model configuration.
#[derive(Clone, Debug)]
pub struct PageReuse {
    /// Page locations.
    pub pages: u8,
    /// Checkpoints to run.
    pub checkpoints: u8,
    /// Snapshots to take in total.
    pub reads: u8,
    /// Snapshots live at once.
    pub max_live: u8,
    /// Crashes or closes followed by an open.
    pub reopens: u8,
    /// Write transactions (0: the model has none, only checkpoints).
    pub txns: u8,
    /// Spills in total.
    pub spills: u8,
    /// Rule deviation.
    pub mutant: Mutant,
}

impl Default for PageReuse {
    fn default() -> Self {
        PageReuse {
            pages: 5,
            checkpoints: 5,
            reads: 3,
            max_live: 2,
            reopens: 1,
            txns: 0,
            spills: 0,
            mutant: Mutant::None,
        }
    }
}

/// One page location.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Page {
    /// Never used, or free at the last open: reusable.
    Unused {
        /// Was in use, or allocated, before the last open.
        before_open: bool,
    },
    /// In use by checkpoints `since..` (the current one included), or, if
    /// `since` is the next id, allocated by the checkpoint in flight.
    InUse {
        /// Checkpoint that wrote it.
        since: u8,
    },
    /// Freed by the newest checkpoint at the last open relative to the
    /// second valid slot: blocked until a checkpoint of this session
    /// completes (§4 step 4; that slot may be a page-cache lie).
    Blocked,
    /// Free: was in use by checkpoints `since..freed_by`.
    Freed {
        /// Checkpoint that wrote it.
        since: u8,
        /// Checkpoint that freed it.
        freed_by: u8,
        /// In the reusable set.
        reusable: bool,
        /// Was ever held back by a live snapshot.
        held: bool,
    },
    /// Written by a spill of the open write transaction (§3 Spill).
    Spilled {
        /// The transaction's trees still use it (else it waits for SP1).
        in_tree: bool,
    },
}

/// A live snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reader {
    /// The checkpoint id the snapshot is pinned at.
    pub pin: u8,
    /// The checkpoint whose pages it references (equal to `pin` unless mutated).
    pub reach: u8,
}

/// Notable effect of the last action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Nothing notable.
    None,
    /// A freed page was reallocated; `held`: it had been held back by a reader.
    Reallocated {
        /// It had been held back.
        held: bool,
        /// It was free at the last open, after use before it.
        after_open: bool,
    },
}

/// Model state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Current (completed) checkpoint id `k`.
    pub cur: u8,
    /// Page locations.
    pub pages: Vec<Page>,
    /// Live snapshots, sorted.
    pub readers: Vec<Reader>,
    /// Checkpoint in flight: the pages of `k` it replaces (bitmask).
    pub replacing: Option<u32>,
    /// Checkpoints left.
    pub ckpts_left: u8,
    /// Snapshots left.
    pub reads_left: u8,
    /// Reopens left.
    pub reopens_left: u8,
    /// A page reachable by a live snapshot was reallocated.
    pub violation: bool,
    /// Notable effect of the last action.
    pub event: Event,
    /// A write transaction is open.
    pub txn_open: bool,
    /// The pages the transaction's open cursor may read (bitmask; `None`:
    /// no cursor is open).
    pub cursor: Option<u32>,
    /// A page the open cursor may read was reallocated.
    pub cursor_violation: bool,
    /// Transactions left.
    pub txns_left: u8,
    /// Spills left.
    pub spills_left: u8,
    /// Pages SP1 gave back (bitmask), for the `sometimes` property.
    pub given_back: u32,
}

/// Model actions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Take a snapshot.
    BeginRead,
    /// Drop the `n`-th live snapshot.
    EndRead(usize),
    /// C1+C2 of checkpoint `k+1`, replacing the pages of `k` in this bitmask.
    Allocate(u32),
    /// C3–C6 of checkpoint `k+1`.
    Finish,
    /// Crash or close, then open.
    Reopen,
    /// A write transaction starts.
    BeginTxn,
    /// SP1–SP2: one changed node is spilled.
    Spill,
    /// SP3: the transaction stops using spilled page `p`.
    Replace(usize),
    /// A cursor of the transaction opens.
    OpenCursor,
    /// The cursor closes.
    CloseCursor,
    /// The transaction commits (`true`) or aborts.
    EndTxn(bool),
}

fn reaches(r: &Reader, page: &Page) -> bool {
    match *page {
        Page::Unused { .. } | Page::Blocked | Page::Spilled { .. } => false,
        Page::InUse { since } => since <= r.reach,
        Page::Freed {
            since, freed_by, ..
        } => since <= r.reach && r.reach < freed_by,
    }
}

impl PageReuse {
    /// §5: a page freed by `j` is reusable once no live snapshot is older than `j`.
    fn release(&self, s: &mut State) {
        let oldest = s.readers.iter().map(|r| r.pin).min();
        for p in s.pages.iter_mut() {
            if let Page::Freed {
                freed_by,
                reusable,
                held,
                ..
            } = p
            {
                if oldest.is_some_and(|o| o < *freed_by) && self.mutant != Mutant::IgnoreReaders {
                    *held = true;
                } else {
                    *reusable = true;
                }
            }
        }
    }

    fn allocatable(&self, s: &State, mask: u32, p: usize) -> bool {
        match s.pages[p] {
            Page::Unused { .. } => true,
            Page::Blocked | Page::Spilled { .. } => false,
            Page::Freed { reusable, .. } => reusable,
            Page::InUse { .. } => self.mutant == Mutant::ReuseOwnFreed && mask & (1 << p) != 0,
        }
    }
}

impl PageReuse {
    /// SP1: the spilled pages the transaction stopped using are free again
    /// at once, unless its cursor is open.
    fn give_back(&self, s: &mut State) {
        if s.cursor.is_some() && self.mutant != Mutant::SpillIgnoresCursor {
            return;
        }
        for p in 0..s.pages.len() {
            if s.pages[p] == (Page::Spilled { in_tree: false }) {
                s.pages[p] = Page::Unused { before_open: false };
                s.given_back |= 1 << p;
            }
        }
    }

    /// Records a reallocation of page `p`: a violation if a snapshot or
    /// the transaction's cursor may read it.
    fn check_reuse(s: &mut State, p: usize) {
        if s.readers.iter().any(|r| reaches(r, &s.pages[p])) {
            s.violation = true;
        }
        if s.cursor.is_some_and(|c| c & (1 << p) != 0) {
            s.cursor_violation = true;
        }
    }
}

impl Model for PageReuse {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut pages = vec![Page::Unused { before_open: false }; self.pages as usize];
        pages[0] = Page::InUse { since: 0 };
        pages[1] = Page::InUse { since: 0 };
        vec![State {
            cur: 0,
            pages,
            readers: Vec::new(),
            replacing: None,
            ckpts_left: self.checkpoints,
            reads_left: self.reads,
            reopens_left: self.reopens,
            violation: false,
            event: Event::None,
            txn_open: false,
            cursor: None,
            cursor_violation: false,
            txns_left: self.txns,
            spills_left: self.spills,
            given_back: 0,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        if s.violation || s.cursor_violation {
            return;
        }
        if s.txn_open {
            self.txn_actions(s, actions);
        } else if s.txns_left > 0 && s.replacing.is_none() {
            actions.push(Action::BeginTxn);
        }
        if s.reads_left > 0 && s.readers.len() < self.max_live as usize {
            actions.push(Action::BeginRead);
        }
        for (i, r) in s.readers.iter().enumerate() {
            if i == 0 || s.readers[i - 1] != *r {
                actions.push(Action::EndRead(i));
            }
        }
        match s.replacing {
            // A checkpoint needs the writer slot the transaction holds.
            None if s.ckpts_left > 0 && !s.txn_open => {
                let in_use: u32 = (0..s.pages.len())
                    .filter(|&p| matches!(s.pages[p], Page::InUse { .. }))
                    .fold(0, |m, p| m | 1 << p);
                // Every non-empty subset of the current pages.
                let mut sub = in_use;
                while sub != 0 {
                    let need = sub.count_ones() as usize;
                    let free = (0..s.pages.len())
                        .filter(|&p| self.allocatable(s, sub, p))
                        .count();
                    if free >= need {
                        actions.push(Action::Allocate(sub));
                    }
                    sub = (sub - 1) & in_use;
                }
            }
            None => {}
            Some(_) => actions.push(Action::Finish),
        }
        if s.reopens_left > 0 {
            actions.push(Action::Reopen);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        s.event = Event::None;
        match action {
            Action::BeginRead => {
                s.reads_left -= 1;
                let pin = if self.mutant == Mutant::PinNewIdEarly && s.replacing.is_some() {
                    s.cur + 1
                } else {
                    s.cur
                };
                s.readers.push(Reader { pin, reach: s.cur });
                s.readers.sort();
            }
            Action::EndRead(i) => {
                s.readers.remove(i);
                if self.mutant != Mutant::LazyRelease {
                    self.release(&mut s);
                }
            }
            Action::Allocate(mask) => {
                if self.mutant == Mutant::LazyRelease {
                    self.release(&mut s);
                }
                s.ckpts_left -= 1;
                let next = s.cur + 1;
                let mut need = mask.count_ones();
                for p in 0..s.pages.len() {
                    if need == 0 {
                        break;
                    }
                    if !self.allocatable(&s, mask, p) {
                        continue;
                    }
                    need -= 1;
                    if s.readers.iter().any(|r| reaches(r, &s.pages[p])) {
                        s.violation = true;
                    }
                    match s.pages[p] {
                        Page::Freed { held, .. } => {
                            s.event = Event::Reallocated {
                                held,
                                after_open: false,
                            }
                        }
                        Page::Unused { before_open: true } => {
                            s.event = Event::Reallocated {
                                held: false,
                                after_open: true,
                            }
                        }
                        _ => {}
                    }
                    s.pages[p] = Page::InUse { since: next };
                }
                s.replacing = Some(mask);
            }
            Action::Finish => {
                let mask = s.replacing.take().expect("checkpoint in flight");
                s.cur += 1;
                for p in 0..s.pages.len() {
                    if mask & (1 << p) == 0 {
                        continue;
                    }
                    // Under the ReuseOwnFreed mutant the page may already be
                    // the new checkpoint's: then it is not freed.
                    if let Page::InUse { since } = s.pages[p] {
                        if since < s.cur {
                            s.pages[p] = Page::Freed {
                                since,
                                freed_by: s.cur,
                                reusable: false,
                                held: false,
                            };
                        }
                    }
                }
                // §4 step 4: the session's own checkpoint ends the blocking.
                for p in s.pages.iter_mut() {
                    if *p == Page::Blocked {
                        *p = Page::Unused { before_open: true };
                    }
                }
                if self.mutant != Mutant::LazyRelease {
                    self.release(&mut s);
                }
            }
            Action::Reopen => {
                // No snapshots survive; a checkpoint in flight is abandoned
                // (its slot never became durable), so recovery chooses `k`
                // and every page not in use by `k` is free.
                s.reopens_left -= 1;
                s.readers.clear();
                s.replacing = None;
                // The open transaction is lost; nothing durable used its
                // spilled pages, so they are free.
                s.txn_open = false;
                s.cursor = None;
                // §4 step 4: pages the newest checkpoint `k` freed relative
                // to the second valid slot (`k-1`) stay blocked.
                let cur = s.cur;
                for p in s.pages.iter_mut() {
                    let in_use = matches!(*p, Page::InUse { since } if since <= cur);
                    let never_used = *p == Page::Unused { before_open: false };
                    let freed_by_newest =
                        cur > 0 && matches!(*p, Page::Freed { freed_by, .. } if freed_by == cur);
                    let was_blocked = *p == Page::Blocked;
                    if matches!(*p, Page::Spilled { .. }) {
                        *p = Page::Unused { before_open: true };
                        continue;
                    }
                    if freed_by_newest || was_blocked {
                        *p = Page::Blocked;
                    } else if !in_use && !never_used {
                        *p = Page::Unused { before_open: true };
                    }
                }
            }
            Action::BeginTxn
            | Action::Spill
            | Action::Replace(_)
            | Action::OpenCursor
            | Action::CloseCursor
            | Action::EndTxn(_) => self.txn_step(&mut s, action),
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut props = vec![
            Property::always(P_NO_REUSE_UNDER_READER, |_, s: &State| !s.violation),
            Property::always(P_RELEASED, |_, s: &State| {
                s.pages.iter().all(|p| match *p {
                    Page::Freed {
                        freed_by,
                        reusable: false,
                        ..
                    } => s.readers.iter().any(|r| r.pin < freed_by),
                    _ => true,
                })
            }),
            Property::always(P_REUSABLE_UNREACHABLE, |_, s: &State| {
                s.pages.iter().all(|p| {
                    !matches!(p, Page::Freed { reusable: true, .. })
                        || !s.readers.iter().any(|r| reaches(r, p))
                })
            }),
            Property::sometimes(S_REALLOCATED, |_, s: &State| {
                matches!(s.event, Event::Reallocated { .. })
            }),
            Property::sometimes(S_HELD, |_, s: &State| {
                s.pages.iter().any(|p| {
                    matches!(
                        p,
                        Page::Freed {
                            reusable: false,
                            ..
                        }
                    )
                })
            }),
            Property::sometimes(S_HELD_THEN_REALLOCATED, |_, s: &State| {
                matches!(s.event, Event::Reallocated { held: true, .. })
            }),
        ];
        props.push(Property::always(P_NO_REUSE_UNDER_CURSOR, |_, s: &State| {
            !s.cursor_violation
        }));
        if self.spills > 0 {
            props.push(Property::sometimes(S_SPILL_REUSED, |_, s: &State| {
                (0..s.pages.len()).any(|p| {
                    s.given_back & (1 << p) != 0 && matches!(s.pages[p], Page::Spilled { .. })
                })
            }));
            props.push(Property::sometimes(
                S_SPILL_HELD_BY_CURSOR,
                |_, s: &State| {
                    s.cursor.is_some_and(|c| {
                        (0..s.pages.len()).any(|p| {
                            c & (1 << p) != 0 && s.pages[p] == (Page::Spilled { in_tree: false })
                        })
                    })
                },
            ));
        }
        if self.reopens > 0 {
            props.push(Property::sometimes(S_BLOCKED_AT_OPEN, |_, s: &State| {
                s.pages.contains(&Page::Blocked)
            }));
            props.push(Property::sometimes(
                S_REALLOCATED_AFTER_REOPEN,
                |_, s: &State| {
                    matches!(
                        s.event,
                        Event::Reallocated {
                            after_open: true,
                            ..
                        }
                    )
                },
            ));
        }
        props
    }
}

impl PageReuse {
    fn txn_actions(&self, s: &State, actions: &mut Vec<Action>) {
        if s.spills_left > 0 {
            // SP1 may free pages first; one is enough.
            let mut after = s.clone();
            self.give_back(&mut after);
            if (0..after.pages.len()).any(|p| self.allocatable(&after, 0, p)) {
                actions.push(Action::Spill);
            }
        }
        for (p, page) in s.pages.iter().enumerate() {
            if *page == (Page::Spilled { in_tree: true }) {
                actions.push(Action::Replace(p));
            }
        }
        match s.cursor {
            None => actions.push(Action::OpenCursor),
            Some(_) => actions.push(Action::CloseCursor),
        }
        actions.push(Action::EndTxn(true));
        actions.push(Action::EndTxn(false));
    }

    fn txn_step(&self, s: &mut State, action: Action) {
        match action {
            Action::BeginTxn => {
                s.txns_left -= 1;
                s.txn_open = true;
            }
            Action::Spill => {
                s.spills_left -= 1;
                self.give_back(s);
                let p = (0..s.pages.len())
                    .find(|&p| self.allocatable(s, 0, p))
                    .expect("Spill is offered only with a free page");
                Self::check_reuse(s, p);
                s.pages[p] = Page::Spilled { in_tree: true };
            }
            Action::Replace(p) => s.pages[p] = Page::Spilled { in_tree: false },
            Action::OpenCursor => {
                let in_tree = (0..s.pages.len())
                    .filter(|&p| s.pages[p] == (Page::Spilled { in_tree: true }))
                    .fold(0, |m, p| m | 1 << p);
                s.cursor = Some(in_tree);
            }
            Action::CloseCursor => s.cursor = None,
            Action::EndTxn(commit) => {
                // A transaction's cursors end with it.
                s.cursor = None;
                s.txn_open = false;
                let cur = s.cur;
                for p in s.pages.iter_mut() {
                    if let Page::Spilled { in_tree } = *p {
                        *p = if commit && in_tree {
                            Page::InUse { since: cur }
                        } else {
                            Page::Unused { before_open: false }
                        };
                    }
                }
            }
            _ => unreachable!("not a transaction action"),
        }
    }
}
