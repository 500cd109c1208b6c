#!/usr/bin/env bash
# Run the hierarchical-network example for seeds 0-4 and print a table of
# mean test accuracy per model (each with its better method, and ADVI and
# NUTS apart) with the seeds' average: the README's table.
# Usage: scripts/bnn_hierarchical_seeds.sh [extra flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example bnn_hierarchical
printf '%-5s %9s %9s %12s %14s %14s %8s %8s\n' seed separate pooled hierarchical hier_advi hier_nuts advi_s nuts_s
for seed in 0 1 2 3 4; do
  ./target/release/examples/bnn_hierarchical --seed "$seed" --no-plots "$@" | tail -1
done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
keys = ["acc_separate", "acc_pooled", "acc_hierarchical", "acc_hierarchical_advi", "acc_hierarchical_nuts", "advi_s", "nuts_s"]
for r in rows:
    print("%-5d %9.3f %9.3f %12.3f %14.3f %14s %8.1f %8.1f" % (r["seed"], r[keys[0]], r[keys[1]], r[keys[2]], r[keys[3]], "null" if r[keys[4]] is None else "%.3f" % r[keys[4]], r[keys[5]], r[keys[6]]))
mean = lambda k: sum(r[k] for r in rows) / len(rows)
gain = [r["acc_hierarchical"] - max(r["acc_separate"], r["acc_pooled"]) for r in rows]
print("mean  %9.3f %9.3f %12.3f %14.3f" % (mean(keys[0]), mean(keys[1]), mean(keys[2]), mean(keys[3])))
print("hierarchical ahead of the better of separate and pooled by %.3f on average, on %d of %d seeds" % (sum(gain) / len(gain), sum(g > 0 for g in gain), len(gain)))
'
