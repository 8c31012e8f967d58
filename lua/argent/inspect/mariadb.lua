-- argent.inspect.mariadb: MariaDB's reflection queries over
-- information_schema, for every table of the current database at once (or
-- for one): columns, index statistics (primary key, unique keys, indexes),
-- foreign keys, check constraints -- a fixed number of statements however
-- many tables there are.
--
-- MariaDB has no unique constraint apart from its unique index: a unique key
-- is listed both among the indexes and the unique constraints.  The index
-- MariaDB makes for a foreign key (named after it) is the key's, not the
-- user's, and is left out.
local types = require "argent.types"

local M = {}

local function filtered(sql, column, only, order)
  if only then return sql .. " AND " .. column .. " = ? " .. order, {only} end
  return sql .. " " .. order, nil
end

local function bucket(out, key)
  local list = out[key]
  if not list then
    list = {}
    out[key] = list
  end
  return list
end

--- CHECK constraints: name -> list of {name, sqltext} (one query).
function M.checks(conn, only)
  local sql, params = filtered("SELECT table_name AS tbl, constraint_name AS name, check_clause AS clause "
    .. "FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()", "table_name", only,
    "ORDER BY table_name, constraint_name")
  local out = {}
  for row in conn:execute(sql, params):rows() do
    table.insert(bucket(out, row.tbl), {name = row.name, sqltext = row.clause})
  end
  return out
end

-- A JSON column is LONGTEXT with a json_valid check named after the column.
local function json_columns(checks)
  local out = {}
  for tname, list in pairs(checks) do
    for _, ck in ipairs(list) do
      if type(ck.sqltext) == "string" and ck.sqltext:lower():find("json_valid", 1, true) then
        out[tname .. "\0" .. ck.name] = true
      end
    end
  end
  return out
end

--- Columns: name -> list (one query).
function M.columns(conn, only, type_from_sql, pks, checks)
  local json = json_columns(checks or {})
  local sql, params = filtered("SELECT table_name AS tbl, column_name AS name, column_type AS type, "
    .. "is_nullable AS nullable, column_default AS dflt, extra, column_comment AS comment "
    .. "FROM information_schema.columns WHERE table_schema = DATABASE()", "table_name", only,
    "ORDER BY table_name, ordinal_position")
  local out = {}
  for row in conn:execute(sql, params):rows() do
    local dflt = row.dflt
    if dflt == "NULL" then dflt = nil end -- MariaDB writes a NULL default as the text NULL
    local t = type_from_sql(row.type)
    if row.type:lower() == "tinyint(1)" then t = types.Boolean(); t.sql_name = "BOOL" end
    if json[row.tbl .. "\0" .. row.name] then t = types.JSON(); t.sql_name = "JSON" end
    local is_pk = false
    for _, k in ipairs(pks[row.tbl] and pks[row.tbl].constrained_columns or {}) do
      if k == row.name then is_pk = true end
    end
    table.insert(bucket(out, row.tbl), {name = row.name, type = t, sql_type = row.type,
      nullable = row.nullable == "YES", default = dflt, primary_key = is_pk,
      autoincrement = (row.extra or ""):lower():find("auto_increment", 1, true) ~= nil,
      comment = row.comment ~= "" and row.comment or nil})
  end
  return out
end

local ACTIONS = {CASCADE = "CASCADE", ["SET NULL"] = "SET NULL", ["SET DEFAULT"] = "SET DEFAULT"}

