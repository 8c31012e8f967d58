-- argent.compat -- the Lua-version differences of argent's Lua layer
-- (API.md section 10): the same code runs on Lua 5.4, 5.3, 5.1 and LuaJIT.
-- Use these instead of table.unpack/pack/move, math.type/tointeger, and of
-- `<close>` variables (compat.closing).  No `//`, `goto` or bit operators in
-- lua/argent: 5.1 cannot parse them (write n * 16 + m, math.floor(a / b)).

local compat = {}

--- The Lua this runs on: "5.4", "5.3", "5.1" or "luajit".
compat.lua = (jit and "luajit") or _VERSION:match("%d+%.%d+")

local unpack = table.unpack or unpack -- luacheck: ignore (5.1's global)
compat.unpack = unpack

compat.pack = table.pack or function(...)
  return {n = select("#", ...), ...}
end

--- table.move(a1, f, e, t [, a2])
compat.move = table.move or function(a1, f, e, t, a2)
  a2 = a2 or a1
  if e >= f then
    if t > f or t > e or a1 ~= a2 then
      for i = e - f, 0, -1 do a2[t + i] = a1[f + i] end
    else
      for i = 0, e - f do a2[t + i] = a1[f + i] end
    end
  end
  return a2
end

-- Below 5.3 every number is a double: one that holds an integer exactly
-- (|n| <= 2^53) counts as an integer, as the C bindings count it.
local EXACT = 2 ^ 53

--- math.type(v): "integer", "float" or nil.
compat.math_type = math.type or function(v)
  if type(v) ~= "number" then return nil end
  if v == math.floor(v) and v >= -EXACT and v <= EXACT then return "integer" end
  return "float"
end

--- math.tointeger(v): the integer v holds exactly, or nil (fail).
compat.tointeger = math.tointeger or function(v)
  if compat.math_type(v) == "integer" then return v end
  return nil
end

--- Whether integers are 64-bit (5.3+), else doubles (5.1, LuaJIT) where a
--- database integer beyond 2^53 comes back as its decimal string.
compat.has_integers = math.type ~= nil

--- load(text, chunkname [, mode [, env]]) for a string (5.1's load takes
--- a function only; its loadstring has no mode and no env).
if _VERSION == "Lua 5.1" and not jit then
  function compat.load(text, chunkname, mode, env)
    if type(text) ~= "string" then return load(text, chunkname) end
    if mode == "t" and text:byte(1) == 27 then return nil, "attempt to load a binary chunk (mode is 't')" end
    local fn, err = loadstring(text, chunkname) -- luacheck: ignore (5.1)
    if fn and env ~= nil then setfenv(fn, env) end -- luacheck: ignore (5.1)
    return fn, err
  end
else
  compat.load = load
end

--- pairs(v) honouring a __pairs metamethod, which 5.1 and LuaJIT ignore
--- (argent's model instances have one: their columns in order).
local raw_metatable = debug and debug.getmetatable or getmetatable -- instances protect theirs

function compat.pairs(v)
  local mt = raw_metatable(v)
  local p = type(mt) == "table" and rawget(mt, "__pairs")
  if p then return p(v) end
  return pairs(v)
end

--- Whether a weak-keyed table lets a key go whose value refers to it
--- (ephemerons, 5.2+); 5.1 and LuaJIT keep both.
compat.has_ephemerons = _VERSION ~= "Lua 5.1"

local function close_value(v, err)
  if v == nil or v == false then return end
  local mt = getmetatable(v)
  local close = type(mt) == "table" and rawget(mt, "__close")
  if close then
    close(v, err)
  else
    v:close()
  end
end

--- compat.closing(v, fn, ...): fn(...), then closes v however fn ends, as
--- `local v <close> = ...` does in 5.4 (the error, if any, is passed on).
function compat.closing(v, fn, ...)
  local res = compat.pack(pcall(fn, ...))
  if res[1] then
    close_value(v, nil)
    return unpack(res, 2, res.n)
  end
  close_value(v, res[2])
  error(res[2], 0)
end

return compat
