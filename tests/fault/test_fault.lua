-- tests/fault/test_fault.lua -- fault injection (issue 11): what argent does
-- when the process dies in the middle of writing, when the server restarts
-- under its pool or its open transaction, and when the server kills its
-- connection in the middle of a result or of a session's transaction.
--
--   argent run tests/fault/test_fault.lua ARGENT [-v]
--
-- ARGENT is the argent command (the writer of the kill tests runs under it).
-- ARGENT_TEST_DB picks the database: sqlite_file (the kill tests, in WAL
-- and in rollback-journal mode), postgresql or mariadb (all the tests).
-- The servers are their own, never the shared test servers (a restart
-- would disturb the suites running beside this one): scripts/test.sh starts
-- them and sets ARGENT_FAULT_PG_URL and ARGENT_FAULT_PG_DIR, and
-- ARGENT_FAULT_MY_URL, ARGENT_FAULT_MY_DIR and ARGENT_FAULT_MY_PORT; without
-- them a server run exits 77 (skipped).  The tests restart them with
-- scripts/pg.sh and scripts/mariadb.sh.  Nothing here depends on timing:
-- a kill lands wherever it lands, and each check holds wherever that is.
package.path = "./?.lua;" .. package.path
local lu = require "luaunit"
local argent = require "argent"
local models = require "tests.fault.models"

local ARGENT = arg[1]
if not ARGENT or ARGENT:sub(1, 1) == "-" then
  io.stderr:write("usage: argent run tests/fault/test_fault.lua ARGENT [luaunit options]\n")
  os.exit(2)
end
local DB = os.getenv("ARGENT_TEST_DB") or "sqlite_file"
local TMP = os.getenv("ARGENT_TEST_TMP") or "/tmp/argent-test"

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local URL, RESTART
local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
if DB == "postgresql" then
  URL = env("ARGENT_FAULT_PG_URL")
  local dir = env("ARGENT_FAULT_PG_DIR")
  RESTART = dir and "bash scripts/pg.sh restart " .. shell_quote(dir)
elseif DB == "mariadb" then
  URL = env("ARGENT_FAULT_MY_URL")
  local dir, port = env("ARGENT_FAULT_MY_DIR"), env("ARGENT_FAULT_MY_PORT")
  RESTART = dir and port and ("bash scripts/mariadb.sh restart %s %s"):format(shell_quote(dir), shell_quote(port))
elseif DB ~= "sqlite_file" then
  io.stderr:write("test_fault: ARGENT_TEST_DB must be sqlite_file, postgresql or mariadb, not ", DB, "\n")
  os.exit(DB == "sqlite_mem" and 77 or 2)
end
if DB ~= "sqlite_file" and not (URL and RESTART) then
  io.stderr:write("test_fault: the fault servers are not set (ARGENT_FAULT_*): skipped\n")
  os.exit(77)
end
local SERVER = DB ~= "sqlite_file"

-- ---------------------------------------------------------------- helpers

local function kind(err)
  if type(err) ~= "table" then return nil end
  return rawget(err, "kind")
end

-- The call raised an argent error object (of one of the kinds, when given).
local function assert_raises(kinds, fn, ...)
  local ok, err = pcall(fn, ...)
  lu.assertFalse(ok, "the call should have failed")
  lu.assertNotNil(kind(err), "an error object, not: " .. tostring(err))
  if kinds then
    local allowed = false
    for _, k in ipairs(kinds) do allowed = allowed or k == kind(err) end
    lu.assertTrue(allowed, ("got %s, want one of %s"):format(tostring(err), table.concat(kinds, ", ")))
  end
  return err
end

local function restart_server()
  local ok = os.execute(RESTART .. " >&2")
  lu.assertTrue(ok, "restarting the server failed: " .. RESTART)
end

local function new_engine(opts)
  return argent.create_engine(URL, opts)
end

local function scalar(engine, sql, params)
  local conn <close> = engine:connect()
  return conn:execute(sql, params):scalar()
end

local function drop(engine, names)
  local conn <close> = engine:connect()
  for _, name in ipairs(names) do conn:execute("DROP TABLE IF EXISTS " .. name) end
end

-- The server-side id of a connection, and killing it from another one.
local function backend_id(conn)
  if DB == "postgresql" then return conn:execute("SELECT pg_backend_pid()"):scalar() end
  return conn:execute("SELECT CONNECTION_ID()"):scalar()
end

