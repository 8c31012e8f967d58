-- tests/lua/test_engine.lua -- argent.create_engine and the engine object
-- (src/lua/engine.c), API.md section 2.
--
-- Creating engines from each URL form, the options and their checks,
-- connect(), the begin(fn) transaction block, the pool's status, dispose, the
-- echo hook, a refused connection that must not leak its password, and the
-- shared in-memory SQLite database.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local TABLES = {
    {"t_eng_items", "CREATE TABLE t_eng_items (id INTEGER PRIMARY KEY, name VARCHAR(50))"},
}

-- A URL that reaches no server (port 1 refuses at once) and carries a password.
local REFUSED_URL = "postgresql://u:s3cret@127.0.0.1:1/x"

TestEngine = {}

function TestEngine:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
end

function TestEngine:tearDown()
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

-- creating engines

function TestEngine:test_dialect_of_this_run()
    lu.assertEquals(self.engine.dialect, helper.is_pg() and "postgresql"
                    or (helper.is_mariadb() and "mariadb" or "sqlite"))
end

function TestEngine:test_connect_returns_a_working_connection()
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
end

function TestEngine:test_sqlite_memory_forms()
    for _, url in ipairs {"sqlite://", "sqlite:///:memory:"} do
        local engine = argent.create_engine(url)
        lu.assertEquals(engine.dialect, "sqlite")
        local conn <close> = engine:connect()
        lu.assertEquals(conn:execute("SELECT 2 AS x"):scalar(), 2)
        conn:close()
        engine:dispose()
    end
end

function TestEngine:test_sqlite_absolute_file()
    helper.mkdir(helper.tmp)
    -- (per database run: the runs of one suite may go in parallel)
    local path = helper.tmp .. "/" .. helper.suite .. "_" .. helper.db .. "_abs.db"
    os.remove(path)
    local engine = argent.create_engine("sqlite:///" .. path)
    do
        local conn <close> = engine:connect()
        conn:execute("CREATE TABLE t_eng_abs (id INTEGER)")
        conn:execute("INSERT INTO t_eng_abs (id) VALUES (1)")
    end
    engine:dispose()
    local f = io.open(path, "rb")
    lu.assertNotIsNil(f, "the database file was created")
    f:close()
    os.remove(path)
end

-- SQLAlchemy's create_engine does not connect; a relative file is not created until used.
function TestEngine:test_create_engine_does_not_connect()
    local engine = argent.create_engine(REFUSED_URL)
    lu.assertEquals(engine.dialect, "postgresql")
    local engine2 = argent.create_engine("postgresql+psycopg2://u:p@127.0.0.1:1/x")
    lu.assertEquals(engine2.dialect, "postgresql")
end

function TestEngine:test_postgresql_url_of_this_run_connects()
    lu.skipIf(not helper.is_pg(), "PostgreSQL only")
    local engine = helper.engine()
    local conn <close> = engine:connect()
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    conn:close()
    engine:dispose()
end

-- engine.url is a URL object, as in SQLAlchemy.
function TestEngine:test_engine_url_fields()
    local engine = argent.create_engine(REFUSED_URL)
    lu.assertEquals(engine.url.database, "x")
    lu.assertEquals(engine.url.port, 1)
    lu.assertEquals(engine.url.dialect, "postgresql")
end

function TestEngine:test_engine_url_tostring_masks_password()
    local engine = argent.create_engine(REFUSED_URL)
    local s = tostring(engine.url)
    lu.assertStrContains(s, "***")
    lu.assertNotStrContains(s, "s3cret")
end

function TestEngine:test_no_url_and_no_env_is_argument_error()
    lu.skipIf(os.getenv("DB_CONNECTION_STRING") ~= nil, "DB_CONNECTION_STRING is set")
    helper.assert_error("ArgumentError", "DB_CONNECTION_STRING", argent.create_engine)
end

function TestEngine:test_bad_url_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.create_engine, "nonsense")
end

-- options

