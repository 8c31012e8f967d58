-- tests/lua/test_connection.lua -- the connection object (src/lua/connection.c),
-- API.md section 3.
--
-- execute with `?` and `:name` parameters (text() and plain strings), the
-- placeholder scanner leaving quotes, comments and casts alone, executemany,
-- exec_driver_sql, autocommit outside begin(), close, and every misuse that
-- must be an ArgumentError before the database is touched.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local TABLES = {
    {"t_conn_users", "CREATE TABLE t_conn_users (id INTEGER PRIMARY KEY, name VARCHAR(50), n INTEGER)"},
}

local function insert_users(conn)
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {1, "ann", 10})
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {2, "bob", 20})
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {3, "cy", 30})
end

TestConnection = {}

function TestConnection:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
end

function TestConnection:tearDown()
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

-- parameters

function TestConnection:test_execute_with_positional_params()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local rows = conn:execute("SELECT id, name FROM t_conn_users WHERE id > ? AND n < ? ORDER BY id",
                              {1, 100}):all()
    lu.assertEquals(#rows, 2)
    lu.assertEquals(rows[1].name, "bob")
    lu.assertEquals(rows[2].name, "cy")
end

function TestConnection:test_execute_text_with_named_params()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local res = conn:execute(argent.text("SELECT id FROM t_conn_users WHERE name = :name"),
                             {name = "bob"})
    lu.assertEquals(res:scalar(), 2)
end

function TestConnection:test_execute_plain_string_with_named_params()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local res = conn:execute("SELECT id FROM t_conn_users WHERE name = :name AND n > :low",
                             {name = "cy", low = 5})
    lu.assertEquals(res:scalar(), 3)
end

function TestConnection:test_named_param_used_twice()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local res = conn:execute("SELECT count(*) AS c FROM t_conn_users WHERE name = :v OR name = :v",
                             {v = "ann"})
    lu.assertEquals(res:scalar(), 1)
end

function TestConnection:test_insert_with_named_params()
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (:id, :name, :n)",
                 {id = 9, name = "dee", n = 90})
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 9"):scalar(), "dee")
end

function TestConnection:test_quotes_and_comments_are_not_placeholders()
    local conn <close> = self.engine:connect()
    local row = conn:execute("SELECT '?' AS q, ':x' AS n -- ?"):first()
    lu.assertEquals(row.q, "?")
    lu.assertEquals(row.n, ":x")
end

function TestConnection:test_block_comment_is_not_a_placeholder()
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT /* ? :x */ ? AS v", {"p"}):scalar(), "p")
end

function TestConnection:test_double_quoted_identifier_is_not_a_placeholder()
    local conn <close> = self.engine:connect()
    local row = conn:execute([[SELECT 1 AS "a?b:c"]]):first()
    lu.assertEquals(row["a?b:c"], 1)
end

function TestConnection:test_postgresql_cast_is_not_a_param()
    lu.skipIf(not helper.is_pg(), "PostgreSQL only")
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT 1::int AS x"):scalar(), 1)
end

function TestConnection:test_postgresql_dollar_quotes_are_not_placeholders()
    lu.skipIf(not helper.is_pg(), "PostgreSQL only")
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT $$it's ? :x$$ AS s"):scalar(), "it's ? :x")
end

function TestConnection:test_postgresql_jsonb_operators_are_not_placeholders()
    lu.skipIf(not helper.is_pg(), "PostgreSQL only")
    local conn <close> = self.engine:connect()
    -- DESIGN.md: `\?` stands for a literal `?`; `?|` and `?&` are kept as written
    lu.assertIs(conn:execute([[SELECT '{"a":1}'::jsonb \? 'a' AS has]]):scalar(), true)
    lu.assertIs(conn:execute([[SELECT '{"a":1}'::jsonb ?| array['a', 'b'] AS has]]):scalar(), true)
    lu.assertIs(conn:execute([[SELECT '{"a":1}'::jsonb ?& array['a', 'b'] AS has]]):scalar(), false)
