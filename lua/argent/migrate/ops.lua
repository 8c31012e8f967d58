-- argent.migrate.ops: the `op` table a revision's upgrade and downgrade
-- functions receive (API.md section 9.3): create_table, drop_table,
-- add_column, drop_column, alter_column, rename_table, create_index,
-- drop_index, create_unique_constraint, create_foreign_key,
-- create_check_constraint, drop_constraint, create_enum, drop_enum,
-- add_enum_value, execute, bulk_insert, get_bind.
--
-- Every operation checks its arguments (an ArgumentError that names the
-- operation and the argument), builds its statements as argent DDL trees
-- compiled by the dialect (src/sql: the differences live in the dialect
-- files), and hands them to the run's context (runner.lua), which executes
-- them or, offline, prints them.  On SQLite, what ALTER TABLE cannot do is
-- a table rebuild (sqlite_rebuild.lua).  On MariaDB, where an ALTER needs a
-- column's whole definition, the rest of it is read from the database (or,
-- offline, from the existing_* hints autogenerate writes).  The context
-- keeps the list of operations done, for the error message of a revision
-- that fails half-way where DDL is not transactional (MariaDB).
local compat = require "argent.compat"
local core = require "argent.core"
local types = require "argent.types"
local schema = require "argent.schema"
local sqlapi = require "argent.sql"
local inspect = require "argent.inspect"
local rebuild = require "argent.migrate.sqlite_rebuild"

local sql = core.sql
local make, list, info = sql.make, sql.list, sql.info
local raise = core.error
local unpack = table.unpack or unpack

local O = {}

-- node constants: src/sql/node.h's, as argent.core.node exports them
local N = core.node
local COL_PRIMARY_KEY, COL_NOT_NULL, COL_AUTOINCREMENT = N.COL_PRIMARY_KEY, N.COL_NOT_NULL, N.COL_AUTOINCREMENT
local CONS_PRIMARY_KEY, CONS_UNIQUE, CONS_CHECK, CONS_FOREIGN_KEY = N.CONS_PRIMARY_KEY, N.CONS_UNIQUE, N.CONS_CHECK,
  N.CONS_FOREIGN_KEY
local ALTER = N.ALTER
local SET_TYPE, SET_NULLABLE, SET_DEFAULT = N.SET_TYPE, N.SET_NULLABLE, N.SET_DEFAULT
local DDL_IF_EXISTS, DDL_UNIQUE = N.DDL_IF_EXISTS, N.DDL_UNIQUE
local FK_ACTIONS = N.FK_ACTIONS
local CONSTRAINT_TYPES = {foreignkey = CONS_FOREIGN_KEY, unique = CONS_UNIQUE, check = CONS_CHECK,
                          primary = CONS_PRIMARY_KEY}

-- ---- argument checks

local function argerror(opname, msg) raise("ArgumentError", ("op.%s: %s"):format(opname, msg)) end

