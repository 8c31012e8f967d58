-- tests/lua/test_migrate_compare.lua -- argent.migrate.compare (autogenerate's
-- comparison, API.md section 9.3) on every database, with Alembic's
-- compare_metadata (tests/reference/alembic_compare.py) as the reference
-- where it can run: the blog models against an empty database, after a
-- model change, and against a database made by create_all (no difference).
-- Also: migrations from autogenerate give the schema create_all gives
-- (reflected and compared), an unchanged model gives no revision, each
-- dialect's spellings of types and defaults compare equal, PostgreSQL's
-- enum types, and the version table is never a difference.
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu, argent = helper.lu, helper.argent
local migrate = require "argent.migrate"
local inspect = require "argent.inspect"

local Column, Integer, String, Text, DateTime = argent.Column, argent.Integer, argent.String, argent.Text,
  argent.DateTime
local pg, mariadb, sqlite = helper.is_pg(), helper.is_mariadb(), helper.is_sqlite()

local URL = mh.url("cmp")
local URL2 = mh.url("cmp2")

TestMigrateCompare = {}

function TestMigrateCompare:setUp()
  self.engine = argent.create_engine(URL)
  mh.reset(self.engine)
  self.dir = mh.dir("cmp")
end

function TestMigrateCompare:tearDown()
  collectgarbage()
  mh.reset(self.engine)
  self.engine:dispose()
end

