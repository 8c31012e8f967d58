-- argent: a data engine for Lua with a C core.
-- This is the one module users require.  The C part (argent.core) holds the
-- engine, pool, drivers and results; this file adds what is naturally Lua
-- (transaction blocks) and gathers the public names of API.md.
local core = require "argent.core"

local argent = {
  _VERSION = "argent " .. core.version,
  version = core.version,
  null = core.null,
  json_null = core.json_null,
  empty_array = core.empty_array,
  json_array_mt = core.json_array_mt,
  text = core.text,
  make_url = core.make_url,
  database_exists = core.database_exists,
  create_database = core.create_database,
  drop_database = core.drop_database,
  is_error = core.is_error,
}

local raise = core.error
local compat = require "argent.compat"
local pack, unpack = compat.pack, compat.unpack

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

-- Checks that self is a userdata of the C type tname ("argent.Engine"):
-- an ArgumentError naming self otherwise, before anything else is checked.
local function check_self(self, tname, method)
  local mt = type(self) == "userdata" and getmetatable(self)
  if type(mt) ~= "table" or rawget(mt, "__name") ~= tname then
    raise("ArgumentError", ("%s: argument 'self' must be an %s (call it with a colon, as obj:%s(...)), got %s")
      :format(method, tname, method, type(self)))
  end
end

--- engine:begin(fn): fn(conn) inside a transaction on a fresh connection.
function Engine:begin(fn)
  check_self(self, "argent.Engine", "begin")
  if type(fn) ~= "function" then
    raise("ArgumentError", "engine:begin: argument 'fn' must be a function, got " .. type(fn))
  end
  local conn = self:connect()
  return compat.closing(conn, function() return run_in_transaction(conn:begin(), fn, conn) end)
end

local Connection = core.methods.Connection
local conn_begin, conn_begin_nested = Connection.begin, Connection.begin_nested

--- conn:begin() returns a transaction; conn:begin(fn) runs fn(conn) in one.
function Connection:begin(fn)
  check_self(self, "argent.Connection", "begin")
  if fn == nil then return conn_begin(self) end
  if type(fn) ~= "function" then
    raise("ArgumentError", "begin: argument 'fn' must be a function or nothing, got " .. type(fn))
  end
  return run_in_transaction(conn_begin(self), fn, self)
end

--- conn:begin_nested() returns a savepoint; conn:begin_nested(fn) runs fn(conn) in one.
function Connection:begin_nested(fn)
  check_self(self, "argent.Connection", "begin_nested")
  if fn == nil then return conn_begin_nested(self) end
  if type(fn) ~= "function" then
    raise("ArgumentError", "begin_nested: argument 'fn' must be a function or nothing, got " .. type(fn))
  end
  return run_in_transaction(conn_begin_nested(self), fn, self)
end

-- ---- the SQL expression language and schema (API.md sections 4 and 5)
local types = require "argent.types"
local schema = require "argent.schema"
local sqlapi = require "argent.sql"
local inspect = require "argent.inspect"
local sqlcore = core.sql

for _, name in ipairs(core.type_names) do argent[name] = types[name] end
argent.types = types
for _, name in ipairs {"MetaData", "Table", "Column", "ForeignKey", "Index", "UniqueConstraint",
                       "CheckConstraint"} do
  argent[name] = schema[name]
end
argent.select, argent.insert, argent.update, argent.delete = sqlapi.select, sqlapi.insert, sqlapi.update,
  sqlapi.delete
argent.union, argent.union_all = sqlapi.union, sqlapi.union_all
argent.func = sqlapi.func
argent.and_, argent.or_, argent.not_ = sqlcore.and_, sqlcore.or_, sqlcore.not_
argent.literal, argent.bindparam, argent.case, argent.cast = sqlcore.literal, sqlcore.bindparam, sqlcore.case,
  sqlcore.cast
argent.exists, argent.distinct = sqlcore.exists, sqlcore.distinct
argent.true_ = function() return sqlcore.keyword("true") end
argent.false_ = function() return sqlcore.keyword("false") end
argent.null_ = function() return sqlcore.keyword("null") end
argent.inspect = inspect.inspect
argent.json_encode, argent.json_decode = sqlcore.json_encode, sqlcore.json_decode

