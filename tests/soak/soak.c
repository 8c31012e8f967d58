/*
 * soak.c -- the soak (issue 11): 8 threads, each with its own lua_State,
 * doing mixed Core and ORM work (tests/soak/soak.lua) through one engine
 * made in C, for a fixed time; then every count checked exactly against
 * the database, and the process's resident memory checked flat.
 *
 *   argent-soak URL [SECONDS]        (default 120)
 *
 * A SQLite URL gets busy_timeout 10000 (its writers take turns; soak.lua
 * runs a transaction that met the lock again).
 *
 * Memory: the main thread reads the resident set (/proc/self/statm) once a
 * second.  The first quarter of the run (at least 10 s) is warm-up: caches,
 * the pool, Lua's heaps and the allocator's arenas grow to their working
 * size.  The rest is cut in two halves; the check: the highest RSS of the
 * second half is at most the highest of the first half plus 5 % (and at
 * least 4 MiB of slack).  A leak of a few bytes per operation (hundreds of
 * thousands of operations) fails it; a cache settling does not.  Under
 * ASan, freed memory waits in a quarantine before reuse: it is kept at
 * 16 MiB here (__asan_default_options), so that it fills during warm-up.
 *
 * Exit status 0 when every thread ran to the end without an error, the
 * database holds exactly what the threads counted, nothing leaked (ASan
 * checks at exit) and the RSS check held; 1 otherwise; 2 for usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "argent.h"

#ifndef ARGENT_SOAK_SCRIPT
#error "ARGENT_SOAK_SCRIPT (the path of soak.lua) must be defined"
#endif
#ifndef ARGENT_SOAK_LUA_DIR
#error "ARGENT_SOAK_LUA_DIR (the directory holding argent/init.lua) must be defined"
#endif

#define THREADS 8
#define MAX_SAMPLES 100000

/* ASan's quarantine of freed memory, small enough to fill during warm-up
 * (the environment's ASAN_OPTIONS still win).  Unused without ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "quarantine_size_mb=16"; }

static atomic_int stopping;

typedef struct worker {
    pthread_t thread;
    int id;
    argent_engine *engine;
    int ok;
    long long events, orders, lines, updates, deleted, loops, failures_seen, retries;
    char error[2048];
} worker;

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

static int host_stop(lua_State *L) {
    lua_pushboolean(L, atomic_load(&stopping));
    return 1;
}

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

/* Standard libraries, argent, host_sleep; pushes soak.lua's table. */
static void open_soak(lua_State *L) {
    luaL_openlibs(L);
    argent_openlibs(L);
    lua_getglobal(L, "package");
    lua_pushstring(L, ARGENT_SOAK_LUA_DIR "/?.lua;" ARGENT_SOAK_LUA_DIR "/?/init.lua;");
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    lua_pushcfunction(L, host_sleep);
    lua_setglobal(L, "host_sleep");
    if (luaL_loadfile(L, ARGENT_SOAK_SCRIPT) != LUA_OK) lua_error(L);
    lua_call(L, 0, 1);
}

static long long count_field(lua_State *L, int t, const char *name) {
    lua_getfield(L, t, name);
    long long v = (long long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static int worker_main(lua_State *L) {
    worker *w = lua_touserdata(L, 1);
    open_soak(L);
    lua_getfield(L, -1, "work");
    argent_push_engine(L, w->engine);
    lua_pushinteger(L, w->id);
    lua_pushcfunction(L, host_stop);
    lua_call(L, 3, 1);
    int t = lua_gettop(L);
    w->events = count_field(L, t, "events");
    w->orders = count_field(L, t, "orders");
    w->lines = count_field(L, t, "lines");
    w->updates = count_field(L, t, "updates");
    w->deleted = count_field(L, t, "deleted");
    w->loops = count_field(L, t, "loops");
    w->failures_seen = count_field(L, t, "failures_seen");
    w->retries = count_field(L, t, "retries");
    return 0;
}

static void *worker_run(void *arg) {
    worker *w = arg;
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(w->error, sizeof w->error, "no Lua state");
        atomic_store(&stopping, 1);
        return NULL;
    }
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, worker_main);
    lua_pushlightuserdata(L, w);
    if (lua_pcall(L, 1, 0, 1) == LUA_OK) {
        w->ok = 1;
    } else {
        snprintf(w->error, sizeof w->error, "%s",
                 lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no message)");
        atomic_store(&stopping, 1); /* one failure ends the run */
    }
    lua_close(L);
    return NULL;
}

