/*
 * engine.c -- engines: a parsed URL, options, the driver and the pool, shared
 * by reference count across threads (see engine.h).
 */
#include "base/alloc.h"
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ag_engine_options_init(ag_engine_options *options) {
    memset(options, 0, sizeof *options);
    options->pool_size = 5;
    options->max_overflow = 10;
    options->pool_timeout = 30.0;
    options->pool_recycle = -1.0;
    options->statement_cache_size = 128;
    options->prepare = 1;
}

static const char *const isolation_levels[] = {
    "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "READ UNCOMMITTED", "AUTOCOMMIT", NULL,
};

static int check_options(const ag_engine_options *o, ag_error *err) {
    if (o->pool_size < 0)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "pool_size must be >= 0, got %d", o->pool_size);
    if (o->max_overflow < -1)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "max_overflow must be >= 0 (or -1 for no limit), got %d",
                            o->max_overflow);
    if (o->pool_size == 0 && o->max_overflow == 0)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                            "pool_size and max_overflow are both 0: no connection could ever be made");
    if (!(o->pool_timeout >= 0))
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "pool_timeout must be a number of seconds >= 0");
    if (o->statement_cache_size < 0)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement_cache_size must be >= 0, got %d",
                            o->statement_cache_size);
    if (o->isolation_level) {
        int known = 0;
        for (int i = 0; isolation_levels[i]; i++)
            if (strcmp(o->isolation_level, isolation_levels[i]) == 0) known = 1;
        if (!known)
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "isolation_level '%s' is not one of READ COMMITTED, REPEATABLE READ, "
                                "SERIALIZABLE, READ UNCOMMITTED, AUTOCOMMIT",
                                o->isolation_level);
    }
    return 0;
}

static char *copy_string(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = ag_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static void free_args(ag_url_param *args, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(args[i].key);
        free(args[i].value);
    }
    free(args);
}

/* connect_args first, then the URL's query keys (driver.h).  0, or -1 out of memory. */
static int copy_args(const ag_engine_options *options, const ag_url *url, ag_url_param **out, size_t *count) {
    size_t total = options->nconnect_args + url->nquery;
    *out = NULL;
    *count = 0;
    if (!total) return 0;
    if (!(*out = ag_calloc(total, sizeof **out))) return -1;
    for (size_t i = 0; i < total; i++) {
        const ag_url_param *src =
            i < options->nconnect_args ? &options->connect_args[i] : &url->query[i - options->nconnect_args];
        (*out)[i].key = copy_string(src->key);
        (*out)[i].value = copy_string(src->value);
        *count = i + 1;
        if (!(*out)[i].key || !(*out)[i].value) return -1;
    }
    return 0;
}

static void free_engine(ag_engine *e) {
    for (size_t i = 0; i < e->nreplicas; i++) {
        ag_replica *r = &e->replicas[i];
        if (r->pool) ag_pool_destroy(r->pool);
        free_args(r->args, r->nargs);
        ag_url_free(r->url);
    }
    free(e->replicas);
    if (e->pool) ag_pool_destroy(e->pool);
    pthread_mutex_destroy(&e->checkouts_lock);
    free_args(e->args, e->nargs);
    free(e->isolation_level);
    free(e->begin_sql);
    ag_url_free(e->url);
    free(e);
}

/* One pool per replica URL, with the primary's options, always pre-pinging
 * (a replica that went away is then skipped, not handed out). */
static int add_replicas(ag_engine *e, const ag_engine_options *options, const ag_pool_config *primary, ag_error *err) {
    if (!options->nreplicas) return 0;
    if (!options->replicas)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "create_engine: nreplicas is %zu but replicas is NULL",
                            options->nreplicas);
    if (!(e->replicas = ag_calloc(options->nreplicas, sizeof *e->replicas))) return ag_error_nomem(err);
    for (size_t i = 0; i < options->nreplicas; i++) {
        ag_replica *r = &e->replicas[i];
        atomic_init(&r->skip_until, 0.0);
        e->nreplicas = i + 1;
        const char *text = options->replicas[i];
        if (!text) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "create_engine: replicas[%zu] is NULL", i + 1);
        if (ag_url_parse(text, strlen(text), &r->url, err) != 0) return -1;
        if (r->url->dialect != e->dialect)
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "create_engine: replicas[%zu] is a %s URL, the engine's is %s", i + 1,
                                ag_dialect_name(r->url->dialect), ag_dialect_name(e->dialect));
        if (copy_args(options, r->url, &r->args, &r->nargs) != 0) return ag_error_nomem(err);
        r->params = e->params;
        r->params.url = r->url;
        r->params.args = r->args;
        r->params.nargs = r->nargs;
        ag_pool_config config = *primary;
        config.pre_ping = 1;
        config.singleton = ag_url_is_sqlite_memory(r->url);
        if (!(r->pool = ag_pool_create(e->driver, &r->params, &config, err))) return -1;
    }
    return 0;
}

