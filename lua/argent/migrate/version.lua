-- argent.migrate.version: the version table (argent_version unless env.lua
-- names another), where a database records which revisions it has.
--
-- One row per applied revision (not only the heads, as Alembic keeps):
-- version_num, the checksum of the revision file as it was applied, and
-- is_head (1 for the applied revisions no applied revision follows, which
-- is what `current` prints without reading the files).  Keeping every
-- applied revision's checksum is what lets `check` and `upgrade` notice a
-- file that was edited after it ran (as Flyway and Atlas do).
--
-- Statements are built with argent's own Table and compiled per dialect,
-- like all DDL; each returns its statement so that the runner can execute it
-- or print it (offline --sql mode).
local schema = require "argent.schema"
local types = require "argent.types"
local sqlapi = require "argent.sql"
local core = require "argent.core"

local raise = core.error

local V = {}
V.__index = V

--- The version table named `name` (checked to be a plain identifier).
function V.new(name)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") or #name > 60 then
    raise("ArgumentError", ("the version table's name must be a plain identifier, got %s")
      :format(type(name) == "string" and ("'" .. name .. "'") or type(name)))
  end
  local meta = schema.MetaData()
  local t = schema.Table(name, meta,
    schema.Column("version_num", types.String(64), {primary_key = true, autoincrement = false}),
    schema.Column("checksum", types.String(32)),
    schema.Column("is_head", types.Integer, {nullable = false}))
  return setmetatable({name = name, table = t}, V)
end

function V:create_statement() return self.table:create_statement(true) end

--- Does the table exist in conn's database?
function V:exists(conn)
  local inspect = require "argent.inspect"
  for _, n in ipairs(inspect.table_names(conn)) do
    if n == self.name then return true end
  end
  return false
end

--- The rows: list of {revision, checksum, head}; empty when the table does not exist.
function V:read(conn, exists)
  if exists == nil then exists = self:exists(conn) end
  if not exists then return {} end
  local t = self.table
  local out = {}
  for row in conn:execute(sqlapi.select(t.c.version_num, t.c.checksum, t.c.is_head):order_by(t.c.version_num)):rows() do
    out[#out + 1] = {revision = row.version_num, checksum = row.checksum, head = row.is_head == 1}
  end
  return out
end

--- A statement that takes SQLite's write lock and changes nothing (the first
--- statement of a revision's transaction there, so two processes queue).
function V:lock_statement()
  local t = self.table
  return sqlapi.update(t):values{is_head = t.c.is_head}:where(t.c.version_num:eq(core.null))
end

-- The statements that record `rev` as applied: the revision becomes a head,
-- its parents stop being heads.
function V:add_statements(rev, checksum, parents)
  local t = self.table
  local out = {sqlapi.insert(t):values{version_num = rev, checksum = checksum, is_head = 1}}
  if #parents > 0 then
    out[#out + 1] = sqlapi.update(t):values{is_head = 0}:where(t.c.version_num:in_(parents))
  end
  return out
end

-- The statements that record `rev` as undone; `new_heads` are the parents
-- that become heads again (no applied child left).
function V:remove_statements(rev, new_heads)
  local t = self.table
  local out = {sqlapi.delete(t):where(t.c.version_num:eq(rev))}
  if #new_heads > 0 then
    out[#out + 1] = sqlapi.update(t):values{is_head = 1}:where(t.c.version_num:in_(new_heads))
  end
  return out
end

-- The statements that make the table hold exactly `rows` ({revision, checksum, head}).
function V:replace_statements(rows)
  local t = self.table
  local out = {sqlapi.delete(t)}
  for _, r in ipairs(rows) do
    out[#out + 1] = sqlapi.insert(t):values{version_num = r.revision, checksum = r.checksum, is_head = r.head and 1 or 0}
  end
  return out
end

-- The statement that updates the checksum of rev (stamp accepting an edited file).
function V:checksum_statement(rev, checksum)
  local t = self.table
  return sqlapi.update(t):values{checksum = checksum}:where(t.c.version_num:eq(rev))
end

return V
