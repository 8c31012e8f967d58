/*
 * test_compile.c -- golden tests of the SQL compiler (src/sql/): every
 * construct built as a tree in C, compiled for SQLite and PostgreSQL, and
 * compared with the exact SQL text and parameter list expected.  Also: the
 * values never appear in the SQL (hostile strings, NUL bytes, 100 kB),
 * identifiers are quoted when they must be, the per-dialect cache, and
 * errors (not crashes) for trees that cannot compile.
 *
 * No database is needed: execution is tested by the Lua suites.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sql/compile.h"
#include "sql/node.h"

/* ---- builders: each takes over the references it is given (use R() to pass a shared node) */

static ag_node *R(ag_node *n) { return ag_node_retain(n); }

static ag_node *own(ag_node *parent, int i, ag_node *kid) {
    ag_node_set_kid(parent, i, kid);
    ag_node_release(kid);
    return parent;
}

static ag_node *table(const char *name) { return ag_node_table(name); }

static ag_node *column(ag_node *t, const char *name, int kind, int flags) {
    ag_sqltype ty = {.kind = (uint8_t)kind};
    return ag_node_column(name, t, &ty, flags);
}

static ag_node *vint(long long v) {
    ag_value x = {.type = AG_VALUE_INTEGER, .u.integer = v};
    return ag_node_bind(&x, NULL);
}

static ag_node *vtext(const char *s, size_t len) {
    ag_value x = {.type = AG_VALUE_TEXT, .u.bytes = {s, len}};
    return ag_node_bind(&x, NULL);
}

static ag_node *vstr(const char *s) { return vtext(s, strlen(s)); }

static ag_node *bin(int op, ag_node *a, ag_node *b) {
    ag_node *n = ag_node_binary(op, a, b);
    ag_node_release(a);
    ag_node_release(b);
    return n;
}

static ag_node *un(int op, ag_node *a) {
    ag_node *n = ag_node_unary(op, a);
    ag_node_release(a);
    return n;
}

/* list(n, a, b, ...) */
static ag_node *list(int count, ...) {
    ag_node *n = ag_node_new(AG_N_LIST, count);
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) own(n, i, va_arg(ap, ag_node *));
    va_end(ap);
    return n;
}

static ag_node *boolean(int op, int count, ...) {
    ag_node *n = ag_node_new(AG_N_BOOLEAN, count);
    n->op = (uint8_t)op;
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) own(n, i, va_arg(ap, ag_node *));
    va_end(ap);
    return n;
}

static ag_node *func(const char *name, int count, ...) {
    ag_node *n = ag_node_new(AG_N_FUNC, count);
    ag_node_set_name(n, name, strlen(name));
    va_list ap;
    va_start(ap, count);
    for (int i = 0; i < count; i++) own(n, i, va_arg(ap, ag_node *));
    va_end(ap);
    return n;
}

static ag_node *named(int tag, const char *name, ag_node *kid) {
    ag_node *n = ag_node_new((ag_node_tag)tag, 1);
    ag_node_set_name(n, name, strlen(name));
    return own(n, 0, kid);
}

static ag_node *select_of(ag_node *columns) {
    ag_node *s = ag_node_new(AG_N_SELECT, AG_SEL_NSLOTS);
    return own(s, AG_SEL_COLUMNS, columns);
}

static ag_node *with(ag_node *n, int slot, ag_node *kid) { return own(n, slot, kid); }

static ag_node *between(ag_node *x, ag_node *lo, ag_node *hi) {
    ag_node *b = ag_node_new(AG_N_BETWEEN, 3);
    own(b, 0, x);
    own(b, 1, lo);
    return own(b, 2, hi);
}

static ag_node *keyword(int kw) {
    ag_node *n = ag_node_new(AG_N_KEYWORD, 0);
    n->op = (uint8_t)kw;
    return n;
}

static ag_node *text(const char *sql) {
    ag_node *n = ag_node_new(AG_N_TEXT, 0);
    ag_node_set_name(n, sql, strlen(sql));
    return n;
}

/* ---- checks */

/* Compiles stmt for both dialects and compares; releases stmt. */
#define GOLDEN(stmt, want_sqlite, want_pg, want_nparams) \
    golden(__LINE__, (stmt), (want_sqlite), (want_pg), NULL, (want_nparams))
/* ... and MariaDB's */
#define GOLDEN3(stmt, want_sqlite, want_pg, want_mariadb, want_nparams) \
    golden(__LINE__, (stmt), (want_sqlite), (want_pg), (want_mariadb), (want_nparams))

static void golden(int line, ag_node *stmt, const char *want_sqlite, const char *want_pg, const char *want_mariadb,
                   int want_nparams) {
    const char *want[3] = {want_sqlite, want_pg, want_mariadb};
    ag_dialect d[3] = {AG_DIALECT_SQLITE, AG_DIALECT_POSTGRESQL, AG_DIALECT_MARIADB};
    for (int i = 0; i < 3; i++) {
        if (!want[i]) continue;
        ag_error err;
        const ag_compiled *c = ag_compile(stmt, d[i], &err);
        if (!c) {
            check_failures++;
            fprintf(stderr, "line %d (%s): compile failed: %s\n", line, ag_dialect_name(d[i]), err.message);
            continue;
        }
        if (strcmp(c->sql, want[i]) != 0) {
            check_failures++;
            fprintf(stderr, "line %d (%s):\n  got:  %s\n  want: %s\n", line, ag_dialect_name(d[i]), c->sql, want[i]);
        } else {
            check_passes++;
        }
        if (c->nparams != want_nparams) {
            check_failures++;
            fprintf(stderr, "line %d (%s): %d parameters, want %d\n", line, ag_dialect_name(d[i]), c->nparams,
                    want_nparams);
        }
    }
    ag_node_release(stmt);
}

