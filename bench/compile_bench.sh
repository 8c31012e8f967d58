#!/usr/bin/env bash
# compile_bench.sh -- builds and runs the compile benchmarks (compile_bench.c
# against the compiler's sources, optimised; compile_bench.lua through the
# argent command of BUILD, default build/).
#   bash bench/compile_bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -Isrc bench/compile_bench.c src/sql/*.c src/base/buf.c src/base/error.c \
    src/base/value.c -o "$out/compile_bench"
"$out/compile_bench"
if [ -x "$build/argent" ]; then
    "$build/argent" run bench/compile_bench.lua
fi
