//! Locks used by the concurrent core (writer slot, reader registry, group
//! commit). Normally `parking_lot`; under `--cfg loom` the `loom` model
//! checker's versions, so loom tests explore every interleaving.

#[cfg(loom)]
mod loom_model;
#[cfg(not(loom))]
mod parking;

#[cfg(loom)]
pub use loom_model::*;
#[cfg(not(loom))]
pub use parking::*;
