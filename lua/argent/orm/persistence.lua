-- argent.orm.persistence: the statements a flush sends (SQLAlchemy's
-- persistence.py) -- the INSERTs of new objects (grouped by the columns they
-- give, one prepared statement executed per object in C, or batched where
-- a network round trip per row would dominate), the UPDATEs of changed
-- columns (grouped by the set of columns), the DELETEs of rows and of
-- association rows.  What to send and in which order is the unit of
-- work's (unitofwork.lua); this file only knows how.
--
-- The INSERT and UPDATE functions take ctx = {engine =, identity = the
-- session's identity map, inserted = list, updated = list}: the objects
-- written are entered in the identity map and appended to those lists (a
-- rollback reverts them); conn is the session's connection, inside its
-- transaction.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local sql = require "argent.sql"

local corm = core.orm
local raise = core.error
local internals, clear_dirty = corm.internals, corm.clear_dirty

local persistence = {}

local sqltag = core.sql.tag
local function is_expression(v)
  local t = type(v)
  if t == "userdata" then return sqltag(v) ~= nil end
  if t == "table" and getmetatable(v) ~= nil then return sqltag(v) ~= nil end
  return false
end
persistence.is_expression = is_expression

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
  return unpack(terms)
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
    spec = {returning = {}, rowid = pk[1], expire = compat.move(ret, 2, #ret, 1, {})}
    if #spec.expire == 0 then spec.expire = nil end
  elseif #ret > 0 then
    local cols = {}
    for i, k in ipairs(ret) do cols[i] = mapper.attrs[k].column end
    stmt = stmt:returning(unpack(cols))
  end
  fi.inserts[ckey] = {stmt, spec}
  return stmt, spec
end

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

-- PostgreSQL: many new rows of a table whose key comes from a sequence
-- (SERIAL, IDENTITY) take their keys from that sequence in one query, then
-- go as one pipelined executemany (one round trip per 1000 rows instead of
-- one per row); the values the database computes are expired (read on
-- first access).  The keys are the database's own, never guessed.
local function insert_with_sequence(ctx, conn, mapper, fi, sig, objs)
  local pk = mapper.primary_key
  if #pk ~= 1 then return false end
  local pos
  for i, sp in ipairs(fi.special) do if sp.key == pk[1] then pos = i end end
  if not pos or sig:sub(pos, pos) ~= "o" then return false end
  local per_engine = pg_sequences[ctx.engine]
  if not per_engine then
    per_engine = setmetatable({}, {__mode = "k"})
    pg_sequences[ctx.engine] = per_engine
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
  corm.mark_inserted(objs, {bucket = ctx.identity:bucket(mapper.class), pk = pk, out = ctx.inserted,
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

local function insert_multirow(ctx, conn, mapper, fi, sig, objs)
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
    cached = sql.insert(mapper.table):values(rows):returning(unpack(cols))
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
      local got = conn:execute(statement(n), params):all()
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
  corm.mark_inserted(objs, {bucket = ctx.identity:bucket(mapper.class), pk = pk, out = ctx.inserted})
  return true
end

-- Inserts objs (all of mapper's table): grouped by which columns they give,
-- one prepared statement per group executed per object (core.orm.insert).
function persistence.insert_objects(ctx, conn, mapper, objs)
  local fi = flush_info(mapper)
  local bucket = ctx.identity:bucket(mapper.class)
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
    if #cols > 0 then stmt = stmt:returning(unpack(cols)) end
    for _, k in ipairs(ret) do if is_expression(values[k]) then values[k] = nil end end
    corm.insert(conn, stmt, {obj}, {returning = ret, bucket = bucket, pk = mapper.primary_key,
                                    out = ctx.inserted})
  end
  for _, s in ipairs(order) do
    local done = (conn.dialect == "postgresql" and #groups[s] >= BATCH_MIN
        and insert_with_sequence(ctx, conn, mapper, fi, s, groups[s]))
      or (conn.dialect == "mariadb" and #groups[s] >= BATCH_MIN
        and insert_multirow(ctx, conn, mapper, fi, s, groups[s]))
    if not done then
      local stmt, spec = insert_statement(mapper, fi, s, conn.dialect == "sqlite")
      corm.insert(conn, stmt, groups[s], {returning = spec.returning, rowid = spec.rowid, expire = spec.expire,
                                          bucket = bucket, pk = mapper.primary_key, out = ctx.inserted})
    end
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
function persistence.update_objects(ctx, conn, mapper, objs)
  local fi = flush_info(mapper)
  local groups, order = {}, {}
  local bucket = ctx.identity:bucket(mapper.class)
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
        ctx.updated[#ctx.updated + 1] = obj
        -- the values the database computed, read back now (one SELECT), so
        -- that they are there even after the session closes
        local cols = {}
        for i, k in ipairs(expire) do cols[i] = mapper.attrs[k].column end
        local row = conn:execute(sql.select(unpack(cols)):where(pk_terms(mapper, values))):first()
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
      cached = {sql.update(mapper.table):where(unpack(terms)):values(set), expire}
      fi.updates[sig] = cached
    end
    if #g >= BATCH_MIN and conn.dialect ~= "sqlite" then
      -- over a network: one executemany (pipelined / array-bound), not a round trip per object
      local binds = compat.move(g.keys, 1, #g.keys, 1, {})
      for _, k in ipairs(mapper.primary_key) do binds[#binds + 1] = k end
      local n = conn:executemany(cached[1], param_rows(g, binds))
      if type(n) == "number" and n >= 0 and n < #g then row_gone(mapper, #g - n) end
      local updated = ctx.updated
      for _, obj in ipairs(g) do
        clear_dirty(obj)
        updated[#updated + 1] = obj
      end
    else
      local unmatched = {}
      corm.insert(conn, cached[1], g, {bucket = bucket, pk = mapper.primary_key, out = ctx.updated,
                                       unmatched = unmatched})
      if #unmatched > 0 then row_gone(mapper, #unmatched) end
    end
    if #cached[2] > 0 then
      for _, obj in ipairs(g) do corm.expire(obj, cached[2]) end
    end
  end
end

--- DELETE of the rows of objs (all of mapper's table, in the order given).
function persistence.delete_rows(conn, mapper, objs)
  for _, obj in ipairs(objs) do
    conn:execute(sql.delete(mapper.table):where(pk_terms(mapper, internals(obj))))
  end
end

--- DELETE of the association rows of obj along many-to-many rel (obj on rel's parent side).
function persistence.delete_association_rows(conn, rel, obj)
  local sec = rel.secondary_table
  conn:execute(sql.delete(sec):where(sec.c[rel.sec_local[1]]:eq(internals(obj)[rel.local_keys[1]])))
end

--- The association rows of the lists remove, then add ({table, row} each).
function persistence.write_association_rows(conn, add, remove)
  for _, r in ipairs(remove) do
    local sec, row = r[1], r[2]
    local terms = {}
    for k, v in pairs(row) do terms[#terms + 1] = sec.c[k]:eq(v) end
    conn:execute(sql.delete(sec):where(unpack(terms)))
  end
  for _, r in ipairs(add) do conn:execute(sql.insert(r[1]):values(r[2])) end
end

persistence.pk_terms = pk_terms
persistence.flush_info = flush_info
return persistence
