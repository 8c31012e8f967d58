-- tests/lua/test_hostile.lua -- hostile input through the SQL expression
-- language, API.md sections 1, 4 and 5.
--
-- Spec-first: written against API.md before the implementation.  Values
-- full of quotes, comment markers, semicolons, placeholder look-alikes (`?`,
-- `:name`, `$1`), `%`, NUL bytes and 100 kB strings must go through every
-- statement kind (insert, select where, update, delete, returning) and come
-- back byte-exact; compiling any statement must leave every such value out
-- of the SQL text (it is a bound parameter).  Identifiers that need quoting
-- -- reserved words (order, select, group, from), upper case and spaces
-- (Mixed Case), a double quote, a question mark -- must work in DDL
-- (create_all, drop_all, indexes, foreign keys) and in every statement.
--
-- The tables named exactly `order` and `group` break the suite's t_hos_
-- prefix on purpose: the reserved word is the point.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table = argent.Column, argent.Table
local Integer, String, Text = argent.Integer, argent.String, argent.Text

-- A name quoted for plain SQL on this database (MariaDB quotes with backticks).
local function quoted(name)
    if helper.is_mariadb() then return "`" .. name .. "`" end
    return '"' .. name .. '"'
end

-- parents first; written as DROP TABLE needs them
local NAMES = {"t_hos_values", quoted("order"), quoted("group"), quoted("t_hos_Mixed Case")}

local HOSTILE = {
    "it's \"quoted\" 'twice'' ",
    "x'); DROP TABLE t_hos_values; --",
    "semi; colon; SELECT 1; COMMIT;",
    "what? where? ?? ?1 ?x",
    ":name and :other :1 @p",
    "$1 $2 $$dollar$$ $tag$x$tag$",
    "100% %s %d %% _under_ %",
    "back\\slash \\' \\\" end\\",
    "/* not a comment */ -- nor this\nnext line\r\n",
    "\"order\" \"select\" `tick` [bracket]",
    "héllo ✓ 日本 \u{feff}bom",
    "'; DELETE FROM \"order\"; SELECT '",
    "\\x00 0x00 E'\\\\' ",
}

local BINARY = {"a\0b", "\0", "\0'; DROP TABLE t_hos_values; --\0", "\255\0\254?:x$1"}

local function big_string()
    local parts = {}
    for i = 1, 10240 do parts[i] = string.char(97 + i % 26) .. "'\"?:$;-- " end
    return table.concat(parts)
end

-- coalesce(n, v): n is NULL in these rows, so the value itself comes back.
local function func_coalesce(t, v) return argent.func.coalesce(t.c.n, v) end

TestHostile = {}

function TestHostile:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        local rev = {}
        for i = #NAMES, 1, -1 do rev[#rev + 1] = NAMES[i] end
        helper.drop_tables(conn, rev)
    end
    self.meta = argent.MetaData()
    self.v = Table("t_hos_values", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("s", Text),
        Column("n", String(200)),
        Column("b", argent.LargeBinary))
    self.o = Table("order", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("select", String(50), {unique = true}),
        Column("group", Integer, {index = true}),
        Column("Mixed Case", String(50)))
    self.g = Table("group", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("order", Integer, {foreign_key = argent.ForeignKey("order.id", {ondelete = "CASCADE"})}),
        Column("from", Text))
    self.m = Table("t_hos_Mixed Case", self.meta,
        Column("id", Integer, {primary_key = true}),
        Column("User Name", String(50)),
        Column('quote"d', String(50)),
        Column("what?", Integer),
        argent.Index("ix_t_hos_Mixed Case_user", "User Name"))
    self.meta:create_all(self.engine)
    self.conn = self.engine:connect()
end

function TestHostile:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta = nil, nil
    self.v, self.o, self.g, self.m = nil, nil, nil, nil
end

local function show(v)
    if #v > 60 then return ("<%d bytes>"):format(#v) end
    return ("%q"):format(v)
end

-- Checks that `stmt` compiled for every dialect keeps value out of the SQL.
local function assert_value_not_in_sql(stmt, value, what)
    for _, d in ipairs(helper.DIALECTS) do
        local sql, params = helper.compile(stmt, d)
        if sql:find(value, 1, true) then
            lu.fail(("%s (%s): the value %s was spliced into the SQL: %s"):format(what, d, show(value), sql))
        end
        helper.assert_placeholders(sql, params, d)
    end
