//! Deterministic simulator for vellum.
