#!/usr/bin/env bash
# compare_c.sh -- argent against raw C on a SQLite file, one pair of programs:
# bench/c_sqlite_<KIND>.c and bench/<KIND>_sqlite.lua (KIND = core or orm;
# run_core.sh and run_orm.sh call this).  Builds the C program and the hrtime
# Lua module (a monotonic clock), runs C and argent alternately REPEATS times
# each (the database file is deleted before every run), checks that both
# print the same checksums, and prints the median seconds per workload with
# the ratio argent/C.
#
# usage: bench/compare_c.sh KIND [N=100000] [REPEATS=5]
#   env: ARGENT=<argent binary> (default: build/argent of this tree)
#        BENCH_BUILD=<dir for the compiled helpers> (default /tmp/argent-bench-KIND-build)
#        DBFILE=<database file> (default /tmp/argent-bench-KIND.db)
set -euo pipefail

KIND=${1:?usage: compare_c.sh core|orm [N] [REPEATS]}
case "$KIND" in core | orm) ;; *) echo "compare_c.sh: KIND must be core or orm, not '$KIND'" >&2; exit 2 ;; esac
N=${2:-100000}
REPEATS=${3:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ARGENT=${ARGENT:-$ROOT/build/argent}
BUILD=${BENCH_BUILD:-/tmp/argent-bench-$KIND-build}
DBFILE=${DBFILE:-/tmp/argent-bench-$KIND.db}
HRTIME_SRC=${HRTIME_SRC:-/work/shared/bench/peers/hrtime.c}

[ -x "$ARGENT" ] || { echo "compare_c.sh: no argent binary at $ARGENT (set ARGENT=...)" >&2; exit 1; }

mkdir -p "$BUILD"
cc -O2 -Wall -Wextra -o "$BUILD/c_sqlite_$KIND" "$HERE/c_sqlite_$KIND.c" -lsqlite3
# shellcheck disable=SC2046  # the flags are meant to split into words
cc -O2 -Wall -shared -fPIC $(pkg-config --cflags lua5.4) -o "$BUILD/hrtime.so" "$HRTIME_SRC"
export LUA_CPATH="$BUILD/?.so;;"

RAW="$BUILD/raw.txt"
: > "$RAW"
fresh_db() { rm -f "$DBFILE" "$DBFILE-wal" "$DBFILE-shm" "$DBFILE-journal"; }

for _ in $(seq 1 "$REPEATS"); do
  fresh_db
  "$BUILD/c_sqlite_$KIND" "$DBFILE" "$N" | tee -a "$RAW"
  fresh_db
  "$ARGENT" run "$HERE/${KIND}_sqlite.lua" "$DBFILE" "$N" | tee -a "$RAW"
done
fresh_db

# medians, ratio, checksum agreement
awk -v reps="$REPEATS" '
  function median(key,   n, i, j, tmp, a) {
    n = cnt[key]
    for (i = 1; i <= n; i++) a[i] = t[key, i]
    for (i = 2; i <= n; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] > tmp; j--) a[j + 1] = a[j]; a[j + 1] = tmp }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    sys = $1; w = $2; key = sys SUBSEP w
    t[key, ++cnt[key]] = $3
    rows[w] = $4
    if (!(w in order)) { order[w] = ++nw; names[nw] = w }
    if (w in chk && chk[w] != $5) { printf "CHECKSUM MISMATCH in %s: %s vs %s (%s)\n", w, chk[w], $5, sys; bad = 1 }
    chk[w] = $5
  }
  END {
    printf "\n| workload | rows | checksum | c (s) | argent (s) | argent/C |\n|---|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= nw; i++) {
      w = names[i]; c = median("c" SUBSEP w); a = median("argent" SUBSEP w)
      printf "| %s | %d | %s | %.4f | %.4f | %.2fx |\n", w, rows[w], chk[w], c, a, (c > 0 ? a / c : 0)
    }
    printf "\n(median of %d runs each, interleaved)\n", reps
    exit bad
  }' "$RAW"
