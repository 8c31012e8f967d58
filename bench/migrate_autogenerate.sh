#!/usr/bin/env bash
# migrate_autogenerate.sh -- autogenerate's comparison on a 300-table schema,
# argent against Alembic, on SQLite and PostgreSQL (and MariaDB when MY_URL is
# given); see bench/migrate_autogenerate.lua and bench/README.md.
#
# usage: bench/migrate_autogenerate.sh [TABLES=300] [REPEATS=5]
#
# PG_URL: a PostgreSQL server's URL (its database is dropped and made again);
# without it a throwaway server is started with scripts/pg.sh on
# ARGENT_PG_PORT (default 55433) and stopped at the end.  MY_URL: a MariaDB
# URL, optional.  ARGENT: the argent binary (default build/argent).
# HRTIME_SRC: the wall clock module's source (shared/bench/peers/hrtime.c).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TABLES=${1:-300} REPEATS=${2:-5}
ARGENT=${ARGENT:-build/argent}
BUILD=${BENCH_BUILD:-/tmp/argent-bench-migrate-build}
HRTIME_SRC=${HRTIME_SRC:-/work/shared/bench/peers/hrtime.c}
mkdir -p "$BUILD"
cc -O2 -Wall -shared -fPIC $(pkg-config --cflags lua5.4) -o "$BUILD/hrtime.so" "$HRTIME_SRC"
export LUA_CPATH="$BUILD/?.so;${LUA_CPATH:-;}"

pg_dir=""
cleanup() { if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir" || true; fi; }
trap cleanup EXIT
if [ -z "${PG_URL:-}" ]; then
    port=${ARGENT_PG_PORT:-55433}
    pg_dir=$(mktemp -d /tmp/argent-pg-bench.XXXXXX)
    scripts/pg.sh start "$pg_dir" "$port"
    PG_URL="postgresql://postgres@127.0.0.1:$port/argent_bench_migrate"
fi
urls=("sqlite:///$BUILD/autogenerate.db" "$PG_URL")
if [ -n "${MY_URL:-}" ]; then urls+=("$MY_URL"); fi
"$ARGENT" run bench/migrate_autogenerate.lua "${urls[@]}"
