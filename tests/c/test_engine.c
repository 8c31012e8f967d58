/*
 * test_engine.c -- the engine core on SQLite: checkout accounting, the
 * statement cache (reuse, eviction, a busy statement prepared again),
 * transactions and savepoints, and executemany's own transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/engine.h"

static int count_rows(ag_conn *conn, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    ag_error err;
    ag_stmt *s = ag_conn_prepare(conn, sql, strlen(sql), 1, &err);
    if (!s || ag_stmt_execute(s, NULL, 0, &err) != 0 || ag_stmt_fetch(s, &err) != 1) return -1;
    ag_value v;
    s->driver->column_value(s->dstmt, 0, &v);
    int n = (int)v.u.integer;
    ag_stmt_release(s);
    return n;
}

static int exec_sql(ag_conn *conn, const char *sql, const ag_value *params, int n) {
    ag_error err;
    ag_stmt *s = ag_conn_prepare(conn, sql, strlen(sql), 1, &err);
    if (!s) return -1;
    int rc = ag_stmt_execute(s, params, n, &err);
    ag_stmt_release(s);
    return rc;
}

typedef struct rows_ctx {
    int next, count, fail_at;
} rows_ctx;

static int next_row(void *p, ag_value *params, int nparams, ag_error *err) {
    rows_ctx *ctx = p;
    if (ctx->next >= ctx->count) return 0;
    params[0].type = AG_VALUE_INTEGER;
    params[0].u.integer = ctx->next == ctx->fail_at ? 1 : 1000 + ctx->next; /* 1 is a duplicate key */
    ctx->next++;
    return 1;
}

