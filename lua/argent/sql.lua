-- argent.sql: the statement API of API.md section 5 -- select, insert,
-- update, delete and their generative methods -- on the C primitives of
-- argent.core.sql (src/lua/statement.c, src/lua/expression.c).
--
-- Statements are immutable ClauseElements: every method returns a new one
-- (a copy of the node with one slot changed), so compiled SQL cached on a
-- statement is never stale.  What Lua adds: turning Tables (and models)
-- into their columns, `where{key = value}`, join conditions from foreign
-- keys, column defaults and onupdate values, and argument checks whose
-- messages name the problem.  Lua-side facts about a statement (its
-- tables, its default functions) live in the node's information table,
-- which derived statements share.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local types = require "argent.types"
local schema = require "argent.schema"
local guard = require "argent.guard"

local sql = core.sql
local raise = core.error
local make, list, info, derive, extend, conjoin, tag_of = sql.make, sql.list, sql.info, sql.derive, sql.extend,
  sql.conjoin, sql.tag
local to_expr = sql.to_expr
local null = core.null

local M = {}

local Select, Insert, Update, Delete = sql.methods.Select, sql.methods.Insert, sql.methods.Update,
  sql.methods.Delete
local Expression, FromClause = sql.methods.Expression, sql.methods.FromClause

-- node slots and flags: src/sql/node.h's, as argent.core.node exports them
local N = core.node
local SEL, COMPOUND, INS, UPD, DEL = N.SEL, N.COMPOUND, N.INS, N.UPD, N.DEL
local SEL_DISTINCT, SEL_FOR_UPDATE = N.SEL_DISTINCT, N.SEL_FOR_UPDATE
local JOIN_INNER, JOIN_LEFT, JOIN_FULL = N.JOIN_INNER, N.JOIN_LEFT, N.JOIN_FULL
local CONFLICT_NOTHING, CONFLICT_UPDATE = N.CONFLICT_NOTHING, N.CONFLICT_UPDATE

