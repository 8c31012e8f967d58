/*
 * pool.c -- the connection pool (see pool.h for the contract).
 *
 * Invariants, under `mutex`:
 *   open == idle_count + checked_out          (slots that exist)
 *   open <= size + max_overflow               (when max_overflow >= 0)
 * `open` counts a slot from the moment a checkout decides to connect it, so a
 * connection being made outside the lock already holds its place.
 */
#include "pool/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ag_pool {
    const ag_driver *driver;
    const ag_connect_params *params;
    ag_pool_config config;
    pthread_mutex_t mutex;
    pthread_cond_t available; /* signalled when a slot comes back or a place frees up */
    ag_slot *idle;            /* LIFO stack */
    int idle_count;
    int checked_out;
    int open;
    unsigned generation;
    ag_slot *shared;          /* singleton mode: the one slot */
};

double ag_monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ag_pool *ag_pool_create(const ag_driver *driver, const ag_connect_params *params,
                        const ag_pool_config *config, ag_error *err) {
    ag_pool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        ag_error_nomem(err);
        return NULL;
    }
    pool->driver = driver;
    pool->params = params;
    pool->config = *config;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&pool->mutex, NULL) != 0 || pthread_cond_init(&pool->available, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        free(pool);
        ag_error_set(err, AG_ERR_INTERFACE, NULL, "cannot create the pool's mutex");
        return NULL;
    }
    pthread_condattr_destroy(&attr);
    return pool;
}

/* Outside the lock. */
static void slot_close(ag_pool *pool, ag_slot *slot) {
    if (pool->config.on_close) pool->config.on_close(slot, pool->config.hook_ctx);
    if (slot->dconn) pool->driver->close(slot->dconn);
    free(slot);
}

/* Outside the lock.  A new slot, or NULL with err. */
static ag_slot *slot_open(ag_pool *pool, unsigned generation, ag_error *err) {
    ag_slot *slot = calloc(1, sizeof *slot);
    if (!slot) {
        ag_error_nomem(err);
        return NULL;
    }
    if (pool->driver->connect(pool->params, &slot->dconn, err) != 0) {
        free(slot);
        return NULL;
    }
    slot->driver = pool->driver;
    slot->created_at = ag_monotonic_seconds();
    slot->generation = generation;
    return slot;
}

/* Outside the lock: is this idle slot fit to hand out? */
static int slot_usable(ag_pool *pool, ag_slot *slot) {
    if (pool->config.recycle >= 0 && ag_monotonic_seconds() - slot->created_at > pool->config.recycle)
        return 0;
    if (pool->config.pre_ping) {
        ag_error ignored;
        if (pool->driver->ping(slot->dconn, &ignored) != 0) return 0;
    }
    return 1;
}

static ag_slot *checkout_singleton(ag_pool *pool, ag_error *err) {
    pthread_mutex_lock(&pool->mutex);
    ag_slot *slot = pool->shared;
    if (slot) {
        slot->users++;
        pool->checked_out++;
        pthread_mutex_unlock(&pool->mutex);
        return slot;
    }
    unsigned generation = pool->generation;
    pthread_mutex_unlock(&pool->mutex);
    /* Connecting outside the lock: two threads racing here may both connect;
     * the loser closes its connection and shares the winner's. */
    slot = slot_open(pool, generation, err);
    if (!slot) return NULL;
    pthread_mutex_lock(&pool->mutex);
    if (pool->shared) {
        ag_slot *winner = pool->shared;
        winner->users++;
        pool->checked_out++;
        pthread_mutex_unlock(&pool->mutex);
        slot_close(pool, slot);
        return winner;
    }
    pool->shared = slot;
    pool->open = 1;
    slot->users = 1;
    pool->checked_out++;
    pthread_mutex_unlock(&pool->mutex);
    return slot;
}

static int at_limit(const ag_pool *pool) {
    return pool->config.max_overflow >= 0 && pool->open >= pool->config.size + pool->config.max_overflow;
}

