-- tests/lua/orm/test_persistence.lua -- the statements of a flush
-- (lua/argent/orm/persistence.lua, API.md section 7): generated keys and
-- defaults set on the objects, new rows of a table batched per database,
-- UPDATEs of the changed columns only (none changed: no UPDATE).

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent
local fixture = require "tests.lua.orm.fixture"
local User, Post, Comment = fixture.User, fixture.Post, fixture.Comment
local Article, Tag, Note, Profile, Node = fixture.Article, fixture.Tag, fixture.Note, fixture.Profile, fixture.Node
local Bundle, Item = fixture.Bundle, fixture.Item
local func = argent.func
local count_verb = helper.count_verb
local seed = fixture.seed
local blog = fixture.blog

TestPersistence = {}

function TestPersistence:setUp() fixture.setup(self) end
function TestPersistence:tearDown() fixture.teardown(self) end

function TestPersistence:test_generated_keys_are_set_at_the_flush()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  local c = Comment{text = "hello"}
  s:add(u)
  s:add(c)
  lu.assertNil(u.id)
  lu.assertNil(c.id)
  s:flush()
  lu.assertEquals(math.type(u.id), "integer")
  lu.assertEquals(math.type(c.id), "integer")
  lu.assertEquals(argent.state(u), "persistent")
  -- the attribute `text` is the SQL column "title"
  s:commit()
  local s2 <close> = self.Session()
  lu.assertEquals(s2:get(Comment, c.id).text, "hello")
  -- an explicit key is kept
  local v = User{id = 1000, username = "vic"}
  s2:add(v)
  s2:commit()
  lu.assertEquals(v.id, 1000)
  lu.assertEquals(s2:get(User, 1000).username, "vic")
end

function TestPersistence:test_new_rows_of_a_table_go_in_batches()
  local s <close> = self.Session()
  local users = {}
  for i = 1, 20 do users[i] = User{username = "b" .. i} end
  s:add_all(users)
  local before = #self.log
  s:flush()
  local inserts = count_verb(self.log, "INSERT", before + 1)
  if helper.is_pg() then
    -- the keys from the table's sequence in one query, the rows in one pipelined executemany
    -- (and, the first time, one to find the sequence)
    lu.assertEquals(inserts, 1)
    lu.assertTrue(count_verb(self.log, "SELECT", before + 1) <= 2)
    helper.assert_has(table.concat(self.log, "\n", before + 1), "nextval")
  elseif helper.is_mariadb() then
    -- one multi-row INSERT ... RETURNING (array binding returns no keys)
    lu.assertEquals(inserts, 1)
    helper.assert_has(self.log[before + 1], "RETURNING")
  else
    -- one prepared INSERT, executed per object (echo shows each execution)
    lu.assertEquals(inserts, 20)
  end
  for i = 2, 20 do lu.assertTrue(users[i].id > users[i - 1].id) end
  lu.assertNotNil(users[20].created_at) -- the SQL default (returned, or read on access)
  -- every object got its own row's key
  for _, u in ipairs(users) do
    lu.assertEquals(s:execute(argent.select(User.username):where(User.id:eq(u.id))):scalar(), u.username)
  end
  s:commit()
end

function TestPersistence:test_an_unchanged_value_sends_no_update()
  local s <close> = self.Session()
  local users = {}
  for i = 1, 2 do users[i] = User{username = "b" .. i} end
  s:add_all(users)
  s:commit()
  local n = #self.log
  users[1].username = users[1].username -- same value
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
  users[2].email = "x"
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 1)
end

function TestPersistence:test_an_update_sends_only_the_changed_columns()
  local s <close> = self.Session()
  local u = User{username = "ann", email = "a@x.org"}
  s:add(u)
  s:commit()
  local n = #self.log
  u.username = "ann" -- the same value: not a change
  s:flush()
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
  u.email = "b@x.org"
  s:commit()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 1)
  local upd
  for i = n + 1, #self.log do if self.log[i]:match("^UPDATE") then upd = self.log[i] end end
  helper.assert_has(upd, "email")
  helper.assert_lacks(upd, "username")
  -- dirty cleared: flushing again sends nothing
  local m = #self.log
  s:flush()
  lu.assertEquals(count_verb(self.log, "UPDATE", m + 1), 0)
  do
    local s2 <close> = self.Session()
    lu.assertEquals(s2:get(User, u.id).email, "b@x.org")
  end
  -- set to nil: NULL
  u.email = nil
  s:commit()
  local s3 <close> = self.Session()
  lu.assertNil(s3:get(User, u.id).email)
end

os.exit(helper.run(), true)
