/*
 * compat.h -- the one place for Lua-version differences.  The bindings are
 * written for Lua 5.4; 5.1, 5.3 and LuaJIT can follow by defining these in
 * terms of their own API here (user values, to-be-closed variables).
 */
#ifndef ARGENT_LUA_COMPAT_H
#define ARGENT_LUA_COMPAT_H

#include <lua.h>

#if LUA_VERSION_NUM >= 504
#define ag_lua_newuserdata(L, size, nuv) lua_newuserdatauv((L), (size), (nuv))
#define ag_lua_getuservalue(L, idx, n) lua_getiuservalue((L), (idx), (n))
#define ag_lua_setuservalue(L, idx, n) lua_setiuservalue((L), (idx), (n))
#else
#error "argent needs Lua 5.4 for now (see src/lua/compat.h)"
#endif

#endif
