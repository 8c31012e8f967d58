/*
 * test_pool.c -- the connection pool (src/pool) on real connections: a
 * SQLite file in a temporary directory, an in-memory SQLite database for
 * singleton mode, and PostgreSQL when ARGENT_TEST_PG_URL is set (pre-ping and
 * lost connections need a server that can drop them; without one those cases
 * are skipped and say so).
 *
 * The driver is the real one, copied into a vtable whose connect, close and
 * ping count their calls and call the real functions: every open connection
 * is a real database connection, and the counts prove the pool's accounting
 * (connections open == slots the pool says it has).
 *
 * Cases: 8 threads hammering a pool of 3 + 2 overflow (limit never exceeded,
 * no slot ever handed to two holders, reset on return, exact accounting
 * afterwards, with discards and disposes racing the checkouts), the timeout
 * and its message, a waiter woken by a checkin, LIFO reuse, overflow slots
 * closed on return, no limit (-1), a failed connect giving its place back,
 * recycle, reset on return, discard and the invalidation it implies,
 * dispose, singleton mode (also under threads), and on PostgreSQL pre-ping,
 * a dead connection without pre-ping, and the threaded run again.  It runs
 * under ASan and TSan as well (scripts/test.sh).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "base/url.h"
#include "pool/pool.h"

/* ---------------------------------------------------------------- the counting driver */

static const ag_driver *real_driver; /* the driver being wrapped (one target at a time) */
static atomic_int opens, closes, pings, hook_closes;

static int counting_connect(const ag_connect_params *params, ag_driver_conn **out, ag_error *err) {
    int rc = real_driver->connect(params, out, err);
    if (rc == 0) atomic_fetch_add(&opens, 1);
    return rc;
}

static void counting_close(ag_driver_conn *conn) {
    atomic_fetch_add(&closes, 1);
    real_driver->close(conn);
}

static int counting_ping(ag_driver_conn *conn, ag_error *err) {
    atomic_fetch_add(&pings, 1);
    return real_driver->ping(conn, err);
}

/* A database to test against: its URL, the real driver and the counting copy. */
typedef struct target {
    const char *name;
    ag_url *url;
    ag_connect_params params;
    const ag_driver *real;
    ag_driver counted;
} target;

static int target_init(target *t, const char *name, const char *url) {
    memset(t, 0, sizeof *t);
    t->name = name;
    ag_error err;
    if (ag_url_parse(url, strlen(url), &t->url, &err) != 0) {
        fprintf(stderr, "%s: bad URL: %s\n", name, err.message);
        return -1;
    }
    t->real = ag_driver_for(t->url->dialect);
    if (!t->real) {
        ag_url_free(t->url);
        t->url = NULL;
        return -1;
    }
    t->params.url = t->url;
    t->counted = *t->real;
    t->counted.connect = counting_connect;
    t->counted.close = counting_close;
    t->counted.ping = counting_ping;
    return 0;
}

static void target_free(target *t) { ag_url_free(t->url); }

/* The on_close hook: frees the test's per-slot flag (see stress_worker). */
static void on_close(ag_slot *slot, void *ctx) {
    atomic_fetch_add(&hook_closes, 1);
    free(slot->owner_data);
    slot->owner_data = NULL;
}

static void reset_counts(void) {
    atomic_store(&opens, 0);
    atomic_store(&closes, 0);
    atomic_store(&pings, 0);
    atomic_store(&hook_closes, 0);
}

/* Connections open now, as the database sees them. */
static int live(void) { return atomic_load(&opens) - atomic_load(&closes); }

typedef struct pool_opts {
    int size, overflow;
    double timeout, recycle;
    int pre_ping, singleton;
} pool_opts;

static ag_pool *make_pool(target *t, pool_opts o) {
    real_driver = t->real;
    reset_counts();
    ag_pool_config config = {
        .size = o.size,
        .max_overflow = o.overflow,
        .timeout = o.timeout,
        .recycle = o.recycle,
        .pre_ping = o.pre_ping,
        .singleton = o.singleton,
        .on_close = on_close,
        .hook_ctx = NULL,
    };
    ag_error err;
    ag_pool *pool = ag_pool_create(&t->counted, &t->params, &config, &err);
    if (!pool) fprintf(stderr, "ag_pool_create: %s\n", err.message);
    return pool;
}

