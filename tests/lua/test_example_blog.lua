-- tests/lua/test_example_blog.lua -- examples/blog.lua, the seed's program
-- (the README's first command runs it): on a database that does not exist
-- yet (created by the example), then again on the same database.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local function fresh_url()
    local name = ("argent_example_%d_%d"):format(os.time() % 100000, math.random(1, 999999))
    if helper.is_sqlite() then return "sqlite:///" .. helper.tmp .. "/" .. name .. ".db" end
    local prefix, query = helper.url():match("^(.-://[^/]*)/[^?]*(.*)$")
    return prefix .. "/" .. name .. query
end

-- Runs the example with DB_CONNECTION_STRING = url (and its command-line
-- arguments); returns what it printed.
local function run_example(url, ...)
    local out = {}
    local real_getenv, real_print = os.getenv, print
    os.getenv = function(k)
        if k == "DB_CONNECTION_STRING" then return url end
        return real_getenv(k)
    end
    print = function(...)
        local parts = table.pack(...)
        for i = 1, parts.n do parts[i] = tostring(parts[i]) end
        out[#out + 1] = table.concat(parts, "\t")
    end
    local chunk = assert(loadfile("examples/blog.lua"))
    local ok, err = pcall(chunk, ...)
    os.getenv, print = real_getenv, real_print
    if not ok then error(err, 0) end
    return table.concat(out, "\n")
end

TestExampleBlog = {}

function TestExampleBlog:test_runs_twice_on_a_new_database()
    if helper.is_sqlite_mem() then lu.skip("the example keeps its data in a database that outlives it") end
    helper.mkdir(helper.tmp)
    local url = fresh_url()
    lu.assertFalse(argent.database_exists(url))
    local ok, err = pcall(function()
        local first = run_example(url)
        lu.assertStrContains(first, "created the database")
        lu.assertStrContains(first, "added users 1 (ann) and 2 (bob)")
        lu.assertStrContains(first, "updated user 1: email ann@example.com, updated_at ")
        lu.assertNotStrContains(first, "updated_at nil")
        lu.assertStrContains(first, "user 1  ann    ann@example.com    1 post(s)")
        lu.assertStrContains(first, "deleted bob: true")
        lu.assertStrContains(first, "1 user(s), 1 post(s), 1 comment(s) in the database")
        local second = run_example(url)
        lu.assertNotStrContains(second, "created the database")
        lu.assertStrMatches(second, ".*added users %d+ %(ann%) and %d+ %(bob%).*")
        lu.assertStrContains(second, "2 user(s), 2 post(s), 2 comment(s) in the database")
    end)
    -- the example's engine is garbage now: collected, its pool closes its connections
    collectgarbage()
    collectgarbage()
    argent.drop_database(url)
    if not ok then error(err, 0) end
end

-- With --migrate the schema comes from examples/migrations: the same tables
-- as create_all makes, and the models match the database.
function TestExampleBlog:test_migrations_make_the_schema()
    if helper.is_sqlite_mem() then lu.skip("the example keeps its data in a database that outlives it") end
    helper.mkdir(helper.tmp)
    local url = fresh_url()
    local ok, err = pcall(function()
        local first = run_example(url, "--migrate")
        lu.assertStrContains(first, "applied migration 5e6d0b1a9c2f")
        lu.assertStrContains(first, "1 user(s), 1 post(s), 1 comment(s) in the database")
        local second = run_example(url, "--migrate")
        lu.assertNotStrContains(second, "applied migration")
        lu.assertStrContains(second, "2 user(s), 2 post(s), 2 comment(s) in the database")
        local engine = argent.create_engine(url)
        local migrate = require "argent.migrate"
        local ok_check, problems = migrate.check(engine, {directory = "examples/migrations"})
        lu.assertTrue(ok_check, table.concat(problems or {}, "; "))
        lu.assertEquals(migrate.current(engine, {directory = "examples/migrations"}), {"5e6d0b1a9c2f"})
        engine:dispose()
    end)
    collectgarbage()
    collectgarbage()
    collectgarbage() -- LuaJIT: a connection's finalizer lets its engine go in the next cycle
    argent.drop_database(url)
    if not ok then error(err, 0) end
end

os.exit(helper.run(), true)
