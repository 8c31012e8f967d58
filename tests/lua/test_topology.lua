-- tests/lua/test_topology.lua -- PostgreSQL beyond one server (API.md section 11):
-- create_engine's prepare = false (src/driver/postgres.c, src/engine/engine.c)
-- directly and through PgBouncer in transaction mode, read replicas
-- (replicas = {...}, connect{readonly = true}) and a multi-host URL that
-- survives a failover.
--
-- The servers come from scripts/test.sh (scripts/pgtopology.sh):
-- ARGENT_TEST_PGB_URL (PgBouncer), ARGENT_TEST_PG_PRIMARY_URL and
-- ARGENT_TEST_PG_STANDBY_URL (a primary and its streaming standby), and
-- ARGENT_FAILOVER_PG_URL / ARGENT_FAILOVER_PG_DIR (a second pair that the
-- failover test promotes).  A test whose servers are not given is skipped.
-- Only the postgresql run uses them; the other runs check the options'
-- argument errors.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local function env(name)
    local v = os.getenv(name)
    if v == "" then return nil end
    return v
end

local PGB_URL = env "ARGENT_TEST_PGB_URL"
local PRIMARY_URL = env "ARGENT_TEST_PG_PRIMARY_URL"
local STANDBY_URL = env "ARGENT_TEST_PG_STANDBY_URL"

local function only_postgresql(...)
    lu.skipIf(helper.db ~= "postgresql", "the postgresql run only (its servers are PostgreSQL)")
    for i = 1, select("#", ...) do
        lu.skipIf(not select(i, ...), "this test's servers are not given (scripts/test.sh starts them)")
    end
end

TestPrepareOption = {}

function TestPrepareOption:test_prepare_must_be_a_boolean()
    helper.assert_error("ArgumentError", "prepare", argent.create_engine, helper.url(), {prepare = "no"})
end

function TestPrepareOption:test_prepare_false_is_for_postgresql_only()
    lu.skipIf(helper.is_pg(), "not PostgreSQL")
    helper.assert_error("ArgumentError", "prepare", argent.create_engine, helper.url(), {prepare = false})
end

function TestPrepareOption:test_prepare_false_refuses_startup_options()
    lu.skipIf(not helper.is_pg(), "PostgreSQL only")
    local engine = argent.create_engine(helper.url(), {prepare = false, connect_args = {options = "-c work_mem=4MB"}})
    helper.assert_error("ArgumentError", "options", engine.connect, engine)
end

function TestPrepareOption:test_prepare_false_makes_no_named_statement()
    lu.skipIf(helper.db ~= "postgresql", "a direct PostgreSQL connection")
    local engine = argent.create_engine(helper.url(), {prepare = false, pool_size = 1})
    local conn <close> = engine:connect()
    for i = 1, 3 do
        lu.assertEquals(conn:execute("SELECT CAST(? AS integer) + 1 AS n", {i}):scalar(), i + 1)
    end
    lu.assertEquals(conn:execute("SELECT substr('hello', ?)", {2}):scalar(), "ello")
    lu.assertEquals(conn:execute("SELECT count(*) FROM pg_prepared_statements"):scalar(), 0)
    conn:close()
    engine:dispose()
end

TestPgBouncer = {}

function TestPgBouncer:test_named_statements_fail_at_once_saying_prepare_false()
    only_postgresql(PGB_URL)
    local engine = argent.create_engine(PGB_URL)
    helper.assert_error("OperationalError", "prepare = false", engine.connect, engine)
end

function TestPgBouncer:test_isolation_level_applies_per_transaction()
    only_postgresql(PGB_URL)
    local engine = argent.create_engine(PGB_URL, {prepare = false, isolation_level = "SERIALIZABLE"})
    local conn <close> = engine:connect()
    for _ = 1, 3 do
        local tx = conn:begin()
        lu.assertEquals(conn:execute("SELECT current_setting('transaction_isolation')"):scalar(), "serializable")
        tx:commit()
    end
    conn:close()
    engine:dispose()
end

