-- argent.session: the Session (API.md section 7) -- sessionmaker, the unit
-- of work (add / delete / flush / commit / rollback), the identity map, get
-- and query.  Written in Lua on top of Core and the instance primitives of
-- argent.core.orm (src/lua/instance.c): an instance's values, dirty set and
-- session slot are read and written through core.orm.internals, so loading a
-- row never marks it dirty, and a flush sends only the columns that changed.
--
-- A session holds one connection (taken from the engine at its first flush or
-- query) and one transaction on it, opened lazily with conn:begin() and
-- ended by commit / rollback, which also give the connection back to the pool.
--
-- The identity map is weak-valued (model -> {primary-key value -> instance}):
-- the session keeps no row alive that the program dropped.  Pending objects
-- (added, not yet flushed) and objects marked for deletion are held strongly.
-- Dirty persistent objects are found at flush by walking the identity map, so
-- a changed object the program no longer references is not written (it can no
-- longer be read either).
--
-- Values the database computes (column defaults, SQL expressions written to
-- attributes) are read back right after the INSERT or UPDATE (one SELECT of
-- those columns).  A rollback reads again the persistent objects that were
-- changed since the last commit (eagerly: the instance proxy has no hook for
-- loading on access yet).
--
-- Gaps of this slice: expire_on_commit = true keeps the loaded values (no
-- expiry and reload on access yet); no relationship loading or cascades; one
-- INSERT per row (not executemany), so generated keys come back per row; a
-- persistent object's primary key cannot be changed (refused at flush).
local core = require "argent.core"
local sql = require "argent.sql"

local corm = core.orm
local raise = core.error
local internals, set_state, set_session, clear_dirty, state_of, is_instance =
  corm.internals, corm.set_state, corm.set_session, corm.clear_dirty, corm.state, corm.is_instance

local session = {}

local Session = {__name = "argent.Session"}
Session.__index = Session

local function describe(v)
  local mt = getmetatable(v)
  if type(mt) == "string" then return mt end
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

local function mapper_of(obj)
  local _, _, mapper = internals(obj)
  return mapper
end

local function is_expression(v)
  return (type(v) == "userdata" or type(v) == "table") and core.sql.tag(v) ~= nil
end

-- The identity map key of a primary key: the value itself for a one-column
-- key, else the values joined (tostring) with a separator no value contains.
local function key_of(mapper, values)
  local pk = mapper.primary_key
  if #pk == 1 then return values[pk[1]] end
  local parts = {}
  for i, k in ipairs(pk) do
    local v = values[k]
    if v == nil then return nil end
    parts[i] = type(v) .. ":" .. tostring(v)
  end
  return table.concat(parts, "\0")
end

-- WHERE clause terms selecting the row of `values` by primary key.
local function pk_terms(mapper, values)
  local terms = {}
  for i, k in ipairs(mapper.primary_key) do
    local v = values[k]
    if v == nil then
      raise("InvalidRequestError", ("%s has no value for its primary key '%s'"):format(mapper.name, k))
    end
    terms[i] = mapper.attrs[k].column:eq(v)
  end
  return table.unpack(terms)
end

-- ---------------------------------------------------------------- session basics

local function check_open(self, what)
  if self._closed then
    raise("InvalidRequestError", ("Session:%s: this session is closed; make a new one with the sessionmaker")
      :format(what))
  end
end

local function identity_bucket(self, model)
  local b = self._identity[model]
  if not b then
    b = setmetatable({}, {__mode = "v"})
    self._identity[model] = b
  end
  return b
end

-- The connection, with a transaction open on it.
local function connection(self)
  if not self._conn then self._conn = self._engine:connect() end
  if not self._tx then self._tx = self._conn:begin() end
  return self._conn
end

-- Gives the connection back to the pool between transactions (the next
-- flush or query takes one again), so that an idle session holds none.
local function release(self)
  local conn = self._conn
  if conn and not self._tx then
    self._conn = nil
    conn:close()
  end
end

local function check_instance(self, obj, what)
  if not is_instance(obj) then
    raise("ArgumentError", ("Session:%s: expected an instance of a model (User{...}), got %s")
      :format(what, describe(obj)))
  end
  local _, _, _, owner = internals(obj)
  if owner ~= nil and owner ~= self then
    raise("InvalidRequestError", ("Session:%s: %s is already attached to another session; close or expunge it there "
      .. "first"):format(what, tostring(obj)))
  end
