-- tests/lua/test_relationship.lua -- relationships and loading (API.md
-- sections 6-7; lua/argent/loading.lua and the Session): collections,
-- back_populates in memory, foreign keys set at flush in any add order,
-- lazy select / selectin / joined / raise / noload, selectinload and
-- joinedload options (nested), cascades (save-update, delete,
-- delete-orphan), many-to-many, one-to-one, self-referential trees; and the
-- Session's transaction blocks, expiry, refresh, merge, scalars, each and
-- bulk statements.  On the seed's blog models plus a few models of its own.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local blog = require "models.blog"
local User, Post, Comment = blog.User, blog.Post, blog.Comment
local Column, Integer, String = argent.Column, argent.Integer, argent.String

-- Models of this suite: tags (many-to-many with rt_articles), a tree, a profile (one-to-one).
local Base = argent.declarative_base()
local article_tags = argent.Table("rt_article_tags", Base.metadata,
  Column("article_id", Integer, {foreign_key = "rt_articles.id", primary_key = true}),
  Column("tag_id", Integer, {foreign_key = "rt_tags.id", primary_key = true}))
local Article = Base:model("Article", {
  __tablename = "rt_articles",
  id = Column(Integer, {primary_key = true}),
  title = Column(String(64)),
  tags = argent.relationship("Tag", {secondary = "rt_article_tags", back_populates = "articles",
                                     order_by = "name"}),
  notes = argent.relationship("Note", {back_populates = "article", cascade = "all, delete-orphan", lazy = "raise"}),
  profile = argent.relationship("Profile", {uselist = false, back_populates = "article"}),
})
local Tag = Base:model("Tag", {
  __tablename = "rt_tags",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  articles = argent.relationship("Article", {secondary = article_tags, back_populates = "tags"}),
})
local Note = Base:model("Note", {
  __tablename = "rt_notes",
  id = Column(Integer, {primary_key = true}),
  body = Column(String(64)),
  article_id = Column(Integer, {foreign_key = "rt_articles.id"}),
  article = argent.relationship("Article", {back_populates = "notes"}),
})
local Profile = Base:model("Profile", {
  __tablename = "rt_profiles",
  id = Column(Integer, {primary_key = true}),
  bio = Column(String(64)),
  article_id = Column(Integer, {foreign_key = "rt_articles.id"}),
  article = argent.relationship("Article", {back_populates = "profile"}),
})
local Node = Base:model("Node", {
  __tablename = "rt_nodes",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  parent_id = Column(Integer, {foreign_key = "rt_nodes.id"}),
  parent = argent.relationship("Node", {remote_side = "id", back_populates = "children"}),
  children = argent.relationship("Node", {back_populates = "parent", order_by = "id"}),
})
local Person = Base:model("Person", {
  __tablename = "rt_people",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  sent = argent.relationship("Message", {foreign_keys = "Message.sender_id", back_populates = "sender"}),
  received = argent.relationship("Message", {foreign_keys = "Message.recipient_id", back_populates = "recipient"}),
})
local Message = Base:model("Message", {
  __tablename = "rt_messages",
  id = Column(Integer, {primary_key = true}),
  body = Column(String(64)),
  sender_id = Column(Integer, {foreign_key = "rt_people.id"}),
  recipient_id = Column(Integer, {foreign_key = "rt_people.id"}),
  sender = argent.relationship("Person", {foreign_keys = "Message.sender_id", back_populates = "sent"}),
  recipient = argent.relationship("Person", {foreign_keys = {"Message.recipient_id"},
                                             back_populates = "received"}),
})
-- a parent whose children (delete-orphan) have many-to-many rows
local Bundle = Base:model("Bundle", {
  __tablename = "rt_bundles",
  id = Column(Integer, {primary_key = true}),
  items = argent.relationship("Item", {back_populates = "bundle", cascade = "all, delete-orphan"}),
})
local item_tags = argent.Table("rt_item_tags", Base.metadata,
  Column("item_id", Integer, {foreign_key = "rt_items.id", primary_key = true}),
  Column("tag_id", Integer, {foreign_key = "rt_tags.id", primary_key = true}))
local Item = Base:model("Item", {
  __tablename = "rt_items",
  id = Column(Integer, {primary_key = true}),
  bundle_id = Column(Integer, {foreign_key = "rt_bundles.id"}),
  bundle = argent.relationship("Bundle", {back_populates = "items"}),
  tags = argent.relationship("Tag", {secondary = item_tags}),
})
local OWN = {"rt_article_tags", "rt_item_tags", "rt_items", "rt_bundles", "rt_notes", "rt_profiles", "rt_tags",
             "rt_articles", "rt_nodes", "rt_messages", "rt_people"}

