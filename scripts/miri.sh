#!/usr/bin/env bash
# The runtime crate's unit tests (tensor invariants, checked sizes, kernels,
# file formats) under Miri. Needs the nightly toolchain with the miri and
# rust-src components. (The compiler crate runs JIT code, which Miri cannot
# execute; its unsafe call-protocol code is covered by valgrind instead:
# scripts/valgrind.sh. Its thread pool and the batch-region runner (with a
# Rust body standing in for generated code) have no JIT code and run here;
# its workers live as long as the process, hence -Zmiri-ignore-leaks.
# The small-GEMM kernels have no JIT code either and run here too.)
set -euo pipefail
cd "$(dirname "$0")/.."
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}" cargo +nightly miri test -p theon-runtime --lib "$@"
MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation} -Zmiri-ignore-leaks" \
    cargo +nightly miri test -p theon-compiler --lib -- codegen::threads codegen::rt
# The AVX2 small-GEMM kernels, called directly (the sizes cut down under
# Miri): the features enabled at compile time so that they are detected;
# integer pointers because generated code passes them as i64.
RUSTFLAGS="-C target-feature=+avx2,+fma" \
    MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation} -Zmiri-ignore-leaks -Zmiri-permissive-provenance" \
    cargo +nightly miri test -p theon-compiler --lib -- codegen::small_gemm
