-- tests/lua/test_values.lua -- values crossing between Lua and the database,
-- API.md section 1 (binding in src/lua/execute.c, conversions both ways in src/lua/convert.c).
--
-- Every value goes out as a bound parameter and must come back exactly: once
-- through `SELECT ? AS v` and once through a typed column.  Integers stay
-- integers, floats stay floats, strings are byte-exact (quotes, placeholder
-- look-alikes, UTF-8, zero bytes, 100 kB), NULL is nil, booleans, dates and
-- times read back as the same ISO text on every database.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local pg = helper.is_pg()
local my = helper.is_mariadb()

local TABLES = {
    {"t_val_items", "CREATE TABLE t_val_items (id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, "
        .. "s " .. (my and "LONGTEXT" or "TEXT") .. ", b " .. helper.types.blob .. ", flag BOOLEAN, d DATE, "
        .. "ts " .. (my and "DATETIME(6)" or "TIMESTAMP") .. ", tm " .. (my and "TIME(6)" or "TIME")
        .. ((pg or my) and ", num NUMERIC(10,2), short VARCHAR(5)" or "") .. ")"},
}

local INTEGERS = {0, 1, -1, 42, 2147483647, 2147483648, -2147483649, math.maxinteger, math.mininteger}
local FLOATS = {0.5, -2.25, 0.1, 1e300, -1e-300, 3.0, 123456.789}
local STRINGS = {
    "",
    "plain",
    "it's \"quoted\" 'twice''",
    "what? where?",
    ":name and :other",
    "$1 $2 $$dollar$$",
    "line one\nline two\r\nline three\ttab",
    "héllo wörld ✓ 日本",
    "-- not a comment /* nor this */",
    "back\\slash",
}

TestValues = {}

function TestValues:setUp()
    self.engine = helper.engine()
    helper.create_tables(self.engine, TABLES)
    self.conn = self.engine:connect()
    self.next_id = 0
end

function TestValues:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup(self.engine, TABLES)
    self.engine = nil
end

-- The value v through `SELECT ? AS v`.
function TestValues:select_param(v)
    return self.conn:execute("SELECT ? AS v", {v}):scalar()
end

-- The value v stored in column col of a new row and read back.
function TestValues:store(col, v)
    self.next_id = self.next_id + 1
    local id = self.next_id
    self.conn:execute("INSERT INTO t_val_items (id, " .. col .. ") VALUES (?, ?)", {id, v})
    local row = self.conn:execute("SELECT " .. col .. " AS v FROM t_val_items WHERE id = ?", {id}):one()
    return row.v
end

local function show(v)
    if type(v) == "string" and #v > 60 then return ("<string of %d bytes>"):format(#v) end
    return ("%q"):format(v)
end

-- integers

-- SQLAlchemy users get an int back from `SELECT :v` with an int (psycopg binds it typed).
function TestValues:test_integers_through_select_stay_integers()
    for _, v in ipairs(INTEGERS) do
        local got = self:select_param(v)
        -- (5.1 and LuaJIT: the 64-bit bounds are decimal strings, both ways)
        if helper.has_integers then lu.assertEquals(math.type(got), "integer", "value " .. v) end
        lu.assertEquals(got, v)
    end
end

function TestValues:test_integers_through_bigint_column_stay_integers()
    for _, v in ipairs(INTEGERS) do
        local got = self:store("i", v)
        -- (5.1 and LuaJIT: the 64-bit bounds are decimal strings, both ways)
        if helper.has_integers then lu.assertEquals(math.type(got), "integer", "value " .. v) end
        lu.assertEquals(got, v)
    end
end

function TestValues:test_integer_literal_is_integer()
    local got = self.conn:execute("SELECT 7 AS v"):scalar()
    lu.assertEquals(math.type(got), "integer")
    lu.assertEquals(got, 7)
end

-- floats

function TestValues:test_floats_through_select_stay_floats()
    helper.needs_integer_subtypes()
    for _, v in ipairs(FLOATS) do
        local got = self:select_param(v)
        lu.assertEquals(math.type(got), "float", "value " .. v)
        lu.assertEquals(got, v)
    end
end

function TestValues:test_floats_through_double_column_stay_floats()
    helper.needs_integer_subtypes()
    for _, v in ipairs(FLOATS) do
        local got = self:store("f", v)
        lu.assertEquals(math.type(got), "float", "value " .. v)
        lu.assertEquals(got, v)
    end
end

function TestValues:test_integer_in_double_column_reads_back_as_float()
    helper.needs_integer_subtypes()
    local got = self:store("f", 3)
    lu.assertEquals(math.type(got), "float")
    lu.assertEquals(got, 3.0)
end

-- strings

function TestValues:test_strings_through_select_round_trip()
    for _, v in ipairs(STRINGS) do
        lu.assertEquals(self:select_param(v), v, show(v))
    end
end

function TestValues:test_strings_through_text_column_round_trip()
    for _, v in ipairs(STRINGS) do
        lu.assertEquals(self:store("s", v), v, show(v))
    end
end

