-- argent-scm-1.rockspec -- `luarocks make` from a checkout builds argent with
-- CMake for the Lua that LuaRocks serves (5.1, 5.3, 5.4 or LuaJIT: found from
-- LUA_INCDIR) and installs the module, its Lua files and the `argent` command
-- into the tree; plain `lua` then finds `require "argent"`.
--
-- SQLite and jansson are required.  The PostgreSQL (libpq) and MariaDB
-- (Connector/C) drivers are built when CMake finds their client library, so a
-- machine without libpq still gets SQLite; the build prints which drivers it
-- built ("argent 0.1.0 for Lua 5.4; drivers: sqlite postgresql mariadb").
rockspec_format = "3.0"
package = "argent"
version = "scm-1"
source = {
   url = "git+https://example.invalid/argent.git", -- a checkout: `luarocks make` builds the working tree
}
description = {
   summary = "A data engine for Lua with a C core: engine and pool, SQL expressions, ORM, migrations",
   detailed = [[
argent is to Lua what SQLAlchemy and Alembic are to Python: an engine with a
thread-safe connection pool, a SQL expression language compiled per dialect,
declarative models, a Session with a unit of work, migrations and a REPL, over
SQLite, PostgreSQL (libpq) and MariaDB (Connector/C).]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
external_dependencies = {
   SQLITE3 = {header = "sqlite3.h", library = "sqlite3"},
   JANSSON = {header = "jansson.h", library = "jansson"},
}
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "Release",
      LUA_INCDIR = "$(LUA_INCDIR)",
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
      ARGENT_INSTALL_DEVEL = "OFF",
      ARGENT_BUILD_TESTS = "OFF",
      ARGENT_WERROR = "OFF",
   },
}
