-- tests/lua/orm/fixture.lua -- what the ORM's suites share: the seed's
-- blog models (models/blog.lua) and models of their own (tags, many-to-many
-- with articles; notes, all, delete-orphan and lazy = "raise"; profiles,
-- one-to-one; a self-referential tree of nodes; people and messages with
-- two foreign keys to one table; bundles whose items, delete-orphan, have
-- many-to-many rows), and a set-up that makes every table of both on the
-- suite's database, with an engine that logs its statements.
--
--   local fixture = require "tests.lua.orm.fixture"
--   function TestX:setUp() fixture.setup(self) end      -- self.engine, self.log, self.Session
--   function TestX:tearDown() fixture.teardown(self) end
local helper = require "tests.lua.helper"
local argent = helper.argent
local blog = require "models.blog"
local Column, Integer, String = argent.Column, argent.Integer, argent.String

local fixture = {blog = blog, User = blog.User, Post = blog.Post, Comment = blog.Comment}

-- Models of this suite: tags (many-to-many with rt_articles), a tree, a profile (one-to-one).
local Base = argent.declarative_base()
local article_tags = argent.Table("rt_article_tags", Base.metadata,
  Column("article_id", Integer, {foreign_key = "rt_articles.id", primary_key = true}),
  Column("tag_id", Integer, {foreign_key = "rt_tags.id", primary_key = true}))
local Article = Base:model("Article", {
  __tablename = "rt_articles",
  id = Column(Integer, {primary_key = true}),
  title = Column(String(64)),
  tags = argent.relationship("Tag", {secondary = "rt_article_tags", back_populates = "articles",
                                     order_by = "name"}),
  notes = argent.relationship("Note", {back_populates = "article", cascade = "all, delete-orphan", lazy = "raise"}),
  profile = argent.relationship("Profile", {uselist = false, back_populates = "article"}),
})
local Tag = Base:model("Tag", {
  __tablename = "rt_tags",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  articles = argent.relationship("Article", {secondary = article_tags, back_populates = "tags"}),
})
local Note = Base:model("Note", {
  __tablename = "rt_notes",
  id = Column(Integer, {primary_key = true}),
  body = Column(String(64)),
  article_id = Column(Integer, {foreign_key = "rt_articles.id"}),
  article = argent.relationship("Article", {back_populates = "notes"}),
})
local Profile = Base:model("Profile", {
  __tablename = "rt_profiles",
  id = Column(Integer, {primary_key = true}),
  bio = Column(String(64)),
  article_id = Column(Integer, {foreign_key = "rt_articles.id"}),
  article = argent.relationship("Article", {back_populates = "profile"}),
})
local Node = Base:model("Node", {
  __tablename = "rt_nodes",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  parent_id = Column(Integer, {foreign_key = "rt_nodes.id"}),
  parent = argent.relationship("Node", {remote_side = "id", back_populates = "children"}),
  children = argent.relationship("Node", {back_populates = "parent", order_by = "id"}),
})
local Person = Base:model("Person", {
  __tablename = "rt_people",
  id = Column(Integer, {primary_key = true}),
  name = Column(String(32)),
  sent = argent.relationship("Message", {foreign_keys = "Message.sender_id", back_populates = "sender"}),
  received = argent.relationship("Message", {foreign_keys = "Message.recipient_id", back_populates = "recipient"}),
})
local Message = Base:model("Message", {
  __tablename = "rt_messages",
  id = Column(Integer, {primary_key = true}),
  body = Column(String(64)),
  sender_id = Column(Integer, {foreign_key = "rt_people.id"}),
  recipient_id = Column(Integer, {foreign_key = "rt_people.id"}),
  sender = argent.relationship("Person", {foreign_keys = "Message.sender_id", back_populates = "sent"}),
  recipient = argent.relationship("Person", {foreign_keys = {"Message.recipient_id"},
                                             back_populates = "received"}),
})
-- a parent whose children (delete-orphan) have many-to-many rows
local Bundle = Base:model("Bundle", {
  __tablename = "rt_bundles",
  id = Column(Integer, {primary_key = true}),
  items = argent.relationship("Item", {back_populates = "bundle", cascade = "all, delete-orphan"}),
})
local item_tags = argent.Table("rt_item_tags", Base.metadata,
  Column("item_id", Integer, {foreign_key = "rt_items.id", primary_key = true}),
  Column("tag_id", Integer, {foreign_key = "rt_tags.id", primary_key = true}))
local Item = Base:model("Item", {
  __tablename = "rt_items",
  id = Column(Integer, {primary_key = true}),
  bundle_id = Column(Integer, {foreign_key = "rt_bundles.id"}),
  bundle = argent.relationship("Bundle", {back_populates = "items"}),
  tags = argent.relationship("Tag", {secondary = item_tags}),
})
local OWN = {"rt_article_tags", "rt_item_tags", "rt_items", "rt_bundles", "rt_notes", "rt_profiles", "rt_tags",
             "rt_articles", "rt_nodes", "rt_messages", "rt_people"}


fixture.Base = Base
fixture.Article, fixture.Tag, fixture.Note, fixture.Profile = Article, Tag, Note, Profile
fixture.Node, fixture.Person, fixture.Message, fixture.Bundle, fixture.Item = Node, Person, Message, Bundle, Item
fixture.BLOG_TABLES = {"users", "posts", "comments"}
fixture.OWN_TABLES = OWN

--- Drops and creates every table; self.engine (its statements in self.log)
--- and self.Session (expire_on_commit = false).
function fixture.setup(self)
  self.engine, self.log = helper.logging_engine()
  local conn <close> = self.engine:connect()
  helper.drop_tables(conn, OWN)
  helper.drop_tables(conn, {"comments", "posts", "users"})
  conn:close()
  blog.Base.metadata:create_all(self.engine)
  Base.metadata:create_all(self.engine)
  self.Session = argent.sessionmaker(self.engine, {expire_on_commit = false})
end

function fixture.teardown(self)
  helper.cleanup_meta(self.engine, Base.metadata, OWN)
  helper.cleanup_meta(self.engine, blog.Base.metadata, {"users", "posts", "comments"})
  self.engine = nil
end

-- 100 users with 2 posts each, each post with 2 comments (by its owner), committed.
function fixture.seed(s)
  local User, Post, Comment = blog.User, blog.Post, blog.Comment
  local users = {}
  for i = 1, 100 do
    local u = User{username = ("u%03d"):format(i), email = ("u%d@x.org"):format(i)}
    for j = 1, 2 do
      local p = Post{title = ("p%d.%d"):format(i, j), content = "c", owner = u}
      for k = 1, 2 do Comment{text = ("c%d.%d.%d"):format(i, j, k), post = p, owner = u} end
    end
    users[i] = u
  end
  s:add_all(users)
  s:commit()
end

return fixture
