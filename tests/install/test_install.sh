#!/usr/bin/env bash
# test_install.sh -- installing argent as users do (API.md section 10):
#   1. `cmake --install BUILD --prefix P`, then from outside the repository:
#      the installed `argent` command, plain `lua` with the installed module,
#      a C host built with `pkg-config --cflags --libs argent` and another
#      with find_package(argent), both running a query;
#   2. `luarocks make --tree T` from the source tree, then plain `lua` and the
#      tree's `argent` command; and the rock for 5.1 with lua5.1 and luajit.
#   bash tests/install/test_install.sh BUILD_DIR LUA_ABI LUA_PROGRAM
set -euo pipefail
build=$(cd "$1" && pwd)
abi=$2
lua=$3
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d /tmp/argent-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/argent "lib/lua/$abi/argent/core.so" "share/lua/$abi/argent/init.lua" include/argent.h \
         lib/libargent.so lib/libargent.a lib/pkgconfig/argent.pc lib/cmake/argent/argentConfig.cmake; do
    [ -e "$prefix/$f" ] || fail "cmake --install did not install $f"
done

cd "$work" # nothing of the repository on any path from here
cat > query.lua <<'LUA'
local argent = require "argent"
local engine = argent.create_engine("sqlite:///" .. os.getenv("WORK") .. "/q.db")
local conn = engine:connect()
print("query: " .. conn:execute("SELECT ? * 2 AS x", {21}):scalar())
print("from: " .. (package.searchpath and package.searchpath("argent", package.path) or "?")) -- 5.2+
conn:close()
LUA
export WORK=$work
expect() { # expect OUTPUT PATTERN WHAT
    grep -q -- "$2" <<<"$1" || fail "$3: expected '$2' in: $1"
}
out=$("$prefix/bin/argent" run query.lua)
expect "$out" "query: 42" "installed argent run"
expect "$out" "from: $prefix/share/lua/$abi/argent/init.lua" "installed argent run"
out=$(LUA_PATH="$prefix/share/lua/$abi/?.lua;$prefix/share/lua/$abi/?/init.lua;;" \
      LUA_CPATH="$prefix/lib/lua/$abi/?.so;;" "$lua" query.lua)
expect "$out" "query: 42" "$lua with the installed module"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046 # pkg-config's flags are words
cc -o host_pc "$src/tests/install/host.c" $(pkg-config --cflags --libs argent)
out=$(LD_LIBRARY_PATH=$prefix/lib ./host_pc "sqlite://" "$prefix/share/lua/$abi")
expect "$out" "c: 42" "pkg-config host"
expect "$out" "lua: 43" "pkg-config host"

cmake -S "$src/tests/install" -B host_cmake -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build host_cmake >/dev/null
out=$(LD_LIBRARY_PATH=$prefix/lib host_cmake/host "sqlite://" "$prefix/share/lua/$abi")
expect "$out" "c: 42" "find_package host"
expect "$out" "lua: 43" "find_package host"

# LuaRocks: builds from the source tree in its own directory (build.luarocks)
if command -v luarocks >/dev/null 2>&1; then
    tree=$work/tree
    (cd "$src" && luarocks --lua-version "$abi" make --tree "$tree" >"$work/luarocks.log" 2>&1) ||
        { cat "$work/luarocks.log" >&2; fail "luarocks make failed"; }
    out=$(eval "$(luarocks --lua-version "$abi" --tree "$tree" path)" && "$lua" query.lua)
    expect "$out" "query: 42" "$lua with the rock"
    expect "$out" "from: $tree/share/lua/$abi/argent/init.lua" "$lua with the rock"
    out=$("$tree/bin/argent" run query.lua)
    expect "$out" "query: 42" "the rock's argent run"
    # ... and the rock for Lua 5.1, which plain lua5.1 and LuaJIT both load
    # (API.md section 10; LuaRocks' build directory then builds for 5.1 once)
    if [ "$abi" != 5.1 ] && command -v lua5.1 >/dev/null && command -v luajit >/dev/null &&
        luarocks --lua-version 5.1 config variables.LUA_INCDIR >/dev/null 2>&1; then
        tree51=$work/tree51
        (cd "$src" && luarocks --lua-version 5.1 make --tree "$tree51" >"$work/luarocks51.log" 2>&1) ||
            { cat "$work/luarocks51.log" >&2; fail "luarocks --lua-version 5.1 make failed"; }
        for lua51 in lua5.1 luajit; do
            out=$(eval "$(luarocks --lua-version 5.1 --tree "$tree51" path)" && "$lua51" query.lua)
            expect "$out" "query: 42" "$lua51 with the 5.1 rock"
        done
    fi
else
    echo "test_install: luarocks is not installed: the rock was not tried" >&2
    exit 77
fi
echo "test_install: cmake --install, argent, $lua, pkg-config and find_package hosts, luarocks make: ok"