/* Runs soak.lua's setup (phase "setup") or verify (phase "verify", with
 * the workers' counts) in a state of its own.  Pushes nothing; 0 or 1. */
typedef struct phase_ctx {
    argent_engine *engine;
    const char *url;
    const char *phase;
    worker *workers;
    long long totals[3];
} phase_ctx;

static int phase_main(lua_State *L) {
    phase_ctx *p = lua_touserdata(L, 1);
    open_soak(L);
    int soak = lua_gettop(L);
    lua_getfield(L, soak, p->phase);
    argent_push_engine(L, p->engine);
    if (strcmp(p->phase, "setup") == 0) {
        lua_pushinteger(L, THREADS);
        lua_pushstring(L, p->url);
        lua_call(L, 3, 0);
    } else if (strcmp(p->phase, "verify") == 0) {
        lua_createtable(L, THREADS, 0);
        for (int i = 0; i < THREADS; i++) {
            worker *w = &p->workers[i];
            lua_createtable(L, 0, 4);
            lua_pushinteger(L, w->events);
            lua_setfield(L, -2, "events");
            lua_pushinteger(L, w->orders);
            lua_setfield(L, -2, "orders");
            lua_pushinteger(L, w->lines);
            lua_setfield(L, -2, "lines");
            lua_pushinteger(L, w->updates);
            lua_setfield(L, -2, "updates");
            lua_rawseti(L, -2, i + 1);
        }
        lua_call(L, 2, 1);
        p->totals[0] = count_field(L, -1, "events");
        p->totals[1] = count_field(L, -1, "orders");
        p->totals[2] = count_field(L, -1, "lines");
    } else {
        lua_call(L, 1, 0);
    }
    return 0;
}

static int run_phase(phase_ctx *p) {
    lua_State *L = luaL_newstate();
    if (!L) return 1;
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, phase_main);
    lua_pushlightuserdata(L, p);
    int rc = 0;
    if (lua_pcall(L, 1, 0, 1) != LUA_OK) {
        fprintf(stderr, "argent-soak: %s: %s\n", p->phase, lua_tostring(L, -1));
        rc = 1;
    }
    lua_close(L);
    return rc;
}

