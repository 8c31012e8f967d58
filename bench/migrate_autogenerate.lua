-- bench/migrate_autogenerate.lua -- autogenerate's comparison against a big
-- schema: TABLES tables (default 300) of 10 columns, 2 indexes and 1 foreign
-- key each (to the table of half its number), made by create_all, then compared with the same models --
-- argent's migrate.compare, and Alembic's compare_metadata
-- (tests/reference/alembic_compare.py, Debian's python3-alembic) on the same
-- database in the same run.  For each: the best wall-clock seconds of
-- REPEATS runs, and the number of statements one comparison sends (argent's
-- counted with the engine's echo function, Alembic's with SQLAlchemy's
-- before_cursor_execute event).  Both must find no difference.
--
--   build/argent run bench/migrate_autogenerate.lua URL...     (bench/migrate_autogenerate.sh runs it)
--
-- Each URL's database is emptied first (a SQLite file is deleted; on
-- PostgreSQL and MariaDB the URL's database is dropped and created again).
-- Needs hrtime.so (shared/bench/peers/hrtime.c) on LUA_CPATH for a wall
-- clock; TABLES and REPEATS come from the environment.
local argent = require "argent"
local migrate = require "argent.migrate"
local inspect = require "argent.inspect"
local alembic_model = require "tests.reference.alembic_model"
local now = require("hrtime").now

local TABLES = tonumber(os.getenv("TABLES") or "300")
local REPEATS = tonumber(os.getenv("REPEATS") or "5")
local PYTHON = os.getenv("PYTHON") or "/usr/bin/python3"

local Column, Integer, String = argent.Column, argent.Integer, argent.String

local function models(n)
  local meta = argent.MetaData()
  for i = 1, n do
    local name = ("t%03d"):format(i)
    -- the keys make a tree (t002 and t003 refer to t001, ...), as schemas do; a chain 300
    -- deep would make SQLAlchemy's reflection recurse 300 levels
    local parent = ("t%03d"):format(i > 1 and math.floor(i / 2) or 1)
    argent.Table(name, meta,
      Column("id", Integer, {primary_key = true}),
      Column("parent_id", Integer, {foreign_key = parent .. ".id"}),
      Column("name", String(64), {nullable = false}),
      Column("code", String(16)),
      Column("body", argent.Text),
      Column("amount", argent.Numeric(12, 2)),
      Column("flag", argent.Boolean, {server_default = false}),
      Column("created_at", argent.DateTime),
      Column("hits", argent.BigInteger, {server_default = 0}),
      Column("note", String(200)),
      argent.Index("ix_" .. name .. "_name", "name"),
      argent.Index("ix_" .. name .. "_code_created", "code", "created_at"))
  end
  return meta
end

local function fresh(url)
  local path = url:match("^sqlite:///(.+)$")
  if path then
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do os.remove(path .. suffix) end
    return
  end
  if argent.database_exists(url) then argent.drop_database(url) end
  argent.create_database(url)
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function alembic(meta, dialect, url)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(alembic_model.json(meta, dialect, url))
  f:close()
  local p = assert(io.popen(("%s tests/reference/alembic_compare.py --repeat %d %s 2>&1"):format(PYTHON, REPEATS,
    shell_quote(path))))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  local ok, result = pcall(argent.json_decode, out)
  if not ok or type(result) ~= "table" or not result.seconds then return nil, out end
  return result
end

print(("%-11s %6s %10s %8s %10s %8s %8s   %s"):format("backend", "tables", "argent s", "queries", "alembic s",
  "queries", "ratio", "differences (argent / alembic)"))
for _, url in ipairs(arg) do
  fresh(url)
  local log = 0
  local engine = argent.create_engine(url, {echo = function() log = log + 1 end})
  local meta = models(TABLES)
  meta:create_all(engine)
  local diffs = migrate.compare(engine, meta) -- warm: caches, the pool's connection
  local best
  local queries
  for _ = 1, REPEATS do
    collectgarbage()
    local before = log
    local t0 = now()
    diffs = migrate.compare(engine, meta)
    local t = now() - t0
    queries = log - before
    best = best and math.min(best, t) or t
  end
  -- reflection alone
  local conn = engine:connect()
  local before = log
  local t0 = now()
  inspect.snapshot(conn)
  local reflect_seconds, reflect_queries = now() - t0, log - before
  conn:close()
  local ref, err = alembic(meta, engine.dialect, url)
  local ratio = ref and ("%.1fx"):format(ref.seconds / best) or "-"
  print(("%-11s %6d %10.3f %8d %10s %8s %8s   %d / %s"):format(engine.dialect, TABLES, best, queries,
    ref and ("%.3f"):format(ref.seconds) or "-", ref and tostring(ref.queries) or "-", ratio, #diffs,
    ref and tostring(#ref.diffs) or "?"))
  print(("%-11s reflection alone: %.3f s, %d queries"):format("", reflect_seconds, reflect_queries))
  if not ref then io.stderr:write("alembic_compare.py failed: ", tostring(err), "\n") end
  engine:dispose()
  if not url:match("^sqlite:") then argent.drop_database(url) end
end
