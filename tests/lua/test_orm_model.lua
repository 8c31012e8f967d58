-- tests/lua/test_orm_model.lua -- declarative models and transient instances,
-- API.md section 6 (lua/argent/orm.lua, src/lua/instance.c): declarative_base,
-- Base:model (columns in creation order, Column("sql_name", ...), relationships
-- recorded and resolved lazily by name), a model as a table in the expression
-- language, instances as proxies (type checks at assignment, dirty tracking,
-- pairs, tostring, state, as_table), the seed's models (models/blog.lua)
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

-- ---------------------------------------------------------------- models

TestModel = {}

function TestModel:test_declarative_base()
  local Base = argent.declarative_base()
  lu.assertEquals(getmetatable(Base.metadata), getmetatable(argent.MetaData()))
  lu.assertEquals(type(Base.registry), "table")
  local User = Base:model("User", {__tablename = "users", id = Column(Integer, {primary_key = true})})
  lu.assertIs(Base.registry.User, User)
  lu.assertIs(Base.metadata.tables.users, User.__table__)
  lu.assertEquals(User.__tablename, "users")
  lu.assertEquals(User.__name, "User")
end

function TestModel:test_columns_in_creation_order()
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

function TestModel:test_sql_name_differs_from_attribute()
  local blog = require "models.blog"
  local Comment = blog.Comment
  lu.assertIs(Comment.text, Comment.__table__.c.text)
  lu.assertEquals(Comment.text.name, "title")
  lu.assertEquals(Comment.text.key, "text")
  lu.assertNil(Comment.__table__.c.title)
  local sql = helper.compile(argent.select(Comment.text):where(Comment.text:eq("x")), "sqlite")
  helper.assert_has(sql, "comments.title")
end

function TestModel:test_attribute_is_the_column_expression()
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

function TestModel:test_relationships_recorded_and_resolved_lazily()
  local Base = argent.declarative_base()
  -- Parent refers to Child before Child exists
  local Parent = Base:model("Parent", {
    __tablename = "t_orm_parent",
    id = Column(Integer, {primary_key = true}),
    children = relationship("Child", {back_populates = "parent", lazy = "selectin", cascade = "all, delete-orphan",
                                      order_by = "Child.id"}),
  })
  local Child = Base:model("Child", {
    __tablename = "t_orm_child",
    id = Column(Integer, {primary_key = true}),
    parent_id = Column(Integer, {foreign_key = "t_orm_parent.id"}),
    parent = relationship("Parent", {back_populates = "children", uselist = false}),
  })
  local r = Parent.children
  lu.assertEquals(r.lazy, "selectin")
  lu.assertEquals(r.back_populates, "parent")
  lu.assertTrue(r.cascade["delete-orphan"])
  lu.assertTrue(r.cascade.delete)
  lu.assertEquals(Child.parent.lazy, "select")
  lu.assertTrue(Child.parent.cascade["save-update"])
  lu.assertIs(r:target_model(), Child)
  lu.assertIs(Child.parent:target_model(), Parent)
  Base:configure()
end

function TestModel:test_unknown_relationship_target()
  local Base = argent.declarative_base()
  local A = Base:model("A", {
    __tablename = "t_orm_a",
    id = Column(Integer, {primary_key = true}),
    bs = relationship("Bee"),
  })
  -- defining it is fine; resolving names the missing class
  helper.assert_error("InvalidRequestError", "Bee", function() return A.bs:target_model() end)
  helper.assert_error("InvalidRequestError", "Bee", function() Base:configure() end)
  local B = Base:model("Bee", {__tablename = "t_orm_b", id = Column(Integer, {primary_key = true})})
  lu.assertIs(A.bs:target_model(), B)
end

function TestModel:test_back_populates_must_exist()
  local Base = argent.declarative_base()
  local A = Base:model("A", {__tablename = "t_orm_a", id = Column(Integer, {primary_key = true}),
                             b = relationship("B", {back_populates = "nope"})})
  Base:model("B", {__tablename = "t_orm_b", id = Column(Integer, {primary_key = true})})
  helper.assert_error("InvalidRequestError", "nope", function() return A.b:target_model() end)
