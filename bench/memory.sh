#!/usr/bin/env bash
# Peak memory of layer-wise (GPTQ) quantization does not grow with depth: synthesize an
# 8-layer and a 32-layer model of the same width (F16), quantize both with GPTQ to Q4_0 on
# the same calibration text, and print each run's peak RSS. Also the same for imatrix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
bin="${LOWBIT:-build/lowbit}"
out=out/memory; mkdir -p "$out"
calib="$LOWBIT_SHARED/data/tinystories/calib.txt"
printf '| model | layers | file MiB | method | peak RSS MiB | seconds |\n|---|---|---|---|---|---|\n'
for p in small-8layer small-32layer; do
  f="$out/$p-F16.gguf"
  [ -f "$f" ] || "$bin" synth --preset "$p" --type F16 -o "$f" --json >/dev/null
  for m in imatrix gptq; do
    j=$("$bin" quantize "$f" "$out/$p-$m-Q4_0.gguf" --type Q4_0 --pure --method "$m" --calib "$calib" \
          --n-seq "${NSEQ:-32}" --seq-len 256 --json)
    node -e 'const j=JSON.parse(process.argv[1]); const fs=require("fs");
      console.log(`| ${process.argv[2]} | ${process.argv[2].match(/(\d+)layer/)[1]} | ${(fs.statSync(process.argv[3]).size/1048576).toFixed(1)} | ${j.method} | ${(j.peak_rss_bytes/1048576).toFixed(1)} | ${j.seconds.toFixed(1)} |`)' "$j" "$p" "$f"
  done
done
