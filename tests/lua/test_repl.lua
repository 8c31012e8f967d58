-- tests/lua/test_repl.lua -- the REPL's Lua half (lua/argent/repl/) and
-- argent.diagram, without a terminal: what a line is and when an input is
-- complete (input.lua), cells and writers (format.lua), values as text
-- (show.lua), a REPL fed lines on the database under test with its output
-- captured (init.lua, printer.lua, commands.lua, catalog.lua), completion
-- (complete.lua), and the argument checks of these modules.  The command
-- around them (src/cli/repl.c) is tested by tests/cli/test_repl*.sh.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local input = require "argent.repl.input"
local format = require "argent.repl.format"
local show = require "argent.repl.show"
local repl = require "argent.repl"
local diagram = require "argent.diagram"

-- ---------------------------------------------------------------- input

TestReplInput = {}

function TestReplInput:test_classify()
    lu.assertEquals(input.classify(".tables"), "dot")
    lu.assertEquals(input.classify("  .mode csv"), "dot")
    lu.assertEquals(input.classify("=1, 2"), "lua")
    lu.assertEquals(input.classify("1 + 1"), "lua")
    lu.assertEquals(input.classify("SELECT * FROM users"), "sql")
    lu.assertEquals(input.classify("select 1"), "sql")
    lu.assertEquals(input.classify("select(2, 'a', 'b')"), "lua") -- the Lua function
    lu.assertEquals(input.classify("COMMIT"), "sql")              -- no Lua global COMMIT
    lu.assertEquals(input.classify("begin"), "sql")
    lu.assertEquals(input.classify("values (1), (2)"), "sql")
    lu.assertEquals(input.classify("update = 5"), "lua")           -- an assignment
    lu.assertEquals(input.classify("WITH x AS (SELECT 1) SELECT * FROM x"), "sql")
    lu.assertEquals(input.classify("users = session"), "lua")
end

function TestReplInput:test_lua_status()
    lu.assertEquals((input.lua_status("1 + 1")), "ok")
    lu.assertEquals((input.lua_status("x = 1")), "ok")
    lu.assertEquals((input.lua_status("for i = 1, 3 do")), "more")
    lu.assertEquals((input.lua_status("1 +")), "more")
    lu.assertEquals((input.lua_status("{")), "more")
    lu.assertEquals((input.lua_status("x = = 1")), "error") -- "'<eof>' expected near '='" is no <eof>
    lu.assertEquals((input.lua_status("[[ long")), "more")
end

function TestReplInput:test_sql_statements()
    lu.assertEquals(input.sql_statements("SELECT 1"), {"SELECT 1"})
    lu.assertEquals(input.sql_statements("SELECT 1;"), {"SELECT 1"})
    lu.assertEquals(input.sql_statements("SELECT 1; SELECT 2"), {"SELECT 1", "SELECT 2"})
    lu.assertIsNil(input.sql_statements("SELECT a,"))
    lu.assertIsNil(input.sql_statements("SELECT * FROM t WHERE"))
    lu.assertIsNil(input.sql_statements("SELECT 'a;"))
    lu.assertIsNil(input.sql_statements("SELECT (1"))
    lu.assertIsNil(input.sql_statements("SELECT 1 /* open"))
    lu.assertIsNil(input.sql_statements("SELECT $$ x; $$ || 'y"))
    lu.assertEquals(input.sql_statements("SELECT 'a;b' AS s"), {"SELECT 'a;b' AS s"})
    lu.assertEquals(input.sql_statements("SELECT 1 -- a comment; not an end"), {"SELECT 1 -- a comment; not an end"})
    -- gone on to a second line: a ';' or an empty line ends it
    lu.assertIsNil(input.sql_statements("SELECT a,\n  b"))
    lu.assertEquals(input.sql_statements("SELECT a,\n  b;"), {"SELECT a,\n  b"})
    lu.assertEquals(input.sql_statements("SELECT a,\n  b\n"), {"SELECT a,\n  b"})
    lu.assertEquals(input.sql_statements(";"), {})
end

function TestReplInput:test_lacks_where()
    lu.assertTrue(input.lacks_where("UPDATE t SET v = 1"))
    lu.assertTrue(input.lacks_where("delete from t"))
    lu.assertTrue(input.lacks_where("UPDATE t SET v = (SELECT max(x) FROM u WHERE u.id = 1)"))
    lu.assertTrue(input.lacks_where("UPDATE t SET v = 'where'"))
    lu.assertFalse(input.lacks_where("UPDATE t SET v = 1 WHERE id = 2"))
    lu.assertFalse(input.lacks_where("DELETE FROM t where id = 2"))
    lu.assertFalse(input.lacks_where("SELECT * FROM t"))
    lu.assertEquals(input.target_table("delete from Users"), "Users")
    lu.assertEquals(input.target_table("UPDATE t SET v = 1"), "t")
end

