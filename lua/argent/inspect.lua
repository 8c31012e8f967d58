-- argent.inspect: reflection (API.md section 4) -- what tables, columns,
-- indexes and keys a database has, read from its catalog with each
-- dialect's own queries (SQLite's pragmas, PostgreSQL's pg_catalog and
-- information_schema), and metadata:reflect, which turns that into Tables.
--
-- The catalog queries are plain SQL with bound parameters; every name that
-- comes back is data, never spliced into SQL (SQLite's pragma functions
-- take the table name as a bound argument).
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
  local conn <close> = bind:connect()
  return fn(conn)
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

-- ---- SQLite

local sqlite = {}

function sqlite.columns(conn, name)
  local out = {}
  for row in conn:execute("SELECT name, type, \"notnull\" AS nn, dflt_value AS dflt, pk FROM pragma_table_info(?) ORDER BY cid",
                          {name}):rows() do
    out[#out + 1] = {name = row.name, type = type_from_sql(row.type), nullable = row.nn == 0 and row.pk == 0,
                     default = row.dflt, primary_key = row.pk > 0, pk_position = row.pk}
  end
  return out
end

function sqlite.pk(conn, name)
  local cols = sqlite.columns(conn, name)
  table.sort(cols, function(a, b) return a.pk_position < b.pk_position end)
  local names = {}
  for _, c in ipairs(cols) do
    if c.primary_key then names[#names + 1] = c.name end
  end
  return {constrained_columns = names, name = nil}
end

function sqlite.indexes(conn, name)
  local out = {}
  local list = conn:execute("SELECT name, \"unique\" AS u, origin FROM pragma_index_list(?) ORDER BY seq DESC", {name}):all()
  for _, ix in ipairs(list) do
    if ix.origin == "c" then -- made by CREATE INDEX (not a primary key or UNIQUE constraint)
      local cols = conn:execute("SELECT name FROM pragma_index_info(?) ORDER BY seqno", {ix.name}):scalars()
      out[#out + 1] = {name = ix.name, column_names = cols, unique = ix.u == 1}
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

function sqlite.foreign_keys(conn, name)
  local byid, order = {}, {}
  for row in conn:execute("SELECT id, seq, \"table\" AS ref, \"from\" AS src, \"to\" AS dst, on_update AS upd, "
                          .. "on_delete AS del FROM pragma_foreign_key_list(?) ORDER BY id, seq", {name}):rows() do
    local fk = byid[row.id]
    if not fk then
      fk = {name = nil, constrained_columns = {}, referred_table = row.ref, referred_columns = {}, options = {}}
      if row.del and row.del ~= "NO ACTION" then fk.options.ondelete = row.del end
      if row.upd and row.upd ~= "NO ACTION" then fk.options.onupdate = row.upd end
      fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
      byid[row.id] = fk
      order[#order + 1] = row.id
    end
    fk.constrained_columns[#fk.constrained_columns + 1] = row.src
    fk.referred_columns[#fk.referred_columns + 1] = row.dst
  end
  local out = {}
  for i = #order, 1, -1 do out[#out + 1] = byid[order[i]] end
  return out
end

-- ---- PostgreSQL

local pg = {}

local PG_TABLE_OID = "(SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
  .. "WHERE c.relname = ? AND n.nspname = current_schema())"

function pg.columns(conn, name)
  local pkcols = {}
  for _, c in ipairs(pg.pk(conn, name).constrained_columns) do pkcols[c] = true end
  local out = {}
  local sql = "SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, "
    .. "a.attnotnull AS notnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS dflt "
    .. "FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    .. "WHERE a.attrelid = " .. PG_TABLE_OID .. " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
  for row in conn:execute(sql, {name}):rows() do
    local t = type_from_sql(row.type)
    local dflt = row.dflt
    local autoinc = type(dflt) == "string" and dflt:find("^nextval%(") ~= nil
    out[#out + 1] = {name = row.name, type = t, nullable = not row.notnull, default = dflt,
                     primary_key = pkcols[row.name] or false, autoincrement = autoinc}
  end
  return out
end

function pg.pk(conn, name)
  local sql = "SELECT con.conname AS cname, a.attname AS col FROM pg_catalog.pg_constraint con "
    .. "CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) "
    .. "JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum "
    .. "WHERE con.contype = 'p' AND con.conrelid = " .. PG_TABLE_OID .. " ORDER BY k.ord"
  local names, cname = {}, nil
  for row in conn:execute(sql, {name}):rows() do
    names[#names + 1] = row.col
    cname = row.cname
  end
  return {constrained_columns = names, name = cname}
end

function pg.indexes(conn, name)
  local sql = "SELECT ic.relname AS name, i.indisunique AS uniq, a.attname AS col FROM pg_catalog.pg_index i "
    .. "JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid "
    .. "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
    .. "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
    .. "WHERE i.indrelid = " .. PG_TABLE_OID .. " AND NOT i.indisprimary "
    .. "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('u', 'p')) "
    .. "ORDER BY ic.relname, k.ord"
  local out, byname = {}, {}
  for row in conn:execute(sql, {name}):rows() do
    local ix = byname[row.name]
    if not ix then
      ix = {name = row.name, column_names = {}, unique = row.uniq}
      byname[row.name] = ix
      out[#out + 1] = ix
    end
    ix.column_names[#ix.column_names + 1] = row.col
  end
  return out
end

local PG_ACTIONS = {a = nil, r = "RESTRICT", c = "CASCADE", n = "SET NULL", d = "SET DEFAULT"}

function pg.foreign_keys(conn, name)
  local sql = "SELECT con.conname AS cname, con.confdeltype AS del, con.confupdtype AS upd, rc.relname AS ref, "
    .. "a.attname AS src, ra.attname AS dst FROM pg_catalog.pg_constraint con "
    .. "JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid "
    .. "CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(src, dst, ord) "
    .. "JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.src "
    .. "JOIN pg_catalog.pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.dst "
    .. "WHERE con.contype = 'f' AND con.conrelid = " .. PG_TABLE_OID .. " ORDER BY con.conname, k.ord"
  local out, byname = {}, {}
  for row in conn:execute(sql, {name}):rows() do
    local fk = byname[row.cname]
    if not fk then
      fk = {name = row.cname, constrained_columns = {}, referred_table = row.ref, referred_columns = {}, options = {}}
      fk.options.ondelete = PG_ACTIONS[row.del]
      fk.options.onupdate = PG_ACTIONS[row.upd]
      fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
      byname[row.cname] = fk
      out[#out + 1] = fk
    end
    fk.constrained_columns[#fk.constrained_columns + 1] = row.src
    fk.referred_columns[#fk.referred_columns + 1] = row.dst
  end
  return out
end

-- ---- MariaDB (information_schema)

local my = {}

function my.pk(conn, name)
  local names = conn:execute("SELECT column_name AS col FROM information_schema.key_column_usage "
    .. "WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY' "
    .. "ORDER BY ordinal_position", {name}):scalars()
  return {constrained_columns = names, name = #names > 0 and "PRIMARY" or nil}
end

function my.columns(conn, name)
  local pkcols = {}
  for _, c in ipairs(my.pk(conn, name).constrained_columns) do pkcols[c] = true end
  -- a JSON column is LONGTEXT with a json_valid check named after the column
  local json = {}
  for row in conn:execute("SELECT constraint_name AS name, check_clause AS clause FROM information_schema.check_constraints "
      .. "WHERE constraint_schema = DATABASE() AND table_name = ?", {name}):rows() do
    if type(row.clause) == "string" and row.clause:lower():find("json_valid", 1, true) then json[row.name] = true end
  end
  local out = {}
  for row in conn:execute("SELECT column_name AS name, column_type AS type, is_nullable AS nullable, "
      .. "column_default AS dflt, extra FROM information_schema.columns WHERE table_schema = DATABASE() "
      .. "AND table_name = ? ORDER BY ordinal_position", {name}):rows() do
    local dflt = row.dflt
    if dflt == "NULL" then dflt = nil end -- MariaDB writes a NULL default as the text NULL
    local t = type_from_sql(row.type)
    if row.type:lower() == "tinyint(1)" then t = types.Boolean(); t.sql_name = "BOOL" end
    if json[row.name] then t = types.JSON(); t.sql_name = "JSON" end
    out[#out + 1] = {name = row.name, type = t, nullable = row.nullable == "YES", default = dflt,
                     primary_key = pkcols[row.name] or false,
                     autoincrement = (row.extra or ""):lower():find("auto_increment", 1, true) ~= nil}
  end
  return out
end

function my.indexes(conn, name)
  local fknames = {}
  for _, fk in ipairs(my.foreign_keys(conn, name)) do fknames[fk.name] = true end
  local out, byname = {}, {}
  for row in conn:execute("SELECT index_name AS name, non_unique AS nu, column_name AS col "
      .. "FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? "
      .. "AND index_name <> 'PRIMARY' ORDER BY index_name, seq_in_index", {name}):rows() do
    if not fknames[row.name] then -- the index MariaDB made for a foreign key is the key's, not the user's
      local ix = byname[row.name]
      if not ix then
        ix = {name = row.name, column_names = {}, unique = tonumber(row.nu) == 0}
        byname[row.name] = ix
        out[#out + 1] = ix
      end
      ix.column_names[#ix.column_names + 1] = row.col
    end
  end
  return out
end

local MY_ACTIONS = {CASCADE = "CASCADE", ["SET NULL"] = "SET NULL", ["SET DEFAULT"] = "SET DEFAULT"}

function my.foreign_keys(conn, name)
  local out, byname = {}, {}
  for row in conn:execute("SELECT k.constraint_name AS cname, k.column_name AS src, k.referenced_table_name AS ref, "
      .. "k.referenced_column_name AS dst, r.delete_rule AS del, r.update_rule AS upd "
      .. "FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r "
      .. "ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name "
      .. "AND r.table_name = k.table_name WHERE k.table_schema = DATABASE() AND k.table_name = ? "
      .. "AND k.referenced_table_name IS NOT NULL ORDER BY k.constraint_name, k.ordinal_position", {name}):rows() do
    local fk = byname[row.cname]
    if not fk then
      fk = {name = row.cname, constrained_columns = {}, referred_table = row.ref, referred_columns = {}, options = {}}
      fk.options.ondelete = MY_ACTIONS[row.del]
      fk.options.onupdate = MY_ACTIONS[row.upd]
      fk.ondelete, fk.onupdate = fk.options.ondelete, fk.options.onupdate
      byname[row.cname] = fk
      out[#out + 1] = fk
    end
    fk.constrained_columns[#fk.constrained_columns + 1] = row.src
    fk.referred_columns[#fk.referred_columns + 1] = row.dst
  end
  return out
end

local function impl(conn)
  local d = dialect_of(conn)
  if d == "sqlite" then return sqlite end
  if d == "postgresql" then return pg end
  if d == "mariadb" then return my end
  raise("NotSupportedError", "reflection is not available for " .. tostring(d) .. " yet")
end

local function method(what, public)
  return function(self, name)
    check_inspector(self, public)
    return self:_run(function(conn)
      check_table(conn, name)
      return impl(conn)[what](conn, name)
    end)
  end
end

Inspector.get_columns = method("columns", "get_columns")
Inspector.get_indexes = method("indexes", "get_indexes")
Inspector.get_foreign_keys = method("foreign_keys", "get_foreign_keys")
Inspector.get_pk_constraint = method("pk", "get_pk_constraint")

--- metadata:reflect(bind): a Table in meta for every table of the database.
function M.reflect(meta, bind, only)
  local schema = require "argent.schema"
  local insp = M.inspect(bind)
  return insp:_run(function(conn)
    local names = M.table_names(conn)
    local im = impl(conn)
    for _, name in ipairs(names) do
      if not meta.tables[name] and (not only or only[name]) then
        local items = {}
        local fks = {}
        for _, fk in ipairs(im.foreign_keys(conn, name)) do
          if #fk.constrained_columns == 1 then
            fks[fk.constrained_columns[1]] = schema.ForeignKey(fk.referred_table .. "." .. fk.referred_columns[1],
              {ondelete = fk.options.ondelete, onupdate = fk.options.onupdate})
          end
        end
        for _, c in ipairs(im.columns(conn, name)) do
          local opts = {primary_key = c.primary_key or nil, nullable = c.nullable}
          if c.default ~= nil and not c.autoincrement then opts.server_default = core.text(c.default) end
          opts.foreign_key = fks[c.name]
          items[#items + 1] = schema.Column(c.name, c.type, opts)
        end
        for _, ix in ipairs(im.indexes(conn, name)) do
          local args = {}
          for i, cn in ipairs(ix.column_names) do args[i] = cn end
          args[#args + 1] = {unique = ix.unique}
          items[#items + 1] = schema.Index(ix.name, table.unpack(args))
        end
        schema.Table(name, meta, table.unpack(items))
      end
    end
    return meta
  end)
end

return M
