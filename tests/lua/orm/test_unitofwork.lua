-- tests/lua/orm/test_unitofwork.lua -- the flush (lua/argent/orm/unitofwork.lua,
-- API.md section 7): parents inserted before children whatever the add
-- order (a self-referential tree level by level), cascades (save-update,
-- delete, delete-orphan), children's keys set to NULL, many-to-many rows
-- following the collections and deleted before their object, one-to-one
-- keys, a changed primary key refused.

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

TestUnitOfWork = {}

function TestUnitOfWork:setUp() fixture.setup(self) end
function TestUnitOfWork:tearDown() fixture.teardown(self) end

function TestUnitOfWork:test_parents_are_inserted_before_their_children()
  local s <close> = self.Session()
  -- the child is added first; owner_id is set once the parent has its key
  local u = User{username = "ann"}
  s:add(u)
  s:flush()
  local p = Post{title = "T", content = "C", owner_id = u.id}
  local u2 = User{username = "bob"}
  s:add(p)
  s:add(u2)
  local n = #self.log
  s:flush()
  local order = {}
  for i = n + 1, #self.log do
    local t = self.log[i]:match("^INSERT INTO (%w+)")
    if t then order[#order + 1] = t end
  end
  lu.assertEquals(order, {"users", "posts"})
  s:commit()
  lu.assertEquals(s:query(Post):filter_by{owner_id = u.id}:one(), p)
end

function TestUnitOfWork:test_a_child_added_first_brings_its_parents_inserted_first()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  local p = Post{title = "T", content = "C"}
  p.owner = u
  local c = Comment{text = "hi"}
  p.comments:append(c)
  c.owner = u
  -- the child added first: the parent follows by cascade, inserted first
  s:add(c)
  lu.assertEquals(argent.state(p), "pending")
  lu.assertEquals(argent.state(u), "pending")
  s:commit()
  lu.assertNotNil(u.id)
  lu.assertEquals(p.owner_id, u.id)
  lu.assertEquals(c.post_id, p.id)
  lu.assertEquals(c.owner_id, u.id)
end

function TestUnitOfWork:test_a_self_referential_tree_is_inserted_parents_first()
  local s <close> = self.Session()
  local root = Node{name = "root"}
  local a, b = Node{name = "a"}, Node{name = "b"}
  root.children = {a, b}
  local leaf = Node{name = "leaf", parent = a}
  s:add(leaf) -- the whole tree by cascade, parents inserted first
  s:commit()
  lu.assertEquals(a.parent_id, root.id)
  lu.assertEquals(leaf.parent_id, a.id)
  local s2 <close> = self.Session()
  local r = s2:get(Node, root.id)
  lu.assertEquals(#r.children, 2)
  lu.assertEquals(r.children[1].children[1].name, "leaf")
  lu.assertIs(r.children[1].parent, r)
end

function TestUnitOfWork:test_a_child_removed_from_a_delete_orphan_collection_is_deleted()
  local s <close> = self.Session()
  local a = Article{title = "a"}
  local n1, n2 = Note{body = "n1"}, Note{body = "n2"}
  a.notes = {n1, n2}
  s:add(a)
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "rt_notes"), 2)
  a.notes:remove(n1) -- delete-orphan
  s:commit()
  lu.assertEquals(argent.state(n1), "detached")
  lu.assertEquals(helper.count(conn, "rt_notes"), 1)
end

function TestUnitOfWork:test_deleting_a_parent_deletes_its_children_by_cascade()
  local s <close> = self.Session()
  local a = Article{title = "a"}
  local n1, n2 = Note{body = "n1"}, Note{body = "n2"}
  a.notes = {n1, n2}
  s:add(a)
  s:commit()
  local conn <close> = self.engine:connect()
  s:delete(a) -- cascade delete
  s:commit()
  lu.assertEquals(helper.count(conn, "rt_notes"), 0) -- (both notes)
  lu.assertEquals(helper.count(conn, "rt_articles"), 0)
end

