-- argent.orm.mapper: declarative models (API.md section 6) --
-- declarative_base, Base:model and the mapper, the description of a
-- model that the instance proxy reads (src/orm/instance.c).
--
-- A model is a Lua table (the class) built on the schema layer: its columns
-- become a Table in Base.metadata (schema.lua makes the column elements, so
-- `User.email` is the very column expression of `User.__table__.c.email`),
-- and its mapper is a plain table that the C proxy reads.  Instances are
-- made, read and written in C; what is naturally Lua lives here: checking
-- specs, ordering columns, resolving relationship targets by class name
-- through the Base's registry (relationships.lua).
--
-- The class holds, as raw fields: __name, __tablename, __table__, __mapper__,
-- one column expression per column attribute, one Relationship per
-- relationship attribute, and whatever else the spec gave (methods).
-- Its metatable gives `_node` (so a model works wherever a table does in the
-- expression language), __call (User{...}) and __tostring.
--
-- The mapper: class, name, table, base, columns (attribute names in column
-- order), attrs (name -> {kind, type, column, key, check} or {kind,
-- relationship, key}), relationships (name -> Relationship),
-- relationship_keys (in the order written), primary_key (names), pk_set,
-- key_of_column (SQL name -> attribute name).  Other modules cache what
-- they derive from it on it, under names starting with an underscore.
local compat = require "argent.compat"
local unpack = table.unpack or unpack -- luacheck: ignore (5.1: a global)
local core = require "argent.core"
local types = require "argent.types"
local schema = require "argent.schema"
local relationship_module = require "argent.orm.relationships"

