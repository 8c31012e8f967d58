-- argent.repl.readonly: `argent repl --read-only` -- every connection the
-- REPL's engine hands out (to the session, to SQL lines, to code typed at
-- the prompt) is put in the database's own read-only mode when it is
-- checked out, so the database refuses writes whoever sends them:
--
--   SQLite      PRAGMA query_only = ON
--   PostgreSQL  SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY
--   MariaDB     SET SESSION TRANSACTION READ ONLY
--
-- (SQL lines that write are refused before they are sent, with a clearer
-- message: see the REPL.)  Connections are wrapped at engine:connect, the
-- one door every checkout goes through; engines other than the REPL's are
-- left alone.
local core = require "argent.core"

local M = {}

local STATEMENTS = {
  sqlite = "PRAGMA query_only = ON",
  postgresql = "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
  mariadb = "SET SESSION TRANSACTION READ ONLY",
}

local guarded = setmetatable({}, {__mode = "k"}) -- engines in read-only mode
local original_connect

--- Puts every later checkout of engine in read-only mode.
function M.install(engine)
  local sql = STATEMENTS[engine.dialect]
  if not sql then core.error("NotSupportedError", "--read-only: no read-only mode known for " .. engine.dialect) end
  guarded[engine] = sql
  if original_connect then return end
  local Engine = core.methods.Engine
  original_connect = Engine.connect
  Engine.connect = function(self, ...)
    local conn = original_connect(self, ...)
    local statement = guarded[self]
    if statement then
      local ok, err = pcall(conn.exec_driver_sql, conn, statement)
      if not ok then
        conn:close()
        error(err, 0)
      end
    end
    return conn
  end
end

return M
