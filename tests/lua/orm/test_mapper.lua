-- tests/lua/orm/test_mapper.lua -- declarative models (lua/argent/orm/mapper.lua,
-- API.md section 6): declarative_base, Base:model (columns in the order
-- written, Column("sql_name", ...), __table_args, methods), a model as a
-- table in the expression language, and the seed's models (models/blog.lua)
-- created on the database and used through Core.

local helper = require "tests.lua.helper"
local lu, argent = helper.lu, helper.argent

local Column, Integer, String, Text, DateTime, Boolean, Float, Numeric, Enum, JSON, Date =
  argent.Column, argent.Integer, argent.String, argent.Text, argent.DateTime, argent.Boolean, argent.Float,
  argent.Numeric, argent.Enum, argent.JSON, argent.Date
local relationship, func = argent.relationship, argent.func

local BLOG_TABLES = {"users", "posts", "comments"}

-- A Base with a small model whose columns cover every kind of value check.
local function typed_model()
  local Base = argent.declarative_base()
  local Thing = Base:model("Thing", {
    __tablename = "t_orm_things",
    id = Column(Integer, {primary_key = true}),
    name = Column(String(20)),
    body = Column(Text),
    flag = Column(Boolean),
    ratio = Column(Float),
    price = Column(Numeric(10, 2)),
    color = Column(Enum("red", "green")),
    data = Column(JSON),
    day = Column(Date),
    at = Column(DateTime),
    __table_args = {argent.Index("ix_t_orm_things_name", "name"), argent.UniqueConstraint("color", "day")},
  })
  return Base, Thing
end

TestMapper = {}

function TestMapper:test_declarative_base_has_a_metadata_and_a_registry()
  local Base = argent.declarative_base()
  lu.assertEquals(getmetatable(Base.metadata), getmetatable(argent.MetaData()))
  lu.assertEquals(type(Base.registry), "table")
  local User = Base:model("User", {__tablename = "users", id = Column(Integer, {primary_key = true})})
  lu.assertIs(Base.registry.User, User)
  lu.assertIs(Base.metadata.tables.users, User.__table__)
  lu.assertEquals(User.__tablename, "users")
  lu.assertEquals(User.__name, "User")
end

function TestMapper:test_columns_keep_the_order_they_were_written_in()
  local blog = require "models.blog"
  local names = {}
  for i, c in ipairs(blog.User.__table__.columns) do names[i] = c.name end
  lu.assertEquals(names, {"id", "username", "email", "password", "updated_at", "created_at"})
  names = {}
  for i, c in ipairs(blog.Comment.__table__.columns) do names[i] = c.name end
  lu.assertEquals(names, {"id", "title", "owner_id", "post_id", "created_at"})
  names = {}
  for i, c in ipairs(blog.Post.__table__.columns) do names[i] = c.name end
  lu.assertEquals(names, {"id", "title", "content", "image_url", "owner_id"})
end

function TestMapper:test_a_column_may_have_an_sql_name_of_its_own()
  local blog = require "models.blog"
  local Comment = blog.Comment
  lu.assertIs(Comment.text, Comment.__table__.c.text)
  lu.assertEquals(Comment.text.name, "title")
  lu.assertEquals(Comment.text.key, "text")
  lu.assertNil(Comment.__table__.c.title)
  local sql = helper.compile(argent.select(Comment.text):where(Comment.text:eq("x")), "sqlite")
  helper.assert_has(sql, "comments.title")
end

function TestMapper:test_a_model_attribute_is_its_column_expression()
  local blog = require "models.blog"
  local User = blog.User
  lu.assertIs(User.email, User.__table__.c.email)
  for _, dialect in ipairs(helper.DIALECTS) do
    local sql, params = helper.compile(argent.select(User.id, User.username)
      :where(User.email:like("%@x.org"), User.id:gt(10)):order_by(User.id:desc()), dialect)
    helper.assert_has(sql, "users.username")
    helper.assert_has(sql, "ORDER BY users.id DESC")
    lu.assertEquals(params, {"%@x.org", 10})
  end
  -- the model stands for its table
  local sql = helper.compile(argent.select(User):where{username = "ann"}, "sqlite")
  helper.assert_has(sql, "users.created_at")
  helper.assert_has(sql, "FROM users")
  sql = helper.compile(argent.select(User.id, func.count(blog.Post.id):label("n"))
    :join(blog.Post, blog.Post.owner_id:eq(User.id)):group_by(User.id), "sqlite")
  helper.assert_has(sql, "JOIN posts")
end

