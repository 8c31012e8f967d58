/*
 * failalloc.c -- allocation failure, walked (issue 11).
 *
 *   failalloc URL SCENARIOS.lua [MAX_N]
 *
 * Built only with ARGENT_FAILALLOC (src/base/alloc.h), where argent's core
 * allocator can be told to fail its Nth allocation from now, once.  This
 * host makes Lua's allocator (lua_setallocf) count against the same N, so
 * that the walk covers the bindings and the Lua layers as well as the core.
 * For each path -- the C API's connect and execute here, and the Lua
 * scenarios of SCENARIOS.lua (connect, execute, executemany, flush) -- it
 * runs the path with N = 1, 2, 3, ... until the path completes without
 * reaching its Nth allocation, and checks at each N:
 *   - the path either succeeds or fails with one out-of-memory error
 *     (ARGENT_ERR_MEMORY from the C API; in Lua, Lua's own memory error,
 *     the string "not enough memory"), never another error;
 *   - what it leaves is sound (the scenario's check: all or nothing in the
 *     database, no connection left checked out, the objects still usable);
 *   - nothing crashes, and (under ASan's leak checker, at exit) nothing
 *     leaks.
 * Lua answers a failed allocation with an emergency collection and one
 * retry of the same request; the retry fails too, so that the failure
 * reaches the code that asked.  N runs 1..MAX_N one by one (default
 * 4000), then every 7th: the walk stays bounded on a slow build.
 * Exit status 0 when every check held, 1 otherwise, 77 when this build has
 * no failing allocator.  It prints one line per path: allocations walked.
 * FAILALLOC_FROM=N starts the Lua paths' walks at N; FAILALLOC_TRACE set
 * prints each N before its run (to find where a walk stops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "argent.h"
#include "base/alloc.h"

#ifndef ARGENT_LUA_DIR
#error "ARGENT_LUA_DIR (the directory holding argent/init.lua) must be defined"
#endif

#define STRIDE 7 /* past max_n, every STRIDE-th N */

static long max_n = 4000;
static int failures;

#ifdef ARGENT_FAILALLOC

/* ------------------------------------------------------------ Lua's allocator */

static int lua_armed; /* Lua's allocations count only while a path runs */
static struct {
    int pending; /* the failed request, which Lua retries once after a collection */
    void *ptr;
    size_t osize, nsize;
} retry;

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (lua_armed && (ptr == NULL || nsize > osize)) { /* shrinking must never fail */
        if (retry.pending && retry.ptr == ptr && retry.osize == osize && retry.nsize == nsize) {
            retry.pending = 0;
            return NULL;
        }
        retry.pending = 0;
        if (ag_alloc_should_fail()) {
            retry.pending = 1;
            retry.ptr = ptr;
            retry.osize = osize;
            retry.nsize = nsize;
            return NULL;
        }
    }
    return realloc(ptr, nsize);
}

static int trace; /* FAILALLOC_TRACE set: each N on stderr before its run */

static void arm(long n) {
    if (trace) fprintf(stderr, "failalloc: N = %ld\n", n);
    retry.pending = 0;
    ag_alloc_fail_at(n);
    lua_armed = 1;
}

static void disarm(void) {
    lua_armed = 0;
    ag_alloc_fail_at(0);
}

/* The next N after n. */
static long next_n(long n) { return n < max_n ? n + 1 : n + STRIDE; }

static void report(const char *path, long walked, long last) {
    printf("failalloc: %-70s %5ld allocations, %5ld walked\n", path, last, walked);
    fflush(stdout);
}

/* -------------------------------------------------------------- the C API */

typedef struct capi_env {
    const char *url;
    argent_engine *engine;
    argent_connection *conn;
    long serial;
} capi_env;

static int is_memory(const argent_error *err) { return err->kind == ARGENT_ERR_MEMORY; }

/* create an engine, connect, one query, close: 0 or -1 with err */
static int capi_connect(capi_env *env, argent_error *err) {
    argent_engine *e = argent_engine_create(env->url, NULL, err);
    if (!e) return -1;
    int rc = -1;
    argent_connection *conn = argent_connect(e, err);
    argent_result *res = NULL;
    if (conn && argent_execute(conn, "SELECT 1", NULL, 0, &res, err) == 0 &&
        argent_result_next(res, err) == 1 && argent_result_column_int64(res, 0) == 1)
        rc = 0;
    argent_result_close(res);
    argent_connection_close(conn);
    argent_engine_release(e);
    return rc;
}

