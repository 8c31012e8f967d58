-- tests/lua/test_ddl.lua -- DDL from MetaData, API.md section 4:
-- meta:create_all (foreign-key order, skipping tables that exist, indexes,
-- unique and check constraints, server defaults, ON DELETE CASCADE) and
-- meta:drop_all (reverse order).
--
-- Spec-first: written against API.md before the implementation.  Child
-- tables are defined before their parents in Lua, so only a real
-- foreign-key sort creates them in a working order.  What create_all made is
-- read back from the catalog with plain SQL (sqlite_master,
-- information_schema, pg_indexes), independent of argent.inspect.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table = argent.Column, argent.Table
local Integer, String = argent.Integer, argent.String

-- parents first (cleanup drops them children first)
local NAMES = {"t_ddl_a", "t_ddl_b", "t_ddl_c", "t_ddl_d", "t_ddl_solo", "t_ddl_checked", "t_ddl_stamped"}

TestDDL = {}

function TestDDL:setUp()
    self.engine, self.log = helper.logging_engine()
    local conn <close> = self.engine:connect()
    local rev = {}
    for i = #NAMES, 1, -1 do rev[#rev + 1] = NAMES[i] end
    helper.drop_tables(conn, rev)
    self.meta = argent.MetaData()
end

function TestDDL:tearDown()
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta, self.log = nil, nil, nil
end

-- A chain d -> c -> b -> a (d references c, ...), defined children first.
function TestDDL:chain()
    local m = self.meta
    local d = Table("t_ddl_d", m,
        Column("id", Integer, {primary_key = true}),
        Column("c_id", Integer, {foreign_key = "t_ddl_c.id"}))
    local c = Table("t_ddl_c", m,
        Column("id", Integer, {primary_key = true}),
        Column("b_id", Integer, {foreign_key = argent.ForeignKey("t_ddl_b.id", {ondelete = "CASCADE"})}))
    local b = Table("t_ddl_b", m,
        Column("id", Integer, {primary_key = true}),
        Column("a_id", Integer, {foreign_key = "t_ddl_a.id"}))
    local a = Table("t_ddl_a", m,
        Column("id", Integer, {primary_key = true}),
        Column("name", String(50)))
    return a, b, c, d
end

-- The position in self.log of the first statement that matches pattern
-- (case-insensitive on the SQL's upper-cased text), or nil.
function TestDDL:position(pattern)
    for i, sql in ipairs(self.log) do
        if sql:upper():find(pattern) then return i end
    end
    return nil
end

-- create_all

function TestDDL:test_create_all_creates_every_table()
    self:chain()
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    local set = helper.table_set(conn)
    for _, name in ipairs {"t_ddl_a", "t_ddl_b", "t_ddl_c", "t_ddl_d"} do
        lu.assertTrue(set[name], name)
    end
end

function TestDDL:test_create_all_creates_parents_before_children()
    self:chain()
    self.meta:create_all(self.engine)
    local pa = self:position("CREATE TABLE[^(]*T_DDL_A[%s\"(]")
    local pb = self:position("CREATE TABLE[^(]*T_DDL_B[%s\"(]")
    local pc = self:position("CREATE TABLE[^(]*T_DDL_C[%s\"(]")
    local pd = self:position("CREATE TABLE[^(]*T_DDL_D[%s\"(]")
    lu.assertNotNil(pa, "CREATE TABLE t_ddl_a goes through the engine (echo sees it)")
    lu.assertNotNil(pb)
    lu.assertNotNil(pc)
    lu.assertNotNil(pd)
    lu.assertTrue(pa < pb and pb < pc and pc < pd,
                  ("order a=%d b=%d c=%d d=%d"):format(pa, pb, pc, pd))
end

function TestDDL:test_tables_created_work_with_their_foreign_keys()
    local a, b, c, d = self:chain()
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(a):values{id = 1, name = "root"})
    conn:execute(argent.insert(b):values{id = 1, a_id = 1})
    conn:execute(argent.insert(c):values{id = 1, b_id = 1})
    conn:execute(argent.insert(d):values{id = 1, c_id = 1})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(b):values{id = 2, a_id = 42})
end

function TestDDL:test_create_all_twice_is_fine_and_keeps_the_data()
    local a = self:chain()
    self.meta:create_all(self.engine)
    do
        local conn <close> = self.engine:connect()
        conn:execute(argent.insert(a):values{id = 1, name = "kept"})
    end
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT name FROM t_ddl_a"):scalar(), "kept")
end

