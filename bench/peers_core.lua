-- peers_core.lua -- argent's Core layer (engine, connection, SQL expression
-- language) in the peer benchmark suite: workloads W1..W6 of
-- shared/bench/peers/README.md, run side by side with raw C, LuaDBI, LuaSQL
-- and SQLAlchemy by shared/bench/peers/run.sh (listed in bench/peers.txt).
--
-- usage: argent run bench/peers_core.lua <url> <N> <label> [prepare=false]
--   url: sqlite:///path.db, sqlite:// (memory), postgresql://user@host:port/db
--        or mariadb://user@host:port/db
--   prepare=false: create_engine's option of that name (PostgreSQL behind a
--        transaction-mode pooler; bench/pgbouncer.sh)
-- stdout: "<label> <workload> <seconds> <rows>"; stderr: "# check <label> <workload> <checksum>".
--
-- Every statement is built with the expression language (argent.insert /
-- select / update on Tables), compiled once per workload and executed on one
-- connection, as SQLAlchemy Core does in sa_core.py.  Needs the suite's
-- hrtime module (hrtime.c) on LUA_CPATH: run.sh builds it into its build
-- folder and exports LUA_CPATH="<that folder>/?.so;;", which `argent run`
-- honours (argent's own directories are prepended to it).
local argent = require "argent"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local now = require("hrtime").now
local spec = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/peers_spec.lua")

local url, N, label = arg[1], tonumber(arg[2] or ""), arg[3]
if not url or not N or not label then
  io.stderr:write("usage: argent run bench/peers_core.lua <url> <N> <label>\n")
  os.exit(2)
end
local LOOKUPS, UPDATES, REL_USERS, POSTS_PER_USER, COMMENTS_PER_POST, IN_BATCH = 10000, 10000, 2000, 5, 2, 500
local R = math.min(N, REL_USERS)
local U = math.min(N, UPDATES)
local FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
  .. "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation."
local fmt = string.format

-- every timed workload starts from a fully collected heap, so that garbage
-- left by the previous workload is not billed to the next one (README)
local function start() collectgarbage("collect"); return now() end

local function report(w, t, rows, chk)
  io.stdout:write(fmt("%s %s %.6f %d\n", label, w, t, rows))
  io.stdout:flush()
  io.stderr:write(fmt("# check %s %s %d\n", label, w, chk))
end

local touch_user, touch_post = spec.touch_user, spec.touch_post

-- ---------------------------------------------------------------- engine

-- SQLite runs with the suite's settings, which are SQLite's own defaults:
-- journal_mode=DELETE and foreign keys not enforced.  argent's defaults (WAL
-- for files, foreign_keys on) would make the comparison with the C, Lua and
-- Python peers unfair (WAL is faster for W1/W4, FK checks slower), so they
-- are switched off here.  synchronous stays SQLite's default (FULL).
-- An in-memory database has no journal mode to choose.
local sqlite = url:match("^sqlite") ~= nil
local memory = url == "sqlite://" or url == "sqlite:///:memory:"
local connect_args
if sqlite then
  connect_args = {foreign_keys = "off"}
  if not memory then connect_args.journal_mode = "DELETE" end
end
local engine = argent.create_engine(url, {connect_args = connect_args, prepare = arg[4] ~= "prepare=false"})
local my = engine.dialect == "mariadb"
local conn = engine:connect()

-- ---------------------------------------------------------------- schema

local meta = argent.MetaData()
local function now_default() return {server_default = argent.func.current_timestamp()} end
local users = argent.Table("users", meta,
  argent.Column("id", argent.Integer, {primary_key = true}),
  argent.Column("username", argent.String(128), {nullable = false}),
  argent.Column("email", argent.String(128), {nullable = false}),
  argent.Column("password", argent.String(128), {nullable = false}),
  argent.Column("created_at", argent.DateTime, now_default()),
  argent.Column("updated_at", argent.DateTime, now_default()))
local posts = argent.Table("posts", meta,
  argent.Column("id", argent.Integer, {primary_key = true}),
  argent.Column("title", argent.String(256), {nullable = false}),
  argent.Column("content", argent.Text, {nullable = false}),
  argent.Column("image_url", argent.String(256)),
  argent.Column("owner_id", argent.Integer, {nullable = false, foreign_key = "users.id", index = true}))
local comments = argent.Table("comments", meta,
  argent.Column("id", argent.Integer, {primary_key = true}),
  argent.Column("text", argent.Text, {nullable = false}),
  argent.Column("owner_id", argent.Integer, {nullable = false, foreign_key = "users.id", index = true}),
  argent.Column("post_id", argent.Integer, {nullable = false, foreign_key = "posts.id", index = true}),
  argent.Column("created_at", argent.DateTime, now_default()))

spec.create_tables(conn, meta) -- the spec's DDL (peers_spec.lua)

local uc = users.c
local pc = posts.c
local user_cols = {uc.id, uc.username, uc.email, uc.password, uc.created_at, uc.updated_at}
local post_cols = {pc.id, pc.title, pc.content, pc.image_url, pc.owner_id}

-- ---------------------------------------------------------------- W1
-- N inserts in one transaction: one executemany of argent.insert(users)
-- whose rows come from a function, made one at a time inside the timed
-- section as the C peers make their values inside their loop (a list works
-- too, but then every row is built before the first is written).
local t = start()
do
  local tx = conn:begin()
  local i = 0
  local n = conn:executemany(argent.insert(users), function()
    i = i + 1
    if i > N then return nil end
    return {username = "user_" .. i, email = "user_" .. i .. "@example.com", password = "pass_" .. i}
  end)
  tx:commit()
  report("W1", now() - t, n, n)