static void expect_error(int line, ag_node *stmt, ag_error_kind kind, const char *fragment) {
    ag_error err;
    const ag_compiled *c = ag_compile(stmt, AG_DIALECT_SQLITE, &err);
    if (c || err.kind != kind || (fragment && !strstr(err.message, fragment))) {
        check_failures++;
        fprintf(stderr, "line %d: expected error kind %d with '%s', got %s (%s)\n", line, kind,
                fragment ? fragment : "", c ? "success" : "error", c ? c->sql : err.message);
    } else {
        check_passes++;
    }
    ag_node_release(stmt);
}

/* ---- the cases */

static void test_select_basics(void) {
    ag_node *users = table("users");
    ag_node *id = column(users, "id", AG_TYPE_INTEGER, 0), *email = column(users, "email", AG_TYPE_STRING, 0);
    ag_node *q = select_of(list(2, R(id), R(email)));
    with(q, AG_SEL_WHERE,
         boolean(AG_OP_AND, 2, bin(AG_OP_LIKE, R(email), vstr("%@x.org")), bin(AG_OP_GT, R(id), vint(10))));
    with(q, AG_SEL_ORDER_BY, list(1, un(AG_OP_DESC, R(id))));
    with(q, AG_SEL_LIMIT, vint(10));
    with(q, AG_SEL_OFFSET, vint(20));
    GOLDEN3(
        q,
        "SELECT users.id, users.email FROM users WHERE users.email LIKE ? AND users.id > ? ORDER BY users.id DESC LIMIT ? OFFSET ?",
        "SELECT users.id, users.email FROM users WHERE users.email LIKE $1 AND users.id > $2 ORDER BY users.id DESC LIMIT $3 OFFSET $4",
        "SELECT users.id, users.email FROM users WHERE users.email LIKE ? AND users.id > ? ORDER BY users.id DESC LIMIT ? OFFSET ?",
        4);

    /* offset alone; distinct; for update */
    q = select_of(list(1, R(id)));
    with(q, AG_SEL_OFFSET, vint(5));
    q->flags = AG_SEL_DISTINCT | AG_SEL_FOR_UPDATE;
    GOLDEN3(q, "SELECT DISTINCT users.id FROM users LIMIT -1 OFFSET ?",
            "SELECT DISTINCT users.id FROM users OFFSET $1 FOR UPDATE",
            "SELECT DISTINCT users.id FROM users LIMIT 18446744073709551615 OFFSET ? FOR UPDATE", 1);

    /* IS NULL, IN, NOT IN (), BETWEEN, NOT, OR inside AND */
    q = select_of(list(1, R(id)));
    with(q, AG_SEL_WHERE,
         boolean(AG_OP_AND, 4,
                 boolean(AG_OP_OR, 2, un(AG_OP_IS_NULL, R(email)),
                         bin(AG_OP_IN, R(id), list(3, vint(1), vint(2), vint(3)))),
                 bin(AG_OP_NOT_IN, R(id), list(0)), between(R(id), vint(1), vint(9)),
                 un(AG_OP_NOT, bin(AG_OP_EQ, R(email), vstr("x")))));
    GOLDEN(
        q,
        "SELECT users.id FROM users WHERE (users.email IS NULL OR users.id IN (?, ?, ?)) AND 1 = 1 AND users.id BETWEEN ? AND ? AND NOT (users.email = ?)",
        "SELECT users.id FROM users WHERE (users.email IS NULL OR users.id IN ($1, $2, $3)) AND 1 = 1 AND users.id BETWEEN $4 AND $5 AND NOT (users.email = $6)",
        6);

    /* ILIKE differs; empty IN is false */
    q = select_of(list(1, R(id)));
    with(q, AG_SEL_WHERE, boolean(AG_OP_AND, 2, bin(AG_OP_ILIKE, R(email), vstr("A%")), bin(AG_OP_IN, R(id), list(0))));
    GOLDEN(q, "SELECT users.id FROM users WHERE lower(users.email) LIKE lower(?) AND 1 != 1",
           "SELECT users.id FROM users WHERE users.email ILIKE $1 AND 1 != 1", 1);
    ag_node_release(id);
    ag_node_release(email);
    ag_node_release(users);
}

static void test_arithmetic_and_functions(void) {
    ag_node *t = table("t");
    ag_node *a = column(t, "a", AG_TYPE_INTEGER, 0), *b = column(t, "b", AG_TYPE_INTEGER, 0),
            *c = column(t, "c", AG_TYPE_INTEGER, 0);
    /* a - (b - c), -(-a), a * (b + c), a || 'x' */
    ag_node *q = select_of(list(4, bin(AG_OP_SUB, R(a), bin(AG_OP_SUB, R(b), R(c))), un(AG_OP_NEG, un(AG_OP_NEG, R(a))),
                                bin(AG_OP_MUL, R(a), bin(AG_OP_ADD, R(b), R(c))), bin(AG_OP_CONCAT, R(a), vstr("x"))));
    GOLDEN3(q, "SELECT t.a - (t.b - t.c), -(-t.a), t.a * (t.b + t.c), t.a || ? FROM t",
            "SELECT t.a - (t.b - t.c), -(-t.a), t.a * (t.b + t.c), t.a || $1 FROM t",
            "SELECT t.a - (t.b - t.c), -(-t.a), t.a * (t.b + t.c), concat(t.a, ?) FROM t", 1);

    /* count(*), count(DISTINCT a), coalesce, current_timestamp, label, cast, case */
    ag_node *lbl = named(AG_N_LABEL, "n", func("count", 0));
    ag_node *cast = ag_node_new(AG_N_CAST, 1);
    cast->type.kind = AG_TYPE_STRING;
    cast->type.length = 20;
    own(cast, 0, R(a));
    ag_node *kase = ag_node_new(AG_N_CASE, 5);
    own(kase, 0, bin(AG_OP_GT, R(a), vint(1)));
    own(kase, 1, vstr("big"));
    own(kase, 2, bin(AG_OP_EQ, R(a), vint(1)));
    own(kase, 3, vstr("one"));
    own(kase, 4, vstr("small"));
    q = select_of(list(6, lbl, func("count", 1, un(AG_OP_DISTINCT, R(b))), func("coalesce", 2, R(c), vint(0)),
                       func("current_timestamp", 0), cast, named(AG_N_LABEL, "Size", kase)));
    with(q, AG_SEL_ORDER_BY, list(1, un(AG_OP_DESC, named(AG_N_LABEL, "n", func("count", 0)))));
    GOLDEN(
        q,
        "SELECT count(*) AS n, count(DISTINCT t.b), coalesce(t.c, ?), CURRENT_TIMESTAMP, CAST(t.a AS VARCHAR(20)), CASE WHEN t.a > ? THEN ? WHEN t.a = ? THEN ? ELSE ? END AS \"Size\" FROM t ORDER BY n DESC",
        "SELECT count(*) AS n, count(DISTINCT t.b), coalesce(t.c, $1), CURRENT_TIMESTAMP, CAST(t.a AS VARCHAR(20)), CASE WHEN t.a > $2 THEN $3 WHEN t.a = $4 THEN $5 ELSE $6 END AS \"Size\" FROM t ORDER BY n DESC",
        6);

    /* booleans as keywords */
    q = select_of(list(1, R(a)));
    with(q, AG_SEL_WHERE, bin(AG_OP_IS, R(b), keyword(AG_KW_TRUE)));
    GOLDEN(q, "SELECT t.a FROM t WHERE t.b IS 1", "SELECT t.a FROM t WHERE t.b IS true", 0);
    ag_node_release(a);
    ag_node_release(b);
    ag_node_release(c);
    ag_node_release(t);
}

