/*
 * repl.c -- `argent repl [URL] [-m MODULE]... [-e CODE]... [--read-only]`: the
 * terminal half of the REPL (API.md section 9.2).
 *
 * Everything a user sees is decided in Lua (lua/argent/repl/: what a line
 * is, how values print, completion, the dot commands); this file owns what
 * only C can do:
 *
 *  - reading lines: libedit's readline interface, driven through its
 *    callback API from a select() loop, so that a Ctrl-C at the prompt
 *    clears the line instead of ending the program; history in
 *    ~/.argent_history (ARGENT_HISTORY; empty: none); Tab calls the Lua
 *    completer.  Not on a terminal, lines come from stdin with no prompt.
 *  - Ctrl-C while input runs.  The SIGINT handler does only what a handler
 *    may: it arms a Lua count hook and writes a byte to a pipe.  A thread
 *    waiting on the pipe calls argent_engine_cancel on the REPL's engine (the
 *    C API's deferred path), which stops the statement that runs on any of
 *    its connections.  The hook, at the next Lua instruction, waits until
 *    that thread has handled every request so far: when a statement was
 *    stopped, its own error (OperationalError: canceling statement ...) is
 *    what the user sees, and the hook does nothing more -- raising there could
 *    break the error handling of a flush or a transaction block; when no
 *    statement was running (a Lua loop, the printing of a long result), the
 *    hook raises "interrupted".
 *  - the terminal's width, the current time, and a yes/no question on the
 *    terminal (UPDATE without WHERE), as functions the Lua side calls.
 *
 * Exit status: 0; 1 when input failed and stdin is not a terminal (or -e
 * was given), or when the REPL could not start (bad URL, missing module); 2
 * for a command line it does not understand.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>

#include "argent.h"

#define REPL_USAGE \
    "usage: argent repl [URL] [-m MODULE]... [-e CODE]... [--read-only]\n" \
    "\n" \
    "  URL          the database (default: $DB_CONNECTION_STRING, else sqlite:// in memory)\n" \
    "  -m MODULE    require MODULE; its models become globals (repeatable)\n" \
    "  -e CODE      run CODE (Lua, SQL or a dot command) and exit, instead of reading input\n" \
    "  --read-only  refuse writes (the database's own read-only mode)\n" \
    "\n" \
    "Globals: argent, db (the engine), session, the models (or T.<table>, reflected).\n" \
    "Type .help at the prompt for the dot commands.  History: ~/.argent_history\n" \
    "(ARGENT_HISTORY; empty for none).\n"

struct repl_args {
    const char *url;
    const char **modules;
    int nmodules;
    const char **codes;
    int ncodes;
    int read_only;
};

/* ---------------------------------------------------------------- state
 * One REPL per process: the signal handlers need these as statics. */

static lua_State *repl_L;                 /* the state evaluating input */
static volatile sig_atomic_t evaluating;  /* input is being run (Ctrl-C cancels it) */
static volatile sig_atomic_t interactive; /* stdin is a terminal */
static int cancel_pipe[2] = {-1, -1};     /* SIGINT while evaluating -> the cancel thread */
static int prompt_pipe[2] = {-1, -1};     /* SIGINT ('c') or SIGWINCH ('w') at the prompt */
static atomic_uint cancel_requested;      /* bytes written to cancel_pipe */

static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_handled_cond = PTHREAD_COND_INITIALIZER;
static unsigned cancel_handled; /* requests the cancel thread has acted on (cancel_lock) */
static int cancel_hit;          /* the last one stopped a statement (cancel_lock) */

/* ---------------------------------------------------------------- signals */

/* Lua's count hook, armed by the SIGINT handler: see the file comment. */
static void interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    pthread_mutex_lock(&cancel_lock);
    while (cancel_handled < atomic_load(&cancel_requested)) pthread_cond_wait(&cancel_handled_cond, &cancel_lock);
    int hit = cancel_hit;
    pthread_mutex_unlock(&cancel_lock);
    if (!hit) luaL_error(L, "interrupted");
}

static void write_byte(int fd, char c) {
    ssize_t n = write(fd, &c, 1);
    (void)n;
}

