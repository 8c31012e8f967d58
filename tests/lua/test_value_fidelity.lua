-- tests/lua/test_value_fidelity.lua -- a value is stored exactly, or refused
-- with a DataError: never stored as something else (API.md section 1;
-- src/lua/expression.c ag_lua_convert_in, src/lua/result.c, src/lua/json.c,
-- src/driver/postgres.c, src/base/datetime.c, src/base/utf8.c).
--
-- Each case runs in Core (argent.insert / argent.select, and raw SQL where
-- the database decides) and through the ORM (a model, a Session, a flush
-- and a fresh read), on every database of the run:
--   * String/Text values with a zero byte or invalid UTF-8: DataError on
--     every dialect (PostgreSQL cannot store them as text, MariaDB refuses
--     invalid UTF-8, SQLite would keep bytes its functions misread);
--     LargeBinary keeps every byte.  Raw SQL: the database decides, and
--     PostgreSQL never stores the hex text of a bytea instead.
--   * DateTime: a UTC offset is a DataError (a wall-clock column cannot
--     hold it); DateTime{timezone = true}: an offset is required, the
--     instant is stored and read back as the same UTC text everywhere.
--   * JSON: [] stays [] through a read-modify-write, argent.empty_array
--     writes [], argent.json_null writes JSON null (not SQL NULL).

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Table, Integer = argent.Column, argent.Table, argent.Integer

local NAMES = {"t_fid_values", "t_fid_models"}

local function kind_of(err)
    return helper.field(err, "kind")
end

TestValueFidelity = {}

function TestValueFidelity:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        helper.drop_tables(conn, NAMES)
    end
    self.meta = argent.MetaData()
    self.t = Table("t_fid_values", self.meta,
        Column("id", Integer, {primary_key = true, autoincrement = false}),
        Column("s", argent.String(40)),
        Column("txt", argent.Text),
        Column("bin", argent.LargeBinary),
        Column("ts", argent.DateTime),
        Column("tstz", argent.DateTime{timezone = true}),
        Column("doc", argent.JSON))
    self.Base = argent.declarative_base()
    self.Item = self.Base:model("FidItem", {
        __tablename = "t_fid_models",
        id = Column(Integer, {primary_key = true}),
        name = Column(argent.String(40)),
        body = Column(argent.Text),
        data = Column(argent.LargeBinary),
        at = Column(argent.DateTime),
        at_tz = Column(argent.DateTime{timezone = true}),
        doc = Column(argent.JSON),
    })
    self.meta:create_all(self.engine)
    self.Base.metadata:create_all(self.engine)
    self.conn = self.engine:connect()
    self.Session = argent.sessionmaker(self.engine)
    self.next_id = 0
end

function TestValueFidelity:tearDown()
    if self.conn then self.conn:close() end
    self.conn = nil
    if self.Base then pcall(self.Base.metadata.drop_all, self.Base.metadata, self.engine) end
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine, self.meta, self.t, self.Base, self.Item = nil, nil, nil, nil, nil
end

-- Core: inserts {id = n, [col] = v} and reads col back.
function TestValueFidelity:store(col, v)
    self.next_id = self.next_id + 1
    local id = self.next_id
    self.conn:execute(argent.insert(self.t):values{id = id, [col] = v})
    return self.conn:execute(argent.select(self.t.c[col]):where(self.t.c.id:eq(id))):one()[col]
end

function TestValueFidelity:count()
    return self.conn:execute("SELECT count(*) FROM t_fid_values"):scalar()
end

-- ORM: adds an item with attrs, commits, and returns the attribute read
-- back by a new session.
function TestValueFidelity:orm_store(attr, v)
    local id
    do
        local s <close> = self.Session()
        local item = self.Item{[attr] = v}
        s:add(item)
        s:commit()
        id = item.id
    end
    local s <close> = self.Session()
    return s:get(self.Item, id)[attr]
end

