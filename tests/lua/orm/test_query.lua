-- tests/lua/orm/test_query.lua -- s:query(Model) and s:scalars
-- (lua/argent/orm/query.lua, API.md section 7): where, filter_by, order_by,
-- limit, offset, joins along relationships, all / first / one / count,
-- each streaming, scalars of a model select, misuse.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local fixture = require "tests.lua.orm.fixture"
local User, Post, Comment = fixture.User, fixture.Post, fixture.Comment
local Article, Tag, Note, Profile, Node = fixture.Article, fixture.Tag, fixture.Note, fixture.Profile, fixture.Node
local Bundle, Item = fixture.Bundle, fixture.Item
local func = argent.func
local count_verb = helper.count_verb
local seed = fixture.seed
local blog = fixture.blog

TestQuery = {}

function TestQuery:setUp() fixture.setup(self) end
function TestQuery:tearDown() fixture.teardown(self) end

function TestQuery:test_scalars_of_a_model_select_are_the_identity_maps_instances()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  lu.assertEquals(#us, 5)
  lu.assertIs(us[1], s:get(User, us[1].id))
  lu.assertEquals(s:scalars(argent.select(User.username):order_by(User.id))[1], "u001")
end

function TestQuery:test_each_streams_the_rows_with_eager_loads_per_batch()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  local n = 0
  for u in s:query(User):order_by(User.id):each() do
    n = n + 1
    lu.assertEquals(u.username, ("u%03d"):format(n))
  end
  lu.assertEquals(n, 100)
  local m = 0
  for u in s:query(User):options(argent.selectinload(User.posts)):each() do m = m + #u.posts end
  lu.assertEquals(m, 200)
end

function TestQuery:test_core_select_joins_follow_relationships()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  -- Core select joins follow relationships too
  local rows = s:execute(argent.select(User.username, argent.func.count(Post.id):label("n")):join(User.posts)
    :group_by(User.username):order_by(User.username):limit(2)):all()
  lu.assertEquals(rows, {{username = "u001", n = 2}, {username = "u002", n = 2}})
  s:commit()
end

function TestQuery:test_a_join_follows_a_many_to_many_relationship()
  local s <close> = self.Session()
  s:add(Article{title = "a", tags = {Tag{name = "red"}, Tag{name = "blue"}}})
  s:commit()
  local s2 <close> = self.Session()
  -- query join through a many-to-many and a one-to-many
  lu.assertEquals(s2:query(Article):join(Article.tags):filter_by{title = "a"}:where(Tag.name:eq("blue")):count(), 1)
end

function TestQuery:test_query_misuse_is_an_argument_error()
  local s = self.Session()
  helper.assert_error("ArgumentError", "relationship", function() return s:query(User):join(42) end)
  helper.assert_error("ArgumentError", "neither", function() return s:query(Tag):join(User.posts) end)
  lu.assertEquals(s:query(User):join(User.posts):join(Post.comments):count(), 0) -- a path of joins
  helper.assert_error("ArgumentError", "condition", function() return s:query(User):join(Post, "x") end)
  helper.assert_error("ArgumentError", "condition", function() return s:query(User):where("id = 1") end)
  helper.assert_error("ArgumentError", "query", s:query(User).all, {})
end

os.exit(helper.run(), true)
