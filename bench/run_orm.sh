#!/usr/bin/env bash
# run_orm.sh -- argent's ORM against raw C on a SQLite file, the ORM issue's
# closing-note benchmark (orm_sqlite.lua vs c_sqlite_orm.c; see compare_c.sh
# and bench/README.md).
#
# usage: bench/run_orm.sh [N=100000] [REPEATS=3]
exec bash "$(dirname "$0")/compare_c.sh" orm "${1:-100000}" "${2:-3}"