static void on_sigint(int sig) {
    int saved = errno;
    if (evaluating) {
        if (interactive) write_byte(STDERR_FILENO, '\n'); /* after the terminal's "^C" */
        lua_sethook(repl_L, interrupt_hook, LUA_MASKCOUNT, 1);
        char c = 'c';
        if (write(cancel_pipe[1], &c, 1) == 1) atomic_fetch_add(&cancel_requested, 1);
    } else if (interactive) {
        write_byte(prompt_pipe[1], 'c');
    } else { /* reading piped input: Ctrl-C ends the program, as usual */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    errno = saved;
}

static void on_sigwinch(int sig) {
    (void)sig;
    int saved = errno;
    write_byte(prompt_pipe[1], 'w');
    errno = saved;
}

/* The cancel thread: one argent_engine_cancel per Ctrl-C while input runs. */
static void *cancel_thread(void *arg) {
    argent_engine *engine = arg;
    char c;
    while (read(cancel_pipe[0], &c, 1) == 1) {
        argent_error err;
        int stopped = argent_engine_cancel(engine, &err);
        if (stopped < 0) fprintf(stderr, "argent: cancel: %s: %s\n", err.kind_name, err.message);
        pthread_mutex_lock(&cancel_lock);
        cancel_handled++;
        cancel_hit = stopped > 0;
        pthread_cond_broadcast(&cancel_handled_cond);
        pthread_mutex_unlock(&cancel_lock);
    }
    return NULL;
}

static int make_pipe(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFL, O_NONBLOCK); /* a handler never blocks */
    return 0;
}

static void install_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigwinch;
    sigaction(SIGWINCH, &sa, NULL);
}

/* ---------------------------------------------------------------- lines */

static char *line_read;  /* what the callback got (malloc'd), NULL at EOF */
static int line_is_done; /* the callback ran */

static void on_line(char *line) {
    line_read = line;
    line_is_done = 1;
    rl_callback_handler_remove();
}

static void drain(int fd, char *last) {
    char buf[32];
    ssize_t n;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == 'c' || *last == 0) *last = buf[i];
    }
    fcntl(fd, F_SETFL, flags);
}

enum { LINE_EOF = 0, LINE_OK = 1, LINE_INTERRUPTED = -1 };

/* Reads one line at the terminal with prompt.  LINE_OK with *out (malloc'd),
 * LINE_EOF at Ctrl-D, LINE_INTERRUPTED at Ctrl-C (the line is dropped). */
static int read_terminal_line(const char *prompt, char **out) {
    *out = NULL;
    char pending = 0;
    drain(prompt_pipe[0], &pending); /* a Ctrl-C from before the prompt is not for it */
    line_read = NULL;
    line_is_done = 0;
    rl_callback_handler_install(prompt, on_line);
    while (!line_is_done) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(STDIN_FILENO, &fds);
        FD_SET(prompt_pipe[0], &fds);
        int top = prompt_pipe[0] > STDIN_FILENO ? prompt_pipe[0] : STDIN_FILENO;
        if (select(top + 1, &fds, NULL, NULL, NULL) < 0) {
            if (errno == EINTR) continue;
            rl_callback_handler_remove();
            return LINE_EOF;
        }
        if (FD_ISSET(prompt_pipe[0], &fds)) {
            char what = 0;
            drain(prompt_pipe[0], &what);
            if (what == 'c') {
                rl_callback_handler_remove();
                fputs("^C\n", stdout);
                fflush(stdout);
                return LINE_INTERRUPTED;
            }
            if (what == 'w') rl_resize_terminal();
        }
        if (FD_ISSET(STDIN_FILENO, &fds)) rl_callback_read_char();
    }
    *out = line_read;
    return line_read ? LINE_OK : LINE_EOF;
}

/* ------------------------------------------------------ calls into Lua
 * The REPL object (lua/argent/repl/init.lua) lives in the registry. */

static int repl_ref = LUA_NOREF;

static int plain_message(lua_State *L) {
    if (!lua_isstring(L, 1)) {
        if (!luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1))
            lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    return 1;
}

/* Calls repl:method(args...) with the nargs values on the top of the stack
 * (which it pops) and leaves nresults results.  On error prints the message
 * on stderr and leaves nils.  Returns the pcall status. */
static int call_method(lua_State *L, const char *method, int nargs, int nresults) {
    int first_arg = lua_gettop(L) - nargs + 1;
    lua_pushcfunction(L, plain_message);
    int handler = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, repl_ref);
    lua_getfield(L, -1, method);
    lua_insert(L, -2); /* the method, then self */
    for (int i = 0; i < nargs; i++) lua_pushvalue(L, first_arg + i);
    int status = lua_pcall(L, nargs + 1, nresults, handler);
    if (status != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
        for (int i = 0; i < nresults; i++) lua_pushnil(L);
    }
    for (int i = 0; i <= nargs; i++) lua_remove(L, first_arg); /* the arguments and the handler */
    return status;
}

/* repl:feed(line) with Ctrl-C armed.  Returns 1 to go on, 0 for .quit. */
static int feed_line(lua_State *L, const char *line) {
    lua_pushstring(L, line);
    evaluating = 1;
    call_method(L, "feed", 1, 1);
    evaluating = 0;
    lua_sethook(L, NULL, 0, 0); /* a Ctrl-C that found no Lua to stop */
    int go_on = !(lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "quit") == 0);
    lua_pop(L, 1);
    return go_on;
}

