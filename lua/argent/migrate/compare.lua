-- argent.migrate.compare: autogenerate's comparison -- what separates a
-- MetaData (the models) from a database (reflected with a fixed number of
-- queries, lua/argent/inspect/): tables, columns (type, nullability, server
-- default), indexes, unique constraints, foreign keys, and PostgreSQL's enum
-- types (API.md section 9.3).
--
-- Types and defaults are compared as text after normalising each dialect's
-- spelling: the model's side is what argent's DDL compiler writes for the
-- dialect (core.sql.column_ddl), the database's what its catalog says, and
-- both go through the same synonyms (character varying / VARCHAR, int4 /
-- INTEGER, int(11), tinyint(1) / BOOL, SQLite's INT / INTEGER, ::casts,
-- now() / CURRENT_TIMESTAMP, '5' / 5) -- so a database made by create_all
-- or by the migrations compares equal to its models, and an unchanged model
-- gives no differences.  Constraints are matched by name where both sides
-- have one, else by their columns (what Alembic does with unnamed ones).
--
-- The differences come in an order that can be run as it is: new enum
-- types, dropped foreign keys, indexes and constraints, new tables (parents
-- first), new and changed columns, dropped columns, new constraints,
-- indexes and keys, dropped tables (children first), dropped enum types.
local core = require "argent.core"
local inspect = require "argent.inspect"
local schema = require "argent.schema"

local sql = core.sql
local info = sql.info

local C = {}

-- ---- normalising

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local NAME_SYNONYMS = {
  ["CHARACTER VARYING"] = "VARCHAR", NVARCHAR = "VARCHAR", ["VARYING CHARACTER"] = "VARCHAR",
  CHARACTER = "CHAR", NCHAR = "CHAR",
  INT = "INTEGER", INT4 = "INTEGER", SERIAL = "INTEGER", SERIAL4 = "INTEGER", MEDIUMINT = "INTEGER",
  INT8 = "BIGINT", BIGSERIAL = "BIGINT", SERIAL8 = "BIGINT",
  INT2 = "SMALLINT", SMALLSERIAL = "SMALLINT", SERIAL2 = "SMALLINT",
  DECIMAL = "NUMERIC", DEC = "NUMERIC",
  BOOL = "BOOLEAN",
  ["TIMESTAMP WITHOUT TIME ZONE"] = "TIMESTAMP", ["TIME WITHOUT TIME ZONE"] = "TIME",
  ["TIMESTAMP WITH TIME ZONE"] = "TIMESTAMPTZ", ["TIME WITH TIME ZONE"] = "TIMETZ",
  FLOAT8 = "DOUBLE PRECISION", DOUBLE = "DOUBLE PRECISION", FLOAT4 = "REAL",
  CLOB = "TEXT",
}
local INTEGERS = {INTEGER = true, BIGINT = true, SMALLINT = true, TINYINT = true}

--- A type's SQL text as one canonical spelling for dialect.
function C.normalize_type(dialect, text)
  local s = trim((text or ""):upper():gsub('["`]', ""):gsub("%s+", " "))
  local args = s:match("%b()") or ""
  args = args:gsub("%s+", "")
  local name = trim(s:gsub("%b()", ""):gsub("%s+", " "))
  if dialect == "postgresql" and name == "FLOAT" and args == "" then name = "DOUBLE PRECISION" end
  if dialect == "mariadb" and name == "TINYINT" and args == "(1)" then name, args = "BOOLEAN", "" end
  if dialect == "sqlite" then
    if name == "DATETIME" then name = "TIMESTAMP" end
    if name == "DOUBLE" or name == "REAL" then name = "DOUBLE PRECISION" end
  end
  name = NAME_SYNONYMS[name] or name
  if INTEGERS[name] then args = "" end -- display widths: int(11)
  if name == "NUMERIC" and args:match("^%(%d+%)$") then args = args:gsub("%)$", ",0)") end
  return name .. args
end

local function number_text(s)
  local n = tonumber(s)
  if not n then return nil end
  if n == math.floor(n) and n > -1e15 and n < 1e15 then return ("%d"):format(n) end
  return ("%.17g"):format(n)
end

