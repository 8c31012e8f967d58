#!/usr/bin/env bash
# test_schema.sh ARGENT -- `argent schema`: the blog models (-m) and a
# reflected SQLite database (and PostgreSQL / MariaDB when their URLs are
# set) as Mermaid and Graphviz dot; svg through Graphviz's dot when it is
# installed (skipped otherwise), and a clear error without it; usage errors.
set -uo pipefail
A=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
unset DB_CONNECTION_STRING
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }

# ---- the models
out=$("$A" schema -m models.blog --format mermaid); rc=$?
check "mermaid: exit 0" '[ $rc -eq 0 ]'
check "mermaid: an entity per table" '[ "$(grep -c "^  [a-z]* {$" <<<"$out")" = 3 ]'
check "mermaid: columns with types and keys" '[[ "$out" == *$'"'"'  posts {\n    Integer id PK\n    String(256) title\n'"'"'* ]]'
check "mermaid: a foreign key" '[[ "$out" == *"    Integer owner_id FK"* ]]'
check "mermaid: relationships named, NOT NULL keys ||" '[[ "$out" == *"  users ||--o{ posts : \"posts / owner\""* ]]'
check "mermaid: nullable keys |o" '[[ "$out" == *"  users |o--o{ comments : \"comments / owner\""* ]]'

out=$("$A" schema -m models.blog --format dot); rc=$?
check "dot: exit 0" '[ $rc -eq 0 ] && [[ "$out" == "digraph schema {"* ]] && [[ "$out" == *"}" ]]'
check "dot: a node per table" '[ "$(grep -c "^  \"[a-z]*\" \[label=<" <<<"$out")" = 3 ]'
check "dot: an edge per foreign key" '[ "$(grep -c " -> " <<<"$out")" = 3 ]'
check "dot: child column to parent key" '[[ "$out" == *"\"posts\":\"owner_id\" -> \"users\":\"id\" [label=\"posts / owner\"];"* ]]'
check "dot is the default" '[ "$("$A" schema -m models.blog)" = "$out" ]'

# ---- a reflected database
"$A" repl sqlite:///r.db >/dev/null <<'EOF'
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL)
CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER REFERENCES authors (id))
EOF
out=$("$A" schema sqlite:///r.db --format mermaid); rc=$?
check "reflected: exit 0" '[ $rc -eq 0 ]'
check "reflected: tables and columns" '[[ "$out" == *$'"'"'  authors {\n    INTEGER id PK\n    TEXT name\n  }'"'"'* ]]'
check "reflected: the foreign key" '[[ "$out" == *"  authors |o--o{ books : \"author_id\""* ]]'
out=$(DB_CONNECTION_STRING=sqlite:///r.db "$A" schema --format mermaid)
check "DB_CONNECTION_STRING" '[[ "$out" == *"books {"* ]]'
for url in "${ARGENT_TEST_PG_URL:-}" "${ARGENT_TEST_MY_URL:-}"; do
    [ -n "$url" ] || continue
    "$A" repl "$url" >/dev/null 2>&1 <<'EOF'
DROP TABLE IF EXISTS schema_child
DROP TABLE IF EXISTS schema_parent
CREATE TABLE schema_parent (id INTEGER PRIMARY KEY)
CREATE TABLE schema_child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES schema_parent (id))
EOF
    out=$("$A" schema "$url" --format mermaid)
    check "reflected ${url%%:*}" '[[ "$out" == *"  schema_parent ||--o{ schema_child : \"parent_id\""* ]]'
    "$A" repl "$url" >/dev/null 2>&1 <<<'DROP TABLE schema_child; DROP TABLE schema_parent'
done

# ---- svg: Graphviz draws it
if command -v dot >/dev/null 2>&1; then
    "$A" schema -m models.blog --format svg >"$T/s.svg"; rc=$?
    check "svg: exit 0" '[ $rc -eq 0 ]'
    check "svg: an SVG document" 'grep -q "<svg" "$T/s.svg" && grep -q "</svg>" "$T/s.svg"'
    check "svg: the tables are in it" 'grep -q ">posts<" "$T/s.svg" && grep -q ">users<" "$T/s.svg"'
else
    echo "svg: skipped (no Graphviz dot)" >&2
fi
PATH=/nonexistent "$A" schema -m models.blog --format svg >/dev/null 2>"$T/err"; rc=$?
check "svg without dot: exit 1, says what to install" '[ $rc -eq 1 ] && grep -q "graphviz" "$T/err"'

# ---- usage
"$A" schema -m models.blog --format png >/dev/null 2>&1; rc=$?
check "unknown format: exit 2" '[ $rc -eq 2 ]'
"$A" schema >/dev/null 2>"$T/err"; rc=$?
check "no URL and no -m: exit 2" '[ $rc -eq 2 ] && grep -q "usage: argent schema" "$T/err"'
"$A" schema --nope >/dev/null 2>&1; rc=$?
check "unknown option: exit 2" '[ $rc -eq 2 ]'
"$A" schema --help >"$T/out"; rc=$?
check "--help" '[ $rc -eq 0 ] && grep -q "mermaid" "$T/out"'
"$A" schema -m no.such.module >/dev/null 2>"$T/err"; rc=$?
check "a missing module: exit 1" '[ $rc -eq 1 ] && grep -q "no.such.module" "$T/err"'
"$A" schema nosuch://x >/dev/null 2>"$T/err"; rc=$?
check "a bad URL: exit 1" '[ $rc -eq 1 ] && grep -q "ArgumentError" "$T/err"'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
