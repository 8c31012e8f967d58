-- tests/lua/orm/test_identity.lua -- a session's identity map
-- (lua/argent/orm/identity.lua, API.md section 7): one object per row, from
-- get and from queries; weak, so that the session keeps nothing alive.

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

TestIdentity = {}

function TestIdentity:setUp() fixture.setup(self) end
function TestIdentity:tearDown() fixture.teardown(self) end

function TestIdentity:test_one_object_per_row_in_a_session()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:flush()
  lu.assertIs(s:get(User, u.id), u)
  lu.assertIs(s:query(User):filter_by{id = u.id}:one(), u)
  s:commit()
  local s2 <close> = self.Session()
  local a = s2:get(User, u.id)
  lu.assertNotIs(a, u)
  lu.assertIs(s2:query(User):filter_by{username = "ann"}:first(), a)
  lu.assertIs(s2:query(User):all()[1], a)
  local n = #self.log
  lu.assertIs(s2:get(User, u.id), a) -- from the identity map: no SELECT
  lu.assertEquals(#self.log, n)
  -- loading does not mark anything dirty
  s2:flush()
  lu.assertEquals(count_verb(self.log, "UPDATE", n + 1), 0)
end

function TestIdentity:test_the_identity_map_keeps_no_object_alive()
  local s <close> = self.Session()
  local u = User{username = "ann"}
  s:add(u)
  s:commit()
  local id = u.id
  u = nil
  collectgarbage()
  collectgarbage()
  local n = #self.log
  local again = s:get(User, id) -- dropped by the program: loaded again
  lu.assertEquals(again.username, "ann")
  lu.assertEquals(count_verb(self.log, "SELECT", n + 1), 1)
end

os.exit(helper.run(), true)
