-- argent.migrate.sqlite_rebuild: what SQLite's ALTER TABLE cannot do --
-- change a column's type, nullability or default, drop a column that an
-- index or constraint uses, add or drop a constraint -- done by rebuilding
-- the table, as https://www.sqlite.org/lang_altertable.html#otheralter
-- describes, inside the revision's transaction:
--
--   1. reflect the table: columns (their declared types as written),
--      primary key, unique, foreign key and check constraints with their
--      names (read from the CREATE TABLE text), indexes, triggers, its
--      sqlite_sequence row;
--   2. let the operation change that model;
--   3. CREATE TABLE "_argent_rebuild_<t>" from the model (compiled like all DDL),
--      copy the rows, DROP the old table, rename the new one (with
--      legacy_alter_table on, so that nothing else is rewritten), and make
--      the indexes and triggers again.
--
-- The runner turns foreign key enforcement off before the revision's
-- transaction (dropping the old table must not cascade) and runs PRAGMA
-- foreign_key_check before committing: a rebuild that leaves a dangling
-- reference fails the revision, and everything is rolled back.
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local types = require "argent.types"
local inspect = require "argent.inspect"

local sql = core.sql
local make, list = sql.make, sql.list
local raise = core.error

local R = {}

-- node constants: src/sql/node.h's, as argent.core.node exports them
local N = core.node
local COL_PRIMARY_KEY, COL_NOT_NULL, COL_AUTOINCREMENT = N.COL_PRIMARY_KEY, N.COL_NOT_NULL, N.COL_AUTOINCREMENT
local CONS_PRIMARY_KEY, CONS_UNIQUE, CONS_CHECK, CONS_FOREIGN_KEY = N.CONS_PRIMARY_KEY, N.CONS_UNIQUE, N.CONS_CHECK,
  N.CONS_FOREIGN_KEY
local ALTER_RENAME_TABLE = N.ALTER.rename_table
local DDL_UNIQUE = N.DDL_UNIQUE
local FK_ACTIONS = N.FK_ACTIONS

-- (flags are added, not or-ed: Lua 5.1 has no bit operators; the bits are distinct)

-- SQLite's own quoting (this file is SQLite's only): "name" with " doubled.
local function quote(name) return '"' .. name:gsub('"', '""') .. '"' end
R.quote = quote

local function name_column(name) return make("COLUMN", 0, 0, name, 2) end

local function names_list(names)
  local cols = {}
  for i, n in ipairs(names) do cols[i] = name_column(n) end
  return list(unpack(cols))
end

