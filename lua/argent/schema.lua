-- argent.schema: MetaData, Table, Column, ForeignKey, Index, UniqueConstraint,
-- CheckConstraint (API.md section 4), and the DDL they produce
-- (create_all / drop_all in foreign-key order).
--
-- What is naturally Lua lives here: bookkeeping of tables and their
-- columns, resolving foreign keys by name, ordering tables.  The SQL itself
-- is compiled in C: a column is a ClauseElement (src/lua/expression.c)
-- whose information table holds its name, key, type and options, and DDL
-- statements are trees (src/sql/node.h) executed like any statement.
--
-- Column(...) gives a column *spec*; Table(...) turns each spec into the
-- table's column element, so a column node is made once, complete, and
-- never changes (the ORM does the same with the specs of a model).
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local types = require "argent.types"

local sql = core.sql
local raise = core.error
local guard = require "argent.guard"

-- An ArgumentError naming self unless self is an object of class (its
-- metatable), before anything else is looked at.
local function check_self(self, class, method, example)
  if getmetatable(self) ~= class then
    raise("ArgumentError", ("%s: argument 'self' must be an %s (call it as %s), got %s")
      :format(method, class.__name or "?", example, type(self)))
  end
end
local make, list, info = sql.make, sql.list, sql.info

local schema = {}

-- node flag values: src/sql/node.h's, as argent.core.node exports them
local N = core.node
local COL_PRIMARY_KEY, COL_NOT_NULL, COL_AUTOINCREMENT = N.COL_PRIMARY_KEY, N.COL_NOT_NULL, N.COL_AUTOINCREMENT
local CONS_PRIMARY_KEY, CONS_UNIQUE, CONS_CHECK, CONS_FOREIGN_KEY = N.CONS_PRIMARY_KEY, N.CONS_UNIQUE, N.CONS_CHECK,
  N.CONS_FOREIGN_KEY
local DDL_IF_NOT_EXISTS, DDL_IF_EXISTS, DDL_UNIQUE = N.DDL_IF_NOT_EXISTS, N.DDL_IF_EXISTS, N.DDL_UNIQUE
local FK_ACTIONS = N.FK_ACTIONS

local function check_name(fname, what, v)
  if type(v) ~= "string" or v == "" or v:find("\0", 1, true) then
    raise("ArgumentError", ("%s: %s must be a non-empty string without NUL bytes, got %s")
      :format(fname, what, type(v) == "string" and "an empty or NUL-holding string" or type(v)))
  end
  return v
end

-- ---------------------------------------------------------------- ForeignKey

local ForeignKey = {__name = "argent.ForeignKey"}
ForeignKey.__index = ForeignKey

local function fk_action(opts, key)
  local v = opts and opts[key]
  if v == nil then return nil end
  local up = type(v) == "string" and v:upper() or nil
  if not up or not FK_ACTIONS[up] then
    raise("ArgumentError", ("ForeignKey: %s must be one of CASCADE, SET NULL, SET DEFAULT, RESTRICT, NO ACTION, got %s")
      :format(key, tostring(v)))
  end
  return up
end

--- ForeignKey("table.column", {ondelete=, onupdate=, name=})
function schema.ForeignKey(target, opts)
  check_name("ForeignKey", "the target", target)
  local tname, cname = target:match("^(.+)%.([^.]+)$")
  if not tname then
    raise("ArgumentError", ("ForeignKey: the target must read \"table.column\", got '%s'"):format(target))
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise("ArgumentError", "ForeignKey: options must be a table, got " .. type(opts))
  end
  return setmetatable({target = target, table_name = tname, column_name = cname,
                       ondelete = fk_action(opts, "ondelete"), onupdate = fk_action(opts, "onupdate"),
                       name = opts and opts.name}, ForeignKey)
end

-- ---------------------------------------------------------------- Column specs

local ColumnSpec = {__name = "argent.Column"}
ColumnSpec.__index = ColumnSpec
local creation_order = 0

