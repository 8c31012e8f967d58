-- argent.migrate.command: `argent migrate [-d DIR] [--url URL] COMMAND ...`
-- (API.md section 9.3) -- the command line over argent.migrate.  The C
-- shell (src/cli/migrate.c) calls main(args) and exits with what it
-- returns: 0 done, 1 failed (the error on stderr), 2 a command line it
-- does not understand (with the usage on stderr).  Results go to stdout
-- (ids, paths, SQL, differences); progress and errors to stderr.
local core = require "argent.core"
local migrate = require "argent.migrate"

local M = {}

local USAGE = [[
usage: argent migrate [-d DIR] [--url URL] COMMAND [ARGS]

commands:
  init [DIR]                       write DIR/env.lua and DIR/versions/
  revision -m MSG [--autogenerate] [--rev-id ID] [--head REV]
                                   write a new revision file (autogenerate: from the
                                   differences between target_metadata and the database)
  upgrade [head|heads|+N|REV] [--sql]
                                   run revisions up to the target (default head)
  downgrade [-N|base|REV] [--sql]  undo revisions down to the target (default -1)
  current                          the database's applied revision id(s)
  history                          the revisions, newest first
  heads                            the head revision id(s)
  merge -m MSG REV REV...          a revision that joins heads ("heads" for all)
  stamp REV... [--sql]             set the database's version without running anything
  show REV                         one revision
  check                            exit 1 unless the database matches target_metadata
                                   and every revision is applied

options:
  -d, --directory DIR   the migrations directory (default: migrations)
  --url URL             the database (default: env.lua's url, else DB_CONNECTION_STRING)
  --sql                 print the SQL for the URL's dialect instead of running it
  -h, --help            this help
]]

local function usage_error(msg)
  error({usage = msg}, 0)
end

-- Splits args into global options, the command and its own arguments/options.
local function parse(args)
  local p = {positional = {}, flags = {}}
  local i = 1
  local function value(name)
    local v = args[i + 1]
    if v == nil then usage_error(name .. " needs a value") end
    i = i + 2
    return v
  end
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then p.help = true i = i + 1
    elseif a == "-d" or a == "--directory" then p.directory = value(a)
    elseif a:match("^%-%-directory=") then p.directory = a:match("=(.*)$") i = i + 1
    elseif a == "--url" then p.url = value(a)
    elseif a:match("^%-%-url=") then p.url = a:match("=(.*)$") i = i + 1
    elseif a == "-m" or a == "--message" then p.message = value(a)
    elseif a == "--rev-id" then p.rev_id = value(a)
    elseif a == "--head" then p.head = value(a)
    elseif a == "--autogenerate" then p.flags.autogenerate = true i = i + 1
    elseif a == "--sql" then p.flags.sql = true i = i + 1
    elseif a == "--" then
      for k = i + 1, #args do p.positional[#p.positional + 1] = args[k] end
      break
    elseif a:match("^%-") and not a:match("^%-%d+$") then
      usage_error(("unknown option '%s'"):format(a))
    elseif not p.command then p.command = a i = i + 1
    else p.positional[#p.positional + 1] = a i = i + 1 end
  end
  return p
end

local COMMANDS = {
  init = {max = 1}, revision = {max = 0, options = {message = true, rev_id = true, head = true, autogenerate = true}},
  upgrade = {max = 1, options = {sql = true}}, downgrade = {max = 1, options = {sql = true}},
  current = {max = 0}, history = {max = 0}, heads = {max = 0},
  merge = {max = math.huge, options = {message = true, rev_id = true}}, stamp = {max = math.huge, options = {sql = true}},
  show = {max = 1, min = 1}, check = {max = 0},
}

local function check_command(p)
  local spec = COMMANDS[p.command]
  if not spec then usage_error(("unknown command '%s'"):format(p.command)) end
  local allowed = spec.options or {}
  for _, k in ipairs {"message", "rev_id", "head"} do
    if p[k] ~= nil and not allowed[k] then usage_error(("%s takes no --%s"):format(p.command, k:gsub("_", "-"))) end
  end
  for k in pairs(p.flags) do
    if not allowed[k] then usage_error(("%s takes no --%s"):format(p.command, k)) end
  end
  if #p.positional > spec.max then
    usage_error(("%s: unexpected argument '%s'"):format(p.command, p.positional[spec.max + 1]))
  end
  if #p.positional < (spec.min or 0) then usage_error(p.command .. " needs a revision") end
  if p.command == "revision" and not p.message then usage_error("revision needs -m MSG") end
  if p.command == "merge" then
    if not p.message then usage_error("merge needs -m MSG") end
    if #p.positional == 0 then usage_error("merge needs the revisions to join (or \"heads\")") end
  end
  if p.command == "stamp" and #p.positional == 0 then usage_error("stamp needs a revision") end
end

local function out(line) io.stdout:write(line, "\n") end
local function progress(line) io.stderr:write(line, "\n") end

-- The engine for the URL of --url, env.lua or DB_CONNECTION_STRING.
local function engine_for(p)
  local url = p.url
  if not url then
    local env = migrate.load_env(p.directory or migrate.DEFAULT_DIRECTORY)
    url = env and env.url
  end
  if not url or url == "" then url = os.getenv("DB_CONNECTION_STRING") end
  if not url or url == "" then
    usage_error("no database: give --url URL, set url in env.lua, or set DB_CONNECTION_STRING")
  end
  local argent = require "argent"
  return argent.create_engine(url)
end

local function run(p)
  local dir = p.directory
  local opts = {directory = dir, log = progress}
  local c = p.command
  if c == "init" then
    for _, path in ipairs(migrate.init(p.positional[1] or dir or migrate.DEFAULT_DIRECTORY)) do out(path) end
  elseif c == "revision" then
    local engine = p.flags.autogenerate and engine_for(p) or nil
    local path, diffs = migrate.revision{directory = dir, message = p.message, autogenerate = p.flags.autogenerate,
                                        bind = engine, rev_id = p.rev_id, head = p.head}
    if engine then engine:dispose() end
    for _, d in ipairs(diffs) do progress("  " .. d.text) end
    if not path then
      progress("no changes between the models and the database: no revision written")
    else
      out(path)
    end
  elseif c == "upgrade" or c == "downgrade" then
    local engine = engine_for(p)
    opts.sql = p.flags.sql
    local result = migrate[c](engine, p.positional[1], opts)
    engine:dispose()
    if opts.sql then for _, line in ipairs(result) do out(line) end end
  elseif c == "current" then
    local engine = engine_for(p)
    for _, id in ipairs(migrate.current(engine, {directory = dir})) do out(id) end
    engine:dispose()
  elseif c == "history" then
    for _, r in ipairs(migrate.history{directory = dir}) do
      local down = #r.parents > 0 and table.concat(r.parents, ", ") or "<base>"
      out(("%s -> %s%s%s, %s"):format(down, r.id, r.head and " (head)" or "", r.merge and " (merge)" or "", r.message))
    end
  elseif c == "heads" then
    for _, id in ipairs(migrate.heads{directory = dir}) do out(id) end
  elseif c == "merge" then
    local revs = p.positional
    if #revs == 1 and revs[1] == "heads" then revs = "heads" end
    out(migrate.merge(revs, {directory = dir, message = p.message, rev_id = p.rev_id}))
  elseif c == "stamp" then
    local engine = engine_for(p)
    opts.sql = p.flags.sql
    local result = migrate.stamp(engine, p.positional, opts)
    engine:dispose()
    if opts.sql then
      for _, line in ipairs(result) do out(line) end
    else
      progress("stamped " .. (#result > 0 and table.concat(result, ", ") or "base"))
    end
  elseif c == "show" then
    local r = migrate.show(p.positional[1], {directory = dir})
    out("Revision: " .. r.id .. (r.head and " (head)" or ""))
    out("Parent: " .. (#r.parents > 0 and table.concat(r.parents, ", ") or "<base>"))
    if #r.children > 0 then out("Children: " .. table.concat(r.children, ", ")) end
    out("Path: " .. r.path)
    out("Checksum: " .. r.checksum)
    out("")
    for line in (r.message .. "\n"):gmatch("([^\n]*)\n") do out("    " .. line) end
  elseif c == "check" then
    local engine = engine_for(p)
    local ok, problems = migrate.check(engine, {directory = dir})
    engine:dispose()
    if ok then
      out("ok: the database matches the models and has every revision")
    else
      for _, line in ipairs(problems) do out(line) end
      return 1
    end
  end
  return 0
end

--- main(args) -> exit status (0, 1, 2).
function M.main(args)
  local ok, status = pcall(function()
    local p = parse(args)
    if p.help then
      io.stdout:write(USAGE)
      return 0
    end
    if not p.command then usage_error("missing COMMAND") end
    check_command(p)
    return run(p)
  end)
  if ok then return status end
  if type(status) == "table" and status.usage then
    io.stderr:write("argent: migrate: ", status.usage, "\n", USAGE)
    return 2
  end
  local msg
  if core.is_error(status) then
    msg = status.kind == "CommandError" and status.message or tostring(status)
  else
    msg = tostring(status)
  end
  io.stderr:write("argent: migrate: ", msg, "\n")
  return 1
end

M.USAGE = USAGE
return M
