-- tests/lua/test_migrate_sqlite_rebuild.lua -- argent.migrate.sqlite_rebuild:
-- what SQLite's ALTER TABLE cannot do, done by rebuilding the table, keeps
-- everything the table had: rows, named and unnamed constraints (unique,
-- check, foreign keys, both ways), the primary key's name, AUTOINCREMENT
-- and its sqlite_sequence counter, plain, unique and partial indexes,
-- triggers, views that read it; PRAGMA foreign_key_check stays empty.
-- SQLite only (a file and memory); the other databases skip it.
local helper = require "tests.lua.helper"
local mh = require "tests.lua.migrate_helper"
local lu, argent = helper.lu, helper.argent

if not helper.is_sqlite() then
  io.stderr:write("test_migrate_sqlite_rebuild: SQLite's table rebuilds; nothing to test on ", helper.db, "\n")
  os.exit(77)
end

local rebuild = require "argent.migrate.sqlite_rebuild"

local URL = mh.url("rebuild")

TestSqliteRebuild = {}

local SCHEMA = {
  [[CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL CONSTRAINT uq_parent_code UNIQUE)]],
  [[CREATE TABLE item (
      id INTEGER NOT NULL, parent_id INTEGER, qty INTEGER DEFAULT 1 CHECK (qty >= 0), label VARCHAR(20),
      note TEXT, "odd name" NUMERIC_TEXT(20, 2),
      CONSTRAINT pk_item PRIMARY KEY (id),
      CONSTRAINT fk_item_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE,
      CONSTRAINT ck_item_label CHECK (label <> ''), UNIQUE (label, note))]],
  [[CREATE TABLE child (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES item (id))]],
  [[CREATE INDEX ix_item_label ON item (label)]],
  [[CREATE UNIQUE INDEX ux_item_note ON item (note) WHERE note IS NOT NULL]],
  [[CREATE TABLE log (msg TEXT)]],
  [[CREATE TRIGGER item_log AFTER INSERT ON item BEGIN INSERT INTO log VALUES ('item ' || new.id); END]],
  [[CREATE VIEW item_view AS SELECT id, label FROM item]],
}

function TestSqliteRebuild:setUp()
  self.engine = argent.create_engine(URL)
  mh.reset(self.engine)
  local conn = self.engine:connect()
  conn:exec_driver_sql("DROP VIEW IF EXISTS item_view")
  for _, sql in ipairs(SCHEMA) do conn:exec_driver_sql(sql) end
  conn:execute("INSERT INTO parent (code) VALUES ('a'), ('b'), ('c')")
  conn:execute("DELETE FROM parent WHERE code = 'c'") -- the counter is at 3, the max id at 2
  conn:execute("INSERT INTO item (id, parent_id, qty, label, note, \"odd name\") VALUES (1, 1, 2, 'x', 'n1', '12.50'), "
               .. "(2, 2, 0, 'y', NULL, '0.10')")
  conn:execute("INSERT INTO child (id, item_id) VALUES (1, 1), (2, 2)")
  conn:close()
  self.dir = mh.dir("rebuild")
end

function TestSqliteRebuild:tearDown()
  collectgarbage()
  local conn = self.engine:connect()
  conn:exec_driver_sql("DROP VIEW IF EXISTS item_view")
  conn:close()
  mh.reset(self.engine)
  self.engine:dispose()
end

function TestSqliteRebuild:sql(name)
  return mh.rows(self.engine, "SELECT sql FROM sqlite_master WHERE name = ?", {name})[1].sql
end

