#!/usr/bin/env bash
# test_repl_tty.sh ARGENT -- `argent repl` on a real terminal: a tmux pane,
# driven with send-keys and read with capture-pane.  The prompt and the
# banner, expressions, SQL, errors that keep the prompt, completion (Lua
# globals and fields, methods, dot commands, table names), Ctrl-C at the
# prompt, Ctrl-C cancelling a statement that never ends on SQLite (and on
# PostgreSQL and MariaDB when ARGENT_TEST_PG_URL / ARGENT_TEST_MY_URL are
# set) and interrupting a Lua loop, the transaction marks of the prompt,
# UPDATE without WHERE asking first, --read-only, cells cut to the
# terminal's width and automatic vertical output, history across two runs,
# Ctrl-D.
#
# Nothing waits a fixed time: every step polls the screen until what it
# expects is there (30 s at most, against a hang), and a Ctrl-C meant for a
# running statement is repeated until the prompt is back (one that comes
# before the statement runs changes nothing).  Skipped (77) without tmux.
set -uo pipefail
A=$1
command -v tmux >/dev/null 2>&1 || { echo "tmux is not installed: skipped" >&2; exit 77; }
T=$(mktemp -d)
export TMUX_TMPDIR=$T LC_ALL=C.UTF-8 LANG=C.UTF-8
unset DB_CONNECTION_STRING TMUX
TM=(tmux -L argent-tty -f /dev/null)
trap '"${TM[@]}" kill-server >/dev/null 2>&1; rm -rf "$T"' EXIT
cd "$T" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1" >&2; fi; }

