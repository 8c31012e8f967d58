/*
 * error.c -- argent's error objects in Lua: tables with kind, message, code
 * and sql, whose tostring reads "IntegrityError: <message> [SQL: <sql>]".
 * Raising an object (not a string) lets callers branch on err.kind; the sql
 * never holds parameter values, since values are always bound.
 */
#include <stdarg.h>
#include <stdio.h>

#include "lua/binding.h"

static int error_tostring(lua_State *L) {
    if (lua_type(L, 1) != LUA_TTABLE) /* the metatable is reachable from any error object */
        return ag_lua_argerror(L, "__tostring: argument 'self' must be an argent error object, got %s",
                               ag_lua_typename(L, 1));
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_getfield(L, 1, "kind");
    if (lua_type(L, -1) == LUA_TSTRING) {
        luaL_addvalue(&b);
    } else {
        lua_pop(L, 1); /* a kind someone overwrote */
        luaL_addstring(&b, "Error");
    }
    luaL_addstring(&b, ": ");
    lua_getfield(L, 1, "message");
    if (lua_isstring(L, -1)) luaL_addvalue(&b);
    else lua_pop(L, 1);
    lua_getfield(L, 1, "sql");
    if (lua_isstring(L, -1)) {
        luaL_addstring(&b, " [SQL: ");
        luaL_addvalue(&b);
        luaL_addchar(&b, ']');
    } else {
        lua_pop(L, 1);
    }
    luaL_pushresult(&b);
    return 1;
}

void ag_lua_push_error(lua_State *L, const char *kind, const char *message, const char *code, const char *sql) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    if (code && *code) {
        lua_pushstring(L, code);
        lua_setfield(L, -2, "code");
    }
    if (sql) {
        lua_pushstring(L, sql);
        lua_setfield(L, -2, "sql");
    }
    luaL_setmetatable(L, AG_ERROR_TYPE);
}

int ag_lua_nomem(lua_State *L) {
    lua_pushliteral(L, "not enough memory"); /* Lua keeps this string for its own memory errors */
    return lua_error(L);
}

int ag_lua_raise(lua_State *L, const ag_error *err, const char *sql) {
    if (err->kind == AG_ERR_MEMORY) return ag_lua_nomem(L); /* as Lua's own: see binding.h */
    ag_lua_push_error(L, ag_error_kind_name(err->kind), err->message, err->code, sql);
    return lua_error(L);
}

int ag_lua_raisef(lua_State *L, ag_error_kind kind, const char *fmt, ...) {
    ag_error err;
    va_list ap;
    va_start(ap, fmt);
    ag_error_vset(&err, kind, NULL, fmt, ap);
    va_end(ap);
    return ag_lua_raise(L, &err, NULL);
}

/* argent.core.error(kind, message [, sql]): raise an error object from Lua code. */
static int error_raise(lua_State *L) {
    const char *kind = luaL_checkstring(L, 1);
    const char *message = luaL_checkstring(L, 2);
    const char *sql = luaL_optstring(L, 3, NULL);
    ag_lua_push_error(L, kind, message, NULL, sql);
    return lua_error(L);
}

/* argent.core.is_error(v) */
static int error_is(lua_State *L) {
    if (!lua_istable(L, 1) || !lua_getmetatable(L, 1)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    luaL_getmetatable(L, AG_ERROR_TYPE);
    lua_pushboolean(L, lua_rawequal(L, -1, -2));
    return 1;
}

void ag_lua_open_error(lua_State *L) {
    luaL_newmetatable(L, AG_ERROR_TYPE);
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, error_raise);
    lua_setfield(L, -2, "error");
    lua_pushcfunction(L, error_is);
    lua_setfield(L, -2, "is_error");
}
