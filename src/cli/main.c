/*
 * main.c -- the argent command: `argent COMMAND [ARGS...]`.
 *
 * This file owns only the command table and the dispatch to it; each command
 * lives in its own file (run.c, repl.c, schema.c, migrate.c) and shares the Lua
 * state set-up in state.c.  A command whose function is NULL is announced in
 * the usage and refused as "not yet available".
 */
#include "cli/cli.h"

#include "argent.h" /* ARGENT_VERSION */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

struct command {
    const char *name;
    const char *synopsis; /* the usage line after "argent " */
    const char *summary;
    ag_cli_command_fn *run; /* NULL: not yet available */
};

static const struct command commands[] = {
    {"run", "run FILE [ARGS...]", "run a Lua 5.4 script (arg and ... as in lua)", ag_cli_run},
    {"repl", "repl [URL] [-m MODULE]", "a Lua and SQL prompt with db, session, models", ag_cli_repl},
    {"schema", "schema [URL] [-m MODULE]", "draw the tables (--format dot|mermaid|svg)", ag_cli_schema},
    {"migrate", "migrate [-d DIR] COMMAND", "schema migrations (argent migrate --help)", ag_cli_migrate},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

void ag_cli_usage(FILE *out) {
    fprintf(out, "usage: %s COMMAND [ARGS...]\n\ncommands:\n", AG_CLI_PROGNAME);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (commands[i].run) fprintf(out, "  %-24s %s\n", commands[i].synopsis, commands[i].summary);
    }
    fprintf(out, "  %-24s %s\n", "help", "show this help");
    fprintf(out, "  %-24s %s\n", "--version", "show the versions of argent and Lua");
    const char *separator = "\n";
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (commands[i].run) continue;
        fprintf(out, "%s%s", separator, commands[i].name);
        separator = ", ";
    }
    if (separator[0] == ',') fprintf(out, ": not yet available\n");
    fprintf(out, "\nLUA_PATH, LUA_CPATH and LUA_INIT are read as by lua; argent's own\n"
                 "directories come first on the module path.\n");
}

static const struct command *find_command(const char *name) {
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    }
    return NULL;
}

/* A Lua script that reads many rows allocates and frees many small blocks
 * (row tables, strings) in waves: with glibc's defaults the heap top is
 * trimmed and grown again by sbrk after every collection, and the pages are
 * faulted in again each time (about a third of the CPU time of reading
 * 100,000 rows with all()).  The command (not the library: a host owns its
 * allocator) grows the heap 32 MiB at a time and gives memory back to the
 * system only when 128 MiB are free at its top.  Both are ordinary glibc
 * settings (GLIBC_TUNABLES=glibc.malloc.top_pad / trim_threshold can
 * override them). */
static void tune_allocator(void) {
#ifdef __GLIBC__
    if (!getenv("GLIBC_TUNABLES")) {
        mallopt(M_TOP_PAD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 128 << 20);
    }
#endif
}

int main(int argc, char **argv) {
    tune_allocator();
    const char *prog = argc > 0 && argv[0] ? argv[0] : AG_CLI_PROGNAME;
    if (argc >= 3 && strcmp(argv[1], "help") == 0 && find_command(argv[2]) && find_command(argv[2])->run) {
        /* argent help COMMAND: the command's own --help */
        char help[] = "--help";
        char *args[] = {argv[2], help, NULL};
        return find_command(argv[2])->run(prog, 2, args);
    }
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        ag_cli_usage(stdout);
        return AG_CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("%s %s (%s)\n", AG_CLI_PROGNAME, ARGENT_VERSION, LUA_RELEASE);
        return AG_CLI_EXIT_OK;
    }
    const struct command *command = find_command(argv[1]);
    if (command == NULL) {
        fprintf(stderr, "%s: unknown command '%s'\n", AG_CLI_PROGNAME, argv[1]);
        ag_cli_usage(stderr);
        return AG_CLI_EXIT_USAGE;
    }
    if (command->run == NULL) {
        fprintf(stderr, "%s: %s: not yet available\n", AG_CLI_PROGNAME, command->name);
        return AG_CLI_EXIT_USAGE;
    }
    return command->run(prog, argc - 1, argv + 1);
}
