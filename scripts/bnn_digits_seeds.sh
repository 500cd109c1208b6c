#!/usr/bin/env bash
# Run the digits example for seeds 0-4 and print, per seed, the stated
# (tempered) posterior's, the exact posterior's and the MAP twin's test
# accuracy, NLL and ECE, with their means: the README's table.
# Usage: scripts/bnn_digits_seeds.sh [extra flags, e.g. --dtype f64]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example bnn_digits
for seed in 0 1 2 3 4; do
  ./target/release/examples/bnn_digits --seed "$seed" --no-plots "$@" | tail -1
done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
cols = ["accuracy", "nll", "ece", "accuracy_t1", "nll_t1", "ece_t1", "map_accuracy", "map_nll", "map_ece", "fit_s"]
print("seed " + " ".join("%12s" % c for c in cols))
for r in rows:
    print("%-4d " % r["seed"] + " ".join("%12.4f" % r[c] for c in cols))
print("mean " + " ".join("%12.4f" % (sum(r[c] for r in rows) / len(rows)) for c in cols))
print("NLL <= the MAP twin on %d of %d seeds; ECE <= 0.02 on %d" % (
    sum(r["nll"] <= r["map_nll"] for r in rows), len(rows), sum(r["ece"] <= 0.02 for r in rows)))
'
