-- argent.repl.input: what a line typed at the REPL is -- a dot command, Lua
-- or SQL -- and when an input is complete (API.md section 9.2).
--
--  - A line starting with "." is a dot command (Lua has no statement that
--    starts with one).
--  - "=expr" is the expression expr.
--  - A line whose first word is a SQL keyword (any case) is SQL when it is
--    not Lua: when Lua cannot read it (`SELECT * FROM users`), or when the
--    word names no Lua global and the line is not an assignment to it
--    (`COMMIT`, `values (1), (2)`); `select(2, ...)` stays Lua.
--  - Lua continues on the next line while Lua says the chunk ends early
--    (`<eof>`); an expression prints its values.
--  - SQL ends at a ";" outside quotes and comments, or at the end of its
--    first line when that looks finished: no open quote, comment or
--    parenthesis, and not ending in a comma, an operator or a word that needs
--    more (`SELECT`, `FROM`, `WHERE`, `AND`, ...).  Once it has gone on to
--    more lines, it ends at a ";" or at an empty line.  Several statements
--    may share a line ("SELECT 1; SELECT 2").
local compat = require "argent.compat"
local M = {}

local load, upper = load, string.upper
if _VERSION == "Lua 5.1" then
  load = function(text, name) return loadstring(text, name) end -- luacheck: ignore
end

M.SQL_KEYWORDS = {}
for w in ([[SELECT WITH INSERT UPDATE DELETE CREATE DROP ALTER EXPLAIN PRAGMA SHOW VALUES
  BEGIN COMMIT ROLLBACK START SAVEPOINT RELEASE SET TRUNCATE VACUUM ANALYZE REPLACE DESCRIBE
  GRANT REVOKE COMMENT REINDEX]]):gmatch("%a+") do
  M.SQL_KEYWORDS[w] = true
end

-- Keywords after which a SQL statement cannot end.
local NEEDS_MORE = {}
for w in ([[SELECT FROM WHERE AND OR NOT JOIN ON BY SET INTO VALUES AS IN LIKE ILIKE BETWEEN HAVING UNION
  ALL DISTINCT UPDATE DELETE INSERT WITH CASE WHEN THEN ELSE LIMIT OFFSET IS LEFT RIGHT INNER OUTER FULL
  CROSS ORDER GROUP EXPLAIN CREATE DROP ALTER ADD COLUMN TABLE INDEX REFERENCES DEFAULT RECURSIVE
  EXCEPT INTERSECT USING RETURNING]]):gmatch("%a+") do
  NEEDS_MORE[w] = true
end

local WRITES = {}
for w in ([[INSERT UPDATE DELETE CREATE DROP ALTER TRUNCATE REPLACE GRANT REVOKE COMMENT REINDEX
  VACUUM MERGE RENAME]]):gmatch("%a+") do
  WRITES[w] = true
end

local DDL = {CREATE = true, DROP = true, ALTER = true, RENAME = true, TRUNCATE = true}

--- The first word of text, upper case ("" when none).
function M.first_word(text)
  return upper(text:match("^%s*(%a+)") or "")
end

--- Is the SQL statement text a write (refused by --read-only)?
function M.is_write(sql) return WRITES[M.first_word(sql)] == true end

--- Does it change the schema (the REPL then reloads its names)?
function M.is_ddl(sql) return DDL[M.first_word(sql)] == true end

-- Lua's verdict on text: "ok" (with the chunk), "more" (it ends early) or
-- "error" (with the message).
local function lua_status(text)
  local fn, as_expression = compat.load("return " .. text, "=stdin")
  if fn then return "ok", fn, true end
  local msg
  fn, msg = compat.load(text, "=stdin")
  if fn then return "ok", fn, false end
  -- unfinished as a statement (`for i = 1, 3 do`) or as an expression (`1 +`, `{`)
  -- (5.4 and 5.3: "... near <eof>"; 5.1 and LuaJIT: "... near '<eof>'")
  if msg:find("<eof>'?$") or as_expression:find("<eof>'?$") then return "more", nil, msg end
  return "error", nil, msg
end
M.lua_status = lua_status

