-- argent.inspect.postgresql: PostgreSQL's reflection queries over
-- pg_catalog, for every table of the current schema at once (or for one):
-- columns, constraints (primary key, unique, foreign key, check: one query),
-- indexes, and enum types -- a fixed number of statements however many
-- tables there are.
local types = require "argent.types"

local M = {}

local IN_SCHEMA = "c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
local FROM_TABLES = "pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"

local function filtered(sql, only, order)
  if only then return sql .. " AND c.relname = ? " .. order, {only} end
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

--- The enum types of the current schema: list of {name, labels} in name order (one query).
function M.enums(conn)
  local out, byname = {}, {}
  for row in conn:execute("SELECT t.typname AS name, e.enumlabel AS label FROM pg_catalog.pg_type t "
      .. "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
      .. "WHERE t.typtype = 'e' AND n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder"):rows() do
    local e = byname[row.name]
    if not e then
      e = {name = row.name, labels = {}}
      byname[row.name] = e
      out[#out + 1] = e
    end
    e.labels[#e.labels + 1] = row.label
  end
  return out
end

--- Columns: name -> list (one query, and the enums' when a column is of an enum type).
function M.columns(conn, only, type_from_sql, pks)
  local sql, params = filtered("SELECT c.relname AS tbl, a.attname AS name, "
    .. "pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, "
    .. "pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS dflt, a.attidentity AS ident, t.typtype AS typtype, "
    .. "t.typname AS typname, pg_catalog.col_description(c.oid, a.attnum) AS comment FROM " .. FROM_TABLES
    .. " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    .. "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
    .. "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE " .. IN_SCHEMA,
    only, "ORDER BY c.relname, a.attnum")
  local out, enum_columns = {}, {}
  for row in conn:execute(sql, params):rows() do
    local dflt = row.dflt
    local autoinc = (type(dflt) == "string" and dflt:find("^nextval%(") ~= nil) or (row.ident ~= nil and row.ident ~= "")
    local keys = pks and pks[row.tbl]
    local c = {name = row.name, type = type_from_sql(row.type), sql_type = row.type, nullable = not row.notnull,
               default = dflt, primary_key = false, autoincrement = autoinc, comment = row.comment}
    if keys then
      for _, k in ipairs(keys.constrained_columns) do
        if k == row.name then c.primary_key = true end
      end
    end
    if row.typtype == "e" then
      c.enum_name = row.typname
      enum_columns[#enum_columns + 1] = c
    end
    table.insert(bucket(out, row.tbl), c)
  end
  if #enum_columns > 0 then
    local labels = {}
    for _, e in ipairs(M.enums(conn)) do labels[e.name] = e.labels end
    for _, c in ipairs(enum_columns) do
      if labels[c.enum_name] then
        c.type = types.Enum(labels[c.enum_name], {name = c.enum_name})
        c.type.sql_name = nil
      end
    end
  end
  return out
end

local ACTIONS = {a = nil, r = "RESTRICT", c = "CASCADE", n = "SET NULL", d = "SET DEFAULT"}

--- Constraints: four maps name -> pk, list of uniques, of foreign keys, of checks (one query).
function M.constraints(conn, only)
  local sql, params = filtered("SELECT c.relname AS tbl, con.conname AS cname, con.contype AS kind, "
    .. "a.attname AS col, rc.relname AS ref, ra.attname AS refcol, con.confdeltype AS del, con.confupdtype AS upd, "
    .. "CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_constraintdef(con.oid, true) END AS def "
    .. "FROM pg_catalog.pg_constraint con JOIN " .. FROM_TABLES .. " ON c.oid = con.conrelid "
    .. "LEFT JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(src, dst, ord) ON true "
    .. "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.src "
    .. "LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid "
    .. "LEFT JOIN pg_catalog.pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.dst "
    .. "WHERE con.contype IN ('p', 'u', 'f', 'c') AND " .. IN_SCHEMA, only, "ORDER BY c.relname, con.conname, k.ord")
  local pks, uniques, fks, checks = {}, {}, {}, {}
  local current
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.cname ~= row.cname then
      current = {tbl = row.tbl, cname = row.cname}
      if row.kind == "p" then
        current.item = {name = row.cname, constrained_columns = {}}
        pks[row.tbl] = current.item
      elseif row.kind == "u" then
        current.item = {name = row.cname, column_names = {}}
        table.insert(bucket(uniques, row.tbl), current.item)
      elseif row.kind == "f" then
        local fk = {name = row.cname, constrained_columns = {}, referred_table = row.ref, referred_columns = {},
                    options = {ondelete = ACTIONS[row.del], onupdate = ACTIONS[row.upd]}}
        fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
        current.item = fk
        table.insert(bucket(fks, row.tbl), fk)
      else
        local text = (row.def or ""):match("^CHECK%s*%((.*)%)%s*$") or row.def
        current.item = {name = row.cname, sqltext = text}
        table.insert(bucket(checks, row.tbl), current.item)
      end
    end
    local item = current.item
    if row.kind == "p" and row.col then
      item.constrained_columns[#item.constrained_columns + 1] = row.col
    elseif row.kind == "u" and row.col then
      item.column_names[#item.column_names + 1] = row.col
    elseif row.kind == "f" and row.col then
      item.constrained_columns[#item.constrained_columns + 1] = row.col
      item.referred_columns[#item.referred_columns + 1] = row.refcol
    end
  end
  return pks, uniques, fks, checks
end

--- Indexes that are not a constraint's: name -> list (one query).
function M.indexes(conn, only)
  local sql, params = filtered("SELECT c.relname AS tbl, ic.relname AS name, i.indisunique AS uniq, "
    .. "a.attname AS col, i.indpred IS NOT NULL AS partial FROM pg_catalog.pg_index i "
    .. "JOIN " .. FROM_TABLES .. " ON c.oid = i.indrelid JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    .. "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
    .. "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    .. "WHERE NOT i.indisprimary AND k.ord <= i.indnkeyatts AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x "
    .. "WHERE x.conindid = i.indexrelid AND x.contype IN ('u', 'p', 'x')) AND " .. IN_SCHEMA, only,
    "ORDER BY c.relname, ic.relname, k.ord")
  local out, current = {}, nil
  for row in conn:execute(sql, params):rows() do
    if not current or current.tbl ~= row.tbl or current.ix.name ~= row.name then
      current = {tbl = row.tbl, ix = {name = row.name, column_names = {}, unique = row.uniq,
                                      partial = row.partial or nil}}
      table.insert(bucket(out, row.tbl), current.ix)
    end
    local ix = current.ix
    ix.column_names[#ix.column_names + 1] = row.col or false
    if not row.col then ix.expressions = true end
  end
  return out
end

--- Everything about every table of the schema (or `only`), with five queries
--- (six when a column is of an enum type).
function M.reflect(conn, only, type_from_sql)
  local sql, params = filtered("SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment FROM "
    .. FROM_TABLES .. " WHERE " .. IN_SCHEMA, only, "ORDER BY c.relname")
  local names = conn:execute(sql, params):all()
  local pks, uniques, fks, checks = M.constraints(conn, only)
  local columns = M.columns(conn, only, type_from_sql, pks)
  local indexes = M.indexes(conn, only)
  local out = {}
  for _, row in ipairs(names) do
    local name = row.name
    out[name] = {name = name, columns = columns[name] or {}, pk = pks[name] or {constrained_columns = {}},
                 indexes = indexes[name] or {}, uniques = uniques[name] or {}, foreign_keys = fks[name] or {},
                 checks = checks[name] or {}, comment = row.comment}
  end
  return out
end

return M
