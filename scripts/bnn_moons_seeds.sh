#!/usr/bin/env bash
# Run the BNN notebook example on the scikit-learn two-moons split
# (data/moons) for seeds 0-4 and print each run's JSON summary (the README's
# accuracy table).
# Usage: scripts/bnn_moons_seeds.sh [DATA_DIR] [extra flags...]
# Runs from the repository root; a relative DATA_DIR is taken from there.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-data/moons}"
shift || true
cargo build --release --example bnn_moons
for seed in 0 1 2 3 4; do
  printf 'seed %s: ' "$seed"
  ./target/release/examples/bnn_moons --data "$data" --seed "$seed" --no-plots "$@" | tail -1
done
