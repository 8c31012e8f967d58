-- argent.repl.commands: the dot commands (API.md section 9.2) -- .help,
-- .tables, .schema [TABLE], .models, .echo, .timer, .mode, .limit,
-- .explain, .quit -- each a function of the REPL and the rest of its line.
-- A mistake in a command's arguments raises (the REPL prints it); the
-- command's output goes to the REPL's stdout.
local core = require "argent.core"
local format = require "argent.repl.format"
local input = require "argent.repl.input"
local printer = require "argent.repl.printer"
local show = require "argent.repl.show"

local M = {}
local raise = core.error

local function usage(text) raise("ArgumentError", "usage: " .. text) end

local function on_off(repl, field, arg, name)
  if arg == "" then
    repl.out(("%s is %s\n"):format(name, repl[field] and "on" or "off"))
    return
  end
  local v = arg:lower()
  if v ~= "on" and v ~= "off" then usage("." .. name .. " on|off") end
  repl[field] = v == "on"
end

-- ---------------------------------------------------------------- .schema

-- An identifier for SQL text in the dialect's quoting (names come from
-- the catalog, but a name may hold any character).
local function quoted(name, dialect)
  if dialect == "mariadb" then return "`" .. name:gsub("`", "``") .. "`" end
  return '"' .. name:gsub('"', '""') .. '"'
end

local function schema_of(repl, name)
  local db = repl.db
  if db.dialect == "sqlite" then
    local conn = repl:sql_conn()
    local res = conn:execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
      .. "ORDER BY type = 'table' DESC, name", {name})
    local out = {}
    for sql in res:tuples() do out[#out + 1] = sql .. ";" end
    return table.concat(out, "\n")
  elseif db.dialect == "mariadb" then
    local row = repl:sql_conn():exec_driver_sql("SHOW CREATE TABLE " .. quoted(name, "mariadb")):first()
    local sql = row and (row["Create Table"] or row["Create View"]) or ""
    return sql .. ";"
  end
  local t = repl.catalog:table(name)
  local out = {(t:create_statement():compile(db)) .. ";"}
  for _, s in ipairs(t:index_statements()) do out[#out + 1] = (s:compile(db)) .. ";" end
  return table.concat(out, "\n")
end

-- ---------------------------------------------------------------- .explain

-- The SQL and parameters of what .explain was given: SQL text, or a Lua
-- expression giving a query, a statement or a string of SQL.
local function explain_target(repl, arg)
  if input.classify(arg) == "sql" then return (arg:gsub(";%s*$", "")), {} end
  local status, fn, msg = input.lua_status(arg:gsub("^%s*=", ""))
  if status ~= "ok" then raise("ArgumentError", ".explain: " .. tostring(msg)) end
  local v = fn()
  if type(v) == "string" then return v, {} end
  if show.is_query(v) then v = v:statement() end
  if not show.statement_tag(v) then
    raise("ArgumentError", ".explain: give SQL, a query or a statement; the expression gave a " .. type(v))
  end
  local sql, params = v:compile(repl.db)
  return sql, params or {}
end

local function explain(repl, arg)
  if arg == "" then usage(".explain SQL_OR_EXPRESSION") end
  local sql, params = explain_target(repl, arg)
  local prefix = repl.db.dialect == "sqlite" and "EXPLAIN QUERY PLAN " or "EXPLAIN "
  local started = repl.clock()
  local res = repl:sql_conn():exec_driver_sql(prefix .. sql, params)
  printer.print_result(repl, res, started)
end

-- ---------------------------------------------------------------- the list

local COMMANDS
COMMANDS = {
  {"help", "", "this list", function(repl)
    local lines = {}
    for _, c in ipairs(COMMANDS) do
      lines[#lines + 1] = ("  %-28s %s"):format("." .. c[1] .. (c[2] ~= "" and " " .. c[2] or ""), c[3])
    end
    repl.out(table.concat(lines, "\n") .. "\n"
      .. "Input is Lua (an expression prints its values; =expr too) or a SQL line, run on db\n"
      .. "(ending at ';' or at the end of a finished line).  Tab completes; Ctrl-C cancels what\n"
      .. "runs or clears the line; Ctrl-D quits.\n")
  end},
  {"tables", "", "the database's tables", function(repl)
    repl.catalog:stale()
    local names = repl.catalog:tables()
    repl.out(#names > 0 and table.concat(names, "\n") .. "\n" or "(no tables)\n")
  end},
  {"schema", "[TABLE]", "CREATE statements of one table or all", function(repl, arg)
    repl.catalog:stale()
    local names = arg ~= "" and {arg} or repl.catalog:tables()
    for _, name in ipairs(names) do
      if not repl.catalog:has_table(name) then raise("ArgumentError", ".schema: no table '" .. name .. "'") end
      repl.out(schema_of(repl, name) .. "\n")
    end
  end},
  {"models", "", "the models loaded with -m, their tables and columns", function(repl)
    if #repl.models == 0 then
      repl.out("(no models: start with -m MODULE; T.<table> gives reflected tables)\n")
      return
    end
    local rows = {}
    for i, m in ipairs(repl.models) do
      local mapper = rawget(m.class, "__mapper__")
      rows[i] = {n = 4, m.name, tostring(rawget(mapper.table, "name")), table.concat(mapper.columns, ", "),
                 table.concat(mapper.relationship_keys or {}, ", ")}
    end
    printer.print_rows(repl, {"model", "table", "columns", "relationships"}, rows, nil, "table")
  end},
  {"echo", "on|off", "print the SQL that runs, with its time (on stderr)", function(repl, arg)
    on_off(repl, "echo", arg, "echo")
  end},
  {"timer", "on|off", "print how long each input took", function(repl, arg)
    on_off(repl, "timer", arg, "timer")
  end},
  {"mode", table.concat(format.MODES, "|"), "how rows print", function(repl, arg)
    if arg == "" then
      repl.out("mode is " .. repl.mode .. "\n")
      return
    end
    if not format.is_mode(arg:lower()) then usage(".mode " .. table.concat(format.MODES, "|")) end
    repl.mode = arg:lower()
  end},
  {"limit", "[N]", "rows printed per result (0: all; default 1000 on a terminal)", function(repl, arg)
    if arg == "" then
      local n = repl:row_limit()
      repl.out("limit is " .. (n and tostring(n) or "none") .. "\n")
      return
    end
    local n = tonumber(arg)
    if not n or n < 0 or n ~= math.floor(n) then usage(".limit N (a whole number; 0 for no limit)") end
    repl.limit = n
  end},
  {"explain", "SQL_OR_EXPR", "the database's plan for SQL, a query or a statement", explain},
  {"quit", "", "leave (Ctrl-D too)", function() return "quit" end},
}

local BY_NAME = {exit = COMMANDS[#COMMANDS]}
for _, c in ipairs(COMMANDS) do BY_NAME[c[1]] = c end

--- The command names, for completion.
function M.names()
  local out = {}
  for _, c in ipairs(COMMANDS) do out[#out + 1] = c[1] end
  return out
end

--- Runs the dot command line.  Returns "quit" for .quit.
function M.run(repl, line)
  local name, arg = line:match("^%s*%.([%w_]*)%s*(.-)%s*$")
  local c = BY_NAME[name or ""]
  if not c then
    raise("ArgumentError", ("unknown command '.%s' (.help lists the commands)"):format(name or ""))
  end
  return c[4](repl, arg or "")
end

return M
