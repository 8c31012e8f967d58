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
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "pool_size and max_overflow are both 0: no connection could ever be made");
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

static void free_engine(ag_engine *e) {
    if (e->pool) ag_pool_destroy(e->pool);
    pthread_mutex_destroy(&e->checkouts_lock);
    for (size_t i = 0; i < e->nargs; i++) {
        free(e->args[i].key);
        free(e->args[i].value);
    }
    free(e->args);
    free(e->isolation_level);
    free(e->begin_sql);
    ag_url_free(e->url);
    free(e);
}

ag_engine *ag_engine_create(const char *url, size_t url_len, const ag_engine_options *options,
                            ag_error *err) {
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
    /* connect_args first, then the URL's query keys (driver.h) */
    size_t total = options->nconnect_args + e->url->nquery;
    if (total) {
        e->args = ag_calloc(total, sizeof *e->args);
        if (!e->args) goto nomem;
    }
    for (size_t i = 0; i < total; i++) {
        const ag_url_param *src = i < options->nconnect_args ? &options->connect_args[i]
                                                            : &e->url->query[i - options->nconnect_args];
        e->args[i].key = copy_string(src->key);
        e->args[i].value = copy_string(src->value);
        e->nargs = i + 1;
        if (!e->args[i].key || !e->args[i].value) goto nomem;
    }
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
    if (!e->pool) {
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

void ag_engine_dispose(ag_engine *engine) { ag_pool_dispose(engine->pool); }

ag_conn *ag_engine_connect(ag_engine *engine, ag_error *err) {
    ag_conn *conn = ag_calloc(1, sizeof *conn);
    if (!conn) {
        ag_error_nomem(err);
        return NULL;
    }
    conn->slot = ag_pool_checkout(engine->pool, err);
    if (!conn->slot) {
        ag_error_mask(err, engine->url->password);
        free(conn);
        return NULL;
    }
    ag_engine_retain(engine);
    conn->engine = engine;
    ag_engine_track_checkout(conn);
    return conn;
}
