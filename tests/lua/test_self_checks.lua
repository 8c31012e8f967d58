-- tests/lua/test_self_checks.lua -- every public method called with a wrong
-- `self` raises an ArgumentError object that names `self` (the brief's
-- ground rule: "every public function checks its arguments and raises an
-- ArgumentError object that names the argument, self included").
--
-- Covers the methods of the C types (src/lua/*.c: ag_lua_check_self) and of
-- the Lua classes (init.lua, schema.lua, inspect.lua, sql.lua and the ORM's
-- orm/mapper.lua, orm/session.lua, orm/query.lua, orm/collections.lua),
-- each called as `obj.method(wrong, ...)` with
-- nil, a number, a string, a plain table and an argent object of another
-- type, on every database of the run.  Also the two calls that escaped
-- without a kind: CheckConstraint(x, 0) and sessionmaker(argent.null), and
-- comparing a URL with another userdata (false, not an error).

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local NAMES = {"t_self_items", "t_self_owners"}

TestSelfChecks = {}

function TestSelfChecks:setUp()
    self.engine = helper.engine()
    do
        local conn <close> = self.engine:connect()
        helper.drop_tables(conn, NAMES)
    end
    self.meta = argent.MetaData()
    self.t = argent.Table("t_self_items", self.meta,
        argent.Column("id", argent.Integer, {primary_key = true}),
        argent.Column("name", argent.String(20)))
    self.meta:create_all(self.engine)
    self.Base = argent.declarative_base()
    self.Owner = self.Base:model("SelfOwner", {
        __tablename = "t_self_owners",
        id = argent.Column(argent.Integer, {primary_key = true}),
        items = argent.relationship("SelfItem", {back_populates = "owner"}),
    })
    self.Item = self.Base:model("SelfItem", {
        __tablename = "t_self_items_orm",
        id = argent.Column(argent.Integer, {primary_key = true}),
        owner_id = argent.Column(argent.Integer, {foreign_key = "t_self_owners.id"}),
        owner = argent.relationship("SelfOwner", {back_populates = "items"}),
    })
end

function TestSelfChecks:tearDown()
    collectgarbage()
    helper.cleanup_meta(self.engine, self.meta, NAMES)
    self.engine = nil
end

-- The wrong selves for obj (another argent object is the engine, or the
-- connection when obj is the engine).
local function wrong_selves(obj, engine, conn)
    local other = rawequal(obj, engine) and conn or engine
    return {{"nil", nil}, {"a number", 42}, {"a string", "x"}, {"a table", {}}, {"another argent object", other}}
end

-- Calls obj[method](wrong, ...) for each wrong self; each must raise an
-- ArgumentError whose message names `self`.
local function check_methods(label, obj, methods, engine, conn)
    for _, m in ipairs(methods) do
        local f = obj[m]
        lu.assertEquals(type(f), "function", label .. "." .. m .. " is a function")
        for _, w in ipairs(wrong_selves(obj, engine, conn)) do
            local ok, err = pcall(f, w[2], 1, 2)
            local what = ("%s.%s with %s as self"):format(label, m, w[1])
            lu.assertFalse(ok, what .. " must fail")
            lu.assertEquals(helper.field(err, "kind"), "ArgumentError", what .. ": " .. tostring(err))
            local message = helper.field(err, "message")
            lu.assertNotNil(tostring(message):find("'self'", 1, true), what .. ": " .. tostring(message))
        end
    end
end

function TestSelfChecks:test_core_objects()
    local engine = self.engine
    local conn <close> = engine:connect()
    local res = conn:execute("SELECT 1 AS one")
    local tx = conn:begin()
    check_methods("Engine", engine, {"connect", "dispose", "begin"}, engine, conn)
    check_methods("Connection", conn, {"execute", "exec_driver_sql", "executemany", "begin", "begin_nested",
                                       "close"}, engine, conn)
    check_methods("Result", res, {"rows", "tuples", "all", "first", "one", "one_or_none", "scalar", "scalars",
                                  "columns", "close"}, engine, conn)
    check_methods("Transaction", tx, {"commit", "rollback", "close"}, engine, conn)
    check_methods("URL", engine.url, {"render_as_string"}, engine, conn)
    check_methods("Pool", engine.pool, {"status", "dispose"}, engine, conn)
    tx:rollback()
    res:close()
    -- the documented spelling still works
    pcall(conn.execute, nil, "SELECT 1")
    lu.assertEquals(conn:execute("SELECT 1 AS one"):scalar(), 1)
end

function TestSelfChecks:test_schema_and_statements()
    local engine = self.engine
    local conn <close> = engine:connect()
    check_methods("MetaData", self.meta, {"sorted_tables", "create_all", "drop_all", "reflect", "clear"}, engine, conn)
    check_methods("Table", self.t, {"create_statement", "drop_statement", "comment_statements", "index_statements"},
                  engine, conn)
    check_methods("Inspector", argent.inspect(engine), {"get_table_names", "get_columns", "get_indexes",
                                                        "get_foreign_keys", "get_pk_constraint"}, engine, conn)
    local t = self.t
    check_methods("Select", argent.select(t.c.id), {"where", "filter_by", "having", "order_by", "group_by",
                                                    "limit", "offset", "distinct", "with_for_update", "join",
                                                    "outerjoin", "subquery", "scalar_subquery", "exists", "union",
                                                    "compile"}, engine, conn)
    check_methods("Insert", argent.insert(t), {"values", "returning", "on_conflict_do_nothing",
                                               "on_conflict_do_update", "compile"}, engine, conn)
    check_methods("Update", argent.update(t), {"values", "where", "returning", "compile"}, engine, conn)
    check_methods("Delete", argent.delete(t), {"where", "returning", "compile"}, engine, conn)
    check_methods("Column", t.c.id, {"eq", "ne", "lt", "like", "in_", "is_null", "between", "asc", "label",
                                     "cast"}, engine, conn)
end

function TestSelfChecks:test_orm_objects()
    local engine = self.engine
    local conn <close> = engine:connect()
    local Session = argent.sessionmaker(engine)
    local s <close> = Session()
    check_methods("Base", self.Base, {"model", "configure"}, engine, conn)
    check_methods("sessionmaker", Session, {"begin"}, engine, conn)
    check_methods("Session", s, {"add", "add_all", "delete", "flush", "commit", "rollback", "close", "get", "query",
                                 "scalars", "execute", "refresh", "expire", "expire_all", "expunge", "merge",
                                 "begin", "begin_nested"}, engine, conn)
    check_methods("Query", s:query(self.Owner), {"where", "filter", "filter_by", "order_by", "limit", "offset",
                                                 "join", "options", "all", "first", "one", "one_or_none",
                                                 "count", "each"}, engine, conn)
    local owner = self.Owner{}
    check_methods("collection", owner.items, {"append", "remove"}, engine, conn)
end

-- Calls that raised plain Lua errors (no kind) before.
function TestSelfChecks:test_calls_that_escaped_without_a_kind()
    helper.assert_error("ArgumentError", "options", argent.CheckConstraint, "x > 0", 0)
    helper.assert_error("ArgumentError", "name", argent.CheckConstraint, "x > 0", {name = 5})
    helper.assert_error("ArgumentError", "engine", argent.sessionmaker, argent.null)
    helper.assert_error("ArgumentError", "engine", argent.sessionmaker, argent.json_null)
    helper.assert_error("ArgumentError", "engine", argent.sessionmaker, {})
    -- a URL compared with another userdata is simply not equal
    lu.assertFalse(self.engine.url == self.engine)
    lu.assertFalse(self.engine.url == argent.null)
    lu.assertTrue(self.engine.url == argent.make_url(helper.url()))
end

os.exit(helper.run(), true)
