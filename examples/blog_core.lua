-- examples/blog_core.lua -- the seed's blog program on argent's Core layer (no ORM):
-- an engine from DB_CONNECTION_STRING (or a SQLite file), the three tables,
-- and the CRUD functions add, update (setting updated_at), delete and
-- get(limit, offset).  Every value is a bound parameter.
--
--   build/argent run examples/blog_core.lua
--   DB_CONNECTION_STRING=postgresql://user@127.0.0.1/blog build/argent run examples/blog_core.lua
--
-- examples/blog.lua is the same program with the declarative models and a Session.
local argent = require "argent"

local url = os.getenv("DB_CONNECTION_STRING") or "sqlite:///blog_core.db"
-- as the seed's auto_create_db: the database is made when it is not there yet
if not argent.database_exists(url) then argent.create_database(url) end
local engine = argent.create_engine(url, {pool_pre_ping = true, pool_recycle = 3600})
print(("engine: %s (%s)"):format(tostring(engine.url), engine.dialect))

local key = engine.dialect == "postgresql" and "SERIAL PRIMARY KEY"
  or engine.dialect == "mariadb" and "INTEGER PRIMARY KEY AUTO_INCREMENT"
  or "INTEGER PRIMARY KEY AUTOINCREMENT"
local schema = {
  ([[CREATE TABLE IF NOT EXISTS users (
      id %s, username VARCHAR(128), email VARCHAR(128), password VARCHAR(128),
      updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)]]):format(key),
  ([[CREATE TABLE IF NOT EXISTS posts (
      id %s, title VARCHAR(256), content TEXT, image_url VARCHAR(256),
      owner_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)]]):format(key),
  ([[CREATE TABLE IF NOT EXISTS comments (
      id %s, title VARCHAR(512),
      owner_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
      post_id INTEGER REFERENCES posts(id) ON DELETE CASCADE,
      created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)]]):format(key),
}
engine:begin(function(conn)
  for _, ddl in ipairs(schema) do conn:execute(ddl) end
end)

local blog = {}

function blog.add(username, email, password)
  return engine:begin(function(conn)
    return conn:execute(
      "INSERT INTO users (username, email, password) VALUES (:username, :email, :password) RETURNING id",
      {username = username, email = email, password = password}):scalar()
  end)
end

function blog.update(id, email)
  return engine:begin(function(conn)
    return conn:execute("UPDATE users SET email = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ?",
                        {email, id}).rowcount
  end)
end

function blog.delete(id)
  return engine:begin(function(conn)
    return conn:execute("DELETE FROM users WHERE id = ?", {id}).rowcount
  end)
end

function blog.get(limit, offset)
  local conn <close> = engine:connect()
  return conn:execute("SELECT id, username, email, created_at, updated_at FROM users ORDER BY id LIMIT ? OFFSET ?",
                      {limit or 10, offset or 0}):all()
end

local ann = blog.add("ann", "ann@example.org", "s3cret")
local bob = blog.add("bob", "bob@example.org", "hunter2")
print(("added users %d and %d"):format(ann, bob))
print(("updated %d row(s): ann's email is now ann@example.com"):format(blog.update(ann, "ann@example.com")))
engine:begin(function(conn)
  local post = conn:execute("INSERT INTO posts (title, content, owner_id) VALUES (?, ?, ?) RETURNING id",
                            {"Hello", "First post", ann}):scalar()
  conn:execute("INSERT INTO comments (title, owner_id, post_id) VALUES (?, ?, ?)", {"Welcome!", bob, post})
end)
for _, user in ipairs(blog.get(5, 0)) do
  print(("  user %d  %-6s %-18s created %s"):format(user.id, user.username, user.email, user.created_at))
end
print(("deleted %d row(s): bob"):format(blog.delete(bob)))
local conn <close> = engine:connect()
print(("%d user(s), %d post(s), %d comment(s) in the database"):format(
  conn:execute("SELECT count(*) FROM users"):scalar(),
  conn:execute("SELECT count(*) FROM posts"):scalar(),
  conn:execute("SELECT count(*) FROM comments"):scalar()))