/* in a transaction: an insert and a query with parameters (a new SQL text
 * each time, so that it is prepared), every column read as text */
static int capi_execute(capi_env *env, argent_error *err) {
    char sql[200];
    long k = ++env->serial;
    argent_tx tx;
    if (argent_begin(env->conn, &tx, err) != 0) return -1;
    snprintf(sql, sizeof sql, "INSERT INTO t_fa_capi (id, name) VALUES (?, ?) /* %ld */", k);
    argent_value row[] = {argent_int64(k), argent_text("a name")};
    argent_result *res = NULL;
    int rc = argent_execute(env->conn, sql, row, 2, NULL, err);
    if (rc == 0) {
        snprintf(sql, sizeof sql, "SELECT id, name FROM t_fa_capi WHERE id = :id /* %ld */", k);
        argent_value id[] = {argent_int64(k)};
        rc = argent_execute(env->conn, sql, id, 1, &res, err);
    }
    int got;
    while (rc == 0 && (got = argent_result_next(res, err)) != 0) {
        if (got < 0)
            rc = -1;
        else if (!argent_result_column_text(res, 1, NULL))
            rc = -1,
            err->kind = ARGENT_ERR_MEMORY; /* column_text's NULL: memory, as argent.h says */
    }
    argent_result_close(res);
    if (rc == 0) rc = argent_commit(env->conn, tx, err);
    if (rc != 0) {
        argent_error ignored;
        argent_rollback(env->conn, tx, &ignored);
    }
    return rc;
}

static void walk_capi(const char *url, const char *name, int (*path)(capi_env *, argent_error *),
                      capi_env *env) {
    long n = 1, walked = 0;
    for (;; n = next_n(n)) {
        argent_error err;
        memset(&err, 0, sizeof err);
        arm(n);
        lua_armed = 0; /* no Lua here */
        int rc = path(env, &err);
        int failed = ag_alloc_failed();
        long made = ag_alloc_count();
        disarm();
        walked++;
        if (rc != 0 && !(failed && is_memory(&err))) {
            fprintf(stderr, "failalloc: %s, allocation %ld: %s: %s%s\n", name, n,
                    err.kind_name ? err.kind_name : "?", err.message,
                    failed ? "" : " (and no allocation had failed)");
            failures++;
        }
        if (!failed) {
            report(name, walked, made);
            return;
        }
    }
    (void)url;
}

static void run_capi(const char *url) {
    capi_env env = {url, NULL, NULL, 0};
    walk_capi(url, "C API: argent_engine_create, argent_connect, a query, close", capi_connect,
              &env);

    argent_error err;
    env.engine = argent_engine_create(url, NULL, &err);
    env.conn = env.engine ? argent_connect(env.engine, &err) : NULL;
    if (!env.conn || argent_execute_script(env.conn, "DROP TABLE IF EXISTS t_fa_capi", &err) != 0 ||
        argent_execute_script(env.conn,
                              "CREATE TABLE t_fa_capi (id INTEGER PRIMARY KEY, name VARCHAR(20))",
                              &err) != 0) {
        fprintf(stderr, "failalloc: C API set-up: %s\n", err.message);
        failures++;
    } else {
        walk_capi(url, "C API: argent_execute (insert, query) in a transaction", capi_execute,
                  &env);
        /* nothing half-done: every row is whole */
        argent_result *res;
        if (argent_execute(env.conn,
                           "SELECT count(*) FROM t_fa_capi WHERE name IS NULL OR name <> 'a name'",
                           NULL, 0, &res, &err) != 0 ||
            argent_result_next(res, &err) != 1 || argent_result_column_int64(res, 0) != 0) {
            fprintf(stderr, "failalloc: C API: t_fa_capi holds a broken row\n");
            failures++;
        }
        argent_result_close(res);
        argent_execute_script(env.conn, "DROP TABLE t_fa_capi", &err);
    }
    argent_connection_close(env.conn);
    argent_pool_status st;
    if (env.engine && argent_engine_pool_status(env.engine, &st, NULL) == 0 &&
        st.checked_out != 0) {
        fprintf(stderr, "failalloc: C API: %d connections still checked out\n", st.checked_out);
        failures++;
    }
    argent_engine_release(env.engine);
}