function TestMapper:test_model_misuse_is_an_argument_error()
  local Base = argent.declarative_base()
  helper.assert_error("ArgumentError", "name", function() Base:model(42, {}) end)
  helper.assert_error("ArgumentError", "spec", function() Base:model("X", "users") end)
  helper.assert_error("ArgumentError", "spec", function() Base:model("X") end)
  helper.assert_error("ArgumentError", "__tablename",
    function() Base:model("X", {id = Column(Integer, {primary_key = true})}) end)
  helper.assert_error("ArgumentError", "primary key",
    function() Base:model("X", {__tablename = "t_orm_x", name = Column(String)}) end)
  helper.assert_error("ArgumentError", "colon", function() Base.model("X", {}) end)
  Base:model("X", {__tablename = "t_orm_x", id = Column(Integer, {primary_key = true})})
  helper.assert_error("ArgumentError", "already exists",
    function() Base:model("X", {__tablename = "t_orm_x2", id = Column(Integer, {primary_key = true})}) end)
  -- a failed model does not take the name
  lu.assertNil(Base.registry.Y)
  helper.assert_error("ArgumentError", "declarative_base", argent.declarative_base, 42)
end

function TestMapper:test_table_args_add_indexes_and_constraints()
  local _, Thing = typed_model()
  local t = Thing.__table__
  lu.assertEquals(t.indexes[1].name, "ix_t_orm_things_name")
  lu.assertIs(t.indexes[1].columns[1], Thing.name)
  lu.assertEquals(t.constraints[1].kind, "unique")
  helper.assert_error("ArgumentError", "__table_args", function()
    argent.declarative_base():model("X", {__tablename = "t_orm_x", id = Column(Integer, {primary_key = true}),
                                          __table_args = "x"})
  end)
end

function TestMapper:test_a_model_keeps_its_methods()
  local Base = argent.declarative_base()
  local User = Base:model("User", {
    __tablename = "t_orm_users",
    id = Column(Integer, {primary_key = true}),
    first = Column(String), last = Column(String),
    full_name = function(self) return self.first .. " " .. self.last end,
  })
  local u = User{first = "Ann", last = "Lee"}
  lu.assertEquals(u:full_name(), "Ann Lee")
  lu.assertEquals(tostring(User), "<model User>")
end

-- ---------------------------------------------------------------- on the database

TestSeedModels = {}

function TestSeedModels:setUp()
  self.engine = helper.engine()
  local conn <close> = self.engine:connect()
  helper.drop_tables(conn, {"comments", "posts", "users"})
end

function TestSeedModels:tearDown()
  local blog = require "models.blog"
  helper.cleanup_meta(self.engine, blog.Base.metadata, BLOG_TABLES)
  self.engine = nil
end

function TestSeedModels:test_the_seed_models_make_their_tables_and_work_through_core()
  local blog = require "models.blog"
  local User, Post, Comment = blog.User, blog.Post, blog.Comment
  blog.Base.metadata:create_all(self.engine)
  local conn <close> = self.engine:connect()
  local tables = helper.table_set(conn)
  for _, name in ipairs(BLOG_TABLES) do lu.assertTrue(tables[name], name .. " created") end
  lu.assertTrue(helper.index_set(conn, "posts").ix_posts_owner_id)
  -- created again: nothing to do
  blog.Base.metadata:create_all(self.engine)

  local res = conn:execute(argent.insert(User.__table__):values{username = "ann", email = "ann@x.org",
                                                                 password = "p"})
  local uid = res.lastrowid
  lu.assertNotNil(uid)
  conn:execute(argent.insert(Post):values{title = "T", content = "C", owner_id = uid})
  local pid = conn:execute(argent.select(Post.id):where(Post.owner_id:eq(uid))):scalar()
  conn:execute(argent.insert(Comment):values{text = "nice", owner_id = uid, post_id = pid})

  local row = conn:execute(argent.select(User.id, User.username):where(User.username:eq("ann"))):one()
  lu.assertEquals(row.id, uid)
  lu.assertEquals(row.username, "ann")
  local full = conn:execute(argent.select(User):where{username = "ann"}):one()
  lu.assertEquals(type(full.created_at), "string") -- the Column default ran
  lu.assertEquals(conn:execute(argent.select(Comment.text)):scalar(), "nice")
  local rows = conn:execute(argent.select(Comment.id, Comment.text):join(Post, Comment.post_id:eq(Post.id))
    :where(Post.owner_id:eq(uid))):all()
  lu.assertEquals(#rows, 1)
  lu.assertEquals(rows[1].title, "nice") -- labelled by the SQL name

  -- a row's values make an instance
  local u = User(full)
  lu.assertEquals(u.id, uid)
  lu.assertEquals(argent.as_table(u).email, "ann@x.org")
  -- and an instance's values go back through Core
  local u2 = User{username = "bob", email = "bob@x.org", password = "q"}
  conn:execute(argent.insert(User), argent.as_table(u2))
  lu.assertEquals(helper.count(conn, "users"), 2)
end

os.exit(helper.run(), true)
