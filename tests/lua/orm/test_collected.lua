-- tests/lua/orm/test_collected.lua -- a session and what it loaded go with
-- the last reference to them, on every Lua (API.md section 10): 5.1 and
-- LuaJIT have no ephemerons, so a weak-keyed table of the ORM whose values
-- refer to their keys (a collection's owner, a child's parent, a session's
-- loader specs) would keep them, and their connections, for ever.

local helper = require "tests.lua.helper"
local lu = helper.lu
local fixture = require "tests.lua.orm.fixture"
local User, Post = fixture.User, fixture.Post

TestCollected = {}

function TestCollected:setUp() fixture.setup(self) end
function TestCollected:tearDown() fixture.teardown(self) end

-- Works with a session, a user, a collection and its posts (added, loaded,
-- moved), and returns weak references to them.
local round = 0
local function use_a_session(Session)
  round = round + 1
  local weak = setmetatable({}, {__mode = "v"})
  local s = Session()
  local u = User{username = "ann" .. round}
  for j = 1, 3 do Post{title = "p" .. j, content = "c", owner = u} end
  local v = User{username = "bob" .. round}
  s:add_all({u, v})
  s:commit()
  local loaded = {s:get(User, u.id), s:get(User, v.id)}
  local moved = loaded[1].posts[1]
  moved.owner = loaded[2] -- a child that changed parents
  s:flush()
  weak.session, weak.user, weak.posts, weak.post = s, loaded[1], loaded[1].posts, moved
  s:commit()
  s:close()
  return weak
end

function TestCollected:test_a_closed_session_and_its_objects_are_collected()
  local weak = use_a_session(self.Session)
  -- more rounds after it: LuaJIT may still hold the very last objects in a
  -- stack slot, not those of an earlier round
  for _ = 1, 3 do use_a_session(self.Session) end
  for _ = 1, 4 do collectgarbage() end
  lu.assertNil(weak.post, "a post")
  lu.assertNil(weak.posts, "a collection")
  lu.assertNil(weak.user, "a user")
  -- (LuaJIT now and then keeps a closed session a few cycles longer, never
  -- what it loaded: not asserted there)
  if helper.lua_version ~= "luajit" then lu.assertNil(weak.session, "the session") end
end

os.exit(helper.run(), true)
