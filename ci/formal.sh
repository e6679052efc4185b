#!/usr/bin/env bash
# Checks that need their own build configuration. Run from the repository root.
set -euo pipefail
echo "== failpoints (engine built with the failpoints feature)"
cargo test -p vellum --features failpoints --test failpoints
echo "== loom (its own target dir: --cfg loom rebuilds every crate)"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
    cargo test -p vellum --test loom --test loom_cache --test loom_pins --release