static void test_quoting(void) {
    ag_node *t = table("order");
    ag_node *sel = column(t, "select", AG_TYPE_INTEGER, 0), *mixed = column(t, "Mixed Case", AG_TYPE_TEXT, 0),
            *odd = column(t, "we\"ird", AG_TYPE_TEXT, 0), *plain = column(t, "group_id", AG_TYPE_INTEGER, 0);
    ag_node *q = select_of(list(4, R(sel), R(mixed), R(odd), R(plain)));
    with(q, AG_SEL_WHERE, bin(AG_OP_EQ, R(mixed), vstr("'; DROP TABLE x; --")));
    with(q, AG_SEL_GROUP_BY, list(1, R(sel)));
    GOLDEN3(
        q,
        "SELECT \"order\".\"select\", \"order\".\"Mixed Case\", \"order\".\"we\"\"ird\", \"order\".group_id FROM \"order\" WHERE \"order\".\"Mixed Case\" = ? GROUP BY \"order\".\"select\"",
        "SELECT \"order\".\"select\", \"order\".\"Mixed Case\", \"order\".\"we\"\"ird\", \"order\".group_id FROM \"order\" WHERE \"order\".\"Mixed Case\" = $1 GROUP BY \"order\".\"select\"",
        "SELECT `order`.`select`, `order`.`Mixed Case`, `order`.`we\"ird`, `order`.group_id FROM `order` WHERE `order`.`Mixed Case` = ? GROUP BY `order`.`select`",
        1);
    ag_node_release(sel);
    ag_node_release(mixed);
    ag_node_release(odd);
    ag_node_release(plain);
    ag_node_release(t);
}

