-- tests/lua/test_pool.lua -- the connection pool (src/pool) seen through the
-- public API: engine options pool_size, max_overflow, pool_timeout,
-- pool_recycle and pool_pre_ping, engine.pool:status(), dispose (API.md
-- section 2).
--
-- The limit and TimeoutError, status through a sequence of connects and
-- closes, reuse of the database connection behind close/connect, recycle,
-- rollback on return (also of a connection dropped without close() and
-- collected), dispose, and on PostgreSQL a server that drops every
-- connection of the engine, with and without pre-ping.  The timing bounds and
-- the threaded cases are in tests/c/test_pool.c: Lua has no monotonic clock
-- finer than os.time()'s second.
--
-- The database connection behind a Connection is named by connection_id():
-- the backend pid on PostgreSQL, CONNECTION_ID() on MariaDB; on SQLite a
-- token kept in a TEMP table, which lives exactly as long as its connection.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local TABLES = {
    {"t_pool_items", "CREATE TABLE t_pool_items (id INTEGER PRIMARY KEY, name VARCHAR(50))"},
}

-- On PostgreSQL the connections of this suite's engines carry this
-- application_name, so that "the server drops every connection" can drop
-- exactly theirs and not those of another test running at the same time.
local APP = "argent_test_pool"

local function sleep(seconds)
    os.execute(("sleep %.3f"):format(seconds))
end

-- An engine on this run's database with opts (plus application_name on PostgreSQL).
local function make_engine(opts)
    opts = opts or {}
    if helper.is_pg() then opts.connect_args = {application_name = APP} end
    return helper.engine(opts)
end

local last_token = 0

-- A value naming the database connection behind conn (see the top).
local function connection_id(conn)
    lu.skipIf(helper.is_pgbouncer(), "through PgBouncer a connection has no server session of its own to name")
    if helper.is_pg() then return conn:execute("SELECT pg_backend_pid()"):scalar() end
    if helper.is_mariadb() then return conn:execute("SELECT CONNECTION_ID()"):scalar() end
    conn:execute("CREATE TEMP TABLE IF NOT EXISTS t_pool_id (token INTEGER)")
    local token = conn:execute("SELECT max(token) FROM t_pool_id"):scalar()
    if token == nil then
        last_token = last_token + 1
        token = last_token
        conn:execute("INSERT INTO t_pool_id (token) VALUES (?)", {token})
    end
    return token
end

local function assert_status(engine, want, msg)
    local st = engine.pool:status()
    lu.assertEquals({size = st.size, checked_in = st.checked_in, checked_out = st.checked_out,
                     overflow = st.overflow}, want, msg)
end

TestPool = {}

function TestPool:setUp()
    self.engine = nil
    self.tables = nil
end

function TestPool:tearDown()
    helper.cleanup(self.engine, self.tables)
    self.engine = nil
end

-- limits

function TestPool:test_limit_reached_raises_timeout_error()
    lu.skipIf(helper.is_sqlite_mem(), "an in-memory database has one shared connection and no limit")
    local engine = make_engine({pool_size = 1, max_overflow = 0, pool_timeout = 0.2})
    self.engine = engine
    local c1 <close> = engine:connect()
    local t0 = os.time()
    local err = helper.assert_error("TimeoutError", "size 1", engine.connect, engine)
    lu.assertTrue(os.time() - t0 <= 2, "gave up after about pool_timeout")
    lu.assertStrContains(err.message, "overflow 0")
    lu.assertStrContains(err.message, "timeout 0.20")
    assert_status(engine, {size = 1, checked_in = 0, checked_out = 1, overflow = 0})
    c1:close()
    local c2 <close> = engine:connect() -- the place is free again
    lu.assertEquals(c2:execute("SELECT 1 AS x"):scalar(), 1)
end

function TestPool:test_overflow_connections_count_towards_the_limit()
    lu.skipIf(helper.is_sqlite_mem(), "an in-memory database has one shared connection and no limit")
    local engine = make_engine({pool_size = 1, max_overflow = 1, pool_timeout = 0.1})
    self.engine = engine
    local c1 <close> = engine:connect()
    local c2 <close> = engine:connect()
    assert_status(engine, {size = 1, checked_in = 0, checked_out = 2, overflow = 1})
    helper.assert_error("TimeoutError", "overflow 1", engine.connect, engine)
    c2:close()
    local c3 <close> = engine:connect()
    lu.assertEquals(c3:execute("SELECT 3 AS x"):scalar(), 3)
end

function TestPool:test_memory_database_connections_share_one_without_limit()
    lu.skipIf(not helper.is_sqlite_mem(), "in-memory SQLite only")
    local engine = make_engine({pool_size = 1, max_overflow = 0, pool_timeout = 0.2})
    self.engine = engine
    local c1 <close> = engine:connect()
    local c2 <close> = engine:connect() -- shares; neither waits nor fails
    lu.assertEquals(connection_id(c1), connection_id(c2))
    assert_status(engine, {size = 1, checked_in = 0, checked_out = 2, overflow = 0})
