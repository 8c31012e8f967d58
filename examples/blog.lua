-- examples/blog.lua -- the seed's blog program, end to end, with argent's
-- declarative models (models/blog.lua: User, Post, Comment) and a Session:
-- an engine from DB_CONNECTION_STRING (or a SQLite file), the database
-- created when it is missing, the schema made by create_all -- or, with
-- --migrate, by the blog's migrations (examples/migrations/, as
-- migrate.upgrade(engine, "head") at start-up) -- and the CRUD functions
-- add, update (setting updated_at = current_timestamp), delete and
-- get(limit, offset).
--
--   build/argent run examples/blog.lua
--   build/argent run examples/blog.lua --migrate
--   DB_CONNECTION_STRING=postgresql://user@127.0.0.1/blog build/argent run examples/blog.lua
--   DB_CONNECTION_STRING=mariadb://root@127.0.0.1:3306/blog build/argent run examples/blog.lua
local argent = require "argent"
local models = require "models.blog"
local User, Post, Comment = models.User, models.Post, models.Comment
local func = argent.func

local use_migrations = (...) == "--migrate"
local url = os.getenv("DB_CONNECTION_STRING") or "sqlite:///blog.db"
-- as the seed's auto_create_db: the database is made when it is not there yet
if not argent.database_exists(url) then
  argent.create_database(url)
  print("created the database")
end
local engine = argent.create_engine(url, {pool_pre_ping = true, pool_recycle = 3600})
print(("engine: %s (%s)"):format(tostring(engine.url), engine.dialect))
if use_migrations then
  -- the migrations next to this file: what has not run yet runs now
  local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."
  local migrate = require "argent.migrate"
  for _, id in ipairs(migrate.upgrade(engine, "head", {directory = here .. "/migrations"})) do
    print("applied migration " .. id)
  end
else
  models.Base.metadata:create_all(engine)
end
local Session = argent.sessionmaker(engine, {expire_on_commit = false})

local blog = {}

--- add(username, email, password) -> the new user (its id set by the database)
function blog.add(username, email, password)
  return Session:begin(function(s)
    local u = User{username = username, email = email, password = password}
    s:add(u)
    return u
  end)
end

--- update(id, email) -> the user, or nil when there is none
function blog.update(id, email)
  return Session:begin(function(s)
    local u = s:get(User, id)
    if u then
      u.email = email
      u.updated_at = func.current_timestamp() -- computed by the database, read back on access
    end
    return u
  end)
end

--- delete(id) -> true when a user was deleted (its comments lose their owner, as in the seed)
function blog.delete(id)
  return Session:begin(function(s)
    local u = s:get(User, id)
    if u then s:delete(u) end
    return u ~= nil
  end)
end

--- get(limit, offset) -> users ordered by id, with their posts loaded
function blog.get(limit, offset)
  local s <close> = Session()
  return s:query(User):options(argent.selectinload(User.posts)):order_by(User.id)
    :limit(limit or 10):offset(offset or 0):all()
end

local ann = blog.add("ann", "ann@example.org", "s3cret")
local bob = blog.add("bob", "bob@example.org", "hunter2")
print(("added users %d (%s) and %d (%s)"):format(ann.id, ann.username, bob.id, bob.username))
local updated = blog.update(ann.id, "ann@example.com")
print(("updated user %d: email %s, updated_at %s"):format(updated.id, updated.email, tostring(updated.updated_at)))

-- a post with a comment, through the relationships: foreign keys are set at the flush
Session:begin(function(s)
  local author = s:get(User, ann.id)
  local post = Post{title = "Hello", content = "First post", owner = author}
  post.comments:append(Comment{text = "Welcome!", owner = s:get(User, bob.id)})
  s:add(post)
end)

for _, user in ipairs(blog.get(5, 0)) do
  print(("  user %d  %-6s %-18s %d post(s), created %s"):format(user.id, user.username, user.email,
    #user.posts, user.created_at))
end
print(("deleted bob: %s"):format(tostring(blog.delete(bob.id))))
local s <close> = Session()
print(("%d user(s), %d post(s), %d comment(s) in the database"):format(
  s:query(User):count(), s:query(Post):count(), s:query(Comment):count()))