function TestDDL:test_create_all_skips_a_table_that_exists()
    do
        local conn <close> = self.engine:connect()
        conn:execute("CREATE TABLE t_ddl_solo (id INTEGER PRIMARY KEY, other VARCHAR(10))")
        conn:execute("INSERT INTO t_ddl_solo (id, other) VALUES (1, 'mine')")
    end
    Table("t_ddl_solo", self.meta, Column("id", Integer, {primary_key = true}), Column("name", String(10)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute("SELECT other FROM t_ddl_solo"):scalar(), "mine")
end

-- drop_all

function TestDDL:test_drop_all_drops_children_before_parents()
    local a, b, c, d = self:chain()
    self.meta:create_all(self.engine)
    do
        local conn <close> = self.engine:connect()
        conn:execute(argent.insert(a):values{id = 1})
        conn:execute(argent.insert(b):values{id = 1, a_id = 1})
        conn:execute(argent.insert(c):values{id = 1, b_id = 1})
        conn:execute(argent.insert(d):values{id = 1, c_id = 1})
    end
    for i = #self.log, 1, -1 do self.log[i] = nil end
    self.meta:drop_all(self.engine)
    local conn <close> = self.engine:connect()
    local set = helper.table_set(conn)
    for _, name in ipairs {"t_ddl_a", "t_ddl_b", "t_ddl_c", "t_ddl_d"} do
        lu.assertNil(set[name], name .. " is dropped")
    end
    local pa = self:position("DROP TABLE[^;]*T_DDL_A")
    local pd = self:position("DROP TABLE[^;]*T_DDL_D")
    lu.assertNotNil(pa)
    lu.assertNotNil(pd)
    lu.assertTrue(pd < pa, "the child t_ddl_d is dropped before its ancestor t_ddl_a")
end

-- As create_all skips what exists, drop_all skips what does not.
function TestDDL:test_drop_all_twice_is_fine()
    self:chain()
    self.meta:create_all(self.engine)
    self.meta:drop_all(self.engine)
    self.meta:drop_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertNil(helper.table_set(conn).t_ddl_a)
end

function TestDDL:test_create_after_drop_all_works_again()
    local a = self:chain()
    self.meta:create_all(self.engine)
    self.meta:drop_all(self.engine)
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(a):values{id = 1, name = "again"})
    lu.assertEquals(helper.count(conn, "t_ddl_a"), 1)
end

-- indexes

function TestDDL:test_index_true_creates_an_index_on_the_column()
    local t = Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("city", String(50), {index = true}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    local found = false
    for name in pairs(helper.index_set(conn, "t_ddl_solo")) do
        if name:find("city", 1, true) then found = true end
    end
    lu.assertTrue(found, "an index named after the column (as ix_t_ddl_solo_city)")
    lu.assertNotNil(self:position("CREATE INDEX"), "a plain (not unique) index")
    conn:execute(argent.insert(t):values{{id = 1, city = "x"}, {id = 2, city = "x"}})
end

function TestDDL:test_named_index_object()
    Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("a", Integer),
        Column("b", Integer),
        argent.Index("ix_t_ddl_solo_ab", "a", "b"))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertTrue(helper.index_set(conn, "t_ddl_solo").ix_t_ddl_solo_ab)
    if helper.is_pg() then
        local def = conn:execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_t_ddl_solo_ab'"):scalar()
        helper.assert_sql_matches(def, "%(a, b%)")
    elseif helper.is_sqlite() then
        local cols = conn:execute("SELECT name FROM pragma_index_info('ix_t_ddl_solo_ab') ORDER BY seqno"):scalars()
        lu.assertEquals(cols, {"a", "b"})
    end
end

function TestDDL:test_create_all_twice_with_indexes_is_fine()
    Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("city", String(50), {index = true}),
        argent.Index("ix_t_ddl_solo_named", "city"))
    self.meta:create_all(self.engine)
    self.meta:create_all(self.engine)
end

-- constraints

function TestDDL:test_unique_column_violation_is_integrity_error()
    local t = Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("email", String(100), {unique = true}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, email = "a@x"})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(t):values{id = 2, email = "a@x"})
end

function TestDDL:test_unique_constraint_over_two_columns()
    local t = Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("a", Integer),
        Column("b", Integer),
        argent.UniqueConstraint("a", "b"))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{{id = 1, a = 1, b = 1}, {id = 2, a = 1, b = 2}})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(t):values{id = 3, a = 1, b = 2})
    lu.assertEquals(helper.count(conn, "t_ddl_solo"), 2)
end

function TestDDL:test_check_constraint_violation_is_integrity_error()
    local t = Table("t_ddl_checked", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("qty", Integer),
        argent.CheckConstraint("qty >= 0"))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, qty = 0})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(t):values{id = 2, qty = -1})
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.update(t):where(t.c.id:eq(1)):values{qty = -5})
    lu.assertEquals(conn:execute("SELECT qty FROM t_ddl_checked"):scalar(), 0)
end

function TestDDL:test_not_null_violation_is_integrity_error()
    local t = Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("name", String(10), {nullable = false}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(t):values{id = 1})
    lu.assertEquals(helper.count(conn, "t_ddl_solo"), 0)
end

function TestDDL:test_composite_primary_key()
    local t = Table("t_ddl_solo", self.meta,
        Column("a", Integer, {primary_key = true}),
        Column("b", Integer, {primary_key = true}),
        Column("v", String(10)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{{a = 1, b = 1, v = "x"}, {a = 1, b = 2, v = "y"}})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(t):values{a = 1, b = 2, v = "z"})
