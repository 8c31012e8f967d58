#!/usr/bin/env bash
# test_cli.sh ARGENT -- checks of the argent command: arg table, errors, exit codes, paths, GC mode.
set -uo pipefail
A=$1; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1" >&2; fi; }
cd "$T"
echo 'print(select("#", ...), ...); print(arg[-1], arg[-2] ~= nil, arg[0], arg[1], arg[2])' > args.lua
check "args" '[ "$($A run args.lua a "b c")" = "$(printf "2\ta\tb c\nrun\ttrue\targs.lua\ta\tb c")" ]'
echo 'error(setmetatable({}, {__tostring = function() return "IntegrityError: x" end}))' > eobj.lua
out=$($A run eobj.lua 2>&1); rc=$?
check "error object exit 1" '[ $rc -eq 1 ]'
check "error object text" '[[ "$out" == "argent: IntegrityError: x"$'"'"'\n'"'"'"stack traceback:"* ]]'
echo 'error({})' > etab.lua
check "plain table" '[[ "$($A run etab.lua 2>&1)" == "argent: (error object is a table value)"* ]]'
echo 'os.exit(7)' > exit7.lua; $A run exit7.lua; rc=$?
check "os.exit(7)" '[ $rc -eq 7 ]'
echo 'setmetatable({}, {__gc = function() print("gc") end})' > gc.lua
check "__gc at close" '[ "$($A run gc.lua)" = gc ]'
mkdir x; echo 'return "xmod"' > x/xmod.lua; echo 'print((require "xmod"))' > req.lua
check "LUA_PATH" '[ "$(LUA_PATH="$T/x/?.lua;;" $A run req.lua)" = xmod ]'
echo 'print(V)' > init.lua
check "LUA_INIT" '[ "$(LUA_INIT="V=1" $A run init.lua)" = 1 ]'
echo 'print(collectgarbage("incremental"))' > gen.lua
check "generational" '[ "$($A run gen.lua)" = generational ]'
$A run - 2>/dev/null; rc=$?; check "run - is usage" '[ $rc -eq 2 ]'
$A run 2>/dev/null; rc=$?; check "run without FILE" '[ $rc -eq 2 ]'
$A nope 2>/dev/null; rc=$?; check "unknown command" '[ $rc -eq 2 ]'
check "help" '$A help | grep -q "migrate \[-d DIR\] COMMAND"'
check "help lists repl and schema" '$A help | grep -q "^  repl " && $A help | grep -q "^  schema "'
check "version" '[[ "$($A --version)" =~ ^argent\ [0-9.]+\ \(Lua\ 5\.4\.[0-9]+\)$ ]]'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
