# shellcheck shell=bash
# deps.sh -- the Debian packages argent needs to build and test, and the one
# function that installs the missing ones.  Sourced by scripts/setup.sh and
# scripts/test.sh (not run on its own).

ARGENT_DEBIAN_PACKAGES=(
    build-essential cmake pkg-config # compiler and build
    lua5.4 liblua5.4-dev lua-unit    # Lua 5.4 and the test framework
    lua5.1 liblua5.1-0-dev lua5.3 liblua5.3-dev # the other Lua versions (API.md section 10)
    luajit2 libluajit2-5.1-dev       # ... and LuaJIT (OpenResty's branch)
    luarocks                         # `luarocks make` (tests/install)
    libsqlite3-dev libpq-dev         # the database client libraries
    sqlite3                          # the shell: another process on a test database
    libmariadb-dev                   # ... MariaDB Connector/C
    postgresql                       # the server the tests start (scripts/pg.sh)
    mariadb-server                   # ... and scripts/mariadb.sh
    libjansson-dev                   # JSON in C
    libedit-dev                      # the REPL's line editing (readline interface, BSD licence)
    tmux                             # the REPL's terminal tests (tests/cli/test_repl_tty.sh)
    graphviz                         # argent schema --format svg (its dot draws the picture)
    clang                            # a second compiler
    clang-format                     # scripts/test.sh checks the C's format (.clang-format)
    libclang-rt-14-dev               # ... with libFuzzer (tests/fuzz)
    python3-alembic python3-psycopg2 python3-pymysql # Alembic, the reference of migrate's tests and bench
    python3-sqlalchemy               # the ORM's oracle (tests/lua/orm/test_against_sqlalchemy.lua)
)

# Installs the packages of ARGENT_DEBIAN_PACKAGES that are not installed.
# Non-interactive (works with CI=true and no stdin); runs `apt-get update`
# once, and only when something is missing.  Needs root (or sudo) then.
argent_install_deps() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "deps.sh: not a Debian system; make sure these are installed:" \
            "${ARGENT_DEBIAN_PACKAGES[*]}" >&2
        return 0
    fi
    local missing=() package
    for package in "${ARGENT_DEBIAN_PACKAGES[@]}"; do
        # Not `dpkg -s` alone: it succeeds for a removed package whose config files remain.
        if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "deps.sh: missing packages, and not root: apt-get install ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    echo "deps.sh: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" </dev/null
}