local count_verb = helper.count_verb

TestRelationship = {}

function TestRelationship:setUp()
  self.engine, self.log = helper.logging_engine()
  local conn <close> = self.engine:connect()
  helper.drop_tables(conn, OWN)
  helper.drop_tables(conn, {"comments", "posts", "users"})
  conn:close()
  blog.Base.metadata:create_all(self.engine)
  Base.metadata:create_all(self.engine)
  self.Session = argent.sessionmaker(self.engine, {expire_on_commit = false})
end

function TestRelationship:tearDown()
  helper.cleanup_meta(self.engine, Base.metadata, OWN)
  helper.cleanup_meta(self.engine, blog.Base.metadata, {"users", "posts", "comments"})
  self.engine = nil
end

-- 100 users with 2 posts each, each post with 2 comments (by its owner).
local function seed(s)
  local users = {}
  for i = 1, 100 do
    local u = User{username = ("u%03d"):format(i), email = ("u%d@x.org"):format(i)}
    for j = 1, 2 do
      local p = Post{title = ("p%d.%d"):format(i, j), content = "c", owner = u}
      for k = 1, 2 do Comment{text = ("c%d.%d.%d"):format(i, j, k), post = p, owner = u} end
    end
    users[i] = u
  end
  s:add_all(users)
  s:commit()
end

function TestRelationship:test_back_populates_in_memory_and_flush_in_any_order()
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
  -- the child added first: the parent follows by cascade, inserted first
  s:add(c)
  lu.assertEquals(argent.state(p), "pending")
  lu.assertEquals(argent.state(u), "pending")
  s:commit()
  lu.assertNotNil(u.id)
  lu.assertEquals(p.owner_id, u.id)
  lu.assertEquals(c.post_id, p.id)
  lu.assertEquals(c.owner_id, u.id)
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

function TestRelationship:test_lazy_select_and_identity()
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

function TestRelationship:test_selectin_three_selects()
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

