-- tests/lua/orm/oracle/runner.lua -- the argent side of the differential
-- test (test_against_sqlalchemy.lua); sqlalchemy_runner.py is the other side,
-- and the two must read every step alike.
--
-- A scenario is {name =, models = a model set of models.json, session =
-- {expire_on_commit =, autoflush =}, steps = {...}}.  A step is a list whose
-- first item names it; a string value "@x" stands for the object of the
-- variable x (a list of them for a collection):
--   {"session", opts}              a new session (the old one closed)
--   {"new", var, Model, values}    var = Model{values}
--   {"add", var, ...}              s:add (several: s:add_all)
--   {"delete", var} {"expunge", var} {"refresh", var} {"expire", var [, attrs]}
--   {"set", var, attr, value}      var.attr = value
--   {"append", var, attr, "@x"} {"remove", var, attr, "@x"}
--   {"remove_any", var, attr, k}   removes the k-th member (mod n) of the
--                                  collection sorted by how members are
--                                  observed; observes it ("empty" if none)
--   {"flush"} {"commit"} {"rollback"} {"close"} {"expire_all"}
--   {"get", var or "", Model, id}  observes the object (and binds it)
--   {"query", Model, {where =, order_by = "attr" or "-attr", limit =,
--                     offset =, bind = {vars}}}   observes the objects
--   {"count", Model [, where]}     observes the count
--   {"read", var, attr} {"len", var, attr} {"state", var}   observe
--   {"merge", var, from}           var = s:merge(from), observed
--   {"bulk_update", Model, where, values} {"bulk_delete", Model, where}
--   {"sql", "UPDATE ..."}          raw SQL through the session (nothing expired)
--   {"nested", {steps}, fail} {"begin", {steps}, fail}
--                                  a savepoint / transaction block; with
--                                  fail, the block raises at its end.  An
--                                  error in a step ends the block.
-- where = {attr = value}: equalities.  Each step observes one value: what
-- it returns above, true, or {error = kind}; a step naming a variable that
-- holds no object (a get that found none) observes "unbound" and does nothing.  An object is observed as "@x"
-- (the first variable it was bound to), else "Model#key", or "Model#?".
-- A to-many relationship reads as the list of its members, sorted unless
-- the relationship has an order_by.  Columns marked volatile (the clock's
-- values) read as "<set>" or null.  At the end the session is closed and
-- every table of the set is read (rows as lists, in key order).
local argent = require "argent"
local core = require "argent.core"

local null = argent.null
local runner = {}

local Runner = {}
Runner.__index = Runner

-- ---------------------------------------------------------------- model sets

local TYPES = {Integer = argent.Integer, Text = argent.Text, DateTime = argent.DateTime, Boolean = argent.Boolean}

local function column(spec)
  local key, typ, o = spec[1], spec[2], spec[3]
  local t
  if typ == "String" then t = o.length and argent.String(o.length) or argent.String() else t = TYPES[typ] end
  local opts = {}
  for _, k in ipairs {"primary_key", "nullable", "index", "autoincrement", "foreign_key"} do
    if o[k] ~= nil then opts[k] = o[k] end
  end
  if o.default == "current_timestamp" then opts.default = argent.func.current_timestamp() end
  return argent.Column(o.name or key, t, opts)
end

local function relationship(m, o)
  local opts = {}
  for _, k in ipairs {"back_populates", "cascade", "uselist", "lazy", "secondary", "remote_side", "order_by",
                      "foreign_keys"} do
    if o[k] ~= nil then opts[k] = o[k] end
  end
  return argent.relationship(m, opts)
end

