/*
 * pool.h -- the thread-safe connection pool (SQLAlchemy's QueuePool, in C).
 *
 * A slot is a long-lived database connection; a checkout hands one slot to one
 * holder (the engine wraps it in an ag_conn).  Idle slots are reused LIFO.
 * At most size + max_overflow slots are open at once, and at most size wait
 * idle: a slot that comes back when size slots are idle already is closed.
 * A checkout that finds none free waits up to `timeout` seconds and then
 * fails with AG_ERR_TIMEOUT.  At checkout a slot older than
 * `recycle` seconds is replaced, and with `pre_ping` a dead one is replaced,
 * without the caller seeing an error.  At checkin an open transaction is
 * rolled back; a slot that cannot be reset is discarded.  A lost connection
 * (a discard at checkin, a failed pre-ping) invalidates the whole pool as
 * SQLAlchemy does: every slot connected before it is replaced at its next
 * checkout or closed when it comes back, since a server that dropped one
 * connection has usually dropped them all.
 *
 * SQLite :memory: databases use singleton mode: one slot shared by every
 * checkout (each in-memory connection is its own database), with no limit,
 * timeout, recycle or pre-ping.  It is rolled back when its last holder
 * returns it (never under another holder's transaction).
 *
 * Locking: `mutex` guards the idle list and the counters, nothing else.
 * Connecting, pinging, rolling back and closing happen outside the lock, and
 * nothing here raises: errors come back as ag_error.
 */
#ifndef ARGENT_POOL_POOL_H
#define ARGENT_POOL_POOL_H

#include <stdint.h>

#include "driver/driver.h"

#define AG_MAX_TX_DEPTH 64

typedef struct ag_slot ag_slot;

/* Callbacks from the layer above, so that the pool stays generic: on_close
 * runs before a slot's connection is closed (the engine finalizes its
 * statements there).  May be NULL. */
typedef void (*ag_slot_hook)(ag_slot *slot, void *ctx);

struct ag_slot {
    const ag_driver *driver;
    ag_driver_conn *dconn;
    double created_at;   /* monotonic seconds when connected */
    unsigned generation; /* pool generation when connected (dispose bumps it) */
    void *owner_data;    /* the engine's per-connection state (statement cache) */
    int tx_depth;        /* 0 none, 1 transaction, 2.. savepoints */
    uint64_t tx_ids[AG_MAX_TX_DEPTH + 1];
    uint64_t next_tx_id;
    int users; /* checkouts sharing this slot (singleton mode) */
    ag_slot *next_idle;
};

typedef struct ag_pool_config {
    int size;         /* pool_size, >= 0 */
    int max_overflow; /* >= 0, or -1 for no limit */
    double timeout;   /* seconds to wait for a free slot */
    double recycle;   /* seconds; < 0 never */
    int pre_ping;
    int singleton; /* one shared slot (SQLite :memory:) */
    ag_slot_hook on_close;
    void *hook_ctx;
} ag_pool_config;

typedef struct ag_pool_status {
    int size;
    int checked_in;
    int checked_out;
    int overflow;
} ag_pool_status;

typedef struct ag_pool ag_pool;

/* params must outlive the pool.  NULL with err when memory runs out. */
ag_pool *ag_pool_create(const ag_driver *driver, const ag_connect_params *params, const ag_pool_config *config,
                        ag_error *err);

/* Closes idle slots and frees the pool.  Every slot must have been checked in. */
void ag_pool_destroy(ag_pool *pool);

/* A slot for the caller alone (or shared, in singleton mode); NULL with err. */
ag_slot *ag_pool_checkout(ag_pool *pool, ag_error *err);

/* The same without waiting: at the limit, NULL with an AG_ERR_TIMEOUT error
 * at once (a singleton pool's checkout is ag_pool_checkout's). */
ag_slot *ag_pool_try_checkout(ag_pool *pool, ag_error *err);

/* Gives a slot back.  discard: close it instead of keeping it (it failed
 * with a disconnect error), and invalidate the slots connected before it.
 * Otherwise rolls back any open transaction (discarding the slot if that
 * fails) and keeps it, unless `size` slots are idle already or it is stale. */
void ag_pool_checkin(ag_pool *pool, ag_slot *slot, int discard);

/* Closes every idle slot; checked-out slots are closed when they come back. */
void ag_pool_dispose(ag_pool *pool);

void ag_pool_get_status(ag_pool *pool, ag_pool_status *out);

/* Monotonic clock in seconds. */
double ag_monotonic_seconds(void);

#endif
