#!/usr/bin/env bash
# The runtime crate's unit tests (tensor invariants, checked sizes, kernels,
# file formats) under Miri. Needs the nightly toolchain with the miri and
# rust-src components. (The compiler crate runs JIT code, which Miri cannot
# execute; its unsafe call-protocol code is covered by valgrind instead:
# scripts/valgrind.sh. Its thread pool has no JIT code and runs here too;
# its workers live as long as the process, hence -Zmiri-ignore-leaks.)
set -euo pipefail
cd "$(dirname "$0")/.."
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" cargo +nightly miri test -p theon-runtime --lib "$@"
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation} -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p theon-compiler --lib codegen::threads