-- More clients than PgBouncer has server connections (2): transactions and
-- cached statements move between server connections and stay right.
function TestPgBouncer:test_many_clients_interleaved()
    only_postgresql(PGB_URL)
    local engine = argent.create_engine(PGB_URL, {prepare = false, pool_size = 6})
    local setup <close> = engine:connect()
    setup:execute("DROP TABLE IF EXISTS t_topo_bouncer")
    setup:execute("CREATE TABLE t_topo_bouncer (id INTEGER PRIMARY KEY, owner INTEGER, n INTEGER)")
    setup:close()
    local conns = {}
    for c = 1, 6 do conns[c] = engine:connect() end
    for round = 1, 5 do
        for c, conn in ipairs(conns) do
            local tx = conn:begin()
            conn:execute("INSERT INTO t_topo_bouncer (id, owner, n) VALUES (?, ?, ?)", {round * 100 + c, c, round})
            lu.assertEquals(conn:execute("SELECT count(*) FROM t_topo_bouncer WHERE owner = ?", {c}):scalar(), round)
            tx:commit()
        end
    end
    conns[1]:executemany("INSERT INTO t_topo_bouncer (id, owner, n) VALUES (?, ?, ?)",
                     {{1001, 9, 1}, {1002, 9, 2}, {1003, 9, 3}})
    lu.assertEquals(conns[2]:execute("SELECT sum(n) FROM t_topo_bouncer WHERE owner = 9"):scalar(), 6)
    for _, conn in ipairs(conns) do conn:close() end
    local last <close> = engine:connect()
    last:execute("DROP TABLE t_topo_bouncer")
    last:close()
    engine:dispose()
end

-- the port of the server a connection reached
local function server_port(conn)
    return conn:execute("SELECT inet_server_port()"):scalar()
end

local function in_recovery(conn)
    return conn:execute("SELECT pg_is_in_recovery()"):scalar()
end

local function port_of(url)
    return argent.make_url(url).port
end

TestMultiHost = {}

function TestMultiHost:test_target_session_attrs_picks_the_server()
    only_postgresql(PRIMARY_URL, STANDBY_URL)
    local primary, standby = argent.make_url(PRIMARY_URL), argent.make_url(STANDBY_URL)
    local hosts = ("postgresql://postgres@%s:%d,%s:%d/argent_test"):format(
        standby.host, standby.port, primary.host, primary.port)
    for attrs, want in pairs {["read-write"] = primary.port, primary = primary.port,
                              ["read-only"] = standby.port, standby = standby.port,
                              ["prefer-standby"] = standby.port} do
        local engine = argent.create_engine(hosts .. "?target_session_attrs=" .. attrs, {pool_size = 1})
        local conn <close> = engine:connect()
        lu.assertEquals(server_port(conn), want, attrs)
        lu.assertEquals(in_recovery(conn), want == standby.port, attrs)
        conn:close()
        engine:dispose()
    end
end

-- The failover pair (ARGENT_FAILOVER_PG_URL: primary,standby): the primary
-- stops, the standby is promoted; the statement in flight fails with an
-- OperationalError, the pool replaces its connections with ones to the new
-- primary, and nothing is written twice.
function TestMultiHost:test_failover_to_the_promoted_standby()
    local url, dir = env "ARGENT_FAILOVER_PG_URL", env "ARGENT_FAILOVER_PG_DIR"
    only_postgresql(url, dir)
    local hosts = argent.make_url(url).hosts
    local engine = argent.create_engine(url .. "?target_session_attrs=read-write",
                                        {pool_size = 2, pool_pre_ping = true})
    local conn = engine:connect()
    lu.assertEquals(server_port(conn), hosts[1].port)
    conn:execute("DROP TABLE IF EXISTS t_topo_failover")
    conn:execute("CREATE TABLE t_topo_failover (id INTEGER PRIMARY KEY)")
    conn:executemany("INSERT INTO t_topo_failover (id) VALUES (?)", {{1}, {2}, {3}})
    -- the standby has replayed all of it before the primary stops
    local standby = argent.create_engine(("postgresql://postgres@%s:%d/argent_test"):format(
        hosts[2].host, hosts[2].port), {pool_size = 1})
    local reader <close> = standby:connect()
    local lsn = conn:execute("SELECT pg_current_wal_insert_lsn()::text"):scalar()
    for _ = 1, 500 do
        if reader:execute("SELECT pg_last_wal_replay_lsn() >= CAST(? AS pg_lsn)", {lsn}):scalar() then break end
        os.execute("sleep 0.01")
    end
    reader:close()
    standby:dispose()
    lu.assertTrue(os.execute("scripts/pgtopology.sh promote '" .. dir .. "'"))
    -- the connection in flight: its server went away
    helper.assert_error("OperationalError", nil, conn.execute, conn,
                        "INSERT INTO t_topo_failover (id) VALUES (?)", {99})
    conn:close()
    -- a new checkout reaches the promoted standby and writes
    local after <close> = engine:connect()
    lu.assertEquals(server_port(after), hosts[2].port)
    lu.assertFalse(in_recovery(after))
    after:execute("INSERT INTO t_topo_failover (id) VALUES (?)", {4})
    lu.assertEquals(after:execute("SELECT count(*) AS n, sum(id) AS total FROM t_topo_failover"):first(), {n = 4, total = 10})
    after:close()
    engine:dispose()
