-- argent.migrate.runner: running revisions against a database -- the lock,
-- one transaction per revision, the version table, and offline (--sql)
-- output.
--
-- A run takes the database's lock first (PostgreSQL's pg_advisory_lock,
-- MariaDB's GET_LOCK; on SQLite each revision's transaction begins with a
-- write, which takes SQLite's write lock), then reads the version table again
-- inside each revision's transaction, so two processes upgrading at once run
-- every revision once.  Where DDL is transactional (SQLite, PostgreSQL) a
-- revision runs in its own transaction with its version-table update: a
-- failure leaves schema, data and version as they were.  On MariaDB each
-- statement commits; a failure says which operation failed and which were
-- done, and the version table stays at the last revision that completed.
-- On SQLite foreign keys are not enforced during a revision (a table
-- rebuild drops the old table) and PRAGMA foreign_key_check runs before
-- the commit.
--
-- Offline, nothing changes: on PostgreSQL and MariaDB the statements are
-- compiled and printed, never sent; on SQLite they run inside one
-- transaction that is rolled back (a rebuild reads the table it rebuilds),
-- and are printed.
local compat = require "argent.compat"
local core = require "argent.core"
local sqlapi = require "argent.sql"
local ops = require "argent.migrate.ops"
local rebuild = require "argent.migrate.sqlite_rebuild"
local script = require "argent.migrate.script"

local sql = core.sql
local raise = core.error

local R = {}

-- ---- SQL as text (offline output)

local function literal(dialect, v)
  if v == nil or v == core.null then return "NULL" end
  if type(v) == "boolean" then
    if dialect == "sqlite" then return v and "1" or "0" end
    return v and "true" or "false"
  end
  if type(v) == "number" then
    if compat.math_type(v) == "integer" then return tostring(v) end
    if v == math.floor(v) and v > -1e15 and v < 1e15 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  local s = tostring(v):gsub("'", "''")
  if dialect == "mariadb" then s = s:gsub("\\", "\\\\") end
  return "'" .. s .. "'"
end
R.literal = literal

