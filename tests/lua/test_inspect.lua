-- tests/lua/test_inspect.lua -- reflection, API.md section 4: argent.inspect(engine)
-- with get_table_names, get_columns, get_indexes, get_foreign_keys,
-- get_pk_constraint; meta:reflect(engine) loading tables usable in select.
--
-- Spec-first: written against API.md before the implementation.  The tables
-- are created with plain SQL (so reflection is tested apart from
-- create_all), plus one made by create_all to check that columns come back
-- in the order they were written.  API.md names the methods but not the
-- fields of what they return; this suite assumes SQLAlchemy's names:
--   get_columns       -> list of {name, type, nullable, default, primary_key}, in table order
--   get_indexes       -> list of {name, column_names, unique}
--   get_foreign_keys  -> list of {name, constrained_columns, referred_table, referred_columns,
--                        options = {ondelete =, onupdate =}} (ondelete at top level accepted too)
--   get_pk_constraint -> {name, constrained_columns}
-- and that tostring(column.type) (or the type itself, when a string) names the SQL type.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local pg = helper.is_pg()

local TABLES = {
    {"t_ins_parent", "CREATE TABLE t_ins_parent (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, "
        .. "created TIMESTAMP DEFAULT CURRENT_TIMESTAMP, score INTEGER)"},
    {"t_ins_child", "CREATE TABLE t_ins_child (id INTEGER PRIMARY KEY, "
        .. "parent_id INTEGER, label VARCHAR(40), body TEXT, "
        .. "FOREIGN KEY (parent_id) REFERENCES t_ins_parent (id) ON DELETE CASCADE)"},
    {"t_ins_pair", "CREATE TABLE t_ins_pair (a INTEGER NOT NULL, b INTEGER NOT NULL, note TEXT, "
        .. "PRIMARY KEY (a, b))"},
}
local INDEXES = {
    "CREATE INDEX ix_t_ins_child_label ON t_ins_child (label)",
    "CREATE UNIQUE INDEX ux_t_ins_parent_name ON t_ins_parent (name)",
    "CREATE INDEX ix_t_ins_pair_ba ON t_ins_pair (b, a)",
}
-- every table of the suite, parents first
local NAMES = {"t_ins_parent", "t_ins_child", "t_ins_pair", "t_ins_made", "t_ins_kparent", "t_ins_keyed"}

TestInspect = {}

function TestInspect:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        helper.drop_tables(conn, {"t_ins_made"})
    end
    helper.create_tables(self.engine, TABLES)
    local conn <close> = self.engine:connect()
    for _, sql in ipairs(INDEXES) do conn:execute(sql) end
    conn:execute("INSERT INTO t_ins_parent (id, name, score) VALUES (1, 'ann', 10)")
    conn:execute("INSERT INTO t_ins_parent (id, name, score) VALUES (2, 'bob', 20)")
    conn:execute("INSERT INTO t_ins_child (id, parent_id, label) VALUES (1, 1, 'a1')")
    conn:execute("INSERT INTO t_ins_child (id, parent_id, label) VALUES (2, 2, 'b1')")
    conn:execute("INSERT INTO t_ins_child (id, parent_id, label) VALUES (3, 1, 'a2')")
end

function TestInspect:tearDown()
    helper.cleanup(self.engine, NAMES)
    self.engine = nil
end

local function type_name(t)
    if type(t) == "string" then return t:upper() end
    return tostring(t):upper()
end

local function by_name(list)
    local map = {}
    for _, item in ipairs(list) do map[item.name] = item end
    return map
end

local function names_of(list)
    local out = {}
    for i, item in ipairs(list) do out[i] = item.name end
    return out
end

-- get_table_names

function TestInspect:test_get_table_names_lists_the_tables()
    local names = argent.inspect(self.engine):get_table_names()
    lu.assertEquals(type(names), "table")
    local set = {}
    for _, n in ipairs(names) do
        lu.assertEquals(type(n), "string")
        set[n] = true
    end
    lu.assertTrue(set.t_ins_parent)
    lu.assertTrue(set.t_ins_child)
    lu.assertTrue(set.t_ins_pair)
    lu.assertNil(set.ix_t_ins_child_label, "an index is not a table")
    lu.assertNil(set.sqlite_sequence, "SQLite's own tables are not listed")
end

