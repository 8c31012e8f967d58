-- argent.orm.query: s:query(Model) (API.md section 7) -- a Query is an
-- immutable description (each method returns a new one) of a SELECT of one
-- model: WHERE terms, filter_by equalities, ORDER BY, LIMIT, OFFSET, joins
-- (along relationships or to a model), loader options; all / first / one
-- / one_or_none / count / each run it through the session (autoflush
-- first), rows becoming the identity map's instances in C.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local sql = require "argent.sql"
local loading = require "argent.orm.loading"
local relationships = require "argent.orm.relationships"
local mapper_module = require "argent.orm.mapper"

local corm = core.orm
local raise = core.error

local query = {}

local Query = {__name = "argent.Query"}
Query.__index = Query

local function describe(v)
  local mt = getmetatable(v)
  if type(mt) == "string" then return mt end
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

local sqltag = core.sql.tag
local function is_expression(v)
  local t = type(v)
  if t == "userdata" then return sqltag(v) ~= nil end
  if t == "table" and getmetatable(v) ~= nil then return sqltag(v) ~= nil end
  return false
end

--- query.new(session, model [, {wheres =, opts =}]) -> a Query (the session checked both).
function query.new(session, model, with)
  with = with or {}
  return setmetatable({session = session, model = model, wheres = with.wheres or {}, orders = {}, joins = {},
                       opts = with.opts or {}}, Query)
end

local function derive(q, changes)
  local n = {session = q.session, model = q.model, wheres = q.wheres, orders = q.orders, joins = q.joins,
             opts = q.opts, lim = q.lim, off = q.off}
  for k, v in pairs(changes) do n[k] = v end
  return setmetatable(n, Query)
end

local function append(list, ...)
  local out = compat.move(list, 1, #list, 1, {})
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
  return derive(self, {wheres = append(self.wheres, unpack(terms))})
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
  local j
  if relationships.is_relationship(target) then
    local rel = target:resolve()
    local from = rel.parent == self.model
    for _, x in ipairs(self.joins) do if x[1] == rel.parent then from = true end end
    if not from then
      raise("ArgumentError", ("Query:join: %s.%s starts from %s, which is neither the query's model (%s) nor joined "
        .. "yet"):format(rel.parent.__name, rel.key, rel.parent.__name, rawget(self.model, "__name")))
    end
    j = rel:join_path()
  elseif mapper_module.is_model(target) then
    if on ~= nil and not is_expression(on) then
      raise("ArgumentError", "Query:join: argument 'on' must be a SQL condition, got " .. describe(on))
    end
    j = {{target, on}}
  else
    raise("ArgumentError", "Query:join: argument must be a relationship (User.posts) or a model, got "
      .. describe(target))
  end
  local joins = compat.move(self.joins, 1, #self.joins, 1, {})
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
  if #q.wheres > 0 then stmt = stmt:where(unpack(q.wheres)) end
  if #q.orders > 0 then stmt = stmt:order_by(unpack(q.orders)) end
  if extra_order and #extra_order > 0 then stmt = stmt:order_by(unpack(extra_order)) end
  if q.lim then stmt = stmt:limit(q.lim) end
  if q.off then stmt = stmt:offset(q.off) end
  return stmt
end

--- q:statement() -> the SELECT the query runs (SQLAlchemy's Query.statement;
--- loader options add their own statements and are not in it).
function Query:statement()
  check_query(self, "statement")
  return build(self, sql.select(self.model))
end

local function prepare(q, what)
  check_query(q, what)
  local s = q.session
  s:_check_usable("query")
  s:_maybe_autoflush()
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
      local list = loading.joined_rows(s, q.model, plan, s:_connection():execute(stmt))
      local done = {}
      for _, j in ipairs(plan.joins) do done[j.rel] = true end
      loading.eager(s, q.model, list, q.opts, done)
      return list
    end
  end
  local b = lim and derive(q, {lim = lim}) or q
  local list = corm.load(s:_connection():execute(build(b, sql.select(q.model))), loading.model_spec(s, q.model), {})
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
  return s:_connection():execute(stmt):scalar()
end

--- for obj in q:each() do ... end: the rows stream (constant memory); eager
--- loads run per batch of 100 rows.
function Query:each()
  local s = prepare(self, "each")
  local res = s:_connection():execute(build(self, sql.select(self.model)))
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

query.Query = Query
return query
