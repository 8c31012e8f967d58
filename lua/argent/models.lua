-- argent.models: the model classes a Lua module of models gives, for the
-- commands that take `-m MODULE` (argent repl, argent schema).  A module
-- returns a Base (its models, in the order they were declared, under their
-- model names) or a table of model classes (each under its key, sorted; a
-- Base in it is ignored).
local orm = require "argent.orm"

local M = {}

--- The models of the loaded module mod: a list of {name =, class =}.
function M.of(mod)
  local found = {}
  if type(mod) == "table" and getmetatable(mod) == getmetatable(orm.declarative_base()) then
    for _, model in ipairs(mod._models) do found[#found + 1] = {name = rawget(model, "__name"), class = model} end
  elseif type(mod) == "table" then
    local keys = {}
    for k, v in pairs(mod) do
      if type(k) == "string" and orm.is_model(v) then keys[#keys + 1] = k end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do found[#found + 1] = {name = k, class = mod[k]} end
  end
  return found
end

--- Requires each name (the current directory first on the path) and
--- returns all their models; a module with none is an error.
function M.require_all(names)
  if type(names) ~= "table" then
    require("argent.core").error("ArgumentError",
      "models.require_all: argument 'names' must be a list of module names, got " .. type(names))
  end
  for i, name in ipairs(names) do
    if type(name) ~= "string" then
      require("argent.core").error("ArgumentError",
        ("models.require_all: names[%d] must be a module name (a string), got %s"):format(i, type(name)))
    end
  end
  if names[1] and not package.path:find("^%./%?%.lua;") then
    package.path = "./?.lua;./?/init.lua;" .. package.path
  end
  local all = {}
  for _, name in ipairs(names) do
    local found = M.of(require(name))
    if #found == 0 then
      error(("-m %s: the module returned no models (a Base, or a table of model classes)"):format(name), 0)
    end
    for _, m in ipairs(found) do all[#all + 1] = m end
  end
  return all
end

return M