end

--- s:add(obj): a transient object becomes pending (inserted at the next flush);
--- a detached one is attached again (persistent).
function Session:add(obj)
  check_open(self, "add")
  check_instance(self, obj, "add")
  local st = state_of(obj)
  if st == "transient" then
    if not self._pending_set[obj] then
      self._pending_set[obj] = true
      self._pending[#self._pending + 1] = obj
    end
    set_state(obj, "pending")
    set_session(obj, self)
  elseif st == "detached" then
    local values, _, mapper = internals(obj)
    local key = key_of(mapper, values)
    if key == nil then
      raise("InvalidRequestError", ("Session:add: detached %s has no primary key"):format(tostring(obj)))
    end
    local bucket = identity_bucket(self, mapper.class)
    local there = bucket[key]
    if there ~= nil and there ~= obj then
      raise("InvalidRequestError", ("Session:add: another %s with the same primary key is already in this session")
        :format(mapper.name))
    end
    bucket[key] = obj
    set_state(obj, "persistent")
    set_session(obj, self)
  elseif st == "deleted" then
    raise("InvalidRequestError", ("Session:add: %s was deleted in this session"):format(tostring(obj)))
  end
  -- pending or persistent in this session: nothing to do
end

--- s:add_all{obj, ...}
function Session:add_all(list)
  check_open(self, "add_all")
  if type(list) ~= "table" or getmetatable(list) ~= nil then
    raise("ArgumentError", "Session:add_all: expected a list of instances, got " .. describe(list))
  end
  for _, obj in ipairs(list) do check_instance(self, obj, "add_all") end -- all or nothing
  for _, obj in ipairs(list) do self:add(obj) end
end

--- s:delete(obj): a persistent object is deleted at the next flush; a pending one is just expunged.
function Session:delete(obj)
  check_open(self, "delete")
  check_instance(self, obj, "delete")
  local st = state_of(obj)
  if st == "pending" then
    self:expunge(obj)
  elseif st == "persistent" then
    local _, _, _, owner = internals(obj)
    if owner ~= self then
      raise("InvalidRequestError", ("Session:delete: %s is not in this session"):format(tostring(obj)))
    end
    if not self._deleting_set[obj] then
      self._deleting_set[obj] = true
      self._deleting[#self._deleting + 1] = obj
    end
  elseif st == "transient" or st == "detached" then
    raise("InvalidRequestError", ("Session:delete: %s is %s, not persistent in this session"):format(tostring(obj), st))
  end
end

--- s:expunge(obj): the object leaves the session (pending -> transient, persistent -> detached).
function Session:expunge(obj)
  check_open(self, "expunge")
  check_instance(self, obj, "expunge")
  local st = state_of(obj)
  if st == "pending" then
    self._pending_set[obj] = nil
    for i, o in ipairs(self._pending) do
      if o == obj then table.remove(self._pending, i) break end
    end
    set_state(obj, "transient")
  elseif st == "persistent" or st == "deleted" then
    local values, _, mapper = internals(obj)
    local bucket = identity_bucket(self, mapper.class)
    local key = key_of(mapper, values)
    if key ~= nil and bucket[key] == obj then bucket[key] = nil end
    set_state(obj, "detached")
  end
  set_session(obj, nil)
end

-- ---------------------------------------------------------------- loading rows

-- The instance for a row (keyed by SQL column name) of model: the one already
-- in the identity map, else a new persistent instance with the row's values.
local function load_row(self, model, row)
  local mapper = rawget(model, "__mapper__")
  local fresh = {}
  for _, k in ipairs(mapper.columns) do fresh[k] = row[mapper.attrs[k].column.name] end
  local key = key_of(mapper, fresh)
  local bucket = identity_bucket(self, model)
  local obj = key ~= nil and bucket[key] or nil
  if obj ~= nil then return obj end
  obj = corm.construct(model, {})
  local values = internals(obj)
  for k, v in pairs(fresh) do values[k] = v end
  set_state(obj, "persistent")
  set_session(obj, self)
  if key ~= nil then bucket[key] = obj end
  return obj
end

local function load_result(self, model, res)
  local out = {}
  for row in res:rows() do out[#out + 1] = load_row(self, model, row) end
  return out
end

local function check_model(model, what)
  if not (type(model) == "table" and type(rawget(model, "__mapper__")) == "table") then
    raise("ArgumentError", ("Session:%s: expected a model class (made with Base:model), got %s")
      :format(what, describe(model)))
  end
  return rawget(model, "__mapper__")
end

--- s:get(Model, id) -> the instance or nil: the identity map first, then one SELECT.
--- id is the primary key's value, or for a composite key a list in key order.
function Session:get(model, id)
  check_open(self, "get")
  local mapper = check_model(model, "get")
  local pk = mapper.primary_key
  local values = {}
  if #pk == 1 then
    if type(id) == "table" and getmetatable(id) == nil then id = id[1] end
    values[pk[1]] = id
  else
    if type(id) ~= "table" or #id ~= #pk then
      raise("ArgumentError", ("Session:get: %s has a %d-column primary key; pass its values as a list")
        :format(mapper.name, #pk))
    end
    for i, k in ipairs(pk) do values[k] = id[i] end
  end
  if id == nil then raise("ArgumentError", "Session:get: the primary key value is nil") end
  local key = key_of(mapper, values)
  local obj = identity_bucket(self, model)[key]
  if obj ~= nil and not self._deleting_set[obj] then return obj end
  if self._autoflush then self:flush() end
  local res = connection(self):execute(sql.select(model):where(pk_terms(mapper, values)))
  local list = load_result(self, model, res)
  local found = list[1]
  if found ~= nil and (state_of(found) == "deleted" or self._deleting_set[found]) then return nil end
  return found
end

-- ---------------------------------------------------------------- flush

-- The tables of the given mappers, parents before children (each metadata's
-- foreign-key order; metadatas in the order first met).
local function table_rank(mappers)
  local rank, n, seen_meta = {}, 0, {}
  for _, m in ipairs(mappers) do
    local meta = m.base.metadata
    if not seen_meta[meta] then
      seen_meta[meta] = true
      for _, t in ipairs(meta:sorted_tables()) do
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
  table.sort(groups, function(a, b) return rank[a.mapper.table] < rank[b.mapper.table] end)
  return groups
end

-- Reads back the columns `keys` of obj's row (values the database computed:
-- SQL expressions written to attributes, SQL defaults) without marking them dirty.
local function fetch_columns(conn, mapper, values, keys)
  if #keys == 0 then return end
  local cols = {}
  for i, k in ipairs(keys) do cols[i] = mapper.attrs[k].column end
  local row = conn:execute(sql.select(table.unpack(cols)):where(pk_terms(mapper, values))):first()
  if row then
    for _, k in ipairs(keys) do values[k] = row[mapper.attrs[k].column.name] end
  end
end

local function insert_one(self, conn, mapper, obj)
  local values = internals(obj)
  local row, refetch = {}, {}
  for _, k in ipairs(mapper.columns) do
    local v = values[k]
    if v ~= nil then
      row[k] = v
      if is_expression(v) then refetch[#refetch + 1] = k end
    else
      local info = core.sql.info(mapper.attrs[k].column)
      if (info.default ~= nil or info.server_default ~= nil) and not info.primary_key then
        refetch[#refetch + 1] = k
      end
    end
  end
  local res = conn:execute(sql.insert(mapper.table):values(row))
  local pk = mapper.primary_key
  if #pk == 1 and values[pk[1]] == nil then
    local id = res.lastrowid
    if id == nil then
      raise("InvalidRequestError", ("flush: the database gave no primary key for the new %s row"):format(mapper.name))
    end
    values[pk[1]] = id
  end
  fetch_columns(conn, mapper, values, refetch)
  clear_dirty(obj)
  set_state(obj, "persistent")
  identity_bucket(self, mapper.class)[key_of(mapper, values)] = obj
  self._inserted[#self._inserted + 1] = obj
end

local function update_one(self, conn, mapper, obj)
  local values, dirty = internals(obj)
  local set, refetch, any = {}, {}, false
  local is_pk = {}
  for _, k in ipairs(mapper.primary_key) do is_pk[k] = true end
  for _, k in ipairs(mapper.columns) do
    if dirty[k] and not is_pk[k] then -- (a changed key was refused before)
      local v = values[k]
      if v == nil then v = core.null end
      set[k] = v
      any = true
      if is_expression(values[k]) then refetch[#refetch + 1] = k end
    end
  end
  if any then
    conn:execute(sql.update(mapper.table):where(pk_terms(mapper, values)):values(set))
    self._updated[#self._updated + 1] = obj
    fetch_columns(conn, mapper, values, refetch)
  end
  clear_dirty(obj)
end

--- s:flush(): INSERTs of pending objects (parents first), UPDATEs of the
--- changed columns of persistent objects, DELETEs (children first).
function Session:flush()
  check_open(self, "flush")
  if self._flushing then return end
  -- the dirty persistent objects (walk the identity map)
  local dirty_objs = {}
  for _, bucket in pairs(self._identity) do
    for _, obj in pairs(bucket) do
      local values, dirty, mapper = internals(obj)
      if next(dirty) ~= nil and state_of(obj) == "persistent" and not self._deleting_set[obj] then
        -- checked before anything is written, so that the flush fails whole;
        -- the identity map's key is the row's primary key as loaded
        for _, k in ipairs(mapper.primary_key) do
          if dirty[k] and bucket[key_of(mapper, values)] ~= obj then
            raise("InvalidRequestError", ("flush: the primary key '%s' of persistent %s was changed; changing a "
              .. "row's primary key is not supported (delete the object and add a new one)"):format(k, mapper.name))
          end
        end
        dirty_objs[#dirty_objs + 1] = obj
      end
    end
  end
  if #self._pending == 0 and #dirty_objs == 0 and #self._deleting == 0 then return end
  self._flushing = true
  local ok, err = pcall(function()
    local conn = connection(self)
    local pending = self._pending
    self._pending, self._pending_set = {}, {}
    for gi, g in ipairs(group_by_table(pending)) do
      for oi, obj in ipairs(g.objs) do
        local ok2, e2 = pcall(insert_one, self, conn, g.mapper, obj)
        if not ok2 then
          -- what was not inserted stays pending
          local rest = {}
          local groups = group_by_table(pending)
          for j = gi, #groups do
            for i = (j == gi and oi or 1), #groups[j].objs do rest[#rest + 1] = groups[j].objs[i] end
          end
          for _, o in ipairs(rest) do
            self._pending[#self._pending + 1] = o
            self._pending_set[o] = true
          end
          error(e2, 0)
        end
      end
    end
    for _, g in ipairs(group_by_table(dirty_objs)) do
      for _, obj in ipairs(g.objs) do update_one(self, conn, g.mapper, obj) end
    end
    local deleting = self._deleting
    local groups = group_by_table(deleting)
    for gi = #groups, 1, -1 do
      local g = groups[gi]
      for _, obj in ipairs(g.objs) do
        local values = internals(obj)
        conn:execute(sql.delete(g.mapper.table):where(pk_terms(g.mapper, values)))
        local bucket = identity_bucket(self, g.mapper.class)
        local key = key_of(g.mapper, values)
        if bucket[key] == obj then bucket[key] = nil end
        set_state(obj, "deleted")
        self._deleted[#self._deleted + 1] = obj
        self._deleting_set[obj] = nil
      end
    end
    self._deleting = {}
  end)
  self._flushing = false
  if not ok then error(err, 0) end
end

-- ---------------------------------------------------------------- transactions

--- s:commit(): flush, then commit the transaction.
function Session:commit()
  check_open(self, "commit")
  self:flush()
  if self._tx then
    local tx = self._tx
    self._tx = nil
    tx:commit()
  end
  release(self)
  for _, obj in ipairs(self._deleted) do
    set_state(obj, "detached")
    set_session(obj, nil)
  end
  self._deleted, self._inserted, self._updated = {}, {}, {}
end

-- Reads the rows of objs again (after a rollback: the values the database
-- kept), outside any transaction; an object whose row is gone is detached.
local function reload(self, objs)
  if #objs == 0 then return end
  if not self._conn then self._conn = self._engine:connect() end
  local conn = self._conn
  for _, obj in ipairs(objs) do
    local values, _, mapper = internals(obj)
    local row = conn:execute(sql.select(mapper.class):where(pk_terms(mapper, values))):first()
    if row then
      for _, k in ipairs(mapper.columns) do values[k] = row[mapper.attrs[k].column.name] end
      clear_dirty(obj)
    else
      local bucket = identity_bucket(self, mapper.class)
      local key = key_of(mapper, values)
      if bucket[key] == obj then bucket[key] = nil end
      set_state(obj, "detached")
      set_session(obj, nil)
    end
  end
end

--- s:rollback(): roll the transaction back; pending objects and the objects
--- inserted in it become transient, objects deleted in it persistent again;
--- persistent objects changed since the last commit (flushed or not) are read
--- again, so that they hold what the database kept (a SELECT each).
function Session:rollback()
  check_open(self, "rollback")
  self:_rollback(true)
end

function Session:_rollback(refresh)
  if self._tx then
    local tx = self._tx
    self._tx = nil
    tx:rollback()
  end
  for _, obj in ipairs(self._pending) do
    set_state(obj, "transient")
    set_session(obj, nil)
  end
  for _, obj in ipairs(self._inserted) do
    local values, _, mapper = internals(obj)
    local bucket = identity_bucket(self, mapper.class)
    local key = key_of(mapper, values)
    if key ~= nil and bucket[key] == obj then bucket[key] = nil end
    set_state(obj, "transient")
    set_session(obj, nil)
  end
  for _, obj in ipairs(self._deleted) do
    local values, _, mapper = internals(obj)
    identity_bucket(self, mapper.class)[key_of(mapper, values)] = obj
    set_state(obj, "persistent")
  end
  local stale, seen = {}, {}
  if refresh then
    local function mark(obj)
      if not seen[obj] and state_of(obj) == "persistent" then
        seen[obj] = true
        stale[#stale + 1] = obj
      end
    end
    for _, obj in ipairs(self._updated) do mark(obj) end
    for _, obj in ipairs(self._deleted) do mark(obj) end
    for _, bucket in pairs(self._identity) do
      for key, obj in pairs(bucket) do
        local values, dirty, mapper = internals(obj)
        if next(dirty) ~= nil then
          -- a (refused) change of a one-column key: the map's key is the row's
          local pk = mapper.primary_key
          if #pk == 1 and dirty[pk[1]] then values[pk[1]] = key end
          mark(obj)
        end
      end
    end
  end
  self._pending, self._pending_set, self._inserted, self._deleted, self._updated = {}, {}, {}, {}, {}
  self._deleting, self._deleting_set = {}, {}
  local ok, err = pcall(reload, self, stale)
  release(self)
  if not ok then error(err, 0) end
end

--- s:close(): rolls back what was not committed, detaches every object and
--- gives the connection back.  Closing twice is harmless.
function Session:close()
  if self._closed then return end
  local ok, err = pcall(self._rollback, self, false)
  for _, bucket in pairs(self._identity) do
    for _, obj in pairs(bucket) do
      set_state(obj, "detached")
      set_session(obj, nil)
    end
  end
  self._identity = {}
  self._closed = true
  local conn = self._conn
  self._conn = nil
  if conn then conn:close() end
  if not ok then error(err, 0) end
end

Session.__close = Session.close

--- s:execute(stmt, params): a Core statement through the session's connection and transaction.
function Session:execute(stmt, params)
  check_open(self, "execute")
  if self._autoflush then self:flush() end
  return connection(self):execute(stmt, params)
end

--- s:connection(): the session's connection (transaction begun).
function Session:connection()
  check_open(self, "connection")
  return connection(self)
end

-- ---------------------------------------------------------------- query

local Query = {__name = "argent.Query"}
Query.__index = Query

--- s:query(Model) -> a Query (each method returns a new Query).
function Session:query(model)
  check_open(self, "query")
  check_model(model, "query")
  return setmetatable({session = self, model = model, stmt = sql.select(model)}, Query)
end

local function derive(q, stmt)
  return setmetatable({session = q.session, model = q.model, stmt = stmt}, Query)
end

local function add_where(q, terms)
  if #terms == 0 then return q end
  return derive(q, q.stmt:where(table.unpack(terms)))
end

function Query:where(...)
  return add_where(self, {...})
end
Query.filter = Query.where

--- q:filter_by{attr = value, ...}: equalities on attributes, ANDed.
function Query:filter_by(t)
  if type(t) ~= "table" or getmetatable(t) ~= nil then
    raise("ArgumentError", "Query:filter_by: expected a table of attribute = value, got " .. describe(t))
  end
  local mapper = rawget(self.model, "__mapper__")
  local keys = {}
  for k in pairs(t) do
    local a = type(k) == "string" and mapper.attrs[k]
    if not a or not a.column then
      raise("ArgumentError", ("Query:filter_by: %s has no column attribute '%s'"):format(mapper.name, tostring(k)))
    end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  local terms = {}
  for i, k in ipairs(keys) do terms[i] = mapper.attrs[k].column:eq(t[k]) end
  return add_where(self, terms)
end

function Query:order_by(...) return derive(self, self.stmt:order_by(...)) end
function Query:limit(n) return derive(self, self.stmt:limit(n)) end
function Query:offset(n) return derive(self, self.stmt:offset(n)) end

local function run(q, stmt)
  local s = q.session
  check_open(s, "query")
  if s._autoflush then s:flush() end
  return load_result(s, q.model, connection(s):execute(stmt))
end

--- q:all() -> a list of instances (one object per row, the identity map's).
function Query:all() return run(self, self.stmt) end

--- q:first() -> the first instance or nil (LIMIT 1).
function Query:first() return run(self, self.stmt:limit(1))[1] end

--- q:one() -> exactly one instance (NoResultFound / MultipleResultsFound otherwise).
function Query:one()
  local list = run(self, self.stmt) -- (no LIMIT 2: it would replace the query's own limit)
  if #list == 0 then raise("NoResultFound", "Query:one: no row was found") end
  if #list > 1 then raise("MultipleResultsFound", "Query:one: more than one row was found") end
  return list[1]
end

--- q:one_or_none() -> the instance or nil (MultipleResultsFound if several).
function Query:one_or_none()
  local list = run(self, self.stmt) -- (no LIMIT 2: it would replace the query's own limit)
  if #list > 1 then raise("MultipleResultsFound", "Query:one_or_none: more than one row was found") end
  return list[1]
end

--- q:count() -> the number of rows the query's conditions match.
function Query:count()
  local s = self.session
  check_open(s, "query")
  if s._autoflush then s:flush() end
  -- over the query as a subquery, so that limit / offset count too
  local stmt = sql.select(sql.func.count()):select_from(self.stmt:subquery("argent_count"))
  return connection(s):execute(stmt):scalar()
end

-- ---------------------------------------------------------------- sessionmaker

local OPTIONS = {expire_on_commit = true, autoflush = true}

--- sessionmaker(engine, {expire_on_commit = bool, autoflush = bool}) -> a factory; factory() -> a Session.
function session.sessionmaker(engine, opts)
  if engine == nil or type(engine) ~= "userdata" and type(engine) ~= "table" or not engine.connect then
    raise("ArgumentError", "sessionmaker: argument 1 must be an engine (argent.create_engine), got "
      .. describe(engine))
  end
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    raise("ArgumentError", "sessionmaker: argument 2 must be an options table, got " .. describe(opts))
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      raise("ArgumentError", ("sessionmaker: unknown option '%s' (known: expire_on_commit, autoflush)")
        :format(tostring(k)))
    end
    if type(v) ~= "boolean" then
      raise("ArgumentError", ("sessionmaker: option %s must be a boolean, got %s"):format(k, describe(v)))
    end
  end
  local autoflush = opts.autoflush ~= false
  local expire = opts.expire_on_commit ~= false
  local factory = {engine = engine}
  return setmetatable(factory, {
    __name = "argent.sessionmaker",
    __call = function()
      return setmetatable({_engine = engine, _autoflush = autoflush, _expire_on_commit = expire,
                           _identity = {}, _pending = {}, _pending_set = {}, _deleting = {}, _deleting_set = {},
                           _deleted = {}, _inserted = {}, _updated = {}, _closed = false}, Session)
    end,
  })
end

session.Session = Session
session.Query = Query

return session