static ag_pool_status status_of(ag_pool *pool) {
    ag_pool_status st;
    ag_pool_get_status(pool, &st);
    return st;
}

#define CHECK_STATUS(pool, in, out, over) \
    do { \
        ag_pool_status st_ = status_of(pool); \
        CHECK_INT(st_.checked_in, in); \
        CHECK_INT(st_.checked_out, out); \
        CHECK_INT(st_.overflow, over); \
    } while (0)

static ag_slot *checkout(ag_pool *pool) {
    ag_error err;
    ag_slot *slot = ag_pool_checkout(pool, &err);
    if (!slot) fprintf(stderr, "checkout failed: %s: %s\n", ag_error_kind_name(err.kind), err.message);
    return slot;
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---------------------------------------------------------------- SQL on a slot */

static int exec_on(ag_slot *slot, const char *sql) {
    ag_error err;
    int rc = slot->driver->exec_simple(slot->dconn, sql, &err);
    if (rc != 0) fprintf(stderr, "%s: %s\n", sql, err.message);
    return rc;
}

/* The integer in the first column of the first row of sql, or INT64_MIN with
 * *err filled (err may be NULL). */
static int64_t query_int(ag_slot *slot, const char *sql, ag_error *err_out) {
    ag_error local, *err = err_out ? err_out : &local;
    ag_error_clear(err);
    const ag_driver *d = slot->driver;
    ag_driver_stmt *stmt = NULL;
    int64_t result = INT64_MIN;
    if (d->prepare(slot->dconn, sql, strlen(sql), &stmt, err) != 0) return result;
    if (d->execute(stmt, NULL, 0, err) == 0 && d->fetch(stmt, err) == 1) {
        ag_value v;
        d->column_value(stmt, 0, &v);
        if (v.type == AG_VALUE_INTEGER) result = v.u.integer;
        d->reset(stmt);
    }
    d->finalize(stmt);
    return result;
}

/* ---------------------------------------------------------------- threads */

enum { THREADS = 8 };

typedef struct stress_shared {
    ag_pool *pool;
    int limit; /* size + overflow */
    int iterations;
    atomic_int held; /* slots the workers hold right now */
    atomic_int max_held;
    atomic_int double_handouts; /* a slot handed to two holders at once */
    atomic_int dirty_checkouts; /* a slot handed out inside a transaction */
    atomic_int failures;        /* checkouts or queries that failed */
    atomic_int checkouts;
    atomic_int invalidations; /* discards and disposes: each may replace every slot */
} stress_shared;

typedef struct stress_worker {
    stress_shared *shared;
    int id;
    unsigned seed;
} stress_worker;

static void *stress_run(void *p) {
    stress_worker *w = p;
    stress_shared *s = w->shared;
    for (int i = 0; i < s->iterations; i++) {
        ag_error err;
        ag_slot *slot = ag_pool_checkout(s->pool, &err);
        if (!slot) {
            fprintf(stderr, "worker %d: checkout failed: %s\n", w->id, err.message);
            atomic_fetch_add(&s->failures, 1);
            continue;
        }
        atomic_fetch_add(&s->checkouts, 1);
        int now = atomic_fetch_add(&s->held, 1) + 1;
        int max = atomic_load(&s->max_held);
        while (now > max && !atomic_compare_exchange_weak(&s->max_held, &max, now)) {
        }
        /* The slot is ours alone now, so its owner_data (the test's flag,
         * freed by the on_close hook) is ours to create; the flag catches a
         * slot handed to two holders at once. */
        if (!slot->owner_data) slot->owner_data = calloc(1, sizeof(atomic_int));
        atomic_int *in_use = slot->owner_data;
        if (in_use && atomic_exchange(in_use, 1) != 0) atomic_fetch_add(&s->double_handouts, 1);
        if (slot->driver->transaction_status(slot->dconn) != AG_TX_IDLE) atomic_fetch_add(&s->dirty_checkouts, 1);

        unsigned r = (unsigned)rand_r(&w->seed);
        if (r % 10 == 0 && slot->driver->exec_simple(slot->dconn, "BEGIN", &err) != 0)
            atomic_fetch_add(&s->failures, 1); /* left open: the checkin rolls it back */
        if (r % 8 == 1 && query_int(slot, "SELECT 1", NULL) != 1) atomic_fetch_add(&s->failures, 1);
        long hold_us = (long)(((unsigned)rand_r(&w->seed)) % 201u);
        if (hold_us > 0) {
            struct timespec ts = {0, hold_us * 1000L};
            nanosleep(&ts, NULL);
        }
        if (in_use) atomic_store(in_use, 0);
        atomic_fetch_sub(&s->held, 1);
        /* now and then a slot comes back broken, or the pool is disposed */
        int discard = r % 97 == 5;
        if (discard) atomic_fetch_add(&s->invalidations, 1);
        ag_pool_checkin(s->pool, slot, discard);
        if (w->id == 0 && i % 400 == 200) {
            atomic_fetch_add(&s->invalidations, 1);
            ag_pool_dispose(s->pool);
        }
    }
    return NULL;
}

/* n threads x iterations checkouts on a pool of 3 + 2 overflow. */
static void stress(target *t, int iterations) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 3, .overflow = 2, .timeout = 60, .recycle = -1});
    if (!pool) {
        CHECK(0);
        return;
    }
    stress_shared s = {.pool = pool, .limit = 5, .iterations = iterations};
    stress_worker workers[THREADS];
    pthread_t threads[THREADS];
    double t0 = ag_monotonic_seconds();
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (stress_worker){.shared = &s, .id = i, .seed = 0x5eed0000u + (unsigned)i * 7919u};
        CHECK_INT(pthread_create(&threads[i], NULL, stress_run, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    double elapsed = ag_monotonic_seconds() - t0;

    CHECK_INT(atomic_load(&s.failures), 0);
    CHECK_INT(atomic_load(&s.checkouts), THREADS * iterations);
    CHECK(atomic_load(&s.max_held) <= s.limit);
    CHECK(atomic_load(&s.max_held) >= 2); /* the threads really overlapped */
    CHECK_INT(atomic_load(&s.double_handouts), 0);
    CHECK_INT(atomic_load(&s.dirty_checkouts), 0);
    ag_pool_status st = status_of(pool);
    CHECK_INT(st.size, 3);
    CHECK_INT(st.checked_out, 0);
    CHECK(st.checked_in <= 3);
    CHECK_INT(st.overflow, 0);
    CHECK_INT(live(), st.checked_in);
    CHECK_INT(atomic_load(&hook_closes), atomic_load(&closes));
    /* Connections are reused: each invalidation replaces at most every slot,
     * and nothing else makes new ones (a pool closing its overflow at every
     * checkin would open one per checkout here). */
    CHECK(atomic_load(&opens) <= s.limit * (1 + atomic_load(&s.invalidations)));
    printf("stress %s: %d threads x %d checkouts in %.2f s, max held %d, %d connections opened, "
           "%d invalidations\n",
           t->name, THREADS, iterations, elapsed, atomic_load(&s.max_held), atomic_load(&opens),
           atomic_load(&s.invalidations));
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

/* A checkout that waits in another thread. */
typedef struct waiter {
    ag_pool *pool;
    ag_slot *slot;
    double waited;
    ag_error err;
} waiter;

static void *wait_run(void *p) {
    waiter *w = p;
    double t0 = ag_monotonic_seconds();
    w->slot = ag_pool_checkout(w->pool, &w->err);
    w->waited = ag_monotonic_seconds() - t0;
    return NULL;
}

/* ---------------------------------------------------------------- cases */

/* try_checkout: a free or new slot as checkout gives it; at the limit, a
 * busy error at once (whatever the timeout), and the pool as it was. */
static void test_try_checkout(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 1, .overflow = 1, .timeout = 60, .recycle = -1});
    ag_error err;
    ag_slot *a = ag_pool_try_checkout(pool, &err);
    CHECK(a != NULL);
    ag_slot *b = ag_pool_try_checkout(pool, &err); /* the overflow */
    CHECK(b != NULL);
    CHECK_STATUS(pool, 0, 2, 1);
    CHECK(ag_pool_try_checkout(pool, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_TIMEOUT);
    CHECK(strstr(err.message, "busy") != NULL);
    CHECK_STATUS(pool, 0, 2, 1);
    ag_pool_checkin(pool, b, 0);
    ag_slot *c = ag_pool_try_checkout(pool, &err); /* the one given back */
    CHECK(c == b);
    ag_pool_checkin(pool, c, 0);
    ag_pool_checkin(pool, a, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_timeout(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 1, .overflow = 0, .timeout = 0.2, .recycle = -1});
    ag_slot *a = checkout(pool);
    CHECK(a != NULL);
    ag_error err;
    double t0 = ag_monotonic_seconds();
    ag_slot *b = ag_pool_checkout(pool, &err);
    double waited = ag_monotonic_seconds() - t0;
    CHECK(b == NULL);
    CHECK_INT(err.kind, AG_ERR_TIMEOUT);
    CHECK(waited >= 0.2);
    CHECK(waited < 1.0);
    CHECK(strstr(err.message, "size 1") != NULL);
    CHECK(strstr(err.message, "overflow 0") != NULL);
    CHECK(strstr(err.message, "timeout 0.20") != NULL);
    CHECK_STATUS(pool, 0, 1, 0);
    CHECK_INT(live(), 1);
    ag_pool_checkin(pool, a, 0);
    CHECK_STATUS(pool, 1, 0, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);

    /* timeout 0: fails at once */
    pool = make_pool(t, (pool_opts){.size = 1, .overflow = 0, .timeout = 0, .recycle = -1});
    a = checkout(pool);
    t0 = ag_monotonic_seconds();
    CHECK(ag_pool_checkout(pool, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_TIMEOUT);
    CHECK(ag_monotonic_seconds() - t0 < 0.5);
    ag_pool_checkin(pool, a, 0);
    ag_pool_destroy(pool);
}

static void test_waiter_gets_returned_slot(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 1, .overflow = 0, .timeout = 10, .recycle = -1});
    ag_slot *a = checkout(pool);
    waiter w = {.pool = pool};
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, wait_run, &w), 0);
    sleep_seconds(0.05);
    ag_pool_checkin(pool, a, 0);
    pthread_join(th, NULL);
    CHECK(w.slot == a); /* the same connection, handed over */
    CHECK(w.waited < 5.0);
    CHECK_INT(atomic_load(&opens), 1);
    ag_pool_checkin(pool, w.slot, 0);

    /* a waiter also wakes when an overflow place frees up, or on dispose */
    ag_pool_destroy(pool);
    pool = make_pool(t, (pool_opts){.size = 0, .overflow = 1, .timeout = 10, .recycle = -1});
    a = checkout(pool);
    w = (waiter){.pool = pool};
    CHECK_INT(pthread_create(&th, NULL, wait_run, &w), 0);
    sleep_seconds(0.05);
    ag_pool_checkin(pool, a, 0); /* closed (pool_size 0): its place is free */
    pthread_join(th, NULL);
    CHECK(w.slot != NULL);
    CHECK(w.waited < 5.0);
    CHECK_INT(atomic_load(&opens), 2);
    if (w.slot) ag_pool_checkin(pool, w.slot, 0);
    CHECK_STATUS(pool, 0, 0, 0);
    CHECK_INT(live(), 0);
    ag_pool_destroy(pool);
}

