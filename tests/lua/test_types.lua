-- tests/lua/test_types.lua -- argent's types in and out, API.md sections 1 and 4.
--
-- Spec-first: written against API.md before the implementation.  Each value
-- goes in through argent.insert and comes back through argent.select on a
-- table that argent created (meta:create_all), and must come back as the
-- Lua value of API.md section 1: integers stay integers, floats floats,
-- Numeric an exact string (a float with {as_number = true}), Boolean a
-- boolean (stored as 0/1 on SQLite), Date/DateTime/Time the same ISO text on
-- every dialect, LargeBinary byte-exact, JSON decoded, Enum checked before
-- the database is touched.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table = argent.Column, argent.Table

local NAMES = {"t_typ_all"}

TestTypes = {}

function TestTypes:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        helper.drop_tables(conn, NAMES)
    end
    self.meta = argent.MetaData()
    self.t = Table("t_typ_all", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("i", argent.Integer),
        Column("bi", argent.BigInteger),
        Column("si", argent.SmallInteger),
        Column("f", argent.Float),
        Column("d", argent.Double),
        Column("num", argent.Numeric(10, 2)),
        Column("numf", argent.Numeric(10, 2, {as_number = true})),
        Column("big", argent.Numeric(20, 8)),
        Column("flag", argent.Boolean),
        Column("s", argent.String(50)),
        Column("sb", argent.String),
        Column("txt", argent.Text),
        Column("day", argent.Date),
        Column("ts", argent.DateTime),
        Column("tm", argent.Time),
        Column("bin", argent.LargeBinary),
        Column("doc", argent.JSON),
        Column("kind", argent.Enum("small", "large")))
    self.meta:create_all(self.engine)
    self.conn = self.engine:connect()
    self.next_id = 0
end

function TestTypes:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta, self.t = nil, nil, nil
end

-- Inserts a row with column col = v and returns the value read back through
-- argent.select.
function TestTypes:store(col, v)
    self.next_id = self.next_id + 1
    local id = self.next_id
    self.conn:execute(argent.insert(self.t):values{id = id, [col] = v})
    local row = self.conn:execute(argent.select(self.t.c[col]):where(self.t.c.id:eq(id))):one()
    return row[col]
end

-- integers

function TestTypes:test_integer_types_give_integers()
    for _, case in ipairs {{"i", 42}, {"i", -2147483648}, {"bi", math.maxinteger},
                           {"bi", math.mininteger}, {"si", 32767}, {"si", -32768}, {"i", 0}} do
        local got = self:store(case[1], case[2])
        -- (5.1 and LuaJIT: the 64-bit bounds are decimal strings, both ways)
        if helper.has_integers then lu.assertEquals(math.type(got), "integer", case[1] .. " " .. case[2]) end
        lu.assertEquals(got, case[2])
    end
end

-- floats

function TestTypes:test_float_and_double_give_floats()
    for _, case in ipairs {{"f", 2.5}, {"f", -0.25}, {"d", 0.1}, {"d", 1e300}, {"d", -123456.789}} do
        local got = self:store(case[1], case[2])
        lu.assertEquals(math.type(got), "float", case[1] .. " " .. case[2])
        lu.assertEquals(got, case[2])
    end
end

function TestTypes:test_integer_into_double_reads_back_as_float()
    helper.needs_integer_subtypes()
    local got = self:store("d", 3)
    lu.assertEquals(math.type(got), "float")
    lu.assertEquals(got, 3.0)
end

-- Numeric

function TestTypes:test_numeric_is_an_exact_string()
    for _, v in ipairs {"12.50", "-0.01", "12345678.91", "0.00"} do
        local got = self:store("num", v)
        lu.assertEquals(type(got), "string", v)
        lu.assertEquals(got, v)
    end
end

function TestTypes:test_numeric_keeps_its_scale()
    -- Numeric(10, 2): the text has two decimals on every dialect
    lu.assertEquals(self:store("num", "7.5"), "7.50")
    lu.assertEquals(self:store("num", 12.5), "12.50")
    lu.assertEquals(self:store("num", 3), "3.00")
end

-- Exact means exact beyond a double's 15-17 digits too (SQLite's REAL would
-- round these: the SQLite dialect must keep the text).
function TestTypes:test_numeric_with_20_digits_is_exact()
    for _, v in ipairs {"123456789012.12345678", "-99999999999.99999999", "0.00000001"} do
        local got = self:store("big", v)
        lu.assertEquals(type(got), "string", v)
        lu.assertEquals(got, v)
    end
end