-- The blog models of models/blog.lua, in a MetaData of their own (v = 2: changed).
local function blog(v)
  local meta = argent.MetaData()
  local users = {
    Column("id", Integer, {primary_key = true, index = true}),
    Column("username", String(128)),
    Column("email", String(128), v == 2 and {index = true} or nil),
    Column("password", String(128)),
    Column("updated_at", DateTime),
    Column("created_at", DateTime)}
  if v == 2 then users[#users + 1] = Column("age", Integer, {nullable = false, server_default = 0}) end
  argent.Table("users", meta, table.unpack(users))
  argent.Table("posts", meta,
    Column("id", Integer, {primary_key = true}),
    Column("title", String(256), {nullable = false}),
    Column("content", Text, {nullable = false}),
    Column("image_url", String(v == 2 and 128 or 256)),
    Column("owner_id", Integer, {foreign_key = "users.id", nullable = false, index = v ~= 2}))
  local comments = {
    Column("id", Integer, {primary_key = true}),
    Column("title", String(512), {nullable = v ~= 2}),
    Column("owner_id", Integer, {foreign_key = "users.id"}),
    Column("post_id", Integer, {foreign_key = "posts.id"})}
  if v ~= 2 then comments[#comments + 1] = Column("created_at", DateTime) end
  argent.Table("comments", meta, table.unpack(comments))
  if v == 2 then
    argent.Table("tags", meta, Column("id", Integer, {primary_key = true}), Column("name", String(40), {unique = true}))
  end
  return meta
end

local function texts(diffs)
  local out = {}
  for i, d in ipairs(diffs) do out[i] = d.text end
  return out
end

-- except: (on MariaDB) an index a foreign key needs, which MariaDB refuses to drop (Alembic
-- writes the drop and the revision fails; argent leaves it out)
function TestMigrateCompare:assert_like_alembic(meta, diffs, except)
  if not mh.have_alembic() then return end
  -- (the sanitizer build checks memory: Alembic, in Python, would only add time there)
  if os.getenv("ASAN_OPTIONS") then return end
  local ref = mh.alembic_compare(meta, self.engine.dialect, URL)
  if except then
    local kept = {}
    for _, d in ipairs(ref) do
      if d ~= except then kept[#kept + 1] = d end
    end
    ref = kept
  end
  lu.assertEquals(mh.normalise(diffs), ref, "argent's differences are Alembic's")
end

function TestMigrateCompare:test_blog_against_an_empty_database()
  local meta = blog()
  local diffs = migrate.compare(self.engine, meta)
  lu.assertEquals(texts(diffs), {"add table users", "add table posts", "add table comments"})
  lu.assertEquals(tostring(diffs[1]), "add table users")
  self:assert_like_alembic(meta, diffs)
end

function TestMigrateCompare:test_a_database_made_by_create_all_matches_its_models()
  local meta = blog()
  meta:create_all(self.engine)
  local diffs = migrate.compare(self.engine, meta)
  lu.assertEquals(texts(diffs), {})
end

function TestMigrateCompare:test_a_model_change()
  blog():create_all(self.engine)
  local meta = blog(2)
  local diffs = migrate.compare(self.engine, meta)
  local got = texts(diffs)
  table.sort(got)
  local want = {
    "add column users.age",
    "add index ix_users_email on users(email)",
    "add table tags",
    "remove column comments.created_at",
  }
  -- MariaDB keeps an index for a foreign key: the one there cannot go
  if not mariadb then want[#want + 1] = "remove index ix_posts_owner_id on posts(owner_id)" end
  local found = {}
  for _, t in ipairs(got) do found[t] = true end
  for _, w in ipairs(want) do lu.assertTrue(found[w], w .. " in: " .. table.concat(got, "; ")) end
  local mods = 0
  for _, d in ipairs(diffs) do
    if d.kind == "modify_column" then
      mods = mods + 1
      if d.column == "image_url" then lu.assertNotNil(d.changes.type) lu.assertNil(d.changes.nullable) end
      if d.column == "title" then lu.assertEquals(d.changes.nullable, {from = true, to = false}) end
    end
  end
  lu.assertEquals(mods, 2)
  self:assert_like_alembic(meta, diffs, mariadb and "remove_index ix_posts_owner_id" or nil)
  -- dependency order: the new table before the indexes, removals of tables last
  local kinds = {}
  for i, d in ipairs(diffs) do kinds[d.kind] = kinds[d.kind] or i end
  lu.assertTrue(kinds.add_table < kinds.add_index and kinds.remove_column < kinds.add_index)
  if kinds.remove_index then lu.assertTrue(kinds.remove_index < kinds.add_table) end
end

function TestMigrateCompare:test_removed_tables_come_children_first()
  blog():create_all(self.engine)
  local diffs = migrate.compare(self.engine, argent.MetaData())
  lu.assertEquals(texts(diffs), {"remove table comments", "remove table posts", "remove table users"})
  self:assert_like_alembic(argent.MetaData(), diffs)
end

-- Autogenerate, upgrade: the same schema as create_all, and nothing more to generate.
function TestMigrateCompare:test_autogenerate_gives_the_schema_of_create_all()
  local meta = blog()
  local path = migrate.revision{directory = self.dir, message = "blog", autogenerate = true, bind = self.engine,
                                metadata = meta}
  lu.assertNotNil(path)
  migrate.upgrade(self.engine, "head", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, meta)), {})
  lu.assertNil((migrate.revision{directory = self.dir, message = "again", autogenerate = true, bind = self.engine,
                                 metadata = meta}), "an unchanged model gives no revision")
  local other = argent.create_engine(URL2)
  mh.reset(other)
  meta:create_all(other)
  local function shape(engine)
    local conn <close> = engine:connect()
    local snap = inspect.snapshot(conn)
    snap.argent_version = nil
    for _, t in pairs(snap) do
      t.sql = nil
      for _, c in ipairs(t.columns) do c.type = tostring(c.type) end
    end
    return snap
  end
  lu.assertEquals(shape(self.engine), shape(other))
  mh.reset(other)
  other:dispose()
  -- and back down to nothing
  migrate.downgrade(self.engine, "base", {directory = self.dir})
  lu.assertEquals(mh.tables(self.engine), {argent_version = true})
end

-- Each dialect's own spellings of the models' types and defaults are no difference.
function TestMigrateCompare:test_dialect_spellings_compare_equal()
  local ddl
  if pg then
    ddl = "CREATE TABLE spelled (id int4 NOT NULL PRIMARY KEY, a character varying(50), b int8, c numeric(10,2), "
      .. "d bool DEFAULT true, e timestamp DEFAULT now(), f float8, g varchar(20) DEFAULT 'x'::character varying, "
      .. "h int2 DEFAULT 0, i text, j bytea)"
  elseif mariadb then
    ddl = "CREATE TABLE spelled (id int(11) NOT NULL PRIMARY KEY, a varchar(50), b bigint(20), c decimal(10,2), "
      .. "d tinyint(1) DEFAULT 1, e datetime(6) DEFAULT current_timestamp(6), f double, g varchar(20) DEFAULT 'x', "
      .. "h smallint(6) DEFAULT 0, i longtext, j longblob)"
  else
    ddl = "CREATE TABLE spelled (id INTEGER NOT NULL PRIMARY KEY, a VARCHAR(50), b BIGINT, c NUMERIC(10, 2), "
      .. "d BOOLEAN DEFAULT 1, e DATETIME DEFAULT (CURRENT_TIMESTAMP), f DOUBLE, g VARCHAR(20) DEFAULT 'x', "
      .. "h SMALLINT DEFAULT '0', i TEXT, j BLOB)"
  end
  local conn = self.engine:connect()
  conn:exec_driver_sql(ddl)
  conn:close()
  local meta = argent.MetaData()
  argent.Table("spelled", meta,
    Column("id", Integer, {primary_key = true, autoincrement = false}),
    Column("a", String(50)), Column("b", argent.BigInteger), Column("c", argent.Numeric(10, 2)),
    Column("d", argent.Boolean, {server_default = true}),
    Column("e", DateTime, {server_default = argent.func.current_timestamp()}),
    Column("f", argent.Double), Column("g", String(20), {server_default = "x"}),
    Column("h", argent.SmallInteger, {server_default = 0}), Column("i", Text), Column("j", argent.LargeBinary))
  lu.assertEquals(texts(migrate.compare(self.engine, meta)), {})
  -- and a real difference still shows
  meta = argent.MetaData()
  argent.Table("spelled", meta,
    Column("id", Integer, {primary_key = true, autoincrement = false}),
    Column("a", String(60)), Column("b", argent.BigInteger), Column("c", argent.Numeric(12, 2)),
    Column("d", argent.Boolean, {server_default = false}),
    Column("e", DateTime, {server_default = argent.func.current_timestamp()}),
    Column("f", argent.Double), Column("g", String(20), {server_default = "y"}),
    Column("h", argent.SmallInteger, {server_default = 1}), Column("i", Text), Column("j", argent.LargeBinary))
  local got = texts(migrate.compare(self.engine, meta))
  lu.assertEquals(#got, 5, table.concat(got, "; "))
end

function TestMigrateCompare:test_normalisers()
  local compare = require "argent.migrate.compare"
  local n = compare.normalize_type
  lu.assertEquals(n("postgresql", "character varying(128)"), n("postgresql", "VARCHAR(128)"))
  lu.assertEquals(n("postgresql", "INT4"), "INTEGER")
  lu.assertEquals(n("postgresql", "timestamp without time zone"), "TIMESTAMP")
  lu.assertEquals(n("postgresql", "FLOAT"), n("postgresql", "double precision"))
  lu.assertEquals(n("mariadb", "int(11)"), "INTEGER")
  lu.assertEquals(n("mariadb", "tinyint(1)"), "BOOLEAN")
  lu.assertEquals(n("mariadb", "decimal(10,2)"), n("mariadb", "NUMERIC(10, 2)"))
  lu.assertEquals(n("sqlite", "INT"), "INTEGER")
  lu.assertEquals(n("sqlite", "DATETIME"), n("sqlite", "TIMESTAMP"))
  lu.assertNotEquals(n("sqlite", "VARCHAR(10)"), n("sqlite", "VARCHAR(20)"))
  local d = compare.normalize_default
  lu.assertEquals(d("postgresql", "'x'::character varying"), "'x'")
  lu.assertEquals(d("postgresql", "('5'::integer)"), "5")
  lu.assertEquals(d("postgresql", "now()"), "CURRENT_TIMESTAMP")
  lu.assertEquals(d("mariadb", "current_timestamp()"), "CURRENT_TIMESTAMP")
  lu.assertEquals(d("sqlite", "(CURRENT_TIMESTAMP)"), "CURRENT_TIMESTAMP")
  lu.assertEquals(d("sqlite", "'0'"), "0")
  lu.assertEquals(d("sqlite", "0.0"), "0")
  lu.assertEquals(d("postgresql", "true"), d("sqlite", "1"))
  lu.assertEquals(d("mariadb", "'it\\'s'"), "'it's'")
  lu.assertNil(d("mariadb", "NULL"))
  lu.assertNil(d("sqlite", nil))
  lu.assertNotEquals(d("sqlite", "'a'"), d("sqlite", "'A'"))
end

function TestMigrateCompare:test_unique_constraints_and_foreign_keys()
  local meta = argent.MetaData{naming_convention = {uq = "uq_%(table_name)s_%(column_0_N_name)s",
                                                    fk = "fk_%(table_name)s_%(column_0_name)s"}}
  argent.Table("parents", meta, Column("id", Integer, {primary_key = true}), Column("code", String(10)))
  argent.Table("kids", meta, Column("id", Integer, {primary_key = true}),
    Column("parent_id", Integer, {foreign_key = "parents.id"}), Column("a", Integer), Column("b", Integer),
    argent.UniqueConstraint("a", "b"))
  meta:create_all(self.engine)
  lu.assertEquals(texts(migrate.compare(self.engine, meta)), {})
  local meta2 = argent.MetaData{naming_convention = {uq = "uq_%(table_name)s_%(column_0_N_name)s",
                                                     fk = "fk_%(table_name)s_%(column_0_name)s"}}
  argent.Table("parents", meta2, Column("id", Integer, {primary_key = true}), Column("code", String(10), {unique = true}))
  argent.Table("kids", meta2, Column("id", Integer, {primary_key = true}),
    Column("parent_id", Integer, {foreign_key = argent.ForeignKey("parents.id", {ondelete = "CASCADE"})}),
    Column("a", Integer), Column("b", Integer))
  local diffs = migrate.compare(self.engine, meta2)
  local got = texts(diffs)
  table.sort(got)
  lu.assertEquals(got, {
    "add foreign key fk_kids_parent_id on kids(parent_id) -> parents",
    "add unique constraint uq_parents_code on parents(code)",
    "remove foreign key fk_kids_parent_id on kids(parent_id) -> parents",
    -- (MariaDB cannot tell a unique constraint from a unique index: the model has neither)
    mariadb and "remove index uq_kids_a_b on kids(a, b)" or "remove unique constraint uq_kids_a_b on kids(a, b)",
  })
  self:assert_like_alembic(meta2, diffs)
  -- and what autogenerate writes for them runs on every database
  migrate.stamp(self.engine, "base", {directory = self.dir})
  local path = migrate.revision{directory = self.dir, message = "keys", autogenerate = true, bind = self.engine,
                                metadata = meta2}
  lu.assertNotNil(path)
  migrate.upgrade(self.engine, "head", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, meta2)), {})
  migrate.downgrade(self.engine, "-1", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, meta)), {})