static void test_joins_and_subqueries(void) {
    ag_node *users = table("users"), *posts = table("posts");
    ag_node *uid = column(users, "id", AG_TYPE_INTEGER, 0), *uname = column(users, "name", AG_TYPE_STRING, 0);
    ag_node *pid = column(posts, "id", AG_TYPE_INTEGER, 0), *owner = column(posts, "owner_id", AG_TYPE_INTEGER, 0);
    /* join, group by, having */
    ag_node *j = ag_node_new(AG_N_JOIN, 3);
    j->op = AG_JOIN_LEFT;
    own(j, 0, R(users));
    own(j, 1, R(posts));
    own(j, 2, bin(AG_OP_EQ, R(owner), R(uid)));
    ag_node *q = select_of(list(2, R(uname), named(AG_N_LABEL, "n", func("count", 1, R(pid)))));
    with(q, AG_SEL_FROM, list(1, j));
    with(q, AG_SEL_GROUP_BY, list(1, R(uname)));
    with(q, AG_SEL_HAVING, bin(AG_OP_GT, func("count", 1, R(pid)), vint(3)));
    GOLDEN(
        q,
        "SELECT users.name, count(posts.id) AS n FROM users LEFT OUTER JOIN posts ON posts.owner_id = users.id GROUP BY users.name HAVING count(posts.id) > ?",
        "SELECT users.name, count(posts.id) AS n FROM users LEFT OUTER JOIN posts ON posts.owner_id = users.id GROUP BY users.name HAVING count(posts.id) > $1",
        1);

    /* correlated EXISTS: the inner query leaves users out of its FROM */
    ag_node *inner = select_of(list(1, R(pid)));
    with(inner, AG_SEL_WHERE, boolean(AG_OP_AND, 2, bin(AG_OP_EQ, R(owner), R(uid)), bin(AG_OP_GT, R(pid), vint(7))));
    q = select_of(list(1, R(uid)));
    with(q, AG_SEL_WHERE, boolean(AG_OP_AND, 2, bin(AG_OP_EQ, R(uname), vstr("ann")), un(AG_OP_EXISTS, inner)));
    GOLDEN(
        q,
        "SELECT users.id FROM users WHERE users.name = ? AND EXISTS (SELECT posts.id FROM posts WHERE posts.owner_id = users.id AND posts.id > ?)",
        "SELECT users.id FROM users WHERE users.name = $1 AND EXISTS (SELECT posts.id FROM posts WHERE posts.owner_id = users.id AND posts.id > $2)",
        2);

    /* a derived table with its own columns */
    ag_node *sub = select_of(list(2, R(owner), named(AG_N_LABEL, "n", func("count", 0))));
    with(sub, AG_SEL_GROUP_BY, list(1, R(owner)));
    ag_node *sq = named(AG_N_SUBQUERY, "s", sub);
    ag_node *sq_n = column(sq, "n", AG_TYPE_INTEGER, 0), *sq_owner = column(sq, "owner_id", AG_TYPE_INTEGER, 0);
    q = select_of(list(2, R(uname), R(sq_n)));
    with(q, AG_SEL_WHERE, bin(AG_OP_EQ, R(sq_owner), R(uid)));
    GOLDEN(
        q,
        "SELECT users.name, s.n FROM users, (SELECT posts.owner_id, count(*) AS n FROM posts GROUP BY posts.owner_id) AS s WHERE s.owner_id = users.id",
        "SELECT users.name, s.n FROM users, (SELECT posts.owner_id, count(*) AS n FROM posts GROUP BY posts.owner_id) AS s WHERE s.owner_id = users.id",
        0);

    /* IN (SELECT ...), UNION with ORDER BY and LIMIT */
    ag_node *ids = select_of(list(1, R(owner)));
    q = select_of(list(1, R(uname)));
    with(q, AG_SEL_WHERE, bin(AG_OP_IN, R(uid), ids));
    GOLDEN(q, "SELECT users.name FROM users WHERE users.id IN (SELECT posts.owner_id FROM posts)",
           "SELECT users.name FROM users WHERE users.id IN (SELECT posts.owner_id FROM posts)", 0);

    ag_node *a = select_of(list(1, R(uid)));
    with(a, AG_SEL_WHERE, bin(AG_OP_LT, R(uid), vint(3)));
    ag_node *b = select_of(list(1, R(pid)));
    ag_node *u = ag_node_new(AG_N_COMPOUND, 4);
    u->op = AG_COMPOUND_UNION;
    own(u, 0, list(2, a, b));
    own(u, 1, list(1, R(uid)));
    own(u, 2, vint(5));
    GOLDEN(u, "SELECT users.id FROM users WHERE users.id < ? UNION SELECT posts.id FROM posts ORDER BY id LIMIT ?",
           "SELECT users.id FROM users WHERE users.id < $1 UNION SELECT posts.id FROM posts ORDER BY id LIMIT $2", 2);

    /* a table alias */
    ag_node *alias = named(AG_N_ALIAS, "u2", R(users));
    ag_node *a_id = column(alias, "id", AG_TYPE_INTEGER, 0);
    q = select_of(list(1, R(a_id)));
    with(q, AG_SEL_WHERE, bin(AG_OP_EQ, R(a_id), R(uid)));
    GOLDEN(q, "SELECT u2.id FROM users AS u2, users WHERE u2.id = users.id",
           "SELECT u2.id FROM users AS u2, users WHERE u2.id = users.id", 0);

    ag_node *nodes[] = {users, posts, uid, uname, pid, owner, sq, sq_n, sq_owner, alias, a_id};
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) ag_node_release(nodes[i]);
}

static ag_node *insert_of(ag_node *t, ag_node *cols, ag_node *rows) {
    ag_node *n = ag_node_new(AG_N_INSERT, AG_INS_NSLOTS);
    own(n, AG_INS_TABLE, t);
    own(n, AG_INS_COLUMNS, cols);
    own(n, AG_INS_ROWS, rows);
    return n;
}

static ag_node *assign(ag_node *col, ag_node *value) {
    ag_node *n = ag_node_new(AG_N_ASSIGN, 2);
    own(n, 0, col);
    return own(n, 1, value);
}

static void test_dml(void) {
    ag_node *users = table("users");
    ag_node *id = column(users, "id", AG_TYPE_INTEGER, AG_COL_PRIMARY_KEY | AG_COL_AUTOINCREMENT),
            *email = column(users, "email", AG_TYPE_STRING, 0), *name = column(users, "name", AG_TYPE_STRING, 0);

    /* one row; the PostgreSQL form returns the key for lastrowid */
    ag_node *ins = insert_of(R(users), list(2, R(email), R(name)), list(1, list(2, vstr("a@x"), vstr("ann"))));
    own(ins, AG_INS_KEY, R(id));
    {
        ag_error err;
        const ag_compiled *c = ag_compile(ins, AG_DIALECT_POSTGRESQL, &err);
        CHECK(c && c->implicit_returning == 1 && c->ncols == 1);
        c = ag_compile(ins, AG_DIALECT_SQLITE, &err);
        CHECK(c && c->implicit_returning == 0 && c->ncols == 0);
    }
    GOLDEN(ins, "INSERT INTO users (email, name) VALUES (?, ?)",
           "INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id", 2);

    /* many rows, explicit RETURNING */
    ins = insert_of(R(users), list(2, R(email), R(name)),
                    list(2, list(2, vstr("a@x"), vstr("ann")), list(2, vstr("b@x"), keyword(AG_KW_NULL))));
    own(ins, AG_INS_RETURNING, list(2, R(id), R(email)));
    GOLDEN(ins, "INSERT INTO users (email, name) VALUES (?, ?), (?, NULL) RETURNING id, email",
           "INSERT INTO users (email, name) VALUES ($1, $2), ($3, NULL) RETURNING id, email", 3);

    /* DEFAULT VALUES */
    GOLDEN3(insert_of(R(users), list(0), list(0)), "INSERT INTO users DEFAULT VALUES",
            "INSERT INTO users DEFAULT VALUES", "INSERT INTO users () VALUES ()", 0);

    /* upserts */
    ins = insert_of(R(users), list(1, R(email)), list(1, list(1, vstr("a@x"))));
    ins->op = AG_CONFLICT_NOTHING;
    own(ins, AG_INS_CONFLICT_ON, list(1, R(email)));
    GOLDEN3(ins, "INSERT INTO users (email) VALUES (?) ON CONFLICT (email) DO NOTHING",
            "INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO NOTHING",
            "INSERT INTO users (email) VALUES (?) ON DUPLICATE KEY UPDATE email = email", 1);
    ins = insert_of(R(users), list(2, R(email), R(name)), list(1, list(2, vstr("a@x"), vstr("ann"))));
    ins->op = AG_CONFLICT_UPDATE;
    own(ins, AG_INS_CONFLICT_ON, list(1, R(email)));
    own(ins, AG_INS_CONFLICT_SET, list(1, assign(R(name), vstr("b"))));
    GOLDEN3(ins, "INSERT INTO users (email, name) VALUES (?, ?) ON CONFLICT (email) DO UPDATE SET name = ?",
            "INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET name = $3",
            "INSERT INTO users (email, name) VALUES (?, ?) ON DUPLICATE KEY UPDATE name = ?", 3);

    /* update, delete */
    ag_node *up = ag_node_new(AG_N_UPDATE, 4);
    own(up, 0, R(users));
    own(up, 1, list(2, assign(R(email), vstr("c@x")), assign(R(name), func("lower", 1, R(name)))));
    own(up, 2, bin(AG_OP_EQ, R(id), vint(3)));
    own(up, 3, list(1, R(id)));
    GOLDEN(up, "UPDATE users SET email = ?, name = lower(users.name) WHERE users.id = ? RETURNING id",
           "UPDATE users SET email = $1, name = lower(users.name) WHERE users.id = $2 RETURNING id", 2);
    ag_node *del = ag_node_new(AG_N_DELETE, 3);
    own(del, 0, R(users));
    own(del, 1, bin(AG_OP_EQ, R(id), vint(3)));
    GOLDEN(del, "DELETE FROM users WHERE users.id = ?", "DELETE FROM users WHERE users.id = $1", 1);
    ag_node_release(id);
    ag_node_release(email);
    ag_node_release(name);
    ag_node_release(users);
}

