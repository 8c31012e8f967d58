/* engine_internal.h -- the structs behind engine.h, shared by engine.c and connection.c. */
#ifndef ARGENT_ENGINE_ENGINE_INTERNAL_H
#define ARGENT_ENGINE_ENGINE_INTERNAL_H

#include <stdatomic.h>

#include "engine/engine.h"

struct ag_engine {
    atomic_int refs;
    ag_url *url;
    ag_dialect dialect;
    const ag_driver *driver;
    ag_url_param *args;       /* connect_args, then the URL's query (copies) */
    size_t nargs;
    char *isolation_level;    /* passed to the driver; NULL for the default or AUTOCOMMIT */
    int autocommit;           /* isolation_level AUTOCOMMIT: begin/commit send nothing */
    int statement_cache_size;
    ag_connect_params params; /* points into the fields above */
    ag_pool *pool;
    atomic_uint schema_generation; /* bumped by every DDL statement run: cached statements older than it are
                                      prepared again (a PostgreSQL statement keeps its parameter types) */
};

struct ag_conn {
    ag_engine *engine;
    ag_slot *slot;
    int invalid;              /* a disconnect error was seen: discard the slot */
    ag_stmt *open;            /* statements this connection is using */
};

/* Pool hook: finalizes the slot's cached statements before it closes. */
void ag_engine_slot_closed(ag_slot *slot, void *engine);

#endif
