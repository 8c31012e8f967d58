-- argent.inspect: reflection (API.md section 4) -- what tables, columns,
-- indexes, keys and constraints a database has, read from its catalog with
-- each dialect's own queries (lua/argent/inspect/: SQLite's pragmas,
-- PostgreSQL's pg_catalog, MariaDB's information_schema), and
-- metadata:reflect, which turns that into Tables.  Each dialect reads all
-- tables of a schema with a fixed number of queries (autogenerate reflects
-- whole schemas: 300 tables must not mean 1,500 round trips).
--
-- The catalog queries are plain SQL with bound parameters; every name that
-- comes back is data, never spliced into SQL (SQLite's pragma functions
-- take the table name as a bound argument).
local compat = require "argent.compat"
local unpack = compat.unpack
local core = require "argent.core"
local types = require "argent.types"
local guard = require "argent.guard"

local raise = core.error
local M = {}

local function dialect_of(conn)
  return conn.dialect
end

--- The table names of the database conn is connected to (its current schema on PostgreSQL).
function M.table_names(conn)
  local d = dialect_of(conn)
  local sql
  if d == "postgresql" then
    sql = "SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
      .. "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() "
      .. "ORDER BY c.relname"
  elseif d == "mariadb" then
    sql = "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() "
      .. "AND table_type = 'BASE TABLE' ORDER BY table_name"
  elseif d == "sqlite" then
    sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~' "
      .. "ORDER BY name"
  else
    raise("NotSupportedError", "reflection is not available for " .. tostring(d) .. " yet")
  end
  return conn:execute(sql):scalars()
end

-- An argent type for a database's type text (the text stays as sql_name: tostring shows it).
local function type_from_sql(text)
  local up = (text or ""):upper()
  local base, args = up:match("^%s*([%w ]-)%s*%((.*)%)")
  base = base or up:match("^%s*(.-)%s*$")
  local n1, n2
  if args then
    n1, n2 = args:match("^%s*(%d+)%s*,?%s*(%d*)")
    n1, n2 = tonumber(n1), tonumber(n2)
  end
  local t
  if base:find("BIGINT", 1, true) or base == "INT8" or base == "BIGSERIAL" then t = types.BigInteger()
  elseif base:find("SMALLINT", 1, true) or base == "INT2" then t = types.SmallInteger()
  elseif base:find("INT", 1, true) or base == "SERIAL" then t = types.Integer()
  elseif base:find("BOOL", 1, true) then t = types.Boolean()
  elseif base:find("NUMERIC", 1, true) or base:find("DECIMAL", 1, true) then t = types.Numeric(n1, n2)
  elseif base:find("CHAR", 1, true) or base:find("CLOB", 1, true) then t = types.String(n1)
  elseif base:find("TEXT", 1, true) then t = types.Text()
  elseif base:find("BLOB", 1, true) or base == "BYTEA" then t = types.LargeBinary()
  elseif base:find("DOUBLE", 1, true) or base == "FLOAT8" then t = types.Double()
  elseif base:find("REAL", 1, true) or base:find("FLOAT", 1, true) then t = types.Float()
  elseif base:find("NUMERIC", 1, true) or base:find("DECIMAL", 1, true) then t = types.Numeric(n1, n2)
  elseif base == "TIMESTAMPTZ" or (base:find("TIMESTAMP WITH TIME ZONE", 1, true)) then
    t = types.DateTime{timezone = true}
  elseif base:find("TIMESTAMP", 1, true) or base:find("DATETIME", 1, true) then t = types.DateTime()
  elseif base == "DATE" then t = types.Date()
  elseif base:find("TIME", 1, true) then t = types.Time()
  elseif base:find("JSON", 1, true) then t = types.JSON()
  else t = types.Text() end
  t.sql_name = up ~= "" and up or nil
  if t.__type == "Numeric" then t.sql_name = t.sql_name:gsub("^DECIMAL", "NUMERIC") end -- one name for one type
  return t
end
M.type_from_sql = type_from_sql

local Inspector = {__name = "argent.Inspector"}
Inspector.__index = Inspector

--- argent.inspect(engine or connection)
function M.inspect(bind)
  guard.check_bind(bind, "inspect")
  return setmetatable({bind = bind}, Inspector)
end

-- Runs fn(conn) on a connection of the inspector's bind.
function Inspector:_run(fn)
  local bind = self.bind
  if guard.is_connection(bind) then return fn(bind) end
  local conn = bind:connect()
  return compat.closing(conn, fn, conn)
end

-- An ArgumentError naming self unless it is an inspector.
local function check_inspector(self, method)
  if getmetatable(self) ~= Inspector then
    raise("ArgumentError", ("%s: argument 'self' must be an inspector (call it as argent.inspect(engine):%s(...)), got %s")
      :format(method, method, type(self)))
  end
end

function Inspector:get_table_names()
  check_inspector(self, "get_table_names")
  return self:_run(M.table_names)
end

