-- argent.session: the Session (API.md section 7) -- sessionmaker, the unit
-- of work (add / delete / flush / commit / rollback), the identity map, get,
-- query, scalars, refresh / expire / merge, and transaction blocks.
--
-- Built on the instance primitives of argent.core.orm (src/lua/instance.c):
-- rows become instances in C (core.orm.load), rows of one table are
-- inserted by one prepared statement executed per object in C
-- (core.orm.insert), and an instance's values, dirty set and session slot
-- are read through core.orm.internals, so loading a row never marks it
-- dirty and a flush sends only the columns that changed.  Relationships
-- (collections, back_populates, loader strategies) are argent.orm.collections
-- and argent.orm.loading.
--
-- A session holds one connection (taken from the engine at its first flush
-- or query) and one transaction on it, opened lazily and ended by commit /
-- rollback, which also give the connection back to the pool.
--
-- The identity map is weak-valued (model -> {primary-key value -> instance}):
-- the session keeps no row alive that the program dropped.  Pending objects,
-- objects marked for deletion, and persistent objects with unflushed changes
-- are held strongly until the flush.
--
-- A flush that fails rolls the transaction back at once (nothing
-- half-written stays) and leaves the session needing s:rollback(), as
-- SQLAlchemy does; inside begin_nested only the savepoint is rolled back.
local core = require "argent.core"
local sql = require "argent.sql"
local loading = require "argent.orm.loading"
local collections = require "argent.orm.collections"

local corm = core.orm
local raise = core.error
local guard = require "argent.guard"
local internals, set_state, set_session, clear_dirty, state_of, is_instance =
  corm.internals, corm.set_state, corm.set_session, corm.clear_dirty, corm.state, corm.is_instance
local is_collection = collections.is_collection

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

local sqltag = core.sql.tag
local function is_expression(v)
  local t = type(v)
  if t == "userdata" then return sqltag(v) ~= nil end
  if t == "table" and getmetatable(v) ~= nil then return sqltag(v) ~= nil end
  return false
end

-- The identity map key of a primary key: the value itself for a one-column
-- key, else the values joined (type:tostring) with a NUL byte -- the same as
-- instance.c's push_identity_key.
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

