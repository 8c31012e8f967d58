-- argent.guard: argument checks that the Lua layers share -- what type a
-- value is (for messages), whether it is an engine or a connection, and
-- the out-of-memory error that a probing pcall must let through.
--
-- create_all, drop_all, reflect and inspect take "an engine or a
-- connection"; duck typing (`bind.connect`) indexes whatever it is given,
-- and indexing a number, argent.null or a coroutine is Lua's own plain
-- error, not an ArgumentError that names the argument (API.md section 8).
local core = require "argent.core"

local raise = core.error
local getmetatable, type, rawget = getmetatable, type, rawget

local guard = {}

--- The type name of v for messages: "argent.Engine", "argent.MetaData", "nil", ...
function guard.type_name(v)
  local mt = getmetatable(v)
  if type(mt) == "string" then return mt end -- a protected metatable (argent.ClauseElement, argent.null)
  if type(mt) == "table" then
    local name = rawget(mt, "__name")
    if type(name) == "string" then return name end
  end
  return type(v)
end
local type_name = guard.type_name

--- Is v an argent engine or connection?
function guard.is_bind(v)
  if type(v) ~= "userdata" then return false end
  local name = type_name(v)
  return name == "argent.Engine" or name == "argent.Connection"
end

--- Is v an argent connection?
function guard.is_connection(v)
  return type(v) == "userdata" and type_name(v) == "argent.Connection"
end

--- Raises ArgumentError unless v is an engine or a connection.
function guard.check_bind(v, fname)
  if not guard.is_bind(v) then
    raise("ArgumentError", ("%s: argument 'bind' must be an argent.Engine or an argent.Connection, got %s")
      :format(fname, type_name(v)))
  end
end

--- Raises err again when it is the out-of-memory error: for a pcall that
--- probes (can v be indexed?) or that turns a failure into a better message,
--- so that running out of memory is never mistaken for a wrong argument.
function guard.rethrow_memory(err)
  if err == "not enough memory" then error(err, 0) end
end

--- Raises ArgumentError naming 'self' unless getmetatable(self) == mt.
function guard.check_self(self, mt, method, example)
  if getmetatable(self) ~= mt then
    raise("ArgumentError", ("%s: argument 'self' must be an %s (call it as %s), got %s")
      :format(method, rawget(mt, "__name") or "object", example, type_name(self)))
  end
end

return guard