function TestValues:test_utf8_string_keeps_its_bytes()
    local v = "héllo wörld ✓ 日本"
    local got = self:store("s", v)
    lu.assertEquals(#got, #v)
    lu.assertEquals(got, v)
end

-- PostgreSQL's text cannot hold a zero byte (a bytea column can, below):
-- `SELECT $1` makes the parameter text, so it is a DataError there, never
-- the text of a bytea.
function TestValues:test_string_with_zero_byte_through_select()
    if pg then
        helper.assert_error("DataError", "zero byte", self.select_param, self, "a\0b")
        return
    end
    lu.assertEquals(self:select_param("a\0b"), "a\0b")
end

function TestValues:test_string_with_zero_byte_through_text_column_on_sqlite()
    lu.skipIf(pg, "PostgreSQL text cannot hold NUL")
    lu.assertEquals(self:store("s", "a\0b"), "a\0b")
end

function TestValues:test_100k_string_round_trips()
    local parts = {}
    for i = 1, 10240 do parts[i] = string.char(97 + i % 26) .. "bcdefghi\n" end
    local v = table.concat(parts)
    lu.assertEquals(#v, 102400)
    lu.assertEquals(self:select_param(v), v)
    lu.assertEquals(self:store("s", v), v)
end

-- binary

function TestValues:test_blob_keeps_zero_bytes()
    local v = "\0\1\2\255binary\0\0end\0"
    local got = self:store("b", v)
    lu.assertEquals(#got, #v)
    lu.assertEquals(got, v)
end

function TestValues:test_blob_keeps_every_byte_value()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local v = table.concat(bytes)
    lu.assertEquals(self:store("b", v), v)
end

-- NULL

function TestValues:test_null_literal_is_nil()
    local row = self.conn:execute("SELECT NULL AS v, 1 AS w"):one()
    lu.assertIsNil(row.v)
    lu.assertEquals(row.w, 1)
end

function TestValues:test_argent_null_param_comes_back_nil()
    lu.assertIsNil(self:select_param(argent.null))
end

function TestValues:test_null_in_every_column_is_nil()
    self.conn:execute("INSERT INTO t_val_items (id) VALUES (?)", {100})
    local row = self.conn:execute("SELECT * FROM t_val_items WHERE id = ?", {100}):one()
    lu.assertEquals(row.id, 100)
    for _, col in ipairs {"i", "f", "s", "b", "flag", "d", "ts", "tm"} do
        lu.assertIsNil(row[col], col)
    end
end

-- booleans

function TestValues:test_postgresql_true_literal_is_boolean()
    lu.skipIf(not pg, "PostgreSQL only")
    local row = self.conn:execute("SELECT true AS t, false AS f"):one()
    lu.assertIs(row.t, true)
    lu.assertIs(row.f, false)
end

function TestValues:test_postgresql_boolean_param_through_select()
    lu.skipIf(not pg, "PostgreSQL only")
    lu.assertIs(self:select_param(true), true)
    lu.assertIs(self:select_param(false), false)
end

function TestValues:test_boolean_column_gives_booleans()
    lu.assertIs(self:store("flag", true), true)
    lu.assertIs(self:store("flag", false), false)
    lu.assertIsNil(self:store("flag", argent.null))
end

function TestValues:test_boolean_param_in_where_clause()
    self:store("flag", true)
    self:store("flag", false)
    local n = self.conn:execute("SELECT count(*) AS c FROM t_val_items WHERE flag = ?", {true}):scalar()
    lu.assertEquals(n, 1)
end

-- dates and times: the same ISO-8601 text on every database

function TestValues:test_date_column_gives_back_the_same_text()
    lu.assertEquals(self:store("d", "2026-11-24"), "2026-11-24")
end

function TestValues:test_timestamp_column_gives_back_the_same_text()
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03"), "2026-11-24 02:26:03")
end

function TestValues:test_timestamp_with_fraction_keeps_it()
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03.123456"), "2026-11-24 02:26:03.123456")
end

function TestValues:test_time_column_gives_back_the_same_text()
    lu.assertEquals(self:store("tm", "02:26:03"), "02:26:03")
end

function TestValues:test_date_compares_with_text_param()
    self:store("d", "2026-11-24")
    self:store("d", "2025-01-01")
    local n = self.conn:execute("SELECT count(*) AS c FROM t_val_items WHERE d > ?", {"2026-01-01"}):scalar()
    lu.assertEquals(n, 1)
end

-- numeric

function TestValues:test_postgresql_numeric_is_exact_string()
    lu.skipIf(not (pg or my), "server databases only (PostgreSQL, MariaDB)")
    lu.assertEquals(self:store("num", "12.5"), "12.50")
end

function TestValues:test_postgresql_numeric_from_float_param()
    lu.skipIf(not (pg or my), "server databases only (PostgreSQL, MariaDB)")
    lu.assertEquals(self:store("num", 12.5), "12.50")
end

function TestValues:test_postgresql_numeric_literal_is_exact_string()
    lu.skipIf(not (pg or my), "server databases only (PostgreSQL, MariaDB)")
    local numeric = my and "DECIMAL" or "NUMERIC"  -- MariaDB's CAST knows only DECIMAL
    lu.assertEquals(self.conn:execute("SELECT CAST(12.5 AS " .. numeric .. "(10,2)) AS v"):scalar(), "12.50")
end

-- several types in one row

function TestValues:test_one_row_of_every_type_round_trips()
    self.conn:execute("INSERT INTO t_val_items (id, i, f, s, b, flag, d, ts, tm) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      {1, math.maxinteger, 2.5, "ünïcode", "\0bin", true, "2026-11-24",
                       "2026-11-24 02:26:03", "02:26:03"})
    local row = self.conn:execute("SELECT i, f, s, b, flag, d, ts, tm FROM t_val_items WHERE id = 1"):one()
    local want = {i = math.maxinteger, f = 2.5, s = "ünïcode", b = "\0bin", flag = true,
                  d = "2026-11-24", ts = "2026-11-24 02:26:03", tm = "02:26:03"}
    for col, v in pairs(want) do
        lu.assertEquals(row[col], v, col)
    end
end

os.exit(helper.run(), true)
