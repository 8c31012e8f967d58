#!/usr/bin/env bash
# test.sh -- the test command (README, CI): installs what is missing, builds
# argent twice -- build/ as usual and build-asan/ with ASan+UBSan -- and runs
# the whole suite with each against real databases (and the threaded tests
# once more in build-tsan/ under ThreadSanitizer, and the Lua suites on
# LuaJIT, 5.1 and 5.3 in build-luajit/, build-lua51/ and build-lua53/): SQLite files, and a
# throwaway PostgreSQL server (scripts/pg.sh) that lives as long as this
# script, whatever way it ends.
#
#   bash scripts/test.sh            (from anywhere)
#
# Environment: ARGENT_PG_PORT (default 25433), the server's port on 127.0.0.1;
# ARGENT_MY_PORT (default 25434), the MariaDB server's (scripts/mariadb.sh);
# ARGENT_FAULT_PG_PORT and ARGENT_FAULT_MY_PORT (default: those plus 2), the
# servers of the fault tests (tests/fault/), which restart them;
# ARGENT_PG_EXTRA_PORT (default: ARGENT_PG_PORT plus 4) and the 4 ports after
# it, PostgreSQL beyond one server (scripts/pgtopology.sh): a primary, its
# streaming standby and PgBouncer in transaction mode, then a second primary
# and standby that the failover test (tests/lua/test_topology.lua) promotes;
# ARGENT_JOBS (default 2), parallel build and test jobs.
# The default ports are below Linux's ephemeral range (32768-60999), where
# one of the thousands of client connections of a run could hold a port that
# a server restarted by the fault tests, or a standby, wants to listen on.
# Exits non-zero when any run fails; the last run's ctest summary is the
# last thing this script prints.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

jobs=${ARGENT_JOBS:-2}
lua_build_dir() { if [ "$1" = luajit ]; then echo build-luajit; else echo "build-lua${1/./}"; fi; }
pg_port=${ARGENT_PG_PORT:-25433}
my_port=${ARGENT_MY_PORT:-25434}
fault_pg_port=${ARGENT_FAULT_PG_PORT:-$((pg_port + 2))}
fault_my_port=${ARGENT_FAULT_MY_PORT:-$((my_port + 2))}
extra_port=${ARGENT_PG_EXTRA_PORT:-$((pg_port + 4))}

# 1. What the build and the tests need.
argent_install_deps

# ... and the C formatted as .clang-format says (about a second).
format_dirs=()
for dir in src include tests/c; do
    if [ -d "$dir" ]; then format_dirs+=("$dir"); fi
done
find "${format_dirs[@]}" -name '*.[ch]' -print0 | sort -z | xargs -0 clang-format --dry-run --Werror

# 2. Both builds, before any server is started.
cmake -S . -B build -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_WITH_MARIADB=ON -DARGENT_SANITIZE=OFF
cmake --build build -j "$jobs"
cmake -S . -B build-asan -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_WITH_MARIADB=ON -DARGENT_SANITIZE=ON \
    -DARGENT_FAILALLOC=ON # and a core allocator that tests/alloc can make fail
cmake --build build-asan -j "$jobs"
# The other Lua versions (API.md section 10): LuaJIT, 5.1 and 5.3 -- the module
# and the command only (normal builds), for the Lua suites: LuaJIT against the
# four databases, 5.1 and 5.3 against SQLite (in memory) and PostgreSQL.
for lua in luajit 5.1 5.3; do
    if [ "$lua" = luajit ]; then dbs="sqlite_file;sqlite_mem;postgresql;mariadb"; else dbs="sqlite_mem;postgresql"; fi
    cmake -S . -B "$(lua_build_dir "$lua")" -DARGENT_LUA="$lua" -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON \
        -DARGENT_WITH_MARIADB=ON -DARGENT_SANITIZE=OFF -DARGENT_TEST_DATABASES="$dbs"
    cmake --build "$(lua_build_dir "$lua")" --target argent_cli -j "$jobs"
