-- tests/lua/test_result.lua -- the result object (src/lua/result.c), API.md section 3.
--
-- The ways of reading rows (rows, tuples, all, first, one, one_or_none,
-- scalar, scalars, columns), rowcount and lastrowid, use after close,
-- streaming in constant memory, and a second statement on the same
-- connection while a result is being read.

local helper = require "tests.lua.helper"
local lu = helper.lu

local TABLES = {
    {"t_res_items", "CREATE TABLE t_res_items (id INTEGER PRIMARY KEY, name VARCHAR(50), n INTEGER)"},
    {"t_res_auto", "CREATE TABLE t_res_auto (id " .. helper.types.autoinc_pk .. ", name VARCHAR(50))"},
}

local function fill(conn, count)
    for i = 1, count do
        conn:execute("INSERT INTO t_res_items (id, name, n) VALUES (?, ?, ?)", {i, "name" .. i, i * 10})
    end
end

TestResult = {}

function TestResult:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
    self.conn = self.engine:connect()
    fill(self.conn, 3)
end

function TestResult:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

function TestResult:select_all()
    return self.conn:execute("SELECT id, name AS label, n FROM t_res_items ORDER BY id")
end

function TestResult:select_none()
    return self.conn:execute("SELECT id, name AS label, n FROM t_res_items WHERE id < 0")
end

-- iterators

