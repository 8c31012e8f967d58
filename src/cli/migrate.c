/*
 * migrate.c -- `argent migrate [-d DIR] [--url URL] COMMAND ...`: schema
 * migrations (API.md section 9.3).
 *
 * A thin shell: the command line is parsed and run by the Lua module
 * argent.migrate.command (lua/argent/migrate/command.lua), which programs
 * can also use as argent.migrate.  This file hands it the arguments and
 * turns what it returns into the exit status: 0 done, 1 failed, 2 a usage
 * error.  An error the module does not catch is reported as by `run`
 * (status 1).
 */
#include "cli/cli.h"

#include <lauxlib.h>

struct migrate_args {
    int argc; /* argv[0] is "migrate" */
    char **argv;
    int status;
};

static int migrate_body(lua_State *L) {
    struct migrate_args *m = lua_touserdata(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "argent.migrate.command");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "main");
    lua_createtable(L, m->argc - 1, 0);
    for (int i = 1; i < m->argc; i++) {
        lua_pushstring(L, m->argv[i]);
        lua_rawseti(L, -2, i);
    }
    int status = ag_cli_docall(L, 1, 1);
    if (status != LUA_OK) {
        ag_cli_report(L, status);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_Integer code = lua_tointeger(L, -1);
    m->status = code == AG_CLI_EXIT_USAGE ? AG_CLI_EXIT_USAGE : code == 0 ? AG_CLI_EXIT_OK : AG_CLI_EXIT_ERROR;
    lua_pushboolean(L, 1);
    return 1;
}

int ag_cli_migrate(const char *prog, int argc, char **argv) {
    (void)prog;
    struct migrate_args m = {argc, argv, AG_CLI_EXIT_ERROR};
    int status = ag_cli_with_state(migrate_body, &m);
    return status == AG_CLI_EXIT_OK ? m.status : status;
}
