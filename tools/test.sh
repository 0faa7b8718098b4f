#!/usr/bin/env bash
# Builds minidl with warnings as errors and runs the whole test suite (ctest), then reruns the
# emulated CUDA kernel tests under AddressSanitizer + UBSan with exact-size device allocations,
# then fuzzes the safetensors loader for 60 s (tools/fuzz.sh). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh -DMINIDL_WERROR=ON "$@"
ctest --test-dir build --output-on-failure -j2

echo "== emulated CUDA kernels under AddressSanitizer + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMINIDL_CUDA=OFF -DMINIDL_WERROR=ON -DMINIDL_SANITIZE=ON
cmake --build build-asan -j2 --target minidl_emu_tests
MINIDL_CUDA_ALLOC=direct ctest --test-dir build-asan -L emu --output-on-failure -j2

echo "== safetensors loader under libFuzzer + AddressSanitizer + UBSan"
tools/fuzz.sh 60
