-- argent.repl.complete: what Tab offers (API.md section 9.2).
--
--   Lua       globals and keywords; fields after "." and methods after ":",
--             found without running anything: a table's keys and its
--             __index tables, a model's columns and relationships
--             (`User.us` -> `User.username`), an instance's attributes, a
--             Session's or a Query's methods (`session:qu` -> `session:query`),
--             the methods of argent's userdata (db:, conn:, res:), T's tables
--   SQL       keywords, table names, and column names (`users.em` too)
--   commands  dot command names; table names after .schema; modes after
--             .mode; on/off after .echo and .timer
--
-- Table and column names come from the REPL's catalog (reflected once,
-- again after DDL).  Candidates are whole words that start with the text
-- being completed (libedit replaces that text with them).
local core = require "argent.core"
local catalog_mod = require "argent.repl.catalog"
local commands = require "argent.repl.commands"
local format = require "argent.repl.format"
local input = require "argent.repl.input"
local show = require "argent.repl.show"

local M = {}

local LUA_KEYWORDS = {"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
                      "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"}

local SQL_WORDS = {}
for w in ([[SELECT FROM WHERE AND OR NOT INSERT INTO VALUES UPDATE SET DELETE CREATE TABLE DROP ALTER
  INDEX JOIN LEFT RIGHT INNER OUTER ON GROUP BY ORDER HAVING LIMIT OFFSET AS DISTINCT COUNT NULL IS
  IN LIKE BETWEEN UNION ALL EXISTS CASE WHEN THEN ELSE END BEGIN COMMIT ROLLBACK EXPLAIN WITH
  RETURNING PRIMARY KEY FOREIGN REFERENCES DEFAULT UNIQUE ASC DESC]]):gmatch("%a+") do
  SQL_WORDS[#SQL_WORDS + 1] = w
end

-- Fields of argent's userdata that are not methods.
local USERDATA_FIELDS = {Engine = {"dialect", "url", "pool", "echo"}, Result = {"rowcount", "lastrowid"},
                         Connection = {"dialect", "engine"}}

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

local function add(out, seen, word)
  if not seen[word] then
    seen[word] = true
    out[#out + 1] = word
  end
end

local function metaname(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__name") or nil
end

-- Walks a dotted path of plain fields from the globals without calling
-- anything but rawget and the metatables' __index tables; instances and
-- T resolve through their own description.  nil when it cannot.
local function resolve(path)
  local v = _G
  for name in path:gmatch("[^%.]+") do
    if not name:match("^[%a_][%w_]*$") then return nil end
    local t = type(v)
    if t ~= "table" then return nil end
    if catalog_mod.is_T(v) then return nil end
    local nv = rawget(v, name)
    if nv == nil and not show.is_instance(v) then
      local mt = getmetatable(v)
      local seen = 0
      while nv == nil and type(mt) == "table" and type(rawget(mt, "__index")) == "table" and seen < 8 do
        nv = rawget(rawget(mt, "__index"), name)
        mt = getmetatable(rawget(mt, "__index"))
        seen = seen + 1
      end
    end
    v = nv
    if v == nil then return nil end
  end
  return v
end

-- The keys (strings that are identifiers) a value offers; methods only
-- when methods_only.
local function keys_of(repl, v, methods_only)
  local out, seen = {}, {}
  local function take(k, value)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and (not methods_only or type(value) == "function") then
      add(out, seen, k)
    end
  end
  if catalog_mod.is_T(v) then
    if not methods_only then
      for _, name in ipairs(repl.catalog:tables()) do take(name) end
    end
    return out
  end
  local t = type(v)
  if show.is_instance(v) then
    local _, _, mapper = core.orm.internals(v)
    if not methods_only then
      for _, k in ipairs(mapper.columns) do take(k) end
      for _, k in ipairs(mapper.relationship_keys or {}) do take(k) end
    end
    for k, value in pairs(mapper.class) do
      if type(value) == "function" then take(k, value) end
    end
    return out
  end
  if t == "table" then
    for k, value in pairs(v) do
      if not (type(k) == "string" and k:sub(1, 2) == "__" and not show.is_model(v)) then take(k, value) end
    end
    local mt, depth = getmetatable(v), 0
    while type(mt) == "table" and type(rawget(mt, "__index")) == "table" and depth < 8 do
      for k, value in pairs(rawget(mt, "__index")) do
        if type(k) == "string" and k:sub(1, 1) ~= "_" then take(k, value) end
      end
      mt = getmetatable(rawget(mt, "__index"))
      depth = depth + 1
    end
  elseif t == "userdata" then
    local name = metaname(v)
    local short = name and name:match("^argent%.(.*)$")
    local methods = short and core.methods and core.methods[short]
    if type(methods) == "table" then
      for k, value in pairs(methods) do take(k, value) end
    end
    if not methods_only then
      for _, k in ipairs(USERDATA_FIELDS[short or ""] or {}) do take(k) end
    end
  elseif t == "string" then
    for k, value in pairs(string) do take(k, value) end
  end
  return out
end

local function lua_candidates(repl, text)
  local out, seen = {}, {}
  local path, sep, partial = text:match("^(.*)([%.:])([%w_]*)$")
  if path then
    local v = resolve(path)
    if v == nil then return out end
    for _, k in ipairs(keys_of(repl, v, sep == ":")) do
      if starts(k, partial) then add(out, seen, path .. sep .. k) end
    end
    return out
  end
  for k in pairs(_G) do
    if type(k) == "string" and starts(k, text) and k:match("^[%a_][%w_]*$") then add(out, seen, k) end
  end
  for _, k in ipairs(LUA_KEYWORDS) do if starts(k, text) then add(out, seen, k) end end
  return out
end

local function sql_candidates(repl, text)
  local out, seen = {}, {}
  local c = repl.catalog
  local tbl, partial = text:match("^([%w_]+)%.([%w_]*)$")
  if tbl then
    if c:has_table(tbl) then
      for _, col in ipairs(c:column_names(tbl)) do
        if starts(col, partial) then add(out, seen, tbl .. "." .. col) end
      end
    end
    return out
  end
  local lower = text:match("^%l") ~= nil
  local up = text:upper()
  for _, w in ipairs(SQL_WORDS) do
    if starts(w, up) then add(out, seen, lower and w:lower() or w) end
  end
  for _, name in ipairs(c:tables()) do
    if starts(name, text) then add(out, seen, name) end
  end
  for _, name in ipairs(c:tables()) do
    for _, col in ipairs(c:column_names(name)) do
      if starts(col, text) then add(out, seen, col) end
    end
  end
  return out
end

local function command_candidates(repl, text, before)
  local out, seen = {}, {}
  local name = before:match("^%s*%.([%w_]*)%s")
  if not name then -- the command itself
    local partial = text:match("^%.?(.*)$")
    for _, n in ipairs(commands.names()) do
      if starts(n, partial) then add(out, seen, "." .. n) end
    end
    return out
  end
  local words
  if name == "schema" then words = repl.catalog:tables()
  elseif name == "mode" then words = format.MODES
  elseif name == "echo" or name == "timer" then words = {"on", "off"}
  elseif name == "explain" then return sql_candidates(repl, text)
  else words = {} end
  for _, w in ipairs(words) do if starts(w, text) then add(out, seen, w) end end
  return out
end

--- The completions of text, which starts at byte start (0-based) of line.
function M.candidates(repl, text, line, start)
  local before = line:sub(1, start)
  local out
  if line:match("^%s*%.") then
    out = command_candidates(repl, text, before)
  elseif (repl.pending and repl.pending.kind == "sql")
    or (not repl.pending and before:match("%S") and input.classify(line) == "sql") then
    out = sql_candidates(repl, text)
  else
    out = lua_candidates(repl, text)
  end
  table.sort(out)
  return out
end

return M
