-- tests/lua/test_migrate_ops.lua -- argent.migrate.ops: every `op` of
-- API.md section 9.3 on every database, run as revisions through
-- migrate.upgrade (so with the transaction, version table and SQLite rules
-- of a real run): the schema changes, rows are kept, indexes and foreign
-- keys survive SQLite's table rebuilds (PRAGMA foreign_key_check stays
-- empty, and a rebuild that would break a key fails and changes nothing),
-- and bad arguments are ArgumentErrors naming the operation and argument.
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu, argent = helper.lu, helper.argent

local Column, Integer, String, Text = argent.Column, argent.Integer, argent.String, argent.Text
local sqlite, pg, mariadb = helper.is_sqlite(), helper.is_pg(), helper.is_mariadb()

local URL = mh.url("ops")

TestMigrateOps = {}

function TestMigrateOps:setUp()
  self.engine = argent.create_engine(URL)
  mh.reset(self.engine)
  self.dir = mh.dir("ops")
end

function TestMigrateOps:tearDown()
  collectgarbage()
  mh.reset(self.engine)
  self.engine:dispose()
end

function TestMigrateOps:step(fn, down) return mh.step(self.engine, self.dir, fn, down) end

function TestMigrateOps:rows(sql, params) return mh.rows(self.engine, sql, params) end

function TestMigrateOps:insp() return argent.inspect(self.engine) end