end

-- ---------------------------------------------------------------- W2
-- all users as row tables (named fields), then touched
t = start()
do
  local rows = conn:execute(argent.select(unpack(user_cols))):all()
  local chk, n = 0, #rows
  for i = 1, n do chk = chk + touch_user(rows[i]) end
  report("W2", now() - t, n, chk)
end

-- ---------------------------------------------------------------- W3
-- LOOKUPS primary-key lookups, autocommit, each its own query; the statement
-- is built (and compiled) once, its parameter bound per execution
do
  local ids, x = {}, 12345
  for k = 1, LOOKUPS do
    x = (x * 1103515245 + 12345) % 2147483648
    ids[k] = x % N + 1
  end
  t = start()
  local q = argent.select(unpack(user_cols)):where(uc.id:eq(argent.bindparam("id")))
  local chk, found = 0, 0
  local p = {}
  for k = 1, LOOKUPS do
    p.id = ids[k]
    local u = conn:execute(q, p):first()
    if u then chk = chk + touch_user(u); found = found + 1 end
  end
  report("W3", now() - t, found, chk)
end

-- ---------------------------------------------------------------- W4
-- U updates by primary key in one transaction: one executemany
t = start()
do
  local tx = conn:begin()
  local upd = argent.update(users):where(uc.id:eq(argent.bindparam("id")))
    :values{email = argent.bindparam("email"), updated_at = argent.func.current_timestamp()}
  local params, chk = {}, 0
  for k = 0, U - 1 do
    local id = (k * 7919) % N + 1
    params[k + 1] = {id = id, email = "user_" .. id .. "@example.org"}
    chk = chk + id
  end
  local changed = conn:executemany(upd, params)
  tx:commit()
  report("W4", now() - t, changed, chk)
end

-- ---------------------------------------------------------------- setup (untimed)
do
  local tx = conn:begin()
  local prows, crows = {}, {}
  for u = 1, R do
    for j = 1, POSTS_PER_USER do
      prows[#prows + 1] = {title = fmt("Post %d by user_%d", j, u),
        content = fmt("Content of post %d by user_%d. %s", j, u, FILLER),
        image_url = fmt("https://img.example.com/%d/%d.png", u, j), owner_id = u}
    end
  end
  conn:executemany(argent.insert(posts), prows)
  -- The comments' post ids come from the database, not from the spec's
  -- (u-1)*5+j: a bulk insert need not give gap-free ids (on MariaDB InnoDB
  -- reserves AUTO_INCREMENT values per array execute).  A user's posts,
  -- ordered by id, are its posts j = 1..5 in insertion order.
  local post_id = {}
  for p in conn:execute(argent.select(pc.id, pc.owner_id):order_by(pc.owner_id, pc.id)):rows() do
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
  conn:executemany(argent.insert(comments), crows)
  tx:commit()
  -- MariaDB's bare ANALYZE is a statement prefix, not a command: name the tables
  conn:execute(my and "ANALYZE TABLE users, posts, comments" or "ANALYZE")
end

-- ---------------------------------------------------------------- W5
t = start()
do
  local cc = comments.c
  local q = argent.select(uc.id, uc.username, argent.func.count(cc.id):label("n_comments"))
    :join(posts, pc.owner_id:eq(uc.id))
    :join(comments, cc.post_id:eq(pc.id))
    :group_by(uc.id, uc.username)
    :order_by(uc.id)
  local rows = conn:execute(q):all()
  local chk, n = 0, #rows
  for i = 1, n do
    local r = rows[i]
    chk = chk + r.id + r.n_comments + #r.username
  end
  report("W5", now() - t, n, chk)
end

local function first_users()
  return argent.select(unpack(user_cols)):where(uc.id:le(argent.bindparam("r"))):order_by(uc.id)
end

-- ---------------------------------------------------------------- W6lazy
-- users, then one posts query per user (the N+1 pattern, statement built once)
t = start()
do
  local users_rows = conn:execute(first_users(), {r = R}):all()
  local q = argent.select(unpack(post_cols)):where(pc.owner_id:eq(argent.bindparam("owner")))
  local chk, np = 0, 0
  local p = {}
  for i = 1, #users_rows do
    local u = users_rows[i]
    p.owner = u.id
    u.posts = conn:execute(q, p):all()
    chk = chk + touch_user(u)
    for _, post in ipairs(u.posts) do chk = chk + touch_post(post); np = np + 1 end
  end
  report("W6lazy", now() - t, np, chk)
end

-- ---------------------------------------------------------------- W6eager
-- users, then posts WHERE owner_id IN (<= 500 ids) per batch, grouped by owner
t = start()
do
  local users_rows = conn:execute(first_users(), {r = R}):all()
  local n = #users_rows
  local by_id = {}
  for i = 1, n do
    local u = users_rows[i]
    u.posts = {}
    by_id[u.id] = u
  end
  for s = 1, n, IN_BATCH do
    local ids = {}
    for i = s, math.min(s + IN_BATCH - 1, n) do ids[#ids + 1] = users_rows[i].id end
    local q = argent.select(unpack(post_cols)):where(pc.owner_id:in_(ids))
    for post in conn:execute(q):rows() do
      local owner = by_id[post.owner_id].posts
      owner[#owner + 1] = post
    end
  end
  local chk, np = 0, 0
  for i = 1, n do
    local u = users_rows[i]
    chk = chk + touch_user(u)
    for _, post in ipairs(u.posts) do chk = chk + touch_post(post); np = np + 1 end
  end
  report("W6eager", now() - t, np, chk)
end

conn:close()
engine:dispose()
