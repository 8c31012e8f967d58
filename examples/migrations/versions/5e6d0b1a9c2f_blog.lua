-- blog: the users, posts and comments of models/blog.lua, as
-- `argent migrate -d examples/migrations revision --autogenerate -m blog` wrote them
--
-- Revision ID: 5e6d0b1a9c2f
-- Revises: (base)
-- Create Date: 2026-12-04 18:38:11 UTC
local argent = require "argent"

return {
  revision = "5e6d0b1a9c2f",
  down_revision = nil,
  message = "blog",

  upgrade = function(op)
    op.create_table("users",
      argent.Column("id", argent.Integer, {primary_key = true}),
      argent.Column("username", argent.String(128)),
      argent.Column("email", argent.String(128)),
      argent.Column("password", argent.String(128)),
      argent.Column("updated_at", argent.DateTime),
      argent.Column("created_at", argent.DateTime))
    op.create_index("ix_users_id", "users", {"id"})
    op.create_table("posts",
      argent.Column("id", argent.Integer, {primary_key = true}),
      argent.Column("title", argent.String(256), {nullable = false}),
      argent.Column("content", argent.Text, {nullable = false}),
      argent.Column("image_url", argent.String(256)),
      argent.Column("owner_id", argent.Integer, {nullable = false, foreign_key = argent.ForeignKey("users.id")}))
    op.create_index("ix_posts_owner_id", "posts", {"owner_id"})
    op.create_table("comments",
      argent.Column("id", argent.Integer, {primary_key = true}),
      argent.Column("title", argent.String(512)),
      argent.Column("owner_id", argent.Integer, {foreign_key = argent.ForeignKey("users.id")}),
      argent.Column("post_id", argent.Integer, {foreign_key = argent.ForeignKey("posts.id")}),
      argent.Column("created_at", argent.DateTime))
  end,

  downgrade = function(op)
    op.drop_table("comments")
    op.drop_table("posts")
    op.drop_table("users")
  end,
}