end

-- Column comments, where the dialect keeps them (PostgreSQL; argent writes
-- none on MariaDB and SQLite has none): a changed, a new and a removed
-- comment are differences, as in Alembic; autogenerate's revision sets and
-- drops them, and its downgrade puts them back.
function TestMigrateCompare:test_column_comments()
  if not self.engine.features.comments then lu.skip("no column comments on " .. self.engine.dialect) end
  local function model(v)
    local meta = argent.MetaData()
    argent.Table("notes", meta, Column("id", Integer, {primary_key = true}),
      Column("a", Integer, {comment = v == 1 and "first" or "second"}),
      Column("b", Integer, {comment = v == 2 and "it's new" or nil}),
      Column("c", Integer, {comment = v == 1 and "going" or nil}),
      Column("d", Integer, {comment = "kept"}))
    return meta
  end
  local meta1, meta2 = model(1), model(2)
  meta1:create_all(self.engine)
  lu.assertEquals(texts(migrate.compare(self.engine, meta1)), {})
  local diffs = migrate.compare(self.engine, meta2)
  local got = texts(diffs)
  table.sort(got)
  lu.assertEquals(got, {
    "modify column notes.a: comment 'first' -> 'second'",
    "modify column notes.b: comment none -> 'it''s new'",
    "modify column notes.c: comment 'going' -> none",
  })
  self:assert_like_alembic(meta2, diffs)
  migrate.stamp(self.engine, "base", {directory = self.dir})
  local path = migrate.revision{directory = self.dir, message = "comments", autogenerate = true, bind = self.engine,
                                metadata = meta2}
  lu.assertNotNil(path)
  migrate.upgrade(self.engine, "head", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, meta2)), {})
  local cols = {}
  for _, c in ipairs(argent.inspect(self.engine):get_columns("notes")) do cols[c.name] = c.comment end
  lu.assertEquals(cols, {a = "second", b = "it's new", d = "kept"})
  migrate.downgrade(self.engine, "-1", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, meta1)), {})
