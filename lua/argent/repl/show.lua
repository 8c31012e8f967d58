-- argent.repl.show: what a Lua value looks like at the prompt, when it is
-- not rows -- model instances as <User id=1 username="ann">, the changed but
-- unflushed attributes marked with *; queries and statements as their SQL
-- and parameters; models and tables as their columns; other tables as Lua
-- constructors (nested, keys sorted, cycles marked), short enough to read.
--
-- Nothing here runs SQL except reading an expired instance's attributes
-- (as reading them in the program would) and compiling a statement.
local core = require "argent.core"
local format = require "argent.repl.format"

local M = {}
local corm = core.orm
local concat, sort, type, tostring = table.concat, table.sort, type, tostring

local MAX_ITEMS = 100 -- entries of one table shown before "..."
local MAX_DEPTH = 6

local QUOTE_ESCAPES = {['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                       ["\0"] = "\\0"}

--- s as a Lua string literal ("...", binary bytes as \xHH).
local function quote(s)
  if format.is_text(s) then
    return '"' .. s:gsub('[%c"\\]', function(c) return QUOTE_ESCAPES[c] or ("\\%03d"):format(c:byte()) end) .. '"'
  end
  return '"' .. s:gsub(".", function(c)
    local b = c:byte()
    if b >= 32 and b < 127 and c ~= '"' and c ~= "\\" then return c end
    return ("\\x%02x"):format(b)
  end) .. '"'
end
M.quote = quote

local function metaname(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__name") or nil
end

function M.is_instance(v) return type(v) == "userdata" and corm.is_instance(v) end

-- Lazily required: argent.orm and argent.session load the whole ORM.
local function orm() return require "argent.orm" end
local function is_model(v) return orm().is_model(v) end
M.is_model = is_model

local function is_query(v) return metaname(v) == "argent.Query" and rawget(v, "model") ~= nil end

--- The SQL tag of a statement built with argent ("SELECT", ...), or nil.
local function statement_tag(v)
  local t = type(v)
  if t ~= "table" and t ~= "userdata" then return nil end
  if is_model(v) or metaname(v) == "argent.Table" then return nil end
  local ok, tag = pcall(core.sql.tag, v)
  return ok and tag or nil
end
M.statement_tag = statement_tag

-- ---------------------------------------------------------------- scalars

local scalar

--- A value as it appears inside a constructor or an instance.
function scalar(v)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then return format.number_text(v) end
  if v == nil or t == "boolean" then return tostring(v) end
  if v == core.null then return "argent.null" end
  return nil
end

-- ---------------------------------------------------------------- instances

local STATES = {transient = "transient", pending = "pending", deleted = "deleted", detached = "detached"}

--- The values of an instance's columns, in order: {key, value, changed}.
--- Expired attributes are read (one SELECT, as the program would); when
--- that cannot be done (detached) what is loaded is shown.
function M.instance_fields(o)
  local values, dirty, mapper = corm.internals(o)
  local out = {}
  for i, key in ipairs(mapper.columns) do
    local v = rawget(values, key)
    if v == nil then
      local ok, loaded = pcall(function() return o[key] end)
      if ok then v = loaded end
    end
    out[i] = {key = key, value = v, changed = dirty and dirty[key] and true or false}
  end
  return out, mapper
end

--- <User id=1 username="ann" email*="new@x.org">: nil columns left out,
--- changed and not yet flushed ones marked with *.
function M.instance(o)
  local fields, mapper = M.instance_fields(o)
  local parts = {"<" .. tostring(mapper.name)}
  local state = corm.state(o)
  if STATES[state] then parts[#parts + 1] = "(" .. state .. ")" end
  for _, f in ipairs(fields) do
    if f.value ~= nil then
      local text = scalar(f.value) or format.cell_text(f.value)
      parts[#parts + 1] = f.key .. (f.changed and "*=" or "=") .. text
    end
  end
  return concat(parts, " ") .. ">"
end

-- ---------------------------------------------------------------- constructors

local IDENT = "^[%a_][%w_]*$"
local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat return then
  true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local function key_text(k)
  if type(k) == "string" and k:match(IDENT) and not KEYWORDS[k] then return k end
  return "[" .. (scalar(k) or tostring(k)) .. "]"
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local constructor

-- A short description of a value that has its own meaning (not a plain table).
local function special(v)
  if M.is_instance(v) then return M.instance(v) end
  if is_model(v) then return ("<model %s>"):format(rawget(v, "__name")) end
  local name = metaname(v)
  if name == "argent.Table" then return ("<Table %s>"):format(tostring(rawget(v, "name"))) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, v)
    if ok and type(s) == "string" then return s end
  end
  if name then return ("<%s>"):format(name) end
  return nil
end

-- The lines of a constructor for t, indented by indent, within width.
function constructor(t, indent, width, path, depth)
  if path[t] then return "<cycle>" end
  if depth > MAX_DEPTH then return "{...}" end
  path[t] = true
  local n = #t
  local items, keys = {}, {}
  for k in pairs(t) do
    if not (type(k) == "number" and k >= 1 and k <= n and k == math.floor(k)) then keys[#keys + 1] = k end
  end
  sort(keys, key_order)
  local shown, total = 0, n + #keys
  local function value_text(v, ind)
    if type(v) == "table" and getmetatable(v) == nil then return constructor(v, ind, width, path, depth + 1) end
    return scalar(v) or special(v) or tostring(v)
  end
  local inner = indent .. "  "
  for i = 1, n do
    if shown >= MAX_ITEMS then break end
    items[#items + 1] = value_text(t[i], inner)
    shown = shown + 1
  end
  for _, k in ipairs(keys) do
    if shown >= MAX_ITEMS then break end
    items[#items + 1] = key_text(k) .. " = " .. value_text(t[k], inner)
    shown = shown + 1
  end
  if shown < total then items[#items + 1] = ("... (%d more)"):format(total - shown) end
  path[t] = nil
  if #items == 0 then return "{}" end
  local one = "{" .. concat(items, ", ") .. "}"
  if not one:find("\n") and #indent + format.width(one) <= width then return one end
  return "{\n" .. inner .. concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

--- A table as a Lua constructor.
function M.constructor(t, width) return constructor(t, "", width or 80, {}, 1) end

-- ---------------------------------------------------------------- queries

--- The SQL of a statement or an ORM query for bind (an engine), and its
--- parameters as a constructor line.
function M.query(v, bind)
  local stmt = v
  if is_query(v) then stmt = v:statement() end
  local sql, params = stmt:compile(bind)
  local text = sql
  if params and next(params) ~= nil then
    local shown = {}
    local n = params.n or #params
    for i = 1, n do shown[i] = scalar(params[i]) or tostring(params[i]) end
    text = text .. "\n-- parameters: {" .. concat(shown, ", ") .. "}"
  end
  return text
end

M.is_query = is_query

--- The columns of a Table (or a model's table) as rows: name, type,
--- nullable, default, key.
function M.table_columns(t)
  local rows = {}
  for _, c in ipairs(rawget(t, "columns") or {}) do
    local inf = core.sql.info(c)
    local key = {}
    if inf.primary_key then key[#key + 1] = "PK" end
    local fk = inf.foreign_key
    if fk then key[#key + 1] = "FK " .. tostring(type(fk) == "table" and (fk.target or fk.column or "") or fk) end
    local typ = inf.type
    local default = inf.server_default or inf.default
    rows[#rows + 1] = {inf.name, typ and tostring(typ) or nil, inf.nullable ~= false,
                       default ~= nil and (scalar(default) or tostring(default)) or nil,
                       #key > 0 and concat(key, ", ") or nil}
  end
  return {"column", "type", "nullable", "default", "key"}, rows
end

return M
