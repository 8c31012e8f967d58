#!/usr/bin/env bash
# setup.sh -- the first command of the README: installs what is missing,
# builds argent in build/ and runs the blog example (examples/blog.lua), which
# uses SQLite unless DB_CONNECTION_STRING names another database.
#
#   bash scripts/setup.sh            (from anywhere)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/deps.sh

argent_install_deps
cmake -S . -B build
cmake --build build -j "${ARGENT_JOBS:-2}"
echo
echo "== build/argent run examples/blog.lua"
build/argent run examples/blog.lua