local function describe(v)
  if type(v) == "string" then return ("'%s'"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  return type(v)
end

local function check_name(opname, what, v)
  if type(v) ~= "string" or v == "" or v:find("\0", 1, true) then
    argerror(opname, ("argument '%s' must be a non-empty name, got %s"):format(what, describe(v)))
  end
  return v
end

local function check_names(opname, what, v)
  if type(v) == "string" then v = {v} end
  if type(v) ~= "table" or #v == 0 then
    argerror(opname, ("argument '%s' must be a list of column names, got %s"):format(what, describe(v)))
  end
  for i, n in ipairs(v) do
    if type(n) ~= "string" or n == "" then
      argerror(opname, ("argument '%s': item %d must be a column name, got %s"):format(what, i, describe(n)))
    end
  end
  return v
end

local function check_opts(opname, v, allowed, position)
  if v == nil then return {} end
  if type(v) ~= "table" or getmetatable(v) ~= nil then
    argerror(opname, ("argument %d must be an options table, got %s"):format(position, describe(v)))
  end
  for k in pairs(v) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      argerror(opname, ("unknown option '%s' (%s)"):format(tostring(k), table.concat(names, ", ")))
    end
  end
  return v
end

local function fk_action(opname, opts, key)
  local v = opts[key]
  if v == nil then return nil end
  local up = type(v) == "string" and v:upper() or nil
  if not FK_ACTIONS[up] then
    argerror(opname, ("%s must be CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION, got %s"):format(key, describe(v)))
  end
  return up
end

local function table_node(name) return make("TABLE", 0, 0, name) end
local function name_column(name) return make("COLUMN", 0, 0, name, 2) end
local function names_list(names)
  local cols = {}
  for i, n in ipairs(names) do cols[i] = name_column(n) end
  return list(unpack(cols))
end

-- A one-column Table of a scratch MetaData: turns a Column spec into a column
-- element with its table (what ADD COLUMN compiles).
local function column_of(tname, spec)
  local t = schema.Table(tname, schema.MetaData(), spec)
  return t.columns[1], t
end

-- A server default given to alter_column: false or argent.null drops it.
local function default_node(v, colname)
  if v == false or v == core.null then return nil end
  return schema.server_default_node(v, colname)
end

-- ---- the operations

--- op = O.new(ctx): ctx is the run's context (runner.lua): ctx.conn, ctx.dialect,
--- ctx:run(statement), ctx.offline, ctx.applied (descriptions of done operations).
function O.new(ctx)
  local op = {}
  local d = ctx.dialect
  local sqlite, pg, mariadb = d == "sqlite", d == "postgresql", d == "mariadb"

  -- Each operation: records what it is (for error messages), runs, then counts as done.
  local function define(name, fn)
    op[name] = function(...)
      if ctx.closed then
        raise("InvalidRequestError", ("op.%s: the revision has finished; op is only usable inside upgrade and downgrade")
          :format(name))
      end
      local args = {...}
      local shown = {}
      for i = 1, math.min(select("#", ...), 3) do
        local v = args[i]
        shown[i] = type(v) == "string" and ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v)
          or (type(v) == "table" and getmetatable(v) and schema.is_column_spec(v) and ("Column(%q)"):format(v.name or "?"))
          or type(v)
      end
      local desc = ("op.%s(%s)"):format(name, table.concat(shown, ", "))
      ctx.current = desc
      local results = compat.pack(fn(...))
      ctx.current = nil
      ctx.applied[#ctx.applied + 1] = desc
      return unpack(results, 1, results.n)
    end
  end

  -- Online: the table's reflection (one table); offline there is none.
  local function reflect(tname)
    if ctx.compile_only then return nil end
    return inspect.snapshot(ctx.conn, tname)[tname]
  end

  local function reflected_column(opname, tname, cname)
    local t = reflect(tname)
    if not t then return nil end
    for _, c in ipairs(t.columns) do
      if c.name == cname then return c end
    end
    argerror(opname, ("table %s has no column '%s'"):format(tname, cname))
  end

  -- PostgreSQL: creates the named enum types (of `types_`, a list) that the database lacks.
  local function ensure_enums(types_)
    if not pg then return end
    for _, typ in ipairs(types_) do
      if typ.__type == "Enum" and typ.name and typ.native_enum ~= false and not ctx:enum_exists(typ.name) then
        ctx:run(schema.enum_type_node(typ))
        ctx:note_enum(typ.name, true)
      end
    end
  end

  define("create_table", function(name, ...)
    check_name("create_table", "name", name)
    local n = select("#", ...)
    if n == 0 then argerror("create_table", "a table needs at least one Column") end
    local ok, t = pcall(schema.Table, name, schema.MetaData(), ...)
    if not ok then argerror("create_table", type(t) == "table" and t.message or tostring(t)) end
    ensure_enums(schema.enum_types({t}))
    ctx:run(t:create_statement())
    for _, stmt in ipairs(t:index_statements()) do ctx:run(stmt) end
    if pg then
      for _, stmt in ipairs(t:comment_statements()) do ctx:run(stmt) end
    end
    return t
  end)

  define("drop_table", function(name)
    check_name("drop_table", "name", name)
    ctx:run(make("DROP_TABLE", 0, 0, nil, 1, table_node(name)))
  end)

  -- SQLite's ADD COLUMN takes a column without key, unique or foreign key, whose
  -- default is a constant, and that is nullable or has a default.
  local function sqlite_can_add(spec, col)
    local o = spec.opts
    if o.primary_key or o.unique or spec.foreign_key then return false end
    local dflt = o.server_default
    if dflt ~= nil and type(dflt) ~= "string" and type(dflt) ~= "number" and type(dflt) ~= "boolean" then return false end
    if not info(col).nullable and dflt == nil then return false end
    return true
  end

  define("add_column", function(tname, spec)
    check_name("add_column", "table", tname)
    if not schema.is_column_spec(spec) then
      argerror("add_column", "argument 'column' must be an argent.Column(...), got " .. describe(spec))
    end
    if not spec.name then argerror("add_column", "the column needs a name") end
    local ok, col, t = pcall(column_of, tname, spec)
    if not ok then argerror("add_column", type(col) == "table" and col.message or tostring(col)) end
    local colinfo = info(col)
    if sqlite and not sqlite_can_add(spec, col) then
      rebuild.rebuild(ctx, tname, function(m)
        m.columns[#m.columns + 1] = {name = colinfo.name, type = colinfo.type, nullable = colinfo.nullable,
          default_node = sql.kid(col, 1), pk = colinfo.primary_key and 1 or nil}
        if colinfo.unique then m.uniques[#m.uniques + 1] = {name = t.constraints[1] and t.constraints[1].name,
                                                             columns = {colinfo.name}} end
        if spec.foreign_key then
          local fk = spec.foreign_key
          m.foreign_keys[#m.foreign_keys + 1] = {name = fk.name, columns = {colinfo.name}, referred_table = fk.table_name,
            referred_columns = {fk.column_name}, ondelete = fk.ondelete, onupdate = fk.onupdate}
        end
      end)
    else
      ensure_enums({colinfo.type})
      ctx:run(make("ALTER_TABLE", ALTER.add_column, 0, nil, 2, table_node(tname), col))
      for _, c in ipairs(t.constraints) do
        ctx:run(make("ALTER_TABLE", ALTER.add_constraint, 0, nil, 2, table_node(tname),
          make("CONSTRAINT", CONS_UNIQUE, 0, c.name, 4, names_list({colinfo.name}))))
      end
      if spec.foreign_key then
        local fk = spec.foreign_key
        local flags = (FK_ACTIONS[fk.ondelete] or 0) + (FK_ACTIONS[fk.onupdate] or 0) * 16
        ctx:run(make("ALTER_TABLE", ALTER.add_constraint, 0, nil, 2, table_node(tname),
          make("CONSTRAINT", CONS_FOREIGN_KEY, flags, fk.name, 4, names_list({colinfo.name}),
               table_node(fk.table_name), names_list({fk.column_name}))))
      end
    end
    for _, stmt in ipairs(t:index_statements()) do ctx:run(stmt) end
    if pg then
      for _, stmt in ipairs(t:comment_statements()) do ctx:run(stmt) end
    end
  end)

  define("drop_column", function(tname, cname)
    check_name("drop_column", "table", tname)
    check_name("drop_column", "column", cname)
    if sqlite and not ctx.compile_only then
      local m = rebuild.model(ctx.conn, tname)
      if rebuild.column_is_used(m, cname) then
        rebuild.rebuild(ctx, tname, function(model) rebuild.drop_column(model, cname) end)
        return
      end
    end
    if mariadb and not ctx.compile_only then
      -- MariaDB refuses to drop a column a foreign key uses: the key goes first (as elsewhere)
      local t = reflect(tname)
      for _, fk in ipairs(t and t.foreign_keys or {}) do
        for _, c in ipairs(fk.constrained_columns) do
          if c == cname then
            ctx:run(make("ALTER_TABLE", ALTER.drop_constraint, 0, nil, 2, table_node(tname),
              make("CONSTRAINT", CONS_FOREIGN_KEY, 0, fk.name, 4)))
          end
        end
      end
    end
    ctx:run(make("ALTER_TABLE", ALTER.drop_column, 0, nil, 2, table_node(tname), name_column(cname)))
  end)

  local ALTER_OPTIONS = {type = true, nullable = true, server_default = true, new_column_name = true,
                         existing_type = true, existing_nullable = true, existing_server_default = true,
                         comment = true}

  define("alter_column", function(tname, cname, opts)
    check_name("alter_column", "table", tname)
    check_name("alter_column", "column", cname)
    opts = check_opts("alter_column", opts, ALTER_OPTIONS, 3)
    if opts.type ~= nil then types.check(opts.type, "op.alter_column: option 'type'") end
    if opts.existing_type ~= nil then types.check(opts.existing_type, "op.alter_column: option 'existing_type'") end
    if opts.nullable ~= nil and type(opts.nullable) ~= "boolean" then
      argerror("alter_column", "option 'nullable' must be a boolean, got " .. describe(opts.nullable))
    end
    if opts.new_column_name ~= nil then check_name("alter_column", "new_column_name", opts.new_column_name) end
    if opts.type and opts.type.__type == "Enum" and #opts.type.enums == 0 then
      argerror("alter_column", "option 'type': Enum needs its values")
    end
    local comment = opts.comment
    if comment ~= nil and type(comment) ~= "string" and comment ~= false and comment ~= core.null then
      argerror("alter_column", "option 'comment' must be a string, or false (or argent.null) to drop it, got "
        .. describe(comment))
    end
    if comment ~= nil and not pg then
      raise("NotSupportedError", ("op.alter_column: column comments are kept on PostgreSQL only (%s has none that "
        .. "argent writes)"):format(d))
    end
    local changes_default = opts.server_default ~= nil
    local new_default = changes_default and default_node(opts.server_default, cname) or nil
    if opts.type == nil and opts.nullable == nil and not changes_default and opts.new_column_name == nil
        and comment == nil then
      argerror("alter_column", "nothing to change: give type, nullable, server_default, new_column_name or comment")
    end
    local name = cname
    if sqlite then
      if opts.new_column_name then
        ctx:run(make("ALTER_TABLE", ALTER.rename_column, 0, opts.new_column_name, 2, table_node(tname),
                     name_column(cname)))
        name = opts.new_column_name
      end
      if opts.type ~= nil or opts.nullable ~= nil or changes_default then
        rebuild.rebuild(ctx, tname, function(m)
          local c = rebuild.column(m, name)
          if opts.type ~= nil then c.type, c.sql_type = opts.type, nil end
          if opts.nullable ~= nil then c.nullable = opts.nullable end
          if changes_default then c.default_node, c.default_sql = new_default, nil end
        end)
      end
      return
    end
    local parts = (opts.type ~= nil and SET_TYPE or 0) + (opts.nullable ~= nil and SET_NULLABLE or 0)
      + (changes_default and SET_DEFAULT or 0)
    if parts ~= 0 then
      local typ, nullable, dflt, type_node, flags = opts.type, opts.nullable, new_default, nil, 0
      if mariadb and (opts.type ~= nil or opts.nullable ~= nil) then
        -- MODIFY COLUMN writes the whole column: what does not change is read back (or hinted)
        local existing = reflected_column("alter_column", tname, cname)
        if not existing and (opts.existing_type == nil and opts.type == nil or opts.existing_nullable == nil and opts.nullable == nil) then
          argerror("alter_column", "offline on MariaDB, give existing_type and existing_nullable "
            .. "(MODIFY COLUMN restates the whole column)")
        end
        if typ == nil then
          typ = opts.existing_type or existing.type
          if existing and existing.type.__type ~= "JSON" then type_node = sql.to_expr(core.text(existing.sql_type)) end
        end
        if nullable == nil then
          if existing then nullable = existing.nullable else nullable = opts.existing_nullable end
        end
        if not changes_default then
          local ed = existing and existing.default or nil
          if existing == nil and opts.existing_server_default ~= nil then
            dflt = default_node(opts.existing_server_default, cname)
          elseif ed ~= nil then
            dflt = sql.to_expr(core.text(ed))
          end
        end
        if existing and existing.autoincrement then flags = flags + COL_AUTOINCREMENT + COL_PRIMARY_KEY end
      end
      if nullable == false then flags = flags + COL_NOT_NULL end
      if typ and typ.__type == "Enum" and typ.name and typ.native_enum ~= false and pg then
        type_node = schema.enum_type_node(typ)
      end
      local col = make("COLUMN", 0, flags, cname, 3, nil, dflt, type_node)
      sql.set_type(col, typ or types.Text)
      if opts.type then ensure_enums({opts.type}) end
      ctx:run(make("ALTER_TABLE", ALTER.column, parts, nil, 2, table_node(tname), col))
    end
    if opts.new_column_name then
      ctx:run(make("ALTER_TABLE", ALTER.rename_column, 0, opts.new_column_name, 2, table_node(tname),
                   name_column(cname)))
    end
    if comment ~= nil then
      local text = type(comment) == "string" and comment or core.null
      ctx:run(make("COMMENT", 0, 0, nil, 2, make("COLUMN", 0, 0, opts.new_column_name or cname, 2, table_node(tname)),
        sql.literal(text)))
    end
  end)

  define("rename_table", function(old, new)
    check_name("rename_table", "old", old)
    check_name("rename_table", "new", new)
    ctx:run(make("ALTER_TABLE", ALTER.rename_table, 0, new, 2, table_node(old)))
  end)

  define("create_index", function(name, tname, cols, opts)
    check_name("create_index", "name", name)
    check_name("create_index", "table", tname)
    cols = check_names("create_index", "columns", cols)
    opts = check_opts("create_index", opts, {unique = true}, 4)
    ctx:run(make("CREATE_INDEX", 0, opts.unique and DDL_UNIQUE or 0, name, 2, table_node(tname), names_list(cols)))
  end)

  define("drop_index", function(name, tname)
    check_name("drop_index", "name", name)
    if tname ~= nil then check_name("drop_index", "table", tname) end
    if mariadb and tname == nil then argerror("drop_index", "MariaDB needs the index's table (argument 'table')") end
    ctx:run(make("DROP_INDEX", 0, 0, name, 1, tname and table_node(tname) or nil))
  end)

  -- Adds constraint c (a CONSTRAINT node; entry: the same for a SQLite rebuild).
  local function add_constraint(tname, node, add_to_model)
    if sqlite then
      rebuild.rebuild(ctx, tname, add_to_model)
    else
      ctx:run(make("ALTER_TABLE", ALTER.add_constraint, 0, nil, 2, table_node(tname), node))
    end
  end

  define("create_unique_constraint", function(name, tname, cols)
    if name ~= nil then check_name("create_unique_constraint", "name", name) end
    check_name("create_unique_constraint", "table", tname)
    cols = check_names("create_unique_constraint", "columns", cols)
    add_constraint(tname, make("CONSTRAINT", CONS_UNIQUE, 0, name, 4, names_list(cols)), function(m)
      m.uniques[#m.uniques + 1] = {name = name, columns = cols}
    end)
  end)

  define("create_foreign_key", function(name, tname, ref, cols, ref_cols, opts)
    if name ~= nil then check_name("create_foreign_key", "name", name) end
    check_name("create_foreign_key", "table", tname)
    check_name("create_foreign_key", "ref_table", ref)
    cols = check_names("create_foreign_key", "columns", cols)
    ref_cols = check_names("create_foreign_key", "ref_columns", ref_cols)
    if #cols ~= #ref_cols then
      argerror("create_foreign_key", ("%d columns refer to %d columns"):format(#cols, #ref_cols))
    end
    opts = check_opts("create_foreign_key", opts, {ondelete = true, onupdate = true}, 6)
    local ondelete, onupdate = fk_action("create_foreign_key", opts, "ondelete"), fk_action("create_foreign_key", opts, "onupdate")
    local flags = (FK_ACTIONS[ondelete] or 0) + (FK_ACTIONS[onupdate] or 0) * 16
    add_constraint(tname, make("CONSTRAINT", CONS_FOREIGN_KEY, flags, name, 4, names_list(cols), table_node(ref),
                               names_list(ref_cols)), function(m)
      m.foreign_keys[#m.foreign_keys + 1] = {name = name, columns = cols, referred_table = ref,
                                             referred_columns = ref_cols, ondelete = ondelete, onupdate = onupdate}
    end)
  end)

  define("create_check_constraint", function(name, tname, condition)
    if name ~= nil then check_name("create_check_constraint", "name", name) end
    check_name("create_check_constraint", "table", tname)
    check_name("create_check_constraint", "condition", condition)
    add_constraint(tname, make("CONSTRAINT", CONS_CHECK, 0, name, 4, nil, nil, nil, sql.to_expr(core.text(condition))),
      function(m) m.checks[#m.checks + 1] = {name = name, sqltext = condition} end)
  end)

  -- The kind of constraint `name` of table tname, from the database.
  local function constraint_kind(tname, name)
    local t = reflect(tname)
    if not t then return nil end
    for _, fk in ipairs(t.foreign_keys) do if fk.name == name then return CONS_FOREIGN_KEY end end
    for _, u in ipairs(t.uniques) do if u.name == name then return CONS_UNIQUE end end
    for _, ck in ipairs(t.checks) do if ck.name == name then return CONS_CHECK end end
    if t.pk.name == name then return CONS_PRIMARY_KEY end
    return nil
  end

  define("drop_constraint", function(name, tname, opts)
    check_name("drop_constraint", "name", name)
    check_name("drop_constraint", "table", tname)
    opts = check_opts("drop_constraint", opts, {type = true}, 3)
    local kind = opts.type ~= nil and CONSTRAINT_TYPES[opts.type]
    if opts.type ~= nil and not kind then
      argerror("drop_constraint", "option 'type' must be foreignkey, unique, check or primary, got " .. describe(opts.type))
    end
    if sqlite then
      rebuild.rebuild(ctx, tname, function(m)
        for _, field in ipairs {"uniques", "foreign_keys", "checks"} do
          for i, c in ipairs(m[field]) do
            if c.name == name then
              table.remove(m[field], i)
              return
            end
          end
        end
        raise("ProgrammingError", ("table %s has no constraint named %s (SQLite knows the names of constraints "
          .. "declared with CONSTRAINT name only)"):format(tname, name))
      end)
      return
    end
    if mariadb and not kind then
      kind = constraint_kind(tname, name)
      if not kind then
        if ctx.compile_only then
          argerror("drop_constraint", "offline on MariaDB, give {type = \"foreignkey\" | \"unique\" | \"check\"}")
        end
        raise("ProgrammingError", ("table %s has no constraint named %s"):format(tname, name))
      end
    end
    ctx:run(make("ALTER_TABLE", ALTER.drop_constraint, 0, nil, 2, table_node(tname),
                 make("CONSTRAINT", kind or 0, 0, name, 4)))
  end)

  -- Enum types: PostgreSQL's own; elsewhere an Enum is a VARCHAR and these do nothing.
  define("create_enum", function(name, values)
    check_name("create_enum", "name", name)
    local typ = types.Enum(check_names("create_enum", "values", values), {name = name})
    if pg then
      ctx:run(schema.enum_type_node(typ))
      ctx:note_enum(name, true)
    end
  end)

  define("drop_enum", function(name)
    check_name("drop_enum", "name", name)
    if pg then
      ctx:run(make("DROP_TYPE", 0, DDL_IF_EXISTS, name, 0))
      ctx:note_enum(name, false)
    end
  end)

  define("add_enum_value", function(name, value, opts)
    check_name("add_enum_value", "name", name)
    check_name("add_enum_value", "value", value)
    opts = check_opts("add_enum_value", opts, {after = true}, 3)
    if opts.after ~= nil then check_name("add_enum_value", "after", opts.after) end
    if pg then ctx:run(make("ALTER_TYPE", 0, 0, name, 2, sql.literal(value), opts.after and sql.literal(opts.after) or nil)) end
  end)

  define("execute", function(statement, params)
    if type(statement) ~= "string" and not sql.tag(statement) and getmetatable(statement) == nil then
      argerror("execute", "argument 'statement' must be SQL text or a statement, got " .. describe(statement))
    end
    if params ~= nil and type(params) ~= "table" then
      argerror("execute", "argument 'params' must be a table, got " .. describe(params))
    end
    return ctx:run(statement, params)
  end)

  define("bulk_insert", function(tbl, rows)
    local t = tbl
    if type(tbl) == "string" then
      check_name("bulk_insert", "table", tbl)
    elseif getmetatable(tbl) ~= schema.TableClass then
      argerror("bulk_insert", "argument 'table' must be a table name or an argent.Table, got " .. describe(tbl))
    end
    if type(rows) ~= "table" then argerror("bulk_insert", "argument 'rows' must be a list of rows, got " .. describe(rows)) end
    for i, r in ipairs(rows) do
      if type(r) ~= "table" then argerror("bulk_insert", ("row %d must be a table, got %s"):format(i, describe(r))) end
    end
    if #rows == 0 then return 0 end
    if type(tbl) == "string" then
      if ctx.compile_only then
        -- offline: the columns the rows name, the values as literals
        local cols = {}
        local seen = {}
        for _, r in ipairs(rows) do
          for k in pairs(r) do
            if not seen[k] then seen[k] = true cols[#cols + 1] = k end
          end
        end
        table.sort(cols)
        local specs = {}
        for i, c in ipairs(cols) do specs[i] = schema.Column(c, types.Text) end
        t = schema.Table(tbl, schema.MetaData(), unpack(specs))
      else
        local meta = schema.MetaData()
        inspect.reflect(meta, ctx.conn, {[tbl] = true})
        t = meta.tables[tbl]
        if not t then argerror("bulk_insert", ("no table named '%s'"):format(tbl)) end
      end
    end
    -- rows with the same keys go as one executemany
    local groups, order = {}, {}
    for _, r in ipairs(rows) do
      local keys = {}
      for k in pairs(r) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      local key = table.concat(keys, "\0")
      if not groups[key] then groups[key] = {} order[#order + 1] = key end
      table.insert(groups[key], r)
    end
    local n = 0
    for _, key in ipairs(order) do n = n + ctx:insert_rows(t, groups[key]) end
    return n
  end)

  --- The connection the revision runs on (nil offline on PostgreSQL and MariaDB).
  function op.get_bind()
    if ctx.compile_only then return nil end
    return ctx.conn
  end
  op.dialect = d
  return op
end

return O
