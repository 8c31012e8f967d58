#!/usr/bin/env bash
# test_repl.sh ARGENT -- `argent repl` driven through a pipe (stdin not a
# terminal): no prompt or banner, results on stdout, errors one line each on
# stderr, exit status 1 when any input failed.  Expressions, Lua chunks,
# SQL lines, every output mode, every dot command, instances, queries, T,
# --read-only, -e, and the command line's errors.  PostgreSQL and MariaDB
# parts run when ARGENT_TEST_PG_URL / ARGENT_TEST_MY_URL are set.  Times in
# the output ("0.2 ms") are replaced by "T ms" before comparing.
set -uo pipefail
A=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
unset DB_CONNECTION_STRING
export ARGENT_HISTORY=""
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }
# same NAME GOT WANT: exact text, with the differences shown on failure
same() {
    if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1))
        echo "FAIL: $1" >&2
        diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") | sed 's/^/    /' >&2
    fi
}
times() { sed -E 's/[0-9]+\.[0-9]+ ms/T ms/g'; }
# repl [ARGS...] <<< INPUT: stdout (times masked) in $out, stderr in $err, status in $rc
repl() {
    "$A" repl "$@" >"$T/out" 2>"$T/err"
    rc=$?
    out=$(times <"$T/out")
    err=$(cat "$T/err")
}

# ---- Lua: expressions print, chunks continue, no prompt or banner
repl <<'EOF'
1 + 1
=1, nil, "s"
"text"
select(2, "a", "b")
for i = 1, 2 do
  print(i)
end
x = {b = 1, a = {2, 3}, [10] = true, "first"}
x.self = x
x
1 +
  41
EOF
same "expressions and chunks" "$out" '2
1	nil	s
text
b
1
2
{"first", [10] = true, a = {2, 3}, b = 1, self = <cycle>}
42'
check "no errors: exit 0" '[ $rc -eq 0 ] && [ -z "$err" ]'

# ---- SQL lines: a ';' may come later, several per line, any case, NULL, numbers right
repl sqlite:///db.sqlite <<'EOF'
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL)
insert into users (name, score) values ('ann', 1.5), ('bob', NULL), ('carmen', 10)
SELECT id, name,
       score
  FROM users
 ORDER BY id;
SELECT count(*) AS n FROM users; select 'x' AS s
COMMIT
EOF
same "SQL lines" "$out" '(ok, T ms)
(3 rows affected, T ms)
 id | name   | score
----+--------+-------
  1 | ann    |   1.5
  2 | bob    |  NULL
  3 | carmen |  10.0
(3 rows, T ms)
 n
---
 3
(1 row, T ms)
 s
---
 x
(1 row, T ms)'
check "COMMIT outside a transaction is the database's error" '[ $rc -eq 1 ] && [[ "$err" == *"no transaction is active"* ]]'

# ---- values in cells: a NULL first column, binary as hex, text with a newline
repl <<'EOF'
SELECT NULL AS a, X'00ff' AS b, 'two' || char(10) || 'lines' AS c
.mode csv
SELECT NULL AS a, 1 AS b
EOF
same "cell values" "$out" ' a    | b      | c
------+--------+------------
 NULL | \x00ff | two\nlines
(1 row, T ms)
a,b
,1'

# ---- output modes
repl sqlite:///db.sqlite <<'EOF'
.mode csv
SELECT id, name, score, 'say "hi", ok' AS q FROM users WHERE id < 3 ORDER BY id
.mode json
SELECT id, name, score FROM users WHERE id < 3 ORDER BY id
SELECT id FROM users WHERE id > 100
.mode markdown
SELECT id, name FROM users WHERE id = 1
.mode vertical
SELECT id, name FROM users WHERE id = 1
.mode
.mode table
.mode nosuch
EOF
same "csv, json, markdown, vertical" "$out" 'id,name,score,q
1,ann,1.5,"say ""hi"", ok"
2,bob,,"say ""hi"", ok"
[
{"id":1,"name":"ann","score":1.5},
{"id":2,"name":"bob","score":null}
]
[]
| id | name |
|---:|---|
| 1 | ann |
-[ RECORD 1 ]---------------
id   | 1
name | ann
(1 row, T ms)
mode is vertical'
check ".mode with a wrong name" '[ $rc -eq 1 ] && [[ "$err" == "ArgumentError: usage: .mode table|vertical|csv|json|markdown" ]]'

