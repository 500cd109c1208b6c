#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, nightly) of the .npy reader and of
# compiled calls with random shapes and shared swaps, each target for
# SECONDS (default 60). Needs: rustup toolchain nightly, cargo install cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
for t in npy calls; do
    cargo +nightly fuzz run "$t" -- -max_total_time="$secs"
done
