-- tests/lua/orm/test_loading.lua -- relationships read from the database
-- (lua/argent/orm/loading.lua, API.md sections 6-7): the lazy "select"
-- strategy, selectinload and joinedload (nested), lazy = "raise", a lazy
-- load on a detached object, loader option misuse.

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

TestLoading = {}

function TestLoading:setUp() fixture.setup(self) end
function TestLoading:tearDown() fixture.teardown(self) end

function TestLoading:test_a_lazy_collection_loads_with_one_select_and_sets_the_back_references()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local u = s:query(User):filter_by{username = "u001"}:one()
  local before = #self.log
  local posts = u.posts -- one SELECT
  lu.assertEquals(#posts, 2)
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 1)
  lu.assertIs(u.posts, posts) -- loaded once
  lu.assertIs(posts[1].owner, u) -- back reference set, no query
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 1)
  local c = posts[1].comments[1]
  lu.assertIs(c.owner, u) -- many-to-one through the identity map: no SELECT
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 2)
  lu.assertIs(s:get(User, u.id), s:query(User):filter_by{id = u.id}:one())
end

function TestLoading:test_selectinload_loads_each_level_with_one_select()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local before = #self.log
  local users = s:query(User):options(argent.selectinload(User.posts):selectinload(Post.comments))
    :order_by(User.id):all()
  lu.assertEquals(#users, 100)
  local total = 0
  for _, u in ipairs(users) do
    lu.assertEquals(#u.posts, 2)
    for _, p in ipairs(u.posts) do
      lu.assertIs(p.owner, u)
      total = total + #p.comments
    end
  end
  lu.assertEquals(total, 400)
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 3)
  lu.assertEquals(#self.log - before, 3)
  -- eager loads survive the session: no lazy load needed when detached
  s:close()
  lu.assertEquals(#users[1].posts[1].comments, 2)
end

function TestLoading:test_joinedload_loads_with_a_left_outer_join()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local before = #self.log
  local users = s:query(User):options(argent.joinedload(User.posts)):where(User.id:le(10)):order_by(User.id):all()
  lu.assertEquals(#users, 10)
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 1)
  helper.assert_has(self.log[#self.log], "LEFT OUTER JOIN")
  for i, u in ipairs(users) do
    lu.assertEquals(u.username, ("u%03d"):format(i))
    lu.assertEquals(#u.posts, 2)
  end
end

function TestLoading:test_joinedload_with_a_limit_loads_collections_by_selectin()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local users = s:query(User):options(argent.joinedload(User.posts)):where(User.id:le(10)):order_by(User.id):all()
  -- with a LIMIT, a to-many joined load would cut children off: it loads by selectin (2 statements)
  local n1 = #self.log
  local few = s:query(User):options(argent.joinedload(User.comments)):order_by(User.id):limit(3):all()
  lu.assertEquals(#few, 3)
  lu.assertEquals(#few[3].comments, 4)
  lu.assertEquals(count_verb(self.log, "SELECT", n1 + 1), 2)
  -- a many-to-one joined, with a limit: one statement
  local n2 = #self.log
  local posts = s:query(Post):options(argent.joinedload(Post.owner)):order_by(Post.id):limit(3):all()
  lu.assertEquals(count_verb(self.log, "SELECT", n2 + 1), 1)
  lu.assertEquals(#posts, 3)
  lu.assertIs(posts[1].owner, users[1])
end

function TestLoading:test_joinedload_then_selectinload_for_the_next_level()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s2 <close> = self.Session()
  local n0 = #self.log
  local us = s2:query(User):options(argent.joinedload(User.posts):selectinload(Post.comments)):all()
  lu.assertEquals(#us, 100)
  lu.assertEquals(#us[5].posts[2].comments, 2)
  lu.assertEquals(count_verb(self.log, "SELECT", n0 + 1), 2)
end

function TestLoading:test_lazy_raise_is_an_error_until_an_option_loads_it()
  local s <close> = self.Session()
  local a = Article{title = "a"}
  a.notes = {Note{body = "n1"}, Note{body = "n2"}}
  s:add(a)
  s:commit()
  local s2 <close> = self.Session()
  local a2 = s2:get(Article, a.id)
  helper.assert_error("InvalidRequestError", "lazy = \"raise\"", function() return a2.notes end)
  local loaded = s2:query(Article):options(argent.selectinload(Article.notes)):one()
  lu.assertIs(loaded, a2)
  lu.assertEquals(#a2.notes, 2)
end

function TestLoading:test_a_lazy_load_on_a_detached_object_is_an_error()
  local s3 = self.Session()
  local u = User{username = "x"}
  s3:add(u)
  s3:commit()
  local u2 = s3:get(User, u.id)
  s3:close()
  helper.assert_error("DetachedInstanceError", "not bound to a session", function() return u2.posts end)
end

function TestLoading:test_loader_option_misuse_is_an_argument_error()
  helper.assert_error("ArgumentError", "relationship attribute", argent.selectinload, User.id)
  helper.assert_error("ArgumentError", "does not continue", function()
    return argent.selectinload(User.posts):selectinload(Article.tags)
  end)
  local s <close> = self.Session()
  helper.assert_error("ArgumentError", "selectinload", function() s:query(User):options("posts") end)
  helper.assert_error("ArgumentError", "must start", function() s:query(Post):options(argent.selectinload(User.posts)) end)
end

-- (it read nil: the expired foreign key was not loaded first)
function TestLoading:test_a_many_to_one_of_an_expired_object_is_read()
  local Session = argent.sessionmaker(self.engine) -- expire_on_commit = true
  local s <close> = Session()
  local u = User{username = "ann"}
  local p = Post{title = "t", content = "c", owner = u}
  s:add(u)
  s:commit()
  lu.assertIs(p.owner, u)
end

os.exit(helper.run(), true)
