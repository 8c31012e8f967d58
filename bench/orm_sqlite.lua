-- orm_sqlite.lua -- argent's ORM on a SQLite file, measured against the raw C
-- baseline bench/c_sqlite_orm.c, which runs the statements this program's
-- Session sends (seen with echo = true on the engine) through the SQLite C
-- API alone.  The ratio argent/C is what the ORM (instances, identity map,
-- unit of work, relationship loading) and its Lua binding cost on top of
-- the database; bench/run_orm.sh runs both and prints it.
--
-- usage: argent run bench/orm_sqlite.lua [dbpath=/tmp/argent-bench-orm.db] [N=100000]
-- needs hrtime.so (shared/bench/peers/hrtime.c) on LUA_CPATH: run_orm.sh
-- builds it and sets LUA_CPATH.
-- stdout: one line per workload: "argent <workload> <seconds> <rows> <checksum>"
-- BENCH_ECHO=1 turns on the engine's echo (every statement on stderr).
--
-- The caller deletes the database file first (run_orm.sh does).  The
-- connection runs with argent's defaults for a SQLite file (journal_mode=WAL,
-- foreign_keys=ON, SQLite's synchronous=FULL); the C program sets the same.
--
-- Workloads (the issue-5 closing note):
--   O-insert    N User objects made, add_all, commit; checksum = sum of the
--               ids the flush set on the objects
--   O-all       every user back as a User instance (query(User):all()),
--               touched; checksum = sum of touches
--   O-selectin  the first R users with their posts (5 each) through
--               selectinload(User.posts), touched
-- Between O-insert and O-all, R*5 posts are inserted through Core (untimed).
local argent = require "argent"
local now = require("hrtime").now
local spec = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/peers_spec.lua")

local path = arg[1] or "/tmp/argent-bench-orm.db"
local N = math.tointeger(tonumber(arg[2] or "100000"))
if not N then error("N must be an integer") end
local R, POSTS_PER_USER = math.min(N, 2000), 5
local FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt "
  .. "ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation."
local fmt = string.format
local Column, Integer, String, Text, DateTime = argent.Column, argent.Integer, argent.String, argent.Text,
  argent.DateTime

local function report(w, t, rows, chk)
  io.write(fmt("argent %s %.6f %d %d\n", w, t, rows, chk))
  io.flush()
end

-- a full GC before each timed workload: garbage of the previous one is not billed
local function start() collectgarbage("collect"); return now() end

local touch_user, touch_post = spec.touch_user, spec.touch_post

local engine = argent.create_engine("sqlite:///" .. path, {echo = (os.getenv("BENCH_ECHO") or "") ~= ""})

-- the peers' users and posts, as models; the DDL is argent's (c_sqlite_orm.c
-- creates the same tables with the same text)
local Base = argent.declarative_base()
local User = Base:model("User", {
  __tablename = "users",
  id         = Column(Integer, {primary_key = true}),
  username   = Column(String(128), {nullable = false}),
  email      = Column(String(128), {nullable = false}),
  password   = Column(String(128), {nullable = false}),
  created_at = Column(DateTime, {server_default = argent.func.current_timestamp()}),
  updated_at = Column(DateTime, {server_default = argent.func.current_timestamp()}),
  posts      = argent.relationship("Post", {back_populates = "owner"}),
})
local Post = Base:model("Post", {
  __tablename = "posts",
  id        = Column(Integer, {primary_key = true}),
  title     = Column(String(256), {nullable = false}),
  content   = Column(Text, {nullable = false}),
  image_url = Column(String(256)),
  owner_id  = Column(Integer, {foreign_key = "users.id", nullable = false, index = true}),
  owner     = argent.relationship("User", {back_populates = "posts"}),
})
Base.metadata:create_all(engine)
local Session = argent.sessionmaker(engine, {expire_on_commit = false})

-- ---------------------------------------------------------------- O-insert
local t = start()
do
  local s <close> = Session()
  local objs = {}
  for i = 1, N do
    objs[i] = User{username = "user_" .. i, email = "user_" .. i .. "@example.com", password = "pass_" .. i}
  end
  s:add_all(objs)
  s:commit()
  local chk = 0
  for i = 1, N do chk = chk + objs[i].id end
  report("O-insert", now() - t, N, chk)
end

-- ---------------------------------------------------------------- setup (untimed)
do
  local rows = {}
  for u = 1, R do
    for j = 1, POSTS_PER_USER do
      rows[#rows + 1] = {title = fmt("Post %d by user_%d", j, u),
        content = fmt("Content of post %d by user_%d. %s", j, u, FILLER),
        image_url = fmt("https://img.example.com/%d/%d.png", u, j), owner_id = u}
    end
  end
  engine:begin(function(conn) conn:executemany(argent.insert(Post.__table__), rows) end)
end

-- ---------------------------------------------------------------- O-all
t = start()
do
  local s <close> = Session()
  local objs = s:query(User):all()
  local chk, n = 0, #objs
  for i = 1, n do chk = chk + touch_user(objs[i]) end
  report("O-all", now() - t, n, chk)
end

-- ---------------------------------------------------------------- O-selectin
t = start()
do
  local s <close> = Session()
  local us = s:query(User):where(User.id:le(R)):order_by(User.id)
    :options(argent.selectinload(User.posts)):all()
  local chk, np = 0, 0
  for i = 1, #us do
    local u = us[i]
    chk = chk + touch_user(u)
    for _, p in ipairs(u.posts) do chk = chk + touch_post(p); np = np + 1 end
  end
  report("O-selectin", now() - t, np, chk)
end

engine:dispose()
