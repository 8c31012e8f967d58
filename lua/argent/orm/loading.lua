-- argent.orm.loading: reading relationships and expired attributes from
-- the database (API.md sections 6-7) -- the loader strategies (select,
-- selectin, joined, raise, noload), the query options selectinload /
-- joinedload, and the loader specs of core.orm.load (rows -> instances in
-- C, through the session's identity map).
--
-- The instance proxy (src/orm/instance.c) calls load_hook(obj, key) when an
-- attribute is read that is not loaded: a relationship never read, or
-- columns the Session expired (key false: every unloaded column).  What is
-- loaded is stored on the instance; collections are made by
-- collections.lua, which also applies the changes waiting for them.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local sql = require "argent.sql"
local collections = require "argent.orm.collections"
local relationships = require "argent.orm.relationships"

local corm = core.orm
local raise = core.error
local internals, state_of, is_instance = corm.internals, corm.state, corm.is_instance

local loading = {}

local function describe(v)
  if is_instance(v) then return tostring(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

local values_of_obj = corm.values

-- The stored (raw) value of obj's relationship attribute key: nil when not loaded.
local function raw(obj, key)
  return values_of_obj(obj)[key]
end

local function set_raw(obj, key, v)
  values_of_obj(obj)[key] = v
end

-- v, or false for nil: the stored value of a loaded, empty many-to-one
-- (`v == nil and false or v` would be nil).
local function or_false(v)
  if v == nil then return false end
  return v
end

local is_collection = collections.is_collection

-- ---------------------------------------------------------------- loading

-- The loader spec (src/orm/load.c's load) of model for statement columns laid
-- out as `keys` (result column -> attribute name or false).
local function spec_for(s, model, keys, offset)
  local mapper = rawget(model, "__mapper__")
  local pkcol
  if #mapper.primary_key == 1 then
    for i, k in ipairs(keys) do if k == mapper.primary_key[1] then pkcol = i end end
  end
  return {mapper = mapper, session = s, bucket = s:_bucket(model), keys = keys, pk = mapper.primary_key,
          pkcol = pkcol, offset = offset}
end
loading.spec_for = spec_for

-- The specs for select(model) (columns in mapper order), by the identity
-- map bucket they fill (a session's bucket of a model: gone with it).  Kept
-- in the session: a spec refers to its session, and a weak-keyed table whose
-- values refer to their keys never lets them go before Lua 5.2 (5.1 and
-- LuaJIT have no ephemerons), which would keep every session and its
-- connection.
--- The loader spec of select(model) in session s.
function loading.model_spec(s, model)
  local bucket = s:_bucket(model)
  local model_specs = rawget(s, "_model_specs")
  if not model_specs then
    model_specs = setmetatable({}, {__mode = "k"})
    rawset(s, "_model_specs", model_specs)
  end
  local sp = model_specs[bucket]
  if not sp then
    sp = spec_for(s, model, rawget(model, "__mapper__").columns)
    model_specs[bucket] = sp
  end
  return sp
end

-- The instances of statement stmt (which selects model's columns), in row order.
local function fetch(s, model, stmt)
  local res = s:_connection():execute(stmt)
  return (corm.load(res, loading.model_spec(s, model), {}))
end
loading.fetch = fetch

local function attr_cols(mapper, keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = mapper.attrs[k].column end
  return out
end

local function values_of(obj, keys)
  local values = internals(obj)
  local out = {}
  for i, k in ipairs(keys) do
    local v = values[k]
    if v == nil then return nil end
    out[i] = v
  end
  return out
end

-- Sets a loaded one-to-many collection's children's back reference (the
-- many-to-one) to owner when it is not loaded: no query for child.owner.
local function set_back_refs(owner, rel, children)
  local back = rel.back
  if not back or back.uselist then return end
  local key = back.key
  for _, ch in ipairs(children) do
    local v = values_of_obj(ch)
    if v[key] == nil then v[key] = owner end
  end
end

local function store_collection(obj, rel, list)
  if rel.direction == "onetomany" then set_back_refs(obj, rel, list) end
  return collections.loaded(obj, rel, list)
end

-- The statement selecting rel's targets for given parent key values (a
-- lazy load of one object), ordered, with the values as parameters
-- argent_lazy_1..n: built and compiled once per relationship.
local function target_query(rel)
  if rel._lazy_stmt then return rel._lazy_stmt, rel._lazy_names end
  local T = rel:target_model()
  local tm = rawget(T, "__mapper__")
  local stmt = sql.select(T)
  local names = {}
  local function param(i, col)
    names[i] = "argent_lazy_" .. i
    return core.sql.bindparam(names[i], nil, core.sql.info(col).type)
  end
  if rel.direction == "manytomany" then
    local sec = rel.secondary_table
    local lc = sec.c[rel.sec_local[1]]
    stmt = stmt:join(sec, sec.c[rel.sec_remote[1]]:eq(tm.attrs[rel.remote_keys[1]].column))
      :where(lc:eq(param(1, lc)))
  else
    local terms = {}
    for i, c in ipairs(attr_cols(tm, rel.remote_keys)) do terms[i] = c:eq(param(i, c)) end
    stmt = stmt:where(unpack(terms))
  end
  if rel.order_cols then stmt = stmt:order_by(unpack(rel.order_cols))
  elseif rel.uselist then stmt = stmt:order_by(unpack(attr_cols(tm, tm.primary_key))) end
  rel._lazy_stmt, rel._lazy_names = stmt, names
  return stmt, names
end

-- The targets of rel for the parent key values vals (one SELECT).
local function fetch_targets(s, rel, vals)
  local stmt, names = target_query(rel)
  local params = {}
  for i, n in ipairs(names) do params[n] = vals[i] end
  local res = s:_connection():execute(stmt, params)
  return (corm.load(res, loading.model_spec(s, rel:target_model()), {}))
end

--- The targets the database has for obj along rel, read now (no autoflush).
function loading.committed_targets(s, obj, rel)
  local vals = values_of(obj, rel.local_keys)
  if not vals then return {} end
  return fetch_targets(s, rel, vals)
end

-- Loads obj's relationship rel with one SELECT (the "select" strategy).
local function lazy_select(s, obj, rel)
  local T = rel:target_model()
  if rel.direction == "manytoone" then
    local vals = values_of(obj, rel.local_keys)
    if not vals then
      set_raw(obj, rel.key, false)
      return nil
    end
    local tm = rawget(T, "__mapper__")
    if #tm.primary_key == 1 and rel.remote_keys[1] == tm.primary_key[1] then
      local found = s:_bucket(T)[vals[1]]
      if found ~= nil and state_of(found) == "persistent" then
        set_raw(obj, rel.key, found)
        return found
      end
    end
    s:_maybe_autoflush()
    local list = fetch_targets(s, rel, vals)
    local v = list[1]
    set_raw(obj, rel.key, or_false(v))
    return v
  end
  local vals = values_of(obj, rel.local_keys)
  s:_maybe_autoflush()
  local list = vals and fetch_targets(s, rel, vals) or {}
  if not rel.uselist then
    local v = list[1]
    set_raw(obj, rel.key, or_false(v))
    if v ~= nil then set_back_refs(obj, rel, {v}) end
    return v
  end
  return store_collection(obj, rel, list)
end

-- Reads the unloaded (expired) columns of obj again, with one SELECT.
local function load_columns(s, obj)
  local values, _, mapper = internals(obj)
  local terms = {}
  for i, k in ipairs(mapper.primary_key) do
    if values[k] == nil then
      raise("InvalidRequestError", ("%s has no primary key value: its expired attributes cannot be loaded")
        :format(mapper.name))
    end
    terms[i] = mapper.attrs[k].column:eq(values[k])
  end
  s:_maybe_autoflush()
  local list = fetch(s, mapper.class, sql.select(mapper.class):where(unpack(terms)))
  if not rawequal(list[1], obj) then
    -- the row is gone: the object can no longer be loaded
    local _, _, _, _, unloaded = internals(obj)
    if unloaded then corm.clear_unloaded(obj) end
    raise("InvalidRequestError", ("%s (primary key %s) was deleted from the database or never existed; "
      .. "its attributes cannot be loaded"):format(mapper.name, tostring(values[mapper.primary_key[1]])))
  end
end

local function detached_error(obj, what)
  raise("DetachedInstanceError", ("%s is not bound to a session: %s cannot be loaded (load it before the "
    .. "session closes, e.g. with argent.selectinload, or add the object to a session)"):format(tostring(obj), what))
end

-- The set of mapper's columns whose values the database may compute at an
-- insert (a default, a server default, a generated key): cached.
local function computed_columns(mapper)
  local set = mapper._computed
  if set then return set end
  set = {}
  for _, k in ipairs(mapper.columns) do
    local ci = core.sql.info(mapper.attrs[k].column)
    if ci.default ~= nil or ci.server_default ~= nil or ci.primary_key then set[k] = true end
  end
  mapper._computed = set
  return set
end

-- obj.key read while not loaded (key false: every unloaded column).
local function load_hook(obj, key)
  local values, _, mapper, s = internals(obj)
  local attr = key and mapper.attrs[key]
  if not attr or attr.column then
    local st = state_of(obj)
    if st == "transient" or st == "pending" then
      -- (expired, then made transient by a rollback: the values are gone)
      if s == nil then detached_error(obj, key and ("attribute '" .. key .. "'") or "its expired attributes") end
      raise("InvalidRequestError", ("%s is %s and its attributes were expired: there is no row to read them "
        .. "from"):format(tostring(obj), st))
    end
    if s == nil or s:_is_closed() then
      detached_error(obj, key and ("attribute '" .. key .. "'") or "its expired attributes")
    end
    load_columns(s, obj)
    return key and values[key] or nil
  end
  local rel = attr.relationship:resolve()
  local st = state_of(obj)
  if st == "transient" or st == "pending" then
    if rel.uselist then return collections.initialized(obj, rel) end
    return nil
  end
  if rel.lazy == "raise" then
    raise("InvalidRequestError", ("%s.%s is lazy = \"raise\": it is never loaded on access; load it with "
      .. "argent.selectinload(%s.%s) or argent.joinedload(%s.%s) in the query"):format(mapper.name, key,
      mapper.name, key, mapper.name, key))
  end
  if s == nil or s:_is_closed() then detached_error(obj, ("relationship '%s.%s'"):format(mapper.name, key)) end
  if rel.lazy == "noload" then
    if rel.uselist then return store_collection(obj, rel, {}) end
    set_raw(obj, key, false)
    return nil
  end
  local _, _, _, _, unloaded = internals(obj)
  if unloaded then
    -- the object is expired: read it first (an error if the row is gone), as
    -- SQLAlchemy does (its expired primary key is needed for the load).
    -- Not for values the database computed at the insert (not expired by
    -- the program) unless the load joins on them.
    local computed = computed_columns(mapper)
    for k in pairs(unloaded) do
      if not computed[k] then
        load_columns(s, obj)
        break
      end
    end
    local _, _, _, _, still = internals(obj)
    for _, k in ipairs(rel.local_keys) do
      if still and still[k] then
        load_columns(s, obj)
        break
      end
    end
  end
  return lazy_select(s, obj, rel)
end

loading.load_hook = load_hook

--- Loads obj's unloaded (expired) columns now.
function loading.load_now(obj) load_hook(obj, false) end

-- ---------------------------------------------------------------- eager loading

local BATCH = 500 -- keys per IN (...) of selectin loading, as SQLAlchemy

-- selectin: loads rel for every object of parents (one IN query per batch
-- of 500 keys); returns the targets when `want` (for nested paths).
local function selectin(s, rel, parents, want)
  local T = rel:target_model()
  local tm = rawget(T, "__mapper__")
  local out, seen = {}, {}
  local function emit(o)
    if want and o and not seen[o] then
      seen[o] = true
      out[#out + 1] = o
    end
  end
  if rel.direction == "manytoone" then
    local bucket = s:_bucket(T)
    local want, wanted = {}, {}
    local simple = #tm.primary_key == 1 and rel.remote_keys[1] == tm.primary_key[1]
    for _, p in ipairs(parents) do
      if raw(p, rel.key) == nil then
        local vals = values_of(p, rel.local_keys)
        if vals and not wanted[vals[1]] and not (simple and bucket[vals[1]]) then
          wanted[vals[1]] = true
          want[#want + 1] = vals[1]
        end
      end
    end
    local by_key = {}
    local rcol = tm.attrs[rel.remote_keys[1]].column
    for i = 1, #want, BATCH do
      local batch = compat.move(want, i, math.min(i + BATCH - 1, #want), 1, {})
      for _, o in ipairs(fetch(s, T, sql.select(T):where(rcol:in_(batch)))) do
        by_key[internals(o)[rel.remote_keys[1]]] = o
      end
    end
    for _, p in ipairs(parents) do
      local v = raw(p, rel.key)
      if v == nil then
        local vals = values_of(p, rel.local_keys)
        v = vals and (by_key[vals[1]] or (simple and bucket[vals[1]])) or false
        set_raw(p, rel.key, v or false)
      end
      emit(v or nil)
    end
    return out
  end
  -- one-to-many and many-to-many: group the targets by the parent's key
  local keys, by_parent = {}, {}
  local lkey = rel.local_keys[1]
  for _, p in ipairs(parents) do
    local c = raw(p, rel.key)
    if c ~= nil then
      if not want then -- (nothing to collect)
      elseif rel.uselist then for _, o in ipairs(c) do emit(o) end else emit(c or nil) end
    else
      local k = internals(p)[lkey]
      if k ~= nil and not by_parent[k] then
        by_parent[k] = {}
        keys[#keys + 1] = k
      end
    end
  end
  for i = 1, #keys, BATCH do
    local batch = compat.move(keys, i, math.min(i + BATCH - 1, #keys), 1, {})
    if rel.direction == "manytomany" then
      local sec = rel.secondary_table
      local parent_col = sec.c[rel.sec_local[1]]
      local stmt = sql.select(T, parent_col:label("argent_parent"))
        :select_from(T):join(sec, sec.c[rel.sec_remote[1]]:eq(tm.attrs[rel.remote_keys[1]].column))
        :where(parent_col:in_(batch))
      stmt = stmt:order_by(unpack(rel.order_cols or attr_cols(tm, tm.primary_key)))
      local cols = compat.move(tm.columns, 1, #tm.columns, 1, {})
      cols[#cols + 1] = false
      local sp = spec_for(s, T, cols)
      local res = s:_connection():execute(stmt)
      local n = #cols
      while corm.step(res) do
        local o = corm.row_instance(res, sp)
        local list = by_parent[corm.column(res, n)]
        if list and o then list[#list + 1] = o end
      end
    else
      local rcol = tm.attrs[rel.remote_keys[1]].column
      local stmt = sql.select(T):where(rcol:in_(batch))
      stmt = stmt:order_by(unpack(rel.order_cols or attr_cols(tm, tm.primary_key)))
      local rkey = rel.remote_keys[1]
      for _, o in ipairs(fetch(s, T, stmt)) do
        local list = by_parent[values_of_obj(o)[rkey]]
        if list then list[#list + 1] = o end
      end
    end
  end
  for _, p in ipairs(parents) do
    local pv = values_of_obj(p)
    if pv[rel.key] == nil then
      local k = pv[lkey]
      local list = k ~= nil and by_parent[k] or {}
      if rel.uselist then
        store_collection(p, rel, list)
      else
        set_raw(p, rel.key, list[1] or false)
        if list[1] then set_back_refs(p, rel, {list[1]}) end
      end
      if want then for _, o in ipairs(list) do emit(o) end end
    end
  end
  return out
end

-- ---------------------------------------------------------------- options

local Option = {__name = "argent.LoaderOption"}
Option.__index = Option

local function check_rel(v, fname)
  if not relationships.is_relationship(v) or not v.parent then
    raise("ArgumentError", ("%s: argument must be a model's relationship attribute, as User.posts, got %s")
      :format(fname, describe(v)))
  end
  return v
end

local function option(strategy, fname)
  return function(prev, rel)
    if getmetatable(prev) ~= Option then prev, rel = nil, prev end
    check_rel(rel, fname)
    local path = {}
    if prev then
      for i, step in ipairs(prev.path) do path[i] = step end
      local last = path[#path].rel:resolve()
      if rel.parent ~= last:target_model() then
        raise("ArgumentError", ("%s: %s.%s does not continue the path: it starts from %s, the path ends at %s")
          :format(fname, rel.parent.__name, rel.key, rel.parent.__name, last:target_model().__name))
      end
    end
    path[#path + 1] = {rel = rel, strategy = strategy}
    return setmetatable({path = path}, Option)
  end
end

--- argent.selectinload(User.posts) [:selectinload(Post.comments)] ...
loading.selectinload = option("selectin", "selectinload")
--- argent.joinedload(User.posts) [:joinedload(...)] ...
loading.joinedload = option("joined", "joinedload")
Option.selectinload = loading.selectinload
Option.joinedload = loading.joinedload

function loading.is_option(v) return getmetatable(v) == Option end

-- Applies a loader strategy for rel on parents; returns the targets.
-- Loads rel on parents; returns the targets when `want` (a next step needs them).
-- After the main query, "joined" runs as selectin: the rows are already
-- read; a joined first step is done by the query itself (see joined_plan).
local function apply(s, rel, parents, want)
  rel:resolve()
  if #parents == 0 then return {} end
  return selectin(s, rel, parents, want)
end

-- Does model have relationships loaded eagerly by default?
local function has_eager(model)
  local mapper = rawget(model, "__mapper__")
  if mapper.has_eager == nil then
    mapper.has_eager = false
    for _, r in pairs(mapper.relationships) do
      if r.lazy == "selectin" or r.lazy == "joined" then mapper.has_eager = true end
    end
  end
  return mapper.has_eager
end

-- The default eager relationships of model (lazy = "selectin" / "joined"),
-- followed on their targets too (not twice along one path).
local function default_eager(s, model, objs, depth, seen)
  if depth > 4 or #objs == 0 then return end
  local mapper = rawget(model, "__mapper__")
  for _, key in ipairs(mapper.relationship_keys) do
    local rel = mapper.relationships[key]
    if (rel.lazy == "selectin" or rel.lazy == "joined") and not seen[rel] then
      rel:resolve()
      seen[rel] = true
      local T = rel:target_model()
      local targets = apply(s, rel, objs, has_eager(T))
      default_eager(s, T, targets, depth + 1, seen)
      seen[rel] = nil
    end
  end
end

--- Runs the eager loads of a query's options (and of relationships whose
--- lazy is selectin / joined) on the loaded objects.
function loading.eager(s, model, objs, options, done)
  if not options or #options == 0 then
    if has_eager(model) then default_eager(s, model, objs, 1, {}) end
    return
  end
  for _, opt in ipairs(options) do
    local level = objs
    local n = #opt.path
    for i, step in ipairs(opt.path) do
      if not (done and i == 1 and done[step.rel]) then
        level = apply(s, step.rel, level, i < n)
      else
        local out = {}
        for _, p in ipairs(level) do
          local v = raw(p, step.rel.key)
          if is_collection(v) then for _, o in ipairs(v) do out[#out + 1] = o end
          elseif v then out[#out + 1] = v end
        end
        level = out
      end
    end
  end
  if has_eager(model) then default_eager(s, model, objs, 1, {}) end
end

-- ---------------------------------------------------------------- joined loading

--- The plan of a joined eager load of the query's first-level joined options
--- and lazy = "joined" relationships (one LEFT OUTER JOIN each): nil when none.
--- Returns {joins = {{rel =, model =, first = column position}}, ncols = parent column count}.
function loading.joined_plan(model, options)
  local mapper = rawget(model, "__mapper__")
  local rels, seen = {}, {}
  for _, opt in ipairs(options or {}) do
    local step = opt.path[1]
    if step.strategy == "joined" and not seen[step.rel] then
      seen[step.rel] = true
      rels[#rels + 1] = step.rel
    end
  end
  for _, key in ipairs(mapper.relationship_keys) do
    local rel = mapper.relationships[key]
    if rel.lazy == "joined" and not seen[rel] then
      seen[rel] = true
      rels[#rels + 1] = rel
    end
  end
  if #rels == 0 then return nil end
  local plan = {joins = {}, ncols = #mapper.columns}
  local pos = #mapper.columns
  for _, rel in ipairs(rels) do
    rel:resolve()
    local T = rel:target_model()
    if T == model or rel.direction == "manytomany" then
      -- one table twice needs an alias (self-referential), and the
      -- association table a second join: these load by selectin instead
      plan.fallback = plan.fallback or {}
      plan.fallback[#plan.fallback + 1] = rel
    else
      local dup = false
      for _, j in ipairs(plan.joins) do if j.model == T then dup = true end end
      if dup then
        plan.fallback = plan.fallback or {}
        plan.fallback[#plan.fallback + 1] = rel
      else
        plan.joins[#plan.joins + 1] = {rel = rel, model = T, first = pos + 1}
        pos = pos + #rawget(T, "__mapper__").columns
      end
    end
  end
  return plan
end

--- The statement of a joined load: the query's FROM ... WHERE ... with each
--- join's target LEFT OUTER JOINed and its columns added.
function loading.joined_statement(model, plan, from, build)
  local cols = {model}
  for _, j in ipairs(plan.joins) do cols[#cols + 1] = j.model end
  local stmt = sql.select(unpack(cols)):select_from(from)
  for _, j in ipairs(plan.joins) do
    local rel = j.rel
    local pm, tm = rawget(model, "__mapper__"), rawget(j.model, "__mapper__")
    local on = attr_cols(pm, rel.local_keys)[1]:eq(attr_cols(tm, rel.remote_keys)[1])
    stmt = stmt:outerjoin(j.model, on)
  end
  stmt = build(stmt)
  -- children in a stable order after the parents' own order
  local order = {}
  for _, j in ipairs(plan.joins) do
    local tm = rawget(j.model, "__mapper__")
    for _, c in ipairs(j.rel.order_cols or attr_cols(tm, tm.primary_key)) do order[#order + 1] = c end
  end
  return stmt, order
end

--- Reads the rows of a joined load: the parents in order (each once), their
--- joined relationships filled.
function loading.joined_rows(s, model, plan, res)
  local mapper = rawget(model, "__mapper__")
  local keys = {}
  for i, k in ipairs(mapper.columns) do keys[i] = k end
  local pspec = spec_for(s, model, keys)
  local jspecs, lists = {}, {}
  for ji, j in ipairs(plan.joins) do
    local tm = rawget(j.model, "__mapper__")
    local k2 = {}
    for i = 1, j.first - 1 do k2[i] = false end
    for i, k in ipairs(tm.columns) do k2[j.first + i - 1] = k end
    jspecs[ji] = spec_for(s, j.model, k2)
    lists[ji] = {}
  end
  local parents, seen = {}, {}
  local fresh = {} -- parents whose joined relationships this query fills
  while corm.step(res) do
    local p = corm.row_instance(res, pspec)
    if p and not seen[p] then
      seen[p] = true
      parents[#parents + 1] = p
      for ji, j in ipairs(plan.joins) do
        if raw(p, j.rel.key) == nil then
          fresh[ji] = fresh[ji] or {}
          fresh[ji][p] = {}
        end
      end
    end
    if p then
      for ji, j in ipairs(plan.joins) do
        local acc = fresh[ji] and fresh[ji][p]
        if acc then
          local o = corm.row_instance(res, jspecs[ji])
          if o and not acc[o] then
            acc[o] = true
            acc[#acc + 1] = o
          end
        end
      end
    end
  end
  for ji, j in ipairs(plan.joins) do
    local rel = j.rel
    for p, acc in pairs(fresh[ji] or {}) do
      local list = {}
      for i = 1, #acc do list[i] = acc[i] end
      if rel.uselist then
        store_collection(p, rel, list)
      else
        set_raw(p, rel.key, list[1] or false)
        if list[1] and rel.direction == "onetomany" then set_back_refs(p, rel, {list[1]}) end
      end
    end
  end
  return parents
end

return loading