end

function TestMigrateCompare:test_enum_types()
  local function model(values)
    local meta = argent.MetaData()
    argent.Table("moods", meta, Column("id", Integer, {primary_key = true}),
      Column("mood", argent.Enum(values, {name = "mood"})))
    return meta
  end
  local diffs = migrate.compare(self.engine, model({"ok", "bad"}))
  if pg then
    lu.assertEquals(texts(diffs), {"add enum type mood (ok, bad)", "add table moods"})
  else
    lu.assertEquals(texts(diffs), {"add table moods"})
  end
  model({"ok", "bad"}):create_all(self.engine)
  lu.assertEquals(texts(migrate.compare(self.engine, model({"ok", "bad"}))), {})
  diffs = texts(migrate.compare(self.engine, model({"ok", "bad", "meh"})))
  if pg then
    lu.assertEquals(diffs, {"add value 'meh' to enum type mood"})
  else
    lu.assertEquals(#diffs, 0) -- VARCHAR(3) holds 'meh' as well
  end
  if pg then
    diffs = texts(migrate.compare(self.engine, argent.MetaData()))
    lu.assertEquals(diffs, {"remove table moods", "remove enum type mood"})
  end
end

function TestMigrateCompare:test_the_version_table_is_never_a_difference()
  mh.revision(self.dir, "a1a1a1a1a1a1", nil, "", "")
  migrate.upgrade(self.engine, "head", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, argent.MetaData())), {})
  mh.write(self.dir .. "/env.lua", 'return {version_table = "mine"}')
  migrate.upgrade(self.engine, "head", {directory = self.dir})
  lu.assertEquals(texts(migrate.compare(self.engine, argent.MetaData(), {directory = self.dir})),
                  {"remove table argent_version"})
  lu.assertEquals(texts(migrate.compare(self.engine, argent.MetaData(), {version_table = "argent_version"})),
                  {"remove table mine"})
  helper.assert_error("ArgumentError", "argument 'metadata'", migrate.compare, self.engine, 42)
  local base = argent.declarative_base()
  lu.assertEquals(#migrate.compare(self.engine, base, {version_table = "mine"}), 1, "a Base stands for its metadata")
end

local ok = helper.run()
mh.drop_databases()
os.exit(ok, true)
