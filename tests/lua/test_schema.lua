-- tests/lua/test_schema.lua -- schema objects as Lua sees them, API.md section 4:
-- MetaData, Table, Column with every option, ForeignKey, Index,
-- UniqueConstraint, CheckConstraint, the types (bare and called), table.c.
--
-- Spec-first: written against API.md before the implementation.  The options
-- that act at run time are checked through the database: `default` (a Lua
-- value, a Lua function called per row, an SQL expression) applied by INSERT,
-- `onupdate` applied by UPDATE, `key` (the Lua name of a column whose SQL
-- name differs), `server_default`, `foreign_key` as a string or a ForeignKey.
-- DDL details (ordering, constraints, indexes) are in test_ddl.lua.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table, MetaData = argent.Column, argent.Table, argent.MetaData
local Integer, String, Text, DateTime = argent.Integer, argent.String, argent.Text, argent.DateTime
local func = argent.func

-- Every table this suite may create, parents first (cleanup drops children first).
local NAMES = {"t_sch_users", "t_sch_parent", "t_sch_child", "t_sch_child2", "t_sch_keyed",
               "t_sch_defaults", "t_sch_upd", "t_sch_types", "t_sch_extras", "t_sch_auto",
               "t_sch_auto2"}

local ISO_DATETIME = "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d:%d%d"

TestSchema = {}

function TestSchema:setUp()
    self.engine = helper.engine()
    local conn <close> = self.engine:connect()
    local rev = {}
    for i = #NAMES, 1, -1 do rev[#rev + 1] = NAMES[i] end
    helper.drop_tables(conn, rev)
    self.meta = MetaData()
end

function TestSchema:tearDown()
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta = nil, nil
end

-- The users table of API.md section 4, in this suite's MetaData.
function TestSchema:users()
    return Table("t_sch_users", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("email", String(128), {nullable = false, unique = true}),
        Column("created_at", DateTime, {server_default = func.current_timestamp()}))
end

-- Executes stmt on a new connection and returns all rows.
function TestSchema:all(stmt)
    local conn <close> = self.engine:connect()
    return conn:execute(stmt):all()
end

-- construction

function TestSchema:test_metadata_and_table_of_api_md()
    local users = self:users()
    lu.assertNotNil(users)
    lu.assertNotNil(users.c.id)
    lu.assertNotNil(users.c.email)
    lu.assertNotNil(users.c.created_at)
end

function TestSchema:test_table_is_registered_in_metadata_tables()
    local users = self:users()
    lu.assertNotNil(self.meta.tables)
    lu.assertIs(self.meta.tables.t_sch_users, users)
end

function TestSchema:test_column_compiles_to_its_qualified_name()
    local users = self:users()
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(argent.select(users.c.email), d)
        helper.assert_has(sql, "t_sch_users.email")
        helper.assert_has(sql, "FROM t_sch_users")
    end
end

function TestSchema:test_same_column_object_each_time()
    local users = self:users()
    lu.assertIs(users.c.email, users.c.email)
end

function TestSchema:test_every_type_bare_and_called_is_accepted()
    local t = Table("t_sch_types", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("bi", argent.BigInteger),
        Column("si", argent.SmallInteger),
        Column("f", argent.Float),
        Column("d", argent.Double),
        Column("num", argent.Numeric(10, 2)),
        Column("numf", argent.Numeric(10, 2, {as_number = true})),
        Column("flag", argent.Boolean),
        Column("s", argent.String),
        Column("s50", argent.String(50)),
        Column("txt", argent.Text),
        Column("day", argent.Date),
        Column("ts", argent.DateTime),
        Column("tm", argent.Time),
        Column("bin", argent.LargeBinary),
        Column("doc", argent.JSON),
        Column("kind", argent.Enum("a", "b")))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertTrue(helper.table_exists(conn, "t_sch_types"))
    conn:execute(argent.insert(t):values{id = 1, s = "x", kind = "a"})
    lu.assertEquals(helper.count(conn, "t_sch_types"), 1)
end

function TestSchema:test_types_are_values()
    for _, name in ipairs {"Integer", "BigInteger", "SmallInteger", "Float", "Double", "Boolean",
                           "String", "Text", "Date", "DateTime", "Time", "LargeBinary", "JSON"} do
        lu.assertNotNil(argent[name], "argent." .. name)
    end
    lu.assertNotNil(argent.String(10))
    lu.assertNotNil(argent.Numeric(12, 3))
    lu.assertNotNil(argent.Enum("x", "y", "z"))