static void test_lifo_and_overflow(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 3, .overflow = 0, .timeout = 1, .recycle = -1});
    ag_slot *a = checkout(pool), *b = checkout(pool), *c = checkout(pool);
    CHECK(a && b && c && a != b && b != c && a != c);
    ag_pool_checkin(pool, a, 0);
    ag_pool_checkin(pool, c, 0);
    ag_pool_checkin(pool, b, 0);
    CHECK_STATUS(pool, 3, 0, 0);
    CHECK(checkout(pool) == b); /* the last returned comes out first */
    CHECK(checkout(pool) == c);
    CHECK(checkout(pool) == a);
    CHECK_INT(atomic_load(&opens), 3);
    ag_pool_checkin(pool, a, 0);
    ag_pool_checkin(pool, b, 0);
    ag_pool_checkin(pool, c, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);

    /* At most `size` slots wait idle: the surplus is closed as it comes back
     * (but not while fewer wait, or a busy pool would reconnect all the time). */
    pool = make_pool(t, (pool_opts){.size = 1, .overflow = 2, .timeout = 0.05, .recycle = -1});
    a = checkout(pool);
    b = checkout(pool);
    c = checkout(pool);
    CHECK_STATUS(pool, 0, 3, 2);
    ag_error err;
    CHECK(ag_pool_checkout(pool, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_TIMEOUT);
    ag_pool_checkin(pool, c, 0); /* nothing idle: kept */
    CHECK_STATUS(pool, 1, 2, 2);
    CHECK_INT(live(), 3);
    CHECK(checkout(pool) == c); /* and reused, no new connection */
    CHECK_INT(atomic_load(&opens), 3);
    ag_pool_checkin(pool, c, 0);
    ag_pool_checkin(pool, b, 0); /* one idle already: closed */
    CHECK_STATUS(pool, 1, 1, 1);
    CHECK_INT(live(), 2);
    ag_pool_checkin(pool, a, 0);
    CHECK_STATUS(pool, 1, 0, 0);
    CHECK_INT(live(), 1);
    CHECK(checkout(pool) == c);
    ag_pool_checkin(pool, c, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);

    /* max_overflow -1: no limit */
    pool = make_pool(t, (pool_opts){.size = 1, .overflow = -1, .timeout = 0, .recycle = -1});
    ag_slot *many[10];
    for (int i = 0; i < 10; i++) many[i] = checkout(pool);
    CHECK_STATUS(pool, 0, 10, 9);
    for (int i = 0; i < 10; i++)
        if (many[i]) ag_pool_checkin(pool, many[i], 0);
    CHECK_STATUS(pool, 1, 0, 0);
    CHECK_INT(live(), 1);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_failed_connect_gives_place_back(void) {
    target bad;
    if (target_init(&bad, "sqlite-bad", "sqlite:////nonexistent-argent-dir/x/y.db") != 0) {
        CHECK(0);
        return;
    }
    ag_pool *pool = make_pool(&bad, (pool_opts){.size = 1, .overflow = 0, .timeout = 0.1, .recycle = -1});
    for (int i = 0; i < 3; i++) {
        ag_error err;
        CHECK(ag_pool_checkout(pool, &err) == NULL);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL); /* the connect error, not a timeout */
        CHECK_STATUS(pool, 0, 0, 0);
    }
    CHECK_INT(atomic_load(&opens), 0);
    ag_pool_destroy(pool);
    target_free(&bad);
}