end

function TestModel:test_relationship_to_a_model_class()
  local Base = argent.declarative_base()
  local Tag = Base:model("Tag", {__tablename = "t_orm_tag", id = Column(Integer, {primary_key = true})})
  local r = relationship(Tag, {uselist = false})
  local Note = Base:model("Note", {__tablename = "t_orm_note", id = Column(Integer, {primary_key = true}),
                                   tag_id = Column(Integer, {foreign_key = "t_orm_tag.id"}), tag = r})
  lu.assertIs(Note.tag, r)
  lu.assertIs(r:target_model(), Tag)
  lu.assertFalse(r.uselist)
  -- one relationship object per attribute
  helper.assert_error("ArgumentError", "already used", function()
    Base:model("Other", {__tablename = "t_orm_other", id = Column(Integer, {primary_key = true}), tag = r})
  end)
  -- an instance holds an instance (or a list) in a relationship attribute
  local t = Tag{id = 1}
  local n = Note{tag = t}
  lu.assertIs(n.tag, t)
  helper.assert_error("ArgumentError", "Note.tag", function() n.tag = 5 end)
end

function TestModel:test_relationship_options_validated()
  helper.assert_error("ArgumentError", "lazy", relationship, "X", {lazy = "eager"})
  helper.assert_error("ArgumentError", "uselist", relationship, "X", {uselist = "no"})
  helper.assert_error("ArgumentError", "cascade", relationship, "X", {cascade = "all, everything"})
  helper.assert_error("ArgumentError", "back_populates", relationship, "X", {back_populates = 3})
  helper.assert_error("ArgumentError", "secondary", relationship, "X", {secondary = 3})
  helper.assert_error("ArgumentError", "order_by", relationship, "X", {order_by = 3})
  helper.assert_error("ArgumentError", "foreign_keys", relationship, "X", {foreign_keys = true})
  helper.assert_error("ArgumentError", "remote_side", relationship, "X", {remote_side = {}})
  helper.assert_error("ArgumentError", "unknown option 'lazzy'", relationship, "X", {lazzy = "select"})
  helper.assert_error("ArgumentError", "relationship", relationship, 42)
  helper.assert_error("ArgumentError", "options", relationship, "X", "select")
  for _, lazy in ipairs {"select", "selectin", "joined", "raise", "noload"} do
    lu.assertEquals(relationship("X", {lazy = lazy}).lazy, lazy)
  end
  local meta = argent.MetaData()
  local assoc = argent.Table("t_orm_assoc", meta, Column("a", Integer), Column("b", Integer))
  lu.assertIs(relationship("X", {secondary = assoc}).secondary, assoc)
  lu.assertEquals(relationship("X", {secondary = "t_orm_assoc", remote_side = "id",
                                     foreign_keys = {"a", "b"}}).secondary, "t_orm_assoc")
end

function TestModel:test_model_misuse()
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

function TestModel:test_table_args()
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

function TestModel:test_methods_on_the_model()
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

-- ---------------------------------------------------------------- instances

TestInstance = {}