/* ------------------------------------------------------------ completion */

/* libedit asks for the replacement of text (which the Lua completer's
 * candidates all start with): [0] their longest common prefix, then each. */
static char **complete(const char *text, int start, int end) {
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    lua_State *L = repl_L;
    int top = lua_gettop(L);
    lua_pushstring(L, text);
    lua_pushstring(L, rl_line_buffer ? rl_line_buffer : "");
    lua_pushinteger(L, start);
    if (call_method(L, "complete", 3, 1) != LUA_OK || !lua_istable(L, -1)) {
        lua_settop(L, top);
        return NULL;
    }
    int n = (int)lua_rawlen(L, -1);
    if (n == 0) {
        lua_settop(L, top);
        return NULL;
    }
    char **m = calloc((size_t)n + 2, sizeof *m);
    if (!m) {
        lua_settop(L, top);
        return NULL;
    }
    size_t common = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *s = lua_tostring(L, -1);
        m[i] = strdup(s ? s : "");
        lua_pop(L, 1);
        if (!m[i]) break;
        if (i == 1) common = strlen(m[1]);
        else
            while (common > 0 && strncmp(m[1], m[i], common) != 0) common--;
    }
    lua_settop(L, top);
    if (n == 1) {
        m[0] = m[1];
        m[1] = NULL;
    } else {
        m[0] = strndup(m[1] ? m[1] : "", common);
    }
    return m;
}

/* ------------------------------------------------------ functions for Lua */

/* width() -> the terminal's columns, or nil when stdout is not a terminal */
static int lua_terminal_width(lua_State *L) {
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        lua_pushinteger(L, ws.ws_col);
    else lua_pushnil(L);
    return 1;
}

/* clock() -> milliseconds on a monotonic clock */
static int lua_clock_ms(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
    return 1;
}

/* ask(prompt) -> the line typed at the terminal, or nil (Ctrl-C, Ctrl-D, or
 * no terminal).  Ctrl-C answers the question instead of cancelling input. */
static int lua_ask(lua_State *L) {
    const char *prompt = luaL_checkstring(L, 1);
    if (!interactive) {
        lua_pushnil(L);
        return 1;
    }
    evaluating = 0;
    char *line = NULL;
    int got = read_terminal_line(prompt, &line);
    evaluating = 1;
    if (got == LINE_OK) lua_pushstring(L, line);
    else lua_pushnil(L);
    free(line);
    return 1;
}

/* --------------------------------------------------------------- the loop */

static char *history_path(void) {
    const char *env = getenv("ARGENT_HISTORY");
    if (env) return env[0] ? strdup(env) : NULL;
    const char *home = getenv("HOME");
    if (!home || !home[0]) return NULL;
    size_t n = strlen(home) + sizeof "/.argent_history";
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/.argent_history", home);
    return p;
}

static void run_terminal(lua_State *L) {
    char *history = history_path();
    rl_readline_name = "argent";
    rl_catch_signals = 0; /* ours: see read_terminal_line */
    rl_attempted_completion_function = complete;
    rl_completion_append_character = '\0';
    /* '.' and ':' are part of a completed word: `User.us`, `session:qu` */
    static char breaks[] = " \t\n\"\\'`@$><=;|&{(,+-*/%^#~[]";
    rl_basic_word_break_characters = breaks;
    rl_completer_word_break_characters = breaks;
    using_history();
    stifle_history(2000);
    if (history) read_history(history);

    int go_on = 1;
    while (go_on) {
        lua_settop(L, 0);
        call_method(L, "prompt", 0, 1);
        char *prompt = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : "argent> ");
        lua_pop(L, 1);
        char *line = NULL;
        int got = prompt ? read_terminal_line(prompt, &line) : LINE_EOF;
        free(prompt);
        if (got == LINE_INTERRUPTED) {
            call_method(L, "interrupt", 0, 0); /* drop the unfinished chunk */
            continue;
        }
        if (got == LINE_EOF) {
            fputc('\n', stdout);
            break;
        }
        if (line[strspn(line, " \t")] != '\0') {
            HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
            if (!last || strcmp(last->line, line) != 0) {
                add_history(line);
                if (history) write_history(history);
            }
        }
        go_on = feed_line(L, line);
        free(line);
        fflush(stdout);
    }
    call_method(L, "finish", 0, 0);
    free(history);
}

static void run_piped(lua_State *L) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
        if (!feed_line(L, line)) break;
    }
    free(line);
    call_method(L, "finish", 0, 0);
}

