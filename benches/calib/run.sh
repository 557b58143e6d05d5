#!/usr/bin/env bash
# benches/calib/run.sh: `contimg calibrate` against CASA (bandpass + gaincal p inf + gaincal p 60 s,
# benches/calib/casa_solve.py) on a FULL-SIZE calibrator group (simulate --calibrator 3C286 at the
# default size: 96 antennas, 16 × 48 = 768 channels, 24 integrations), converted to one MS, and
# against a plain read of the MS (cat of every file: the floor). CASA solves against MODEL_DATA,
# written once by `calibrate --write-model` (the same model). Each round runs, in this order, the
# plain read, contimg calibrate (--overwrite) and CASA; medians over the rounds (default 3).
# The machine is shared: timings are noisy. Prints JSON.
#
#   benches/calib/run.sh [DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=$(realpath -m "${1:-$root/.cache/bench-calibrate}")
rounds=${2:-3}
contimg=$root/bin/contimg
py=$root/.venv/bin/python
mkdir -p "$dir"
if [ ! -d "$dir/ms" ] || [ -z "$(ls "$dir/ms")" ]; then
  "$contimg" simulate --output-dir "$dir/in" --calibrator 3C286 --json > "$dir/sim.json"
  "$contimg" convert --input-dir "$dir/in" --output-dir "$dir/ms" --json > "$dir/convert.json"
fi
ms=$(ls -d "$dir"/ms/*.ms | head -1)
if [ ! -f "$dir/model.json" ]; then
  "$contimg" calibrate "$ms" --output-dir "$dir/model-tabs" --write-model --overwrite --json > "$dir/model.json"
fi
refant=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))[0].summary.refant)' "$dir/model.json")
now() { date +%s.%N; }
read_s=(); ours_s=(); casa_s=(); acc_s=()
for i in $(seq "$rounds"); do
  t=$(now); find "$ms" -type f -exec cat {} + > /dev/null; read_s+=("$(echo "$(now) - $t" | bc)")
  t=$(now); "$contimg" calibrate "$ms" --output-dir "$dir/ours" --overwrite --json > "$dir/ours.json"; ours_s+=("$(echo "$(now) - $t" | bc)")
  acc_s+=("$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))[0].summary.accumulateSeconds)' "$dir/ours.json")")
  t=$(now); "$py" benches/calib/casa_solve.py "$ms" "$dir/casa" "$refant" > "$dir/casa.json"; casa_s+=("$(echo "$(now) - $t" | bc)")
done
node -e '
const [read, ours, casa, acc] = process.argv.slice(1).map((s) => s.split(" ").map(Number));
const med = (x) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
const ms = process.argv[5];
const out = { ms, rounds: read.length, readSeconds: read, calibrateSeconds: ours, accumulateSeconds: acc, casaSeconds: casa,
  median: { read: med(read), calibrate: med(ours), accumulate: med(acc), casa: med(casa) } };
out.ratio = { casaOverCalibrate: med(casa) / med(ours), calibrateOverRead: med(ours) / med(read) };
console.log(JSON.stringify(out, null, 2));
' "${read_s[*]}" "${ours_s[*]}" "${casa_s[*]}" "${acc_s[*]}" "$ms"
