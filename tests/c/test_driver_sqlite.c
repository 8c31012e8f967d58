/*
 * test_driver_sqlite.c -- ag_driver_sqlite against real SQLite databases: a
 * temporary file under /tmp (removed afterwards) and :memory:.  Every check
 * that does not depend on the kind of database runs on both.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "driver/driver.h"

static const ag_driver *drv = &ag_driver_sqlite;

/* ---------------------------------------------------------------- helpers */

static int open_db(const char *path, const ag_url_param *args, size_t nargs, const char *isolation,
                   ag_driver_conn **conn, ag_error *err) {
    ag_url url;
    memset(&url, 0, sizeof url);
    url.drivername = "sqlite";
    url.dialect = AG_DIALECT_SQLITE;
    url.database = (char *)path;
    ag_connect_params p = {&url, args, nargs, isolation, 0};
    ag_error_clear(err);
    return drv->connect(&p, conn, err);
}

static ag_driver_conn *connect_ok(const char *path) {
    ag_driver_conn *conn = NULL;
    ag_error err;
    int rc = open_db(path, NULL, 0, NULL, &conn, &err);
    CHECK_INT(rc, 0);
    if (rc) fprintf(stderr, "  connect: %s\n", err.message);
    return conn;
}

static void exec_ok(ag_driver_conn *conn, const char *sql) {
    ag_error err;
    ag_error_clear(&err);
    int rc = drv->exec_simple(conn, sql, &err);
    CHECK_INT(rc, 0);
    if (rc) fprintf(stderr, "  exec_simple(%s): %s\n", sql, err.message);
}

static ag_driver_stmt *prepare_ok(ag_driver_conn *conn, const char *sql) {
    ag_driver_stmt *st = NULL;
    ag_error err;
    ag_error_clear(&err);
    int rc = drv->prepare(conn, sql, strlen(sql), &st, &err);
    CHECK_INT(rc, 0);
    if (rc) fprintf(stderr, "  prepare(%s): %s\n", sql, err.message);
    return st;
}

static int execute(ag_driver_stmt *st, const ag_value *params, int n, ag_error *err) {
    ag_error_clear(err);
    return drv->execute(st, params, n, err);
}

/* Prepares, executes and finalizes sql with params; 0 or -1 with err. */
static int run(ag_driver_conn *conn, const char *sql, const ag_value *params, int n, ag_error *err) {
    ag_driver_stmt *st = NULL;
    ag_error_clear(err);
    if (drv->prepare(conn, sql, strlen(sql), &st, err)) return -1;
    int rc = drv->execute(st, params, n, err);
    drv->finalize(st);
    return rc;
}

/* The single integer that sql (no parameters) returns. */
static int64_t query_int(ag_driver_conn *conn, const char *sql) {
    ag_driver_stmt *st = prepare_ok(conn, sql);
    if (!st) return INT64_MIN;
    ag_error err;
    int64_t result = INT64_MIN;
    ag_value v;
    if (execute(st, NULL, 0, &err) == 0 && drv->fetch(st, &err) == 1) {
        drv->column_value(st, 0, &v);
        if (v.type == AG_VALUE_INTEGER) result = v.u.integer;
    }
    drv->finalize(st);
    return result;
}

static ag_value v_null(void) {
    ag_value v = {.type = AG_VALUE_NULL};
    return v;
}
static ag_value v_int(int64_t i) {
    ag_value v = {.type = AG_VALUE_INTEGER, .u.integer = i};
    return v;
}
static ag_value v_float(double d) {
    ag_value v = {.type = AG_VALUE_FLOAT, .u.number = d};
    return v;
}
static ag_value v_bool(int b) {
    ag_value v = {.type = AG_VALUE_BOOLEAN, .u.boolean = b};
    return v;
}
static ag_value v_bytes(ag_value_type t, const char *s, size_t n) {
    ag_value v = {.type = t};
    v.u.bytes.data = s;
    v.u.bytes.len = n;
    return v;
}
static ag_value v_text(const char *s) { return v_bytes(AG_VALUE_TEXT, s, strlen(s)); }

static int bytes_equal(const ag_value *v, ag_value_type t, const char *s, size_t n) {
    return v->type == t && v->u.bytes.len == n && v->u.bytes.data != NULL && memcmp(v->u.bytes.data, s, n) == 0;
}

/* ------------------------------------------------------------ the checks */

