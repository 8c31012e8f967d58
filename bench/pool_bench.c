/*
 * pool_bench.c -- what a pooled checkout costs (src/pool, src/engine).
 *
 * Not a test: it measures, on real SQLite connections,
 *   1. the uncontended checkout + return, in ns per pair, through the engine
 *      (ag_engine_connect / ag_conn_close: what every conn:close() pays)
 *      and through the raw pool (ag_pool_checkout / ag_pool_checkin), on a
 *      file engine (the QueuePool path) and on a :memory: engine (the shared
 *      singleton slot), ITERATIONS times after a warm-up;
 *   2. the throughput, in checkouts per second, of THREADS threads sharing one
 *      file engine of pool_size 5 (max_overflow 0, so that the threads really
 *      wait for each other) for SECONDS, each checkout held for no time (the
 *      pool's own cost under contention) and for a short query.
 *
 * usage: pool_bench [ITERATIONS=1000000] [THREADS=8] [SECONDS=2] [DBFILE=/tmp/argent-pool-bench.db]
 * stdout: one line per workload: "argent-pool <workload> <value> <unit>"
 *
 * Build: part of the CMake build (target pool_bench; build with the normal,
 * RelWithDebInfo configuration, not a sanitizer build).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "pool/pool.h"

static double now(void) { return ag_monotonic_seconds(); }

static void die(const char *what, const ag_error *err) {
    fprintf(stderr, "pool_bench: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

static ag_engine *engine_for(const char *url, int pool_size, int max_overflow) {
    ag_engine_options o;
    ag_engine_options_init(&o);
    o.pool_size = pool_size;
    o.max_overflow = max_overflow;
    ag_error err;
    ag_engine *e = ag_engine_create(url, strlen(url), &o, &err);
    if (!e) die(url, &err);
    return e;
}

/* ns per ag_engine_connect + ag_conn_close. */
static double engine_pair_ns(ag_engine *e, long iterations) {
    ag_error err;
    for (long i = 0; i < iterations / 100 + 1000; i++) { /* warm-up */
        ag_conn *c = ag_engine_connect(e, &err);
        if (!c) die("connect", &err);
        ag_conn_close(c);
    }
    double t0 = now();
    for (long i = 0; i < iterations; i++) {
        ag_conn *c = ag_engine_connect(e, &err);
        if (!c) die("connect", &err);
        ag_conn_close(c);
    }
    return (now() - t0) * 1e9 / (double)iterations;
}

/* ns per ag_pool_checkout + ag_pool_checkin on a pool of its own. */
static double pool_pair_ns(const char *url, int singleton, long iterations) {
    ag_error err;
    ag_url *u;
    if (ag_url_parse(url, strlen(url), &u, &err) != 0) die(url, &err);
    ag_connect_params params = {.url = u};
    ag_pool_config config = {.size = 5, .max_overflow = 10, .timeout = 30, .recycle = -1, .singleton = singleton};
    ag_pool *pool = ag_pool_create(ag_driver_for(u->dialect), &params, &config, &err);
    if (!pool) die("pool", &err);
    for (long i = 0; i < iterations / 100 + 1000; i++) {
        ag_slot *s = ag_pool_checkout(pool, &err);
        if (!s) die("checkout", &err);
        ag_pool_checkin(pool, s, 0);
    }
    double t0 = now();
    for (long i = 0; i < iterations; i++) {
        ag_slot *s = ag_pool_checkout(pool, &err);
        if (!s) die("checkout", &err);
        ag_pool_checkin(pool, s, 0);
    }
    double ns = (now() - t0) * 1e9 / (double)iterations;
    ag_pool_destroy(pool);
    ag_url_free(u);
    return ns;
}

typedef struct shared {
    ag_engine *engine;
    int query;             /* run a short query on each checkout */
    atomic_int go, stop;
    atomic_long total;
} shared;

static void *worker(void *p) {
    shared *s = p;
    while (!atomic_load(&s->go)) {
    }
    long n = 0;
    ag_error err;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        ag_conn *c = ag_engine_connect(s->engine, &err);
        if (!c) die("connect", &err);
        if (s->query) {
            ag_stmt *st = ag_conn_prepare(c, "SELECT 1", 8, 1, &err);
            if (!st || ag_stmt_execute(st, NULL, 0, &err) != 0 || ag_stmt_fetch(st, &err) != 1) die("query", &err);
            ag_stmt_release(st);
        }
        ag_conn_close(c);
        n++;
    }
    atomic_fetch_add(&s->total, n);
    return NULL;
}

/* Checkouts per second of nthreads threads on one engine for `seconds`. */
static double throughput(ag_engine *e, int nthreads, double seconds, int query) {
    shared s = {.engine = e, .query = query};
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!th) die("memory", NULL);
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, worker, &s);
    atomic_store(&s.go, 1);
    double t0 = now();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&s.stop, 1);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    double elapsed = now() - t0;
    free(th);
    return (double)atomic_load(&s.total) / elapsed;
}

static void remove_db(const char *path) {
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char f[512];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 1000000;
    int nthreads = argc > 2 ? atoi(argv[2]) : 8;
    double seconds = argc > 3 ? atof(argv[3]) : 2.0;
    const char *path = argc > 4 ? argv[4] : "/tmp/argent-pool-bench.db";
    if (iterations < 1 || nthreads < 1 || !(seconds > 0)) {
        fprintf(stderr, "usage: pool_bench [ITERATIONS] [THREADS] [SECONDS] [DBFILE]\n");
        return 2;
    }
    char url[600];
    snprintf(url, sizeof url, "sqlite:///%s", path);
    remove_db(path);

    ag_engine *file = engine_for(url, 5, 10);
    printf("argent-pool engine-connect-close-file %.1f ns\n", engine_pair_ns(file, iterations));
    ag_engine_release(file);
    ag_engine *mem = engine_for("sqlite:///:memory:", 5, 10);
    printf("argent-pool engine-connect-close-memory %.1f ns\n", engine_pair_ns(mem, iterations));
    ag_engine_release(mem);
    printf("argent-pool pool-checkout-checkin-file %.1f ns\n", pool_pair_ns(url, 0, iterations));
    printf("argent-pool pool-checkout-checkin-memory %.1f ns\n", pool_pair_ns("sqlite:///:memory:", 1, iterations));

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ag_engine *shared_engine = engine_for(url, 5, 0);
    printf("argent-pool threads-%d-cpus-%ld-pool-5-empty %.0f checkouts/s\n", nthreads, cpus,
           throughput(shared_engine, nthreads, seconds, 0));
    printf("argent-pool threads-%d-cpus-%ld-pool-5-select1 %.0f checkouts/s\n", nthreads, cpus,
           throughput(shared_engine, nthreads, seconds, 1));
    printf("argent-pool threads-1-pool-5-empty %.0f checkouts/s\n", throughput(shared_engine, 1, seconds, 0));
    ag_pool_status st;
    ag_engine_pool_status(shared_engine, &st);
    if (st.checked_out != 0 || st.checked_in > 5 || st.overflow != 0) {
        fprintf(stderr, "pool_bench: the pool's accounting is off after the run\n");
        return 1;
    }
    ag_engine_release(shared_engine);
    remove_db(path);
    return 0;
}
