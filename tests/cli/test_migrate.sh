#!/usr/bin/env bash
# test_migrate.sh ARGENT -- `argent migrate` (API.md section 9.3) as a user runs
# it: the seed's workflow (init, env.lua pointing at models/blog.lua, revision
# --autogenerate, upgrade, a model change and its revision, check), every
# command's output and exit status (0 done, 1 failed, 2 usage), and bad
# input.  On a SQLite file, then the workflow again on PostgreSQL and MariaDB
# when ARGENT_TEST_PG_URL / ARGENT_TEST_MY_URL are set (a database of its own
# on each server; not under ASan).  Run from the repository root (models/ is copied).
set -uo pipefail
A=$1
SRC=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
# run CMD...: runs argent with its output in $T/out, $T/err and the status in rc
run() {
    "$A" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
out() { cat "$T/out"; }
err() { cat "$T/err"; }

cd "$T"
cp -r "$SRC/models" models
unset DB_CONNECTION_STRING

# ---- usage and help
run migrate --help
check "--help exits 0" '[ $rc -eq 0 ]'
check "--help prints the usage" 'out | grep -q "usage: argent migrate"'
run help migrate
check "help migrate" '[ $rc -eq 0 ] && out | grep -q "revision -m MSG"'
run migrate
check "no command is a usage error" '[ $rc -eq 2 ] && err | grep -q "missing COMMAND" && err | grep -q "usage:"'
run migrate nope
check "unknown command" '[ $rc -eq 2 ] && err | grep -q "unknown command .nope."'
run migrate revision
check "revision without -m" '[ $rc -eq 2 ] && err | grep -q "revision needs -m MSG"'
run migrate upgrade --bogus
check "unknown option" '[ $rc -eq 2 ] && err | grep -q "unknown option .--bogus."'
run migrate upgrade head extra
check "extra argument" '[ $rc -eq 2 ] && err | grep -q "unexpected argument .extra."'
run migrate current --sql
check "an option the command does not take" '[ $rc -eq 2 ]'
run migrate -d
check "-d without a value" '[ $rc -eq 2 ] && err | grep -q "needs a value"'
run migrate show
check "show needs a revision" '[ $rc -eq 2 ]'
run migrate heads
check "no migrations directory fails" '[ $rc -eq 1 ] && err | grep -q "no migrations directory .migrations."'

# ---- the seed's workflow on SQLite
run migrate init
check "init" '[ $rc -eq 0 ] && [ -f migrations/env.lua ] && [ -d migrations/versions ] && out | grep -q "migrations/env.lua"'
run migrate init
check "init twice fails" '[ $rc -eq 1 ] && err | grep -q "exists already"'
run migrate current
check "no URL is a usage error" '[ $rc -eq 2 ] && err | grep -q "no database"'
cat >migrations/env.lua <<'EOF'
local models = require "models.blog"
return {url = "sqlite:///blog.db", target_metadata = models.Base.metadata}
EOF
run migrate revision --autogenerate -m "blog"
first=$(out)
check "revision --autogenerate prints the file" '[ $rc -eq 0 ] && [ -f "$first" ] && err | grep -q "add table users"'
check "the first revision creates the tables" 'grep -q "op.create_table(\"posts\"" "$first"'
run migrate upgrade
check "upgrade" '[ $rc -eq 0 ] && err | grep -q "upgrading to"'
rev1=$(basename "$first" | cut -d_ -f1)
run migrate current
check "current prints the id" '[ $rc -eq 0 ] && [ "$(out)" = "$rev1" ]'
run migrate heads
check "heads" '[ "$(out)" = "$rev1" ]'
run migrate history
check "history" '[ "$(out)" = "<base> -> $rev1 (head), blog" ]'
run migrate check
check "check passes" '[ $rc -eq 0 ] && out | grep -q "^ok"'
run migrate revision --autogenerate -m "nothing"
check "no change, no revision" '[ $rc -eq 0 ] && [ -z "$(out)" ] && err | grep -q "no revision written" && [ $(ls migrations/versions | wc -l) -eq 1 ]'
# a model change: a new column
sed -i 's/^  image_url = Column(String(256)),/  image_url = Column(String(256)),\n  views     = Column(Integer, {nullable = false, server_default = 0}),/' models/blog.lua
run migrate check
check "check sees the change and fails" '[ $rc -eq 1 ] && out | grep -q "add column posts.views"'
run migrate revision --autogenerate -m "post views"
second=$(out)
check "the change's revision" '[ $rc -eq 0 ] && grep -q "op.add_column(\"posts\", argent.Column(\"views\"" "$second"'
rev2=$(basename "$second" | cut -d_ -f1)
run migrate check
check "check: a revision not applied" '[ $rc -eq 1 ] && out | grep -q "revision $rev2 (post views) is not applied"'
run migrate upgrade --sql
check "upgrade --sql prints the SQL" '[ $rc -eq 0 ] && out | grep -q "ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0 NOT NULL;"'
run migrate current
check "--sql changes nothing" '[ "$(out)" = "$rev1" ]'
run migrate upgrade head
check "upgrade head" '[ $rc -eq 0 ]'
run migrate check
check "check passes again" '[ $rc -eq 0 ]'
run migrate show "${rev2:0:4}"
check "show a prefix" '[ $rc -eq 0 ] && out | grep -q "^Revision: $rev2 (head)" && out | grep -q "^Parent: $rev1"'
run migrate downgrade --sql
check "downgrade --sql" '[ $rc -eq 0 ] && out | grep -qi "drop column"'
run migrate downgrade
check "downgrade -1" '[ $rc -eq 0 ]'
run migrate current
check "back at the first" '[ "$(out)" = "$rev1" ]'
run migrate downgrade base
run migrate current
check "at base current prints nothing" '[ $rc -eq 0 ] && [ -z "$(out)" ]'
run migrate stamp head
check "stamp" '[ $rc -eq 0 ] && err | grep -q "stamped $rev2"'
run migrate current
check "stamped" '[ "$(out)" = "$rev2" ]'
run migrate stamp base
run migrate upgrade ffff
check "an unknown revision fails" '[ $rc -eq 1 ] && err | grep -q "no revision .ffff."'
run migrate upgrade "+1"
check "upgrade +1" '[ $rc -eq 0 ] && [ "$("$A" migrate current)" = "$rev1" ]'
run migrate upgrade

# an applied file that was edited
echo "-- an edit" >>"$first"
run migrate upgrade
check "an edited applied file is named" '[ $rc -eq 1 ] && err | grep -q "$(basename "$first").*was changed after it was applied"'
run migrate check
check "check names it too" '[ $rc -eq 1 ] && out | grep -q "was changed"'
run migrate stamp heads
run migrate check
check "stamp accepts the file as it is" '[ $rc -eq 0 ]'

# branches and a merge
run migrate revision -m "branch a" --rev-id aaaa00000001
run migrate revision -m "branch b" --rev-id bbbb00000002 --head "$rev2"
run migrate heads
check "two heads" '[ "$(out | wc -l)" -eq 2 ]'
run migrate upgrade
check "upgrade head with two heads fails" '[ $rc -eq 1 ] && err | grep -q "2 heads"'
run migrate merge -m "join" heads
check "merge" '[ $rc -eq 0 ] && grep -q "down_revision = {" "$(out)"'
run migrate upgrade
check "upgrade after the merge" '[ $rc -eq 0 ] && [ "$("$A" migrate heads)" = "$("$A" migrate current)" ]'
run migrate merge -m "x" aaaa
check "merge needs two" '[ $rc -eq 1 ] && err | grep -q "needs two revisions"'

# a failing revision, a revision file that raises
head=$("$A" migrate heads)
cat >migrations/versions/ffff00000001_broken.lua <<EOF
return {revision = "ffff00000001", down_revision = "$head", message = "broken",
  upgrade = function(op) op.execute("SELECT * FROM no_such_table") end, downgrade = function(op) end}
EOF
before=$("$A" migrate current)
run migrate upgrade
check "a failing revision: status 1, named" '[ $rc -eq 1 ] && err | grep -q "upgrade ffff00000001 (broken) failed" && [ "$("$A" migrate current)" = "$before" ]'
echo 'error("oops")' >migrations/versions/ffff00000001_broken.lua
run migrate heads
check "a revision file that raises" '[ $rc -eq 1 ] && err | grep -q "ffff00000001_broken.lua raised an error"'
echo 'return 42' >migrations/versions/ffff00000001_broken.lua
run migrate history
check "a revision file that returns nonsense" '[ $rc -eq 1 ] && err | grep -q "ffff00000001_broken.lua must return a table"'
rm migrations/versions/ffff00000001_broken.lua

# -d and --url
mkdir other
run migrate -d other/m init
check "-d" '[ $rc -eq 0 ] && [ -f other/m/env.lua ]'
run migrate --directory other/m --url "sqlite:///other.db" current
check "--url" '[ $rc -eq 0 ] && [ -f other.db ]'
run migrate -d other/m init other/n
check "init DIR" '[ -f other/n/env.lua ]'

# ---- PostgreSQL and MariaDB: the workflow again, with --url (not in the sanitizer
# build, whose Lua suites run every database already: here it would only add time)
servers=("${ARGENT_TEST_PG_URL:-}" "${ARGENT_TEST_MY_URL:-}")
if [ -n "${ASAN_OPTIONS:-}" ]; then servers=(); fi
for url in "${servers[@]}"; do
    [ -n "$url" ] || continue
    db_url=$(echo "$url" | sed 's|/[^/?]*\([?].*\)\{0,1\}$|/argent_cli_migrate\1|')
    cat >make.lua <<EOF
local argent = require "argent"
local url = arg[1]
if argent.database_exists(url) then argent.drop_database(url) end
if arg[2] ~= "drop" then argent.create_database(url) end
EOF
    "$A" run make.lua "$db_url"
    run migrate --url "$db_url" upgrade
    check "upgrade on $db_url" '[ $rc -eq 0 ]'
    run migrate --url "$db_url" check
    check "check on $db_url" '[ $rc -eq 0 ]'
    run migrate --url "$db_url" downgrade base
    check "downgrade base on $db_url" '[ $rc -eq 0 ] && [ -z "$("$A" migrate --url "$db_url" current)" ]'
    run migrate --url "$db_url" upgrade --sql
    check "--sql on $db_url" '[ $rc -eq 0 ] && out | grep -q "CREATE TABLE"'
    "$A" run make.lua "$db_url" drop
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
