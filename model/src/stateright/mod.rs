//! Stateright models that check the protocol text of `docs/FORMAT.md`.
//!
//! - [`commit_protocol`]: log commit (L1–L6), checkpoint (C1–C6), crashes
//!   with lost/applied/torn writes, recovery (§4) and its own checkpoint.
//! - [`page_reuse`]: §5 page reuse with concurrent read snapshots.

pub mod commit_protocol;
pub mod page_reuse;
