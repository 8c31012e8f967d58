#!/usr/bin/env bash
# mariadb.sh -- a throwaway MariaDB server for the tests.
#
#   scripts/mariadb.sh start DIR PORT   install a data directory in DIR/data (if needed),
#                                       start the server on 127.0.0.1:PORT, wait until it
#                                       answers, create the database argent_test (utf8mb4)
#   scripts/mariadb.sh stop DIR         stop the server of DIR and remove DIR (safe to repeat)
#   scripts/mariadb.sh restart DIR PORT stop the server of DIR and start it again, keeping
#                                       its data (the fault tests, tests/fault/)
#
# root has an empty password over TCP ("normal" authentication, grants kept);
# the socket, pid file and log live in DIR.  The server trades durability for
# speed (no binary log, the InnoDB log flushed once a second, a 64 MB buffer
# pool): it is for tests only.  Recursive CTEs may run past Debian's default
# of 1000 iterations (the suites generate rows with them; MariaDB stops such a
# query early with a mere warning).  It runs as the system user mysql (the Debian
# package creates it), which must own DIR.  The server is stopped by the pid
# in its pid file, never by process name, so other MariaDB servers on the
# machine are left alone.  `start` prints nothing unless something fails.
set -euo pipefail

MY_USER=mysql
READY_TIMEOUT=60 # seconds to wait for the server to answer
STOP_TIMEOUT=60  # seconds to wait for it to exit

die() {
    echo "mariadb.sh: $*" >&2
    exit 1
}

show_log() {
    local log=$1
    if [ -r "$log" ]; then
        echo "mariadb.sh: last lines of $log:" >&2
        tail -n 20 "$log" >&2
    fi
}

# The pid in DIR's pid file when that process is alive, else nothing.
running_pid() {
    local dir=$1 pid
    [ -r "$dir/mysqld.pid" ] || return 0
    pid=$(cat "$dir/mysqld.pid" 2>/dev/null || true)
    case "$pid" in
    '' | *[!0-9]*) return 0 ;;
    esac
    if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

start() {
    local dir=$1 port=$2
    case "$port" in
    '' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
    esac
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] ||
        die "mariadbd not found; install mariadb-server"
    local mariadbd
    mariadbd=$(command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd)
    id "$MY_USER" >/dev/null 2>&1 || die "the system user $MY_USER does not exist (install mariadb-server)"

    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd) # absolute: the server's paths must not depend on our directory
    local log="$dir/server.log" sock="$dir/mysqld.sock"
    [ ${#sock} -lt 100 ] || die "DIR is too long for a unix socket path: $sock"
    if [ -n "$(running_pid "$dir")" ]; then
        die "a server of $dir is already running"
    fi
    chown "$MY_USER" "$dir"
    chmod 700 "$dir"

    if [ ! -d "$dir/data/mysql" ]; then
        local out
        out=$(mariadb-install-db --user="$MY_USER" --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db 2>&1) || {
            echo "$out" >&2
            die "mariadb-install-db failed in $dir/data"
        }
        chown -R "$MY_USER" "$dir/data"
    fi

    # --no-defaults would lose nothing we need, but Debian's /etc/mysql only
    # sets utf8mb4 as the server charset, which is what we want anyway.
    setsid "$mariadbd" --user="$MY_USER" --datadir="$dir/data" --port="$port" \
        --bind-address=127.0.0.1 --socket="$sock" --pid-file="$dir/mysqld.pid" \
        --log-error="$log" --innodb-buffer-pool-size=64M \
        --innodb-flush-log-at-trx-commit=0 --skip-log-bin \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --max-recursive-iterations=4294967295 \
        </dev/null >/dev/null 2>&1 &
    # Asked through our own socket first: another server on the port must not
    # pass for ours (ours then fails to bind and exits).
    local waited=0
    until mariadb-admin --no-defaults --socket="$sock" -u root --connect-timeout=2 \
        ping >/dev/null 2>&1 &&
        mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" -u root \
            --connect-timeout=2 ping >/dev/null 2>&1; do
        if [ "$waited" -ge $((READY_TIMEOUT * 5)) ] || ! kill -0 $! 2>/dev/null; then
            show_log "$log"
            die "the server in $dir does not answer on 127.0.0.1:$port (port in use?)"
        fi
        sleep 0.2
        waited=$((waited + 1))
    done

    mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" -u root -e \
        "CREATE DATABASE IF NOT EXISTS argent_test CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci" ||
        die "cannot create the database argent_test"
}

# Stops the server of DIR (by its pid file) and waits until it is gone.
stop_server() {
    local dir=$1 pid waited=0
    pid=$(running_pid "$dir")
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge $((STOP_TIMEOUT * 5)) ]; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
}

stop() {
    local dir=$1
    [ -e "$dir" ] || return 0 # already stopped and removed
    if [ -d "$dir/data" ] || [ -f "$dir/mysqld.pid" ]; then
        stop_server "$dir"
        rm -rf -- "$dir"
    elif [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ]; then
        rmdir -- "$dir" # start failed before the data directory was made
    else
        die "$dir is not a MariaDB directory of this script; not removing it"
    fi
}

usage() {
    echo "usage: $0 start DIR PORT | stop DIR | restart DIR PORT" >&2
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
    [ $# -eq 3 ] || usage
    [ -d "$2/data/mysql" ] || die "$2 is not a MariaDB directory of this script"
    stop_server "$2"
    start "$2" "$3"
    ;;
*) usage ;;
esac