-- The transaction state machine (src/session/txstate.c, through
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

function Session:_bucket(model)
  local b = self._identity[model]
  if not b then
    b = setmetatable({}, {__mode = "v"})
    self._identity[model] = b
  end
  return b
end
local identity_bucket = Session._bucket

-- The connection, with a transaction open on it.
function Session:_connection()
  if not self._conn then self._conn = self._engine:connect() end
  if not self._tx then
    self._tx = self._conn:begin()
    self._st:event("begun")
  end
  return self._conn
end
local connection = Session._connection

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

-- Objects whose deletion was committed (detached for good: adding one again is an error).
local was_deleted = setmetatable({}, {__mode = "k"})

-- Objects made transient by a rollback while expired: their values are
-- gone with the transaction (a flush of one is an error until they are set).
local stale = setmetatable({}, {__mode = "k"})

-- A detached object joins the session again (persistent).
local function attach(self, obj, what)
  if was_deleted[obj] then
    raise("InvalidRequestError", ("Session:%s: %s was deleted (its row is gone); make a new object instead")
      :format(what, tostring(obj)))
  end
  local values, _, mapper = internals(obj)
  local key = key_of(mapper, values)
  if key == nil then
    raise("InvalidRequestError", ("Session:%s: detached %s has no primary key"):format(what, tostring(obj)))
  end
  local bucket = identity_bucket(self, mapper.class)
  local there = bucket[key]
  if there ~= nil and there ~= obj then
    raise("InvalidRequestError", ("Session:%s: another %s with the same primary key is already in this session; "
      .. "use s:merge(obj) to copy its state onto that one"):format(what, mapper.name))
  end
  bucket[key] = obj
  set_state(obj, "persistent")
  set_session(obj, self)
  if corm.is_dirty(obj) then self._dirty_hold[obj] = true end
end

local function add_one(self, obj, seen, cascaded)
  if seen then
    if seen[obj] and not cascaded then return end
    seen[obj] = true
  end
  local st = state_of(obj)
  if st == "transient" then
    if not self._pending_set[obj] then
      self._pending_set[obj] = true
      self._pending[#self._pending + 1] = obj
    end
    set_state(obj, "pending")
    set_session(obj, self)
  elseif st == "persistent" and self._deleting_set[obj] then
    -- added again before the flush: no longer to be deleted (SQLAlchemy)
    self._deleting_set[obj] = nil
    for i, o in ipairs(self._deleting) do
      if o == obj then
        table.remove(self._deleting, i)
        break
      end
    end
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

--- s:add(obj): a transient object becomes pending (inserted at the next flush);
--- a detached one is attached again (persistent).  Objects in its loaded
--- relationships follow (cascade save-update).
local add_new = corm.add_new

function Session:add(obj)
  check_open(self, "add")
  -- a new object without relationships written: one call does it all
  if not collections.changes(obj) and add_new(obj, self, self._pending, self._pending_set) then return end
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
    if not self._deleting_set[obj] then
      self._deleting_set[obj] = true
      self._deleting[#self._deleting + 1] = obj
    end
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
    self._dirty_hold[obj] = nil
    if self._deleting_set[obj] then
      self._deleting_set[obj] = nil
      for i, o in ipairs(self._deleting) do
        if o == obj then table.remove(self._deleting, i) break end
      end
    end
    set_state(obj, "detached")
  end
  set_session(obj, nil)
end

-- ---------------------------------------------------------------- loading rows

local function check_model(model, what)
  if not (type(model) == "table" and type(rawget(model, "__mapper__")) == "table") then
    raise("ArgumentError", ("Session:%s: expected a model class (made with Base:model), got %s")
      :format(what, describe(model)))
  end
  return rawget(model, "__mapper__")
end

local Query = {__name = "argent.Query"}
Query.__index = Query

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
  local key = key_of(mapper, values)
  local obj = identity_bucket(self, model)[key]
  if obj ~= nil and not self._deleting_set[obj] and state_of(obj) == "persistent" then return obj end
  local found
  if opts and opts.options then
    local q = setmetatable({session = self, model = model, wheres = {pk_terms(mapper, values)}, orders = {},
                            joins = {}, opts = opts.options}, Query)
    found = q:all()[1]
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
      g = {sql.select(model):where(table.unpack(terms)), names}
      mapper._get = g
    end
    for _, k in ipairs(pk) do
      if values[k] == nil then raise("ArgumentError", "Session:get: a primary key value is nil") end
    end
    if self._autoflush then self:flush() end
    local params = {}
    for i, k in ipairs(pk) do params[g[2][i]] = values[k] end
    local list = corm.load(connection(self):execute(g[1], params), loading.model_spec(self, model), {})
    loading.eager(self, model, list, nil)
    found = list[1]
  end
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

-- What the flush needs to know of a mapper's columns (cached on the mapper).
local function flush_info(mapper)
  local fi = mapper._flush
  if fi then return fi end
  fi = {special = {}, special_keys = {}, sql_default = {}, lua_defaults = {}, onupdate_lua = {}, onupdate_sql = {},
        inserts = {}, updates = {}}
  for _, k in ipairs(mapper.columns) do
    local ci = core.sql.info(mapper.attrs[k].column)
    local kind
    if ci.default ~= nil then
      if is_expression(ci.default) then kind = "sql" else
        kind = "lua"
        fi.lua_defaults[#fi.lua_defaults + 1] = {key = k, value = ci.default}
      end
    elseif ci.server_default ~= nil then
      kind = "server"
    elseif ci.primary_key then
      kind = "pk"
    end
    if kind and kind ~= "lua" then
      fi.special[#fi.special + 1] = {key = k, kind = kind, default = ci.default}
      fi.special_keys[#fi.special_keys + 1] = k
      if kind == "sql" then fi.sql_default[k] = true end
    end
    if ci.onupdate ~= nil then
      if is_expression(ci.onupdate) then fi.onupdate_sql[#fi.onupdate_sql + 1] = {key = k, value = ci.onupdate}
      else fi.onupdate_lua[#fi.onupdate_lua + 1] = {key = k, value = ci.onupdate} end
    end
  end
  mapper._flush = fi
  return fi
end

-- The INSERT of mapper for a signature (per special column: "b" bound, "d"
-- its SQL default, "o" omitted) with its RETURNING attribute names; cached.
--
-- On SQLite, RETURNING costs more than the INSERT itself (the database
-- stores the returned rows in a temporary table per execution), so there
-- the key of a one-column integer primary key is the row id SQLite reports
-- for the row (sqlite3_last_insert_rowid: the row's own key, not a guess),
-- and the other values the database computes are expired instead: read on
-- first access (SQLAlchemy's behaviour without RETURNING).
local function insert_statement(mapper, fi, sig, sqlite)
  local ckey = sqlite and ("s" .. sig) or sig
  local cached = fi.inserts[ckey]
  if cached then return cached[1], cached[2] end
  local special = {}
  for i, sp in ipairs(fi.special) do special[sp.key] = {sp, sig:sub(i, i)} end
  local vals, ret = {}, {}
  for _, k in ipairs(mapper.columns) do
    local s = special[k]
    local col = mapper.attrs[k].column
    if not s or s[2] == "b" then
      vals[k] = core.sql.bindparam(k, nil, core.sql.info(col).type)
    elseif s[2] == "d" then
      vals[k] = s[1].default
      ret[#ret + 1] = k
    else
      ret[#ret + 1] = k
    end
  end
  local stmt = sql.insert(mapper.table):values(vals)
  local spec = {returning = ret}
  local pk = mapper.primary_key
  local pktype = #pk == 1 and core.sql.info(mapper.attrs[pk[1]].column).type
  if sqlite and #ret > 0 and ret[1] == pk[1] and pktype and (pktype.__type == "Integer"
      or pktype.__type == "BigInteger" or pktype.__type == "SmallInteger") then
    spec = {returning = {}, rowid = pk[1], expire = table.move(ret, 2, #ret, 1, {})}
    if #spec.expire == 0 then spec.expire = nil end
  elseif #ret > 0 then
    local cols = {}
    for i, k in ipairs(ret) do cols[i] = mapper.attrs[k].column end
    stmt = stmt:returning(table.unpack(cols))
  end
  fi.inserts[ckey] = {stmt, spec}
  return stmt, spec
end

-- PostgreSQL: many new rows of a table whose key comes from a sequence
-- (SERIAL, IDENTITY) take their keys from that sequence in one query, then
-- go as one pipelined executemany (one round trip per 1000 rows instead of
-- one per row); the values the database computes are expired (read on
-- first access).  The keys are the database's own, never guessed.
-- The parameter tables of an executemany over objs: the values of the
-- attributes binds, NULL for an absent one.
local function param_rows(objs, binds)
  local rows, null = {}, core.null
  for i, obj in ipairs(objs) do
    local values, row = internals(obj), {}
    for _, k in ipairs(binds) do
      local v = values[k]
      if v == nil then v = null end
      row[k] = v
    end
    rows[i] = row
  end
  return rows
end

-- From this many rows of one statement on, the flush sends them as one
-- executemany over a network (PostgreSQL, MariaDB); SQLite has no round
-- trips.  Fewer rows: a statement per row is as quick.
local BATCH_MIN = 8
local pg_sequences = setmetatable({}, {__mode = "k"}) -- engine -> {mapper -> sequence name or false}

local function insert_with_sequence(self, conn, mapper, fi, sig, objs)
  local pk = mapper.primary_key
  if #pk ~= 1 then return false end
  local pos
  for i, sp in ipairs(fi.special) do if sp.key == pk[1] then pos = i end end
  if not pos or sig:sub(pos, pos) ~= "o" then return false end
  local per_engine = pg_sequences[self._engine]
  if not per_engine then
    per_engine = setmetatable({}, {__mode = "k"})
    pg_sequences[self._engine] = per_engine
  end
  local seq = per_engine[mapper]
  if seq == nil then
    local quoted = '"' .. mapper.table.name:gsub('"', '""') .. '"'
    seq = conn:execute("SELECT pg_get_serial_sequence(?, ?)", {quoted, mapper.attrs[pk[1]].column.name}):scalar()
      or false
    per_engine[mapper] = seq
  end
  if not seq then return false end
  -- the statement: the key bound, SQL defaults inline, no RETURNING
  local bsig = sig:sub(1, pos - 1) .. "b" .. sig:sub(pos + 1)
  local cached = fi.inserts["q" .. bsig]
  if not cached then
    local vals, binds, expire = {}, {}, {}
    local special = {}
    for i, sp in ipairs(fi.special) do special[sp.key] = {sp, bsig:sub(i, i)} end
    for _, k in ipairs(mapper.columns) do
      local x = special[k]
      if not x or x[2] == "b" then
        vals[k] = core.sql.bindparam(k, nil, core.sql.info(mapper.attrs[k].column).type)
        binds[#binds + 1] = k
      else
        if x[2] == "d" then vals[k] = x[1].default end
        expire[#expire + 1] = k
      end
    end
    cached = {sql.insert(mapper.table):values(vals), binds, #expire > 0 and expire or nil}
    fi.inserts["q" .. bsig] = cached
  end
  local stmt, binds = cached[1], cached[2]
  local ids = conn:execute("SELECT nextval(?) FROM generate_series(1, ?)", {seq, #objs}):scalars()
  local key = pk[1]
  for i, obj in ipairs(objs) do internals(obj)[key] = ids[i] end
  local ok, err = pcall(conn.executemany, conn, stmt, param_rows(objs, binds))
  if not ok then
    for _, obj in ipairs(objs) do internals(obj)[key] = nil end
    error(err, 0)
  end
  corm.mark_inserted(objs, {bucket = identity_bucket(self, mapper.class), pk = pk, out = self._inserted,
                            expire = cached[3]})
  return true
end

-- MariaDB: many new rows of a table whose key is generated go as multi-row
-- INSERT ... RETURNING statements of up to MULTI_ROWS rows (one round trip
-- each, not one per row; array binding returns no keys).  The keys come
-- back from the database; a statement's AUTO_INCREMENT values increase in
-- the order of its rows, so the returned rows sorted by key are the rows
-- in VALUES order.
local MULTI_ROWS = 200

local function insert_multirow(self, conn, mapper, fi, sig, objs)
  local pk = mapper.primary_key
  if #pk ~= 1 then return false end
  local special = {}
  for i, sp in ipairs(fi.special) do special[sp.key] = {sp, sig:sub(i, i)} end
  local x = special[pk[1]]
  if not x or x[2] ~= "o" then return false end -- (a key given by the program: the usual path)
  -- only an AUTO_INCREMENT key (an integer with no default of its own) is
  -- known to increase in row order
  local pktype = core.sql.info(mapper.attrs[pk[1]].column).type
  if x[1].kind ~= "pk" or not (pktype.__type == "Integer" or pktype.__type == "BigInteger"
      or pktype.__type == "SmallInteger") then
    return false
  end
  local binds, ret, defaults = {}, {}, {}
  for _, k in ipairs(mapper.columns) do
    local y = special[k]
    if not y or y[2] == "b" then
      binds[#binds + 1] = k
    else
      ret[#ret + 1] = k
      if y[2] == "d" then defaults[k] = y[1].default end
    end
  end
  local names = {} -- names[r][k]: the parameter of attribute k in row r
  local function statement(n)
    local ckey = "m" .. sig .. ":" .. n
    local cached = fi.inserts[ckey]
    if cached then return cached end
    local rows = {}
    for r = 1, n do
      local row = {}
      for _, k in ipairs(binds) do
        row[k] = core.sql.bindparam(k .. "_" .. r, nil, core.sql.info(mapper.attrs[k].column).type)
      end
      for k, d in pairs(defaults) do row[k] = d end
      rows[r] = row
    end
    local cols = {}
    for i, k in ipairs(ret) do cols[i] = mapper.attrs[k].column end
    cached = sql.insert(mapper.table):values(rows):returning(table.unpack(cols))
    fi.inserts[ckey] = cached
    return cached
  end
  local key, keycol, null = pk[1], mapper.attrs[pk[1]].column.name, core.null
  local ok, err = pcall(function()
    for first = 1, #objs, MULTI_ROWS do
      local n = math.min(MULTI_ROWS, #objs - first + 1)
      local params = {}
      for r = 1, n do
        local nr = names[r]
        if not nr then
          nr = {}
          for _, k in ipairs(binds) do nr[k] = k .. "_" .. r end
          names[r] = nr
        end
        local values = internals(objs[first + r - 1])
        for _, k in ipairs(binds) do
          local v = values[k]
          if v == nil then v = null end
          params[nr[k]] = v
        end
      end
      local got = connection(self):execute(statement(n), params):all()
      if #got ~= n then
        raise("InvalidRequestError", ("flush: the database returned %d rows for %d inserted %s objects")
          :format(#got, n, mapper.name))
      end
      table.sort(got, function(a, b) return a[keycol] < b[keycol] end)
      for r = 1, n do
        local values, row = internals(objs[first + r - 1]), got[r]
        for _, k in ipairs(ret) do values[k] = row[mapper.attrs[k].column.name] end
      end
    end
  end)
  if not ok then
    for _, obj in ipairs(objs) do internals(obj)[key] = nil end
    error(err, 0)
  end
  corm.mark_inserted(objs, {bucket = identity_bucket(self, mapper.class), pk = pk, out = self._inserted})
  return true
end

-- Inserts objs (all of mapper's table): grouped by which columns they give,
-- one prepared statement per group executed per object (core.orm.insert).
local function insert_objects(self, conn, mapper, objs)
  local fi = flush_info(mapper)
  local bucket = identity_bucket(self, mapper.class)
  if #fi.lua_defaults > 0 then
    for _, obj in ipairs(objs) do
      local values = internals(obj)
      for _, d in ipairs(fi.lua_defaults) do
        if values[d.key] == nil then
          local v = d.value
          if type(v) == "function" then v = v() end
          values[d.key] = v
        end
      end
    end
  end
  -- grouped in C by the statement each object needs (see core.orm.group_insert)
  local groups, order, slow = corm.group_insert(objs, fi.special_keys, fi.sql_default, mapper.columns)
  for _, obj in ipairs(slow) do
    local values = internals(obj)
    -- a SQL expression written to an attribute: a statement of its own
    local vals, ret = {}, {}
    for _, k in ipairs(mapper.columns) do
      local v = values[k]
      local sp
      for _, x in ipairs(fi.special) do if x.key == k then sp = x end end
      if is_expression(v) then
        vals[k] = v
        ret[#ret + 1] = k
      elseif v ~= nil or not sp then
        vals[k] = core.sql.bindparam(k, nil, core.sql.info(mapper.attrs[k].column).type)
      elseif sp.kind == "sql" then
        vals[k] = sp.default
        ret[#ret + 1] = k
      else
        ret[#ret + 1] = k
      end
    end
    local stmt = sql.insert(mapper.table):values(vals)
    local cols = {}
    for i, k in ipairs(ret) do cols[i] = mapper.attrs[k].column end
    if #cols > 0 then stmt = stmt:returning(table.unpack(cols)) end
    for _, k in ipairs(ret) do if is_expression(values[k]) then values[k] = nil end end
    corm.insert(conn, stmt, {obj}, {returning = ret, bucket = bucket, pk = mapper.primary_key,
                                    out = self._inserted})
  end
  for _, s in ipairs(order) do
    if conn.dialect == "postgresql" and #groups[s] >= BATCH_MIN
        and insert_with_sequence(self, conn, mapper, fi, s, groups[s]) then
      goto next_group
    end
    if conn.dialect == "mariadb" and #groups[s] >= BATCH_MIN
        and insert_multirow(self, conn, mapper, fi, s, groups[s]) then
      goto next_group
    end
    local stmt, spec = insert_statement(mapper, fi, s, conn.dialect == "sqlite")
    corm.insert(conn, stmt, groups[s], {returning = spec.returning, rowid = spec.rowid, expire = spec.expire,
                                        bucket = bucket, pk = mapper.primary_key, out = self._inserted})
    ::next_group::
  end
end

-- An UPDATE of the flush matched no row for n objects: their rows are gone
-- (deleted by another transaction, or rolled back with the transaction
-- that inserted them).  SQLAlchemy raises StaleDataError.
local function row_gone(mapper, n)
  raise("InvalidRequestError", ("flush: the UPDATE of %d %s object(s) matched no row: the row was deleted (or "
    .. "never committed) since the object was loaded"):format(n, mapper.name))
end

-- UPDATE of the changed columns of objs (persistent, dirty), one statement
-- per set of changed columns.  Values computed by the database: a SQL
-- expression written to an attribute is read back at once (its object takes
-- a statement of its own); a column's SQL onupdate alone is expired (read
-- again on access), as SQLAlchemy does, so that plain updates stay batched.
local function update_objects(self, conn, mapper, objs)
  local fi = flush_info(mapper)
  local groups, order = {}, {}
  local bucket = identity_bucket(self, mapper.class)
  for _, obj in ipairs(objs) do
    local values, dirty = internals(obj)
    for _, d in ipairs(fi.onupdate_lua) do
      if not (dirty and dirty[d.key]) then
        local v = d.value
        if type(v) == "function" then v = v() end
        obj[d.key] = v
      end
    end
    values, dirty = internals(obj)
    dirty = dirty or {}
    local keys, slow = {}, false
    for _, k in ipairs(mapper.columns) do
      if dirty[k] and not mapper.pk_set[k] then
        keys[#keys + 1] = k
        if is_expression(values[k]) then slow = true end
      end
    end
    if #keys > 0 then
      if slow then
        local set, expire = {}, {}
        for _, k in ipairs(keys) do
          local v = values[k]
          if v == nil then v = core.null end
          set[k] = v
          if is_expression(values[k]) then expire[#expire + 1] = k end
        end
        for _, d in ipairs(fi.onupdate_sql) do
          if not dirty[d.key] then expire[#expire + 1] = d.key end
        end
        local res = conn:execute(sql.update(mapper.table):where(pk_terms(mapper, values)):values(set))
        if res.rowcount == 0 then row_gone(mapper, 1) end
        clear_dirty(obj)
        self._updated[#self._updated + 1] = obj
        -- the values the database computed, read back now (one SELECT), so
        -- that they are there even after the session closes
        local cols = {}
        for i, k in ipairs(expire) do cols[i] = mapper.attrs[k].column end
        local row = conn:execute(sql.select(table.unpack(cols)):where(pk_terms(mapper, values))):first()
        for i, k in ipairs(expire) do values[k] = row and row[cols[i].name] end
      else
        local sig = table.concat(keys, ",")
        local g = groups[sig]
        if not g then
          g = {keys = keys}
          groups[sig] = g
          order[#order + 1] = sig
        end
        g[#g + 1] = obj
      end
    else
      clear_dirty(obj)
    end
  end
  for _, sig in ipairs(order) do
    local g = groups[sig]
    local cached = fi.updates[sig]
    if not cached then
      local set, given = {}, {}
      for _, k in ipairs(g.keys) do
        set[k] = core.sql.bindparam(k, nil, core.sql.info(mapper.attrs[k].column).type)
        given[k] = true
      end
      local expire = {}
      for _, d in ipairs(fi.onupdate_sql) do
        if not given[d.key] then
          set[d.key] = d.value
          expire[#expire + 1] = d.key
        end
      end
      local terms = {}
      for i, k in ipairs(mapper.primary_key) do
        terms[i] = mapper.attrs[k].column:eq(core.sql.bindparam(k, nil, core.sql.info(mapper.attrs[k].column).type))
      end
      cached = {sql.update(mapper.table):where(table.unpack(terms)):values(set), expire}
      fi.updates[sig] = cached
    end
    if #g >= BATCH_MIN and conn.dialect ~= "sqlite" then
      -- over a network: one executemany (pipelined / array-bound), not a round trip per object
      local binds = table.move(g.keys, 1, #g.keys, 1, {})
      for _, k in ipairs(mapper.primary_key) do binds[#binds + 1] = k end
      local n = conn:executemany(cached[1], param_rows(g, binds))
      if type(n) == "number" and n >= 0 and n < #g then row_gone(mapper, #g - n) end
      local updated = self._updated
      for _, obj in ipairs(g) do
        clear_dirty(obj)
        updated[#updated + 1] = obj
      end
    else
      local unmatched = {}
      corm.insert(conn, cached[1], g, {bucket = bucket, pk = mapper.primary_key, out = self._updated,
                                       unmatched = unmatched})
      if #unmatched > 0 then row_gone(mapper, #unmatched) end
    end
    if #cached[2] > 0 then
      for _, obj in ipairs(g) do corm.expire(obj, cached[2]) end
    end
  end
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
local function relationship_plan(self, examine)
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
            local olds = old == collections.UNKNOWN and loading.committed_targets(self, obj, rel) or {old}
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
local function delete_cascades(self, conn)
  local i = 1
  while i <= #self._deleting do
    local obj = self._deleting[i]
    local _, _, mapper = internals(obj)
    for _, key in ipairs(mapper.relationship_keys) do
      local rel = mapper.relationships[key]:resolve()
      if rel.direction ~= "manytoone" then
        if rel.cascade.delete then
          local v = obj[key]
          local list = is_collection(v) and v or (v and {v} or {})
          for _, o in ipairs(list) do
            local st = state_of(o)
            if st == "persistent" and not self._deleting_set[o] then
              self._deleting_set[o] = true
              self._deleting[#self._deleting + 1] = o
            elseif st == "pending" then
              self:expunge(o)
            end
          end
        elseif rel.direction == "onetomany" and rel.lazy ~= "raise" and rel.lazy ~= "noload" then
          local v = obj[key]
          local list = is_collection(v) and v or (v and {v} or {})
          for _, o in ipairs(list) do
            if state_of(o) == "persistent" and not self._deleting_set[o] then sync(o, rel.remote_keys, nil) end
          end
        end
        if rel.direction == "manytomany" then
          local sec = rel.secondary_table
          local values = internals(obj)
          conn:execute(sql.delete(sec):where(sec.c[rel.sec_local[1]]:eq(values[rel.local_keys[1]])))
        end
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

local function do_flush(self)
  -- the objects of the session whose relationships changed.  (No cascade
  -- here: save-update cascades when an object is added and when a
  -- relationship of an object in the session is written -- never along a
  -- change the other side made, as SQLAlchemy 2.0.)
  local examine = {}
  for _, o in ipairs(collections.changed_in(self)) do
    local st = state_of(o)
    if st == "persistent" or st == "pending" then examine[#examine + 1] = o end
  end

  local dirty_objs = {}
  corm.dirty_in(self._dirty_hold, dirty_objs, true)
  if #examine == 0 and #dirty_objs == 0 and #self._deleting == 0 and #self._pending == 0 then return end
  self._wrote = true

  local conn = connection(self)
  local syncs, orphans, links
  if #examine > 0 then
    syncs, orphans, links = relationship_plan(self, examine)
  else
    syncs, orphans, links = {}, {}, {}
  end
  for _, orphan in ipairs(orphans) do
    local ch, rel, parent = orphan[1], orphan[2], orphan[3]
    local st = state_of(ch)
    local moved = collections.new_parent(rel, ch)
    if moved and not rawequal(moved, parent) then
      -- it went to another parent: no orphan (its key comes from there)
    elseif rel.cascade["delete-orphan"] then
      if st == "persistent" and not self._deleting_set[ch] then
        self._deleting_set[ch] = true
        self._deleting[#self._deleting + 1] = ch
      elseif st == "pending" then
        self:expunge(ch)
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
  -- the objects to delete (orphans included) and what they cascade to:
  -- before anything is written, their association rows deleted first
  if #self._deleting > 0 then delete_cascades(self, conn) end

  if next(stale) ~= nil then
    for _, o in ipairs(self._pending) do
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
  -- inserts, parents first; each object's foreign keys set just before
  -- (the list stays the session's until all are in: after a failure,
  -- rollback makes every one of them transient again)
  local pending = self._pending
  for _, g in ipairs(#pending > 0 and group_by_table(pending) or {}) do
    local objs = next(syncs) and order_within(g.objs, syncs) or g.objs
    local batch = {}
    local function run()
      if #batch > 0 then
        insert_objects(self, conn, g.mapper, batch)
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
      apply_syncs(syncs, o, self._deleting_set)
      batch[#batch + 1] = o
      inbatch[o] = true
    end
    run()
  end
  if collections.has_initialized() then
    for _, o in ipairs(pending) do collections.drop_initialized(o) end
  end
  self._pending, self._pending_set = {}, {}
  -- foreign keys of persistent objects
  -- (and, in memory only, of new objects of no session in a flushed
  -- parent's collection, as SQLAlchemy sets them)
  for child in pairs(syncs) do
    local st = state_of(child)
    if st == "persistent" or st == "transient" then apply_syncs(syncs, child, self._deleting_set) end
  end
  -- updates (collected again: syncs may have changed objects)
  dirty_objs = {}
  corm.dirty_in(self._dirty_hold, dirty_objs, true)
  local upd = {}
  for _, o in ipairs(dirty_objs) do
    if not self._deleting_set[o] then upd[#upd + 1] = o end
  end
  for _, g in ipairs(group_by_table(upd)) do update_objects(self, conn, g.mapper, g.objs) end
  -- association rows
  local add, remove = {}, {}
  if #links > 0 then add, remove = link_rows(links) end
  for _, r in ipairs(remove) do
    local sec, row = r[1], r[2]
    local terms = {}
    for k, v in pairs(row) do terms[#terms + 1] = sec.c[k]:eq(v) end
    conn:execute(sql.delete(sec):where(table.unpack(terms)))
  end
  for _, r in ipairs(add) do conn:execute(sql.insert(r[1]):values(r[2])) end
  -- deletes, children first
  local deleting = self._deleting
  local groups = #deleting > 0 and group_by_table(deleting) or {}
  for gi = #groups, 1, -1 do
    local g = groups[gi]
    for _, obj in ipairs(order_deletes(g.mapper, g.objs)) do
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
  if #deleting > 0 then self._deleting = {} end
  -- the collections now hold what the database holds
  for _, o in ipairs(examine) do
    local values, _, mapper = internals(o)
    for _, key in ipairs(mapper.relationship_keys) do
      local c = values[key]
      if is_collection(c) then collections.committed(c) end
    end
    collections.forget_changes(o)
    collections.forget_pending(o)
  end
  if next(self._dirty_hold) ~= nil then self._dirty_hold = {} end
end

local revert

-- Rolls back the transaction after a failed flush, and the session's
-- objects with it (new ones transient, deleted ones persistent, every one
-- expired), as SQLAlchemy does at once; the session then needs rollback().
local function fail(self)
  if self._tx then
    local tx = self._tx
    self._tx = nil
    pcall(tx.rollback, tx)
  end
  revert(self, 0, 0, nil, false)
  self._inserted, self._deleted, self._updated = {}, {}, {}
end

local has_changes = collections.any_changed_in

--- s:flush(): INSERTs of pending objects (parents first), UPDATEs of the
--- changed columns of persistent objects, DELETEs (children first).
function Session:flush()
  check_open(self, "flush")
  -- nothing to do (the common case of an autoflush): no work at all -- not
  -- even an error while the session waits for rollback(), as SQLAlchemy
  if #self._pending == 0 and #self._deleting == 0 and next(self._dirty_hold) == nil and not has_changes(self) then
    return
  end
  check_usable(self, "flush")
  if self._st.flushing then return end
  -- checked before anything is written (the session stays usable)
  for o in pairs(self._dirty_hold) do
    if corm.is_dirty(o) and state_of(o) == "persistent" then
      local values, dirty, mapper = internals(o)
      local bucket = identity_bucket(self, mapper.class)
      for _, k in ipairs(mapper.primary_key) do
        if dirty[k] and bucket[key_of(mapper, values)] ~= o then
          raise("InvalidRequestError", ("flush: the primary key '%s' of persistent %s was changed; changing a "
            .. "row's primary key is not supported (delete the object and add a new one)"):format(k, mapper.name))
        end
      end
    end
  end
  self._st:event("flush_start")
  local ok, err = pcall(do_flush, self)
  if not ok then
    self._st:event("flush_failed") -- the session fails, unless a savepoint block takes it
    if self._st.state == "failed" then fail(self) end
    error(err, 0)
  end
  self._st:event("flush_end")
  if self._wrote then
    self._wrote = nil
    if self._st.state == "active" then self._st:event("changed") end
  end
end

-- ---------------------------------------------------------------- transactions

local function expire_all(self)
  for model, bucket in pairs(self._identity) do
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
  for _, obj in ipairs(self._deleted) do
    set_state(obj, "detached")
    set_session(obj, nil)
    was_deleted[obj] = true
  end
  self._deleted, self._inserted, self._updated = {}, {}, {}
  if self._expire_on_commit then expire_all(self) end
end

-- Undoes the session's bookkeeping of the objects inserted / deleted since
-- the marks, and of pending objects (made transient).
function revert(self, ins_mark, del_mark, pending_keep, keep_loaded)
  -- the relationship changes of the session's objects are undone (the
  -- persistent ones are expired); the objects made transient keep theirs,
  -- to cascade when they are added again
  for _, o in ipairs(collections.changed_in(self)) do
    if not (pending_keep and pending_keep[o]) then collections.forget_changes(o) end
  end
  local made_transient = {}
  for _, obj in ipairs(self._pending) do
    if not (pending_keep and pending_keep[obj]) then
      set_state(obj, "transient")
      set_session(obj, nil)
      self._pending_set[obj] = nil
      made_transient[#made_transient + 1] = obj
    end
  end
  if pending_keep then
    local keep = {}
    for _, obj in ipairs(self._pending) do if pending_keep[obj] then keep[#keep + 1] = obj end end
    self._pending = keep
  else
    self._pending, self._pending_set = {}, {}
  end
  for i = #self._inserted, ins_mark + 1, -1 do
    local obj = self._inserted[i]
    local values, _, mapper, _, unloaded = internals(obj)
    local bucket = identity_bucket(self, mapper.class)
    local key = key_of(mapper, values)
    if key ~= nil and bucket[key] == obj then bucket[key] = nil end
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
    self._inserted[i] = nil
    made_transient[#made_transient + 1] = obj
  end
  for i = #self._deleted, del_mark + 1, -1 do
    local obj = self._deleted[i]
    local values, _, mapper = internals(obj)
    identity_bucket(self, mapper.class)[key_of(mapper, values)] = obj
    set_state(obj, "persistent")
    self._deleted[i] = nil
  end
  self._deleting, self._deleting_set = {}, {}
  self._dirty_hold = {}
  for _, obj in ipairs(made_transient) do
    collections.forget_pending(obj) -- (a new object's collections start empty)
    local values, _, mapper = internals(obj)
    for _, key in ipairs(mapper.relationship_keys) do
      if values[key] ~= nil then collections.mark_changed(obj, key) end
    end
  end
  if not keep_loaded then expire_all(self) end
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
  revert(self, 0, 0, nil, keep_loaded)
  self._inserted, self._deleted, self._updated = {}, {}, {}
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
  self._inserted = {}
  local ok, err = pcall(self._rollback, self, true)
  for _, bucket in pairs(self._identity) do corm.detach(bucket) end
  self._identity = {}
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
  local res = table.pack(pcall(fn, self))
  if not res[1] then
    if self._st.state ~= "closed" then pcall(self.rollback, self) end
    error(res[2], 0)
  end
  self:commit()
  return table.unpack(res, 2, res.n)
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
  local conn = connection(self)
  local sp = conn:begin_nested()
  local pending_keep = {}
  for _, o in ipairs(self._pending) do pending_keep[o] = true end
  local ins_mark, del_mark = #self._inserted, #self._deleted
  self._st:event("savepoint_begun")
  local res = table.pack(pcall(function()
    local r = table.pack(fn(self))
    self:flush()
    return r
  end))
  if self._st.savepoints > 0 then self._st:event("savepoint_ended") end
  if not res[1] then
    pcall(sp.rollback, sp)
    revert(self, ins_mark, del_mark, pending_keep)
    error(res[2], 0)
  end
  sp:commit()
  local r = res[2]
  return table.unpack(r, 1, r.n)
end

local deleted_by_statement

-- update(Model) with neither values nor WHERE, and a list of rows: the
-- bulk UPDATE by primary key of SQLAlchemy 2.0 -- each row holds the key
-- and the attributes to set (the first row says which).
local function bulk_update_by_key(stmt, rows)
  local inf = core.sql.info(stmt)
  local orm = require "argent.orm"
  local model = inf and orm.model_of_table(inf.table)
  if not model or inf.set or core.sql.kid(stmt, 2) then return nil end
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
  return sql.update(model):where(table.unpack(terms)):values(set)
end

-- After a DELETE statement on mapper's table: the session's objects whose
-- rows are gone are deleted, as if flushed (SQLAlchemy's bulk delete takes
-- the objects it matched out of the session the same way).
function deleted_by_statement(self, mapper, bucket)
  local pk = mapper.primary_key
  if #pk ~= 1 then return end
  local keys, objs = {}, {}
  for key, obj in pairs(bucket) do
    if state_of(obj) == "persistent" and not self._deleting_set[obj] then
      keys[#keys + 1] = key
      objs[key] = obj
    end
  end
  local col = mapper.attrs[pk[1]].column
  local conn = connection(self)
  for i = 1, #keys, 500 do
    local batch = table.move(keys, i, math.min(i + 499, #keys), 1, {})
    local there = {}
    for _, k in ipairs(conn:execute(sql.select(col):where(col:in_(batch))):scalars()) do there[k] = true end
    for _, k in ipairs(batch) do
      if not there[k] then
        local obj = objs[k]
        bucket[k] = nil
        self._dirty_hold[obj] = nil
        set_state(obj, "deleted")
        self._deleted[#self._deleted + 1] = obj
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
  if self._autoflush then self:flush() end
  local tag = core.sql.tag(stmt)
  local res
  if type(params) == "table" and getmetatable(params) == nil and type(params[1]) == "table" then
    if tag == "UPDATE" then stmt = bulk_update_by_key(stmt, params) or stmt end
    res = connection(self):executemany(stmt, params)
  else
    res = connection(self):execute(stmt, params)
  end
  if tag == "UPDATE" or tag == "DELETE" then
    local inf = core.sql.info(stmt)
    local t = inf and inf.table
    for model, bucket in pairs(self._identity) do
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
  local res = table.pack(pcall(fn, self))
  self._autoflush = before
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- s:connection(): the session's connection (transaction begun).
function Session:connection()
  check_usable(self, "connection")
  return connection(self)
end

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
  expire_all(self)
end

local VIA = {} -- (key of merge_one's `seen`: object -> the relationships it was reached by)

local function merge_one(self, obj, seen)
  if seen[obj] then return seen[obj] end
  local values, _, mapper, owner = internals(obj)
  if owner == self and state_of(obj) ~= "pending" then
    seen[obj] = obj
    return obj
  end
  local key = key_of(mapper, values)
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
  if self._autoflush then self:flush() end
  local inf = core.sql.info(stmt)
  local model
  if inf and inf.tables and #inf.tables >= 1 and inf.columns then
    local t = inf.tables[1]
    local orm = require "argent.orm"
    model = orm.model_of_table(t)
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
  local res = connection(self):execute(stmt, params)
  if not model then return res:scalars() end
  local list = corm.load(res, loading.model_spec(self, model), {})
  loading.eager(self, model, list, {})
  return list
end

-- ---------------------------------------------------------------- query

--- s:query(Model) -> a Query (each method returns a new Query).
function Session:query(model)
  check_open(self, "query")
  check_model(model, "query")
  return setmetatable({session = self, model = model, wheres = {}, orders = {}, joins = {}, opts = {}}, Query)
end

local function derive(q, changes)
  local n = {session = q.session, model = q.model, wheres = q.wheres, orders = q.orders, joins = q.joins,
             opts = q.opts, lim = q.lim, off = q.off}
  for k, v in pairs(changes) do n[k] = v end
  return setmetatable(n, Query)
end

local function append(list, ...)
  local out = table.move(list, 1, #list, 1, {})
  for i = 1, select("#", ...) do out[#out + 1] = select(i, ...) end
  return out
end

local function check_query(q, what)
  if getmetatable(q) ~= Query then
    raise("ArgumentError", ("Query:%s: argument 'self' must be a query (call it as s:query(Model):%s(...)), got %s")
      :format(what, what, type(q)))
  end
end

function Query:where(...)
  check_query(self, "where")
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if not is_expression(v) and type(v) ~= "boolean" then
      raise("ArgumentError", ("Query:where: argument %d must be a SQL condition (User.id:eq(1)), got %s")
        :format(i, describe(v)))
    end
  end
  return derive(self, {wheres = append(self.wheres, ...)})
end
Query.filter = Query.where

--- q:filter_by{attr = value, ...}: equalities on attributes, ANDed.
function Query:filter_by(t)
  check_query(self, "filter_by")
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
  return derive(self, {wheres = append(self.wheres, table.unpack(terms))})
end

function Query:order_by(...)
  check_query(self, "order_by")
  sql.select(self.model):order_by(...) -- checks the arguments now
  return derive(self, {orders = append(self.orders, ...)})
end

function Query:limit(n)
  check_query(self, "limit")
  sql.select(self.model):limit(n)
  return derive(self, {lim = n})
end

function Query:offset(n)
  check_query(self, "offset")
  sql.select(self.model):offset(n)
  return derive(self, {off = n})
end

--- q:join(User.posts) or q:join(Model [, on]): an inner join, for conditions on the joined model.
function Query:join(target, on)
  check_query(self, "join")
  local orm = require "argent.orm"
  local j
  if orm.is_relationship(target) then
    local rel = target:resolve()
    local from = rel.parent == self.model
    for _, x in ipairs(self.joins) do if x[1] == rel.parent then from = true end end
    if not from then
      raise("ArgumentError", ("Query:join: %s.%s starts from %s, which is neither the query's model (%s) nor joined "
        .. "yet"):format(rel.parent.__name, rel.key, rel.parent.__name, rawget(self.model, "__name")))
    end
    j = rel:join_path()
  elseif orm.is_model(target) then
    if on ~= nil and not is_expression(on) then
      raise("ArgumentError", "Query:join: argument 'on' must be a SQL condition, got " .. describe(on))
    end
    j = {{target, on}}
  else
    raise("ArgumentError", "Query:join: argument must be a relationship (User.posts) or a model, got "
      .. describe(target))
  end
  local joins = table.move(self.joins, 1, #self.joins, 1, {})
  for _, x in ipairs(j) do joins[#joins + 1] = x end
  return derive(self, {joins = joins})
end

--- q:options(argent.selectinload(User.posts), ...)
function Query:options(...)
  check_query(self, "options")
  for i = 1, select("#", ...) do
    local opt = select(i, ...)
    if not loading.is_option(opt) then
      raise("ArgumentError", ("Query:options: argument %d must be argent.selectinload(...) or argent.joinedload(...), "
        .. "got %s"):format(i, describe(opt)))
    end
    local first = opt.path[1].rel
    if first.parent ~= self.model then
      raise("ArgumentError", ("Query:options: argument %d loads %s.%s, but the query is of %s; the path must start "
        .. "at the query's model"):format(i, first.parent.__name, first.key, rawget(self.model, "__name")))
    end
  end
  return derive(self, {opts = append(self.opts, ...)})
end

-- The query's statement: FROM, joins, WHERE, ORDER BY, LIMIT, OFFSET on stmt.
local function build(q, stmt, extra_order)
  for _, j in ipairs(q.joins) do stmt = stmt:join(j[1], j[2]) end
  if #q.wheres > 0 then stmt = stmt:where(table.unpack(q.wheres)) end
  if #q.orders > 0 then stmt = stmt:order_by(table.unpack(q.orders)) end
  if extra_order and #extra_order > 0 then stmt = stmt:order_by(table.unpack(extra_order)) end
  if q.lim then stmt = stmt:limit(q.lim) end
  if q.off then stmt = stmt:offset(q.off) end
  return stmt
end

local function prepare(q, what)
  check_query(q, what)
  local s = q.session
  check_usable(s, "query")
  if s._autoflush then s:flush() end
  return s
end

local function run(q, lim)
  local s = prepare(q, "all")
  local plan = loading.joined_plan(q.model, q.opts)
  if plan and #plan.joins > 0 then
    -- a LIMIT would cut a parent's children off: with one, to-many joined
    -- relationships load by selectin instead
    local collections = false
    for _, j in ipairs(plan.joins) do if j.rel.uselist then collections = true end end
    if not (collections and (q.lim or lim or q.off)) then
      local stmt, order = loading.joined_statement(q.model, plan, q.model, function(st) return st end)
      stmt = build(lim and derive(q, {lim = lim}) or q, stmt, order)
      local list = loading.joined_rows(s, q.model, plan, connection(s):execute(stmt))
      local done = {}
      for _, j in ipairs(plan.joins) do done[j.rel] = true end
      loading.eager(s, q.model, list, q.opts, done)
      return list
    end
  end
  local b = lim and derive(q, {lim = lim}) or q
  local list = corm.load(connection(s):execute(build(b, sql.select(q.model))), loading.model_spec(s, q.model), {})
  loading.eager(s, q.model, list, q.opts)
  return list
end

--- q:all() -> a list of instances (one object per row, the identity map's).
function Query:all() return run(self) end

--- q:first() -> the first instance or nil (LIMIT 1).
function Query:first() return run(self, 1)[1] end

--- q:one() -> exactly one instance (NoResultFound / MultipleResultsFound otherwise).
function Query:one()
  local list = run(self) -- (no LIMIT 2: it would replace the query's own limit)
  if #list == 0 then raise("NoResultFound", "Query:one: no row was found") end
  if #list > 1 then raise("MultipleResultsFound", "Query:one: more than one row was found") end
  return list[1]
end

--- q:one_or_none() -> the instance or nil (MultipleResultsFound if several).
function Query:one_or_none()
  local list = run(self)
  if #list > 1 then raise("MultipleResultsFound", "Query:one_or_none: more than one row was found") end
  return list[1]
end

--- q:count() -> the number of rows the query's conditions match.
function Query:count()
  local s = prepare(self, "count")
  -- over the query as a subquery, so that limit / offset count too
  local inner = build(self, sql.select(self.model))
  local stmt = sql.select(sql.func.count()):select_from(inner:subquery("argent_count"))
  return connection(s):execute(stmt):scalar()
end

--- for obj in q:each() do ... end: the rows stream (constant memory); eager
--- loads run per batch of 100 rows.
function Query:each()
  local s = prepare(self, "each")
  local res = connection(s):execute(build(self, sql.select(self.model)))
  local spec = loading.model_spec(s, self.model)
  local buf, i, model, opts = {}, 1, self.model, self.opts
  local eager = #opts > 0
  if not eager then
    local mapper = rawget(model, "__mapper__")
    for _, k in ipairs(mapper.relationship_keys) do
      local lz = mapper.relationships[k].lazy
      if lz == "selectin" or lz == "joined" then eager = true end
    end
  end
  local batch = eager and 100 or 1
  return function()
    if i > #buf then
      for k = #buf, 1, -1 do buf[k] = nil end
      i = 1
      local _, n = corm.load(res, spec, buf, batch)
      if n == 0 then return nil end
      if eager then loading.eager(s, model, buf, opts) end
      if #buf == 0 then return nil end
    end
    local obj = buf[i]
    i = i + 1
    return obj
  end
end

-- ---------------------------------------------------------------- sessionmaker

local OPTIONS = {expire_on_commit = true, autoflush = true}

local Factory = {__name = "argent.sessionmaker"}
Factory.__index = Factory

local function new_session(engine, autoflush, expire)
  return setmetatable({_engine = engine, _autoflush = autoflush, _expire_on_commit = expire, _identity = {},
                       _pending = {}, _pending_set = {}, _deleting = {}, _deleting_set = {},
                       _deleted = {}, _inserted = {}, _updated = {}, _dirty_hold = {},
                       _st = corm.txstate()}, Session)
end

Factory.__call = function(f)
  guard.check_self(f, Factory, "__call", "Session()")
  return new_session(f.engine, f._autoflush, f._expire)
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
  local s <close> = self()
  return s:begin(fn)
end

--- sessionmaker(engine, {expire_on_commit = bool, autoflush = bool}) -> a factory; factory() -> a Session.
-- Has v a connect method?  Read without raising: a userdata without
-- __index (argent.null) cannot be indexed.
local function has_connect(v)
  if type(v) ~= "userdata" and type(v) ~= "table" then return false end
  local ok, connect = pcall(function() return v.connect end)
  if not ok then guard.rethrow_memory(connect) end
  return ok and connect ~= nil
end

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
      raise("ArgumentError", ("sessionmaker: unknown option '%s' (known: expire_on_commit, autoflush)")
        :format(tostring(k)))
    end
    if type(v) ~= "boolean" then
      raise("ArgumentError", ("sessionmaker: option %s must be a boolean, got %s"):format(k, describe(v)))
    end
  end
  return setmetatable({engine = engine, _autoflush = opts.autoflush ~= false,
                       _expire = opts.expire_on_commit ~= false}, Factory)
end

session.Session = Session
session.Query = Query

return session
