-- argent.migrate: schema migrations, Alembic's job in Lua (API.md section
-- 9.3) -- the functions programs call (`migrate.upgrade(engine, "head")` at
-- start-up instead of create_all) and that `argent migrate` wraps.
--
-- The pieces, one concept per file in lua/argent/migrate/: script.lua (the
-- revision files and their graph), version.lua (the version table),
-- ops.lua (what a revision's `op` can do), sqlite_rebuild.lua (what SQLite's
-- ALTER TABLE cannot), runner.lua (locks, transactions, offline SQL),
-- compare.lua and render.lua (autogenerate), command.lua (the command
-- line).  This file reads a migrations directory's env.lua and ties them
-- together.
--
-- Every function takes an options table last: directory (default
-- "migrations"), version_table (default: env.lua's, else "argent_version"),
-- sql (offline: return the SQL instead of running it), log (a function that
-- receives progress lines).
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local schema = require "argent.schema"
local script = require "argent.migrate.script"
local Version = require "argent.migrate.version"
local runner = require "argent.migrate.runner"
local compare = require "argent.migrate.compare"
local render = require "argent.migrate.render"

local raise = core.error
local fs = core.fs

local migrate = {}

migrate.DEFAULT_DIRECTORY = "migrations"
migrate.DEFAULT_VERSION_TABLE = "argent_version"

local OPTIONS = {directory = true, version_table = true, sql = true, log = true, env = true, lock_timeout = true}

local function check_opts(fname, opts, extra)
  if opts == nil then return {} end
  if type(opts) ~= "table" or getmetatable(opts) ~= nil then
    raise("ArgumentError", ("migrate.%s: argument 'opts' must be a table, got %s"):format(fname, type(opts)))
  end
  for k in pairs(opts) do
    if not OPTIONS[k] and not (extra and extra[k]) then
      raise("ArgumentError", ("migrate.%s: unknown option '%s'"):format(fname, tostring(k)))
    end
  end
  if opts.directory ~= nil and (type(opts.directory) ~= "string" or opts.directory == "") then
    raise("ArgumentError", ("migrate.%s: option 'directory' must be a path, got %s"):format(fname, type(opts.directory)))
  end
  if opts.log ~= nil and type(opts.log) ~= "function" then
    raise("ArgumentError", ("migrate.%s: option 'log' must be a function, got %s"):format(fname, type(opts.log)))
  end
  return opts
end

-- ---- env.lua

local function is_metadata(v) return getmetatable(v) == schema.MetaDataClass end

--- DIR/env.lua's table (checked), or nil when the directory has none.
function migrate.load_env(directory)
  if type(directory) ~= "string" or directory == "" then
    raise("ArgumentError", ("migrate.load_env: argument 'directory' must be a path, got %s"):format(type(directory)))
  end
  local path = script.join(directory, "env.lua")
  if fs.kind(path) ~= "file" then return nil end
  -- the current directory on package.path, so that require "models.blog" works
  local saved = package.path
  if not package.path:find("^%./%?%.lua;") then package.path = "./?.lua;./?/init.lua;" .. package.path end
  local chunk, err = loadfile(path)
  local ok, env
  if chunk then ok, env = pcall(chunk) else ok, env = false, err end
  package.path = saved
  if not ok then
    local msg = type(env) == "table" and env.message or tostring(env)
    raise("CommandError", ("%s failed: %s"):format(path, tostring(msg)))
  end
  if env == nil then env = {} end
  if type(env) ~= "table" then
    raise("CommandError", ("%s must return a table {url =, target_metadata =, version_table =}, got %s"):format(path, type(env)))
  end
  if env.url ~= nil and type(env.url) ~= "string" then
    raise("CommandError", ("%s: url must be a string, got %s"):format(path, type(env.url)))
  end
  local md = env.target_metadata
  if md ~= nil and not is_metadata(md) then
    if type(md) == "table" and is_metadata(rawget(md, "metadata")) then
      env.target_metadata = md.metadata -- a declarative Base
    else
      raise("CommandError", ("%s: target_metadata must be an argent.MetaData (or a Base), got %s"):format(path, type(md)))
    end
  end
  if env.version_table ~= nil and type(env.version_table) ~= "string" then
    raise("CommandError", ("%s: version_table must be a string, got %s"):format(path, type(env.version_table)))
  end
  return env
end

-- The settings of a call: directory, env (or nil), version table.
local function settings(opts)
  local directory = opts.directory or migrate.DEFAULT_DIRECTORY
  local env = opts.env
  if env == nil then env = migrate.load_env(directory) end
  local version = Version.new(opts.version_table or (env and env.version_table) or migrate.DEFAULT_VERSION_TABLE)
  return directory, env, version
end

-- ---- connections

local function is_connection(v)
  return type(v) == "userdata" and getmetatable(v) and getmetatable(v).__name == "argent.Connection"
end
local function is_engine(v)
  return type(v) == "userdata" and getmetatable(v) and getmetatable(v).__name == "argent.Engine"
end

-- Runs fn(conn) on bind (an engine: a connection of its own; a connection: itself).
local function with_connection(fname, bind, fn)
  if is_connection(bind) then return fn(bind) end
  if not is_engine(bind) then
    raise("ArgumentError", ("migrate.%s: argument 'bind' must be an engine or a connection, got %s")
      :format(fname, type(bind)))
  end
  local conn = bind:connect()
  local results = compat.pack(pcall(fn, conn))
  conn:close()
  if not results[1] then error(results[2], 0) end
  return unpack(results, 2, results.n)
end

local function check_target(fname, target, default)
  if target == nil then return default end
  if type(target) ~= "string" or target == "" then
    raise("ArgumentError", ("migrate.%s: argument 'target' must be a revision (\"head\", an id, ...), got %s")
      :format(fname, type(target)))
  end
  return target
end

local function log(opts, fmt, ...)
  if opts.log then opts.log(fmt:format(...)) end
end

-- ---- running revisions

local function describe(s) return ("%s (%s)"):format(s.id, s.message ~= "" and s.message or s.path) end

-- upgrade and downgrade share this: plan from the version table, then run each revision.
local function run(fname, direction, bind, target, opts)
  local directory, _, version = settings(opts)
  local scripts = script.load(directory)
  return with_connection(fname, bind, function(conn)
    if opts.sql then
      local exists = version:exists(conn)
      local rows = version:read(conn, exists)
      if direction == "upgrade" then runner.verify(scripts, rows) end
      local applied = runner.applied_set(rows)
      local plan = direction == "upgrade" and scripts:upgrade_plan(applied, target)
        or scripts:downgrade_plan(applied, target)
      return runner.offline(conn, scripts, version, plan, direction, rows, exists)
    end
    local unlock = runner.lock(conn, version, opts)
    local ok, result = pcall(function()
      conn:execute(version:create_statement())
      local rows = version:read(conn, true)
      if direction == "upgrade" then runner.verify(scripts, rows) end
      local applied = runner.applied_set(rows)
      local plan = direction == "upgrade" and scripts:upgrade_plan(applied, target)
        or scripts:downgrade_plan(applied, target)
      local done = {}
      for _, s in ipairs(plan) do
        log(opts, "%s %s", direction == "upgrade" and "upgrading to" or "downgrading", describe(s))
        if runner.run_revision(conn, scripts, version, s, direction) then
          done[#done + 1] = s.id
        else
          log(opts, "  (%s by another process meanwhile)", direction == "upgrade" and "applied" or "undone")
        end
      end
      if #plan == 0 then log(opts, "nothing to do: the database is at %s", target) end
      return done
    end)
    unlock()
    if not ok then error(result, 0) end
    return result
  end)
end

--- upgrade(bind, target = "head", opts) -> the ids applied (opts.sql: the SQL lines instead).
function migrate.upgrade(bind, target, opts)
  opts = check_opts("upgrade", opts)
  return run("upgrade", "upgrade", bind, check_target("upgrade", target, "head"), opts)
end

--- downgrade(bind, target = "-1", opts) -> the ids undone (opts.sql: the SQL lines instead).
function migrate.downgrade(bind, target, opts)
  opts = check_opts("downgrade", opts)
  return run("downgrade", "downgrade", bind, check_target("downgrade", target, "-1"), opts)
end

--- current(bind, opts) -> the applied head revisions' ids (empty at base).
function migrate.current(bind, opts)
  opts = check_opts("current", opts)
  local version
  if opts.env == nil and opts.version_table == nil then
    local dir = opts.directory or migrate.DEFAULT_DIRECTORY
    local env = fs.kind(dir) == "directory" and migrate.load_env(dir) or nil
    version = Version.new(opts.version_table or (env and env.version_table) or migrate.DEFAULT_VERSION_TABLE)
  else
    local _, _, v = settings(opts)
    version = v
  end
  return with_connection("current", bind, function(conn)
    local out = {}
    for _, row in ipairs(version:read(conn)) do
      if row.head then out[#out + 1] = row.revision end
    end
    return out
  end)
end

--- stamp(bind, targets, opts): the version table says targets (a revision, "head",
--- "heads", "base", or a list) without running anything; records the files'
--- checksums as they are.  -> the ids now current (opts.sql: the SQL lines).
function migrate.stamp(bind, targets, opts)
  opts = check_opts("stamp", opts)
  if type(targets) == "string" then targets = {targets} end
  if type(targets) ~= "table" or #targets == 0 then
    raise("ArgumentError", "migrate.stamp: argument 'targets' must be a revision or a list of them, got " .. type(targets))
  end
  local directory, _, version = settings(opts)
  local scripts = script.load(directory)
  local heads = {}
  for _, t in ipairs(targets) do
    for _, id in ipairs(scripts:resolve_targets(check_target("stamp", t))) do heads[#heads + 1] = id end
  end
  local applied = {}
  for _, id in ipairs(heads) do scripts:ancestors(id, applied) end
  local head_set = {}
  for _, id in ipairs(scripts:applied_heads(applied)) do head_set[id] = true end
  local rows = {}
  for _, s in ipairs(scripts:ordered(applied)) do
    rows[#rows + 1] = {revision = s.id, checksum = s.checksum, head = head_set[s.id] or false}
  end
  local statements = version:replace_statements(rows)
  return with_connection("stamp", bind, function(conn)
    if opts.sql then
      local out = {}
      if not version:exists(conn) then out[#out + 1] = runner.text(conn.dialect, version:create_statement()) .. ";" end
      for _, stmt in ipairs(statements) do out[#out + 1] = runner.text(conn.dialect, stmt) .. ";" end
      return out
    end
    local unlock = runner.lock(conn, version, opts)
    local ok, err = pcall(function()
      conn:execute(version:create_statement())
      conn:begin(function(c)
        for _, stmt in ipairs(statements) do c:execute(stmt) end
      end)
    end)
    unlock()
    if not ok then error(err, 0) end
    local out = {}
    for id in pairs(head_set) do out[#out + 1] = id end
    table.sort(out)
    return out
  end)
end

-- ---- autogenerate

--- compare(bind, metadata, opts) -> the differences between the models and the
--- database (empty when they match); each has kind and text (tostring).
function migrate.compare(bind, metadata, opts)
  opts = check_opts("compare", opts, {include = true})
  if not is_metadata(metadata) then
    if type(metadata) == "table" and is_metadata(rawget(metadata, "metadata")) then
      metadata = metadata.metadata
    else
      raise("ArgumentError", "migrate.compare: argument 'metadata' must be an argent.MetaData, got " .. type(metadata))
    end
  end
  local version_table = opts.version_table
  if not version_table then
    local dir = opts.directory or migrate.DEFAULT_DIRECTORY
    local env = opts.env
    if env == nil and fs.kind(script.join(dir, "env.lua")) == "file" and opts.directory then env = migrate.load_env(dir) end
    version_table = env and env.version_table or migrate.DEFAULT_VERSION_TABLE
  end
  return with_connection("compare", bind, function(conn)
    return compare.compare(conn, metadata, {version_table = version_table, include = opts.include})
  end)
end

--- check(bind, opts) -> ok, problems: the database matches target_metadata
--- (opts.metadata, else env.lua's) and has every revision applied, unedited.
function migrate.check(bind, opts)
  opts = check_opts("check", opts, {metadata = true})
  local directory, env, version = settings(opts)
  local scripts = script.load(directory)
  local metadata = opts.metadata or (env and env.target_metadata)
  if not metadata then
    raise("CommandError", ("check needs target_metadata: set it in %s"):format(script.join(directory, "env.lua")))
  end
  return with_connection("check", bind, function(conn)
    local problems = {}
    local rows = version:read(conn)
    for _, p in ipairs(runner.file_problems(scripts, rows)) do problems[#problems + 1] = p end
    local applied = runner.applied_set(rows)
    for _, s in ipairs(scripts:order()) do
      if not applied[s.id] then problems[#problems + 1] = ("revision %s is not applied"):format(describe(s)) end
    end
    for _, d in ipairs(compare.compare(conn, metadata, {version_table = version.name})) do
      problems[#problems + 1] = d.text
    end
    return #problems == 0, problems
  end)
end

-- ---- revision files

--- heads(opts) -> the head revisions' ids.
function migrate.heads(opts)
  opts = check_opts("heads", opts)
  return script.load(opts.directory or migrate.DEFAULT_DIRECTORY):heads()
end

--- history(opts) -> the revisions, newest first: {id, parents, message, path, head}.
function migrate.history(opts)
  opts = check_opts("history", opts)
  local scripts = script.load(opts.directory or migrate.DEFAULT_DIRECTORY)
  local order = scripts:order()
  local out = {}
  for i = #order, 1, -1 do
    local s = order[i]
    out[#out + 1] = {id = s.id, parents = s.parents, message = s.message, path = s.path, head = #s.children == 0,
                     merge = #s.parents > 1}
  end
  return out
end

--- show(rev, opts) -> {id, parents, children, message, path, head, checksum}.
function migrate.show(rev, opts)
  opts = check_opts("show", opts)
  local scripts = script.load(opts.directory or migrate.DEFAULT_DIRECTORY)
  if type(rev) ~= "string" or rev == "" then
    raise("ArgumentError", "migrate.show: argument 'rev' must be a revision, got " .. type(rev))
  end
  local id = rev == "head" and scripts:head() or scripts:resolve(rev)
  local s = scripts.by_id[id]
  return {id = s.id, parents = s.parents, children = s.children, message = s.message, path = s.path,
          head = #s.children == 0, checksum = s.checksum}
end

local REVISION_OPTIONS = {message = true, autogenerate = true, bind = true, metadata = true, rev_id = true, head = true}

--- revision(opts) -> the new file's path, and autogenerate's differences.
--- opts: message (required), autogenerate (with bind, and metadata or
--- env.lua's target_metadata), rev_id, head (the revision to follow when
--- there are several heads).  With autogenerate and no difference, no file
--- is written: nil, {}.
function migrate.revision(opts)
  opts = check_opts("revision", opts, REVISION_OPTIONS)
  if type(opts.message) ~= "string" or opts.message == "" then
    raise("ArgumentError", "migrate.revision: option 'message' is required (a string)")
  end
  if opts.rev_id ~= nil and not script.is_id(opts.rev_id) then
    raise("ArgumentError", "migrate.revision: option 'rev_id' must be letters, digits, _ and -, got " .. tostring(opts.rev_id))
  end
  local directory, env, version = settings(opts)
  local scripts = script.load(directory)
  local parents
  if opts.head then parents = {opts.head == "head" and scripts:head() or scripts:resolve(opts.head)}
  else
    local heads = scripts:heads()
    if #heads > 1 then scripts:head() end -- raises: merge first or name one
    parents = heads
  end
  local up, down, diffs
  if opts.autogenerate then
    local metadata = opts.metadata or (env and env.target_metadata)
    if not metadata then
      raise("CommandError", ("autogenerate needs target_metadata: set it in %s"):format(script.join(directory, "env.lua")))
    end
    if opts.bind == nil then raise("ArgumentError", "migrate.revision: autogenerate needs option 'bind' (an engine)") end
    diffs, up, down = with_connection("revision", opts.bind, function(conn)
      local applied = runner.applied_set(version:read(conn))
      for _, p in ipairs(parents) do
        if not applied[p] then
          raise("CommandError", ("the database is not at head (%s is not applied): upgrade it first, then "
            .. "autogenerate"):format(p))
        end
      end
      local found = compare.compare(conn, metadata, {version_table = version.name})
      local u, dn = render.operations(found, conn.dialect)
      return found, u, dn
    end)
    if #diffs == 0 then return nil, diffs end
  end
  local id = opts.rev_id or script.new_id()
  local text = render.file{id = id, message = opts.message, parents = parents, up = up, down = down}
  return scripts:write(id, opts.message, text), diffs or {}
end

--- merge(revisions, opts) -> the path of a revision whose parents are revisions
--- (a list, or "heads"); opts.message, opts.rev_id.
function migrate.merge(revisions, opts)
  opts = check_opts("merge", opts, {message = true, rev_id = true})
  local directory = opts.directory or migrate.DEFAULT_DIRECTORY
  local scripts = script.load(directory)
  if revisions == "heads" then revisions = scripts:heads() end
  if type(revisions) ~= "table" then
    raise("ArgumentError", "migrate.merge: argument 'revisions' must be a list of revisions or \"heads\", got " .. type(revisions))
  end
  local parents, seen = {}, {}
  for _, r in ipairs(revisions) do
    for _, id in ipairs(scripts:resolve_targets(r)) do
      if not seen[id] then
        seen[id] = true
        parents[#parents + 1] = id
      end
    end
  end
  if #parents < 2 then
    raise("CommandError", ("a merge needs two revisions or more, got %d (%s)"):format(#parents, table.concat(parents, ", ")))
  end
  local message = opts.message or ("merge " .. table.concat(parents, " and "))
  local id = opts.rev_id or script.new_id()
  return scripts:write(id, message, render.file{id = id, message = message, parents = parents, merge = true})
end

local ENV_TEMPLATE = [[
-- %s/env.lua -- what `argent migrate` reads (API.md section 9.3):
--   url              the database, when neither --url nor DB_CONNECTION_STRING gives one
--   target_metadata  the models' MetaData, for `revision --autogenerate` and `check`
--   version_table    the table that records the applied revisions
-- It runs with the current directory on package.path: require your models here, e.g.
--   local models = require "models.blog"   -- and target_metadata = models.Base.metadata
return {
  -- url = "sqlite:///app.db",
  -- target_metadata = models.Base.metadata,
  version_table = "argent_version",
}
]]

--- init(directory) -> the paths written (DIR/env.lua, DIR/versions).
function migrate.init(directory)
  directory = directory or migrate.DEFAULT_DIRECTORY
  if type(directory) ~= "string" or directory == "" then
    raise("ArgumentError", "migrate.init: argument 'directory' must be a path, got " .. type(directory))
  end
  local env = script.join(directory, "env.lua")
  if fs.kind(env) then raise("CommandError", ("%s exists already"):format(env)) end
  local ok, err
  local path = directory:sub(1, 1) == "/" and "/" or ""
  for part in directory:gmatch("[^/]+") do -- its parents too, as mkdir -p
    path = path .. part
    ok, err = fs.mkdir(path)
    if not ok then raise("CommandError", "cannot make the directory " .. tostring(err)) end
    path = path .. "/"
  end
  local versions = script.join(directory, "versions")
  ok, err = fs.mkdir(versions)
  if not ok then raise("CommandError", "cannot make the directory " .. tostring(err)) end
  local f, ferr = io.open(env, "wb")
  if not f then raise("CommandError", ("cannot write %s: %s"):format(env, tostring(ferr))) end
  f:write(ENV_TEMPLATE:format(directory))
  f:close()
  return {env, versions}
end

return migrate
