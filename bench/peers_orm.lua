-- peers_orm.lua -- argent's ORM (declarative models, Session, relationships)
-- in the peer benchmark suite: workloads W1..W6 of
-- shared/bench/peers/README.md, the counterpart of the suite's sa_orm.py
-- (SQLAlchemy ORM), run side by side with raw C, LuaDBI, LuaSQL and
-- SQLAlchemy by shared/bench/peers/run.sh (listed in bench/peers.txt).
--
-- usage: argent run bench/peers_orm.lua <url> <N> <label>
--   url: sqlite:///path.db, sqlite:// (memory), postgresql://user@host:port/db
--        or mariadb://user@host:port/db
-- stdout: "<label> <workload> <seconds> <rows>"; stderr: "# check <label> <workload> <checksum>".
-- BENCH_COUNT_SQL=1 adds " sql=<statements>" to the check lines (as sa_orm.py
-- does), counted through the engine's echo hook.
--
-- Every workload goes through the Session as sa_orm.py's does through
-- SQLAlchemy's: objects are added and committed (W1), loaded as instances
-- (W2, W3, W6), changed by attribute and flushed (W4); W4bulk is one ORM
-- UPDATE statement on the model, run for every (id, email) pair as one
-- executemany on the session's connection, inside its transaction;
-- W5 is an aggregate select over the models; W6lazy reads each user's posts
-- through the relationship's lazy load (the N+1 pattern), W6eager through
-- argent.selectinload.  Needs the suite's hrtime module (hrtime.c) on
-- LUA_CPATH: run.sh builds it and exports LUA_CPATH="<its folder>/?.so;;".
local argent = require "argent"
local now = require("hrtime").now
local spec = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/peers_spec.lua")

local url, N, label = arg[1], tonumber(arg[2] or ""), arg[3]
if not url or not N or not label then
  io.stderr:write("usage: argent run bench/peers_orm.lua <url> <N> <label>\n")
  os.exit(2)
end
local LOOKUPS, UPDATES, REL_USERS, POSTS_PER_USER, COMMENTS_PER_POST = 10000, 10000, 2000, 5, 2
local R = math.min(N, REL_USERS)
local U = math.min(N, UPDATES)
local FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
  .. "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation."
local fmt = string.format
local Column, Integer, String, Text, DateTime = argent.Column, argent.Integer, argent.String, argent.Text,
  argent.DateTime
local relationship, func = argent.relationship, argent.func

-- every timed workload starts from a fully collected heap, so that garbage
-- left by the previous workload is not billed to the next one (README)
local function start() collectgarbage("collect"); return now() end

local count_sql = (os.getenv("BENCH_COUNT_SQL") or "") ~= ""
local nsql = 0

local function report(w, t, rows, chk)
  io.stdout:write(fmt("%s %s %.6f %d\n", label, w, t, rows))
  io.stdout:flush()
  io.stderr:write(fmt("# check %s %s %d%s\n", label, w, chk, count_sql and (" sql=" .. nsql) or ""))
  nsql = 0
end

local touch_user, touch_post = spec.touch_user, spec.touch_post

-- Runs one timed workload.  With BENCH_SKIP_FAILED=1 a workload that fails
-- (a feature argent does not have yet) is reported on stderr as
-- "# skipped <label> <workload>: <error>" and the program goes on, so that
-- the others can still be compared; by default the error stops the program.
local skip_failed = (os.getenv("BENCH_SKIP_FAILED") or "") ~= ""
local function workload(name, fn)
  if not skip_failed then return fn() end
  local ok, err = pcall(fn)
  if not ok then
    io.stderr:write(fmt("# skipped %s %s: %s\n", label, name, tostring(err):gsub("\n", " ")))
    nsql = 0
  end
end

-- ---------------------------------------------------------------- engine

-- SQLite runs with the suite's settings, which are SQLite's own defaults:
-- journal_mode=DELETE and foreign keys not enforced (argent's defaults are
-- WAL and foreign keys on, which would make the comparison unfair: WAL is
-- faster for W1/W4, the checks slower).  synchronous stays FULL.  An
-- in-memory database has no journal mode to choose.
local sqlite = url:match("^sqlite") ~= nil
local memory = url == "sqlite://" or url == "sqlite:///:memory:"
local opts = {}
if sqlite then
  opts.connect_args = {foreign_keys = "off"}
  if not memory then opts.connect_args.journal_mode = "DELETE" end
