-- argent.orm.collections: relationship values in memory (API.md section
-- 6) -- the collections of to-many attributes, writes of relationship
-- attributes (the instance proxy's set hook), back_populates kept in sync
-- in memory, and what the unit of work asks of them at the flush: which
-- objects' relationships changed, the members a collection had in the
-- database, the parent a child went to, the old value of a one-to-one,
-- the changes waiting for a collection that is not loaded.
--
-- A collection is a plain Lua list (so `#`, indexing and ipairs are Lua's
-- own) with methods append / remove.  Beside it, in a weak table, it has its
-- owner, its relationship, and `orig`: the set of members the database has
-- (as loaded, or as of the last flush), which the flush compares with the
-- list to find what was added and removed.
--
-- Back-population writes the other side's stored value directly (never
-- through the proxy), so it cannot recurse.  Every table here is weak-keyed:
-- nothing is kept alive for its own sake.
local compat = require "argent.compat"
local core = require "argent.core"

local corm = core.orm
local raise = core.error
local guard = require "argent.guard"
local internals, state_of, is_instance = corm.internals, corm.state, corm.is_instance

local collections = {}

-- Objects whose relationships changed since their last flush (the flush
-- looks at them, and at pending objects).
local changed = setmetatable({}, {__mode = "k"}) -- obj -> {relationship key -> true}

local function mark_changed(obj, key)
  local c = changed[obj]
  if not c then
    c = {}
    changed[obj] = c
  end
  c[key] = true
end
collections.mark_changed = mark_changed

--- The set of obj's relationship keys written since its last flush, or nil.
function collections.changes(obj) return changed[obj] end

--- Forgets that obj's relationships changed (after its flush, or a rollback).
function collections.forget_changes(obj) changed[obj] = nil end

