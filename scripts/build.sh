#!/usr/bin/env bash
# Installs the dependencies (Debian packages) and builds cembed with the release preset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release -DCEMBED_BUILD_TESTS=ON -DCEMBED_BUILD_BENCH=ON >/dev/null
cmake --build --preset release
