/*
 * schema.c -- `argent schema [URL] [-m MODULE]... [--format dot|mermaid|svg]`:
 * draws the tables, columns, keys and relationships of the models (each -m
 * MODULE, as the REPL loads them), or of the database's reflected tables
 * when no -m is given (API.md section 9.1).
 *
 * lua/argent/diagram.lua writes the picture's source: Graphviz dot or a
 * Mermaid erDiagram, printed on stdout.  svg is the dot source drawn by
 * Graphviz's own `dot -Tsvg` (Debian's graphviz package), which this file
 * runs with the source on its stdin and its stdout ours: laying out a graph
 * is Graphviz's job, not something to write again.  Without `dot` on the
 * PATH, svg fails with a message saying what to install.
 */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>

extern char **environ;

#define SCHEMA_USAGE \
    "usage: argent schema [URL] [-m MODULE]... [--format dot|mermaid|svg]\n" \
    "\n" \
    "  URL           the database to reflect when no -m is given (default: " \
    "$DB_CONNECTION_STRING)\n" \
    "  -m MODULE     draw the models of MODULE (a Base or a table of models; repeatable)\n" \
    "  --format F    dot (Graphviz, the default), mermaid (an erDiagram) or svg (needs\n" \
    "                Graphviz's dot)\n"

struct schema_args {
    const char *url;
    const char **modules;
    int nmodules;
    const char *format;
};

/* Writes text to `dot -Tsvg`, whose output goes to our stdout.  0, or -1
 * with a message printed. */
static int draw_svg(const char *text, size_t len) {
    int fds[2];
    if (pipe(fds) != 0) {
        ag_cli_message("schema: cannot make a pipe for dot");
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    char *argv[] = {"dot", "-Tsvg", NULL};
    pid_t pid;
    fflush(stdout);
    int rc = posix_spawnp(&pid, "dot", &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    if (rc != 0) {
        close(fds[1]);
        if (rc == ENOENT)
            ag_cli_message("schema: svg needs Graphviz's dot on the PATH (Debian: apt-get install "
                           "graphviz); --format dot writes its input");
        else fprintf(stderr, "%s: schema: cannot run dot: %s\n", AG_CLI_PROGNAME, strerror(rc));
        return -1;
    }
    void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* a dot that dies is reported below */
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fds[1], text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fds[1]);
    signal(SIGPIPE, old);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || off < len) {
        ag_cli_message("schema: dot failed to draw the diagram");
        return -1;
    }
    return 0;
}

static int schema_body(lua_State *L) {
    const struct schema_args *args = lua_touserdata(L, 1);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "argent.diagram");
    if (ag_cli_report(L, ag_cli_docall(L, 1, 1)) != LUA_OK) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_getfield(L, -1, "for_command");
    lua_createtable(L, 0, 3);
    if (args->url) {
        lua_pushstring(L, args->url);
        lua_setfield(L, -2, "url");
    }
    lua_createtable(L, args->nmodules, 0);
    for (int i = 0; i < args->nmodules; i++) {
        lua_pushstring(L, args->modules[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "modules");
    lua_pushstring(L, strcmp(args->format, "mermaid") == 0 ? "mermaid" : "dot");
    lua_setfield(L, -2, "format");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) { /* a bad URL, a module that fails: one line */
        const char *msg = lua_tostring(L, -1);
        if (!msg && luaL_callmeta(L, -1, "__tostring")) msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: schema: %s\n", AG_CLI_PROGNAME, msg ? msg : "error");
        lua_pushboolean(L, 0);
        return 1;
    }
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    int ok;
    if (strcmp(args->format, "svg") == 0) {
        ok = draw_svg(text, len) == 0;
    } else {
        ok = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
        if (!ok) ag_cli_message("schema: cannot write the output");
    }
    lua_pushboolean(L, ok);
    return 1;
}

int ag_cli_schema(const char *prog, int argc, char **argv) {
    (void)prog;
    struct schema_args args;
    memset(&args, 0, sizeof args);
    args.format = "dot";
    const char **modules = calloc((size_t)argc + 1, sizeof *modules);
    if (!modules) {
        ag_cli_message("schema: not enough memory");
        return AG_CLI_EXIT_ERROR;
    }
    args.modules = modules;
    int status = -1;
    for (int i = 1; i < argc && status < 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(SCHEMA_USAGE, stdout);
            status = AG_CLI_EXIT_OK;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: schema: %s needs a value\n%s", AG_CLI_PROGNAME, a, SCHEMA_USAGE);
                status = AG_CLI_EXIT_USAGE;
            } else if (a[1] == 'm') {
                modules[args.nmodules++] = argv[++i];
            } else {
                args.format = argv[++i];
            }
        } else if (strncmp(a, "--format=", 9) == 0) {
            args.format = a + 9;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: schema: unknown option '%s'\n%s", AG_CLI_PROGNAME, a, SCHEMA_USAGE);
            status = AG_CLI_EXIT_USAGE;
        } else if (args.url) {
            fprintf(stderr, "%s: schema: one URL only, got '%s' after '%s'\n%s", AG_CLI_PROGNAME, a, args.url,
                    SCHEMA_USAGE);
            status = AG_CLI_EXIT_USAGE;
        } else {
            args.url = a;
        }
    }
    if (status < 0 && strcmp(args.format, "dot") != 0 && strcmp(args.format, "mermaid") != 0 &&
        strcmp(args.format, "svg") != 0) {
        fprintf(stderr, "%s: schema: unknown format '%s' (dot, mermaid or svg)\n%s", AG_CLI_PROGNAME, args.format,
                SCHEMA_USAGE);
        status = AG_CLI_EXIT_USAGE;
    }
    if (status < 0 && args.nmodules == 0 && !args.url) {
        const char *env = getenv("DB_CONNECTION_STRING");
        if (!env || !env[0]) {
            fprintf(stderr, "%s: schema: give a URL (or DB_CONNECTION_STRING) to reflect, or -m MODULE\n%s",
                    AG_CLI_PROGNAME, SCHEMA_USAGE);
            status = AG_CLI_EXIT_USAGE;
        }
    }
    if (status < 0) status = ag_cli_with_state(schema_body, &args);
    free(modules);
    return status;
}
