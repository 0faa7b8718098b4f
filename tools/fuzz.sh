#!/usr/bin/env bash
# Builds the libFuzzer target for the safetensors loader (fuzz/fuzz_safetensors.cpp) with clang,
# AddressSanitizer and UBSan into build-fuzz/, and runs it for SECONDS (default 60) from the
# committed seed corpus fuzz/corpus/safetensors (read only: new inputs go to a scratch directory).
# Fails on a crash, a leak, a sanitizer report, an uncaught exception or a timeout; the input
# that did it is saved as build-fuzz/crash-* (or leak-*, timeout-*) and the log is printed.
#   tools/fuzz.sh [SECONDS]        (MINIDL_FUZZ_BUILD=DIR builds elsewhere than build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${MINIDL_FUZZ_BUILD:-build-fuzz}

start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DMINIDL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug > /dev/null
cmake --build "$build" -j2 --target fuzz_safetensors
echo "fuzz: built fuzz_safetensors in $(($(date +%s) - start)) s; running it for ${seconds} s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
log=$build/fuzz_safetensors.log
if "$build"/bin/fuzz_safetensors -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
     -dict=fuzz/safetensors.dict -artifact_prefix="$build"/ -print_final_stats=1 \
     "$scratch" fuzz/corpus/safetensors > "$log" 2>&1; then
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
  echo "fuzz: no crash in ${seconds} s"
else
  tail -n 60 "$log"
  echo "fuzz: FAILED (the input is in $build/; full log: $log)"
  exit 1
fi
