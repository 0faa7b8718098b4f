#!/usr/bin/env bash
# Builds minidl with warnings as errors and runs the whole test suite (ctest). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh -DMINIDL_WERROR=ON "$@"
ctest --test-dir build --output-on-failure -j2