local NOW = {NOW = true, CURRENT_TIMESTAMP = true, TRANSACTION_TIMESTAMP = true, LOCALTIMESTAMP = true}

--- A server default's SQL text as one canonical spelling for dialect (nil stays nil).
function C.normalize_default(dialect, text)
  if text == nil then return nil end
  local s = trim(tostring(text))
  local function unwrap()
    while s:match("^%b()$") do s = trim(s:sub(2, -2)) end
  end
  unwrap()
  if dialect == "postgresql" then
    -- 'abc'::character varying, 0::numeric, ('x'::text)::varchar(5)
    local before
    repeat
      before = s
      s = trim(s:gsub("::[%w_%s\"%.%[%]]+%b()$", ""):gsub("::[%w_%s\"%.%[%]]+$", ""))
      unwrap()
    until s == before
  end
  if s:upper() == "NULL" then return nil end
  if s:match("^'.*'$") then
    local inner = s:sub(2, -2):gsub("''", "'")
    if dialect == "mariadb" then inner = inner:gsub("\\(.)", "%1") end
    return number_text(inner) or ("'" .. inner .. "'")
  end
  local up = s:upper()
  -- now(), current_timestamp(6), localtimestamp: the current time
  if NOW[up] or NOW[up:match("^([%u_]+)%(%d*%)$") or ""] then return "CURRENT_TIMESTAMP" end
  if up == "TRUE" then return "1" end
  if up == "FALSE" then return "0" end
  return number_text(s) or up:gsub("%s+", " ")
end

-- ---- the two sides

