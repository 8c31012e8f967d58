/*
 * txstate.c -- the Session's transaction state machine; see txstate.h.
 */
#include "orm/txstate.h"

#include <string.h>

void ag_txstate_init(ag_txstate *t) { memset(t, 0, sizeof *t); }

const char *ag_txstate_name(ag_txstate_kind k) {
    switch (k) {
    case AG_SESS_IDLE: return "idle";
    case AG_SESS_ACTIVE: return "active";
    case AG_SESS_FAILED: return "failed";
    case AG_SESS_CLOSED: return "closed";
    }
    return "?";
}

int ag_txstate_check(const ag_txstate *t, ag_txop op, const char *what, ag_error *err) {
    if (!what) what = "this operation";
    if (t->state == AG_SESS_CLOSED)
        return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                            "Session:%s: this session is closed; make a new one with the sessionmaker", what);
    switch (op) {
    case AG_OP_USE:
    case AG_OP_ROLLBACK: return 0;
    case AG_OP_WORK:
    case AG_OP_BEGIN_NESTED:
    case AG_OP_COMMIT:
    case AG_OP_BEGIN:
        if (t->state == AG_SESS_FAILED)
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                                "Session:%s: this session's transaction was rolled back because of an earlier "
                                "error during flush; call s:rollback() first",
                                what);
        if (op == AG_OP_COMMIT && t->savepoints > 0)
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                                "Session:%s: a begin_nested block is still open; commit after it returns", what);
        if (op == AG_OP_BEGIN && t->state == AG_SESS_ACTIVE && (t->changed || t->savepoints > 0))
            return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL,
                                "Session:%s: a transaction with changes is already in progress; commit or roll "
                                "it back first, or use s:begin_nested(fn)",
                                what);
        return 0;
    case AG_TXOP_COUNT: break;
    }
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "Session: unknown operation");
}

static int refuse(ag_txstate *t, const char *event, ag_error *err) {
    return ag_error_set(err, AG_ERR_INVALID_REQUEST, NULL, "session state machine: %s while %s", event,
                        ag_txstate_name(t->state));
}

int ag_txstate_event(ag_txstate *t, ag_txevent ev, ag_error *err) {
    if (t->state == AG_SESS_CLOSED && ev != AG_EV_CLOSED) return refuse(t, "an event", err);
    switch (ev) {
    case AG_EV_BEGUN:
        if (t->state != AG_SESS_IDLE) return refuse(t, "a transaction began", err);
        t->state = AG_SESS_ACTIVE;
        t->changed = 0;
        return 1;
    case AG_EV_CHANGED:
        if (t->state != AG_SESS_ACTIVE) return refuse(t, "a change", err);
        t->changed = 1;
        return 1;
    case AG_EV_FLUSH_START:
        if (t->state == AG_SESS_FAILED) return refuse(t, "a flush", err);
        if (t->flushing) return 0;
        t->flushing = 1;
        return 1;
    case AG_EV_FLUSH_END: t->flushing = 0; return 1;
    case AG_EV_FLUSH_FAILED:
        t->flushing = 0;
        if (t->savepoints == 0 && t->state == AG_SESS_ACTIVE) t->state = AG_SESS_FAILED;
        return 1;
    case AG_EV_SAVEPOINT_BEGUN:
        if (t->state != AG_SESS_ACTIVE) return refuse(t, "a savepoint began", err);
        t->savepoints++;
        return 1;
    case AG_EV_SAVEPOINT_ENDED:
        if (t->savepoints <= 0) return refuse(t, "a savepoint ended", err);
        t->savepoints--;
        return 1;
    case AG_EV_COMMITTED:
        if (t->state != AG_SESS_ACTIVE || t->savepoints > 0) return refuse(t, "a commit", err);
        t->state = AG_SESS_IDLE;
        t->changed = 0;
        return 1;
    case AG_EV_ROLLED_BACK:
        t->state = AG_SESS_IDLE;
        t->savepoints = 0;
        t->flushing = 0;
        t->changed = 0;
        return 1;
    case AG_EV_CLOSED:
        t->state = AG_SESS_CLOSED;
        t->savepoints = 0;
        t->flushing = 0;
        return 1;
    case AG_EV_COUNT: break;
    }
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "session state machine: unknown event");
}