static void test_types(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, "
                  "flag BOOLEAN, n INTEGER)");
    ag_driver_stmt *ins = prepare_ok(conn, "INSERT INTO t (i, f, s, b, flag, n) VALUES (?, ?, ?, ?, ?, ?)");
    if (!ins) return;
    CHECK_INT(drv->param_count(ins), 6);
    CHECK_INT(drv->column_count(ins), 0);
    ag_error err;
    ag_value p[6];
    p[0] = v_int(INT64_MAX);
    p[1] = v_float(1.5);
    p[2] = v_text("hello");
    p[3] = v_bytes(AG_VALUE_BLOB, "\x01\x02\xff", 3);
    p[4] = v_bool(1);
    p[5] = v_null();
    CHECK_INT(execute(ins, p, 6, &err), 0);
    CHECK_INT(drv->rows_affected(ins), 1);
    int64_t id = 0;
    CHECK_INT(drv->last_insert_id(ins, &id), 0);
    CHECK_INT(id, 1);

    /* Second row: zeros inside text and blob, empty text and blob, false, INT64_MIN. */
    static const char ztext[] = "a\0b\0c";
    static const char zblob[] = "\0\0x\0";
    p[0] = v_int(INT64_MIN);
    p[1] = v_float(-2.25);
    p[2] = v_bytes(AG_VALUE_TEXT, ztext, 5);
    p[3] = v_bytes(AG_VALUE_BLOB, zblob, 4);
    p[4] = v_bool(0);
    p[5] = v_int(0);
    CHECK_INT(execute(ins, p, 6, &err), 0);
    CHECK_INT(drv->last_insert_id(ins, &id), 0);
    CHECK_INT(id, 2);
    /* Third row: empty text and empty blob stay text and blob, not NULL. */
    p[2] = v_bytes(AG_VALUE_TEXT, "", 0);
    p[3] = v_bytes(AG_VALUE_BLOB, NULL, 0);
    p[4] = v_null();
    p[5] = v_int(1); /* an INTEGER column keeps 1 as an integer */
    CHECK_INT(execute(ins, p, 6, &err), 0);
    drv->finalize(ins);

    CHECK_INT(query_int(conn, "SELECT typeof(s) = 'text' AND typeof(b) = 'blob' FROM t WHERE id = 3"), 1);

    ag_driver_stmt *sel = prepare_ok(conn, "SELECT id, i, f, s, b, flag, n FROM t ORDER BY id");
    if (!sel) return;
    CHECK_INT(drv->param_count(sel), 0);
    CHECK_INT(drv->column_count(sel), 7);
    CHECK_STR(drv->column_name(sel, 0), "id");
    CHECK_STR(drv->column_name(sel, 5), "flag");
    CHECK(drv->column_name(sel, 7) == NULL);
    CHECK_INT(execute(sel, NULL, 0, &err), 0);
    CHECK_INT(drv->rows_affected(sel), -1);
    CHECK_INT(drv->last_insert_id(sel, &id), -1);
    ag_value v;

    CHECK_INT(drv->fetch(sel, &err), 1);
    drv->column_value(sel, 1, &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == INT64_MAX);
    drv->column_value(sel, 2, &v);
    CHECK(v.type == AG_VALUE_FLOAT && v.u.number == 1.5);
    drv->column_value(sel, 3, &v);
    CHECK(bytes_equal(&v, AG_VALUE_TEXT, "hello", 5));
    drv->column_value(sel, 4, &v);
    CHECK(bytes_equal(&v, AG_VALUE_BLOB, "\x01\x02\xff", 3));
    drv->column_value(sel, 5, &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 1);
    drv->column_value(sel, 6, &v);
    CHECK(v.type == AG_VALUE_NULL);
    drv->column_value(sel, 99, &v); /* out of range reads as NULL, never out of bounds */
    CHECK(v.type == AG_VALUE_NULL);

    CHECK_INT(drv->fetch(sel, &err), 1);
    drv->column_value(sel, 1, &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == INT64_MIN);
    drv->column_value(sel, 2, &v);
    CHECK(v.type == AG_VALUE_FLOAT && v.u.number == -2.25);
    drv->column_value(sel, 3, &v);
    CHECK(bytes_equal(&v, AG_VALUE_TEXT, ztext, 5));
    drv->column_value(sel, 4, &v);
    CHECK(bytes_equal(&v, AG_VALUE_BLOB, zblob, 4));
    drv->column_value(sel, 5, &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 0);
    drv->column_value(sel, 6, &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 0);

    CHECK_INT(drv->fetch(sel, &err), 1);
    drv->column_value(sel, 3, &v);
    CHECK(bytes_equal(&v, AG_VALUE_TEXT, "", 0));
    drv->column_value(sel, 4, &v);
    CHECK(bytes_equal(&v, AG_VALUE_BLOB, "", 0));
    drv->column_value(sel, 5, &v);
    CHECK(v.type == AG_VALUE_NULL); /* NULL in a BOOLEAN column stays NULL */
    drv->column_value(sel, 6, &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 1);

    CHECK_INT(drv->fetch(sel, &err), 0);
    CHECK_INT(drv->fetch(sel, &err), 0); /* stays finished; no auto-restart */
    drv->finalize(sel);

    /* Booleans by declared type, case-insensitively; expressions have none. */
    exec_ok(conn, "CREATE TABLE flags (a bool, b Boolean, c INT)");
    exec_ok(conn, "INSERT INTO flags VALUES (1, 0, 1)");
    sel = prepare_ok(conn, "SELECT a, b, c, a + 0 FROM flags");
    if (!sel) return;
    CHECK_INT(execute(sel, NULL, 0, &err), 0);
    CHECK_INT(drv->fetch(sel, &err), 1);
    drv->column_value(sel, 0, &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 1);
    drv->column_value(sel, 1, &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 0);
    drv->column_value(sel, 2, &v);
    CHECK(v.type == AG_VALUE_INTEGER);
    drv->column_value(sel, 3, &v);
    CHECK(v.type == AG_VALUE_INTEGER);
    drv->finalize(sel);
}

