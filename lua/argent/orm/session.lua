-- argent.orm.session: the Session (API.md section 7) -- sessionmaker, add /
-- delete / expunge, get (identity map first), query, scalars, execute,
-- refresh / expire / merge, flush / commit / rollback / close, and the
-- transaction blocks begin / begin_nested.
--
-- A session holds one connection (taken from the engine at its first flush
-- or query) and one transaction on it, opened lazily and ended by commit /
-- rollback, which also give the connection back to the pool.  Its identity
-- map (identity.lua) is weak-valued: the session keeps no row alive that
-- the program dropped; its unit of work (unitofwork.lua) holds new objects,
-- objects to delete and changed objects strongly until the flush, which it
-- runs.  The transaction state machine (src/orm/txstate.c, through
-- core.orm.txstate) decides what may run when: it raises the
-- InvalidRequestError for a closed session, a session whose flush failed,
-- a commit inside begin_nested, and so on.
--
-- A flush that fails rolls the transaction back at once (nothing
-- half-written stays), and the session's objects with it, leaving the
-- session needing s:rollback(), as SQLAlchemy does; inside begin_nested only
-- the savepoint is rolled back.
--
-- The other ORM modules call a few methods whose names start with an
-- underscore (_connection, _bucket, _maybe_autoflush, _check_usable,
-- _is_closed): the session's side of their protocol.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local sql = require "argent.sql"
local loading = require "argent.orm.loading"
local collections = require "argent.orm.collections"
local identity = require "argent.orm.identity"
local unitofwork = require "argent.orm.unitofwork"
local persistence = require "argent.orm.persistence"
local query = require "argent.orm.query"
local mapper_module = require "argent.orm.mapper"

local corm = core.orm
local raise = core.error
local guard = require "argent.guard"
local internals, set_state, set_session, state_of, is_instance =
  corm.internals, corm.set_state, corm.set_session, corm.state, corm.is_instance
local is_collection = collections.is_collection
local pk_terms = persistence.pk_terms

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

-- ---------------------------------------------------------------- session basics

-- The transaction state machine (src/orm/txstate.c, through
-- core.orm.txstate) decides what may run when: it raises the
-- InvalidRequestError for a closed session, a session whose flush failed,
-- a commit inside begin_nested, and so on.
local function check_self(self, what)
  if getmetatable(self) ~= Session then
    raise("ArgumentError", ("Session:%s: argument 'self' must be a session (call it as s:%s(...)), got %s")
      :format(what, what, type(self)))
  end
end

local function check_open(self, what)
  if getmetatable(self) ~= Session or self._dead then -- (_dead: closed; the state machine says so)
    check_self(self, what)
    self._st:check("use", what)
  end
end

local function check_usable(self, what)
  check_self(self, what)
  self._st:check("work", what)
end

function Session:_is_closed() return self._st.state == "closed" end

-- An autoflush, if the session has autoflush and is not flushing already
-- (before a query, a lazy load, a refresh).
function Session:_maybe_autoflush()
  if self._autoflush and not self._st.flushing then self:flush() end
end

-- The identity map's bucket of model (core.orm.load fills it).
function Session:_bucket(model) return self._identity:bucket(model) end

-- Raises unless the session may run SQL now (for query.lua).
function Session:_check_usable(what) check_usable(self, what) end

-- The connection, with a transaction open on it.
function Session:_connection()
  if not self._conn then
    -- a read-only session reads from the engine's replicas (the primary when none answers)
    self._conn = self._readonly and self._engine:connect({readonly = true}) or self._engine:connect()
  end
  if not self._tx then
    self._tx = self._conn:begin()
    self._st:event("begun")
  end
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

