-- argent.orm.unitofwork: a session's unit of work (API.md section 7;
-- SQLAlchemy's unitofwork.py) -- the objects waiting for the flush (new,
-- to delete, changed) and the flush itself, as named phases:
--
--   collect             the objects whose relationships or columns changed
--   plan_relationships  what those changes ask of foreign keys (syncs),
--                       which children lost their parent (orphans), which
--                       association rows changed (links)
--   resolve_orphans     delete-orphan: deleted; otherwise the key set NULL
--   cascade_deletes     delete cascades; children's keys set NULL; the
--                       association rows of what is deleted, first
--   insert_new          new objects, parents first (a table that refers to
--                       itself: level by level), keys set just before
--   sync_keys           the foreign keys of persistent objects
--   update_changed      the changed columns of persistent objects
--   write_associations  association rows removed, then added
--   delete_rows         rows deleted, children first
--   finish              collections hold what the database holds
--
-- The statements are persistence.lua's.  Objects inserted and deleted in
-- the session's transaction are remembered, so that a rollback (revert)
-- can make them transient / persistent again.  The session's _dirty_hold
-- (changed persistent objects, which the C proxy enters at a write) is this
-- unit's dirty_hold table: when it is replaced by an empty one (a cleared
-- table would keep its size, and every next() on it would scan it), the
-- session is told through the callback given to unitofwork.new.  pending
-- and pending_set are read afresh by Session:add at each call
-- (core.orm.add_new appends to them).
local core = require "argent.core"
local persistence = require "argent.orm.persistence"
local collections = require "argent.orm.collections"
local loading = require "argent.orm.loading"
local identity = require "argent.orm.identity"

local corm = core.orm
local raise = core.error
local internals, set_state, set_session, state_of, is_instance =
  corm.internals, corm.set_state, corm.set_session, corm.state, corm.is_instance
local is_collection = collections.is_collection
local flush_info = persistence.flush_info
local key_of = identity.key

local unitofwork = {}

local UnitOfWork = {}
UnitOfWork.__index = UnitOfWork


local function mapper_of(obj)
  local _, _, mapper = internals(obj)
  return mapper
end

-- Objects whose deletion was committed (detached for good: adding one again is an error).
local was_deleted = setmetatable({}, {__mode = "k"})

--- Was obj deleted by a committed transaction?
function unitofwork.was_deleted(obj) return was_deleted[obj] == true end

-- Objects made transient by a rollback while expired: their values are
-- gone with the transaction (a flush of one is an error until they are set).
local stale = setmetatable({}, {__mode = "k"})

--- unitofwork.new(engine, identity_map, dirty_table_changed) -> an empty
--- unit of work; dirty_table_changed(t) is called with each new dirty_hold table.
function unitofwork.new(engine, identity_map, dirty_table_changed)
  local uow = setmetatable({engine = engine, identity = identity_map, pending = {}, pending_set = {}, deleting = {},
                            deleting_set = {}, deleted = {}, inserted = {}, updated = {}, dirty_hold = {},
                            dirty_table_changed = dirty_table_changed}, UnitOfWork)
  dirty_table_changed(uow.dirty_hold)
  return uow
end

-- No changed object is held any more: a new, empty table.
function UnitOfWork:release_dirty()
  if next(self.dirty_hold) == nil then return end
  self.dirty_hold = {}
  self.dirty_table_changed(self.dirty_hold)
end