--- Foreign keys: name -> list (one query).
function M.foreign_keys(conn, only)
  local sql, params = filtered("SELECT k.table_name AS tbl, k.constraint_name AS cname, k.column_name AS src, "
    .. "k.referenced_table_name AS ref, k.referenced_column_name AS dst, r.delete_rule AS del, r.update_rule AS upd "
    .. "FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r "
    .. "ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name "
    .. "AND r.table_name = k.table_name WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL",
    "k.table_name", only, "ORDER BY k.table_name, k.constraint_name, k.ordinal_position")
  local out, current = {}, nil
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.fk.name ~= row.cname then
      local fk = {name = row.cname, constrained_columns = {}, referred_table = row.ref, referred_columns = {},
                  options = {ondelete = ACTIONS[row.del], onupdate = ACTIONS[row.upd]}}
      fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
      current = {tbl = row.tbl, fk = fk}
      table.insert(bucket(out, row.tbl), fk)
    end
    local fk = current.fk
    fk.constrained_columns[#fk.constrained_columns + 1] = row.src
    fk.referred_columns[#fk.referred_columns + 1] = row.dst
  end
  return out
end

--- Keys from the index statistics: maps name -> pk, list of indexes, list of unique keys (one query).
function M.indexes(conn, only, fks)
  local sql, params = filtered("SELECT table_name AS tbl, index_name AS name, non_unique AS nu, column_name AS col "
    .. "FROM information_schema.statistics WHERE table_schema = DATABASE()", "table_name", only,
    "ORDER BY table_name, index_name, seq_in_index")
  local pks, indexes, uniques = {}, {}, {}
  -- the index MariaDB made for a foreign key is named after the key, or after its first column
  local fknames = {}
  for tname, list in pairs(fks or {}) do
    for _, fk in ipairs(list) do
      fknames[tname .. "\0" .. fk.name] = true
      fknames[tname .. "\0" .. fk.constrained_columns[1] .. "\0" .. table.concat(fk.constrained_columns, ",")] = true
    end
  end
  local current
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.name ~= row.name then
      current = {tbl = row.tbl, name = row.name, cols = {}}
      if row.name == "PRIMARY" then
        pks[row.tbl] = {name = "PRIMARY", constrained_columns = current.cols}
      elseif not fknames[row.tbl .. "\0" .. row.name] then
        local unique = tonumber(row.nu) == 0
        table.insert(bucket(indexes, row.tbl), {name = row.name, column_names = current.cols, unique = unique,
                                                duplicates_constraint = unique and row.name or nil})
        if unique then table.insert(bucket(uniques, row.tbl), {name = row.name, column_names = current.cols}) end
      end
    end
    current.cols[#current.cols + 1] = row.col or false
  end
  -- (an index named after its first column, on exactly a key's columns: that key's)
  for tname, list in pairs(indexes) do
    local kept = {}
    for _, ix in ipairs(list) do
      local key = tname .. "\0" .. tostring(ix.column_names[1]) .. "\0" .. table.concat(ix.column_names, ",")
      if ix.unique or ix.name ~= ix.column_names[1] or not fknames[key] then kept[#kept + 1] = ix end
    end
    indexes[tname] = kept
  end
  return pks, indexes, uniques
end

--- Everything about every table of the database (or `only`), with five queries.
function M.reflect(conn, only, type_from_sql)
  local sql, params = filtered("SELECT table_name AS name, table_comment AS comment FROM information_schema.tables "
    .. "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'", "table_name", only, "ORDER BY table_name")
  local names = conn:execute(sql, params):all()
  local checks = M.checks(conn, only)
  local fks = M.foreign_keys(conn, only)
  local pks, indexes, uniques = M.indexes(conn, only, fks)
  local columns = M.columns(conn, only, type_from_sql, pks, checks)
  local out = {}
  for _, row in ipairs(names) do
    local name = row.name
    local own_checks = {}
    for _, ck in ipairs(checks[name] or {}) do
      -- the json_valid check of a JSON column is the type's, not the user's
      if not (type(ck.sqltext) == "string" and ck.sqltext:lower():find("json_valid", 1, true)) then
        own_checks[#own_checks + 1] = ck
      end
    end
    out[name] = {name = name, columns = columns[name] or {}, pk = pks[name] or {constrained_columns = {}},
                 indexes = indexes[name] or {}, uniques = uniques[name] or {}, foreign_keys = fks[name] or {},
                 checks = own_checks, comment = row.comment ~= "" and row.comment or nil}
  end
  return out
end

return M
