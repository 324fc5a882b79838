#!/usr/bin/env bash
# Builds cembed and runs every test (C++ unit tests and the Python reference tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --preset release -j "$(nproc)"
