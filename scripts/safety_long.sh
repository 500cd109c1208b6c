#!/usr/bin/env bash
# The random safety property test (random graphs, shared swaps, reshapes,
# random call shapes: Ok with the interpreter's values, or an error on both
# backends) run long. Usage: scripts/safety_long.sh [cases, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
THEON_SAFETY_CASES="${1:-100000}" cargo test --release -p theon-tests --test memory_safety \
    random_swaps_reshapes_and_shapes_are_ok_or_errors -- --nocapture
