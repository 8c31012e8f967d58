-- tests/lua/orm/test_against_sqlalchemy.lua -- SQLAlchemy as the oracle of
-- the ORM's semantics: the scenarios of oracle/scenarios.json (written once,
-- as data) and a seeded generator's random step sequences over the seed's
-- models (oracle/generator.lua) run through argent (oracle/runner.lua) and
-- through SQLAlchemy 1.4 (oracle/sqlalchemy_runner.py, Debian's
-- python3-sqlalchemy under /usr/bin/python3) on the same kind of database;
-- the value each step observed and the final rows of every table must be
-- the same.  Where SQLAlchemy's behaviour is a documented choice argent does
-- not follow, the scenario says so ("differs") and the step is not compared.
--
-- ARGENT_ORACLE_SEQUENCES sets how many random sequences run (default: 300
-- on a SQLite file, 40 on the other databases, 20 on a sanitizer build);
-- ARGENT_ORACLE_SEED the generator's seed; ARGENT_ORACLE_ONLY a scenario name;
-- ARGENT_ORACLE_VERBOSE prints each scenario's name as it starts.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local runner = require "tests.lua.orm.oracle.runner"
local generator = require "tests.lua.orm.oracle.generator"

local DIR = "tests/lua/orm/oracle/"
local PYTHON = "/usr/bin/python3"

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The URL SQLAlchemy's runner uses: the same kind of database (its own SQLite file).
local function python_url()
  if helper.is_sqlite_file() then return "sqlite:///" .. helper.tmp .. "/" .. helper.suite .. "_sqlalchemy.db" end
  if helper.is_sqlite_mem() then return "sqlite://" end
  return helper.url()
end

local function sequences_wanted()
  local n = tonumber(os.getenv("ARGENT_ORACLE_SEQUENCES") or "")
  if n then return n end
  if os.getenv("ARGENT_SANITIZE") == "ON" then return 20 end
  if helper.is_sqlite_file() then return 300 end
  return 40
end

-- The scenarios of this run: the written ones, then the generated ones.
local function scenarios()
  local list = argent.json_decode(read_file(DIR .. "scenarios.json"))
  local fixed = #list
  local seed = tonumber(os.getenv("ARGENT_ORACLE_SEED") or "") or 20261124
  for _, sc in ipairs(generator.sequences(seed, sequences_wanted())) do list[#list + 1] = sc end
  local only = os.getenv("ARGENT_ORACLE_ONLY")
  if only then
    local keep = {}
    for _, sc in ipairs(list) do if sc.name == only then keep[#keep + 1] = sc end end
    list = keep
  end
  return list, fixed
end

-- Deep equality of two decoded JSON values (argent.null for null).
local function same(a, b)
  if type(a) ~= type(b) then
    -- an integral float and an integer are the same number
    return type(a) == "number" and type(b) == "number" and a == b
  end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function show(v) return (argent.json_encode(v):gsub("%s+", " ")) end

-- The differences between argent's results and SQLAlchemy's for one scenario, as text lines.
local function differences(sc, mine, theirs)
  local out = {}
  if not theirs then return {sc.name .. ": SQLAlchemy's runner has no result"} end
  local excluded = {}
  for _, i in ipairs(sc.differs or {}) do excluded[i] = true end
  local n = math.max(#mine.obs, #theirs.obs)
  for i = 1, n do
    if not excluded[i] and not same(mine.obs[i], theirs.obs[i]) then
      out[#out + 1] = ("%s: observation %d: argent %s, SQLAlchemy %s"):format(sc.name, i, show(mine.obs[i]),
        show(theirs.obs[i]))
      break -- (later observations follow from the first difference)
    end
  end
  if not sc.differs_rows then
    for t, rows in pairs(theirs.rows) do
      if not same(rows, mine.rows[t]) then
        out[#out + 1] = ("%s: table %s: argent %s, SQLAlchemy %s"):format(sc.name, t, show(mine.rows[t] or {}),
          show(rows))
      end
    end
  end
  if #out > 0 then
    for _, note in ipairs(mine.notes) do out[#out + 1] = "    argent: " .. note end
    for _, note in ipairs(theirs.notes) do out[#out + 1] = "    SQLAlchemy: " .. note end
    out[#out + 1] = "    steps: " .. show(sc.steps)
  end
  return out
end

TestAgainstSqlalchemy = {}

function TestAgainstSqlalchemy:test_every_step_and_row_agrees_with_sqlalchemy()
  local list, fixed = scenarios()
  local descs = argent.json_decode(read_file(DIR .. "models.json"))
  local used, seen = {}, {}
  for _, sc in ipairs(list) do
    if not seen[sc.models] then
      seen[sc.models] = true
      used[#used + 1] = sc.models
    end
  end
  table.sort(used)
  helper.mkdir(helper.tmp)
  local input = helper.tmp .. "/" .. helper.suite .. "_" .. helper.db .. "_scenarios.json"
  local output = helper.tmp .. "/" .. helper.suite .. "_" .. helper.db .. "_sqlalchemy.json"
  write_file(input, argent.json_encode(list))
  os.remove(output)
  -- SQLAlchemy first (on PostgreSQL and MariaDB the same database, one after the other)
  local cmd = ("%s %s %s %s %s > %s"):format(PYTHON, shell_quote(DIR .. "sqlalchemy_runner.py"),
    shell_quote(python_url()), shell_quote(DIR .. "models.json"), shell_quote(input), shell_quote(output))
  local ok = os.execute(cmd)
  lu.assertTrue(ok, "the SQLAlchemy runner failed: " .. cmd)
  local theirs = argent.json_decode(read_file(output))

  local engine = helper.engine()
  local r = runner.new(engine, descs, used)
  local report = {}
  local verbose = os.getenv("ARGENT_ORACLE_VERBOSE")
  for _, sc in ipairs(list) do
    if verbose then io.stderr:write(sc.name, "\n") end
    local mine = r:run(sc)
    for _, line in ipairs(differences(sc, mine, theirs[sc.name])) do report[#report + 1] = line end
  end
  r:finish()
  engine:dispose()
  -- the report on stderr (luaunit would take minutes to format a long message)
  local ndiff, shown = 0, {}
  for _, line in ipairs(report) do
    if not line:match("^    ") then ndiff = ndiff + 1 end
    if ndiff <= 25 then shown[#shown + 1] = line end
  end
  if ndiff > 0 then io.stderr:write(table.concat(shown, "\n"), "\n") end
  if ndiff > 25 then io.stderr:write(("... and %d more\n"):format(ndiff - 25)) end
  io.stderr:write(("test_against_sqlalchemy (%s): %d scenarios, %d generated sequences, %d differences\n")
    :format(helper.db, fixed, #list - fixed, ndiff))
  if ndiff > 0 then lu.fail(("argent differs from SQLAlchemy in %d places (above)"):format(ndiff)) end
end

os.exit(helper.run(), true)
