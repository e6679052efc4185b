#!/usr/bin/env bash
# Everything CI checks. Run from the repository root.
set -euo pipefail
export CARGO_TERM_COLOR=never
echo "== cargo fmt"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
echo "== cargo test (the README's test command)"
cargo test
echo "== failpoints (engine built with the failpoints feature)"
cargo test -p vellum --features failpoints --test failpoints
echo "== loom (its own target dir: --cfg loom rebuilds every crate)"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
    cargo test -p vellum --test loom --release
