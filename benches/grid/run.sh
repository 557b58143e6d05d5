#!/usr/bin/env bash
# benches/grid: our gridder (crates/grid) against ducc0's wgridder on one realistic DSA-110
# group (96 antennas, 768 channels, 24 integrations, 4096² pixels of 3″, ε = 1e-4, f32,
# w-gridding), 1 thread and all threads, in one run. Prints JSON with the speed ratios.
# Extra arguments go to the example (e.g. --threads 1,2 --reps 3 --nchan 96).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p grid --example bench_grid
exec "$CARGO_TARGET_DIR/release/examples/bench_grid" "$@"