local COLUMN_OPTIONS = {
  primary_key = true, autoincrement = true, nullable = true, unique = true, index = true, default = true,
  server_default = true, onupdate = true, key = true, foreign_key = true, comment = true, name = true,
  type = true,
}

--- Column([name,] [type,] [opts]): a column spec for Table (or a model).
function schema.Column(...)
  local n = select("#", ...)
  local args = {...}
  local i = 1
  local name
  if type(args[1]) == "string" then
    name = check_name("Column", "the name", args[1])
    i = 2
  end
  local typ
  if types.is_type(args[i]) then
    typ = args[i]
    i = i + 1
  end
  local opts = args[i]
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    raise("ArgumentError", ("Column: argument %d must be %s, got %s"):format(i,
      typ and "an options table" or "a type (argent.Integer, ...) or an options table",
      type(opts) == "string" and ("'" .. opts .. "'") or type(opts)))
  end
  if n > i then
    raise("ArgumentError", ("Column: unexpected argument %d (%s)"):format(i + 1, type(args[i + 1])))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not COLUMN_OPTIONS[k] then
      raise("ArgumentError", ("Column: unknown option '%s'"):format(tostring(k)))
    end
  end
  if opts.type ~= nil then typ = types.check(opts.type, "Column: option 'type'") end
  if opts.name ~= nil then name = check_name("Column", "option 'name'", opts.name) end
  if opts.key ~= nil then check_name("Column", "option 'key'", opts.key) end
  local fk = opts.foreign_key
  if fk ~= nil then
    if type(fk) == "string" then fk = schema.ForeignKey(fk)
    elseif getmetatable(fk) ~= ForeignKey then
      raise("ArgumentError", "Column: foreign_key must be \"table.column\" or argent.ForeignKey(...), got "
        .. type(fk))
    end
  end
  creation_order = creation_order + 1
  return setmetatable({name = name, type = typ, opts = opts, foreign_key = fk, order = creation_order},
                      ColumnSpec)
end

function schema.is_column_spec(v) return getmetatable(v) == ColumnSpec end

-- ---------------------------------------------------------------- table extras

local Index = {__name = "argent.Index"}
Index.__index = Index
local UniqueConstraint = {__name = "argent.UniqueConstraint"}
UniqueConstraint.__index = UniqueConstraint
local CheckConstraint = {__name = "argent.CheckConstraint"}
CheckConstraint.__index = CheckConstraint

