#!/usr/bin/env bash
# The whole test suite: Rust unit/integration tests, then the vitest suites (unit,
# integration, end-to-end, oracle comparisons). Builds first, so it always tests this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/oracle-venv.sh
npm run build
export CONTIMG_ORACLE_PYTHON="$PWD/.venv/bin/python"
cargo test --workspace --release
npx vitest run "$@"
