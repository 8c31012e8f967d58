-- tests/lua/orm/test_session.lua -- the Session (lua/argent/orm/session.lua,
-- API.md section 7): the seed's CRUD, sessionmaker, rollback and the state
-- transitions, a failed flush, close, the connection held only in a
-- transaction, autoflush, transaction blocks (begin, begin_nested), expire
-- on commit, refresh, expire, merge, bulk statements through the session,
-- no_autoflush, misuse.  On the seed's blog models (models/blog.lua) and the
-- suites' own (fixture.lua).

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

TestSession = {}

function TestSession:setUp() fixture.setup(self) end
function TestSession:tearDown() fixture.teardown(self) end

-- the seed's CRUD: add users, update email + updated_at, delete, page through a query
function TestSession:test_the_seeds_crud()
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

function TestSession:test_rollback_makes_new_objects_transient_and_reads_the_others_again()
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

-- (as SQLAlchemy: the failed flush rolled the transaction back, and its new objects with it)
function TestSession:test_a_failed_flush_makes_new_objects_transient()
  local s <close> = self.Session()
  local bad = Post{title = "T", content = "C"} -- owner_id is NOT NULL
  s:add(bad)
  helper.assert_error("IntegrityError", nil, s.flush, s)
  lu.assertEquals(argent.state(bad), "transient")
  s:rollback()
  lu.assertEquals(argent.state(bad), "transient")
end

function TestSession:test_a_failed_flush_allows_only_rollback()
  local s = self.Session()
  local u = User{username = "x"}
  s:add(u)
  s:commit()
  -- a failed flush: only rollback until then
  s:add(Post{title = "no owner", content = "c"})
  helper.assert_error("IntegrityError", nil, s.flush, s)
  helper.assert_error("InvalidRequestError", "rollback", s.commit, s)
  helper.assert_error("InvalidRequestError", "rollback", s.query(s, User).all, s:query(User))
  s:rollback()
  lu.assertEquals(s:query(User):count(), 1)
end

function TestSession:test_the_connection_is_held_only_in_a_transaction()
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

function TestSession:test_queries_autoflush_unless_autoflush_is_off()
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

function TestSession:test_close_detaches_and_gives_the_connection_back()
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

function TestSession:test_a_closed_session_refuses_everything()
  local s = self.Session()
  local u = User{username = "x"}
  s:add(u)
  s:commit()
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
  helper.assert_error("InvalidRequestError", "closed", s.add, s, User{})
  helper.assert_error("InvalidRequestError", "closed", s.flush, s)
  helper.assert_error("InvalidRequestError", "closed", s.commit, s)
  helper.assert_error("InvalidRequestError", "closed", s.query, s, User)
  helper.assert_error("InvalidRequestError", "closed", s.get, s, User, 1)
  helper.assert_error("InvalidRequestError", "closed", s.execute, s, argent.select(User))
end

function TestSession:test_a_failed_begin_block_leaves_the_database_as_before()
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
end

function TestSession:test_a_begin_block_commits_and_returns_its_results()
  local s0 = self.Session()
  s0:add(User{username = "keep"})
  s0:commit()
  s0:close()
  local conn <close> = self.engine:connect()
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

function TestSession:test_begin_nested_rolls_back_only_its_block()
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

function TestSession:test_commit_inside_begin_nested_is_refused()
  local s = self.Session()
  local u = User{username = "x"}
  s:add(u)
  s:commit()
  -- commit inside a savepoint block is refused (and the block goes on)
  s:begin_nested(function()
    helper.assert_error("InvalidRequestError", "begin_nested", s.commit, s)
  end)
end

function TestSession:test_expire_on_commit_reads_the_attributes_again()
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
end

function TestSession:test_refresh_and_expire_read_the_row_again()
  local Session = argent.sessionmaker(self.engine) -- expire_on_commit = true
  local s <close> = Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local conn <close> = self.engine:connect()
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
end

function TestSession:test_merge_copies_a_detached_copy_onto_the_loaded_object()
  local Session = argent.sessionmaker(self.engine) -- expire_on_commit = true
  local s <close> = Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local conn <close> = self.engine:connect()
  -- merge a detached copy
  local copy = User{id = u.id, username = "ann2", email = "m@x.org"}
  local merged = s:merge(copy)
  lu.assertIs(merged, u)
  lu.assertEquals(u.username, "ann2")
  s:commit()
  lu.assertEquals(conn:execute("SELECT username FROM users"):scalar(), "ann2")
  local fresh = s:merge(User{username = "brand new"})
  lu.assertEquals(argent.state(fresh), "pending")
end

function TestSession:test_merge_follows_the_loaded_relationships()
  local Session = argent.sessionmaker(self.engine) -- expire_on_commit = true
  local s <close> = Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local conn <close> = self.engine:connect()
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

function TestSession:test_a_bulk_update_expires_the_sessions_objects()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  -- a bulk update on a model: the session's objects are expired, and read again
  local u1 = us[1]
  s:execute(argent.update(User):where(User.id:eq(u1.id)):values{email = "bulk@x.org",
                                                                updated_at = argent.func.current_timestamp()})
  lu.assertEquals(u1.email, "bulk@x.org")
  s:execute(argent.delete(Comment):where(Comment.owner_id:eq(u1.id)))
  s:commit()  local conn <close> = self.engine:connect()
  lu.assertEquals(helper.count(conn, "comments"), 396)