-- The related objects of obj along its loaded relationships that cascade `what`.
local function related(obj, what)
  local out = {}
  local values, _, mapper = internals(obj)
  for _, key in ipairs(mapper.relationship_keys) do
    local rel = mapper.relationships[key]
    local v = values[key]
    if v and rel.cascade[what] then
      if is_collection(v) then
        for _, o in ipairs(v) do out[#out + 1] = o end
      elseif is_instance(v) then
        out[#out + 1] = v
      end
    end
  end
  return out
end

-- A detached object joins the session again (persistent).
local function attach(self, obj, what)
  if unitofwork.was_deleted(obj) then
    raise("InvalidRequestError", ("Session:%s: %s was deleted (its row is gone); make a new object instead")
      :format(what, tostring(obj)))
  end
  local values, _, mapper = internals(obj)
  if identity.key(mapper, values) == nil then
    raise("InvalidRequestError", ("Session:%s: detached %s has no primary key"):format(what, tostring(obj)))
  end
  if not self._identity:put(obj) then
    raise("InvalidRequestError", ("Session:%s: another %s with the same primary key is already in this session; "
      .. "use s:merge(obj) to copy its state onto that one"):format(what, mapper.name))
  end
  set_state(obj, "persistent")
  set_session(obj, self)
  if corm.is_dirty(obj) then self._uow:hold(obj) end
end

local function add_one(self, obj, seen, cascaded)
  if seen then
    if seen[obj] and not cascaded then return end
    seen[obj] = true
  end
  local st = state_of(obj)
  if st == "transient" then
    self._uow:add_new(obj)
    set_state(obj, "pending")
    set_session(obj, self)
  elseif st == "persistent" and self._uow:is_deleting(obj) then
    -- added again before the flush: no longer to be deleted (SQLAlchemy)
    self._uow:cancel_delete(obj)
  elseif st == "detached" then
    attach(self, obj, "add")
  elseif st == "deleted" then
    raise("InvalidRequestError", ("Session:add: %s was deleted in this session"):format(tostring(obj)))
  end
  -- cascade save-update along loaded relationships, as SQLAlchemy: from
  -- the object given to add (a new one has related objects only if its
  -- relationships were written), and on through the related objects that
  -- were not in the session (never into one that was)
  if st ~= "transient" or collections.changes(obj) then
    seen = seen or {[obj] = true}
    for _, o in ipairs(related(obj, "save-update")) do
      local _, _, _, owner = internals(o)
      if owner == nil and not seen[o] then add_one(self, o, seen, true) end
    end
  end
end

local add_new = corm.add_new

function Session:add(obj)
  check_open(self, "add")
  -- a new object without relationships written: one call does it all
  if not collections.changes(obj) and add_new(obj, self, self._uow.pending, self._uow.pending_set) then return end
  check_instance(self, obj, "add")
  add_one(self, obj)
end

--- s:add_all{obj, ...}
function Session:add_all(list)
  check_open(self, "add_all")
  if type(list) ~= "table" or getmetatable(list) ~= nil then
    raise("ArgumentError", "Session:add_all: expected a list of instances, got " .. describe(list))
  end
  for _, obj in ipairs(list) do check_instance(self, obj, "add_all") end -- all or nothing
  for _, obj in ipairs(list) do add_one(self, obj) end
end

--- s:delete(obj): a persistent object is deleted at the next flush (a pending one is an error, as in
--- SQLAlchemy: s:expunge(obj) takes it out).
function Session:delete(obj)
  check_open(self, "delete")
  check_instance(self, obj, "delete")
  local st = state_of(obj)
  if st == "persistent" then
    local _, _, _, owner = internals(obj)
    if owner ~= self then
      raise("InvalidRequestError", ("Session:delete: %s is not in this session"):format(tostring(obj)))
    end
    self._uow:delete(obj)
  elseif st == "pending" then
    raise("InvalidRequestError", ("Session:delete: %s is pending (not inserted yet), not persistent; take it out "
      .. "of the session with s:expunge(obj)"):format(tostring(obj)))
  elseif st == "detached" then
    -- (as SQLAlchemy: it joins the session, to be deleted; nothing cascades save-update)
    attach(self, obj, "delete")
    self:delete(obj)
  elseif st == "transient" then
    raise("InvalidRequestError", ("Session:delete: %s is transient (never inserted), not persistent; there is no "
      .. "row to delete"):format(tostring(obj)))
  end
end

--- s:expunge(obj): the object leaves the session (pending -> transient, persistent -> detached).
function Session:expunge(obj)
  check_open(self, "expunge")
  check_instance(self, obj, "expunge")
  local st = state_of(obj)
  local _, _, _, owner = internals(obj)
  if owner ~= self then
    raise("InvalidRequestError", ("Session:expunge: %s is not in this session"):format(tostring(obj)))
  end
  if st == "pending" then
    self._uow:remove_new(obj)
    set_state(obj, "transient")
  elseif st == "persistent" or st == "deleted" then
    self._identity:remove(obj)
    self._uow:forget(obj)
    set_state(obj, "detached")
  end
  set_session(obj, nil)
end

-- ---------------------------------------------------------------- get

local function check_model(model, what)
  if not (type(model) == "table" and type(rawget(model, "__mapper__")) == "table") then
    raise("ArgumentError", ("Session:%s: expected a model class (made with Base:model), got %s")
      :format(what, describe(model)))
  end
  return rawget(model, "__mapper__")
end

--- s:get(Model, id) -> the instance or nil: the identity map first, then one SELECT.
--- id is the primary key's value, or for a composite key a list in key order.
function Session:get(model, id, opts)
  check_usable(self, "get")
  local mapper = check_model(model, "get")
  local pk = mapper.primary_key
  local values = {}
  if id == nil then raise("ArgumentError", "Session:get: argument 'id' (the primary key value) is nil") end
  if #pk == 1 then
    if type(id) == "table" and getmetatable(id) == nil then id = id[1] end
    if type(id) == "table" or type(id) == "function" or type(id) == "thread" then
      raise("ArgumentError", ("Session:get: argument 'id' must be the primary key's value, got %s"):format(describe(id)))
    end
    values[pk[1]] = id
  else
    if type(id) ~= "table" or #id ~= #pk then
      raise("ArgumentError", ("Session:get: %s has a %d-column primary key; pass its values as a list")
        :format(mapper.name, #pk))
    end
    for i, k in ipairs(pk) do values[k] = id[i] end
  end
  local obj = self._identity:find(model, identity.key(mapper, values))
  if obj ~= nil and not self._uow:is_deleting(obj) and state_of(obj) == "persistent" then return obj end
  local found
  if opts and opts.options then
    found = query.new(self, model, {wheres = {pk_terms(mapper, values)}, opts = opts.options}):all()[1]
  else
    -- one statement per model, built once: only the key's value changes
    local g = mapper._get
    if not g then
      local terms, names = {}, {}
      for i, k in ipairs(pk) do
        names[i] = "argent_pk_" .. i
        terms[i] = mapper.attrs[k].column:eq(core.sql.bindparam(names[i], nil,
          core.sql.info(mapper.attrs[k].column).type))
      end
      g = {sql.select(model):where(unpack(terms)), names}
      mapper._get = g
    end
    for _, k in ipairs(pk) do
      if values[k] == nil then raise("ArgumentError", "Session:get: a primary key value is nil") end
    end
    self:_maybe_autoflush()
    local params = {}
    for i, k in ipairs(pk) do params[g[2][i]] = values[k] end
    local list = corm.load(self:_connection():execute(g[1], params), loading.model_spec(self, model), {})
    loading.eager(self, model, list, nil)
    found = list[1]
  end
  if found ~= nil and (state_of(found) == "deleted" or self._uow:is_deleting(found)) then return nil end
  return found
end

-- ---------------------------------------------------------------- flush and transactions

-- Rolls back the transaction after a failed flush, and the session's
-- objects with it (new ones transient, deleted ones persistent, every one
-- expired), as SQLAlchemy does at once; the session then needs rollback().
local function fail(self)
  if self._tx then
    local tx = self._tx
    self._tx = nil
    pcall(tx.rollback, tx)
  end
  self._uow:revert(self)
  self._uow:ended(false)
end

--- s:flush(): INSERTs of pending objects (parents first), UPDATEs of the
--- changed columns of persistent objects, DELETEs (children first).
function Session:flush()
  check_open(self, "flush")
  -- nothing to do (the common case of an autoflush): no work at all -- not
  -- even an error while the session waits for rollback(), as SQLAlchemy
  if not self._uow:has_work(self) then return end
  if self._readonly then
    raise("InvalidRequestError", "flush: this session is read-only (sessionmaker{readonly = true}): it reads "
      .. "from the engine's replicas and writes nothing; add, change and delete objects in a session of an "
      .. "ordinary sessionmaker")
  end
  check_usable(self, "flush")
  if self._st.flushing then return end
  self._uow:check_keys() -- (before anything is written: the session stays usable)
  self._st:event("flush_start")
  local ok, wrote = pcall(self._uow.flush, self._uow, self)
  if not ok then
    self._st:event("flush_failed") -- the session fails, unless a savepoint block takes it
    if self._st.state == "failed" then fail(self) end
    error(wrote, 0)
  end
  self._st:event("flush_end")
  if wrote and self._st.state == "active" then self._st:event("changed") end
end

--- s:commit(): flush, then commit the transaction; with expire_on_commit
--- (the default) every object's attributes are read again on next access.
function Session:commit()
  check_usable(self, "commit")
  self._st:check("commit", "commit")
  self:flush()
  if self._tx then
    local tx = self._tx
    self._tx = nil
    local ok, err = pcall(tx.commit, tx)
    if not ok then
      -- the database rolled the transaction back: the session wants rollback()
      self._st:event("flush_failed")
      error(err, 0)
    end
    self._st:event("committed")
  end
  release(self)
  self._uow:ended(true)
  if self._expire_on_commit then self._identity:expire_all() end
end

--- s:rollback(): rolls the transaction back; pending objects and the objects
--- inserted in it become transient, objects deleted in it persistent again,
--- and every persistent object is expired (read again on access).
function Session:rollback()
  check_open(self, "rollback")
  self:_rollback(false)
end

-- The rollback; close keeps the objects' loaded values (they are detached, not expired).
function Session:_rollback(keep_loaded)
  local tx = self._tx
  self._tx = nil
  local ok, err = true, nil
  if tx then ok, err = pcall(tx.rollback, tx) end
  self._st:event("rolled_back")
  self._uow:revert(self, nil, nil, keep_loaded)
  self._uow:ended(false)
  release(self)
  if not ok then error(err, 0) end
end

--- s:close(): rolls back what was not committed, detaches every object and
--- gives the connection back.  Closing twice is harmless.
function Session:close()
  if getmetatable(self) ~= Session then
    raise("ArgumentError", "Session:close: argument 'self' must be a session (call it as s:close()), got " .. type(self))
  end
  if self._st.state == "closed" then return end
  -- (the objects inserted in the open transaction are detached with the
  -- others, as SQLAlchemy's close leaves them: only pending ones become transient)
  self._uow:closing()
  local ok, err = pcall(self._rollback, self, true)
  self._identity:detach_all()
  self._st:event("closed")
  self._dead = true
  local conn = self._conn
  self._conn = nil
  if conn then pcall(conn.close, conn) end
  if not ok then error(err, 0) end
end

Session.__close = Session.close

--- s:begin(fn) -> fn's results: runs fn(s) in a transaction, commits when it
--- returns, rolls back and re-raises when it raises.
function Session:begin(fn)
  check_self(self, "begin")
  if type(fn) ~= "function" then
    raise("ArgumentError", "Session:begin: argument 'fn' must be a function (the transaction block), got "
      .. describe(fn))
  end
  self._st:check("begin", "begin")
  local res = compat.pack(pcall(fn, self))
  if not res[1] then
    if self._st.state ~= "closed" then pcall(self.rollback, self) end
    error(res[2], 0)
  end
  self:commit()
  return unpack(res, 2, res.n)
end

--- s:begin_nested(fn) -> fn's results: runs fn(s) inside a SAVEPOINT;
--- when fn raises, only what it did is rolled back, and the error re-raised.
function Session:begin_nested(fn)
  check_usable(self, "begin_nested")
  if type(fn) ~= "function" then
    raise("ArgumentError", "Session:begin_nested: argument 'fn' must be a function (the savepoint block), got "
      .. describe(fn))
  end
  self:flush()
  local conn = self:_connection()
  local sp = conn:begin_nested()
  local pending_keep = {}
  for _, o in ipairs(self._uow.pending) do pending_keep[o] = true end
  local mark = self._uow:mark()
  self._st:event("savepoint_begun")
  local res = compat.pack(pcall(function()
    local r = compat.pack(fn(self))
    self:flush()
    return r
  end))
  if self._st.savepoints > 0 then self._st:event("savepoint_ended") end
  if not res[1] then
    pcall(sp.rollback, sp)
    self._uow:revert(self, mark, pending_keep)
    error(res[2], 0)
  end
  sp:commit()
  local r = res[2]
  return unpack(r, 1, r.n)
end

-- ---------------------------------------------------------------- statements

-- update(Model) with neither values nor WHERE, and a list of rows: the
-- bulk UPDATE by primary key of SQLAlchemy 2.0 -- each row holds the key
-- and the attributes to set (the first row says which).
local function bulk_update_by_key(stmt, rows)
  local inf = core.sql.info(stmt)
  local model = inf and mapper_module.model_of_table(inf.table)
  if not model or inf.set or core.sql.kid(stmt, core.node.UPD.where) then return nil end
  local mapper = rawget(model, "__mapper__")
  local first = rows[1]
  local set, terms = {}, {}
  for i, k in ipairs(mapper.primary_key) do
    if first[k] == nil then
      raise("ArgumentError", ("Session:execute: a bulk update of %s needs the primary key '%s' in every row")
        :format(mapper.name, k))
    end
    terms[i] = mapper.attrs[k].column:eq(core.sql.bindparam(k, nil, core.sql.info(mapper.attrs[k].column).type))
  end
  for k in pairs(first) do
    local a = type(k) == "string" and mapper.attrs[k]
    if not a or not a.column then
      raise("ArgumentError", ("Session:execute: %s has no column attribute '%s'"):format(mapper.name, tostring(k)))
    end
    if not mapper.pk_set[k] then set[k] = core.sql.bindparam(k, nil, core.sql.info(a.column).type) end
  end
  if next(set) == nil then
    raise("ArgumentError", "Session:execute: the rows of a bulk update set no attribute besides the key")
  end
  return sql.update(model):where(unpack(terms)):values(set)
end

-- After a DELETE statement on mapper's table: the session's objects whose
-- rows are gone are deleted, as if flushed (SQLAlchemy's bulk delete takes
-- the objects it matched out of the session the same way).
local function deleted_by_statement(self, mapper, bucket)
  local pk = mapper.primary_key
  if #pk ~= 1 then return end
  local keys, objs = {}, {}
  for key, obj in pairs(bucket) do
    if state_of(obj) == "persistent" and not self._uow:is_deleting(obj) then
      keys[#keys + 1] = key
      objs[key] = obj
    end
  end
  local col = mapper.attrs[pk[1]].column
  local conn = self:_connection()
  for i = 1, #keys, 500 do
    local batch = compat.move(keys, i, math.min(i + 499, #keys), 1, {})
    local there = {}
    for _, k in ipairs(conn:execute(sql.select(col):where(col:in_(batch))):scalars()) do there[k] = true end
    for _, k in ipairs(batch) do
      if not there[k] then
        self._uow:gone(objs[k])
      end
    end
  end
end

--- s:execute(stmt, params): a Core statement through the session's
--- connection and transaction; with a list of parameter tables, an
--- executemany (and update(Model) without values or WHERE then updates by
--- primary key, each row giving the key and the attributes to set).  After
--- an UPDATE or DELETE of a model's table, the instances of that model in
--- the session are expired.
function Session:execute(stmt, params)
  check_usable(self, "execute")
  self:_maybe_autoflush()
  local tag = core.sql.tag(stmt)
  local res
  if type(params) == "table" and getmetatable(params) == nil and type(params[1]) == "table" then
    if tag == "UPDATE" then stmt = bulk_update_by_key(stmt, params) or stmt end
    res = self:_connection():executemany(stmt, params)
  else
    res = self:_connection():execute(stmt, params)
  end
  if tag == "UPDATE" or tag == "DELETE" then
    local inf = core.sql.info(stmt)
    local t = inf and inf.table
    for model, bucket in self._identity:each_bucket() do
      local mapper = rawget(model, "__mapper__")
      if mapper.table == t then
        if tag == "DELETE" then deleted_by_statement(self, mapper, bucket) end
        for _, obj in pairs(bucket) do
          if state_of(obj) == "persistent" then corm.expire(obj) end
        end
      end
    end
  end
  return res
end

--- s:no_autoflush(fn) -> fn's results: fn(s) runs without autoflush
--- (SQLAlchemy's `with session.no_autoflush:`).
function Session:no_autoflush(fn)
  check_open(self, "no_autoflush")
  if type(fn) ~= "function" then
    raise("ArgumentError", "Session:no_autoflush: argument 'fn' must be a function, got " .. describe(fn))
  end
  local before = self._autoflush
  self._autoflush = false
  local res = compat.pack(pcall(fn, self))
  self._autoflush = before
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

--- s:connection(): the session's connection (transaction begun).
function Session:connection()
  check_usable(self, "connection")
  return self:_connection()
end

-- ---------------------------------------------------------------- refresh, expire, merge

--- s:refresh(obj): reads obj's row again now (its changes are dropped).
function Session:refresh(obj)
  check_usable(self, "refresh")
  check_instance(self, obj, "refresh")
  if state_of(obj) ~= "persistent" then
    raise("InvalidRequestError", ("Session:refresh: %s is %s, not persistent in this session")
      :format(tostring(obj), state_of(obj)))
  end
  corm.expire(obj)
  collections.forget_pending(obj)
  loading.load_now(obj)
  return obj
end

--- s:expire(obj [, {attribute names}]): the attributes are read again on next access.
function Session:expire(obj, keys)
  check_open(self, "expire")
  check_instance(self, obj, "expire")
  if state_of(obj) ~= "persistent" then
    raise("InvalidRequestError", ("Session:expire: %s is %s, not persistent in this session")
      :format(tostring(obj), state_of(obj)))
  end
  if keys ~= nil then
    if type(keys) ~= "table" then
      raise("ArgumentError", "Session:expire: argument 'keys' must be a list of attribute names, got " .. describe(keys))
    end
    local mapper = mapper_of(obj)
    local cols = {}
    for _, k in ipairs(keys) do
      local a = mapper.attrs[k]
      if not a then
        raise("ArgumentError", ("Session:expire: %s has no attribute '%s'"):format(mapper.name, tostring(k)))
      end
      if a.column then
        if mapper.pk_set[k] then
          raise("ArgumentError", ("Session:expire: '%s' is the primary key and cannot be expired"):format(k))
        end
        cols[#cols + 1] = k
      else
        corm.values(obj)[k] = nil
      end
    end
    corm.expire(obj, cols)
    collections.forget_pending(obj, keys)
  else
    corm.expire(obj)
    collections.forget_pending(obj)
  end
end

--- s:expire_all(): every object of the session is read again on next access.
function Session:expire_all()
  check_open(self, "expire_all")
  self._identity:expire_all()
end

local VIA = {} -- (key of merge_one's `seen`: object -> the relationships it was reached by)

local function merge_one(self, obj, seen)
  if seen[obj] then return seen[obj] end
  local values, _, mapper, owner = internals(obj)
  if owner == self and state_of(obj) ~= "pending" then
    seen[obj] = obj
    return obj
  end
  local key = identity.key(mapper, values)
  local target
  if key ~= nil then
    local ids = {}
    for i, k in ipairs(mapper.primary_key) do ids[i] = values[k] end
    target = self:get(mapper.class, ids)
  end
  if target == nil then
    target = corm.construct(mapper.class, {})
    self:add(target)
  end
  seen[obj] = target
  local tv = internals(target)
  -- the attributes obj has: a new object's that were given, a loaded one's
  -- that are loaded (SQLAlchemy's merge copies what is in its __dict__)
  local _, _, _, _, unloaded = internals(obj)
  local given_only = state_of(obj) == "transient" or state_of(obj) == "pending"
  for _, k in ipairs(mapper.columns) do
    local v = values[k]
    if not (given_only and v == nil) and not (unloaded and unloaded[k]) and tv[k] ~= v
        and not (v == nil and mapper.pk_set[k]) then
      target[k] = v
    end
  end
  -- cascade merge along the relationships loaded on obj -- not back along
  -- the one it was reached by (SQLAlchemy skips a relationship whose reverse
  -- brought it there)
  local came = seen[VIA] and seen[VIA][obj]
  for _, k in ipairs(mapper.relationship_keys) do
    local rel = mapper.relationships[k]:resolve()
    local v = values[k]
    if v ~= nil and rel.cascade.merge and not (came and rel.back and came[rel.back]) then
      local via = seen[VIA] or {}
      seen[VIA] = via
      local members = is_collection(v) and v or (v and {v} or {})
      for _, o in ipairs(members) do
        via[o] = via[o] or {}
        via[o][rel] = true
      end
      if is_collection(v) then
        local list = {}
        for i, o in ipairs(v) do list[i] = merge_one(self, o, seen) end
        target[k] = list
      else
        target[k] = v and merge_one(self, v, seen) or nil
      end
    end
  end
  return target
end

--- s:merge(obj) -> the session's instance for obj's row (loaded, or a new
--- pending copy), with obj's column values copied onto it, and the objects
--- of its loaded relationships merged too (cascade merge).
function Session:merge(obj)
  check_open(self, "merge") -- (a session awaiting rollback merges new objects: only SQL needs it usable)
  if not is_instance(obj) then
    raise("ArgumentError", "Session:merge: expected an instance of a model (User{...}), got " .. describe(obj))
  end
  -- one autoflush first, none while the copies are half made (SQLAlchemy)
  if not self._autoflush then return merge_one(self, obj, {}) end
  self:flush()
  self._autoflush = false
  local ok, res = pcall(merge_one, self, obj, {})
  self._autoflush = true
  if not ok then error(res, 0) end
  return res
end

--- s:scalars(select(Model)...) -> a list of instances (select of one
--- model's table), else the first column's values.
function Session:scalars(stmt, params)
  check_usable(self, "scalars")
  local tag = core.sql.tag(stmt)
  if tag ~= "SELECT" then
    raise("ArgumentError", "Session:scalars: argument must be a select statement, got " .. describe(stmt))
  end
  self:_maybe_autoflush()
  local inf = core.sql.info(stmt)
  local model
  if inf and inf.tables and #inf.tables >= 1 and inf.columns then
    local t = inf.tables[1]
    model = mapper_module.model_of_table(t)
    if model then
      local cols = rawget(model, "__mapper__").columns
      if #inf.columns ~= #cols then
        model = nil
      else
        for i, k in ipairs(cols) do
          if inf.columns[i] ~= rawget(model, "__mapper__").attrs[k].column then model = nil break end
        end
      end
    end
  end
  local res = self:_connection():execute(stmt, params)
  if not model then return res:scalars() end
  local list = corm.load(res, loading.model_spec(self, model), {})
  loading.eager(self, model, list, {})
  return list
end

--- s:query(Model) -> a Query (each method returns a new Query).
function Session:query(model)
  check_open(self, "query")
  check_model(model, "query")
  return query.new(self, model)
end

-- ---------------------------------------------------------------- sessionmaker

local OPTIONS = {expire_on_commit = true, autoflush = true, readonly = true}

local Factory = {__name = "argent.sessionmaker"}
Factory.__index = Factory

-- A session: _engine, _autoflush, _expire_on_commit, _st (the transaction
-- state machine), _identity (its identity map), _uow (its unit of work),
-- _dirty_hold (the unit of work's table of changed persistent objects,
-- which the C proxy fills at a write), _conn and _tx while it has them.
local function new_session(engine, autoflush, expire, readonly)
  local map = identity.new()
  local self = setmetatable({_engine = engine, _autoflush = autoflush, _expire_on_commit = expire, _identity = map,
                             _readonly = readonly, _st = corm.txstate()}, Session)
  self._uow = unitofwork.new(engine, map, function(t) self._dirty_hold = t end)
  return self
end

Factory.__call = function(f)
  guard.check_self(f, Factory, "__call", "Session()")
  return new_session(f.engine, f._autoflush, f._expire, f._readonly)
end

--- Session:begin(fn) on the factory: a new session, fn(s) in a transaction
--- (commit on return, rollback and re-raise on error), then the session closes.
function Factory:begin(fn)
  if getmetatable(self) ~= Factory then
    raise("ArgumentError", "sessionmaker:begin: argument 'self' must be a sessionmaker (call it as "
      .. "Session:begin(function(s) ... end)), got " .. describe(self))
  end
  if type(fn) ~= "function" then
    raise("ArgumentError", "Session:begin: argument 'fn' must be a function (the transaction block), got "
      .. describe(fn))
  end
  local s = self()
  return compat.closing(s, s.begin, s, fn)
end

-- Has v a connect method?  Read without raising: a userdata without
-- __index (argent.null) cannot be indexed.
local function has_connect(v)
  if type(v) ~= "userdata" and type(v) ~= "table" then return false end
  local ok, connect = pcall(function() return v.connect end)
  if not ok then guard.rethrow_memory(connect) end
  return ok and connect ~= nil
end

--- sessionmaker(engine, {expire_on_commit = bool, autoflush = bool, readonly = bool}) -> a factory;
--- factory() -> a Session.  readonly: the session reads through engine:connect{readonly = true}
--- (a replica) and its flush raises InvalidRequestError.
function session.sessionmaker(engine, opts)
  if not has_connect(engine) then
    raise("ArgumentError", "sessionmaker: argument 1 must be an engine (argent.create_engine), got "
      .. describe(engine))
  end
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    raise("ArgumentError", "sessionmaker: argument 2 must be an options table, got " .. describe(opts))
  end
  opts = opts or {}
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      raise("ArgumentError", ("sessionmaker: unknown option '%s' (known: expire_on_commit, autoflush, readonly)")
        :format(tostring(k)))
    end
    if type(v) ~= "boolean" then
      raise("ArgumentError", ("sessionmaker: option %s must be a boolean, got %s"):format(k, describe(v)))
    end
  end
  return setmetatable({engine = engine, _autoflush = opts.autoflush ~= false,
                       _expire = opts.expire_on_commit ~= false, _readonly = opts.readonly == true}, Factory)
end

session.Session = Session
session.Query = query.Query

return session
