/*
 * auxlib.c -- the helpers every binding file shares (the role of Lua's
 * lauxlib.c): registering a userdata type, naming a value's type for
 * messages, checking `self` with an ArgumentError that names the method,
 * and argent.null.
 */
#include <string.h>

#include "lua/binding.h"

void ag_lua_new_type(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta,
                     lua_CFunction index) {
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    if (index) {
        lua_pushcclosure(L, index, 1);
    }
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

const char *ag_lua_typename(lua_State *L, int idx) {
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
        const char *name = lua_tostring(L, -1);
        lua_pop(L, 1); /* the name stays alive in the metatable */
        return name;
    }
    return luaL_typename(L, idx);
}

/* Pushes the name under which the running C function sits among the
 * methods or metamethods of type tname -- for a call that Lua cannot name,
 * pcall(conn.execute, nil) -- or nil when it is not there. */
static void push_method_name(lua_State *L, const char *tname) {
    lua_Debug ar;
    int top = lua_gettop(L);
    if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "f", &ar)) {
        lua_pushnil(L);
        return;
    }
    int fn = lua_gettop(L);
    luaL_getmetatable(L, tname);
    int places[2] = {lua_gettop(L), 0};
    if (lua_istable(L, places[0])) {
        lua_getfield(L, places[0], "__index");
        if (lua_iscfunction(L, -1)) lua_getupvalue(L, -1, 1); /* ag_lua_new_type's methods */
        if (lua_istable(L, -1)) places[1] = lua_gettop(L);
    }
    for (int i = 0; i < 2; i++) {
        if (!places[i] || !lua_istable(L, places[i])) continue;
        lua_pushnil(L);
        while (lua_next(L, places[i])) {
            if (lua_rawequal(L, -1, fn) && lua_type(L, -2) == LUA_TSTRING) {
                lua_pop(L, 1);
                lua_replace(L, top + 1);
                lua_settop(L, top + 1);
                return;
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
    lua_pushnil(L);
}

void *ag_lua_check_self(lua_State *L, int idx, const char *tname) {
    void *p = luaL_testudata(L, idx, tname);
    if (p) return p;
    const char *got = ag_lua_typename(L, idx); /* before the stack grows: idx may be past its top */
    lua_Debug ar;
    const char *method = NULL;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar)) method = ar.name;
    if (!method) {
        push_method_name(L, tname);
        method = lua_tostring(L, -1); /* stays on the stack until the raise */
    }
    if (!method) method = "method";
    if (idx == 1)
        ag_lua_argerror(L, "%s: argument 'self' must be an %s (call it with a colon, as obj:%s(...)), got %s", method,
                        tname, method, got);
    ag_lua_argerror(L, "%s: argument #%d must be an %s, got %s", method, idx, tname, got);
    return NULL;
}

static int null_key;

int ag_lua_is_null(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA) return 0;
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key);
    int is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

void ag_lua_push_null(lua_State *L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key); }

static int null_tostring(lua_State *L) {
    lua_pushliteral(L, "argent.null");
    return 1;
}

void ag_lua_open_null(lua_State *L) {
    lua_newuserdatauv(L, 0, 0);
    luaL_newmetatable(L, AG_NULL_TYPE);
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "null"); /* no methods; keep the metatable closed */
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &null_key);
    lua_setfield(L, -2, "null");
}