end

-- key: the Lua name of a column whose SQL name differs

function TestSchema:test_key_names_the_column_in_lua_and_sql_keeps_its_name()
    local t = Table("t_sch_keyed", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("user_name", String(50), {key = "name"}))
    lu.assertNotNil(t.c.name)
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(argent.select(t.c.name), d)
        helper.assert_has(sql, "t_sch_keyed.user_name")
        local ins = helper.compile(argent.insert(t):values{id = 1, name = "ann"}, d)
        helper.assert_has(ins, "user_name")
    end
end

function TestSchema:test_key_is_used_in_values_and_where()
    local t = Table("t_sch_keyed", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("user_name", String(50), {key = "name"}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, name = "ann"})
    conn:execute(argent.insert(t):values{id = 2, name = "bob"})
    lu.assertEquals(conn:execute("SELECT user_name FROM t_sch_keyed WHERE id = 1"):scalar(), "ann")
    local got = conn:execute(argent.select(t.c.id):where{name = "bob"}):scalar()
    lu.assertEquals(got, 2)
    conn:execute(argent.update(t):where(t.c.name:eq("ann")):values{name = "anne"})
    lu.assertEquals(conn:execute("SELECT user_name FROM t_sch_keyed WHERE id = 1"):scalar(), "anne")
end

-- default: applied by INSERT

function TestSchema:defaults_table(counter)
    return Table("t_sch_defaults", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("status", String(20), {default = "new"}),
        Column("seq", Integer, {default = function() counter.n = counter.n + 1; return counter.n end}),
        Column("low", String(20), {default = func.lower("ABC")}),
        Column("stamp", DateTime, {default = func.current_timestamp()}),
        Column("note", Text))
end

function TestSchema:test_default_lua_value_is_applied_on_insert()
    local t = self:defaults_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, note = "x"})
    lu.assertEquals(conn:execute("SELECT status FROM t_sch_defaults WHERE id = 1"):scalar(), "new")
end

function TestSchema:test_explicit_value_beats_default()
    local t = self:defaults_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, status = "old", seq = 100})
    local row = conn:execute("SELECT status, seq FROM t_sch_defaults WHERE id = 1"):one()
    lu.assertEquals(row.status, "old")
    lu.assertEquals(row.seq, 100)
end

function TestSchema:test_default_lua_function_is_called_for_every_row()
    local counter = {n = 0}
    local t = self:defaults_table(counter)
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1})
    conn:execute(argent.insert(t):values{{id = 2}, {id = 3}})      -- multi-row insert
    conn:executemany(argent.insert(t), {{id = 4}, {id = 5}})        -- executemany
    local seqs = conn:execute("SELECT seq FROM t_sch_defaults ORDER BY id"):scalars()
    lu.assertEquals(#seqs, 5)
    local seen = {}
    for _, v in ipairs(seqs) do
        lu.assertEquals(math.type(v), "integer")
        lu.assertNil(seen[v], "each row gets its own call of the default function")
        seen[v] = true
    end
    lu.assertEquals(counter.n, 5)
end

function TestSchema:test_default_sql_expression_is_applied_on_insert()
    local t = self:defaults_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1})
    local row = conn:execute("SELECT low, stamp FROM t_sch_defaults WHERE id = 1"):one()
    lu.assertEquals(row.low, "abc")
    lu.assertStrMatches(row.stamp, ISO_DATETIME .. ".*")
end

function TestSchema:test_default_is_not_applied_on_update()
    local t = self:defaults_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, status = "old"})
    conn:execute(argent.update(t):where(t.c.id:eq(1)):values{note = "changed"})
    lu.assertEquals(conn:execute("SELECT status FROM t_sch_defaults WHERE id = 1"):scalar(), "old")
end

-- onupdate: applied by UPDATE

function TestSchema:update_table(counter)
    return Table("t_sch_upd", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("name", String(50)),
        Column("touched", String(20), {onupdate = "yes"}),
        Column("version", Integer, {default = 1,
            onupdate = function() counter.n = counter.n + 1; return 100 + counter.n end}),
        Column("updated_at", DateTime, {onupdate = func.current_timestamp()}))
end

