#!/usr/bin/env bash
# test.sh -- the test command (README, CI): installs what is missing, builds
# argent twice -- build/ as usual and build-asan/ with ASan+UBSan -- and runs
# the whole suite with each against real databases: SQLite files, and a
# throwaway PostgreSQL server (scripts/pg.sh) that lives as long as this
# script, whatever way it ends.
#
#   bash scripts/test.sh            (from anywhere)
#
# Environment: ARGENT_PG_PORT (default 55433), the server's port on 127.0.0.1;
# ARGENT_JOBS (default 2), parallel build and test jobs.
# Exits non-zero when either run fails; the last run's ctest summary is the
# last thing this script prints.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

jobs=${ARGENT_JOBS:-2}
pg_port=${ARGENT_PG_PORT:-55433}

# 1. What the build and the tests need.
argent_install_deps

# 2. Both builds, before any server is started.
cmake -S . -B build -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_SANITIZE=OFF
cmake --build build -j "$jobs"
cmake -S . -B build-asan -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_SANITIZE=ON
cmake --build build-asan -j "$jobs"

# 3. PostgreSQL on a private port, stopped and removed on any exit.  /tmp, not
# $TMPDIR: the server's user must reach it, and a unix socket path is short.
pg_dir=$(mktemp -d /tmp/argent-pg.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
stop_postgres() { scripts/pg.sh stop "$pg_dir" || true; }
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scripts/pg.sh start "$pg_dir" "$pg_port"
export ARGENT_TEST_PG_URL="postgresql://postgres@127.0.0.1:$pg_port/argent_test"

# 4. The suite, on each build.  Both runs happen even when the first fails.
status=0
ctest --test-dir build --output-on-failure -j "$jobs" || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" || status=1
exit "$status"
