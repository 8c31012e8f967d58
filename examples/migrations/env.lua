-- examples/migrations/env.lua -- the blog's migrations (API.md section 9.3),
-- what `argent migrate -d examples/migrations ...` reads, run from the
-- repository root:
--   url              DB_CONNECTION_STRING, else the example's SQLite file
--   target_metadata  the blog's models (models/blog.lua), for autogenerate and check
-- The current directory is on package.path, so require "models.blog" finds them.
local models = require "models.blog"

return {
  url = os.getenv("DB_CONNECTION_STRING") or "sqlite:///blog.db",
  target_metadata = models.Base.metadata,
  version_table = "argent_version",
}
