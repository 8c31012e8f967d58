-- tests/lua/orm/test_collections.lua -- relationship values in memory
-- (lua/argent/orm/collections.lua, API.md section 6): collections and
-- their methods, back_populates kept in sync before any flush, changes to
-- a collection that is not loaded kept until it loads (SQLAlchemy's
-- pending collection changes), misuse.

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

TestCollections = {}

function TestCollections:setUp() fixture.setup(self) end
function TestCollections:tearDown() fixture.teardown(self) end

function TestCollections:test_back_populates_keeps_both_sides_in_memory()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  local p = Post{title = "T", content = "C"}
  p.owner = u -- appears in u.posts before any flush
  lu.assertEquals(#u.posts, 1)
  lu.assertIs(u.posts[1], p)
  local c = Comment{text = "hi"}
  p.comments:append(c)
  lu.assertIs(c.post, p)
  c.owner = u
end

function TestCollections:test_moving_a_child_leaves_its_old_parents_collection()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  local p = Post{title = "T", content = "C", owner = u}
  s:add(u)
  s:commit()
  -- moving a post to another user leaves the first user's collection
  local v = User{username = "bob"}
  p.owner = v
  lu.assertEquals(#u.posts, 0)
  lu.assertIs(v.posts[1], p)
  s:commit()
  lu.assertEquals(p.owner_id, v.id)
  local s2 <close> = self.Session()
  lu.assertEquals(#s2:get(User, v.id).posts, 1)
  lu.assertEquals(#s2:get(User, u.id).posts, 0)
  -- ipairs over a collection
  local n = 0
  for _, x in ipairs(s2:get(User, v.id).posts) do n = n + 1; lu.assertEquals(x.title, "T") end
  lu.assertEquals(n, 1)
end

-- SQLAlchemy's pending collection changes: a back-populated append or
-- remove on a collection that is not loaded is kept, and applied when it loads
function TestCollections:test_back_populated_changes_are_kept_until_the_collection_loads()
  local s0 <close> = self.Session()
  local ann, bob = User{username = "ann"}, User{username = "bob"}
  local old = Post{title = "old", content = "c", owner = ann}
  local moved = Post{title = "moved", content = "c", owner = ann}
  s0:add_all{ann, bob}
  s0:commit()
  s0:close()
  local Manual = argent.sessionmaker(self.engine, {expire_on_commit = false, autoflush = false})
  local s <close> = Manual()
  local u = s:get(User, ann.id)
  local v = s:get(User, bob.id)
  local m = s:get(Post, moved.id)
  lu.assertIs(m.owner, u) -- (u.posts stays unloaded)
  local p = Post{title = "new", content = "c", owner = u} -- Post{owner = u}
  local q = Post{title = "later", content = "c"}
  q.owner = u -- p.owner = u
  m.owner = v -- leaves u.posts
  local titles = {}
  for _, x in ipairs(u.posts) do titles[#titles + 1] = x.title end
  table.sort(titles)
  lu.assertEquals(titles, {"later", "new", "old"})
  lu.assertEquals(argent.state(p), "transient") -- (appearing in a collection is not being added)
  lu.assertIs(v.posts[1], m)
  lu.assertEquals(#v.posts, 1)
  s:add_all{p, q}
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(conn:execute("SELECT count(*) FROM posts WHERE owner_id = ?", {u.id}):scalar(), 3)
  lu.assertEquals(conn:execute("SELECT owner_id FROM posts WHERE id = ?", {m.id}):scalar(), v.id)
  -- u.posts:remove(p): the other side (p.owner, not loaded) is emptied
  local s2 <close> = Manual()
  local u2 = s2:get(User, ann.id)
  local first = u2.posts[1]
  u2.posts:remove(first)
  lu.assertNil(first.owner)
  -- the changes are dropped when the object is expired (the collection is read again)
  local w = s2:get(User, bob.id)
  Post{title = "dropped", content = "c", owner = w}
  s2:expire(w)
  lu.assertEquals(#w.posts, 1)
  s2:rollback()
end

function TestCollections:test_collection_misuse_is_an_argument_error()
  local u = User{username = "x"}
  helper.assert_error("ArgumentError", "Post objects", function() u.posts:append(Comment{}) end)
  helper.assert_error("ArgumentError", "relationship", function() u.posts = 5 end)
  helper.assert_error("ArgumentError", "collection", function() u.posts = Post{} end)
  helper.assert_error("ArgumentError", "is not in", function() u.posts:remove(Post{}) end)
  helper.assert_error("ArgumentError", "User objects", function() Post{}.owner = Comment{} end)
end

-- (it stored "not loaded": the old value came back and the key stayed)
function TestCollections:test_setting_a_many_to_one_to_nil_empties_it()
  local s <close> = self.Session()
  local p = Post{title = "t", content = "c", owner = User{username = "ann"}}
  local c = Comment{text = "x", post = p}
  s:add(c)
  s:commit()
  c.post = nil
  lu.assertNil(c.post)
  lu.assertEquals(#p.comments, 0)
  s:commit()
  lu.assertNil(c.post_id)
  local s2 <close> = self.Session()
  lu.assertNil(s2:get(Comment, c.id).post)
end

-- (SQLAlchemy expunges a pending orphan at once)
function TestCollections:test_a_pending_child_removed_from_a_delete_orphan_collection_leaves_the_session()
  local s <close> = self.Session()
  local b = Bundle{}
  s:add(b)
  s:commit()
  local i = Item{}
  b.items:append(i)
  lu.assertEquals(argent.state(i), "pending")
  b.items:remove(i)
  lu.assertEquals(argent.state(i), "transient")
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "rt_items"), 0)
end

os.exit(helper.run(), true)