static void test_recycle(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 2, .overflow = 0, .timeout = 1, .recycle = 0.05});
    ag_slot *a = checkout(pool);
    ag_pool_checkin(pool, a, 0);
    a = checkout(pool); /* young: reused */
    CHECK_INT(atomic_load(&opens), 1);
    ag_pool_checkin(pool, a, 0);
    sleep_seconds(0.1);
    ag_slot *b = checkout(pool);
    CHECK(b != NULL);
    CHECK_INT(atomic_load(&opens), 2); /* a new driver connection */
    CHECK_INT(atomic_load(&closes), 1);
    CHECK(b && query_int(b, "SELECT 1", NULL) == 1);
    CHECK_STATUS(pool, 0, 1, 0);
    ag_pool_checkin(pool, b, 0);
    CHECK_STATUS(pool, 1, 0, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_reset_on_return(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 1, .overflow = 0, .timeout = 1, .recycle = -1});
    ag_slot *a = checkout(pool);
    CHECK_INT(exec_on(a, "DROP TABLE IF EXISTS t_pool_reset"), 0);
    CHECK_INT(exec_on(a, "CREATE TABLE t_pool_reset (id INTEGER)"), 0);
    CHECK_INT(exec_on(a, "BEGIN"), 0);
    CHECK_INT(exec_on(a, "INSERT INTO t_pool_reset (id) VALUES (1)"), 0);
    a->tx_depth = 1; /* as the engine would have it */
    CHECK_INT(a->driver->transaction_status(a->dconn), AG_TX_ACTIVE);
    ag_pool_checkin(pool, a, 0);
    ag_slot *b = checkout(pool);
    CHECK(b == a); /* kept, not discarded */
    CHECK_INT(b->driver->transaction_status(b->dconn), AG_TX_IDLE);
    CHECK_INT(b->tx_depth, 0);
    CHECK_INT(query_int(b, "SELECT count(*) FROM t_pool_reset", NULL), 0);
    CHECK_INT(exec_on(b, "DROP TABLE t_pool_reset"), 0);
    ag_pool_checkin(pool, b, 0);
    CHECK_INT(atomic_load(&opens), 1);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_discard(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 3, .overflow = 0, .timeout = 1, .recycle = -1});
    ag_slot *a = checkout(pool), *b = checkout(pool);
    ag_pool_checkin(pool, a, 0);
    CHECK_STATUS(pool, 1, 1, 0);
    ag_pool_checkin(pool, b, 1); /* broken: closed, not pooled */
    CHECK_INT(atomic_load(&closes), 1);
    CHECK_STATUS(pool, 1, 0, 0);
    CHECK_INT(live(), 1);
    /* A lost connection invalidates the slots made before it: the idle one is
     * replaced at its next checkout instead of being handed out. */
    ag_slot *c = checkout(pool);
    CHECK(c != NULL);
    CHECK_INT(atomic_load(&opens), 3);
    CHECK_INT(atomic_load(&closes), 2);
    CHECK(c && query_int(c, "SELECT 1", NULL) == 1);
    ag_pool_checkin(pool, c, 0);
    CHECK_STATUS(pool, 1, 0, 0);
    c = checkout(pool); /* new generation: kept and reused */
    CHECK_INT(atomic_load(&opens), 3);
    ag_pool_checkin(pool, c, 0);
    CHECK_INT(live(), 1);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_dispose(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 3, .overflow = 0, .timeout = 1, .recycle = -1});
    ag_slot *a = checkout(pool), *b = checkout(pool), *c = checkout(pool);
    ag_pool_checkin(pool, a, 0);
    ag_pool_checkin(pool, b, 0);
    CHECK_STATUS(pool, 2, 1, 0);
    ag_pool_dispose(pool);
    CHECK_INT(atomic_load(&closes), 2); /* the idle ones, at once */
    CHECK_STATUS(pool, 0, 1, 0);
    CHECK(query_int(c, "SELECT 1", NULL) == 1); /* the holder is not disturbed */
    ag_pool_checkin(pool, c, 0);
    CHECK_INT(atomic_load(&closes), 3); /* closed when it came back */
    CHECK_STATUS(pool, 0, 0, 0);
    CHECK_INT(live(), 0);
    ag_slot *d = checkout(pool); /* the pool still works */
    CHECK(d && query_int(d, "SELECT 1", NULL) == 1);
    ag_pool_checkin(pool, d, 0);
    CHECK_STATUS(pool, 1, 0, 0);
    CHECK_INT(atomic_load(&hook_closes), 3);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
    CHECK_INT(atomic_load(&hook_closes), 4);
}

