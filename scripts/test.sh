#!/usr/bin/env bash
# The whole test suite: Rust unit/integration tests, then the vitest suites (unit,
# integration, end-to-end, oracle comparisons). Builds first, so it always tests this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
# In CI (a fresh clone), setup must leave the tree as cloned: a rewritten package-lock.json or an
# unignored build output would show here.
if [ "${CI:-}" = "true" ] && [ -d .git ] && [ -n "$(git status --porcelain)" ]; then
  echo "setup left the clone dirty:" >&2; git status --porcelain >&2; exit 1
fi
bash scripts/oracle-venv.sh
npm run build
# vitest only transpiles the tests; this type-checks them against the sources, so that an option
# object or a call in a test cannot drift from the real types unnoticed.
npx tsc -p tsconfig.test.json
export CONTIMG_ORACLE_PYTHON="$PWD/.venv/bin/python"
# Everything the tests and the programs they run put in the temp directory goes into one of the
# suite's own, removed at the end: a killed conversion's staging, `contimg stream`'s kept input
# directories (--cleanup-temp is off by default), the oracles' scratch. A run used to leave
# thousands of directories in /tmp.
export TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/contimg-suite-XXXXXX")"
# Searchable by others, as /tmp is: run as root, the PostgreSQL tests start the server as the
# postgres user in a directory of their own in here.
chmod 0711 "$TMPDIR"
trap 'rm -rf "$TMPDIR"' EXIT
# Release speed without link-time optimisation: thin LTO of each of the ~35 test binaries took
# 10 of the Rust tests' 11 minutes on the 2-core development VM; without it they build in 4.5. The
# native addon (npm run build above) keeps the release profile's LTO.
CARGO_PROFILE_RELEASE_LTO=false cargo test --workspace --release
npx vitest run "$@"
