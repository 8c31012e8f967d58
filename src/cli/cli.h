/*
 * cli.h -- what the argent command's pieces share: the signature of a command
 * and the Lua state every command runs in.
 *
 * main.c owns the command table and dispatch; each command lives in its own
 * file (run.c, repl.c, schema.c, later migrate.c) and uses state.c for the parts that
 * must behave exactly like the lua interpreter: libraries, module paths,
 * LUA_INIT, the error message handler and how errors are reported.
 */
#ifndef ARGENT_CLI_CLI_H
#define ARGENT_CLI_CLI_H

#include <stdio.h>

#include <lua.h>
#include "lua/compat.h" /* the Lua version differences */

#define AG_CLI_PROGNAME "argent"

/* Exit statuses: as lua for scripts, and 2 for a command line we do not understand. */
#define AG_CLI_EXIT_OK 0
#define AG_CLI_EXIT_ERROR 1
#define AG_CLI_EXIT_USAGE 2

/* A command gets the arguments after its own name: argv[0] is the command name
 * ("run"), argv[argc] is NULL.  prog is the argent program as invoked.  Returns
 * the process exit status. */
typedef int ag_cli_command_fn(const char *prog, int argc, char **argv);

int ag_cli_run(const char *prog, int argc, char **argv);
int ag_cli_migrate(const char *prog, int argc, char **argv);
int ag_cli_repl(const char *prog, int argc, char **argv);   /* repl.c */
int ag_cli_schema(const char *prog, int argc, char **argv); /* schema.c */

/* argent's own entries for package.path and package.cpath (each ends in ';'):
 * the build tree's, or the installation's around this executable (paths.c).
 * 0, or -1 when a buffer is too small. */
int ag_cli_module_paths(char *path, size_t path_size, char *cpath, size_t cpath_size);

/* Prints "argent: MESSAGE" on stderr (and flushes it). */
void ag_cli_message(const char *msg);

/* Prints the usage of the whole command on out. */
void ag_cli_usage(FILE *out);

/*
 * The body of a command once its Lua state exists.  It is called in protected
 * mode with the state already prepared (see ag_cli_with_state) and with
 * `data` as a light userdata at stack index 1.  It returns one value: a
 * boolean, true for success.  Errors it raises are reported like lua does.
 */
typedef int (*ag_cli_body)(lua_State *L);

/*
 * Creates a Lua state, prepares it -- standard libraries (which read LUA_PATH
 * and LUA_CPATH, as in lua), argent's directories prepended to package.path
 * and package.cpath, generational GC, LUA_INIT -- runs body(L) in protected
 * mode, reports any error on stderr and closes the state (so __gc metamethods
 * run).  Returns AG_CLI_EXIT_OK when body returned true, AG_CLI_EXIT_ERROR
 * otherwise (an error was reported, or body returned false after reporting
 * its own).
 */
int ag_cli_with_state(ag_cli_body body, void *data);

/*
 * Calls the function below the nargs arguments on the top of the stack with a
 * message handler that turns any error object into a string with a traceback
 * (an object with __tostring goes through it; other non-strings read "(error
 * object is a X value)").  Returns lua_pcall's status; on error the message
 * string is on the top of the stack.
 */
int ag_cli_docall(lua_State *L, int nargs, int nresults);

/* If status is not LUA_OK, prints the message on the top of the stack as
 * "argent: MESSAGE" and pops it.  Returns status. */
int ag_cli_report(lua_State *L, int status);

#endif