--- What a first line is: "dot", "lua" or "sql".
function M.classify(line)
  if line:match("^%s*%.") then return "dot" end
  if line:match("^%s*=") then return "lua" end
  local word = line:match("^%s*([%a_][%w_]*)")
  if not word or not M.SQL_KEYWORDS[upper(word)] then return "lua" end
  local status = lua_status(line)
  if rawget(_G, word) ~= nil then
    return status == "error" and "sql" or "lua"
  end
  -- no Lua global of that name: only an assignment to it makes sense in Lua
  local rest = line:match("^%s*[%a_][%w_]*%s*(.*)$")
  if (rest:match("^=[^=]") or rest:match("^,")) and status ~= "error" then return "lua" end
  return "sql"
end

-- ---------------------------------------------------------------- SQL text

-- Scans SQL text: returns the statements ended by ";" (without it), the
-- rest after the last ";", and whether that rest is inside a quote, a
-- comment or parentheses.
local function scan(text)
  local statements, start, i, n = {}, 1, 1, #text
  local depth, open = 0, false
  while i <= n do
    local c = text:sub(i, i)
    if c == "'" or c == '"' or c == "`" then
      local j = text:find(c, i + 1, true)
      while j and text:sub(j + 1, j + 1) == c do j = text:find(c, j + 2, true) end -- doubled quote
      if not j then open = true break end
      i = j + 1
    elseif c == "-" and text:sub(i + 1, i + 1) == "-" then
      local j = text:find("\n", i, true)
      if not j then i = n + 1 break end
      i = j + 1
    elseif c == "/" and text:sub(i + 1, i + 1) == "*" then
      local j = text:find("*/", i + 2, true)
      if not j then open = true break end
      i = j + 2
    elseif c == "$" and text:match("^%$[%a_]*%$", i) then -- PostgreSQL dollar quoting
      local tag = text:match("^%$[%a_]*%$", i)
      local j = text:find(tag, i + #tag, true)
      if not j then open = true break end
      i = j + #tag
    elseif c == "(" then
      depth, i = depth + 1, i + 1
    elseif c == ")" then
      depth, i = math.max(0, depth - 1), i + 1
    elseif c == ";" and depth == 0 then
      statements[#statements + 1] = text:sub(start, i - 1)
      start, i = i + 1, i + 1
    else
      i = i + 1
    end
  end
  return statements, text:sub(start), open or depth > 0
end

local function strip_comments(s)
  return (s:gsub("%-%-[^\n]*", ""))
end

-- Does the SQL rest look like a finished statement?
local function looks_finished(rest)
  local s = strip_comments(rest):gsub("%s+$", "")
  if s == "" then return true end
  local last = s:sub(-1)
  if last:match("[,%(%+%-%*/=<>|&%%^~!:]") then return false end
  local word = s:match("([%a_]+)$")
  if word and NEEDS_MORE[upper(word)] and not s:match("%.[%a_]+$") then return false end
  return true
end

--- SQL input so far -> nil (it goes on) or the list of statements to run.
--- A first line ends at its end when it looks finished; once an input has
--- gone on to more lines, it ends at a ";" or at an empty line.
function M.sql_statements(text)
  local statements, rest, open = scan(text)
  if open then return nil end
  if rest:match("%S") then
    local continued = text:find("\n", 1, true)
    if continued and not text:match("\n%s*$") then return nil end
    if not continued and not looks_finished(rest) then return nil end
    statements[#statements + 1] = rest
  end
  local out = {}
  for _, s in ipairs(statements) do
    if strip_comments(s):match("%S") then out[#out + 1] = (s:gsub("^%s+", ""):gsub("%s+$", "")) end
  end
  return out
end

--- An UPDATE or DELETE with no WHERE at its top level (it changes every row).
function M.lacks_where(sql)
  local word = M.first_word(sql)
  if word ~= "UPDATE" and word ~= "DELETE" then return false end
  -- blank out quoted text, comments and parentheses, then look for WHERE
  local s = strip_comments(sql):gsub("'[^']*'", "''"):gsub('"[^"]*"', '""'):gsub("`[^`]*`", "``")
  local prev
  repeat
    prev = s
    s = s:gsub("%b()", "()")
  until s == prev
  return not upper(s):find("%f[%w_]WHERE%f[^%w_]")
end

--- The table an UPDATE or DELETE names (for the question), or "the table".
function M.target_table(sql)
  local ci = function(word) return (word:gsub("%a", function(c) return "[" .. c:upper() .. c:lower() .. "]" end)) end
  local name = sql:match("^%s*" .. ci("update") .. "%s+([%w_%.\"`]+)")
    or sql:match("^%s*" .. ci("delete") .. "%s+" .. ci("from") .. "%s+([%w_%.\"`]+)")
  return name or "the table"
end

return M
