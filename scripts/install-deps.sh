#!/usr/bin/env bash
# Installs every Debian 12 package cembed needs to build, test and benchmark.
# Idempotent: packages already present are skipped. Uses sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-openmp-dev libomp-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libxxhash-dev libtomlplusplus-dev
  zlib1g-dev libzstd-dev libfast-float-dev libcpp-httplib-dev
  libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev libdnnl-dev clang-14 libclang-rt-14-dev clang-format-14 zstd
  python3 python3-numpy python3-sklearn python3-torch python3-matplotlib
  python3-dev pybind11-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