function TestUnitOfWork:test_deleting_a_parent_sets_its_childrens_keys_to_null()
  local s <close> = self.Session()
  local conn <close> = self.engine:connect()
  -- without delete cascade, the children's foreign keys become NULL
  local u = User{username = "u"}
  local c = Comment{text = "t", owner = u}
  s:add(u)
  s:commit()
  s:delete(u)
  s:commit()
  local row = conn:execute("SELECT owner_id FROM comments"):first()
  lu.assertNil(row.owner_id)
end

function TestUnitOfWork:test_many_to_many_rows_follow_the_collection_and_one_to_one_keys_are_set()
  local s <close> = self.Session()
  local red, blue = Tag{name = "red"}, Tag{name = "blue"}
  local a = Article{title = "a", tags = {red, blue}}
  lu.assertIs(red.articles[1], a) -- back-populated
  local p = Profile{bio = "b"}
  a.profile = p
  lu.assertIs(p.article, a)
  s:add(a)
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "rt_article_tags"), 2)
  lu.assertEquals(p.article_id, a.id)
  local s2 <close> = self.Session()
  local a2 = s2:get(Article, a.id)
  lu.assertEquals(#a2.tags, 2)
  lu.assertEquals(a2.tags[1].name, "blue") -- order_by name
  lu.assertEquals(a2.profile.bio, "b")
  local r2 = a2.tags[2]
  a2.tags:remove(r2)
  s2:commit()
  lu.assertEquals(helper.count(conn, "rt_article_tags"), 1)
  local tags = s2:query(Tag):options(argent.selectinload(Tag.articles)):order_by(Tag.id):all()
  lu.assertEquals(#tags[1].articles, 0)
  lu.assertEquals(#tags[2].articles, 1)
end

function TestUnitOfWork:test_deleting_an_object_deletes_its_association_rows_first()
  local s <close> = self.Session()
  local red, blue = Tag{name = "red"}, Tag{name = "blue"}
  local a = Item{tags = {red, blue}}
  local b = Item{tags = {red}}
  s:add(Bundle{items = {a, b}})
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 3)
  s:delete(a) -- s:delete
  s:commit()
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 1)
  lu.assertEquals(helper.count(conn, "rt_items"), 1)
  lu.assertEquals(helper.count(conn, "rt_tags"), 2) -- (the other side is not deleted)
  -- in a new session, with nothing loaded
  local s2 <close> = self.Session()
  s2:delete(s2:get(Item, b.id))
  s2:commit()
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 0)
end

function TestUnitOfWork:test_deleting_an_orphan_deletes_its_association_rows_first()
  local s <close> = self.Session()
  local red = Tag{name = "red"}
  local a, b = Item{tags = {red}}, Item{tags = {red}}
  local bundle = Bundle{items = {a, b}}
  s:add(bundle)
  s:commit()
  local conn <close> = self.engine:connect()
  bundle.items:remove(a) -- a delete-orphan
  s:commit()
  lu.assertEquals(argent.state(a), "detached")
  lu.assertEquals(helper.count(conn, "rt_items"), 1)
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 1)
  -- the orphan's collection not loaded, in a new session
  local s2 <close> = self.Session()
  local bundle2 = s2:get(Bundle, bundle.id)
  bundle2.items = {}
  s2:commit()
  lu.assertEquals(helper.count(conn, "rt_items"), 0)
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 0)
  -- and a delete cascade from the parent
  local c = Item{tags = {Tag{name = "blue"}}}
  s2:add(Bundle{items = {c}})
  s2:commit()
  s2:delete(s2:get(Bundle, c.bundle_id))
  s2:commit()
  lu.assertEquals(helper.count(conn, "rt_items"), 0)
  lu.assertEquals(helper.count(conn, "rt_item_tags"), 0)
end

