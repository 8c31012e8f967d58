-- argent.orm: the ORM's public names, gathered from its modules (the
-- Python package's __init__): models (mapper.lua, relationships.lua), the
-- instance functions state / as_table of the C proxy, sessionmaker
-- (session.lua) and the loader options (loading.lua).
--
-- The ORM's files, from the bottom up: relationships.lua, mapper.lua
-- (models); collections.lua (relationship values in memory); loading.lua
-- (reading from the database); identity.lua (the identity map);
-- persistence.lua (the statements of a flush); unitofwork.lua (the flush);
-- query.lua; session.lua.  Requiring it installs the instance proxy's hooks:
-- reading what is not loaded goes to loading.lua, writing a relationship to
-- collections.lua.
local core = require "argent.core"
local mapper = require "argent.orm.mapper"
local relationships = require "argent.orm.relationships"
local collections = require "argent.orm.collections"
local loading = require "argent.orm.loading"
local session = require "argent.orm.session"

local corm = core.orm

corm.set_hooks(loading.load_hook, collections.set_hook)

local orm = {
  declarative_base = mapper.declarative_base,
  is_model = mapper.is_model,
  model_of_table = mapper.model_of_table,
  relationship = relationships.relationship,
  is_relationship = relationships.is_relationship,
  state = corm.state,
  as_table = corm.as_table,
  is_instance = corm.is_instance,
  sessionmaker = session.sessionmaker,
  selectinload = loading.selectinload,
  joinedload = loading.joinedload,
}

return orm