end

-- server defaults

function TestDDL:test_server_default_current_timestamp_fills_the_column()
    local t = Table("t_ddl_stamped", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("created_at", argent.DateTime, {server_default = argent.func.current_timestamp()}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    -- a plain SQL insert: the database itself fills the column
    conn:execute("INSERT INTO t_ddl_stamped (id) VALUES (1)")
    conn:execute(argent.insert(t):values{id = 2})
    for _, id in ipairs {1, 2} do
        local v = conn:execute(argent.select(t.c.created_at):where(t.c.id:eq(id))):scalar()
        lu.assertStrMatches(v, "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d:%d%d.*")
    end
end

function TestDDL:test_server_default_text()
    Table("t_ddl_stamped", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("n", Integer, {server_default = argent.text("7")}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO t_ddl_stamped (id) VALUES (1)")
    lu.assertEquals(conn:execute("SELECT n FROM t_ddl_stamped"):scalar(), 7)
end

-- Assumed as in SQLAlchemy: a Lua string server_default is a quoted SQL
-- string literal (the DDL cannot bind it, so it must be escaped correctly).
function TestDDL:test_server_default_string_is_a_literal()
    Table("t_ddl_stamped", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("s", String(40), {server_default = "it's new"}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO t_ddl_stamped (id) VALUES (1)")
    lu.assertEquals(conn:execute("SELECT s FROM t_ddl_stamped"):scalar(), "it's new")
end

-- ON DELETE CASCADE (SQLite connections enforce foreign keys)

function TestDDL:test_ondelete_cascade_deletes_children()
    local a, b, c = self:chain()
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(a):values{id = 1})
    conn:execute(argent.insert(b):values{{id = 1, a_id = 1}, {id = 2, a_id = 1}})
    conn:execute(argent.insert(c):values{{id = 1, b_id = 1}, {id = 2, b_id = 1}, {id = 3, b_id = 2}})
    conn:execute(argent.delete(b):where(b.c.id:eq(1)))
    lu.assertEquals(conn:execute(argent.select(c.c.id)):scalars(), {3})
end

function TestDDL:test_delete_of_a_referenced_parent_is_integrity_error()
    local a, b = self:chain()
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(a):values{id = 1})
    conn:execute(argent.insert(b):values{id = 1, a_id = 1})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.delete(a):where(a.c.id:eq(1)))
    lu.assertEquals(helper.count(conn, "t_ddl_a"), 1)
end

-- comment

function TestDDL:test_column_comment_is_stored_on_postgresql()
    Table("t_ddl_solo", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("email", String(100), {comment = "where we write to"}))
    self.meta:create_all(self.engine)
    lu.skipIf(not helper.is_pg(), "SQLite has no column comments (create_all accepts the option)")
    local conn <close> = self.engine:connect()
    local got = conn:execute([[SELECT col_description('t_ddl_solo'::regclass, a.attnum) AS c
        FROM pg_attribute a WHERE a.attrelid = 't_ddl_solo'::regclass AND a.attname = 'email']]):scalar()
    lu.assertEquals(got, "where we write to")
end

-- A connection keeps prepared statements by SQL text (DESIGN.md); they must
-- not outlive the schema they were prepared for.  The same SELECT and INSERT
-- text, run after the table was dropped and created again with another
-- column type, must work and give values of the new type.
function TestDDL:test_same_statement_text_after_the_table_changed_type()
    local cases = {
        {argent.Integer, 7},
        {argent.String(20), "seven"},
        {argent.Double, 7.5},
        {argent.Boolean, true},
    }
    for _, case in ipairs(cases) do
        local meta = argent.MetaData()
        local t = Table("t_ddl_solo", meta,
            Column("id", Integer, {primary_key = true}),
            Column("v", case[1]))
        meta:create_all(self.engine)
        local conn <close> = self.engine:connect()
        conn:execute(argent.insert(t):values{v = case[2]})
        local got = conn:execute(argent.select(t.c.v)):scalar()
        lu.assertEquals(got, case[2])
        lu.assertEquals(type(got), type(case[2]))
        conn:close()
        meta:drop_all(self.engine)
    end
end

-- every type in DDL

function TestDDL:test_every_type_creates()
    Table("t_ddl_solo", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("bi", argent.BigInteger), Column("si", argent.SmallInteger),
        Column("f", argent.Float), Column("d", argent.Double), Column("num", argent.Numeric(12, 4)),
        Column("flag", argent.Boolean), Column("s", argent.String), Column("s9", argent.String(9)),
        Column("txt", argent.Text), Column("day", argent.Date), Column("ts", argent.DateTime),
        Column("tm", argent.Time), Column("bin", argent.LargeBinary), Column("doc", argent.JSON),
        Column("kind", argent.Enum("x", "y")))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertTrue(helper.table_exists(conn, "t_ddl_solo"))
    self.meta:drop_all(self.engine)
    lu.assertFalse(helper.table_exists(conn, "t_ddl_solo"))
end

os.exit(helper.run(), true)
