#!/usr/bin/env bash
# Sets up, builds and runs every test: unit tests, hostile-input tests, llama.cpp
# comparisons (Release), then the same suite under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LOWBIT_SHARED="${LOWBIT_SHARED:-$(cd .. && pwd)/shared}"
export LOWBIT_NO_PROGRESS=1
scripts/setup.sh
jobs=$(nproc)

echo "== Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOWBIT_TESTS=ON >/dev/null
ninja -C build -j"$jobs"
ctest --test-dir build --output-on-failure --no-tests=error -j1

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOWBIT_SANITIZE=ON -DLOWBIT_TESTS=ON >/dev/null
ninja -C build-asan -j"$jobs"
# Numeric reference checks (full-text perplexities, per-type llama.cpp runs) are covered by the
# Release run; under the sanitizers the rest of every suite runs.
GTEST_FILTER="-Reference.*:Types/*" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --no-tests=error -j1

echo "== Fuzzing the parsers (libFuzzer, ${FUZZ_SECONDS:-20}s per target)"
scripts/fuzz.sh