-- The model's indexes / uniques / foreign keys of table t, in comparable form.
local function model_parts(t)
  local out = {indexes = {}, uniques = {}, fks = {}}
  for _, ix in ipairs(t.indexes) do
    local cols = {}
    for i, c in ipairs(ix.columns) do cols[i] = info(c).name end
    out.indexes[#out.indexes + 1] = {name = ix.name, columns = cols, unique = ix.unique and true or false}
  end
  for _, c in ipairs(t.constraints) do
    if c.kind == "unique" then
      local cols = {}
      for i, col in ipairs(c.columns) do cols[i] = info(col).name end
      out.uniques[#out.uniques + 1] = {name = c.name, columns = cols}
    end
  end
  for _, f in ipairs(t.foreign_keys) do
    out.fks[#out.fks + 1] = {name = f.name or f.fk.name, columns = {info(f.column).name},
      referred_table = f.fk.table_name, referred_columns = {f.fk.column_name}, ondelete = f.fk.ondelete,
      onupdate = f.fk.onupdate}
  end
  return out
end

local function action(v)
  if v == nil or v == "NO ACTION" or v == "RESTRICT" then return "" end
  return v
end

local function fk_signature(f)
  return table.concat(f.columns, ",") .. "->" .. f.referred_table .. "(" .. table.concat(f.referred_columns, ",")
    .. ")" .. action(f.ondelete) .. "/" .. action(f.onupdate)
end

local function cols_signature(cols) return table.concat(cols, ",") end

-- ---- the differences

local Diff = {}
Diff.__index = Diff
Diff.__tostring = function(d) return d.text end
C.Diff = Diff

local function diff(kind, fields, text)
  fields.kind = kind
  fields.text = text
  return setmetatable(fields, Diff)
end

local function qualified(t, c) return t .. "." .. c end

-- Matches model items with reflected ones: by name where both have one and
-- they say the same, then by what they say (signature).  Returns the
-- unmatched of each side.
local function match(model_items, db_items, signature)
  local used, left = {}, {}
  for _, m in ipairs(model_items) do
    local found
    if m.name then
      for i, r in ipairs(db_items) do
        if not used[i] and r.name == m.name and signature(r) == signature(m) then found = i break end
      end
    end
    if found then used[found] = true else left[#left + 1] = m end
  end
  local model_left = {}
  for _, m in ipairs(left) do
    local found
    for i, r in ipairs(db_items) do
      if not used[i] and signature(r) == signature(m) then found = i break end
    end
    if found then used[found] = true else model_left[#model_left + 1] = m end
  end
  local db_left = {}
  for i, r in ipairs(db_items) do
    if not used[i] then db_left[#db_left + 1] = r end
  end
  return model_left, db_left
end

local function index_signature(ix)
  return cols_signature(ix.columns or ix.column_names) .. (ix.unique and "!" or "")
end

local function reflected_index(ix)
  return {name = ix.name, columns = ix.column_names, unique = ix.unique and true or false}
end

--- The differences between metadata and the database of conn: a list of
--- diffs {kind =, text =, ...} (tostring gives text), in an order that can
--- be applied as it is.  opts.version_table (skipped), opts.include (a set of
--- table names to compare, default all).
function C.compare(conn, metadata, opts)
  opts = opts or {}
  local dialect = conn.dialect
  local comments = conn.features.comments -- (argent writes column comments only where the dialect keeps them)
  local skip = {[opts.version_table or "argent_version"] = true}
  local db, db_enums = inspect.snapshot(conn)
  local groups = {add_enum = {}, add_enum_value = {}, remove_fk = {}, remove_index = {}, remove_unique = {},
                  add_table = {}, add_column = {}, modify = {}, remove_column = {}, add_unique = {}, add_index = {},
                  add_fk = {}, remove_table = {}, remove_enum = {}}
  local function add(group, d) table.insert(groups[group], d) end
  local included = function(name) return not skip[name] and (not opts.include or opts.include[name]) end

  -- enum types (PostgreSQL)
  if dialect == "postgresql" then
    local model_enums = schema.enum_types(metadata:sorted_tables())
    local have = {}
    for _, e in ipairs(db_enums) do have[e.name] = e end
    for _, typ in ipairs(model_enums) do
      local e = have[typ.name]
      if not e then
        add("add_enum", diff("add_enum", {name = typ.name, labels = typ.enums}, ("add enum type %s (%s)")
          :format(typ.name, table.concat(typ.enums, ", "))))
      else
        local known = {}
        for _, l in ipairs(e.labels) do known[l] = true end
        local prev
        for _, l in ipairs(typ.enums) do
          if not known[l] then
            add("add_enum_value", diff("add_enum_value", {name = typ.name, value = l, after = prev},
              ("add value '%s' to enum type %s"):format(l, typ.name)))
          end
          prev = l
        end
        local wanted = {}
        for _, l in ipairs(typ.enums) do wanted[l] = true end
        for _, l in ipairs(e.labels) do
          if not wanted[l] then
            add("add_enum_value", diff("remove_enum_value", {name = typ.name, value = l},
              ("enum type %s has the value '%s' that the model lacks (PostgreSQL cannot drop an enum value)")
                :format(typ.name, l)))
          end
        end
      end
    end
    local used = {}
    for _, typ in ipairs(model_enums) do used[typ.name] = true end
    for _, e in ipairs(db_enums) do
      if not used[e.name] then
        add("remove_enum", diff("remove_enum", {name = e.name, labels = e.labels}, ("remove enum type %s"):format(e.name)))
      end
    end
  end

  -- tables
  local model_tables = {}
  for _, t in ipairs(metadata:sorted_tables()) do
    if included(t.name) then model_tables[t.name] = t end
  end
  for _, t in ipairs(metadata:sorted_tables()) do
    if model_tables[t.name] and not db[t.name] then
      add("add_table", diff("add_table", {table = t.name, model = t}, "add table " .. t.name))
    end
  end
  local removed = {}
  for name, r in pairs(db) do
    if included(name) and not model_tables[name] then removed[#removed + 1] = r end
  end
  -- children first: a table goes before the tables it refers to
  table.sort(removed, function(a, b) return a.name < b.name end)
  local ordered, placed = {}, {}
  local removing = {}
  for _, r in ipairs(removed) do removing[r.name] = r end
  local function visit(r, seen)
    if placed[r.name] or seen[r.name] then return end
    seen[r.name] = true
    for _, other in ipairs(removed) do
      for _, fk in ipairs(other.foreign_keys) do
        if fk.referred_table == r.name and other.name ~= r.name then visit(other, seen) end
      end
    end
    placed[r.name] = true
    ordered[#ordered + 1] = r
  end
  for _, r in ipairs(removed) do visit(r, {}) end
  for _, r in ipairs(ordered) do
    add("remove_table", diff("remove_table", {table = r.name, reflected = r}, "remove table " .. r.name))
  end

  -- columns, indexes and constraints of the tables on both sides
  for _, t in ipairs(metadata:sorted_tables()) do
    local r = model_tables[t.name] and db[t.name]
    if r then
      local rcols = {}
      for _, c in ipairs(r.columns) do rcols[c.name] = c end
      local mcols = {}
      for _, col in ipairs(t.columns) do
        local ci = info(col)
        mcols[ci.name] = true
        local rc = rcols[ci.name]
        if not rc then
          add("add_column", diff("add_column", {table = t.name, column = ci.name, model = col},
            "add column " .. qualified(t.name, ci.name)))
        else
          local mtype, mdefault = sql.column_ddl(col, dialect)
          local rtype = rc.sql_type
          if rc.type.__type == "JSON" and dialect == "mariadb" then rtype = "JSON" end
          if rc.enum_name then rtype = rc.enum_name end
          local changes = {}
          if C.normalize_type(dialect, mtype) ~= C.normalize_type(dialect, rtype) then
            changes.type = {from = rtype, to = mtype}
          end
          if ci.nullable ~= rc.nullable then changes.nullable = {from = rc.nullable, to = ci.nullable} end
          if not (rc.autoincrement or ci.autoincrement)
              and C.normalize_default(dialect, mdefault) ~= C.normalize_default(dialect, rc.default) then
            changes.default = {from = rc.default, to = mdefault}
          end
          local mcomment = ci.comment ~= nil and tostring(ci.comment) or nil
          if comments and mcomment ~= rc.comment then changes.comment = {from = rc.comment, to = mcomment} end
          if next(changes) then
            local parts = {}
            if changes.type then parts[#parts + 1] = ("type %s -> %s"):format(rtype, mtype) end
            if changes.nullable then
              parts[#parts + 1] = changes.nullable.to and "nullable" or "not nullable"
            end
            if changes.default then
              parts[#parts + 1] = ("server default %s -> %s"):format(tostring(rc.default or "none"),
                tostring(mdefault or "none"))
            end
            if changes.comment then
              local function said(c) return c and ("'" .. c:gsub("'", "''") .. "'") or "none" end
              parts[#parts + 1] = ("comment %s -> %s"):format(said(rc.comment), said(mcomment))
            end
            add("modify", diff("modify_column", {table = t.name, column = ci.name, model = col, reflected = rc,
              changes = changes}, ("modify column %s: %s"):format(qualified(t.name, ci.name), table.concat(parts, ", "))))
          end
        end
      end
      for _, rc in ipairs(r.columns) do
        if not mcols[rc.name] then
          add("remove_column", diff("remove_column", {table = t.name, column = rc.name, reflected = rc},
            "remove column " .. qualified(t.name, rc.name)))
        end
      end

      local mp = model_parts(t)
      -- MariaDB keeps a unique constraint as a unique index: each side claims its own
      local rindexes, runiques = {}, {}
      for _, ix in ipairs(r.indexes) do
        if not ix.expressions then rindexes[#rindexes + 1] = reflected_index(ix) end
      end
      for _, u in ipairs(r.uniques) do runiques[#runiques + 1] = {name = u.name, columns = u.column_names} end
      if dialect == "mariadb" then
        -- MariaDB's unique key is a unique constraint of the model's when one matches it (by name,
        -- or by columns when unnamed), else an index (as Alembic reads it)
        local claimed = {}
        for _, u in ipairs(mp.uniques) do
          for _, ix in ipairs(rindexes) do
            if ix.unique and (ix.name == u.name or (not u.name and cols_signature(ix.columns) == cols_signature(u.columns))) then
              claimed[ix.name] = true
            end
          end
        end
        local ri, ru = {}, {}
        for _, ix in ipairs(rindexes) do
          if claimed[ix.name] then ru[#ru + 1] = {name = ix.name, columns = ix.columns} else ri[#ri + 1] = ix end
        end
        rindexes, runiques = ri, ru
      end
      local gone_columns = {}
      for _, rc in ipairs(r.columns) do
        if not mcols[rc.name] then gone_columns[rc.name] = true end
      end
      local function uses_gone(cols)
        for _, c in ipairs(cols) do
          if gone_columns[c] then return true end
        end
        return false
      end
      -- indexes: by name; the same name with other columns is dropped and made again
      local madd, mdrop = {}, {}
      local byname = {}
      for _, ix in ipairs(rindexes) do byname[ix.name] = ix end
      for _, ix in ipairs(mp.indexes) do
        local rix = byname[ix.name]
        if not rix then madd[#madd + 1] = ix
        elseif index_signature(rix) ~= index_signature(ix) then
          mdrop[#mdrop + 1] = rix
          madd[#madd + 1] = ix
        end
        byname[ix.name] = nil
      end
      -- MariaDB makes an index for a foreign key that has none: it is the key's, not a difference
      local fk_columns = {}
      if dialect == "mariadb" then
        for _, fk in ipairs(r.foreign_keys) do fk_columns[cols_signature(fk.constrained_columns)] = true end
      end
      for _, ix in ipairs(rindexes) do
        if byname[ix.name] and not uses_gone(ix.columns)
            and not (not ix.unique and fk_columns[cols_signature(ix.columns)]) then
          mdrop[#mdrop + 1] = ix
        end
      end
      for _, ix in ipairs(mdrop) do
        add("remove_index", diff("remove_index", {table = t.name, name = ix.name, columns = ix.columns, unique = ix.unique},
          ("remove index %s on %s(%s)"):format(ix.name, t.name, table.concat(ix.columns, ", "))))
      end
      for _, ix in ipairs(madd) do
        add("add_index", diff("add_index", {table = t.name, name = ix.name, columns = ix.columns, unique = ix.unique},
          ("add %sindex %s on %s(%s)"):format(ix.unique and "unique " or "", ix.name, t.name, table.concat(ix.columns, ", "))))
      end
      -- unique constraints
      local uadd, udrop = match(mp.uniques, runiques, function(u) return cols_signature(u.columns) end)
      for _, u in ipairs(udrop) do
        if not uses_gone(u.columns) then
          add("remove_unique", diff("remove_unique", {table = t.name, name = u.name, columns = u.columns},
            ("remove unique constraint %s on %s(%s)"):format(u.name or "(unnamed)", t.name, table.concat(u.columns, ", "))))
        end
      end
      for _, u in ipairs(uadd) do
        add("add_unique", diff("add_unique", {table = t.name, name = u.name, columns = u.columns},
          ("add unique constraint %s on %s(%s)"):format(u.name or "(unnamed)", t.name, table.concat(u.columns, ", "))))
      end
      -- foreign keys, by what they say (names aside)
      local rfks = {}
      for _, fk in ipairs(r.foreign_keys) do
        rfks[#rfks + 1] = {name = fk.name, columns = fk.constrained_columns, referred_table = fk.referred_table,
                           referred_columns = fk.referred_columns, ondelete = fk.options.ondelete,
                           onupdate = fk.options.onupdate}
      end
      local fadd, fdrop = match(mp.fks, rfks, fk_signature)
      for _, f in ipairs(fdrop) do
        add("remove_fk", diff("remove_fk", {table = t.name, name = f.name, fk = f},
          ("remove foreign key %s on %s(%s) -> %s"):format(f.name or "(unnamed)", t.name, table.concat(f.columns, ", "),
            f.referred_table)))
      end
      for _, f in ipairs(fadd) do
        add("add_fk", diff("add_fk", {table = t.name, name = f.name, fk = f},
          ("add foreign key %s on %s(%s) -> %s"):format(f.name or "(unnamed)", t.name, table.concat(f.columns, ", "),
            f.referred_table)))
      end
    end
  end

  local out = {}
  for _, g in ipairs {"add_enum", "add_enum_value", "remove_fk", "remove_index", "remove_unique", "add_table",
                      "add_column", "modify", "remove_column", "add_unique", "add_index", "add_fk", "remove_table",
                      "remove_enum"} do
    for _, d in ipairs(groups[g]) do out[#out + 1] = d end
  end
  return out
end

return C