static int64_t table_exists(ag_slot *s, const char *name) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
    return query_int(s, sql, NULL);
}

typedef struct singleton_run {
    ag_pool *pool;
    int iterations;
    int id;
    atomic_int *failures;
} singleton_run;

static void *singleton_worker(void *p) {
    singleton_run *r = p;
    for (int i = 0; i < r->iterations; i++) {
        ag_error err;
        ag_slot *a = ag_pool_checkout(r->pool, &err);
        if (!a) {
            atomic_fetch_add(r->failures, 1);
            continue;
        }
        ag_slot *b = ag_pool_checkout(r->pool, &err); /* nested, same thread: no deadlock */
        if (b != a) atomic_fetch_add(r->failures, 1);
        if (b) ag_pool_checkin(r->pool, b, 0);
        ag_pool_checkin(r->pool, a, 0);
        if (r->id == 0 && i % 100 == 50) ag_pool_dispose(r->pool);
    }
    return NULL;
}

static void test_singleton(void) {
    target mem;
    if (target_init(&mem, "sqlite-memory", "sqlite:///:memory:") != 0) {
        CHECK(0);
        return;
    }
    ag_pool *pool =
        make_pool(&mem, (pool_opts){.size = 5, .overflow = 10, .timeout = 1, .recycle = -1, .singleton = 1});
    ag_slot *a = checkout(pool), *b = checkout(pool);
    CHECK(a != NULL && a == b); /* one shared connection */
    CHECK_INT(atomic_load(&opens), 1);
    CHECK_STATUS(pool, 0, 2, 0);
    CHECK_INT(exec_on(a, "CREATE TABLE t_kept (id INTEGER)"), 0);
    CHECK_INT(exec_on(a, "BEGIN"), 0);
    CHECK_INT(exec_on(a, "CREATE TABLE t_in_tx (id INTEGER)"), 0);
    a->tx_depth = 1;
    ag_pool_checkin(pool, b, 0); /* the other holder lets go: a's transaction stays */
    CHECK_INT(a->driver->transaction_status(a->dconn), AG_TX_ACTIVE);
    CHECK_INT(a->tx_depth, 1);
    CHECK_INT(table_exists(a, "t_in_tx"), 1);
    CHECK_STATUS(pool, 0, 1, 0);
    ag_pool_checkin(pool, a, 0); /* the last holder: rolled back */
    CHECK_STATUS(pool, 1, 0, 0);
    ag_slot *c = checkout(pool);
    CHECK(c == a);
    CHECK_INT(c->driver->transaction_status(c->dconn), AG_TX_IDLE);
    CHECK_INT(table_exists(c, "t_in_tx"), 0);
    CHECK_INT(table_exists(c, "t_kept"), 1); /* the database lives on between checkouts */
    CHECK_INT(atomic_load(&opens), 1);
    ag_pool_dispose(pool); /* held: closed when it comes back */
    CHECK_INT(atomic_load(&closes), 0);
    ag_pool_checkin(pool, c, 0);
    CHECK_INT(atomic_load(&closes), 1);
    CHECK_STATUS(pool, 0, 0, 0);
    c = checkout(pool);
    CHECK(c != NULL);
    CHECK_INT(atomic_load(&opens), 2);
    ag_pool_checkin(pool, c, 0);
    ag_pool_dispose(pool); /* idle: closed at once */
    CHECK_INT(live(), 0);
    CHECK_STATUS(pool, 0, 0, 0);
    c = checkout(pool);
    ag_pool_checkin(pool, c, 1); /* discarded by its last holder: closed */
    CHECK_INT(live(), 0);

    /* Several threads (not how a :memory: engine is meant to be used, but the
     * pool must stay sound): nested checkouts, resets and disposes race. */
    atomic_int failures = 0;
    singleton_run runs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        runs[i] = (singleton_run){.pool = pool, .iterations = 500, .id = i, .failures = &failures};
        pthread_create(&th[i], NULL, singleton_worker, &runs[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&failures), 0);
    ag_pool_status st = status_of(pool);
    CHECK_INT(st.checked_out, 0);
    CHECK(st.checked_in <= 1);
    CHECK_INT(live(), st.checked_in);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
    target_free(&mem);
}