function TestSchema:test_onupdate_is_not_applied_on_insert()
    local t = self:update_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, name = "a"})
    local row = conn:execute("SELECT touched, version, updated_at FROM t_sch_upd WHERE id = 1"):one()
    lu.assertNil(row.touched)
    lu.assertEquals(row.version, 1)
    lu.assertNil(row.updated_at)
end

function TestSchema:test_onupdate_value_function_and_expression_are_applied_on_update()
    local counter = {n = 0}
    local t = self:update_table(counter)
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, name = "a"})
    conn:execute(argent.insert(t):values{id = 2, name = "b"})
    local res = conn:execute(argent.update(t):where(t.c.id:eq(1)):values{name = "a2"})
    lu.assertEquals(res.rowcount, 1)
    local row = conn:execute("SELECT name, touched, version, updated_at FROM t_sch_upd WHERE id = 1"):one()
    lu.assertEquals(row.name, "a2")
    lu.assertEquals(row.touched, "yes")
    lu.assertEquals(row.version, 101)
    lu.assertStrMatches(row.updated_at, ISO_DATETIME .. ".*")
    -- the row the UPDATE did not match is left alone
    local other = conn:execute("SELECT touched, version FROM t_sch_upd WHERE id = 2"):one()
    lu.assertNil(other.touched)
    lu.assertEquals(other.version, 1)
end

function TestSchema:test_explicit_value_beats_onupdate()
    local t = self:update_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, name = "a"})
    conn:execute(argent.update(t):where(t.c.id:eq(1)):values{touched = "manual", version = 7})
    local row = conn:execute("SELECT touched, version FROM t_sch_upd WHERE id = 1"):one()
    lu.assertEquals(row.touched, "manual")
    lu.assertEquals(row.version, 7)
end

-- server_default

function TestSchema:test_server_default_current_timestamp_fills_the_column()
    local users = self:users()
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(users):values{id = 1, email = "a@x"})
    local v = conn:execute(argent.select(users.c.created_at):where(users.c.id:eq(1))):scalar()
    lu.assertStrMatches(v, ISO_DATETIME .. ".*")
end

function TestSchema:test_server_default_is_in_the_ddl_not_applied_by_argent()
    -- Compiling an INSERT that leaves the column out must not mention it:
    -- the database fills it.
    local users = self:users()
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(argent.insert(users):values{id = 1, email = "a@x"}, d)
        helper.assert_lacks(sql, "created_at")
    end
end

-- autoincrement