static double rss_mib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_resident = 0;
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    fclose(f);
    return (double)pages_resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: argent-soak URL [SECONDS]\n");
        return 2;
    }
    const char *url = argv[1];
    int seconds = argc > 2 ? atoi(argv[2]) : 120;
    if (seconds < 4) {
        fprintf(stderr, "argent-soak: SECONDS must be at least 4\n");
        return 2;
    }
    argent_engine_options opts;
    argent_engine_options_init(&opts);
    opts.pool_size = THREADS;
    opts.max_overflow = 4;
    argent_connect_arg sqlite_args[] = {{"busy_timeout", "10000"}};
    if (strncmp(url, "sqlite", 6) == 0) {
        opts.connect_args = sqlite_args;
        opts.nconnect_args = 1;
    }
    argent_error err;
    argent_engine *engine = argent_engine_create(url, &opts, &err);
    if (!engine) {
        fprintf(stderr, "argent-soak: %s: %s\n", err.kind_name, err.message);
        return 1;
    }
    phase_ctx setup = {engine, url, "setup", NULL, {0}};
    if (run_phase(&setup) != 0) {
        argent_engine_release(engine);
        return 1;
    }
    printf("argent-soak: %s, %d threads, %d s\n", argent_engine_dialect(engine), THREADS, seconds);
    fflush(stdout);

    static worker workers[THREADS];
    int started = 0;
    for (int i = 0; i < THREADS; i++) {
        workers[i].id = i + 1;
        workers[i].engine = engine;
        if (pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]) != 0) break;
        started++;
    }

    static double samples[MAX_SAMPLES];
    int nsamples = 0;
    double start = now_seconds();
    while (!atomic_load(&stopping) && now_seconds() - start < seconds) {
        struct timespec one = {1, 0};
        nanosleep(&one, NULL);
        if (nsamples < MAX_SAMPLES) samples[nsamples++] = rss_mib();
    }
    atomic_store(&stopping, 1);
    double elapsed = now_seconds() - start;
    int failures = started == THREADS ? 0 : 1;
    long long loops = 0, retries = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        if (!workers[i].ok) {
            fprintf(stderr, "argent-soak: thread %d failed: %s\n", workers[i].id, workers[i].error);
            failures++;
        }
        loops += workers[i].loops;
        retries += workers[i].retries;
    }

    phase_ctx verify = {engine, url, "verify", workers, {0}};
    if (!failures && run_phase(&verify) != 0) failures++;

    /* RSS: warm-up, then the two halves (see the file comment) */
    int warm = nsamples / 4 > 10 ? nsamples / 4 : 10;
    int rss_ok = 1;
    double first_max = 0, second_max = 0, warm_rss = 0,
           last_rss = nsamples ? samples[nsamples - 1] : 0;
    if (nsamples - warm >= 4) {
        int mid = warm + (nsamples - warm) / 2;
        warm_rss = samples[warm - 1];
        for (int i = warm; i < mid; i++)
            if (samples[i] > first_max) first_max = samples[i];
        for (int i = mid; i < nsamples; i++)
            if (samples[i] > second_max) second_max = samples[i];
        double slack = first_max * 0.05 > 4.0 ? first_max * 0.05 : 4.0;
        rss_ok = second_max <= first_max + slack;
        printf("argent-soak: RSS %.1f MiB after warm-up (%d s), highest %.1f MiB in the first half "
               "and %.1f MiB "
               "in the second (allowed %.1f), %.1f MiB at the end: %s\n",
               warm_rss, warm, first_max, second_max, first_max + slack, last_rss,
               rss_ok ? "flat" : "GROWING");
    } else {
        printf("argent-soak: too short a run to judge the RSS (%d samples)\n", nsamples);
    }
    if (!rss_ok) failures++;

    if (!failures) {
        printf("argent-soak: %lld loops in %.0f s (%.0f/s), %lld transactions run again (SQLite's "
               "lock); the "
               "database holds exactly the %lld events, %lld orders and %lld lines the threads "
               "committed\n",
               loops, elapsed, (double)loops / elapsed, retries, verify.totals[0], verify.totals[1],
               verify.totals[2]);
        for (int i = 0; i < THREADS; i++)
            printf("argent-soak: thread %d: %lld loops, %lld events, %lld orders (%lld deleted), "
                   "%lld updates\n",
                   workers[i].id, workers[i].loops, workers[i].events, workers[i].orders,
                   workers[i].deleted, workers[i].updates);
    }
    phase_ctx cleanup = {engine, url, "cleanup", NULL, {0}};
    if (run_phase(&cleanup) != 0) failures++;
    argent_pool_status st;
    if (argent_engine_pool_status(engine, &st, NULL) == 0 && st.checked_out != 0) {
        fprintf(stderr, "argent-soak: %d connections still checked out\n", st.checked_out);
        failures++;
    }
    argent_engine_release(engine);
    printf(failures ? "argent-soak: FAILED\n" : "argent-soak: ok\n");
    return failures ? 1 : 0;
}
