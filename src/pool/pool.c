/*
 * pool.c -- the connection pool (see pool.h for the contract).
 *
 * Invariants, under `mutex`:
 *   open == idle_count + checked_out          (slots that exist; not singleton)
 *   open <= size + max_overflow               (when max_overflow >= 0)
 *   idle_count <= size
 * `open` counts a slot from the moment a checkout decides to connect it, so a
 * connection being made outside the lock already holds its place.
 *
 * A slot whose `generation` is older than the pool's is stale: it is closed
 * when it comes back, and replaced when it is found idle at checkout.  dispose
 * bumps the generation (and closes the idle slots at once); so does a lost
 * connection (a discard at checkin, a failed pre-ping), because a connection
 * that died usually means the server restarted and every older connection is
 * dead too (SQLAlchemy invalidates its pool the same way).
 *
 * The mutex is held only for list and counter updates: no driver call, no
 * allocation, no callback runs under it.
 */
#include "base/alloc.h"
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
    pthread_cond_t available; /* a slot came back, a place freed up, or a reset ended */
    ag_slot *idle;            /* LIFO stack */
    int idle_count;
    int checked_out;
    int open;
    unsigned generation;
    ag_slot *shared; /* singleton mode: the one slot */
    int resetting;   /* singleton mode: its last holder is rolling it back */
};

double ag_monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ag_pool *ag_pool_create(const ag_driver *driver, const ag_connect_params *params, const ag_pool_config *config,
                        ag_error *err) {
    ag_pool *pool = ag_calloc(1, sizeof *pool);
    if (!pool) {
        ag_error_nomem(err);
        return NULL;
    }
    pool->driver = driver;
    pool->params = params;
    pool->config = *config;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(pool);
        ag_error_set(err, AG_ERR_INTERFACE, NULL, "cannot create the pool's condition variable");
        return NULL;
    }
    /* The wait deadline is on the monotonic clock: a wall-clock jump must not
     * cut a wait short or stretch it. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc_mutex = pthread_mutex_init(&pool->mutex, NULL);
    int rc_cond = rc_mutex == 0 ? pthread_cond_init(&pool->available, &attr) : -1;
    pthread_condattr_destroy(&attr);
    if (rc_mutex != 0 || rc_cond != 0) {
        if (rc_mutex == 0) pthread_mutex_destroy(&pool->mutex);
        free(pool);
        ag_error_set(err, AG_ERR_INTERFACE, NULL, "cannot create the pool's mutex");
        return NULL;
    }
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
    ag_slot *slot = ag_calloc(1, sizeof *slot);
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

/* Under the lock: a lost connection of the current generation makes every
 * slot of that generation stale (the ones after a first bump are not bumped
 * again, so one server restart costs one bump however many slots notice). */
static void invalidate_locked(ag_pool *pool, const ag_slot *dead) {
    if (dead->generation == pool->generation) pool->generation++;
}

enum { SLOT_OK, SLOT_STALE, SLOT_DEAD };

/* Outside the lock: is this idle slot fit to hand out? */
static int slot_check(ag_pool *pool, ag_slot *slot, unsigned generation) {
    if (slot->generation != generation) return SLOT_STALE;
    if (pool->config.recycle >= 0 && ag_monotonic_seconds() - slot->created_at > pool->config.recycle)
        return SLOT_STALE;
    if (pool->config.pre_ping) {
        ag_error ignored;
        if (pool->driver->ping(slot->dconn, &ignored) != 0) return SLOT_DEAD;
    }
    return SLOT_OK;
}