end

-- read replicas

TestReplicas = {}

function TestReplicas:test_options_are_checked()
    helper.assert_error("ArgumentError", "replicas", argent.create_engine, helper.url(), {replicas = "x"})
    helper.assert_error("ArgumentError", "replicas[1]", argent.create_engine, helper.url(), {replicas = {42}})
    local other = helper.is_mariadb() and "postgresql://h/db" or "mariadb://h/db"
    helper.assert_error("ArgumentError", "replicas[1]", argent.create_engine, helper.url(), {replicas = {other}})
    local engine = helper.engine()
    helper.assert_error("ArgumentError", "readonly", engine.connect, engine, {readonly = "yes"})
    helper.assert_error("ArgumentError", "unknown option", engine.connect, engine, {read_only = true})
    helper.assert_error("ArgumentError", "opts", engine.connect, engine, 42)
    helper.assert_error("ArgumentError", "readonly", argent.sessionmaker, engine, {readonly = 1})
    engine:dispose()
end

-- Without replicas a readonly connection is the primary's; status has no replicas.
function TestReplicas:test_without_replicas_readonly_is_the_primary()
    local engine = helper.engine({pool_size = 1})
    local conn <close> = engine:connect({readonly = true})
    lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    conn:close()
    lu.assertNil(engine.pool:status().replicas)
    engine:dispose()
end

-- A readonly session refuses to flush, on any database (the engine here has no replica).
function TestReplicas:test_readonly_session_refuses_to_flush()
    local blog = require "models.blog"
    local engine = helper.engine()
    blog.Base.metadata:create_all(engine)
    local Reader = argent.sessionmaker(engine, {readonly = true})
    local s <close> = Reader()
    lu.assertEquals(s:query(blog.User):count(), 0) -- reading is fine
    s:add(blog.User{username = "ann"})
    helper.assert_error("InvalidRequestError", "read-only", s.flush, s)
    helper.assert_error("InvalidRequestError", "read-only", s.commit, s)
    s:close()
    blog.Base.metadata:drop_all(engine)
    engine:dispose()
end

-- Waits until the standby has replayed what the primary wrote so far.
local function wait_for_replay(primary_conn, standby_conn)
    local lsn = primary_conn:execute("SELECT pg_current_wal_insert_lsn()::text"):scalar()
    for _ = 1, 1000 do
        if standby_conn:execute("SELECT pg_last_wal_replay_lsn() >= CAST(? AS pg_lsn)", {lsn}):scalar() then return end
        os.execute("sleep 0.01")
    end
    lu.fail("the standby did not replay the primary's writes in 10 s")
end