function TestSchema:test_single_integer_primary_key_autoincrements_by_default()
    local t = Table("t_sch_auto", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("name", String(50)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    local r1 = conn:execute(argent.insert(t):values{name = "a"})
    local r2 = conn:execute(argent.insert(t):values{name = "b"})
    lu.assertEquals(math.type(r1.lastrowid), "integer")
    lu.assertTrue(r2.lastrowid > r1.lastrowid)
    local ids = conn:execute(argent.select(t.c.id):order_by(t.c.id)):scalars()
    lu.assertEquals(ids, {r1.lastrowid, r2.lastrowid})
end

function TestSchema:test_autoincrement_option_is_accepted()
    local t = Table("t_sch_auto", self.meta,
        Column("id", Integer, {primary_key = true, autoincrement = true}),
        Column("name", String(50)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{name = "a"})
    lu.assertEquals(conn:execute(argent.select(t.c.name)):scalar(), "a")
end

-- BigInteger and SmallInteger are integers too: a single one as primary key
-- autoincrements on every dialect (on SQLite only INTEGER PRIMARY KEY does,
-- so the dialect must write that).
function TestSchema:test_big_and_small_integer_primary_keys_autoincrement()
    for name, typ in pairs {t_sch_auto = argent.BigInteger, t_sch_auto2 = argent.SmallInteger} do
        local meta = MetaData()
        local t = Table(name, meta,
            Column("id", typ, {primary_key = true}),
            Column("name", String(50)))
        meta:create_all(self.engine)
        local conn <close> = self.engine:connect()
        local r1 = conn:execute(argent.insert(t):values{name = "a"})
        local r2 = conn:execute(argent.insert(t):values{name = "b"})
        lu.assertEquals(math.type(r1.lastrowid), "integer")
        lu.assertTrue(r2.lastrowid > r1.lastrowid)
        lu.assertEquals(conn:execute(argent.select(t.c.id):order_by(t.c.id)):scalars(), {r1.lastrowid, r2.lastrowid})
        meta:drop_all(self.engine)
    end
end

function TestSchema:test_tables_with_a_string_key_or_no_key_take_inserts()
    local coded = Table("t_sch_parent", self.meta,
        Column("code", String(10), {primary_key = true}),
        Column("v", String(5)))
    local loose = Table("t_sch_child", self.meta,
        Column("a", Integer),
        Column("v", String(5)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute(argent.insert(coded):values{code = "x1", v = "a"}).rowcount, 1)
    lu.assertEquals(conn:execute(argent.insert(loose):values{a = 1, v = "a"}).rowcount, 1)
    lu.assertEquals(conn:execute(argent.insert(loose):values{{a = 2}, {a = 2}}).rowcount, 2)
    lu.assertEquals(conn:execute(argent.select(coded.c.v):where{code = "x1"}):scalar(), "a")
    lu.assertEquals(helper.count(conn, "t_sch_child"), 3)
end

-- A Lua function default can make the primary key itself.
function TestSchema:test_lua_default_on_a_string_primary_key()
    local n = 0
    local t = Table("t_sch_parent", self.meta,
        Column("id", String(36), {primary_key = true, default = function() n = n + 1; return "key-" .. n end}),
        Column("v", String(5)))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{v = "a"})
    conn:execute(argent.insert(t):values{{v = "b"}, {v = "c"}})
    lu.assertEquals(conn:execute(argent.insert(t):values{v = "d"}:returning(t.c.id)):scalar(), "key-4")
    lu.assertEquals(conn:execute(argent.select(t.c.id):order_by(t.c.id)):scalars(),
                    {"key-1", "key-2", "key-3", "key-4"})
    lu.assertEquals(conn:execute(argent.select(t.c.v):where{id = "key-1"}):scalar(), "a")
end

-- Assumed as in SQLAlchemy: a multi-row insert computes the rows' defaults
-- in row order (a counter default numbers the rows as they are listed).
function TestSchema:test_multi_row_defaults_are_computed_in_row_order()
    local n = 0
    local t = Table("t_sch_parent", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("seq", Integer, {default = function() n = n + 1; return n end}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{{id = 1}, {id = 2}, {id = 3}})
    lu.assertEquals(conn:execute(argent.select(t.c.seq):order_by(t.c.id)):scalars(), {1, 2, 3})
    conn:executemany(argent.insert(t), {{id = 4}, {id = 5}})
    lu.assertEquals(conn:execute(argent.select(t.c.seq):where(t.c.id:gt(3)):order_by(t.c.id)):scalars(), {4, 5})
end

-- false, 0 and "" are values, not "no default" (a classic Lua slip).
function TestSchema:test_false_zero_and_empty_defaults_are_applied()
    local t = Table("t_sch_defaults", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("active", argent.Boolean, {default = false, nullable = false}),
        Column("n", Integer, {default = 0}),
        Column("s", String(5), {default = ""}),
        Column("u", argent.Boolean, {onupdate = false}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, u = true})
    local row = conn:execute(argent.select(t)):one()
    lu.assertIs(row.active, false)
    lu.assertEquals(row.n, 0)
    lu.assertEquals(row.s, "")
    lu.assertIs(row.u, true)
    conn:execute(argent.update(t):values{n = 5})
    lu.assertIs(conn:execute(argent.select(t.c.u)):scalar(), false)
end

-- In a multi-row insert, a row that leaves a column out gets its default.
function TestSchema:test_multi_row_insert_fills_defaults_per_row()
    local t = self:defaults_table({n = 0})
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{{id = 1, status = "given"}, {id = 2}})
    lu.assertEquals(conn:execute(argent.select(t.c.status):order_by(t.c.id)):scalars(), {"given", "new"})
end

-- foreign keys

function TestSchema:test_foreign_key_as_string_is_enforced()
    local parent = Table("t_sch_parent", self.meta, Column("id", Integer, {primary_key = true}))
    local child = Table("t_sch_child", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("parent_id", Integer, {foreign_key = "t_sch_parent.id"}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(parent):values{id = 1})
    conn:execute(argent.insert(child):values{id = 1, parent_id = 1})
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(child):values{id = 2, parent_id = 99})
    lu.assertEquals(helper.count(conn, "t_sch_child"), 1)
end

function TestSchema:test_foreign_key_object_with_ondelete_cascade()
    local parent = Table("t_sch_parent", self.meta, Column("id", Integer, {primary_key = true}))
    local child = Table("t_sch_child", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("parent_id", Integer,
               {foreign_key = argent.ForeignKey("t_sch_parent.id", {ondelete = "CASCADE"})}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(parent):values{{id = 1}, {id = 2}})
    conn:execute(argent.insert(child):values{{id = 1, parent_id = 1}, {id = 2, parent_id = 1},
                                             {id = 3, parent_id = 2}})
    conn:execute(argent.delete(parent):where(parent.c.id:eq(1)))
    lu.assertEquals(conn:execute(argent.select(child.c.id)):scalars(), {3})
end

function TestSchema:test_foreign_key_object_with_onupdate_cascade()
    local parent = Table("t_sch_parent", self.meta, Column("id", Integer, {primary_key = true}))
    local child = Table("t_sch_child", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("parent_id", Integer,
               {foreign_key = argent.ForeignKey("t_sch_parent.id", {onupdate = "CASCADE"})}))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(parent):values{id = 1})
    conn:execute(argent.insert(child):values{id = 1, parent_id = 1})
    conn:execute(argent.update(parent):where(parent.c.id:eq(1)):values{id = 5})
    lu.assertEquals(conn:execute(argent.select(child.c.parent_id)):scalar(), 5)
end

-- the remaining column options and the table extras

function TestSchema:test_nullable_unique_index_comment_options()
    local t = Table("t_sch_extras", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("email", String(128), {nullable = false, unique = true, comment = "the address"}),
        Column("city", String(50), {index = true, nullable = true}),
        Column("qty", Integer),
        Column("a", Integer),
        Column("b", Integer),
        argent.Index("ix_t_sch_extras_qty", "qty"),
        argent.UniqueConstraint("a", "b"),
        argent.CheckConstraint("qty >= 0"))
    self.meta:create_all(self.engine)
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(t):values{id = 1, email = "a@x", qty = 1, a = 1, b = 1})
    -- not null
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(t):values{id = 2, qty = 1})
    -- unique column
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(t):values{id = 3, email = "a@x", qty = 1})
    -- unique constraint over two columns
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(t):values{id = 4, email = "b@x", qty = 1, a = 1, b = 1})
    conn:execute(argent.insert(t):values{id = 5, email = "c@x", qty = 1, a = 1, b = 2})
    -- check constraint
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(t):values{id = 6, email = "d@x", qty = -1})
    lu.assertEquals(helper.count(conn, "t_sch_extras"), 2)
    local indexes = helper.index_set(conn, "t_sch_extras")
    lu.assertTrue(indexes.ix_t_sch_extras_qty, "argent.Index creates the named index")