static ag_slot *checkout_singleton(ag_pool *pool, ag_error *err) {
    pthread_mutex_lock(&pool->mutex);
    /* A reset runs only when nobody holds the slot, so the waiting thread is
     * never the one resetting: no self-deadlock for nested checkouts. */
    while (pool->resetting) pthread_cond_wait(&pool->available, &pool->mutex);
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
    while (pool->resetting) pthread_cond_wait(&pool->available, &pool->mutex);
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

/* The absolute monotonic time `seconds` from now, for pthread_cond_timedwait.
 * Integer arithmetic on the timespec, so tv_nsec stays in [0, 1e9); waits
 * longer than ~30 years are cut to that (a double too large for time_t would
 * be undefined behaviour). */
static struct timespec deadline_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (!(seconds > 0)) return ts;
    if (seconds > 1e9) seconds = 1e9;
    time_t whole = (time_t)seconds;
    long nsec = (long)((seconds - (double)whole) * 1e9);
    if (nsec > 999999999L) nsec = 999999999L;
    ts.tv_sec += whole;
    ts.tv_nsec += nsec;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Outside the lock: gives back the place of a slot that could not be
 * (re)connected.  Returns NULL for the caller's convenience. */
static ag_slot *give_up_place(ag_pool *pool) {
    pthread_mutex_lock(&pool->mutex);
    pool->open--;
    pool->checked_out--;
    pthread_cond_signal(&pool->available);
    pthread_mutex_unlock(&pool->mutex);
    return NULL;
}

/* wait: at the limit, wait up to the pool's timeout; else fail at once
 * (AG_ERR_TIMEOUT, "busy"). */
static ag_slot *checkout(ag_pool *pool, int wait, ag_error *err) {
    if (pool->config.singleton) return checkout_singleton(pool, err);

    struct timespec until;
    int have_deadline = 0;
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
            int state = slot_check(pool, slot, generation);
            if (state == SLOT_OK) return slot;
            if (state == SLOT_DEAD) {
                pthread_mutex_lock(&pool->mutex);
                invalidate_locked(pool, slot);
                generation = pool->generation;
                pthread_mutex_unlock(&pool->mutex);
            }
            /* Stale or dead: replace it in place (it keeps its place in `open`). */
            slot_close(pool, slot);
            slot = slot_open(pool, generation, err);
            return slot ? slot : give_up_place(pool);
        }
        if (!at_limit(pool)) {
            pool->open++;
            pool->checked_out++;
            unsigned generation = pool->generation;
            pthread_mutex_unlock(&pool->mutex);
            ag_slot *slot = slot_open(pool, generation, err);
            return slot ? slot : give_up_place(pool);
        }
        if (!wait) {
            pthread_mutex_unlock(&pool->mutex);
            ag_error_set(err, AG_ERR_TIMEOUT, NULL,
                         "pool limit of size %d overflow %d reached: every connection is busy", pool->config.size,
                         pool->config.max_overflow);
            return NULL;
        }
        /* The deadline is taken only when a wait is needed: the uncontended
         * checkout reads no clock. */
        if (!have_deadline) {
            until = deadline_after(pool->config.timeout);
            have_deadline = 1;
        }
        int rc = pthread_cond_timedwait(&pool->available, &pool->mutex, &until);
        /* After a timeout the state is looked at once more: a slot may have
         * come back just as the wait ended. */
        if (rc != 0 && !pool->idle && at_limit(pool)) {
            pthread_mutex_unlock(&pool->mutex);
            if (rc != ETIMEDOUT)
                ag_error_set(err, AG_ERR_INTERFACE, NULL, "waiting for a pooled connection failed (error %d)", rc);
            else
                ag_error_set(err, AG_ERR_TIMEOUT, NULL,
                             "pool limit of size %d overflow %d reached, connection timed out, timeout %.2f s",
                             pool->config.size, pool->config.max_overflow, pool->config.timeout);
            return NULL;
        }
    }
}

ag_slot *ag_pool_checkout(ag_pool *pool, ag_error *err) { return checkout(pool, 1, err); }

ag_slot *ag_pool_try_checkout(ag_pool *pool, ag_error *err) { return checkout(pool, 0, err); }

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

/* Singleton mode.  The shared connection is reset only when its last holder
 * lets go: resetting earlier would roll back another holder's transaction.
 * While that reset runs (outside the lock) `resetting` keeps new checkouts
 * waiting and dispose away from the slot, so nobody uses or frees it under
 * the rollback.  (A :memory: engine is meant for one thread; see DESIGN.md.
 * This only keeps the pool itself sound when several threads share one.) */
static void checkin_singleton(ag_pool *pool, ag_slot *slot, int discard) {
    pthread_mutex_lock(&pool->mutex);
    pool->checked_out--;
    if (--slot->users > 0) {
        pthread_mutex_unlock(&pool->mutex);
        return;
    }
    int close_it = discard || slot->generation != pool->generation;
    if (!close_it) {
        pool->resetting = 1;
        pthread_mutex_unlock(&pool->mutex);
        close_it = slot_reset(pool, slot) != 0;
        pthread_mutex_lock(&pool->mutex);
        pool->resetting = 0;
        /* dispose may have run meanwhile and left the slot to us */
        if (slot->generation != pool->generation) close_it = 1;
        pthread_cond_broadcast(&pool->available);
    }
    /* users is still 0 here: checkouts waited while `resetting` was set, and
     * on the other path the lock was never let go. */
    if (close_it && pool->shared == slot) {
        pool->shared = NULL;
        pool->open = 0;
    }
    pthread_mutex_unlock(&pool->mutex);
    if (close_it) slot_close(pool, slot);
}

void ag_pool_checkin(ag_pool *pool, ag_slot *slot, int discard) {
    if (pool->config.singleton) {
        checkin_singleton(pool, slot, discard);
        return;
    }
    int lost = discard;
    if (!discard && slot_reset(pool, slot) != 0) discard = 1;
    pthread_mutex_lock(&pool->mutex);
    pool->checked_out--;
    if (lost) invalidate_locked(pool, slot);
    /* Kept while fewer than `size` slots wait idle (SQLAlchemy's QueuePool
     * does the same): an overflow slot returned while others are busy stays,
     * so that a pool under steady load does not close a connection at every
     * checkin and open a new one at the next checkout.  When the load goes
     * away the idle list fills up and the surplus is closed. */
    int keep = !discard && slot->generation == pool->generation && pool->idle_count < pool->config.size;
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
    if (pool->shared && pool->shared->users == 0 && !pool->resetting) {
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
