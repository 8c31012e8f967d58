#!/usr/bin/env bash
# run_core.sh -- argent's Core layer against raw C on a SQLite file
# (core_sqlite.lua vs c_sqlite_core.c; see compare_c.sh and bench/README.md).
#
# usage: bench/run_core.sh [N=100000] [REPEATS=5]   (about 20 s at the defaults)
exec bash "$(dirname "$0")/compare_c.sh" core "${1:-100000}" "${2:-5}"
