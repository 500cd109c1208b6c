#!/usr/bin/env bash
# The runtime crate's unit tests (tensor invariants, checked sizes, kernels,
# file formats) under Miri. Needs the nightly toolchain with the miri and
# rust-src components. (The compiler crate runs JIT code, which Miri cannot
# execute; its unsafe call-protocol code is covered by valgrind instead:
# scripts/valgrind.sh. Its thread pool and the batch-region runner (with a
# Rust body standing in for generated code) have no JIT code and run here;
# its workers live as long as the process, hence -Zmiri-ignore-leaks.)
set -euo pipefail
cd "$(dirname "$0")/.."
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" cargo +nightly miri test -p theon-runtime --lib "$@"
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation} -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p theon-compiler --lib -- codegen::threads codegen::rt
