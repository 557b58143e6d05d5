#!/usr/bin/env bash
# The streaming-service soak benchmark (benches/soak/run.mjs); see that file for what it reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
node benches/soak/run.mjs "$@"