function TestInstance:test_transient_instance()
  local blog = require "models.blog"
  local u = blog.User{username = "ann", email = "ann@x.org"}
  lu.assertEquals(argent.state(u), "transient")
  lu.assertEquals(u.username, "ann")
  lu.assertNil(u.id)
  lu.assertNil(u.created_at) -- defaults are applied at INSERT, not at construction
  u.password = "secret"
  lu.assertEquals(u.password, "secret")
  u.password = nil
  lu.assertNil(u.password)
  local empty = blog.User()
  lu.assertNil(empty.username)
  lu.assertEquals(argent.state(empty), "transient")
  lu.assertEquals(#u.posts, 0) -- a new object's collection starts empty
  lu.assertNil(u.comments[1])
end

function TestInstance:test_tostring()
  local blog = require "models.blog"
  local u = blog.User{id = 1, username = "ann"}
  lu.assertEquals(tostring(u),
    '<User id=1 username="ann" email=nil password=nil updated_at=nil created_at=nil>')
  u.email = 'a"b\\c'
  lu.assertStrContains(tostring(u), [[email="a\"b\\c"]])
  local c = blog.Comment{text = "hi", post_id = 2}
  lu.assertEquals(tostring(c), '<Comment id=nil text="hi" owner_id=nil post_id=2 created_at=nil>')
end

function TestInstance:test_as_table()
  local blog = require "models.blog"
  local c = blog.Comment{id = 4, text = "hi", owner_id = 1}
  local t = argent.as_table(c)
  lu.assertEquals(t, {id = 4, text = "hi", owner_id = 1})
  lu.assertNil(getmetatable(t))
  t.id = 5 -- a copy
  lu.assertEquals(c.id, 4)
  helper.assert_error("ArgumentError", "as_table", argent.as_table, {})
end

function TestInstance:test_pairs_over_columns_in_order()
  local blog = require "models.blog"
  local p = blog.Post{title = "T", owner_id = 1}
  local keys, values = {}, {}
  for k, v in pairs(p) do
    keys[#keys + 1] = k
    values[k] = v
  end
  lu.assertEquals(keys, {"id", "title", "content", "image_url", "owner_id"})
  lu.assertEquals(values, {title = "T", owner_id = 1})
end

function TestInstance:test_unknown_attribute()
  local blog = require "models.blog"
  local u = blog.User{}
  local err = helper.assert_error("ArgumentError", "nickname", function() u.nickname = "x" end)
  lu.assertStrContains(err.message, "User")
  helper.assert_error("ArgumentError", "nickname", blog.User, {nickname = "x"})
  helper.assert_error("ArgumentError", "User", function() u[1] = "x" end)
  -- the SQL name is not an attribute when the attribute's name differs
  helper.assert_error("ArgumentError", "title", function() blog.Comment{title = "x"} end)
  helper.assert_error("ArgumentError", "plain table", blog.User, "ann")
  lu.assertNil(u.nickname) -- reading an unknown name is nil, like any Lua table
end

function TestInstance:test_values_checked_at_assignment()
  local _, Thing = typed_model()
  local t = Thing{}
  local function bad(attr, value, typename)
    local err = helper.assert_error("ArgumentError", "Thing." .. attr, function() t[attr] = value end)
    lu.assertStrContains(err.message, typename)
    lu.assertNil(t[attr], "a refused value is not stored")
  end
  bad("id", "1", "Integer")
  bad("id", 1.5, "Integer")
  bad("name", 42, "String(20)")
  bad("name", {}, "String(20)")
  bad("body", true, "Text")
  bad("flag", 1, "Boolean")
  bad("flag", "yes", "Boolean")
  bad("ratio", "1.5", "Float")
  bad("price", "ten", "Numeric")
  bad("price", {}, "Numeric")
  bad("color", "blue", "Enum")
  bad("color", 1, "Enum")
  bad("data", print, "JSON")
  bad("day", "24/11/2026", "Date")
  bad("at", 12, "DateTime")
  -- what fits
  t.id = 7
  t.id = 8.0
  lu.assertEquals(math.type(t.id), "integer")
  lu.assertEquals(t.id, 8)
  t.name, t.body, t.flag, t.ratio = "n", "b", false, 1
  lu.assertEquals(t.flag, false)
  t.price = "12.50"
  t.price = 3
  t.color = "green"
  t.data = {a = {1, 2}}
  t.data = "s"
  t.day, t.at = "2026-11-24", "2026-11-24 02:26:03"
  -- nil always; argent.null means nil; an SQL expression is kept for the flush
  t.name = nil
  lu.assertNil(t.name)
  t.body = argent.null
  lu.assertNil(t.body)
  local now = func.current_timestamp()
  t.at = now
  lu.assertIs(t.at, now)
end

function TestInstance:test_dirty_tracking()
  local core = require "argent.core"
  local blog = require "models.blog"
  local u = blog.User{username = "ann"}
  local values, dirty = core.orm.internals(u)
  lu.assertEquals(values, {username = "ann"})
  lu.assertNil(dirty) -- a new object's INSERT sends every value: no dirty set
  core.orm.set_state(u, "persistent") -- as if loaded: changes are tracked
  u.username = "bea"
  _, dirty = core.orm.internals(u)
  lu.assertEquals(dirty, {username = true})
  core.orm.clear_dirty(u)
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty) -- clean
  u.username = "bea" -- same value: not a change
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty)
  lu.assertFalse(core.orm.is_dirty(u))
  u.email = "e"
  u.username = nil
  _, dirty = core.orm.internals(u)
  lu.assertEquals(dirty, {email = true, username = true})
  -- a refused value leaves the set alone
  pcall(function() u.password = 1 end)
  _, dirty = core.orm.internals(u)
  lu.assertNil(dirty.password)