function TestSqliteRebuild:test_the_model_of_a_table()
  local conn = self.engine:connect()
  local m = rebuild.model(conn, "item")
  conn:close()
  lu.assertEquals(m.pk_name, "pk_item")
  lu.assertEquals(m.columns[6].name, "odd name")
  lu.assertEquals(m.columns[6].sql_type, "NUMERIC_TEXT(20, 2)")
  lu.assertEquals(m.foreign_keys[1].name, "fk_item_parent")
  lu.assertEquals(m.foreign_keys[1].ondelete, "CASCADE")
  local checks = {}
  for _, ck in ipairs(m.checks) do checks[#checks + 1] = (ck.name or "-") .. ":" .. ck.sqltext end
  lu.assertEquals(checks, {"-:qty >= 0", "ck_item_label:label <> ''"})
  lu.assertEquals(#m.triggers, 1)
  lu.assertTrue(rebuild.column_is_used(m, "label"))
  lu.assertTrue(rebuild.column_is_used(m, "note"), "a partial index's text names it")
  lu.assertFalse(rebuild.column_is_used(m, "odd name"))
end

function TestSqliteRebuild:test_a_rebuild_keeps_everything()
  mh.step(self.engine, self.dir, function(op) op.alter_column("item", "qty", {nullable = false}) end)
  local item = self:sql("item")
  helper.assert_has(item, "CONSTRAINT pk_item PRIMARY KEY")
  helper.assert_has(item, "CONSTRAINT fk_item_parent FOREIGN KEY")
  helper.assert_has(item, "ON DELETE CASCADE")
  helper.assert_has(item, "CONSTRAINT ck_item_label CHECK (label <> '')")
  helper.assert_has(item, "CHECK (qty >= 0)")
  helper.assert_has(item, "UNIQUE (label, note)")
  helper.assert_has(item, '"odd name" NUMERIC_TEXT(20, 2)')
  helper.assert_has(item, "qty INTEGER DEFAULT 1 NOT NULL")
  lu.assertEquals(self:sql("ux_item_note"), "CREATE UNIQUE INDEX ux_item_note ON item (note) WHERE note IS NOT NULL")
  lu.assertNotNil(self:sql("ix_item_label"))
  lu.assertNotNil(self:sql("item_log"))
  local conn = self.engine:connect()
  lu.assertEquals(conn:execute("SELECT id, label FROM item_view ORDER BY id"):all(), {{id = 1, label = "x"}, {id = 2, label = "y"}})
  lu.assertEquals(conn:execute("SELECT \"odd name\" AS v FROM item WHERE id = 1"):scalar(), "12.50")
  conn:execute("INSERT INTO item (id, parent_id, label) VALUES (3, 1, 'z')")
  lu.assertEquals(conn:execute("SELECT msg FROM log"):scalars(), {"item 1", "item 2", "item 3"},
                  "the trigger is back (and the copy of the rows did not fire it)")
  lu.assertEquals(conn:execute("PRAGMA foreign_key_check"):all(), {})
  -- the key from child to item still holds, and item's cascade too
  helper.assert_error("IntegrityError", nil, conn.execute, conn, "INSERT INTO child (id, item_id) VALUES (9, 99)")
  conn:execute("DELETE FROM child WHERE id = 2")
  conn:execute("DELETE FROM parent WHERE id = 2")
  lu.assertEquals(conn:execute("SELECT count(*) FROM item WHERE parent_id = 2"):scalar(), 0)
  conn:close()
end

function TestSqliteRebuild:test_autoincrement_and_its_counter_are_kept()
  mh.step(self.engine, self.dir, function(op) op.alter_column("parent", "code", {type = argent.String(10)}) end)
  helper.assert_has(self:sql("parent"), "PRIMARY KEY AUTOINCREMENT")
  helper.assert_has(self:sql("parent"), "CONSTRAINT uq_parent_code UNIQUE (code)")
  local conn = self.engine:connect()
  conn:execute("INSERT INTO parent (code) VALUES ('d')")
  lu.assertEquals(conn:execute("SELECT id FROM parent WHERE code = 'd'"):scalar(), 4, "ids are never reused")
  conn:close()
end

function TestSqliteRebuild:test_dropping_a_column_takes_what_uses_it()
  mh.step(self.engine, self.dir, function(op) op.drop_column("item", "label") end)
  local item = self:sql("item")
  helper.assert_lacks(item, "label")
  helper.assert_has(item, "CONSTRAINT fk_item_parent")
  lu.assertEquals(mh.rows(self.engine, "SELECT name FROM sqlite_master WHERE name = 'ix_item_label'"), {})
  lu.assertNotNil(self:sql("ux_item_note"))
  lu.assertEquals(#mh.rows(self.engine, "SELECT id FROM item"), 2)
end

function TestSqliteRebuild:test_constraints_added_and_dropped_by_name()
  mh.step(self.engine, self.dir, function(op)
    op.drop_constraint("ck_item_label", "item")
    op.drop_constraint("uq_parent_code", "parent")
    op.create_unique_constraint("uq_item_label", "item", {"label"})
  end)
  helper.assert_lacks(self:sql("item"), "ck_item_label")
  helper.assert_has(self:sql("item"), "CONSTRAINT uq_item_label UNIQUE (label)")
  helper.assert_lacks(self:sql("parent"), "uq_parent_code")
  local err = helper.raised(mh.step, self.engine, self.dir, function(op) op.drop_constraint("nameless", "item") end)
  helper.assert_has(tostring(err), "has no constraint named nameless")
end

function TestSqliteRebuild:test_a_leftover_of_a_crashed_rebuild_is_replaced()
  local conn = self.engine:connect()
  conn:exec_driver_sql("CREATE TABLE _argent_rebuild_item (x INTEGER)")
  conn:close()
  mh.step(self.engine, self.dir, function(op) op.alter_column("item", "note", {type = argent.String(100)}) end)
  lu.assertEquals(#mh.rows(self.engine, "SELECT id FROM item"), 2)
  lu.assertEquals(mh.rows(self.engine, "SELECT name FROM sqlite_master WHERE name LIKE '_argent_rebuild%'"), {})
end

function TestSqliteRebuild:test_collations_and_table_options_are_kept()
  local conn = self.engine:connect()
  conn:exec_driver_sql("CREATE TABLE tags (name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY, n INTEGER) WITHOUT ROWID")
  conn:exec_driver_sql("CREATE TABLE strict_one (id INTEGER PRIMARY KEY, v TEXT COLLATE RTRIM, w INT) STRICT")
  conn:execute("INSERT INTO tags (name, n) VALUES ('Lua', 1)")
  conn:close()
  mh.step(self.engine, self.dir, function(op)
    op.alter_column("tags", "n", {nullable = false, server_default = 0})
    op.alter_column("strict_one", "w", {server_default = 5})
  end)
  helper.assert_has(self:sql("tags"), "COLLATE NOCASE")
  helper.assert_has(self:sql("tags"), "WITHOUT ROWID")
  helper.assert_has(self:sql("strict_one"), "STRICT")
  helper.assert_has(self:sql("strict_one"), "COLLATE RTRIM")
  conn = self.engine:connect()
  lu.assertEquals(conn:execute("SELECT n FROM tags WHERE name = 'LUA'"):scalar(), 1, "the collation still applies")
  conn:close()
end

function TestSqliteRebuild:test_generated_columns_are_refused_not_lost()
  local conn = self.engine:connect()
  conn:exec_driver_sql("CREATE TABLE gen (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED)")
  conn:close()
  local err = helper.raised(mh.step, self.engine, self.dir, function(op) op.alter_column("gen", "a", {nullable = false}) end)
  lu.assertEquals(helper.field(err, "kind"), "NotSupportedError")
  helper.assert_has(tostring(err), "generated columns")
end

local ok = helper.run()
os.exit(ok, true)