function TestReplInput:test_writes_and_ddl()
    lu.assertTrue(input.is_write("insert into t values (1)"))
    lu.assertTrue(input.is_write("DROP TABLE t"))
    lu.assertFalse(input.is_write("SELECT 1"))
    lu.assertTrue(input.is_ddl("create table t (id int)"))
    lu.assertFalse(input.is_ddl("INSERT INTO t VALUES (1)"))
end

-- ---------------------------------------------------------------- format

TestReplFormat = {}

function TestReplFormat:test_width_and_cut()
    lu.assertEquals(format.width("héllo"), 5)
    lu.assertEquals(format.cut("abcdef", 4), "abc…")
    lu.assertEquals(format.cut("abc", 4), "abc")
    lu.assertEquals(format.cut("ééééé", 3), "éé…")
end

function TestReplFormat:test_cell_text()
    lu.assertEquals(format.cell_text(nil), "NULL")
    lu.assertEquals(format.cell_text(true), "true")
    lu.assertEquals(format.cell_text(3), "3")
    lu.assertEquals(format.cell_text(2.5), "2.5")
    if helper.has_integers then lu.assertEquals(format.cell_text(2.0), "2.0") end -- 5.1: 2.0 is 2
    lu.assertEquals(format.cell_text("a\nb"), "a\\nb")
    lu.assertEquals(format.cell_text("\0\1\255"), "\\x0001ff")
    lu.assertEquals(format.cell_text({1, 2}), "[1,2]")
end

