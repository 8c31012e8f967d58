/*
 * database.c -- argent.database_exists(url), argent.create_database(url [,
 * {if_not_exists = true}]) and argent.drop_database(url [, {if_exists =
 * true}]) (API.md section 2): argument checks over src/engine/database.c.
 * url is a string or a URL object; nil means $DB_CONNECTION_STRING, as for
 * create_engine.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/database.h"
#include "lua/binding.h"

/* Replaces argument 1 by the URL text; raises an ArgumentError when it is none. */
static const char *check_url_text(lua_State *L, const char *fname, size_t *len) {
    if (lua_isnoneornil(L, 1)) {
        const char *env = getenv("DB_CONNECTION_STRING");
        if (!env || !*env) ag_lua_argerror(L, "%s: no URL given and DB_CONNECTION_STRING is not set", fname);
        lua_pushstring(L, env);
        lua_replace(L, 1);
    } else if (luaL_testudata(L, 1, AG_URL_TYPE)) {
        lua_getfield(L, 1, "render_as_string");
        lua_pushvalue(L, 1);
        lua_pushboolean(L, 0);
        lua_call(L, 2, 1);
        lua_replace(L, 1);
    } else if (lua_type(L, 1) != LUA_TSTRING) {
        ag_lua_argerror(L, "%s: argument 'url' must be a string or URL, got %s", fname, ag_lua_typename(L, 1));
    }
    return lua_tolstring(L, 1, len);
}

/* The boolean option `key` of the options table at index 2 (absent: false). */
static int check_flag(lua_State *L, const char *fname, const char *key) {
    if (lua_isnoneornil(L, 2)) return 0;
    if (!lua_istable(L, 2))
        return ag_lua_argerror(L, "%s: argument 'options' must be a table, got %s", fname, ag_lua_typename(L, 2));
    lua_pushnil(L);
    while (lua_next(L, 2)) { /* every key must be known */
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), key) != 0) {
            const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
            return ag_lua_argerror(L, "%s: unknown option '%s' (known: %s)", fname, name, key);
        }
    }
    lua_getfield(L, 2, key);
    int t = lua_type(L, -1);
    if (t != LUA_TNIL && t != LUA_TBOOLEAN)
        return ag_lua_argerror(L, "%s: option '%s' must be a boolean, got %s", fname, key, ag_lua_typename(L, -1));
    int on = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return on;
}

static int database_exists(lua_State *L) {
    lua_settop(L, 1);
    size_t len;
    const char *url = check_url_text(L, "database_exists", &len);
    ag_error err;
    ag_error_clear(&err);
    int rc = ag_database_exists(url, len, &err);
    if (rc < 0) return ag_lua_raise(L, &err, NULL);
    lua_pushboolean(L, rc);
    return 1;
}

static int create_database(lua_State *L) {
    lua_settop(L, 2);
    size_t len;
    const char *url = check_url_text(L, "create_database", &len);
    int lenient = check_flag(L, "create_database", "if_not_exists");
    ag_error err;
    ag_error_clear(&err);
    if (ag_database_create(url, len, lenient, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

static int drop_database(lua_State *L) {
    lua_settop(L, 2);
    size_t len;
    const char *url = check_url_text(L, "drop_database", &len);
    int lenient = check_flag(L, "drop_database", "if_exists");
    ag_error err;
    ag_error_clear(&err);
    if (ag_database_drop(url, len, lenient, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

void ag_lua_open_database(lua_State *L) {
    static const luaL_Reg functions[] = {{"database_exists", database_exists},
                                         {"create_database", create_database},
                                         {"drop_database", drop_database},
                                         {NULL, NULL}};
    luaL_setfuncs(L, functions, 0);
}