-- The flush of an item with attr = v fails with kind; nothing is stored.
function TestValueFidelity:orm_refused(kind, attr, v)
    local before = self.conn:execute("SELECT count(*) FROM t_fid_models"):scalar()
    local s <close> = self.Session()
    s:add(self.Item{[attr] = v})
    local err = helper.raised(s.commit, s)
    lu.assertEquals(kind_of(err), kind, tostring(err))
    s:rollback()
    lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_fid_models"):scalar(), before)
    return err
end

-- ---- text

function TestValueFidelity:test_text_with_a_zero_byte_is_a_data_error_in_core()
    local err = helper.assert_error("DataError", "zero byte", self.store, self, "txt", "a\0b")
    lu.assertNotNil(tostring(err):find("zero byte", 1, true))
    helper.assert_error("DataError", "zero byte", self.store, self, "s", "\0")
    helper.assert_error("DataError", "zero byte", self.conn.executemany, self.conn, argent.insert(self.t),
                        {{id = 50, s = "fine"}, {id = 51, s = "not\0fine"}})
    lu.assertEquals(self:count(), 0)
    -- in a WHERE as well: no dialect would compare it as written
    helper.assert_error("DataError", "zero byte", function()
        return self.conn:execute(argent.select(self.t.c.id):where(self.t.c.s:eq("a\0b"))):all()
    end)
end

function TestValueFidelity:test_text_with_invalid_utf8_is_a_data_error_in_core()
    helper.assert_error("DataError", "UTF-8", self.store, self, "txt", "caf\xe9")
    helper.assert_error("DataError", "UTF-8", self.store, self, "s", "\xff\xfe")
    helper.assert_error("DataError", "UTF-8", self.store, self, "s", "\xed\xa0\x80") -- a surrogate
    lu.assertEquals(self:count(), 0)
    lu.assertEquals(self:store("txt", "héllo ✓ 日本 🎉"), "héllo ✓ 日本 🎉")
end

function TestValueFidelity:test_binary_keeps_every_byte_in_core()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local bytes = table.concat(all) .. "\0\0a\0b"
    lu.assertEquals(self:store("bin", bytes), bytes)
end

function TestValueFidelity:test_text_with_a_zero_byte_or_invalid_utf8_in_the_orm()
    self:orm_refused("DataError", "body", "a\0b")
    self:orm_refused("DataError", "name", "caf\xe9")
    lu.assertEquals(self:orm_store("data", "a\0b\xff"), "a\0b\xff")
    lu.assertEquals(self:orm_store("body", "plain ✓"), "plain ✓")
end

-- Raw SQL has no column types: the database decides, and nothing is ever
-- stored as something else.  PostgreSQL: DataError for text (its text
-- cannot hold either), bytea takes the bytes; MariaDB keeps a zero byte and
-- refuses invalid UTF-8; SQLite keeps the bytes as they are.
function TestValueFidelity:test_raw_sql_stores_text_exactly_or_raises_data_error()
    local insert_txt = "INSERT INTO t_fid_values (id, txt) VALUES (?, ?)"
    local function read(id)
        return self.conn:execute("SELECT txt FROM t_fid_values WHERE id = ?", {id}):scalar()
    end
    local ok, err = pcall(self.conn.execute, self.conn, insert_txt, {1, "a\0b"})
    if helper.is_pg() then
        lu.assertFalse(ok)
        lu.assertEquals(kind_of(err), "DataError", tostring(err))
    else
        lu.assertTrue(ok, tostring(err))
        lu.assertEquals(read(1), "a\0b")
    end
    ok, err = pcall(self.conn.execute, self.conn, insert_txt, {2, "caf\xe9"})
    if helper.is_sqlite() then
        lu.assertTrue(ok, tostring(err))
        lu.assertEquals(read(2), "caf\xe9")
    else
        lu.assertFalse(ok)
        lu.assertEquals(kind_of(err), "DataError", tostring(err))
    end
    -- never the hex text of a bytea
    for row in self.conn:execute("SELECT txt FROM t_fid_values"):rows() do
        lu.assertNil(row.txt:find("\\x", 1, true), row.txt)
    end
    -- a binary column takes a Lua string with any bytes through raw SQL
    self.conn:execute("INSERT INTO t_fid_values (id, bin) VALUES (?, ?)", {3, "a\0b\xff"})
    lu.assertEquals(self.conn:execute("SELECT bin FROM t_fid_values WHERE id = 3"):scalar(), "a\0b\xff")