function TestReplicas:test_replica_reads_see_replicated_rows()
    only_postgresql(PRIMARY_URL, STANDBY_URL)
    local engine = argent.create_engine(PRIMARY_URL, {replicas = {STANDBY_URL}, pool_size = 2})
    local writer <close> = engine:connect()
    lu.assertFalse(in_recovery(writer))
    writer:execute("DROP TABLE IF EXISTS t_topo_replica")
    writer:execute("CREATE TABLE t_topo_replica (id INTEGER PRIMARY KEY, name TEXT)")
    writer:executemany("INSERT INTO t_topo_replica (id, name) VALUES (?, ?)", {{1, "a"}, {2, "b"}})
    local reader <close> = engine:connect({readonly = true})
    lu.assertTrue(in_recovery(reader))
    lu.assertEquals(server_port(reader), port_of(STANDBY_URL))
    wait_for_replay(writer, reader)
    lu.assertEquals(reader:execute("SELECT count(*) FROM t_topo_replica"):scalar(), 2)
    -- a replica refuses writes (the server says so)
    lu.assertNotNil(select(2, pcall(reader.execute, reader, "INSERT INTO t_topo_replica (id) VALUES (3)")))
    reader:close()
    local st = engine.pool:status()
    lu.assertEquals(st.checked_out, 1)
    lu.assertEquals(#st.replicas, 1)
    lu.assertEquals(st.replicas[1].url, STANDBY_URL)
    lu.assertEquals(st.replicas[1].checked_in, 1)
    -- a readonly session reads from the replica; an ordinary one writes on the primary
    local Model = argent.declarative_base()
    local Item = Model:model("Item", {__tablename = "t_topo_replica",
                                      id = argent.Column(argent.Integer, {primary_key = true}),
                                      name = argent.Column(argent.Text)})
    local Writer = argent.sessionmaker(engine)
    local w <close> = Writer()
    w:add(Item{id = 3, name = "c"})
    w:commit()
    lu.assertEquals(writer:execute("SELECT count(*) FROM t_topo_replica"):scalar(), 3)
    local waiter <close> = engine:connect({readonly = true})
    wait_for_replay(writer, waiter)
    waiter:close()
    local Reader = argent.sessionmaker(engine, {readonly = true})
    local r <close> = Reader()
    lu.assertEquals(r:query(Item):count(), 3)
    lu.assertTrue(in_recovery(r:connection()))
    r:close()
    writer:execute("DROP TABLE t_topo_replica")
    writer:close()
    engine:dispose()
end

-- Round robin over the replicas, skipping one that does not answer; with
-- none answering, the primary.
function TestReplicas:test_replica_that_fails_is_skipped_then_the_primary()
    only_postgresql(PRIMARY_URL, STANDBY_URL)
    local dead = "postgresql://postgres@127.0.0.1:1/argent_test" -- refuses at once
    local engine = argent.create_engine(PRIMARY_URL, {replicas = {dead, STANDBY_URL}, pool_size = 1})
    for _ = 1, 4 do
        local conn <close> = engine:connect({readonly = true})
        lu.assertEquals(server_port(conn), port_of(STANDBY_URL))
        conn:close()
    end
    engine:dispose()
    local none = argent.create_engine(PRIMARY_URL, {replicas = {dead, dead}, pool_size = 1})
    local conn <close> = none:connect({readonly = true})
    lu.assertEquals(server_port(conn), port_of(PRIMARY_URL))
    lu.assertFalse(in_recovery(conn))
    conn:close()
    none:dispose()
end

-- A replica whose connections are all busy is passed over, not skipped: the
-- next one serves at once, and the busy one serves again once a connection
-- comes back.  With every replica busy the wait is an exhausted pool's
-- (TimeoutError after pool_timeout), not the primary.
function TestReplicas:test_busy_replica_is_passed_over_not_skipped()
    only_postgresql(PRIMARY_URL, STANDBY_URL)
    local engine = argent.create_engine(PRIMARY_URL, {replicas = {STANDBY_URL, STANDBY_URL}, pool_size = 1,
                                                      max_overflow = 0, pool_timeout = 1})
    local function out() -- checked-out counts of the two replica pools
        local st = engine.pool:status().replicas
        return {st[1].checked_out, st[2].checked_out}
    end
    local a = engine:connect({readonly = true}) -- the first replica
    lu.assertEquals(out(), {1, 0})
    local b = engine:connect({readonly = true}) -- the second
    lu.assertEquals(out(), {1, 1})
    b:close()
    local c = engine:connect({readonly = true}) -- round robin says the first: busy, so the second
    lu.assertEquals(out(), {1, 1})
    lu.assertTrue(in_recovery(c))
    local err = helper.raised(engine.connect, engine, {readonly = true}) -- both busy
    lu.assertEquals(err.kind, "TimeoutError")
    c:close()
    a:close()
    for _ = 1, 2 do -- the first replica was busy, never skipped: round robin reaches it again
        local d = engine:connect({readonly = true})
        local e = engine:connect({readonly = true})
        lu.assertEquals(out(), {1, 1})
        d:close()
        e:close()
    end
    engine:dispose()
end

os.exit(helper.run(), true)
