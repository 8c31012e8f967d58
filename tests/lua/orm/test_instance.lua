-- tests/lua/orm/test_instance.lua -- model instances, the proxy of
-- src/orm/instance.c (API.md section 6): a new instance is transient with
-- the values given, values checked at assignment, dirty tracking, pairs,
-- tostring, state, as_table; argent.core.orm's primitives give errors, never
-- crashes, for hand-made values.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Integer, String, Text, DateTime, Boolean, Float, Numeric, Enum, JSON, Date =
  argent.Column, argent.Integer, argent.String, argent.Text, argent.DateTime, argent.Boolean, argent.Float,
  argent.Numeric, argent.Enum, argent.JSON, argent.Date
local relationship, func = argent.relationship, argent.func

-- A Base with a small model whose columns cover every kind of value check.
local function typed_model()
  local Base = argent.declarative_base()
  local Thing = Base:model("Thing", {
    __tablename = "t_orm_things",
    id = Column(Integer, {primary_key = true}),
    name = Column(String(20)),
    body = Column(Text),
    flag = Column(Boolean),
    ratio = Column(Float),
    price = Column(Numeric(10, 2)),
    color = Column(Enum("red", "green")),
    data = Column(JSON),
    day = Column(Date),
    at = Column(DateTime),
    __table_args = {argent.Index("ix_t_orm_things_name", "name"), argent.UniqueConstraint("color", "day")},
  })
  return Base, Thing
end

TestInstance = {}

function TestInstance:test_a_new_instance_is_transient_with_the_values_given()
  local blog = require "models.blog"
  local u = blog.User{username = "ann", email = "ann@x.org"}
  lu.assertEquals(argent.state(u), "transient")
  lu.assertEquals(u.username, "ann")
  lu.assertNil(u.id)
  lu.assertNil(u.created_at) -- defaults are applied at INSERT, not at construction
  u.password = "secret"
  lu.assertEquals(u.password, "secret")
  u.password = nil
  lu.assertNil(u.password)
  local empty = blog.User()
  lu.assertNil(empty.username)
  lu.assertEquals(argent.state(empty), "transient")
  lu.assertEquals(#u.posts, 0) -- a new object's collection starts empty
  lu.assertNil(u.comments[1])
end

function TestInstance:test_tostring_shows_the_columns_in_order()
  local blog = require "models.blog"
  local u = blog.User{id = 1, username = "ann"}
  lu.assertEquals(tostring(u),
    '<User id=1 username="ann" email=nil password=nil updated_at=nil created_at=nil>')
  u.email = 'a"b\\c'
  lu.assertStrContains(tostring(u), [[email="a\"b\\c"]])
  local c = blog.Comment{text = "hi", post_id = 2}
  lu.assertEquals(tostring(c), '<Comment id=nil text="hi" owner_id=nil post_id=2 created_at=nil>')
end

function TestInstance:test_as_table_is_a_copy_of_the_column_values()
  local blog = require "models.blog"
  local c = blog.Comment{id = 4, text = "hi", owner_id = 1}
  local t = argent.as_table(c)
  lu.assertEquals(t, {id = 4, text = "hi", owner_id = 1})
  lu.assertNil(getmetatable(t))
  t.id = 5 -- a copy
  lu.assertEquals(c.id, 4)
  helper.assert_error("ArgumentError", "as_table", argent.as_table, {})
end

function TestInstance:test_pairs_goes_over_the_columns_in_order()
  local blog = require "models.blog"
  local p = blog.Post{title = "T", owner_id = 1}
  local keys, values = {}, {}
  for k, v in require("argent").pairs(p) do -- pairs(p) on 5.2+ (__pairs)
    keys[#keys + 1] = k
    values[k] = v
  end
  lu.assertEquals(keys, {"id", "title", "content", "image_url", "owner_id"})
  lu.assertEquals(values, {title = "T", owner_id = 1})
end

function TestInstance:test_an_unknown_attribute_is_an_argument_error()
  local blog = require "models.blog"
  local u = blog.User{}
  local err = helper.assert_error("ArgumentError", "nickname", function() u.nickname = "x" end)
  lu.assertStrContains(err.message, "User")
  helper.assert_error("ArgumentError", "nickname", blog.User, {nickname = "x"})
  helper.assert_error("ArgumentError", "User", function() u[1] = "x" end)
  -- the SQL name is not an attribute when the attribute's name differs
  helper.assert_error("ArgumentError", "title", function() blog.Comment{title = "x"} end)
  helper.assert_error("ArgumentError", "plain table", blog.User, "ann")
  lu.assertNil(u.nickname) -- reading an unknown name is nil, like any Lua table
end

function TestInstance:test_a_value_of_the_wrong_type_is_refused_at_assignment()
  local _, Thing = typed_model()
  local t = Thing{}
  local function bad(attr, value, typename)
    local err = helper.assert_error("ArgumentError", "Thing." .. attr, function() t[attr] = value end)
    lu.assertStrContains(err.message, typename)
    lu.assertNil(t[attr], "a refused value is not stored")
  end
  bad("id", "1", "Integer")
  bad("id", 1.5, "Integer")
  bad("name", 42, "String(20)")
  bad("name", {}, "String(20)")
  bad("body", true, "Text")
  bad("flag", 1, "Boolean")
  bad("flag", "yes", "Boolean")
  bad("ratio", "1.5", "Float")
  bad("price", "ten", "Numeric")
  bad("price", {}, "Numeric")
  bad("color", "blue", "Enum")
  bad("color", 1, "Enum")
  bad("data", print, "JSON")
  bad("day", "24/11/2026", "Date")
  bad("at", 12, "DateTime")
  -- what fits
  t.id = 7
  t.id = 8.0
  lu.assertEquals(math.type(t.id), "integer")
  lu.assertEquals(t.id, 8)
  t.name, t.body, t.flag, t.ratio = "n", "b", false, 1
  lu.assertEquals(t.flag, false)
  t.price = "12.50"
  t.price = 3
  t.color = "green"
  t.data = {a = {1, 2}}
  t.data = "s"
  t.day, t.at = "2026-11-24", "2026-11-24 02:26:03"
  -- nil always; argent.null means nil; an SQL expression is kept for the flush
  t.name = nil
  lu.assertNil(t.name)
  t.body = argent.null
  lu.assertNil(t.body)
  local now = func.current_timestamp()
  t.at = now
  lu.assertIs(t.at, now)
end

function TestInstance:test_a_write_of_a_new_value_marks_the_attribute_dirty()
  local core = require "argent.core"
  local blog = require "models.blog"
  local u = blog.User{username = "ann"}
  local values, dirty = core.orm.internals(u)
  lu.assertEquals(values, {username = "ann"})
  lu.assertNil(dirty) -- a new object's INSERT sends every value: no dirty set
  core.orm.set_state(u, "persistent") -- as if loaded: changes are tracked
  u.username = "bea"
  _, dirty = core.orm.internals(u)
  lu.assertEquals(dirty, {username = true})
  core.orm.clear_dirty(u)
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty) -- clean
  u.username = "bea" -- same value: not a change
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty)
  lu.assertFalse(core.orm.is_dirty(u))
  u.email = "e"
  u.username = nil
  _, dirty = core.orm.internals(u)
  lu.assertEquals(dirty, {email = true, username = true})
  -- a refused value leaves the set alone
  pcall(function() u.password = 1 end)
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty.password)
end

