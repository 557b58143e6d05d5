#!/usr/bin/env bash
# Fuzzes the UVH5 parsers (cargo-fuzz, nightly) or replays the kept corpus.
#
#   bash benches/fuzz/run.sh                 # replay fuzz/corpus/* and fuzz/regressions/* once
#   bash benches/fuzz/run.sh 600             # fuzz each target 600 s, then minimise the corpus
#   bash benches/fuzz/run.sh 600 chunk_index # one target
#
# Targets (fuzz/fuzz_targets/): chunk_index (the chunk B-tree parser over bytes in memory),
# uvh5_file (whole files through open + block reads, direct reads checked against libhdf5),
# header_counts (the header count validation). One process, one job: the machine is shared.
# Limits: -rss_limit_mb=2048 catches unbounded allocation, -timeout=10 catches hangs.
# Needs: rustup toolchain nightly, `cargo install cargo-fuzz`, and for the seeds the oracle
# venv (.venv with h5py; seeds are regenerated only when fuzz/corpus-work is empty).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-0}"
targets=("${@:2}")
[ ${#targets[@]} -eq 0 ] && targets=(chunk_index uvh5_file header_counts)
flags=(-rss_limit_mb=2048 -timeout=10 -max_len=40000)
cd fuzz
cargo +nightly fuzz build >/dev/null
for t in "${targets[@]}"; do
  # uvh5_file goes through libhdf5, which leaks a few bytes on some corrupt files (its bug,
  # not ours: see fuzz/regressions/uvh5_file/libhdf5-leak-*); leaks are not checked there.
  extra=()
  [ "$t" = uvh5_file ] && extra=(-detect_leaks=0)
  mkdir -p "corpus/$t" "regressions/$t" "corpus-work/$t"
  if [ "$secs" = 0 ]; then
    # Replay: every kept input once; any crash, leak of memory or hang fails the run.
    n=$(find "corpus/$t" "regressions/$t" -type f | wc -l)
    echo "== $t: replaying $n inputs"
    cargo +nightly fuzz run "$t" "corpus/$t" "regressions/$t" -- -runs=0 "${flags[@]}" "${extra[@]}" 2>&1 | tail -2
    continue
  fi
  if [ -z "$(ls -A "corpus-work/$t")" ]; then
    cp -r corpus/"$t"/. "corpus-work/$t/" 2>/dev/null || true
    if [ -z "$(ls -A "corpus-work/$t")" ] && [ "$t" != header_counts ]; then
      ../.venv/bin/python ../benches/fuzz/make_seeds.py /tmp/uvh5-fuzz-seeds
      cp /tmp/uvh5-fuzz-seeds/"$t"/* "corpus-work/$t/"
    fi
  fi
  echo "== $t: fuzzing ${secs}s"
  # uvh5_file runs libhdf5 in forked children first (crates/uvh5/src/isolate/), as contimg
  # does: libhdf5's own crashes there are UVH5_CORRUPT errors, not findings, but a child's
  # AddressSanitizer report still reaches stderr. Those are counted, not shown; the lines kept
  # are libFuzzer's own (and the target's panics). CONTIMG_UVH5_NO_ISOLATE=1 hunts libhdf5's
  # crashes themselves (then add -fork=1 -ignore_crashes=1).
  log="corpus-work/$t.log"
  cargo +nightly fuzz run "$t" "corpus-work/$t" -- -max_total_time="$secs" "${flags[@]}" "${extra[@]}" >"$log" 2>&1 || true
  grep -E '^(#[0-9]+ +DONE|Done|==[0-9]+== ERROR: libFuzzer|SUMMARY: libFuzzer|artifact_prefix|thread .* panicked)' "$log" || true
  echo "   AddressSanitizer reports from isolated children (contained): $(grep -c 'ERROR: AddressSanitizer' "$log" || true)"
  # Keep only the inputs that add coverage (libFuzzer's merge), so the corpus in git stays small.
  rm -rf "corpus/$t.new" && mkdir -p "corpus/$t.new"
  cargo +nightly fuzz run "$t" "corpus/$t.new" "corpus-work/$t" -- -merge=1 "${flags[@]}" "${extra[@]}" >/dev/null 2>&1
  rm -rf "corpus/$t" && mv "corpus/$t.new" "corpus/$t"
  echo "   corpus/$t: $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
done