/* -------------------------------------------------------------- Lua */

/* Is the error value at the top the out-of-memory error: Lua's own
 * "not enough memory", which argent raises too (src/lua/binding.h)? */
static int lua_is_memory(lua_State *L) {
    return lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "not enough memory") == 0;
}

static const char *lua_message(lua_State *L, int idx) {
    if (luaL_callmeta(L, idx, "__tostring")) return lua_tostring(L, -1);
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tostring(L, idx);
    return luaL_typename(L, idx);
}

/* Runs the scenario table at idx (setup, run, check). */
static void walk_lua(lua_State *L, int scenario) {
    lua_getfield(L, scenario, "name");
    char name[128];
    snprintf(name, sizeof name, "Lua: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, scenario, "setup");
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stderr, "failalloc: %s: setup: %s\n", name, lua_message(L, -1));
        failures++;
        lua_pop(L, 1);
        return;
    }
    int env = lua_gettop(L);
    long n = getenv("FAILALLOC_FROM") ? atol(getenv("FAILALLOC_FROM")) : 1, walked = 0;
    for (;; n = next_n(n)) {
        lua_getfield(L, scenario, "run");
        lua_pushvalue(L, env);
        arm(n);
        int status = lua_pcall(L, 1, 0, 0);
        int failed = ag_alloc_failed();
        long made = ag_alloc_count();
        disarm();
        walked++;
        int ok = status == LUA_OK;
        if (!ok) {
            if (!(failed && lua_is_memory(L))) {
                fprintf(stderr, "failalloc: %s, allocation %ld: %s%s\n", name, n,
                        lua_message(L, -1), failed ? "" : " (and no allocation had failed)");
                failures++;
            }
            lua_settop(L, env);
        }
        lua_getfield(L, scenario, "check");
        lua_pushvalue(L, env);
        lua_pushboolean(L, ok);
        if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
            fprintf(stderr, "failalloc: %s, allocation %ld: check: %s\n", name, n,
                    lua_message(L, -1));
            failures++;
            lua_settop(L, env);
            if (failures > 20) break; /* enough to go on */
        }
        if (!failed) {
            report(name, walked, made);
            break;
        }
    }
    lua_settop(L, env);
    lua_getfield(L, scenario, "teardown");
    if (!lua_isnil(L, -1)) {
        lua_pushvalue(L, env);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            fprintf(stderr, "failalloc: %s: teardown: %s\n", name, lua_message(L, -1));
            failures++;
        }
    }
    lua_settop(L, env - 1);
}

static int lua_main(lua_State *L) {
    const char *url = lua_tostring(L, 1), *scenarios = lua_tostring(L, 2);
    luaL_openlibs(L);
    argent_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, ARGENT_LUA_DIR "/?.lua;" ARGENT_LUA_DIR "/?/init.lua;");
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadfile(L, scenarios) != LUA_OK) return lua_error(L);
    lua_call(L, 0, 1);
    lua_pushstring(L, url);
    lua_call(L, 1, 1);
    int list = lua_gettop(L);
    for (lua_Integer i = 1; lua_rawgeti(L, list, i) == LUA_TTABLE; i++) {
        walk_lua(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, list, "finish");
    lua_call(L, 0, 0);
    return 0;
}

static void run_lua(const char *url, const char *scenarios) {
    lua_State *L = lua_newstate(counting_alloc, NULL);
    if (!L) {
        fprintf(stderr, "failalloc: no Lua state\n");
        failures++;
        return;
    }
    lua_pushcfunction(L, lua_main);
    lua_pushstring(L, url);
    lua_pushstring(L, scenarios);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        fprintf(stderr, "failalloc: %s\n", lua_message(L, -1));
        failures++;
    }
    lua_close(L);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: failalloc URL SCENARIOS.lua [MAX_N]\n");
        return 2;
    }
    if (argc > 3) max_n = atol(argv[3]);
    trace = getenv("FAILALLOC_TRACE") != NULL;
    run_capi(argv[1]);
    run_lua(argv[1], argv[2]);
    if (failures) {
        fprintf(stderr, "failalloc: FAILED (%d)\n", failures);
        return 1;
    }
    printf("failalloc: ok\n");
    return 0;
}

#else

int main(void) {
    puts("failalloc: this build has no failing allocator (configure with -DARGENT_FAILALLOC=ON)");
    return 77;
}

#endif