end

function TestConnection:test_param_that_looks_like_sql_stays_data()
    local conn <close> = self.engine:connect()
    local evil = "x'); DROP TABLE t_conn_users; --"
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {1, evil, 1})
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 1"):scalar(), evil)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 1)
end

-- executemany

function TestConnection:test_executemany_positional_inserts_all_rows()
    local conn <close> = self.engine:connect()
    local rows = {}
    for i = 1, 1000 do rows[i] = {i, "user" .. i, i * 2} end
    local n = conn:executemany("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", rows)
    lu.assertEquals(n, 1000)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 1000)
    lu.assertEquals(conn:execute("SELECT sum(n) AS s FROM t_conn_users"):scalar(), 1000 * 1001)
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 777"):scalar(), "user777")
end

function TestConnection:test_executemany_named_inserts_all_rows()
    local conn <close> = self.engine:connect()
    local rows = {}
    for i = 1, 1000 do rows[i] = {id = i, name = "named" .. i, n = i} end
    local n = conn:executemany("INSERT INTO t_conn_users (id, name, n) VALUES (:id, :name, :n)", rows)
    lu.assertEquals(n, 1000)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 1000)
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 1000"):scalar(), "named1000")
end

function TestConnection:test_executemany_of_an_update_returns_rows_matched()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local n = conn:executemany("UPDATE t_conn_users SET n = n + 1 WHERE id = ?", {{1}, {2}, {99}})
    lu.assertEquals(n, 2)
end

-- A row function for executemany: rows 1..n as made by make(i), then nil.
local function rows_of(n, make)
    local i = 0
    return function()
        i = i + 1
        if i <= n then return make(i) end
        return nil
    end
end

function TestConnection:test_executemany_takes_rows_from_a_function()
    local conn <close> = self.engine:connect()
    local n = conn:executemany("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)",
                               rows_of(2500, function(i) return {i, "gen" .. i, i} end))
    lu.assertEquals(n, 2500)
    lu.assertEquals(conn:execute("SELECT sum(n) AS s FROM t_conn_users"):scalar(), 2500 * 2501 / 2)
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 2500"):scalar(), "gen2500")
    -- a function with no rows
    lu.assertEquals(conn:executemany("INSERT INTO t_conn_users (id) VALUES (?)", function() return nil end), 0)
end

function TestConnection:test_executemany_row_function_errors_leave_nothing()
    local conn <close> = self.engine:connect()
    local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (:id, :name, :n)"
    -- the function's own error comes back as it was raised, and no row stays
    local boom = {}
    local ok, err = pcall(conn.executemany, conn, sql, rows_of(3000, function(i)
        if i == 2001 then error(boom) end
        return {id = i, name = "x", n = i}
    end))
    lu.assertFalse(ok)
    lu.assertIs(err, boom)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 0)
    -- a row that is not a table
    helper.assert_error("ArgumentError", "row 2 must be a table", conn.executemany, conn, sql,
                        rows_of(3, function(i) return i == 2 and "x" or {id = i, name = "x", n = i} end))
    lu.assertEquals(helper.count(conn, "t_conn_users"), 0)
    -- the function may not use the connection while it runs
    helper.assert_error("InvalidRequestError", "row function", conn.executemany, conn, sql,
                        rows_of(3, function(i)
                            if i == 2 then conn:execute("SELECT 1") end
                            return {id = i, name = "x", n = i}
                        end))
    lu.assertEquals(helper.count(conn, "t_conn_users"), 0)
    lu.assertEquals(conn:execute("SELECT 1 AS one"):scalar(), 1) -- and works again after
end

-- A row function that ends or closes the connection under a running
-- executemany is refused (it would free the connection under the driver).
function TestConnection:test_executemany_row_function_cannot_close_the_connection()
    local conn = self.engine:connect()
    local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)"
    helper.assert_error("InvalidRequestError", "row function", conn.executemany, conn, sql,
                        rows_of(20, function(i)
                            if i == 5 then conn:close() end
                            return {i, "x", i}
                        end))
    lu.assertFalse(conn.closed)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 0)
    conn:close()
