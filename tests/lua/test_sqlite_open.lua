-- tests/lua/test_sqlite_open.lua -- how argent opens SQLite files
-- (src/driver/sqlite.c, src/engine/database.c), with other real processes
-- on the same file.
--
-- A connection never changes a database's journal mode unless
-- connect_args.journal_mode asks (a new database is made WAL); opening a
-- rollback-journal database while another process (the sqlite3 shell)
-- writes waits for the lock as any statement does, up to busy_timeout;
-- read-only files and `?mode=ro` open read-only; database_exists is true only
-- for a file that is a SQLite database.  These are about files: on the other
-- databases of the run the suite has nothing to test.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

if not helper.is_sqlite_file() then
    print(helper.suite .. ": SQLite files only; nothing to test on " .. helper.db)
    os.exit(0)
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function sh(cmd)
    local ok = os.execute(cmd)
    return ok == true or ok == 0
end

local dir = helper.tmp .. "/sqlite_open"
local counter = 0

-- A fresh path under dir (no file, no journal files).
local function fresh_path(tag)
    counter = counter + 1
    local path = ("%s/%s_%d.db"):format(dir, tag, counter)
    for _, suffix in ipairs {"", "-wal", "-shm", "-journal"} do os.remove(path .. suffix) end
    return path
end

local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

-- Runs SQL through the sqlite3 shell (another program on the same file).
local function shell(path, sql)
    lu.assertTrue(sh("sqlite3 " .. q(path) .. " " .. q(sql) .. " >/dev/null"), "sqlite3 failed: " .. sql)
end

local function journal_mode(path)
    local p = io.popen("sqlite3 " .. q(path) .. " 'PRAGMA journal_mode'")
    local mode = p:read("l")
    p:close()
    return mode
end

-- Waits (bounded: 60 s) until path exists.
local function wait_for(path)
    for _ = 1, 1200 do
        if exists(path) then return end
        sh("sleep 0.05")
    end
    lu.fail("timed out waiting for " .. path)
end

local function url(path, query) return "sqlite:///" .. path .. (query or "") end

TestSqliteOpen = {}

function TestSqliteOpen:setUp()
    sh("rm -rf " .. q(dir))
    helper.mkdir(dir)
end

function TestSqliteOpen:tearDown()
    collectgarbage()
    sh("rm -rf " .. q(dir))
end

function TestSqliteOpen:test_a_new_database_is_made_wal()
    local path = fresh_path("new")
    local engine = argent.create_engine(url(path))
    local conn <close> = engine:connect()
    conn:execute("CREATE TABLE t (x INTEGER)")
    lu.assertEquals(conn:execute("PRAGMA journal_mode"):scalar(), "wal")
    conn:close()
    engine:dispose()
end

