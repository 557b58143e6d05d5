#!/usr/bin/env bash
# Runs every benchmark and prints their JSON reports. Timings belong here, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/oracle-venv.sh
npm run build >/dev/null
echo "== benches/convert"; node benches/convert/run.mjs "$@"
for b in benches/*/run.sh; do [ -x "$b" ] && { echo "== $b"; bash "$b"; }; done
echo "== benches/calib/flag"; node benches/calib/flag.mjs
echo "== benches/calib/apply"; node benches/calib/apply.mjs
echo "== benches/calib/chain"; node benches/calib/chain.mjs
echo "== benches/scaleout/claims"; node benches/scaleout/claims.mjs
echo "== benches/scaleout/workers"; node benches/scaleout/workers.mjs