done
# ThreadSanitizer: only what runs threads (the pool test, the cancel test, and
# the embedding host example when this tree has it).
cmake -S . -B build-tsan -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_WITH_MARIADB=ON -DARGENT_SANITIZE=thread
cmake --build build-tsan --target test_pool test_cancel -j "$jobs"
tsan_tests='^c_test_pool$|^c_test_cancel$'
tsan_targets=$(cmake --build build-tsan --target help 2>/dev/null || true)
if grep -Eq '(^|[[:space:]])argent-host-example([[:space:]:]|$)' <<<"$tsan_targets"; then
    cmake --build build-tsan --target argent-host-example -j "$jobs"
    tsan_tests='^c_test_pool$|^c_test_cancel$|^host_example'
fi
# The fuzzers (tests/fuzz/): clang's libFuzzer with ASan+UBSan, in build-fuzz/
# (warnings are gcc's business there: clang's are not errors).
CC=clang cmake -S . -B build-fuzz -DARGENT_WITH_SQLITE=ON -DARGENT_WITH_POSTGRES=ON -DARGENT_WITH_MARIADB=ON \
    -DARGENT_SANITIZE=ON -DARGENT_FUZZ=ON -DARGENT_WERROR=OFF
cmake --build build-fuzz --target argent_fuzzers -j "$jobs"

# 3. PostgreSQL on a private port, stopped and removed on any exit.  /tmp, not
# $TMPDIR: the server's user must reach it, and a unix socket path is short.
pg_dir=$(mktemp -d /tmp/argent-pg.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
stop_postgres() { scripts/pg.sh stop "$pg_dir" || true; }
my_dir=$(mktemp -d /tmp/argent-my.XXXXXX)
fault_pg_dir=$(mktemp -d /tmp/argent-fpg.XXXXXX)
fault_my_dir=$(mktemp -d /tmp/argent-fmy.XXXXXX)
topology_dir=$(mktemp -d /tmp/argent-topo.XXXXXX)
failover_dir=$(mktemp -d /tmp/argent-fail.XXXXXX)
# shellcheck disable=SC2317 # called by the trap
stop_servers() {
    stop_postgres
    scripts/mariadb.sh stop "$my_dir" || true
    scripts/pg.sh stop "$fault_pg_dir" || true
    scripts/mariadb.sh stop "$fault_my_dir" || true
    scripts/pgtopology.sh stop "$topology_dir" || true
    scripts/pgtopology.sh stop "$failover_dir" || true
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scripts/pg.sh start "$pg_dir" "$pg_port"
export ARGENT_TEST_PG_URL="postgresql://postgres@127.0.0.1:$pg_port/argent_test"
# ... and PostgreSQL beyond one server: primary, standby and PgBouncer (the
# pgbouncer runs of the suites, the replica tests), and a second primary and
# standby for the failover test alone (it stops that primary), started in
# the background while the MariaDB servers start (its system users exist by
# then: the first topology made them).
scripts/pgtopology.sh start "$topology_dir" "$extra_port"
export ARGENT_TEST_PG_PRIMARY_URL="postgresql://postgres@127.0.0.1:$extra_port/argent_test"
export ARGENT_TEST_PG_STANDBY_URL="postgresql://postgres@127.0.0.1:$((extra_port + 1))/argent_test"
export ARGENT_TEST_PGB_URL="postgresql://postgres@127.0.0.1:$((extra_port + 2))/argent_test"
scripts/pgtopology.sh start-pair "$failover_dir" $((extra_port + 3)) &
failover_pid=$!
# ... and MariaDB (scripts/mariadb.sh) likewise.
scripts/mariadb.sh start "$my_dir" "$my_port"
export ARGENT_TEST_MY_URL="mariadb://root@127.0.0.1:$my_port/argent_test"
# ... and one more of each for the fault tests alone: they restart them.
scripts/pg.sh start "$fault_pg_dir" "$fault_pg_port"
export ARGENT_FAULT_PG_URL="postgresql://postgres@127.0.0.1:$fault_pg_port/argent_test"
export ARGENT_FAULT_PG_DIR="$fault_pg_dir"
scripts/mariadb.sh start "$fault_my_dir" "$fault_my_port"
export ARGENT_FAULT_MY_URL="mariadb://root@127.0.0.1:$fault_my_port/argent_test"
export ARGENT_FAULT_MY_DIR="$fault_my_dir" ARGENT_FAULT_MY_PORT="$fault_my_port"
# (the failover pair, started in the background above)
wait "$failover_pid"
export ARGENT_FAILOVER_PG_DIR="$failover_dir"
export ARGENT_FAILOVER_PG_URL="postgresql://postgres@127.0.0.1:$((extra_port + 3)),127.0.0.1:$((extra_port + 4))/argent_test"

# 4. The suite, on each build.  Every run happens even when one fails; the
# TSan run (the threaded tests only) comes before the ASan run, whose summary
# ends the output.
# The soak (tests/soak/) for 2 minutes (ARGENT_SOAK_SECONDS), beside the
# other ASan tests.
export ARGENT_SOAK_SECONDS=${ARGENT_SOAK_SECONDS:-120}
status=0
# The Lua suites on the other Lua versions (without the two that do not depend
# on the Lua version and take long: the SQLAlchemy oracle, the misuse walk;
# and without the topology's suites -- PgBouncer's, test_topology's -- which
# share one PgBouncer database and one failover pair with the main run: two
# runs at once would promote the same standby),
# each in a database of its own on each server, all three at once and beside
# the main run: they mostly wait for the databases.
extra_db_script=$(mktemp /tmp/argent-dbs.XXXXXX.lua)
cat >"$extra_db_script" <<'LUA'
local argent = require "argent"
for _, url in ipairs(arg) do
    if not argent.database_exists(url) then argent.create_database(url) end
end
LUA
extra_pids=()
for lua in luajit 5.1 5.3; do
    dir=$(lua_build_dir "$lua")
    db="argent_test_${dir#build-}"
    build/argent run "$extra_db_script" "${ARGENT_TEST_PG_URL%/*}/$db" "${ARGENT_TEST_MY_URL%/*}/$db"
    ARGENT_TEST_PG_URL="${ARGENT_TEST_PG_URL%/*}/$db" ARGENT_TEST_MY_URL="${ARGENT_TEST_MY_URL%/*}/$db" \
        ctest --test-dir "$dir" -R '^lua_' -E 'against_sqlalchemy|test_misuse|pgbouncer|topology' --output-on-failure -j "$jobs" \
        >"$dir/lua-suites.log" 2>&1 &
    extra_pids+=("$!")
done
rm -f "$extra_db_script"
ctest --test-dir build --output-on-failure -j "$jobs" || status=1
for i in 0 1 2; do
    dir=$(lua_build_dir "$(echo luajit 5.1 5.3 | cut -d' ' -f$((i + 1)))")
    if wait "${extra_pids[$i]}"; then
        echo "$dir: the Lua suites passed ($(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$dir/lua-suites.log" | grep -Eo '[0-9]+$') runs)"
    else
        echo "$dir: the Lua suites FAILED ($dir/lua-suites.log):"
        grep -E 'Failed|Timeout|Exception|SEGFAULT' "$dir/lua-suites.log" | tail -n 40
        status=1
    fi
