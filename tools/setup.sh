#!/usr/bin/env bash
# Installs everything minidl needs from Debian's packages. Safe to run again: apt-get skips what
# is installed. Runs as root (as on CI), or through sudo when available.
#   --bench  also installs PyTorch (Debian's python3-torch) for the benchmark scripts in tools/.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-dev libopenblas-openmp-dev libopenblas0-openmp
  libgtest-dev nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  libboost-context-dev
  clang lld libclang-rt-14-dev
  dataset-fashion-mnist fortunes
  python3-matplotlib
)
[ "${1:-}" = "--bench" ] && packages+=(python3-torch python3-numpy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
