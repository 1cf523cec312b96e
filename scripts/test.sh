#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every
# test: unit and protocol tests (CTest), the same under ASan+UBSan, a short
# run of every libFuzzer target, and the style checks.
# FUZZ_SECONDS (default 20) sets the per-target fuzz smoke time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=$(nproc)

echo "== build (dev) =="
cmake --preset dev >/dev/null
cmake --build build-dev -j"$JOBS"
echo "== tests (dev) =="
ctest --test-dir build-dev --output-on-failure -j"$JOBS"

echo "== build (asan) =="
cmake --preset asan >/dev/null
cmake --build build-asan -j"$JOBS"
echo "== tests (ASan+UBSan) =="
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$JOBS"

echo "== fuzz smoke =="
cmake --preset fuzz >/dev/null
cmake --build build-fuzz -j"$JOBS"
bash tools/fuzz-smoke.sh build-fuzz "${FUZZ_SECONDS:-20}"

echo "== style =="
bash tools/check-banned.sh
bash tools/check-format.sh
echo "all checks passed"
