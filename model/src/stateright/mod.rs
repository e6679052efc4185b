//! Stateright models that check the protocol text of `docs/FORMAT.md`.
//! The default configuration of each model is the text as written; each
//! `Mutant` changes one rule, to show the checker finds the resulting bug.
//!
//! - [`commit_protocol`]: log commit (§3 L1–L6), checkpoint (C1–C6) into
//!   three slots (§1), crashes with lost/applied/torn writes, I/O errors
//!   (C1–C2 errors abandon the checkpoint, failed C3/C5 syncs poison the
//!   handle), failed syncs whose lost writes stay visible to a reopen
//!   without crash (the page-cache lie), recovery (§2.3 with the newer-epoch
//!   exception, §4 steps 2–6: blocking of the pages an unconfirmed newest
//!   slot freed, republish by the first commit or `db.sync()`, a failing
//!   recovery checkpoint fails the open) and its own checkpoint, durable
//!   marks in log records and silent damage to a durable record (§2.1, §2.3:
//!   a torn tail ends the log, a record a later header vouches for fails
//!   the open); properties from §6 S1–S5, S7, S8 and "Limits of detection".
//! - [`page_reuse`]: §5 page reuse with concurrent read snapshots and
//!   reopens (§4 step 4 blocking at open).

pub mod commit_protocol;
pub mod page_reuse;
