-- models/blog.lua -- the seed's blog models (users, posts, comments) as
-- argent declarative models, ready to require:
--
--   local blog = require "models.blog"
--   blog.Base.metadata:create_all(engine)
--   local u = blog.User{username = "ann", email = "ann@example.org"}
--
-- User and Comment are written exactly as API.md section 6 shows them; Post
-- follows the schema of the peer benchmarks (/work/shared/bench/peers/README.md).
local argent = require "argent"
local Column, Integer, String, Text, DateTime = argent.Column, argent.Integer, argent.String, argent.Text,
  argent.DateTime
local relationship, func = argent.relationship, argent.func
local Base = argent.declarative_base()

local User = Base:model("User", {
  __tablename = "users",
  id         = Column(Integer, {primary_key = true, autoincrement = true, index = true}),
  username   = Column(String(128)),
  email      = Column(String(128)),
  password   = Column(String(128)),
  posts      = relationship("Post", {back_populates = "owner"}),
  comments   = relationship("Comment", {back_populates = "owner"}),
  updated_at = Column(DateTime, {default = func.current_timestamp()}),
  created_at = Column(DateTime, {default = func.current_timestamp()}),
})

local Post = Base:model("Post", {
  __tablename = "posts",
  id        = Column(Integer, {primary_key = true}),
  title     = Column(String(256), {nullable = false}),
  content   = Column(Text, {nullable = false}),
  image_url = Column(String(256)),
  owner_id  = Column(Integer, {foreign_key = "users.id", nullable = false, index = true}),
  owner     = relationship("User", {back_populates = "posts"}),
  comments  = relationship("Comment", {back_populates = "post"}),
})

local Comment = Base:model("Comment", {
  __tablename = "comments",
  id       = Column(Integer, {primary_key = true}),
  text     = Column("title", String(512)),          -- attribute `text`, SQL column "title"
  owner_id = Column(Integer, {foreign_key = "users.id"}),
  owner    = relationship("User", {back_populates = "comments"}),
  post_id  = Column(Integer, {foreign_key = "posts.id"}),
  post     = relationship("Post", {back_populates = "comments"}),
  created_at = Column(DateTime, {default = func.current_timestamp()}),
})

return {Base = Base, User = User, Post = Post, Comment = Comment}