--- The model of table `name` as it is now: {name, columns, pk_name, uniques,
--- foreign_keys, checks, indexes, triggers, autoincrement, sequence}.
function R.model(conn, name)
  local snap = inspect.snapshot(conn, name)[name]
  if not snap then raise("ProgrammingError", ("no table named '%s'"):format(name)) end
  if conn:execute("SELECT count(*) FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)", {name}):scalar() > 0 then
    raise("NotSupportedError", ("table %s has generated columns: argent cannot rebuild it (write the SQL with op.execute)")
      :format(name))
  end
  local parsed = require("argent.inspect.sqlite").parse_create_table(snap.sql)
  local m = {name = name, columns = {}, pk_name = snap.pk.name, uniques = {}, foreign_keys = {}, checks = {},
             indexes = {}, triggers = {}, autoincrement = snap.autoincrement, options = parsed.options}
  local pk_position = {}
  for i, c in ipairs(snap.pk.constrained_columns) do pk_position[c] = i end
  for _, c in ipairs(snap.columns) do
    m.columns[#m.columns + 1] = {name = c.name, source = c.name, sql_type = c.sql_type ~= "" and c.sql_type or nil,
      type = c.type, nullable = c.nullable, default_sql = c.default, pk = pk_position[c.name],
      collate = parsed.collations[c.name]}
  end
  for _, u in ipairs(snap.uniques) do m.uniques[#m.uniques + 1] = {name = u.name, columns = u.column_names} end
  for _, fk in ipairs(snap.foreign_keys) do
    m.foreign_keys[#m.foreign_keys + 1] = {name = fk.name, columns = fk.constrained_columns,
      referred_table = fk.referred_table, referred_columns = fk.referred_columns, ondelete = fk.options.ondelete,
      onupdate = fk.options.onupdate}
  end
  for _, ck in ipairs(snap.checks) do m.checks[#m.checks + 1] = {name = ck.name, sqltext = ck.sqltext} end
  for _, ix in ipairs(snap.indexes) do
    m.indexes[#m.indexes + 1] = {name = ix.name, columns = ix.column_names, unique = ix.unique, sql = ix.sql,
                                 raw = ix.partial or ix.expressions}
  end
  m.triggers = conn:execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name",
                            {name}):scalars()
  if conn:execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"):scalar() > 0 then
    m.sequence = conn:execute("SELECT seq FROM sqlite_sequence WHERE name = ?", {name}):scalar()
  end
  return m
end

--- The column entry of model m named name, and its position.
function R.column(m, name)
  for i, c in ipairs(m.columns) do
    if c.name == name then return c, i end
  end
  raise("ProgrammingError", ("table %s has no column '%s'"):format(m.name, name))
end

-- Does the SQL text mention the identifier as a word?
local function mentions(text, name)
  if type(text) ~= "string" then return false end
  local lower, n = text:lower(), name:lower()
  local start = 1
  while true do
    local i, j = lower:find(n, start, true)
    if not i then return false end
    local before, after = lower:sub(i - 1, i - 1), lower:sub(j + 1, j + 1)
    if not before:match("[%w_]") and not after:match("[%w_]") then return true end
    start = j + 1
  end
end
R.mentions = mentions

local function has(list_, v)
  for _, x in ipairs(list_) do
    if x == v then return true end
  end
  return false
end

--- Does anything but the column itself (a key, index, constraint, trigger) use column `name`?
function R.column_is_used(m, name)
  local c = R.column(m, name)
  if c.pk then return true end
  for _, u in ipairs(m.uniques) do if has(u.columns, name) then return true end end
  for _, f in ipairs(m.foreign_keys) do if has(f.columns, name) then return true end end
  for _, ix in ipairs(m.indexes) do
    if has(ix.columns, name) or (ix.raw and mentions(ix.sql, name)) then return true end
  end
  for _, ck in ipairs(m.checks) do if mentions(ck.sqltext, name) then return true end end
  for _, tr in ipairs(m.triggers) do if mentions(tr, name) then return true end end
  return false
end

--- Removes column `name` from m with the indexes and constraints that use it
--- (as PostgreSQL does: unique, foreign key and check constraints, indexes).
function R.drop_column(m, name)
  local _, i = R.column(m, name)
  table.remove(m.columns, i)
  local function keep(items, cols_of)
    local out = {}
    for _, x in ipairs(items) do
      if not has(cols_of(x), name) then out[#out + 1] = x end
    end
    return out
  end
  m.uniques = keep(m.uniques, function(u) return u.columns end)
  m.foreign_keys = keep(m.foreign_keys, function(f) return f.columns end)
  local indexes = {}
  for _, ix in ipairs(m.indexes) do
    if not has(ix.columns, name) and not (ix.raw and mentions(ix.sql, name)) then indexes[#indexes + 1] = ix end
  end
  m.indexes = indexes
  local checks = {}
  for _, ck in ipairs(m.checks) do
    if not mentions(ck.sqltext, name) then checks[#checks + 1] = ck end
  end
  m.checks = checks
end

-- The CREATE TABLE statement of model m, named `as_name`.
local function create_statement(m, as_name)
  local tnode = make("TABLE", 0, 0, as_name)
  local npk = 0
  for _, c in ipairs(m.columns) do if c.pk then npk = npk + 1 end end
  local cols, pk_cols = {}, {}
  for _, c in ipairs(m.columns) do
    local typ = c.type or types.Text
    -- an INTEGER key is the rowid whether written inline or as a table constraint; inline
    -- unless the key has a name to keep (AUTOINCREMENT is only written inline)
    local rowid = c.pk and npk == 1 and ((c.sql_type and c.sql_type:upper() == "INTEGER")
      or (not c.sql_type and typ.__type == "Integer")) and (m.autoincrement or not m.pk_name)
    local flags = (c.pk and COL_PRIMARY_KEY or 0) + ((not c.nullable) and COL_NOT_NULL or 0)
      + (rowid and COL_AUTOINCREMENT or 0)
    local default = c.default_node or (c.default_sql and sql.to_expr(core.text(c.default_sql))) or nil
    local type_text = c.sql_type
    if c.collate then
      -- (the collation rides on the declared type: a column constraint written right after it)
      if not type_text then
        local typed = make("COLUMN", 0, 0, c.name, 2)
        sql.set_type(typed, typ)
        type_text = sql.column_ddl(typed, "sqlite")
      end
      type_text = type_text .. " COLLATE " .. c.collate
    end
    local type_node = type_text and sql.to_expr(core.text(type_text)) or nil
    local col = make("COLUMN", 0, flags, c.name, 3, tnode, default, type_node)
    sql.set_type(col, typ)
    cols[#cols + 1] = col
    if c.pk then pk_cols[c.pk] = c.name end
  end
  local constraints = {}
  if m.pk_name and #pk_cols > 0 then
    constraints[#constraints + 1] = make("CONSTRAINT", CONS_PRIMARY_KEY, 0, m.pk_name, 4, names_list(pk_cols))
  end
  for _, u in ipairs(m.uniques) do
    constraints[#constraints + 1] = make("CONSTRAINT", CONS_UNIQUE, 0, u.name, 4, names_list(u.columns))
  end
  for _, ck in ipairs(m.checks) do
    constraints[#constraints + 1] = make("CONSTRAINT", CONS_CHECK, 0, ck.name, 4, nil, nil, nil,
                                         sql.to_expr(core.text(ck.sqltext)))
  end
  for _, f in ipairs(m.foreign_keys) do
    local flags = (FK_ACTIONS[f.ondelete] or 0) + (FK_ACTIONS[f.onupdate] or 0) * 16
    constraints[#constraints + 1] = make("CONSTRAINT", CONS_FOREIGN_KEY, flags, f.name, 4, names_list(f.columns),
      make("TABLE", 0, 0, f.referred_table), names_list(f.referred_columns))
  end
  return make("CREATE_TABLE", 0, 0, nil, 3, tnode, list(unpack(cols)), list(unpack(constraints)))
end

--- Rebuilds table `name`: change(m) edits the model (columns keep `source`,
--- the old column they copy from, or have none and take their default).
--- ctx:run(stmt) executes (and records) each statement.
function R.rebuild(ctx, name, change)
  local m = R.model(ctx.conn, name)
  change(m)
  local tmp = "_argent_rebuild_" .. name
  ctx:run(make("DROP_TABLE", 0, 2, nil, 1, make("TABLE", 0, 0, tmp)))
  local create = create_statement(m, tmp)
  if m.autoincrement or (m.options or "") ~= "" then
    -- what is SQLite's alone is kept as the table had it: AUTOINCREMENT (rowids never
    -- reused), and the table options (WITHOUT ROWID, STRICT)
    local text = sql.compile(create, "sqlite")
    if m.autoincrement then text = text:gsub(" PRIMARY KEY", " PRIMARY KEY AUTOINCREMENT", 1) end
    if (m.options or "") ~= "" then text = text .. " " .. m.options end
    ctx:run(text)
  else
    ctx:run(create)
  end
  local into, from = {}, {}
  for _, c in ipairs(m.columns) do
    if c.source then
      into[#into + 1] = quote(c.name)
      from[#from + 1] = quote(c.source)
    end
  end
  if #into > 0 then
    ctx:run(("INSERT INTO %s (%s) SELECT %s FROM %s"):format(quote(tmp), table.concat(into, ", "),
      table.concat(from, ", "), quote(name)))
  end
  ctx:run(make("DROP_TABLE", 0, 0, nil, 1, make("TABLE", 0, 0, name)))
  ctx:run("PRAGMA legacy_alter_table = ON")
  ctx:run(make("ALTER_TABLE", ALTER_RENAME_TABLE, 0, name, 2, make("TABLE", 0, 0, tmp)))
  ctx:run("PRAGMA legacy_alter_table = OFF")
  local tnode = make("TABLE", 0, 0, name)
  for _, ix in ipairs(m.indexes) do
    if ix.sql and not ix.changed then
      ctx:run(ix.sql)
    else
      ctx:run(make("CREATE_INDEX", 0, ix.unique and DDL_UNIQUE or 0, ix.name, 2, tnode, names_list(ix.columns)))
    end
  end
  for _, trigger in ipairs(m.triggers) do ctx:run(trigger) end
  if m.sequence then
    ctx:run(("UPDATE sqlite_sequence SET seq = %d WHERE name = '%s'"):format(m.sequence, name:gsub("'", "''")))
  end
  return m
end

--- The rows that break a foreign key after a rebuild (PRAGMA foreign_key_check), as text; nil when none.
function R.foreign_key_problems(conn)
  local rows = conn:execute("PRAGMA foreign_key_check"):all()
  if #rows == 0 then return nil end
  local out = {}
  for i, r in ipairs(rows) do
    if i > 5 then
      out[#out + 1] = ("and %d more"):format(#rows - 5)
      break
    end
    out[#out + 1] = ("%s row %s refers to a missing row of %s"):format(r.table, tostring(r.rowid), r.parent)
  end
  return table.concat(out, "; ")
end

return R