local function names(list)
  local out = {}
  for _, x in ipairs(list) do out[#out + 1] = x.name end
  table.sort(out)
  return out
end

local function by_name(list)
  local out = {}
  for _, x in ipairs(list) do out[x.name] = x end
  return out
end

-- users(id, name) with two rows and posts(id, user_id -> users, title) with three
function TestMigrateOps:blog()
  self:step(function(op)
    op.create_table("users", Column("id", Integer, {primary_key = true}), Column("name", String(20), {nullable = false}))
    op.create_table("posts", Column("id", Integer, {primary_key = true}),
      Column("user_id", Integer, {foreign_key = argent.ForeignKey("users.id", {name = "fk_posts_user"})}),
      Column("title", String(30)), argent.CheckConstraint("user_id > 0", {name = "ck_posts_user"}))
    op.create_index("ix_posts_title", "posts", {"title"})
    op.bulk_insert("users", {{id = 1, name = "ann"}, {id = 2, name = "bob"}})
    op.bulk_insert("posts", {{id = 1, user_id = 1, title = "a"}, {id = 2, user_id = 1, title = "b"},
                             {id = 3, user_id = 2, title = "c"}})
  end)
end

function TestMigrateOps:assert_fks_hold()
  if sqlite then lu.assertEquals(self:rows("PRAGMA foreign_key_check"), {}) end
end

function TestMigrateOps:test_create_and_drop_table()
  self:blog()
  local tables = mh.tables(self.engine)
  lu.assertTrue(tables.users and tables.posts and tables.argent_version)
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
  local fk = self:insp():get_foreign_keys("posts")[1]
  lu.assertEquals(fk.referred_table, "users")
  lu.assertEquals(names(self:insp():get_indexes("posts")), {"ix_posts_title"})
  self:step(function(op) op.drop_table("posts") end)
  lu.assertNil(mh.tables(self.engine).posts)
end

function TestMigrateOps:test_add_column_plain_not_null_and_with_a_key()
  self:blog()
  self:step(function(op)
    op.add_column("posts", Column("views", Integer, {nullable = false, server_default = 0}))
    op.add_column("posts", Column("note", Text))
    op.add_column("posts", Column("editor_id", Integer, {foreign_key = "users.id", index = true}))
    op.add_column("users", Column("email", String(40), {unique = true}))
  end)
  lu.assertEquals(self:rows("SELECT views FROM posts ORDER BY id"), {{views = 0}, {views = 0}, {views = 0}})
  local fks = self:insp():get_foreign_keys("posts")
  lu.assertEquals(#fks, 2)
  lu.assertNotNil(by_name(self:insp():get_indexes("posts")).ix_posts_editor_id)
  lu.assertNotNil(by_name(self:insp():get_indexes("posts")).ix_posts_title, "the other index survives")
  lu.assertEquals(#self:insp():get_unique_constraints("users") + (mariadb and 0 or 0), 1)
  -- the new key holds
  helper.assert_error("IntegrityError", nil, function()
    local conn <close> = self.engine:connect()
    conn:execute("UPDATE posts SET editor_id = 99 WHERE id = 1")
  end)
  self:assert_fks_hold()
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
end

function TestMigrateOps:test_drop_column_with_and_without_an_index()
  self:blog()
  self:step(function(op)
    op.add_column("posts", Column("extra", Integer))
    op.add_column("posts", Column("body", Text))
  end)
  self:step(function(op)
    op.drop_column("posts", "extra")
    op.drop_column("posts", "title") -- has an index: SQLite rebuilds
  end)
  local cols = names(self:insp():get_columns("posts"))
  lu.assertEquals(cols, {"body", "id", "user_id"})
  lu.assertEquals(self:insp():get_indexes("posts"), {})
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
  lu.assertEquals(#self:insp():get_foreign_keys("posts"), 1, "the foreign key survives")
  self:assert_fks_hold()
  -- a column a foreign key uses
  self:step(function(op) op.drop_column("posts", "user_id") end)
  lu.assertEquals(self:insp():get_foreign_keys("posts"), {})
end

function TestMigrateOps:test_alter_column_type_nullability_default_and_name()
  self:blog()
  self:step(function(op)
    op.alter_column("posts", "title", {type = String(100)})
    op.alter_column("posts", "title", {server_default = "untitled"})
    op.alter_column("users", "name", {nullable = true})
  end)
  local cols = by_name(self:insp():get_columns("posts"))
  lu.assertStrContains(tostring(cols.title.type), "100")
  lu.assertStrContains(tostring(cols.title.default), "untitled")
  lu.assertTrue(by_name(self:insp():get_columns("users")).name.nullable)
  lu.assertEquals(self:rows("SELECT title FROM posts ORDER BY id"), {{title = "a"}, {title = "b"}, {title = "c"}})
  lu.assertNotNil(by_name(self:insp():get_indexes("posts")).ix_posts_title, "the index survives")
  self:step(function(op)
    op.alter_column("posts", "title", {server_default = false, new_column_name = "headline", nullable = false})
  end)
  cols = by_name(self:insp():get_columns("posts"))
  lu.assertNil(cols.title)
  lu.assertNil(cols.headline.default)
  lu.assertFalse(cols.headline.nullable)
  lu.assertEquals(self:rows("SELECT headline FROM posts WHERE id = 3"), {{headline = "c"}})
  self:assert_fks_hold()
end

function TestMigrateOps:test_alter_column_comment()
  self:blog()
  if not self.engine.features.comments then
    local err = helper.raised(self.step, self, function(op) op.alter_column("posts", "title", {comment = "x"}) end)
    helper.assert_has(tostring(err), "NotSupportedError")
    helper.assert_has(tostring(err), "column comments are kept on PostgreSQL only")
    return
  end
  self:step(function(op)
    op.alter_column("posts", "title", {comment = "the post's title"})
    op.alter_column("users", "name", {comment = "shown", nullable = true})
  end)
  lu.assertEquals(by_name(self:insp():get_columns("posts")).title.comment, "the post's title")
  lu.assertEquals(by_name(self:insp():get_columns("users")).name.comment, "shown")
  self:step(function(op)
    op.alter_column("posts", "title", {comment = false, new_column_name = "headline"})
    op.alter_column("users", "name", {comment = argent.null})
  end)
  lu.assertNil(by_name(self:insp():get_columns("posts")).headline.comment)
  lu.assertNil(by_name(self:insp():get_columns("users")).name.comment)
end

function TestMigrateOps:test_alter_column_comment_misuse()
  self:blog()
  for _, bad in ipairs{5, true, {}} do
    local err = helper.raised(self.step, self, function(op) op.alter_column("posts", "title", {comment = bad}) end)
    helper.assert_has(tostring(err), "ArgumentError")
    helper.assert_has(tostring(err), "option 'comment'")
  end
end

function TestMigrateOps:test_a_failing_change_changes_nothing()
  self:blog()
  self:step(function(op) op.alter_column("users", "name", {nullable = true}) end)
  local conn = self.engine:connect()
  conn:execute("INSERT INTO users (id, name) VALUES (3, NULL)")
  conn:close()
  local before = argent.migrate_current and nil
  local err = helper.raised(self.step, self, function(op)
    op.add_column("users", Column("age", Integer))
    op.alter_column("users", "name", {nullable = false}) -- a NULL is there
  end)
  helper.assert_has(tostring(err), "op.alter_column(\"users\", \"name\"")
  if mariadb then
    helper.assert_has(tostring(err), "done before the failure: op.add_column")
  else
    helper.assert_has(tostring(err), "rolled back")
    lu.assertNil(by_name(self:insp():get_columns("users")).age, "the revision's first change is undone")
  end
  lu.assertEquals(#self:rows("SELECT id FROM users"), 3)
  lu.assertNil(before)
end

function TestMigrateOps:test_rename_table_and_indexes()
  self:blog()
  self:step(function(op)
    op.rename_table("posts", "articles")
    op.create_index("ux_users_name", "users", {"name"}, {unique = true})
    op.drop_index("ix_posts_title", "articles")
  end)
  local t = mh.tables(self.engine)
  lu.assertNil(t.posts)
  lu.assertTrue(t.articles)
  lu.assertEquals(#self:rows("SELECT id FROM articles"), 3)
  local ux = by_name(self:insp():get_indexes("users")).ux_users_name
  lu.assertTrue(ux.unique)
  lu.assertEquals(self:insp():get_indexes("articles"), {})
end

function TestMigrateOps:test_unique_foreign_key_and_check_constraints()
  self:blog()
  self:step(function(op)
    op.create_unique_constraint("uq_users_name", "users", {"name"})
    op.add_column("posts", Column("reviewer_id", Integer))
    op.create_foreign_key("fk_posts_reviewer", "posts", "users", {"reviewer_id"}, {"id"}, {ondelete = "SET NULL"})
    op.create_check_constraint("ck_users_name", "users", "name <> ''")
  end)
  lu.assertEquals(self:insp():get_unique_constraints("users")[1].name, "uq_users_name")
  local fks = by_name(self:insp():get_foreign_keys("posts"))
  lu.assertEquals(fks.fk_posts_reviewer.options.ondelete, "SET NULL")
  helper.assert_error("IntegrityError", nil, function()
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO users (id, name) VALUES (5, 'ann')")
  end)
  self:assert_fks_hold()
  self:step(function(op)
    op.drop_constraint("uq_users_name", "users")
    op.drop_constraint("fk_posts_reviewer", "posts", {type = "foreignkey"})
    op.drop_constraint("ck_users_name", "users")
  end)
  lu.assertEquals(self:insp():get_unique_constraints("users"), {})
  lu.assertNil(by_name(self:insp():get_foreign_keys("posts")).fk_posts_reviewer)
  lu.assertNotNil(by_name(self:insp():get_foreign_keys("posts")).fk_posts_user, "the other key stays")
  local conn = self.engine:connect()
  conn:execute("INSERT INTO users (id, name) VALUES (5, 'ann')")
  conn:close()
  local err = helper.raised(self.step, self, function(op) op.drop_constraint("no_such_thing", "users") end)
  helper.assert_has(tostring(err), "no_such_thing")
end

-- SQLite rebuilds keep what points at the table too: keys from other tables, triggers.
function TestMigrateOps:test_rebuild_keeps_incoming_keys_and_triggers()
  self:blog()
  if sqlite then
    local conn = self.engine:connect()
    conn:exec_driver_sql("CREATE TABLE audit (n INTEGER)")
    conn:exec_driver_sql("CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.id); END")
    conn:close()
  end
  self:step(function(op) op.alter_column("users", "name", {type = String(50)}) end)
  self:assert_fks_hold()
  helper.assert_error("IntegrityError", nil, function()
    local conn <close> = self.engine:connect()
    conn:execute("INSERT INTO posts (id, user_id) VALUES (9, 42)")
  end)
  if sqlite then
    local conn = self.engine:connect()
    conn:execute("INSERT INTO users (id, name) VALUES (7, 'cy')")
    lu.assertEquals(conn:execute("SELECT n FROM audit"):scalars(), {7})
    lu.assertEquals(conn:execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '_argent_rebuild%'"):scalar(), 0)
    conn:close()
  end
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
end

-- A rebuild that leaves a dangling reference fails, and changes nothing.
function TestMigrateOps:test_a_key_that_rows_break_fails_the_revision()
  self:blog()
  self:step(function(op) op.add_column("posts", Column("owner_id", Integer)) end)
  local conn = self.engine:connect()
  conn:execute("UPDATE posts SET owner_id = 99")
  conn:close()
  local err = helper.raised(self.step, self, function(op)
    op.create_foreign_key("fk_posts_owner", "posts", "users", {"owner_id"}, {"id"})
  end)
  lu.assertEquals(helper.field(err, "kind"), "IntegrityError")
  lu.assertNil(by_name(self:insp():get_foreign_keys("posts")).fk_posts_owner)
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
end

function TestMigrateOps:test_enum_types()
  self:step(function(op)
    op.create_enum("mood", {"ok", "bad"})
    op.create_table("feelings", Column("id", Integer, {primary_key = true}),
      Column("mood", argent.Enum("ok", "bad", {name = "mood"})),
      Column("tone", argent.Enum("low", "high", {name = "tone"}))) -- made on the way
    op.add_enum_value("mood", "meh", {after = "ok"})
  end)
  local enums = by_name(self:insp():get_enums())
  if pg then
    lu.assertEquals(enums.mood.labels, {"ok", "meh", "bad"})
    lu.assertEquals(enums.tone.labels, {"low", "high"})
  else
    lu.assertEquals(enums, {})
  end
  local conn = self.engine:connect()
  conn:execute("INSERT INTO feelings (id, mood) VALUES (1, 'bad')")
  conn:close()
  self:step(function(op)
    op.drop_table("feelings")
    op.drop_enum("mood")
    op.drop_enum("tone")
  end)
  lu.assertEquals(self:insp():get_enums(), {})
end

function TestMigrateOps:test_execute_bulk_insert_and_get_bind()
  local seen
  self:step(function(op)
    local t = op.create_table("notes", Column("id", Integer, {primary_key = true}), Column("body", Text))
    op.bulk_insert(t, {{id = 1, body = "x"}, {id = 2}})
    op.execute("INSERT INTO notes (id, body) VALUES (3, 'it''s')")
    op.execute(argent.text("UPDATE notes SET body = :b WHERE id = 2"), {b = "two"})
    seen = op.get_bind():execute("SELECT count(*) FROM notes"):scalar()
    lu.assertEquals(op.dialect, self.engine.dialect)
  end)
  lu.assertEquals(seen, 3)
  lu.assertEquals(self:rows("SELECT id, body FROM notes ORDER BY id"),
    {{id = 1, body = "x"}, {id = 2, body = "two"}, {id = 3, body = "it's"}})
end

function TestMigrateOps:test_bad_arguments_name_the_operation()
  local kept
  local cases = {
    {function(op) op.create_table(nil) end, "op.create_table: argument 'name'"},
    {function(op) op.create_table("x") end, "needs at least one Column"},
    {function(op) op.add_column("t", "not a column") end, "op.add_column: argument 'column'"},
    {function(op) op.alter_column("t", "c") end, "nothing to change"},
    {function(op) op.alter_column("t", "c", {nulable = true}) end, "unknown option 'nulable'"},
    {function(op) op.alter_column("t", "c", {type = "text"}) end, "option 'type'"},
    {function(op) op.create_index("ix", "t", {}) end, "argument 'columns'"},
    {function(op) op.create_foreign_key("f", "t", "u", {"a", "b"}, {"id"}) end, "2 columns refer to 1"},
    {function(op) op.create_foreign_key("f", "t", "u", {"a"}, {"id"}, {ondelete = "EXPLODE"}) end, "ondelete"},
    {function(op) op.drop_constraint("c", "t", {type = "weird"}) end, "option 'type'"},
    {function(op) op.bulk_insert(42, {}) end, "argument 'table'"},
    {function(op) op.bulk_insert("t", {1}) end, "row 1"},
    {function(op) op.execute(42) end, "argument 'statement'"},
    {function(op) kept = op end, nil},
  }
  for _, case in ipairs(cases) do
    local ok, err = pcall(mh.step, self.engine, self.dir, case[1])
    if case[2] then
      lu.assertFalse(ok, case[2])
      helper.assert_has(tostring(err), case[2])
      lu.assertStrContains(tostring(err), "ArgumentError")
    else
      lu.assertTrue(ok, tostring(err))
    end
  end
  local err = helper.assert_error("InvalidRequestError", "only usable inside", kept.drop_table, "x")
  lu.assertNotNil(err)
end

function TestMigrateOps:test_offline_sql_changes_nothing()
  self:blog()
  local migrate = require "argent.migrate"
  mh.revision(self.dir, "zzz999", require("argent.migrate.script").load(self.dir):head(),
    'op.add_column("posts", argent.Column("views", argent.Integer, {nullable = false, server_default = 0}))\n'
    .. '    op.alter_column("users", "name", {type = argent.String(60), existing_type = argent.String(20), existing_nullable = false})')
  local lines = migrate.upgrade(self.engine, "head", {directory = self.dir, sql = true})
  local text = table.concat(lines, "\n")
  helper.assert_has(text, "ADD COLUMN views INTEGER DEFAULT 0 NOT NULL")
  helper.assert_has(text, "argent_version")
  helper.assert_has(text, "'zzz999'")
  if not mariadb then helper.assert_has(text, "COMMIT;") end
  lu.assertNil(by_name(self:insp():get_columns("posts")).views, "nothing ran")
  lu.assertEquals(#self:rows("SELECT id FROM posts"), 3)
  lu.assertNotEquals(migrate.current(self.engine, {directory = self.dir})[1], "zzz999")
end

local ok = helper.run()
mh.drop_databases()
os.exit(ok, true)
