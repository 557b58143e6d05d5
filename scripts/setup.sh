#!/usr/bin/env bash
# Installs everything contimg needs on a fresh Debian 12 machine and builds it:
# system libraries (casacore, HDF5, ERFA), npm packages, the Rust core and the CLI. PostgreSQL 15
# (the scale-out backend; tests start their own server in a temp dir) and Chromium (the dashboard's
# browser test, driven by playwright-core: no browser download) come from Debian too.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  casacore-dev libhdf5-dev liberfa-dev pkg-config build-essential sqlite3 python3-venv wsclean aoflagger \
  postgresql-15 chromium >/dev/null

if ! command -v cargo >/dev/null; then
  echo "contimg needs a Rust toolchain (cargo); install it with rustup: https://rustup.rs" >&2
  exit 1
fi

# npm install, not npm ci: some optional per-platform packages of @napi-rs/cli's dependencies
# are not served by every registry mirror, and npm ci refuses a lock file without them.
npm install --no-audit --no-fund
npm run build
