#!/usr/bin/env bash
# benches/mosaic: `contimg mosaic` of 10 overlapping 2048² fields (test/oracle/mosaic_sim.py:
# DSA-110 drift-scan pointings 1.25° of RA apart at dec 55°), 3 runs, the median wall time of
# the native job (read, reproject + combine, write) and of the whole command. Target: < 5 s on
# 2 cores. Prints JSON. Needs `npm run build` and the oracle venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/contimg-bench-mosaic.XXXXXX)
trap 'rm -rf "$dir"' EXIT
.venv/bin/python test/oracle/mosaic_sim.py "$dir/in" --n 10 --size 2048 --sources 60 --seed 7 >/dev/null
for i in 1 2 3; do
  start=$(date +%s.%N)
  bin/contimg mosaic "$dir"/in/field*.image.fits --output-dir "$dir/out" --group-id bench --overwrite --json >"$dir/run$i.json"
  end=$(date +%s.%N)
  echo "$start $end" >"$dir/wall$i"
done
node -e '
const fs = require("fs"); const dir = process.argv[1];
const runs = [1, 2, 3].map((i) => {
  const s = JSON.parse(fs.readFileSync(`${dir}/run${i}.json`))[0].summary;
  const [a, b] = fs.readFileSync(`${dir}/wall${i}`, "utf8").trim().split(" ").map(Number);
  return { wallS: b - a, nativeS: s.timingsS.total, timingsS: s.timingsS, grid: `${s.nx}x${s.ny}` };
});
const median = (xs) => xs.slice().sort((a, b) => a - b)[1];
console.log(JSON.stringify({ bench: "mosaic", images: 10, size: 2048, cores: require("os").availableParallelism(),
  grid: runs[0].grid, medianWallS: median(runs.map((r) => r.wallS)), medianNativeS: median(runs.map((r) => r.nativeS)),
  targetS: 5, runs }, null, 1));
' "$dir"
