-- argent: a data engine for Lua with a C core.
-- This is the one module users require.  The C part (argent.core) holds the
-- engine, pool, drivers and results; this file adds what is naturally Lua
-- (transaction blocks) and gathers the public names of API.md.
local core = require "argent.core"

local argent = {
  _VERSION = "argent " .. core.version,
  version = core.version,
  null = core.null,
  text = core.text,
  make_url = core.make_url,
  is_error = core.is_error,
}

local raise = core.error
local pack, unpack = table.pack, table.unpack

--- argent.create_engine(url, opts): url defaults to $DB_CONNECTION_STRING.
function argent.create_engine(url, opts)
  return core.create_engine(url, opts)
end

local Engine = core.methods.Engine

-- Runs fn(...) and finishes the transaction tx: commit when fn returns (its
-- results are returned), rollback and re-raise the same error when it raises.
local function run_in_transaction(tx, fn, ...)
  local results = pack(pcall(fn, ...))
  if not results[1] then
    pcall(tx.rollback, tx) -- the original error matters more than a failed rollback
    error(results[2], 0)
  end
  tx:commit()
  return unpack(results, 2, results.n)
end

--- engine:begin(fn): fn(conn) inside a transaction on a fresh connection.
function Engine:begin(fn)
  if type(fn) ~= "function" then
    raise("ArgumentError", "engine:begin: argument 'fn' must be a function, got " .. type(fn))
  end
  local conn <close> = self:connect()
  return run_in_transaction(conn:begin(), fn, conn)
end

local Connection = core.methods.Connection
local conn_begin, conn_begin_nested = Connection.begin, Connection.begin_nested

--- conn:begin() returns a transaction; conn:begin(fn) runs fn(conn) in one.
function Connection:begin(fn)
  if fn == nil then return conn_begin(self) end
  if type(fn) ~= "function" then
    raise("ArgumentError", "begin: argument 'fn' must be a function or nothing, got " .. type(fn))
  end
  return run_in_transaction(conn_begin(self), fn, self)
end

--- conn:begin_nested() returns a savepoint; conn:begin_nested(fn) runs fn(conn) in one.
function Connection:begin_nested(fn)
  if fn == nil then return conn_begin_nested(self) end
  if type(fn) ~= "function" then
    raise("ArgumentError", "begin_nested: argument 'fn' must be a function or nothing, got " .. type(fn))
  end
  return run_in_transaction(conn_begin_nested(self), fn, self)
end

return argent
