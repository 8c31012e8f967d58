-- tests/lua/run_lowered.lua -- runs a suite on Lua 5.1, LuaJIT or 5.3:
--
--   build-luajit/argent run tests/lua/run_lowered.lua tests/lua/test_X.lua -v
--
-- (from the repository root; CMake does this when ARGENT_LUA is not 5.4).
-- The suite and the tests.* modules it requires are loaded through
-- tests/lua/lower.lua, which turns their `<close>` variables into calls;
-- the library itself (lua/argent) is plain code that every version runs.

local lower = dofile("tests/lua/lower.lua")
-- luacheck: ignore (globals of the lowered code)
__ag_close, __ag_ret, __ag_compat = lower.close, lower.ret, require "argent.compat"
__ag_maxinteger = math.maxinteger or "9223372036854775807"
__ag_mininteger = math.mininteger or "-9223372036854775808"

local loadstring = loadstring or load
local unpack = table.unpack or unpack

local function load_lowered(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local src = f:read("*a")
  f:close()
  return loadstring(lower.source(src), "@" .. path)
end

-- tests.* modules: lowered too (searched before package.path)
local searchers = package.searchers or package.loaders
table.insert(searchers, 2, function(name)
  if not name:match("^tests%.") then return nil end
  local path = name:gsub("%.", "/") .. ".lua"
  local f = io.open(path, "rb")
  if not f then return "\n\tno file '" .. path .. "'" end
  f:close()
  return assert(load_lowered(path))
end)

-- the examples a suite runs (examples/blog.lua) are 5.4 programs too
local real_loadfile = loadfile
loadfile = function(path, ...) -- luacheck: ignore
  if type(path) == "string" and (path:match("^examples/") or path:match("^tests/")) then
    return load_lowered(path)
  end
  return real_loadfile(path, ...)
end

-- 5.1's os.exit takes a number only (the suites end with os.exit(0 or 1, true))
local exit = os.exit
os.exit = function(code, close) -- luacheck: ignore
  if code == true or code == nil then
    code = 0
  elseif code == false then
    code = 1
  end
  return exit(code, close)
end

local script = assert(arg[1], "usage: argent run tests/lua/run_lowered.lua SUITE [ARGS]")
local args = {}
for k = 2, #arg do args[#args + 1] = arg[k] end
local new_arg = {[-2] = arg[-2], [-1] = arg[-1], [0] = script} -- the argent program, "run"
for k, v in ipairs(args) do new_arg[k] = v end
arg = new_arg -- luacheck: ignore
local chunk = assert(load_lowered(script))
chunk(unpack(args))