static void test_ddl(void) {
    ag_node *users = table("users");
    ag_node *id = column(users, "id", AG_TYPE_INTEGER, AG_COL_PRIMARY_KEY | AG_COL_AUTOINCREMENT);
    ag_node *email = column(users, "email", AG_TYPE_STRING, AG_COL_NOT_NULL | AG_COL_UNIQUE);
    email->type.length = 128;
    ag_node *status = column(users, "status", AG_TYPE_STRING, 0);
    own(status, 1, vstr("it's new"));
    ag_node *created = column(users, "created_at", AG_TYPE_DATETIME, 0);
    own(created, 1, func("current_timestamp", 0));
    ag_node *data = column(users, "data", AG_TYPE_JSON, 0);
    ag_node *blob = column(users, "Blob", AG_TYPE_BINARY, 0);
    ag_node *ct = ag_node_new(AG_N_CREATE_TABLE, 3);
    own(ct, 0, R(users));
    own(ct, 1, list(6, R(id), R(email), R(status), R(created), R(data), R(blob)));
    ag_node *check = ag_node_new(AG_N_CONSTRAINT, 4);
    check->op = AG_CONS_CHECK;
    own(check, 3, text("length(email) > 3"));
    own(ct, 2, list(1, check));
    GOLDEN3(
        ct,
        "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(128) NOT NULL, status VARCHAR DEFAULT 'it''s new', created_at DATETIME DEFAULT CURRENT_TIMESTAMP, data JSON, \"Blob\" BLOB, UNIQUE (email), CHECK (length(email) > 3))",
        "CREATE TABLE users (id SERIAL NOT NULL, email VARCHAR(128) NOT NULL, status VARCHAR DEFAULT 'it''s new', created_at TIMESTAMP WITHOUT TIME ZONE DEFAULT CURRENT_TIMESTAMP, data JSON, \"Blob\" BYTEA, PRIMARY KEY (id), UNIQUE (email), CHECK (length(email) > 3))",
        "CREATE TABLE users (id INTEGER NOT NULL AUTO_INCREMENT, email VARCHAR(128) NOT NULL, status VARCHAR(255) DEFAULT 'it''s new', created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP, data JSON, `Blob` LONGBLOB, PRIMARY KEY (id), UNIQUE (email), CHECK (length(email) > 3))",
        0);

    /* a child with a composite key and a foreign key */
    ag_node *posts = table("group");
    ag_node *a = column(posts, "a", AG_TYPE_BIGINT, AG_COL_PRIMARY_KEY),
            *b = column(posts, "b", AG_TYPE_INTEGER, AG_COL_PRIMARY_KEY);
    ag_node *owner = column(posts, "owner_id", AG_TYPE_INTEGER, 0);
    ag_node *fk = ag_node_new(AG_N_CONSTRAINT, 4);
    fk->op = AG_CONS_FOREIGN_KEY;
    fk->flags = AG_FK_CASCADE | (AG_FK_SET_NULL << 4);
    own(fk, 0, list(1, R(owner)));
    own(fk, 1, R(users));
    own(fk, 2, list(1, column(NULL, "id", 0, 0)));
    ct = ag_node_new(AG_N_CREATE_TABLE, 3);
    ct->flags = AG_DDL_IF_NOT_EXISTS;
    own(ct, 0, R(posts));
    own(ct, 1, list(3, R(a), R(b), R(owner)));
    own(ct, 2, list(1, fk));
    GOLDEN(
        ct,
        "CREATE TABLE IF NOT EXISTS \"group\" (a BIGINT NOT NULL, b INTEGER NOT NULL, owner_id INTEGER, PRIMARY KEY (a, b), FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL)",
        "CREATE TABLE IF NOT EXISTS \"group\" (a BIGINT NOT NULL, b INTEGER NOT NULL, owner_id INTEGER, PRIMARY KEY (a, b), FOREIGN KEY(owner_id) REFERENCES users (id) ON DELETE CASCADE ON UPDATE SET NULL)",
        0);

    ag_node *ix = ag_node_new(AG_N_CREATE_INDEX, 2);
    ag_node_set_name(ix, "ix_users_email", 14);
    ix->flags = AG_DDL_UNIQUE;
    own(ix, 0, R(users));
    own(ix, 1, list(1, R(email)));
    GOLDEN(ix, "CREATE UNIQUE INDEX ix_users_email ON users (email)",
           "CREATE UNIQUE INDEX ix_users_email ON users (email)", 0);
    ag_node *drop = ag_node_new(AG_N_DROP_TABLE, 1);
    own(drop, 0, R(posts));
    GOLDEN(drop, "DROP TABLE \"group\"", "DROP TABLE \"group\"", 0);

    /* a server default that cannot be a literal */
    ag_node *bad = column(users, "bad", AG_TYPE_TEXT, 0);
    own(bad, 1, vtext("a\0b", 3));
    ct = ag_node_new(AG_N_CREATE_TABLE, 3);
    own(ct, 0, R(users));
    own(ct, 1, list(1, bad));
    expect_error(__LINE__, ct, AG_ERR_ARGUMENT, "NUL");

    ag_node *nodes[] = {users, id, email, status, created, data, blob, posts, a, b, owner};
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) ag_node_release(nodes[i]);
}

