#!/usr/bin/env bash
# Builds cembed and runs every test: the C++ unit tests, the Python reference tests, and
# the libFuzzer targets for a bounded time each (CEMBED_FUZZ_SECONDS, default 20; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --preset release -j "$(nproc)"
if [ "${CEMBED_FUZZ_SECONDS:-20}" -gt 0 ]; then
  bash scripts/fuzz.sh "${CEMBED_FUZZ_SECONDS:-20}"
fi