local function kill_backend(engine, id)
  local killer <close> = engine:connect()
  if DB == "postgresql" then
    -- waits (up to 10 s) until that backend has gone
    lu.assertTrue(killer:execute("SELECT pg_terminate_backend(?, 10000)", {id}):scalar())
  else
    killer:exec_driver_sql("KILL CONNECTION " .. math.tointeger(id))
    for _ = 1, 200 do -- until the server has let it go
      if killer:execute("SELECT count(*) FROM information_schema.processlist WHERE id = ?", {id}):scalar() == 0 then
        return
      end
      killer:execute("SELECT SLEEP(0.05)")
    end
  end
end

-- A query with many rows, made by the server (streamed, far more than a
-- socket buffer holds).
local function many_rows_sql(n)
  if DB == "postgresql" then
    return ("SELECT g, repeat('x', 200) AS pad FROM generate_series(1, %d) g"):format(n)
  end
  return ("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < %d) "
    .. "SELECT g, REPEAT('x', 200) AS pad FROM s"):format(n)
end

-- ---------------------------------------------------------------- kill -9 during ORM writes

local TABLES = {"t_fault_items", "t_fault_batches", "t_fault_counter"}

local function sqlite_path(mode) return ("%s/test_fault_%s.db"):format(TMP, mode) end

local function kill_url(mode)
  if SERVER then return URL end
  return "sqlite:///" .. sqlite_path(mode)
end

local function kill_engine(mode)
  local opts = {}
  if not SERVER then opts.connect_args = {journal_mode = mode, busy_timeout = "10000"} end
  return argent.create_engine(kill_url(mode), opts)
end

local function prepare_writer_tables(mode)
  if not SERVER then
    os.execute("mkdir -p " .. shell_quote(TMP))
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do os.remove(sqlite_path(mode) .. suffix) end
  end
  local engine = kill_engine(mode)
  drop(engine, TABLES)
  local m = models.define()
  m.Base.metadata:create_all(engine)
  local conn <close> = engine:connect()
  conn:execute("INSERT INTO t_fault_counter (id, total, batches) VALUES (1, 0, 0)")
  if not SERVER then
    lu.assertEquals(conn:execute("PRAGMA journal_mode"):scalar():lower(), mode:lower())
  end
  return engine
end