function TestInspect:test_get_table_names_sees_a_new_table()
    local insp = argent.inspect(self.engine)
    do
        local conn <close> = self.engine:connect()
        conn:execute("CREATE TABLE t_ins_made (id INTEGER PRIMARY KEY)")
    end
    local set = {}
    for _, n in ipairs(argent.inspect(self.engine):get_table_names()) do set[n] = true end
    lu.assertTrue(set.t_ins_made)
    lu.assertNotNil(insp)
end

-- get_columns

function TestInspect:test_get_columns_in_table_order()
    local cols = argent.inspect(self.engine):get_columns("t_ins_parent")
    lu.assertEquals(names_of(cols), {"id", "name", "created", "score"})
end

function TestInspect:test_get_columns_nullable()
    local cols = by_name(argent.inspect(self.engine):get_columns("t_ins_parent"))
    lu.assertIs(cols.name.nullable, false)
    lu.assertIs(cols.score.nullable, true)
    lu.assertIs(cols.created.nullable, true)
end

function TestInspect:test_get_columns_primary_key()
    local cols = by_name(argent.inspect(self.engine):get_columns("t_ins_parent"))
    lu.assertTrue(cols.id.primary_key)
    lu.assertFalse(cols.name.primary_key and true or false)
    lu.assertFalse(cols.score.primary_key and true or false)
    local pair = by_name(argent.inspect(self.engine):get_columns("t_ins_pair"))
    lu.assertTrue(pair.a.primary_key)
    lu.assertTrue(pair.b.primary_key)
    lu.assertFalse(pair.note.primary_key and true or false)
end

function TestInspect:test_get_columns_default()
    local cols = by_name(argent.inspect(self.engine):get_columns("t_ins_parent"))
    lu.assertNil(cols.score.default)
    lu.assertNil(cols.name.default)
    local d = cols.created.default
    lu.assertEquals(type(d), "string", "a server default is given as its SQL text")
    lu.assertTrue(d:upper():find("CURRENT_TIMESTAMP", 1, true) ~= nil or d:lower():find("now()", 1, true) ~= nil,
                  "default of created: " .. d)
end

function TestInspect:test_get_columns_types()
    local cols = by_name(argent.inspect(self.engine):get_columns("t_ins_parent"))
    lu.assertStrContains(type_name(cols.id.type), "INT")
    local nt = type_name(cols.name.type)
    lu.assertTrue(nt:find("CHAR", 1, true) ~= nil, "type of name: " .. nt)
    lu.assertStrContains(nt, "50")
    lu.assertStrContains(type_name(cols.created.type), "TIMESTAMP")
    lu.assertStrContains(type_name(by_name(argent.inspect(self.engine):get_columns("t_ins_child")).body.type),
                         "TEXT")
end

function TestInspect:test_get_columns_of_a_table_made_by_create_all()
    local meta = argent.MetaData()
    argent.Table("t_ins_made", meta,
        argent.Column("zeta", argent.Integer, {primary_key = true}),
        argent.Column("alpha", argent.String(20), {nullable = false}),
        argent.Column("mid", argent.Text),
        argent.Column("beta", argent.Boolean))
    meta:create_all(self.engine)
    local cols = argent.inspect(self.engine):get_columns("t_ins_made")
    lu.assertEquals(names_of(cols), {"zeta", "alpha", "mid", "beta"})
    lu.assertIs(cols[2].nullable, false)
    lu.assertTrue(cols[1].primary_key)
end

function TestInspect:test_get_columns_of_an_unknown_table_raises()
    local ok, err = pcall(function() return argent.inspect(self.engine):get_columns("t_ins_nowhere") end)
    lu.assertFalse(ok, "reflecting a table that does not exist is an error, not an empty list")
    lu.assertNotNil(helper.field(err, "kind"), "raised as an argent error: " .. tostring(err))
    helper.assert_has(tostring(helper.field(err, "message")), "t_ins_nowhere")
end

-- get_indexes

function TestInspect:test_get_indexes()
    local insp = argent.inspect(self.engine)
    local ix = by_name(insp:get_indexes("t_ins_child"))
    lu.assertNotNil(ix.ix_t_ins_child_label)
    lu.assertEquals(ix.ix_t_ins_child_label.column_names, {"label"})
    lu.assertIs(ix.ix_t_ins_child_label.unique, false)
    local ux = by_name(insp:get_indexes("t_ins_parent")).ux_t_ins_parent_name
    lu.assertNotNil(ux)
    lu.assertEquals(ux.column_names, {"name"})
    lu.assertIs(ux.unique, true)