--- Index(name, col...) (columns as names or column objects); Index(name, col..., {unique=true})
function schema.Index(name, ...)
  check_name("Index", "the name", name)
  local cols, unique = {}, false
  for i = 1, select("#", ...) do
    local c = select(i, ...)
    if type(c) == "table" and getmetatable(c) == nil then
      unique = c.unique and true or false
    else
      cols[#cols + 1] = c
    end
  end
  if #cols == 0 then raise("ArgumentError", "Index: needs at least one column") end
  return setmetatable({name = name, columns = cols, unique = unique}, Index)
end

--- UniqueConstraint(col..., [{name=}])
function schema.UniqueConstraint(...)
  local cols, name = {}, nil
  for i = 1, select("#", ...) do
    local c = select(i, ...)
    if type(c) == "table" and getmetatable(c) == nil then name = c.name else cols[#cols + 1] = c end
  end
  if #cols == 0 then raise("ArgumentError", "UniqueConstraint: needs at least one column") end
  return setmetatable({columns = cols, name = name}, UniqueConstraint)
end

--- CheckConstraint(sql_text, [{name=}]) -- the SQL text is the constraint's own expression
function schema.CheckConstraint(text, opts)
  if type(text) ~= "string" or text == "" or text:find("\0", 1, true) then
    raise("ArgumentError", "CheckConstraint: argument must be the SQL text of the condition, got " .. type(text))
  end
  if opts ~= nil and type(opts) ~= "table" then
    raise("ArgumentError", "CheckConstraint: options must be a table like {name = \"ck_x\"}, got " .. type(opts))
  end
  if opts and opts.name ~= nil and type(opts.name) ~= "string" then
    raise("ArgumentError", "CheckConstraint: option 'name' must be a string, got " .. type(opts.name))
  end
  return setmetatable({text = text, name = opts and opts.name}, CheckConstraint)
end

-- ---------------------------------------------------------------- naming convention

-- MetaData's naming_convention (SQLAlchemy's keys and tokens): the name a
-- constraint or index gets when its table is made.  A convention that uses
-- %(constraint_name)s names only what was given a name; one that does not
-- names the rest too.  Without a convention, constraints stay unnamed (the
-- database names them) and an `index = true` column's index is ix_TABLE_COL.
local CONVENTION_KINDS = {ix = "an index", uq = "a unique constraint", ck = "a check constraint",
                          fk = "a foreign key", pk = "a primary key"}
local DEFAULT_CONVENTION = {ix = "ix_%(column_0_label)s"}

local function check_convention(nc)
  if nc == nil then return DEFAULT_CONVENTION end
  if type(nc) ~= "table" then
    raise("ArgumentError", "MetaData: naming_convention must be a table (keys ix, uq, ck, fk, pk), got " .. type(nc))
  end
  local out = {}
  for k, v in pairs(nc) do
    if not CONVENTION_KINDS[k] then
      raise("ArgumentError", ("MetaData: naming_convention has an unknown key '%s' (use ix, uq, ck, fk, pk)")
        :format(tostring(k)))
    end
    if type(v) ~= "string" or v == "" then
      raise("ArgumentError", ("MetaData: naming_convention.%s must be a non-empty string, got %s"):format(k, type(v)))
    end
    out[k] = v
  end
  if out.ix == nil then out.ix = DEFAULT_CONVENTION.ix end
  return out
end

-- The name convention `kind` of t's MetaData gives a constraint on cols (column
-- elements) named `given` (or nil), referring to ref = {table =, columns =} (a
-- foreign key's target); given (possibly nil) when there is no such convention
-- or it cannot apply.
local function convention_name(t, kind, cols, given, ref)
  local template = t.metadata._naming_convention[kind]
  if not template then return given end
  local uses_name = template:find("%(constraint_name)s", 1, true) ~= nil
  if uses_name and not given then return nil end
  if given and not uses_name then return given end
  local function joined(list, field, sep)
    local parts = {}
    for i, c in ipairs(list or {}) do parts[i] = field(c) end
    return table.concat(parts, sep)
  end
  local function name_of(c) return type(c) == "string" and c or info(c).name end
  local function key_of(c) return type(c) == "string" and c or info(c).key end
  local function label_of(c) return t.name .. "_" .. name_of(c) end
  local columns_needed = false
  local out = template:gsub("%%%(([%w_]+)%)s", function(token)
    if token == "table_name" then return t.name end
    if token == "constraint_name" then return given end
    if token == "referred_table_name" then return ref and ref.table or "" end
    local rest = token:match("^referred_column_0(.*)$")
    if rest == "_name" then return ref and ref.columns[1] or "" end
    if rest == "N_name" then return ref and table.concat(ref.columns, "") or "" end
    if rest == "_N_name" then return ref and table.concat(ref.columns, "_") or "" end
    local all, what = token:match("^column_0(_?N?)_(%a+)$")
    if what then
      local getter = ({name = name_of, key = key_of, label = label_of})[what]
      if getter then
        if not cols or #cols == 0 then columns_needed = true return "" end
        if all == "" then return getter(cols[1]) end
        return joined(cols, getter, all == "N" and "" or "_")
      end
    end
    raise("ArgumentError", ("MetaData: naming_convention.%s: unknown token %%(%s)s"):format(kind, token))
  end)
  if columns_needed then return given end
  return out
end
schema.convention_name = convention_name

-- ---------------------------------------------------------------- Table

local Table = {__name = "argent.Table"}
Table.__index = Table
Table.__tostring = function(t)
  check_self(t, Table, "__tostring", "tostring(t)")
  return "Table(" .. t.name .. ")"
end

local INTEGER_TYPES = {Integer = true, BigInteger = true, SmallInteger = true}

-- A server default as a node: argent.text(...) or an expression as is, a Lua value as a literal.
local function server_default_node(v, colname)
  if type(v) == "function" then
    raise("ArgumentError", ("Column %s: server_default cannot be a Lua function (use default)"):format(colname))
  end
  if type(v) == "string" and v:find("\0", 1, true) then
    raise("ArgumentError", ("Column %s: server_default cannot contain a NUL byte"):format(colname))
  end
  return sql.to_expr(v)
end
schema.server_default_node = server_default_node

-- The column of table t named (by key, then SQL name) name, or a column object of t.
local function resolve_column(t, c, what)
  if type(c) == "string" then
    local col = t.c[c]
    if not col then
      for _, x in ipairs(t.columns) do
        if x.name == c then col = x end
      end
    end
    if not col then raise("ArgumentError", ("%s: table %s has no column '%s'"):format(what, t.name, c)) end
    return col
  end
  if sql.tag(c) == "COLUMN" then return c end
  if schema.is_column_spec(c) then
    for _, x in ipairs(t.columns) do
      if x._spec == c then return x end
    end
  end
  raise("ArgumentError", ("%s: columns must be column names or columns of %s, got %s"):format(what, t.name, type(c)))
end
schema.resolve_column = resolve_column

--- Table(name, metadata, item...): items are Column specs, Index, UniqueConstraint, CheckConstraint.
function schema.Table(name, meta, ...)
  check_name("Table", "the name", name)
  if getmetatable(meta) ~= schema.MetaDataClass then
    raise("ArgumentError", "Table: argument 2 must be an argent.MetaData(), got " .. type(meta))
  end
  local t = setmetatable({name = name, metadata = meta, c = {}, columns = {}, primary_key = {},
                          foreign_keys = {}, indexes = {}, constraints = {}}, Table)
  t._node = make("TABLE", 0, 0, name)
  info(t._node, t)
  local specs, extras = {}, {}
  for i = 1, select("#", ...) do
    local item = select(i, ...)
    if schema.is_column_spec(item) then specs[#specs + 1] = item
    elseif getmetatable(item) == Index or getmetatable(item) == UniqueConstraint
        or getmetatable(item) == CheckConstraint then extras[#extras + 1] = item
    else
      raise("ArgumentError", ("Table %s: argument %d must be a Column, Index, UniqueConstraint or CheckConstraint, got %s")
        :format(name, i + 2, type(item)))
    end
  end
  local npk = 0
  for _, s in ipairs(specs) do
    if s.opts.primary_key then npk = npk + 1 end
  end
  for _, s in ipairs(specs) do schema.add_column(t, s, npk) end
  for _, x in ipairs(extras) do
    local mt = getmetatable(x)
    if mt == Index then
      local cols = {}
      for i, c in ipairs(x.columns) do cols[i] = resolve_column(t, c, "Index " .. x.name) end
      t.indexes[#t.indexes + 1] = {name = x.name, columns = cols, unique = x.unique}
    elseif mt == UniqueConstraint then
      local cols = {}
      for i, c in ipairs(x.columns) do cols[i] = resolve_column(t, c, "UniqueConstraint") end
      t.constraints[#t.constraints + 1] = {kind = "unique", columns = cols,
                                           name = convention_name(t, "uq", cols, x.name)}
    else
      t.constraints[#t.constraints + 1] = {kind = "check", text = x.text, name = convention_name(t, "ck", nil, x.name)}
    end
  end
  if #t.primary_key > 0 then t.primary_key_name = convention_name(t, "pk", t.primary_key, nil) end
  meta:_add(t)
  return t
end

--- Turns spec into a column of t (npk: the table's primary key column count).
function schema.add_column(t, s, npk, name)
  local o = s.opts
  name = name or s.name
  if not name then raise("ArgumentError", ("Table %s: a column has no name"):format(t.name)) end
  local typ = s.type
  if not typ then
    if s.foreign_key then typ = types.Integer
    else raise("ArgumentError", ("Table %s: column %s has no type"):format(t.name, name)) end
  end
  if typ.__type == "Enum" and #typ.enums == 0 then
    raise("ArgumentError", ("Table %s: column %s: Enum needs its values, e.g. argent.Enum(\"a\", \"b\")"):format(t.name, name))
  end
  local key = o.key or (s.key) or name
  if t.c[key] then raise("ArgumentError", ("Table %s: two columns have the key '%s'"):format(t.name, key)) end
  local pk = o.primary_key and true or false
  local nullable = o.nullable
  if nullable == nil then nullable = not pk end
  local autoinc = false
  if pk and o.autoincrement ~= false and npk == 1 and INTEGER_TYPES[typ.__type] then
    autoinc = (o.autoincrement == true or o.autoincrement == nil or o.autoincrement == "auto")
      and (s.foreign_key == nil or o.autoincrement == true)
  end
  local flags = (pk and COL_PRIMARY_KEY or 0) + (nullable and 0 or COL_NOT_NULL) + (autoinc and COL_AUTOINCREMENT or 0)
  local server_default = o.server_default ~= nil and server_default_node(o.server_default, name) or nil
  local col
  if typ.__type == "Enum" and typ.name and typ.native_enum ~= false then
    -- a named enum: PostgreSQL's own type of that name (a VARCHAR elsewhere)
    col = make("COLUMN", 0, flags, name, 3, t._node, server_default, schema.enum_type_node(typ))
  else
    col = make("COLUMN", 0, flags, name, 2, t._node, server_default)
  end
  sql.set_type(col, typ)
  local meta = {name = name, key = key, type = typ, table = t, primary_key = pk, nullable = nullable,
                unique = o.unique and true or false, index = o.index and true or false,
                default = o.default, onupdate = o.onupdate, server_default = o.server_default,
                autoincrement = autoinc, foreign_key = s.foreign_key, comment = o.comment,
                order = s.order, _spec = s}
  if o.default ~= nil and type(o.default) ~= "function" and not sql.tag(o.default) then
    local ok, err = pcall(sql.to_expr, o.default, col)
    if not ok then guard.rethrow_memory(err) end
    if not ok then raise("ArgumentError", ("Column %s: bad default: %s"):format(name, tostring(err.message or err))) end
  end
  info(col, meta)
  t.c[key] = col
  t.columns[#t.columns + 1] = col
  if pk then t.primary_key[#t.primary_key + 1] = col end
  if o.unique and not o.index then
    t.constraints[#t.constraints + 1] = {kind = "unique", columns = {col}, name = convention_name(t, "uq", {col})}
  end
  if s.foreign_key then
    local fk = s.foreign_key
    t.foreign_keys[#t.foreign_keys + 1] = {column = col, fk = fk, name = convention_name(t, "fk", {col}, fk.name,
      {table = fk.table_name, columns = {fk.column_name}})}
    t.metadata._version = (t.metadata._version or 0) + 1
  end
  if o.index then
    t.indexes[#t.indexes + 1] = {name = convention_name(t, "ix", {col}) or ("ix_%s_%s"):format(t.name, name),
                                 columns = {col}, unique = o.unique and true or false}
  end
  if autoinc then t.autoincrement_column = col end
  return col
end

-- ---------------------------------------------------------------- DDL

local function column_list(cols)
  return list(unpack(cols))
end

-- A bare column element named name (for constraints that name another table's columns).
local function name_column(name) return make("COLUMN", 0, 0, name, 2) end

--- The CREATE TABLE statement of t.
function Table:create_statement(if_not_exists)
  check_self(self, Table, "create_statement", "t:create_statement()")
  local constraints = {}
  for _, c in ipairs(self.constraints) do
    if c.kind == "unique" then
      constraints[#constraints + 1] = make("CONSTRAINT", CONS_UNIQUE, 0, c.name, 4, column_list(c.columns))
    else
      constraints[#constraints + 1] = make("CONSTRAINT", CONS_CHECK, 0, c.name, 4, nil, nil, nil,
                                           sql.to_expr(core.text(c.text)))
    end
  end
  for _, f in ipairs(self.foreign_keys) do
    local fk = f.fk
    local flags = (FK_ACTIONS[fk.ondelete] or 0) + (FK_ACTIONS[fk.onupdate] or 0) * 16 -- bits 0-3, 4-7
    constraints[#constraints + 1] = make("CONSTRAINT", CONS_FOREIGN_KEY, flags, f.name or fk.name, 4,
      list(f.column), make("TABLE", 0, 0, fk.table_name), list(name_column(fk.column_name)))
  end
  if self.primary_key_name then
    table.insert(constraints, 1, make("CONSTRAINT", CONS_PRIMARY_KEY, 0, self.primary_key_name, 4,
      column_list(self.primary_key)))
  end
  return make("CREATE_TABLE", 0, if_not_exists and DDL_IF_NOT_EXISTS or 0, nil, 3, self._node,
              column_list(self.columns), list(unpack(constraints)))
end

function Table:drop_statement(if_exists)
  check_self(self, Table, "drop_statement", "t:drop_statement()")
  return make("DROP_TABLE", 0, if_exists and DDL_IF_EXISTS or 0, nil, 1, self._node)
end

--- COMMENT ON COLUMN statements (dialects that keep column comments).
function Table:comment_statements()
  check_self(self, Table, "comment_statements", "t:comment_statements()")
  local out = {}
  for _, c in ipairs(self.columns) do
    local text = info(c).comment
    if text ~= nil then out[#out + 1] = make("COMMENT", 0, 0, nil, 2, c, sql.literal(tostring(text))) end
  end
  return out
end

function Table:index_statements()
  check_self(self, Table, "index_statements", "t:index_statements()")
  local out = {}
  for i, ix in ipairs(self.indexes) do
    out[i] = make("CREATE_INDEX", 0, ix.unique and DDL_UNIQUE or 0, ix.name, 2, self._node, column_list(ix.columns))
  end
  return out
end

-- ---------------------------------------------------------------- MetaData

local MetaData = {__name = "argent.MetaData"}
MetaData.__index = MetaData
schema.MetaDataClass = MetaData

--- MetaData([{naming_convention = {ix =, uq =, ck =, fk =, pk =}}])
function schema.MetaData(opts)
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    raise("ArgumentError", "MetaData: argument 1 must be an options table or nothing, got " .. type(opts))
  end
  for k in pairs(opts or {}) do
    if k ~= "naming_convention" then
      raise("ArgumentError", ("MetaData: unknown option '%s'"):format(tostring(k)))
    end
  end
  local nc = check_convention(opts and opts.naming_convention)
  return setmetatable({tables = {}, _order = {}, naming_convention = opts and opts.naming_convention or nil,
                       _naming_convention = nc}, MetaData)
end

--- The CREATE TYPE node of a named Enum (PostgreSQL's enum type), made once per type value.
function schema.enum_type_node(typ)
  local node = rawget(typ, "_type_node")
  if not node then
    node = make("CREATE_TYPE", 0, 0, typ.name, 1, list(unpack(typ.enums)))
    rawset(typ, "_type_node", node)
  end
  return node
end

--- The named enum types (name -> type) the columns of tables use, in first-use order (a list too).
function schema.enum_types(tables)
  local out = {}
  for _, t in ipairs(tables) do
    for _, c in ipairs(t.columns) do
      local typ = info(c).type
      if typ.__type == "Enum" and typ.name and typ.native_enum ~= false and not out[typ.name] then
        out[typ.name] = typ
        out[#out + 1] = typ
      end
    end
  end
  return out
end

-- The enum types of the database conn is connected to (PostgreSQL), as a set.
local function existing_enum_types(conn)
  local set = {}
  for _, name in ipairs(conn:execute("SELECT t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
      .. "ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND n.nspname = current_schema()"):scalars()) do
    set[name] = true
  end
  return set
end

function MetaData:_add(t)
  if self.tables[t.name] then
    for i, x in ipairs(self._order) do
      if x == self.tables[t.name] then table.remove(self._order, i) break end
    end
  end
  self.tables[t.name] = t
  self._order[#self._order + 1] = t
  self._version = (self._version or 0) + 1 -- (callers cache what depends on the tables)
end

--- The tables, parents before children (foreign keys within this MetaData), else in definition order.
function MetaData:sorted_tables()
  check_self(self, MetaData, "sorted_tables", "meta:sorted_tables()")
  local order, placed, visiting = {}, {}, {}
  local function visit(t)
    if placed[t] or visiting[t] then return end -- a cycle: leave it where it is
    visiting[t] = true
    for _, f in ipairs(t.foreign_keys) do
      local parent = self.tables[f.fk.table_name]
      if parent and parent ~= t then visit(parent) end
    end
    visiting[t] = nil
    placed[t] = true
    order[#order + 1] = t
  end
  for _, t in ipairs(self._order) do visit(t) end
  return order
end

-- Runs fn(conn) on bind: an engine (a transaction on a new connection) or a connection.
local function with_connection(bind, fn, fname)
  guard.check_bind(bind, fname or "with_connection")
  if guard.is_connection(bind) then return fn(bind) end
  return bind:begin(fn)
end
schema.with_connection = with_connection

function MetaData:create_all(bind)
  check_self(self, MetaData, "create_all", "meta:create_all(engine)")
  local inspect = require "argent.inspect"
  with_connection(bind, function(conn)
    local existing = {}
    for _, name in ipairs(inspect.table_names(conn)) do existing[name] = true end
    if conn.features.native_enum then
      local missing = {}
      for _, t in ipairs(self:sorted_tables()) do
        if not existing[t.name] then missing[#missing + 1] = t end
      end
      local enums = schema.enum_types(missing)
      if #enums > 0 then
        local have = existing_enum_types(conn)
        for _, typ in ipairs(enums) do
          if not have[typ.name] then conn:execute(schema.enum_type_node(typ)) end
        end
      end
    end
    for _, t in ipairs(self:sorted_tables()) do
      if not existing[t.name] then
        conn:execute(t:create_statement())
        for _, stmt in ipairs(t:index_statements()) do conn:execute(stmt) end
        if conn.features.comments then
          for _, stmt in ipairs(t:comment_statements()) do conn:execute(stmt) end
        end
      end
    end
  end, "create_all")
end

function MetaData:drop_all(bind)
  check_self(self, MetaData, "drop_all", "meta:drop_all(engine)")
  local inspect = require "argent.inspect"
  with_connection(bind, function(conn)
    local existing = {}
    for _, name in ipairs(inspect.table_names(conn)) do existing[name] = true end
    local order = self:sorted_tables()
    local dropped = {}
    for i = #order, 1, -1 do
      if existing[order[i].name] then
        conn:execute(order[i]:drop_statement())
        dropped[#dropped + 1] = order[i]
      end
    end
    if conn.features.native_enum then
      for _, typ in ipairs(schema.enum_types(dropped)) do
        conn:execute(make("DROP_TYPE", 0, DDL_IF_EXISTS, typ.name, 0))
      end
    end
  end, "drop_all")
end

function MetaData:reflect(bind)
  check_self(self, MetaData, "reflect", "meta:reflect(engine)")
  guard.check_bind(bind, "reflect")
  local inspect = require "argent.inspect"
  return inspect.reflect(self, bind)
end

function MetaData:clear()
  check_self(self, MetaData, "clear", "meta:clear()")
  self.tables, self._order = {}, {}
  self._version = (self._version or 0) + 1
end

schema.TableClass = Table
schema.ColumnSpecClass = ColumnSpec
return schema
