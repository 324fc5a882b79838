#!/usr/bin/env bash
# Builds cembed and runs every test: the C++ unit tests, the Python reference tests, and
# the libFuzzer targets for a bounded time each (CEMBED_FUZZ_SECONDS, default 20; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# Tests run in parallel and each uses OpenMP threads: idle threads sleep instead of
# spinning, so parallel tests do not starve each other.
export OMP_WAIT_POLICY=PASSIVE
ctest --preset release -j "$(nproc)"
if [ "${CEMBED_FUZZ_SECONDS:-20}" -gt 0 ]; then
  bash scripts/fuzz.sh "${CEMBED_FUZZ_SECONDS:-20}"
fi