end
if count_sql then opts.echo = function() nsql = nsql + 1 end end
-- One engine, so one pooled connection: every session of the program checks
-- out the same connection (for sqlite:// that is also the one database).
local engine = argent.create_engine(url, opts)
local my = engine.dialect == "mariadb"

-- ---------------------------------------------------------------- models

local Base = argent.declarative_base()
local now_default = func.current_timestamp

local User = Base:model("User", {
  __tablename = "users",
  id         = Column(Integer, {primary_key = true}),
  username   = Column(String(128), {nullable = false}),
  email      = Column(String(128), {nullable = false}),
  password   = Column(String(128), {nullable = false}),
  created_at = Column(DateTime, {server_default = now_default()}),
  -- as sa_orm.py: the UPDATE of a changed user sets updated_at too
  updated_at = Column(DateTime, {server_default = now_default(), onupdate = now_default()}),
  posts      = relationship("Post", {back_populates = "owner"}), -- lazy = "select" (default)
})

local Post = Base:model("Post", {
  __tablename = "posts",
  id        = Column(Integer, {primary_key = true}),
  title     = Column(String(256), {nullable = false}),
  content   = Column(Text, {nullable = false}),
  image_url = Column(String(256)),
  owner_id  = Column(Integer, {foreign_key = "users.id", nullable = false, index = true}),
  owner     = relationship("User", {back_populates = "posts"}),
  comments  = relationship("Comment", {back_populates = "post"}),
})

local Comment = Base:model("Comment", {
  __tablename = "comments",
  id         = Column(Integer, {primary_key = true}),
  text       = Column(Text, {nullable = false}),
  owner_id   = Column(Integer, {foreign_key = "users.id", nullable = false, index = true}),
  post_id    = Column(Integer, {foreign_key = "posts.id", nullable = false, index = true}),
  created_at = Column(DateTime, {server_default = now_default()}),
  post       = relationship("Post", {back_populates = "comments"}),
  owner      = relationship("User"),
})
Base:configure()

-- as sa_orm.py's sessions: nothing is expired at commit (no workload reads
-- an object after its session committed), autoflush on
local Session = argent.sessionmaker(engine, {expire_on_commit = false})
-- W4noautoflush's sessions (sa_orm.py: the same loop inside Session.no_autoflush)
local SessionNoAutoflush = argent.sessionmaker(engine, {expire_on_commit = false, autoflush = false})

-- ---------------------------------------------------------------- schema

do
  local conn = engine:connect()
  spec.create_tables(conn, Base.metadata) -- the spec's DDL (peers_spec.lua); the models describe the same columns
  conn:close()
end
nsql = 0

-- ---------------------------------------------------------------- W1
-- N User objects made inside the timed loop, add_all, one commit (the unit
-- of work inserts them and sets their generated keys)
workload("W1", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local objs = {}
  for i = 1, N do
    objs[i] = User{username = "user_" .. i, email = "user_" .. i .. "@example.com", password = "pass_" .. i}
  end
  s:add_all(objs)
  s:commit()
  report("W1", now() - t, N, N)
  s:close()
end)

-- ---------------------------------------------------------------- W2
-- every user as a User instance, then every attribute touched
workload("W2", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local objs = s:query(User):all()
  local chk, n = 0, #objs
  for i = 1, n do chk = chk + touch_user(objs[i]) end
  report("W2", now() - t, n, chk)
  s:close()
end)

-- ---------------------------------------------------------------- W3
-- LOOKUPS s:get() by primary key in one session.  sa_orm.py drops each
-- object before the next lookup, so its weak identity map never answers a
-- repeated id; Lua's weak map would keep the object until the next GC, so
-- each object is expunged once touched: every lookup is its own SELECT.
local lookup_ids = {}
do
  local x = 12345
  for k = 1, LOOKUPS do
    x = (x * 1103515245 + 12345) % 2147483648
    lookup_ids[k] = x % N + 1
  end
end
workload("W3", function()
  local t = start()
  local ids = lookup_ids
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local chk, found = 0, 0
  for k = 1, LOOKUPS do
    local u = s:get(User, ids[k])
    if u ~= nil then
      chk = chk + touch_user(u)
      found = found + 1
      s:expunge(u)
    end
  end
  report("W3", now() - t, found, chk)
  s:close()
end)

local upd_ids = {}
for k = 0, U - 1 do upd_ids[k + 1] = (k * 7919) % N + 1 end

-- The W4 checksums are the spec's sum of the updated ids, but read back
-- from the database after the workload (untimed): the sum of the ids of the
-- users whose email is now user_<id>@example<tld>.  Each W4 variant sets
-- another value than the one before it, so an update the session failed to
-- write shows up as a checksum that disagrees with the other systems.
local function updated_sum(tld)
  local counted = nsql
  local conn = engine:connect()
  local sum = 0
  for id, email in conn:execute(argent.select(User.id, User.email)
      :where(User.id:in_(upd_ids))):tuples() do
    if email == "user_" .. id .. "@example" .. tld then sum = sum + id end
  end
  conn:close()
  nsql = counted
  return sum
end

-- ---------------------------------------------------------------- W4
-- the idiomatic unit of work: get, set an attribute, one commit; with
-- autoflush each get() flushes the previous change (SELECT and UPDATE
-- alternate), as in sa_orm.py
workload("W4", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  for i = 1, U do
    local id = upd_ids[i]
    local u = s:get(User, id)
    u.email = "user_" .. id .. "@example.org"
  end
  s:commit()
  report("W4", now() - t, U, updated_sum(".org"))
  s:close()
end)