local M = {} -- (the module: `mapper` is the name of a model's mapper below)
local raise = core.error
local guard = require "argent.guard"
local corm = core.orm
local KINDS = corm.kinds

local function describe(v)
  if type(v) == "string" then return ("'%s'"):format(v) end
  local mt = getmetatable(v)
  if type(mt) == "table" and type(mt.__name) == "string" then return mt.__name end
  return type(v)
end

local Model = {__name = "argent.Model"}

function Model.__index(cls, k)
  if k == "_node" then return rawget(cls, "__table__")._node end
  return nil
end

Model.__call = corm.construct -- User{...}: straight into C

function Model.__tostring(cls)
  guard.check_self(cls, Model, "__tostring", "tostring(User)")
  return ("<model %s>"):format(rawget(cls, "__name"))
end

function M.is_model(v) return type(v) == "table" and getmetatable(v) == Model end

local model_of = setmetatable({}, {__mode = "k"}) -- Table -> model class
--- The model mapped to Table t, or nil.
function M.model_of_table(t) return model_of[t] end

local Base = {__name = "argent.Base"}
Base.__index = Base

--- declarative_base() -> a Base: Base.metadata, Base.registry (name -> model), Base:model(name, spec).
function M.declarative_base(metadata)
  if metadata ~= nil and getmetatable(metadata) ~= schema.MetaDataClass then
    raise("ArgumentError", "declarative_base: the argument, if any, must be an argent.MetaData(), got "
      .. describe(metadata))
  end
  return setmetatable({metadata = metadata or schema.MetaData(), registry = {}, _models = {}}, Base)
end

-- The mapper's attribute description for a column.
local function column_attr(model, key, col, typ)
  local kind = KINDS[typ.__type] or KINDS.JSON
  local a = {kind = kind, type = typ, column = col, key = key}
  if typ.__type == "Date" or typ.__type == "DateTime" or typ.__type == "Time" then
    local label = model .. "." .. key
    a.check = function(v) types.check_value(typ, v, label) end
  end
  return a
end

--- Base:model(name, spec) -> the model class.
function Base:model(name, spec)
  if getmetatable(self) ~= Base then
    raise("ArgumentError", "model: argument 'self' must be a declarative_base() (call it with a colon, as "
      .. "Base:model(name, spec)), got " .. type(self))
  end
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    raise("ArgumentError", ("Base:model: argument 1 must be the model's name, an identifier like \"User\", got %s")
      :format(describe(name)))
  end
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then
    raise("ArgumentError", ("Base:model(\"%s\", spec): spec must be a table of columns and relationships "
      .. "with __tablename, got %s"):format(name, describe(spec)))
  end
  if self.registry[name] then
    raise("ArgumentError", ("Base:model: a model named '%s' already exists in this Base; give the new one another "
      .. "name (or use another declarative_base())"):format(name))
  end
  local tablename = spec.__tablename
  if type(tablename) ~= "string" or tablename == "" then
    raise("ArgumentError", ("Base:model(\"%s\"): the spec needs __tablename, the SQL table's name, e.g. "
      .. "__tablename = \"%ss\" (got %s)"):format(name, name:lower(), describe(tablename)))
  end
  local table_args = spec.__table_args
  if table_args ~= nil and (type(table_args) ~= "table" or getmetatable(table_args) ~= nil) then
    raise("ArgumentError", ("Base:model(\"%s\"): __table_args must be a list of Index, UniqueConstraint or "
      .. "CheckConstraint, got %s"):format(name, describe(table_args)))
  end

  local cls = {__name = name, __tablename = tablename}
  local columns, relationships = {}, {}
  for k, v in pairs(spec) do
    if type(k) ~= "string" then
      raise("ArgumentError", ("Base:model(\"%s\"): spec keys must be attribute names, got %s"):format(name, describe(k)))
    end
    if schema.is_column_spec(v) then
      if k:sub(1, 2) == "__" or k == "_node" then
        raise("ArgumentError", ("Base:model(\"%s\"): '%s' is reserved and cannot be a column attribute"):format(name, k))
      end
      if v.opts.key ~= nil and v.opts.key ~= k then
        raise("ArgumentError", ("Base:model(\"%s\"): column %s has key = '%s'; the attribute's name is its key, "
          .. "drop the key option"):format(name, k, v.opts.key))
      end
      columns[#columns + 1] = {key = k, spec = v}
    elseif relationship_module.is_relationship(v) then
      if v.parent then
        raise("ArgumentError", ("Base:model(\"%s\"): relationship %s is already used by %s.%s; "
          .. "make one relationship(...) per attribute"):format(name, k, v.parent.__name, v.key))
      end
      relationships[k] = v
    elseif k ~= "__tablename" and k ~= "__table_args" then
      cls[k] = v -- methods and other class attributes
    end
  end
  -- creation order (schema.lua numbers every Column spec), so DDL is stable
  table.sort(columns, function(a, b) return a.spec.order < b.spec.order end)

  local specs, has_pk = {}, false
  for i, c in ipairs(columns) do
    local s = c.spec
    -- a copy, so that the attribute's name is the column's key (and its
    -- SQL name unless Column("sql_name", ...) gave one)
    specs[i] = setmetatable({name = s.name or c.key, type = s.type, opts = s.opts, foreign_key = s.foreign_key,
                             order = s.order, key = c.key}, schema.ColumnSpecClass)
    if s.opts.primary_key then has_pk = true end
  end
  if not has_pk then
    raise("ArgumentError", ("Base:model(\"%s\"): a model needs a primary key: give a column "
      .. "{primary_key = true}, e.g. id = Column(Integer, {primary_key = true})"):format(name))
  end
  local items = compat.move(specs, 1, #specs, 1, {})
  for _, x in ipairs(table_args or {}) do items[#items + 1] = x end
  local t = schema.Table(tablename, self.metadata, unpack(items))

  local mapper = {class = cls, name = name, table = t, base = self, columns = {}, attrs = {}, relationships = {},
                  primary_key = {}, pk_set = {}, key_of_column = {}, relationship_keys = {}}
  for i, c in ipairs(columns) do
    local col = t.c[c.key]
    local typ = core.sql.info(col).type
    mapper.columns[i] = c.key
    mapper.attrs[c.key] = column_attr(name, c.key, col, typ)
    if c.spec.opts.primary_key then
      mapper.primary_key[#mapper.primary_key + 1] = c.key
      mapper.pk_set[c.key] = true
    end
    mapper.key_of_column[core.sql.info(col).name] = c.key
    cls[c.key] = col
  end
  for k, r in pairs(relationships) do
    r.parent, r.key, r.base = cls, k, self
    mapper.relationships[k] = r
    mapper.attrs[k] = {kind = KINDS.relationship, relationship = r, key = k}
    mapper.relationship_keys[#mapper.relationship_keys + 1] = k
    cls[k] = r
  end
  table.sort(mapper.relationship_keys, function(a, b)
    return mapper.relationships[a].order < mapper.relationships[b].order
  end)
  cls.__table__ = t
  cls.__mapper__ = mapper
  model_of[t] = cls
  setmetatable(cls, Model)
  self.registry[name] = cls
  self._models[#self._models + 1] = cls
  return cls
end

--- Base:configure(): resolves every relationship's target now (InvalidRequestError if one is missing).
function Base:configure()
  if getmetatable(self) ~= Base then
    raise("ArgumentError", "configure: argument 'self' must be a declarative_base() (call it as Base:configure()), got "
      .. type(self))
  end
  for _, m in ipairs(self._models) do
    for _, r in pairs(rawget(m, "__mapper__").relationships) do r:resolve() end
  end
end

return M
