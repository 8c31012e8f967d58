-- argent.migrate.render: revision files as Lua text -- an empty one for
-- `revision`, a merge for `merge`, and autogenerate's, which turns the
-- differences of compare.lua into op calls (upgrade in their order,
-- downgrade the reverse of each in reverse order).
--
-- The file is meant to be read and edited: one op per line or block, types
-- written as argent's (argent.String(128)), constraint names spelled out (so
-- the downgrade can drop them), and comments where the file should be read
-- before it runs: every operation that loses data (a dropped table or
-- column, a narrowed type), a column dropped and one added with the same
-- type in a table (perhaps a rename: the alter_column to use instead is
-- shown), and what cannot be done (an enum value PostgreSQL cannot drop, a
-- constraint without a name).
local core = require "argent.core"
local compare = require "argent.migrate.compare"

local sql = core.sql
local info = sql.info

local M = {}

local function q(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end
M.quote = q

local function list_of_strings(items)
  local out = {}
  for i, s in ipairs(items) do out[i] = q(s) end
  return "{" .. table.concat(out, ", ") .. "}"
end

-- ---- types and columns

--- A type value as the Lua that makes it (argent.String(128)).
function M.type(t)
  local name = t.__type
  if name == "String" or name == "LargeBinary" then
    if t.length then return ("argent.%s(%d)"):format(name, t.length) end
    return "argent." .. name
  elseif name == "Numeric" then
    local args = {}
    if t.precision then
      args[#args + 1] = tostring(t.precision)
      args[#args + 1] = tostring(t.scale or 0)
    end
    if t.as_number then args[#args + 1] = "{as_number = true}" end
    if #args == 0 then return "argent.Numeric" end
    return "argent.Numeric(" .. table.concat(args, ", ") .. ")"
  elseif name == "Enum" then
    local args = {}
    for i, v in ipairs(t.enums) do args[i] = q(v) end
    local opts = {}
    if t.name then opts[#opts + 1] = "name = " .. q(t.name) end
    if t.native_enum == false then opts[#opts + 1] = "native_enum = false" end
    if #opts > 0 then args[#args + 1] = "{" .. table.concat(opts, ", ") .. "}" end
    return "argent.Enum(" .. table.concat(args, ", ") .. ")"
  elseif name == "DateTime" and t.timezone then
    return "argent.DateTime{timezone = true}"
  end
  return "argent." .. name
end

-- A server default as Lua: a Lua value given as one, else argent.text(SQL).
local function default_lua(value, sql_text)
  local vt = type(value)
  if vt == "string" then return q(value) end
  if vt == "number" or vt == "boolean" then return tostring(value) end
  if sql_text then return "argent.text(" .. q(sql_text) .. ")" end
  return nil
end

local function opts_text(opts)
  if #opts == 0 then return "" end
  return ", {" .. table.concat(opts, ", ") .. "}"
end

--- A model column (element) as argent.Column(...), without what compare gives
--- its own operations (indexes, unique constraints; foreign keys unless with_fk).
function M.column(col, dialect, with_fk)
  local ci = info(col)
  local o = {}
  if ci.primary_key then o[#o + 1] = "primary_key = true" end
  local t = ci.table
  local int = ci.type.__type == "Integer" or ci.type.__type == "BigInteger" or ci.type.__type == "SmallInteger"
  if ci.primary_key and int and #t.primary_key == 1 and not ci.autoincrement then o[#o + 1] = "autoincrement = false" end
  if not ci.nullable and not ci.primary_key then o[#o + 1] = "nullable = false" end
  if ci.server_default ~= nil then
    local _, dtext = sql.column_ddl(col, dialect)
    o[#o + 1] = "server_default = " .. default_lua(ci.server_default, dtext)
  end
  if with_fk and ci.foreign_key then
    local fk = ci.foreign_key
    local fo = {}
    local name
    for _, f in ipairs(t.foreign_keys) do
      if f.column == col then name = f.name end
    end
    if name or fk.name then fo[#fo + 1] = "name = " .. q(name or fk.name) end
    if fk.ondelete then fo[#fo + 1] = "ondelete = " .. q(fk.ondelete) end
    if fk.onupdate then fo[#fo + 1] = "onupdate = " .. q(fk.onupdate) end
    o[#o + 1] = ("foreign_key = argent.ForeignKey(%s%s)"):format(q(fk.target), opts_text(fo))
  end
  if ci.comment ~= nil then o[#o + 1] = "comment = " .. q(tostring(ci.comment)) end
  return ("argent.Column(%s, %s%s)"):format(q(ci.name), M.type(ci.type), opts_text(o))
end

--- A reflected column as argent.Column(...) (fks: {column -> fk} of single-column keys).
function M.reflected_column(c, fks)
  local o = {}
  if c.primary_key then o[#o + 1] = "primary_key = true" end
  if not c.nullable and not c.primary_key then o[#o + 1] = "nullable = false" end
  if c.default ~= nil and not c.autoincrement then o[#o + 1] = "server_default = argent.text(" .. q(c.default) .. ")" end
  local fk = fks and fks[c.name]
  if fk then
    local fo = {}
    if fk.name then fo[#fo + 1] = "name = " .. q(fk.name) end
    if fk.options.ondelete then fo[#fo + 1] = "ondelete = " .. q(fk.options.ondelete) end
    if fk.options.onupdate then fo[#fo + 1] = "onupdate = " .. q(fk.options.onupdate) end
    o[#o + 1] = ("foreign_key = argent.ForeignKey(%s%s)"):format(q(fk.referred_table .. "." .. fk.referred_columns[1]),
      opts_text(fo))
  end
  if c.comment ~= nil then o[#o + 1] = "comment = " .. q(c.comment) end
  local typ = M.type(c.type)
  local note = ""
  if c.type.__type == "Text" and c.type.sql_name and not c.type.sql_name:find("TEXT", 1, true) then
    note = (" --[[ the database's type: %s ]]"):format(c.sql_type)
  end
  return ("argent.Column(%s, %s%s)%s"):format(q(c.name), typ, opts_text(o), note)
end

-- ---- data loss

local INTEGER_RANK = {SmallInteger = 1, Integer = 2, BigInteger = 3}
local WIDER = {Text = {String = true, Enum = true}, String = {Enum = true}, Double = {Float = true},
               Numeric = {Integer = true, SmallInteger = true, BigInteger = true},
               BigInteger = {Integer = true, SmallInteger = true}, Integer = {SmallInteger = true},
               LargeBinary = {}, JSON = {}, DateTime = {Date = true}}

--- Does changing a column from type `from` to `to` lose or refuse values?
function M.narrows(from, to)
  local f, t = from.__type, to.__type
  if f == t then
    if f == "String" or f == "LargeBinary" then
      return to.length ~= nil and (from.length == nil or to.length < from.length)
    elseif f == "Numeric" then
      return (to.precision and (from.precision == nil or to.precision < from.precision))
        or ((to.scale or 0) < (from.scale or 0)) or false
    elseif f == "Enum" then
      local keep = {}
      for _, v in ipairs(to.enums) do keep[v] = true end
      for _, v in ipairs(from.enums or {}) do if not keep[v] then return true end end
    end
    return false
  end
  if INTEGER_RANK[f] and INTEGER_RANK[t] then return INTEGER_RANK[t] < INTEGER_RANK[f] end
  if t == "String" and f == "Enum" then return to.length ~= nil and to.length < (from.length or 0) end
  if WIDER[t] and WIDER[t][f] then return false end
  return true
end

-- ---- operations

local function index_lines(tname, name, cols, unique)
  return ("op.create_index(%s, %s, %s%s)"):format(q(name), q(tname), list_of_strings(cols),
    unique and ", {unique = true}" or "")
end

local function create_table_lines(t, dialect)
  local items = {}
  for _, col in ipairs(t.columns) do items[#items + 1] = M.column(col, dialect, true) end
  for _, c in ipairs(t.constraints) do
    local cols = {}
    for i, col in ipairs(c.columns or {}) do cols[i] = q(info(col).name) end
    if c.kind == "unique" then
      if c.name then cols[#cols + 1] = "{name = " .. q(c.name) .. "}" end
      items[#items + 1] = "argent.UniqueConstraint(" .. table.concat(cols, ", ") .. ")"
    else
      items[#items + 1] = ("argent.CheckConstraint(%s%s)"):format(q(c.text), c.name and (", {name = " .. q(c.name) .. "}") or "")
    end
  end
  local lines = {("op.create_table(%s,"):format(q(t.name))}
  for i, item in ipairs(items) do lines[#lines + 1] = "  " .. item .. (i < #items and "," or ")") end
  for _, ix in ipairs(t.indexes) do
    local cols = {}
    for i, col in ipairs(ix.columns) do cols[i] = info(col).name end
    lines[#lines + 1] = index_lines(t.name, ix.name, cols, ix.unique)
  end
  return lines
end

local function reflected_table_lines(r)
  local fks, multi = {}, {}
  for _, fk in ipairs(r.foreign_keys) do
    if #fk.constrained_columns == 1 and not fks[fk.constrained_columns[1]] then fks[fk.constrained_columns[1]] = fk
    else multi[#multi + 1] = fk end
  end
  local items = {}
  for _, c in ipairs(r.columns) do items[#items + 1] = M.reflected_column(c, fks) end
  local lines = {("op.create_table(%s,"):format(q(r.name))}
  local indexes = {}
  for _, ix in ipairs(r.indexes) do
    if not ix.duplicates_constraint and not ix.expressions then indexes[#indexes + 1] = ix end
  end
  for _, u in ipairs(r.uniques) do
    local cols = {}
    for i, c in ipairs(u.column_names) do cols[i] = q(c) end
    if u.name then cols[#cols + 1] = "{name = " .. q(u.name) .. "}" end
    items[#items + 1] = "argent.UniqueConstraint(" .. table.concat(cols, ", ") .. ")"
  end
  for _, ck in ipairs(r.checks or {}) do
    items[#items + 1] = ("argent.CheckConstraint(%s%s)"):format(q(ck.sqltext), ck.name and (", {name = " .. q(ck.name) .. "}") or "")
  end
  for i, item in ipairs(items) do lines[#lines + 1] = "  " .. item .. (i < #items and "," or ")") end
  for _, ix in ipairs(indexes) do lines[#lines + 1] = index_lines(r.name, ix.name, ix.column_names, ix.unique) end
  for _, fk in ipairs(multi) do
    lines[#lines + 1] = ("op.create_foreign_key(%s, %s, %s, %s, %s)"):format(fk.name and q(fk.name) or "nil",
      q(r.name), q(fk.referred_table), list_of_strings(fk.constrained_columns), list_of_strings(fk.referred_columns))
  end
  return lines
end

local function fk_lines(tname, f)
  local o = {}
  if f.ondelete then o[#o + 1] = "ondelete = " .. q(f.ondelete) end
  if f.onupdate then o[#o + 1] = "onupdate = " .. q(f.onupdate) end
  return ("op.create_foreign_key(%s, %s, %s, %s, %s%s)"):format(f.name and q(f.name) or "nil", q(tname),
    q(f.referred_table), list_of_strings(f.columns), list_of_strings(f.referred_columns), opts_text(o))
end

local function no_name(what, tname, cols, key)
  return ("-- the %s on %s(%s) has no name to drop it by: give MetaData a naming_convention (%s)")
    :format(what, tname, table.concat(cols, ", "), key)
end

-- {up = lines, down = lines} for one difference.
local function render_diff(d, dialect)
  local k = d.kind
  if k == "add_enum" then
    return {up = {("op.create_enum(%s, %s)"):format(q(d.name), list_of_strings(d.labels))},
            down = {("op.drop_enum(%s)"):format(q(d.name))}}
  elseif k == "remove_enum" then
    return {up = {("op.drop_enum(%s)"):format(q(d.name))},
            down = {("op.create_enum(%s, %s)"):format(q(d.name), list_of_strings(d.labels))}}
  elseif k == "add_enum_value" then
    return {up = {("op.add_enum_value(%s, %s%s)"):format(q(d.name), q(d.value), d.after and (", {after = " .. q(d.after) .. "}") or "")},
            down = {("-- PostgreSQL cannot remove the value %s from enum type %s"):format(q(d.value), d.name)}}
  elseif k == "remove_enum_value" then
    return {up = {("-- enum type %s keeps the value %s that the model dropped (PostgreSQL cannot remove an enum value)")
      :format(d.name, q(d.value))}, down = {}}
  elseif k == "add_table" then
    return {up = create_table_lines(d.model, dialect), down = {("op.drop_table(%s)"):format(q(d.table))}}
  elseif k == "remove_table" then
    return {up = {("-- drops table %s with all its rows"):format(d.table), ("op.drop_table(%s)"):format(q(d.table))},
            down = reflected_table_lines(d.reflected)}
  elseif k == "add_column" then
    return {up = {("op.add_column(%s, %s)"):format(q(d.table), M.column(d.model, dialect, false))},
            down = {("op.drop_column(%s, %s)"):format(q(d.table), q(d.column))}}
  elseif k == "remove_column" then
    local lines = {}
    if d.rename_hint then
      lines[#lines + 1] = ("-- %s.%s is dropped and %s.%s added with the same type: if it is a rename, keep the data")
        :format(d.table, d.column, d.table, d.rename_hint)
      lines[#lines + 1] = ("-- with op.alter_column(%s, %s, {new_column_name = %s}) instead of the two")
        :format(q(d.table), q(d.column), q(d.rename_hint))
    end
    lines[#lines + 1] = ("-- loses the data of column %s.%s"):format(d.table, d.column)
    lines[#lines + 1] = ("op.drop_column(%s, %s)"):format(q(d.table), q(d.column))
    return {up = lines, down = {("op.add_column(%s, %s)"):format(q(d.table), M.reflected_column(d.reflected))}}
  elseif k == "modify_column" then
    local ch, col, rc = d.changes, d.model, d.reflected
    local ci = info(col)
    local up, down = {}, {}
    local _, model_default = sql.column_ddl(col, dialect)
    if ch.type then
      up[#up + 1] = "type = " .. M.type(ci.type)
      down[#down + 1] = "type = " .. M.type(rc.type)
    end
    if ch.nullable then
      up[#up + 1] = "nullable = " .. tostring(ci.nullable)
      down[#down + 1] = "nullable = " .. tostring(rc.nullable)
    end
    local reflected_default = rc.default ~= nil and ("argent.text(" .. q(rc.default) .. ")") or nil
    local new_default = ci.server_default ~= nil and default_lua(ci.server_default, model_default) or nil
    if ch.default then
      up[#up + 1] = "server_default = " .. (new_default or "false")
      down[#down + 1] = "server_default = " .. (reflected_default or "false")
    end
    if ch.comment then
      up[#up + 1] = "comment = " .. (ch.comment.to and q(ch.comment.to) or "false")
      down[#down + 1] = "comment = " .. (ch.comment.from and q(ch.comment.from) or "false")
    end
    -- what MariaDB's MODIFY COLUMN restates (offline it cannot read it)
    up[#up + 1] = "existing_type = " .. M.type(rc.type)
    up[#up + 1] = "existing_nullable = " .. tostring(rc.nullable)
    down[#down + 1] = "existing_type = " .. M.type(ci.type)
    down[#down + 1] = "existing_nullable = " .. tostring(ci.nullable)
    if not ch.default then
      if reflected_default then up[#up + 1] = "existing_server_default = " .. reflected_default end
      if new_default then down[#down + 1] = "existing_server_default = " .. new_default end
    end
    local lines = {}
    if ch.type and M.narrows(rc.type, ci.type) then
      lines[#lines + 1] = ("-- narrows the type of %s.%s (%s -> %s): values that do not fit are lost or refused")
        :format(d.table, d.column, ch.type.from, ch.type.to)
    end
    if ch.nullable and not ci.nullable then
      lines[#lines + 1] = ("-- %s.%s becomes NOT NULL: rows where it is NULL make this fail"):format(d.table, d.column)
    end
    lines[#lines + 1] = ("op.alter_column(%s, %s, {%s})"):format(q(d.table), q(d.column), table.concat(up, ", "))
    local back = {}
    if ch.type and M.narrows(ci.type, rc.type) then
      back[#back + 1] = ("-- narrows the type of %s.%s back: values that do not fit are lost or refused")
        :format(d.table, d.column)
    end
    back[#back + 1] = ("op.alter_column(%s, %s, {%s})"):format(q(d.table), q(d.column), table.concat(down, ", "))
    return {up = lines, down = back}
  elseif k == "add_index" then
    return {up = {index_lines(d.table, d.name, d.columns, d.unique)},
            down = {("op.drop_index(%s, %s)"):format(q(d.name), q(d.table))}}
  elseif k == "remove_index" then
    return {up = {("op.drop_index(%s, %s)"):format(q(d.name), q(d.table))},
            down = {index_lines(d.table, d.name, d.columns, d.unique)}}
  elseif k == "add_unique" then
    local up = {("op.create_unique_constraint(%s, %s, %s)"):format(d.name and q(d.name) or "nil", q(d.table),
      list_of_strings(d.columns))}
    local down = d.name and {("op.drop_constraint(%s, %s, {type = \"unique\"})"):format(q(d.name), q(d.table))}
      or {no_name("unique constraint", d.table, d.columns, "uq")}
    return {up = up, down = down}
  elseif k == "remove_unique" then
    local up = d.name and {("op.drop_constraint(%s, %s, {type = \"unique\"})"):format(q(d.name), q(d.table))}
      or {no_name("unique constraint", d.table, d.columns, "uq")}
    return {up = up, down = {("op.create_unique_constraint(%s, %s, %s)"):format(d.name and q(d.name) or "nil",
      q(d.table), list_of_strings(d.columns))}}
  elseif k == "add_fk" then
    local down = d.name and {("op.drop_constraint(%s, %s, {type = \"foreignkey\"})"):format(q(d.name), q(d.table))}
      or {no_name("foreign key", d.table, d.fk.columns, "fk")}
    return {up = {fk_lines(d.table, d.fk)}, down = down}
  elseif k == "remove_fk" then
    local up = d.name and {("op.drop_constraint(%s, %s, {type = \"foreignkey\"})"):format(q(d.name), q(d.table))}
      or {no_name("foreign key", d.table, d.fk.columns, "fk")}
    return {up = up, down = {fk_lines(d.table, d.fk)}}
  end
  return {up = {"-- " .. tostring(d.text)}, down = {}}
end

-- Marks columns dropped while another of the same type is added to the same table.
local function find_renames(diffs, dialect)
  local added = {}
  for _, d in ipairs(diffs) do
    if d.kind == "add_column" then
      local text = sql.column_ddl(d.model, dialect)
      added[#added + 1] = {table = d.table, column = d.column, type = compare.normalize_type(dialect, text), used = false}
    end
  end
  for _, d in ipairs(diffs) do
    if d.kind == "remove_column" then
      local rtype = compare.normalize_type(dialect, d.reflected.sql_type)
      for _, a in ipairs(added) do
        if not a.used and a.table == d.table and a.type == rtype then
          d.rename_hint = a.column
          a.used = true
          break
        end
      end
    end
  end
end

--- The upgrade and downgrade lines for diffs (lists of strings, unindented).
function M.operations(diffs, dialect)
  find_renames(diffs, dialect)
  local up, rendered = {}, {}
  for i, d in ipairs(diffs) do
    rendered[i] = render_diff(d, dialect)
    for _, line in ipairs(rendered[i].up) do up[#up + 1] = line end
  end
  local down = {}
  for i = #rendered, 1, -1 do
    for _, line in ipairs(rendered[i].down) do down[#down + 1] = line end
  end
  return up, down
end

local function body(lines, placeholder)
  if #lines == 0 then return "    " .. placeholder .. "\n" end
  local out = {}
  for _, l in ipairs(lines) do out[#out + 1] = "    " .. l .. "\n" end
  return table.concat(out)
end

--- The text of a revision file.  r = {id, message, parents (list), up, down (line lists)}
function M.file(r)
  local down
  if #r.parents == 0 then down = "nil"
  elseif #r.parents == 1 then down = q(r.parents[1])
  else down = list_of_strings(r.parents) end
  local header = {}
  for line in (r.message .. "\n"):gmatch("([^\n]*)\n") do header[#header + 1] = "-- " .. line end
  return table.concat(header, "\n") .. "\n"
    .. "--\n"
    .. ("-- Revision ID: %s\n"):format(r.id)
    .. ("-- Revises: %s\n"):format(#r.parents > 0 and table.concat(r.parents, ", ") or "(base)")
    .. ("-- Create Date: %s\n"):format(os.date("!%Y-%m-%d %H:%M:%S UTC"))
    .. "local argent = require \"argent\"\n\n"
    .. "return {\n"
    .. ("  revision = %s,\n"):format(q(r.id))
    .. ("  down_revision = %s,\n"):format(down)
    .. ("  message = %s,\n\n"):format(q(r.message))
    .. "  upgrade = function(op)\n"
    .. body(r.up or {}, r.merge and "-- a merge: nothing to do" or "-- the changes, e.g. op.add_column(\"users\", argent.Column(\"age\", argent.Integer))")
    .. "  end,\n\n"
    .. "  downgrade = function(op)\n"
    .. body(r.down or {}, r.merge and "-- a merge: nothing to do" or "-- what undoes them, e.g. op.drop_column(\"users\", \"age\")")
    .. "  end,\n"
    .. "}\n"
end

return M
