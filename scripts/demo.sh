#!/usr/bin/env bash
# A small end-to-end demonstration on simulated data: simulate two DSA-110 groups with known
# sources, inspect them, convert them to Measurement Sets in the pipeline layout (registered),
# and image the first one (FITS + PNG quicklook), comparing what it found with the truth.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-demo}
rm -rf "$out"
# The full array and band; 8 channels per subband keep the demo to a minute on 2 cores.
./bin/contimg simulate --output-dir "$out/incoming" --groups 2 --channels 8 --no-gains --jitter-s 20
./bin/contimg inspect "$out/incoming"
./bin/contimg convert --input-dir "$out/incoming" --layout --stage-base "$out/stage" --data-base "$out/data"
first=$(ls -d "$out"/stage/raw/ms/*/*/*.ms | head -1)
./bin/contimg inspect "$first"
./bin/contimg image "$first" --output-dir "$out/images" --size 2048 --cell-arcsec 6 --pbcor
echo "images in $out/images (open the .image.png quicklook); truth: $out/incoming/*.truth.json"