done
# Each fuzzer for a fixed time (ARGENT_FUZZ_SECONDS, 6 s), from the seeds
# of tests/fuzz/corpus/ and what earlier runs kept in build-fuzz/corpus/; a
# failing input is written to build-fuzz/<fuzzer>-crash-*.
fuzz_seconds=${ARGENT_FUZZ_SECONDS:-6}
for fuzzer in fuzz_compile fuzz_url fuzz_placeholders fuzz_json fuzz_pg_decode fuzz_my_decode; do
    mkdir -p "build-fuzz/corpus/$fuzzer"
    seeds=()
    if [ -d "tests/fuzz/corpus/$fuzzer" ]; then seeds=("tests/fuzz/corpus/$fuzzer"); fi
    if "build-fuzz/tests/fuzz/$fuzzer" -max_total_time="$fuzz_seconds" -max_len=512 \
        -artifact_prefix="build-fuzz/$fuzzer-" "build-fuzz/corpus/$fuzzer" "${seeds[@]}" \
        >"build-fuzz/$fuzzer.log" 2>&1; then
        echo "fuzz: $fuzzer: $(grep -a -o '#[0-9]*[[:space:]]*DONE' "build-fuzz/$fuzzer.log" | tr -dc 0-9) executions in ${fuzz_seconds} s, no failure"
    else
        echo "fuzz: $fuzzer FAILED (build-fuzz/$fuzzer.log):"
        tail -n 40 "build-fuzz/$fuzzer.log"
        status=1
    fi
done
TSAN_OPTIONS=halt_on_error=1 \
    ctest --test-dir build-tsan -R "$tsan_tests" --output-on-failure || status=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" || status=1
exit "$status"