local function check_table(conn, name)
  if type(name) ~= "string" then
    raise("ArgumentError", "the table name must be a string, got " .. type(name))
  end
  for _, t in ipairs(M.table_names(conn)) do
    if t == name then return end
  end
  raise("InvalidRequestError", ("no table named '%s'"):format(name))
end

-- The reflection queries of each dialect (lua/argent/inspect/*.lua): each
-- reads every table of the schema at once -- or the one asked for -- so
-- reflecting a schema costs a fixed number of queries, not a few per table.
local dialects = {sqlite = "argent.inspect.sqlite", postgresql = "argent.inspect.postgresql",
                  mariadb = "argent.inspect.mariadb"}

local function impl(conn)
  local d = dialect_of(conn)
  local name = dialects[d]
  if not name then raise("NotSupportedError", "reflection is not available for " .. tostring(d) .. " yet") end
  return require(name)
end

--- Everything about the tables of conn's database (or the one named `only`):
--- {name -> {name, columns, pk, indexes, uniques, foreign_keys, checks}}, and on
--- PostgreSQL the list of enum types {name, labels}; a fixed number of queries.
function M.snapshot(conn, only)
  local im = impl(conn)
  local tables = im.reflect(conn, only, type_from_sql)
  local enums = {}
  if im.enums and not only then enums = im.enums(conn) end
  return tables, enums
end

local function method(part, public)
  return function(self, name)
    check_inspector(self, public)
    return self:_run(function(conn)
      check_table(conn, name)
      return M.snapshot(conn, name)[name][part]
    end)
  end
end

local function multi(part, public)
  return function(self)
    check_inspector(self, public)
    return self:_run(function(conn)
      local out = {}
      for name, t in pairs(M.snapshot(conn)) do out[name] = t[part] end
      return out
    end)
  end
end

Inspector.get_columns = method("columns", "get_columns")
Inspector.get_indexes = method("indexes", "get_indexes")
Inspector.get_foreign_keys = method("foreign_keys", "get_foreign_keys")
Inspector.get_pk_constraint = method("pk", "get_pk_constraint")
Inspector.get_unique_constraints = method("uniques", "get_unique_constraints")
Inspector.get_check_constraints = method("checks", "get_check_constraints")
-- name -> the same, for every table at once (SQLAlchemy 2's get_multi_*)
Inspector.get_multi_columns = multi("columns", "get_multi_columns")
Inspector.get_multi_indexes = multi("indexes", "get_multi_indexes")
Inspector.get_multi_foreign_keys = multi("foreign_keys", "get_multi_foreign_keys")
Inspector.get_multi_pk_constraint = multi("pk", "get_multi_pk_constraint")
Inspector.get_multi_unique_constraints = multi("uniques", "get_multi_unique_constraints")
Inspector.get_multi_check_constraints = multi("checks", "get_multi_check_constraints")

--- PostgreSQL's enum types of the current schema: list of {name, labels}; empty elsewhere.
function Inspector:get_enums()
  check_inspector(self, "get_enums")
  return self:_run(function(conn)
    local im = impl(conn)
    return im.enums and im.enums(conn) or {}
  end)
end

--- metadata:reflect(bind): a Table in meta for every table of the database.
function M.reflect(meta, bind, only)
  local schema = require "argent.schema"
  local insp = M.inspect(bind)
  return insp:_run(function(conn)
    local snapshot = M.snapshot(conn)
    local names = {}
    for name in pairs(snapshot) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      if not meta.tables[name] and (not only or only[name]) then
        local t = snapshot[name]
        local items = {}
        local fks = {}
        for _, fk in ipairs(t.foreign_keys) do
          if #fk.constrained_columns == 1 then
            fks[fk.constrained_columns[1]] = schema.ForeignKey(fk.referred_table .. "." .. fk.referred_columns[1],
              {ondelete = fk.options.ondelete, onupdate = fk.options.onupdate, name = fk.name})
          end
        end
        for _, c in ipairs(t.columns) do
          local opts = {primary_key = c.primary_key or nil, nullable = c.nullable}
          if c.default ~= nil and not c.autoincrement then opts.server_default = core.text(c.default) end
          opts.foreign_key = fks[c.name]
          items[#items + 1] = schema.Column(c.name, c.type, opts)
        end
        for _, ix in ipairs(t.indexes) do
          if not ix.expressions then
            local args = {}
            for i, cn in ipairs(ix.column_names) do args[i] = cn end
            args[#args + 1] = {unique = ix.unique}
            items[#items + 1] = schema.Index(ix.name, unpack(args))
          end
        end
        if dialect_of(conn) ~= "mariadb" then -- (there, a unique key is one of the indexes)
          for _, uq in ipairs(t.uniques) do
            local args = {}
            for i, cn in ipairs(uq.column_names) do args[i] = cn end
            args[#args + 1] = {name = uq.name}
            items[#items + 1] = schema.UniqueConstraint(unpack(args))
          end
        end
        schema.Table(name, meta, unpack(items))
      end
    end
    return meta
  end)
end

return M
