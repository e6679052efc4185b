//! vellum: an embedded, crash-safe, ordered key-value store.
#![warn(missing_docs)]

pub mod checksum;
pub mod error;
pub mod options;
pub mod page;
pub mod vfs;

pub use error::{Error, Result};
pub use options::{Durability, Limits, Options};