function TestSqliteOpen:test_an_existing_database_keeps_its_journal_mode()
    local path = fresh_path("kept")
    shell(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
    lu.assertEquals(journal_mode(path), "delete")
    local engine = argent.create_engine(url(path))
    local conn = engine:connect()
    conn:execute("INSERT INTO t VALUES (2)")
    lu.assertEquals(conn:execute("PRAGMA journal_mode"):scalar(), "delete")
    conn:close()
    engine:dispose()
    lu.assertEquals(journal_mode(path), "delete")
    lu.assertFalse(exists(path .. "-wal"))
    -- asked for, the mode changes
    engine = argent.create_engine(url(path), {connect_args = {journal_mode = "WAL"}})
    conn = engine:connect()
    lu.assertEquals(conn:execute("SELECT count(*) FROM t"):scalar(), 2)
    conn:close()
    engine:dispose()
    lu.assertEquals(journal_mode(path), "wal")
end

function TestSqliteOpen:test_opening_while_another_process_writes_waits_for_the_lock()
    local path = fresh_path("busy")
    shell(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
    local locked, go = path .. ".locked", path .. ".go"
    -- The sqlite3 shell takes the write lock (RESERVED), says so, waits for
    -- `go`, goes on writing a moment, then commits.
    local holder = io.popen(table.concat({
        "sqlite3", q(path),
        q("BEGIN IMMEDIATE; INSERT INTO t VALUES (2);"),
        q(".shell touch " .. q(locked)),
        q(".shell while [ ! -e " .. q(go) .. " ]; do sleep 0.02; done; sleep 0.3"),
        q("COMMIT;")}, " ") .. " >/dev/null 2>&1", "r")
    local ok, err = pcall(function()
        wait_for(locked)
        -- Opening takes no lock a writer holds: connect and read at once.
        local reader = argent.create_engine(url(path), {connect_args = {busy_timeout = 0}})
        local conn <close> = reader:connect()
        lu.assertEquals(conn:execute("SELECT count(*) FROM t"):scalar(), 1)
        lu.assertEquals(conn:execute("PRAGMA journal_mode"):scalar(), "delete")
        -- Writing must wait for the writer: with no busy timeout it cannot.
        helper.assert_error("OperationalError", "locked", conn.execute, conn, "INSERT INTO t VALUES (3)")
        conn:close()
        reader:dispose()
        -- With a busy timeout, connecting and writing wait until the
        -- writer commits (it does once `go` exists).
        local writer = argent.create_engine(url(path), {connect_args = {busy_timeout = 60000}})
        local wconn <close> = writer:connect()
        local f = assert(io.open(go, "w"))
        f:close()
        wconn:execute("INSERT INTO t VALUES (3)")
        lu.assertEquals(wconn:execute("SELECT count(*) FROM t"):scalar(), 3)
        wconn:close()
        writer:dispose()
    end)
    if not exists(go) then
        local f = io.open(go, "w")
        if f then f:close() end
    end
    holder:close()
    if not ok then error(err, 0) end
    lu.assertEquals(journal_mode(path), "delete")
end

function TestSqliteOpen:test_asking_for_a_journal_mode_while_another_process_writes_waits_busy_timeout()
    local path = fresh_path("switch")
    shell(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
    local locked, go = path .. ".locked", path .. ".go"
    local holder = io.popen(table.concat({
        "sqlite3", q(path),
        q("BEGIN IMMEDIATE; INSERT INTO t VALUES (2);"),
        q(".shell touch " .. q(locked)),
        q(".shell while [ ! -e " .. q(go) .. " ]; do sleep 0.02; done; sleep 0.3"),
        q("COMMIT;")}, " ") .. " >/dev/null 2>&1", "r")
    local ok, err = pcall(function()
        wait_for(locked)
        local e0 = argent.create_engine(url(path), {connect_args = {busy_timeout = 0, journal_mode = "WAL"}})
        helper.assert_error("OperationalError", "locked", e0.connect, e0)
        e0:dispose()
        local f = assert(io.open(go, "w"))
        f:close()
        local e1 = argent.create_engine(url(path), {connect_args = {busy_timeout = 60000, journal_mode = "WAL"}})
        local conn <close> = e1:connect()
        lu.assertEquals(conn:execute("SELECT count(*) FROM t"):scalar(), 2)
        conn:close()
        e1:dispose()
    end)
    if not exists(go) then
        local f = io.open(go, "w")
        if f then f:close() end
    end
    holder:close()
    if not ok then error(err, 0) end
    lu.assertEquals(journal_mode(path), "wal")
end

function TestSqliteOpen:test_mode_ro_in_the_url_opens_read_only()
    local path = fresh_path("ro")
    shell(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
    local engine = argent.create_engine(url(path, "?mode=ro"))
    local conn <close> = engine:connect()
    lu.assertEquals(conn:execute("SELECT x FROM t"):scalar(), 1)
    helper.assert_error("OperationalError", "readonly", conn.execute, conn, "INSERT INTO t VALUES (2)")
    conn:close()
    engine:dispose()
    lu.assertEquals(journal_mode(path), "delete")
    -- connect_args too; a missing file is not created
    local missing = fresh_path("ro_missing")
    local e2 = argent.create_engine(url(missing), {connect_args = {mode = "ro"}})
    helper.assert_error("OperationalError", "unable to open", e2.connect, e2)
    e2:dispose()
    lu.assertFalse(exists(missing))
    helper.assert_error("ArgumentError", "mode", argent.create_engine(url(path, "?mode=readonly")).connect,
                        argent.create_engine(url(path, "?mode=readonly")))
end

-- A file its user cannot write (as root: run by the user nobody) is read,
-- and a write is an OperationalError, with the file left as it was.
function TestSqliteOpen:test_a_read_only_file_can_be_read()
    local path = fresh_path("rofile")
    shell(path, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (41)")
    sh("chmod 0444 " .. q(path) .. " && chmod 0777 " .. q(dir))
    local script = dir .. "/read_only.lua"
    local f = assert(io.open(script, "w"))
    f:write(([[
local argent = require "argent"
local engine = argent.create_engine(%q)
local conn = engine:connect()
io.write(conn:execute("SELECT x + 1 FROM t"):scalar(), " ")
local ok, err = pcall(conn.execute, conn, "INSERT INTO t VALUES (1)")
io.write(tostring(ok), " ", tostring(err.kind), "\n")
]]):format(url(path)))
    f:close()
    sh("chmod 0644 " .. q(script))
    local command = arg and arg[-2]
    lu.assertNotNil(command, "the argent command's path (arg[-2])")
    local run = q(command) .. " run " .. q(script)
    local p = io.popen("id -u")
    local uid = p:read("l")
    p:close()
    if uid == "0" then
        if not sh("runuser -u nobody -- test -x " .. q(command) .. " 2>/dev/null") then
            print("  (skipped: the user nobody cannot run " .. command .. ")")
            return
        end
        run = "runuser -u nobody -- " .. run
    end
    p = io.popen(run .. " 2>&1")
    local out = p:read("a")
    p:close()
    lu.assertEquals(out, "42 false OperationalError\n")
    lu.assertEquals(journal_mode(path), "delete")
end

function TestSqliteOpen:test_database_exists_only_for_a_sqlite_file()
    lu.assertFalse(argent.database_exists(url(dir)))   -- a directory
    local junk = dir .. "/junk.db"
    local f = assert(io.open(junk, "w"))
    f:write(("not a database "):rep(100))
    f:close()
    lu.assertFalse(argent.database_exists(url(junk)))
    local short = dir .. "/short.db"
    f = assert(io.open(short, "w"))
    f:write("SQLite")
    f:close()
    lu.assertFalse(argent.database_exists(url(short)))
    local empty = dir .. "/empty.db"   -- SQLite reads an empty file as an empty database
    f = assert(io.open(empty, "w"))
    f:close()
    lu.assertTrue(argent.database_exists(url(empty)))
    local path = fresh_path("real")
    shell(path, "CREATE TABLE t (x INTEGER)")
    lu.assertTrue(argent.database_exists(url(path)))
    lu.assertFalse(argent.database_exists(url(dir .. "/missing.db")))
    -- neither a directory nor a foreign file is dropped as if it were a database
    helper.assert_error("ProgrammingError", "does not exist", argent.drop_database, url(junk))
    lu.assertTrue(exists(junk))
    helper.assert_error("OperationalError", nil, argent.create_database, url(junk))
end

os.exit(helper.run(), true)