end

-- status

function TestPool:test_status_through_connects_and_closes()
    lu.skipIf(helper.is_sqlite_mem(), "in-memory SQLite: see the next test")
    local engine = make_engine({pool_size = 2, max_overflow = 1, pool_timeout = 0.2})
    self.engine = engine
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 0, overflow = 0}, "nothing yet")
    local c1 = engine:connect()
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 1, overflow = 0})
    local c2 = engine:connect()
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 2, overflow = 0})
    local c3 = engine:connect()
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 3, overflow = 1}, "one overflow")
    c3:close() -- kept: fewer than pool_size wait idle
    assert_status(engine, {size = 2, checked_in = 1, checked_out = 2, overflow = 1})
    c3:close() -- closing twice changes nothing
    assert_status(engine, {size = 2, checked_in = 1, checked_out = 2, overflow = 1})
    c2:close()
    assert_status(engine, {size = 2, checked_in = 2, checked_out = 1, overflow = 1})
    c1:close() -- pool_size wait idle already: this one is closed
    assert_status(engine, {size = 2, checked_in = 2, checked_out = 0, overflow = 0})
    local c4 <close> = engine:connect()
    assert_status(engine, {size = 2, checked_in = 1, checked_out = 1, overflow = 0})
end

function TestPool:test_status_of_memory_database()
    lu.skipIf(not helper.is_sqlite_mem(), "in-memory SQLite only")
    local engine = make_engine({pool_size = 2, max_overflow = 1})
    self.engine = engine
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 0, overflow = 0})
    local c1 = engine:connect()
    local c2 = engine:connect()
    local c3 = engine:connect()
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 3, overflow = 0})
    c3:close()
    c2:close()
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 1, overflow = 0})
    c1:close()
    assert_status(engine, {size = 2, checked_in = 1, checked_out = 0, overflow = 0})
end

-- reuse and recycle

function TestPool:test_connection_is_reused_after_close()
    local engine = make_engine({pool_size = 2})
    self.engine = engine
    local c1 = engine:connect()
    local id = connection_id(c1)
    c1:close()
    local c2 <close> = engine:connect()
    lu.assertEquals(connection_id(c2), id, "the same database connection")
    c2:close()
    local c3 <close> = engine:connect()
    lu.assertEquals(connection_id(c3), id)
end

function TestPool:test_recycle_replaces_an_old_connection()
    lu.skipIf(helper.is_sqlite_mem(), "an in-memory database is never recycled (it would be lost)")
    local engine = make_engine({pool_size = 2, pool_recycle = 0.2})
    self.engine = engine
    local c1 = engine:connect()
    local id = connection_id(c1)
    c1:close()
    local c2 = engine:connect()
    lu.assertEquals(connection_id(c2), id, "young: reused")
    c2:close()
    sleep(0.3)
    local c3 <close> = engine:connect()
    local new_id = connection_id(c3)
    lu.assertNotEquals(new_id, id, "older than pool_recycle: replaced")
    lu.assertEquals(c3:execute("SELECT 1 AS x"):scalar(), 1)
    assert_status(engine, {size = 2, checked_in = 0, checked_out = 1, overflow = 0})
end

-- reset on return

function TestPool:test_transaction_left_open_is_rolled_back_on_close()
    self.engine = make_engine({pool_size = 1, max_overflow = 0})
    self.tables = TABLES
    helper.create_tables(self.engine, TABLES)
    local c1 = self.engine:connect()
    local tx = c1:begin()
    c1:execute("INSERT INTO t_pool_items (id, name) VALUES (?, ?)", {1, "never committed"})
    c1:close()
    local c2 <close> = self.engine:connect()
    lu.assertEquals(helper.count(c2, "t_pool_items"), 0)
    local tx2 = c2:begin() -- no transaction is left open on the connection
    c2:execute("INSERT INTO t_pool_items (id, name) VALUES (?, ?)", {2, "committed"})
    tx2:commit()
    lu.assertEquals(helper.count(c2, "t_pool_items"), 1)
end

function TestPool:test_connection_dropped_without_close_returns_when_collected()
    self.engine = make_engine({pool_size = 1, max_overflow = 0, pool_timeout = 0.2})
    self.tables = TABLES
    helper.create_tables(self.engine, TABLES)
    local engine = self.engine
    local function leak()
        local c = engine:connect()
        c:begin()
        c:execute("INSERT INTO t_pool_items (id, name) VALUES (?, ?)", {1, "dropped"})
    end
    collectgarbage("stop") -- no collection before we look
    leak()
    lu.assertEquals(engine.pool:status().checked_out, 1, "still out: not collected yet")
    collectgarbage()
    collectgarbage()
    collectgarbage("restart")
    local st = engine.pool:status()
    lu.assertEquals(st.checked_out, 0, "returned by __gc")
    local c2 <close> = engine:connect() -- with pool_size 1 this needs the returned slot
    lu.assertEquals(helper.count(c2, "t_pool_items"), 0, "its transaction was rolled back")