static void test_cache_and_transactions(const char *url) {
    ag_engine_options options;
    ag_engine_options_init(&options);
    options.statement_cache_size = 2;
    ag_error err;
    ag_engine *engine = ag_engine_create(url, strlen(url), &options, &err);
    CHECK(engine != NULL);
    if (!engine) return;
    ag_conn *conn = ag_engine_connect(engine, &err);
    CHECK(conn != NULL);
    ag_pool_status st;
    ag_engine_pool_status(engine, &st);
    CHECK_INT(st.checked_out, 1);

    CHECK_INT(exec_sql(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY)", NULL, 0), 0);
    /* SQL text with a zero byte is refused before any driver sees it */
    ag_error_clear(&err);
    CHECK(ag_conn_prepare(conn, "SELECT 1\0", 9, 1, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(ag_conn_prepare(conn, "SELECT '\0'", 10, 0, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    ag_value one = {.type = AG_VALUE_INTEGER, .u.integer = 1};
    CHECK_INT(exec_sql(conn, "INSERT INTO t (id) VALUES (?)", &one, 1), 0);

    /* the same SQL gives the cached statement back; a busy one is prepared again */
    const char *q = "SELECT id FROM t";
    ag_stmt *a = ag_conn_prepare(conn, q, strlen(q), 1, &err);
    CHECK(a && a->cached);
    ag_stmt *b = ag_conn_prepare(conn, q, strlen(q), 1, &err);
    CHECK(b && b != a && !b->cached);
    CHECK_INT(ag_stmt_execute(a, NULL, 0, &err), 0);
    CHECK_INT(ag_stmt_execute(b, NULL, 0, &err), 0);
    CHECK_INT(ag_stmt_fetch(a, &err), 1);
    CHECK_INT(ag_stmt_fetch(b, &err), 1);
    ag_stmt_release(b);
    ag_stmt_release(a);
    ag_stmt *again = ag_conn_prepare(conn, q, strlen(q), 1, &err);
    CHECK(again == a);
    ag_stmt_release(again);

    /* eviction keeps at most 2 idle statements and never a busy one */
    CHECK_INT(count_rows(conn, "t"), 1);
    CHECK_INT(exec_sql(conn, "SELECT 1", NULL, 0), 0);
    CHECK_INT(exec_sql(conn, "SELECT 2", NULL, 0), 0);
    CHECK_INT(exec_sql(conn, "SELECT 3", NULL, 0), 0);

    /* a syntax error is a ProgrammingError and nothing is cached for it */
    CHECK(ag_conn_prepare(conn, "SELEC 1", 7, 1, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_PROGRAMMING);

    /* transactions and savepoints */
    ag_tx outer, inner, inner2;
    CHECK_INT(ag_conn_begin(conn, 1, &inner, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INVALID_REQUEST);
    CHECK_INT(ag_conn_begin(conn, 0, &outer, &err), 0);
    CHECK_INT(ag_conn_begin(conn, 0, &inner, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INVALID_REQUEST);
    ag_value two = {.type = AG_VALUE_INTEGER, .u.integer = 2};
    CHECK_INT(exec_sql(conn, "INSERT INTO t (id) VALUES (?)", &two, 1), 0);
    CHECK_INT(ag_conn_begin(conn, 1, &inner, &err), 0);
    ag_value three = {.type = AG_VALUE_INTEGER, .u.integer = 3};
    CHECK_INT(exec_sql(conn, "INSERT INTO t (id) VALUES (?)", &three, 1), 0);
    CHECK_INT(ag_conn_rollback(conn, inner, &err), 0);
    CHECK(!ag_conn_tx_active(conn, inner));
    CHECK(ag_conn_tx_active(conn, outer));
    CHECK_INT(ag_conn_begin(conn, 1, &inner2, &err), 0);
    CHECK(inner2.id != inner.id);
    CHECK_INT(ag_conn_commit(conn, inner, &err), -1); /* the rolled-back one is gone */
    CHECK_INT(ag_conn_commit(conn, outer, &err), 0);  /* ends the savepoint inside it too */
    CHECK(!ag_conn_tx_active(conn, inner2));
    CHECK_INT(count_rows(conn, "t"), 2);
    CHECK_INT(ag_conn_rollback(conn, outer, &err), 0); /* inactive: nothing to do */

    /* executemany is atomic: a failing row leaves nothing behind */
    const char *ins = "INSERT INTO t (id) VALUES (?)";
    ag_stmt *s = ag_conn_prepare(conn, ins, strlen(ins), 1, &err);
    int64_t affected = 0;
    rows_ctx ok = {0, 100, -1};
    CHECK_INT(ag_stmt_execute_many(s, 1, next_row, &ok, &affected, &err), 0);
    CHECK_INT(affected, 100);
    rows_ctx bad = {0, 100, 50};
    ag_stmt_release(s);
    s = ag_conn_prepare(conn, "INSERT INTO t (id) VALUES (? + 1000)", 36, 1, &err);
    CHECK_INT(ag_stmt_execute_many(s, 1, next_row, &bad, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    ag_stmt_release(s);
    CHECK_INT(count_rows(conn, "t"), 102);
    CHECK(!ag_conn_in_transaction(conn));

    /* ... and inside a caller's transaction it runs under a savepoint: the
     * failing run leaves the transaction as it was, and usable */
    CHECK_INT(ag_conn_begin(conn, 0, &outer, &err), 0);
    ag_value four = {.type = AG_VALUE_INTEGER, .u.integer = 4};
    CHECK_INT(exec_sql(conn, "INSERT INTO t (id) VALUES (?)", &four, 1), 0);
    s = ag_conn_prepare(conn, "INSERT INTO t (id) VALUES (? + 1000)", 36, 1, &err);
    rows_ctx bad2 = {0, 100, 50}; /* row 50 is 1001, written by the first run */
    CHECK_INT(ag_stmt_execute_many(s, 1, next_row, &bad2, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK_INT(affected, 0);
    ag_stmt_release(s);
    CHECK(ag_conn_tx_active(conn, outer));
    CHECK_INT(count_rows(conn, "t"), 103);
    CHECK_INT(ag_conn_commit(conn, outer, &err), 0);
    CHECK_INT(count_rows(conn, "t"), 103);

    ag_conn_close(conn);
    ag_engine_pool_status(engine, &st);
    CHECK_INT(st.checked_out, 0);
    CHECK_INT(st.checked_in, 1);
    ag_engine_release(engine);
}

/* The cache never evicts the statement it hands out, nor one in use: with
 * room for one and every entry busy, it grows, and shrinks back on release. */
static void test_cache_full_of_busy_statements(const char *url) {
    ag_engine_options options;
    ag_engine_options_init(&options);
    options.statement_cache_size = 1;
    ag_error err;
    ag_engine *engine = ag_engine_create(url, strlen(url), &options, &err);
    CHECK(engine != NULL);
    if (!engine) return;
    ag_conn *conn = ag_engine_connect(engine, &err);
    CHECK(conn != NULL);
    enum { N = 5 };
    ag_stmt *busy[N];
    for (int i = 0; i < N; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", i + 10);
        busy[i] = ag_conn_prepare(conn, sql, strlen(sql), 1, &err);
        CHECK(busy[i] != NULL && busy[i]->cached);
        if (!busy[i]) return;
        CHECK_INT(ag_stmt_execute(busy[i], NULL, 0, &err), 0);
        CHECK_INT(ag_stmt_fetch(busy[i], &err), 1);
    }
    for (int i = 0; i < N; i++) { /* every one still alive and reading its own row */
        ag_value v;
        busy[i]->driver->column_value(busy[i]->dstmt, 0, &v);
        CHECK_INT(v.u.integer, i + 10);
        ag_stmt_release(busy[i]);
    }
    ag_stmt *again = ag_conn_prepare(conn, "SELECT 14", 9, 1, &err);
    CHECK(again == busy[N - 1]); /* the newest idle one was kept */
    ag_stmt_release(again);
    ag_conn_close(conn);
    ag_engine_release(engine);
}

static void test_bad_options(void) {
    ag_engine_options options;
    ag_engine_options_init(&options);
    options.isolation_level = "SOMETIMES";
    ag_error err;
    CHECK(ag_engine_create("sqlite://", 9, &options, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    ag_engine_options_init(&options);
    options.pool_size = -1;
    CHECK(ag_engine_create("sqlite://", 9, &options, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(ag_engine_create("foo://x", 7, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
}

int main(void) {
    char path[] = "/tmp/argent-test-engine-XXXXXX";
    char *dir = mkdtemp(path);
    CHECK(dir != NULL);
    char url[256];
    snprintf(url, sizeof url, "sqlite:///%s/t.db", dir);
    test_cache_and_transactions(url);
    test_cache_and_transactions("sqlite:///:memory:");
    test_cache_full_of_busy_statements("sqlite:///:memory:");
    test_bad_options();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    CHECK_DONE();
}
