#!/usr/bin/env bash
# pgbouncer.sh -- what a transaction-mode pooler costs (API.md section 11):
# workloads W1-W4 of the peer suite (bench/peers_core.lua, argent's Core) on
# PostgreSQL directly, directly with prepare = false, and through PgBouncer
# (pool_mode = transaction) with prepare = false; medians of REPEATS runs and
# each one's ratio to the direct connection.
#
#   bench/pgbouncer.sh [N=20000] [REPEATS=3]      (from the repository root,
#                                                  after building build/)
#
# Starts its own primary, standby and PgBouncer (scripts/pgtopology.sh) on
# ports ARGENT_BENCH_PORT (default 56100) to +2, stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${1:-20000}
REPEATS=${2:-3}
port=${ARGENT_BENCH_PORT:-56100}
work=$(mktemp -d /tmp/argent-bench-pgb.XXXXXX)
topology="$work/topology"
chmod 755 "$work" # the servers' users reach their directories inside
trap 'scripts/pgtopology.sh stop "$topology" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# the suite's monotonic clock, as shared/bench/peers/run.sh builds it
hrtime=${HRTIME_C:-../shared/bench/peers/hrtime.c}
[ -f "$hrtime" ] || hrtime=/work/shared/bench/peers/hrtime.c
cc -O2 -shared -fPIC $(pkg-config --cflags lua5.4) "$hrtime" -o "$work/hrtime.so"
export LUA_CPATH="$work/?.so;;"

scripts/pgtopology.sh start "$topology" "$port"
direct="postgresql://postgres@127.0.0.1:$port/argent_test"
bouncer="postgresql://postgres@127.0.0.1:$((port + 2))/argent_test"

run() { # label url [prepare=false]
    build/argent run bench/peers_core.lua "$2" "$N" "$1" ${3:-} 2>/dev/null | awk '$2 ~ /^W[1-4]$/'
}
for _ in $(seq "$REPEATS"); do
    run direct "$direct"
    run direct-noprepare "$direct" prepare=false
    run pgbouncer-noprepare "$bouncer" prepare=false
done >"$work/times"

echo "W1-W4 of bench/peers_core.lua, N=$N, median of $REPEATS (seconds; ratio to direct)"
awk '
{ t[$1 " " $2] = t[$1 " " $2] " " $3; labels[$1] = 1; works[$2] = 1 }
function median(list,   a, n, i, j, x) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
    split("direct direct-noprepare pgbouncer-noprepare", order, " ")
    printf "%-4s", "";
    for (k = 1; k <= 3; k++) printf " %28s", order[k]
    printf "\n"
    for (w = 1; w <= 4; w++) {
        name = "W" w
        base = median(t["direct " name])
        printf "%-4s", name
        for (k = 1; k <= 3; k++) {
            m = median(t[order[k] " " name])
            printf " %18.4f (%5.2fx)", m, m / base
        }
        printf "\n"
    }
}' "$work/times"