-- ---------------------------------------------------------------- W4noautoflush
-- the same loop with autoflush off: the UPDATEs all go at commit (another
-- value than W4's, so that every object really changes)
workload("W4noautoflush", function()
  local t = start()
  local s = SessionNoAutoflush() -- closed at the end (no <close>: this runs on LuaJIT too)
  for i = 1, U do
    local id = upd_ids[i]
    local u = s:get(User, id)
    u.email = "user_" .. id .. "@example.net"
  end
  s:commit()
  report("W4noautoflush", now() - t, U, updated_sum(".net"))
  s:close()
end)

-- ---------------------------------------------------------------- W4bulk
-- no objects: one ORM UPDATE statement on the model, executed through the
-- session for every (id, email) pair in the session's transaction -- what
-- sa_orm.py's bulk_update_mappings sends (SQLAlchemy 2.0 spells it
-- session.execute(update(User), [{"id": ..., "email": ...}, ...])).
workload("W4bulk", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local stmt = argent.update(User):where(User.id:eq(argent.bindparam("id")))
    :values{email = argent.bindparam("email"), updated_at = func.current_timestamp()}
  local params = {}
  for i = 1, U do
    local id = upd_ids[i]
    params[i] = {id = id, email = "user_" .. id .. "@example.org"}
  end
  -- s:execute(stmt, params) takes one parameter set; the list goes through
  -- the session's connection (inside its transaction) as one executemany
  s:connection():executemany(stmt, params)
  s:commit()
  report("W4bulk", now() - t, U, updated_sum(".org"))
  s:close()
end)

-- ---------------------------------------------------------------- setup (untimed)
-- posts and comments through Core (as sa_orm.py), in one transaction
do
  local conn = engine:connect()
  local tx = conn:begin()
  local prows, crows = {}, {}
  for u = 1, R do
    for j = 1, POSTS_PER_USER do
      prows[#prows + 1] = {title = fmt("Post %d by user_%d", j, u),
        content = fmt("Content of post %d by user_%d. %s", j, u, FILLER),
        image_url = fmt("https://img.example.com/%d/%d.png", u, j), owner_id = u}
    end
  end
  conn:executemany(argent.insert(Post.__table__), prows)
  -- The comments' post ids come from the database, not from the spec's
  -- (u-1)*5+j: a bulk insert need not give gap-free ids (MariaDB reserves
  -- AUTO_INCREMENT values per array execute).  A user's posts, ordered by
  -- id, are its posts j = 1..5 in insertion order.
  local post_id = {}
  for p in conn:execute(argent.select(Post.id, Post.owner_id):order_by(Post.owner_id, Post.id)):rows() do
    local list = post_id[p.owner_id]
    if not list then list = {}; post_id[p.owner_id] = list end
    list[#list + 1] = p.id
  end
  for u = 1, R do
    for j = 1, POSTS_PER_USER do
      local pid = post_id[u][j]
      for k = 1, COMMENTS_PER_POST do
        crows[#crows + 1] = {text = fmt("Comment %d on post %d", k, pid), owner_id = u % R + 1, post_id = pid}
      end
    end
  end
  conn:executemany(argent.insert(Comment.__table__), crows)
  tx:commit()
  -- MariaDB's bare ANALYZE is a statement prefix, not a command: name the tables
  conn:execute(my and "ANALYZE TABLE users, posts, comments" or "ANALYZE")
  conn:close()
end
nsql = 0

-- ---------------------------------------------------------------- W5
-- join + aggregate over the models, through the session
workload("W5", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local q = argent.select(User.id, User.username, func.count(Comment.id):label("n_comments"))
    :join(Post, Post.owner_id:eq(User.id))
    :join(Comment, Comment.post_id:eq(Post.id))
    :group_by(User.id, User.username)
    :order_by(User.id)
  local rows = s:execute(q):all()
  local chk, n = 0, #rows
  for i = 1, n do
    local r = rows[i]
    chk = chk + r.id + r.n_comments + #r.username
  end
  report("W5", now() - t, n, chk)
  s:close()
end)

local function first_users(s)
  return s:query(User):where(User.id:le(R)):order_by(User.id)
end

-- ---------------------------------------------------------------- W6lazy
-- the relationship's default lazy load: one SELECT of posts per user (N+1)
workload("W6lazy", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local us = first_users(s):all()
  local chk, np = 0, 0
  for i = 1, #us do
    local u = us[i]
    chk = chk + touch_user(u)
    for _, p in ipairs(u.posts) do chk = chk + touch_post(p); np = np + 1 end
  end
  report("W6lazy", now() - t, np, chk)
  s:close()
end)

-- ---------------------------------------------------------------- W6eager
-- selectinload: the users, then their posts WHERE owner_id IN (...) per batch
workload("W6eager", function()
  local t = start()
  local s = Session() -- closed at the end (no <close>: this runs on LuaJIT too)
  local us = first_users(s):options(argent.selectinload(User.posts)):all()
  local chk, np = 0, 0
  for i = 1, #us do
    local u = us[i]
    chk = chk + touch_user(u)
    for _, p in ipairs(u.posts) do chk = chk + touch_post(p); np = np + 1 end
  end
  report("W6eager", now() - t, np, chk)
  s:close()
end)

engine:dispose()
