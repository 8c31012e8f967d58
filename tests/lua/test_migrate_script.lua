-- tests/lua/test_migrate_script.lua -- argent.migrate.script: revision files
-- and their graph (API.md section 9.3): loading and checking files (bad ones
-- name the file), heads, resolving ids, prefixes, head/heads/base, +N/-N,
-- upgrade and downgrade plans across branches and merges, checksums.
--
-- No database is needed: the suite runs once, with the in-memory SQLite
-- mode (the other modes skip it).
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu = helper.lu

if not helper.is_sqlite_mem() then
  io.stderr:write("test_migrate_script: needs no database; it runs in the sqlite_mem mode only\n")
  os.exit(77)
end

local script = require "argent.migrate.script"

TestMigrateScript = {}

-- a -> b -> c, and a -> d (two heads: c, d)
local function branched(dir)
  mh.revision(dir, "aaa111", nil)
  mh.revision(dir, "bbb222", "aaa111")
  mh.revision(dir, "ccc333", "bbb222")
  mh.revision(dir, "ddd444", "aaa111")
end

function TestMigrateScript:test_load_and_heads()
  local dir = mh.dir("heads")
  branched(dir)
  local s = script.load(dir)
  lu.assertEquals(#s.list, 4)
  lu.assertEquals(s:heads(), {"ccc333", "ddd444"})
  lu.assertEquals(s.by_id.bbb222.parents, {"aaa111"})
  local ok, err = pcall(s.head, s)
  lu.assertFalse(ok)
  helper.assert_has(err.message, "2 heads")
  helper.assert_has(err.message, "argent migrate merge")
  lu.assertEquals(err.kind, "CommandError")
  mh.revision(dir, "eee555", {"ccc333", "ddd444"})
  s = script.load(dir)
  lu.assertEquals(s:head(), "eee555")
  -- parents come before children
  local order = {}
  for i, r in ipairs(s:order()) do order[r.id] = i end
  lu.assertTrue(order.aaa111 < order.bbb222 and order.bbb222 < order.ccc333 and order.ccc333 < order.eee555)
  lu.assertTrue(order.ddd444 < order.eee555)
end

function TestMigrateScript:test_resolve_ids_and_prefixes()
  local dir = mh.dir("resolve")
  mh.revision(dir, "ab1234", nil)
  mh.revision(dir, "ab5678", "ab1234")
  mh.revision(dir, "cd0000", "ab5678")
  local s = script.load(dir)
  lu.assertEquals(s:resolve("ab1234"), "ab1234")
  lu.assertEquals(s:resolve("ab5"), "ab5678")
  lu.assertEquals(s:resolve("c"), "cd0000")
  helper.assert_error("CommandError", "start of 2 revisions", s.resolve, s, "ab")
  helper.assert_error("CommandError", "no revision 'zz'", s.resolve, s, "zz")
  helper.assert_error("CommandError", "must be an id", s.resolve, s, 42)
  lu.assertEquals(s:resolve_targets("head"), {"cd0000"})
  lu.assertEquals(s:resolve_targets("base"), {})
end

function TestMigrateScript:test_upgrade_plans()
  local dir = mh.dir("plans")
  branched(dir)
  local s = script.load(dir)
  local function ids(plan)
    local out = {}
    for i, r in ipairs(plan) do out[i] = r.id end
    return out
  end
  lu.assertEquals(ids(s:upgrade_plan({}, "ccc333")), {"aaa111", "bbb222", "ccc333"})
  lu.assertEquals(ids(s:upgrade_plan({aaa111 = true}, "heads")), {"bbb222", "ccc333", "ddd444"})
  lu.assertEquals(ids(s:upgrade_plan({}, "+1")), {"aaa111"})
  lu.assertEquals(ids(s:upgrade_plan({aaa111 = true, bbb222 = true, ddd444 = true}, "+1")), {"ccc333"})
  lu.assertEquals(ids(s:upgrade_plan({aaa111 = true, bbb222 = true}, "ccc333")), {"ccc333"})
  lu.assertEquals(ids(s:upgrade_plan({aaa111 = true, bbb222 = true, ccc333 = true}, "bbb222")), {})
end

function TestMigrateScript:test_relative_steps_that_are_ambiguous_or_too_far()
  local dir = mh.dir("relative")
  branched(dir)
  local s = script.load(dir)
  helper.assert_error("CommandError", "ambiguous", s.upgrade_plan, s, {aaa111 = true}, "+1")
  helper.assert_error("CommandError", "at head after", s.upgrade_plan, s,
    {aaa111 = true, bbb222 = true, ccc333 = true, ddd444 = true}, "+1")
  helper.assert_error("CommandError", "2 heads are applied", s.downgrade_plan, s,
    {aaa111 = true, bbb222 = true, ccc333 = true, ddd444 = true}, "-1")
  helper.assert_error("CommandError", "at base after 1", s.downgrade_plan, s, {aaa111 = true}, "-2")
  helper.assert_error("CommandError", "2 heads", s.upgrade_plan, s, {}, "head")
end

function TestMigrateScript:test_downgrade_plans()
  local dir = mh.dir("down")
  branched(dir)
  local s = script.load(dir)
  local all = {aaa111 = true, bbb222 = true, ccc333 = true, ddd444 = true}
  local function ids(plan)
    local out = {}
    for i, r in ipairs(plan) do out[i] = r.id end
    return out
  end
  lu.assertEquals(ids(s:downgrade_plan(all, "bbb222")), {"ccc333"})
  local to_a = ids(s:downgrade_plan(all, "aaa111"))
  table.sort(to_a)
  lu.assertEquals(to_a, {"bbb222", "ccc333", "ddd444"})
  local base = s:downgrade_plan(all, "base")
  lu.assertEquals(base[#base].id, "aaa111", "children first, the base last")
  lu.assertEquals(ids(s:downgrade_plan({aaa111 = true, bbb222 = true}, "-2")), {"bbb222", "aaa111"})
  helper.assert_error("CommandError", "is not applied", s.downgrade_plan, s, {aaa111 = true}, "ccc333")
end

function TestMigrateScript:test_bad_files_name_the_file()
  local cases = {
    {"error('boom')", "raised an error: "},
    {"return 42", "it returned a number"},
    {"return", "it returned nothing"},
    {"return {revision = 'x y', upgrade = function() end, downgrade = function() end}", "revision must be an id"},
    {"return {revision = 'abc', upgrade = 1, downgrade = function() end}", "upgrade must be a function"},
    {"return {revision = 'abc', down_revision = {}, upgrade = function() end, downgrade = function() end}",
     "down_revision must be"},
    {"return {revision = 'abc', message = 3, upgrade = function() end, downgrade = function() end}", "message must"},
    {"this is not lua", "does not compile"},
  }
  for i, case in ipairs(cases) do
    local dir = mh.dir("bad" .. i)
    mh.write(dir .. "/versions/bad.lua", case[1])
    local err = helper.assert_error("CommandError", case[2], script.load, dir)
    helper.assert_has(err.message, dir .. "/versions/bad.lua")
  end
end

function TestMigrateScript:test_graph_errors()
  local dir = mh.dir("dup")
  mh.revision(dir, "aaa111", nil)
  mh.write(dir .. "/versions/other.lua", mh.read(dir .. "/versions/aaa111_r.lua"))
  helper.assert_error("CommandError", "two revision files have the id aaa111", script.load, dir)
  dir = mh.dir("dangling")
  mh.revision(dir, "bbb222", "nowhere")
  helper.assert_error("CommandError", "down_revision nowhere names no revision", script.load, dir)
  dir = mh.dir("cycle")
  mh.revision(dir, "aaa111", "bbb222")
  mh.revision(dir, "bbb222", "aaa111")
  helper.assert_error("CommandError", "cycle", script.load, dir)
  helper.assert_error("CommandError", "no migrations directory", script.load, helper.tmp .. "/nowhere_at_all")
  dir = mh.dir("noversions")
  os.execute("rmdir " .. mh.shell_quote(dir .. "/versions"))
  helper.assert_error("CommandError", "no versions directory", script.load, dir)
end

function TestMigrateScript:test_other_files_are_ignored()
  local dir = mh.dir("other")
  mh.revision(dir, "aaa111", nil)
  mh.write(dir .. "/versions/README.txt", "notes")
  mh.write(dir .. "/versions/.hidden.lua", "error('x')")
  lu.assertEquals(#script.load(dir).list, 1)
end

function TestMigrateScript:test_checksum_slug_and_ids()
  lu.assertEquals(script.checksum("abc"), script.checksum("abc"))
  lu.assertNotEquals(script.checksum("abc"), script.checksum("abd"))
  lu.assertEquals(script.checksum("a\r\nb"), script.checksum("a\nb"), "line endings do not count")
  lu.assertStrMatches(script.checksum(("x"):rep(10000)), "^%x+$")
  lu.assertEquals(#script.checksum(""), 16)
  lu.assertEquals(script.slug("Add the users' table!"), "add_the_users_table")
  lu.assertEquals(script.slug(""), "revision")
  lu.assertTrue(#script.slug(("word "):rep(30)) <= 40)
  local a, b = script.new_id(), script.new_id()
  lu.assertStrMatches(a, "^%x%x%x%x%x%x%x%x%x%x%x%x$")
  lu.assertNotEquals(a, b)
end

function TestMigrateScript:test_write()
  local dir = mh.dir("write")
  mh.revision(dir, "aaa111", nil)
  local s = script.load(dir)
  local path = s:write("bbb222", "Second one", "return nil")
  lu.assertEquals(path, dir .. "/versions/bbb222_second_one.lua")
  lu.assertEquals(mh.read(path), "return nil")
  helper.assert_error("CommandError", "exists already", s.write, s, "aaa111", "x", "")
end

os.exit(helper.run(), true)
