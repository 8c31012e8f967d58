/*
 * interleave.h -- a seeded random walk over several statements of one
 * driver connection, for the drivers that hand the wire from statement to
 * statement (PostgreSQL, MariaDB).  Each statement returns the rows 1..n for
 * its parameter n; a model keeps what each one must give next, and every
 * execute, fetch, reset, finalize and simple command on the connection is
 * checked against it.  A state the driver and its client library disagree
 * on shows as a wrong row, an error, or a wait that never ends (the test's
 * alarm).  MariaDB's "read to the last row, then another statement" hang
 * was of this kind.
 */
#ifndef ARGENT_TESTS_INTERLEAVE_H
#define ARGENT_TESTS_INTERLEAVE_H

#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "values.h"

#define INTERLEAVE_STMTS 4

typedef struct interleave_model {
    ag_driver_stmt *s;
    int active;         /* executed, end not yet seen */
    int64_t next, last; /* the row fetch must give next, and the last one */
} interleave_model;

static unsigned interleave_rand(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* Walks `steps` random operations over INTERLEAVE_STMTS statements of the
 * text `sql` (one integer parameter n: the rows 1..n, in order) and the
 * simple command `simple`.  Returns 0, or -1 with what went wrong in why. */
static int interleave_walk(const ag_driver *D, ag_driver_conn *c, const char *sql, const char *simple, unsigned seed,
                           int steps, char *why, size_t whylen) {
    static const int64_t sizes[] = {0, 1, 1, 2, 3, 7, 50};
    interleave_model m[INTERLEAVE_STMTS];
    ag_error err;
    memset(m, 0, sizeof m);
    int rc = 0;
    for (int i = 0; i < INTERLEAVE_STMTS; i++) {
        if (D->prepare(c, sql, strlen(sql), &m[i].s, &err) != 0) {
            snprintf(why, whylen, "prepare: %s", err.message);
            return -1;
        }
    }
    for (int step = 0; step < steps && rc == 0; step++) {
        unsigned r = interleave_rand(&seed);
        interleave_model *x = &m[r % INTERLEAVE_STMTS];
        int i = (int)(x - m);
        switch ((r / INTERLEAVE_STMTS) % 10) {
        case 0:
        case 1: { /* execute */
            int64_t n = sizes[(r / 64) % (sizeof sizes / sizeof sizes[0])];
            ag_value p = vint(n);
            if (D->execute(x->s, &p, 1, &err) != 0) {
                snprintf(why, whylen, "step %d: execute of statement %d (n = %lld): %s", step, i, (long long)n,
                         err.message);
                rc = -1;
                break;
            }
            x->active = 1;
            x->next = 1;
            x->last = n;
            break;
        }
        case 2:
        case 3:
        case 4:
        case 5: { /* fetch */
            int got = D->fetch(x->s, &err);
            int want = x->active && x->next <= x->last;
            if (got < 0) {
                snprintf(why, whylen, "step %d: fetch of statement %d: %s", step, i, err.message);
                rc = -1;
                break;
            }
            if (got != want) {
                snprintf(why, whylen, "step %d: fetch of statement %d gave %d, the model says %d (row %lld of %lld)",
                         step, i, got, want, (long long)x->next, (long long)x->last);
                rc = -1;
                break;
            }
            if (!got) {
                x->active = 0;
                break;
            }
            ag_value v;
            D->column_value(x->s, 0, &v);
            if (v.type != AG_VALUE_INTEGER || v.u.integer != x->next) {
                snprintf(why, whylen, "step %d: statement %d gave %lld, the model says %lld", step, i,
                         v.type == AG_VALUE_INTEGER ? (long long)v.u.integer : -1LL, (long long)x->next);
                rc = -1;
                break;
            }
            x->next++;
            break;
        }
        case 6:
        case 7: /* reset */
            D->reset(x->s);
            x->active = 0;
            break;
        case 8: /* finalize and prepare again */
            D->finalize(x->s);
            x->s = NULL;
            x->active = 0;
            if (D->prepare(c, sql, strlen(sql), &x->s, &err) != 0) {
                snprintf(why, whylen, "step %d: prepare again: %s", step, err.message);
                rc = -1;
            }
            break;
        default: /* a simple command: the others' rows must survive it */
            if (D->exec_simple(c, simple, &err) != 0) {
                snprintf(why, whylen, "step %d: %s: %s", step, simple, err.message);
                rc = -1;
            }
            break;
        }
    }
    for (int i = 0; i < INTERLEAVE_STMTS; i++) D->finalize(m[i].s);
    return rc;
}

#endif