static void test_big_and_utf8(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE big (s TEXT, b BLOB)");
    size_t n = 100 * 1024;
    char *text = malloc(n);
    char *blob = malloc(n);
    if (!text || !blob) {
        CHECK(0);
        free(text);
        free(blob);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        text[i] = (char)('a' + i % 26);
        blob[i] = (char)(i * 7);
    }
    ag_value p[2] = {v_bytes(AG_VALUE_TEXT, text, n), v_bytes(AG_VALUE_BLOB, blob, n)};
    ag_error err;
    CHECK_INT(run(conn, "INSERT INTO big VALUES (?, ?)", p, 2, &err), 0);
    static const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac";
    p[0] = v_text(utf8);
    p[1] = v_null();
    CHECK_INT(run(conn, "INSERT INTO big VALUES (?, ?)", p, 2, &err), 0);

    ag_driver_stmt *sel = prepare_ok(conn, "SELECT s, b, length(s) FROM big ORDER BY rowid");
    if (sel) {
        ag_value v;
        CHECK_INT(execute(sel, NULL, 0, &err), 0);
        CHECK_INT(drv->fetch(sel, &err), 1);
        drv->column_value(sel, 0, &v);
        CHECK(bytes_equal(&v, AG_VALUE_TEXT, text, n));
        drv->column_value(sel, 1, &v);
        CHECK(bytes_equal(&v, AG_VALUE_BLOB, blob, n));
        CHECK_INT(drv->fetch(sel, &err), 1);
        drv->column_value(sel, 0, &v);
        CHECK(bytes_equal(&v, AG_VALUE_TEXT, utf8, strlen(utf8)));
        drv->column_value(sel, 2, &v); /* SQLite counts characters: the text arrived as UTF-8 */
        CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 18);
        drv->finalize(sel);
    }
    free(text);
    free(blob);
}

static void test_rows_affected(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE r (id INTEGER PRIMARY KEY, k INTEGER, name TEXT UNIQUE)");
    ag_error err;
    ag_driver_stmt *ins = prepare_ok(conn, "INSERT INTO r (k) VALUES (?), (?), (?)");
    if (!ins) return;
    ag_value p[3] = {v_int(1), v_int(2), v_int(3)};
    CHECK_INT(execute(ins, p, 3, &err), 0);
    CHECK_INT(drv->rows_affected(ins), 3);
    int64_t id = 0;
    CHECK_INT(drv->last_insert_id(ins, &id), 0);
    CHECK_INT(id, 3);
    drv->finalize(ins);

    ag_driver_stmt *upd = prepare_ok(conn, "UPDATE r SET k = k + 10 WHERE k >= ?");
    if (upd) {
        p[0] = v_int(2);
        CHECK_INT(execute(upd, p, 1, &err), 0);
        CHECK_INT(drv->rows_affected(upd), 2);
        CHECK_INT(drv->last_insert_id(upd, &id), -1);
        p[0] = v_int(1000);
        CHECK_INT(execute(upd, p, 1, &err), 0);
        CHECK_INT(drv->rows_affected(upd), 0);
        drv->finalize(upd);
    }
    ag_driver_stmt *del = prepare_ok(conn, "DELETE FROM r WHERE k > 10");
    if (del) {
        CHECK_INT(execute(del, NULL, 0, &err), 0);
        CHECK_INT(drv->rows_affected(del), 2);
        drv->finalize(del);
    }
    /* DDL is not DML: -1, not the previous statement's count. */
    ag_driver_stmt *ddl = prepare_ok(conn, "CREATE TABLE r2 (x)");
    if (ddl) {
        CHECK_INT(execute(ddl, NULL, 0, &err), 0);
        CHECK_INT(drv->rows_affected(ddl), -1);
        drv->finalize(ddl);
    }
    /* An INSERT that inserts nothing has no id, and leaves SQL's last_insert_rowid() alone. */
    ag_driver_stmt *one = prepare_ok(conn, "INSERT INTO r (id, k, name) VALUES (?, 0, 'x')");
    ag_driver_stmt *ign = prepare_ok(conn, "INSERT OR IGNORE INTO r (name) VALUES ('x')");
    if (one && ign) {
        p[0] = v_int(42);
        CHECK_INT(execute(one, p, 1, &err), 0);
        CHECK_INT(drv->last_insert_id(one, &id), 0);
        CHECK_INT(id, 42);
        CHECK_INT(execute(ign, NULL, 0, &err), 0);
        CHECK_INT(drv->rows_affected(ign), 0);
        CHECK_INT(drv->last_insert_id(ign, &id), -1);
        CHECK_INT(query_int(conn, "SELECT last_insert_rowid()"), 42);
    }
    drv->finalize(one);
    drv->finalize(ign);
    /* An upsert that updates inserted nothing either. */
    ag_driver_stmt *ups = prepare_ok(conn, "INSERT INTO r (name, k) VALUES ('x', 5) "
                                           "ON CONFLICT (name) DO UPDATE SET k = excluded.k");
    if (ups) {
        CHECK_INT(execute(ups, NULL, 0, &err), 0);
        CHECK_INT(drv->rows_affected(ups), 1);
        CHECK_INT(drv->last_insert_id(ups, &id), -1);
        drv->finalize(ups);
    }
    /* REPLACE, comments before the keyword, and WITH ... DELETE. */
    ag_driver_stmt *rep = prepare_ok(conn, "  /* c */ -- line\n replace INTO r (id, k) VALUES (7, 7)");
    if (rep) {
        CHECK_INT(execute(rep, NULL, 0, &err), 0);
        CHECK_INT(drv->last_insert_id(rep, &id), 0);
        CHECK_INT(id, 7);
        drv->finalize(rep);
    }
    ag_driver_stmt *with = prepare_ok(conn, "WITH doomed AS (SELECT 7 AS id) DELETE FROM r WHERE id IN doomed");
    if (with) {
        CHECK_INT(execute(with, NULL, 0, &err), 0);
        CHECK_INT(drv->rows_affected(with), 1);
        drv->finalize(with);
    }
    /* RETURNING: the id right away, the count once every row is read. */
    ag_driver_stmt *ret = prepare_ok(conn, "INSERT INTO r (k) VALUES (100), (101) RETURNING id, k");
    if (ret) {
        CHECK_INT(execute(ret, NULL, 0, &err), 0);
        CHECK_INT(drv->column_count(ret), 2);
        CHECK_INT(drv->last_insert_id(ret, &id), 0);
        CHECK_INT(id, 44);
        int rows = 0;
        while (drv->fetch(ret, &err) == 1) rows++;
        CHECK_INT(rows, 2);
        CHECK_INT(drv->rows_affected(ret), 2);
        drv->finalize(ret);
    }
}