-- Runs the writer until it has committed `count` more transactions, then
-- kills it with SIGKILL; returns the ids it reported committed.
local function run_and_kill(mode, count)
  local cmd = ("exec %s run tests/fault/writer.lua %s %s"):format(shell_quote(ARGENT), shell_quote(kill_url(mode)),
    SERVER and "" or shell_quote(mode))
  local p = assert(io.popen(cmd, "r"))
  local first = p:read("l")
  local pid = first and first:match("^pid (%d+)$")
  lu.assertNotNil(pid, "the writer did not start: " .. tostring(first))
  local committed = {}
  while #committed < count do
    local line = p:read("l")
    if not line then break end
    local id = line:match("^committed (%d+)$")
    if id then committed[#committed + 1] = tonumber(id) end
  end
  os.execute("kill -9 " .. pid)
  for id in (p:read("a") or ""):gmatch("committed (%d+)") do committed[#committed + 1] = tonumber(id) end
  local _, how, code = p:close()
  lu.assertEquals(#committed >= count and how, "signal", ("the writer ended by itself (%s %s) after %d commits")
    :format(tostring(how), tostring(code), #committed))
  lu.assertEquals(code, 9)
  return committed
end

-- Each transaction is all or nothing, and every reported commit is there.
local function check_all_or_nothing(engine, committed)
  local conn <close> = engine:connect()
  local batches = conn:execute("SELECT count(*) FROM t_fault_batches"):scalar()
  local items = conn:execute("SELECT count(*) FROM t_fault_items"):scalar()
  local counter = conn:execute("SELECT total, batches FROM t_fault_counter WHERE id = 1"):first()
  local partial = conn:execute("SELECT count(*) FROM (SELECT b.id FROM t_fault_batches b LEFT JOIN t_fault_items i "
    .. "ON i.batch_id = b.id GROUP BY b.id HAVING count(i.id) <> ?) x", {models.ITEMS}):scalar()
  lu.assertEquals(partial, 0, "a batch without all its items")
  lu.assertEquals(items, batches * models.ITEMS, "items without their batch")
  lu.assertEquals(counter.batches, batches, "the counter's update and the rows disagree")
  lu.assertEquals(counter.total, items)
  for _, id in ipairs(committed) do
    lu.assertEquals(conn:execute("SELECT count(*) FROM t_fault_batches WHERE id = ?", {id}):scalar(), 1,
      "a committed batch is missing: " .. id)
  end
  return batches
end

local function kill_rounds(mode)
  local engine = prepare_writer_tables(mode)
  local seen = {}
  for _, count in ipairs {3, 8, 13} do -- three processes, each killed at a different point
    for _, id in ipairs(run_and_kill(mode, count)) do seen[#seen + 1] = id end
    engine:dispose()
    local batches = check_all_or_nothing(engine, seen)
    lu.assertTrue(batches >= #seen)
    if os.getenv("ARGENT_FAULT_TRACE") then io.stderr:write(("round: %d reported, %d batches\n"):format(#seen, batches)) end
  end
  drop(engine, TABLES)
  engine:dispose()
end

TestFaultKill = {}

function TestFaultKill:test_kill_9_during_orm_writes()
  if not SERVER then lu.skip("SQLite: the WAL and rollback-journal tests") end
  kill_rounds(nil)
end

function TestFaultKill:test_kill_9_during_orm_writes_sqlite_wal()
  if SERVER then lu.skip("SQLite only") end
  kill_rounds("WAL")
end

function TestFaultKill:test_kill_9_during_orm_writes_sqlite_rollback_journal()
  if SERVER then lu.skip("SQLite only") end
  kill_rounds("DELETE")
end

-- ---------------------------------------------------------------- the server restarts

TestFaultRestart = {}

function TestFaultRestart:setUp()
  if not SERVER then lu.skip("a server database") end
  self.engine = new_engine()
  drop(self.engine, {"t_fault_tx"})
  local conn <close> = self.engine:connect()
  conn:execute("CREATE TABLE t_fault_tx (id INTEGER PRIMARY KEY, v VARCHAR(20))")
end

function TestFaultRestart:tearDown()
  if not self.engine then return end
  collectgarbage()
  collectgarbage()
  pcall(drop, self.engine, {"t_fault_tx"})
  self.engine:dispose()
end

-- Connections in the pool when the server restarts: with pre-ping, every
-- checkout works; without, a checkout's first statement may fail once
-- (OperationalError), and the pool then replaces the rest.
local function pooled_restart(pre_ping)
  local engine = new_engine{pool_size = 3, pool_pre_ping = pre_ping}
  local conns = {}
  for i = 1, 3 do
    conns[i] = engine:connect()
    lu.assertEquals(conns[i]:execute("SELECT 1"):scalar(), 1)
  end
  for i = 1, 3 do conns[i]:close() end
  lu.assertEquals(engine.pool:status().checked_in, 3)
  restart_server()
  local failures = 0
  for _ = 1, 4 do
    local ok, err = pcall(function()
      local conn <close> = engine:connect()
      return conn:execute("SELECT 2"):scalar()
    end)
    if ok then
      lu.assertEquals(err, 2)
    else
      lu.assertEquals(kind(err), "OperationalError", tostring(err))
      failures = failures + 1
    end
  end
  lu.assertTrue(failures <= (pre_ping and 0 or 1), ("%d checkouts failed"):format(failures))
  lu.assertEquals(engine.pool:status().checked_out, 0)
  lu.assertEquals(scalar(engine, "SELECT 3"), 3)
  engine:dispose()
end

function TestFaultRestart:test_pooled_connections_pre_ping()
  pooled_restart(true)
end

function TestFaultRestart:test_pooled_connections_without_pre_ping()
  pooled_restart(false)
end

-- A transaction open when the server restarts: the next statement fails,
-- the commit never claims success, the rollback does not crash, nothing of
-- the transaction stays, and the engine goes on working.
local function transaction_restart(pre_ping)
  local engine = new_engine{pool_size = 2, pool_pre_ping = pre_ping}
  local conn = engine:connect()
  local tx = conn:begin()
  conn:execute("INSERT INTO t_fault_tx (id, v) VALUES (?, ?)", {1, "before"})
  restart_server()
  assert_raises({"OperationalError"}, conn.execute, conn, "INSERT INTO t_fault_tx (id, v) VALUES (?, ?)", {2, "after"})
  assert_raises(nil, tx.commit, tx) -- never a success: the transaction is gone
  local ok, err = pcall(tx.rollback, tx)
  if not ok then lu.assertNotNil(kind(err), tostring(err)) end
  conn:close()
  lu.assertEquals(scalar(engine, "SELECT count(*) FROM t_fault_tx"), 0)
  engine:begin(function(c) c:execute("INSERT INTO t_fault_tx (id, v) VALUES (?, ?)", {3, "new"}) end)
  lu.assertEquals(scalar(engine, "SELECT v FROM t_fault_tx WHERE id = 3"), "new")
  lu.assertEquals(engine.pool:status().checked_out, 0)
  engine:dispose()
end

function TestFaultRestart:test_open_transaction_pre_ping()
  transaction_restart(true)
end

function TestFaultRestart:test_open_transaction_without_pre_ping()
  transaction_restart(false)
end

-- A session with flushed rows when the server restarts: the commit fails,
-- the rollback is taken, nothing stays, and a new session works.
function TestFaultRestart:test_session_transaction()
  local engine = new_engine{pool_pre_ping = true}
  drop(engine, TABLES)
  local m = models.define()
  m.Base.metadata:create_all(engine)
  local Session = argent.sessionmaker(engine)
  local s = Session()
  local b = m.Batch{id = 1, note = "lost"}
  for k = 1, models.ITEMS do b.items:append(m.Item{k = k}) end
  s:add(b)
  s:flush()
  restart_server()
  assert_raises({"OperationalError"}, s.commit, s)
  s:rollback()
  s:close()
  lu.assertEquals(scalar(engine, "SELECT count(*) FROM t_fault_items"), 0)
  Session:begin(function(s2) s2:add(m.Batch{id = 2, note = "kept"}) end)
  lu.assertEquals(scalar(engine, "SELECT note FROM t_fault_batches"), "kept")
  drop(engine, TABLES)
  engine:dispose()
end

-- A result half read when the server restarts: reading on fails with an
-- OperationalError (or ends, if the rest had arrived), and the engine goes on.
function TestFaultRestart:test_result_half_read()
  local engine = new_engine{pool_pre_ping = true}
  local conn = engine:connect()
  local res = conn:execute(many_rows_sql(200000))
  local iter = res:rows()
  lu.assertEquals(iter().g, 1)
  restart_server()
  local ok, err = pcall(function()
    for _ in iter do end
  end)
  if not ok then lu.assertEquals(kind(err), "OperationalError", tostring(err)) end
  res:close()
  conn:close()
  lu.assertEquals(scalar(engine, "SELECT 4"), 4)
  engine:dispose()
end

-- ---------------------------------------------------------------- killed by the server

TestFaultKilled = {}

function TestFaultKilled:setUp()
  if not SERVER then lu.skip("a server database") end
end

-- pg_terminate_backend / KILL of a connection in the middle of a result.
function TestFaultKilled:test_connection_killed_mid_result()
  local engine = new_engine{pool_size = 2}
  local conn = engine:connect()
  local id = backend_id(conn)
  local res = conn:execute(many_rows_sql(300000))
  local iter = res:rows()
  lu.assertEquals(iter().g, 1)
  kill_backend(engine, id)
  local ok, err = pcall(function()
    for _ in iter do end
  end)
  if not ok then lu.assertEquals(kind(err), "OperationalError", tostring(err)) end
  -- the connection is lost for good: its next statement says so
  assert_raises({"OperationalError"}, conn.execute, conn, "SELECT 1")
  res:close()
  conn:close()
  lu.assertEquals(engine.pool:status().checked_out, 0)
  lu.assertEquals(scalar(engine, "SELECT 5"), 5) -- a new connection replaces it
  engine:dispose()
end

-- ... and in the middle of a session's transaction: the commit fails, nothing stays.
function TestFaultKilled:test_connection_killed_mid_session()
  local engine = new_engine()
  drop(engine, TABLES)
  local m = models.define()
  m.Base.metadata:create_all(engine)
  local Session = argent.sessionmaker(engine)
  local s = Session()
  local b = m.Batch{id = 1, note = "lost"}
  for k = 1, models.ITEMS do b.items:append(m.Item{k = k}) end
  s:add(b)
  s:flush()
  kill_backend(engine, backend_id(s:connection()))
  assert_raises({"OperationalError"}, s.commit, s)
  s:rollback()
  s:close()
  lu.assertEquals(scalar(engine, "SELECT count(*) FROM t_fault_batches"), 0)
  lu.assertEquals(scalar(engine, "SELECT count(*) FROM t_fault_items"), 0)
  Session:begin(function(s2) s2:add(m.Batch{id = 2, note = "kept"}) end)
  lu.assertEquals(scalar(engine, "SELECT count(*) FROM t_fault_batches"), 1)
  drop(engine, TABLES)
  engine:dispose()
end

local args = {}
for i = 2, #arg do args[#args + 1] = arg[i] end
if #args == 0 then args = {"-o", "text"} end
os.exit(lu.LuaUnit.run(table.unpack(args)) == 0 and 0 or 1, true)
