//! Failpoints (crate `fail`, compiled only with the `failpoints` feature).
//!
//! `hit("name")?` returns an injected I/O error from the enclosing
//! function when the failpoint is configured with `return`; `panic` and
//! `sleep` actions work as `fail` defines them. Every step of commit,
//! allocation, freelist persistence, overflow writes and recovery has one;
//! the names are listed in docs/TESTING.md.

/// Returns an injected `Error::Io` when the failpoint `name` is configured
/// with `return` (panics with `panic`); `Ok(())` otherwise and always in
/// builds without the `failpoints` feature.
#[cfg(feature = "failpoints")]
#[inline]
pub(crate) fn hit(name: &'static str) -> crate::Result<()> {
    fail::fail_point!(name, |_| {
        Err(crate::Error::Io(std::io::Error::other(format!(
            "injected failure at {name}"
        ))))
    });
    Ok(())
}

/// Without the `failpoints` feature (and without the `fail` crate): always
/// `Ok(())`.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(name: &'static str) -> crate::Result<()> {
    let _ = name;
    Ok(())
}

/// Every failpoint name, for tests that walk them all.
pub const ALL: &[&str] = &[
    "commit::before_log_append",
    "commit::after_log_append",
    "commit::before_sync",
    "checkpoint::start",
    "checkpoint::write_run",
    "checkpoint::after_flush",
    "checkpoint::after_alloc_persist",
    "checkpoint::before_barrier1",
    "checkpoint::before_slot",
    "checkpoint::before_barrier2",
    "alloc::allocate",
    "alloc::persist",
    "overflow::write",
    "spill::write",
    "recovery::after_slots",
    "recovery::after_alloc_load",
    "recovery::replay_record",
    "recovery::before_checkpoint",
];