function TestInstance:test_state_of_something_else_is_an_argument_error()
  local blog = require "models.blog"
  helper.assert_error("ArgumentError", "state", argent.state, 42)
  helper.assert_error("ArgumentError", "state", argent.state, blog.User)
  helper.assert_error("ArgumentError", "state", argent.state, nil)
  lu.assertEquals(getmetatable(blog.User{}), "argent.Instance")
end

function TestInstance:test_instances_are_independent()
  local blog = require "models.blog"
  local a, b = blog.User{username = "a"}, blog.User{username = "b"}
  a.email = "x"
  lu.assertNil(b.email)
  lu.assertEquals(b.username, "b")
  lu.assertNotIs(a, b)
  -- an instance does not stand for its table in SQL
  helper.assert_error("ArgumentError", nil, function() return argent.select(a) end)
end

-- argent.core.orm is reachable from scripts: hand-made values get errors, never a crash
function TestInstance:test_core_primitives_reject_hand_made_values()
  local core = require "argent.core"
  local blog = require "models.blog"
  local o = core.orm
  helper.assert_error("ArgumentError", "mapper", o.construct, {__mapper__ = {}}, {x = 1})
  helper.assert_error("ArgumentError", "model class", o.construct, {}, {})
  helper.assert_error("ArgumentError", "model instance", o.internals, 5)
  helper.assert_error("ArgumentError", "model instance", o.mark_inserted, {5}, {bucket = {}, pk = {}, out = {}})
  lu.assertError(o.set_state, blog.User{}, "nope")
  lu.assertError(o.txstate().check, o.txstate(), "bogus")
  local engine = helper.engine()
  local conn <close> = engine:connect()
  -- an identity map holding something else than instances: those entries count as absent
  local spec = {mapper = rawget(blog.User, "__mapper__"), bucket = {[1] = {}, [2] = io.stdout},
         keys = {"id", "username"}, pk = {"id"}, pkcol = 1}
  local list = o.load(conn:execute("SELECT 1 AS id, 'a' AS username"), spec, {})
  lu.assertEquals(list[1].username, "a")
  lu.assertIs(spec.bucket[1], list[1])
  helper.assert_error("ArgumentError", "no column", o.column, conn:execute("SELECT 1 AS id"), 5)
end

os.exit(helper.run(), true)
