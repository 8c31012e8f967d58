-- tests/lua/test_constants.lua -- the facts C exports when the module opens
-- (src/lua/constants.c): argent.core.node (src/sql/node.h's slots and flag
-- values, which sql.lua, schema.lua and migrate/ use instead of retyping
-- them), argent.core.type_names (the one list of argent's types),
-- argent.core.version (argent.h's), and the dialects' features as
-- engine.features and conn.features.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local core = require "argent.core"

TestNode = {}

function TestNode:test_select_slots_in_node_order()
    local S = core.node.SEL
    lu.assertEquals({S.columns, S.from, S.where, S.group_by, S.having, S.order_by, S.limit, S.offset, S.count},
                    {0, 1, 2, 3, 4, 5, 6, 7, 8})
end

function TestNode:test_statement_slots_match_the_nodes_built()
    local t = argent.Table("const_t", argent.MetaData(), argent.Column("id", argent.Integer, {primary_key = true}))
    local U, D = core.node.UPD, core.node.DEL
    local upd = argent.update(t):values{id = 2}:where(t.c.id:eq(1)):returning(t.c.id)
    lu.assertEquals(core.sql.tag(core.sql.kid(upd, U.table)), "TABLE")
    lu.assertEquals(core.sql.tag(core.sql.kid(upd, U.where)), "BINARY")
    lu.assertEquals(core.sql.tag(core.sql.kid(upd, U.returning)), "LIST")
    local del = argent.delete(t):where(t.c.id:eq(1))
    lu.assertEquals(core.sql.tag(core.sql.kid(del, D.where)), "BINARY")
    lu.assertIsNil(core.sql.kid(del, D.returning))
    local q = argent.select(t.c.id):union(argent.select(t.c.id)):limit(3)
    lu.assertEquals(core.sql.tag(core.sql.kid(q, core.node.COMPOUND.selects)), "LIST")
    lu.assertNotIsNil(core.sql.kid(q, core.node.COMPOUND.limit))
end

function TestNode:test_flags_are_distinct_bits()
    local N = core.node
    lu.assertEquals(N.COL_PRIMARY_KEY + N.COL_NOT_NULL + N.COL_AUTOINCREMENT + N.COL_UNIQUE, 15)
    lu.assertEquals(N.DDL_IF_NOT_EXISTS + N.DDL_IF_EXISTS + N.DDL_UNIQUE, 7)
    lu.assertEquals(N.FK_ACTIONS["NO ACTION"], 5)
    lu.assertEquals(N.ALTER.rename_table, 4)
end

TestTypeNames = {}

function TestTypeNames:test_every_name_is_a_type_of_argent()
    lu.assertEquals(#core.type_names, 15)
    for _, name in ipairs(core.type_names) do
        lu.assertTrue(argent.types.is_type(argent[name]), name)
        lu.assertEquals(argent[name].__type, name)
    end
end

function TestTypeNames:test_orm_kinds_cover_every_type()
    for _, name in ipairs(core.type_names) do lu.assertNotIsNil(core.orm.kinds[name], name) end
end

TestVersion = {}

function TestVersion:test_one_version()
    lu.assertStrMatches(core.version, "%d+%.%d+%.%d+")
    lu.assertEquals(argent.version, core.version)
    lu.assertEquals(argent._VERSION, "argent " .. core.version)
end

TestFeatures = {}

function TestFeatures:setUp() self.engine = helper.engine() end
function TestFeatures:tearDown() self.engine:dispose() end

function TestFeatures:test_engine_and_connection_agree()
    local conn = self.engine:connect()
    lu.assertIs(conn.features, self.engine.features)
    lu.assertIs(self.engine.features, core.features[self.engine.dialect])
    conn:close()
    lu.assertIs(conn.features, self.engine.features) -- a field of the engine: still there
end

function TestFeatures:test_the_dialects_bits()
    local f = self.engine.features
    lu.assertTrue(f.returning)
    lu.assertEquals(f.native_enum, helper.is_pg())
    lu.assertEquals(f.update_returning, not helper.is_mariadb())
    lu.assertEquals(f.ilike, helper.is_pg())
    lu.assertEquals(f.on_duplicate_key, helper.is_mariadb())
    lu.assertEquals(f.comments, helper.is_pg())
end

function TestFeatures:test_every_dialect_has_the_same_keys()
    local keys = {}
    for k in pairs(core.features.sqlite) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, d in ipairs {"postgresql", "mariadb"} do
        local other = {}
        for k, v in pairs(core.features[d]) do
            other[#other + 1] = k
            lu.assertIsBoolean(v)
        end
        table.sort(other)
        lu.assertEquals(other, keys)
    end
end

os.exit(helper.run(), true)