-- Checks that the description d of the set matches the real models (the
-- seed's models/blog.lua), so that SQLAlchemy runs the same models.
local function check_matches(d, models)
  for _, m in ipairs(d.models) do
    local cls = models[m.name]
    assert(cls, "models.json: no model " .. m.name)
    local mapper = rawget(cls, "__mapper__")
    assert(mapper.table.name == m.table, m.name .. ": table " .. mapper.table.name)
    assert(#mapper.columns == #m.columns, m.name .. ": column count")
    for i, c in ipairs(m.columns) do
      local key, o = c[1], c[3]
      assert(mapper.columns[i] == key, ("%s: column %d is %s, not %s"):format(m.name, i, mapper.columns[i], key))
      local ci = core.sql.info(mapper.attrs[key].column)
      assert(ci.name == (o.name or key), m.name .. "." .. key .. ": SQL name")
      assert(ci.primary_key == (o.primary_key == true), m.name .. "." .. key .. ": primary key")
      assert(ci.nullable == (o.nullable ~= false and not o.primary_key), m.name .. "." .. key .. ": nullable")
      assert(tostring(ci.type):match("^" .. c[2]), m.name .. "." .. key .. ": type " .. tostring(ci.type))
      local fk
      for _, f in ipairs(mapper.table.foreign_keys) do
        if core.sql.info(f.column).name == ci.name then fk = f.fk.table_name .. "." .. f.fk.column_name end
      end
      assert(fk == o.foreign_key, m.name .. "." .. key .. ": foreign key " .. tostring(fk))
      assert((ci.default ~= nil) == (o.default ~= nil), m.name .. "." .. key .. ": default")
    end
    local n = 0
    for _ in pairs(mapper.relationships) do n = n + 1 end
    assert(n == #m.relationships, m.name .. ": relationship count")
    for _, r in ipairs(m.relationships) do
      local rel = mapper.relationships[r[1]]
      assert(rel, m.name .. ": no relationship " .. r[1])
      assert(rel:target_model().__name == r[2], m.name .. "." .. r[1] .. ": target")
      assert(rel.back_populates == r[3].back_populates, m.name .. "." .. r[1] .. ": back_populates")
      assert(rel.secondary == r[3].secondary and rel.lazy == (r[3].lazy or "select"), m.name .. "." .. r[1])
      assert(r[3].cascade == nil and rel.cascade["save-update"] and rel.cascade.merge and not rel.cascade.delete,
        m.name .. "." .. r[1] .. ": cascade")
    end
  end
end

-- The models of set `name` (desc: its description): {models = name ->
-- class, metadata =, desc = name -> description, volatile = name -> set,
-- ordered = "Model.attr" -> true}.
local function model_set(name, d)
  local set = {models = {}, desc = {}, volatile = {}, ordered = {}}
  if name == "blog" then
    local blog = require "models.blog"
    for _, m in ipairs(d.models) do set.models[m.name] = blog[m.name] end
    check_matches(d, set.models)
    set.metadata = blog.Base.metadata
  else
    local Base = argent.declarative_base()
    for _, t in ipairs(d.tables) do
      local cols = {}
      for i, c in ipairs(t[2]) do cols[i] = column(c) end
      argent.Table(t[1], Base.metadata, table.unpack(cols))
    end
    for _, m in ipairs(d.models) do
      local spec = {__tablename = m.table}
      for _, c in ipairs(m.columns) do spec[c[1]] = column(c) end
      for _, r in ipairs(m.relationships) do spec[r[1]] = relationship(r[2], r[3]) end
      set.models[m.name] = Base:model(m.name, spec)
    end
    Base:configure()
    set.metadata = Base.metadata
  end
  for _, m in ipairs(d.models) do
    set.desc[m.name] = m
    local vol = {}
    for _, c in ipairs(m.columns) do if c[3].volatile then vol[c[1]] = true end end
    set.volatile[m.name] = vol
    for _, r in ipairs(m.relationships) do
      if r[3].order_by then set.ordered[m.name .. "." .. r[1]] = true end
    end
  end
  set.tables = set.metadata:sorted_tables()
  return set
end

-- ---------------------------------------------------------------- observing

local function model_name(obj)
  local _, _, mapper = core.orm.internals(obj)
  return mapper.name, mapper
end

function Runner:repr(obj)
  if obj == nil then return null end
  local name = self.names[obj]
  if name then return "@" .. name end
  local mname, mapper = model_name(obj)
  local values = core.orm.internals(obj)
  local parts = {}
  for i, k in ipairs(mapper.primary_key) do
    if values[k] == nil or argent.state(obj) == "transient" or argent.state(obj) == "pending" then
      return mname .. "#?"
    end
    parts[i] = tostring(values[k])
  end
  return mname .. "#" .. table.concat(parts, ",")
end

function Runner:bind(var, obj)
  self.vars[var] = obj
  if obj ~= nil and not self.names[obj] then self.names[obj] = var end
end

function Runner:column_value(model, attr, v)
  if self.set.volatile[model][attr] then
    if v == nil then return null end
    return "<set>"
  end
  if v == nil then return null end
  return v
end

local function sorted_reprs(list)
  table.sort(list, function(a, b)
    if a == null then return false end
    if b == null then return true end
    return a < b
  end)
  return list
end

function Runner:read(obj, attr)
  local mname, mapper = model_name(obj)
  local v = obj[attr]
  local rel = mapper.relationships[attr]
  if not rel then return self:column_value(mname, attr, v) end
  rel:resolve()
  if rel.uselist then
    local out = {}
    for i, x in ipairs(v) do out[i] = self:repr(x) end
    if not self.set.ordered[mname .. "." .. attr] then sorted_reprs(out) end
    return out
  end
  return self:repr(v)
end

-- A scenario value: "@x" is variable x's object, a list a list of them, null nil.
function Runner:value(v)
  if v == null then return nil end
  if type(v) == "string" and v:sub(1, 1) == "@" then return self.vars[v:sub(2)] end
  if type(v) == "table" then
    local out = {}
    for i, x in ipairs(v) do out[i] = self:value(x) end
    return out
  end
  return v
end

function Runner:conditions(model, where)
  local keys = {}
  for k in pairs(where) do keys[#keys + 1] = k end
  table.sort(keys)
  local terms = {}
  for i, k in ipairs(keys) do terms[i] = model[k]:eq(self:value(where[k])) end
  return table.unpack(terms)
end

-- ---------------------------------------------------------------- steps

function Runner:new_session(opts)
  if self.s then self.s:close() end
  opts = opts or {}
  local Session = argent.sessionmaker(self.engine, {expire_on_commit = opts.expire_on_commit ~= false,
                                                    autoflush = opts.autoflush ~= false})
  self.s = Session()
end

local BOOM = setmetatable({}, {__tostring = function() return "boom" end})

local steps = {}

function steps.session(self, st) self:new_session(st[2]) end

steps["new"] = function(self, st)
  local cls = self.set.models[st[3]]
  local init = {}
  for k, v in pairs(st[4] or {}) do init[k] = self:value(v) end
  self:bind(st[2], cls(init))
end

function steps.add(self, st, s)
  if #st == 2 then
    s:add(self.vars[st[2]])
  else
    local list = {}
    for i = 2, #st do list[#list + 1] = self.vars[st[i]] end
    s:add_all(list)
  end
end

function steps.delete(self, st, s) s:delete(self.vars[st[2]]) end
function steps.expunge(self, st, s) s:expunge(self.vars[st[2]]) end
function steps.set(self, st) self.vars[st[2]][st[3]] = self:value(st[4]) end
function steps.append(self, st) self.vars[st[2]][st[3]]:append(self:value(st[4])) end
function steps.remove(self, st) self.vars[st[2]][st[3]]:remove(self:value(st[4])) end

function steps.remove_any(self, st)
  local c = self.vars[st[2]][st[3]]
  if #c == 0 then return "empty" end
  local members = {}
  for i, o in ipairs(c) do members[i] = o end
  table.sort(members, function(a, b) return tostring(self:repr(a)) < tostring(self:repr(b)) end)
  local victim = members[st[4] % #members + 1]
  c:remove(victim)
  return self:repr(victim)
end

function steps.flush(_, _, s) s:flush() end
function steps.commit(_, _, s) s:commit() end
function steps.rollback(_, _, s) s:rollback() end
function steps.close(_, _, s) s:close() end
function steps.expire_all(_, _, s) s:expire_all() end
function steps.refresh(self, st, s) s:refresh(self.vars[st[2]]) end

function steps.expire(self, st, s)
  if st[3] then s:expire(self.vars[st[2]], st[3]) else s:expire(self.vars[st[2]]) end
end

function steps.get(self, st, s)
  local obj = s:get(self.set.models[st[3]], st[4])
  if st[2] ~= "" then self:bind(st[2], obj) end
  return self:repr(obj)
end

function steps.query(self, st, s)
  local cls = self.set.models[st[2]]
  local o = st[3] or {}
  local q = s:query(cls)
  if o.where then q = q:where(self:conditions(cls, o.where)) end
  local order = o.order_by or "id"
  if order:sub(1, 1) == "-" then q = q:order_by(cls[order:sub(2)]:desc()) else q = q:order_by(cls[order]) end
  if o.limit then q = q:limit(o.limit) end
  if o.offset then q = q:offset(o.offset) end
  local res = q:all()
  local out = {}
  for i, obj in ipairs(res) do
    if o.bind and o.bind[i] then self:bind(o.bind[i], obj) end
  end
  for i, obj in ipairs(res) do out[i] = self:repr(obj) end
  return out
end

function steps.count(self, st, s)
  local cls = self.set.models[st[2]]
  local q = s:query(cls)
  if st[3] then q = q:where(self:conditions(cls, st[3])) end
  return q:count()
end

function steps.read(self, st) return self:read(self.vars[st[2]], st[3]) end
function steps.len(self, st) return #self.vars[st[2]][st[3]] end
function steps.state(self, st) return argent.state(self.vars[st[2]]) end

function steps.merge(self, st, s)
  local obj = s:merge(self.vars[st[3]])
  self:bind(st[2], obj)
  return self:repr(obj)
end

function steps.bulk_update(self, st, s)
  local cls = self.set.models[st[2]]
  local values = {}
  for k, v in pairs(st[4]) do values[k] = self:value(v) end
  s:execute(argent.update(cls):where(self:conditions(cls, st[3])):values(values))
end

function steps.bulk_delete(self, st, s)
  local cls = self.set.models[st[2]]
  s:execute(argent.delete(cls):where(self:conditions(cls, st[3])))
end

function steps.sql(_, st, s) s:execute(argent.text(st[2])) end

local function block(method)
  return function(self, st, s)
    local ok, err = pcall(s[method], s, function()
      for _, inner in ipairs(st[2]) do self:run_step(inner, true) end
      if st[3] then error(BOOM, 0) end
    end)
    if ok then return "ok" end
    if err == BOOM then return "failed" end
    error(err, 0)
  end
end
steps.nested = block("begin_nested")
steps.begin = block("begin")

local function kind_of(err)
  if type(err) == "table" or type(err) == "userdata" then
    local ok, kind = pcall(function() return err.kind end)
    if ok and type(kind) == "string" then return kind end
  end
  return "Lua:" .. tostring(err)
end

-- Steps whose second item names a variable (add: every item after the first).
local USES_VAR = {add = true, delete = true, expunge = true, set = true, append = true, remove = true,
                  remove_any = true, expire = true, refresh = true, read = true, len = true, state = true}

-- Does the step name a variable that holds no object (a get that found none)?
function Runner:unbound(st)
  local function ref(v)
    if type(v) == "string" and v:sub(1, 1) == "@" then return self.vars[v:sub(2)] == nil end
    if type(v) == "table" and v ~= null then
      for _, x in ipairs(v) do if ref(x) then return true end end
    end
    return false
  end
  if USES_VAR[st[1]] then
    for i = 2, st[1] == "add" and #st or 2 do
      if self.vars[st[i]] == nil then return true end
    end
    if st[1] == "set" or st[1] == "append" or st[1] == "remove" then return ref(st[4]) end
  elseif st[1] == "merge" then
    return self.vars[st[3]] == nil
  elseif st[1] == "new" then
    for _, v in pairs(st[4] or {}) do if ref(v) then return true end end
  end
  return false
end

-- Runs one step; its observation is appended.  With propagate, an error is
-- raised again after it is recorded (inside a transaction block).
function Runner:run_step(st, propagate)
  local fn = steps[st[1]]
  if not fn then error("runner.lua: unknown step " .. tostring(st[1])) end
  if self:unbound(st) then
    self.obs[#self.obs + 1] = "unbound"
    return
  end
  local ok, res = pcall(fn, self, st, self.s)
  if not ok then
    if res == BOOM then error(BOOM, 0) end
    self.obs[#self.obs + 1] = {error = kind_of(res)}
    self.notes[#self.notes + 1] = ("%s: %s"):format(argent.json_encode(st):gsub("%s+", " "), tostring(res))
    if propagate then error(res, 0) end
    return
  end
  if res == nil then res = true end
  self.obs[#self.obs + 1] = res
end

-- ---------------------------------------------------------------- scenarios

-- Empties the tables of the set and restarts their generated keys.
function Runner:reset(set)
  local conn <close> = self.engine:connect()
  local dialect = conn.dialect
  -- (MariaDB checks foreign keys row by row: a table that refers to itself
  -- cannot be emptied by one DELETE with them on)
  if dialect == "mariadb" then conn:execute("SET FOREIGN_KEY_CHECKS = 0") end
  conn:begin(function()
    for i = #set.tables, 1, -1 do conn:execute(argent.delete(set.tables[i])) end
  end)
  if dialect == "mariadb" then conn:execute("SET FOREIGN_KEY_CHECKS = 1") end
  for _, t in ipairs(set.tables) do
    local pk = t.primary_key
    local ci = #pk == 1 and core.sql.info(pk[1])
    if ci and tostring(ci.type) == "Integer" and not set.association[t.name] then
      if dialect == "postgresql" then
        conn:execute("SELECT setval(pg_get_serial_sequence(?, ?), 1, false)", {t.name, ci.name})
      elseif dialect == "mariadb" then
        local n = conn:execute("SELECT auto_increment FROM information_schema.tables WHERE table_schema = DATABASE() "
          .. "AND table_name = ?", {t.name}):scalar()
        if n and n > 1 then conn:execute("ALTER TABLE " .. t.name .. " AUTO_INCREMENT = 1") end
      end
    end
  end
end

function Runner:rows(set)
  local out = {}
  local conn <close> = self.engine:connect()
  for _, t in ipairs(set.tables) do
    local model
    for name, m in pairs(set.desc) do if m.table == t.name then model = name end end
    local cols, pks = {}, {}
    for i, c in ipairs(t.columns) do cols[i] = core.sql.info(c) end
    for i, c in ipairs(t.primary_key) do pks[i] = c end
    local key_of = {}
    if model then
      for _, c in ipairs(set.desc[model].columns) do key_of[c[3].name or c[1]] = c[1] end
    end
    local rows = {}
    for row in conn:execute(argent.select(t):order_by(table.unpack(pks))):rows() do
      local r = {}
      for i, ci in ipairs(cols) do
        local v = row[ci.name]
        if model then v = self:column_value(model, key_of[ci.name], v) elseif v == nil then v = null end
        r[i] = v
      end
      rows[#rows + 1] = r
    end
    out[t.name] = rows
  end
  return out
end

function Runner:run(sc)
  local set = self.sets[sc.models]
  self.set = set
  self.vars, self.names, self.obs, self.notes = {}, {}, {}, {}
  self.s = nil
  self:reset(set)
  self:new_session(sc.session)
  for _, st in ipairs(sc.steps) do self:run_step(st) end
  local ok, err = pcall(self.s.close, self.s)
  if not ok then self.obs[#self.obs + 1] = {error = kind_of(err)} end
  self.s = nil
  return {obs = self.obs, rows = self:rows(set), notes = self.notes}
end

--- runner.new(engine, descriptions, used set names) -> a runner whose
--- tables are made (dropped first); runner:run(scenario) -> results;
--- runner:finish() drops the tables.
function runner.new(engine, descs, used)
  local self = setmetatable({engine = engine, sets = {}}, Runner)
  for _, name in ipairs(used) do
    local set = model_set(name, descs[name])
    set.association = {}
    for _, t in ipairs(descs[name].tables) do set.association[t[1]] = true end
    self.sets[name] = set
    set.metadata:drop_all(engine)
    set.metadata:create_all(engine)
  end
  return self
end

function Runner:finish()
  for _, set in pairs(self.sets) do set.metadata:drop_all(self.engine) end
end

return runner