function TestTypes:test_numeric_as_number_gives_a_float()
    local got = self:store("numf", "12.50")
    lu.assertEquals(math.type(got), "float")
    lu.assertEquals(got, 12.5)
end

-- Boolean

function TestTypes:test_boolean_gives_booleans()
    lu.assertIs(self:store("flag", true), true)
    lu.assertIs(self:store("flag", false), false)
    lu.assertNil(self:store("flag", argent.null))
end

function TestTypes:test_boolean_is_stored_as_0_or_1_on_sqlite()
    lu.skipIf(not helper.is_sqlite(), "SQLite only")
    self:store("flag", true)
    self:store("flag", false)
    local rows = self.conn:execute("SELECT typeof(flag) AS t, flag + 0 AS v FROM t_typ_all ORDER BY id"):all()
    lu.assertEquals(rows[1].t, "integer")
    lu.assertEquals(rows[1].v, 1)
    lu.assertEquals(rows[2].v, 0)
end

function TestTypes:test_boolean_in_where()
    self:store("flag", true)
    self:store("flag", false)
    self:store("flag", true)
    local t = self.t
    local ids = self.conn:execute(argent.select(t.c.id):where(t.c.flag:eq(true)):order_by(t.c.id)):scalars()
    lu.assertEquals(ids, {1, 3})
    ids = self.conn:execute(argent.select(t.c.id):where{flag = false}):scalars()
    lu.assertEquals(ids, {2})
end

-- strings

function TestTypes:test_string_and_text_give_strings()
    lu.assertEquals(self:store("s", "héllo ✓"), "héllo ✓")
    lu.assertEquals(self:store("sb", "bare string type"), "bare string type")
    local long = ("x"):rep(70000)
    lu.assertEquals(self:store("txt", long), long)
end

function TestTypes:test_string_too_long_is_data_error_on_postgresql()
    lu.skipIf(not helper.is_pg(), "PostgreSQL enforces VARCHAR(n)")
    helper.assert_error("DataError", nil, self.conn.execute, self.conn,
                        argent.insert(self.t):values{id = 1, s = ("y"):rep(51)})
end

-- dates and times: the same ISO-8601 text on every dialect

function TestTypes:test_date_datetime_time_give_the_same_iso_text()
    lu.assertEquals(self:store("day", "2026-11-24"), "2026-11-24")
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03"), "2026-11-24 02:26:03")
    lu.assertEquals(self:store("tm", "02:26:03"), "02:26:03")
end

function TestTypes:test_datetime_keeps_non_zero_fraction()
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03.123456"), "2026-11-24 02:26:03.123456")
end

-- API.md section 1: "fractional seconds only when non-zero", the same text
-- on every dialect (PostgreSQL prints no zero fraction; SQLite must not either).
function TestTypes:test_zero_fraction_is_not_shown()
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03.000000"), "2026-11-24 02:26:03")
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03.000"), "2026-11-24 02:26:03")
    lu.assertEquals(self:store("tm", "02:26:03.000"), "02:26:03")
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03.500"), "2026-11-24 02:26:03.5")
    lu.assertEquals(self:store("tm", "02:26:03.250"), "02:26:03.25")
end

-- ISO-8601's "T" separator goes in; the text of API.md section 1 (a space)
-- comes out on every dialect, as PostgreSQL gives it.
function TestTypes:test_datetime_with_t_separator_reads_back_in_the_api_form()
    lu.assertEquals(self:store("ts", "2026-11-24T02:26:03"), "2026-11-24 02:26:03")
end

function TestTypes:test_dates_compare_in_where()
    self:store("day", "2025-01-01")
    self:store("day", "2026-11-24")
    self:store("day", "2027-03-15")
    local t = self.t
    local ids = self.conn:execute(argent.select(t.c.id)
        :where(t.c.day:between("2026-01-01", "2026-12-31"))):scalars()
    lu.assertEquals(ids, {2})
    ids = self.conn:execute(argent.select(t.c.id):where(t.c.day:gt("2026-01-01")):order_by(t.c.id)):scalars()
    lu.assertEquals(ids, {2, 3})
end

function TestTypes:test_date_is_stored_as_iso_text_on_sqlite()
    lu.skipIf(not helper.is_sqlite(), "SQLite only")
    self:store("day", "2026-11-24")
    lu.assertEquals(self.conn:execute("SELECT day FROM t_typ_all"):scalar(), "2026-11-24")
end

-- LargeBinary