end

function TestInstance:test_state_and_misuse()
  local blog = require "models.blog"
  helper.assert_error("ArgumentError", "state", argent.state, 42)
  helper.assert_error("ArgumentError", "state", argent.state, blog.User)
  helper.assert_error("ArgumentError", "state", argent.state, nil)
  lu.assertEquals(getmetatable(blog.User{}), "argent.Instance")
end

function TestInstance:test_instances_are_independent()
  local blog = require "models.blog"
  local a, b = blog.User{username = "a"}, blog.User{username = "b"}
  a.email = "x"
  lu.assertNil(b.email)
  lu.assertEquals(b.username, "b")
  lu.assertNotIs(a, b)
  -- an instance does not stand for its table in SQL
  helper.assert_error("ArgumentError", nil, function() return argent.select(a) end)
end

-- ---------------------------------------------------------------- on the database

TestBlogModels = {}

function TestBlogModels:setUp()
  self.engine = helper.engine()
  local conn <close> = self.engine:connect()
  helper.drop_tables(conn, {"comments", "posts", "users"})
end

function TestBlogModels:tearDown()
  local blog = require "models.blog"
  helper.cleanup_meta(self.engine, blog.Base.metadata, BLOG_TABLES)
  self.engine = nil
end

function TestBlogModels:test_create_all_and_core_through_models()
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

-- argent.core.orm is reachable from scripts: hand-made values get errors, never a crash
function TestInstance:test_core_primitives_reject_foreign_values()
  local core = require "argent.core"
  local blog = require "models.blog"
  local o = core.orm
  helper.assert_error("ArgumentError", "mapper", o.construct, {__mapper__ = {}}, {x = 1})
  helper.assert_error("ArgumentError", "model class", o.construct, {}, {})
  helper.assert_error("ArgumentError", "model instance", o.internals, 5)
  helper.assert_error("ArgumentError", "model instance", o.mark_inserted, {5}, {bucket = {}, pk = {}, out = {}})
  lu.assertError(o.set_state, blog.User{}, "nope")
  lu.assertError(o.txstate().check, o.txstate(), "bogus")
  local engine = helper.engine()
  local conn <close> = engine:connect()
  -- an identity map holding something else than instances: those entries count as absent
  local spec = {mapper = rawget(blog.User, "__mapper__"), bucket = {[1] = {}, [2] = io.stdout},
         keys = {"id", "username"}, pk = {"id"}, pkcol = 1}
  local list = o.load(conn:execute("SELECT 1 AS id, 'a' AS username"), spec, {})
  lu.assertEquals(list[1].username, "a")
  lu.assertIs(spec.bucket[1], list[1])
  helper.assert_error("ArgumentError", "no column", o.column, conn:execute("SELECT 1 AS id"), 5)
end

os.exit(helper.run(), true)
