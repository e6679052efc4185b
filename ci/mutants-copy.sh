#!/usr/bin/env bash
# Makes the copy of the repository cargo-mutants runs in (docs/TESTING.md
# §14): HEAD's files under DIR, with the engine's internal modules declared
# as plain `pub mod` lines. In the repository they are declared by the
# `internal_modules!` macro (private, or public with the `internals`
# feature), and cargo-mutants, which finds modules by reading `mod` items
# without expanding macros, would see none of them: 401 of the engine's
# 3,310 mutants.
set -euo pipefail
dir=${1:?usage: ci/mutants-copy.sh DIR}
cd "$(dirname "$0")/.."
mkdir -p "$dir"
git archive HEAD | tar -x -C "$dir"
python3 - "$dir/engine/src/lib.rs" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
start = s.index("macro_rules! internal_modules {")
call = s.index("internal_modules!(")
end = s.index(");", call) + 2
mods = re.findall(r"^\s+(\w+),$", s[call:end], re.M)
assert mods, "no internal modules found"
s = s[:start] + "".join(f"#[doc(hidden)]\npub mod {m};\n" for m in mods) + s[end:]
open(p, "w").write(s)
PY
echo "copy in $dir: $(grep -c '^pub mod' "$dir/engine/src/lib.rs") public modules"
