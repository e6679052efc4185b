//! Tests of the simulated disk, in one test binary.

mod cache_and_crash;
mod common;
mod determinism;
mod errors;
mod namespace_locks;
mod silent;
