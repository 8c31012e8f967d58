-- tests/lua/test_found.lua -- what the bug-hunting suites of issue 11 found
-- (tests/fuzz, tests/alloc, tests/fault, tests/soak), each as the plain
-- test that shows it, on every database.  The misuse generator's findings
-- are in test_misuse.lua beside it.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

TestFound = {}

function TestFound:tearDown()
  helper.cleanup(self.engine, {"t_found_docs"})
end

-- fuzz_json: a key with a zero byte was written, and jansson could not
-- read the document back (every later read of the row failed).
function TestFound:test_json_key_with_a_zero_byte_is_refused()
  helper.assert_error("DataError", "zero byte", argent.json_encode, {["a\0b"] = 1})
  helper.assert_error("DataError", "zero byte", argent.json_encode, {list = {{["\0"] = true}}})
  lu.assertEquals(argent.json_decode(argent.json_encode({["a b"] = "\0 in a value is fine"}))["a b"],
    "\0 in a value is fine")
  self.engine = helper.engine()
  local meta = argent.MetaData()
  local docs = argent.Table("t_found_docs", meta, argent.Column("id", argent.Integer, {primary_key = true}),
    argent.Column("doc", argent.JSON))
  meta:drop_all(self.engine)
  meta:create_all(self.engine)
  local conn <close> = self.engine:connect()
  helper.assert_error("DataError", "zero byte", function()
    conn:execute(argent.insert(docs):values{id = 1, doc = {["k\0"] = 1}})
  end)
  helper.assert_error("DataError", "zero byte", conn.executemany, conn, argent.insert(docs),
    {{id = 2, doc = {a = 1}}, {id = 3, doc = {["k\0"] = 1}}})
  lu.assertEquals(helper.count(conn, "t_found_docs"), 0) -- nothing stored, the good row neither
end

os.exit(helper.run(), true)
