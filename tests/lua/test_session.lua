-- tests/lua/test_session.lua -- the Session, API.md section 7
-- (lua/argent/session.lua): sessionmaker, add / add_all / flush (inserts in
-- foreign-key order, generated keys set, defaults read back), updates of the
-- changed columns only, delete, commit / rollback and the state transitions,
-- the identity map (get, query), query's where / filter_by / order_by / limit /
-- offset / all / first / one / count, execute, autoflush, misuse.  On the
-- seed's blog models (models/blog.lua), created with create_all per test.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local blog = require "models.blog"
local User, Post, Comment = blog.User, blog.Post, blog.Comment
local func = argent.func

local BLOG_TABLES = {"users", "posts", "comments"}

local count_verb = helper.count_verb

TestSession = {}

function TestSession:setUp()
  self.engine, self.log = helper.logging_engine()
  local conn <close> = self.engine:connect()
  helper.drop_tables(conn, {"comments", "posts", "users"})
  conn:close()
  blog.Base.metadata:create_all(self.engine)
  self.Session = argent.sessionmaker(self.engine, {expire_on_commit = false})
end

function TestSession:tearDown()
  helper.cleanup_meta(self.engine, blog.Base.metadata, BLOG_TABLES)
  self.engine = nil
end

-- the seed's CRUD: add users, update email + updated_at, delete, page through a query
function TestSession:test_seed_crud()
  do
    local s <close> = self.Session()
    local users = {}
    for i = 1, 5 do
      users[i] = User{username = "user" .. i, email = "user" .. i .. "@x.org", password = "p" .. i}
    end
    s:add_all(users)
    for _, u in ipairs(users) do lu.assertEquals(argent.state(u), "pending") end
    s:commit()
    for i, u in ipairs(users) do
      lu.assertEquals(argent.state(u), "persistent")
      lu.assertEquals(math.type(u.id), "integer")
      if i > 1 then lu.assertTrue(u.id > users[i - 1].id) end
      lu.assertEquals(type(u.created_at), "string") -- the column default, read back
    end
  end
  local ids
  do
    local s <close> = self.Session()
    local all = s:query(User):order_by(User.id):all()
    lu.assertEquals(#all, 5)
    ids = {}
    for i, u in ipairs(all) do ids[i] = u.id end
    -- update through attributes
    local u = s:get(User, ids[2])
    u.email = "new2@x.org"
    u.updated_at = func.current_timestamp()
    s:commit()
    lu.assertEquals(u.email, "new2@x.org")
    lu.assertEquals(type(u.updated_at), "string") -- the SQL expression's value, read back
    -- update through a Core statement
    s:execute(argent.update(User):where(User.id:eq(ids[3])):values{email = "new3@x.org",
                                                                  updated_at = func.current_timestamp()})
    s:commit()
    -- delete
    local d = s:get(User, ids[5])
    s:delete(d)
    lu.assertEquals(argent.state(d), "persistent")
    s:flush()
    lu.assertEquals(argent.state(d), "deleted")
    s:commit()
    lu.assertEquals(argent.state(d), "detached")
  end
  do
    local s <close> = self.Session()
    lu.assertEquals(s:query(User):count(), 4)
    lu.assertNil(s:get(User, ids[5]))
    lu.assertEquals(s:get(User, ids[3]).email, "new3@x.org")
    lu.assertEquals(s:get(User, ids[2]).email, "new2@x.org")
    local page = s:query(User):order_by(User.id):limit(2):offset(1):all()
    lu.assertEquals(#page, 2)
    lu.assertEquals(page[1].id, ids[2])
    lu.assertEquals(page[2].id, ids[3])
    lu.assertEquals(s:query(User):filter_by{username = "user1"}:one().id, ids[1])
    lu.assertEquals(s:query(User):where(User.id:gt(ids[1])):count(), 3)
    lu.assertEquals(s:query(User):order_by(User.id):limit(2):offset(1):count(), 2)
    lu.assertEquals(s:query(User):filter_by{username = "user1", email = "user1@x.org"}:count(), 1)
    lu.assertNil(s:query(User):filter_by{username = "nobody"}:first())
    helper.assert_error("NoResultFound", nil, function() s:query(User):filter_by{username = "nobody"}:one() end)
    helper.assert_error("MultipleResultsFound", nil, function() s:query(User):one() end)
    lu.assertEquals(s:query(User):order_by(User.id):limit(1):one().id, ids[1]) -- its own limit is kept
    lu.assertNil(s:query(User):filter_by{username = "nobody"}:one_or_none())
  end
end

function TestSession:test_identity_map_same_object()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:flush()
  lu.assertIs(s:get(User, u.id), u)
  lu.assertIs(s:query(User):filter_by{id = u.id}:one(), u)
  s:commit()
  local s2 <close> = self.Session()
  local a = s2:get(User, u.id)
  lu.assertNotIs(a, u)
  lu.assertIs(s2:query(User):filter_by{username = "ann"}:first(), a)
  lu.assertIs(s2:query(User):all()[1], a)
  local n = #self.log
  lu.assertIs(s2:get(User, u.id), a) -- from the identity map: no SELECT
  lu.assertEquals(#self.log, n)
  -- loading does not mark anything dirty
  s2:flush()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
end

function TestSession:test_no_update_when_nothing_changed()
  local s <close> = self.Session()
  local u = User{username = "ann", email = "a@x.org"}
  s:add(u)
  s:commit()
  local n = #self.log
  u.username = "ann" -- the same value: not a change
  s:flush()
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
  u.email = "b@x.org"
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 1)
  local upd
  for i = n + 1, #self.log do if self.log[i]:match("^UPDATE") then upd = self.log[i] end end
  helper.assert_has(upd, "email")
  helper.assert_lacks(upd, "username")
  -- dirty cleared: flushing again sends nothing
  local m = #self.log
  s:flush()
  lu.assertEquals(count_verb(self.log, "UPDATE", m + 1), 0)
  do
    local s2 <close> = self.Session()
    lu.assertEquals(s2:get(User, u.id).email, "b@x.org")
  end
  -- set to nil: NULL
  u.email = nil
  s:commit()
  local s3 <close> = self.Session()
  lu.assertNil(s3:get(User, u.id).email)
end

function TestSession:test_primary_keys_set_after_flush()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  local c = Comment{text = "hello"}
  s:add(u)
  s:add(c)
  lu.assertNil(u.id)
  lu.assertNil(c.id)
  s:flush()
  lu.assertEquals(math.type(u.id), "integer")
  lu.assertEquals(math.type(c.id), "integer")
  lu.assertEquals(argent.state(u), "persistent")
  -- the attribute `text` is the SQL column "title"
  s:commit()
  local s2 <close> = self.Session()
  lu.assertEquals(s2:get(Comment, c.id).text, "hello")
  -- an explicit key is kept
  local v = User{id = 1000, username = "vic"}
  s2:add(v)
  s2:commit()
  lu.assertEquals(v.id, 1000)
  lu.assertEquals(s2:get(User, 1000).username, "vic")
end

function TestSession:test_parent_flushed_before_child()
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

function TestSession:test_rollback_expunges_pending()
  local s <close> = self.Session()
  local keep = User{username = "keep"}
  s:add(keep)
  s:commit()
  local a, b = User{username = "a"}, User{username = "b"}
  s:add(a)
  s:flush() -- a inserted in the transaction
  s:add(b) -- b only pending
  keep.email = "changed@x.org"
  s:delete(keep)
  s:flush()
  lu.assertEquals(argent.state(keep), "deleted")
  s:rollback()
  lu.assertEquals(argent.state(a), "transient")
  lu.assertEquals(argent.state(b), "transient")
  lu.assertEquals(argent.state(keep), "persistent")
  lu.assertNil(keep.email) -- read again: the change was rolled back
  lu.assertEquals(s:query(User):count(), 1)
  lu.assertIs(s:get(User, keep.id), keep)
  -- a transient object can be added again
  s:add(b)
  s:commit()
  lu.assertEquals(s:query(User):count(), 2)
end

function TestSession:test_rollback_restores_changed_objects()
  local s <close> = self.Session()
  local u, w = User{username = "ann", email = "a@x.org"}, User{username = "wen", email = "w@x.org"}
  s:add_all{u, w}
  s:commit()
  u.email = "flushed@x.org"
  s:flush() -- written in the transaction
  w.email = "unflushed@x.org" -- only in memory
  s:rollback()
  lu.assertEquals(u.email, "a@x.org")
  lu.assertEquals(w.email, "w@x.org")
  local n = #self.log
  s:commit() -- nothing left to write
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
end

function TestSession:test_identity_map_is_weak()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local id = u.id
  u = nil
  collectgarbage()
  collectgarbage()
  local n = #self.log
  local again = s:get(User, id) -- dropped by the program: loaded again
  lu.assertEquals(again.username, "ann")
  lu.assertEquals(count_verb(self.log, "SELECT", n + 1), 1)
end

function TestSession:test_connection_held_only_in_a_transaction()
  local engine = helper.engine({pool_size = 1, max_overflow = 0, pool_timeout = 1})
  blog.Base.metadata:create_all(engine) -- (a new in-memory database for sqlite_mem)
  local Session = argent.sessionmaker(engine, {expire_on_commit = false})
  local s <close> = Session()
  local s2 <close> = Session()
  s:add(User{username = "ann"})
  s:commit() -- the connection goes back to the pool
  lu.assertEquals(s2:query(User):count(), 1) -- so another session can take it
  s2:rollback()
  lu.assertEquals(s:query(User):count(), 1)
  s:close()
  s2:close()
  engine:dispose()
end

function TestSession:test_autoflush()
  local s <close> = self.Session()
  s:add(User{username = "ann"})
  lu.assertEquals(s:query(User):count(), 1) -- flushed before the query
  s:rollback() -- (an in-memory SQLite engine shares one connection between sessions)
  local Manual = argent.sessionmaker(self.engine, {autoflush = false, expire_on_commit = false})
  local m <close> = Manual()
  m:add(User{username = "bob"})
  lu.assertEquals(#m:query(User):filter_by{username = "bob"}:all(), 0)
  m:flush()
  lu.assertEquals(#m:query(User):filter_by{username = "bob"}:all(), 1)
  m:rollback()
end

function TestSession:test_close_detaches_and_releases()
  local s = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local p = User{username = "pending"}
  s:add(p)
  s:close()
  lu.assertEquals(argent.state(u), "detached")
  lu.assertEquals(argent.state(p), "transient")
  s:close() -- twice is harmless
  -- a detached object joins another session
  local s2 <close> = self.Session()
  s2:add(u)
  lu.assertEquals(argent.state(u), "persistent")
  lu.assertIs(s2:get(User, u.id), u)
  u.email = "e@x.org"
  s2:commit()
  local s3 <close> = self.Session()
  lu.assertEquals(s3:get(User, u.id).email, "e@x.org")
  lu.assertEquals(s3:query(User):count(), 1)
end

-- (as SQLAlchemy: the failed flush rolled the transaction back, and its new objects with it)
function TestSession:test_failed_flush_makes_new_objects_transient()
  local s <close> = self.Session()
  local bad = Post{title = "T", content = "C"} -- owner_id is NOT NULL
  s:add(bad)
  helper.assert_error("IntegrityError", nil, s.flush, s)
  lu.assertEquals(argent.state(bad), "transient")
  s:rollback()
  lu.assertEquals(argent.state(bad), "transient")
end

function TestSession:test_misuse()
  helper.assert_error("ArgumentError", "engine", argent.sessionmaker, 42)
  helper.assert_error("ArgumentError", "unknown option", argent.sessionmaker, self.engine, {autocommit = true})
  local s = self.Session()
  helper.assert_error("ArgumentError", "instance", s.add, s, {username = "x"})
  helper.assert_error("ArgumentError", "instance", s.add, s, User)
  helper.assert_error("ArgumentError", "instance", s.add_all, s, {User{}, "x"})
  helper.assert_error("ArgumentError", "model", s.query, s, "users")
  helper.assert_error("ArgumentError", "model", s.get, s, {}, 1)
  helper.assert_error("ArgumentError", "nickname", function() s:query(User):filter_by{nickname = "x"} end)
  helper.assert_error("InvalidRequestError", "not persistent", s.delete, s, User{})
  local u = User{username = "x"}
  s:add(u)
  local other <close> = self.Session()
  helper.assert_error("InvalidRequestError", "another session", other.add, other, u)
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
  s:close()
  helper.assert_error("InvalidRequestError", "closed", s.add, s, User{})
  helper.assert_error("InvalidRequestError", "closed", s.flush, s)
  helper.assert_error("InvalidRequestError", "closed", s.commit, s)
  helper.assert_error("InvalidRequestError", "closed", s.query, s, User)
  helper.assert_error("InvalidRequestError", "closed", s.get, s, User, 1)
  helper.assert_error("InvalidRequestError", "closed", s.execute, s, argent.select(User))
end

os.exit(helper.run(), true)