ag_slot *ag_pool_checkout(ag_pool *pool, ag_error *err) {
    if (pool->config.singleton) return checkout_singleton(pool, err);

    double deadline = ag_monotonic_seconds() + (pool->config.timeout > 0 ? pool->config.timeout : 0);
    struct timespec until;
    until.tv_sec = (time_t)deadline;
    until.tv_nsec = (long)((deadline - (double)until.tv_sec) * 1e9);

    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        if (pool->idle) {
            ag_slot *slot = pool->idle;
            pool->idle = slot->next_idle;
            slot->next_idle = NULL;
            pool->idle_count--;
            pool->checked_out++;
            unsigned generation = pool->generation;
            pthread_mutex_unlock(&pool->mutex);
            if (slot->generation == generation && slot_usable(pool, slot)) return slot;
            /* Stale or dead: replace it in place (it keeps its place in `open`). */
            slot_close(pool, slot);
            slot = slot_open(pool, generation, err);
            if (slot) return slot;
            pthread_mutex_lock(&pool->mutex);
            pool->open--;
            pool->checked_out--;
            pthread_cond_signal(&pool->available);
            pthread_mutex_unlock(&pool->mutex);
            return NULL;
        }
        if (!at_limit(pool)) {
            pool->open++;
            pool->checked_out++;
            unsigned generation = pool->generation;
            pthread_mutex_unlock(&pool->mutex);
            ag_slot *slot = slot_open(pool, generation, err);
            if (slot) return slot;
            pthread_mutex_lock(&pool->mutex);
            pool->open--;
            pool->checked_out--;
            pthread_cond_signal(&pool->available);
            pthread_mutex_unlock(&pool->mutex);
            return NULL;
        }
        int rc = pthread_cond_timedwait(&pool->available, &pool->mutex, &until);
        if (rc == ETIMEDOUT && !pool->idle && at_limit(pool)) {
            int size = pool->config.size, overflow = pool->config.max_overflow;
            pthread_mutex_unlock(&pool->mutex);
            ag_error_set(err, AG_ERR_TIMEOUT, NULL,
                         "pool limit of size %d overflow %d reached, connection timed out, timeout %.2f s",
                         size, overflow, pool->config.timeout);
            return NULL;
        }
    }
}

/* Outside the lock: rolls back what the holder left open.  0 if the slot is clean. */
static int slot_reset(ag_pool *pool, ag_slot *slot) {
    slot->tx_depth = 0;
    ag_tx_status status = pool->driver->transaction_status(slot->dconn);
    if (status == AG_TX_IDLE) return 0;
    if (status == AG_TX_UNKNOWN) return -1;
    ag_error ignored;
    if (pool->driver->exec_simple(slot->dconn, "ROLLBACK", &ignored) != 0) return -1;
    return pool->driver->transaction_status(slot->dconn) == AG_TX_IDLE ? 0 : -1;
}

void ag_pool_checkin(ag_pool *pool, ag_slot *slot, int discard) {
    if (pool->config.singleton) {
        /* The shared connection is reset only when its last holder lets go:
         * resetting earlier would roll back another holder's transaction.
         * (A :memory: engine is meant for one thread; see DESIGN.md.) */
        pthread_mutex_lock(&pool->mutex);
        pool->checked_out--;
        int last = --slot->users == 0;
        int stale = discard || slot->generation != pool->generation;
        pthread_mutex_unlock(&pool->mutex);
        if (!last) return;
        if (!stale && slot_reset(pool, slot) != 0) stale = 1;
        if (!stale) return;
        pthread_mutex_lock(&pool->mutex);
        int detach = pool->shared == slot && slot->users == 0;
        if (detach) {
            pool->shared = NULL;
            pool->open = 0;
        }
        pthread_mutex_unlock(&pool->mutex);
        if (detach) slot_close(pool, slot);
        return;
    }
    if (!discard && slot_reset(pool, slot) != 0) discard = 1;
    pthread_mutex_lock(&pool->mutex);
    pool->checked_out--;
    int keep = !discard && slot->generation == pool->generation && pool->open <= pool->config.size;
    if (keep) {
        slot->next_idle = pool->idle;
        pool->idle = slot;
        pool->idle_count++;
    } else {
        pool->open--;
    }
    pthread_cond_signal(&pool->available);
    pthread_mutex_unlock(&pool->mutex);
    if (!keep) slot_close(pool, slot);
}

void ag_pool_dispose(ag_pool *pool) {
    pthread_mutex_lock(&pool->mutex);
    ag_slot *idle = pool->idle;
    pool->idle = NULL;
    pool->open -= pool->idle_count;
    pool->idle_count = 0;
    pool->generation++;
    ag_slot *shared = NULL;
    if (pool->shared && pool->shared->users == 0) {
        shared = pool->shared;
        pool->shared = NULL;
        pool->open = 0;
    }
    pthread_cond_broadcast(&pool->available);
    pthread_mutex_unlock(&pool->mutex);
    while (idle) {
        ag_slot *next = idle->next_idle;
        slot_close(pool, idle);
        idle = next;
    }
    if (shared) slot_close(pool, shared);
}

void ag_pool_destroy(ag_pool *pool) {
    if (!pool) return;
    ag_pool_dispose(pool);
    if (pool->shared) slot_close(pool, pool->shared);
    pthread_cond_destroy(&pool->available);
    pthread_mutex_destroy(&pool->mutex);
    free(pool);
}

void ag_pool_get_status(ag_pool *pool, ag_pool_status *out) {
    pthread_mutex_lock(&pool->mutex);
    out->size = pool->config.size;
    out->checked_in = pool->config.singleton ? (pool->shared && pool->shared->users == 0) : pool->idle_count;
    out->checked_out = pool->checked_out;
    out->overflow = pool->open > pool->config.size ? pool->open - pool->config.size : 0;
    pthread_mutex_unlock(&pool->mutex);
}
