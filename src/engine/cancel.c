/*
 * cancel.c -- stopping running statements from another thread: the engine's
 * list of checked-out connections, ag_conn_cancel and ag_engine_cancel.
 *
 * A statement blocks the thread that runs it, so a cancel always comes from
 * elsewhere: a thread of the host, or the thread that a signal handler wakes
 * (the REPL's Ctrl-C).  ag_engine_cancel must find the connections that are
 * running something without their owners' help, so the engine keeps every
 * checkout on a list guarded by checkouts_lock.  A close takes its
 * connection off the list under the same lock before giving the slot back,
 * so a cancel that holds the lock never touches a driver connection that is
 * being closed.  The lock is held across the driver's cancel (on MariaDB a
 * short connection to the server): a close in the meantime waits for it.
 *
 * Only connections inside a driver call that runs SQL (`busy`, set around
 * execute, fetch, execute_many and exec_simple) are asked: an idle one has
 * nothing to stop, and a request sent to it could only meet its next
 * statement.  A statement starting just after the check is missed (the
 * caller asks again, as a second Ctrl-C does).
 */
#include "engine/engine_internal.h"

void ag_engine_track_checkout(ag_conn *conn) {
    ag_engine *e = conn->engine;
    pthread_mutex_lock(&e->checkouts_lock);
    conn->checkout_prev = NULL;
    conn->checkout_next = e->checkouts;
    if (e->checkouts) e->checkouts->checkout_prev = conn;
    e->checkouts = conn;
    pthread_mutex_unlock(&e->checkouts_lock);
}

void ag_engine_untrack_checkout(ag_conn *conn) {
    ag_engine *e = conn->engine;
    pthread_mutex_lock(&e->checkouts_lock);
    if (conn->checkout_prev) conn->checkout_prev->checkout_next = conn->checkout_next;
    else e->checkouts = conn->checkout_next;
    if (conn->checkout_next) conn->checkout_next->checkout_prev = conn->checkout_prev;
    conn->checkout_prev = conn->checkout_next = NULL;
    pthread_mutex_unlock(&e->checkouts_lock);
}

static int cancel_slot(ag_slot *slot, ag_error *err) {
    if (!slot->driver->cancel)
        return ag_error_set(err, AG_ERR_NOT_SUPPORTED, NULL, "the %s driver cannot cancel a statement",
                            slot->driver->name);
    return slot->driver->cancel(slot->dconn, err);
}

static int is_busy(ag_conn *conn) { return atomic_load_explicit(&conn->busy, memory_order_relaxed); }

int ag_conn_cancel(ag_conn *conn, ag_error *err) {
    if (!conn) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "cancel: the connection is NULL");
    if (!is_busy(conn)) return 0;
    return cancel_slot(conn->slot, err) == 0 ? 1 : -1;
}

int ag_engine_cancel(ag_engine *engine, ag_error *err) {
    if (!engine) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "cancel: the engine is NULL");
    int stopped = 0, failed = 0;
    pthread_mutex_lock(&engine->checkouts_lock);
    for (ag_conn *c = engine->checkouts; c; c = c->checkout_next) {
        if (!is_busy(c)) continue;
        /* busy checkouts sharing one slot (SQLite :memory:) need one request */
        int seen = 0;
        for (ag_conn *before = engine->checkouts; before != c; before = before->checkout_next)
            if (before->slot == c->slot && is_busy(before)) seen = 1;
        if (seen) continue;
        ag_error one;
        if (cancel_slot(c->slot, &one) == 0) {
            stopped++;
        } else if (!failed++ && err) {
            *err = one;
        }
    }
    pthread_mutex_unlock(&engine->checkouts_lock);
    return failed ? -1 : stopped;
}