/* ---------------------------------------------------------------- PostgreSQL */

/* Terminates the backends of pids[] from a connection of its own (outside any
 * pool) and waits until the server has let them go. */
static void kill_backends(target *t, const int64_t *pids, int n) {
    ag_error err;
    ag_driver_conn *killer = NULL;
    if (t->real->connect(&t->params, &killer, &err) != 0) {
        fprintf(stderr, "killer connect: %s\n", err.message);
        CHECK(0);
        return;
    }
    ag_slot k = {.driver = t->real, .dconn = killer};
    for (int i = 0; i < n; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)::int", (long long)pids[i]);
        CHECK_INT(query_int(&k, sql, NULL), 1);
    }
    for (int i = 0; i < n; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", (long long)pids[i]);
        double until = ag_monotonic_seconds() + 10;
        while (query_int(&k, sql, NULL) != 0 && ag_monotonic_seconds() < until) sleep_seconds(0.01);
    }
    t->real->close(killer);
}

static void test_pg_pre_ping(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 2, .overflow = 0, .timeout = 5, .recycle = -1, .pre_ping = 1});
    ag_slot *a = checkout(pool), *b = checkout(pool);
    if (!a || !b) {
        CHECK(0);
        ag_pool_destroy(pool);
        return;
    }
    int64_t pids[2] = {query_int(a, "SELECT pg_backend_pid()", NULL), query_int(b, "SELECT pg_backend_pid()", NULL)};
    ag_pool_checkin(pool, b, 0);
    ag_pool_checkin(pool, a, 0);
    kill_backends(t, pids, 2);
    atomic_store(&pings, 0);

    ag_slot *c = checkout(pool); /* a, pinged, found dead, replaced */
    CHECK(c != NULL);
    CHECK_INT(atomic_load(&pings), 1);
    CHECK_INT(atomic_load(&opens), 3);
    int64_t pid = c ? query_int(c, "SELECT pg_backend_pid()", NULL) : 0;
    CHECK(pid > 0 && pid != pids[0] && pid != pids[1]);
    /* b died with a: the failed ping invalidated it, so it is replaced without a ping */
    ag_slot *d = checkout(pool);
    CHECK(d != NULL);
    CHECK_INT(atomic_load(&pings), 1);
    CHECK_INT(atomic_load(&opens), 4);
    CHECK(d && query_int(d, "SELECT 1", NULL) == 1);
    if (c) ag_pool_checkin(pool, c, 0);
    if (d) ag_pool_checkin(pool, d, 0);
    CHECK_STATUS(pool, 2, 0, 0);
    CHECK_INT(live(), 2);
    ag_slot *e = checkout(pool); /* alive: pinged and kept */
    CHECK_INT(atomic_load(&pings), 2);
    CHECK_INT(atomic_load(&opens), 4);
    ag_pool_checkin(pool, e, 0);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);
}

