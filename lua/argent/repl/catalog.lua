-- argent.repl.catalog: the names in the REPL's database -- tables and their
-- columns -- read by reflection once, when first needed, and again after
-- DDL ran at the prompt (the REPL's echo sees every statement, so a CREATE
-- from Lua counts too); and `T`, whose fields are the reflected Tables
-- (`T.users`, loaded on first use) and which prints as the table names.
local inspect = require "argent.inspect"
local schema = require "argent.schema"

local M = {}
local Catalog = {}
Catalog.__index = Catalog

function M.new(db)
  return setmetatable({db = db, names = nil, columns = {}, meta = nil, T = nil}, Catalog)
end

--- Forgets everything (after DDL); the next question reflects again.
function Catalog:stale()
  self.names, self.columns, self.meta = nil, {}, nil
end

--- The table names (sorted); an empty list when reflection fails.
function Catalog:tables()
  if not self.names then
    local ok, names = pcall(function()
      local conn = self.db:connect()
      local ok, names = pcall(inspect.table_names, conn)
      conn:close()
      if not ok then error(names, 0) end
      return names
    end)
    self.names = ok and names or {}
    table.sort(self.names)
  end
  return self.names
end

--- The column names of table name, in order ({} when unknown).
function Catalog:column_names(name)
  local cols = self.columns[name]
  if not cols then
    cols = {}
    local ok, list = pcall(function() return inspect.inspect(self.db):get_columns(name) end)
    if ok then
      for i, c in ipairs(list) do cols[i] = c.name end
    end
    self.columns[name] = cols
  end
  return cols
end

--- Whether name is a table of the database.
function Catalog:has_table(name)
  for _, t in ipairs(self:tables()) do if t == name then return true end end
  return false
end

--- The reflected Table name (nil when there is none).
function Catalog:table(name)
  if not self.meta then self.meta = schema.MetaData() end
  local t = self.meta.tables[name]
  if t then return t end
  if not self:has_table(name) then return nil end
  inspect.reflect(self.meta, self.db, {[name] = true})
  return self.meta.tables[name]
end

-- ---------------------------------------------------------------- T

local TMeta = {__name = "argent.repl.T"}

function TMeta.__index(t, name)
  if type(name) ~= "string" then return nil end
  local catalog = rawget(t, "__catalog")
  local tbl = catalog:table(name)
  if tbl == nil then
    error(("T.%s: there is no table '%s' (T lists the tables)"):format(name, name), 2)
  end
  return tbl
end

function TMeta.__newindex() error("T is read-only: its fields are the database's tables", 2) end

function TMeta.__tostring(t)
  return table.concat(rawget(t, "__catalog"):tables(), "\n")
end

--- The T global of this catalog.
function Catalog:tables_global()
  if not self.T then self.T = setmetatable({__catalog = self}, TMeta) end
  return self.T
end

function M.is_T(v) return getmetatable(v) == TMeta end

return M
