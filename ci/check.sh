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
