#!/usr/bin/env bash
# Run the memory-safety tests and the JIT test suite under valgrind's
# memcheck; any invalid read/write, use of uninitialised memory or leak of
# definitely-lost blocks fails the run (exit 1).
#
# Usage: scripts/valgrind.sh [extra cargo test filters]
# Needs valgrind. Valgrind does not decode AVX-512: on an AVX-512 machine
# this runs the code paths valgrind can follow only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p theon-tests --test memory_safety --test jit --no-run
for t in memory_safety jit; do
    bin=$(ls -t target/debug/deps/${t}-* | grep -v '\.d$' | head -1)
    echo "== valgrind $bin"
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        --quiet "$bin" --test-threads=1 "$@"
done
echo "valgrind: no errors"
