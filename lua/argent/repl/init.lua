-- argent.repl: the REPL of `argent repl` (API.md section 9.2) -- a Lua
-- prompt with the database at hand.  src/cli/repl.c reads the lines (line
-- editing, history, Ctrl-C) and hands each to REPL:feed; everything the user
-- sees is decided here and in the files beside this one:
--
--   input.lua     what a line is (Lua, SQL, a dot command), when it is complete
--   printer.lua   which form a value takes; format.lua the output modes;
--                 show.lua instances, queries and tables as text
--   commands.lua  the dot commands; complete.lua Tab; catalog.lua the
--                 database's names and T; readonly.lua --read-only
--
-- The REPL owns an engine (`db`), a Session of it (`session`) and, for SQL
-- lines, one connection of its own, kept between lines so that a BEGIN
-- typed at the prompt lasts until its COMMIT.  Errors print one line on
-- stderr and never end the REPL; `failed` remembers that one happened.
local argent = require "argent"
local catalog = require "argent.repl.catalog"
local commands = require "argent.repl.commands"
local complete = require "argent.repl.complete"
local input = require "argent.repl.input"
local printer = require "argent.repl.printer"
local readonly = require "argent.repl.readonly"
local show = require "argent.repl.show"

local M = {}
local REPL = {}
REPL.__index = REPL

local pack = table.pack or function(...) return {n = select("#", ...), ...} end
local DEFAULT_LIMIT = 1000 -- rows per result on a terminal

local function error_text(err)
  if type(err) == "string" then return err end
  local mt = getmetatable(err)
  if (type(mt) == "table" and mt.__tostring) or argent.is_error(err) then
    local ok, s = pcall(tostring, err)
    if ok then return s end
  end
  return ("(error object is a %s value)"):format(type(err))
end

local function default_clock() return os.clock() * 1000 end

-- ---------------------------------------------------------------- setup

