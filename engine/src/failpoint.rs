//! Failpoints (crate `fail`, compiled only with the `failpoints` feature).
//!
//! `fail_io!("name")` returns an injected I/O error from the enclosing
//! function when the failpoint is configured with `return`; `panic` and
//! `sleep` actions work as `fail` defines them. Every step of commit,
//! allocation, freelist persistence, overflow writes and recovery has one;
//! the names are listed in docs/TESTING.md.

/// Injects an `Error::Io` (or a panic) at a named step.
macro_rules! fail_io {
    ($name:literal) => {
        fail::fail_point!($name, |_| {
            Err($crate::Error::Io(std::io::Error::other(concat!(
                "injected failure at ",
                $name
            ))))
        })
    };
}

pub(crate) use fail_io;

/// Every failpoint name, for tests that walk them all.
pub const ALL: &[&str] = &[
    "commit::before_log_append",
    "commit::after_log_append",
    "commit::before_sync",
    "checkpoint::start",
    "checkpoint::after_flush",
    "checkpoint::after_alloc_persist",
    "checkpoint::before_barrier1",
    "checkpoint::before_slot",
    "checkpoint::before_barrier2",
    "alloc::allocate",
    "alloc::persist",
    "overflow::write",
    "recovery::after_slots",
    "recovery::after_alloc_load",
    "recovery::replay_record",
    "recovery::before_checkpoint",
];
