/*
 * test_txstate.c -- the Session's transaction state machine
 * (src/orm/txstate.c): which operations each state allows, the
 * transitions, and the events a state refuses.
 */
#include "check.h"
#include "orm/txstate.h"

static int allowed(const ag_txstate *t, ag_txop op) {
    ag_error err;
    return ag_txstate_check(t, op, "op", &err) == 0;
}

static int refused_with(const ag_txstate *t, ag_txop op, const char *needle) {
    ag_error err;
    if (ag_txstate_check(t, op, "op", &err) == 0) return 0;
    return err.kind == AG_ERR_INVALID_REQUEST && strstr(err.message, needle) != NULL;
}

int main(void) {
    ag_txstate t;
    ag_error err;
    ag_txstate_init(&t);
    CHECK_STR(ag_txstate_name(t.state), "idle");
    for (int op = 0; op < AG_TXOP_COUNT; op++) CHECK(allowed(&t, (ag_txop)op));

    /* a transaction begins, writes, flushes */
    CHECK_INT(ag_txstate_event(&t, AG_EV_BEGUN, &err), 1);
    CHECK_STR(ag_txstate_name(t.state), "active");
    CHECK(allowed(&t, AG_OP_BEGIN)); /* nothing written yet */
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_START, &err), 1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_START, &err), 0); /* nested flush: skipped */
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_END, &err), 1);
    CHECK_INT(t.flushing, 0);
    CHECK_INT(ag_txstate_event(&t, AG_EV_CHANGED, &err), 1);
    CHECK(refused_with(&t, AG_OP_BEGIN, "already in progress"));
    CHECK_INT(ag_txstate_event(&t, AG_EV_BEGUN, &err), -1); /* twice: a caller's bug */
    CHECK_INT(err.kind, AG_ERR_INVALID_REQUEST);

    /* savepoints: commit waits, a failed flush inside fails only the savepoint */
    CHECK_INT(ag_txstate_event(&t, AG_EV_SAVEPOINT_BEGUN, &err), 1);
    CHECK(refused_with(&t, AG_OP_COMMIT, "begin_nested"));
    CHECK_INT(ag_txstate_event(&t, AG_EV_COMMITTED, &err), -1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_START, &err), 1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_FAILED, &err), 1);
    CHECK_STR(ag_txstate_name(t.state), "active");
    CHECK_INT(ag_txstate_event(&t, AG_EV_SAVEPOINT_ENDED, &err), 1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_SAVEPOINT_ENDED, &err), -1); /* none open */
    CHECK(allowed(&t, AG_OP_COMMIT));
    CHECK_INT(ag_txstate_event(&t, AG_EV_COMMITTED, &err), 1);
    CHECK_STR(ag_txstate_name(t.state), "idle");
    CHECK_INT(t.changed, 0);
    CHECK_INT(ag_txstate_event(&t, AG_EV_COMMITTED, &err), -1); /* nothing to commit */

    /* a failed flush outside savepoints fails the session until rollback */
    CHECK_INT(ag_txstate_event(&t, AG_EV_BEGUN, &err), 1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_START, &err), 1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_FAILED, &err), 1);
    CHECK_STR(ag_txstate_name(t.state), "failed");
    CHECK(allowed(&t, AG_OP_USE));
    CHECK(allowed(&t, AG_OP_ROLLBACK));
    CHECK(refused_with(&t, AG_OP_WORK, "rollback()"));
    CHECK(refused_with(&t, AG_OP_COMMIT, "rollback()"));
    CHECK(refused_with(&t, AG_OP_BEGIN, "rollback()"));
    CHECK(refused_with(&t, AG_OP_BEGIN_NESTED, "rollback()"));
    CHECK_INT(ag_txstate_event(&t, AG_EV_FLUSH_START, &err), -1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_COMMITTED, &err), -1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_ROLLED_BACK, &err), 1);
    CHECK_STR(ag_txstate_name(t.state), "idle");
    CHECK(allowed(&t, AG_OP_WORK));

    /* closed: everything is refused, closing again is fine */
    CHECK_INT(ag_txstate_event(&t, AG_EV_CLOSED, &err), 1);
    for (int op = 0; op < AG_TXOP_COUNT; op++) CHECK(refused_with(&t, (ag_txop)op, "closed"));
    CHECK_INT(ag_txstate_event(&t, AG_EV_BEGUN, &err), -1);
    CHECK_INT(ag_txstate_event(&t, AG_EV_CLOSED, &err), 1);
    CHECK(ag_txstate_check(&t, (ag_txop)AG_TXOP_COUNT, NULL, &err) == -1);
    CHECK_INT(ag_txstate_event(&t, (ag_txevent)AG_EV_COUNT, &err), -1);
    ag_txstate_init(&t);
    CHECK_INT(ag_txstate_event(&t, (ag_txevent)AG_EV_COUNT, &err), -1);
    CHECK_DONE();
}
