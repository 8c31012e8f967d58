-- argent.orm.identity: a session's identity map -- one Lua object per row
-- (API.md section 7: s:get(User, 1) == s:query(User):filter_by{id = 1}:one()).
--
-- One bucket per model: a weak-valued table, identity key -> instance, so
-- that the map keeps no row alive that the program dropped (the unit of
-- work holds new, deleted and changed objects strongly until their flush).
-- core.orm.load fills a bucket directly as rows become instances in C.
-- The identity key is C's (core.orm.identity_key): the key's value for a
-- one-column primary key, else its values joined -- defined once, there.
local core = require "argent.core"
local collections = require "argent.orm.collections"

local corm = core.orm
local internals, state_of = corm.internals, corm.state

local identity = {}

local IdentityMap = {}
IdentityMap.__index = IdentityMap

--- identity.new() -> an empty identity map.
function identity.new() return setmetatable({buckets = {}}, IdentityMap) end

--- identity.key(mapper, values) -> the identity key of a values table (an
--- instance's, or attribute name -> value), nil when a key value is nil.
function identity.key(mapper, values) return corm.identity_key(values, mapper.primary_key) end
local key_of = identity.key

--- map:bucket(model) -> model's bucket (made at first use).
function IdentityMap:bucket(model)
  local b = self.buckets[model]
  if not b then
    b = setmetatable({}, {__mode = "v"})
    self.buckets[model] = b
  end
  return b
end

--- map:find(model, key) -> the instance of that key, or nil.
function IdentityMap:find(model, key)
  local b = self.buckets[model]
  return b and key ~= nil and b[key] or nil
end

--- map:put(obj) -> false when another object holds obj's key; else obj is entered.
function IdentityMap:put(obj)
  local values, _, mapper = internals(obj)
  local key = key_of(mapper, values)
  local bucket = self:bucket(mapper.class)
  local there = bucket[key]
  if there ~= nil and there ~= obj then return false end
  bucket[key] = obj
  return true
end

--- map:remove(obj): obj leaves the map (if it is there under its key).
function IdentityMap:remove(obj)
  local values, _, mapper = internals(obj)
  local b = self.buckets[mapper.class]
  local key = key_of(mapper, values)
  if b and key ~= nil and b[key] == obj then b[key] = nil end
end

--- for model, bucket in map:each_bucket() do ... end
function IdentityMap:each_bucket() return pairs(self.buckets) end

--- map:expire_all(): every persistent object is expired (its values are
--- read again on next access), its waiting collection changes dropped.
function IdentityMap:expire_all()
  for model, bucket in pairs(self.buckets) do
    local pk = rawget(model, "__mapper__").primary_key
    for key, obj in pairs(bucket) do
      if state_of(obj) == "persistent" then
        -- a (refused) change of a one-column key: the map's key is the row's
        if #pk == 1 then internals(obj)[pk[1]] = key end
        corm.expire(obj)
        collections.forget_pending(obj)
      end
    end
  end
end

--- map:detach_all(): every object leaves the session (detached); the map is empty.
function IdentityMap:detach_all()
  for _, bucket in pairs(self.buckets) do corm.detach(bucket) end
  self.buckets = {}
end

return identity
