-- tests/lua/orm/oracle/generator.lua -- random step sequences over the
-- seed's models (User, Post, Comment of models/blog.lua) for the
-- differential test: generator.sequences(seed, n) -> n scenarios in
-- runner.lua's vocabulary, the same for the same seed on every machine
-- (its own random numbers: Park and Miller's, exact in doubles and
-- integers alike, so Lua 5.1 draws what Lua 5.4 draws).
--
-- The generator knows the variables it made and their models, not their
-- states: a sequence may well delete a transient object or flush a post
-- without an owner; both libraries must then fail alike.  Weights favour
-- what makes objects and relationships change; few objects of each model
-- keep failed flushes from consuming key values in different amounts.
local argent = require "argent"

local null = argent.null
local generator = {}

local Random = {}
Random.__index = Random

local function random(seed)
  local r = setmetatable({state = seed % 2147483646 + 1}, Random)
  r:next()
  return r
end

function Random:next()
  self.state = self.state * 16807 % 2147483647
  return self.state
end

-- An integer in [1, n].
function Random:int(n) return self:next() % n + 1 end
function Random:chance(p) return self:next() % 1000 < p * 1000 end
function Random:pick(list) return list[self:int(#list)] end

local WORDS = {"ann", "bob", "cat", "dan", "eve"}
local COLUMNS = {User = {"username", "email", "password"}, Post = {"title", "content", "image_url"},
                 Comment = {"text"}}
local READABLE = {User = {"id", "username", "email", "posts", "comments", "created_at"},
                  Post = {"id", "title", "content", "owner_id", "owner", "comments"},
                  Comment = {"id", "text", "owner_id", "post_id", "owner", "post"}}
local COLLECTIONS = {User = {posts = "Post", comments = "Comment"}, Post = {comments = "Comment"}}
local MANY_TO_ONE = {Post = {owner = "User"}, Comment = {owner = "User", post = "Post"}}
local MAX_NEW = 5 -- new objects of a model per sequence

local function sequence(r, index)
  local vars, by_model, made = {}, {User = {}, Post = {}, Comment = {}}, {User = 0, Post = 0, Comment = 0}
  local steps = {}
  local n = 0
  local function var_of(model)
    local list = by_model[model]
    if #list == 0 then return nil end
    return r:pick(list)
  end
  local function any_var()
    if #vars == 0 then return nil end
    return r:pick(vars)
  end
  local function bind(name, model)
    if not by_model[model][name] then
      by_model[model][#by_model[model] + 1] = name
      by_model[model][name] = true
      vars[#vars + 1] = name
    end
  end
  local function new_object(model)
    if made[model] >= MAX_NEW then return nil end
    made[model] = made[model] + 1
    n = n + 1
    local name = model:sub(1, 1):lower() .. n
    local values = {}
    if model == "User" then
      values.username = r:pick(WORDS)
      if r:chance(0.5) then values.email = r:pick(WORDS) .. "@x.org" end
    elseif model == "Post" then
      values.title = "t" .. r:int(9)
      if r:chance(0.92) then values.content = "c" .. r:int(9) end
      local u = r:chance(0.8) and var_of("User")
      if u then values.owner = "@" .. u end
    else
      values.text = "x" .. r:int(9)
      local p = r:chance(0.6) and var_of("Post")
      if p then values.post = "@" .. p end
      local u = r:chance(0.5) and var_of("User")
      if u then values.owner = "@" .. u end
    end
    steps[#steps + 1] = {"new", name, model, values}
    bind(name, model)
    return name
  end
  local function model_of(name)
    for model, list in pairs(by_model) do if list[name] then return model end end
  end

  local ops = {
    {12, function() new_object(r:pick {"User", "User", "Post", "Post", "Comment"}) end},
    {10, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"add", v} end
    end},
    {2, function()
      if #vars >= 2 then steps[#steps + 1] = {"add", r:pick(vars), r:pick(vars)} end
    end},
    {8, function()
      local v = any_var()
      if not v then return end
      local model = model_of(v)
      local col = r:pick(COLUMNS[model])
      local value = r:chance(0.15) and null or (col:sub(1, 1) .. r:int(9))
      steps[#steps + 1] = {"set", v, col, value}
    end},
    {8, function()
      local model = r:pick {"Post", "Comment"}
      local v = var_of(model)
      if not v then return end
      local attrs = {}
      for attr in pairs(MANY_TO_ONE[model]) do attrs[#attrs + 1] = attr end
      table.sort(attrs)
      local attr = r:pick(attrs)
      local target = var_of(MANY_TO_ONE[model][attr])
      if target and not r:chance(0.1) then
        steps[#steps + 1] = {"set", v, attr, "@" .. target}
      else
        steps[#steps + 1] = {"set", v, attr, null}
      end
    end},
    {8, function()
      local model = r:pick {"User", "Post"}
      local v = var_of(model)
      if not v then return end
      local attrs = {}
      for attr in pairs(COLLECTIONS[model]) do attrs[#attrs + 1] = attr end
      table.sort(attrs)
      local attr = r:pick(attrs)
      local member = var_of(COLLECTIONS[model][attr])
      if member then steps[#steps + 1] = {"append", v, attr, "@" .. member} end
    end},
    {5, function()
      local model = r:pick {"User", "Post"}
      local v = var_of(model)
      if not v then return end
      local attrs = {}
      for attr in pairs(COLLECTIONS[model]) do attrs[#attrs + 1] = attr end
      table.sort(attrs)
      steps[#steps + 1] = {"remove_any", v, r:pick(attrs), r:int(5) - 1}
    end},
    {4, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"delete", v} end
    end},
    {1, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"expunge", v} end
    end},
    {6, function() steps[#steps + 1] = {"flush"} end},
    {7, function() steps[#steps + 1] = {"commit"} end},
    {3, function() steps[#steps + 1] = {"rollback"} end},
    {2, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"expire", v} end
    end},
    {1, function() steps[#steps + 1] = {"expire_all"} end},
    {2, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"refresh", v} end
    end},
    {5, function()
      local model = r:pick {"User", "Post", "Comment"}
      n = n + 1
      local name = "g" .. n
      steps[#steps + 1] = {"get", name, model, r:int(4)}
      bind(name, model)
    end},
    {3, function()
      local model = r:pick {"User", "Post", "Comment"}
      n = n + 1
      local a, b = "q" .. n .. "a", "q" .. n .. "b"
      steps[#steps + 1] = {"query", model, {bind = {a, b}}}
      bind(a, model)
      bind(b, model)
    end},
    {3, function() steps[#steps + 1] = {"count", r:pick {"User", "Post", "Comment"}} end},
    {14, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"read", v, r:pick(READABLE[model_of(v)])} end
    end},
    {5, function()
      local v = any_var()
      if v then steps[#steps + 1] = {"state", v} end
    end},
    {1, function()
      local v = any_var()
      if not v then return end
      n = n + 1
      local name = "m" .. n
      steps[#steps + 1] = {"merge", name, v}
      bind(name, model_of(v))
    end},
    {1, function() steps[#steps + 1] = {"session", {expire_on_commit = r:chance(0.5), autoflush = r:chance(0.8)}} end},
  }
  local total = 0
  for _, op in ipairs(ops) do total = total + op[1] end
  local length = 12 + r:int(18)
  local guard = 0
  while #steps < length and guard < 500 do
    guard = guard + 1
    local x = r:int(total)
    for _, op in ipairs(ops) do
      x = x - op[1]
      if x <= 0 then
        op[2]()
        break
      end
    end
  end
  -- the end: what the session has, committed (or not), and a look at everything
  steps[#steps + 1] = {r:chance(0.7) and "commit" or "flush"}
  for _, v in ipairs(vars) do steps[#steps + 1] = {"state", v} end
  return {name = ("generated %d"):format(index), models = "blog", steps = steps,
          session = {expire_on_commit = r:chance(0.6), autoflush = r:chance(0.85)}}
end

--- generator.sequences(seed, n) -> a list of n scenarios.
function generator.sequences(seed, n)
  local r = random(seed)
  local out = {}
  for i = 1, n do out[i] = sequence(r, i) end
  return out
end

return generator