--- uow:add_new(obj): obj (pending) is inserted at the next flush.
function UnitOfWork:add_new(obj)
  if not self.pending_set[obj] then
    self.pending_set[obj] = true
    self.pending[#self.pending + 1] = obj
  end
end

--- uow:remove_new(obj): obj is no longer to be inserted.
function UnitOfWork:remove_new(obj)
  if not self.pending_set[obj] then return end
  self.pending_set[obj] = nil
  for i, o in ipairs(self.pending) do
    if o == obj then
      table.remove(self.pending, i)
      break
    end
  end
end

--- uow:delete(obj): obj (persistent) is deleted at the next flush.
function UnitOfWork:delete(obj)
  if not self.deleting_set[obj] then
    self.deleting_set[obj] = true
    self.deleting[#self.deleting + 1] = obj
  end
end

--- Is obj to be deleted at the next flush?
function UnitOfWork:is_deleting(obj) return self.deleting_set[obj] == true end

--- uow:cancel_delete(obj): obj is no longer to be deleted.
function UnitOfWork:cancel_delete(obj)
  if not self.deleting_set[obj] then return end
  self.deleting_set[obj] = nil
  for i, o in ipairs(self.deleting) do
    if o == obj then
      table.remove(self.deleting, i)
      break
    end
  end
end

--- uow:forget(obj): obj leaves the unit of work (expunged): not held as changed, not deleted.
function UnitOfWork:forget(obj)
  self.dirty_hold[obj] = nil
  self:cancel_delete(obj)
end

--- uow:hold(obj): a changed persistent object, held until the flush (the C proxy does it at a write).
function UnitOfWork:hold(obj) self.dirty_hold[obj] = true end

--- Has the unit of work anything to flush for session s?
function UnitOfWork:has_work(s)
  return #self.pending > 0 or #self.deleting > 0 or next(self.dirty_hold) ~= nil or collections.any_changed_in(s)
end

--- uow:check_keys(): raises InvalidRequestError when the primary key of a
--- persistent object was changed (before anything is written).
function UnitOfWork:check_keys()
  for o in pairs(self.dirty_hold) do
    if corm.is_dirty(o) and state_of(o) == "persistent" then
      local values, dirty, mapper = internals(o)
      for _, k in ipairs(mapper.primary_key) do
        if dirty[k] and self.identity:find(mapper.class, key_of(mapper, values)) ~= o then
          raise("InvalidRequestError", ("flush: the primary key '%s' of persistent %s was changed; changing a "
            .. "row's primary key is not supported (delete the object and add a new one)"):format(k, mapper.name))
        end
      end
    end
  end
end

-- ---------------------------------------------------------------- ordering and keys

-- The tables of the given mappers, parents before children (each metadata's
-- foreign-key order; metadatas in the order first met).
local function table_rank(mappers)
  local rank, n, seen_meta = {}, 0, {}
  for _, m in ipairs(mappers) do
    local meta = m.base.metadata
    if not seen_meta[meta] then
      seen_meta[meta] = true
      -- each metadata's order, computed once per change of its tables
      local cache = meta._argent_rank
      if not cache or cache.version ~= meta._version then
        cache = {version = meta._version, list = meta:sorted_tables()}
        meta._argent_rank = cache
      end
      for _, t in ipairs(cache.list) do
        n = n + 1
        rank[t] = n
      end
    end
  end
  return rank
end

-- Groups objects by their mapper's table, in foreign-key order; returns a
-- list of {mapper = m, objs = {...}} (objects in the order given).
local function group_by_table(objs)
  if #objs == 1 then return {{mapper = mapper_of(objs[1]), objs = objs}} end
  local groups, by_table, mappers = {}, {}, {}
  for _, obj in ipairs(objs) do
    local m = mapper_of(obj)
    local g = by_table[m.table]
    if not g then
      g = {mapper = m, objs = {}}
      by_table[m.table] = g
      groups[#groups + 1] = g
      mappers[#mappers + 1] = m
    end
    g.objs[#g.objs + 1] = obj
  end
  local rank = table_rank(mappers)
  table.sort(groups, function(a, b) return (rank[a.mapper.table] or 0) < (rank[b.mapper.table] or 0) end)
  return groups
end

-- Sets child's attributes ckeys to parent's pkeys values (parent nil: to nil).
-- A parent that is not in the child's session and has no key (a new object
-- never added) gives NULL, as in SQLAlchemy (which warns that the object
-- is not in the session and is not saved).
local function sync(child, ckeys, parent, pkeys)
  local pv = parent and internals(parent)
  for i, k in ipairs(ckeys) do
    local v = pv and pv[pkeys[i]]
    if parent and v == nil then
      local _, _, _, child_session = internals(child)
      local _, _, _, parent_session = internals(parent)
      if parent_session == child_session and state_of(parent) ~= "transient" then
        raise("InvalidRequestError", ("flush: %s refers to %s, which has no primary key yet")
          :format(tostring(child), tostring(parent)))
      end
    end
    local cv = internals(child)
    if cv[k] ~= v then child[k] = v end
  end
end

-- Relationship work of a flush: what the examined objects' relationships
-- ask of foreign keys (syncs by child), orphans, association rows.
local function relationship_plan(s, examine)
  local syncs, orphans, links = {}, {}, {}
  local function add_sync(child, ckeys, parent, pkeys)
    local l = syncs[child]
    if not l then
      l = {}
      syncs[child] = l
    end
    l[#l + 1] = {ckeys, parent, pkeys}
  end
  for _, obj in ipairs(examine) do
    local values, _, mapper = internals(obj)
    local keys = collections.changes(obj)
    local all = state_of(obj) == "pending"
    for _, key in ipairs(mapper.relationship_keys) do
      local v = values[key]
      if v ~= nil and (all or keys[key]) then
        local rel = mapper.relationships[key]:resolve()
        if rel.direction == "manytoone" then
          add_sync(obj, rel.local_keys, v or nil, rel.remote_keys)
        elseif rel.direction == "onetomany" then
          local members = is_collection(v) and v or (v and {v} or {})
          for _, ch in ipairs(members) do add_sync(ch, rel.remote_keys, obj, rel.local_keys) end
          if is_collection(v) then
            local now = {}
            for _, ch in ipairs(v) do now[ch] = true end
            for ch in pairs(collections.original_members(v)) do
              if not now[ch] then orphans[#orphans + 1] = {ch, rel, obj} end
            end
          elseif not rel.uselist and not all then
            -- a one-to-one replaced: its old child (read now if it was not loaded)
            local old = collections.old_value(obj, key)
            local olds = old == collections.UNKNOWN and loading.committed_targets(s, obj, rel) or {old}
            for _, o in ipairs(olds) do
              if is_instance(o) and not rawequal(o, v) then orphans[#orphans + 1] = {o, rel, obj} end
            end
          end
        elseif rel.direction == "manytomany" and is_collection(v) then
          links[#links + 1] = {obj, rel, v}
        end
      end
    end
  end
  return syncs, orphans, links
end

-- Orders objs (one table's new objects, in the order they were added) so
-- that an object comes after the new objects of the list it refers to
-- (a table that refers to itself), as SQLAlchemy's unit of work does:
-- level by level, each level in the order the objects were added.
local function order_within(objs, syncs)
  local inlist = {}
  for _, o in ipairs(objs) do inlist[o] = true end
  local parents, any = {}, false
  for _, o in ipairs(objs) do
    for _, s in ipairs(syncs[o] or {}) do
      local p = s[2]
      if p and inlist[p] and p ~= o then
        parents[o] = parents[o] or {}
        parents[o][p] = true
        any = true
      end
    end
  end
  if not any then return objs end
  local out, done, todo = {}, {}, objs
  while #todo > 0 do
    local level, rest = {}, {}
    for _, o in ipairs(todo) do
      local ready = true
      for p in pairs(parents[o] or {}) do
        if not done[p] then ready = false end
      end
      if ready then level[#level + 1] = o else rest[#rest + 1] = o end
    end
    if #level == 0 then
      raise("InvalidRequestError", ("flush: a cycle of new %s objects refer to each other; flush one of them "
        .. "first"):format(mapper_of(todo[1]).name))
    end
    for _, o in ipairs(level) do
      done[o] = true
      out[#out + 1] = o
    end
    todo = rest
  end
  return out
end

-- Orders objs (one table's objects to delete) so that an object referring
-- to another of the list (a table that refers to itself) is deleted first.
local function order_deletes(mapper, objs)
  if #objs < 2 then return objs end
  local self_refs = {}
  for _, key in ipairs(mapper.relationship_keys) do
    local rel = mapper.relationships[key]:resolve()
    if rel.direction == "manytoone" and rel:target_model() == mapper.class and #rel.local_keys == 1 then
      self_refs[#self_refs + 1] = rel
    end
  end
  if #self_refs == 0 then return objs end
  local by_key = {}
  for _, o in ipairs(objs) do
    local v = internals(o)
    for _, rel in ipairs(self_refs) do
      by_key[rel] = by_key[rel] or {}
      local k = v[rel.remote_keys[1]]
      if k ~= nil then by_key[rel][k] = o end
    end
  end
  local children = {}
  for _, o in ipairs(objs) do
    local v = internals(o)
    for _, rel in ipairs(self_refs) do
      local fk = v[rel.local_keys[1]]
      local p = fk ~= nil and by_key[rel][fk]
      if p and p ~= o then
        children[p] = children[p] or {}
        children[p][o] = true
      end
    end
  end
  local out, done, todo = {}, {}, objs
  while #todo > 0 do
    local level, rest = {}, {}
    for _, o in ipairs(todo) do
      local ready = true
      for c in pairs(children[o] or {}) do
        if not done[c] then ready = false end
      end
      if ready then level[#level + 1] = o else rest[#rest + 1] = o end
    end
    if #level == 0 then level, rest = rest, {} end -- (a cycle: the database will say)
    for _, o in ipairs(level) do
      done[o] = true
      out[#out + 1] = o
    end
    todo = rest
  end
  return out
end

-- (a parent being deleted gives no key: its children were set to NULL, or are deleted too)
local function apply_syncs(syncs, obj, deleting)
  local l = syncs[obj]
  if not l then return end
  for _, s in ipairs(l) do
    if not (s[2] and deleting[s[2]]) then sync(obj, s[1], s[2], s[3]) end
  end
  syncs[obj] = nil
end

-- Cascades of the objects marked for deletion: delete cascades (loading
-- the related objects), foreign keys of other children set to NULL, rows
-- of association tables removed.
function UnitOfWork:cascade_deletes(s, conn)
  local i = 1
  while i <= #self.deleting do
    local obj = self.deleting[i]
    local _, _, mapper = internals(obj)
    for _, key in ipairs(mapper.relationship_keys) do
      local rel = mapper.relationships[key]:resolve()
      if rel.direction ~= "manytoone" then
        if rel.cascade.delete then
          local v = obj[key]
          local list = is_collection(v) and v or (v and {v} or {})
          for _, o in ipairs(list) do
            local st = state_of(o)
            if st == "persistent" and not self.deleting_set[o] then
              self.deleting_set[o] = true
              self.deleting[#self.deleting + 1] = o
            elseif st == "pending" then
              s:expunge(o)
            end
          end
        elseif rel.direction == "onetomany" and rel.lazy ~= "raise" and rel.lazy ~= "noload" then
          local v = obj[key]
          local list = is_collection(v) and v or (v and {v} or {})
          for _, o in ipairs(list) do
            if state_of(o) == "persistent" and not self.deleting_set[o] then sync(o, rel.remote_keys, nil) end
          end
        end
        if rel.direction == "manytomany" then persistence.delete_association_rows(conn, rel, obj) end
      end
    end
    i = i + 1
  end
end

local function link_rows(links)
  local add, remove, seen = {}, {}, {}
  for _, l in ipairs(links) do
    local obj, rel, c = l[1], l[2], l[3]
    local orig = collections.original_members(c)
    local now = {}
    for _, o in ipairs(c) do now[o] = true end
    local lv = internals(obj)[rel.local_keys[1]]
    local function row(o)
      local rv = internals(o)[rel.remote_keys[1]]
      local a, b = rel.sec_local[1], rel.sec_remote[1]
      local id = rel.secondary_table.name .. "\0" .. (a < b and (a .. "=" .. tostring(lv) .. "\0" .. b .. "="
        .. tostring(rv)) or (b .. "=" .. tostring(rv) .. "\0" .. a .. "=" .. tostring(lv)))
      return id, {[a] = lv, [b] = rv}
    end
    for _, o in ipairs(c) do
      if not orig[o] then
        local id, r = row(o)
        if not seen[id] then
          seen[id] = true
          add[#add + 1] = {rel.secondary_table, r}
        end
      end
    end
    for o in pairs(orig) do
      if not now[o] then
        local id, r = row(o)
        if not seen[id] then
          seen[id] = true
          remove[#remove + 1] = {rel.secondary_table, r}
        end
      end
    end
  end
  return add, remove
end

-- ---------------------------------------------------------------- the flush

-- collect: the objects of session s whose relationships changed, and the
-- changed persistent objects.  (No cascade here: save-update cascades when
-- an object is added and when a relationship of an object in the session
-- is written -- never along a change the other side made, as SQLAlchemy 2.0.)
function UnitOfWork:collect(s)
  local examine = {}
  for _, o in ipairs(collections.changed_in(s)) do
    local st = state_of(o)
    if st == "persistent" or st == "pending" then examine[#examine + 1] = o end
  end
  local dirty_objs = {}
  corm.dirty_in(self.dirty_hold, dirty_objs, true)
  return examine, dirty_objs
end

-- plan_relationships: {syncs =, orphans =, links =} of the examined objects.
local function plan_relationships(s, examine)
  if #examine == 0 then return {syncs = {}, orphans = {}, links = {}} end
  local syncs, orphans, links = relationship_plan(s, examine)
  return {syncs = syncs, orphans = orphans, links = links}
end

-- resolve_orphans: children that left their parent (and went to no other).
function UnitOfWork:resolve_orphans(s, plan)
  local syncs = plan.syncs
  for _, orphan in ipairs(plan.orphans) do
    local ch, rel, parent = orphan[1], orphan[2], orphan[3]
    local st = state_of(ch)
    local moved = collections.new_parent(rel, ch)
    if moved and not rawequal(moved, parent) then
      -- it went to another parent: no orphan (its key comes from there)
    elseif rel.cascade["delete-orphan"] then
      if st == "persistent" then
        self:delete(ch)
      elseif st == "pending" then
        s:expunge(ch)
      end
    elseif st == "persistent" or st == "pending" then
      -- still pointing at its old parent: it no longer has one (read
      -- through the objects: expired keys are loaded)
      local same = true
      for i, k in ipairs(rel.remote_keys) do
        if ch[k] ~= parent[rel.local_keys[i]] then same = false end
      end
      if same and not syncs[ch] then sync(ch, rel.remote_keys, nil) end
    end
  end
end

-- A new object made transient by a rollback while expired cannot be inserted.
function UnitOfWork:check_stale()
  if next(stale) == nil then return end
  for _, o in ipairs(self.pending) do
    local _, _, mapper, _, unloaded = internals(o)
    local fi = stale[o] and unloaded and flush_info(mapper)
    local gone = false
    for k in pairs(fi and unloaded or {}) do
      local computed = false
      for _, sp in ipairs(fi.special) do if sp.key == k then computed = true end end
      if not computed then gone = true end
    end
    if gone then
      raise("InvalidRequestError", ("flush: %s was inserted in a transaction that was rolled back while its "
        .. "attributes were expired: their values are gone; set them again"):format(mapper_of(o).name))
    end
  end
end

-- What persistence.lua's INSERT and UPDATE functions write into.
function UnitOfWork:context()
  return {engine = self.engine, identity = self.identity, inserted = self.inserted, updated = self.updated}
end

-- insert_new: the new objects, parents first; each object's foreign keys
-- set just before.  (The list stays the session's until all are in: after
-- a failure, the rollback makes every one of them transient again.)
function UnitOfWork:insert_new(conn, plan)
  local syncs, pending, ctx = plan.syncs, self.pending, self:context()
  for _, g in ipairs(#pending > 0 and group_by_table(pending) or {}) do
    local objs = next(syncs) and order_within(g.objs, syncs) or g.objs
    local batch = {}
    local function run()
      if #batch > 0 then
        persistence.insert_objects(ctx, conn, g.mapper, batch)
        batch = {}
      end
    end
    local inbatch = {}
    if next(syncs) == nil then batch = objs; objs = {} end
    for _, o in ipairs(objs) do
      -- an object whose parent (same table) is in the current batch waits for it
      local l = syncs[o]
      if l then
        for _, x in ipairs(l) do
          if x[2] and inbatch[x[2]] then
            run()
            inbatch = {}
            break
          end
        end
      end
      apply_syncs(syncs, o, self.deleting_set)
      batch[#batch + 1] = o
      inbatch[o] = true
    end
    run()
  end
  -- a collection only read on a new object is not kept (SQLAlchemy)
  if collections.has_initialized() then
    for _, o in ipairs(pending) do collections.drop_initialized(o) end
  end
  self.pending, self.pending_set = {}, {}
end

-- sync_keys: the foreign keys of persistent objects (and, in memory only,
-- of new objects of no session in a flushed parent's collection, as
-- SQLAlchemy sets them).
function UnitOfWork:sync_keys(plan)
  local syncs = plan.syncs
  for child in pairs(syncs) do
    local st = state_of(child)
    if st == "persistent" or st == "transient" then apply_syncs(syncs, child, self.deleting_set) end
  end
end

-- update_changed: the changed columns of persistent objects (collected
-- again: the syncs may have changed objects).
function UnitOfWork:update_changed(conn)
  local dirty_objs, upd = {}, {}
  corm.dirty_in(self.dirty_hold, dirty_objs, true)
  for _, o in ipairs(dirty_objs) do
    if not self.deleting_set[o] then upd[#upd + 1] = o end
  end
  local ctx = self:context()
  for _, g in ipairs(group_by_table(upd)) do persistence.update_objects(ctx, conn, g.mapper, g.objs) end
end

-- write_associations: association rows removed, then added.
local function write_associations(conn, plan)
  if #plan.links == 0 then return end
  local add, remove = link_rows(plan.links)
  persistence.write_association_rows(conn, add, remove)
end

-- delete_rows: the rows of the objects to delete, children first.
function UnitOfWork:delete_rows(conn)
  local deleting = self.deleting
  if #deleting == 0 then return end
  local groups = group_by_table(deleting)
  for gi = #groups, 1, -1 do
    local g = groups[gi]
    local objs = order_deletes(g.mapper, g.objs)
    persistence.delete_rows(conn, g.mapper, objs)
    for _, obj in ipairs(objs) do
      self.identity:remove(obj)
      set_state(obj, "deleted")
      self.deleted[#self.deleted + 1] = obj
      self.deleting_set[obj] = nil
    end
  end
  self.deleting = {}
end

-- finish: the examined collections now hold what the database holds; their changes are done.
function UnitOfWork:finish(examine)
  for _, o in ipairs(examine) do
    local values, _, mapper = internals(o)
    for _, key in ipairs(mapper.relationship_keys) do
      local c = values[key]
      if is_collection(c) then collections.committed(c) end
    end
    collections.forget_changes(o)
    collections.forget_pending(o)
  end
  self:release_dirty()
end

--- uow:flush(s) -> whether anything was written.  Raises on the first
--- failing statement (the session then rolls back: revert).
function UnitOfWork:flush(s)
  local examine, dirty_objs = self:collect(s)
  if #examine == 0 and #dirty_objs == 0 and #self.deleting == 0 and #self.pending == 0 then return false end
  local conn = s:_connection()
  local plan = plan_relationships(s, examine)
  self:resolve_orphans(s, plan)
  -- the objects to delete (orphans included) and what they cascade to:
  -- before anything is written, their association rows deleted first
  if #self.deleting > 0 then self:cascade_deletes(s, conn) end
  self:check_stale()
  self:insert_new(conn, plan)
  self:sync_keys(plan)
  self:update_changed(conn)
  write_associations(conn, plan)
  self:delete_rows(conn)
  self:finish(examine)
  return true
end

-- ---------------------------------------------------------------- transaction ends

--- uow:revert(s [, mark, pending_keep, keep_loaded]): undoes the
--- bookkeeping of the objects inserted / deleted since mark (uow:mark();
--- nil: all) and of the pending objects not in the set pending_keep (made
--- transient); every persistent object is expired unless keep_loaded.

-- Undoes the session's bookkeeping of the objects inserted / deleted since
-- the marks, and of pending objects (made transient).
function UnitOfWork:revert(s, mark, pending_keep, keep_loaded)
  local ins_mark, del_mark = mark and mark.inserted or 0, mark and mark.deleted or 0
  -- the relationship changes of the session's objects are undone (the
  -- persistent ones are expired); the objects made transient keep theirs,
  -- to cascade when they are added again
  for _, o in ipairs(collections.changed_in(s)) do
    if not (pending_keep and pending_keep[o]) then collections.forget_changes(o) end
  end
  local made_transient = {}
  for _, obj in ipairs(self.pending) do
    if not (pending_keep and pending_keep[obj]) then
      set_state(obj, "transient")
      set_session(obj, nil)
      self.pending_set[obj] = nil
      made_transient[#made_transient + 1] = obj
    end
  end
  if pending_keep then
    local keep = {}
    for _, obj in ipairs(self.pending) do if pending_keep[obj] then keep[#keep + 1] = obj end end
    self.pending = keep
  else
    self.pending, self.pending_set = {}, {}
  end
  for i = #self.inserted, ins_mark + 1, -1 do
    local obj = self.inserted[i]
    local _, _, mapper, _, unloaded = internals(obj)
    self.identity:remove(obj)
    -- (its attributes keep their values, the generated key too, as in
    -- SQLAlchemy: added again, it is inserted with that key; expired
    -- ones are gone)
    set_state(obj, "transient")
    set_session(obj, nil)
    if unloaded and next(unloaded) then
      -- (not the values the database computed at the insert: those the
      -- next insert computes again)
      local fi = flush_info(mapper)
      for k in pairs(unloaded) do
        local computed = false
        for _, sp in ipairs(fi.special) do if sp.key == k then computed = true end end
        if not computed then stale[obj] = true end
      end
    end
    self.inserted[i] = nil
    made_transient[#made_transient + 1] = obj
  end
  for i = #self.deleted, del_mark + 1, -1 do
    local obj = self.deleted[i]
    self.identity:put(obj)
    set_state(obj, "persistent")
    self.deleted[i] = nil
  end
  self.deleting, self.deleting_set = {}, {}
  self:release_dirty()
  for _, obj in ipairs(made_transient) do
    collections.forget_pending(obj) -- (a new object's collections start empty)
    local values, _, mapper = internals(obj)
    for _, key in ipairs(mapper.relationship_keys) do
      if values[key] ~= nil then collections.mark_changed(obj, key) end
    end
  end
  if not keep_loaded then self.identity:expire_all() end
end

--- uow:mark() -> where the transaction (or a savepoint) begins, for revert.
function UnitOfWork:mark() return {inserted = #self.inserted, deleted = #self.deleted} end

--- uow:ended(committed): the transaction ended (committed or rolled back
--- after revert): deleted objects are detached for good when committed.
function UnitOfWork:ended(committed)
  if committed then
    for _, obj in ipairs(self.deleted) do
      set_state(obj, "detached")
      set_session(obj, nil)
      was_deleted[obj] = true
    end
  end
  self.deleted, self.inserted, self.updated = {}, {}, {}
end

--- uow:closing(): the session closes: the objects inserted in its open
--- transaction are detached with the others (as SQLAlchemy's close leaves
--- them), not made transient by the rollback.
function UnitOfWork:closing() self.inserted = {} end

--- uow:gone(obj): obj's row was deleted by a statement (a bulk DELETE): it
--- is deleted as if flushed.
function UnitOfWork:gone(obj)
  self.identity:remove(obj)
  self.dirty_hold[obj] = nil
  set_state(obj, "deleted")
  self.deleted[#self.deleted + 1] = obj
end

unitofwork.UnitOfWork = UnitOfWork
return unitofwork

