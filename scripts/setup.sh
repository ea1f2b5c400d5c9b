#!/usr/bin/env bash
# Idempotent set-up: Debian packages lowbit builds against, then the node-llama-cpp
# judge used by the compatibility tests. Safe to run again; does nothing when all is present.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pkgs=(build-essential cmake ninja-build pkg-config
      libopenblas-dev liblapacke-dev nlohmann-json3-dev libcli11-dev libfmt-dev
      libgtest-dev libgmock-dev libbenchmark-dev libicu-dev clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# llama.cpp as an outside judge (prebuilt CPU binary inside the npm package).
if ! command -v npm >/dev/null; then
  echo "setup: npm not found; install Node.js 20 (nodejs + npm) for the llama.cpp tests" >&2
elif [ "${LOWBIT_SKIP_NODE:-0}" != 1 ] && [ ! -d "$here/tests/llamacpp/node_modules/node-llama-cpp" ]; then
  echo "setup: installing node-llama-cpp 3.21.1"
  (cd "$here/tests/llamacpp" && npm i -E --no-audit --no-fund node-llama-cpp@3.21.1 \
      @node-llama-cpp/linux-x64@3.21.1 --omit=optional --ignore-scripts >/dev/null)
fi
