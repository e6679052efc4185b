//! Shared helpers for vellum integration tests.
