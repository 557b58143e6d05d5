#!/usr/bin/env bash
# benches/pipeline/run.sh: does `contimg pipeline` keep up with the telescope? Two FULL-SIZE
# groups (simulate defaults: 96 antennas, 16 × 48 channels, 24 integrations = 5 min each), the
# first a 3C286 transit, go through every stage with the defaults a user gets (2048² images,
# flagging, calibration, a mosaic of the two, sources, publish): one `pipeline --once` per round
# on fresh bases. The telescope delivers a group every 300 s; the figure to beat is the time per
# group. Prints JSON with each stage's time from the pipeline's own log.
#
#   benches/pipeline/run.sh [DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=$(realpath -m "${1:-$root/.cache/bench-pipeline}")
rounds=${2:-1}
contimg=$root/bin/contimg
mkdir -p "$dir"
if [ ! -d "$dir/in" ]; then
  "$contimg" simulate --output-dir "$dir/in" --groups 2 --calibrator 3C286 --sources 8 --rfi --json > "$dir/sim.json"
fi
printf 'name,ra_deg,dec_deg,flux_jy,spectral_index\n3C286,202.784533,30.509155,15,-0.560\n' > "$dir/calibrators.csv"
walls=()
for i in $(seq "$rounds"); do
  rm -rf "$dir/stage" "$dir/data"
  t=$(date +%s.%N)
  "$contimg" pipeline --input-dir "$dir/in" --stage-base "$dir/stage" --data-base "$dir/data" --once \
    --group-size 2 --group-overlap 1 --calibrators "$dir/calibrators.csv" 2> "$dir/log-$i.txt" > /dev/null
  walls+=("$(echo "$(date +%s.%N) - $t" | bc)")
done
node -e '
const fs = require("fs");
const [dir, walls] = [process.argv[1], process.argv[2].split(" ").map(Number)];
const med = (x) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
// "HH:MM:SS stage: job done (12.3 s)" lines of the last round: seconds per stage.
const perStage = {};
for (const line of fs.readFileSync(`${dir}/log-${walls.length}.txt`, "utf8").split("\n")) {
  const m = /^\S+ (\w+): \S+ done \(([\d.]+) s\)/.exec(line);
  if (m) perStage[m[1]] = +((perStage[m[1]] ?? 0) + Number(m[2])).toFixed(1);
}
const perGroup = med(walls) / 2;
console.log(JSON.stringify({ groups: 2, rounds: walls.length, wallSeconds: walls, medianWallSeconds: med(walls), secondsPerGroup: perGroup, realTimeBudgetSeconds: 300, keepsUp: perGroup < 300, stageSecondsLastRound: perStage }, null, 2));
' "$dir" "${walls[*]}"
