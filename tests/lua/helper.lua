-- tests/lua/helper.lua -- what every Lua suite of argent shares.
--
-- CMake runs each tests/lua/test_*.lua once per database, as
--   build/argent run tests/lua/test_X.lua -v      (from the repository root)
-- with ARGENT_TEST_DB = sqlite_file | sqlite_mem | postgresql | mariadb and
-- ARGENT_TEST_TMP = a scratch directory (created here if missing).
-- PostgreSQL's URL comes from ARGENT_TEST_PG_URL, MariaDB's from
-- ARGENT_TEST_MY_URL; without it such a run exits with status 77, which
-- CTest reports as "skipped".  ARGENT_TEST_DB = pgbouncer is PostgreSQL
-- through PgBouncer in transaction mode (ARGENT_TEST_PGB_URL, set by
-- scripts/test.sh's topology, scripts/pgtopology.sh): helper.is_pg() is
-- true and helper.engine() adds prepare = false.
--
-- This file turns that environment into a URL and an engine, owns the
-- per-suite SQLite file, and holds the checks the suites repeat (an argent
-- error of a given kind, table set-up and clean-up that cannot hang on a lock
-- left by a failed test).  Suites end with `os.exit(helper.run(), true)`.

local lu = require "luaunit"
local argent = require "argent"

local helper = {lu = lu, argent = argent}

local KNOWN_DATABASES = {sqlite_file = true, sqlite_mem = true, postgresql = true, mariadb = true, pgbouncer = true}

-- The Lua the suite runs on (API.md section 10): "5.4", "5.3", "5.1" or
-- "luajit".  Before 5.3 numbers are doubles: no integer/float subtypes, and
-- integers beyond 2^53 come back as decimal strings.
helper.lua_version = require("argent.compat").lua
helper.has_integers = require("argent.compat").has_integers

--- Skips the calling test where numbers have no integer and float subtypes.
function helper.needs_integer_subtypes()
    lu.skipIf(not helper.has_integers, "Lua " .. helper.lua_version .. ": numbers have no integer/float subtypes")
end

--- Skips the calling test below 5.4 (it tests `<close>` leaving by an error).
function helper.needs_lua54()
    lu.skipIf(helper.lua_version ~= "5.4", "a test of Lua 5.4's to-be-closed variables")
end

-- Run by hand without the environment, a suite uses an in-memory SQLite database.
helper.db = os.getenv("ARGENT_TEST_DB") or "sqlite_mem"
if not KNOWN_DATABASES[helper.db] then
    io.stderr:write("ARGENT_TEST_DB must be sqlite_file, sqlite_mem, postgresql, pgbouncer or mariadb, not '",
                    helper.db, "'\n")
    os.exit(2)
end

helper.tmp = os.getenv("ARGENT_TEST_TMP") or "/tmp/argent-test"
helper.pg_url = os.getenv("ARGENT_TEST_PG_URL")
if helper.pg_url == "" then helper.pg_url = nil end
helper.pgb_url = os.getenv("ARGENT_TEST_PGB_URL")
if helper.pgb_url == "" then helper.pgb_url = nil end
helper.my_url = os.getenv("ARGENT_TEST_MY_URL")
if helper.my_url == "" then helper.my_url = nil end

-- The suite's name, from the script's path: ".../tests/lua/test_url.lua" -> "test_url".
local script = (arg and arg[0]) or "suite"
helper.suite = script:match("([^/\\]+)%.lua$") or script:match("([^/\\]+)$") or "suite"

if helper.db == "postgresql" and not helper.pg_url then
    io.stderr:write(helper.suite, ": ARGENT_TEST_PG_URL is not set, skipping the PostgreSQL run\n")
    os.exit(77)
end
if helper.db == "pgbouncer" and not helper.pgb_url then
    io.stderr:write(helper.suite, ": ARGENT_TEST_PGB_URL is not set, skipping the PgBouncer run\n")
    os.exit(77)
end
if helper.db == "mariadb" and not helper.my_url then
    io.stderr:write(helper.suite, ": ARGENT_TEST_MY_URL is not set, skipping the MariaDB run\n")
    os.exit(77)
end

function helper.is_pg() return helper.db == "postgresql" or helper.db == "pgbouncer" end
function helper.is_pgbouncer() return helper.db == "pgbouncer" end
function helper.is_mariadb() return helper.db == "mariadb" end
function helper.is_sqlite() return helper.db == "sqlite_file" or helper.db == "sqlite_mem" end
function helper.is_sqlite_mem() return helper.db == "sqlite_mem" end
function helper.is_sqlite_file() return helper.db == "sqlite_file" end

-- Shell-quotes s for os.execute (single quotes, ' written as '\'').
local function shell_quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end

function helper.mkdir(path)
    os.execute("mkdir -p " .. shell_quote(path))
end

-- The SQLite file of this suite; deleted (with its journal files) when the
-- suite starts, so every run begins from an empty database.
helper.db_path = helper.tmp .. "/" .. helper.suite .. ".db"
if helper.db == "sqlite_file" then
    helper.mkdir(helper.tmp)
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do
        os.remove(helper.db_path .. suffix)
    end
end

-- The URL of this run's database.
function helper.url()
    if helper.db == "sqlite_file" then
        return "sqlite:///" .. helper.db_path
    elseif helper.db == "sqlite_mem" then
        return "sqlite:///:memory:"
    elseif helper.db == "mariadb" then
        return helper.my_url
    elseif helper.db == "pgbouncer" then
        return helper.pgb_url
    end
    return helper.pg_url
end

-- create_engine's options for this run: opts (copied) and, through
-- PgBouncer, prepare = false.
function helper.engine_options(opts)
    if not helper.is_pgbouncer() then return opts end
    local copy = {prepare = false}
    for k, v in pairs(opts or {}) do copy[k] = v end
    return copy
end

function helper.engine(opts)
    return argent.create_engine(helper.url(), helper.engine_options(opts))
end

-- Dialect-specific column types for the typed tables of the suites.
helper.types = {
    blob = helper.is_pg() and "BYTEA" or (helper.is_mariadb() and "LONGBLOB" or "BLOB"),
    -- an integer key the database generates
    autoinc_pk = helper.is_pg() and "SERIAL PRIMARY KEY"
        or (helper.is_mariadb() and "INTEGER PRIMARY KEY AUTO_INCREMENT" or "INTEGER PRIMARY KEY"),
    -- a date and time without time zone (MariaDB's TIMESTAMP converts zones and stops at 2038)
    datetime = helper.is_mariadb() and "DATETIME(6)" or "TIMESTAMP",
}

-- Reads a field of an error value without raising: a userdata without
-- __index (or a string) would otherwise raise inside the check itself.
local function field(value, name)
    local t = type(value)
    if t ~= "table" and t ~= "userdata" then return nil end
    local ok, v = pcall(function() return value[name] end)
    if ok then return v end
    return nil
end
helper.field = field

-- Calls fn(...) and checks that it raised an argent error object whose kind is
-- `kind` and, when pattern is given, whose message contains pattern (a plain
-- substring, compared case-insensitively so that "pool_size" matches
-- "Pool_size").  Returns the error object.
function helper.assert_error(kind, pattern, fn, ...)
    local ok, err = pcall(fn, ...)
    local want = kind .. (pattern and (" mentioning '" .. pattern .. "'") or "")
    if ok then
        lu.fail("expected " .. want .. ", but the call succeeded")
    end
    local got_kind = field(err, "kind")
    if got_kind == nil then
        lu.fail(("expected an argent error object (%s), got a %s: %s")
                :format(want, type(err), tostring(err)))
    end
    if got_kind ~= kind then
        lu.fail(("expected %s, got %s: %s"):format(want, tostring(got_kind), tostring(err)))
    end
    if pattern then
        local message = field(err, "message")
        if type(message) ~= "string" then
            lu.fail(("expected %s, but err.message is a %s"):format(want, type(message)))
        end
        if not message:lower():find(pattern:lower(), 1, true) then
            lu.fail(("expected %s, got message: %s"):format(want, message))
        end
    end
    return err
end

-- Calls fn(...) and returns the raised value (fails if nothing was raised).
function helper.raised(fn, ...)
    local ok, err = pcall(fn, ...)
    if ok then lu.fail("expected an error, but the call succeeded") end
    return err
end

-- SELECT count(*) FROM tbl through conn.
function helper.count(conn, tbl)
    return conn:execute("SELECT count(*) AS n FROM " .. tbl):scalar()
end

-- Drops the named tables, in order, if they exist.  On PostgreSQL and
-- MariaDB a lock left behind by a failed test must not make the suite hang
-- forever.
function helper.drop_tables(conn, names)
    if helper.is_pg() then conn:execute("SET lock_timeout = '10s'") end
    if helper.is_mariadb() then conn:execute("SET SESSION lock_wait_timeout = 10") end
    for _, name in ipairs(names) do
        conn:execute("DROP TABLE IF EXISTS " .. name)
    end
end

-- Creates the suite's tables from scratch.  tables is a list of
-- {name, "CREATE TABLE ..."}, parents before children; they are dropped first
-- (children first), so a crashed earlier run leaves no trace.
function helper.create_tables(engine, tables)
    local conn <close> = engine:connect()
    local names = {}
    for i = #tables, 1, -1 do names[#names + 1] = tables[i][1] end
    helper.drop_tables(conn, names)
    for _, t in ipairs(tables) do conn:execute(t[2]) end
end

-- The end of a test: collects what a failed test left open (its connections
-- go back to the pool, rolled back), drops the tables (children first, as
-- listed in tables) and disposes of the engine.
function helper.cleanup(engine, tables)
    collectgarbage()
    collectgarbage()
    if engine == nil then return end
    if tables and #tables > 0 then
        local names = {}
        for i = #tables, 1, -1 do
            local t = tables[i]
            names[#names + 1] = type(t) == "table" and t[1] or t
        end
        local conn <close> = engine:connect()
        helper.drop_tables(conn, names)
    end
    engine:dispose()
end

-- Runs the suites (luaunit's command line comes from the script's arguments,
-- e.g. -v) and returns the exit status: 0 when everything passed, 1 otherwise
-- (a failure count would wrap at 256).
function helper.run()
    local args = {}
    if arg then
        for i = 1, #arg do args[i] = arg[i] end
    end
    -- With no argument luaunit would read the global `arg` itself, which a
    -- host may not have set.
    if #args == 0 then args = {"-o", "text"} end
    local failures = lu.LuaUnit.run(table.unpack(args))
    return failures == 0 and 0 or 1
end

-- ---- The SQL expression language suites (test_schema, test_expression,
-- test_statement, test_types, test_ddl, test_inspect, test_hostile).

-- The dialects a statement compiles for by name, without a database.
helper.DIALECTS = {"sqlite", "postgresql"}

-- The placeholder of the n-th parameter in a dialect's compiled SQL.
function helper.placeholder(dialect, n)
    if dialect == "postgresql" then return "$" .. n end
    return "?"
end

-- stmt:compile(target) -> sql, params, checked to be a string and a table.
function helper.compile(stmt, target)
    local sql, params = stmt:compile(target)
    lu.assertEquals(type(sql), "string", "compile must return the SQL text")
    lu.assertEquals(type(params), "table", "compile must return the parameter list")
    return sql, params
end

-- sql with every run of white space made one space, and trimmed.
function helper.squash(sql)
    return (sql:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

local function show_sql(sql)
    if #sql > 400 then return sql:sub(1, 400) .. "..." end
    return sql
end

-- Checks that sql contains sub (a plain substring); case-insensitive when
-- `nocase` is true.
function helper.assert_has(sql, sub, nocase)
    local hay, needle = sql, sub
    if nocase then hay, needle = sql:lower(), sub:lower() end
    if not hay:find(needle, 1, true) then
        lu.fail(("expected the SQL to contain %q:\n  %s"):format(sub, show_sql(sql)))
    end
end

-- Checks that sql does not contain sub (a plain substring).
function helper.assert_lacks(sql, sub, nocase)
    local hay, needle = sql, sub
    if nocase then hay, needle = sql:lower(), sub:lower() end
    if hay:find(needle, 1, true) then
        local shown = #sub > 60 and ("<%d bytes>"):format(#sub) or ("%q"):format(sub)
        lu.fail(("expected the SQL not to contain %s:\n  %s"):format(shown, show_sql(sql)))
    end
end

-- Checks that sql matches the Lua pattern (on the squashed text when
-- `squashed` is true).
function helper.assert_sql_matches(sql, pattern, squashed)
    local s = squashed and helper.squash(sql) or sql
    if not s:find(pattern) then
        lu.fail(("expected the SQL to match the pattern %q:\n  %s"):format(pattern, show_sql(s)))
    end
end

-- The PostgreSQL SQL must number its placeholders $1..$n, in order of
-- appearance, with n = #params, and hold no `?`; the SQLite SQL must hold
-- exactly #params `?` and no `$n`.  (Strings inside quotes are not expected
-- in compiled SQL: values are bound.)
function helper.assert_placeholders(sql, params, dialect)
    if dialect == "postgresql" then
        local n = 0
        for d in sql:gmatch("%$(%d+)") do
            n = n + 1
            lu.assertEquals(tonumber(d), n, "placeholders must be $1, $2, ... in order: " .. show_sql(sql))
        end
        lu.assertEquals(n, #params, "one $n per parameter: " .. show_sql(sql))
        helper.assert_lacks(sql, "?")
    else
        local _, n = sql:gsub("%?", "")
        lu.assertEquals(n, #params, "one ? per parameter: " .. show_sql(sql))
        lu.assertNil(sql:find("%$%d"), "no $n placeholder on SQLite: " .. show_sql(sql))
    end
end

-- The names of the tables in the database (its current schema on
-- PostgreSQL), read from the catalog with plain SQL, as a set.
function helper.table_set(conn)
    local sql
    if helper.is_pg() then
        sql = "SELECT table_name AS name FROM information_schema.tables "
              .. "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    elseif helper.is_mariadb() then
        sql = "SELECT table_name AS name FROM information_schema.tables "
              .. "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
    else
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    end
    local set = {}
    for row in conn:execute(sql):rows() do set[row.name] = true end
    return set
end

function helper.table_exists(conn, name)
    return helper.table_set(conn)[name] == true
end

-- The names of the indexes on table `name`, from the catalog, as a set
-- (name -> true).
function helper.index_set(conn, name)
    local sql
    if helper.is_pg() then
        sql = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() "
              .. "AND tablename = ?"
    elseif helper.is_mariadb() then
        sql = "SELECT DISTINCT index_name AS name FROM information_schema.statistics "
              .. "WHERE table_schema = DATABASE() AND table_name = ?"
    else
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
    end
    local set = {}
    for row in conn:execute(sql, {name}):rows() do set[row.name] = true end
    return set
end

-- An engine whose echo hook records every SQL statement it runs in `log`
-- (a list of strings); returns engine, log.
-- How many statements of an echo log (helper.logging_engine) start with
-- `verb` (INSERT, UPDATE, SELECT, ...), from entry `from` on.
function helper.count_verb(log, verb, from)
    local n = 0
    for i = from or 1, #log do
        if log[i]:match("^%s*(%u+)") == verb then n = n + 1 end
    end
    return n
end

function helper.logging_engine(opts)
    local log = {}
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.echo = function(sql) log[#log + 1] = sql end
    return helper.engine(o), log
end

-- The end of a test of a suite built on MetaData: meta:drop_all (when meta
-- is given; its failure is ignored, the plain DROPs below are the safety
-- net), then DROP TABLE IF EXISTS of `names` (parents first in the list, so
-- they are dropped children first; write names that need quoting quoted),
-- then the engine is disposed of.
function helper.cleanup_meta(engine, meta, names)
    collectgarbage()
    collectgarbage()
    if engine == nil then return end
    if meta then pcall(meta.drop_all, meta, engine) end
    helper.cleanup(engine, names)
end

-- The value of `field` in each row of a result, as a list.
function helper.column_of(res, field)
    local out = {}
    for row in res:rows() do out[#out + 1] = row[field] end
    return out
end

return helper
