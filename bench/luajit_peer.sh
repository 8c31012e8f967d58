#!/usr/bin/env bash
# luajit_peer.sh -- runs a peer benchmark program on LuaJIT (bench/peers_luajit.txt):
# builds the suite's hrtime module for LuaJIT into build-luajit/bench/ once,
# puts it first on LUA_CPATH, and runs the command (argent's programs through
# build-luajit/argent, LuaSQL/LuaDBI through luajit with Debian's 5.1 modules).
#   bash bench/luajit_peer.sh COMMAND [ARGS...]      (from the repository root)
set -euo pipefail
peers=${PEERS_DIR:-/work/shared/bench/peers}
out=build-luajit/bench
if [ ! -f "$out/hrtime.so" ]; then
    mkdir -p "$out"
    cc -O2 -Wall -shared -fPIC $(pkg-config --cflags luajit) -o "$out/hrtime.so" "$peers/hrtime.c"
fi
export LUA_CPATH="$out/?.so;;"
exec "$@"