function TestUnitOfWork:test_changing_a_persistent_primary_key_is_refused()
  local s = self.Session()
  local u = User{username = "x"}
  s:add(u)
  s:commit()
  -- a persistent object's primary key cannot change; nothing is written
  local v = User{username = "v"}
  s:add(v)
  u.id = u.id + 100
  helper.assert_error("InvalidRequestError", "primary key", s.flush, s)
  lu.assertEquals(argent.state(v), "pending")
  u.id = u.id - 100 -- back to its value: no longer a change
  s:flush()
  lu.assertEquals(argent.state(v), "persistent")
  s:commit()
  local id = u.id
  u.id = id + 100
  u.email = "gone@x.org"
  helper.assert_error("InvalidRequestError", "primary key", s.flush, s)
  s:rollback() -- reads the row again
  lu.assertEquals(u.id, id)
  lu.assertNil(u.email)
  s:flush()
  -- a Core statement through the session's transaction
  lu.assertEquals(s:execute(argent.select(argent.func.count()):select_from(User)):scalar(), 2)
  s:close() -- its transaction is open: not left to the collector (LuaJIT may keep it alive longer)
end

-- (it was deleted as an orphan of its first parent)
function TestUnitOfWork:test_a_child_moved_to_another_parent_is_not_an_orphan()
  local s <close> = self.Session()
  local b1, b2 = Bundle{}, Bundle{}
  local i = Item{bundle = b1}
  s:add_all{b1, b2}
  s:commit()
  lu.assertEquals(#b1.items, 1)
  lu.assertEquals(#b2.items, 0) -- (loaded first: loading it after the remove would autoflush the orphan away)
  b1.items:remove(i)
  b2.items:append(i)
  s:commit()
  lu.assertEquals(argent.state(i), "persistent")
  lu.assertEquals(i.bundle_id, b2.id)
  -- and by its many-to-one
  i.bundle = b1
  lu.assertEquals(#b2.items, 0)
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(conn:execute("SELECT bundle_id FROM rt_items"):scalar(), b1.id)
end

-- (the old child kept its key)
function TestUnitOfWork:test_a_replaced_one_to_one_child_loses_its_key()
  local s <close> = self.Session()
  local a = Article{title = "a", profile = Profile{bio = "one"}}
  s:add(a)
  s:commit()
  local old = a.profile
  local s2 <close> = self.Session() -- (a.profile not loaded there)
  local a2 = s2:get(Article, a.id)
  a2.profile = Profile{bio = "two"}
  s2:commit()
  local conn <close> = self.engine:connect()
  lu.assertNil(conn:execute("SELECT article_id FROM rt_profiles WHERE id = ?", {old.id}):scalar())
  a2.profile = nil
  s2:commit()
  lu.assertEquals(conn:execute("SELECT count(*) FROM rt_profiles WHERE article_id IS NULL"):scalar(), 2)
end

-- (depth first gave the leaf its key before its parent's sibling)
function TestUnitOfWork:test_a_self_referential_table_is_inserted_level_by_level()
  local s <close> = self.Session()
  local root = Node{name = "root"}
  local a, b = Node{name = "a", parent = root}, Node{name = "b", parent = root}
  local leaf = Node{name = "leaf", parent = a}
  s:add(root)
  s:commit()
  lu.assertTrue(root.id < a.id and a.id < b.id and b.id < leaf.id)
end

-- (SQLAlchemy 2.0: no save-update cascade along back-population)
function TestUnitOfWork:test_a_new_object_reached_only_by_back_population_is_not_saved()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  lu.assertEquals(#u.posts, 0) -- (loaded)
  local p = Post{title = "t", content = "c", owner = u}
  lu.assertIs(u.posts[1], p)
  s:commit()
  lu.assertEquals(argent.state(p), "transient")
  s:add(p)
  s:commit()
  lu.assertEquals(argent.state(p), "persistent")
end

-- (SQLAlchemy's StaleDataError; the update matched nothing, silently)
function TestUnitOfWork:test_an_update_of_a_row_that_is_gone_is_an_error()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local conn <close> = self.engine:connect()
  conn:execute("DELETE FROM users")
  u.email = "e"
  helper.assert_error("InvalidRequestError", "matched no row", s.flush, s)
  s:rollback()
end

os.exit(helper.run(), true)
