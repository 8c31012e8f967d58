/*
 * run.c -- `argent run FILE [ARGS...]`: runs a Lua script as `lua FILE ARGS...`
 * does, in the state that state.c prepares (argent on the module path).
 *
 * As in lua: the global `arg` holds arg[0] = FILE and arg[1..n] = ARGS, the
 * chunk receives ARGS as `...`, an error is printed as "argent: MESSAGE" with a
 * traceback and exits with status 1, os.exit works as usual.  What came
 * before FILE goes to negative indices, the program lowest as lua has it:
 * arg[-2] is the argent program as invoked and arg[-1] the command, "run".
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

struct run_args {
    const char *prog; /* argv[0] of the process */
    int argc;         /* argv[0] is "run", argv[1] the script, then its arguments */
    char **argv;
};

static void create_arg_table(lua_State *L, const struct run_args *run) {
    int script_args = run->argc - 2;
    lua_createtable(L, script_args, 3);
    lua_pushstring(L, run->prog);
    lua_rawseti(L, -2, -2);
    lua_pushstring(L, run->argv[0]);
    lua_rawseti(L, -2, -1);
    for (int i = 1; i < run->argc; i++) {
        lua_pushstring(L, run->argv[i]);
        lua_rawseti(L, -2, i - 1); /* the script at 0, its arguments from 1 */
    }
    lua_setglobal(L, "arg");
}

static int run_body(lua_State *L) {
    const struct run_args *run = lua_touserdata(L, 1);
    create_arg_table(L, run);
    int status = luaL_loadfile(L, run->argv[1]);
    if (status == LUA_OK) {
        int script_args = run->argc - 2;
        luaL_checkstack(L, script_args, "too many arguments to script");
        for (int i = 2; i < run->argc; i++) lua_pushstring(L, run->argv[i]);
        status = ag_cli_docall(L, script_args, 0);
    }
    lua_pushboolean(L, ag_cli_report(L, status) == LUA_OK);
    return 1;
}

int ag_cli_run(const char *prog, int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        ag_cli_usage(stdout);
        return AG_CLI_EXIT_OK;
    }
    if (argc < 2) {
        ag_cli_message("run: missing FILE");
        ag_cli_usage(stderr);
        return AG_CLI_EXIT_USAGE;
    }
    if (argv[1][0] == '-') {
        /* lua reads stdin for "-"; argent run takes a file only (use ./-name for
         * a file whose name starts with a dash). */
        fprintf(stderr, "%s: run: expected a FILE, got '%s'\n", AG_CLI_PROGNAME, argv[1]);
        ag_cli_usage(stderr);
        return AG_CLI_EXIT_USAGE;
    }
    struct run_args run = {prog, argc, argv};
    return ag_cli_with_state(run_body, &run);
}
