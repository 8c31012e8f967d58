/*
 * compile_bench.c -- what compiling a statement costs: a 3-table join with
 * 5 conditions (users JOIN posts JOIN comments, WHERE with five terms,
 * ORDER BY, LIMIT), compiled for each dialect
 *   cold:   ag_compile_uncached on the built tree (the first execution of a statement object)
 *   cached: ag_compile on a statement already compiled (every later execution)
 *   build+cold: building the tree too, then compiling it
 * in microseconds per statement.  Not a test; run bench/compile_bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql/compile.h"
#include "sql/node.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static ag_node *take(ag_node *parent, int i, ag_node *kid) {
    ag_node_set_kid(parent, i, kid);
    ag_node_release(kid);
    return parent;
}

static ag_node *bind_int(long long v) {
    ag_value x = {.type = AG_VALUE_INTEGER, .u.integer = v};
    return ag_node_bind(&x, NULL);
}

static ag_node *bind_text(const char *s) {
    ag_value x = {.type = AG_VALUE_TEXT, .u.bytes = {s, strlen(s)}};
    return ag_node_bind(&x, NULL);
}

static ag_node *binary(int op, ag_node *a, ag_node *b) {
    ag_node *n = ag_node_binary(op, a, b);
    ag_node_release(a);
    ag_node_release(b);
    return n;
}

typedef struct schema {
    ag_node *users, *posts, *comments;
    ag_node *u_id, *u_name, *u_email, *p_id, *p_owner, *p_title, *c_id, *c_post, *c_text;
} schema;

static ag_node *col(ag_node *t, const char *name) {
    ag_sqltype ty = {.kind = AG_TYPE_INTEGER};
    return ag_node_column(name, t, &ty, 0);
}

static ag_node *join(ag_node *left, ag_node *right, ag_node *on) {
    ag_node *j = ag_node_new(AG_N_JOIN, 3);
    j->op = AG_JOIN_INNER;
    ag_node_set_kid(j, 0, left);
    ag_node_set_kid(j, 1, right);
    return take(j, 2, on);
}

static ag_node *build(const schema *s) {
    ag_node *q = ag_node_new(AG_N_SELECT, AG_SEL_NSLOTS);
    ag_node *cols[] = {s->u_name, s->p_title, s->c_text};
    take(q, AG_SEL_COLUMNS, ag_node_list(cols, 3));
    ag_node *j1 = join(s->users, s->posts, binary(AG_OP_EQ, ag_node_retain(s->p_owner), ag_node_retain(s->u_id)));
    ag_node *j2 = join(j1, s->comments, binary(AG_OP_EQ, ag_node_retain(s->c_post), ag_node_retain(s->p_id)));
    ag_node_release(j1);
    take(q, AG_SEL_FROM, ag_node_list(&j2, 1));
    ag_node_release(j2);
    ag_node *terms[5] = {
        binary(AG_OP_GT, ag_node_retain(s->u_id), bind_int(10)),
        binary(AG_OP_LIKE, ag_node_retain(s->u_email), bind_text("%@x.org")),
        binary(AG_OP_NE, ag_node_retain(s->p_title), bind_text("draft")),
        binary(AG_OP_LT, ag_node_retain(s->c_id), bind_int(1000)),
        binary(AG_OP_EQ, ag_node_retain(s->u_name), bind_text("ann")),
    };
    ag_node *where = ag_node_new(AG_N_BOOLEAN, 5);
    where->op = AG_OP_AND;
    for (int i = 0; i < 5; i++) take(where, i, terms[i]);
    take(q, AG_SEL_WHERE, where);
    ag_node *order = ag_node_unary(AG_OP_DESC, s->c_id);
    take(q, AG_SEL_ORDER_BY, ag_node_list(&order, 1));
    ag_node_release(order);
    take(q, AG_SEL_LIMIT, bind_int(20));
    return q;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    schema s;
    s.users = ag_node_table("users");
    s.posts = ag_node_table("posts");
    s.comments = ag_node_table("comments");
    s.u_id = col(s.users, "id"), s.u_name = col(s.users, "name"), s.u_email = col(s.users, "email");
    s.p_id = col(s.posts, "id"), s.p_owner = col(s.posts, "owner_id"), s.p_title = col(s.posts, "title");
    s.c_id = col(s.comments, "id"), s.c_post = col(s.comments, "post_id"), s.c_text = col(s.comments, "text");
    ag_error err;
    for (int d = 0; d < 2; d++) {
        ag_dialect dialect = d ? AG_DIALECT_POSTGRESQL : AG_DIALECT_SQLITE;
        const ag_sql_dialect *dd = ag_sql_dialect_get(dialect);
        ag_node *q = build(&s);
        const ag_compiled *c = ag_compile(q, dialect, &err);
        if (!c) {
            fprintf(stderr, "compile: %s\n", err.message);
            return 1;
        }
        if (d == 0) printf("SQL (%s): %s\n", dd->name, c->sql);
        double t0 = now();
        for (int i = 0; i < n; i++) ag_compiled_free(ag_compile_uncached(q, dd, &err));
        double cold = (now() - t0) / n * 1e6;
        t0 = now();
        volatile size_t sink = 0;
        for (int i = 0; i < n; i++) sink += ag_compile(q, dialect, &err)->len;
        double cached = (now() - t0) / n * 1e6;
        t0 = now();
        for (int i = 0; i < n / 4; i++) {
            ag_node *fresh = build(&s);
            ag_compile(fresh, dialect, &err);
            ag_node_release(fresh);
        }
        double built = (now() - t0) / (n / 4) * 1e6;
        printf("%-10s cold %.3f us   cached %.4f us   build+cold %.3f us   (%d runs)\n", dd->name, cold, cached, built, n);
        ag_node_release(q);
        (void)sink;
    }
    ag_node *all[] = {s.users, s.posts, s.comments, s.u_id, s.u_name, s.u_email, s.p_id, s.p_owner, s.p_title,
                      s.c_id, s.c_post, s.c_text};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) ag_node_release(all[i]);
    return 0;
}