# ---- dot commands
repl sqlite:///db.sqlite <<'EOF'
.help
.tables
.schema users
.limit 2
SELECT id FROM users ORDER BY id
.limit
.limit 0
.echo on
SELECT 1 AS one
.echo off
.echo
.timer on
2 + 2
.timer off
.explain SELECT * FROM users WHERE id = 1
.explain argent.select(T.users):where(T.users.c.id:eq(1))
.nosuch
.quit
1 + 1
EOF
check ".help lists the commands" '[[ "$out" == *".schema [TABLE]"*".mode table|vertical|csv|json|markdown"*".quit"* ]]'
check ".tables" '[[ "$out" == *$'"'"'\nusers\n'"'"'* ]] || [[ "$out" == "users"$'"'"'\n'"'"'* ]]'
check ".schema users" '[[ "$out" == *"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, score REAL);"* ]]'
check ".limit 2: two rows and a note" '[[ "$out" == *"  1"$'"'"'\n'"'"'"  2"$'"'"'\n'"'"'"(3 rows, T ms)"$'"'"'\n'"'"'"(1 more row not shown: .limit N shows more, .limit 0 all)"* ]]'
check ".limit shows the limit" '[[ "$out" == *"limit is 2"* ]]'
check ".echo on prints the SQL on stderr" '[[ "$err" == *"-- SQL ("*" ms): SELECT 1 AS one"* ]]'
check ".echo shows its state" '[[ "$out" == *"echo is off"* ]]'
check ".timer on" '[[ "$out" == *$'"'"'4\nTime: T ms'"'"'* ]]'
check ".explain SQL (SQLite's query plan)" '[[ "$out" == *"SEARCH users USING INTEGER PRIMARY KEY"* ]]'
check ".explain a statement" '[ "$(grep -c "SEARCH users USING INTEGER PRIMARY KEY" <<<"$out")" = 2 ]'
check "unknown command" '[[ "$err" == *"unknown command '"'"'.nosuch'"'"' (.help lists the commands)"* ]]'
check ".quit stops reading" '[[ "$out" != *$'"'"'\n2'"'"' ]]'

# ---- errors: one line on stderr each, the input goes on, exit status 1
repl <<'EOF'
SELECT * FROM nowhere
nosuch()
error("plain")
x = = 1
SELECT 7 AS seven
EOF
same "errors go on" "$out" ' seven
-------
     7
(1 row, T ms)'
same "error lines" "$err" 'ProgrammingError: no such table: nowhere [SQL: SELECT * FROM nowhere]
stdin:1: attempt to call a nil value (global '"'"'nosuch'"'"')
stdin:1: plain
stdin:1: unexpected symbol near '"'"'='"'"''
check "exit status 1 after errors" '[ $rc -eq 1 ]'

# ---- models, instances, queries, lists of instances
repl -m models.blog <<'EOF'
Base = require("models.blog").Base
Base.metadata:create_all(db)
session:add_all{User{username = "ann", email = "a@x"}, User{username = "bob"}}
session:commit()
users = session:query(User):order_by(User.id):all()
.mode csv
users
.mode table
u = session:get(User, 1)
u.email = "new@x"
u
User{username = "new"}
session:query(User):filter_by{username = "ann"}
argent.select(User.id):where(User.id:gt(1))
.models
User
EOF
check "instances as rows" '[[ "$out" == *"id,username,email,password,updated_at,created_at"$'"'"'\n'"'"'"1,ann,a@x,,"* ]]'
check "an instance, a changed attribute marked" '[[ "$out" == *"<User id=1 username=\"ann\" email*=\"new@x\" updated_at="* ]]'
check "a transient instance" '[[ "$out" == *"<User (transient) username=\"new\">"* ]]'
check "a query: its SQL and parameters" '[[ "$out" == *"FROM users WHERE users.username = ?"$'"'"'\n'"'"'"-- parameters: {\"ann\"}"* ]]'
check "a statement" '[[ "$out" == *"SELECT users.id FROM users WHERE users.id > ?"$'"'"'\n'"'"'"-- parameters: {1}"* ]]'
check ".models" '[[ "$out" == *" User    | users    | id, username, email, password, updated_at, created_at | posts, comments"* ]]'
check "a model: its columns and relationships" '[[ "$out" == *"<model User> table users"* && "$out" == *"relationships: posts -> Post[], comments -> Comment[]"* ]]'
check "models: no errors" '[ $rc -eq 0 ] && [ -z "$err" ]'

# ---- T: the reflected tables when no -m is given
repl sqlite:///db.sqlite <<'EOF'
T
T.users
T.nowhere
EOF
check "T prints the table names" '[[ "$out" == "users"$'"'"'\n'"'"'* ]]'
check "T.users: its columns" '[[ "$out" == *"<Table users>"* && "$out" == *" id     | INTEGER | false    | NULL    | PK"* ]]'
check "T.nowhere" '[[ "$err" == *"T.nowhere: there is no table '"'"'nowhere'"'"'"* ]]'

