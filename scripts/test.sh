#!/usr/bin/env bash
# Builds cembed and runs every test:
#   1. the C++ unit tests and the Python reference tests (release build);
#   2. the C++ unit tests again under AddressSanitizer + UBSan (debug preset; any report
#      fails the run; CEMBED_SANITIZE=0 skips this stage);
#   3. the libFuzzer targets for a bounded time each (CEMBED_FUZZ_SECONDS, default 20; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# Tests run in parallel and each uses OpenMP threads: idle threads sleep instead of
# spinning, so parallel tests do not starve each other.
export OMP_WAIT_POLICY=PASSIVE
# cembed's results do not depend on OpenBLAS (its own GEMM: docs/reliability.md). The machines
# set this for numpy and PyTorch, the Python tests' references, whose OpenBLAS misbehaves on new
# CPUs; a machine that does not gets the same kernel.
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"
ctest --preset release -j "$(nproc)"
if [ "${CEMBED_SANITIZE:-1}" != 0 ]; then
  echo "test: unit tests under ASan + UBSan (debug preset)"
  cmake --preset debug -DCEMBED_BUILD_TESTS=ON -DCEMBED_BUILD_BENCH=OFF >/dev/null
  cmake --build --preset debug --target cembed_tests library_example
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --preset debug -j "$(nproc)" -E '^(python_.*|format)$'
fi
if [ "${CEMBED_FUZZ_SECONDS:-20}" -gt 0 ]; then
  bash scripts/fuzz.sh "${CEMBED_FUZZ_SECONDS:-20}"
fi