end

-- misuse

function TestSchema:test_string_with_a_non_number_length_is_argument_error()
    helper.assert_error("ArgumentError", "String", argent.String, "wide")
end

function TestSchema:test_column_with_a_non_type_is_argument_error()
    helper.assert_error("ArgumentError", nil, Column, "x", 42)
end

function TestSchema:test_unknown_column_option_is_argument_error_naming_it()
    helper.assert_error("ArgumentError", "primary_kee", Column, "id", Integer, {primary_kee = true})
end

function TestSchema:test_two_columns_with_one_name_is_argument_error()
    helper.assert_error("ArgumentError", "dup", Table, "t_sch_extras", self.meta,
                        Column("dup", Integer), Column("dup", String(5)))
end

function TestSchema:test_foreign_key_target_without_a_dot_is_argument_error()
    helper.assert_error("ArgumentError", "nodot", argent.ForeignKey, "nodot")
    helper.assert_error("ArgumentError", "nodot", Column, "x", Integer, {foreign_key = "nodot"})
end

function TestSchema:test_unknown_ondelete_action_is_argument_error()
    helper.assert_error("ArgumentError", "ondelete", argent.ForeignKey, "t_sch_parent.id", {ondelete = "EXPLODE"})
end

function TestSchema:test_bad_type_arguments_are_argument_errors()
    helper.assert_error("ArgumentError", "Numeric", argent.Numeric, "x")
    helper.assert_error("ArgumentError", "Enum", argent.Enum)
end

