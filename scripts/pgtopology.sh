#!/usr/bin/env bash
# pgtopology.sh -- PostgreSQL beyond one server, for the tests (API.md section 11):
# a primary, a streaming standby of it and PgBouncer in front of the primary,
# each run by its own system user on 127.0.0.1.
#
#   scripts/pgtopology.sh start DIR PORT   primary on PORT (DIR/primary, user argent-pg),
#                                          standby on PORT+1 (DIR/standby, pg_basebackup -R,
#                                          user argent-pgs), PgBouncer on PORT+2 (DIR/bouncer,
#                                          pool_mode = transaction, 2 server connections,
#                                          user argent-pgb); waits until each answers
#   scripts/pgtopology.sh start-pair DIR PORT   the primary and the standby only
#   scripts/pgtopology.sh stop DIR         stops them all and removes DIR (safe to repeat)
#   scripts/pgtopology.sh promote DIR      stops the primary (immediate) and promotes the
#                                          standby (the failover test)
#
# Like scripts/pg.sh, every server trusts local connections (user postgres)
# and is for tests only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STANDBY_USER=argent-pgs
BOUNCER_USER=argent-pgb

die() {
    echo "pgtopology.sh: $*" >&2
    exit 1
}

# pg_bindir, system_user, as_user
. scripts/pgcommon.sh

start() {
    local dir=$1 port=$2 bouncer=$3
    case "$port" in
    '' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
    esac
    local bin standby_user bouncer_user
    bin=$(pg_bindir pg_basebackup pg_ctl)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"

    # 1. The primary (its default wal_level and pg_hba allow replication from 127.0.0.1).
    scripts/pg.sh start "$dir/primary" "$port"

    # 2. The standby: a base backup that streams from the primary (-R writes
    # primary_conninfo and standby.signal), on its own port and socket.
    standby_user=$(system_user "$STANDBY_USER")
    if [ ! -f "$dir/standby/PG_VERSION" ]; then
        mkdir -p "$dir/standby"
        chown "$standby_user" "$dir/standby"
        chmod 700 "$dir/standby"
        local out # (it warns of the primary's socket file, which it skips)
        out=$(as_user "$standby_user" "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres \
            -D "$dir/standby" -R -X stream -c fast 2>&1) || {
            echo "$out" >&2
            die "pg_basebackup from 127.0.0.1:$port failed"
        }
        sed -i "s|^unix_socket_directories = .*|unix_socket_directories = '$dir/standby'|" \
            "$dir/standby/postgresql.conf"
        rm -f "$dir/standby/server.log"
    fi
    ARGENT_PG_USER=$STANDBY_USER scripts/pg.sh start "$dir/standby" $((port + 1))

    [ "$bouncer" = yes ] || return 0
    # 3. PgBouncer in transaction mode, two server connections to the primary.
    bouncer_user=$(system_user "$BOUNCER_USER")
    mkdir -p "$dir/bouncer"
    chown "$bouncer_user" "$dir/bouncer"
    chmod 700 "$dir/bouncer"
    cat >"$dir/bouncer/pgbouncer.ini" <<CONF
[databases]
argent_test = host=127.0.0.1 port=$port dbname=argent_test
postgres = host=127.0.0.1 port=$port dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $((port + 2))
unix_socket_dir =
auth_type = trust
auth_file = $dir/bouncer/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 500
server_reset_query =
logfile = $dir/bouncer/pgbouncer.log
pidfile = $dir/bouncer/pgbouncer.pid
CONF
    echo '"postgres" ""' >"$dir/bouncer/userlist.txt"
    chown "$bouncer_user" "$dir/bouncer/pgbouncer.ini" "$dir/bouncer/userlist.txt"
    as_user "$bouncer_user" pgbouncer -d -q "$dir/bouncer/pgbouncer.ini" ||
        die "pgbouncer did not start (port $((port + 2)) in use?)"
    local waited=0
    until "$bin/pg_isready" -q -h 127.0.0.1 -p $((port + 2)) -U postgres -d argent_test; do
        [ "$waited" -lt 100 ] || die "pgbouncer does not answer on 127.0.0.1:$((port + 2))"
        sleep 0.1
        waited=$((waited + 1))
    done
}

stop_bouncer() {
    local dir=$1 pid
    if [ -f "$dir/bouncer/pgbouncer.pid" ]; then
        pid=$(cat "$dir/bouncer/pgbouncer.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -rf -- "$dir/bouncer"
}

stop() {
    local dir=$1
    [ -e "$dir" ] || return 0
    stop_bouncer "$dir"
    scripts/pg.sh stop "$dir/standby" || true
    scripts/pg.sh stop "$dir/primary" || true
    rmdir -- "$dir" 2>/dev/null || true
}

promote() {
    local dir=$1 bin user
    bin=$(pg_bindir pg_basebackup pg_ctl)
    user=$(stat -c %U "$dir/primary")
    as_user "$user" "$bin/pg_ctl" -D "$dir/primary" -m immediate -w -s stop || die "cannot stop the primary"
    user=$(stat -c %U "$dir/standby")
    as_user "$user" "$bin/pg_ctl" -D "$dir/standby" -w -s promote || die "cannot promote the standby"
}

usage() {
    echo "usage: $0 start DIR PORT | start-pair DIR PORT | stop DIR | promote DIR" >&2
    exit 2
}

case "${1:-}" in
start)
    [ $# -eq 3 ] || usage
    start "$2" "$3" yes
    ;;
start-pair)
    [ $# -eq 3 ] || usage
    start "$2" "$3" no
    ;;
stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
promote)
    [ $# -eq 2 ] || usage
    promote "$2"
    ;;
*) usage ;;
esac