end

-- A failed statement inside a transaction leaves the transaction's data as it was.
function TestValueFidelity:test_refused_text_inside_a_transaction_changes_nothing()
    local tx = self.conn:begin()
    self.conn:execute(argent.insert(self.t):values{id = 1, s = "kept"})
    helper.assert_error("DataError", nil, function()
        self.conn:execute(argent.insert(self.t):values{id = 2, s = "\0"})
    end)
    helper.assert_error("DataError", nil, self.conn.execute, self.conn, argent.insert(self.t), {id = 3, s = "\xff"})
    lu.assertEquals(self:count(), 1)
    tx:rollback()
    lu.assertEquals(self:count(), 0)
end

-- ---- DateTime

function TestValueFidelity:test_datetime_without_time_zone_refuses_an_offset()
    for _, v in ipairs {"2026-11-24 02:26:03+05:00", "2026-11-24T02:26:03Z", "2026-11-24 02:26:03-0800",
                        "2026-11-24 02:26:03.5+01"} do
        helper.assert_error("DataError", "offset", self.store, self, "ts", v)
    end
    lu.assertEquals(self:count(), 0)
    lu.assertEquals(self:store("ts", "2026-11-24 02:26:03"), "2026-11-24 02:26:03")
    lu.assertEquals(self:store("ts", "2026-11-24T02:26:03.250"), "2026-11-24 02:26:03.25")
    self:orm_refused("DataError", "at", "2026-11-24 02:26:03+05:00")
    lu.assertEquals(self:orm_store("at", "2026-11-24 02:26:03"), "2026-11-24 02:26:03")
end

-- Raw SQL: PostgreSQL would drop the offset of a timestamp parameter (a
-- different instant) and MariaDB refuses it: both are a DataError.  SQLite
-- has no timestamp type and keeps the text as written.
function TestValueFidelity:test_raw_sql_offset_into_a_timestamp_column()
    local ok, err = pcall(self.conn.execute, self.conn, "INSERT INTO t_fid_values (id, ts) VALUES (?, ?)",
                          {1, "2026-11-24 02:26:03+05:00"})
    if helper.is_sqlite() then
        lu.assertTrue(ok, tostring(err))
        lu.assertEquals(self.conn:execute("SELECT ts FROM t_fid_values"):scalar(), "2026-11-24 02:26:03+05:00")
    else
        lu.assertFalse(ok)
        lu.assertEquals(kind_of(err), "DataError", tostring(err))
        lu.assertEquals(self:count(), 0)
    end
end

function TestValueFidelity:test_datetime_with_time_zone_keeps_the_instant_as_utc_text()
    local cases = {
        {"2026-11-24 02:26:03+05:00", "2026-11-23 21:26:03+00:00"},
        {"2026-11-24T02:26:03Z", "2026-11-24 02:26:03+00:00"},
        {"2026-11-24 02:26:03.25-03:30", "2026-11-24 05:56:03.25+00:00"},
        {"2026-12-31 23:30:00-01:00", "2027-01-01 00:30:00+00:00"},
        {"2026-11-24 02:26:03+00:00", "2026-11-24 02:26:03+00:00"},
    }
    for _, c in ipairs(cases) do lu.assertEquals(self:store("tstz", c[1]), c[2], c[1]) end
    for _, c in ipairs(cases) do lu.assertEquals(self:orm_store("at_tz", c[1]), c[2], c[1]) end
    -- the same instant written with two offsets is one value: WHERE and ORDER BY agree
    self.conn:execute(argent.insert(self.t):values{id = 100, tstz = "2026-11-24 12:00:00+02:00"})
    local n = self.conn:execute(argent.select(argent.func.count(self.t.c.id):label("n"))
        :where(self.t.c.tstz:eq("2026-11-24T10:00:00Z"))):scalar()
    lu.assertEquals(n, 1)
    local first = self.conn:execute(argent.select(self.t.c.tstz):where(self.t.c.tstz:is_not_null())
        :order_by(self.t.c.tstz):limit(1)):scalar()
    lu.assertEquals(first, "2026-11-23 21:26:03+00:00")