static void test_pg_dead_without_pre_ping(target *t) {
    ag_pool *pool = make_pool(t, (pool_opts){.size = 2, .overflow = 0, .timeout = 5, .recycle = -1});
    ag_slot *a = checkout(pool), *b = checkout(pool);
    if (!a || !b) {
        CHECK(0);
        ag_pool_destroy(pool);
        return;
    }
    int64_t pids[2] = {query_int(a, "SELECT pg_backend_pid()", NULL), query_int(b, "SELECT pg_backend_pid()", NULL)};
    ag_pool_checkin(pool, b, 0);
    ag_pool_checkin(pool, a, 0);
    kill_backends(t, pids, 2);

    ag_slot *c = checkout(pool); /* handed out unchecked: the first use fails */
    CHECK(c == a);
    ag_error err;
    CHECK(query_int(c, "SELECT 1", &err) == INT64_MIN);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK(err.disconnect);
    ag_pool_checkin(pool, c, 1); /* the holder saw the disconnect */
    CHECK_STATUS(pool, 1, 0, 0);
    ag_slot *d = checkout(pool); /* b was invalidated with it: replaced */
    CHECK(d != NULL);
    CHECK_INT(atomic_load(&opens), 3);
    CHECK(d && query_int(d, "SELECT 1", NULL) == 1);
    if (d) ag_pool_checkin(pool, d, 0);
    /* a dead connection returned without discard is caught by the reset... */
    CHECK_INT(live(), 1);
    ag_pool_destroy(pool);
    CHECK_INT(live(), 0);

    /* ...when it is in a transaction: the ROLLBACK fails, the slot is dropped */
    pool = make_pool(t, (pool_opts){.size = 1, .overflow = 0, .timeout = 5, .recycle = -1});
    a = checkout(pool);
    CHECK_INT(exec_on(a, "BEGIN"), 0);
    pids[0] = query_int(a, "SELECT pg_backend_pid()", NULL);
    kill_backends(t, pids, 1);
    ag_pool_checkin(pool, a, 0);
    CHECK_STATUS(pool, 0, 0, 0);
    CHECK_INT(live(), 0);
    ag_pool_destroy(pool);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    char dir[] = "/tmp/argent-test-pool-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256], url[300];
    snprintf(path, sizeof path, "%s/pool.db", dir);
    snprintf(url, sizeof url, "sqlite:///%s", path);

    target file;
    if (target_init(&file, "sqlite-file", url) != 0) {
        fprintf(stderr, "no SQLite driver in this build\n");
        return 77;
    }
    test_timeout(&file);
    test_try_checkout(&file);
    test_waiter_gets_returned_slot(&file);
    test_lifo_and_overflow(&file);
    test_failed_connect_gives_place_back();
    test_recycle(&file);
    test_reset_on_return(&file);
    test_discard(&file);
    test_dispose(&file);
    test_singleton();
    stress(&file, 2000);
    target_free(&file);

    const char *pg_url = getenv("ARGENT_TEST_PG_URL");
    target pg;
    if (!pg_url || !*pg_url) {
        printf("skipped: PostgreSQL cases (pre-ping, dead connections, threads), ARGENT_TEST_PG_URL is not set\n");
    } else if (target_init(&pg, "postgresql", pg_url) != 0) {
        printf("skipped: PostgreSQL cases, this build has no PostgreSQL driver\n");
    } else {
        test_timeout(&pg);
        test_lifo_and_overflow(&pg);
        test_reset_on_return(&pg);
        test_dispose(&pg);
        test_pg_pre_ping(&pg);
        test_pg_dead_without_pre_ping(&pg);
        stress(&pg, 250);
        target_free(&pg);
    }

    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char f[300];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    CHECK_DONE();
}