static ag_node *alter(int op, ag_node *t, ag_node *operand, const char *name, int flags) {
    ag_node *n = ag_node_new(AG_N_ALTER_TABLE, 2);
    n->op = (uint8_t)op;
    n->flags = (uint16_t)flags;
    if (name) ag_node_set_name(n, name, strlen(name));
    own(n, 0, t);
    return own(n, 1, operand);
}

/* A column with a third kid: its type as the database names it. */
static ag_node *typed_column(const char *name, int kind, int flags, ag_node *type_node) {
    ag_node *n = ag_node_new(AG_N_COLUMN, 3);
    ag_node_set_name(n, name, strlen(name));
    n->type.kind = (uint8_t)kind;
    n->flags = (uint16_t)flags;
    return own(n, 2, type_node);
}

static ag_node *constraint(int kind, const char *name) {
    ag_node *k = ag_node_new(AG_N_CONSTRAINT, 4);
    k->op = (uint8_t)kind;
    if (name) ag_node_set_name(k, name, strlen(name));
    return k;
}

/* ALTER TABLE in each dialect, enum types, named keys, declared types as text. */
static void test_alter(void) {
    ag_node *posts = table("posts");
    ag_node *views = column(NULL, "views", AG_TYPE_INTEGER, AG_COL_NOT_NULL);
    own(views, 1, vint(0));
    GOLDEN3(alter(AG_ALTER_ADD_COLUMN, R(posts), R(views), NULL, 0),
            "ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0 NOT NULL",
            "ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0 NOT NULL",
            "ALTER TABLE posts ADD COLUMN views INTEGER DEFAULT 0 NOT NULL", 0);
    GOLDEN3(alter(AG_ALTER_DROP_COLUMN, R(posts), R(views), NULL, 0), "ALTER TABLE posts DROP COLUMN views",
            "ALTER TABLE posts DROP COLUMN views", "ALTER TABLE posts DROP COLUMN views", 0);
    GOLDEN3(alter(AG_ALTER_RENAME_COLUMN, R(posts), R(views), "hits", 0),
            "ALTER TABLE posts RENAME COLUMN views TO hits", "ALTER TABLE posts RENAME COLUMN views TO hits",
            "ALTER TABLE posts RENAME COLUMN views TO hits", 0);
    GOLDEN3(alter(AG_ALTER_RENAME_TABLE, R(posts), NULL, "articles", 0), "ALTER TABLE posts RENAME TO articles",
            "ALTER TABLE posts RENAME TO articles", "ALTER TABLE posts RENAME TO articles", 0);

    /* a column changed: each part on PostgreSQL, MODIFY COLUMN on MariaDB; SQLite cannot */
    ag_node *title = column(NULL, "title", AG_TYPE_STRING, AG_COL_NOT_NULL);
    title->type.length = 300;
    own(title, 1, vstr("untitled"));
    int all = AG_ALTER_SET_TYPE | AG_ALTER_SET_NULLABLE | AG_ALTER_SET_DEFAULT;
    GOLDEN3(alter(AG_ALTER_COLUMN, R(posts), R(title), NULL, all), NULL,
            "ALTER TABLE posts ALTER COLUMN title TYPE VARCHAR(300) USING title::VARCHAR(300), "
            "ALTER COLUMN title SET NOT NULL, ALTER COLUMN title SET DEFAULT 'untitled'",
            "ALTER TABLE posts MODIFY COLUMN title VARCHAR(300) DEFAULT 'untitled' NOT NULL", 0);
    ag_node *bare = column(NULL, "title", AG_TYPE_STRING, 0);
    GOLDEN3(alter(AG_ALTER_COLUMN, R(posts), R(bare), NULL, AG_ALTER_SET_DEFAULT | AG_ALTER_SET_NULLABLE), NULL,
            "ALTER TABLE posts ALTER COLUMN title DROP NOT NULL, ALTER COLUMN title DROP DEFAULT",
            "ALTER TABLE posts MODIFY COLUMN title VARCHAR(255)", 0);
    GOLDEN3(alter(AG_ALTER_COLUMN, R(posts), R(title), NULL, AG_ALTER_SET_DEFAULT), NULL,
            "ALTER TABLE posts ALTER COLUMN title SET DEFAULT 'untitled'",
            "ALTER TABLE posts ALTER COLUMN title SET DEFAULT 'untitled'", 0);
    expect_error(__LINE__, alter(AG_ALTER_COLUMN, R(posts), R(title), NULL, AG_ALTER_SET_TYPE), AG_ERR_NOT_SUPPORTED,
                 "rebuilds the table");
    expect_error(__LINE__, alter(AG_ALTER_COLUMN, R(posts), R(title), NULL, 0), AG_ERR_ARGUMENT, "changes nothing");

    /* constraints added and dropped by name */
    ag_node *uq = constraint(AG_CONS_UNIQUE, "uq_posts_title");
    own(uq, 0, list(1, R(title)));
    GOLDEN3(alter(AG_ALTER_ADD_CONSTRAINT, R(posts), R(uq), NULL, 0), NULL,
            "ALTER TABLE posts ADD CONSTRAINT uq_posts_title UNIQUE (title)",
            "ALTER TABLE posts ADD CONSTRAINT uq_posts_title UNIQUE (title)", 0);
    ag_node *fk = constraint(AG_CONS_FOREIGN_KEY, "fk_posts_owner_id_users");
    fk->flags = AG_FK_CASCADE;
    own(fk, 0, list(1, column(NULL, "owner_id", 0, 0)));
    own(fk, 1, table("users"));
    own(fk, 2, list(1, column(NULL, "id", 0, 0)));
    GOLDEN3(alter(AG_ALTER_ADD_CONSTRAINT, R(posts), R(fk), NULL, 0), NULL,
            "ALTER TABLE posts ADD CONSTRAINT fk_posts_owner_id_users FOREIGN KEY(owner_id) "
            "REFERENCES users (id) ON DELETE CASCADE",
            "ALTER TABLE posts ADD CONSTRAINT fk_posts_owner_id_users FOREIGN KEY(owner_id) "
            "REFERENCES users (id) ON DELETE CASCADE",
            0);
    GOLDEN3(alter(AG_ALTER_DROP_CONSTRAINT, R(posts), R(fk), NULL, 0), NULL,
            "ALTER TABLE posts DROP CONSTRAINT fk_posts_owner_id_users",
            "ALTER TABLE posts DROP FOREIGN KEY fk_posts_owner_id_users", 0);
    GOLDEN3(alter(AG_ALTER_DROP_CONSTRAINT, R(posts), R(uq), NULL, 0), NULL,
            "ALTER TABLE posts DROP CONSTRAINT uq_posts_title", "ALTER TABLE posts DROP INDEX uq_posts_title", 0);
    GOLDEN3(alter(AG_ALTER_DROP_CONSTRAINT, R(posts), constraint(AG_CONS_CHECK, "ck_x"), NULL, 0), NULL,
            "ALTER TABLE posts DROP CONSTRAINT ck_x", "ALTER TABLE posts DROP CONSTRAINT ck_x", 0);
    expect_error(__LINE__, alter(AG_ALTER_ADD_CONSTRAINT, R(posts), R(uq), NULL, 0), AG_ERR_NOT_SUPPORTED,
                 "constraint");
    expect_error(__LINE__, alter(AG_ALTER_DROP_CONSTRAINT, R(posts), constraint(AG_CONS_CHECK, NULL), NULL, 0),
                 AG_ERR_ARGUMENT, "name");
    expect_error(__LINE__, alter(AG_ALTER_ADD_COLUMN, R(posts), NULL, NULL, 0), AG_ERR_ARGUMENT, "needs a column");
    expect_error(__LINE__, alter(99, R(posts), NULL, NULL, 0), AG_ERR_ARGUMENT, "unknown ALTER");

    /* enum types: PostgreSQL's own; elsewhere the column is a VARCHAR */
    ag_node *mood = ag_node_new(AG_N_CREATE_TYPE, 1);
    ag_node_set_name(mood, "Mood", 4);
    own(mood, 0, list(2, vstr("ok"), vstr("it's bad")));
    ag_node *drop_type = ag_node_new(AG_N_DROP_TYPE, 0);
    ag_node_set_name(drop_type, "mood", 4);
    drop_type->flags = AG_DDL_IF_EXISTS;
    ag_node *add_value = named(AG_N_ALTER_TYPE, "mood", vstr("meh"));
    GOLDEN(R(mood), NULL, "CREATE TYPE \"Mood\" AS ENUM ('ok', 'it''s bad')", 0);
    GOLDEN(drop_type, NULL, "DROP TYPE IF EXISTS mood", 0);
    GOLDEN(add_value, NULL, "ALTER TYPE mood ADD VALUE 'meh'", 0);
    expect_error(__LINE__, R(mood), AG_ERR_NOT_SUPPORTED, "no enum types");
    ag_node *feeling = typed_column("feeling", AG_TYPE_ENUM, 0, R(mood));
    feeling->type.length = 8;
    ag_node *declared = typed_column("amount", AG_TYPE_NUMERIC, 0, text("NUMERIC_TEXT(20, 2)"));
    ag_node *pk = constraint(AG_CONS_PRIMARY_KEY, "pk_moods");
    ag_node *id = column(NULL, "id", AG_TYPE_INTEGER, AG_COL_PRIMARY_KEY | AG_COL_AUTOINCREMENT);
    own(pk, 0, list(1, R(id)));
    ag_node *ct = ag_node_new(AG_N_CREATE_TABLE, 3);
    own(ct, 0, table("moods"));
    own(ct, 1, list(3, R(id), R(feeling), R(declared)));
    own(ct, 2, list(1, R(pk)));
    GOLDEN3(ct,
            "CREATE TABLE moods (id INTEGER NOT NULL PRIMARY KEY, feeling VARCHAR(8), amount "
            "NUMERIC_TEXT(20, 2))",
            "CREATE TABLE moods (id SERIAL NOT NULL, feeling \"Mood\", amount NUMERIC_TEXT(20, 2), "
            "CONSTRAINT pk_moods PRIMARY KEY (id))",
            "CREATE TABLE moods (id INTEGER NOT NULL AUTO_INCREMENT, feeling VARCHAR(8), amount "
            "NUMERIC_TEXT(20, 2), CONSTRAINT pk_moods PRIMARY KEY (id))",
            0);

    /* the parts of a column's DDL, for schema comparison */
    char *type_sql, *default_sql;
    ag_error err;
    CHECK(ag_compile_column_parts(title, &ag_sql_dialect_postgresql, &type_sql, &default_sql, &err) == 0);
    CHECK_STR(type_sql, "VARCHAR(300)");
    CHECK_STR(default_sql, "'untitled'");
    free(type_sql);
    free(default_sql);
    CHECK(ag_compile_column_parts(feeling, &ag_sql_dialect_postgresql, &type_sql, &default_sql, &err) == 0);
    CHECK_STR(type_sql, "\"Mood\"");
    CHECK(default_sql == NULL);
    free(type_sql);
    CHECK(ag_compile_column_parts(id, &ag_sql_dialect_postgresql, &type_sql, &default_sql, &err) == 0);
    CHECK_STR(type_sql, "SERIAL");
    free(type_sql);
    CHECK(ag_compile_column_parts(posts, &ag_sql_dialect_postgresql, &type_sql, &default_sql, &err) == -1);
    CHECK(type_sql == NULL && err.kind == AG_ERR_ARGUMENT);

    ag_node *nodes[] = {posts, views, title, bare, uq, fk, mood, feeling, declared, pk, id};
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) ag_node_release(nodes[i]);
}