local function written(mode, columns, rows, opts)
    local out = {}
    opts = opts or {}
    opts.write = function(s) out[#out + 1] = s end
    opts.note = opts.write
    local w = format.writer(mode, columns, opts)
    for i, r in ipairs(rows) do
        if not w:row(r) then -- the limit: the rest is counted, not printed
            for _ = i + 1, #rows do w:skip() end
            break
        end
    end
    w:finish(nil)
    return table.concat(out)
end

function TestReplFormat:test_csv_quotes_what_it_must()
    lu.assertEquals(written("csv", {"a", "b"}, {{n = 2, 1, 'say "hi", ok'}, {n = 2, nil, " x"}}),
                    'a,b\n1,"say ""hi"", ok"\n," x"\n')
end

function TestReplFormat:test_json_and_markdown()
    lu.assertEquals(written("json", {"a", "b"}, {{n = 2, 1, "x"}, {n = 2, nil, true}}),
                    '[\n{"a":1,"b":"x"},\n{"a":null,"b":true}\n]\n')
    lu.assertEquals(written("json", {"a"}, {}), "[]\n")
    lu.assertEquals(written("markdown", {"a", "b"}, {{n = 2, 1, "x|y"}}), "| a | b |\n|---:|---|\n| 1 | x\\|y |\n")
end

function TestReplFormat:test_table_cuts_to_the_width_or_turns_vertical()
    local long = string.rep("x", 50)
    local text = written("table", {"id", "long"}, {{n = 2, 1, long}}, {width = 30})
    lu.assertStrContains(text, "  1 | " .. string.rep("x", 23) .. "…\n")
    local wide = written("table", {"c1", "c2", "c3", "c4"}, {{n = 4, long, long, long, long}}, {width = 30})
    lu.assertStrContains(wide, "-[ RECORD 1 ]")
    lu.assertStrContains(wide, "(1 row)")
end

function TestReplFormat:test_limit_counts_what_is_not_shown()
    local text = written("table", {"n"}, {{n = 1, 1}, {n = 1, 2}, {n = 1, 3}}, {limit = 2})
    lu.assertStrContains(text, "(3 rows)\n(1 more row not shown")
    lu.assertNotStrContains(text, " 3\n")
end

-- ---------------------------------------------------------------- show

TestReplShow = {}

function TestReplShow:test_constructor()
    local t = {b = 1, a = {2, 3}, [10] = true, "first", ["not ident"] = "x"}
    t.self = t
    lu.assertEquals(show.constructor(t), '{"first", [10] = true, a = {2, 3}, b = 1, ["not ident"] = "x", self = <cycle>}')
    lu.assertEquals(show.constructor({}), "{}")
    local many = {}
    for i = 1, 150 do many[i] = i end
    lu.assertStrContains(show.constructor(many, 10000), "... (50 more)")
    lu.assertStrContains(show.constructor({a = {b = {c = 1}}}, 8), "\n")
end

function TestReplShow:test_quote()
    lu.assertEquals(show.quote('a"b\n'), '"a\\"b\\n"')
    lu.assertEquals(show.quote("\255"), '"\\xff"')
end

-- ---------------------------------------------------------------- a REPL

TestReplSession = {}

local function new_repl(opts)
    opts = opts or {}
    opts.url = opts.url or helper.url()
    local r = repl.new(opts)
    local out, err = {}, {}
    r.out = function(s) out[#out + 1] = s end
    r.note = function(s) err[#err + 1] = s end
    r.err = r.note
    return r, function()
        local o, e = table.concat(out), table.concat(err)
        for i = #out, 1, -1 do out[i] = nil end
        for i = #err, 1, -1 do err[i] = nil end
        return (o:gsub("[0-9]+%.[0-9]+ ms", "T ms")), e
    end
end

function TestReplSession:setUp()
    local e = helper.engine()
    local c = e:connect()
    pcall(c.exec_driver_sql, c, "DROP TABLE IF EXISTS repl_people")
    c:close()
    e:dispose()
end

function TestReplSession:test_feed_sql_and_lua()
    local r, take = new_repl()
    lu.assertEquals(r:feed("CREATE TABLE repl_people (id INTEGER PRIMARY KEY, name VARCHAR(20))"), "done")
    lu.assertEquals(r:feed("INSERT INTO repl_people (id, name) VALUES (1, 'ann'), (2, NULL)"), "done")
    take()
    lu.assertEquals(r:feed("SELECT id, name FROM repl_people WHERE"), "more")
    lu.assertEquals(r:feed(" id > 0 ORDER BY id;"), "done")
    local out, err = take()
    lu.assertEquals(out, " id | name\n----+------\n  1 | ann\n  2 | NULL\n(2 rows, T ms)\n")
    lu.assertEquals(err, "")
    lu.assertEquals(r:feed("for i = 1, 2 do"), "more")
    lu.assertEquals(r:prompt(), "   ...> ")
    lu.assertEquals(r:feed("x = (x or 0) + i end"), "done")
    r:feed("=x")
    lu.assertEquals((take()), "3\n")
    lu.assertFalse(r.failed)
    r:feed("SELECT * FROM nowhere_at_all")
    local _, e = take()
    lu.assertStrContains(e, "ProgrammingError")
    lu.assertTrue(r.failed)
    lu.assertEquals(r:feed(".quit"), "quit")
    r:feed("DROP TABLE repl_people")
    lu.assertTrue(r:close())
end

function TestReplSession:test_catalog_reflects_again_after_ddl()
    local r, take = new_repl()
    lu.assertNotTableContains(r.catalog:tables(), "repl_people")
    r:feed("db:connect():execute('CREATE TABLE repl_people (id INTEGER PRIMARY KEY)')") -- from Lua: the echo sees it
    lu.assertTableContains(r.catalog:tables(), "repl_people")
    lu.assertTableContains(r:complete("T.repl_p", "T.repl_p", 0), "T.repl_people")
    lu.assertTableContains(r:complete("repl_p", "SELECT * FROM repl_p", 14), "repl_people")
    r:feed("T")
    lu.assertStrContains((take()), "repl_people\n")
    r:feed("DROP TABLE repl_people")
    r:close()
end

function TestReplSession:test_completion()
    local r = new_repl()
    lu.assertEquals(r:complete("argent.create_en", "argent.create_en", 0), {"argent.create_engine"})
    lu.assertTableContains(r:complete("session:qu", "session:qu", 0), "session:query")
    lu.assertTableContains(r:complete("db:conn", "db:conn", 0), "db:connect")
    lu.assertEquals(r:complete(".sch", ".sch", 0), {".schema"})
    lu.assertEquals(r:complete("cs", ".mode cs", 6), {"csv"})
    lu.assertTableContains(r:complete("whi", "whi", 0), "while")
    lu.assertEquals(r:complete("nothing_like_this", "nothing_like_this", 0), {})
    r:close()
end

function TestReplSession:test_modes_and_limit()
    local r, take = new_repl()
    r:feed(".mode csv")
    r:feed("SELECT 1 AS a, 'x' AS b")
    lu.assertEquals((take()), "a,b\n1,x\n")
    r:feed(".mode nosuch")
    local _, e = take()
    lu.assertStrContains(e, "usage: .mode")
    r:feed(".limit 1")
    r:feed(".mode table")
    r:feed("SELECT 1 AS n UNION ALL SELECT 2")
    lu.assertStrContains((take()), "(2 rows, T ms)\n(1 more row not shown")
    r:feed(".limit x")
    lu.assertStrContains(select(2, take()), "usage: .limit")
    r:close()
end

function TestReplSession:test_arguments()
    helper.assert_error("ArgumentError", "opts", repl.new, 5)
    helper.assert_error("ArgumentError", "self", repl.REPL.feed, nil, "1")
    helper.assert_error("ArgumentError", "self", repl.REPL.prompt, {})
    helper.assert_error("ArgumentError", "d", diagram.dot, 1)
    helper.assert_error("ArgumentError", "d", diagram.mermaid, {})
    helper.assert_error("ArgumentError", "models", diagram.from_models, "User")
    helper.assert_error("ArgumentError", "meta", diagram.from_metadata, nil)
    helper.assert_error("ArgumentError", "names", require("argent.models").require_all, 7)
end

function TestReplSession:test_diagram_of_models()
    local blog = require "models.blog"
    local d = diagram.from_models({blog.User, blog.Post, blog.Comment})
    lu.assertEquals(#d.tables, 3)
    lu.assertEquals(#d.links, 3)
    lu.assertStrContains(diagram.mermaid(d), 'users ||--o{ posts : "posts / owner"')
    lu.assertStrContains(diagram.dot(d), '"posts":"owner_id" -> "users":"id"')
end

os.exit(helper.run(), true)
