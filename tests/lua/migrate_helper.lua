-- tests/lua/migrate_helper.lua -- what the argent.migrate suites
-- (test_migrate_*.lua) share: a database of their own (a fresh SQLite file,
-- or a database created on the test PostgreSQL / MariaDB server, so that no
-- other suite's tables show up in a comparison), a fresh migrations
-- directory, and writing revision files.
local helper = require "tests.lua.helper"
local argent = helper.argent

local M = {}

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
M.shell_quote = shell_quote

local created = {}

--- The URL of an empty database for this suite and `tag`.
function M.url(tag)
  tag = tag or "main"
  if helper.is_sqlite_mem() then return "sqlite://" end
  if helper.is_sqlite_file() then
    helper.mkdir(helper.tmp)
    local path = ("%s/%s_%s.db"):format(helper.tmp, helper.suite, tag)
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do os.remove(path .. suffix) end
    return "sqlite:///" .. path
  end
  -- a test database of another name (argent_test_lua51: scripts/test.sh runs
  -- the suites of several Lua versions at once) gives its databases that suffix
  local suffix = (helper.url():match("/([^/?]*)%??[^/]*$") or ""):match("^argent_test(_[%w_]+)$") or ""
  local name = ("argent_%s_%s%s"):format(helper.suite:gsub("^test_", ""), tag, suffix)
  local url = helper.url():gsub("/[^/?]*(%??[^/]*)$", "/" .. name .. "%1")
  if argent.database_exists(url) then argent.drop_database(url) end
  argent.create_database(url)
  created[#created + 1] = url
  return url
end

--- Drops the databases M.url made (engines must be disposed of first).
function M.drop_databases()
  for _, url in ipairs(created) do pcall(argent.drop_database, url) end
  created = {}
end

--- A fresh, empty migrations directory (with versions/) for this suite, db and tag.
function M.dir(tag)
  local dir = ("%s/%s_%s_%s"):format(helper.tmp, helper.suite, helper.db, tag or "main")
  os.execute("rm -rf " .. shell_quote(dir))
  helper.mkdir(dir .. "/versions")
  return dir
end

--- Writes text to path.
function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

--- Writes DIR/versions/<id>_x.lua: a revision with the given down revision(s) and
--- the bodies of upgrade and downgrade (Lua statements using op and argent).
function M.revision(dir, id, down, up, down_body, message)
  local down_text = "nil"
  if type(down) == "string" then down_text = ("%q"):format(down)
  elseif type(down) == "table" then
    local q = {}
    for i, d in ipairs(down) do q[i] = ("%q"):format(d) end
    down_text = "{" .. table.concat(q, ", ") .. "}"
  end
  local path = ("%s/versions/%s_r.lua"):format(dir, id)
  M.write(path, ([[
local argent = require "argent"
return {
  revision = %q,
  down_revision = %s,
  message = %q,
  upgrade = function(op)
    %s
  end,
  downgrade = function(op)
    %s
  end,
}
]]):format(id, down_text, message or ("revision " .. id), up or "", down_body or ""))
  return path
end

--- The names of the tables of the database conn is on, as a set (the version table too).
function M.tables(conn)
  local set = {}
  for _, n in ipairs(argent.inspect(conn):get_table_names()) do set[n] = true end
  return set
end

-- ---- Alembic, the reference (tests/reference/alembic_compare.py)

M.model_json = require("tests.reference.alembic_model").json

M.PYTHON = "/usr/bin/python3"

--- Can this run compare with Alembic? (Debian's python3-alembic, a database another process can open)
function M.have_alembic()
  if helper.is_sqlite_mem() then return false end
  local ok = os.execute(M.PYTHON .. " -c 'import alembic, sqlalchemy' 2>/dev/null")
  return ok == true or ok == 0
end

--- Alembic's compare_metadata on the database of url against meta: its
--- normalised differences (sorted), seconds and query count.
function M.alembic_compare(meta, dialect, url, opts)
  opts = opts or {}
  local path = ("%s/%s_%s_model.json"):format(helper.tmp, helper.suite, helper.db)
  M.write(path, M.model_json(meta, dialect, url, opts.version_table))
  local cmd = ("%s tests/reference/alembic_compare.py %s%s"):format(M.PYTHON,
    opts.repeat_ and ("--repeat " .. opts.repeat_ .. " ") or "", shell_quote(path))
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("*a")
  p:close()
  local ok, result = pcall(argent.json_decode, out)
  if not ok or type(result) ~= "table" or not result.diffs then error("alembic_compare.py: " .. out, 0) end
  local diffs = {}
  for _, d in ipairs(result.diffs) do diffs[#diffs + 1] = d end
  table.sort(diffs)
  return diffs, result.seconds, result.queries
end

--- argent's differences (migrate.compare) in the same normalised form (sorted).
function M.normalise(diffs)
  local out = {}
  local function cols(list) return table.concat(list, ",") end
  for _, d in ipairs(diffs) do
    local k = d.kind
    if k == "add_table" then
      out[#out + 1] = "add_table " .. d.table
      for _, ix in ipairs(d.model.indexes) do out[#out + 1] = "add_index " .. ix.name end
    elseif k == "remove_table" then
      out[#out + 1] = "remove_table " .. d.table
      for _, ix in ipairs(d.reflected.indexes) do
        if not ix.duplicates_constraint then out[#out + 1] = "remove_index " .. ix.name end
      end
    elseif k == "add_column" or k == "remove_column" then
      out[#out + 1] = ("%s %s.%s"):format(k, d.table, d.column)
    elseif k == "modify_column" then
      if d.changes.type then out[#out + 1] = ("modify_type %s.%s"):format(d.table, d.column) end
      if d.changes.nullable then out[#out + 1] = ("modify_nullable %s.%s"):format(d.table, d.column) end
      if d.changes.default then out[#out + 1] = ("modify_default %s.%s"):format(d.table, d.column) end
      if d.changes.comment then out[#out + 1] = ("modify_comment %s.%s"):format(d.table, d.column) end
    elseif k == "add_index" or k == "remove_index" then
      out[#out + 1] = k .. " " .. d.name
    elseif k == "add_unique" or k == "remove_unique" then
      out[#out + 1] = ("%s %s(%s)"):format(k, d.table, cols(d.columns))
    elseif k == "add_fk" or k == "remove_fk" then
      out[#out + 1] = ("%s %s(%s)->%s"):format(k, d.table, cols(d.fk.columns), d.fk.referred_table)
    end
  end
  table.sort(out)
  return out
end

--- Drops every table of the database (and PostgreSQL's enum types): a clean slate.
function M.reset(engine)
  local conn = engine:connect()
  local d = conn.dialect
  if d == "sqlite" then conn:exec_driver_sql("PRAGMA foreign_keys = OFF") end
  if d == "mariadb" then conn:exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0") end
  for _, name in ipairs(argent.inspect(conn):get_table_names()) do
    local q = d == "mariadb" and ("`" .. name .. "`") or ('"' .. name .. '"')
    conn:exec_driver_sql("DROP TABLE " .. q .. (d == "postgresql" and " CASCADE" or ""))
  end
  if d == "postgresql" then
    for _, e in ipairs(argent.inspect(conn):get_enums()) do conn:exec_driver_sql('DROP TYPE "' .. e.name .. '" CASCADE') end
  end
  if d == "sqlite" then conn:exec_driver_sql("PRAGMA foreign_keys = ON") end
  if d == "mariadb" then conn:exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1") end
  conn:close()
end

-- A counter for the ids of the revisions `step` writes.
local steps = 0

--- Runs fn(op) as the next revision of dir (upgrade; down(op), when given, as its
--- downgrade) through migrate.upgrade: a transaction, the version table, the
--- SQLite rules.  Returns the revision's id; a revision that fails is removed.
function M.step(engine, dir, fn, down, opts)
  steps = steps + 1
  local id = ("%06d%06d"):format(os.time() % 1000000, steps)
  local scripts = require("argent.migrate.script").load(dir)
  local heads = scripts:heads()
  _G["MIGRATE_TEST_UP_" .. id] = fn
  _G["MIGRATE_TEST_DOWN_" .. id] = down or function() end
  local path = M.revision(dir, id, heads[1], ("_G[%q](op)"):format("MIGRATE_TEST_UP_" .. id),
                          ("_G[%q](op)"):format("MIGRATE_TEST_DOWN_" .. id))
  local o = {directory = dir}
  for k, v in pairs(opts or {}) do o[k] = v end
  local ok, err = pcall(require("argent.migrate").upgrade, engine, "head", o)
  if not ok then
    os.remove(path) -- a revision that failed is not kept for the next step
    error(err, 0)
  end
  return id
end

--- All rows of a query, as a list of tables.
function M.rows(engine, query, params)
  local conn = engine:connect()
  local ok, rows = pcall(function() return conn:execute(query, params):all() end)
  conn:close()
  if not ok then error(rows, 0) end
  return rows
end

return M