function TestRelationship:test_joinedload()
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
  -- joinedload then selectinload for the next level
  s:close() -- (SQLite :memory: has one connection: one session at a time)
  local s2 <close> = self.Session()
  local n0 = #self.log
  local us = s2:query(User):options(argent.joinedload(User.posts):selectinload(Post.comments)):all()
  lu.assertEquals(#us, 100)
  lu.assertEquals(#us[5].posts[2].comments, 2)
  lu.assertEquals(count_verb(self.log, "SELECT", n0 + 1), 2)
end

function TestRelationship:test_raise_noload_and_detached()
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
  s2:close()
  local s3 = self.Session()
  local u = User{username = "x"}
  s3:add(u)
  s3:commit()
  local u2 = s3:get(User, u.id)
  s3:close()
  helper.assert_error("DetachedInstanceError", "not bound to a session", function() return u2.posts end)
end

function TestRelationship:test_cascade_delete_orphan_and_nulling()
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
  s:delete(a) -- cascade delete
  s:commit()
  lu.assertEquals(helper.count(conn, "rt_notes"), 0)
  lu.assertEquals(helper.count(conn, "rt_articles"), 0)
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

-- SQLAlchemy's pending collection changes: a back-populated append or
-- remove on a collection that is not loaded is kept, and applied when it loads
function TestRelationship:test_back_populated_changes_kept_until_the_collection_loads()
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

function TestRelationship:test_deleting_an_object_deletes_its_association_rows_first()
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

function TestRelationship:test_deleting_an_orphan_deletes_its_association_rows_first()
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

function TestRelationship:test_many_to_many_and_one_to_one()
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
  -- query join through a many-to-many and a one-to-many
  lu.assertEquals(s2:query(Article):join(Article.tags):filter_by{title = "a"}:where(Tag.name:eq("blue")):count(), 1)
end

function TestRelationship:test_self_referential_tree()
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

function TestRelationship:test_foreign_keys_when_ambiguous()
  local s <close> = self.Session()
  local a, b = Person{name = "a"}, Person{name = "b"}
  local m = Message{body = "hi", sender = a, recipient = b}
  lu.assertIs(a.sent[1], m)
  lu.assertIs(b.received[1], m)
  lu.assertEquals(#a.received, 0)
  s:add(m)
  s:commit()
  lu.assertEquals(m.sender_id, a.id)
  lu.assertEquals(m.recipient_id, b.id)
  local s2 <close> = self.Session()
  local b2 = s2:get(Person, b.id)
  lu.assertEquals(#b2.received, 1)
  lu.assertEquals(#b2.sent, 0)
  lu.assertEquals(b2.received[1].sender.name, "a")
  -- without foreign_keys the two keys are ambiguous
  local B = argent.declarative_base()
  B:model("P", {__tablename = "rt_p", id = Column(Integer, {primary_key = true}), msgs = argent.relationship("M")})
  local M = B:model("M", {__tablename = "rt_m", id = Column(Integer, {primary_key = true}),
                          a_id = Column(Integer, {foreign_key = "rt_p.id"}),
                          b_id = Column(Integer, {foreign_key = "rt_p.id"})})
  helper.assert_error("InvalidRequestError", "foreign_keys", function() return B.registry.P{}.msgs end)
  lu.assertNotNil(M)
end

function TestRelationship:test_misuse()
  local u = User{username = "x"}
  helper.assert_error("ArgumentError", "Post objects", function() u.posts:append(Comment{}) end)
  helper.assert_error("ArgumentError", "relationship", function() u.posts = 5 end)
  helper.assert_error("ArgumentError", "collection", function() u.posts = Post{} end)
  helper.assert_error("ArgumentError", "is not in", function() u.posts:remove(Post{}) end)
  helper.assert_error("ArgumentError", "User objects", function() Post{}.owner = Comment{} end)
  helper.assert_error("ArgumentError", "relationship attribute", argent.selectinload, User.id)
  helper.assert_error("ArgumentError", "does not continue", function()
    return argent.selectinload(User.posts):selectinload(Article.tags)
  end)
  local s <close> = self.Session()
  helper.assert_error("ArgumentError", "selectinload", function() s:query(User):options("posts") end)
  helper.assert_error("ArgumentError", "must start", function() s:query(Post):options(argent.selectinload(User.posts)) end)
  local B = argent.declarative_base()
  local Lonely = B:model("Lonely", {__tablename = "rt_lonely", id = Column(Integer, {primary_key = true}),
                                    friend = argent.relationship("Nobody")})
  helper.assert_error("InvalidRequestError", "no such model", function() return Lonely{}.friend end)
end

-- ---------------------------------------------------------------- session blocks and state

function TestRelationship:test_session_methods_misuse()
  local s = self.Session()
  local u = User{username = "m"}
  helper.assert_error("InvalidRequestError", "not persistent", s.refresh, s, u)
  helper.assert_error("InvalidRequestError", "not persistent", s.expire, s, u)
  helper.assert_error("ArgumentError", "instance", s.refresh, s, "u")
  helper.assert_error("ArgumentError", "select", s.scalars, s, "SELECT 1")
  helper.assert_error("ArgumentError", "select", s.scalars, s, argent.delete(User))
  helper.assert_error("ArgumentError", "fn", s.begin, s, "fn")
  helper.assert_error("ArgumentError", "fn", s.begin_nested, s, nil)
  helper.assert_error("ArgumentError", "relationship", function() return s:query(User):join(42) end)
  helper.assert_error("ArgumentError", "neither", function() return s:query(Tag):join(User.posts) end)
  lu.assertEquals(s:query(User):join(User.posts):join(Post.comments):count(), 0) -- a path of joins
  helper.assert_error("ArgumentError", "condition", function() return s:query(User):join(Post, "x") end)
  helper.assert_error("ArgumentError", "condition", function() return s:query(User):where("id = 1") end)
  helper.assert_error("ArgumentError", "query", s:query(User).all, {})
  s:add(u)
  s:commit()
  helper.assert_error("ArgumentError", "'keys'", s.expire, s, u, "email")
  helper.assert_error("ArgumentError", "primary key", s.expire, s, u, {"id"})
  -- commit inside a savepoint block is refused (and the block goes on)
  s:begin_nested(function()
    helper.assert_error("InvalidRequestError", "begin_nested", s.commit, s)
  end)
  -- a failed flush: only rollback until then
  s:add(Post{title = "no owner", content = "c"})
  helper.assert_error("IntegrityError", nil, s.flush, s)
  helper.assert_error("InvalidRequestError", "rollback", s.commit, s)
  helper.assert_error("InvalidRequestError", "rollback", s.query(s, User).all, s:query(User))
  s:rollback()
  lu.assertEquals(s:query(User):count(), 1)
  local q = s:query(User)
  s:close()
  for _, call in ipairs{
    function() return s:refresh(u) end, function() return s:merge(u) end, function() return s:expire(u) end,
    function() return s:scalars(argent.select(User)) end, function() return s:begin(function() end) end,
    function() return s:begin_nested(function() end) end, function() return q:all() end,
    function() return q:each() end, function() return q:count() end, function() return s:expire_all() end,
  } do
    helper.assert_error("InvalidRequestError", "closed", call)
  end
  s:close() -- twice is harmless
end

function TestRelationship:test_begin_block_failure_leaves_database_as_before()
  local s0 = self.Session()
  s0:add(User{username = "keep"})
  s0:commit()
  s0:close()
  local ok = pcall(self.Session.begin, self.Session, function(s)
    s:add(User{username = "new"})
    s:add(Post{title = "no owner", content = "c"}) -- owner_id NOT NULL: the flush fails
  end)
  lu.assertFalse(ok)
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "users"), 1)
  lu.assertEquals(helper.count(conn, "posts"), 0)
  -- a block that returns commits, and gives back its results
  local id = self.Session:begin(function(s)
    local u = User{username = "ok"}
    s:add(u)
    s:flush()
    return u.id
  end)
  lu.assertEquals(helper.count(conn, "users"), 2)
  lu.assertNotNil(id)
  helper.assert_error("ArgumentError", "fn", self.Session.begin, self.Session, 1)
end

function TestRelationship:test_begin_nested()
  local s <close> = self.Session()
  local u = User{username = "outer"}
  s:add(u)
  local ok = pcall(s.begin_nested, s, function()
    s:add(User{username = "inner"})
    s:flush()
    error("boom")
  end)
  lu.assertFalse(ok)
  s:begin_nested(function() s:add(User{username = "kept"}) end)
  s:commit()
  local names = {}
  for _, x in ipairs(s:query(User):order_by(User.username):all()) do names[#names + 1] = x.username end
  lu.assertEquals(names, {"kept", "outer"})
  s:begin(function() u.email = "e" end)
  lu.assertEquals(s:get(User, u.id).email, "e")
end

function TestRelationship:test_expire_on_commit_refresh_expire_merge()
  local Session = argent.sessionmaker(self.engine) -- expire_on_commit = true
  local s <close> = Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local before = #self.log
  lu.assertEquals(u.username, "ann") -- expired: read again
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 1)
  lu.assertNotNil(u.created_at)
  lu.assertEquals(count_verb(self.log, "SELECT", before + 1), 1)
  -- another connection changes the row; refresh reads it (in a new transaction)
  s:commit()
  local conn <close> = self.engine:connect()
  conn:execute("UPDATE users SET email = 'new@x.org'")
  s:refresh(u)
  lu.assertEquals(u.email, "new@x.org")
  s:commit()
  conn:execute("UPDATE users SET email = 'newer@x.org'")
  s:expire(u, {"email"})
  lu.assertEquals(u.email, "newer@x.org")
  -- merge a detached copy
  local copy = User{id = u.id, username = "ann2", email = "m@x.org"}
  local merged = s:merge(copy)
  lu.assertIs(merged, u)
  lu.assertEquals(u.username, "ann2")
  s:commit()
  lu.assertEquals(conn:execute("SELECT username FROM users"):scalar(), "ann2")
  local fresh = s:merge(User{username = "brand new"})
  lu.assertEquals(argent.state(fresh), "pending")
  -- merge follows loaded relationships: a detached user with a new post
  local other = User{id = u.id, username = "ann3"}
  other.posts = {Post{title = "merged", content = "c"}}
  local m2 = s:merge(other)
  lu.assertIs(m2, u)
  lu.assertEquals(argent.state(other), "transient") -- merge copies; it never attaches its argument
  lu.assertEquals(#u.posts, 1)
  lu.assertNotEquals(argent.state(u.posts[1]), "transient") -- (the lazy load of u.posts autoflushed it)
  lu.assertEquals(u.posts[1].title, "merged")
  s:commit()
  lu.assertEquals(conn:execute("SELECT count(*) FROM posts WHERE owner_id = ?", {u.id}):scalar(), 1)
  helper.assert_error("ArgumentError", "instance", s.merge, s, 1)
  helper.assert_error("ArgumentError", "no attribute", s.expire, s, u, {"nope"})
end

function TestRelationship:test_scalars_each_and_bulk_statements()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  lu.assertEquals(#us, 5)
  lu.assertIs(us[1], s:get(User, us[1].id))
  lu.assertEquals(s:scalars(argent.select(User.username):order_by(User.id))[1], "u001")
  local n = 0
  for u in s:query(User):order_by(User.id):each() do
    n = n + 1
    lu.assertEquals(u.username, ("u%03d"):format(n))
  end
  lu.assertEquals(n, 100)
  local m = 0
  for u in s:query(User):options(argent.selectinload(User.posts)):each() do m = m + #u.posts end
  lu.assertEquals(m, 200)
  -- a bulk update on a model: the session's objects are expired, and read again
  local u1 = us[1]
  s:execute(argent.update(User):where(User.id:eq(u1.id)):values{email = "bulk@x.org",
                                                                updated_at = argent.func.current_timestamp()})
  lu.assertEquals(u1.email, "bulk@x.org")
  s:execute(argent.delete(Comment):where(Comment.owner_id:eq(u1.id)))
  s:commit()
  -- a list of rows: executemany; update(Model) with the keys in the rows: a bulk update by primary key
  lu.assertEquals(s:execute(argent.update(User), {{id = us[2].id, email = "k2"}, {id = us[3].id, email = "k3"}}), 2)
  lu.assertEquals(us[3].email, "k3")
  lu.assertEquals(s:execute(argent.update(User):where(User.id:eq(argent.bindparam("uid")))
    :values{email = argent.bindparam("e")}, {{uid = us[4].id, e = "b4"}, {uid = us[5].id, e = "b5"}}), 2)
  lu.assertEquals(us[5].email, "b5")
  helper.assert_error("ArgumentError", "primary key", s.execute, s, argent.update(User), {{email = "x"}})
  helper.assert_error("ArgumentError", "nope", s.execute, s, argent.update(User), {{id = 1, nope = "x"}})
  -- without autoflush for a block
  s:no_autoflush(function()
    us[1].email = "pending"
    lu.assertEquals(s:execute(argent.select(User.email):where(User.id:eq(us[1].id))):scalar(), "bulk@x.org")
  end)
  lu.assertEquals(s:execute(argent.select(User.email):where(User.id:eq(us[1].id))):scalar(), "pending")
  -- Core select joins follow relationships too
  local rows = s:execute(argent.select(User.username, argent.func.count(Post.id):label("n")):join(User.posts)
    :group_by(User.username):order_by(User.username):limit(2)):all()
  lu.assertEquals(rows, {{username = "u001", n = 2}, {username = "u002", n = 2}})
  s:commit()
  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "comments"), 396)
end

function TestRelationship:test_no_update_when_nothing_changed_and_batched_inserts()
  local s <close> = self.Session()
  local users = {}
  for i = 1, 20 do users[i] = User{username = "b" .. i} end
  s:add_all(users)
  local before = #self.log
  s:flush()
  local inserts = count_verb(self.log, "INSERT", before + 1)
  if helper.is_pg() then
    -- the keys from the table's sequence in one query, the rows in one pipelined executemany
    -- (and, the first time, one to find the sequence)
    lu.assertEquals(inserts, 1)
    lu.assertTrue(count_verb(self.log, "SELECT", before + 1) <= 2)
    helper.assert_has(table.concat(self.log, "\n", before + 1), "nextval")
  elseif helper.is_mariadb() then
    -- one multi-row INSERT ... RETURNING (array binding returns no keys)
    lu.assertEquals(inserts, 1)
    helper.assert_has(self.log[before + 1], "RETURNING")
  else
    -- one prepared INSERT, executed per object (echo shows each execution)
    lu.assertEquals(inserts, 20)
  end
  for i = 2, 20 do lu.assertTrue(users[i].id > users[i - 1].id) end
  lu.assertNotNil(users[20].created_at) -- the SQL default (returned, or read on access)
  -- every object got its own row's key
  for _, u in ipairs(users) do
    lu.assertEquals(s:execute(argent.select(User.username):where(User.id:eq(u.id))):scalar(), u.username)
  end
  s:commit()
  local n = #self.log
  users[1].username = users[1].username -- same value
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
  users[2].email = "x"
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 1)
end

os.exit(helper.run(), true)