function TestResult:test_rows_yields_tables_keyed_by_label()
    local got = {}
    for row in self:select_all():rows() do
        got[#got + 1] = row
    end
    lu.assertEquals(#got, 3)
    lu.assertEquals(got[1].id, 1)
    lu.assertEquals(got[1].label, "name1")
    lu.assertEquals(got[3].n, 30)
    lu.assertIsNil(got[1].name, "the column is known by its label")
end

function TestResult:test_rows_on_empty_result_yields_nothing()
    local n = 0
    for _ in self:select_none():rows() do n = n + 1 end
    lu.assertEquals(n, 0)
end

function TestResult:test_tuples_yields_multiple_values()
    local ids, labels, ns = {}, {}, {}
    for id, label, n in self:select_all():tuples() do
        ids[#ids + 1], labels[#labels + 1], ns[#ns + 1] = id, label, n
    end
    lu.assertEquals(ids, {1, 2, 3})
    lu.assertEquals(labels, {"name1", "name2", "name3"})
    lu.assertEquals(ns, {10, 20, 30})
end

function TestResult:test_tuples_keeps_null_in_later_columns()
    self.conn:execute("UPDATE t_res_items SET name = NULL WHERE id = 2")
    local seen = {}
    for id, label, n in self:select_all():tuples() do
        seen[#seen + 1] = {id, label == nil, n}
    end
    lu.assertEquals(seen, {{1, false, 10}, {2, true, 20}, {3, false, 30}})
end

-- all / first / one / one_or_none

function TestResult:test_all_returns_array_of_row_tables()
    local rows = self:select_all():all()
    lu.assertEquals(#rows, 3)
    lu.assertEquals(rows[2].id, 2)
    lu.assertEquals(rows[2].label, "name2")
    lu.assertEquals(rows[2].n, 20)
end

function TestResult:test_all_on_empty_result_is_empty_table()
    lu.assertEquals(self:select_none():all(), {})
end

function TestResult:test_first_returns_first_row()
    local row = self:select_all():first()
    lu.assertEquals(row.id, 1)
    lu.assertEquals(row.label, "name1")
end

function TestResult:test_first_returns_nil_on_empty_result()
    lu.assertIsNil(self:select_none():first())
end

function TestResult:test_one_returns_the_only_row()
    local row = self.conn:execute("SELECT id, name FROM t_res_items WHERE id = ?", {2}):one()
    lu.assertEquals(row.name, "name2")
end

function TestResult:test_one_raises_no_result_found_on_empty_result()
    local res = self:select_none()
    helper.assert_error("NoResultFound", nil, res.one, res)
end

function TestResult:test_one_raises_multiple_results_found()
    local res = self:select_all()
    helper.assert_error("MultipleResultsFound", nil, res.one, res)
end

function TestResult:test_one_or_none_returns_nil_on_empty_result()
    lu.assertIsNil(self:select_none():one_or_none())
end

function TestResult:test_one_or_none_returns_the_only_row()
    local row = self.conn:execute("SELECT id, name FROM t_res_items WHERE id = ?", {3}):one_or_none()
    lu.assertEquals(row.id, 3)
end

function TestResult:test_one_or_none_raises_multiple_results_found()
    local res = self:select_all()
    helper.assert_error("MultipleResultsFound", nil, res.one_or_none, res)
end

-- scalar / scalars / columns

function TestResult:test_scalar_returns_first_column_of_first_row()
    lu.assertEquals(self:select_all():scalar(), 1)
end

function TestResult:test_scalar_returns_nil_on_empty_result()
    lu.assertIsNil(self:select_none():scalar())
end

function TestResult:test_scalars_returns_array_of_first_column()
    lu.assertEquals(self.conn:execute("SELECT name, id FROM t_res_items ORDER BY id"):scalars(),
                    {"name1", "name2", "name3"})
end

function TestResult:test_scalars_on_empty_result_is_empty_table()
    lu.assertEquals(self:select_none():scalars(), {})
end

function TestResult:test_columns_returns_labels_in_order()
    lu.assertEquals(self:select_all():columns(), {"id", "label", "n"})
end

function TestResult:test_columns_of_empty_result()
    lu.assertEquals(self:select_none():columns(), {"id", "label", "n"})
end

function TestResult:test_columns_of_expressions()
    lu.assertEquals(self.conn:execute("SELECT 1 AS a, 2 AS b, 3 AS c"):columns(), {"a", "b", "c"})
end

-- rowcount / lastrowid

function TestResult:test_rowcount_of_update_is_rows_matched()
    local res = self.conn:execute("UPDATE t_res_items SET n = n + 1 WHERE id >= ?", {2})
    lu.assertEquals(res.rowcount, 2)
end

-- SQLAlchemy's rowcount is rows matched, even when the values do not change.
function TestResult:test_rowcount_of_update_counts_unchanged_rows()
    local res = self.conn:execute("UPDATE t_res_items SET n = n")
    lu.assertEquals(res.rowcount, 3)
end

function TestResult:test_rowcount_of_update_matching_nothing_is_zero()
    local res = self.conn:execute("UPDATE t_res_items SET n = 0 WHERE id < 0")
    lu.assertEquals(res.rowcount, 0)
end

function TestResult:test_rowcount_of_delete()
    local res = self.conn:execute("DELETE FROM t_res_items WHERE id <> ?", {2})
    lu.assertEquals(res.rowcount, 2)
end

function TestResult:test_rowcount_of_insert()
    local res = self.conn:execute("INSERT INTO t_res_items (id, name, n) VALUES (?, ?, ?), (?, ?, ?)",
                                  {10, "a", 1, 11, "b", 2})
    lu.assertEquals(res.rowcount, 2)
end

function TestResult:test_lastrowid_after_single_row_insert_on_sqlite()
    lu.skipIf(helper.is_pg(), "raw-SQL lastrowid is the database's last-insert id (none on PostgreSQL)")
    local r1 = self.conn:execute("INSERT INTO t_res_auto (name) VALUES (?)", {"first"})
    local r2 = self.conn:execute("INSERT INTO t_res_auto (name) VALUES (?)", {"second"})
    lu.assertEquals(math.type(r1.lastrowid), "integer")
    lu.assertEquals(math.type(r2.lastrowid), "integer")
    lu.assertEquals(self.conn:execute("SELECT name FROM t_res_auto WHERE id = ?", {r2.lastrowid}):scalar(),
                    "second")
    lu.assertEquals(r2.lastrowid, r1.lastrowid + 1)
end

-- closed results

function TestResult:test_closed_result_all_is_invalid_request()
    local res = self:select_all()
    res:close()
    helper.assert_error("InvalidRequestError", nil, res.all, res)
end

function TestResult:test_closed_result_first_is_invalid_request()
    local res = self:select_all()
    res:close()
    helper.assert_error("InvalidRequestError", nil, res.first, res)
end

function TestResult:test_closed_result_rows_is_invalid_request()
    local res = self:select_all()
    res:close()
    helper.assert_error("InvalidRequestError", nil, function()
        for _ in res:rows() do end
    end)
end

function TestResult:test_closing_a_result_twice_is_fine()
    local res = self:select_all()
    res:close()
    res:close()
end

function TestResult:test_result_close_variable()
    do
        local res <close> = self:select_all()
        lu.assertEquals(res:first().id, 1)
    end
    lu.assertEquals(self.conn:execute("SELECT count(*) AS c FROM t_res_items"):scalar(), 3)
end

-- SQLAlchemy: the result of a closed connection is closed.
function TestResult:test_result_of_closed_connection_is_invalid_request()
    local res = self:select_all()
    self.conn:close()
    helper.assert_error("InvalidRequestError", nil, res.all, res)
end

-- DESIGN.md: a result keeps its connection alive.
function TestResult:test_result_keeps_its_connection_alive()
    local res = self.engine:connect():execute("SELECT id FROM t_res_items ORDER BY id")
    collectgarbage()
    collectgarbage()
    lu.assertEquals(res:scalars(), {1, 2, 3})
end

-- streaming

function TestResult:test_rows_streams_in_constant_memory()
    local res = self.conn:execute(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 200000) SELECT n FROM s")
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count")  -- KiB
    local peak = 0
    local count, sum = 0, 0
    for row in res:rows() do
        count = count + 1
        sum = sum + row.n
        if count % 10000 == 0 then
            local grown = collectgarbage("count") - base
            if grown > peak then peak = grown end
        end
    end
    lu.assertEquals(count, 200000)
    lu.assertEquals(sum, 200000 * 200001 / 2)
    lu.assertTrue(peak < 20 * 1024, ("Lua memory grew by %.0f KiB while streaming"):format(peak))
end

function TestResult:test_tuples_streams_200000_rows()
    local count, last = 0, nil
    local res = self.conn:execute(
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM s WHERE n < 200000) SELECT n FROM s")
    for n in res:tuples() do
        count = count + 1
        last = n
    end
    lu.assertEquals(count, 200000)
    lu.assertEquals(last, 200000)
end

function TestResult:test_breaking_out_of_rows_leaves_connection_usable()
    for row in self:select_all():rows() do
        if row.id == 1 then break end
    end
    lu.assertEquals(self.conn:execute("SELECT count(*) AS c FROM t_res_items"):scalar(), 3)
end

-- another statement while a result is read

function TestResult:test_nested_query_on_same_connection_while_iterating()
    for i = 4, 10 do
        self.conn:execute("INSERT INTO t_res_items (id, name, n) VALUES (?, ?, ?)", {i, "name" .. i, i * 10})
    end
    local seen = {}
    for row in self.conn:execute("SELECT id FROM t_res_items ORDER BY id"):rows() do
        local name = self.conn:execute("SELECT name FROM t_res_items WHERE id = ?", {row.id}):scalar()
        seen[#seen + 1] = name
    end
    lu.assertEquals(#seen, 10)
    lu.assertEquals(seen[1], "name1")
    lu.assertEquals(seen[10], "name10")
end

function TestResult:test_two_results_read_alternately()
    local a = self.conn:execute("SELECT id FROM t_res_items ORDER BY id")
    local b = self.conn:execute("SELECT id FROM t_res_items ORDER BY id DESC")
    local ra, rb = a:first(), b:first()
    lu.assertEquals(ra.id, 1)
    lu.assertEquals(rb.id, 3)
end

-- A result read to its last row but not past it, then another statement
-- (which moves the first one's rest, only its end, into memory), then the
-- first closed and its SQL run again (the cached statement).  MariaDB's
-- connector left such a statement waiting for rows that never came.
function TestResult:test_result_read_to_its_last_row_then_another_statement_then_run_again()
    local sql = "SELECT id FROM t_res_items WHERE id = ?"
    for round = 1, 3 do
        local r = self.conn:execute(sql, {1})
        local it = r:rows()
        lu.assertEquals(it().id, 1)
        lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_items"):scalar(), 3)
        if round == 2 then lu.assertNil(it()) end -- read past its end, this time
        r:close()
        lu.assertEquals(self.conn:execute(sql, {1}):scalar(), 1, "round " .. round)
    end
end

function TestResult:test_result_left_unread_then_another_statement_then_run_again()
    local sql = "SELECT id FROM t_res_items ORDER BY id"
    local r = self.conn:execute(sql)
    lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_items"):scalar(), 3)
    r:close()
    lu.assertEquals(self.conn:execute(sql):scalars(), {1, 2, 3})
    local empty = self.conn:execute("SELECT id FROM t_res_items WHERE id < 0")
    lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_items"):scalar(), 3)
    empty:close()
    lu.assertEquals(self.conn:execute("SELECT id FROM t_res_items WHERE id < 0"):all(), {})
end

function TestResult:test_result_abandoned_mid_row_by_an_error_then_run_again()
    local sql = "SELECT id, name FROM t_res_items ORDER BY id"
    local ok = pcall(function()
        for row in self.conn:execute(sql):rows() do
            self.conn:execute("SELECT 1"):scalar()
            if row.id == 3 then error("stop at the last row") end
        end
    end)
    lu.assertFalse(ok)
    collectgarbage()
    collectgarbage()
    lu.assertEquals(#self.conn:execute(sql):all(), 3)
end

-- A result whose rest went to memory, read to its end while another streams;
-- then a third statement (which moves the second one's rest to memory).
-- MariaDB's connector marked the connection idle under the streaming one,
-- and the third statement found the connection out of sync.
function TestResult:test_buffered_result_read_to_its_end_while_another_streams()
    local a = self.conn:execute("SELECT id FROM t_res_items ORDER BY id")
    local ra = a:rows()
    lu.assertEquals(ra().id, 1)
    local b = self.conn:execute("SELECT id FROM t_res_items ORDER BY id DESC") -- a's rest to memory
    local rb = b:rows()
    lu.assertEquals(rb().id, 3)
    lu.assertEquals(ra().id, 2)
    lu.assertEquals(ra().id, 3)
    lu.assertNil(ra()) -- a's end, b still streaming
    lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_items"):scalar(), 3) -- b's rest to memory
    lu.assertEquals(rb().id, 2)
    lu.assertEquals(rb().id, 1)
    lu.assertNil(rb())
    lu.assertEquals(self.conn:execute("SELECT id FROM t_res_items ORDER BY id"):scalars(), {1, 2, 3})
end

-- A seeded random walk over up to four open results of one connection: new
-- results (the two texts share cached statements; the result a slot held is
-- dropped unclosed, left to the collector), rows read, results closed,
-- collections, a query in between, a transaction rolled back; each row
-- checked against what its result must give next.  Statement reuse, wire
-- hand-overs and finalizers meet here as they do in programs.
function TestResult:test_random_walk_over_results()
    local rows = {}
    for i = 4, 50 do rows[#rows + 1] = {i, "name" .. i, i * 10} end
    self.conn:executemany("INSERT INTO t_res_items (id, name, n) VALUES (?, ?, ?)", rows)
    local SQL = {"SELECT id FROM t_res_items WHERE id <= ? ORDER BY id",
                 "SELECT id FROM t_res_items WHERE id <= ? ORDER BY id DESC"}
    local SIZES = {0, 1, 2, 3, 7, 50}
    local seed = tonumber(os.getenv("ARGENT_WALK_SEED") or "") or 20261205 -- (another seed: ARGENT_WALK_SEED)
    local function rnd(n)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return math.floor(seed / 65536) % n + 1
    end
    local slots, open = {}, 0
    for step = 1, 3000 do
        local op, k = rnd(10), rnd(4)
        local where = "step " .. step
        if op <= 2 then
            local q, n = rnd(2), SIZES[rnd(6)]
            local expect = {}
            for i = 1, n do expect[i] = q == 1 and i or n - i + 1 end
            if not slots[k] then open = open + 1 end
            local res = self.conn:execute(SQL[q], {n})
            slots[k] = {res = res, it = res:tuples(), expect = expect, pos = 1}
        elseif op <= 6 then
            local sl = slots[k]
            if sl then
                local got = sl.it()
                lu.assertEquals(got, sl.expect[sl.pos], where)
                if got ~= nil then sl.pos = sl.pos + 1 end
            end
        elseif op == 7 then
            if slots[k] then
                slots[k].res:close()
                slots[k] = nil
                open = open - 1
            end
        elseif op == 8 then
            collectgarbage()
        elseif op == 9 then
            lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_items"):scalar(), 50, where)
        elseif not helper.is_sqlite() or open == 0 then -- (SQLite's rollback would end the open reads)
            local tx = self.conn:begin()
            self.conn:execute("INSERT INTO t_res_auto (name) VALUES (?)", {"walk"})
            tx:rollback()
            lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_res_auto"):scalar(), 0, where)
        end
    end
end

os.exit(helper.run(), true)
