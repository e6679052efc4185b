//! vellum: an embedded, crash-safe, ordered key-value store.
#![warn(missing_docs)]

pub mod error;
pub mod vfs;

pub use error::{Error, Result};
