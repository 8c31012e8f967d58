-- script.lua -- what each thread of argent-host-example runs, in its own
-- lua_State.  The host has set these globals:
--   engine        the engine made in C, shared by every thread (an argent.Engine)
--   thread_id     1..8
--   transactions  how many increments to make (500)
--   host_sleep    host_sleep(seconds): a function of the host, for backing off
-- Each increment is one transaction: engine:begin checks a connection out of
-- the shared pool, runs the function, commits, and gives the connection back.
-- The script returns how many transactions it had to run again.
--
-- Concurrent writers: PostgreSQL makes the second UPDATE of the row wait for
-- the first transaction's row lock, then applies n = n + 1 to the committed
-- value, so no increment is lost and none fails.  SQLite has one writer at a
-- time; the others wait for the lock up to the busy timeout (the host sets
-- 10 s), but some interleavings give SQLITE_BUSY at once (SQLite fails one
-- side rather than risk a deadlock) and a long wait can still run out.  Such
-- a transaction fails with an OperationalError ("database is locked") and was
-- rolled back entirely (engine:begin rolls back on error; a failed COMMIT is
-- rolled back too), so running it again cannot count twice: the script
-- retries it after a short random back-off, at most MAX_ATTEMPTS times.  Any
-- other error, or too many attempts, ends the script with that error.
local argent = require "argent" -- also adds engine:begin (written in Lua) to the engine

local MAX_ATTEMPTS = 50

local function increment(conn)
  conn:execute("UPDATE counter SET n = n + 1 WHERE id = ?", {1})
end

local retries = 0
for _ = 1, transactions do
  local attempt = 1
  while true do
    local ok, err = pcall(engine.begin, engine, increment)
    if ok then break end
    local retryable = argent.is_error(err) and err.kind == "OperationalError"
    if not retryable or attempt >= MAX_ATTEMPTS then
      error(err, 0)
    end
    -- up to 1, 2, 4, ... 64 ms, randomised so that the threads spread out
    host_sleep(math.random() * 0.001 * 2 ^ math.min(attempt, 6))
    attempt = attempt + 1
    retries = retries + 1
  end
end
return retries