end

-- dispose

function TestPool:test_dispose_closes_pooled_connections()
    local engine = make_engine({pool_size = 3})
    self.engine = engine
    local held = engine:connect()
    local c2 = engine:connect()
    local old_id = connection_id(c2)
    c2:close()
    lu.assertEquals(engine.pool:status().checked_in, helper.is_sqlite_mem() and 0 or 1)
    engine:dispose()
    local st = engine.pool:status()
    lu.assertEquals(st.checked_in, 0)
    lu.assertEquals(st.checked_out, 1)
    lu.assertEquals(held:execute("SELECT 1 AS x"):scalar(), 1, "a held connection keeps working")
    held:close() -- closed on return, not pooled
    assert_status(engine, {size = 3, checked_in = 0, checked_out = 0, overflow = 0})
    local c3 <close> = engine:connect()
    lu.assertEquals(c3:execute("SELECT 2 AS x"):scalar(), 2, "connect works again")
    lu.assertNotEquals(connection_id(c3), old_id, "a new connection")
end

function TestPool:test_pool_dispose_is_engine_dispose()
    local engine = make_engine()
    self.engine = engine
    local c = engine:connect()
    c:close()
    engine.pool:dispose()
    lu.assertEquals(engine.pool:status().checked_in, 0)
end

-- the server drops every connection (PostgreSQL)

-- From an engine of its own, terminates every backend of this suite's
-- engines and waits until the server has let them go.
local function drop_pool_connections()
    local killer = argent.create_engine(helper.pg_url, {pool_size = 1})
    local k <close> = killer:connect()
    local killed = k:execute([[
        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ?]],
        {APP}):scalar()
    for _ = 1, 500 do
        local left = k:execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?", {APP}):scalar()
        if left == 0 then break end
        sleep(0.01)
    end
    k:close()
    killer:dispose()
    return killed
end

-- Opens n connections at once; returns them and their ids.
local function open_many(engine, n)
    local conns, ids = {}, {}
    for i = 1, n do
        conns[i] = engine:connect()
        ids[i] = connection_id(conns[i])
    end
    return conns, ids
end

local function close_all(conns)
    for _, c in ipairs(conns) do c:close() end
end

function TestPool:test_pre_ping_replaces_connections_the_server_dropped()
    lu.skipIf(not helper.is_pg() or helper.is_pgbouncer(),
              "PostgreSQL only: the connections are dropped with pg_terminate_backend")
    local engine = make_engine({pool_size = 3, pool_pre_ping = true})
    self.engine = engine
    local conns, old = open_many(engine, 3)
    close_all(conns)
    lu.assertEquals(drop_pool_connections(), 3)
    local c = engine:connect()
    lu.assertEquals(c:execute("SELECT 1 AS x"):scalar(), 1, "the first query succeeds")
    c:close()
    conns = open_many(engine, 3) -- every one of them works
    for _, conn in ipairs(conns) do
        local pid = connection_id(conn)
        for _, dead in ipairs(old) do lu.assertNotEquals(pid, dead) end
    end
    assert_status(engine, {size = 3, checked_in = 0, checked_out = 3, overflow = 0})
    close_all(conns)
end

function TestPool:test_without_pre_ping_first_use_fails_then_connections_are_replaced()
    lu.skipIf(not helper.is_pg() or helper.is_pgbouncer(),
              "PostgreSQL only: the connections are dropped with pg_terminate_backend")
    local engine = make_engine({pool_size = 3})
    self.engine = engine
    local conns, old = open_many(engine, 3)
    close_all(conns)
    lu.assertEquals(drop_pool_connections(), 3)
    do
        local c <close> = engine:connect()
        helper.assert_error("OperationalError", nil, c.execute, c, "SELECT 1 AS x")
    end -- the broken connection is discarded, and the pool invalidated
    assert_status(engine, {size = 3, checked_in = 2, checked_out = 0, overflow = 0})
    local c = engine:connect()
    lu.assertEquals(c:execute("SELECT 1 AS x"):scalar(), 1, "the one after works")
    lu.assertNotEquals(connection_id(c), old[1])
    c:close()
    conns = open_many(engine, 3) -- the other dropped ones were replaced too
    for _, conn in ipairs(conns) do
        lu.assertEquals(conn:execute("SELECT 2 AS x"):scalar(), 2)
        local pid = connection_id(conn)
        for _, dead in ipairs(old) do lu.assertNotEquals(pid, dead) end
    end
    close_all(conns)
end

os.exit(helper.run(), true)
