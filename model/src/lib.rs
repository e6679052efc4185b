//! Reference model and history checkers for vellum.
//!
//! Pure data structures, no dependency on the engine, so the simulator and
//! the tests can both use them:
//!
//! - [`State`] (`state.rs`): the whole database content at one commit: a
//!   default bucket and named buckets, each an ordered byte map. Cloning is
//!   O(1) (persistent maps), and an incremental [`digest`](State::digest)
//!   makes comparisons cheap.
//! - [`VersionedModel`] (`versioned.rs`): the state after every commit,
//!   and what is known of each commit's fate (acknowledged, failed,
//!   durable); [`WriteTxn`] for the model side of a write transaction.
//! - [`ReadCheck`], [`Query`], [`Answer`] (`history.rs`): each operation's
//!   result, and snapshot isolation for read transactions while writes
//!   continue; [`SharedModel`] for histories from real threads.
//! - [`check_recovered`], [`check_live`] (`recovery.rs`): after a crash and
//!   reopen the state equals the model at some commit between the last
//!   acknowledged durable commit and the last attempted one; resolve which
//!   and continue from there.
//!
//! A simulator step, in outline:
//!
//! ```
//! use vellum_model::*;
//! const D: &[u8] = DEFAULT_BUCKET;
//! let mut model = VersionedModel::new();
//!
//! // Write: mirror each engine operation on the model transaction and
//! // compare results; then commit both.
//! let mut tx = model.begin_write();
//! assert_eq!(tx.put(D, b"k", b"v1"), Ok(None)); // engine: tx.put(...)
//! let c = model.commit(tx, Durability::Immediate, Outcome::Ok); // engine: tx.commit() -> Ok
//!
//! // Read: a reader started now must see commit `c` for its whole life.
//! let mut reader = model.begin_read();
//! let mut tx = model.begin_write();
//! tx.put(D, b"k", b"v2").unwrap();
//! model.commit(tx, Durability::Eventual, Outcome::Ok);
//! reader.check_get(D, b"k", Ok(Some(b"v1"))).unwrap(); // engine reader's answer
//!
//! // Crash, reopen, read the whole database back, check and continue.
//! let recovered: State = model.state(c).unwrap().clone(); // engine's content
//! assert_eq!(check_recovered(&mut model, &recovered), Ok(c));
//! assert_eq!(model.last_attempted(), c);
//! ```
#![warn(missing_docs)]

pub mod history;
pub mod recovery;
pub mod state;
pub mod stateright;
pub mod versioned;

pub use history::{
    check_answer, Answer, KeyValues, Mismatch, Query, ReadCheck, RuledOut, SharedModel,
    SnapshotViolation,
};
pub use recovery::{
    check_after_cache_drop, check_live, check_recovered, find_commit, RecoveryError, Situation,
};
pub use state::{Difference, Entries, KeyRange, ModelError, ShowBytes, State, DEFAULT_BUCKET};
pub use versioned::{
    CommitId, CommitInfo, CommitStatus, Durability, Outcome, VersionedModel, WriteTxn,
};