function TestEngine:test_all_documented_options_are_accepted()
    local engine = helper.engine({
        pool_size = 2, max_overflow = 1, pool_timeout = 5, pool_recycle = -1,
        pool_pre_ping = true, echo = false, statement_cache_size = 16,
    })
    local conn <close> = engine:connect()
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    conn:close()
    engine:dispose()
end

function TestEngine:test_sqlite_connect_args_are_accepted()
    lu.skipIf(not helper.is_sqlite(), "SQLite only")
    local engine = argent.create_engine(helper.url(), {connect_args = {busy_timeout = 2000}})
    local conn <close> = engine:connect()
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    conn:close()
    engine:dispose()
end

function TestEngine:test_pool_size_of_wrong_type_is_argument_error()
    helper.assert_error("ArgumentError", "pool_size", argent.create_engine, helper.url(),
                        {pool_size = "x"})
end

function TestEngine:test_unknown_option_is_argument_error_naming_it()
    helper.assert_error("ArgumentError", "no_such_option", argent.create_engine, helper.url(),
                        {no_such_option = 1})
end

function TestEngine:test_echo_of_wrong_type_is_argument_error()
    helper.assert_error("ArgumentError", "echo", argent.create_engine, helper.url(), {echo = 5})
end

function TestEngine:test_opts_not_a_table_is_argument_error()
    helper.assert_error("ArgumentError", nil, argent.create_engine, helper.url(), 5)
end

-- begin(fn)

function TestEngine:test_begin_commits_and_returns_fn_results()
    local a, b = self.engine:begin(function(conn)
        conn:execute("INSERT INTO t_eng_items (id, name) VALUES (?, ?)", {1, "one"})
        return 42, "two"
    end)
    lu.assertEquals(a, 42)
    lu.assertEquals(b, "two")
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT name FROM t_eng_items WHERE id = 1"):scalar(), "one")
end

function TestEngine:test_begin_rolls_back_and_reraises_the_same_error()
    local raised = setmetatable({}, {__tostring = function() return "my error" end})
    local ok, err = pcall(self.engine.begin, self.engine, function(conn)
        conn:execute("INSERT INTO t_eng_items (id, name) VALUES (?, ?)", {1, "one"})
        error(raised)
    end)
    lu.assertFalse(ok)
    lu.assertIs(err, raised)
    local conn <close> = self.engine:connect()
    lu.assertEquals(helper.count(conn, "t_eng_items"), 0)
end

function TestEngine:test_begin_reraises_a_string_error()
    local ok, err = pcall(self.engine.begin, self.engine, function(conn)
        conn:execute("INSERT INTO t_eng_items (id, name) VALUES (?, ?)", {1, "one"})
        error("plain failure", 0)
    end)
    lu.assertFalse(ok)
    lu.assertEquals(err, "plain failure")
    local conn <close> = self.engine:connect()
    lu.assertEquals(helper.count(conn, "t_eng_items"), 0)
end

function TestEngine:test_begin_returns_the_connection_to_the_pool()
    local before = self.engine.pool:status().checked_out
    self.engine:begin(function(conn) conn:execute("SELECT 1 AS x") end)
    pcall(self.engine.begin, self.engine, function() error("x") end)
    lu.assertEquals(self.engine.pool:status().checked_out, before)
end

-- the pool

function TestEngine:test_pool_status_has_integer_fields()
    local st = self.engine.pool:status()
    for _, k in ipairs {"size", "checked_in", "checked_out", "overflow"} do
        lu.assertEquals(math.type(st[k]), "integer", k)
    end
end

function TestEngine:test_checked_out_counts_open_connections()
    local engine = helper.engine()
    lu.assertEquals(engine.pool:status().checked_out, 0)
    local conn = engine:connect()
    lu.assertEquals(engine.pool:status().checked_out, 1)
    conn:close()
    local st = engine.pool:status()
    lu.assertEquals(st.checked_out, 0)
    lu.assertTrue(st.checked_in >= 1, "the closed connection is back in the pool")
    engine:dispose()
end

function TestEngine:test_close_connection_via_close_variable()
    local before = self.engine.pool:status().checked_out
    do
        local conn <close> = self.engine:connect()
        lu.assertEquals(self.engine.pool:status().checked_out, before + 1)
    end
    lu.assertEquals(self.engine.pool:status().checked_out, before)