-- naming_convention (SQLAlchemy's keys and tokens)

local CONVENTION = {ix = "ix_%(column_0_label)s", uq = "uq_%(table_name)s_%(column_0_N_name)s",
                    ck = "ck_%(table_name)s_%(constraint_name)s",
                    fk = "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", pk = "pk_%(table_name)s"}

function TestSchema:test_naming_convention_names_constraints()
    local meta = MetaData{naming_convention = CONVENTION}
    Table("t_sch_parent", meta, Column("id", Integer, {primary_key = true}))
    local t = Table("t_sch_child", meta, Column("id", Integer, {primary_key = true}),
        Column("email", String(50), {unique = true}),
        Column("code", String(5), {index = true}),
        Column("a", Integer), Column("b", Integer),
        Column("parent_id", Integer, {foreign_key = "t_sch_parent.id"}),
        argent.UniqueConstraint("a", "b"),
        argent.CheckConstraint("a > 0", {name = "positive"}),
        argent.CheckConstraint("b > 0"))
    local sql = helper.squash(t:create_statement():compile("postgresql"))
    helper.assert_has(sql, "CONSTRAINT pk_t_sch_child PRIMARY KEY (id)")
    helper.assert_has(sql, "CONSTRAINT uq_t_sch_child_email UNIQUE (email)")
    helper.assert_has(sql, "CONSTRAINT uq_t_sch_child_a_b UNIQUE (a, b)")
    helper.assert_has(sql, "CONSTRAINT ck_t_sch_child_positive CHECK (a > 0)")
    helper.assert_has(sql, ", CHECK (b > 0)") -- no name to put in %(constraint_name)s
    helper.assert_has(sql, "CONSTRAINT fk_t_sch_child_parent_id_t_sch_parent FOREIGN KEY(parent_id)")
    lu.assertEquals(t.indexes[1].name, "ix_t_sch_child_code")
    -- SQLite keeps the rowid key inline: no separate key constraint
    local lite = helper.squash(t:create_statement():compile("sqlite"))
    helper.assert_has(lite, "id INTEGER NOT NULL PRIMARY KEY,")
    helper.assert_lacks(lite, "pk_t_sch_child")
    meta:create_all(self.engine)
    meta:drop_all(self.engine)
end

function TestSchema:test_naming_convention_defaults_and_errors()
    local meta = MetaData()
    local t = Table("t_sch_keyed", meta, Column("id", Integer, {primary_key = true}),
        Column("code", String(5), {index = true, unique = false}), Column("u", String(5), {unique = true}))
    lu.assertEquals(t.indexes[1].name, "ix_t_sch_keyed_code")
    local sql = helper.squash(t:create_statement():compile("postgresql"))
    helper.assert_has(sql, "PRIMARY KEY (id), UNIQUE (u))")
    helper.assert_error("ArgumentError", "unknown key 'xx'", MetaData, {naming_convention = {xx = "a"}})
    helper.assert_error("ArgumentError", "naming_convention.uq", MetaData, {naming_convention = {uq = 3}})
    helper.assert_error("ArgumentError", "naming_convention must be a table", MetaData, {naming_convention = "x"})
    helper.assert_error("ArgumentError", "unknown option 'schema'", MetaData, {schema = "x"})
    helper.assert_error("ArgumentError", "argument 1", MetaData, "x")
    local bad = MetaData{naming_convention = {uq = "uq_%(nope)s"}}
    helper.assert_error("ArgumentError", "unknown token %(nope)s", Table, "t_sch_keyed", bad,
        Column("id", Integer, {primary_key = true, unique = true}))
end

function TestSchema:test_explicit_names_are_kept_or_fill_the_convention()
    local meta = MetaData{naming_convention = {uq = "uq_%(table_name)s_%(column_0_name)s",
                                               fk = "fk_%(constraint_name)s"}}
    Table("t_sch_parent", meta, Column("id", Integer, {primary_key = true}))
    local t = Table("t_sch_child", meta, Column("id", Integer, {primary_key = true}),
        Column("a", Integer), Column("p", Integer, {foreign_key = argent.ForeignKey("t_sch_parent.id", {name = "own"})}),
        Column("q", Integer, {foreign_key = "t_sch_parent.id"}),
        argent.UniqueConstraint("a", {name = "mine"}))
    lu.assertEquals(t.constraints[1].name, "mine")
    lu.assertEquals(t.foreign_keys[1].name, "fk_own")
    lu.assertNil(t.foreign_keys[2].name)
end

os.exit(helper.run(), true)
