-- argent.orm.relationships: relationship(target, opts) (API.md section 6)
-- and what a relationship is once its models exist -- its target, its
-- direction (many-to-one, one-to-many, many-to-many), the attribute pairs
-- that join the two sides, its back reference, its cascades and loader
-- strategy, and the joins that follow it (query joins, loader queries).
--
-- A Relationship is a plain table made here; Base:model (mapper.lua) sets
-- its parent, key and base when a model takes it, and it resolves itself at
-- first use (target models are named by class name and may come later).
local core = require "argent.core"
local schema = require "argent.schema"

local relationships = {}
local raise = core.error
local guard = require "argent.guard"

local function describe(v)
  if type(v) == "string" then return ("'%s'"):format(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

local Relationship = {__name = "argent.Relationship"}
Relationship.__index = Relationship

local LAZY = {select = true, selectin = true, joined = true, raise = true, noload = true}
local CASCADES = {["save-update"] = true, merge = true, delete = true, ["delete-orphan"] = true,
                  expunge = true, ["refresh-expire"] = true, all = true, none = true}
local RELATIONSHIP_OPTIONS = {back_populates = true, lazy = true, uselist = true, order_by = true, cascade = true,
                              secondary = true, foreign_keys = true, remote_side = true}

-- Parses a cascade string ("all, delete-orphan") into a set.
local function parse_cascade(s)
  if type(s) ~= "string" then
    raise("ArgumentError", "relationship: cascade must be a string like \"all, delete-orphan\", got " .. describe(s))
  end
  local set = {}
  for word in s:gmatch("[^,%s]+") do
    if not CASCADES[word] then
      raise("ArgumentError", ("relationship: unknown cascade '%s' (known: save-update, merge, delete, "
        .. "delete-orphan, expunge, refresh-expire, all, none)"):format(word))
    end
    set[word] = true
  end
  if set.all then
    set.all = nil
    for _, w in ipairs {"save-update", "merge", "delete", "expunge", "refresh-expire"} do set[w] = true end
  end
  if set.none then set = {} end
  return set
end

-- A column reference in an option: a column expression, a name ("id",
-- "Model.attr", "table.column"), or a list of them.
local function check_columns(what, v)
  local function one(c)
    if type(c) == "string" and c ~= "" then return end
    if core.sql.tag(c) then return end
    raise("ArgumentError", ("relationship: %s must be a column, a column name or a list of them, got %s")
      :format(what, describe(c)))
  end
  if type(v) == "table" and getmetatable(v) == nil then
    if #v == 0 then raise("ArgumentError", ("relationship: %s is an empty list"):format(what)) end
    for _, c in ipairs(v) do one(c) end
  else
    one(v)
  end
end

-- Relationships are numbered as they are made, so that a model keeps
-- them in the order they were written (the order in which cascades walk
-- them, as SQLAlchemy walks a mapper's properties).
local relationship_count = 0

--- relationship(target, opts): target is a model's name (resolved lazily) or a model class.
function relationships.relationship(target, opts)
  if not (type(target) == "string" and target ~= "") and not (type(target) == "table" and rawget(target, "__mapper__")) then
    raise("ArgumentError", "relationship: argument 1 must be the target model's name (\"Post\") or the model, got "
      .. describe(target))
  end
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    raise("ArgumentError", "relationship: argument 2 must be an options table, got " .. describe(opts))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not RELATIONSHIP_OPTIONS[k] then
      raise("ArgumentError", ("relationship: unknown option '%s' (known: back_populates, lazy, uselist, order_by, "
        .. "cascade, secondary, foreign_keys, remote_side)"):format(tostring(k)))
    end
  end
  if opts.back_populates ~= nil and (type(opts.back_populates) ~= "string" or opts.back_populates == "") then
    raise("ArgumentError", "relationship: back_populates must be the name of the other side's attribute, got "
      .. describe(opts.back_populates))
  end
  local lazy = opts.lazy
  if lazy == nil then lazy = "select" end
  if not LAZY[lazy] then
    raise("ArgumentError", ("relationship: lazy must be one of select, selectin, joined, raise, noload, got %s")
      :format(describe(lazy)))
  end
  if opts.uselist ~= nil and type(opts.uselist) ~= "boolean" then
    raise("ArgumentError", "relationship: uselist must be a boolean, got " .. describe(opts.uselist))
  end
  local cascade = parse_cascade(opts.cascade or "save-update, merge")
  if opts.secondary ~= nil and not (type(opts.secondary) == "string" and opts.secondary ~= "")
      and getmetatable(opts.secondary) ~= schema.TableClass then
    raise("ArgumentError", "relationship: secondary must be a Table or a table's name, got " .. describe(opts.secondary))
  end
  if opts.order_by ~= nil then check_columns("order_by", opts.order_by) end
  if opts.foreign_keys ~= nil then check_columns("foreign_keys", opts.foreign_keys) end
  if opts.remote_side ~= nil then check_columns("remote_side", opts.remote_side) end
  relationship_count = relationship_count + 1
  return setmetatable({order = relationship_count, target = target, back_populates = opts.back_populates, lazy = lazy,
                       uselist = opts.uselist,
                       order_by = opts.order_by, cascade = cascade, secondary = opts.secondary,
                       foreign_keys = opts.foreign_keys, remote_side = opts.remote_side}, Relationship)
end

function relationships.is_relationship(v) return getmetatable(v) == Relationship end

function Relationship.__tostring(r)
  guard.check_self(r, Relationship, "__tostring", "tostring(relationship)")
  return ("relationship(%s.%s -> %s)"):format(r.parent and r.parent.__name or "?", r.key or "?",
    type(r.target) == "string" and r.target or (r.target.__name or "?"))
end

--- The target model of the relationship, looked up (once) in its Base's
--- registry: an InvalidRequestError naming the missing model if there is none.
function Relationship:target_model()
  guard.check_self(self, Relationship, "target_model", "rel:target_model()")
  local m = self._target
  if m then return m end
  if not self.parent then
    raise("InvalidRequestError", ("%s is not an attribute of a model yet: give it to Base:model(name, "
      .. "{attr = relationship(...)}) first"):format(tostring(self)))
  end
  local t = self.target
  if type(t) == "string" then
    m = self.base and self.base.registry[t]
    if not m then
      local known = {}
      for name in pairs(self.base and self.base.registry or {}) do known[#known + 1] = name end
      table.sort(known)
      raise("InvalidRequestError", ("relationship %s.%s refers to a model named '%s', but there is no such model "
        .. "in its Base (its models: %s); define it with Base:model(\"%s\", {...})")
        :format(self.parent.__name, self.key, t, #known > 0 and table.concat(known, ", ") or "none", t))
    end
  else
    m = t
  end
  if self.back_populates then
    local other = rawget(m, "__mapper__").relationships[self.back_populates]
    if not other then
      raise("InvalidRequestError", ("relationship %s.%s: back_populates = '%s', but model %s has no relationship "
        .. "named '%s'"):format(self.parent.__name, self.key, self.back_populates, m.__name, self.back_populates))
    end
  end
  self._target = m
  return m
end

-- Resolving a relationship's shape (once, at first use): its direction and
-- the attribute pairs that join the two sides.
--   manytoone:  local_keys = the parent's foreign-key attributes,
--               remote_keys = the target's attributes they reference
--   onetomany:  local_keys = the parent's referenced attributes,
--               remote_keys = the target's foreign-key attributes
--   manytomany: local_keys / remote_keys = the attributes of parent and
--               target that the secondary table's columns sec_local /
--               sec_remote (SQL names) reference

local function column_set(rel, what, v, models)
  -- a set of "table.column" (SQL names) from columns, "Model.attr", "table.col" or "col" names
  local set = {}
  local list = (type(v) == "table" and getmetatable(v) == nil) and v or {v}
  for _, c in ipairs(list) do
    if type(c) == "string" then
      local a, b = c:match("^(.-)%.([^.]+)$")
      if a then
        local m = rel.base.registry[a]
        if m then
          local attr = rawget(m, "__mapper__").attrs[b]
          if not attr or not attr.column then
            raise("InvalidRequestError", ("relationship %s.%s: %s '%s': %s has no column attribute '%s'")
              :format(rel.parent.__name, rel.key, what, c, a, b))
          end
          set[rawget(m, "__mapper__").table.name .. "." .. attr.column.name] = true
        else
          set[c] = true
        end
      else
        for _, m in ipairs(models) do
          local attr = rawget(m, "__mapper__").attrs[c]
          if attr and attr.column then set[rawget(m, "__mapper__").table.name .. "." .. attr.column.name] = true end
        end
      end
    else
      local ci = core.sql.info(c)
      if ci and ci.table and ci.name then set[ci.table.name .. "." .. ci.name] = true end
    end
  end
  return set
end

-- The foreign keys of table t that reference table `to` (restricted to the set, if any).
local function fks(t, to, restrict)
  local out = {}
  for _, f in ipairs(t.foreign_keys) do
    local name = core.sql.info(f.column).name
    if f.fk.table_name == to.name and (not restrict or restrict[t.name .. "." .. name]) then
      out[#out + 1] = {name = name, ref = f.fk.column_name}
    end
  end
  return out
end

local function key_for(mapper, sqlname, rel)
  local k = mapper.key_of_column[sqlname]
  if not k then
    raise("InvalidRequestError", ("relationship %s.%s: column %s.%s is not an attribute of model %s")
      :format(rel.parent.__name, rel.key, mapper.table.name, sqlname, mapper.name))
  end
  return k
end

--- Resolves the relationship (direction, keys, back reference); raises InvalidRequestError
--- when the two models are not joined by a foreign key the way it needs.
function Relationship:resolve()
  guard.check_self(self, Relationship, "resolve", "rel:resolve()")
  if self.direction then return self end
  local T = self:target_model()
  local P = self.parent
  local pm, tm = rawget(P, "__mapper__"), rawget(T, "__mapper__")
  local name = P.__name .. "." .. self.key
  local restrict = self.foreign_keys and column_set(self, "foreign_keys", self.foreign_keys, {T, P}) or nil
  if self.secondary then
    local sec = self.secondary
    if type(sec) == "string" then
      sec = self.base.metadata.tables[sec]
      if not sec then
        raise("InvalidRequestError", ("relationship %s: secondary table '%s' is not in the Base's metadata")
          :format(name, self.secondary))
      end
    end
    local to_p, to_t = fks(sec, pm.table, restrict), fks(sec, tm.table, restrict)
    if pm.table == tm.table then -- self-referential: the first key is the parent's
      if #to_p < 2 then
        raise("InvalidRequestError", ("relationship %s: secondary table %s needs two foreign keys to %s")
          :format(name, sec.name, pm.table.name))
      end
      to_p, to_t = {to_p[1]}, {to_p[2]}
    end
    if #to_p ~= 1 or #to_t ~= 1 then
      raise("InvalidRequestError", ("relationship %s: secondary table %s must have exactly one foreign key to %s "
        .. "and one to %s (found %d and %d); give foreign_keys"):format(name, sec.name, pm.table.name,
        tm.table.name, #to_p, #to_t))
    end
    self.direction, self.secondary_table = "manytomany", sec
    self.sec_local, self.sec_remote = {to_p[1].name}, {to_t[1].name}
    self.local_keys, self.remote_keys = {key_for(pm, to_p[1].ref, self)}, {key_for(tm, to_t[1].ref, self)}
  else
    local m2o, o2m = fks(pm.table, tm.table, restrict), fks(tm.table, pm.table, restrict)
    local dir
    if pm.table == tm.table then
      if #m2o == 0 then
        raise("InvalidRequestError", ("relationship %s: table %s has no foreign key to itself"):format(name, pm.table.name))
      end
      dir = self.remote_side and "manytoone" or "onetomany"
    elseif #m2o > 0 and #o2m == 0 then
      dir = "manytoone"
    elseif #o2m > 0 and #m2o == 0 then
      dir = "onetomany"
    elseif #o2m == 0 then
      raise("InvalidRequestError", ("relationship %s: there is no foreign key between tables %s and %s; add one "
        .. "(Column(Integer, {foreign_key = \"%s.id\"})) or give secondary for many-to-many")
        :format(name, pm.table.name, tm.table.name, tm.table.name))
    else
      raise("InvalidRequestError", ("relationship %s: tables %s and %s have foreign keys both ways; say which "
        .. "with foreign_keys"):format(name, pm.table.name, tm.table.name))
    end
    local list = dir == "manytoone" and m2o or o2m
    if #list > 1 then
      raise("InvalidRequestError", ("relationship %s: there are %d foreign keys between %s and %s; say which one "
        .. "with foreign_keys = Model.column"):format(name, #list, pm.table.name, tm.table.name))
    end
    local fk = list[1]
    if dir == "manytoone" then
      self.local_keys, self.remote_keys = {key_for(pm, fk.name, self)}, {key_for(tm, fk.ref, self)}
    else
      self.local_keys, self.remote_keys = {key_for(pm, fk.ref, self)}, {key_for(tm, fk.name, self)}
    end
    self.direction = dir
  end
  if self.uselist == nil then self.uselist = self.direction ~= "manytoone" end
  if self.back_populates then self.back = tm.relationships[self.back_populates] end
  -- order_by: column expressions of the target
  if self.order_by ~= nil then
    local list = (type(self.order_by) == "table" and getmetatable(self.order_by) == nil) and self.order_by
      or {self.order_by}
    local cols = {}
    for i, c in ipairs(list) do
      if type(c) == "string" then
        local attr = tm.attrs[c:match("([^.]+)$")]
        if not attr or not attr.column then
          raise("InvalidRequestError", ("relationship %s: order_by '%s' is not a column of %s"):format(name, c, T.__name))
        end
        c = attr.column
      end
      cols[i] = c
    end
    self.order_cols = cols
  end
  return self
end

--- The joins that follow the relationship from its parent: a list of
--- {target, on condition} -- the target model, or for many-to-many the
--- secondary table and then the target.
function Relationship:join_path()
  guard.check_self(self, Relationship, "join_path", "rel:join_path()")
  self:resolve()
  local T = self:target_model()
  local pm, tm = rawget(self.parent, "__mapper__"), rawget(T, "__mapper__")
  if self.direction == "manytomany" then
    local sec = self.secondary_table
    return {{sec, sec.c[self.sec_local[1]]:eq(pm.attrs[self.local_keys[1]].column)},
            {T, sec.c[self.sec_remote[1]]:eq(tm.attrs[self.remote_keys[1]].column)}}
  end
  if T == self.parent then
    raise("InvalidRequestError", ("relationship %s.%s joins its own table: join an alias with an explicit ON "
      .. "condition instead"):format(self.parent.__name, self.key))
  end
  return {{T, pm.attrs[self.local_keys[1]].column:eq(tm.attrs[self.remote_keys[1]].column)}}
end

relationships.Relationship = Relationship
return relationships