end

-- SQLAlchemy: dispose() empties the pool; the engine keeps working.
function TestEngine:test_dispose_then_connect_works()
    do
        local conn <close> = self.engine:connect()
        conn:execute("INSERT INTO t_eng_items (id, name) VALUES (1, 'kept')")
    end
    self.engine:dispose()
    lu.assertEquals(self.engine.pool:status().checked_in, 0)
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    if not helper.is_sqlite_mem() then  -- an in-memory database ends with its connection
        lu.assertEquals(conn:execute("SELECT name FROM t_eng_items"):scalar(), "kept")
    end
end

function TestEngine:test_pool_exhausted_is_timeout_error()
    lu.skipIf(helper.is_sqlite_mem(), "an in-memory database has one shared connection")
    local engine = helper.engine({pool_size = 1, max_overflow = 0, pool_timeout = 0.2})
    local c1 <close> = engine:connect()
    helper.assert_error("TimeoutError", nil, engine.connect, engine)
    c1:close()
    local c2 <close> = engine:connect()  -- freed: available again
    lu.assertEquals(c2:execute("SELECT 1 AS x"):scalar(), 1)
    c2:close()
    engine:dispose()
end

-- echo

function TestEngine:test_echo_function_receives_sql_params_and_ms()
    local calls = {}
    local engine = helper.engine({echo = function(sql, params, ms)
        calls[#calls + 1] = {sql = sql, params = params, ms = ms}
    end})
    local conn <close> = engine:connect()
    lu.assertEquals(conn:execute("SELECT ? AS echoed", {"seven"}):scalar(), "seven")
    local seen
    for _, c in ipairs(calls) do
        if type(c.sql) == "string" and c.sql:find("echoed", 1, true) then seen = c end
    end
    lu.assertNotIsNil(seen, "echo was called with the statement")
    lu.assertEquals(type(seen.params), "table")
    lu.assertEquals(seen.params[1], "seven")
    lu.assertEquals(type(seen.ms), "number")
    lu.assertTrue(seen.ms >= 0)
    conn:close()
    engine:dispose()
end

-- a refused connection

function TestEngine:test_refused_connection_is_operational_error_without_password()
    local engine = argent.create_engine(REFUSED_URL)
    local err = helper.assert_error("OperationalError", nil, engine.connect, engine)
    lu.assertNotStrContains(err.message, "s3cret")
    lu.assertNotStrContains(tostring(err), "s3cret")
end

function TestEngine:test_refused_connection_leaves_nothing_checked_out()
    local engine = argent.create_engine(REFUSED_URL)
    pcall(engine.connect, engine)
    lu.assertEquals(engine.pool:status().checked_out, 0)
end

-- the shared in-memory database (DESIGN.md: one database per SQLite connection,
-- so the pool hands out the one shared connection)

function TestEngine:test_memory_database_is_shared_by_two_open_connections()
    local engine = argent.create_engine("sqlite:///:memory:")
    local c1 <close> = engine:connect()
    local c2 <close> = engine:connect()  -- must not deadlock
    c1:execute("CREATE TABLE t_eng_shared (id INTEGER)")
    c1:execute("INSERT INTO t_eng_shared (id) VALUES (7)")
    lu.assertEquals(c2:execute("SELECT id FROM t_eng_shared"):scalar(), 7)
    c1:close()
    c2:close()
    engine:dispose()
end

function TestEngine:test_memory_database_survives_between_checkouts()
    local engine = argent.create_engine("sqlite:///:memory:")
    do
        local c1 <close> = engine:connect()
        c1:execute("CREATE TABLE t_eng_shared (id INTEGER)")
        c1:execute("INSERT INTO t_eng_shared (id) VALUES (8)")
    end
    local c2 <close> = engine:connect()
    lu.assertEquals(c2:execute("SELECT id FROM t_eng_shared"):scalar(), 8)
    c2:close()
    engine:dispose()
end

os.exit(helper.run(), true)
