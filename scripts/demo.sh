#!/usr/bin/env bash
# The main job on the bundled default: set up, build, then take the real stories260K
# llama2.c model through lowbit: inspect, convert to GGUF, perplexity on TinyStories eval
# text (saving base log-probs), KL divergence of the F16 conversion against F32, and a
# short generation. Override with MODEL=... TEXT=... (any supported model / text file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
MODEL="${MODEL:-$LOWBIT_SHARED/models/stories260K.bin}"
TEXT="${TEXT:-$LOWBIT_SHARED/data/tinystories/eval.txt}"
CTX="${CTX:-256}"
LOWBIT_SKIP_NODE=1 scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build lowbit >/dev/null
bin=build/lowbit
out=out; mkdir -p "$out"

echo "== inspect"; $bin inspect "$MODEL" | head -n 20
echo "== convert to GGUF (f32 and f16)"
$bin convert "$MODEL" "$out/model-f32.gguf" --type f32
$bin convert "$MODEL" "$out/model-f16.gguf" --type f16
echo "== perplexity (f32), saving base log-probs"
$bin perplexity "$out/model-f32.gguf" -f "$TEXT" -c "$CTX" --save-logits "$out/base.logits"
echo "== perplexity and KL divergence of f16 vs f32"
$bin perplexity "$out/model-f16.gguf" -f "$TEXT" -c "$CTX" --kl-base "$out/base.logits"
echo "== generate"
$bin run "$out/model-f32.gguf" -p "Once upon a time" -n 64