end

-- Checks that value is one of the compiled parameters (on every dialect).
local function assert_value_is_a_param(stmt, value, what)
    for _, d in ipairs(helper.DIALECTS) do
        local _, params = helper.compile(stmt, d)
        local found = false
        for _, p in ipairs(params) do
            if p == value then found = true end
        end
        lu.assertTrue(found, ("%s (%s): %s is a bound parameter"):format(what, d, show(value)))
    end
end

-- Runs value through insert ... returning, select where, where{}, update
-- ... returning and delete on column col (of t_hos_values).
function TestHostile:round_trip(col, value, id)
    local t, conn = self.v, self.conn
    local row = conn:execute(argent.insert(t):values{id = id, [col] = value}:returning(t.c.id, t.c[col])):one()
    lu.assertEquals(row.id, id)
    lu.assertEquals(row[col], value, "returning " .. show(value))
    lu.assertEquals(conn:execute(argent.select(t.c.id):where(t.c[col]:eq(value))):scalars(), {id},
                    "select where " .. show(value))
    lu.assertEquals(conn:execute(argent.select(t.c[col]):where{[col] = value}):scalar(), value,
                    "where{} " .. show(value))
    local changed = value .. "!"
    local upd = conn:execute(argent.update(t):where(t.c[col]:eq(value)):values{[col] = changed}
        :returning(t.c[col])):all()
    lu.assertEquals(#upd, 1, "update " .. show(value))
    lu.assertEquals(upd[1][col], changed)
    local res = conn:execute(argent.delete(t):where(t.c[col]:eq(changed)))
    lu.assertEquals(res.rowcount, 1, "delete " .. show(value))
    lu.assertEquals(helper.count(conn, "t_hos_values"), 0)
end

-- values

function TestHostile:test_hostile_values_in_every_statement_kind()
    for i, v in ipairs(HOSTILE) do
        self:round_trip("s", v, i)
        self:round_trip("n", v, 100 + i)
    end
end

function TestHostile:test_hostile_values_in_in_like_and_functions()
    local t, conn = self.v, self.conn
    for i, v in ipairs(HOSTILE) do
        conn:execute(argent.insert(t):values{id = i, s = v})
    end
    for i, v in ipairs(HOSTILE) do
        lu.assertEquals(conn:execute(argent.select(t.c.id):where(t.c.s:in_({v, "other"}))):scalars(), {i}, show(v))
        lu.assertEquals(conn:execute(argent.select(t.c.id):where(t.c.s:ne(v)):order_by(t.c.id)):scalars()[1],
                        i == 1 and 2 or 1)
        lu.assertEquals(conn:execute(argent.select(func_coalesce(t, v):label("c")):where(t.c.id:eq(i))):scalar(), v)
        lu.assertEquals(conn:execute(argent.select((t.c.s .. v):label("c")):where(t.c.id:eq(i))):scalar(), v .. v)
        lu.assertEquals(conn:execute(argent.select(argent.literal(v):label("c"))):scalar(), v)
    end
end

function TestHostile:test_hostile_values_never_reach_the_sql_text()
    local t, o = self.v, self.o
    local values = {}
    for _, v in ipairs(HOSTILE) do values[#values + 1] = v end
    values[#values + 1] = big_string()
    for _, v in ipairs(values) do
        local stmts = {
            {"insert", argent.insert(t):values{id = 1, s = v}},
            {"insert many", argent.insert(t):values{{id = 1, s = v}, {id = 2, s = v}}},
            {"insert returning", argent.insert(t):values{id = 1, s = v}:returning(t.c.s)},
            {"select where", argent.select(t.c.id):where(t.c.s:eq(v))},
            {"select where{}", argent.select(t.c.id):where{s = v}},
            {"in_", argent.select(t.c.id):where(t.c.s:in_({v}))},
            {"like", argent.select(t.c.id):where(t.c.s:like(v))},
            {"startswith", argent.select(t.c.id):where(t.c.s:startswith(v))},
            {"contains", argent.select(t.c.id):where(t.c.s:contains(v))},
            {"between", argent.select(t.c.id):where(t.c.s:between(v, v))},
            {"literal", argent.select(argent.literal(v):label("x"))},
            {"case", argent.select(argent.case({{t.c.s:eq(v), v}}, v):label("x"))},
            {"coalesce", argent.select(argent.func.coalesce(t.c.s, v):label("x"))},
            {"concat", argent.select((t.c.s .. v):label("x"))},
            {"having", argent.select(t.c.s):group_by(t.c.s):having(t.c.s:ne(v))},
            {"update", argent.update(t):where(t.c.s:eq(v)):values{s = v}},
            {"update returning", argent.update(t):values{n = v}:returning(t.c.id)},
            {"delete", argent.delete(t):where(t.c.s:eq(v))},
            {"upsert", argent.insert(o):values{id = 1, select = v}
                :on_conflict_do_update{index = {"select"}, set = {["Mixed Case"] = v}}},
            {"reserved columns", argent.select(o.c.id):where(o.c.select:eq(v), o.c["Mixed Case"]:ne(v))},
        }
        for _, s in ipairs(stmts) do
            assert_value_not_in_sql(s[2], v, s[1])
        end
        for _, k in ipairs {1, 4, 5, 10, 16, 18} do
            assert_value_is_a_param(stmts[k][2], v, stmts[k][1])
        end
    end
end

function TestHostile:test_hostile_values_through_executemany()
    local rows = {}
    for i, v in ipairs(HOSTILE) do rows[i] = {id = i, s = v, n = v} end
    lu.assertEquals(self.conn:executemany(argent.insert(self.v), rows), #HOSTILE)
    local got = self.conn:execute(argent.select(self.v.c.s, self.v.c.n):order_by(self.v.c.id)):all()
    for i, v in ipairs(HOSTILE) do
        lu.assertEquals(got[i].s, v)
        lu.assertEquals(got[i].n, v)
    end
end

function TestHostile:test_hostile_values_in_a_transaction_leave_the_tables_alone()
    local tx = self.conn:begin()
    for i, v in ipairs(HOSTILE) do
        self.conn:execute(argent.insert(self.v):values{id = i, s = v})
    end
    tx:commit()
    lu.assertEquals(helper.count(self.conn, "t_hos_values"), #HOSTILE)
    lu.assertTrue(helper.table_exists(self.conn, "t_hos_values"))
    lu.assertTrue(helper.table_exists(self.conn, "order"))
end

-- NUL bytes and 100 kB

function TestHostile:test_nul_bytes_in_a_binary_column()
    for i, v in ipairs(BINARY) do
        self:round_trip("b", v, i)
        assert_value_not_in_sql(argent.select(self.v.c.id):where(self.v.c.b:eq(v)), v, "binary where")
    end
end

-- A String/Text value with a NUL byte or invalid UTF-8 is a DataError on
-- every dialect (PostgreSQL text cannot hold it, MariaDB refuses invalid
-- UTF-8, SQLite would keep bytes its functions misread): nothing written.
function TestHostile:test_nul_bytes_in_a_text_column_are_a_data_error_everywhere()
    local t, conn = self.v, self.conn
    for i, v in ipairs(BINARY) do
        helper.assert_error("DataError", nil, function()
            conn:execute(argent.insert(t):values{id = i, s = v})
        end)
    end
    lu.assertEquals(conn:execute(argent.select(argent.func.count(t.c.id):label("n"))):scalar(), 0)
end

function TestHostile:test_100k_string_in_every_statement_kind()
    local v = big_string()
    lu.assertEquals(#v, 102400)
    self:round_trip("s", v, 1)
    self:round_trip("b", v, 2)
end

-- identifiers that need quoting

function TestHostile:test_create_all_made_the_tables_and_index()
    local set = helper.table_set(self.conn)
    lu.assertTrue(set["order"])
    lu.assertTrue(set["group"])
    lu.assertTrue(set["t_hos_Mixed Case"])
    lu.assertTrue(helper.index_set(self.conn, "t_hos_Mixed Case")["ix_t_hos_Mixed Case_user"])
    local found = false
    for name in pairs(helper.index_set(self.conn, "order")) do
        if name:find("group", 1, true) then found = true end
    end
    lu.assertTrue(found, "index = true on the column group")
end

function TestHostile:test_reserved_words_in_every_statement_kind()
    local o, conn = self.o, self.conn
    local ins = conn:execute(argent.insert(o):values{id = 1, select = "s1", group = 10, ["Mixed Case"] = "M1"}
        :returning(o.c.id, o.c.select, o.c["Mixed Case"])):one()
    lu.assertEquals(ins, {id = 1, select = "s1", ["Mixed Case"] = "M1"})
    conn:execute(argent.insert(o):values{{id = 2, select = "s2", group = 10, ["Mixed Case"] = "M2"},
                                         {id = 3, select = "s3", group = 20, ["Mixed Case"] = "M3"}})
    local row = conn:execute(argent.select(o.c.select, o.c.group, o.c["Mixed Case"])
        :where(o.c.select:eq("s2"))):one()
    lu.assertEquals(row, {select = "s2", group = 10, ["Mixed Case"] = "M2"})
    lu.assertEquals(conn:execute(argent.select(o.c.id):where{group = 10, select = "s1"}):scalars(), {1})
    lu.assertEquals(conn:execute(argent.select(o.c.id):order_by(o.c.group:desc(), o.c.select)):scalars(), {3, 1, 2})
    local groups = conn:execute(argent.select(o.c.group, argent.func.count(o.c.id):label("n"))
        :group_by(o.c.group):order_by(o.c.group)):all()
    lu.assertEquals(groups, {{group = 10, n = 2}, {group = 20, n = 1}})
    local upd = conn:execute(argent.update(o):where(o.c.group:eq(10)):values{["Mixed Case"] = "changed"})
    lu.assertEquals(upd.rowcount, 2)
    lu.assertEquals(conn:execute(argent.select(o.c["Mixed Case"]):where(o.c.id:eq(2))):scalar(), "changed")
    local del = conn:execute(argent.delete(o):where(o.c["Mixed Case"]:eq("changed")):returning(o.c.select))
    local gone = del:scalars()
    table.sort(gone)
    lu.assertEquals(gone, {"s1", "s2"})
    lu.assertEquals(conn:execute(argent.select(o.c.select)):scalars(), {"s3"})
end

function TestHostile:test_reserved_words_in_upsert_and_unique()
    local o, conn = self.o, self.conn
    conn:execute(argent.insert(o):values{id = 1, select = "dup", group = 1})
    helper.assert_error("IntegrityError", nil, conn.execute, conn,
                        argent.insert(o):values{id = 2, select = "dup", group = 2})
    conn:execute(argent.insert(o):values{id = 2, select = "dup", group = 2}:on_conflict_do_nothing{"select"})
    conn:execute(argent.insert(o):values{id = 3, select = "dup", group = 3}
        :on_conflict_do_update{index = {"select"}, set = {group = 99}})
    lu.assertEquals(conn:execute(argent.select(o.c.id, o.c.group)):all(), {{id = 1, group = 99}})
end

function TestHostile:test_reserved_words_in_join_and_foreign_key()
    local o, g, conn = self.o, self.g, self.conn
    conn:execute(argent.insert(o):values{{id = 1, select = "a"}, {id = 2, select = "b"}})
    conn:execute(argent.insert(g):values{{id = 1, order = 1, from = "x"}, {id = 2, order = 1, from = "y"},
                                         {id = 3, order = 2, from = "z"}})
    local rows = conn:execute(argent.select(o.c.select, g.c.from):join(g, g.c.order:eq(o.c.id))
        :order_by(g.c.id)):all()
    lu.assertEquals(rows, {{select = "a", from = "x"}, {select = "a", from = "y"}, {select = "b", from = "z"}})
    helper.assert_error("IntegrityError", nil, conn.execute, conn, argent.insert(g):values{id = 9, order = 42})
    conn:execute(argent.delete(o):where(o.c.id:eq(1)))
    lu.assertEquals(conn:execute(argent.select(g.c.id)):scalars(), {3}, "ON DELETE CASCADE through \"order\"")
    local sub = argent.select(g.c.order):subquery("from")
    lu.assertEquals(conn:execute(argent.select(sub.c.order)):scalars(), {2})
end

function TestHostile:test_odd_identifiers_in_every_statement_kind()
    local m, conn = self.m, self.conn
    local ret = conn:execute(argent.insert(m):values{id = 1, ["User Name"] = "ann", ['quote"d'] = "q", ["what?"] = 5}
        :returning(m.c["User Name"], m.c['quote"d'], m.c["what?"])):one()
    lu.assertEquals(ret, {["User Name"] = "ann", ['quote"d'] = "q", ["what?"] = 5})
    local row = conn:execute(argent.select(m):where(m.c["what?"]:eq(5), m.c['quote"d']:eq("q"))):one()
    lu.assertEquals(row, {id = 1, ["User Name"] = "ann", ['quote"d'] = "q", ["what?"] = 5})
    conn:execute(argent.update(m):where(m.c["User Name"]:eq("ann")):values{['quote"d'] = "r", ["what?"] = 6})
    lu.assertEquals(conn:execute(argent.select(m.c["what?"]):where{['quote"d'] = "r"}):scalar(), 6)
    lu.assertEquals(conn:execute(argent.delete(m):where(m.c["what?"]:eq(6))).rowcount, 1)
end

function TestHostile:test_identifiers_are_quoted_in_compiled_sql()
    local o, m = self.o, self.m
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(argent.select(o.c.select, o.c.group, o.c["Mixed Case"])
            :where(o.c.group:eq(1)):order_by(o.c.select), d)
        helper.assert_has(sql, '"order"."select"')
        helper.assert_has(sql, '"order"."group"')
        helper.assert_has(sql, '"order"."Mixed Case"')
        helper.assert_has(sql, 'FROM "order"')
        helper.assert_lacks(sql, "FROM order")
        helper.assert_lacks(sql, " order.")
        -- id needs no quotes, and gets none
        helper.assert_lacks(sql, '"id"')
        sql = helper.compile(argent.select(m.c['quote"d'], m.c["what?"]), d)
        helper.assert_has(sql, '"quote""d"')
        helper.assert_has(sql, '"what?"')
        helper.assert_has(sql, '"t_hos_Mixed Case"')
        sql = helper.compile(argent.insert(o):values{id = 1, select = "x"}, d)
        helper.assert_sql_matches(sql, '^INSERT INTO "order" %(id, "select"%)')
        sql = helper.compile(argent.update(o):values{group = 1}, d)
        helper.assert_sql_matches(sql, '^UPDATE "order" SET "group"%s*=')
        sql = helper.compile(argent.delete(o):where(o.c.group:eq(1)), d)
        helper.assert_sql_matches(sql, '^DELETE FROM "order" WHERE "order"."group"')
    end
end

-- Reflection reads the catalog by table name: the names must be quoted (or
-- bound) there too.
function TestHostile:test_inspect_tables_with_hostile_names()
    local insp = argent.inspect(self.engine)
    local names = {}
    for _, n in ipairs(insp:get_table_names()) do names[n] = true end
    lu.assertTrue(names["order"])
    lu.assertTrue(names["t_hos_Mixed Case"])
    local cols = {}
    for i, col in ipairs(insp:get_columns("t_hos_Mixed Case")) do cols[i] = col.name end
    lu.assertEquals(cols, {"id", "User Name", 'quote"d', "what?"})
    cols = {}
    for i, col in ipairs(insp:get_columns("order")) do cols[i] = col.name end
    lu.assertEquals(cols, {"id", "select", "group", "Mixed Case"})
    lu.assertEquals(insp:get_pk_constraint("group").constrained_columns, {"id"})
    local fks = insp:get_foreign_keys("group")
    lu.assertEquals(#fks, 1)
    lu.assertEquals(fks[1].constrained_columns, {"order"})
    lu.assertEquals(fks[1].referred_table, "order")
    local found = false
    for _, ix in ipairs(insp:get_indexes("t_hos_Mixed Case")) do
        if ix.name == "ix_t_hos_Mixed Case_user" then
            found = true
            lu.assertEquals(ix.column_names, {"User Name"})
        end
    end
    lu.assertTrue(found)
end

function TestHostile:test_reflect_tables_with_hostile_names()
    self.conn:execute(argent.insert(self.o):values{id = 1, select = "s", group = 2, ["Mixed Case"] = "M"})
    local meta = argent.MetaData()
    meta:reflect(self.engine)
    local o, m = meta.tables["order"], meta.tables["t_hos_Mixed Case"]
    lu.assertNotNil(o)
    lu.assertNotNil(m)
    lu.assertEquals(self.conn:execute(argent.select(o.c["Mixed Case"]):where(o.c.select:eq("s"))):scalar(), "M")
    self.conn:execute(argent.insert(m):values{id = 1, ['quote"d'] = "q", ["what?"] = 1})
    lu.assertEquals(self.conn:execute(argent.select(m.c['quote"d']):where(m.c["what?"]:eq(1))):scalar(), "q")
end

-- Names that reach the SQL text as identifiers (labels, subquery aliases)
-- are quoted, embedded quotes doubled: nothing after them is run.
local HOSTILE_NAMES = {
    'x" FROM t_hos_values; DROP TABLE t_hos_values; --',
    "select",
    "Total Count",
    "it's",
    "a?b:c$1",
}

function TestHostile:test_hostile_labels_are_quoted_identifiers()
    local t, conn = self.v, self.conn
    conn:execute(argent.insert(t):values{id = 1, s = "v"})
    for _, name in ipairs(HOSTILE_NAMES) do
        local row = conn:execute(argent.select(t.c.s:label(name))):one()
        lu.assertEquals(row[name], "v", "label " .. show(name))
    end
    for _, d in ipairs(helper.DIALECTS) do
        local sql = helper.compile(argent.select(t.c.s:label(HOSTILE_NAMES[1])), d)
        helper.assert_has(sql, '"x"" FROM t_hos_values; DROP TABLE t_hos_values; --"')
    end
    lu.assertTrue(helper.table_exists(conn, "t_hos_values"))
    lu.assertEquals(helper.count(conn, "t_hos_values"), 1)
end

function TestHostile:test_hostile_subquery_alias_is_a_quoted_identifier()
    local t, conn = self.v, self.conn
    conn:execute(argent.insert(t):values{id = 1, s = "v"})
    for _, name in ipairs(HOSTILE_NAMES) do
        local sub = argent.select(t.c.id, t.c.s):subquery(name)
        lu.assertEquals(conn:execute(argent.select(sub.c.s):where(sub.c.id:eq(1))):scalar(), "v",
                        "alias " .. show(name))
    end
    lu.assertTrue(helper.table_exists(conn, "t_hos_values"))
end

-- A function name reaches the SQL text: one that is not a plain name is
-- refused (ArgumentError) or quoted; either way nothing after it runs.
function TestHostile:test_hostile_function_name_is_refused_or_quoted()
    local t, conn = self.v, self.conn
    conn:execute(argent.insert(t):values{id = 1, s = "v"})
    local name = "lower(s)) FROM t_hos_values; DROP TABLE t_hos_values; --"
    local ok, err = pcall(function()
        return conn:execute(argent.select(argent.func[name](t.c.s):label("x")))
    end)
    if not ok then
        lu.assertNotNil(helper.field(err, "kind"), tostring(err))
    end
    lu.assertTrue(helper.table_exists(conn, "t_hos_values"), "the table survives")
    lu.assertEquals(helper.count(conn, "t_hos_values"), 1)
end

-- A bindparam's name is the parameter's key, not SQL.
function TestHostile:test_hostile_bindparam_name_stays_out_of_the_sql()
    local t, conn = self.v, self.conn
    conn:execute(argent.insert(t):values{{id = 1, s = "a"}, {id = 2, s = "b"}})
    local name = "p'); DROP TABLE t_hos_values; --"
    local okp, param = pcall(argent.bindparam, name)
    if not okp then -- refusing such a name is fine too
        lu.assertEquals(helper.field(param, "kind"), "ArgumentError", tostring(param))
        return
    end
    local stmt = argent.select(t.c.id):where(t.c.s:eq(param))
    for _, d in ipairs(helper.DIALECTS) do
        helper.assert_lacks(helper.compile(stmt, d), "DROP TABLE")
    end
    lu.assertEquals(conn:execute(stmt, {[name] = "b"}):scalars(), {2})
    lu.assertTrue(helper.table_exists(conn, "t_hos_values"))
end

function TestHostile:test_drop_all_drops_the_hostile_tables()
    self.meta:drop_all(self.engine)
    local set = helper.table_set(self.conn)
    lu.assertNil(set["order"])
    lu.assertNil(set["group"])
    lu.assertNil(set["t_hos_Mixed Case"])
    lu.assertNil(set["t_hos_values"])
    self.meta:create_all(self.engine)
    lu.assertTrue(helper.table_set(self.conn)["order"])
end

os.exit(helper.run(), true)