end

function TestSession:test_execute_with_a_list_of_rows_is_an_executemany()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  -- a list of rows: executemany; update(Model) with the keys in the rows: a bulk update by primary key
  lu.assertEquals(s:execute(argent.update(User), {{id = us[2].id, email = "k2"}, {id = us[3].id, email = "k3"}}), 2)
  lu.assertEquals(us[3].email, "k3")
  lu.assertEquals(s:execute(argent.update(User):where(User.id:eq(argent.bindparam("uid")))
    :values{email = argent.bindparam("e")}, {{uid = us[4].id, e = "b4"}, {uid = us[5].id, e = "b5"}}), 2)
  lu.assertEquals(us[5].email, "b5")
  helper.assert_error("ArgumentError", "primary key", s.execute, s, argent.update(User), {{email = "x"}})
  helper.assert_error("ArgumentError", "nope", s.execute, s, argent.update(User), {{id = 1, nope = "x"}})
end

function TestSession:test_no_autoflush_runs_a_block_without_autoflush()
  local s0 = self.Session()
  seed(s0)
  s0:close()
  local s <close> = self.Session()
  local us = s:scalars(argent.select(User):where(User.id:le(5)):order_by(User.id))
  us[1].email = "bulk@x.org"
  s:commit()
  -- without autoflush for a block
  s:no_autoflush(function()
    us[1].email = "pending"
    lu.assertEquals(s:execute(argent.select(User.email):where(User.id:eq(us[1].id))):scalar(), "bulk@x.org")
  end)
  lu.assertEquals(s:execute(argent.select(User.email):where(User.id:eq(us[1].id))):scalar(), "pending")
end

function TestSession:test_session_method_misuse_is_an_error()
  local s = self.Session()
  local u = User{username = "m"}
  helper.assert_error("InvalidRequestError", "not persistent", s.refresh, s, u)
  helper.assert_error("InvalidRequestError", "not persistent", s.expire, s, u)
  helper.assert_error("ArgumentError", "instance", s.refresh, s, "u")
  helper.assert_error("ArgumentError", "select", s.scalars, s, "SELECT 1")
  helper.assert_error("ArgumentError", "select", s.scalars, s, argent.delete(User))
  helper.assert_error("ArgumentError", "fn", s.begin, s, "fn")
  helper.assert_error("ArgumentError", "fn", s.begin_nested, s, nil)
  s:add(u)
  s:commit()
  helper.assert_error("ArgumentError", "'keys'", s.expire, s, u, "email")
  helper.assert_error("ArgumentError", "primary key", s.expire, s, u, {"id"})
  s:close()
end

function TestSession:test_sessionmaker_and_session_misuse_is_an_error()
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
  s:close()
end

function TestSession:test_deleting_a_pending_object_is_an_error()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  helper.assert_error("InvalidRequestError", "pending", s.delete, s, u)
  lu.assertEquals(argent.state(u), "pending")
end

function TestSession:test_expunge_of_an_object_of_no_session_is_an_error()
  local s <close> = self.Session()
  helper.assert_error("InvalidRequestError", "not in this session", s.expunge, s, User{})
end

-- (SQLAlchemy's add of an object marked for deletion takes the mark back)
function TestSession:test_add_takes_back_a_deletion_not_yet_flushed()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  s:delete(u)
  s:add(u)
  s:commit()
  lu.assertEquals(argent.state(u), "persistent")
  lu.assertEquals(s:query(User):count(), 1)
end

-- (merge wrote NULL over the row's values for the attributes the copy never had)
function TestSession:test_merge_copies_only_the_attributes_the_copy_has()
  local s <close> = self.Session()
  local u = User{username = "ann", email = "a@x.org"}
  s:add(u)
  s:commit()
  local m = s:merge(User{id = u.id, username = "ann2"})
  lu.assertIs(m, u)
  lu.assertEquals(u.username, "ann2")
  lu.assertEquals(u.email, "a@x.org")
end

-- (the deleted objects stayed in the identity map)
function TestSession:test_a_bulk_delete_deletes_the_sessions_objects()
  local s <close> = self.Session()
  local a, b = User{username = "a"}, User{username = "b"}
  s:add_all{a, b}
  s:commit()
  s:execute(argent.delete(User):where(User.username:eq("a")))
  lu.assertEquals(argent.state(a), "deleted")
  lu.assertEquals(argent.state(b), "persistent")
  lu.assertNil(s:get(User, a.id))
  s:commit()
  lu.assertEquals(argent.state(a), "detached")
  helper.assert_error("InvalidRequestError", "was deleted", s.add, s, a)
end

-- (they were made transient, as by a rollback; SQLAlchemy's close leaves them detached)
function TestSession:test_close_leaves_the_objects_inserted_in_its_transaction_detached()
  local s = self.Session()
  local u, p = User{username = "ann"}, User{username = "pending"}
  s:add(u)
  s:flush()
  s:add(p)
  s:close()
  lu.assertEquals(argent.state(u), "detached")
  lu.assertEquals(argent.state(p), "transient")
end

os.exit(helper.run(), true)
