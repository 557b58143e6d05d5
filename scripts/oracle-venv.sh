#!/usr/bin/env bash
# Creates ./.venv with the pinned Python test oracles (pyuvdata, python-casacore, h5py, numpy,
# astropy, ducc0). Idempotent: does nothing when the installed set matches the requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
req=test/oracle/requirements.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --only-binary=:all: -r "$req"
echo "$want" > "$stamp"
echo "oracle virtualenv ready: $(.venv/bin/python -c 'import pyuvdata, casacore, astropy; print("pyuvdata", pyuvdata.__version__, "astropy", astropy.__version__)')"
