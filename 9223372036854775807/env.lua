-- 9223372036854775807/env.lua -- what `argent migrate` reads (API.md section 9.3):
--   url              the database, when neither --url nor DB_CONNECTION_STRING gives one
--   target_metadata  the models' MetaData, for `revision --autogenerate` and `check`
--   version_table    the table that records the applied revisions
-- It runs with the current directory on package.path: require your models here, e.g.
--   local models = require "models.blog"   -- and target_metadata = models.Base.metadata
return {
  -- url = "sqlite:///app.db",
  -- target_metadata = models.Base.metadata,
  version_table = "argent_version",
}
