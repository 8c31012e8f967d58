/*
 * engine.c -- the public engine functions: options, create, the reference
 * count, dispose, pool status, and checking a connection out.  Thin: the
 * engine core (src/engine/engine.c) does the work; this file converts the
 * public types and checks the pointers a C caller may get wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "capi/capi.h"

void argent_engine_options_init(argent_engine_options *opts) {
    ag_engine_options core;
    ag_engine_options_init(&core);
    memset(opts, 0, sizeof *opts);
    opts->pool_size = core.pool_size;
    opts->max_overflow = core.max_overflow;
    opts->pool_timeout = core.pool_timeout;
    opts->pool_recycle = core.pool_recycle;
    opts->pool_pre_ping = core.pool_pre_ping;
    opts->isolation_level = core.isolation_level;
    opts->statement_cache_size = core.statement_cache_size;
    opts->prepare = core.prepare;
}

argent_engine *argent_engine_create(const char *url, const argent_engine_options *opts, argent_error *err) {
    if (!url) {
        url = getenv("DB_CONNECTION_STRING");
        if (!url || !*url) {
            ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "create_engine: no URL given and DB_CONNECTION_STRING is not set");
            return NULL;
        }
    }
    ag_engine_options core;
    ag_engine_options_init(&core);
    ag_url_param *args = NULL;
    if (opts) {
        core.pool_size = opts->pool_size;
        core.max_overflow = opts->max_overflow;
        core.pool_timeout = opts->pool_timeout;
        core.pool_recycle = opts->pool_recycle;
        core.pool_pre_ping = opts->pool_pre_ping;
        core.isolation_level = opts->isolation_level;
        core.statement_cache_size = opts->statement_cache_size;
        core.prepare = opts->prepare;
        core.replicas = opts->replicas;
        core.nreplicas = opts->nreplicas;
        if (opts->nconnect_args) {
            if (!opts->connect_args) {
                ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "create_engine: nconnect_args is %zu but connect_args is NULL",
                              opts->nconnect_args);
                return NULL;
            }
            /* The core copies the strings; this array only lends them. */
            args = ag_calloc(opts->nconnect_args, sizeof *args);
            if (!args) {
                ag_capi_failf(err, ARGENT_ERR_MEMORY, "not enough memory");
                return NULL;
            }
            for (size_t i = 0; i < opts->nconnect_args; i++) {
                const argent_connect_arg *a = &opts->connect_args[i];
                if (!a->key || !a->value) {
                    ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "create_engine: connect_args[%zu] has a NULL %s", i,
                                  a->key ? "value" : "key");
                    free(args);
                    return NULL;
                }
                args[i].key = (char *)a->key;
                args[i].value = (char *)a->value;
            }
            core.connect_args = args;
            core.nconnect_args = opts->nconnect_args;
        }
    }
    ag_error cerr;
    ag_engine *engine = ag_engine_create(url, strlen(url), &core, &cerr);
    free(args);
    if (!engine) {
        ag_capi_fail(err, &cerr);
        return NULL;
    }
    return ag_capi_public_engine(engine);
}

argent_engine *argent_engine_retain(argent_engine *engine) {
    if (engine) ag_engine_retain(ag_capi_engine(engine));
    return engine;
}

void argent_engine_release(argent_engine *engine) {
    if (engine) ag_engine_release(ag_capi_engine(engine));
}

void argent_engine_dispose(argent_engine *engine) {
    if (engine) ag_engine_dispose(ag_capi_engine(engine));
}

int argent_engine_pool_status(argent_engine *engine, argent_pool_status *out, argent_error *err) {
    if (!engine || !out)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_engine_pool_status: %s is NULL",
                             engine ? "out" : "engine");
    ag_pool_status st;
    ag_engine_pool_status(ag_capi_engine(engine), &st);
    out->size = st.size;
    out->checked_in = st.checked_in;
    out->checked_out = st.checked_out;
    out->overflow = st.overflow;
    return 0;
}

const char *argent_engine_dialect(const argent_engine *engine) {
    if (!engine) return NULL;
    return ag_dialect_name(ag_engine_dialect((const ag_engine *)(const void *)engine));
}

size_t argent_engine_replica_count(const argent_engine *engine) {
    return engine ? ag_engine_replica_count((const ag_engine *)(const void *)engine) : 0;
}

int argent_engine_replica_pool_status(argent_engine *engine, size_t index, argent_pool_status *out, argent_error *err) {
    if (!engine || !out)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_engine_replica_pool_status: %s is NULL",
                             engine ? "out" : "engine");
    ag_engine *core = ag_capi_engine(engine);
    if (index >= ag_engine_replica_count(core))
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT,
                             "argent_engine_replica_pool_status: index %zu is out of range (%zu replicas)", index,
                             ag_engine_replica_count(core));
    ag_pool_status st;
    ag_engine_replica_pool_status(core, index, &st);
    out->size = st.size;
    out->checked_in = st.checked_in;
    out->checked_out = st.checked_out;
    out->overflow = st.overflow;
    return 0;
}

static argent_connection *connect_with(argent_engine *engine, int readonly, argent_error *err) {
    if (!engine) {
        ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "%s: engine is NULL",
                      readonly ? "argent_connect_readonly" : "argent_connect");
        return NULL;
    }
    /* The handle exists before the checkout it will own. */
    argent_connection *conn = ag_calloc(1, sizeof *conn);
    if (!conn) {
        ag_capi_failf(err, ARGENT_ERR_MEMORY, "not enough memory");
        return NULL;
    }
    ag_error cerr;
    conn->conn = readonly ? ag_engine_connect_readonly(ag_capi_engine(engine), &cerr)
                          : ag_engine_connect(ag_capi_engine(engine), &cerr);
    if (!conn->conn) {
        free(conn);
        ag_capi_fail(err, &cerr);
        return NULL;
    }
    return conn;
}

argent_connection *argent_connect(argent_engine *engine, argent_error *err) { return connect_with(engine, 0, err); }

argent_connection *argent_connect_readonly(argent_engine *engine, argent_error *err) {
    return connect_with(engine, 1, err);
}
