-- tests/lua/test_database.lua -- argent.database_exists, create_database and
-- drop_database (API.md section 2; src/engine/database.c, src/lua/database.c).
--
-- On each database of the run: a fresh database name does not exist, can be
-- created (once: again is a ProgrammingError unless if_not_exists), holds
-- tables that the Core reads and writes, and is dropped (twice is a
-- ProgrammingError unless if_exists).  Names that need quoting as an
-- identifier (a dash and capitals, quote characters) work too.  SQLite's
-- database is a file; the in-memory database always exists.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

-- A database name no earlier run can have left behind.
local function fresh_name(tag)
    return ("argent_tmp_%s%d_%d"):format(tag or "", os.time() % 100000, math.random(1, 999999))
end

-- The URL of database `name` on this run's server (or SQLite directory).
local function url_for(name)
    if helper.is_sqlite() then
        return "sqlite:///" .. helper.tmp .. "/" .. name .. ".db"
    end
    local encoded = name:gsub("[^%w_]", function(c) return ("%%%02X"):format(c:byte()) end)
    local prefix, query = helper.url():match("^(.-://[^/]*)/[^?]*(.*)$")
    return prefix .. "/" .. encoded .. query
end

-- Creates a table in the database of url, writes, reads, updates and deletes.
local function crud(url)
    local engine = argent.create_engine(url)
    local ok, err = pcall(function()
        local conn <close> = engine:connect()
        conn:execute("CREATE TABLE t_db_items (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        lu.assertEquals(conn:executemany("INSERT INTO t_db_items (id, name) VALUES (?, ?)",
                                         {{1, "one"}, {2, "two"}, {3, "three"}}), 3)
        lu.assertEquals(conn:execute("UPDATE t_db_items SET name = ? WHERE id = ?", {"TWO", 2}).rowcount, 1)
        lu.assertEquals(conn:execute("DELETE FROM t_db_items WHERE id = ?", {3}).rowcount, 1)
        local names = {}
        for row in conn:execute("SELECT name FROM t_db_items ORDER BY id"):rows() do
            names[#names + 1] = row.name
        end
        lu.assertEquals(names, {"one", "TWO"})
    end)
    engine:dispose()  -- no pooled connection may keep the database busy for the drop
    if not ok then error(err, 0) end
end

-- The whole life of one database.
local function life_of(name)
    local url = url_for(name)
    lu.assertFalse(argent.database_exists(url))
    argent.create_database(url)
    local ok, err = pcall(function()
        lu.assertTrue(argent.database_exists(url))
        helper.assert_error("ProgrammingError", nil, argent.create_database, url)
        argent.create_database(url, {if_not_exists = true})
        crud(url)
    end)
    argent.drop_database(url, {if_exists = true})
    if not ok then error(err, 0) end
    lu.assertFalse(argent.database_exists(url))
end

TestDatabase = {}

function TestDatabase:setUp()
    if helper.is_sqlite() then helper.mkdir(helper.tmp) end
end

function TestDatabase:test_create_use_and_drop_a_fresh_database()
    life_of(fresh_name())
end

function TestDatabase:test_name_with_dash_and_capitals()
    life_of(fresh_name("weird-Name_"))
end

function TestDatabase:test_name_with_quote_characters()
    -- a single quote, a double quote and a backtick: each dialect doubles its own
    life_of(fresh_name("q'd\"b`_"))
end

function TestDatabase:test_dropping_a_missing_database()
    local url = url_for(fresh_name("missing_"))
    helper.assert_error("ProgrammingError", nil, argent.drop_database, url)
    argent.drop_database(url, {if_exists = true})
    lu.assertFalse(argent.database_exists(url))
end

function TestDatabase:test_the_database_of_this_run_exists()
    local engine = helper.engine()  -- the suite's SQLite file exists once a connection made it
    engine:connect():close()
    lu.assertTrue(argent.database_exists(helper.url()))
    engine:dispose()
end

function TestDatabase:test_a_url_object_is_accepted()
    local url = argent.make_url(url_for(fresh_name("obj_")))
    lu.assertFalse(argent.database_exists(url))
    argent.create_database(url)
    lu.assertTrue(argent.database_exists(url))
    argent.drop_database(url)
    lu.assertFalse(argent.database_exists(url))
end

function TestDatabase:test_in_memory_sqlite_always_exists()
    for _, url in ipairs {"sqlite://", "sqlite:///:memory:"} do
        lu.assertTrue(argent.database_exists(url))
        argent.create_database(url)  -- nothing to do
        argent.drop_database(url)
        lu.assertTrue(argent.database_exists(url))
    end
end

function TestDatabase:test_dropping_sqlite_removes_its_journal_files()
    lu.skipIf(not helper.is_sqlite(), "SQLite only")
    local name = fresh_name("wal_")
    local url = url_for(name)
    argent.create_database(url)
    local engine = argent.create_engine(url)  -- WAL: the connection makes -wal and -shm
    local conn = engine:connect()
    conn:execute("CREATE TABLE t (x INTEGER)")
    conn:close()
    engine:dispose()
    argent.drop_database(url)
    local path = helper.tmp .. "/" .. name .. ".db"
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do
        lu.assertNil(io.open(path .. suffix, "rb"), path .. suffix .. " must be gone")
    end
end

function TestDatabase:test_bad_arguments_are_argument_errors()
    helper.assert_error("ArgumentError", "url", argent.database_exists, 42)
    helper.assert_error("ArgumentError", "if_not_exists", argent.create_database, "sqlite://",
                        {if_not_exist = true})
    helper.assert_error("ArgumentError", "options", argent.drop_database, "sqlite://", "yes")
    helper.assert_error("ArgumentError", nil, argent.database_exists, "nosuchdialect://x/y")
end

function TestDatabase:test_server_url_without_database_is_argument_error()
    lu.skipIf(helper.is_sqlite(), "server databases only")
    local prefix = helper.url():match("^(.-://[^/]*)/")
    helper.assert_error("ArgumentError", "no database", argent.create_database, prefix .. "/")
end

function TestDatabase:test_refused_server_is_operational_error_without_password()
    local err = helper.assert_error("OperationalError", nil, argent.database_exists,
                                    "postgresql://u:s3cret@127.0.0.1:1/x")
    lu.assertNil(tostring(err):find("s3cret", 1, true))
    err = helper.assert_error("OperationalError", nil, argent.database_exists,
                              "mariadb://u:s3cret@127.0.0.1:1/x")
    lu.assertNil(tostring(err):find("s3cret", 1, true))
end

os.exit(helper.run(), true)
