-- peers_spec.lua -- what argent's programs for the peer suite share
-- (peers_core.lua, peers_orm.lua, orm_sqlite.lua): the spec's tables and the
-- touch functions of /work/shared/bench/peers/README.md.  Loaded with
-- dofile beside the program (the bench directory is not on package.path).
local spec = {}

--- touch(user) / touch(post): the checksum terms of the spec
function spec.touch_user(u)
  return u.id + #u.username + #u.email + #u.password
    + (u.created_at ~= nil and 1 or 0) + (u.updated_at ~= nil and 1 or 0)
end

function spec.touch_post(p)
  return p.id + p.owner_id + #p.title + #p.content + #p.image_url
end

--- Drops and creates users, posts and comments on conn as the spec does.
--- meta holds the same tables (Tables or models' Base.metadata): on
--- PostgreSQL its DDL is the spec's (SERIAL keys, ix_<table>_<column>).
--- MariaDB and SQLite get the spec's DDL text, character for character
--- what the other programs create: argent's compiler would emit DATETIME(6)
--- and LONGTEXT and no table options on MariaDB, and INTEGER PRIMARY KEY
--- without the spec's AUTOINCREMENT (SQLAlchemy's sqlite_autoincrement) on
--- SQLite.
function spec.create_tables(conn, meta)
  local dialect = conn.dialect
  if dialect == "postgresql" then conn:execute("SET client_min_messages = warning") end
  meta:drop_all(conn)
  if dialect == "postgresql" then
    meta:create_all(conn)
    return
  end
  local my = dialect == "mariadb"
  local key = my and "INTEGER PRIMARY KEY AUTO_INCREMENT" or "INTEGER PRIMARY KEY AUTOINCREMENT"
  local ts = my and "DATETIME" or "TIMESTAMP"
  local opts = my and " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" or ""
  for _, s in ipairs({
    "CREATE TABLE users (id " .. key .. ", username VARCHAR(128) NOT NULL,"
      .. " email VARCHAR(128) NOT NULL, password VARCHAR(128) NOT NULL,"
      .. " created_at " .. ts .. " DEFAULT CURRENT_TIMESTAMP, updated_at " .. ts .. " DEFAULT CURRENT_TIMESTAMP)"
      .. opts,
    "CREATE TABLE posts (id " .. key .. ", title VARCHAR(256) NOT NULL,"
      .. " content TEXT NOT NULL, image_url VARCHAR(256), owner_id INTEGER NOT NULL REFERENCES users(id))" .. opts,
    "CREATE INDEX ix_posts_owner_id ON posts (owner_id)",
    "CREATE TABLE comments (id " .. key .. ", text TEXT NOT NULL,"
      .. " owner_id INTEGER NOT NULL REFERENCES users(id), post_id INTEGER NOT NULL REFERENCES posts(id),"
      .. " created_at " .. ts .. " DEFAULT CURRENT_TIMESTAMP)" .. opts,
    "CREATE INDEX ix_comments_owner_id ON comments (owner_id)",
    "CREATE INDEX ix_comments_post_id ON comments (post_id)",
  }) do conn:execute(s) end
end

return spec