/* Values travel as parameters, byte for byte; the SQL never holds them. */
static void test_values_never_in_sql(void) {
    static const char *const hostile[] = {
        "'; DROP TABLE users; --", "?", ":name", "$1", "%", "\"quoted\"", "-- comment", "/* c */", "x' OR '1'='1"};
    size_t big_len = 100 * 1024;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = "a'?:$\"-;%"[i % 9];
    const char nul[] = {'a', '\0', 'b', '\'', '\0'};
    ag_node *t = table("Mixed Case");
    ag_node *col = column(t, "order", AG_TYPE_TEXT, 0);
    size_t n = sizeof hostile / sizeof *hostile;
    ag_node *in = ag_node_new(AG_N_LIST, (int)n + 2);
    for (size_t i = 0; i < n; i++) own(in, (int)i, vstr(hostile[i]));
    own(in, (int)n, vtext(big, big_len));
    own(in, (int)n + 1, vtext(nul, sizeof nul));
    ag_node *q = select_of(list(1, R(col)));
    with(q, AG_SEL_WHERE, bin(AG_OP_IN, R(col), in));
    for (int d = 0; d < 2; d++) {
        ag_error err;
        const ag_compiled *c = ag_compile(q, d ? AG_DIALECT_POSTGRESQL : AG_DIALECT_SQLITE, &err);
        CHECK(c != NULL);
        if (!c) continue;
        CHECK_INT(c->nparams, n + 2);
        for (size_t i = 0; i < n; i++) {
            /* ("$1" is PostgreSQL's own placeholder) */
            if (strlen(hostile[i]) > 1 && !(d && strcmp(hostile[i], "$1") == 0))
                CHECK(strstr(c->sql, hostile[i]) == NULL);
        }
        CHECK(c->len < 300);
        CHECK_INT(c->params[n]->value.u.bytes.len, big_len);
        CHECK(memcmp(c->params[n]->value.u.bytes.data, big, big_len) == 0);
        CHECK_INT(c->params[n + 1]->value.u.bytes.len, sizeof nul);
        CHECK(memcmp(c->params[n + 1]->value.u.bytes.data, nul, sizeof nul) == 0);
        CHECK_STR(
            c->sql,
            d ? "SELECT \"Mixed Case\".\"order\" FROM \"Mixed Case\" WHERE \"Mixed Case\".\"order\" IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
              : "SELECT \"Mixed Case\".\"order\" FROM \"Mixed Case\" WHERE \"Mixed Case\".\"order\" IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    }
    ag_node_release(q);
    ag_node_release(col);
    ag_node_release(t);
    free(big);
}

static void test_cache_and_errors(void) {
    ag_node *t = table("t");
    ag_node *a = column(t, "a", AG_TYPE_INTEGER, 0);
    ag_node *q = select_of(list(1, R(a)));
    ag_error err;
    const ag_compiled *c1 = ag_compile(q, AG_DIALECT_SQLITE, &err);
    const ag_compiled *c2 = ag_compile(q, AG_DIALECT_SQLITE, &err);
    const ag_compiled *c3 = ag_compile(q, AG_DIALECT_POSTGRESQL, &err);
    CHECK(c1 && c1 == c2 && c3 && c3 != c1);
    CHECK(ag_compile(q, AG_DIALECT_MARIADB, &err) != NULL);
    CHECK(ag_compile(q, AG_DIALECT_COUNT, &err) == NULL && err.kind == AG_ERR_NOT_SUPPORTED);
    CHECK(c1 && c1->ncols == 1 && c1->col_types[0].kind == AG_TYPE_INTEGER);
    ag_node_release(q);

    expect_error(__LINE__, select_of(list(0)), AG_ERR_ARGUMENT, "at least one column");
    /* nesting deeper than the limit: an error, not a stack overflow */
    ag_node *deep = R(a);
    for (int i = 0; i < 5000; i++) deep = un(AG_OP_NOT, deep);
    expect_error(__LINE__, select_of(list(1, deep)), AG_ERR_ARGUMENT, "nested too deeply");
    ag_node *upd = ag_node_new(AG_N_UPDATE, 4);
    own(upd, 0, R(t));
    expect_error(__LINE__, upd, AG_ERR_ARGUMENT, "UPDATE needs values");
    ag_node_release(a);
    ag_node_release(t);
}

int main(void) {
    test_select_basics();
    test_arithmetic_and_functions();
    test_quoting();
    test_joins_and_subqueries();
    test_dml();
    test_ddl();
    test_alter();
    test_values_never_in_sql();
    test_cache_and_errors();
    CHECK_DONE();
}
