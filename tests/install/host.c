/*
 * host.c -- an out-of-tree C host of an installed argent (tests/install/):
 * built once with `pkg-config --cflags --libs argent` and once with
 * find_package(argent), it runs a query through the C API, then the same
 * engine through `require "argent"` in a Lua state of its own.
 *
 *   host URL LUA_DIR     (LUA_DIR: the installed share/lua/V)
 * Prints "c: 42" and "lua: 43"; exits 0, or 1 with a message.
 */
#include <stdio.h>
#include <string.h>

#include <argent.h>
#include <lauxlib.h>
#include <lualib.h>

static int fail(const char *what, const argent_error *err) {
    fprintf(stderr, "host: %s: %s\n", what, err ? err->message : "failed");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: host URL LUA_DIR\n");
        return 2;
    }
    argent_error err;
    argent_engine *engine = argent_engine_create(argv[1], NULL, &err);
    if (!engine) return fail("engine", &err);
    argent_connection *conn = argent_connect(engine, &err);
    if (!conn) return fail("connect", &err);
    argent_value param = argent_int64(41);
    argent_result *res;
    if (argent_execute(conn, "SELECT ? + 1", &param, 1, &res, &err) != 0) return fail("execute", &err);
    if (argent_result_next(res, &err) != 1) return fail("next", &err);
    printf("c: %lld\n", (long long)argent_result_column_int64(res, 0));
    argent_result_close(res);
    argent_connection_close(conn);

    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    argent_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", argv[2], argv[2]);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    argent_push_engine(L, engine);
    lua_setglobal(L, "engine");
    const char *chunk = "local argent = require 'argent'\n"
                        "local conn = engine:connect()\n"
                        "print('lua: ' .. conn:execute('SELECT ? + 2', {41}):scalar())\n"
                        "conn:close()\n";
    if (luaL_dostring(L, chunk) != 0) {
        fprintf(stderr, "host: lua: %s\n", lua_tostring(L, -1));
        return 1;
    }
    lua_close(L);
    argent_engine_release(engine);
    return 0;
}