end

function TestConnection:test_executemany_row_function_cannot_end_the_transaction()
    for _, verb in ipairs {"commit", "rollback", "close"} do
        local conn <close> = self.engine:connect()
        local tx = conn:begin()
        local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)"
        helper.assert_error("InvalidRequestError", "row function", conn.executemany, conn, sql,
                            rows_of(20, function(i)
                                if i == 5 then tx[verb](tx) end
                                return {i, "x", i}
                            end))
        -- nothing of the executemany stays, and the transaction is still the caller's
        lu.assertTrue(tx.is_active, verb)
        lu.assertEquals(helper.count(conn, "t_conn_users"), 0, verb)
        tx:rollback()
        lu.assertEquals(helper.count(conn, "t_conn_users"), 0, verb)
    end
end

-- Another result of the connection cannot be read under a running
-- executemany; dropping one there is harmless.
function TestConnection:test_executemany_row_function_cannot_read_another_result()
    local conn <close> = self.engine:connect()
    insert_users(conn)
    local res = conn:execute("SELECT id FROM t_conn_users ORDER BY id")
    local dropped = conn:execute("SELECT name FROM t_conn_users ORDER BY id")
    lu.assertEquals(dropped:first().name, "ann")
    local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)"
    helper.assert_error("InvalidRequestError", "row function", conn.executemany, conn, sql,
                        rows_of(20, function(i)
                            if i == 5 then res:first() end
                            return {i + 10, "x", i}
                        end))
    dropped = nil
    lu.assertEquals(conn:executemany(sql, rows_of(20, function(i)
        if i == 5 then collectgarbage(); collectgarbage() end
        return {i + 10, "x", i}
    end)), 20)
    lu.assertEquals(res:first(), {id = 1}) -- still readable (what a SQLite cursor sees of rows written since is its own)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 23)
end

-- executemany is all or nothing, inside a caller's transaction too: a row
-- that fails leaves the transaction as it was before the call, and usable.
function TestConnection:test_executemany_in_a_transaction_is_all_or_nothing()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {100, "kept", 1})
    local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)"
    -- the row function raises at row 5
    local boom = {}
    local ok, err = pcall(conn.executemany, conn, sql, rows_of(20, function(i)
        if i == 5 then error(boom) end
        return {i, "x", i}
    end))
    lu.assertFalse(ok)
    lu.assertIs(err, boom)
    lu.assertEquals(helper.count(conn, "t_conn_users"), 1)
    -- the database refuses row 3 (a duplicate key)
    helper.assert_error("IntegrityError", nil, conn.executemany, conn, sql, {{1, "a", 1}, {2, "b", 2}, {1, "c", 3}})
    lu.assertEquals(helper.count(conn, "t_conn_users"), 1)
    -- the transaction goes on
    lu.assertEquals(conn:executemany(sql, {{1, "a", 1}, {2, "b", 2}}), 2)
    tx:commit()
    lu.assertEquals(helper.count(conn, "t_conn_users"), 3)
end

-- A transaction dropped (and collected) while a row function runs is rolled
-- back after the executemany, not under it.
function TestConnection:test_transaction_collected_during_executemany_rolls_back_after_it()
    -- LuaJIT may keep the dropped transaction in a stack slot: not collected there
    lu.skipIf(helper.lua_version == "luajit", "LuaJIT's collector may still see the transaction")
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    tx = nil
    local sql = "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)"
    lu.assertEquals(conn:executemany(sql, rows_of(20, function(i)
        if i == 5 then collectgarbage(); collectgarbage() end
        return {i, "x", i}
    end)), 20)
    lu.assertFalse(conn:in_transaction())
    lu.assertEquals(helper.count(conn, "t_conn_users"), 0)
end

