-- tests/lua/test_transaction.lua -- transactions and savepoints
-- (src/lua/transaction.c), API.md sections 3 and 8.
--
-- conn:begin() and its commit/rollback/close, isolation from other
-- connections until commit, savepoints, the wrong-state errors, and the
-- promise that a failed statement inside a transaction leaves the data as it
-- was before the transaction.
--
-- On sqlite_mem every connection of an engine is the one shared connection,
-- so the checks that look from a second connection are skipped there.  On
-- sqlite_file a second connection only reads while the first holds the write
-- lock (a second writer would wait for the lock).

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local TABLES = {
    {"t_tx_items", "CREATE TABLE t_tx_items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL)"},
}

local function insert(conn, id, name)
    return conn:execute("INSERT INTO t_tx_items (id, name) VALUES (?, ?)", {id, name or ("item" .. id)})
end

local function count(conn)
    return helper.count(conn, "t_tx_items")
end

local function ids(conn)
    local out = {}
    for row in conn:execute("SELECT id FROM t_tx_items ORDER BY id"):rows() do out[#out + 1] = row.id end
    return out
end

TestTransaction = {}

function TestTransaction:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
end

function TestTransaction:tearDown()
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

-- commit and rollback

function TestTransaction:test_begin_returns_transaction_with_commit_and_rollback()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    lu.assertNotIsNil(tx)
    lu.assertEquals(type(tx.commit), "function")
    lu.assertEquals(type(tx.rollback), "function")
    tx:rollback()
end

function TestTransaction:test_commit_makes_data_permanent()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    insert(conn, 2)
    tx:commit()
    lu.assertEquals(count(conn), 2)
end

function TestTransaction:test_commit_is_visible_to_another_connection()
    local c1 <close> = self.engine:connect()
    local tx = c1:begin()
    insert(c1, 1)
    tx:commit()
    local c2 <close> = self.engine:connect()
    lu.assertEquals(count(c2), 1)
end

function TestTransaction:test_uncommitted_data_is_invisible_to_another_connection()
    lu.skipIf(helper.is_sqlite_mem(), "in-memory SQLite: one shared connection")
    local c1 <close> = self.engine:connect()
    local c2 <close> = self.engine:connect()
    local tx = c1:begin()
    insert(c1, 1)
    lu.assertEquals(count(c1), 1, "the transaction sees its own write")
    lu.assertEquals(count(c2), 0, "another connection does not")
    tx:commit()
    lu.assertEquals(count(c2), 1, "visible after commit")
end

function TestTransaction:test_rollback_discards()
    local conn <close> = self.engine:connect()
    insert(conn, 1)
    local tx = conn:begin()
    insert(conn, 2)
    insert(conn, 3)
    tx:rollback()
    lu.assertEquals(ids(conn), {1})
end

function TestTransaction:test_close_variable_without_commit_rolls_back()
    local conn <close> = self.engine:connect()
    do
        local tx <close> = conn:begin()
        insert(conn, 1)
    end
    lu.assertEquals(count(conn), 0)
end

function TestTransaction:test_close_method_without_commit_rolls_back()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    tx:close()
    lu.assertEquals(count(conn), 0)
end

function TestTransaction:test_close_variable_after_commit_keeps_data()
    local conn <close> = self.engine:connect()
    do
        local tx <close> = conn:begin()
        insert(conn, 1)
        tx:commit()
    end
    lu.assertEquals(count(conn), 1)
end

function TestTransaction:test_error_inside_close_block_rolls_back()
    helper.needs_lua54()
    local conn <close> = self.engine:connect()
    local ok = pcall(function()
        local tx <close> = conn:begin()
        insert(conn, 1)
        error("boom")
    end)
    lu.assertFalse(ok)
    lu.assertEquals(count(conn), 0)
end

function TestTransaction:test_closing_connection_rolls_back_open_transaction()
    local c1 = self.engine:connect()
    c1:begin()
    insert(c1, 1)
    c1:close()
    local c2 <close> = self.engine:connect()
    lu.assertEquals(count(c2), 0)
end

function TestTransaction:test_begin_again_after_commit()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    tx:commit()
    local tx2 = conn:begin()
    insert(conn, 2)
    tx2:commit()
    lu.assertEquals(ids(conn), {1, 2})
end

function TestTransaction:test_autocommit_resumes_after_rollback()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    tx:rollback()
    insert(conn, 1)  -- outside the transaction: commits on its own
    conn:close()
    local c2 <close> = self.engine:connect()
    lu.assertEquals(count(c2), 1)
end

-- wrong states

function TestTransaction:test_begin_twice_is_invalid_request()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    helper.assert_error("InvalidRequestError", nil, conn.begin, conn)
    tx:rollback()
end

function TestTransaction:test_commit_after_commit_is_invalid_request()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    tx:commit()
    helper.assert_error("InvalidRequestError", nil, tx.commit, tx)
end

-- SQLAlchemy: closing a finished transaction does nothing.
function TestTransaction:test_close_after_commit_is_fine()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    tx:commit()
    tx:close()
    tx:close()
end

function TestTransaction:test_transaction_of_closed_connection_is_invalid_request()
    local conn = self.engine:connect()
    local tx = conn:begin()
    conn:close()
    helper.assert_error("InvalidRequestError", nil, tx.commit, tx)
end

-- savepoints

function TestTransaction:test_savepoint_rollback_keeps_outer_work()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    local sp = conn:begin_nested()
    insert(conn, 2)
    sp:rollback()
    insert(conn, 3)
    tx:commit()
    lu.assertEquals(ids(conn), {1, 3})
end

function TestTransaction:test_savepoint_commit_keeps_inner_work()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    local sp = conn:begin_nested()
    insert(conn, 2)
    sp:commit()
    tx:commit()
    lu.assertEquals(ids(conn), {1, 2})
end

function TestTransaction:test_outer_rollback_discards_committed_savepoint()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    local sp = conn:begin_nested()
    insert(conn, 1)
    sp:commit()
    tx:rollback()
    lu.assertEquals(count(conn), 0)
end

function TestTransaction:test_nested_savepoints()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    local sp1 = conn:begin_nested()
    insert(conn, 2)
    local sp2 = conn:begin_nested()
    insert(conn, 3)
    sp2:rollback()
    sp1:commit()
    tx:commit()
    lu.assertEquals(ids(conn), {1, 2})
end

function TestTransaction:test_savepoint_closed_without_commit_rolls_back()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    do
        local sp <close> = conn:begin_nested()
        insert(conn, 2)
    end
    tx:commit()
    lu.assertEquals(ids(conn), {1})
end

function TestTransaction:test_savepoint_recovers_from_failed_statement()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    local sp = conn:begin_nested()
    helper.assert_error("IntegrityError", nil, insert, conn, 1)
    sp:rollback()
    insert(conn, 2)  -- the outer transaction is usable again (PostgreSQL too)
    tx:commit()
    lu.assertEquals(ids(conn), {1, 2})
end

-- failures inside a transaction (API.md section 8: nothing half-written)

function TestTransaction:test_failed_statement_then_rollback_leaves_data_as_before()
    local conn <close> = self.engine:connect()
    local tx = conn:begin()
    insert(conn, 1)
    insert(conn, 2)
    insert(conn, 3)
    tx:commit()
    local tx2 = conn:begin()
    insert(conn, 4)
    helper.assert_error("IntegrityError", nil, insert, conn, 1)
    tx2:rollback()
    lu.assertEquals(count(conn), 3)
    lu.assertEquals(ids(conn), {1, 2, 3})
end

function TestTransaction:test_engine_begin_with_failing_statement_leaves_nothing()
    helper.assert_error("IntegrityError", nil, self.engine.begin, self.engine, function(conn)
        insert(conn, 10)
        insert(conn, 11)
        insert(conn, 10)  -- duplicate key
    end)
    local conn <close> = self.engine:connect()
    lu.assertEquals(count(conn), 0)
end

function TestTransaction:test_engine_begin_with_not_null_violation_leaves_nothing()
    helper.assert_error("IntegrityError", nil, self.engine.begin, self.engine, function(conn)
        insert(conn, 10)
        conn:execute("INSERT INTO t_tx_items (id, name) VALUES (?, ?)", {11, argent.null})
    end)
    local conn <close> = self.engine:connect()
    lu.assertEquals(count(conn), 0)
end

-- A seeded random walk over a transaction and its savepoints: rows written,
-- savepoints opened, released and rolled back at random depths, the
-- transaction committed or rolled back, a failing statement now and then
-- (which must change nothing it did not do); after every step the rows the
-- connection sees are the model's, and after each commit or rollback what
-- another connection sees too.
function TestTransaction:test_random_walk_over_savepoints()
    local conn <close> = self.engine:connect()
    local other <close> = self.engine:connect()
    local seed = tonumber(os.getenv("ARGENT_WALK_SEED") or "") or 424242 -- (another seed: ARGENT_WALK_SEED)
    local function rnd(n)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return math.floor(seed / 65536) % n + 1
    end
    local function ids(c)
        return c:execute("SELECT id FROM t_tx_items ORDER BY id"):scalars()
    end
    local function sorted_keys(set)
        local out = {}
        for id in pairs(set) do out[#out + 1] = id end
        table.sort(out)
        return out
    end
    local committed, tx = {}, nil
    local levels = {} -- {sp =, rows = set} for the transaction (1) and each savepoint
    local next_id = 1
    for step = 1, 600 do
        local op = rnd(10)
        local where = "step " .. step
        if not tx then
            tx = conn:begin()
            levels = {{rows = {}}}
        elseif op <= 3 then -- a row
            conn:execute("INSERT INTO t_tx_items (id, name) VALUES (?, ?)", {next_id, "r"})
            levels[#levels].rows[next_id] = true
            next_id = next_id + 1
        elseif op == 4 then -- a failing statement: the duplicate of a visible row, or NULL where NOT NULL
            local ok = pcall(conn.execute, conn, "INSERT INTO t_tx_items (id, name) VALUES (?, ?)", {next_id, argent.null})
            lu.assertFalse(ok, where)
            if helper.is_pg() then -- PostgreSQL: the transaction is aborted until a savepoint or it rolls back
                if #levels > 1 then
                    levels[#levels].sp:rollback()
                    table.remove(levels)
                else
                    tx:rollback()
                    tx = nil
                end
            end
        elseif op <= 6 and #levels < 5 then -- a savepoint
            levels[#levels + 1] = {sp = conn:begin_nested(), rows = {}}
        elseif op == 7 and #levels > 1 then -- release: its rows go to the level below
            local top = table.remove(levels)
            top.sp:commit()
            for id in pairs(top.rows) do levels[#levels].rows[id] = true end
        elseif op == 8 and #levels > 1 then -- roll a savepoint back
            table.remove(levels).sp:rollback()
        elseif op == 9 then -- commit all
            tx:commit()
            tx = nil
            for _, level in ipairs(levels) do
                for id in pairs(level.rows) do committed[id] = true end
            end
        elseif op == 10 then
            tx:rollback()
            tx = nil
        end
        local visible = {}
        for id in pairs(committed) do visible[id] = true end
        if tx then
            for _, level in ipairs(levels) do
                for id in pairs(level.rows) do visible[id] = true end
            end
        end
        lu.assertEquals(ids(conn), sorted_keys(visible), where)
        if not tx then lu.assertEquals(ids(other), sorted_keys(committed), where) end
    end
    if tx then tx:rollback() end
end

os.exit(helper.run(), true)