local function describe(v)
  if type(v) == "string" then return ("'%s'"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  local t = tag_of(v)
  if t then return "a SQL " .. t:lower() end
  return type(v) == "table" and (getmetatable(v) and getmetatable(v).__name or "table") or type(v)
end

-- The Table behind v: a Table, a model (v.__table__), or nil.
local function index_table(v) return v.__table__ end
local function table_of(v)
  if type(v) ~= "table" then return nil end
  local mt = getmetatable(v)
  if mt == schema.TableClass then return v end
  local t = rawget(v, "__table__") -- a model's
  if t == nil then
    local ok
    ok, t = pcall(index_table, v) -- anything else that has one (its __index may raise)
    if not ok then
      guard.rethrow_memory(t)
      return nil
    end
  end
  if getmetatable(t) == schema.TableClass then return t end
  return nil
end
M.table_of = table_of

-- A new statement that shares info (and so Lua-side facts) with old.
local function keep(new, old)
  local i = info(old)
  if i then info(new, i) end
  return new
end

local function copy_info(old, changes)
  local i = {}
  for k, v in pairs(info(old) or {}) do i[k] = v end
  for k, v in pairs(changes) do i[k] = v end
  return i
end

-- ---------------------------------------------------------------- select

-- Adds the columns that v stands for to cols (and its table to tables).
local function add_columns(cols, tables, v, fname, i)
  local t = table_of(v)
  if t then
    for _, c in ipairs(t.columns) do cols[#cols + 1] = c end
    tables[#tables + 1] = t
    return
  end
  local tag = tag_of(v)
  if tag == "SUBQUERY" or tag == "ALIAS" then
    local inf = info(v)
    for _, c in ipairs(inf.columns) do cols[#cols + 1] = c end
    tables[#tables + 1] = v
    return
  end
  if tag and tag ~= "SELECT" and tag ~= "INSERT" and tag ~= "UPDATE" and tag ~= "DELETE" then
    cols[#cols + 1] = v
    local ci = tag == "COLUMN" and info(v)
    if ci and ci.table then tables[#tables + 1] = ci.table end
    return
  end
  if tag == "SELECT" then -- a scalar subquery as a column
    cols[#cols + 1] = v
    return
  end
  if type(v) == "table" and getmetatable(v) == getmetatable(core.text("")) then
    cols[#cols + 1] = to_expr(v)
    return
  end
  raise("ArgumentError", ("%s: argument %d must be a column, a table or a SQL expression, got %s")
    :format(fname, i, describe(v)))
end

--- select(col_or_table, ...)
function M.select(...)
  local n = select("#", ...)
  local cols, tables = {}, {}
  local args = {...}
  if n == 1 and type(args[1]) == "table" and getmetatable(args[1]) == nil then
    args = args[1] -- select{a, b} (a list)
    n = #args
  end
  for i = 1, n do add_columns(cols, tables, args[i], "select", i) end
  if #cols == 0 then raise("ArgumentError", "select: needs at least one column, table or expression") end
  local s = make("SELECT", 0, 0, nil, SEL.count, list(unpack(cols)))
  info(s, {tables = tables, columns = cols})
  return s
end

local function slots_of(self)
  return tag_of(self) == "COMPOUND" and COMPOUND or SEL
end

local function check_statement(self, method, want)
  local tag = tag_of(self)
  if not tag or (want and not want[tag]) then
    raise("ArgumentError", ("%s: argument 'self' must be a statement (call it as stmt:%s(...)), got %s")
      :format(method, method, describe(self)))
  end
  return tag
end

-- The column named key among tables (a Table's key or name, a subquery's column).
local function find_column(tables, key)
  for _, t in ipairs(tables) do
    local c
    if getmetatable(t) == schema.TableClass then c = t.c[key]
    else local inf = info(t); c = inf and inf.c and inf.c[key] end
    if c then return c end
  end
  for _, t in ipairs(tables) do
    if getmetatable(t) == schema.TableClass then
      for _, c in ipairs(t.columns) do
        if c.name == key then return c end
      end
    end
  end
  return nil
end

local function table_names(tables)
  local names = {}
  for i, t in ipairs(tables) do names[i] = t.name or "?" end
  return table.concat(names, ", ")
end

-- The conditions of where/having arguments: expressions, text, or {key = value} tables.
local function conditions(self, method, ...)
  local out = {}
  local tables = (info(self) or {}).tables or {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local tag = tag_of(v)
    if tag then
      out[#out + 1] = v
    elseif type(v) == "table" and getmetatable(v) == getmetatable(core.text("")) then
      out[#out + 1] = to_expr(v)
    elseif type(v) == "table" and getmetatable(v) == nil then
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then
          raise("ArgumentError", ("%s: the keys of a table of equalities must be column names, got %s")
            :format(method, type(k)))
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      for _, k in ipairs(keys) do
        local col = find_column(tables, k)
        if not col then
          raise("ArgumentError", ("%s: unknown column '%s' (the statement's tables: %s)")
            :format(method, k, table_names(tables)))
        end
        out[#out + 1] = col:eq(v[k])
      end
    else
      raise("ArgumentError", ("%s: argument %d must be a SQL expression or a table of equalities, got %s")
        :format(method, i, describe(v)))
    end
  end
  return out
end
M.conditions = conditions

function Select:where(...)
  check_statement(self, "where", {SELECT = true})
  if select("#", ...) == 0 then raise("ArgumentError", "where: needs at least one condition") end
  return keep(conjoin(self, SEL.where, unpack(conditions(self, "where", ...))), self)
end
Select.filter = Select.where

function Select:filter_by(t)
  check_statement(self, "filter_by", {SELECT = true})
  if type(t) ~= "table" or getmetatable(t) ~= nil then
    raise("ArgumentError", "filter_by: argument must be a table of equalities, got " .. describe(t))
  end
  return self:where(t)
end

function Select:having(...)
  check_statement(self, "having", {SELECT = true})
  return keep(conjoin(self, SEL.having, unpack(conditions(self, "having", ...))), self)
end

-- Expressions for order_by / group_by: nodes, or strings naming a label or column.
local function ordering(method, ...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if tag_of(v) then out[#out + 1] = v
    elseif type(v) == "string" and v ~= "" and not v:find("\0", 1, true) then
      out[#out + 1] = make("COLUMN", 0, 0, v, 2) -- a name, quoted by the dialect
    else
      local t = table_of(v)
      if t then
        for _, c in ipairs(t.primary_key) do out[#out + 1] = c end
      else
        raise("ArgumentError", ("%s: argument %d must be a column or expression, got %s"):format(method, i, describe(v)))
      end
    end
  end
  return out
end

function Select:order_by(...)
  check_statement(self, "order_by", {SELECT = true, COMPOUND = true})
  return keep(extend(self, slots_of(self).order_by, unpack(ordering("order_by", ...))), self)
end

function Select:group_by(...)
  check_statement(self, "group_by", {SELECT = true})
  return keep(extend(self, SEL.group_by, unpack(ordering("group_by", ...))), self)
end

local function count_arg(method, n)
  if compat.math_type(n) ~= "integer" or n < 0 then
    if type(n) == "number" and n >= 0 and n == math.floor(n) and n < 2^63 then return compat.tointeger(n) or n end
    raise("ArgumentError", ("%s: argument must be a non-negative integer, got %s")
      :format(method, type(n) == "number" and tostring(n) or describe(n)))
  end
  return n
end

function Select:limit(n)
  check_statement(self, "limit", {SELECT = true, COMPOUND = true})
  if n == nil then return keep(derive(self, slots_of(self).limit, nil), self) end
  return keep(derive(self, slots_of(self).limit, sql.literal(count_arg("limit", n))), self)
end

function Select:offset(n)
  check_statement(self, "offset", {SELECT = true, COMPOUND = true})
  if n == nil then return keep(derive(self, slots_of(self).offset, nil), self) end
  return keep(derive(self, slots_of(self).offset, sql.literal(count_arg("offset", n))), self)
end

function Select:distinct()
  check_statement(self, "distinct", {SELECT = true})
  return keep(derive(self, -1, nil, SEL_DISTINCT), self)
end

function Select:with_for_update()
  check_statement(self, "with_for_update", {SELECT = true})
  return keep(derive(self, -1, nil, SEL_FOR_UPDATE), self)
end

-- A FROM element for v: a Table's node, a subquery, an alias, a join.
local function from_element(v, method)
  local t = table_of(v)
  if t then return t._node, t end
  local tag = tag_of(v)
  if tag == "SUBQUERY" or tag == "ALIAS" or tag == "TABLE" or tag == "JOIN" then return v, v end
  if tag == "SELECT" or tag == "COMPOUND" then
    raise("ArgumentError", method .. ": a select must be made a subquery first (q:subquery(\"name\"))")
  end
  raise("ArgumentError", ("%s: argument must be a table, subquery or join, got %s"):format(method, describe(v)))
end

function Select:select_from(...)
  check_statement(self, "select_from", {SELECT = true})
  local items, tables = {}, {}
  for i = 1, select("#", ...) do
    local node, t = from_element(select(i, ...), "select_from")
    items[#items + 1] = node
    tables[#tables + 1] = t
  end
  local s = extend(self, SEL.from, unpack(items))
  local inf = copy_info(self, {})
  local all = {}
  for _, t in ipairs(inf.tables or {}) do all[#all + 1] = t end
  for _, t in ipairs(tables) do all[#all + 1] = t end
  inf.tables = all
  inf.explicit = (inf.explicit or 0) + #items
  info(s, inf)
  return s
end

-- The ON condition between two tables from their foreign keys (either direction).
local function infer_on(left_tables, right)
  if getmetatable(right) ~= schema.TableClass then return nil end
  local conds = {}
  for _, lt in ipairs(left_tables) do
    if getmetatable(lt) == schema.TableClass and lt ~= right then
      for _, f in ipairs(right.foreign_keys) do
        if f.fk.table_name == lt.name then
          local target = find_column({lt}, f.fk.column_name)
          if target then conds[#conds + 1] = f.column:eq(target) end
        end
      end
      for _, f in ipairs(lt.foreign_keys) do
        if f.fk.table_name == right.name then
          local target = find_column({right}, f.fk.column_name)
          if target then conds[#conds + 1] = target:eq(f.column) end
        end
      end
      if #conds > 0 then break end
    end
  end
  if #conds == 0 then return nil end
  if #conds == 1 then return conds[1] end
  return sql.and_(unpack(conds))
end

local function do_join(self, target, on, kind, method)
  check_statement(self, method, {SELECT = true})
  local node, t = from_element(target, method)
  local inf = copy_info(self, {})
  if type(on) == "table" and getmetatable(on) == nil and not tag_of(on) then
    -- join(target, {isouter = true}) / options
    local opts = on
    on = opts.onclause
    if opts.isouter then kind = JOIN_LEFT end
    if opts.full then kind = JOIN_FULL end
  end
  if on ~= nil and not tag_of(on) then
    raise("ArgumentError", ("%s: the ON condition must be a SQL expression, got %s"):format(method, describe(on)))
  end
  on = on or infer_on(inf.tables or {}, t)
  if not on then
    raise("ArgumentError", ("%s: no ON condition given and no foreign key links %s to the statement's tables")
      :format(method, t.name or "the target"))
  end
  local nexplicit = inf.explicit or 0
  local left
  if nexplicit > 0 then
    left = sql.kid(sql.kid(self, SEL.from), nexplicit - 1)
  else
    local first = (inf.tables or {})[1]
    if not first then raise("ArgumentError", method .. ": the statement has no table to join from") end
    left = from_element(first, method)
  end
  local j = make("JOIN", kind, 0, nil, 3, left, node, on)
  local s
  if nexplicit > 0 then
    -- replace the last explicit FROM element with the join
    local items = {}
    local from = sql.kid(self, SEL.from)
    for i = 0, nexplicit - 2 do items[#items + 1] = sql.kid(from, i) end
    items[#items + 1] = j
    s = derive(self, SEL.from, list(unpack(items)))
  else
    s = derive(self, SEL.from, list(j))
    nexplicit = 1
  end
  local tables = {}
  for _, x in ipairs(inf.tables or {}) do tables[#tables + 1] = x end
  tables[#tables + 1] = t
  inf.tables, inf.explicit = tables, nexplicit
  info(s, inf)
  return s
end

-- join(User.posts): the joins that follow a relationship (argent.orm)
local function join_relationship(self, rel, on, kind, method)
  if on ~= nil then
    raise("ArgumentError", ("%s: a relationship brings its own ON condition; give none"):format(method))
  end
  for _, step in ipairs(rel:join_path()) do self = do_join(self, step[1], step[2], kind, method) end
  return self
end

local function is_relationship(v)
  return type(v) == "table" and package.loaded["argent.orm"] ~= nil and package.loaded["argent.orm"].is_relationship(v)
end

function Select:join(target, on)
  if is_relationship(target) then return join_relationship(self, target, on, JOIN_INNER, "join") end
  return do_join(self, target, on, JOIN_INNER, "join")
end

function Select:outerjoin(target, on)
  if is_relationship(target) then return join_relationship(self, target, on, JOIN_LEFT, "outerjoin") end
  return do_join(self, target, on, JOIN_LEFT, "outerjoin")
end

-- The columns a subquery shows: {name -> column of the subquery}.
function Select:subquery(name)
  check_statement(self, "subquery", {SELECT = true, COMPOUND = true})
  if name == nil then
    M._anon = (M._anon or 0) + 1
    name = "anon_" .. M._anon
  end
  if type(name) ~= "string" or name == "" or name:find("\0", 1, true) then
    raise("ArgumentError", "subquery: the name must be a non-empty string, got " .. describe(name))
  end
  local sq = make("SUBQUERY", 0, 0, name, 1, self)
  local src = self
  while tag_of(src) == "COMPOUND" do src = sql.kid(sql.kid(src, COMPOUND.selects), 0) end
  local c, columns = {}, {}
  for _, col in ipairs((info(src) or {}).columns or {}) do
    local ci = info(col)
    local _, _, _, label = sql.shape(col)
    local tag = tag_of(col)
    local cname = (tag == "COLUMN" or tag == "LABEL") and label or nil
    if cname then
      local key = (ci and ci.key) or cname
      local node = make("COLUMN", 0, 0, cname, 2, sq)
      local tname = sql.type_of(col)
      if tname then sql.set_type(node, types[tname] and ((ci and ci.type) or types[tname]) or types.Text) end
      info(node, {name = cname, key = key, table = sq, type = ci and ci.type})
      c[key] = node
      columns[#columns + 1] = node
    end
  end
  info(sq, {name = name, c = c, columns = columns})
  return sq
end
Select.alias = Select.subquery

function Select:scalar_subquery()
  check_statement(self, "scalar_subquery", {SELECT = true, COMPOUND = true})
  return self
end
Select.as_scalar = Select.scalar_subquery

function Select:exists()
  check_statement(self, "exists", {SELECT = true, COMPOUND = true})
  return sql.exists(self)
end

local function compound(op, method)
  return function(self, ...)
    check_statement(self, method, {SELECT = true, COMPOUND = true})
    local members = {self}
    for i = 1, select("#", ...) do
      local q = select(i, ...)
      local t = tag_of(q)
      if t ~= "SELECT" and t ~= "COMPOUND" then
        raise("ArgumentError", ("%s: argument %d must be a select, got %s"):format(method, i, describe(q)))
      end
      members[#members + 1] = q
    end
    local c = make("COMPOUND", op, 0, nil, COMPOUND.count, list(unpack(members)))
    info(c, info(self))
    return c
  end
end
Select.union = compound(N.COMPOUND_UNION, "union")
Select.union_all = compound(N.COMPOUND_UNION_ALL, "union_all")
Select.intersect = compound(N.COMPOUND_INTERSECT, "intersect")
Select.except_ = compound(N.COMPOUND_EXCEPT, "except_")

function M.union(q, ...) return Select.union(q, ...) end
function M.union_all(q, ...) return Select.union_all(q, ...) end

-- ---------------------------------------------------------------- shared by DML

local function compile(self, target)
  if not tag_of(self) then
    raise("ArgumentError", ("compile: argument 'self' must be a statement or an expression (call it as "
      .. "stmt:compile(engine)), got %s"):format(describe(self)))
  end
  if target == nil then
    raise("ArgumentError", "compile: needs an engine, a connection or a dialect name (\"sqlite\", \"postgresql\")")
  end
  return sql.compile(self, target)
end
for _, methods in ipairs {Select, Insert, Update, Delete, sql.methods.DDL, Expression} do
  methods.compile = compile
end

local function dml_table(v, fname)
  local t = table_of(v)
  if not t then
    raise("ArgumentError", ("%s: argument must be a Table (or a model), got %s"):format(fname, describe(v)))
  end
  return t
end

-- The column of t for a values{} key (a key or SQL name, or a column of t).
local function value_column(t, k, method)
  if type(k) == "string" then
    local c = t.c[k]
    if not c then
      for _, x in ipairs(t.columns) do
        if x.name == k then c = x end
      end
    end
    if not c then raise("ArgumentError", ("%s: table %s has no column '%s'"):format(method, t.name, k)) end
    return c
  end
  if tag_of(k) == "COLUMN" and info(k) and info(k).table == t then return k end
  raise("ArgumentError", ("%s: the keys must be column names of %s, got %s"):format(method, t.name, describe(k)))
end

local function returning_columns(self, method, ...)
  local cols, tables = {}, {}
  for i = 1, select("#", ...) do add_columns(cols, tables, select(i, ...), method, i) end
  if #cols == 0 then raise("ArgumentError", method .. ": needs at least one column") end
  return cols
end

-- A value for column col: the Lua value bound (typed and checked) or an expression as is.
-- A value that the statement cannot take (an Enum value outside the Enum)
-- is an error when the statement is executed, not when it is built: the
-- problem goes into `problems` and prepare_execute raises it.
local function value_node(col, v, problems)
  if type(v) == "function" then
    raise("ArgumentError", ("values: the value of %s is a Lua function; call it or use a default"):format(info(col).key))
  end
  if v == null then return sql.literal(null) end -- bound, as every value
  if v ~= nil and not tag_of(v) then
    local ok, err = pcall(types.check_value, info(col).type, v, info(col).name)
    if not ok then
      guard.rethrow_memory(err)
      if not problems then error(err, 0) end
      problems[#problems + 1] = err
      return sql.literal(v)
    end
  end
  return to_expr(v, col)
end

local callback_counter = 0

-- A column's default (or onupdate) for one row: a node, registering a Lua
-- function in callbacks under a fresh parameter name.
local function generated_value(col, d, callbacks, problems)
  if type(d) == "function" then
    callback_counter = callback_counter + 1
    local name = ("argent_%s_%d"):format(info(col).key:gsub("[^%w_]", "_"), callback_counter)
    callbacks[#callbacks + 1] = {name = name, fn = d, column = col} -- called in this order (row order)
    return sql.bindparam(name, nil, info(col).type)
  end
  return value_node(col, d, problems)
end

-- ---------------------------------------------------------------- insert

--- insert(table)
function M.insert(target)
  local t = dml_table(target, "insert")
  local ins = make("INSERT", 0, 0, nil, INS.count, t._node, list(), list())
  info(ins, {table = t, tables = {t}})
  return ins
end

local function is_row_list(v)
  return type(v) == "table" and getmetatable(v) == nil and v[1] ~= nil
end

function Insert:values(rows)
  check_statement(self, "values", {INSERT = true})
  local t = info(self).table
  if type(rows) ~= "table" or getmetatable(rows) ~= nil then
    raise("ArgumentError", ("values: argument must be a table of column values (or a list of them), got %s")
      :format(describe(rows)))
  end
  if not is_row_list(rows) then rows = {rows} end
  -- the columns: every key given, then the columns with defaults, in table order
  local given = {}
  for r, row in ipairs(rows) do
    if type(row) ~= "table" or getmetatable(row) ~= nil then
      raise("ArgumentError", ("values: row %d must be a table of column values, got %s"):format(r, describe(row)))
    end
    for k in pairs(row) do
      if compat.math_type(k) == "integer" and rows[1] == row and #rows == 1 then
        raise("ArgumentError", "values: the keys must be column names, got a list")
      end
      given[value_column(t, k, "values")] = true
    end
  end
  local cols = {}
  for _, c in ipairs(t.columns) do
    if given[c] or info(c).default ~= nil then cols[#cols + 1] = c end
  end
  local callbacks, problems = {}, {}
  local row_nodes = {}
  for r, row in ipairs(rows) do
    local byc = {}
    for k, v in pairs(row) do byc[value_column(t, k, "values")] = v end
    local vals = {}
    for i, c in ipairs(cols) do
      local v = byc[c]
      if v ~= nil then vals[i] = value_node(c, v, problems)
      elseif info(c).default ~= nil then vals[i] = generated_value(c, info(c).default, callbacks, problems)
      else vals[i] = to_expr(null) end
    end
    row_nodes[r] = list(unpack(vals))
  end
  local s = derive(self, INS.columns, list(unpack(cols)))
  s = derive(s, INS.rows, list(unpack(row_nodes)))
  if #rows == 1 and t.autoincrement_column then s = derive(s, INS.key, t.autoincrement_column) end
  info(s, copy_info(self, {has_values = true, callbacks = next(callbacks) and callbacks or nil,
                          problem = problems[1]}))
  return s
end

function Insert:returning(...)
  check_statement(self, "returning", {INSERT = true})
  return keep(extend(self, INS.returning, unpack(returning_columns(self, "returning", ...))), self)
end

local function conflict_columns(t, cols, method)
  if cols == nil then return nil end
  if type(cols) ~= "table" or getmetatable(cols) ~= nil then cols = {cols} end
  local out = {}
  for i, c in ipairs(cols) do out[i] = schema.resolve_column(t, c, method) end
  return list(unpack(out))
end

function Insert:on_conflict_do_nothing(cols)
  check_statement(self, "on_conflict_do_nothing", {INSERT = true})
  local t = info(self).table
  if type(cols) == "table" and getmetatable(cols) == nil and cols.index_elements then cols = cols.index_elements end
  local s = derive(self, INS.conflict_on, conflict_columns(t, cols, "on_conflict_do_nothing"), 0, 0, CONFLICT_NOTHING)
  return keep(s, self)
end

function Insert:on_conflict_do_update(opts)
  check_statement(self, "on_conflict_do_update", {INSERT = true})
  local t = info(self).table
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    raise("ArgumentError", "on_conflict_do_update: argument must be {index = {...}, set = {...}}, got " .. describe(opts))
  end
  local index = opts.index or opts.index_elements
  if index == nil then raise("ArgumentError", "on_conflict_do_update: needs index = {columns of the conflict}") end
  if type(opts.set) ~= "table" or next(opts.set) == nil then
    raise("ArgumentError", "on_conflict_do_update: needs set = {column = value, ...}")
  end
  local assigns, problems = {}, {}
  local keys = {}
  for k in pairs(opts.set) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local c = value_column(t, k, "on_conflict_do_update")
    assigns[#assigns + 1] = make("ASSIGN", 0, 0, nil, 2, c, value_node(c, opts.set[k], problems))
  end
  local s = derive(self, INS.conflict_on, conflict_columns(t, index, "on_conflict_do_update"), 0, 0, CONFLICT_UPDATE)
  s = derive(s, INS.conflict_set, list(unpack(assigns)))
  info(s, copy_info(self, {problem = (info(self) or {}).problem or problems[1]}))
  return s
end

-- The insert for executemany(insert(t), rows): one named parameter per
-- column of the first row (named by the column's key), defaults filled per
-- row.  Returns the statement and the rows to bind.  When no column needs a
-- value made in Lua per row (a default function or a default value), the
-- rows go to C as they are, with a third result: the per-row conversion,
-- which C calls only for a row that its own checks do not clear (a key that
-- is not a column key of the first row, a value that needs types.check_value),
-- so every row is still checked, with the same messages, before any runs.
function M.insert_many(stmt, rows)
  local t = info(stmt).table
  local first = rows[1]
  if type(first) ~= "table" then
    raise("ArgumentError", "executemany: rows must be tables of column values, got " .. describe(first))
  end
  local given = {}
  for k in pairs(first) do given[value_column(t, k, "executemany")] = true end
  local cols, vals, fill = {}, {}, {}
  local direct = getmetatable(rows) == nil
  for _, c in ipairs(t.columns) do
    local ci = info(c)
    if given[c] or ci.default ~= nil then
      cols[#cols + 1] = c
      if given[c] or not tag_of(ci.default) then
        local name = ci.key
        vals[#vals + 1] = sql.bindparam(name, nil, ci.type)
        fill[#fill + 1] = {name = name, column = c, info = ci}
        if not given[c] then direct = false end
      else
        vals[#vals + 1] = ci.default
      end
    end
  end
  local s = derive(stmt, INS.columns, list(unpack(cols)))
  s = derive(s, INS.rows, list(list(unpack(vals))))
  local function convert_row(r, row)
    if type(row) ~= "table" or getmetatable(row) ~= nil then
      raise("ArgumentError", ("executemany: row %d must be a table of column values, got %s"):format(r, describe(row)))
    end
    local byc = {}
    for k, v in pairs(row) do
      local c = value_column(t, k, "executemany")
      if not given[c] then
        raise("ArgumentError", ("executemany: row %d has '%s', which the first row does not have"):format(r, tostring(k)))
      end
      byc[c] = v
    end
    local p = {}
    for _, f in ipairs(fill) do
      local v = byc[f.column]
      if v == nil and f.info.default ~= nil and not given[f.column] then
        v = f.info.default
        if type(v) == "function" then v = v() end
      end
      if v == nil then v = null end
      if v ~= null then types.check_value(f.info.type, v, f.info.name) end
      p[f.name] = v
    end
    return p
  end
  if direct then return s, rows, convert_row end
  local out = {}
  for r, row in ipairs(rows) do out[r] = convert_row(r, row) end
  return s, out, nil, convert_row -- (the conversion, for rows that come later: a row function)
end

-- ---------------------------------------------------------------- update

function M.update(target)
  local t = dml_table(target, "update")
  local u = make("UPDATE", 0, 0, nil, UPD.count, t._node)
  info(u, {table = t, tables = {t}})
  return u
end

function Update:values(v)
  check_statement(self, "values", {UPDATE = true})
  local inf = info(self)
  local t = inf.table
  if type(v) ~= "table" or getmetatable(v) ~= nil then
    raise("ArgumentError", "values: argument must be a table of column values, got " .. describe(v))
  end
  local merged = {}
  for c, x in pairs(inf.set or {}) do merged[c] = x end
  for k, x in pairs(v) do merged[value_column(t, k, "values")] = x end
  local assigns, callbacks, problems = {}, {}, {}
  for _, c in ipairs(t.columns) do
    local x = merged[c]
    if x ~= nil then
      assigns[#assigns + 1] = make("ASSIGN", 0, 0, nil, 2, c, value_node(c, x, problems))
    elseif info(c).onupdate ~= nil then
      assigns[#assigns + 1] = make("ASSIGN", 0, 0, nil, 2, c, generated_value(c, info(c).onupdate, callbacks, problems))
    end
  end
  local s = derive(self, UPD.set, list(unpack(assigns)))
  info(s, copy_info(self, {set = merged, callbacks = next(callbacks) and callbacks or nil, problem = problems[1]}))
  return s
end

function Update:where(...)
  check_statement(self, "where", {UPDATE = true})
  if select("#", ...) == 0 then raise("ArgumentError", "where: needs at least one condition") end
  return keep(conjoin(self, UPD.where, unpack(conditions(self, "where", ...))), self)
end

function Update:returning(...)
  check_statement(self, "returning", {UPDATE = true})
  return keep(extend(self, UPD.returning, unpack(returning_columns(self, "returning", ...))), self)
end

-- ---------------------------------------------------------------- delete

function M.delete(target)
  local t = dml_table(target, "delete")
  local d = make("DELETE", 0, 0, nil, DEL.count, t._node)
  info(d, {table = t, tables = {t}})
  return d
end

function Delete:where(...)
  check_statement(self, "where", {DELETE = true})
  if select("#", ...) == 0 then raise("ArgumentError", "where: needs at least one condition") end
  return keep(conjoin(self, DEL.where, unpack(conditions(self, "where", ...))), self)
end

function Delete:returning(...)
  check_statement(self, "returning", {DELETE = true})
  return keep(extend(self, DEL.returning, unpack(returning_columns(self, "returning", ...))), self)
end

-- ---------------------------------------------------------------- execution helpers

--- The statement and parameters to execute for stmt with params: an insert
--- without values takes them from params; Lua default functions are called.
function M.prepare_execute(stmt, params)
  local inf = info(stmt)
  if not inf then return stmt, params end
  if inf.problem then error(inf.problem, 0) end
  local tag = tag_of(stmt)
  if tag == "INSERT" and not inf.has_values then
    if params ~= nil and (type(params) ~= "table" or getmetatable(params) ~= nil) then
      raise("ArgumentError", "execute: the parameters of an insert must be a table of column values")
    end
    stmt = Insert.values(stmt, params or {})
    params = nil
    inf = info(stmt)
    if inf.problem then error(inf.problem, 0) end
  elseif tag == "UPDATE" and not inf.set and params ~= nil then
    stmt = Update.values(stmt, params)
    params = nil
    inf = info(stmt)
    if inf.problem then error(inf.problem, 0) end
  end
  if inf.callbacks then
    local p = {}
    for k, v in pairs(params or {}) do p[k] = v end
    for _, cb in ipairs(inf.callbacks) do
      local name = cb.name
      local v = cb.fn()
      if v == nil then v = null end
      if v ~= null then types.check_value(info(cb.column).type, v, info(cb.column).name) end
      p[name] = v
    end
    params = p
  end
  return stmt, params
end

-- MariaDB has no UPDATE ... RETURNING: the same result from three
-- statements in one transaction -- lock and read the keys of the rows the
-- UPDATE will change, run it, read the returning columns of those rows.
-- Needs a primary key.  Returns the final SELECT's result.
function M.update_returning_emulated(conn, execute, stmt, params)
  local inf = info(stmt)
  local t = inf.table
  if #t.primary_key == 0 then
    raise("NotSupportedError", ("UPDATE ... RETURNING on %s needs a primary key on table %s"):format(conn.dialect, t.name))
  end
  local where, returning = sql.kid(stmt, UPD.where), sql.kid(stmt, UPD.returning)
  local keys = make("SELECT", 0, SEL_FOR_UPDATE, nil, SEL.count, list(unpack(t.primary_key)), nil, where)
  local update = keep(derive(stmt, UPD.returning, nil), stmt)
  local function run()
    local found = {}
    for row in execute(conn, keys, params):rows() do found[#found + 1] = row end
    execute(conn, update, params)
    if #found == 0 then
      return execute(conn, make("SELECT", 0, 0, nil, SEL.count, returning, nil, sql.literal(false)))
    end
    local conds = {}
    for i, row in ipairs(found) do
      local eqs = {}
      for j, c in ipairs(t.primary_key) do eqs[j] = c:eq(row[info(c).name]) end
      conds[i] = #eqs == 1 and eqs[1] or sql.and_(unpack(eqs))
    end
    local cond = #conds == 1 and conds[1] or sql.or_(unpack(conds))
    return execute(conn, make("SELECT", 0, 0, nil, SEL.count, returning, nil, cond, nil, nil, list(unpack(t.primary_key))))
  end
  if conn:in_transaction() then return run() end
  local tx = conn:begin()
  local ok, res = pcall(run)
  if not ok then
    pcall(tx.rollback, tx)
    error(res, 0)
  end
  tx:commit()
  return res
end

-- ---------------------------------------------------------------- expression helpers

-- argent.func.NAME(...)
M.func = setmetatable({}, {
  __index = function(_, name)
    if type(name) ~= "string" then return nil end
    return function(...) return sql.func(name, ...) end
  end,
})

-- Columns of a subquery / alias / table node by key: node.c.name
FromClause.c = nil

return M