end

function TestValueFidelity:test_datetime_with_time_zone_needs_an_offset()
    helper.assert_error("DataError", "offset", self.store, self, "tstz", "2026-11-24 02:26:03")
    helper.assert_error("DataError", "offset", self.store, self, "tstz", "2026-11-24")
    lu.assertEquals(self:count(), 0)
    self:orm_refused("DataError", "at_tz", "2026-11-24 02:26:03")
end

-- PostgreSQL: timestamptz; MariaDB: DATETIME(6) holding UTC; SQLite: text.
function TestValueFidelity:test_datetime_with_time_zone_column_types()
    if helper.is_pg() then
        local got = self.conn:execute("SELECT data_type FROM information_schema.columns "
            .. "WHERE table_name = 't_fid_values' AND column_name = 'tstz'"):scalar()
        lu.assertEquals(got, "timestamp with time zone")
        -- reflected back as what the model says
        local cols = {}
        for _, c in ipairs(argent.inspect(self.engine):get_columns("t_fid_values")) do cols[c.name] = c.type end
        lu.assertTrue(cols.tstz.timezone)
        lu.assertEquals(cols.tstz.__type, "DateTime")
        lu.assertNil(cols.ts.timezone)
    end
    if helper.is_mariadb() then
        self:store("tstz", "2026-11-24 02:26:03+05:00")
        lu.assertEquals(self.conn:execute("SELECT tstz FROM t_fid_values"):scalar(), "2026-11-23 21:26:03")
    end
    lu.assertEquals(tostring(argent.DateTime{timezone = true}), "DateTime(timezone=true)")
    lu.assertEquals(tostring(argent.DateTime), "DateTime")
    lu.assertEquals(tostring(argent.DateTime()), "DateTime")
    helper.assert_error("ArgumentError", "zone", argent.DateTime, {zone = true})
    helper.assert_error("ArgumentError", "table", argent.DateTime, true)
end

-- ---- JSON

function TestValueFidelity:test_json_empty_array_survives_a_read_modify_write_in_core()
    local got = self:store("doc", {tags = argent.empty_array, n = 1})
    lu.assertEquals(got.tags, {})
    lu.assertIs(getmetatable(got.tags), argent.json_array_mt)
    -- written back as read: still []
    self.conn:execute(argent.update(self.t):where(self.t.c.id:eq(self.next_id)):values{doc = got})
    local raw = self.conn:execute("SELECT doc FROM t_fid_values WHERE id = ?", {self.next_id}):scalar()
    lu.assertNotNil(raw:find('"tags":%s*%[%]'), raw)
    -- an array emptied by the program stays an array
    local list = self:store("doc", {1, 2})
    table.remove(list, 2)
    table.remove(list, 1)
    lu.assertEquals(argent.json_encode(list), "[]")
    -- a plain empty table is an object
    lu.assertEquals(argent.json_encode({}), "{}")
    lu.assertEquals(argent.json_encode(setmetatable({}, argent.json_array_mt)), "[]")
    lu.assertEquals(argent.json_encode(argent.empty_array), "[]")
    lu.assertEquals(argent.json_encode({a = argent.empty_array}):gsub("%s", ""), '{"a":[]}')
    local top = self:store("doc", argent.empty_array)
    lu.assertEquals(top, {})
    lu.assertIs(getmetatable(top), argent.json_array_mt)
    helper.assert_error("ArgumentError", "json_array_mt", argent.json_encode,
                        setmetatable({1, x = 2}, argent.json_array_mt))
