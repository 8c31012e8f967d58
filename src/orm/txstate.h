/*
 * txstate.h -- the Session's transaction state machine (API.md section 7).
 *
 * A Session (lua/argent/orm/session.lua) keeps one of these and asks it before
 * every operation whether the operation may run now, and tells it what
 * happened (a transaction began, a flush failed, a savepoint ended...).  The
 * rules live here, in one place, in C:
 *
 *   IDLE    no transaction; the next operation that needs one begins it
 *   ACTIVE  a transaction is open on the session's connection
 *   FAILED  a flush failed: the transaction was rolled back at once, and
 *           only rollback() (or close()) is allowed until then
 *   CLOSED  close() ran: every operation is an error, close() a no-op
 *
 * Inside ACTIVE, `flushing` marks a running flush (a nested flush -- from a
 * lazy load during the flush -- is a no-op) and `savepoints` counts open
 * begin_nested blocks; a flush that fails inside one fails only the
 * savepoint (the block rolls it back), not the transaction.
 */
#ifndef ARGENT_ORM_TXSTATE_H
#define ARGENT_ORM_TXSTATE_H

#include "base/error.h"

typedef enum { AG_SESS_IDLE, AG_SESS_ACTIVE, AG_SESS_FAILED, AG_SESS_CLOSED } ag_txstate_kind;

/* What a Session asks to do (ag_txstate_check). */
typedef enum {
    AG_OP_USE,          /* add, delete, expunge, expire, query building: needs an open session */
    AG_OP_WORK,         /* flush, query, get, execute, merge, refresh: also not FAILED */
    AG_OP_COMMIT,       /* also no open savepoint */
    AG_OP_BEGIN,        /* begin(fn): also no transaction with changes */
    AG_OP_BEGIN_NESTED, /* like AG_OP_WORK */
    AG_OP_ROLLBACK,     /* needs an open session (any state but CLOSED) */
    AG_TXOP_COUNT
} ag_txop;

/* What happened (ag_txstate_event). */
typedef enum {
    AG_EV_BEGUN,           /* a transaction was opened: IDLE -> ACTIVE */
    AG_EV_CHANGED,         /* the transaction wrote something */
    AG_EV_FLUSH_START,     /* returns 0 when a flush is already running (skip it) */
    AG_EV_FLUSH_END,       /* the flush succeeded */
    AG_EV_FLUSH_FAILED,    /* the flush failed: FAILED (or, in a savepoint, just ends) */
    AG_EV_SAVEPOINT_BEGUN, /* begin_nested opened a savepoint */
    AG_EV_SAVEPOINT_ENDED, /* ... released or rolled back */
    AG_EV_COMMITTED,       /* ACTIVE -> IDLE */
    AG_EV_ROLLED_BACK,     /* ACTIVE or FAILED -> IDLE (savepoints dropped) */
    AG_EV_CLOSED,          /* -> CLOSED */
    AG_EV_COUNT
} ag_txevent;

typedef struct ag_txstate {
    ag_txstate_kind state;
    int flushing;   /* a flush is running */
    int savepoints; /* open begin_nested blocks */
    int changed;    /* the open transaction wrote something */
} ag_txstate;

void ag_txstate_init(ag_txstate *t);

/* 0 when op may run now; else -1 with err (InvalidRequestError saying what
 * to do).  `what` names the operation in the message (e.g. "commit"). */
int ag_txstate_check(const ag_txstate *t, ag_txop op, const char *what, ag_error *err);

/* Applies event ev.  Returns 1, or 0 for AG_EV_FLUSH_START when a flush is
 * already running, or -1 with err for an event the state does not allow
 * (a bug of the caller: e.g. COMMITTED while FAILED). */
int ag_txstate_event(ag_txstate *t, ag_txevent ev, ag_error *err);

/* "idle", "active", "failed", "closed" */
const char *ag_txstate_name(ag_txstate_kind k);

#endif
