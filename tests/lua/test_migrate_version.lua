-- tests/lua/test_migrate_version.lua -- argent.migrate.version (the version
-- table: every applied revision with its file's checksum and whether it is a
-- head) and the locks of argent.migrate.runner, on every database: rows
-- written and read back, heads kept right through add and remove, the name
-- checked, SQLite's lock statement taking the write lock, PostgreSQL's and
-- MariaDB's run locks held until released; and the offline SQL text.
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu, argent = helper.lu, helper.argent

local Version = require "argent.migrate.version"
local runner = require "argent.migrate.runner"

local URL = mh.url("version")

TestMigrateVersion = {}

function TestMigrateVersion:setUp()
  self.engine = argent.create_engine(URL)
  mh.reset(self.engine)
end

function TestMigrateVersion:tearDown()
  collectgarbage()
  mh.reset(self.engine)
  self.engine:dispose()
end

local function run_all(conn, statements)
  for _, s in ipairs(statements) do conn:execute(s) end
end

function TestMigrateVersion:test_rows_and_heads()
  local v = Version.new("argent_version")
  local conn = self.engine:connect()
  lu.assertFalse(v:exists(conn))
  lu.assertEquals(v:read(conn), {})
  conn:execute(v:create_statement())
  conn:execute(v:create_statement()) -- IF NOT EXISTS
  lu.assertTrue(v:exists(conn))
  run_all(conn, v:add_statements("aaa", "1111", {}))
  run_all(conn, v:add_statements("bbb", "2222", {"aaa"}))
  run_all(conn, v:add_statements("ccc", "3333", {"aaa"}))
  lu.assertEquals(v:read(conn), {{revision = "aaa", checksum = "1111", head = false},
                                 {revision = "bbb", checksum = "2222", head = true},
                                 {revision = "ccc", checksum = "3333", head = true}})
  run_all(conn, v:add_statements("ddd", "4444", {"bbb", "ccc"}))
  run_all(conn, v:remove_statements("ddd", {"bbb", "ccc"}))
  run_all(conn, v:remove_statements("ccc", {}))
  lu.assertEquals(v:read(conn), {{revision = "aaa", checksum = "1111", head = false},
                                 {revision = "bbb", checksum = "2222", head = true}})
  run_all(conn, v:replace_statements({{revision = "zzz", checksum = "9", head = true}}))
  conn:execute(v:checksum_statement("zzz", "10"))
  lu.assertEquals(v:read(conn), {{revision = "zzz", checksum = "10", head = true}})
  conn:execute(v:lock_statement())
  lu.assertEquals(#v:read(conn), 1, "the lock statement changes nothing")
  conn:close()
end

function TestMigrateVersion:test_the_name_is_checked()
  for _, bad in ipairs {"", "a b", "x;drop", "1abc", 42, ("x"):rep(70)} do
    helper.assert_error("ArgumentError", "plain identifier", Version.new, bad)
  end
  lu.assertEquals(Version.new("My_Versions2").name, "My_Versions2")
end

-- SQLite: the lock statement, first in a revision's transaction, makes a second writer wait.
function TestMigrateVersion:test_sqlite_lock_statement_takes_the_write_lock()
  if not helper.is_sqlite_file() then lu.skip("two connections to one SQLite file") end
  local v = Version.new("argent_version")
  local other = argent.create_engine(URL, {connect_args = {busy_timeout = 0}})
  local conn = self.engine:connect()
  conn:execute(v:create_statement())
  local tx = conn:begin()
  conn:execute(v:lock_statement())
  local c2 = other:connect()
  local ok, err = pcall(function()
    local tx2 = c2:begin()
    c2:execute(v:lock_statement())
    tx2:rollback()
  end)
  lu.assertFalse(ok)
  lu.assertEquals(helper.field(err, "kind"), "OperationalError")
  tx:rollback()
  c2:close()
  conn:close()
  other:dispose()
end

-- PostgreSQL and MariaDB: the run's lock is the server's, held until released.
function TestMigrateVersion:test_the_run_lock()
  if helper.is_sqlite() then lu.skip("SQLite locks per revision (above)") end
  local v = Version.new("argent_version")
  local conn = self.engine:connect()
  local release = runner.lock(conn, v)
  local other = argent.create_engine(URL)
  local c2 = other:connect()
  if helper.is_pg() then
    local key = tonumber(require("argent.migrate.script").checksum("argent_migrate:argent_version"):sub(1, 8), 16)
    lu.assertFalse(c2:execute("SELECT pg_try_advisory_lock(?)", {key}):scalar())
    release()
    lu.assertTrue(c2:execute("SELECT pg_try_advisory_lock(?)", {key}):scalar())
    c2:execute("SELECT pg_advisory_unlock(?)", {key})
  else
    local err = helper.raised(runner.lock, c2, v, {lock_timeout = 0})
    helper.assert_has(tostring(err), "another process holds the migration lock")
    release()
    local release2 = runner.lock(c2, v, {lock_timeout = 0})
    release2()
  end
  c2:close()
  conn:close()
  other:dispose()
end

function TestMigrateVersion:test_offline_text()
  local sql = require("argent.core").sql
  local v = Version.new("argent_version")
  local ins = v:add_statements("abc", "it's", {"p1", "p2"})
  lu.assertEquals(runner.text("postgresql", ins[1]),
    "INSERT INTO argent_version (version_num, checksum, is_head) VALUES ('abc', 'it''s', 1)")
  lu.assertEquals(runner.text("sqlite", ins[2]),
    "UPDATE argent_version SET is_head = 0 WHERE argent_version.version_num IN ('p1', 'p2')")
  lu.assertEquals(runner.text("mariadb", "SELECT ?, ?, ?, '?'", {"a\\b", true, argent.null}),
    "SELECT 'a\\\\b', true, NULL, '?'")
  lu.assertEquals(runner.text("sqlite", "SELECT ?, ?", {false, 1.5}), "SELECT 0, 1.5")
  lu.assertEquals(runner.literal("postgresql", 3), "3")
  lu.assertNotNil(sql)
end

local ok = helper.run()
mh.drop_databases()
os.exit(ok, true)