-- Statements built with argent run through conn:execute / executemany: an
-- insert without values takes the parameters as its values, Lua default
-- functions are called per execution (per row for executemany).
local conn_executemany = Connection.executemany
local prepare_execute, insert_many, sql_tag, sql_info = sqlapi.prepare_execute, sqlapi.insert_many, sqlcore.tag,
  sqlcore.info

local update_returning_emulated = sqlapi.update_returning_emulated

-- conn:execute is C (src/lua/connection.c); it calls this for statements
-- other than SELECT and UNION (a query has nothing to prepare in Lua: only
-- inserts and updates carry values, defaults and problems).  `execute` is
-- conn:execute without this hook.
sqlcore.set_execute_hook(function(self, stmt, params, execute)
  local tag = sql_tag(stmt)
  stmt, params = prepare_execute(stmt, params)
  if tag == "UPDATE" and sqlcore.kid(stmt, core.node.UPD.returning) and not self.features.update_returning then
    return update_returning_emulated(self, execute, stmt, params)
  end
  return execute(self, stmt, params)
end)

function Connection:executemany(stmt, rows)
  check_self(self, "argent.Connection", "executemany")
  if sql_tag(stmt) == "INSERT" and type(rows) == "function" then
    -- rows from a function: the first row says which columns, as a list's does
    local inf = sql_info(stmt)
    if inf and not inf.has_values then
      local first = rows()
      if first == nil then return 0 end
      local s, converted, direct_convert, convert_row = insert_many(stmt, {first})
      -- (without direct_convert, insert_many converted the first row already)
      local n, pending = 1, direct_convert and first or converted[1]
      local function source()
        local row = pending
        if row ~= nil then
          pending = nil
          return row
        end
        row = rows()
        if row == nil then return nil end
        n = n + 1
        if direct_convert then return row end
        return convert_row(n, row) -- defaults to fill: every row is converted
      end
      if direct_convert then return conn_executemany(self, s, source, direct_convert) end
      return conn_executemany(self, s, source)
    end
  end
  if sql_tag(stmt) == "INSERT" and type(rows) == "table" then
    local inf = sql_info(stmt)
    if inf and not inf.has_values then
      if #rows == 0 then return 0 end
      local convert_row
      stmt, rows, convert_row = insert_many(stmt, rows)
      if convert_row then return conn_executemany(self, stmt, rows, convert_row) end
    end
  end
  local inf = sql_tag(stmt) and sql_info(stmt)
  if inf and inf.callbacks and (type(rows) == "table" or type(rows) == "function") then
    -- Lua default / onupdate functions of the statement: called per row, as execute does
    local function with_values(row)
      local _, p = prepare_execute(stmt, row)
      return p
    end
    if type(rows) == "function" then
      local source = rows
      rows = function()
        local row = source()
        if row == nil then return nil end
        return with_values(row)
      end
    else
      local out = {}
      for i, row in ipairs(rows) do out[i] = type(row) == "table" and with_values(row) or row end
      rows = out
    end
  end
  return conn_executemany(self, stmt, rows)
end

-- ---- declarative models (API.md section 6)
local orm = require "argent.orm"
argent.declarative_base, argent.relationship = orm.declarative_base, orm.relationship
argent.state, argent.as_table = orm.state, orm.as_table

-- ---- the Session (API.md section 7)
argent.sessionmaker = require("argent.orm.session").sessionmaker
argent.selectinload, argent.joinedload = orm.selectinload, orm.joinedload

--- argent.pairs(v): pairs that honours __pairs on every Lua (5.1 and LuaJIT
--- ignore it): `for name, value in argent.pairs(instance)` there.
function argent.pairs(v)
  if type(v) ~= "table" and not orm.is_instance(v) then
    raise("ArgumentError", "argent.pairs: argument 1 must be a table or a model instance, got "
      .. require("argent.guard").type_name(v))
  end
  return compat.pairs(v)
end

return argent