end

function TestValueFidelity:test_json_null_is_not_sql_null_in_core()
    self.next_id = self.next_id + 1
    local id = self.next_id
    self.next_id = id + 1
    self.conn:execute(argent.insert(self.t):values{id = id, doc = argent.json_null})
    local row = self.conn:execute(argent.select(self.t.c.doc):where(self.t.c.doc:is_not_null())):one()
    lu.assertIs(row.doc, argent.json_null)
    self.conn:execute(argent.insert(self.t):values{id = id + 1, doc = argent.null})
    lu.assertEquals(self.conn:execute("SELECT count(*) FROM t_fid_values WHERE doc IS NULL"):scalar(), 1)
    -- inside a document: null either way
    local got = self:store("doc", {1, argent.json_null, argent.null, 4})
    lu.assertEquals(#got, 4)
    lu.assertIs(got[2], argent.null)
    lu.assertIs(got[3], argent.null)
    lu.assertEquals(argent.json_encode(argent.json_null), "null")
    lu.assertIs(argent.json_decode("null"), argent.json_null)
    lu.assertEquals(tostring(argent.json_null), "argent.json_null")
    lu.assertEquals(tostring(argent.empty_array), "argent.empty_array")
    -- neither is a plain SQL value
    helper.assert_error("ArgumentError", nil, self.conn.execute, self.conn, "SELECT ?", {argent.json_null})
end

function TestValueFidelity:test_json_round_trips_in_the_orm()
    lu.assertIs(self:orm_store("doc", argent.json_null), argent.json_null)
    local got = self:orm_store("doc", {list = argent.empty_array, nested = {{}, argent.empty_array}})
    lu.assertEquals(got.list, {})
    lu.assertIs(getmetatable(got.list), argent.json_array_mt)
    lu.assertEquals(argent.json_encode(got.nested), "[{},[]]")
    -- read, change, write back: the empty array stays one
    local id
    do
        local s <close> = self.Session()
        local item = self.Item{doc = {tags = argent.empty_array, name = "x"}}
        s:add(item)
        s:commit()
        id = item.id
    end
    do
        local s <close> = self.Session()
        local item = s:get(self.Item, id)
        local doc = item.doc
        item.doc = {tags = doc.tags, name = "y"} -- a new table: the change is seen
        s:commit()
    end
    local raw = self.conn:execute("SELECT doc FROM t_fid_models WHERE id = ?", {id}):scalar()
    lu.assertNotNil(raw:find('"tags":%s*%[%]'), raw)
    lu.assertNotNil(raw:find('"y"', 1, true), raw)
    self:orm_refused("DataError", "doc", {bad = "caf\xe9"})
end

-- ---- Float and Double

-- MariaDB's FLOAT is single precision (documented, as SQLAlchemy does):
-- Double keeps a double on every dialect.
function TestValueFidelity:test_double_keeps_a_double_and_mariadb_float_is_single_precision()
    local meta = argent.MetaData()
    local t = Table("t_fid_floats", meta, Column("id", Integer, {primary_key = true}),
                    Column("f", argent.Float), Column("d", argent.Double))
    meta:create_all(self.engine)
    local ok, err = pcall(function()
        self.conn:execute(argent.insert(t):values{id = 1, f = 0.123456789, d = 0.123456789})
        local row = self.conn:execute(argent.select(t.c.f, t.c.d)):one()
        lu.assertEquals(row.d, 0.123456789)
        if helper.is_mariadb() then
            lu.assertNotEquals(row.f, 0.123456789)
            lu.assertAlmostEquals(row.f, 0.123456789, 1e-7)
        else
            lu.assertEquals(row.f, 0.123456789)
        end
    end)
    meta:drop_all(self.engine)
    if not ok then error(err, 0) end
end

os.exit(helper.run(), true)
