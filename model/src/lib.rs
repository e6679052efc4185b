//! Reference model for vellum.
