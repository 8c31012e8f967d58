-- tests/lua/test_integers.lua -- 64-bit integers on every Lua (API.md section 10).
--
-- On 5.3 and 5.4 a database integer is a Lua integer.  On 5.1 and LuaJIT,
-- whose numbers are doubles, an integer that a double holds exactly
-- (|n| <= 2^53) comes back as a number, a larger one as its exact decimal
-- string; a decimal string written to an integer column is stored exactly,
-- and a number beyond 2^53 (which a double may hold only rounded) is refused
-- for an integer column rather than stored rounded.  Through every database.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table = argent.Column, argent.Table

local NAMES = {"t_int_big"}

-- decimal texts at and around 2^53 and at the 64-bit bounds
local EXACT = {"9007199254740991", "9007199254740992", "-9007199254740992", "0", "-1", "4503599627370497"}
local BEYOND = {"9007199254740993", "-9007199254740993", "9007199254740995", "1152921504606846977",
                "9223372036854775807", "-9223372036854775808"}

TestIntegers = {}

function TestIntegers:setUp()
    self.engine = helper.engine()
    local conn = self.engine:connect()
    helper.drop_tables(conn, NAMES)
    conn:close()
    self.meta = argent.MetaData()
    self.t = Table("t_int_big", self.meta,
        Column("id", argent.Integer, {primary_key = true}),
        Column("bi", argent.BigInteger),
        Column("i", argent.Integer))
    self.meta:create_all(self.engine)
    self.conn = self.engine:connect()
    self.next_id = 0
end

function TestIntegers:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    helper.cleanup_meta(self.engine, self.meta, NAMES)
end

function TestIntegers:store(v)
    self.next_id = self.next_id + 1
    self.conn:execute(argent.insert(self.t):values{id = self.next_id, bi = v})
    return self.conn:execute(argent.select(self.t.c.bi):where(self.t.c.id:eq(self.next_id))):scalar()
end

-- What a database integer of decimal text s is on this Lua.
local function expected(s)
    if helper.has_integers then return math.tointeger(tonumber(s)) or (s:sub(1, 1) == "-" and math.mininteger) end
    local d = tonumber(s)
    if math.abs(d) <= 2 ^ 53 and ("%.0f"):format(d) == s then return d end -- held exactly
    return s
end

function TestIntegers:test_decimal_strings_are_stored_exactly()
    for _, s in ipairs(EXACT) do
        local got = self:store(s)
        lu.assertEquals(type(got), "number", s)
        lu.assertEquals(got, expected(s), s)
    end
    for _, s in ipairs(BEYOND) do
        local got = self:store(s)
        lu.assertEquals(got, expected(s), s)
        lu.assertEquals(type(got), helper.has_integers and "number" or "string", s)
    end
end

function TestIntegers:test_beyond_2_53_comes_back_as_exact_text_before_5_3()
    -- computed by the database, not written by Lua
    local got = self.conn:execute("SELECT CAST(9007199254740993 AS " .. (helper.is_mariadb() and "SIGNED" or "BIGINT")
        .. ") AS n"):scalar()
    if helper.has_integers then
        lu.assertEquals(got, 9007199254740993)
    else
        lu.assertEquals(got, "9007199254740993")
    end
    self:store("9223372036854775806")
    local sum = self.conn:execute(argent.select(self.t.c.bi):where(self.t.c.id:eq(self.next_id))):scalar()
    lu.assertEquals(tostring(sum), "9223372036854775806")
end

function TestIntegers:test_numbers_up_to_2_53_are_integers()
    for _, n in ipairs {2 ^ 53, -2 ^ 53, 2 ^ 53 - 1, 1e15, 0} do
        local got = self:store(n)
        lu.assertEquals(got, n)
        lu.assertEquals(type(got), "number")
    end
end

function TestIntegers:test_numbers_beyond_2_53_are_refused_before_5_3()
    lu.skipIf(helper.has_integers, "5.3+: a float beyond 2^53 is a float")
    for _, n in ipairs {2 ^ 53 + 2, -2 ^ 53 - 2, 2 ^ 60, 2 ^ 63} do
        helper.assert_error("ArgumentError", "decimal string", function() self:store(n) end)
    end
    lu.assertEquals(helper.count(self.conn, "t_int_big"), 0)
end

function TestIntegers:test_parameters_of_raw_sql()
    -- an untyped parameter is bound as what it is: the text converts in SQL
    local cast = helper.is_mariadb() and "SIGNED" or "BIGINT"
    local q = "SELECT CAST(? AS " .. cast .. ") AS n"
    for _, s in ipairs(BEYOND) do
        local got = self.conn:execute(q, {s}):scalar()
        lu.assertEquals(tostring(got), s)
        if not helper.has_integers then lu.assertEquals(got, s) end
    end
end

function TestIntegers:test_strings_that_are_not_integers_still_fail()
    helper.assert_error("ArgumentError", nil, function() self:store("12abc") end)
    helper.assert_error("ArgumentError", nil, function() self:store("1.5") end)
end

os.exit(helper.run(), true)
