-- argent.orm: the ORM's public names, gathered from its modules (the
-- Python package's __init__): models (mapper.lua, relationships.lua) and
-- the instance functions state / as_table of the C proxy.
local core = require "argent.core"
local mapper = require "argent.orm.mapper"
local relationships = require "argent.orm.relationships"

local corm = core.orm

local orm = {
  declarative_base = mapper.declarative_base,
  is_model = mapper.is_model,
  model_of_table = mapper.model_of_table,
  relationship = relationships.relationship,
  is_relationship = relationships.is_relationship,
  state = corm.state,
  as_table = corm.as_table,
  is_instance = corm.is_instance,
}

return orm
