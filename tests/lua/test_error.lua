-- tests/lua/test_error.lua -- the error object (src/lua/error.c), API.md section 8.
--
-- Its fields (kind, message, code, sql) and tostring form; the kind each
-- database failure maps to, the same on every dialect; the statement kept in
-- err.sql without its parameter values; and errors being raised, never
-- returned.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local pg = helper.is_pg()
local my = helper.is_mariadb()

-- The code a failure has on this run's database: PostgreSQL's SQLSTATE,
-- MariaDB's SQLSTATE, or SQLite's extended result code.
local function code(pg_code, my_code, sqlite_code)
    if pg then return pg_code end
    if my then return my_code end
    return sqlite_code
end

local TABLES = {
    {"t_err_users", "CREATE TABLE t_err_users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE, "
        .. "age INTEGER CHECK (age >= 0), nick VARCHAR(5))"},
    {"t_err_posts", "CREATE TABLE t_err_posts (id INTEGER PRIMARY KEY, "
        .. "owner_id INTEGER NOT NULL REFERENCES t_err_users (id))"},
}

local INSERT_USER = "INSERT INTO t_err_users (id, email) VALUES (?, ?)"

TestError = {}

function TestError:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
    self.conn = self.engine:connect()
    self.conn:execute(INSERT_USER, {1, "ann@example.org"})
end

function TestError:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

function TestError:unique_violation()
    return helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn, INSERT_USER,
                               {2, "ann@example.org"})
end

-- the object

function TestError:test_error_has_kind_message_code_sql()
    local err = self:unique_violation()
    lu.assertEquals(err.kind, "IntegrityError")
    lu.assertEquals(type(err.message), "string")
    lu.assertTrue(#err.message > 0)
    lu.assertEquals(type(err.code), "string")
    lu.assertEquals(type(err.sql), "string")
    lu.assertStrContains(err.sql, "INSERT INTO t_err_users")
end

function TestError:test_tostring_reads_kind_message_and_sql()
    local err = self:unique_violation()
    lu.assertEquals(tostring(err), "IntegrityError: " .. err.message .. " [SQL: " .. err.sql .. "]")
end

function TestError:test_unique_violation_code()
    lu.assertEquals(self:unique_violation().code, code("23505", "23000", "2067"))
end

function TestError:test_errors_are_raised_not_returned()
    local ok, err = pcall(self.conn.execute, self.conn, "SELEC 1")
    lu.assertFalse(ok)
    lu.assertNotIsNil(helper.field(err, "kind"))
    local results = table.pack(pcall(self.conn.execute, self.conn, INSERT_USER, {3, "ann@example.org"}))
    lu.assertFalse(results[1])
    lu.assertEquals(results.n, 2, "pcall gives false and the error, nothing more")
end

function TestError:test_argument_error_has_kind_and_message()
    local err = helper.assert_error("ArgumentError", nil, self.conn.execute, self.conn, 42)
    lu.assertEquals(type(err.message), "string")
    lu.assertStrContains(tostring(err), "ArgumentError")
end

-- the same mistake has the same kind on every dialect

function TestError:test_syntax_error_is_programming_error()
    local err = helper.assert_error("ProgrammingError", nil, self.conn.execute, self.conn, "SELEC 1")
    lu.assertStrContains(err.sql, "SELEC 1")
    if not helper.is_sqlite() then lu.assertEquals(err.code, code("42601", "42000")) end
end

function TestError:test_unknown_table_is_programming_error()
    local err = helper.assert_error("ProgrammingError", nil, self.conn.execute, self.conn,
                                    "SELECT * FROM t_err_no_such_table")
    if not helper.is_sqlite() then lu.assertEquals(err.code, code("42P01", "42S02")) end
end

function TestError:test_unknown_column_is_programming_error()
    local err = helper.assert_error("ProgrammingError", nil, self.conn.execute, self.conn,
                                    "SELECT no_such_column FROM t_err_users")
    if not helper.is_sqlite() then lu.assertEquals(err.code, code("42703", "42S22")) end
end

function TestError:test_unique_violation_is_integrity_error()
    self:unique_violation()
end

function TestError:test_not_null_violation_is_integrity_error_with_code()
    local err = helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn, INSERT_USER,
                                    {2, argent.null})
    lu.assertEquals(err.code, code("23502", "23000", "1299"))
