-- tests/lua/test_migrate.lua -- argent.migrate, the Lua API of API.md
-- section 9.3, on every database: upgrade / downgrade (head, base, ids,
-- prefixes, +N / -N) keeping rows, current, heads, history, merge, stamp,
-- check, revision, env.lua; a failing revision leaves the previous version
-- and data; an applied file that was edited is detected; bad input gives
-- clear errors; two processes upgrading at once run each revision once.
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu, argent = helper.lu, helper.argent
local migrate = require "argent.migrate"

local sqlite, mariadb = helper.is_sqlite(), helper.is_mariadb()
local URL = mh.url("api")

TestMigrate = {}

function TestMigrate:setUp()
  self.engine = argent.create_engine(URL)
  mh.reset(self.engine)
  self.dir = mh.dir("api")
  self.opts = {directory = self.dir}
end

function TestMigrate:tearDown()
  collectgarbage()
  mh.reset(self.engine)
  self.engine:dispose()
end

function TestMigrate:rows(sql) return mh.rows(self.engine, sql) end

function TestMigrate:columns(t)
  local out = {}
  for _, c in ipairs(argent.inspect(self.engine):get_columns(t)) do out[#out + 1] = c.name end
  return out
end

-- r1 creates items(id, name); r2 adds items.price; r3 indexes name
function TestMigrate:three()
  mh.revision(self.dir, "a1a1a1a1a1a1", nil,
    'op.create_table("items", argent.Column("id", argent.Integer, {primary_key = true}), argent.Column("name", argent.String(20)))',
    'op.drop_table("items")', "items")
  mh.revision(self.dir, "b2b2b2b2b2b2", "a1a1a1a1a1a1",
    'op.add_column("items", argent.Column("price", argent.Integer))', 'op.drop_column("items", "price")', "price")
  mh.revision(self.dir, "c3c3c3c3c3c3", "b2b2b2b2b2b2",
    'op.create_index("ix_items_name", "items", {"name"})', 'op.drop_index("ix_items_name", "items")', "index")
end

function TestMigrate:test_upgrade_downgrade_round_trip_keeps_rows()
  self:three()
  lu.assertEquals(migrate.current(self.engine, self.opts), {})
  lu.assertEquals(migrate.upgrade(self.engine, "head", self.opts), {"a1a1a1a1a1a1", "b2b2b2b2b2b2", "c3c3c3c3c3c3"})
  lu.assertEquals(migrate.current(self.engine, self.opts), {"c3c3c3c3c3c3"})
  local conn = self.engine:connect()
  conn:execute("INSERT INTO items (id, name, price) VALUES (1, 'pen', 3), (2, 'ink', 5)")
  conn:exec_driver_sql("CREATE TABLE outside (n INTEGER)")
  conn:execute("INSERT INTO outside (n) VALUES (42)")
  conn:close()
  lu.assertEquals(migrate.downgrade(self.engine, "a1a1", self.opts), {"c3c3c3c3c3c3", "b2b2b2b2b2b2"})
  lu.assertEquals(self:columns("items"), {"id", "name"})
  lu.assertEquals(self:rows("SELECT id, name FROM items ORDER BY id"), {{id = 1, name = "pen"}, {id = 2, name = "ink"}})
  lu.assertEquals(migrate.upgrade(self.engine, nil, self.opts), {"b2b2b2b2b2b2", "c3c3c3c3c3c3"})
  lu.assertEquals(#self:rows("SELECT id FROM items"), 2)
  lu.assertEquals(migrate.downgrade(self.engine, "base", self.opts), {"c3c3c3c3c3c3", "b2b2b2b2b2b2", "a1a1a1a1a1a1"})
  lu.assertNil(mh.tables(self.engine).items)
  lu.assertEquals(migrate.current(self.engine, self.opts), {})
  migrate.upgrade(self.engine, "head", self.opts)
  lu.assertEquals(self:rows("SELECT n FROM outside"), {{n = 42}}, "a table no revision drops keeps its rows")
  lu.assertEquals(self:columns("items"), {"id", "name", "price"})
end

function TestMigrate:test_relative_targets()
  self:three()
  lu.assertEquals(migrate.upgrade(self.engine, "+2", self.opts), {"a1a1a1a1a1a1", "b2b2b2b2b2b2"})
  lu.assertEquals(migrate.upgrade(self.engine, "+1", self.opts), {"c3c3c3c3c3c3"})
  helper.assert_error("CommandError", "at head", migrate.upgrade, self.engine, "+1", self.opts)
  lu.assertEquals(migrate.downgrade(self.engine, nil, self.opts), {"c3c3c3c3c3c3"})
  lu.assertEquals(migrate.downgrade(self.engine, "-2", self.opts), {"b2b2b2b2b2b2", "a1a1a1a1a1a1"})
  helper.assert_error("CommandError", "at base", migrate.downgrade, self.engine, "-1", self.opts)
  lu.assertEquals(migrate.upgrade(self.engine, "b2", self.opts), {"a1a1a1a1a1a1", "b2b2b2b2b2b2"})
  lu.assertEquals(migrate.upgrade(self.engine, "a1a1a1a1a1a1", self.opts), {}, "already applied: nothing to do")
end

function TestMigrate:test_a_failing_revision_leaves_the_previous_version_and_data()
  self:three()
  migrate.upgrade(self.engine, "a1a1a1a1a1a1", self.opts)
  local conn = self.engine:connect()
  conn:execute("INSERT INTO items (id, name) VALUES (1, 'pen')")
  conn:close()
  mh.revision(self.dir, "b2b2b2b2b2b2", "a1a1a1a1a1a1",
    'op.add_column("items", argent.Column("price", argent.Integer))\n'
    .. '    op.execute("UPDATE items SET name = \'changed\'")\n'
    .. '    op.execute("INSERT INTO no_such_table VALUES (1)")', "")
  local err = helper.raised(migrate.upgrade, self.engine, "head", self.opts)
  lu.assertEquals(helper.field(err, "kind"), "ProgrammingError")
  local msg = helper.field(err, "message")
  helper.assert_has(msg, "upgrade b2b2b2b2b2b2 (revision b2b2b2b2b2b2) failed in op.execute(")
  lu.assertEquals(migrate.current(self.engine, self.opts), {"a1a1a1a1a1a1"})
  if mariadb then
    helper.assert_has(msg, "done before the failure: op.add_column(\"items\", Column(\"price\")), op.execute(")
    helper.assert_has(msg, "the version table stays at a1a1a1a1a1a1")
  else
    helper.assert_has(msg, "rolled back: the database stays at a1a1a1a1a1a1")
    lu.assertEquals(self:columns("items"), {"id", "name"})
    lu.assertEquals(self:rows("SELECT name FROM items"), {{name = "pen"}})
  end
  -- a revision whose function raises a plain Lua error
  mh.revision(self.dir, "b2b2b2b2b2b2", "a1a1a1a1a1a1", 'error("not today")', "")
  if mariadb then migrate.stamp(self.engine, "a1a1a1a1a1a1", self.opts) end
  err = helper.assert_error("CommandError", "not today", migrate.upgrade, self.engine, "head", self.opts)
  lu.assertNotNil(err)
  lu.assertEquals(migrate.current(self.engine, self.opts), {"a1a1a1a1a1a1"})
end

function TestMigrate:test_an_edited_applied_file_is_detected()
  self:three()
  migrate.upgrade(self.engine, "b2b2b2b2b2b2", self.opts)
  local path = self.dir .. "/versions/a1a1a1a1a1a1_r.lua"
  mh.write(path, mh.read(path) .. "\n-- an edit\n")
  local err = helper.assert_error("CommandError", path, migrate.upgrade, self.engine, "head", self.opts)
  helper.assert_has(err.message, "changed after it was applied")
  lu.assertEquals(migrate.current(self.engine, self.opts), {"b2b2b2b2b2b2"}, "nothing ran")
  local ok, problems = migrate.check(self.engine, {directory = self.dir, metadata = argent.MetaData()})
  lu.assertFalse(ok)
  helper.assert_has(table.concat(problems, "\n"), "a1a1a1a1a1a1_r.lua (a1a1a1a1a1a1) was changed")
  -- accepting the file as it is now
  migrate.stamp(self.engine, "b2b2b2b2b2b2", self.opts)
  lu.assertEquals(migrate.upgrade(self.engine, "head", self.opts), {"c3c3c3c3c3c3"})
  -- a file line endings alone changed is the same file
  mh.write(path, (mh.read(path):gsub("\n", "\r\n")))
  lu.assertEquals(migrate.upgrade(self.engine, "head", self.opts), {})
end

function TestMigrate:test_an_applied_revision_without_a_file()
  self:three()
  migrate.upgrade(self.engine, "head", self.opts)
  os.remove(self.dir .. "/versions/c3c3c3c3c3c3_r.lua")
  helper.assert_error("CommandError", "c3c3c3c3c3c3 applied", migrate.upgrade, self.engine, "head", self.opts)
end

function TestMigrate:test_bad_input()
  self:three()
  helper.assert_error("CommandError", "no revision 'ffff'", migrate.upgrade, self.engine, "ffff", self.opts)
  helper.assert_error("CommandError", "no migrations directory", migrate.upgrade, self.engine, "head",
    {directory = helper.tmp .. "/no/such/dir"})
  helper.assert_error("ArgumentError", "argument 'bind'", migrate.upgrade, nil, "head", self.opts)
  helper.assert_error("ArgumentError", "argument 'target'", migrate.upgrade, self.engine, 12, self.opts)
  helper.assert_error("ArgumentError", "unknown option 'directroy'", migrate.upgrade, self.engine, "head",
    {directroy = "x"})
  helper.assert_error("ArgumentError", "argument 'opts'", migrate.current, self.engine, "x")
  mh.write(self.dir .. "/versions/zz_bad.lua", "return {revision = 'zz'}")
  helper.assert_error("CommandError", "zz_bad.lua", migrate.upgrade, self.engine, "head", self.opts)
  lu.assertEquals(migrate.current(self.engine, self.opts), {})
end

function TestMigrate:test_branches_merge_and_history()
  self:three()
  mh.revision(self.dir, "d4d4d4d4d4d4", "a1a1a1a1a1a1",
    'op.create_table("other", argent.Column("id", argent.Integer, {primary_key = true}))', 'op.drop_table("other")', "other")
  lu.assertEquals(migrate.heads(self.opts), {"c3c3c3c3c3c3", "d4d4d4d4d4d4"})
  helper.assert_error("CommandError", "2 heads", migrate.upgrade, self.engine, "head", self.opts)
  helper.assert_error("CommandError", "2 heads", migrate.revision, {directory = self.dir, message = "x"})
  migrate.upgrade(self.engine, "heads", self.opts)
  local current = migrate.current(self.engine, self.opts)
  table.sort(current)
  lu.assertEquals(current, {"c3c3c3c3c3c3", "d4d4d4d4d4d4"})
  local path = migrate.merge("heads", {directory = self.dir, message = "join", rev_id = "e5e5e5e5e5e5"})
  helper.assert_has(path, "e5e5e5e5e5e5_join.lua")
  lu.assertEquals(migrate.heads(self.opts), {"e5e5e5e5e5e5"})
  lu.assertEquals(migrate.upgrade(self.engine, "head", self.opts), {"e5e5e5e5e5e5"})
  lu.assertEquals(migrate.current(self.engine, self.opts), {"e5e5e5e5e5e5"})
  local h = migrate.history(self.opts)
  lu.assertEquals(h[1].id, "e5e5e5e5e5e5")
  lu.assertTrue(h[1].head and h[1].merge)
  lu.assertEquals(h[#h].id, "a1a1a1a1a1a1")
  -- down through the merge: both parents are current again
  migrate.downgrade(self.engine, "-1", self.opts)
  current = migrate.current(self.engine, self.opts)
  table.sort(current)
  lu.assertEquals(current, {"c3c3c3c3c3c3", "d4d4d4d4d4d4"})
  helper.assert_error("CommandError", "ambiguous", migrate.downgrade, self.engine, "-1", self.opts)
  lu.assertEquals(migrate.downgrade(self.engine, "c3c3c3c3c3c3", self.opts), {}, "c3 is a head already")
  local undone = migrate.downgrade(self.engine, "a1a1", self.opts)
  table.sort(undone)
  lu.assertEquals(undone, {"b2b2b2b2b2b2", "c3c3c3c3c3c3", "d4d4d4d4d4d4"})
  lu.assertEquals(migrate.current(self.engine, self.opts), {"a1a1a1a1a1a1"})
  helper.assert_error("CommandError", "needs two revisions", migrate.merge, {"c3c3"}, {directory = self.dir})
  local s = migrate.show("e5", self.opts)
  lu.assertEquals(s.parents, {"c3c3c3c3c3c3", "d4d4d4d4d4d4"})
  lu.assertEquals(s.message, "join")
end

function TestMigrate:test_stamp()
  self:three()
  lu.assertEquals(migrate.stamp(self.engine, "head", self.opts), {"c3c3c3c3c3c3"})
  lu.assertNil(mh.tables(self.engine).items, "stamp runs nothing")
  lu.assertEquals(migrate.current(self.engine, self.opts), {"c3c3c3c3c3c3"})
  lu.assertEquals(migrate.upgrade(self.engine, "head", self.opts), {})
  migrate.stamp(self.engine, "a1a1", self.opts)
  lu.assertEquals(migrate.current(self.engine, self.opts), {"a1a1a1a1a1a1"})
  migrate.stamp(self.engine, "base", self.opts)
  lu.assertEquals(migrate.current(self.engine, self.opts), {})
  local lines = migrate.stamp(self.engine, "head", {directory = self.dir, sql = true})
  helper.assert_has(table.concat(lines, "\n"), "'c3c3c3c3c3c3'")
  lu.assertEquals(migrate.current(self.engine, self.opts), {}, "--sql changes nothing")
  helper.assert_error("ArgumentError", "argument 'targets'", migrate.stamp, self.engine, {}, self.opts)
end

function TestMigrate:test_env_lua_and_a_version_table_of_its_own()
  self:three()
  mh.write(self.dir .. "/env.lua", 'return {version_table = "my_versions"}')
  migrate.upgrade(self.engine, "head", self.opts)
  local t = mh.tables(self.engine)
  lu.assertTrue(t.my_versions)
  lu.assertNil(t.argent_version)
  lu.assertEquals(migrate.current(self.engine, self.opts), {"c3c3c3c3c3c3"})
  lu.assertEquals(#self:rows("SELECT version_num FROM my_versions"), 3, "every applied revision has its row")
  mh.write(self.dir .. "/env.lua", 'error("bad env")')
  helper.assert_error("CommandError", "env.lua failed: ", migrate.upgrade, self.engine, "head", self.opts)
  mh.write(self.dir .. "/env.lua", 'return {target_metadata = 5}')
  helper.assert_error("CommandError", "target_metadata must be", migrate.upgrade, self.engine, "head", self.opts)
  mh.write(self.dir .. "/env.lua", 'return 5')
  helper.assert_error("CommandError", "must return a table", migrate.upgrade, self.engine, "head", self.opts)
  mh.write(self.dir .. "/env.lua", 'return {version_table = "bad name"}')
  helper.assert_error("ArgumentError", "plain identifier", migrate.upgrade, self.engine, "head", self.opts)
end

function TestMigrate:test_revision_and_check()
  local meta = argent.MetaData()
  argent.Table("things", meta, argent.Column("id", argent.Integer, {primary_key = true}),
    argent.Column("label", argent.String(30), {nullable = false, index = true}))
  local path = migrate.revision{directory = self.dir, message = "empty one", rev_id = "f0f0f0f0f0f0"}
  helper.assert_has(path, "f0f0f0f0f0f0_empty_one.lua")
  lu.assertEquals(migrate.heads(self.opts), {"f0f0f0f0f0f0"})
  migrate.upgrade(self.engine, "head", self.opts)
  local ok, problems = migrate.check(self.engine, {directory = self.dir, metadata = meta})
  lu.assertFalse(ok)
  lu.assertEquals(problems, {"add table things"})
  local diffs
  path, diffs = migrate.revision{directory = self.dir, message = "things", autogenerate = true, bind = self.engine,
                                 metadata = meta}
  lu.assertEquals(#diffs, 1)
  helper.assert_error("CommandError", "not at head", migrate.revision, {directory = self.dir, message = "again",
    autogenerate = true, bind = self.engine, metadata = meta})
  migrate.upgrade(self.engine, "head", self.opts)
  ok, problems = migrate.check(self.engine, {directory = self.dir, metadata = meta})
  lu.assertTrue(ok, table.concat(problems or {}, "; "))
  path, diffs = migrate.revision{directory = self.dir, message = "again", autogenerate = true, bind = self.engine,
                                 metadata = meta}
  lu.assertNil(path, "no change: no revision")
  lu.assertEquals(diffs, {})
  helper.assert_error("ArgumentError", "'message' is required", migrate.revision, {directory = self.dir})
  helper.assert_error("ArgumentError", "rev_id", migrate.revision, {directory = self.dir, message = "m", rev_id = "a b"})
  helper.assert_error("CommandError", "needs target_metadata", migrate.check, self.engine, self.opts)
end

function TestMigrate:test_init()
  local dir = helper.tmp .. "/" .. helper.suite .. "_" .. helper.db .. "_init/migrations"
  os.execute("rm -rf " .. mh.shell_quote(dir))
  local paths = migrate.init(dir)
  lu.assertEquals(paths, {dir .. "/env.lua", dir .. "/versions"})
  lu.assertEquals(migrate.heads{directory = dir}, {})
  lu.assertEquals(migrate.load_env(dir).version_table, "argent_version")
  helper.assert_error("CommandError", "exists already", migrate.init, dir)
end

-- Two processes upgrading the same database at once run each revision once.
function TestMigrate:test_two_processes_upgrading_at_once()
  if helper.is_sqlite_mem() then
    lu.skip("an in-memory database belongs to one process")
  end
  local argent_bin = arg and arg[-2]
  mh.revision(self.dir, "a1a1a1a1a1a1", nil,
    'op.create_table("runs", argent.Column("rev", argent.String(20)))\n'
    .. '    op.execute("INSERT INTO runs (rev) VALUES (\'a\')")\n    os.execute("sleep 0.3")', "")
  mh.revision(self.dir, "b2b2b2b2b2b2", "a1a1a1a1a1a1",
    'op.execute("INSERT INTO runs (rev) VALUES (\'b\')")\n    os.execute("sleep 0.3")', "")
  mh.revision(self.dir, "c3c3c3c3c3c3", "b2b2b2b2b2b2",
    'op.add_column("runs", argent.Column("at", argent.Integer))\n'
    .. '    op.execute("INSERT INTO runs (rev) VALUES (\'c\')")', "")
  local scriptfile = self.dir .. "/up.lua"
  mh.write(scriptfile, ([[
local argent = require "argent"
local migrate = require "argent.migrate"
local engine = argent.create_engine(%q)
local done = migrate.upgrade(engine, "head", {directory = %q})
print(#done)
]]):format(URL, self.dir))
  local q = mh.shell_quote
  local cmd = ("cd %s && (%s run %s > %s 2>&1; echo $? > %s) & (%s run %s > %s 2>&1; echo $? > %s) & wait")
    :format(q(os.getenv("PWD") or "."), q(argent_bin), q(scriptfile), q(self.dir .. "/out1"), q(self.dir .. "/rc1"),
            q(argent_bin), q(scriptfile), q(self.dir .. "/out2"), q(self.dir .. "/rc2"))
  os.execute("bash -c " .. q(cmd))
  lu.assertEquals(mh.read(self.dir .. "/rc1"), "0\n", mh.read(self.dir .. "/out1"))
  lu.assertEquals(mh.read(self.dir .. "/rc2"), "0\n", mh.read(self.dir .. "/out2"))
  local n1 = tonumber(mh.read(self.dir .. "/out1"):match("(%d+)%s*$"))
  local n2 = tonumber(mh.read(self.dir .. "/out2"):match("(%d+)%s*$"))
  lu.assertEquals(n1 + n2, 3, "three revisions ran in all")
  lu.assertEquals(self:rows("SELECT rev FROM runs ORDER BY rev"), {{rev = "a"}, {rev = "b"}, {rev = "c"}})
  lu.assertEquals(migrate.current(self.engine, self.opts), {"c3c3c3c3c3c3"})
end

local ok = helper.run()
mh.drop_databases()
os.exit(ok, true)
