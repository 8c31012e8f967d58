-- core_sqlite.lua -- argent's Core layer on a SQLite file, measured against
-- the raw C baseline bench/c_sqlite_core.c (same workloads, same output).
-- It exists to show what the Core path (Lua binding, statement cache,
-- parameter binding, column-to-Lua conversion) costs on top of SQLite.
--
-- usage: argent run bench/core_sqlite.lua [dbpath=/tmp/argent-bench-core.db] [N=100000]
-- needs hrtime.so (shared/bench/peers/hrtime.c) on LUA_CPATH: Lua 5.4 has no
-- wall clock finer than a second (os.clock is CPU time); bench/run_core.sh
-- builds it and sets LUA_CPATH.
-- stdout: one line per workload: "argent <workload> <seconds> <rows> <checksum>"
--
-- The caller deletes the database file first (run_core.sh does). argent's
-- SQLite connections use journal_mode=WAL and foreign keys on; the C program
-- sets the same.

local argent = require "argent"
local hrtime = require "hrtime"
local now = hrtime.now

local path = arg[1] or "/tmp/argent-bench-core.db"
local N = tonumber(arg[2] or "100000")
N = math.tointeger(N) or error("N must be an integer")

local function report(w, t, rows, chk)
  io.write(string.format("argent %s %.6f %d %d\n", w, t, rows, chk))
  io.flush()
end

local engine = argent.create_engine("sqlite:///" .. path)
local conn = engine:connect()
conn:execute([[CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT,
  username VARCHAR(128) NOT NULL, email VARCHAR(128) NOT NULL, password VARCHAR(128) NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)]])

local SELECT = "SELECT id, username, email, password FROM users"

-- W-insert: one transaction, ONE executemany over a list of N parameter
-- tables; building the list is part of the timing (C builds its values
-- inside its loop too).
collectgarbage()
do
  local t = now()
  local tx = conn:begin()
  local params = {}
  for i = 1, N do
    params[i] = { "user_" .. i, "user_" .. i .. "@example.com", "pass_" .. i }
  end
  local n = conn:executemany("INSERT INTO users (username, email, password) VALUES (?, ?, ?)", params)
  tx:commit()
  report("W-insert", now() - t, n, n)
end

-- W-tuples: the columns as multiple values, no table per row; touched as
-- they stream by (that is what tuples() is for).
collectgarbage()
do
  local t = now()
  local n, chk = 0, 0
  for id, username, email, password in conn:execute(SELECT):tuples() do
    n = n + 1
    chk = chk + id + #username + #email + #password
  end
  report("W-tuples", now() - t, n, chk)
end

-- W-rows: one table per row keyed by column name. The row tables are kept in
-- an array and touched afterwards, as C keeps its structs: the rows are
-- materialized, not just streamed past.
collectgarbage()
do
  local t = now()
  local rows, n = {}, 0
  for r in conn:execute(SELECT):rows() do
    n = n + 1
    rows[n] = r
  end
  local chk = 0
  for i = 1, n do
    local r = rows[i]
    chk = chk + r.id + #r.username + #r.email + #r.password
  end
  report("W-rows", now() - t, n, chk)
end

conn:close()
engine:dispose()