function TestTypes:test_large_binary_keeps_zero_bytes()
    local v = "\0\1\2\255binary\0\0end\0"
    local got = self:store("bin", v)
    lu.assertEquals(#got, #v)
    lu.assertEquals(got, v)
end

function TestTypes:test_large_binary_keeps_every_byte_value()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local v = table.concat(bytes):rep(4)
    lu.assertEquals(self:store("bin", v), v)
end

function TestTypes:test_large_binary_in_where()
    self:store("bin", "a\0b")
    self:store("bin", "a\0c")
    local t = self.t
    lu.assertEquals(self.conn:execute(argent.select(t.c.id):where(t.c.bin:eq("a\0c"))):scalars(), {2})
end

-- JSON

function TestTypes:test_json_table_round_trips()
    local doc = {name = "ann", tags = {"a", "b", "c"}, n = 3, ratio = 0.5, ok = true,
                 nested = {deep = {list = {1, 2, {x = "y"}}}}, text = "quote \" and ✓"}
    local got = self:store("doc", doc)
    lu.assertEquals(type(got), "table")
    lu.assertEquals(got, doc)
end

function TestTypes:test_json_array_round_trips()
    lu.assertEquals(self:store("doc", {10, 20, 30}), {10, 20, 30})
end

function TestTypes:test_json_scalars_round_trip()
    lu.assertEquals(self:store("doc", 5), 5)
    lu.assertEquals(self:store("doc", "just text"), "just text")
    lu.assertIs(self:store("doc", true), true)
    lu.assertEquals(self:store("doc", 1.25), 1.25)
end

function TestTypes:test_json_integers_stay_integers()
    helper.needs_integer_subtypes()
    local got = self:store("doc", {n = 7, big = math.maxinteger, low = math.mininteger, f = 7.0})
    lu.assertEquals(math.type(got.n), "integer")
    lu.assertEquals(got.big, math.maxinteger)
    lu.assertEquals(math.type(got.big), "integer")
    lu.assertEquals(got.low, math.mininteger)
    lu.assertEquals(math.type(got.f), "float")
end

function TestTypes:test_json_null_column_is_nil()
    self.conn:execute(argent.insert(self.t):values{id = 1, i = 1})
    local row = self.conn:execute(argent.select(self.t.c.doc)):one()
    lu.assertNil(row.doc)
end

-- Enum

function TestTypes:test_enum_value_round_trips()
    lu.assertEquals(self:store("kind", "small"), "small")
    lu.assertEquals(self:store("kind", "large"), "large")
end

function TestTypes:test_enum_value_outside_is_argument_error_before_the_database()
    helper.assert_error("ArgumentError", "medium", self.conn.execute, self.conn,
                        argent.insert(self.t):values{id = 1, kind = "medium"})
    lu.assertEquals(helper.count(self.conn, "t_typ_all"), 0)
end

function TestTypes:test_enum_checked_in_multi_row_insert_and_update()
    helper.assert_error("ArgumentError", "huge", self.conn.execute, self.conn,
                        argent.insert(self.t):values{{id = 1, kind = "small"}, {id = 2, kind = "huge"}})
    lu.assertEquals(helper.count(self.conn, "t_typ_all"), 0)
    self:store("kind", "small")
    helper.assert_error("ArgumentError", "tiny", self.conn.execute, self.conn,
                        argent.update(self.t):values{kind = "tiny"})
    lu.assertEquals(self.conn:execute("SELECT kind FROM t_typ_all"):scalar(), "small")
end

-- The transaction is still usable after the error: on PostgreSQL a failed
-- statement would abort it, so this also shows the database was not touched.
function TestTypes:test_enum_error_leaves_the_transaction_usable()
    local tx = self.conn:begin()
    self.conn:execute(argent.insert(self.t):values{id = 1, kind = "small"})
    helper.assert_error("ArgumentError", nil, self.conn.execute, self.conn,
                        argent.insert(self.t):values{id = 2, kind = "nope"})
    self.conn:execute(argent.insert(self.t):values{id = 3, kind = "large"})
    tx:commit()
    lu.assertEquals(helper.count(self.conn, "t_typ_all"), 2)
end

-- API.md section 8: "a value that does not fit its column" is an error of
-- the same kind on every dialect -- a DataError (or, where argent can tell
-- from the Lua value alone, an ArgumentError before the database) -- and is
-- never stored.  SQLite's own typing would store these silently.
function TestTypes:test_value_that_does_not_fit_its_column_is_an_error_everywhere()
    for _, case in ipairs {{"i", "abc"}, {"f", "abc"}, {"day", 20261124}, {"flag", "maybe"}} do
        local ok, err = pcall(self.conn.execute, self.conn,
                              argent.insert(self.t):values{id = 1, [case[1]] = case[2]})
        local what = ("%s = %q"):format(case[1], case[2])
        lu.assertFalse(ok, what .. " must be refused")
        local kind = helper.field(err, "kind")
        lu.assertTrue(kind == "DataError" or kind == "ArgumentError", what .. ": " .. tostring(err))
    end
    lu.assertEquals(helper.count(self.conn, "t_typ_all"), 0)
end

-- NULL in every column, and every type in one row

function TestTypes:test_null_in_every_column_is_nil()
    self.conn:execute(argent.insert(self.t):values{id = 1})
    local row = self.conn:execute(argent.select(self.t):where(self.t.c.id:eq(1))):one()
    lu.assertEquals(row.id, 1)
    for _, col in ipairs {"i", "bi", "si", "f", "d", "num", "numf", "big", "flag", "s", "sb", "txt",
                          "day", "ts", "tm", "bin", "doc", "kind"} do
        lu.assertNil(row[col], col)
    end
end

local FULL_ROW = {i = 1, bi = math.maxinteger, si = 7, f = 2.5, d = 0.1, num = "99.99", numf = "1.50",
                  flag = true, s = "str", sb = "bare", txt = "text", day = "2026-11-24",
                  ts = "2026-11-24 02:26:03", tm = "23:59:59", bin = "\0\255", doc = {a = {1, 2}},
                  kind = "large"}

local function check_full_row(row)
    for col, v in pairs(FULL_ROW) do
        if col == "numf" then
            lu.assertEquals(row.numf, 1.5)
        else
            lu.assertEquals(row[col], v, col)
        end
    end
end

function TestTypes:test_every_type_in_one_row()
    local values = {id = 1}
    for k, v in pairs(FULL_ROW) do values[k] = v end
    self.conn:execute(argent.insert(self.t):values(values))
    check_full_row(self.conn:execute(argent.select(self.t):where(self.t.c.id:eq(1))):one())
end

function TestTypes:test_every_type_through_executemany_and_returning()
    local rows = {}
    for id = 1, 3 do
        local r = {id = id}
        for k, v in pairs(FULL_ROW) do r[k] = v end
        rows[id] = r
    end
    lu.assertEquals(self.conn:executemany(argent.insert(self.t), rows), 3)
    for row in self.conn:execute(argent.select(self.t):order_by(self.t.c.id)):rows() do
        check_full_row(row)
    end
    local values = {id = 10}
    for k, v in pairs(FULL_ROW) do values[k] = v end
    local t = self.t
    local ret = self.conn:execute(argent.insert(t):values(values)
        :returning(t.c.flag, t.c.doc, t.c.num, t.c.bin)):one()
    lu.assertIs(ret.flag, true)
    lu.assertEquals(ret.doc, {a = {1, 2}})
    lu.assertEquals(ret.num, "99.99")
    lu.assertEquals(ret.bin, "\0\255")
end

function TestTypes:test_update_converts_values_like_insert()
    self.conn:execute(argent.insert(self.t):values{id = 1, flag = false, doc = {v = 1}})
    self.conn:execute(argent.update(self.t):where(self.t.c.id:eq(1))
        :values{flag = true, doc = {v = 2, list = {"x"}}, day = "2030-01-02"})
    local row = self.conn:execute(argent.select(self.t):where(self.t.c.id:eq(1))):one()
    lu.assertIs(row.flag, true)
    lu.assertEquals(row.doc, {v = 2, list = {"x"}})
    lu.assertEquals(row.day, "2030-01-02")
end

function TestTypes:test_enum_with_a_name()
    local e = argent.Enum("a", "b", {name = "ab"})
    lu.assertEquals(e.enums, {"a", "b"})
    lu.assertEquals(e.name, "ab")
    lu.assertEquals(tostring(e), 'Enum("a", "b", {name = "ab"})')
    local f = argent.Enum({"x", "y"}, {name = "xy", native_enum = false})
    lu.assertEquals(f.enums, {"x", "y"})
    lu.assertFalse(f.native_enum)
    lu.assertEquals(argent.Enum({"x"}).enums, {"x"})
    helper.assert_error("ArgumentError", "option 'name'", argent.Enum, "a", {name = 1})
    helper.assert_error("ArgumentError", "unknown option 'nam'", argent.Enum, "a", {nam = "x"})
    helper.assert_error("ArgumentError", "at least one value", argent.Enum, {name = "x"})
end

os.exit(helper.run(), true)