-- The statement cache never evicts its newest entry or one in use by an open
-- result: when every entry is in use it grows past its size until results close.
function TestConnection:test_statement_cache_full_of_open_results_grows()
    for _, size in ipairs {1, 4} do
        local engine = helper.engine {statement_cache_size = size}
        helper.create_tables(engine, TABLES) -- (a new engine on :memory: is a new database)
        local conn <close> = engine:connect()
        insert_users(conn)
        local open = {}
        for i = 1, size + 3 do
            local res = conn:execute("SELECT id, " .. i .. " AS k FROM t_conn_users ORDER BY id")
            lu.assertEquals(res:first().k, i) -- reads one row; the result stays open
            open[#open + 1] = conn:execute("SELECT name, " .. i .. " AS k FROM t_conn_users ORDER BY id")
        end
        lu.assertEquals(conn:execute("SELECT count(*) AS n FROM t_conn_users"):scalar(), 3)
        for i, res in ipairs(open) do
            local names = {}
            for row in res:rows() do names[#names + 1] = row.name .. row.k end
            lu.assertEquals(names, {"ann" .. i, "bob" .. i, "cy" .. i})
        end
        open = nil
        collectgarbage()
        -- and it works as a cache again
        for i = 1, size + 3 do
            lu.assertEquals(conn:execute("SELECT " .. i .. " AS k"):scalar(), i)
        end
        conn:close()
        engine:dispose()
    end
end

function TestConnection:test_default_statement_cache_with_129_open_results()
    insert_users(self.engine:connect())
    local conn <close> = self.engine:connect()
    local open = {}
    for i = 1, 129 do
        open[i] = conn:execute("SELECT id, " .. i .. " AS k FROM t_conn_users ORDER BY id")
    end
    lu.assertEquals(conn:execute("SELECT 'one more' AS m"):scalar(), "one more")
    for i = 1, 129 do lu.assertEquals(open[i]:all()[3].k, i) end
end

-- exec_driver_sql

function TestConnection:test_exec_driver_sql_passes_sql_untouched()
    local conn <close> = self.engine:connect()
    if helper.is_pg() then
        lu.assertEquals(conn:exec_driver_sql("SELECT $1::int AS x", {5}):scalar(), 5)
    elseif helper.is_mariadb() then  -- `?` is MariaDB's own placeholder
        lu.assertEquals(conn:exec_driver_sql("SELECT ? AS x", {5}):scalar(), 5)
    else
        lu.assertEquals(conn:exec_driver_sql("SELECT ?1 AS x", {5}):scalar(), 5)
    end
end

function TestConnection:test_exec_driver_sql_without_params()
    local conn <close> = self.engine:connect()
    conn:exec_driver_sql("INSERT INTO t_conn_users (id, name, n) VALUES (5, 'raw', 1)")
    lu.assertEquals(conn:execute("SELECT name FROM t_conn_users WHERE id = 5"):scalar(), "raw")
end

-- autocommit and close

function TestConnection:test_autocommit_outside_begin_is_visible_to_another_connection()
    local c1 <close> = self.engine:connect()
    local c2 <close> = self.engine:connect()
    c1:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {1, "ann", 1})
    lu.assertEquals(helper.count(c2, "t_conn_users"), 1)
end

function TestConnection:test_execute_after_close_is_invalid_request()
    local conn = self.engine:connect()
    conn:close()
    helper.assert_error("InvalidRequestError", nil, conn.execute, conn, "SELECT 1")
end

function TestConnection:test_begin_after_close_is_invalid_request()
    local conn = self.engine:connect()
    conn:close()
    helper.assert_error("InvalidRequestError", nil, conn.begin, conn)
end

function TestConnection:test_close_twice_is_fine()
    local conn = self.engine:connect()
    conn:close()
    conn:close()
end

function TestConnection:test_close_variable_closes_the_connection()
    local escaped
    do
        local conn <close> = self.engine:connect()
        escaped = conn
        lu.assertEquals(conn:execute("SELECT 1 AS x"):scalar(), 1)
    end
    helper.assert_error("InvalidRequestError", nil, escaped.execute, escaped, "SELECT 1")
end

-- misuse: ArgumentError before the database is touched

function TestConnection:test_execute_number_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, 42)
end