SESSION=repl0
# the pane's text, scrollback included, without the blank rows below it
screen() { "${TM[@]}" capture-pane -p -t "$SESSION" -S -3000 2>/dev/null | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
# wait_for TEXT [N]: until TEXT appears on the screen (N times); 1 on timeout
wait_for() {
    local i
    for ((i = 0; i < ${WAIT_TENTHS:-300}; i++)); do
        [ "$(screen | grep -cF -- "$1")" -ge "${2:-1}" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for: $1" >&2
    screen | tail -15 | sed 's/^/    | /' >&2
    return 1
}
# (capture-pane drops trailing blanks: an empty prompt reads "argent>")
prompts() { screen | grep -cE '^(argent[^ ]*|   \.\.\.)>( |$)'; }
# wait_prompts N: until the screen shows N prompts (each input adds one)
wait_prompts() {
    local i
    for ((i = 0; i < ${WAIT_TENTHS:-300}; i++)); do
        [ "$(prompts)" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for prompt $1" >&2
    screen | tail -15 | sed 's/^/    | /' >&2
    return 1
}
keys() { "${TM[@]}" send-keys -t "$SESSION" "$@"; }
# text TEXT: types TEXT (a final ';' escaped from tmux's own parser)
text() {
    local s=$1
    if [[ "$s" == *";" ]]; then s="${s%;}\\;"; fi
    "${TM[@]}" send-keys -t "$SESSION" -l -- "$s"
}
# line TEXT: types TEXT and Enter, and waits for the next prompt
line() {
    local n
    n=$(prompts)
    text "$1"
    keys Enter
    wait_prompts $((n + 1))
}
# start [ARGS...]: the REPL in a new pane WIDTH columns wide (default 100)
# (one tmux server for the whole test, a new session per REPL)
start() {
    "${TM[@]}" kill-session -t "$SESSION" >/dev/null 2>&1
    SESSION=repl$((${SESSION#repl} + 1))
    local args="" a
    for a in "$@"; do args+=" '$a'"; done
    "${TM[@]}" new-session -d -s "$SESSION" -x "${WIDTH:-100}" -y 50 \
        "ARGENT_HISTORY='$T/history' '$A' repl$args; echo \"[exit \$?]\"; sleep 600"
    "${TM[@]}" set-option -t "$SESSION" history-limit 5000 >/dev/null
    wait_for "Ctrl-D quits."
    wait_prompts 1
}
# cancel: Ctrl-C until the prompt is back (the statement runs forever)
cancel() {
    local n i j
    n=$(prompts)
    for ((i = 0; i < 30; i++)); do
        keys C-c
        for ((j = 0; j < 10; j++)); do
            [ "$(prompts)" -gt "$n" ] && return 0
            sleep 0.1
        done
    done
    echo "the prompt did not come back after Ctrl-C" >&2
    return 1
}
last_prompt_line() { screen | grep -E '^argent[^ ]*>( |$)' | tail -n 1; }

# ---- the prompt, expressions, SQL, errors, dot commands
"$A" repl sqlite:///t.db -m models.blog -e "require('models.blog').Base.metadata:create_all(db)" || exit 1
start sqlite:///t.db -m models.blog
check "banner names the URL and the models" 'screen | grep -q "sqlite:///t.db" && screen | grep -q "models: Comment, Post, User"'
line "1 + 41"
check "an expression prints its value" 'screen | grep -qx "42"'
line "for i = 1, 2 do"
check "an unfinished chunk: the continuation prompt" 'screen | grep -q "^   \.\.\.>$"'
keys C-c
wait_prompts 3
line "nosuch()"
check "an error: one line, and the prompt again" 'screen | grep -qF "stdin:1: attempt to call a nil value (global '"'"'nosuch'"'"')"'
line "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"
line "INSERT INTO t (v) VALUES ('a'), ('b');"
line "SELECT * FROM t ORDER BY id"
check "SQL prints a table" 'screen | grep -q "^ id | v$" && screen | grep -q "^(2 rows, [0-9.]* ms)$"'
line ".tables"
check ".tables" 'screen | grep -qx "users" && screen | grep -qx "t" && screen | grep -qx "posts"'
line ".mode vertical"
line "SELECT v FROM t WHERE id = 1"
check ".mode vertical" 'screen | grep -q "^-\[ RECORD 1 \]" && screen | grep -qx "v | a"'
line ".mode table"

# ---- completion
text "User.us"; keys Tab
check "Tab: a model's column" 'wait_for "argent> User.username"'
keys C-u
text "session:qu"; keys Tab
check "Tab: a session's method" 'wait_for "argent> session:query"'
keys C-u
text "argent.create_e"; keys Tab
check "Tab: a field of a module" 'wait_for "argent> argent.create_engine"'
keys C-u
text ".sch"; keys Tab
check "Tab: a dot command" 'wait_for "argent> .schema"'
text " us"; keys Tab
check "Tab: a table after .schema" 'wait_for "argent> .schema users"'
keys C-u
line "CREATE TABLE zebra_stripes (id INTEGER PRIMARY KEY)"
text ".schema zeb"; keys Tab
check "Tab: names again after DDL at the prompt" 'wait_for "argent> .schema zebra_stripes"'
keys C-u
text "SELECT * FROM users WHERE usern"; keys Tab
check "Tab: a column in SQL" 'wait_for "argent> SELECT * FROM users WHERE username"'
keys C-u

# ---- Ctrl-C at the prompt clears the line
text "1 + 1000"
wait_for "argent> 1 + 1000"
n=$(prompts)
keys C-c
wait_prompts $((n + 1))
line "2 + 2"
check "Ctrl-C at the prompt drops the line" 'screen | grep -qx "4" && ! screen | grep -qx "1004"'

# ---- Ctrl-C: a statement that never ends, a Lua loop
text "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;"
keys Enter
check "Ctrl-C cancels a SQLite statement" 'cancel && wait_for "OperationalError: interrupted"'
line "SELECT 'still here' AS s"
check "the connection works after the cancel" 'screen | grep -qx " still here"'
text "while true do end"
keys Enter
check "Ctrl-C interrupts a Lua loop" 'cancel && wait_for "interrupted" 2'
line "session:query(User):count()"
check "the session works after Ctrl-C" 'screen | grep -qx "0"'
line "session:rollback()"

# ---- the prompt marks a transaction; UPDATE without WHERE asks
line "BEGIN"
check "the prompt marks an open transaction" '[[ "$(last_prompt_line)" == "argent*>"* ]]'
line "ROLLBACK"
check "and no transaction" '[[ "$(last_prompt_line)" == "argent>"* ]]'
text "UPDATE t SET v = 'z'"
keys Enter
check "UPDATE without WHERE asks" 'wait_for "UPDATE without WHERE changes every row of t. Run it? [y/N]"'
line "n"
check "... and runs nothing when told no" 'wait_for "not run"'
text "DELETE FROM t"
keys Enter
wait_for "DELETE without WHERE changes every row of t. Run it? [y/N]"
line "y"
check "... and runs when told yes" 'screen | grep -q "^(2 rows affected, [0-9.]* ms)$"'
line "UPDATE t SET v = 'w' WHERE id = 1"
check "UPDATE with WHERE does not ask" '[ "$(screen | grep -c "Run it?")" = 2 ]'

# ---- Ctrl-D quits with status 0; the history is kept for the next run
keys C-d
check "Ctrl-D quits" 'wait_for "[exit 0]"'
check "the history file" '[ -s "$T/history" ]'
start sqlite:///t.db
keys Up
check "history from the last run (Up)" 'wait_for "argent> UPDATE t SET v = '"'"'w'"'"' WHERE id = 1"'
keys C-u

# ---- --read-only
start --read-only sqlite:///t.db
check "the read-only prompt" '[[ "$(last_prompt_line)" == "argent(ro)>"* ]]'
line "INSERT INTO t (v) VALUES ('x')"
check "--read-only refuses a write" 'screen | grep -q "read-only: INSERT is refused"'
line "db:connect():execute(\"INSERT INTO t (v) VALUES ('x')\")"
check "... and so does the database" 'screen | grep -q "attempt to write a readonly database"'

# ---- the terminal's width: cells cut with …, vertical when a row cannot fit
WIDTH=60 start sqlite:///t.db
line "SELECT 1 AS id, '$(printf 'x%.0s' {1..80})' AS long"
check "a wide cell is cut to the terminal" 'screen | grep -q "^  1 | x*…$" && [ "$(screen | grep "…$" | head -n1 | wc -m)" -le 61 ]'
line "SELECT 'aaaaaaaaaaaaaaaaaaaa' AS c1, 'bbbbbbbbbbbbbbbbbbbb' AS c2, 'cccccccccccccccccccc' AS c3, 'dddddddddddddddddddd' AS c4, 'eeeeeeeeeeeeeeeeeeee' AS c5, 'ffffffffffffffffffff' AS c6"
check "a row wider than the terminal turns vertical" 'screen | grep -q "^-\[ RECORD 1 \]" && screen | grep -qx "c6 | ffffffffffffffffffff"'

# ---- Ctrl-C on PostgreSQL and MariaDB
if [ -n "${ARGENT_TEST_PG_URL:-}" ]; then
    start "$ARGENT_TEST_PG_URL"
    text "SELECT pg_sleep(1000)"
    keys Enter
    check "Ctrl-C cancels a PostgreSQL statement" 'cancel && wait_for "canceling statement due to user request"'
    line "BEGIN"
    text "SELECT pg_sleep(1000)"
    keys Enter
    check "... inside a transaction: the prompt says it failed" 'cancel && [[ "$(last_prompt_line)" == "argent!>"* ]]'
    line "ROLLBACK"
    line "SELECT 'pg ok' AS s"
    check "PostgreSQL works after the cancel" 'screen | grep -qx " pg ok"'
fi
if [ -n "${ARGENT_TEST_MY_URL:-}" ]; then
    start "$ARGENT_TEST_MY_URL"
    text "SELECT SLEEP(1000)"
    keys Enter
    # a killed SLEEP() may also end normally, returning 1 (MariaDB's own rule)
    check "Ctrl-C cancels a MariaDB statement" 'cancel && (screen | grep -q "Query execution was interrupted" || screen | grep -qx "          1")'
    line "SELECT 'my ok' AS s"
    check "MariaDB works after the cancel" 'screen | grep -qx " my ok"'
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
