//! Locks used by the concurrent core (writer slot, reader registry, group
//! commit, page cache). Normally `parking_lot`; under `--cfg loom` the
//! `loom` model checker's versions, so loom tests explore every
//! interleaving; with the test-only `shuttle` feature, the `shuttle`
//! scheduler's inside a shuttle execution and the normal ones elsewhere
//! (`shuttle_model.rs`), so shuttle tests run the whole engine under a
//! seeded scheduler.

#[cfg(loom)]
mod loom_model;
#[cfg(all(not(loom), not(feature = "shuttle")))]
mod parking;
#[cfg(all(not(loom), feature = "shuttle"))]
mod shuttle_model;

#[cfg(loom)]
pub use loom_model::*;
#[cfg(all(not(loom), not(feature = "shuttle")))]
pub use parking::*;
#[cfg(all(not(loom), feature = "shuttle"))]
pub use shuttle_model::*;