function TestConnection:test_execute_nil_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, nil)
end

function TestConnection:test_too_few_positional_params_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, "SELECT ? AS a", {})
end

function TestConnection:test_missing_params_table_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, "SELECT ? AS a")
end

function TestConnection:test_too_many_positional_params_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, "SELECT ? AS a", {1, 2})
end

function TestConnection:test_missing_named_param_is_argument_error_naming_it()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", "alpha", conn.execute, conn, "SELECT :alpha AS a", {})
end

function TestConnection:test_params_string_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, "SELECT ? AS a", "x")
end

function TestConnection:test_table_param_is_argument_error_naming_position()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", "1", conn.execute, conn, "SELECT ? AS a", {{}})
end

function TestConnection:test_function_param_is_argument_error_naming_position()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", "2", conn.execute, conn, "SELECT ? AS a, ? AS b", {1, print})
end

function TestConnection:test_table_named_param_is_argument_error_naming_it()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", "payload", conn.execute, conn, "SELECT :payload AS a",
                        {payload = {}})
end

function TestConnection:test_positional_hole_is_argument_error_suggesting_null()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", "argent.null", conn.execute, conn,
                        "SELECT ? AS a, ? AS b", {nil, 2})
end

function TestConnection:test_mixing_positional_and_named_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.execute, conn, "SELECT ? AS a, :b AS b",
                        {1, b = 2})
end

function TestConnection:test_executemany_with_bad_row_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.executemany, conn,
                        "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {{1, "a", 1}, "x"})
end

function TestConnection:test_executemany_without_list_is_argument_error()
    local conn <close> = self.engine:connect()
    helper.assert_error("ArgumentError", nil, conn.executemany, conn,
                        "INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", 5)
end

function TestConnection:test_connection_still_works_after_argument_error()
    local conn <close> = self.engine:connect()
    pcall(conn.execute, conn, "SELECT ? AS a", {})
    lu.assertEquals(conn:execute("SELECT ? AS a", {"ok"}):scalar(), "ok")
end

-- NULL

function TestConnection:test_argent_null_param_inserts_null()
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (?, ?, ?)", {1, argent.null, 5})
    lu.assertEquals(conn:execute("SELECT count(*) AS c FROM t_conn_users WHERE name IS NULL"):scalar(), 1)
    local row = conn:execute("SELECT id, name, n FROM t_conn_users"):first()
    lu.assertIsNil(row.name)
    lu.assertEquals(row.n, 5)
end

-- A missing key cannot be told from nil, so argent.null says NULL by name too.
function TestConnection:test_argent_null_named_param_inserts_null()
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO t_conn_users (id, name, n) VALUES (:id, :name, :n)",
                 {id = 1, name = argent.null, n = 5})
    lu.assertEquals(conn:execute("SELECT count(*) AS c FROM t_conn_users WHERE name IS NULL"):scalar(), 1)
end

-- SQL text with a zero byte: an ArgumentError on every dialect, before the
-- database sees it (SQLite would stop reading at the zero, libpq cannot send
-- it, MariaDB would run it); nothing runs, and the connection stays usable.
function TestConnection:test_sql_text_with_a_zero_byte_is_an_argument_error_everywhere()
    local conn <close> = self.engine:connect()
    for _, sql in ipairs {"SELECT 1\0", "SELECT '\0'", "\0", "SELECT 1 -- \0 comment"} do
        helper.assert_error("ArgumentError", "zero byte", conn.execute, conn, sql)
        helper.assert_error("ArgumentError", "zero byte", conn.exec_driver_sql, conn, sql)
        helper.assert_error("ArgumentError", "zero byte", conn.execute, conn, argent.text(sql))
        helper.assert_error("ArgumentError", "zero byte", conn.executemany, conn, sql, {{}})
    end
    lu.assertEquals(conn:execute("SELECT 1 AS one"):scalar(), 1)
end

os.exit(helper.run(), true)
