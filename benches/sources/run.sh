#!/usr/bin/env bash
# benches/sources: `contimg sources` on a 4096² image of a known sky (1500 sources,
# test/oracle/make_sky_image.py, written by astropy) against AegeanTools (BANE + aegean, the
# oracle venv) in the same run, on the same cores. Ours: the median wall time of 3 runs of the
# whole command; Aegean: one run (it takes minutes). Prints JSON with the ratio (the issue asks
# for ≥ 10×) and both catalogues scored against the truth by test/oracle/catalog_vs_truth.py.
# Needs `npm run build` and the oracle venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/contimg-bench-sources.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cores=$(node -p 'require("os").availableParallelism()')
.venv/bin/python test/oracle/make_sky_image.py "$dir/sky" --size 4096 --sources 1500 --seed 11 >/dev/null
for i in 1 2 3; do
  start=$(date +%s.%N)
  bin/contimg sources "$dir/sky.image.fits" --output-dir "$dir/ours$i" --json >"$dir/ours$i.json"
  end=$(date +%s.%N)
  echo "$start $end" >"$dir/wall$i"
done
.venv/bin/python test/oracle/aegean_peer.py "$dir/sky.image.fits" "$dir/aegean" --cores "$cores" >"$dir/aegean.json"
catalog=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1]))[0].catalog.csv' "$dir/ours1.json")
.venv/bin/python test/oracle/catalog_vs_truth.py "$catalog" "$dir/sky.truth.json" --snr 10 >"$dir/score_ours.json"
.venv/bin/python test/oracle/catalog_vs_truth.py "$dir/aegean_comp.csv" "$dir/sky.truth.json" --snr 10 --columns aegean >"$dir/score_aegean.json"
node benches/sources/report.mjs "$dir" "$cores"
