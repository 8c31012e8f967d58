/*
 * host.c -- a multi-threaded program that embeds Lua and shares one argent
 * engine between all its threads, each with its own lua_State.
 *
 *   argent-host-example [URL [SCRIPT]]
 *
 * The engine (and its connection pool) is made once, in C.  Eight threads
 * each open a Lua state, make `require "argent"` use the copy of argent
 * linked into this program (argent_openlibs), receive the shared engine as
 * the global `engine` (argent_push_engine: every state gets its own userdata
 * holding its own reference) and run script.lua, which increments one
 * counter row in 500 transactions.  At the end the counter must read
 * 8 x 500: no increment lost, none counted twice.  Then the other
 * direction: a Lua script makes an engine, C takes it over (argent_to_engine,
 * argent_engine_retain) and reads the same count through it after the
 * script's state is closed.  Exit status 0 only when all of this holds.
 *
 * Everything is released at the end (each lua_close collects its engine
 * userdata, then the host drops its own reference), so that sanitizers see
 * no leak.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "argent.h"

#ifndef ARGENT_HOST_SCRIPT
#error "ARGENT_HOST_SCRIPT (the path of script.lua) must be defined"
#endif
#ifndef ARGENT_HOST_LUA_DIR
#error "ARGENT_HOST_LUA_DIR (the directory holding argent/init.lua) must be defined"
#endif

#define THREADS 8
#define TRANSACTIONS 500 /* per thread; script.lua reads it from the global `transactions` */
#define DEFAULT_URL "sqlite:////tmp/argent-host-example.db"

typedef struct worker {
    pthread_t thread;
    int id;
    argent_engine *engine; /* the host's engine: each Lua state takes its own reference */
    const char *script;
    int ok;            /* the script ran to its end */
    long long retries; /* transactions the script had to run again (SQLite: database locked) */
    char error[1024];
} worker;

/* The message handler: argent's errors are tables whose __tostring reads
 * "OperationalError: database is locked [SQL: ...]"; add a traceback. */