static void run_codes(lua_State *L, const struct repl_args *args) {
    for (int i = 0; i < args->ncodes; i++) {
        const char *p = args->codes[i];
        int go_on = 1;
        while (go_on) { /* one line at a time, as typed */
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            lua_pushlstring(L, p, len);
            char *line = strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
            if (!line) break;
            go_on = feed_line(L, line);
            free(line);
            if (!nl) break;
            p = nl + 1;
        }
        call_method(L, "finish", 0, 0);
        if (!go_on) break;
    }
}

static void push_cfunction_field(lua_State *L, const char *name, lua_CFunction f) {
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static int repl_body(lua_State *L) {
    const struct repl_args *args = lua_touserdata(L, 1);
    repl_L = L;
    interactive = args->ncodes == 0 && isatty(STDIN_FILENO);

    /* require("argent.repl").new(opts) */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "argent.repl");
    if (ag_cli_report(L, ag_cli_docall(L, 1, 1)) != LUA_OK) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushcfunction(L, plain_message);
    int handler = lua_gettop(L);
    lua_getfield(L, -2, "new");
    lua_createtable(L, 0, 12);
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
    lua_pushboolean(L, args->read_only);
    lua_setfield(L, -2, "read_only");
    lua_pushboolean(L, interactive);
    lua_setfield(L, -2, "interactive");
    lua_pushboolean(L, isatty(STDOUT_FILENO));
    lua_setfield(L, -2, "stdout_tty");
    push_cfunction_field(L, "width", lua_terminal_width);
    push_cfunction_field(L, "clock", lua_clock_ms);
    push_cfunction_field(L, "ask", lua_ask);
    if (lua_pcall(L, 1, 1, handler) != LUA_OK) { /* a bad URL, a module that fails */
        fprintf(stderr, "argent: repl: %s\n", lua_tostring(L, -1));
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushvalue(L, -1);
    repl_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Ctrl-C: the cancel thread holds its own reference to the engine */
    lua_getfield(L, -1, "db");
    argent_engine *engine = argent_engine_retain(argent_to_engine(L, -1));
    lua_settop(L, 0);
    pthread_t canceller;
    int have_thread = 0;
    if (engine && make_pipe(cancel_pipe) == 0 && make_pipe(prompt_pipe) == 0 &&
        pthread_create(&canceller, NULL, cancel_thread, engine) == 0) {
        have_thread = 1;
        install_handlers();
    }

    if (interactive) {
        call_method(L, "banner", 0, 1);
        if (lua_isstring(L, -1)) fputs(lua_tostring(L, -1), stdout);
        lua_pop(L, 1);
        run_terminal(L);
    } else if (args->ncodes > 0) {
        run_codes(L, args);
    } else {
        run_piped(L);
    }
    fflush(stdout);

    signal(SIGINT, SIG_DFL);
    signal(SIGWINCH, SIG_DFL);
    if (have_thread) {
        close(cancel_pipe[1]); /* the thread's read() returns 0 */
        pthread_join(canceller, NULL);
    }
    argent_engine_release(engine);

    call_method(L, "close", 0, 1); /* -> whether any input failed */
    int failed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, repl_ref);
    repl_ref = LUA_NOREF;
    lua_pushboolean(L, interactive || !failed);
    return 1;
}

int ag_cli_repl(const char *prog, int argc, char **argv) {
    (void)prog;
    struct repl_args args;
    memset(&args, 0, sizeof args);
    const char **modules = calloc((size_t)argc + 1, sizeof *modules);
    const char **codes = calloc((size_t)argc + 1, sizeof *codes);
    if (!modules || !codes) {
        free(modules);
        free(codes);
        ag_cli_message("repl: not enough memory");
        return AG_CLI_EXIT_ERROR;
    }
    args.modules = modules;
    args.codes = codes;
    int status = -1;
    for (int i = 1; i < argc && status < 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(REPL_USAGE, stdout);
            status = AG_CLI_EXIT_OK;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "-e") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: repl: %s needs a value\n%s", AG_CLI_PROGNAME, a, REPL_USAGE);
                status = AG_CLI_EXIT_USAGE;
            } else if (a[1] == 'm') {
                modules[args.nmodules++] = argv[++i];
            } else {
                codes[args.ncodes++] = argv[++i];
            }
        } else if (strcmp(a, "--read-only") == 0) {
            args.read_only = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: repl: unknown option '%s'\n%s", AG_CLI_PROGNAME, a, REPL_USAGE);
            status = AG_CLI_EXIT_USAGE;
        } else if (args.url) {
            fprintf(stderr, "%s: repl: one URL only, got '%s' after '%s'\n%s", AG_CLI_PROGNAME, a, args.url,
                    REPL_USAGE);
            status = AG_CLI_EXIT_USAGE;
        } else {
            args.url = a;
        }
    }
    if (status < 0) status = ag_cli_with_state(repl_body, &args);
    free(modules);
    free(codes);
    return status;
}