-- sql with its placeholders replaced by the literals of params (quotes skipped).
local function inline(dialect, text, params)
  if not params or #params == 0 then return text end
  if dialect == "postgresql" then
    return (text:gsub("%$(%d+)", function(n) return literal(dialect, params[tonumber(n)]) end))
  end
  local out, i, k, n = {}, 1, 0, #text
  while i <= n do
    local ch = text:sub(i, i)
    if ch == "'" or ch == '"' or ch == "`" then
      local j = i + 1
      while j <= n and text:sub(j, j) ~= ch do j = j + 1 end
      out[#out + 1] = text:sub(i, j)
      i = j + 1
    elseif ch == "?" then
      k = k + 1
      out[#out + 1] = literal(dialect, params[k])
      i = i + 1
    else
      out[#out + 1] = ch
      i = i + 1
    end
  end
  return table.concat(out)
end

--- The text of a statement (a node, or SQL) for dialect, values inlined.
function R.text(dialect, stmt, params)
  if type(stmt) == "string" then return inline(dialect, stmt, params) end
  if getmetatable(stmt) and not sql.tag(stmt) then stmt = sql.to_expr(stmt) end -- argent.text(...)
  local text, compiled = sql.compile(stmt, dialect)
  return inline(dialect, text, compiled)
end

-- ---- the context operations run in

local Context = {}
Context.__index = Context

-- mode: "online", "capture" (SQLite offline: run and record) or "compile" (record only).
local function context(conn, dialect, mode)
  return setmetatable({conn = conn, dialect = dialect, compile_only = mode == "compile",
                       capture = mode ~= "online" and {} or nil, applied = {}}, Context)
end
R.context = context

--- Runs (and/or records) one statement: a DDL tree, a statement, or SQL text
--- (raw: given to the driver untouched).
function Context:run(stmt, params)
  if self.capture then self.capture[#self.capture + 1] = R.text(self.dialect, stmt, params) .. ";" end
  if self.compile_only then return nil end
  if type(stmt) == "string" and not params then return self.conn:exec_driver_sql(stmt) end
  return self.conn:execute(stmt, params)
end

function Context:insert_rows(t, rows)
  if self.capture then
    for _, r in ipairs(rows) do
      self.capture[#self.capture + 1] = R.text(self.dialect, sqlapi.insert(t):values(r)) .. ";"
    end
  end
  if self.compile_only then return #rows end
  return self.conn:executemany(sqlapi.insert(t), rows)
end

function Context:enum_exists(name)
  if not self.enums then
    self.enums = {}
    if self.dialect == "postgresql" then
      for _, e in ipairs(require("argent.inspect.postgresql").enums(self.conn)) do self.enums[e.name] = true end
    end
  end
  return self.enums[name] == true
end

function Context:note_enum(name, exists)
  self:enum_exists(name)
  self.enums[name] = exists or nil
end

-- ---- locks

local function lock_key(version)
  return tonumber(script.checksum("argent_migrate:" .. version.name):sub(1, 8), 16)
end

--- Takes the database's migration lock for the run (PostgreSQL, MariaDB);
--- returns the function that releases it.
function R.lock(conn, version, opts)
  local d = conn.dialect
  if d == "postgresql" then
    conn:execute("SELECT pg_advisory_lock(?)", {lock_key(version)})
    return function() pcall(conn.execute, conn, "SELECT pg_advisory_unlock(?)", {lock_key(version)}) end
  elseif d == "mariadb" then
    local name = "argent_migrate:" .. version.name
    local timeout = opts and opts.lock_timeout or 300
    local got = conn:execute("SELECT GET_LOCK(CONCAT(?, DATABASE()), ?)", {name .. ":", timeout}):scalar()
    if got ~= 1 then
      raise("OperationalError", ("another process holds the migration lock of this database (waited %d s)"):format(timeout))
    end
    return function() pcall(conn.execute, conn, "SELECT RELEASE_LOCK(CONCAT(?, DATABASE()))", {name .. ":"}) end
  end
  return function() end
end

-- ---- checks of the version table against the files

--- Raises when an applied revision has no file or its file changed since.
function R.verify(scripts, rows)
  for _, row in ipairs(rows) do
    local s = scripts.by_id[row.revision]
    if not s then
      raise("CommandError", ("the database has revision %s applied, and %s has no such file "
        .. "(a file removed, or a database of another branch?)"):format(row.revision, scripts.versions))
    end
    if row.checksum and row.checksum ~= s.checksum then
      raise("CommandError", ("revision file %s (%s) was changed after it was applied to this database "
        .. "(checksum %s, applied as %s): restore it, or if the database already has what it says, record "
        .. "the file as it is with `argent migrate stamp heads`"):format(s.path, s.id, s.checksum, row.checksum))
    end
  end
end

--- The problems `check` reports about the files (edited, missing): a list of strings.
function R.file_problems(scripts, rows)
  local out = {}
  for _, row in ipairs(rows) do
    local s = scripts.by_id[row.revision]
    if not s then
      out[#out + 1] = ("revision %s is applied but has no file in %s"):format(row.revision, scripts.versions)
    elseif row.checksum and row.checksum ~= s.checksum then
      out[#out + 1] = ("revision file %s (%s) was changed after it was applied"):format(s.path, s.id)
    end
  end
  return out
end

local function applied_set(rows)
  local set = {}
  for _, r in ipairs(rows) do set[r.revision] = true end
  return set
end
R.applied_set = applied_set

-- ---- one revision

local function heads_text(scripts, applied)
  local heads = scripts:applied_heads(applied)
  return #heads > 0 and table.concat(heads, ", ") or "base"
end

-- Re-raises err (from revision s, going `direction`) with what happened said.
local function fail(err, s, direction, ctx, dialect, before)
  local msg
  if core.is_error(err) then msg = err.message else msg = tostring(err) end
  local where = ctx and ctx.current and (" in " .. ctx.current) or ""
  local text = ("%s %s (%s) failed%s: %s"):format(direction, s.id, s.message ~= "" and s.message or s.path, where,
    tostring(msg))
  if dialect == "offline" then
    text = text .. "; nothing was changed (offline)"
  elseif dialect == "mariadb" then
    local done = ctx and ctx.applied or {}
    text = text .. ("; MariaDB commits each DDL statement: %s; the version table stays at %s"):format(
      #done > 0 and ("done before the failure: " .. table.concat(done, ", ")) or "nothing was done before the failure",
      before)
  else
    text = text .. ("; the revision was rolled back: the database stays at %s"):format(before)
  end
  if core.is_error(err) then
    err.message = text
    error(err, 0)
  end
  raise("CommandError", text)
end

local function foreign_keys_enforced(conn)
  return conn:execute("PRAGMA foreign_keys"):scalar() == 1
end

--- Runs revision s (direction "upgrade" or "downgrade") on conn, in its own
--- transaction where DDL has one.  Returns true when it ran, false when
--- another process had done it already.
function R.run_revision(conn, scripts, version, s, direction)
  local dialect = conn.dialect
  local sqlite = dialect == "sqlite"
  local fk_on = sqlite and foreign_keys_enforced(conn)
  if fk_on then conn:exec_driver_sql("PRAGMA foreign_keys = OFF") end
  local tx = dialect ~= "mariadb" and conn:begin() or nil
  local ctx, before, skipped
  local ok, err = pcall(function()
    if sqlite then conn:execute(version:lock_statement()) end
    local applied = applied_set(version:read(conn, true))
    before = heads_text(scripts, applied)
    if (direction == "upgrade") == (applied[s.id] == true) then
      skipped = true
      return
    end
    ctx = context(conn, dialect, "online")
    local fn = direction == "upgrade" and s.upgrade or s.downgrade
    fn(ops.new(ctx))
    ctx.closed = true
    local statements
    if direction == "upgrade" then
      statements = version:add_statements(s.id, s.checksum, s.parents)
    else
      applied[s.id] = nil
      local new_heads = {}
      for _, p in ipairs(s.parents) do
        local still = false
        for _, c in ipairs(scripts.by_id[p].children) do
          if applied[c] then still = true end
        end
        if applied[p] and not still then new_heads[#new_heads + 1] = p end
      end
      statements = version:remove_statements(s.id, new_heads)
    end
    for _, stmt in ipairs(statements) do conn:execute(stmt) end
    if sqlite then
      local problems = rebuild.foreign_key_problems(conn)
      if problems then raise("IntegrityError", "foreign key check failed: " .. problems) end
    end
  end)
  if ctx then ctx.closed = true end
  if tx then
    if ok then
      ok, err = pcall(tx.commit, tx)
    else
      pcall(tx.rollback, tx)
    end
  end
  if fk_on then pcall(conn.exec_driver_sql, conn, "PRAGMA foreign_keys = ON") end
  if not ok then fail(err, s, direction, ctx, dialect, before or "?") end
  return not skipped
end

-- ---- offline

--- The SQL of running plan (revisions, direction) from `rows` (the version
--- table now; exists: whether it does), without changing anything.
function R.offline(conn, scripts, version, plan, direction, rows, exists)
  local dialect = conn.dialect
  local sqlite = dialect == "sqlite"
  local out = {}
  local tx, fk_on
  if sqlite then
    fk_on = foreign_keys_enforced(conn)
    if fk_on then conn:exec_driver_sql("PRAGMA foreign_keys = OFF") end
    tx = conn:begin()
  end
  local ok, err = pcall(function()
    local applied = applied_set(rows)
    if not exists then
      local ctx = context(conn, dialect, sqlite and "capture" or "compile")
      ctx:run(version:create_statement())
      for _, line in ipairs(ctx.capture) do out[#out + 1] = line end
      out[#out + 1] = ""
    end
    for _, s in ipairs(plan) do
      local ctx = context(conn, dialect, sqlite and "capture" or "compile")
      out[#out + 1] = ("-- %s %s, %s"):format(direction == "upgrade" and "Running upgrade" or "Running downgrade",
        (direction == "upgrade" and (#s.parents > 0 and table.concat(s.parents, ", ") or "<base>") .. " -> " .. s.id
         or s.id .. " -> " .. (#s.parents > 0 and table.concat(s.parents, ", ") or "<base>")), s.message)
      if dialect ~= "mariadb" then out[#out + 1] = "BEGIN;" end
      local fn = direction == "upgrade" and s.upgrade or s.downgrade
      local okr, e = pcall(fn, ops.new(ctx))
      ctx.closed = true
      if not okr then fail(e, s, direction, ctx, "offline", heads_text(scripts, applied)) end
      local statements
      if direction == "upgrade" then
        statements = version:add_statements(s.id, s.checksum, s.parents)
        applied[s.id] = true
      else
        applied[s.id] = nil
        local new_heads = {}
        for _, p in ipairs(s.parents) do
          local still = false
          for _, c in ipairs(scripts.by_id[p].children) do
            if applied[c] then still = true end
          end
          if applied[p] and not still then new_heads[#new_heads + 1] = p end
        end
        statements = version:remove_statements(s.id, new_heads)
      end
      for _, stmt in ipairs(statements) do ctx:run(stmt) end
      for _, line in ipairs(ctx.capture) do out[#out + 1] = line end
      if dialect ~= "mariadb" then out[#out + 1] = "COMMIT;" end
      out[#out + 1] = ""
    end
  end)
  if tx then pcall(tx.rollback, tx) end
  if fk_on then pcall(conn.exec_driver_sql, conn, "PRAGMA foreign_keys = ON") end
  if not ok then error(err, 0) end
  return out
end

return R
