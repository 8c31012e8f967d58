/*
 * state.c -- the Lua state the argent command's commands run in.
 *
 * It is made to behave like the lua interpreter's (lua.c), so that a script
 * gives the same results under `argent run` as under `lua`: the standard
 * libraries read LUA_PATH / LUA_CPATH (";;" included) from the environment,
 * LUA_INIT runs first, errors come back with a traceback, and the state is
 * closed at the end so that __gc metamethods run.  The additions: the C part
 * of argent is linked into the command and preloaded (argent_openlibs), and
 * argent's own directories (paths.c) go first on the module path, so that
 * `require "argent"` and `require "argent.core"` find this command's copy and
 * no other.
 */
#include "cli/cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "argent.h"

/* The names lua.c reads, the versioned one first. */
#ifdef LUA_VERSION_MAJOR
#define LUA_INIT_VERSIONED "LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR
#else /* 5.1 and LuaJIT read LUA_INIT only */
#define LUA_INIT_VERSIONED "LUA_INIT"
#endif
#define LUA_INIT_PLAIN "LUA_INIT"

void ag_cli_message(const char *msg) {
    fprintf(stderr, "%s: %s\n", AG_CLI_PROGNAME, msg);
    fflush(stderr);
}

/*
 * The message handler of every protected call: turns the error object into a
 * string and appends a traceback.  argent raises error tables whose
 * __tostring reads "IntegrityError: ...", so those go through __tostring (and,
 * unlike lua.c, still get a traceback: a failed query is worth locating).
 */
static int message_handler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
        else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int ag_cli_docall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs; /* the function's index */
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

int ag_cli_report(lua_State *L, int status) {
    if (status == LUA_OK) return status;
    const char *msg = lua_tostring(L, -1);
    if (msg) {
        ag_cli_message(msg);
    } else {
        /* Only errors raised outside ag_cli_docall get here (the message
         * handler makes strings); snprintf cannot raise, lua_pushfstring can. */
        char text[96];
        snprintf(text, sizeof text, "(error object is a %s value)", luaL_typename(L, -1));
        ag_cli_message(text);
    }
    lua_pop(L, 1);
    return status;
}

static void prepend_to_package_field(lua_State *L, const char *field, const char *prefix) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, field);
    lua_pushstring(L, prefix);
    lua_insert(L, -2);
    lua_concat(L, 2);
    lua_setfield(L, -2, field);
    lua_pop(L, 1);
}

/* LUA_INIT_5_4, else LUA_INIT: "@FILE" runs FILE, anything else is a chunk.
 * Returns the status, already reported. */
static int run_lua_init(lua_State *L) {
    const char *name = "=" LUA_INIT_VERSIONED;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=" LUA_INIT_PLAIN;
        init = getenv(name + 1);
    }
    if (init == NULL) return LUA_OK;
    int status;
    if (init[0] == '@') status = luaL_loadfile(L, init + 1);
    else status = luaL_loadbuffer(L, init, strlen(init), name);
    if (status == LUA_OK) status = ag_cli_docall(L, 0, 0);
    return ag_cli_report(L, status);
}

struct protected_main_args {
    ag_cli_body body;
    void *data;
};

/* Everything that can raise, including running out of memory while opening
 * the libraries, happens in here, under lua_pcall. */
static int protected_main(lua_State *L) {
    const struct protected_main_args *args = lua_touserdata(L, 1);
    luaL_checkversion(L); /* the header we compiled with matches the library we run with */
    luaL_openlibs(L);
    argent_openlibs(L); /* argent.core is linked in: never load a second copy from core.so */
    char path[3 * PATH_MAX], cpath[PATH_MAX + 64];
    if (ag_cli_module_paths(path, sizeof path, cpath, sizeof cpath) != 0)
        return luaL_error(L, "argent's directories have names too long for a module path");
    prepend_to_package_field(L, "path", path);
    prepend_to_package_field(L, "cpath", cpath);
    ag_lua_gc(L, LUA_GCRESTART);
    ag_lua_gc_generational(L); /* as lua.c (5.4): generational mode */
    if (run_lua_init(L) != LUA_OK) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_settop(L, 0);
    lua_pushlightuserdata(L, args->data);
    return args->body(L);
}

int ag_cli_with_state(ag_cli_body body, void *data) {
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        ag_cli_message("cannot create Lua state: not enough memory");
        return AG_CLI_EXIT_ERROR;
    }
    struct protected_main_args args = {body, data};
    ag_lua_gc(L, LUA_GCSTOP); /* no collections while the libraries are being built */
    lua_pushcfunction(L, protected_main);
    lua_pushlightuserdata(L, &args);
    int status = lua_pcall(L, 1, 1, 0);
    int succeeded = status == LUA_OK && lua_toboolean(L, -1);
    ag_cli_report(L, status);
    lua_close(L);
    return succeeded ? AG_CLI_EXIT_OK : AG_CLI_EXIT_ERROR;
}
