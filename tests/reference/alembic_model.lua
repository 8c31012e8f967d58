-- tests/reference/alembic_model.lua -- argent's models as
-- tests/reference/alembic_compare.py reads them (JSON), so that Alembic
-- compares the same declared types, defaults, keys and indexes as
-- argent.migrate does: each column's type and server default are the DDL
-- text argent's compiler writes for the dialect.  Used by the migrate
-- tests (tests/lua/migrate_helper.lua) and bench/migrate_autogenerate.lua.
local argent = require "argent"
local core = require "argent.core"

local M = {}

--- The models of meta as alembic_compare.py reads them (JSON text).
function M.json(meta, dialect, url, version_table)
  local info = core.sql.info
  local tables = {}
  for _, t in ipairs(meta:sorted_tables()) do
    local cols, indexes, uniques, fks = {}, {}, {}, {}
    for _, col in ipairs(t.columns) do
      local ci = info(col)
      local type_text, default_text = core.sql.column_ddl(col, dialect)
      cols[#cols + 1] = {name = ci.name, type = type_text, kind = ci.type.__type, nullable = ci.nullable,
                         primary_key = ci.primary_key, serial = ci.autoincrement or nil, default = default_text,
                         comment = ci.comment ~= nil and tostring(ci.comment) or nil}
    end
    for _, ix in ipairs(t.indexes) do
      local names = {}
      for i, c in ipairs(ix.columns) do names[i] = info(c).name end
      indexes[#indexes + 1] = {name = ix.name, columns = names, unique = ix.unique and true or false}
    end
    for _, c in ipairs(t.constraints) do
      if c.kind == "unique" then
        local names = {}
        for i, col in ipairs(c.columns) do names[i] = info(col).name end
        uniques[#uniques + 1] = {name = c.name, columns = names}
      end
    end
    for _, f in ipairs(t.foreign_keys) do
      fks[#fks + 1] = {name = f.name or f.fk.name, columns = {info(f.column).name}, referred_table = f.fk.table_name,
                       referred_columns = {f.fk.column_name}, ondelete = f.fk.ondelete, onupdate = f.fk.onupdate}
    end
    tables[#tables + 1] = {name = t.name, columns = cols, indexes = indexes, uniques = uniques, fks = fks}
  end
  return argent.json_encode({url = url, version_table = version_table or "argent_version", tables = tables})
end

return M
