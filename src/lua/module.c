/*
 * module.c -- luaopen_argent_core, the module's opening (the role of Lua's
 * linit.c): registers every userdata type and returns the table that
 * lua/argent/init.lua builds the public module on.  The helpers the binding
 * files share are auxlib.c's.
 */
#include <string.h>

#include "lua/binding.h"
#include "lua/sql_binding.h"
#include "orm/orm.h"

/* argent.text(sql): raw SQL with :name placeholders, as a clause object. */
static int text_new(lua_State *L) {
    if (lua_type(L, 1) != LUA_TSTRING)
        return ag_lua_argerror(L, "text: argument 'sql' must be a string, got %s", ag_lua_typename(L, 1));
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "text");
    luaL_setmetatable(L, AG_TEXT_TYPE);
    return 1;
}

static int text_tostring(lua_State *L) {
    if (lua_type(L, 1) != LUA_TTABLE) /* the metatable is reachable: tostring's own call passes the text */
        return ag_lua_argerror(L, "__tostring: argument 'self' must be an argent.text(), got %s",
                               ag_lua_typename(L, 1));
    lua_getfield(L, 1, "text");
    return 1;
}

static void open_text(lua_State *L) {
    luaL_newmetatable(L, AG_TEXT_TYPE);
    lua_pushcfunction(L, text_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    lua_pushcfunction(L, text_new);
    lua_setfield(L, -2, "text");
}

int luaopen_argent_core(lua_State *L);

int luaopen_argent_core(lua_State *L) {
    luaL_checkversion(L);
    lua_newtable(L);
    ag_lua_open_error(L);
    ag_lua_open_null(L);
    ag_lua_open_json(L); /* json_null, empty_array, json_array_mt */
    open_text(L);
    ag_lua_open_url(L);
    ag_lua_open_engine(L);
    ag_lua_open_connection(L);
    ag_lua_open_transaction(L);
    ag_lua_open_result(L);
    ag_lua_open_database(L); /* database_exists, create_database, drop_database */
    ag_lua_open_sql(L);      /* argent.core.sql: the expression language (expression.c, statement.c) */
    ag_orm_open(L);          /* argent.core.orm: the ORM's C half (src/orm/) */
    ag_lua_open_fs(L);       /* argent.core.fs: directories for argent.migrate (fs.c) */
    lua_pushcfunction(L, ag_lua_create_engine);
    lua_setfield(L, -2, "create_engine");
    lua_pushcfunction(L, ag_lua_make_url);
    lua_setfield(L, -2, "make_url");
    /* method tables, so that init.lua can add methods written in Lua */
    lua_newtable(L);
    const char *types[] = {
        AG_ENGINE_TYPE, AG_CONNECTION_TYPE, AG_RESULT_TYPE, AG_TRANSACTION_TYPE, AG_URL_TYPE, AG_POOL_TYPE, NULL};
    int methods = lua_gettop(L);
    for (int i = 0; types[i]; i++) {
        int top = lua_gettop(L);
        luaL_getmetatable(L, types[i]);
        lua_getfield(L, -1, "__index");
        if (lua_iscfunction(L, -1)) lua_getupvalue(L, -1, 1);
        lua_setfield(L, methods, types[i] + strlen("argent."));
        lua_settop(L, top);
    }
    lua_setfield(L, -2, "methods");
    ag_lua_open_constants(L); /* node, type_names, features, version (constants.c) */
    return 1;
}