--- The objects of session s whose relationships changed, as a list.
function collections.changed_in(s)
  local out = {}
  if next(changed) == nil then return out end
  for o in pairs(changed) do
    local _, _, _, owner = internals(o)
    if owner == s then out[#out + 1] = o end
  end
  return out
end

--- Has an object of session s a relationship change?  (Usually none at
--- all; else the first of the session ends the scan.)
function collections.any_changed_in(s)
  if next(changed) == nil then return false end
  for o in pairs(changed) do
    local _, _, _, owner = internals(o)
    if owner == s then return true end
  end
  return false
end

local function describe(v)
  if is_instance(v) then return tostring(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

-- ---------------------------------------------------------------- the collection type

local Collection = {__name = "argent.Collection"}
-- collection -> {owner =, rel =, orig = set of the members the database
-- has, or snapshot = the list of them (made into orig when first needed)}
-- Where Lua has no ephemerons (5.1, LuaJIT), a weak-keyed table whose value
-- refers to its key keeps both for ever (the info refers to its owner, which
-- holds the collection): there the info lives in the collection itself,
-- under a private key (a cycle the collector frees).
local INFO = {}
local cinfo
if compat.has_ephemerons then
  cinfo = setmetatable({}, {__mode = "k"})
else
  cinfo = setmetatable({}, {
    __index = function(_, c) return type(c) == "table" and rawget(c, INFO) or nil end,
    __newindex = function(_, c, info) rawset(c, INFO, info) end,
  })
end

local function is_collection(v) return getmetatable(v) == Collection end

-- Membership without a scan per append (back-population appends one child
-- at a time): each collection remembers its members' positions, rebuilt
-- whenever its length is not the one it knew -- a list changed by hand is
-- scanned once.  (A member replaced in place, c[i] = x, is not noticed:
-- change collections with append, remove, or by assigning a new list.)
local function index_of(c, obj)
  local ci = cinfo[c]
  if not ci then
    for i = 1, #c do if rawequal(c[i], obj) then return i end end
    return nil
  end
  local n = #c
  local pos = ci.pos
  if not pos or ci.n ~= n then
    pos = {}
    for i = 1, n do pos[c[i]] = i end
    ci.pos, ci.n = pos, n
  end
  local i = pos[obj]
  if i and rawequal(c[i], obj) then return i end
  return nil
end

local function append_member(c, obj)
  local n = #c + 1
  c[n] = obj
  local ci = cinfo[c]
  if ci and ci.pos and ci.n == n - 1 then
    ci.pos[obj], ci.n = n, n
  end
end

local function remove_member(c, i)
  table.remove(c, i)
  local ci = cinfo[c]
  if ci then ci.pos = nil end
end

-- A new collection of obj's relationship rel holding the list items (kept as is).
local function new_collection(obj, rel, items, orig, snapshot)
  local c = setmetatable(items, Collection)
  cinfo[c] = {owner = obj, rel = rel, orig = (orig or not snapshot) and (orig or {}) or nil, snapshot = snapshot}
  return c
end

-- The last parent of a child along a one-to-many relationship, as the
-- program changed it (SQLAlchemy's "has parent" flag): rel -> {child ->
-- parent, or false once it left that parent}.  Nothing is recorded while a
-- child is as it was loaded.  The flush asks it whether a child that left
-- a collection went to another parent (then it is no orphan).
local parent_of = setmetatable({}, {__mode = "k"})

local function set_parent(rel, child, parent)
  local t = parent_of[rel]
  if not t then
    -- (the parent holds the child: without ephemerons, weak parents too)
    t = setmetatable({}, {__mode = compat.has_ephemerons and "k" or "kv"})
    parent_of[rel] = t
  end
  t[child] = parent
end

local function session_of(obj)
  local _, _, _, s = internals(obj)
  return s
end

-- child left parent along rel: unless it has gone to another parent since,
-- it has none; a pending child that is now an orphan of a delete-orphan
-- relationship leaves its session at once (as SQLAlchemy expunges it).
local function left_parent(rel, child, parent)
  local t = parent_of[rel]
  local last = t and t[child]
  if last ~= nil and last ~= false and not rawequal(last, parent) then return end
  set_parent(rel, child, false)
  if rel.cascade["delete-orphan"] and state_of(child) == "pending" then
    local s = session_of(child)
    if s and not s:_is_closed() then s:expunge(child) end
  end
end

--- The parent child went to along rel after it was loaded, if any (an instance).
function collections.new_parent(rel, child)
  local t = parent_of[rel]
  local p = t and t[child]
  if p then return p end
  return nil
end

-- The value a scalar one-to-many (a one-to-one seen from its parent) had
-- before the program changed it: obj -> {key -> old value, false for none,
-- or UNKNOWN when it was not loaded (the flush reads it then, as
-- SQLAlchemy's deferred history does)}.  The flush makes the old value an
-- orphan (deleted, or its foreign key set to NULL).
local scalar_old = setmetatable({}, {__mode = "k"})
local UNKNOWN = setmetatable({}, {__name = "argent.unknown"})
collections.UNKNOWN = UNKNOWN

local function remember_old(obj, key, old)
  local t = scalar_old[obj]
  if not t then
    t = {}
    scalar_old[obj] = t
  end
  if t[key] == nil then t[key] = old end
end

--- The value obj's scalar one-to-many key had before it was changed (nil: not changed).
function collections.old_value(obj, key)
  local t = scalar_old[obj]
  return t and t[key]
end

-- The set of a collection's members as the database has them (ci = cinfo[c]).
local function orig_set(ci)
  local orig = ci.orig
  if not orig then
    orig = {}
    for _, o in ipairs(ci.snapshot) do orig[o] = true end
    ci.orig, ci.snapshot = orig, nil
  end
  return orig
end

local values_of_obj = corm.values

-- v, or false for nil: the stored value of a loaded, empty many-to-one
-- (`v == nil and false or v` would be nil).
local function or_false(v)
  if v == nil then return false end
  return v
end

-- The stored (raw) value of obj's relationship attribute key: nil when not loaded.
local function raw(obj, key)
  return values_of_obj(obj)[key]
end

local function set_raw(obj, key, v)
  values_of_obj(obj)[key] = v
end

local function check_target(rel, obj, what)
  local m = is_instance(obj) and select(3, internals(obj))
  if not m or m.class ~= rel:target_model() then
    raise("ArgumentError", ("%s: %s.%s holds %s objects, got %s"):format(what, rel.parent.__name, rel.key,
      rel:target_model().__name, describe(obj)))
  end
end

-- Saves obj in the session of owner when rel cascades save-update: a new
-- or detached object joins it; a deleted one is an error (s:add's), as in
-- SQLAlchemy.
local function cascade_add(owner, rel, obj)
  if not rel.cascade["save-update"] then return end
  local s = session_of(owner)
  if s == nil or s:_is_closed() then return end
  if session_of(obj) ~= s or state_of(obj) == "deleted" then s:add(obj) end
end

-- Back-populated changes to collections that are not loaded yet
-- (SQLAlchemy's pending mutations): obj -> {key -> {list of added members,
-- added = set, removed = set}}.  They are applied when the collection loads
-- (the database's members, then these), and dropped when obj is flushed or
-- expired: the database then has them, or they are gone.
local pending = setmetatable({}, {__mode = "k"})

local function pending_change(obj, key, member, adding)
  local per = pending[obj]
  if not per then
    per = {}
    pending[obj] = per
  end
  local pc = per[key]
  if not pc then
    pc = {added = {}, removed = {}}
    per[key] = pc
  end
  if adding then
    if pc.removed[member] then
      pc.removed[member] = nil
    elseif not pc.added[member] then
      pc.added[member] = true
      pc[#pc + 1] = member
    end
  elseif pc.added[member] then
    pc.added[member] = nil
    for i = #pc, 1, -1 do if rawequal(pc[i], member) then table.remove(pc, i) end end
  else
    pc.removed[member] = true
  end
end

-- Applies the pending changes of obj's collection c (key) to it, once.
local function apply_pending(obj, key, c)
  local per = pending[obj]
  local pc = per and per[key]
  if not pc then return end
  per[key] = nil
  if next(per) == nil then pending[obj] = nil end
  for _, o in ipairs(pc) do
    if not index_of(c, o) then append_member(c, o) end
  end
  for o in pairs(pc.removed) do
    local i = index_of(c, o)
    if i then remove_member(c, i) end
  end
  mark_changed(obj, key)
end

--- Forgets obj's pending collection changes (all, or those of the list keys).
--- (and the old values of its one-to-ones)
function collections.forget_pending(obj, keys)
  if keys == nil then
    pending[obj], scalar_old[obj] = nil, nil
    return
  end
  for _, t in ipairs {pending, scalar_old} do
    local per = t[obj]
    if per then
      for _, k in ipairs(keys) do per[k] = nil end
      if next(per) == nil then t[obj] = nil end
    end
  end
end

-- The value of obj's many-to-one rel as far as memory knows it, without
-- SQL: the loaded value, else the target in the session's identity map
-- (nil: unknown).  SQLAlchemy's "old value" of a backref, read with
-- PASSIVE_NO_FETCH.
local function peek(obj, rel)
  local v = raw(obj, rel.key)
  if v ~= nil or rel.direction ~= "manytoone" then return v end
  local s = session_of(obj)
  if s == nil or s:_is_closed() then return nil end
  local T = rel:target_model()
  local tm = rawget(T, "__mapper__")
  if #tm.primary_key ~= 1 or rel.remote_keys[1] ~= tm.primary_key[1] then return nil end
  local fk = values_of_obj(obj)[rel.local_keys[1]]
  if fk == nil then return nil end
  local found = s:_bucket(T)[fk]
  if found == nil or state_of(found) ~= "persistent" then return nil end
  local _, _, _, _, unloaded = internals(found)
  if unloaded then return nil end -- (expired: SQLAlchemy does not look at it either)
  return found
end

-- The other side, in memory only: obj (a target of rel) now refers to owner
-- (adding = true) or no longer does.
local function back_sync(owner, rel, obj, adding)
  local back = rel.back
  if not back then return end
  back:resolve()
  if back.uselist then
    -- (obj is a parent along back, owner its child)
    if back.direction == "onetomany" then
      if adding then set_parent(back, owner, obj) else left_parent(back, owner, obj) end
    end
    local c = raw(obj, back.key)
    if c == nil then
      local st = state_of(obj)
      if st == "transient" or st == "pending" then
        if adding then set_raw(obj, back.key, new_collection(obj, back, {owner})) end
      else
        -- not loaded: kept until it loads
        pending_change(obj, back.key, owner, adding)
      end
      mark_changed(obj, back.key)
      return
    end
    local i = index_of(c, owner)
    if adding and not i then
      append_member(c, owner)
    elseif not adding and i then
      remove_member(c, i)
    end
  else
    local old = peek(obj, back)
    if back.direction == "onetomany" and old == nil and state_of(obj) == "persistent" then old = UNKNOWN end
    if adding then
      if back.direction == "onetomany" then -- obj's one-to-one child was old, is owner now
        remember_old(obj, back.key, or_false(old))
        set_parent(back, owner, obj)
      end
      if is_instance(old) and not rawequal(old, owner) then
        -- obj leaves old (its parent, or its one-to-one child) for owner
        local oc = raw(old, rel.key)
        if is_collection(oc) then
          local i = index_of(oc, obj)
          if i then remove_member(oc, i) end
        elseif rawequal(oc, obj) then -- (one-to-one: old no longer has it)
          set_raw(old, rel.key, false)
        elseif oc == nil and rel.uselist and state_of(old) ~= "transient" and state_of(old) ~= "pending" then
          pending_change(old, rel.key, obj, false)
        end
        if oc ~= false then mark_changed(old, rel.key) end
        if back.direction == "manytoone" then left_parent(rel, obj, old) else left_parent(back, old, obj) end
      end
      set_raw(obj, back.key, owner)
    elseif old == nil or old == UNKNOWN or rawequal(old, owner) then
      -- (not known: SQLAlchemy empties it too)
      if back.direction == "onetomany" then
        remember_old(obj, back.key, or_false(old))
        left_parent(back, owner, obj)
      end
      set_raw(obj, back.key, false)
    end
  end
  mark_changed(obj, back.key)
end

--- c:append(obj): adds obj (once); back_populates sets the other side.
function Collection.append(c, obj)
  local ci = cinfo[c]
  if not ci then
    raise("ArgumentError", "append: argument 'self' must be a relationship's collection (call it as u.posts:append(p))")
  end
  check_target(ci.rel, obj, "append")
  if index_of(c, obj) then return end
  append_member(c, obj)
  mark_changed(ci.owner, ci.rel.key)
  set_parent(ci.rel, obj, ci.owner)
  -- (the cascade first, then the other side: SQLAlchemy's listeners run in that order)
  cascade_add(ci.owner, ci.rel, obj)
  back_sync(ci.owner, ci.rel, obj, true)
end

--- c:remove(obj): takes obj out (an error if it is not there).
function Collection.remove(c, obj)
  local ci = cinfo[c]
  if not ci then
    raise("ArgumentError", "remove: argument 'self' must be a relationship's collection (call it as u.posts:remove(p))")
  end
  check_target(ci.rel, obj, "remove")
  local i = index_of(c, obj)
  if not i then
    raise("ArgumentError", ("remove: %s is not in %s.%s"):format(tostring(obj), ci.rel.parent.__name, ci.rel.key))
  end
  remove_member(c, i)
  mark_changed(ci.owner, ci.rel.key)
  back_sync(ci.owner, ci.rel, obj, false)
  left_parent(ci.rel, obj, ci.owner)
end

Collection.__index = {append = Collection.append, remove = Collection.remove}

function Collection.__tostring(c)
  guard.check_self(c, Collection, "__tostring", "tostring(u.posts)")
  local ci = cinfo[c]
  return ("<collection %s.%s: %d>"):format(ci and ci.rel.parent.__name or "?", ci and ci.rel.key or "?", #c)
end

-- ---------------------------------------------------------------- the set hook

-- obj.key = value for a relationship attribute.
local function set_hook(obj, key, value)
  local _, _, mapper = internals(obj)
  local rel = mapper.relationships[key]:resolve()
  if rel.uselist then
    if value ~= nil and (type(value) ~= "table" or (getmetatable(value) ~= nil and not is_collection(value))) then
      raise("ArgumentError", ("%s.%s is a collection: assign a list of %s objects or nil, got %s")
        :format(mapper.name, key, rel:target_model().__name, describe(value)))
    end
    local items, seen = {}, {}
    for _, o in ipairs(value or {}) do
      check_target(rel, o, mapper.name .. "." .. key)
      if not seen[o] then
        seen[o] = true
        items[#items + 1] = o
      end
    end
    -- the old members, from the database if need be, to leave on the other side
    local old = raw(obj, key)
    if old == nil and state_of(obj) == "persistent" then old = obj[key] end
    local orig = old and cinfo[old] and orig_set(cinfo[old]) or {}
    local was = {}
    for _, o in ipairs(old or {}) do was[o] = true end
    local c = new_collection(obj, rel, items, orig)
    set_raw(obj, key, c)
    mark_changed(obj, key)
    for _, o in ipairs(items) do
      set_parent(rel, o, obj)
      cascade_add(obj, rel, o)
      if not was[o] then back_sync(obj, rel, o, true) end
    end
    for _, o in ipairs(old or {}) do
      if not seen[o] then
        back_sync(obj, rel, o, false)
        left_parent(rel, o, obj)
      end
    end
  else
    if value ~= nil then check_target(rel, value, mapper.name .. "." .. key) end
    local old = peek(obj, rel)
    if rel.direction == "onetomany" then
      -- a one-to-one from its parent: the old child is an orphan at the flush
      if old == nil and state_of(obj) == "persistent" then old = UNKNOWN end
      if not rawequal(old, value) then remember_old(obj, key, or_false(old)) end
      if value ~= nil then set_parent(rel, value, obj) end
    end
    if is_instance(old) and not rawequal(old, value) then
      back_sync(obj, rel, old, false)
      if rel.direction == "onetomany" then left_parent(rel, old, obj) end
    end
    set_raw(obj, key, or_false(value))
    mark_changed(obj, key)
    if value ~= nil and not rawequal(old, value) then
      cascade_add(obj, rel, value)
      back_sync(obj, rel, value, true)
    end
  end
end

-- Collections made empty by reading them on a new object: obj -> {key ->
-- true}.  Once obj is inserted, those the program did not change are
-- dropped (they load from the database on the next read), as SQLAlchemy
-- does not keep an attribute that was only read on a new object.
local initialized = setmetatable({}, {__mode = "k"})

--- After obj's insert: forgets its collections that were only read.
function collections.drop_initialized(obj)
  local t = initialized[obj]
  if not t then return end
  initialized[obj] = nil
  local c = changed[obj]
  for key in pairs(t) do
    if not (c and c[key]) then set_raw(obj, key, nil) end
  end
end

function collections.has_initialized() return next(initialized) ~= nil end


--- After a flush: c's members are what the database has.
function collections.committed(c)
  local ci = cinfo[c]
  if not ci then return end
  local orig = {}
  for _, x in ipairs(c) do orig[x] = true end
  ci.orig, ci.snapshot = orig, nil
end

--- The set of the members collection c has in the database (as loaded, or as of the last flush).
function collections.original_members(c) return orig_set(cinfo[c]) end

--- A collection of obj's relationship rel loaded from the database (members
--- list, kept as is), stored on obj, with the changes waiting for it applied.
function collections.loaded(obj, rel, list)
  -- (the members as loaded: a copy of the list, made a set only if a flush asks)
  local c = new_collection(obj, rel, list, nil, compat.move(list, 1, #list, 1, {}))
  set_raw(obj, rel.key, c)
  if pending[obj] then apply_pending(obj, rel.key, c) end
  return c
end

--- An empty collection for obj's rel, made because the program read it on a
--- new object (transient or pending): stored, and noted (drop_initialized).
function collections.initialized(obj, rel)
  local c = new_collection(obj, rel, {})
  set_raw(obj, rel.key, c)
  local t = initialized[obj]
  if not t then
    t = {}
    initialized[obj] = t
  end
  t[rel.key] = true
  return c
end

collections.Collection = Collection
collections.is_collection = is_collection
collections.set_hook = set_hook
return collections