end

-- API.md section 2: SQLite connections enforce foreign keys by default.
function TestError:test_foreign_key_violation_is_integrity_error()
    local err = helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn,
                                    "INSERT INTO t_err_posts (id, owner_id) VALUES (?, ?)", {1, 999})
    lu.assertEquals(err.code, code("23503", "23000", "787"))
end

function TestError:test_check_violation_is_integrity_error()
    local err = helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn,
                                    "INSERT INTO t_err_users (id, email, age) VALUES (?, ?, ?)",
                                    {2, "b@example.org", -1})
    lu.assertEquals(err.code, code("23514", "23000", "275"))
end

function TestError:test_too_long_for_varchar_is_data_error_on_postgresql()
    lu.skipIf(helper.is_sqlite(), "SQLite does not enforce VARCHAR lengths")
    local err = helper.assert_error("DataError", nil, self.conn.execute, self.conn,
                                    "INSERT INTO t_err_users (id, email, nick) VALUES (?, ?, ?)",
                                    {2, "b@example.org", "much too long"})
    lu.assertEquals(err.code, "22001")
end

function TestError:test_division_by_zero_is_data_error_on_postgresql()
    lu.skipIf(not pg, "SQLite and MariaDB give NULL for a division by zero in a SELECT")
    helper.assert_error("DataError", nil, self.conn.execute, self.conn, "SELECT 1 / 0 AS x")
end

-- parameter values stay out of error messages

function TestError:test_sql_never_contains_parameter_values()
    local secret = "s3cr3t-value-4711@example.org"
    self.conn:execute(INSERT_USER, {2, secret})
    local err = helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn, INSERT_USER,
                                    {3, secret})
    lu.assertNotStrContains(err.sql, secret)
    lu.assertNotStrContains(err.sql, "4711")
    lu.assertNotStrContains(tostring(err), "4711")
end

function TestError:test_sql_of_named_statement_has_no_values()
    local secret = "hidden-9931@example.org"
    self.conn:execute(INSERT_USER, {2, secret})
    local err = helper.assert_error("IntegrityError", nil, self.conn.execute, self.conn,
                                    "INSERT INTO t_err_users (id, email) VALUES (:id, :email)",
                                    {id = 3, email = secret})
    lu.assertStrContains(err.sql, "INSERT INTO t_err_users")
    lu.assertNotStrContains(err.sql, "9931")
    lu.assertNotStrContains(tostring(err), "9931")
end

-- after an error

function TestError:test_connection_is_usable_after_an_error()
    self:unique_violation()
    helper.assert_error("ProgrammingError", nil, self.conn.execute, self.conn, "SELEC 1")
    lu.assertEquals(self.conn:execute("SELECT count(*) AS c FROM t_err_users"):scalar(), 1)
end

function TestError:test_failed_insert_writes_nothing()
    self:unique_violation()
    lu.assertEquals(self.conn:execute("SELECT count(*) AS c FROM t_err_users"):scalar(), 1)
end

function TestError:test_error_inside_engine_begin_keeps_its_kind()
    local err = helper.assert_error("IntegrityError", nil, self.engine.begin, self.engine, function(conn)
        conn:execute(INSERT_USER, {5, "new@example.org"})
        conn:execute(INSERT_USER, {6, "ann@example.org"})
    end)
    lu.assertEquals(err.code, code("23505", "23000", "2067"))
    lu.assertEquals(self.conn:execute("SELECT count(*) AS c FROM t_err_users"):scalar(), 1)
end

os.exit(helper.run(), true)
