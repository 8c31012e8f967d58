#!/usr/bin/env bash
# pg.sh -- a throwaway PostgreSQL server for the tests.
#
#   scripts/pg.sh start DIR PORT   initdb in DIR (if needed), start on 127.0.0.1:PORT,
#                                  wait until it accepts connections, create argent_test
#   scripts/pg.sh stop DIR         stop the server of DIR and remove DIR (safe to repeat)
#   scripts/pg.sh restart DIR      stop the server of DIR (fast: sessions are cut) and start it
#                                  again, keeping its data (the fault tests, tests/fault/)
#
# The server trusts every local connection (user postgres, no password), keeps
# its unix socket in DIR and runs with fsync=off: it is for tests only.
# PostgreSQL refuses to run as root, so as root it runs as the system user
# argent-pg ($ARGENT_PG_USER; created when missing); as anyone else it runs as that user.
# `start` prints nothing unless something fails.
set -euo pipefail

PG_USER=${ARGENT_PG_USER:-argent-pg} # the system user that runs the server (when root)
READY_TIMEOUT=60 # seconds to wait for the server to accept connections

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

# pg_bindir, system_user, as_user
. "$(dirname "${BASH_SOURCE[0]}")/pgcommon.sh"

# The last lines of the server log, to explain a failure.
show_log() {
    local log=$1
    if [ -r "$log" ]; then
        echo "pg.sh: last lines of $log:" >&2
        tail -n 20 "$log" >&2
    fi
}

start() {
    local dir=$1 port=$2
    case "$port" in
    '' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
    esac
    local bindir user log
    bindir=$(pg_bindir initdb pg_ctl)
    user=$(system_user "$PG_USER")
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd) # absolute: the server runs from /
    log="$dir/server.log"
    chown "$user" "$dir"
    chmod 700 "$dir"
    as_user "$user" test -w "$dir" ||
        die "$user cannot write to $dir (is a parent directory closed to it?)"

    if [ ! -f "$dir/PG_VERSION" ]; then
        local out
        out=$(as_user "$user" "$bindir/initdb" -D "$dir" -A trust -U postgres \
            --encoding=UTF8 --locale=C --no-sync 2>&1) || {
            echo "$out" >&2
            die "initdb failed in $dir"
        }
        cat >>"$dir/postgresql.conf" <<EOF

# --- added by scripts/pg.sh: a throwaway server for tests ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    else
        # An existing server directory: it may have been made for another port.
        sed -i "s/^port = .*/port = $port/" "$dir/postgresql.conf"
    fi

    if ! as_user "$user" "$bindir/pg_ctl" -D "$dir" -l "$log" -w -t "$READY_TIMEOUT" -s start; then
        show_log "$log"
        die "the server in $dir did not start (port $port in use?)"
    fi

    local waited=0
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
        if [ "$waited" -ge $((READY_TIMEOUT * 5)) ]; then
            show_log "$log"
            die "the server in $dir does not accept connections on 127.0.0.1:$port after ${READY_TIMEOUT}s"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done

    local exists
    exists=$("$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -XtAq \
        -c "SELECT 1 FROM pg_database WHERE datname = 'argent_test'") ||
        die "cannot query the server on 127.0.0.1:$port"
    if [ "$exists" != 1 ]; then
        "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres argent_test ||
            die "cannot create the database argent_test"
    fi
}

stop() {
    local dir=$1
    [ -e "$dir" ] || return 0 # already stopped and removed
    if [ -f "$dir/PG_VERSION" ]; then
        local bindir user status=0
        bindir=$(pg_bindir initdb pg_ctl)
        user=$(stat -c %U "$dir")
        as_user "$user" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1 || status=$?
        if [ "$status" -eq 0 ]; then # running
            as_user "$user" "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 -s stop ||
                as_user "$user" "$bindir/pg_ctl" -D "$dir" -m immediate -w -t 60 -s stop ||
                die "cannot stop the server in $dir"
        fi
        rm -rf -- "$dir"
    elif [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
        rmdir -- "$dir" # start failed before initdb
    else
        die "$dir is not a PostgreSQL data directory; not removing it"
    fi
}

restart() {
    local dir=$1 bindir user
    [ -f "$dir/PG_VERSION" ] || die "$dir is not a PostgreSQL data directory"
    bindir=$(pg_bindir initdb pg_ctl)
    user=$(stat -c %U "$dir")
    as_user "$user" "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w -t "$READY_TIMEOUT" -s restart ||
        {
            show_log "$dir/server.log"
            die "the server in $dir did not restart"
        }
}

usage() {
    echo "usage: $0 start DIR PORT | stop DIR | restart DIR" >&2
    exit 2
}

case "${1:-}" in
start)
    [ $# -eq 3 ] || usage
    start "$2" "$3"
    ;;
stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
restart)
    [ $# -eq 2 ] || usage
    restart "$2"
    ;;
*) usage ;;
esac