# ---- --read-only: SQL lines refused, the database refuses the rest
run_read_only() { # URL
    "$A" repl "$1" >/dev/null 2>&1 <<'EOF'
DROP TABLE IF EXISTS repl_ro
CREATE TABLE repl_ro (id INTEGER PRIMARY KEY)
INSERT INTO repl_ro (id) VALUES (1)
EOF
    repl --read-only "$1" <<'EOF'
INSERT INTO repl_ro (id) VALUES (2)
db:connect():execute("INSERT INTO repl_ro (id) VALUES (3)")
session:execute(argent.text("DELETE FROM repl_ro"))
SELECT count(*) AS n FROM repl_ro
EOF
    "$A" repl "$1" >/dev/null 2>&1 <<<'DROP TABLE repl_ro'
}
check_read_only() { # NAME URL
    run_read_only "$2"
    check "read-only $1: nothing written" '[[ "$out" == *$'"'"'\n 1\n'"'"'* ]] && [ $rc -eq 1 ]'
    check "read-only $1: SQL line refused" '[[ "$err" == "read-only: INSERT is refused (the REPL was started with --read-only)"* ]]'
    check "read-only $1: the database refuses" '[ "$(grep -c "^OperationalError" "$T/err")" = 2 ]'
}
# ---- .schema and .explain on each database
check_schema() { # NAME URL
    repl "$2" <<'EOF'
DROP TABLE IF EXISTS repl_sch
CREATE TABLE repl_sch (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)
.schema repl_sch
.explain SELECT * FROM repl_sch WHERE id = 1
.explain argent.select(T.repl_sch):where(T.repl_sch.c.id:eq(1))
.schema nowhere
DROP TABLE repl_sch
EOF
    check ".schema $1" '[[ "$out" == *"CREATE TABLE"*"repl_sch"*"name"* ]]'
    check ".explain $1 (SQL and a statement)" '[ "$(grep -c "^([0-9]* rows\?," <<<"$out")" -ge 2 ]'
    check ".schema of no table $1" '[[ "$err" == *".schema: no table '"'"'nowhere'"'"'"* ]] && [ "$(wc -l <<<"$err")" = 1 ]'
}
[ -n "${ARGENT_TEST_PG_URL:-}" ] && check_schema postgresql "$ARGENT_TEST_PG_URL"
[ -n "${ARGENT_TEST_MY_URL:-}" ] && check_schema mariadb "$ARGENT_TEST_MY_URL"

check_read_only sqlite "sqlite:///db.sqlite"
[ -n "${ARGENT_TEST_PG_URL:-}" ] && check_read_only postgresql "$ARGENT_TEST_PG_URL"
[ -n "${ARGENT_TEST_MY_URL:-}" ] && check_read_only mariadb "$ARGENT_TEST_MY_URL"

# ---- -e, DB_CONNECTION_STRING, the command line
repl sqlite:///db.sqlite -e ".mode csv" -e "SELECT name FROM users WHERE id = 1"
same "-e runs its code and exits" "$out" 'name
ann'
"$A" repl -e 'error("x")' >/dev/null 2>&1 </dev/null; rc=$?
check "-e that fails: exit 1" '[ $rc -eq 1 ]'
out=$(DB_CONNECTION_STRING=sqlite:///db.sqlite "$A" repl -e "SELECT count(*) AS n FROM users" | times)
check "DB_CONNECTION_STRING" '[[ "$out" == *" 3"* ]]'
"$A" repl --nope </dev/null >/dev/null 2>"$T/err"; rc=$?
check "unknown option: usage, exit 2" '[ $rc -eq 2 ] && grep -q "usage: argent repl" "$T/err"'
"$A" repl -m </dev/null >/dev/null 2>&1; rc=$?
check "-m without a module: exit 2" '[ $rc -eq 2 ]'
"$A" repl a b </dev/null >/dev/null 2>&1; rc=$?
check "two URLs: exit 2" '[ $rc -eq 2 ]'
"$A" repl --help >"$T/out"; rc=$?
check "--help" '[ $rc -eq 0 ] && grep -q -- "--read-only" "$T/out"'
"$A" repl nosuch://x </dev/null >/dev/null 2>"$T/err"; rc=$?
check "a bad URL: exit 1, one line" '[ $rc -eq 1 ] && [[ "$(cat "$T/err")" == "argent: repl: ArgumentError:"* ]]'
"$A" repl -m no.such.module </dev/null >/dev/null 2>"$T/err"; rc=$?
check "a missing module: exit 1" '[ $rc -eq 1 ] && grep -q "no.such.module" "$T/err"'
echo 'return {answer = 42}' >nomodels.lua
"$A" repl -m nomodels </dev/null >/dev/null 2>"$T/err"; rc=$?
check "a module without models: exit 1" '[ $rc -eq 1 ] && grep -q "returned no models" "$T/err"'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
