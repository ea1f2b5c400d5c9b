#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for FUZZ_SECONDS
# (default 20), seeded with the real files in shared/. Any crash fails the script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
secs="${FUZZ_SECONDS:-20}"
if ! command -v clang++ >/dev/null; then echo "fuzz: clang++ not found (scripts/setup.sh installs it)" >&2; exit 1; fi
out=build-fuzz; mkdir -p "$out"
core=$(ls src/core/*.cc | grep -v _test.cc)
flags="-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc"
build() {  # name, sources...
  local name=$1; shift
  [ "$out/$name" -nt "tests/fuzz/$name.cc" ] && [ -z "$(find src -newer "$out/$name" -name '*.cc' -print -quit)" ] && return
  clang++ $flags "tests/fuzz/$name.cc" "$@" $core -lfmt -fopenmp -o "$out/$name"
}
build fuzz_gguf $(ls src/formats/gguf/*.cc | grep -v _test.cc)
build fuzz_safetensors $(ls src/formats/safetensors/*.cc | grep -v _test.cc)
build fuzz_hf $(ls src/formats/hf/*.cc | grep -v _test.cc)
build fuzz_hf_gptq $(ls src/formats/safetensors/*.cc src/formats/hf/*.cc | grep -v _test.cc)
build fuzz_llama2c $(ls src/formats/llama2c/*.cc | grep -v _test.cc)
S=$LOWBIT_SHARED
run() {  # name, seed files...
  local name=$1; shift
  local corpus="$out/corpus-$name"; mkdir -p "$corpus"
  for f in "$@"; do [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 4000000 ] && cp -n "$f" "$corpus/" || true; done
  echo "fuzz: $name for ${secs}s"
  "$out/$name" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 "$corpus" 2>"$out/$name.log" \
    || { tail -n 40 "$out/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
  grep -E "^(#[0-9]+|Done)" "$out/$name.log" | tail -n 1
}
run fuzz_gguf "$S/models/ggml-vocab-llama-spm.gguf" "$S/fixtures/llamacpp-blocks/blocks-Q4_0.gguf"
run fuzz_safetensors
run fuzz_hf "$S/models/tinystories-llama-6m/config.json"
run fuzz_hf_gptq tests/fuzz/seeds/gptq-layer.safetensors
run fuzz_llama2c "$S/models/stories260K.bin" "$S/models/tok512.bin"
echo "fuzz: all targets ran clean"