/* Row source for execute_many: row i is (i, "row i"), `count` rows; fails
 * at row `fail_at` when that is >= 0. */
typedef struct rows_ctx {
    int next, count, fail_at;
    char text[32];
} rows_ctx;

static int rows_next(void *ctx, ag_value *params, int nparams, ag_error *err) {
    rows_ctx *c = ctx;
    if (c->next == c->fail_at) return ag_error_set(err, AG_ERR_DATA, NULL, "source failed at %d", c->next);
    if (c->next >= c->count) return 0;
    snprintf(c->text, sizeof c->text, "row %d", c->next);
    params[0] = v_int(c->next);
    params[1] = v_text(c->text);
    c->next++;
    return 1;
}

/* A wide row (more parameters than the driver's stack array holds). */
static int wide_next(void *ctx, ag_value *params, int nparams, ag_error *err) {
    int *left = ctx;
    if (*left == 0) return 0;
    for (int i = 0; i < nparams; i++) params[i] = v_int(i);
    (*left)--;
    return 1;
}

static void test_execute_many(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE many (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
    ag_driver_stmt *ins = prepare_ok(conn, "INSERT INTO many VALUES (?, ?)");
    if (!ins) return;
    ag_error err;
    int64_t affected = -5;
    rows_ctx ctx = {0, 10000, -1, ""};
    exec_ok(conn, "BEGIN");
    ag_error_clear(&err);
    CHECK_INT(drv->execute_many(ins, 2, rows_next, &ctx, &affected, &err), 0);
    exec_ok(conn, "COMMIT");
    CHECK_INT(affected, 10000);
    CHECK_INT(drv->rows_affected(ins), 10000);
    CHECK_INT(query_int(conn, "SELECT count(*) FROM many"), 10000);
    CHECK_INT(query_int(conn, "SELECT count(*) FROM many WHERE v = 'row ' || k"), 10000);

    /* A duplicate key half-way: IntegrityError, the connection still usable. */
    rows_ctx dup = {9995, 10010, -1, ""};
    ag_error_clear(&err);
    CHECK_INT(drv->execute_many(ins, 2, rows_next, &dup, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK_STR(err.code, "1555"); /* SQLITE_CONSTRAINT_PRIMARYKEY */

    /* The row source failing: its own error comes back. */
    rows_ctx bad = {20000, 20010, 20003, ""};
    ag_error_clear(&err);
    CHECK_INT(drv->execute_many(ins, 2, rows_next, &bad, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_DATA);
    CHECK_STR(err.message, "source failed at 20003");
    CHECK_INT(affected, 3);
    CHECK_INT(query_int(conn, "SELECT count(*) FROM many"), 10003);

    /* Wrong parameter count. */
    ag_error_clear(&err);
    CHECK_INT(drv->execute_many(ins, 3, rows_next, &ctx, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    /* And a plain execute still works afterwards. */
    ag_value p[2] = {v_int(-1), v_text("after")};
    CHECK_INT(execute(ins, p, 2, &err), 0);
    CHECK_INT(drv->rows_affected(ins), 1);
    drv->finalize(ins);

    /* A statement that returns rows, with 40 parameters: -1 rows affected. */
    char sql[256] = "SELECT ?";
    for (int i = 1; i < 40; i++) strcat(sql, ",?");
    ag_driver_stmt *wide = prepare_ok(conn, sql);
    if (wide) {
        int left = 5;
        ag_error_clear(&err);
        CHECK_INT(drv->execute_many(wide, 40, wide_next, &left, &affected, &err), 0);
        CHECK_INT(left, 0);
        CHECK_INT(affected, -1);
        drv->finalize(wide);
    }
}

static void check_error(ag_driver_conn *conn, const char *sql, const ag_value *p, int n, ag_error_kind kind,
                        const char *code, const char *needle) {
    ag_error err;
    CHECK_INT(run(conn, sql, p, n, &err), -1);
    CHECK_INT(err.kind, kind);
    if (code) CHECK_STR(err.code, code);
    if (needle && !strstr(err.message, needle)) {
        CHECK(strstr(err.message, needle) != NULL);
        fprintf(stderr, "  message: %s\n", err.message);
    }
}

static void test_errors(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE parent (id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL, "
                  "age INTEGER CHECK (age >= 0))");
    exec_ok(conn, "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))");
    exec_ok(conn, "INSERT INTO parent VALUES (1, 'a@x.org', 1)");
    ag_value p[2];

    check_error(conn, "SELEC 1", NULL, 0, AG_ERR_PROGRAMMING, "1", "syntax error");
    check_error(conn, "SELECT * FROM nowhere", NULL, 0, AG_ERR_PROGRAMMING, "1", "no such table: nowhere");
    check_error(conn, "SELECT missing_col FROM parent", NULL, 0, AG_ERR_PROGRAMMING, "1", "no such column");
    p[0] = v_text("a@x.org");
    check_error(conn, "INSERT INTO parent (email) VALUES (?)", p, 1, AG_ERR_INTEGRITY, "2067",
                "UNIQUE constraint failed: parent.email");
    p[0] = v_null();
    check_error(conn, "INSERT INTO parent (email) VALUES (?)", p, 1, AG_ERR_INTEGRITY, "1299",
                "NOT NULL constraint failed");
    p[0] = v_int(99);
    check_error(conn, "INSERT INTO child (parent_id) VALUES (?)", p, 1, AG_ERR_INTEGRITY, "787",
                "FOREIGN KEY constraint failed");
    p[0] = v_int(-1);
    check_error(conn, "INSERT INTO parent (email, age) VALUES ('b', ?)", p, 1, AG_ERR_INTEGRITY, "275",
                "CHECK constraint failed");
    /* STRICT tables reject a value of the wrong type: a DataError, per driver.h. */
    exec_ok(conn, "CREATE TABLE strict_t (n INTEGER) STRICT");
    p[0] = v_text("abc");
    check_error(conn, "INSERT INTO strict_t VALUES (?)", p, 1, AG_ERR_DATA, "3091", "cannot store");

    /* Wrong parameter count. */
    p[0] = v_int(1);
    check_error(conn, "SELECT ?, ?", p, 1, AG_ERR_ARGUMENT, NULL, "statement takes 2 parameters, 1 given");
    check_error(conn, "SELECT 1", p, 1, AG_ERR_ARGUMENT, NULL, "statement takes 0 parameters, 1 given");

    /* One statement at a time; trailing blanks, semicolons and comments are fine. */
    check_error(conn, "SELECT 1; SELECT 2", NULL, 0, AG_ERR_PROGRAMMING, NULL,
                "only one statement at a time can be executed; use exec_driver_sql without "
                "parameters for scripts");
    ag_error err;
    CHECK_INT(run(conn, "SELECT 1 ;; -- done\n /* really */ ;\n", NULL, 0, &err), 0);
    CHECK_INT(run(conn, " ;; SELECT 1", NULL, 0, &err), 0);
    check_error(conn, " -- nothing\n ;", NULL, 0, AG_ERR_PROGRAMMING, NULL, "empty SQL statement");
    ag_driver_stmt *st = NULL;
    ag_error_clear(&err);
    CHECK_INT(drv->prepare(conn, "SELECT 1\0SELECT 2", 17, &st, &err), -1);
    CHECK_INT(err.kind, AG_ERR_PROGRAMMING);
    CHECK(st == NULL);

    /* exec_simple: several statements; its errors mapped the same way. */
    exec_ok(conn, "CREATE TABLE s1 (x); INSERT INTO s1 VALUES (1); INSERT INTO s1 VALUES (2);");
    CHECK_INT(query_int(conn, "SELECT count(*) FROM s1"), 2);
    ag_error_clear(&err);
    CHECK_INT(drv->exec_simple(conn, "INSERT INTO parent (email) VALUES ('a@x.org')", &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK_STR(err.code, "2067");
    ag_error_clear(&err);
    CHECK_INT(drv->exec_simple(conn, "DROP TABLE nowhere", &err), -1);
    CHECK_INT(err.kind, AG_ERR_PROGRAMMING);
    CHECK(err.disconnect == 0);

    /* A statement that failed can be executed again. */
    st = prepare_ok(conn, "INSERT INTO parent (email) VALUES (?)");
    if (st) {
        p[0] = v_text("a@x.org");
        CHECK_INT(execute(st, p, 1, &err), -1);
        CHECK_INT(err.kind, AG_ERR_INTEGRITY);
        p[0] = v_text("c@x.org");
        CHECK_INT(execute(st, p, 1, &err), 0);
        CHECK_INT(drv->rows_affected(st), 1);
        drv->finalize(st);
    }
}

static void test_interleaved(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE src (n INTEGER)");
    exec_ok(conn, "CREATE TABLE dst (n INTEGER)");
    exec_ok(conn, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50) "
                  "INSERT INTO src SELECT n FROM c");
    ag_driver_stmt *a = prepare_ok(conn, "SELECT n FROM src ORDER BY n");
    ag_driver_stmt *b = prepare_ok(conn, "SELECT n FROM src ORDER BY n DESC");
    ag_driver_stmt *ins = prepare_ok(conn, "INSERT INTO dst VALUES (?)");
    if (!a || !b || !ins) {
        drv->finalize(a);
        drv->finalize(b);
        drv->finalize(ins);
        return;
    }
    ag_error err;
    CHECK_INT(execute(a, NULL, 0, &err), 0);
    CHECK_INT(execute(b, NULL, 0, &err), 0);
    int rows = 0, ok = 1;
    ag_value va, vb;
    while (drv->fetch(a, &err) == 1) {
        CHECK_INT(drv->fetch(b, &err), 1);
        drv->column_value(a, 0, &va);
        drv->column_value(b, 0, &vb);
        rows++;
        if (va.u.integer != rows || vb.u.integer != 51 - rows) ok = 0;
        /* A write on the same connection while both reads are open. */
        ag_value p = v_int(va.u.integer * 2);
        if (execute(ins, &p, 1, &err) != 0) ok = 0;
    }
    CHECK_INT(rows, 50);
    CHECK(ok);
    CHECK_INT(drv->fetch(b, &err), 0);
    CHECK_INT(query_int(conn, "SELECT sum(n) FROM dst"), 2550);

    /* reset mid-result, then execute again: from the first row. */
    CHECK_INT(execute(a, NULL, 0, &err), 0);
    CHECK_INT(drv->fetch(a, &err), 1);
    CHECK_INT(drv->fetch(a, &err), 1);
    drv->reset(a);
    CHECK_INT(drv->fetch(a, &err), 0); /* nothing to read after reset */
    drv->reset(a);                     /* twice is harmless */
    CHECK_INT(execute(a, NULL, 0, &err), 0);
    CHECK_INT(drv->fetch(a, &err), 1);
    drv->column_value(a, 0, &va);
    CHECK(va.type == AG_VALUE_INTEGER && va.u.integer == 1);
    /* execute while still executing resets first. */
    CHECK_INT(execute(a, NULL, 0, &err), 0);
    CHECK_INT(drv->fetch(a, &err), 1);
    drv->column_value(a, 0, &va);
    CHECK(va.u.integer == 1);
    drv->finalize(a);
    drv->finalize(b);
    drv->finalize(ins);
}

/* A query's parameters are read again at later steps: the driver must not
 * depend on the caller's memory after execute returns. */
static void test_param_lifetime(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE life (s TEXT)");
    exec_ok(conn, "INSERT INTO life VALUES ('same'), ('other'), ('same'), ('same')");
    ag_driver_stmt *sel = prepare_ok(conn, "SELECT rowid FROM life WHERE s = ? ORDER BY rowid");
    if (!sel) return;
    char *param = malloc(5);
    memcpy(param, "same", 5);
    ag_value p = v_bytes(AG_VALUE_TEXT, param, 4);
    ag_error err;
    CHECK_INT(execute(sel, &p, 1, &err), 0);
    memset(param, 'x', 4);
    free(param); /* ASan would catch a later read */
    int rows = 0;
    while (drv->fetch(sel, &err) == 1) rows++;
    CHECK_INT(rows, 3);
    drv->finalize(sel);
}

static void test_transactions(ag_driver_conn *conn) {
    CHECK_INT(drv->transaction_status(conn), AG_TX_IDLE);
    exec_ok(conn, "BEGIN");
    CHECK_INT(drv->transaction_status(conn), AG_TX_ACTIVE);
    exec_ok(conn, "CREATE TABLE tx (n)");
    exec_ok(conn, "INSERT INTO tx VALUES (1)");
    exec_ok(conn, "COMMIT");
    CHECK_INT(drv->transaction_status(conn), AG_TX_IDLE);
    exec_ok(conn, "BEGIN IMMEDIATE");
    exec_ok(conn, "SAVEPOINT sp");
    exec_ok(conn, "INSERT INTO tx VALUES (2)");
    exec_ok(conn, "ROLLBACK TO sp");
    exec_ok(conn, "INSERT INTO tx VALUES (3)");
    CHECK_INT(drv->transaction_status(conn), AG_TX_ACTIVE);
    exec_ok(conn, "ROLLBACK");
    CHECK_INT(drv->transaction_status(conn), AG_TX_IDLE);
    CHECK_INT(query_int(conn, "SELECT sum(n) FROM tx"), 1);
    ag_error err;
    ag_error_clear(&err);
    CHECK_INT(drv->exec_simple(conn, "COMMIT", &err), -1);
    CHECK_INT(err.kind, AG_ERR_PROGRAMMING); /* no transaction is active */
    CHECK_INT(drv->ping(conn, &err), 0);
}

/* SELECT * picks up a column added after prepare; old names stay valid. */
static void test_schema_change(ag_driver_conn *conn) {
    exec_ok(conn, "CREATE TABLE grow (a INTEGER)");
    exec_ok(conn, "INSERT INTO grow VALUES (1)");
    ag_driver_stmt *sel = prepare_ok(conn, "SELECT * FROM grow");
    if (!sel) return;
    ag_error err;
    CHECK_INT(execute(sel, NULL, 0, &err), 0);
    CHECK_INT(drv->column_count(sel), 1);
    const char *first = drv->column_name(sel, 0);
    drv->reset(sel);
    exec_ok(conn, "ALTER TABLE grow ADD COLUMN ok BOOLEAN DEFAULT 1");
    CHECK_INT(execute(sel, NULL, 0, &err), 0);
    CHECK_INT(drv->column_count(sel), 2);
    CHECK_STR(drv->column_name(sel, 1), "ok");
    CHECK_STR(first, "a");
    CHECK_INT(drv->fetch(sel, &err), 1);
    ag_value v;
    drv->column_value(sel, 1, &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 1);
    drv->finalize(sel);
}

static void check_journal(ag_driver_conn *conn, const char *want) {
    ag_driver_stmt *st = prepare_ok(conn, "PRAGMA journal_mode");
    if (!st) return;
    ag_error err;
    ag_value v;
    CHECK_INT(execute(st, NULL, 0, &err), 0);
    CHECK_INT(drv->fetch(st, &err), 1);
    drv->column_value(st, 0, &v);
    CHECK(bytes_equal(&v, AG_VALUE_TEXT, want, strlen(want)));
    drv->finalize(st);
}

static void run_suite(const char *path, int is_file) {
    ag_driver_conn *conn = connect_ok(path);
    if (!conn) return;
    check_journal(conn, is_file ? "wal" : "memory");
    CHECK_INT(query_int(conn, "PRAGMA foreign_keys"), 1);
    CHECK_INT(query_int(conn, "PRAGMA busy_timeout"), 5000);
    test_types(conn);
    test_big_and_utf8(conn);
    test_rows_affected(conn);
    test_execute_many(conn);
    test_errors(conn);
    test_interleaved(conn);
    test_param_lifetime(conn);
    test_transactions(conn);
    test_schema_change(conn);
    drv->close(conn);
}

/* Connect args, isolation levels and files that cannot be opened. */
static void test_connect(const char *dir, const char *file) {
    ag_driver_conn *conn = NULL;
    ag_error err;

    ag_url_param args[] = {
        {"busy_timeout", "50"}, {"journal_mode", "delete"}, {"synchronous", "normal"}, {"foreign_keys", "off"}};
    CHECK_INT(open_db(file, args, 4, "READ UNCOMMITTED", &conn, &err), 0);
    if (conn) {
        check_journal(conn, "delete");
        CHECK_INT(query_int(conn, "PRAGMA synchronous"), 1);
        CHECK_INT(query_int(conn, "PRAGMA foreign_keys"), 0);
        CHECK_INT(query_int(conn, "PRAGMA busy_timeout"), 50);
        CHECK_INT(query_int(conn, "PRAGMA read_uncommitted"), 1);
        /* Foreign keys off: a dangling reference is accepted. */
        exec_ok(conn, "CREATE TABLE p (id INTEGER PRIMARY KEY)");
        exec_ok(conn, "CREATE TABLE c (pid INTEGER REFERENCES p(id))");
        exec_ok(conn, "INSERT INTO c VALUES (5)");
        drv->close(conn);
        conn = NULL;
    }
    /* The URL's query comes after connect_args and wins. */
    ag_url_param twice[] = {{"busy_timeout", "10"}, {"busy_timeout", "20"}};
    CHECK_INT(open_db(":memory:", twice, 2, "REPEATABLE READ", &conn, &err), 0);
    if (conn) {
        CHECK_INT(query_int(conn, "PRAGMA busy_timeout"), 20);
        drv->close(conn);
        conn = NULL;
    }
    CHECK_INT(open_db(":memory:", NULL, 0, "SERIALIZABLE", &conn, &err), 0);
    drv->close(conn);
    conn = NULL;

    /* SQLAlchemy's pysqlite option is accepted (and ignored: the pool already
     * gives a connection to one thread at a time); an unknown key is not */
    ag_url_param same_thread[] = {{"check_same_thread", "false"}};
    CHECK_INT(open_db(":memory:", same_thread, 1, NULL, &conn, &err), 0);
    if (conn) drv->close(conn);
    conn = NULL;
    ag_url_param unknown[] = {{"cache_mode", "0"}};
    CHECK_INT(open_db(":memory:", unknown, 1, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(strstr(err.message, "cache_mode") != NULL);
    CHECK(conn == NULL);
    ag_url_param bad_values[][1] = {{{"busy_timeout", "soon"}},
                                    {{"busy_timeout", "-1"}},
                                    {{"journal_mode", "wal; DROP TABLE x"}},
                                    {{"synchronous", "sometimes"}},
                                    {{"foreign_keys", "maybe"}}};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        CHECK_INT(open_db(":memory:", bad_values[i], 1, NULL, &conn, &err), -1);
        CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    }
    CHECK_INT(open_db(":memory:", NULL, 0, "SOMETIMES", &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);

    /* A file in a directory that does not exist. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.db", dir);
    CHECK_INT(open_db(missing, NULL, 0, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK_STR(err.code, "14"); /* SQLITE_CANTOPEN */
    CHECK(strstr(err.message, "unable to open database file") != NULL);
    CHECK(strstr(err.message, missing) != NULL);
    CHECK(conn == NULL);

    /* A file that is not a database. */
    char junk[512];
    snprintf(junk, sizeof junk, "%s/junk.db", dir);
    FILE *f = fopen(junk, "wb");
    CHECK(f != NULL);
    if (f) {
        for (int i = 0; i < 512; i++) fputs("not a database ", f);
        fclose(f);
        CHECK_INT(open_db(junk, NULL, 0, NULL, &conn, &err), -1);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_STR(err.code, "26"); /* SQLITE_NOTADB */
        unlink(junk);
    }

    /* A "file:" name is a plain path, not a URI. */
    char cwd[512];
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        CHECK_INT(open_db("file:plain.db?mode=ro", NULL, 0, NULL, &conn, &err), 0);
        if (conn) {
            exec_ok(conn, "CREATE TABLE writable (x)");
            drv->close(conn);
            conn = NULL;
        }
        CHECK(access("file:plain.db?mode=ro", F_OK) == 0);
        unlink("file:plain.db?mode=ro");
        unlink("file:plain.db?mode=ro-wal");
        unlink("file:plain.db?mode=ro-shm");
        CHECK_INT(chdir(cwd), 0);
    }
}

/* Two connections on one file: a held write lock makes the other wait
 * busy_timeout, then fail with an OperationalError (SQLITE_BUSY). */
static void test_busy(const char *file) {
    ag_driver_conn *a = NULL, *b = NULL;
    ag_error err;
    ag_url_param fast[] = {{"busy_timeout", "20"}};
    CHECK_INT(open_db(file, NULL, 0, NULL, &a, &err), 0);
    CHECK_INT(open_db(file, fast, 1, NULL, &b, &err), 0);
    if (a && b) {
        exec_ok(a, "CREATE TABLE IF NOT EXISTS lock_t (x)");
        exec_ok(a, "BEGIN IMMEDIATE");
        ag_error_clear(&err);
        CHECK_INT(drv->exec_simple(b, "INSERT INTO lock_t VALUES (1)", &err), -1);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_STR(err.code, "5");
        CHECK(err.disconnect == 0);
        exec_ok(a, "COMMIT");
        exec_ok(b, "INSERT INTO lock_t VALUES (1)");
    }
    drv->close(a);
    drv->close(b);
}

static void remove_db(const char *file) {
    char side[600];
    unlink(file);
    snprintf(side, sizeof side, "%s-wal", file);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", file);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", file);
    unlink(side);
}

/* Journal modes: a new database (no file, or an empty file) is made WAL; an
 * existing one keeps its mode unless journal_mode is given. */
static void test_journal_mode_kept(const char *file) {
    ag_driver_conn *conn = NULL;
    ag_error err;
    ag_url_param delete_mode[] = {{"journal_mode", "DELETE"}};
    CHECK_INT(open_db(file, delete_mode, 1, NULL, &conn, &err), 0);
    if (!conn) return;
    check_journal(conn, "delete");
    exec_ok(conn, "CREATE TABLE kept (x)");
    drv->close(conn);
    conn = connect_ok(file); /* no journal_mode: the file's own mode stays */
    if (conn) {
        check_journal(conn, "delete");
        drv->close(conn);
    }
    remove_db(file);
    FILE *f = fopen(file, "wb"); /* an empty file is a new database */
    CHECK(f != NULL);
    if (f) fclose(f);
    conn = connect_ok(file);
    if (conn) {
        check_journal(conn, "wal");
        drv->close(conn);
    }
    remove_db(file);
}

/* mode=ro|rw|rwc, as SQLite's URI parameter. */
static void test_open_modes(const char *file) {
    ag_driver_conn *conn = NULL;
    ag_error err;
    ag_url_param ro[] = {{"mode", "ro"}}, rw[] = {{"mode", "rw"}}, bad[] = {{"mode", "rx"}};
    /* a missing file is not created by ro or rw */
    CHECK_INT(open_db(file, ro, 1, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK_STR(err.code, "14");
    CHECK_INT(open_db(file, rw, 1, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK(access(file, F_OK) != 0);
    CHECK_INT(open_db(file, bad, 1, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(strstr(err.message, "rx") != NULL);

    ag_url_param delete_mode[] = {{"journal_mode", "DELETE"}};
    CHECK_INT(open_db(file, delete_mode, 1, NULL, &conn, &err), 0);
    if (!conn) return;
    exec_ok(conn, "CREATE TABLE ro_t (x); INSERT INTO ro_t VALUES (7)");
    drv->close(conn);
    conn = NULL;
    CHECK_INT(open_db(file, ro, 1, NULL, &conn, &err), 0);
    if (conn) {
        CHECK_INT(query_int(conn, "SELECT x FROM ro_t"), 7);
        ag_error_clear(&err);
        CHECK_INT(drv->exec_simple(conn, "INSERT INTO ro_t VALUES (8)", &err), -1);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_STR(err.code, "8"); /* SQLITE_READONLY */
        drv->close(conn);
        conn = NULL;
    }
    CHECK_INT(open_db(file, rw, 1, NULL, &conn, &err), 0);
    if (conn) {
        exec_ok(conn, "INSERT INTO ro_t VALUES (8)");
        check_journal(conn, "delete");
        drv->close(conn);
    }
    remove_db(file);
}

/* Another process holds a write lock (RESERVED) on a rollback-journal
 * database.  Opening it and reading need no more than a read lock; switching
 * its journal mode, when asked, waits up to busy_timeout (SQLite alone would
 * give up at once). */
static void test_open_while_another_process_writes(const char *file) {
    ag_driver_conn *conn = NULL;
    ag_error err;
    ag_url_param delete_mode[] = {{"journal_mode", "DELETE"}};
    CHECK_INT(open_db(file, delete_mode, 1, NULL, &conn, &err), 0);
    if (!conn) return;
    exec_ok(conn, "CREATE TABLE w (x); INSERT INTO w VALUES (1)");
    drv->close(conn);
    conn = NULL;

    int locked[2], go[2];
    if (pipe(locked) != 0 || pipe(go) != 0) {
        CHECK(0);
        return;
    }
    pid_t child = fork();
    if (child == 0) { /* the writer */
        ag_driver_conn *w = NULL;
        ag_error werr;
        char c = 0;
        if (open_db(file, NULL, 0, NULL, &w, &werr) != 0 ||
            drv->exec_simple(w, "BEGIN IMMEDIATE; INSERT INTO w VALUES (2)", &werr) != 0)
            _exit(2);
        if (write(locked[1], "L", 1) != 1 || read(go[0], &c, 1) != 1) _exit(3);
        usleep(200 * 1000); /* still writing while the parent starts waiting */
        _exit(drv->exec_simple(w, "COMMIT", &werr) == 0 ? 0 : 4);
    }
    char c = 0;
    CHECK(child > 0 && read(locked[0], &c, 1) == 1);

    ag_url_param no_wait[] = {{"busy_timeout", "0"}};
    CHECK_INT(open_db(file, no_wait, 1, NULL, &conn, &err), 0);
    if (conn) {
        check_journal(conn, "delete");
        CHECK_INT(query_int(conn, "SELECT count(*) FROM w"), 1);
        drv->close(conn);
        conn = NULL;
    }
    ag_url_param wal_no_wait[] = {{"busy_timeout", "0"}, {"journal_mode", "WAL"}};
    CHECK_INT(open_db(file, wal_no_wait, 2, NULL, &conn, &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK_STR(err.code, "5"); /* SQLITE_BUSY */

    CHECK(write(go[1], "G", 1) == 1);
    ag_url_param wal_wait[] = {{"busy_timeout", "30000"}, {"journal_mode", "WAL"}};
    CHECK_INT(open_db(file, wal_wait, 2, NULL, &conn, &err), 0);
    if (conn) {
        check_journal(conn, "wal");
        CHECK_INT(query_int(conn, "SELECT count(*) FROM w"), 2);
        drv->close(conn);
    }
    int status = -1;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(locked[0]);
    close(locked[1]);
    close(go[0]);
    close(go[1]);
    remove_db(file);
}

int main(void) {
    CHECK_STR(drv->name, "sqlite");
    CHECK_INT(drv->dialect, AG_DIALECT_SQLITE);

    char dir[] = "/tmp/ag_test_sqlite_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char file[512];
    snprintf(file, sizeof file, "%s/test.db", dir);

    run_suite(file, 1);
    remove_db(file);
    run_suite(":memory:", 0);

    test_connect(dir, file);
    remove_db(file);
    test_busy(file);
    remove_db(file);
    test_journal_mode_kept(file);
    test_open_modes(file);
    test_open_while_another_process_writes(file);

    CHECK_INT(rmdir(dir), 0);
    CHECK_DONE();
}
