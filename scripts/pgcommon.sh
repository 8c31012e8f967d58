# pgcommon.sh -- what scripts/pg.sh and scripts/pgtopology.sh share, sourced
# by both after they define die (their own message prefix).

# The directory of PostgreSQL's server programs that holds every PROGRAM
# given: $PG_BINDIR, else PostgreSQL 15's Debian location, else what
# pg_config says, else Debian's newest.
pg_bindir() {
    local dir newest program found
    newest=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)
    for dir in "${PG_BINDIR:-}" /usr/lib/postgresql/15/bin \
        "$(pg_config --bindir 2>/dev/null || true)" "$newest"; do
        [ -n "$dir" ] || continue
        found=yes
        for program in "$@"; do
            [ -x "$dir/$program" ] || found=no
        done
        if [ "$found" = yes ]; then
            echo "$dir"
            return
        fi
    done
    die "PostgreSQL server programs ($*) not found; install postgresql-15 or set PG_BINDIR"
}

# The user that runs a server: as root, the system user $1 (created when
# missing: PostgreSQL and PgBouncer refuse to run as root); else oneself.
system_user() {
    local user=$1
    if [ "$(id -u)" -ne 0 ]; then
        id -un
        return
    fi
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" ||
            die "cannot create the system user $user"
    fi
    echo "$user"
}

# Runs a command as the user $1, from / so that a working directory the
# user cannot read does not matter.
as_user() {
    local user=$1
    shift
    if [ "$(id -un)" = "$user" ]; then
        (cd / && "$@")
    else
        (cd / && runuser -u "$user" -- "$@")
    fi
}