-- Requires each module of opts.modules and makes its models globals.
local function load_models(self, modules)
  for _, m in ipairs(require("argent.models").require_all(modules)) do
    _G[m.name] = m.class
    self.models[#self.models + 1] = m
  end
end

--- repl.new(opts) -> a REPL.  opts: url, modules (list of names), read_only,
--- interactive (stdin is a terminal), stdout_tty, and from C: width()
--- (the terminal's columns or nil), clock() (ms), ask(prompt) (a line or nil).
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    require("argent.core").error("ArgumentError", "repl.new: argument 'opts' must be a table or nil, got "
      .. type(opts))
  end
  opts = opts or {}
  local self = setmetatable({
    opts = opts, interactive = opts.interactive and true or false, stdout_tty = opts.stdout_tty and true or false,
    read_only = opts.read_only and true or false, mode = "table", echo = false, timer = false, limit = nil,
    failed = false, pending = nil, models = {}, clock = opts.clock or default_clock,
  }, REPL)
  -- where output goes: rows and values, notes (stderr), errors (stderr)
  self.out = function(s) io.stdout:write(s) end
  self.note = function(s) io.stderr:write(s) end
  self.err = function(s)
    io.stdout:flush()
    io.stderr:write(s)
  end
  local url = opts.url
  if url == nil or url == "" then url = os.getenv("DB_CONNECTION_STRING") end
  if url == nil or url == "" then url = "sqlite://" end
  self.db = argent.create_engine(url, {echo = function(sql, params, ms) self:_on_sql(sql, params, ms) end})
  if self.read_only then readonly.install(self.db) end
  local probe = self.db:connect() -- a database that cannot be reached: say so now
  probe:close()
  self.catalog = catalog.new(self.db)
  self.session = argent.sessionmaker(self.db)()
  _G.argent, _G.db, _G.session = argent, self.db, self.session
  load_models(self, opts.modules or {})
  if rawget(_G, "T") == nil then _G.T = self.catalog:tables_global() end
  return self
end

-- The engine's echo: every statement of the REPL's engine passes here.
function REPL:_on_sql(sql, params, ms)
  if input.is_ddl(sql) then self.catalog:stale() end
  if not self.echo then return end
  local text = ("-- SQL (%.3f ms): %s"):format(ms or 0, sql)
  if params and next(params) ~= nil then
    local shown = {}
    for i = 1, params.n or #params do
      local v = params[i]
      shown[i] = type(v) == "string" and show.quote(v) or tostring(v)
    end
    local named = {}
    for k, v in pairs(params) do
      if type(k) == "string" and k ~= "n" then named[#named + 1] = k .. " = " .. tostring(v) end
    end
    table.sort(named)
    for _, s in ipairs(named) do shown[#shown + 1] = s end
    text = text .. "  -- {" .. table.concat(shown, ", ") .. "}"
  end
  self.note(text .. "\n")
end

--- What the banner says (a terminal only).
function REPL:banner()
  local models = {}
  for i, m in ipairs(self.models) do models[i] = m.name end
  local globals = "argent, db, session" .. (rawget(_G, "T") ~= nil and #models == 0 and ", T" or "")
  return ("%s (%s) -- %s%s\nglobals: %s%s\n.help lists the dot commands; Tab completes; Ctrl-D quits.\n"):format(
    argent._VERSION, _VERSION, tostring(self.db.url), self.read_only and " (read-only)" or "", globals,
    #models > 0 and "; models: " .. table.concat(models, ", ") or "")
end

-- "*" inside a transaction (the session's or the SQL lines'), "!" when it failed.
function REPL:_tx_mark()
  local st = self.session and rawget(self.session, "_st")
  local state = st and st.state
  local in_tx = false
  if self.conn then
    local ok, v = pcall(self.conn.in_transaction, self.conn)
    in_tx = ok and v
    if not in_tx then self.sql_failed = false end
  end
  if self.sql_failed or state == "failed" then return "!" end
  if in_tx or state == "active" then return "*" end
  return ""
end

--- The prompt: "argent> ", "argent*> " in a transaction, "argent!> " in a
--- failed one, "   ...> " while an input goes on.
function REPL:prompt()
  local main = "argent" .. (self.read_only and "(ro)" or "") .. self:_tx_mark() .. "> "
  if self.pending then return string.rep(" ", #main - 5) .. "...> " end
  return main
end

--- The width to cut cells to (the terminal's), or nil (not a terminal).
function REPL:cut_width()
  if not self.stdout_tty or not self.opts.width then return nil end
  return self.opts.width()
end

--- Rows printed per result: .limit's, else 1000 on a terminal, else all.
function REPL:row_limit()
  if self.limit then return self.limit > 0 and self.limit or nil end
  return self.stdout_tty and DEFAULT_LIMIT or nil
end

--- The REPL's own connection (SQL lines, .schema, .explain).
function REPL:sql_conn()
  if not self.conn then self.conn = self.db:connect() end
  return self.conn
end

-- ---------------------------------------------------------------- running

function REPL:fail(err)
  self.failed = true
  self.err(error_text(err) .. "\n")
end

local function run_lua(self, fn)
  local results = pack(pcall(fn))
  if not results[1] then return self:fail(results[2]) end
  if results.n > 1 then
    -- shifted by hand: table.remove counts with #, which a nil among the
    -- values makes differ between Lua versions (LuaJIT: 1, nil, "s" -> 1)
    for i = 1, results.n - 1 do results[i] = results[i + 1] end
    results[results.n] = nil
    results.n = results.n - 1
    printer.print_values(self, results, self.started)
  end
end

-- Asks before an UPDATE or DELETE without WHERE, on a terminal.
local function confirmed(self, sql)
  if not self.interactive or not input.lacks_where(sql) then return true end
  local word = input.first_word(sql)
  local answer = self.opts.ask and self.opts.ask(("%s without WHERE changes every row of %s. Run it? [y/N] ")
    :format(word, input.target_table(sql)))
  if answer and (answer:lower() == "y" or answer:lower() == "yes") then return true end
  self.note("not run\n")
  return false
end

local function run_sql(self, statements)
  for _, sql in ipairs(statements) do
    if self.read_only and input.is_write(sql) then
      return self:fail(("read-only: %s is refused (the REPL was started with --read-only)")
        :format(input.first_word(sql)))
    end
    if not confirmed(self, sql) then return end
    local conn = self:sql_conn()
    local started = self.clock()
    local ok, res = pcall(conn.exec_driver_sql, conn, sql)
    if not ok then
      local in_tx = pcall(conn.in_transaction, conn) and conn:in_transaction()
      if in_tx and self.db.dialect == "postgresql" then self.sql_failed = true end
      return self:fail(res)
    end
    printer.print_result(self, res, started)
  end
end

local function run_input(self, fn, ...)
  self.started = self.clock()
  local ok, err = pcall(fn, self, ...)
  if not ok then self:fail(err) end
  if self.timer then self.out(("Time: %.3f ms\n"):format(self.clock() - self.started)) end
end

local function feed(self, line)
  if not self.pending then
    local kind = input.classify(line)
    if kind == "dot" then
      local result
      run_input(self, function() result = commands.run(self, line) end)
      return result == "quit" and "quit" or "done"
    end
    self.pending = {kind = kind, text = line}
  else
    self.pending.text = self.pending.text .. "\n" .. line
  end
  local p = self.pending
  if p.kind == "lua" then
    local status, fn, msg = input.lua_status((p.text:gsub("^%s*=", "", 1)))
    if status == "more" then return "more" end
    self.pending = nil
    if status == "error" then
      self:fail(msg)
      return "done"
    end
    run_input(self, run_lua, fn)
  else
    local statements = input.sql_statements(p.text)
    if not statements then return "more" end
    self.pending = nil
    run_input(self, run_sql, statements)
  end
  return "done"
end

--- Takes one line of input.  Returns "more" (an input goes on), "done" or
--- "quit" (.quit).
function REPL:feed(line)
  local ok, result = pcall(feed, self, line)
  if not ok then
    self.pending = nil
    self:fail(result)
    return "done"
  end
  return result
end

--- Ctrl-C at the prompt: the unfinished input is dropped.
function REPL:interrupt() self.pending = nil end

--- End of input: an unfinished input is an error (SQL runs as it is).
function REPL:finish()
  local p = self.pending
  if not p then return end
  if p.kind == "sql" then
    self.pending = nil
    local statements = input.sql_statements(p.text .. ";") or {p.text}
    return run_input(self, run_sql, statements)
  end
  self.pending = nil
  local _, _, msg = input.lua_status((p.text:gsub("^%s*=", "", 1)))
  self:fail(msg or "unfinished input")
end

--- Tab: the completions of text at byte start of line.
function REPL:complete(text, line, start)
  return complete.candidates(self, text, line or text, start or 0)
end

--- Closes the session, the connection and the engine.  Returns whether any
--- input failed.
function REPL:close()
  if self.session then pcall(self.session.close, self.session) end
  if self.conn then pcall(self.conn.close, self.conn) end
  self.conn = nil
  pcall(self.db.dispose, self.db)
  return self.failed
end

-- Every public method checks its self (a script can reach these through
-- require "argent.repl").
for name, fn in pairs(REPL) do
  if type(fn) == "function" and name ~= "__index" then
    REPL[name] = function(self, ...)
      if getmetatable(self) ~= REPL then
        require("argent.core").error("ArgumentError", ("REPL:%s: argument 'self' must be a REPL (repl.new), got %s")
          :format(name, type(self)))
      end
      return fn(self, ...)
    end
  end
end

M.REPL = REPL
return M
