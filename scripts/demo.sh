#!/usr/bin/env bash
# A small end-to-end demonstration on simulated data: simulate two DSA-110 groups, inspect
# them, convert them to Measurement Sets, and summarise the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
rm -rf "$out"
./bin/contimg simulate --output-dir "$out/incoming" --groups 2 --antennas 24 --jitter-s 20
./bin/contimg inspect "$out/incoming"
if ./bin/contimg convert --help >/dev/null 2>&1; then
  ./bin/contimg convert --input-dir "$out/incoming" --output-dir "$out/ms"
  for ms in "$out"/ms/*.ms; do ./bin/contimg inspect "$ms"; done
fi
