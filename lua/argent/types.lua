-- argent.types: the column types of API.md section 4, as Lua values.
--
-- A type is a table with `__type` (its name, which the C bindings read:
-- src/lua/convert.c, whose list of names is argent.core.type_names) and its
-- parameters (length, precision, scale,
-- as_number, enums).  Each type is usable as it is (argent.Integer,
-- argent.String) and callable for parameters (argent.String(128),
-- argent.Numeric(10, 2), argent.Enum("a", "b")); a call makes a new type
-- value and never changes the original.
local compat = require "argent.compat"
local core = require "argent.core"

local raise = core.error
local guard = require "argent.guard"
local types = {}

local Type = {}
Type.__index = Type
Type.__name = "argent.Type"

function Type.__tostring(t)
  guard.check_self(t, Type, "__tostring", "tostring(argent.String)")
  if t.sql_name then return t.sql_name end -- a reflected type: the database's own name
  if t.__type == "Enum" then
    local q = {}
    for i, v in ipairs(t.enums) do q[i] = ("%q"):format(v) end
    if t.name then q[#q + 1] = ("{name = %q}"):format(t.name) end
    return "Enum(" .. table.concat(q, ", ") .. ")"
  elseif t.__type == "Numeric" and t.precision then
    return ("Numeric(%d, %d)"):format(t.precision, t.scale or 0)
  elseif t.length then
    return ("%s(%d)"):format(t.__type, t.length)
  elseif t.timezone then
    return t.__type .. "(timezone=true)"
  end
  return t.__type
end

local function check_count(name, v, what)
  if v ~= nil and (compat.math_type(v) ~= "integer" or v < 0) then
    raise("ArgumentError", ("%s: %s must be a non-negative integer, got %s"):format(name, what,
      type(v) == "string" and ("'" .. v .. "'") or tostring(v)))
  end
end

-- The constructor of each parametrised type (self is the base type).
local makers = {}

function makers.String(base, length)
  check_count("String", length, "the length")
  return setmetatable({__type = base.__type, length = length}, Type)
end
makers.LargeBinary = makers.String

function makers.Numeric(base, precision, scale, opts)
  if type(scale) == "table" and opts == nil then opts, scale = scale, nil end
  check_count("Numeric", precision, "the precision")
  check_count("Numeric", scale, "the scale")
  if opts ~= nil and type(opts) ~= "table" then
    raise("ArgumentError", "Numeric: options must be a table, got " .. type(opts))
  end
  return setmetatable({__type = "Numeric", precision = precision, scale = scale or (precision and 0) or nil,
                       as_number = opts and opts.as_number and true or nil}, Type)
end

-- DateTime{timezone = true}: an instant, kept as UTC (timestamptz on
-- PostgreSQL); a plain DateTime is a wall-clock time and takes no offset.
function makers.DateTime(base, opts)
  if opts ~= nil and type(opts) ~= "table" then
    raise("ArgumentError", "DateTime: options must be a table like {timezone = true}, got " .. type(opts))
  end
  for k in pairs(opts or {}) do
    if k ~= "timezone" then
      raise("ArgumentError", ("DateTime: unknown option '%s' (timezone)"):format(tostring(k)))
    end
  end
  return setmetatable({__type = "DateTime", timezone = opts and opts.timezone and true or nil}, Type)
end

function makers.Enum(base, ...)
  local n = select("#", ...)
  local args = {...}
  -- a last table that is not a list of values holds the options: {name =, native_enum =}
  local opts
  if n >= 1 and type(args[n]) == "table" and (n >= 2 or args[n][1] == nil) then
    opts = args[n]
    n = n - 1
  end
  local enums = {}
  if n == 1 and type(args[1]) == "table" then
    for i, v in ipairs(args[1]) do enums[i] = v end
  else
    for i = 1, n do enums[i] = args[i] end
  end
  if #enums == 0 then raise("ArgumentError", "Enum: needs at least one value") end
  local longest = 0
  for i, v in ipairs(enums) do
    if type(v) ~= "string" then
      raise("ArgumentError", ("Enum: value %d must be a string, got %s"):format(i, type(v)))
    end
    if #v > longest then longest = #v end
  end
  local name, native
  for k, v in pairs(opts or {}) do
    if k == "name" then
      if type(v) ~= "string" or v == "" or v:find("\0", 1, true) then
        raise("ArgumentError", "Enum: option 'name' must be a non-empty string, got " .. type(v))
      end
      name = v
    elseif k == "native_enum" then
      native = v and true or false
    else
      raise("ArgumentError", ("Enum: unknown option '%s' (name, native_enum)"):format(tostring(k)))
    end
  end
  -- a named Enum is PostgreSQL's own enum type of that name (unless native_enum = false)
  return setmetatable({__type = "Enum", enums = enums, length = longest, name = name, native_enum = native}, Type)
end

local function plain(base, ...)
  if select("#", ...) > 0 then
    raise("ArgumentError", base.__type .. " takes no parameters")
  end
  return setmetatable({__type = base.__type}, Type)
end

function Type.__call(base, ...)
  guard.check_self(base, Type, "__call", "argent.String(50)")
  return (makers[base.__type] or plain)(base, ...)
end

for _, name in ipairs(core.type_names) do -- the one list, src/lua/convert.c's
  types[name] = setmetatable({__type = name}, Type)
end
-- a bare Enum has no values; only Enum(...) is a usable column type
types.Enum.enums = {}

--- Is v a type value?
function types.is_type(v)
  return getmetatable(v) == Type
end

--- The type value for v: a type, or nil with an error message.
function types.check(v, what)
  if getmetatable(v) == Type then return v end
  raise("ArgumentError", ("%s must be an argent type (argent.Integer, argent.String(50), ...), got %s")
    :format(tostring(what), type(v) == "string" and ("'" .. v .. "'") or type(v)))
end

-- What each type accepts from Lua (API.md section 1); a value that cannot
-- fit is refused before the database sees it, the same on every dialect
-- (SQLite would store it as it is, MariaDB would bend it).
local function integral(v)
  return compat.math_type(v) == "integer" or (compat.math_type(v) == "float" and v == math.floor(v))
    or (type(v) == "string" and v:match("^%s*[-+]?%d+%s*$") ~= nil)
end
local function numeric(v)
  return type(v) == "number" or (type(v) == "string" and tonumber(v) ~= nil)
end
local DATE = "^%d%d%d%d%-%d%d%-%d%d$"
local function is_time(v)
  return v:match("^%d%d:%d%d$") or v:match("^%d%d:%d%d:%d%d$") or v:match("^%d%d:%d%d:%d%d%.%d+$")
end
local function is_datetime(v)
  if v:match(DATE) then return true end
  local d, rest = v:match("^(%d%d%d%d%-%d%d%-%d%d)[ T](.+)$")
  if not d then return false end
  -- an offset ("Z", "+05:00", "-0330", "+05") is read here; whether the
  -- column takes one is decided in C (src/lua/expression.c): DataError
  rest = rest:gsub("[Zz]$", ""):gsub("%s*[+-]%d%d:%d%d:%d%d$", ""):gsub("%s*[+-]%d%d:?%d%d$", "")
    :gsub("%s*[+-]%d%d$", "")
  return is_time(rest) ~= nil
end

local accepts = {
  Integer = integral, BigInteger = integral, SmallInteger = integral,
  Float = numeric, Double = numeric, Numeric = numeric,
  Boolean = function(v) return type(v) == "boolean" or v == 0 or v == 1 end,
  Date = function(v) return type(v) == "string" and v:match(DATE) ~= nil end,
  DateTime = function(v) return type(v) == "string" and is_datetime(v) end,
  Time = function(v) return type(v) == "string" and is_time(v) ~= nil end,
  LargeBinary = function(v) return type(v) == "string" end,
}
local EXAMPLES = {Date = " (like \"2026-11-24\")", DateTime = " (like \"2026-11-24 02:26:03\")",
                  Time = " (like \"02:26:03\")"}

-- Checks a Lua value bound for a column of type t: raises an ArgumentError
-- that names the column, the type and the value when it cannot fit.
function types.check_value(t, v, column_name)
  if getmetatable(t) ~= Type then types.check(t, "check_value: argument 1") end
  if t.__type == "Enum" and type(v) == "string" and #t.enums > 0 then
    for _, e in ipairs(t.enums) do
      if e == v then return end
    end
    raise("ArgumentError", ("'%s' is not one of the Enum's values (%s) of column %s")
      :format(v, table.concat(t.enums, ", "), column_name or "?"))
  end
  local ok = accepts[t.__type]
  if ok and type(v) ~= "table" and type(v) ~= "userdata" and not ok(v) then
    local shown = type(v) == "string" and ("'" .. (#v > 40 and v:sub(1, 40) .. "..." or v) .. "'") or tostring(v)
    raise("ArgumentError", ("column %s (%s) cannot take %s %s%s"):format(column_name or "?", tostring(t),
      type(v), shown, EXAMPLES[t.__type] or ""))
  end
end

types.Type = Type
return types
