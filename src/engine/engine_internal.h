/* engine_internal.h -- the structs behind engine.h, shared by engine.c and connection.c. */
#ifndef ARGENT_ENGINE_ENGINE_INTERNAL_H
#define ARGENT_ENGINE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"

/* One read replica: its URL, what its connections get, its pool. */
typedef struct ag_replica {
    ag_url *url;
    ag_url_param *args; /* connect_args, then this URL's query (copies) */
    size_t nargs;
    ag_connect_params params;
    ag_pool *pool;
    _Atomic double skip_until; /* monotonic seconds: a failed checkout skips it until then */
} ag_replica;

struct ag_engine {
    atomic_int refs;
    ag_url *url;
    ag_dialect dialect;
    const ag_driver *driver;
    ag_url_param *args; /* connect_args, then the URL's query (copies) */
    size_t nargs;
    char *isolation_level; /* passed to the driver; NULL for the default or AUTOCOMMIT */
    int autocommit;        /* isolation_level AUTOCOMMIT: begin/commit send nothing */
    char *begin_sql;       /* "BEGIN", or "BEGIN ISOLATION LEVEL ..." when the driver cannot set it
                                 for the session (prepare = false) */
    int statement_cache_size;
    ag_connect_params params; /* points into the fields above */
    ag_pool *pool;
    ag_replica *replicas;
    size_t nreplicas;
    atomic_uint next_replica;       /* round robin */
    atomic_uint schema_generation;  /* bumped by every DDL statement run: cached statements older than it are
                                      prepared again (a PostgreSQL statement keeps its parameter types) */
    pthread_mutex_t checkouts_lock; /* guards `checkouts` and keeps their slots open during a cancel */
    ag_conn *checkouts;             /* the connections checked out now (cancel.c) */
};

struct ag_conn {
    ag_engine *engine;
    ag_slot *slot;
    ag_pool *pool;                          /* the pool the slot came from (the primary's or a replica's) */
    int invalid;                            /* a disconnect error was seen: discard the slot */
    ag_stmt *open;                          /* statements this connection is using */
    ag_conn *checkout_prev, *checkout_next; /* on engine->checkouts (engine->checkouts_lock) */
    atomic_int busy; /* inside a driver call that runs SQL (read by a cancel from another thread) */
};

/* Brackets a driver call that runs SQL, so that a cancel knows what runs. */
static inline void ag_conn_set_busy(ag_conn *conn, int busy) {
    atomic_store_explicit(&conn->busy, busy, memory_order_relaxed);
}

/* Puts conn on / takes it off its engine's list of checkouts (cancel.c). */
void ag_engine_track_checkout(ag_conn *conn);
void ag_engine_untrack_checkout(ag_conn *conn);

/* Pool hook: finalizes the slot's cached statements before it closes. */
void ag_engine_slot_closed(ag_slot *slot, void *engine);

#endif
