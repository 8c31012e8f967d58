-- bench/compile_bench.lua -- the compile bench from Lua: the same 3-table
-- join with 5 conditions as compile_bench.c, built with argent's Lua API
-- (select/join/where/order_by/limit), then compiled.  Reports per statement:
--   build:        building the statement from Lua (no compile)
--   build+cold:   building and compiling it (a new statement object every time)
--   cached:       compiling a statement object already compiled
-- Run: build/argent run bench/compile_bench.lua [iterations]
local argent = require "argent"
local Column, Integer, String, Text = argent.Column, argent.Integer, argent.String, argent.Text

local n = tonumber(arg and arg[1]) or 50000
local meta = argent.MetaData()
local users = argent.Table("users", meta, Column("id", Integer, {primary_key = true}), Column("name", String(50)),
  Column("email", String(100)))
local posts = argent.Table("posts", meta, Column("id", Integer, {primary_key = true}),
  Column("owner_id", Integer, {foreign_key = "users.id"}), Column("title", String(100)))
local comments = argent.Table("comments", meta, Column("id", Integer, {primary_key = true}),
  Column("post_id", Integer, {foreign_key = "posts.id"}), Column("text", Text))
local u, p, c = users.c, posts.c, comments.c

local function build()
  return argent.select(u.name, p.title, c.text)
    :join(posts, p.owner_id:eq(u.id))
    :join(comments, c.post_id:eq(p.id))
    :where(u.id:gt(10), u.email:like("%@x.org"), p.title:ne("draft"), c.id:lt(1000), u.name:eq("ann"))
    :order_by(c.id:desc()):limit(20)
end

print(build():compile("postgresql"))
local clock = os.clock
for _, dialect in ipairs {"sqlite", "postgresql"} do
  collectgarbage()
  local t0 = clock()
  for _ = 1, n do build() end
  local t_build = (clock() - t0) / n * 1e6
  t0 = clock()
  for _ = 1, n do build():compile(dialect) end
  local t_cold = (clock() - t0) / n * 1e6
  local q = build()
  q:compile(dialect)
  t0 = clock()
  for _ = 1, n do q:compile(dialect) end
  local t_cached = (clock() - t0) / n * 1e6
  print(("%-10s build %.2f us   build+cold %.2f us   cached (compile call from Lua) %.3f us"):format(dialect,
    t_build, t_cold, t_cached))
end
