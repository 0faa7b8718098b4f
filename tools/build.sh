#!/usr/bin/env bash
# Configures and builds minidl into build/ (the CLI lands at build/bin/minidl). Extra arguments go
# to CMake's configure step, e.g. tools/build.sh -DMINIDL_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja "$@"
cmake --build build -j2