end

function TestInspect:test_get_indexes_keeps_the_column_order()
    local ix = by_name(argent.inspect(self.engine):get_indexes("t_ins_pair")).ix_t_ins_pair_ba
    lu.assertNotNil(ix)
    lu.assertEquals(ix.column_names, {"b", "a"})
end

function TestInspect:test_get_indexes_leaves_out_the_primary_key()
    for _, ix in ipairs(argent.inspect(self.engine):get_indexes("t_ins_pair")) do
        lu.assertNotEquals(ix.column_names, {"a", "b"}, "the primary key's index is not listed: " .. ix.name)
    end
end

-- get_foreign_keys

function TestInspect:test_get_foreign_keys()
    local fks = argent.inspect(self.engine):get_foreign_keys("t_ins_child")
    lu.assertEquals(#fks, 1)
    local fk = fks[1]
    lu.assertEquals(fk.constrained_columns, {"parent_id"})
    lu.assertEquals(fk.referred_table, "t_ins_parent")
    lu.assertEquals(fk.referred_columns, {"id"})
    local ondelete = (fk.options and fk.options.ondelete) or fk.ondelete
    lu.assertEquals(type(ondelete) == "string" and ondelete:upper() or ondelete, "CASCADE")
end

function TestInspect:test_get_foreign_keys_of_a_table_without_any_is_empty()
    lu.assertEquals(argent.inspect(self.engine):get_foreign_keys("t_ins_parent"), {})
end

-- get_pk_constraint

function TestInspect:test_get_pk_constraint()
    local insp = argent.inspect(self.engine)
    lu.assertEquals(insp:get_pk_constraint("t_ins_parent").constrained_columns, {"id"})
    lu.assertEquals(insp:get_pk_constraint("t_ins_pair").constrained_columns, {"a", "b"})
end

-- meta:reflect

function TestInspect:test_reflect_loads_tables_into_meta_tables()
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    lu.assertNotNil(meta.tables.t_ins_parent)
    lu.assertNotNil(meta.tables.t_ins_child)
    lu.assertNotNil(meta.tables.t_ins_pair)
end

function TestInspect:test_reflect_twice_is_fine()
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    meta:reflect(self.engine)
    local p = meta.tables.t_ins_parent
    local conn <close> = self.engine:connect()
    local res = conn:execute(argent.select(p):order_by(p.c.id))
    lu.assertEquals(res:columns(), {"id", "name", "created", "score"})
    lu.assertEquals(#res:all(), 2)
end

function TestInspect:test_reflected_table_is_usable_in_select()
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    local p = meta.tables.t_ins_parent
    local conn <close> = self.engine:connect()
    lu.assertEquals(conn:execute(argent.select(p.c.name):where(p.c.id:eq(2))):scalar(), "bob")
    local rows = conn:execute(argent.select(p):order_by(p.c.id)):all()
    lu.assertEquals(#rows, 2)
    lu.assertEquals(rows[1].score, 10)
    lu.assertEquals(conn:execute(argent.select(p.c.id, p.c.name)):columns(), {"id", "name"})
end

function TestInspect:test_reflected_tables_join_and_insert()
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    local p, c = meta.tables.t_ins_parent, meta.tables.t_ins_child
    local conn <close> = self.engine:connect()
    local labels = conn:execute(argent.select(c.c.label):join(p, c.c.parent_id:eq(p.c.id))
        :where(p.c.name:eq("ann")):order_by(c.c.label)):scalars()
    lu.assertEquals(labels, {"a1", "a2"})
    conn:execute(argent.insert(p):values{id = 3, name = "cy"})
    lu.assertEquals(helper.count(conn, "t_ins_parent"), 3)
    -- the reflected server default fills the column
    local created = conn:execute(argent.select(p.c.created):where(p.c.id:eq(3))):scalar()
    lu.assertStrMatches(created, "^%d%d%d%d%-%d%d%-%d%d[ T]%d%d:%d%d:%d%d.*")
end

-- A table reflected from one argent created converts values as the original:
-- the reflected types are argent's types again.
function TestInspect:test_reflected_types_convert_values_like_the_originals()
    local meta = argent.MetaData()
    argent.Table("t_ins_made", meta,
        argent.Column("id", argent.Integer, {primary_key = true}),
        argent.Column("flag", argent.Boolean),
        argent.Column("doc", argent.JSON),
        argent.Column("num", argent.Numeric(10, 2)),
        argent.Column("bin", argent.LargeBinary),
        argent.Column("day", argent.Date),
        argent.Column("ts", argent.DateTime),
        argent.Column("f", argent.Double))
    meta:create_all(self.engine)
    local reflected = argent.MetaData()
    reflected:reflect(self.engine)
    local t = reflected.tables.t_ins_made
    lu.assertNotNil(t)
    local conn <close> = self.engine:connect()
    local values = {id = 1, flag = true, doc = {a = {1, 2}, b = "x"}, num = "1.50", bin = "\0\1\255",
                    day = "2026-11-24", ts = "2026-11-24 02:26:03", f = 2.5}
    conn:execute(argent.insert(t):values(values))
    lu.assertEquals(conn:execute(argent.select(t):where(t.c.id:eq(1))):one(), values)
    local cols = by_name(argent.inspect(self.engine):get_columns("t_ins_made"))
    lu.assertStrContains(type_name(cols.flag.type), "BOOL")
    lu.assertStrContains(type_name(cols.num.type), "NUMERIC")
    lu.assertStrContains(type_name(cols.num.type), "10")
end

function TestInspect:test_reflected_table_keeps_the_column_order()
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    local sql = helper.compile(argent.select(meta.tables.t_ins_parent), "sqlite")
    helper.assert_sql_matches(sql, "t_ins_parent%.id,%s*t_ins_parent%.name,%s*t_ins_parent%.created,%s*"
                                   .. "t_ins_parent%.score")
end

-- unique and check constraints, enum types, every table at once

local KEYED = {"t_ins_kparent", "t_ins_keyed"}

local function keyed_meta()
    local meta = argent.MetaData{naming_convention = {uq = "uq_%(table_name)s_%(column_0_N_name)s",
                                                      fk = "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                                                      ck = "ck_%(table_name)s_%(constraint_name)s"}}
    argent.Table("t_ins_kparent", meta, argent.Column("id", argent.Integer, {primary_key = true}))
    argent.Table("t_ins_keyed", meta,
        argent.Column("id", argent.Integer, {primary_key = true}),
        argent.Column("a", argent.String(10), {unique = true}),
        argent.Column("b", argent.Integer),
        argent.Column("c", argent.Integer),
        argent.Column("parent_id", argent.Integer, {foreign_key = "t_ins_kparent.id"}),
        argent.UniqueConstraint("b", "c"),
        argent.CheckConstraint("b > 0", {name = "positive"}))
    return meta
end

function TestInspect:test_unique_and_check_constraints()
    local meta = keyed_meta()
    meta:create_all(self.engine)
    local insp = argent.inspect(self.engine)
    local uqs = insp:get_unique_constraints("t_ins_keyed")
    table.sort(uqs, function(x, y) return x.name < y.name end)
    lu.assertEquals(#uqs, 2)
    lu.assertEquals(uqs[1].name, "uq_t_ins_keyed_a")
    lu.assertEquals(uqs[1].column_names, {"a"})
    lu.assertEquals(uqs[2].name, "uq_t_ins_keyed_b_c")
    lu.assertEquals(uqs[2].column_names, {"b", "c"})
    local fks = insp:get_foreign_keys("t_ins_keyed")
    lu.assertEquals(fks[1].name, "fk_t_ins_keyed_parent_id_t_ins_kparent")
    local checks = insp:get_check_constraints("t_ins_keyed")
    lu.assertEquals(#checks, 1)
    lu.assertEquals(checks[1].name, "ck_t_ins_keyed_positive")
    lu.assertStrContains(checks[1].sqltext:gsub("`", ""), "b > 0")
    pcall(meta.drop_all, meta, self.engine)
end

function TestInspect:test_get_multi_reads_every_table()
    local cols = argent.inspect(self.engine):get_multi_columns()
    lu.assertEquals(#cols.t_ins_parent, 4)
    lu.assertEquals(#cols.t_ins_pair, 3)
    local fks = argent.inspect(self.engine):get_multi_foreign_keys()
    lu.assertEquals(fks.t_ins_child[1].referred_table, "t_ins_parent")
    lu.assertEquals(argent.inspect(self.engine):get_multi_pk_constraint().t_ins_pair.constrained_columns, {"a", "b"})
    lu.assertNotNil(argent.inspect(self.engine):get_multi_indexes().t_ins_child)
    lu.assertNotNil(argent.inspect(self.engine):get_multi_unique_constraints())
    lu.assertNotNil(argent.inspect(self.engine):get_multi_check_constraints())
end

-- Reflecting a schema costs the same number of queries for 3 tables as for 13.
function TestInspect:test_reflection_sends_a_fixed_number_of_queries()
    local inspect = require "argent.inspect"
    local log = {}
    local engine = helper.engine({echo = function(sql) log[#log + 1] = sql end})
    local function count()
        local conn <close> = engine:connect()
        local before = #log
        inspect.snapshot(conn)
        return #log - before
    end
    local few = count()
    local meta = argent.MetaData()
    for i = 1, 10 do
        argent.Table("t_ins_many" .. i, meta, argent.Column("id", argent.Integer, {primary_key = true}),
            argent.Column("x", argent.String(5), {index = true}),
            argent.Column("p", argent.Integer, {foreign_key = "t_ins_parent.id"}))
    end
    meta:create_all(engine)
    local many = count()
    meta:drop_all(engine)
    engine:dispose()
    lu.assertEquals(many, few)
    lu.assertTrue(few <= 6, "queries: " .. few)
end

function TestInspect:test_enum_types()
    local meta = argent.MetaData()
    argent.Table("t_ins_made", meta, argent.Column("id", argent.Integer, {primary_key = true}),
        argent.Column("mood", argent.Enum("happy", "sad", {name = "t_ins_mood"})))
    meta:create_all(self.engine)
    local insp = argent.inspect(self.engine)
    local enums = insp:get_enums()
    local col = by_name(insp:get_columns("t_ins_made")).mood
    if pg then
        local found
        for _, e in ipairs(enums) do
            if e.name == "t_ins_mood" then found = e end
        end
        lu.assertNotNil(found)
        lu.assertEquals(found.labels, {"happy", "sad"})
        lu.assertEquals(col.type.__type, "Enum")
        lu.assertEquals(col.type.name, "t_ins_mood")
        lu.assertEquals(col.type.enums, {"happy", "sad"})
    else
        lu.assertEquals(enums, {})
        lu.assertStrContains(type_name(col.type), "CHAR")
    end
    local conn <close> = self.engine:connect()
    conn:execute(argent.insert(meta.tables.t_ins_made):values{id = 1, mood = "sad"})
    lu.assertEquals(conn:execute("SELECT mood FROM t_ins_made"):scalar(), "sad")
    conn:close()
    meta:drop_all(self.engine)
    if pg then
        local c2 <close> = self.engine:connect()
        lu.assertEquals(c2:execute("SELECT count(*) FROM pg_type WHERE typname = 't_ins_mood'"):scalar(), 0)
    end
end

function TestInspect:test_sqlite_constraint_names_come_from_the_create_text()
    local parse = require("argent.inspect.sqlite").parse_create_table
    local p = parse([[CREATE TABLE "x" (id INTEGER NOT NULL CONSTRAINT "pk x" PRIMARY KEY AUTOINCREMENT,
        a VARCHAR(10) CONSTRAINT uq_a UNIQUE, -- a comment (with a parenthesis
        b INTEGER CHECK (b > (0)) REFERENCES other (id), [c d] TEXT, "e" INT,
        CONSTRAINT fk_e FOREIGN KEY ("e") REFERENCES "other" (id) ON DELETE CASCADE,
        CONSTRAINT ck_two CHECK (b <> ')' AND a IS NOT NULL), UNIQUE ([c d], e))]])
    lu.assertEquals(p.pk_name, "pk x")
    lu.assertTrue(p.autoincrement)
    lu.assertEquals(p.uniques, {{name = "uq_a", columns = {"a"}}, {columns = {"c d", "e"}}})
    lu.assertEquals(p.foreign_keys, {{columns = {"b"}, referred_table = "other"},
                                     {name = "fk_e", columns = {"e"}, referred_table = "other"}})
    lu.assertEquals(p.checks, {{sqltext = "b > (0)"}, {name = "ck_two", sqltext = "b <> ')' AND a IS NOT NULL"}})
    lu.assertEquals(parse(nil).uniques, {})
    lu.assertEquals(parse("CREATE TABLE").checks, {})
end

os.exit(helper.run(), true)