ag_engine *ag_engine_create(const char *url, size_t url_len, const ag_engine_options *options, ag_error *err) {
    ag_engine_options defaults;
    if (!options) {
        ag_engine_options_init(&defaults);
        options = &defaults;
    }
    if (check_options(options, err) != 0) return NULL;
    ag_engine *e = ag_calloc(1, sizeof *e);
    if (!e) {
        ag_error_nomem(err);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    pthread_mutex_init(&e->checkouts_lock, NULL);
    if (ag_url_parse(url, url_len, &e->url, err) != 0) {
        pthread_mutex_destroy(&e->checkouts_lock);
        free(e);
        return NULL;
    }
    e->dialect = e->url->dialect;
    e->driver = ag_driver_for(e->dialect);
    if (!e->driver) {
        ag_error_set(err, AG_ERR_INTERFACE, NULL, "this build of argent has no driver for %s",
                     ag_dialect_name(e->dialect));
        free_engine(e);
        return NULL;
    }
    if (!options->prepare && e->dialect != AG_DIALECT_POSTGRESQL) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                     "create_engine: option 'prepare' = false is for PostgreSQL (behind a transaction-mode "
                     "pooler), not %s",
                     ag_dialect_name(e->dialect));
        free_engine(e);
        return NULL;
    }
    if (copy_args(options, e->url, &e->args, &e->nargs) != 0) goto nomem;
    if (options->isolation_level) {
        if (strcmp(options->isolation_level, "AUTOCOMMIT") == 0) {
            e->autocommit = 1;
        } else if (!(e->isolation_level = copy_string(options->isolation_level))) {
            goto nomem;
        }
    }
    e->statement_cache_size = options->statement_cache_size;
    /* Behind a transaction-mode pooler no setting outlives a transaction:
     * the isolation level goes with each BEGIN. */
    if (!options->prepare && e->isolation_level) {
        size_t n = strlen(e->isolation_level) + sizeof "BEGIN ISOLATION LEVEL ";
        if (!(e->begin_sql = ag_malloc(n))) goto nomem;
        snprintf(e->begin_sql, n, "BEGIN ISOLATION LEVEL %s", e->isolation_level);
    }
    e->params.url = e->url;
    e->params.args = e->args;
    e->params.nargs = e->nargs;
    e->params.isolation_level = e->isolation_level;
    e->params.no_prepare = !options->prepare;

    ag_pool_config config = {
        .size = options->pool_size,
        .max_overflow = options->max_overflow,
        .timeout = options->pool_timeout,
        .recycle = options->pool_recycle,
        .pre_ping = options->pool_pre_ping,
        .singleton = ag_url_is_sqlite_memory(e->url),
        .on_close = ag_engine_slot_closed,
        .hook_ctx = e,
    };
    e->pool = ag_pool_create(e->driver, &e->params, &config, err);
    if (!e->pool || add_replicas(e, options, &config, err) != 0) {
        free_engine(e);
        return NULL;
    }
    return e;
nomem:
    free_engine(e);
    ag_error_nomem(err);
    return NULL;
}

void ag_engine_retain(ag_engine *engine) { atomic_fetch_add(&engine->refs, 1); }

void ag_engine_release(ag_engine *engine) {
    if (engine && atomic_fetch_sub(&engine->refs, 1) == 1) free_engine(engine);
}

const ag_url *ag_engine_url(const ag_engine *engine) { return engine->url; }

ag_dialect ag_engine_dialect(const ag_engine *engine) { return engine->dialect; }

void ag_engine_pool_status(ag_engine *engine, ag_pool_status *out) { ag_pool_get_status(engine->pool, out); }

size_t ag_engine_replica_count(const ag_engine *engine) { return engine->nreplicas; }

void ag_engine_replica_pool_status(ag_engine *engine, size_t index, ag_pool_status *out) {
    ag_pool_get_status(engine->replicas[index].pool, out);
}

const ag_url *ag_engine_replica_url(const ag_engine *engine, size_t index) { return engine->replicas[index].url; }

void ag_engine_dispose(ag_engine *engine) {
    ag_pool_dispose(engine->pool);
    for (size_t i = 0; i < engine->nreplicas; i++) ag_pool_dispose(engine->replicas[i].pool);
}

/* wait: as ag_pool_checkout; else ag_pool_try_checkout. */
static ag_conn *connect_from(ag_engine *engine, ag_pool *pool, const ag_url *url, int wait, ag_error *err) {
    ag_conn *conn = ag_calloc(1, sizeof *conn);
    if (!conn) {
        ag_error_nomem(err);
        return NULL;
    }
    conn->pool = pool;
    conn->slot = wait ? ag_pool_checkout(pool, err) : ag_pool_try_checkout(pool, err);
    if (!conn->slot) {
        ag_error_mask(err, url->password);
        free(conn);
        return NULL;
    }
    ag_engine_retain(engine);
    conn->engine = engine;
    ag_engine_track_checkout(conn);
    return conn;
}

ag_conn *ag_engine_connect(ag_engine *engine, ag_error *err) {
    return connect_from(engine, engine->pool, engine->url, 1, err);
}

/* Round robin over the replicas, without waiting: a replica whose
 * connections are all busy is passed over (and tried again next time), one
 * that fails is skipped for AG_REPLICA_RETRY_SECONDS.  With every answering
 * replica busy, the wait is for the first of them (up to pool_timeout, then
 * a TimeoutError, as any exhausted pool); with none answering, the primary. */
ag_conn *ag_engine_connect_readonly(ag_engine *engine, ag_error *err) {
    size_t n = engine->nreplicas;
    if (n) {
        unsigned start = atomic_fetch_add(&engine->next_replica, 1);
        ag_replica *busy = NULL;
        for (size_t i = 0; i < n; i++) {
            ag_replica *r = &engine->replicas[(start + i) % n];
            if (ag_monotonic_seconds() < atomic_load(&r->skip_until)) continue;
            ag_error replica_err;
            ag_conn *conn = connect_from(engine, r->pool, r->url, 0, &replica_err);
            if (conn) return conn;
            if (replica_err.kind == AG_ERR_MEMORY) {
                *err = replica_err;
                return NULL;
            }
            if (replica_err.kind == AG_ERR_TIMEOUT) {
                if (!busy) busy = r;
                continue;
            }
            atomic_store(&r->skip_until, ag_monotonic_seconds() + AG_REPLICA_RETRY_SECONDS);
        }
        if (busy) return connect_from(engine, busy->pool, busy->url, 1, err);
    }
    return ag_engine_connect(engine, err); /* the primary */
}