static int message_handler(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* host_sleep(seconds): what the host offers its scripts besides argent
 * (script.lua backs off with it before retrying a transaction). */
static int host_sleep(lua_State *L) {
    double seconds = luaL_checknumber(L, 1);
    if (seconds > 0) {
        struct timespec ts;
        ts.tv_sec = (time_t)seconds;
        ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The standard libraries and argent, in a new state (raises on failure). */
static void open_libraries(lua_State *L) {
    luaL_openlibs(L);
    argent_openlibs(L); /* require "argent.core" -> the copy linked into this program */

    /* argent/init.lua (the Lua part of `require "argent"`) from the source tree */
    lua_getglobal(L, "package");
    lua_pushstring(L, ARGENT_HOST_LUA_DIR "/?.lua;" ARGENT_HOST_LUA_DIR "/?/init.lua;");
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

/* Everything that can raise runs in here, under lua_pcall. */
static int worker_main(lua_State *L) {
    worker *w = lua_touserdata(L, 1);
    open_libraries(L);
    argent_push_engine(L, w->engine);
    lua_setglobal(L, "engine");
    lua_pushinteger(L, w->id);
    lua_setglobal(L, "thread_id");
    lua_pushinteger(L, TRANSACTIONS);
    lua_setglobal(L, "transactions");
    lua_pushcfunction(L, host_sleep);
    lua_setglobal(L, "host_sleep");

    if (luaL_loadfile(L, w->script) != LUA_OK) return lua_error(L);
    lua_call(L, 0, 1);
    w->retries = (long long)lua_tointeger(L, -1);
    return 0;
}

static void *worker_run(void *arg) {
    worker *w = arg;
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(w->error, sizeof w->error, "cannot create a Lua state: not enough memory");
        return NULL;
    }
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, worker_main);
    lua_pushlightuserdata(L, w);
    if (lua_pcall(L, 1, 0, 1) == LUA_OK) {
        w->ok = 1;
    } else {
        const char *msg = lua_tostring(L, -1);
        snprintf(w->error, sizeof w->error, "%s", msg ? msg : "(error without a message)");
    }
    lua_close(L); /* collects the state's engine userdata: its reference goes */
    return NULL;
}

/* The other direction: an engine made by a Lua script, taken over by C
 * (argent_to_engine + argent_engine_retain) and used after its state is
 * gone.  Runs under lua_pcall: the URL is argument 1, the result slot 2. */
static int engine_from_lua_main(lua_State *L) {
    argent_engine **out = lua_touserdata(L, 2);
    open_libraries(L);
    if (luaL_loadstring(
            L,
            "local argent = require 'argent' return argent.create_engine(..., {pool_size = 1})") !=
        LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    *out = argent_engine_retain(argent_to_engine(L, -1)); /* NULL if it is no engine */
    return 0;
}

static argent_engine *engine_from_lua(const char *url) {
    argent_engine *engine = NULL;
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, engine_from_lua_main);
    lua_pushstring(L, url);
    lua_pushlightuserdata(L, &engine);
    if (lua_pcall(L, 2, 0, 1) != LUA_OK)
        fprintf(stderr, "argent-host-example: engine from Lua: %s\n", lua_tostring(L, -1));
    lua_close(L); /* the userdata goes; the engine stays, held by our reference */
    return engine;
}

static int fail(const char *what, const argent_error *err) {
    fprintf(stderr, "argent-host-example: %s: %s: %s\n", what, err->kind_name, err->message);
    return 1;
}

/* (Re)creates the counter table with its one row, n = 0. */
static int prepare_counter(argent_engine *engine) {
    argent_error err;
    argent_connection *conn = argent_connect(engine, &err);
    if (!conn) return fail("connect", &err);
    int rc = 0;
    argent_value row[] = {argent_int64(1), argent_int64(0)};
    if (argent_execute(conn, "DROP TABLE IF EXISTS counter", NULL, 0, NULL, &err) != 0 ||
        argent_execute(conn, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)", NULL, 0,
                       NULL, &err) != 0 ||
        argent_execute(conn, "INSERT INTO counter (id, n) VALUES (?, ?)", row, 2, NULL, &err) != 0)
        rc = fail("create table counter", &err);
    argent_connection_close(conn);
    return rc;
}

/* The counter's value, or -1. */
static long long read_counter(argent_engine *engine) {
    argent_error err;
    argent_connection *conn = argent_connect(engine, &err);
    if (!conn) return fail("connect", &err), -1;
    long long n = -1;
    argent_result *res;
    argent_value id[] = {argent_int64(1)};
    if (argent_execute(conn, "SELECT n FROM counter WHERE id = ?", id, 1, &res, &err) != 0) {
        fail("read the counter", &err);
    } else {
        int rc = argent_result_next(res, &err);
        if (rc == 1)
            n = (long long)argent_result_column_int64(res, 0);
        else if (rc < 0)
            fail("read the counter", &err);
        argent_result_close(res);
    }
    argent_connection_close(conn);
    return n;
}

int main(int argc, char **argv) {
    const char *url = argc > 1 ? argv[1] : DEFAULT_URL;
    const char *script = argc > 2 ? argv[2] : ARGENT_HOST_SCRIPT;

    /* One engine for every thread.  Its pool must be able to give each
     * thread a connection without waiting out pool_timeout. */
    argent_engine_options opts;
    argent_engine_options_init(&opts);
    opts.pool_size = THREADS;
    opts.max_overflow = 0;
    /* SQLite: writers queue on the database lock; wait for it up to 10 s
     * before a statement fails with "database is locked". */
    argent_connect_arg sqlite_args[] = {{"busy_timeout", "10000"}};
    if (strncmp(url, "sqlite", 6) == 0) {
        opts.connect_args = sqlite_args;
        opts.nconnect_args = 1;
    }
    argent_error err;
    argent_engine *engine = argent_engine_create(url, &opts, &err);
    if (!engine) return fail("create the engine", &err);
    printf("engine: %s, %d threads x %d transactions\n", argent_engine_dialect(engine), THREADS,
           TRANSACTIONS);

    if (prepare_counter(engine) != 0) {
        argent_engine_release(engine);
        return 1;
    }

    worker workers[THREADS];
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->id = i + 1;
        w->engine = engine;
        w->script = script;
        if (pthread_create(&w->thread, NULL, worker_run, w) != 0) {
            fprintf(stderr, "argent-host-example: cannot start thread %d\n", w->id);
            break;
        }
        started++;
    }
    int failures = started == THREADS ? 0 : 1;
    long long retries = 0;
    for (int i = 0; i < started; i++) {
        worker *w = &workers[i];
        pthread_join(w->thread, NULL);
        if (!w->ok) {
            fprintf(stderr, "argent-host-example: thread %d failed: %s\n", w->id, w->error);
            failures++;
        }
        retries += w->retries;
    }

    long long n = read_counter(engine);
    long long want = (long long)THREADS * TRANSACTIONS;
    /* the same count, read through an engine that a Lua script made */
    argent_engine *from_lua = engine_from_lua(url);
    long long n_from_lua = from_lua ? read_counter(from_lua) : -1;
    argent_engine_release(from_lua);
    if (n_from_lua != n) {
        fprintf(stderr, "argent-host-example: the engine made in Lua reads %lld\n", n_from_lua);
        failures++;
    }
    argent_pool_status st;
    argent_engine_pool_status(engine, &st, NULL);
    printf("counter: %lld (want %lld); transactions retried: %lld; pool: %d open, %d checked out\n",
           n, want, retries, st.checked_in + st.checked_out, st.checked_out);
    argent_engine_release(engine); /* the last reference: the pool closes */
    if (failures || n != want || st.checked_out != 0) {
        fprintf(stderr, "argent-host-example: FAILED\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
