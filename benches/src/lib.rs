//! Benchmarks for vellum.
