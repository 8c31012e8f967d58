/*
 * test_capi.c -- the public C API (src/argent.h) against real databases:
 * SQLite in a temporary file and in memory, and PostgreSQL when
 * ARGENT_TEST_PG_URL is set.  Engines with defaults and options, URL errors,
 * every parameter type, typed reading and its conversions, NULL, rowcount
 * and lastrowid, transactions and savepoints, error kinds, results that
 * outlive their connection, and the reference counting that lets a
 * connection keep its released engine alive (run under ASan to see that
 * closing it then frees everything).  Links argent_core only: no Lua.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argent.h"
#include "check.h"

static int is_pg;     /* the database under test is PostgreSQL */
static int is_memory; /* ... is SQLite in memory: every checkout shares one connection */

/* Runs sql (no parameters, rows discarded); reports the error if any. */
static int run(argent_connection *conn, const char *sql) {
    argent_error err;
    if (argent_execute(conn, sql, NULL, 0, NULL, &err) != 0) {
        fprintf(stderr, "  %s: %s: %s\n", sql, err.kind_name, err.message);
        return -1;
    }
    return 0;
}

/* The first column of the first row as an integer, -999 on any failure. */
static int64_t scalar(argent_connection *conn, const char *sql, const argent_value *params, int n) {
    argent_result *res;
    argent_error err;
    if (argent_execute(conn, sql, params, n, &res, &err) != 0) {
        fprintf(stderr, "  %s: %s: %s\n", sql, err.kind_name, err.message);
        return -999;
    }
    int64_t v = argent_result_next(res, &err) == 1 ? argent_result_column_int64(res, 0) : -999;
    argent_result_close(res);
    return v;
}

/* ---------------------------------------------------------------- engines */

static void test_options(const char *file_url) {
    argent_engine_options o;
    argent_engine_options_init(&o);
    CHECK_INT(o.pool_size, 5);
    CHECK_INT(o.max_overflow, 10);
    CHECK(o.pool_timeout == 30.0);
    CHECK(o.pool_recycle == -1.0);
    CHECK_INT(o.pool_pre_ping, 0);
    CHECK(o.isolation_level == NULL);
    CHECK_INT(o.statement_cache_size, 128);
    CHECK(o.connect_args == NULL && o.nconnect_args == 0);

    /* defaults: NULL options */
    argent_error err;
    argent_engine *e = argent_engine_create(file_url, NULL, &err);
    CHECK(e != NULL);
    CHECK_STR(argent_engine_dialect(e), "sqlite");
    argent_pool_status st;
    CHECK_INT(argent_engine_pool_status(e, &st, &err), 0);
    CHECK_INT(st.size, 5);
    CHECK_INT(st.checked_out, 0);
    argent_engine_release(e);

    /* a pool of one, no overflow, a short timeout: the second checkout times out */
    argent_connect_arg args[] = {{"busy_timeout", "100"}, {"journal_mode", "WAL"}};
    o.pool_size = 1;
    o.max_overflow = 0;
    o.pool_timeout = 0.2;
    o.pool_pre_ping = 1;
    o.statement_cache_size = 4;
    o.connect_args = args;
    o.nconnect_args = 2;
    e = argent_engine_create(file_url, &o, &err);
    CHECK(e != NULL);
    argent_connection *c1 = argent_connect(e, &err);
    CHECK(c1 != NULL);
    CHECK(argent_connection_engine(c1) == e);
    argent_connection *c2 = argent_connect(e, &err);
    CHECK(c2 == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_TIMEOUT);
    CHECK_STR(err.kind_name, "TimeoutError");
    CHECK_INT(argent_engine_pool_status(e, &st, NULL), 0);
    CHECK_INT(st.size, 1);
    CHECK_INT(st.checked_out, 1);
    argent_connection_close(c1);
    CHECK_INT(argent_engine_pool_status(e, &st, NULL), 0);
    CHECK_INT(st.checked_out, 0);
    CHECK_INT(st.checked_in, 1);
    argent_engine_dispose(e);
    CHECK_INT(argent_engine_pool_status(e, &st, NULL), 0);
    CHECK_INT(st.checked_in, 0);
    c1 = argent_connect(e, &err); /* still usable after dispose */
    CHECK(c1 != NULL);
    CHECK_INT(scalar(c1, "SELECT 7", NULL, 0), 7);
    argent_connection_close(c1);
    argent_engine_release(e);

    /* AUTOCOMMIT isolation: begin/commit send nothing */
    argent_engine_options_init(&o);
    o.isolation_level = "AUTOCOMMIT";
    e = argent_engine_create(file_url, &o, &err);
    CHECK(e != NULL);
    argent_engine_release(e);

    /* bad options, each an ArgumentError that names the problem */
    argent_engine_options_init(&o);
    o.pool_size = -1;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "pool_size") != NULL);
    argent_engine_options_init(&o);
    o.isolation_level = "SOMETIMES";
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "SOMETIMES") != NULL);
    argent_engine_options_init(&o);
    argent_connect_arg bad_arg[] = {{"busy_timeout", NULL}};
    o.connect_args = bad_arg;
    o.nconnect_args = 1;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    o.connect_args = NULL;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);

    /* an unknown driver option is found when connecting */
    argent_connect_arg unknown[] = {{"no_such_option", "1"}};
    o.connect_args = unknown;
    e = argent_engine_create(file_url, &o, &err);
    CHECK(e != NULL);
    CHECK(argent_connect(e, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "no_such_option") != NULL);
    argent_engine_release(e);
}

/* prepare and replicas (API.md section 11), on SQLite files: a replica is
 * any URL of the same dialect. */
static void test_replicas(const char *file_url) {
    argent_engine_options o;
    argent_engine_options_init(&o);
    CHECK_INT(o.prepare, 1);
    CHECK(o.replicas == NULL && o.nreplicas == 0);
    argent_error err;

    o.prepare = 0; /* PostgreSQL only */
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "prepare") != NULL);
    o.prepare = 1;

    const char *bad[] = {"postgresql://h/db"};
    o.replicas = bad;
    o.nreplicas = 1;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    const char *null_entry[] = {NULL};
    o.replicas = null_entry;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    o.replicas = NULL;
    CHECK(argent_engine_create(file_url, &o, &err) == NULL); /* nreplicas 1, replicas NULL */
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);

    const char *replicas[] = {file_url, file_url};
    o.replicas = replicas;
    o.nreplicas = 2;
    argent_engine *e = argent_engine_create(file_url, &o, &err);
    CHECK(e != NULL);
    if (!e) return;
    CHECK(argent_engine_replica_count(e) == 2);
    CHECK(argent_engine_replica_count(NULL) == 0);
    argent_connection *a = argent_connect_readonly(e, &err);
    argent_connection *b = argent_connect_readonly(e, &err);
    CHECK(a != NULL && b != NULL);
    argent_pool_status st;
    CHECK_INT(argent_engine_pool_status(e, &st, &err), 0);
    CHECK_INT(st.checked_out, 0);    /* the primary's pool is untouched */
    for (size_t i = 0; i < 2; i++) { /* round robin: one from each */
        CHECK_INT(argent_engine_replica_pool_status(e, i, &st, &err), 0);
        CHECK_INT(st.checked_out, 1);
    }
    CHECK_INT(argent_engine_replica_pool_status(e, 2, &st, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_engine_replica_pool_status(e, 0, NULL, &err), -1);
    CHECK_INT(argent_engine_replica_pool_status(NULL, 0, &st, &err), -1);
    CHECK(argent_connect_readonly(NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    argent_connection_close(a);
    argent_connection_close(b);
    CHECK_INT(argent_engine_replica_pool_status(e, 0, &st, &err), 0);
    CHECK_INT(st.checked_out, 0);
    CHECK_INT(st.checked_in, 1);
    argent_engine_release(e);
}

static void test_bad_urls(void) {
    argent_error err;
    memset(&err, 0, sizeof err);
    CHECK(argent_engine_create("nosuchdb://host/db", NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_STR(err.kind_name, "ArgumentError");
    CHECK(err.message[0] != '\0');
    CHECK(strstr(err.message, "nosuchdb") != NULL);

    /* the password never shows in a message */
    CHECK(argent_engine_create("postgresql://ann:s3cret@host:99999/db", NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "s3cret") == NULL);

    CHECK(argent_engine_create("not a url", NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);

    /* no URL: DB_CONNECTION_STRING, and an ArgumentError without it */
    unsetenv("DB_CONNECTION_STRING");
    CHECK(argent_engine_create(NULL, NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "DB_CONNECTION_STRING") != NULL);
    setenv("DB_CONNECTION_STRING", "sqlite://", 1);
    argent_engine *e = argent_engine_create(NULL, NULL, &err);
    CHECK(e != NULL);
    CHECK_STR(argent_engine_dialect(e), "sqlite");
    argent_engine_release(e);
    unsetenv("DB_CONNECTION_STRING");

    /* a dialect this build may have no driver for */
    e = argent_engine_create("mariadb://u@localhost/db", NULL, &err);
#ifdef ARGENT_WITH_MARIADB
    CHECK(e != NULL);
    CHECK_STR(argent_engine_dialect(e), "mariadb");
    argent_engine_release(e);
#else
    CHECK(e == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_INTERFACE);
    CHECK(strstr(err.message, "mariadb") != NULL);
#endif

#ifdef ARGENT_WITH_POSTGRES
    /* nothing listens on port 1: the engine is made, connecting fails */
    e = argent_engine_create("postgresql://postgres:pw@127.0.0.1:1/x?connect_timeout=2", NULL, &err);
    CHECK(e != NULL);
    CHECK(argent_connect(e, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_OPERATIONAL);
    CHECK(strstr(err.message, "pw") == NULL || strstr(err.message, ":pw@") == NULL);
    argent_engine_release(e);
#endif

    /* NULL handles are errors or no-ops, never crashes; err may be NULL */
    CHECK(argent_connect(NULL, &err) == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(argent_connect(NULL, NULL) == NULL);
    argent_engine_release(NULL);
    argent_engine_dispose(NULL);
    argent_connection_close(NULL);
    argent_result_close(NULL);
    CHECK(argent_engine_retain(NULL) == NULL);
    CHECK(argent_engine_dialect(NULL) == NULL);
    CHECK_INT(argent_engine_pool_status(NULL, NULL, &err), -1);
    CHECK_INT(argent_execute(NULL, "SELECT 1", NULL, 0, NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_result_next(NULL, &err), -1);
    CHECK_INT(argent_result_column_count(NULL), 0);
    CHECK_INT(argent_result_column_type(NULL, 0), ARGENT_NO_VALUE);

    CHECK_STR(argent_error_kind_name(ARGENT_ERR_INTEGRITY), "IntegrityError");
    CHECK_STR(argent_error_kind_name(ARGENT_OK), "OK");
    CHECK_STR(argent_error_kind_name((argent_error_kind)999), "Error");
    CHECK_STR(argent_version(), ARGENT_VERSION);
    {
        char number[32];
        snprintf(number, sizeof number, "%d.%d.%d", ARGENT_VERSION_NUMBER / 10000, ARGENT_VERSION_NUMBER / 100 % 100,
                 ARGENT_VERSION_NUMBER % 100);
        CHECK_STR(number, ARGENT_VERSION);
    }
#if ARGENT_VERSION_NUMBER < 100
    CHECK(0); /* usable in #if */
#endif
}

/* ------------------------------------------------------------- statements */

static void create_items(argent_connection *conn) {
    run(conn, "DROP TABLE IF EXISTS capi_items");
    if (is_pg) {
        CHECK_INT(run(conn, "CREATE TABLE capi_items (id SERIAL PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, "
                            "t TEXT, b BYTEA, flag BOOLEAN, code TEXT UNIQUE)"),
                  0);
    } else {
        CHECK_INT(run(conn, "CREATE TABLE capi_items (id INTEGER PRIMARY KEY, i BIGINT, d DOUBLE PRECISION, "
                            "t TEXT, b BLOB, flag BOOLEAN, code TEXT UNIQUE)"),
                  0);
    }
}

static void test_values(argent_connection *conn) {
    argent_error err;
    create_items(conn);
    static const unsigned char blob[] = {'a', 0, 'b', 0xff};
    argent_value row1[] = {argent_int64(INT64_MAX - 1),    argent_double(3.25), argent_text("h\xc3\xa9llo"),
                           argent_blob(blob, sizeof blob), argent_bool(1),      argent_text("one")};
    argent_result *res;
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (i, d, t, b, flag, code) VALUES (?, ?, ?, ?, ?, ?)", row1, 6,
                             &res, &err),
              0);
    CHECK_INT(argent_result_rowcount(res), 1);
    CHECK_INT(argent_result_column_count(res), 0);
    CHECK_INT(argent_result_next(res, &err), 0); /* no rows: 0 at once, and again */
    CHECK_INT(argent_result_next(res, &err), 0);
    int64_t id = 0;
    if (is_pg) {
        CHECK_INT(argent_result_lastrowid(res, &id), 0);
    } else {
        CHECK_INT(argent_result_lastrowid(res, &id), 1);
        CHECK_INT(id, 1);
    }
    argent_result_close(res);

    argent_value row2[] = {argent_null(), argent_null(), argent_text(NULL),
                           argent_null(), argent_null(), argent_textn("two", 3)};
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (i, d, t, b, flag, code) VALUES (?, ?, ?, ?, ?, ?)", row2, 6,
                             &res, &err),
              0);
    if (!is_pg) {
        CHECK_INT(argent_result_lastrowid(res, &id), 1);
        CHECK_INT(id, 2);
    }
    argent_result_close(res);
    /* an empty text and an empty blob are values, not NULL */
    argent_value row3[] = {argent_int64(-5),     argent_double(-0.5), argent_textn("", 0),
                           argent_blob(NULL, 0), argent_bool(0),      argent_text("three")};
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (i, d, t, b, flag, code) VALUES (?, ?, ?, ?, ?, ?)", row3, 6,
                             NULL, &err),
              0);

    CHECK_INT(
        argent_execute(conn, "SELECT id, i, d, t, b, flag, code FROM capi_items ORDER BY id", NULL, 0, &res, &err), 0);
    CHECK_INT(argent_result_column_count(res), 7);
    CHECK_STR(argent_result_column_name(res, 0), "id");
    CHECK_STR(argent_result_column_name(res, 6), "code");
    CHECK(argent_result_column_name(res, 7) == NULL);
    CHECK(argent_result_column_name(res, -1) == NULL);
    CHECK_INT(argent_result_rowcount(res), -1);
    /* before the first row there is no value */
    CHECK_INT(argent_result_column_type(res, 0), ARGENT_NO_VALUE);
    CHECK(argent_result_column_is_null(res, 0));
    CHECK_INT(argent_result_column_int64(res, 0), 0);

    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_INT(argent_result_column_type(res, 0), ARGENT_INT64);
    CHECK_INT(argent_result_column_int64(res, 0), 1);
    CHECK_INT(argent_result_column_type(res, 1), ARGENT_INT64);
    CHECK(argent_result_column_int64(res, 1) == INT64_MAX - 1);
    CHECK_INT(argent_result_column_type(res, 2), ARGENT_DOUBLE);
    CHECK(argent_result_column_double(res, 2) == 3.25);
    CHECK_INT(argent_result_column_type(res, 3), ARGENT_TEXT);
    size_t len = 99;
    const char *text = argent_result_column_text(res, 3, &len);
    CHECK_STR(text, "h\xc3\xa9llo");
    CHECK_INT(len, 6);
    const char *code = argent_result_column_text(res, 6, NULL); /* another column: text stays */
    CHECK_STR(code, "one");
    CHECK_STR(text, "h\xc3\xa9llo");
    const void *raw = argent_result_column_blob(res, 3, &len); /* text without a copy */
    CHECK(raw && len == 6 && memcmp(raw, "h\xc3\xa9llo", 6) == 0);
    CHECK_INT(argent_result_column_type(res, 4), ARGENT_BLOB);
    const void *bytes = argent_result_column_blob(res, 4, &len);
    CHECK_INT(len, 4);
    CHECK(bytes && memcmp(bytes, blob, 4) == 0);
    text = argent_result_column_text(res, 4, &len); /* a blob as text: same bytes, NUL after them */
    CHECK_INT(len, 4);
    CHECK(text && memcmp(text, blob, 4) == 0 && text[4] == '\0');
    CHECK_INT(argent_result_column_type(res, 5), ARGENT_BOOL);
    CHECK_INT(argent_result_column_int64(res, 5), 1);
    CHECK_STR(argent_result_column_text(res, 5, NULL), "true");
    CHECK(!argent_result_column_is_null(res, 5));
    /* conversions */
    CHECK_STR(argent_result_column_text(res, 0, &len), "1");
    CHECK_INT(len, 1);
    CHECK_STR(argent_result_column_text(res, 1, NULL), "9223372036854775806");
    CHECK_STR(argent_result_column_text(res, 2, NULL), "3.25");
    CHECK(argent_result_column_double(res, 0) == 1.0);
    CHECK_INT(argent_result_column_int64(res, 2), 3);
    CHECK(argent_result_column_blob(res, 0, &len) == NULL && len == 0);
    /* out of range */
    CHECK_INT(argent_result_column_type(res, 7), ARGENT_NO_VALUE);
    CHECK(argent_result_column_text(res, 99, &len) == NULL && len == 0);

    CHECK_INT(argent_result_next(res, &err), 1);
    for (int col = 1; col <= 5; col++) {
        CHECK_INT(argent_result_column_type(res, col), ARGENT_NULL);
        CHECK(argent_result_column_is_null(res, col));
        CHECK_INT(argent_result_column_int64(res, col), 0);
        CHECK(argent_result_column_double(res, col) == 0.0);
        len = 99;
        CHECK(argent_result_column_text(res, col, &len) == NULL);
        CHECK_INT(len, 0);
    }
    CHECK_STR(argent_result_column_text(res, 6, NULL), "two");

    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_INT(argent_result_column_int64(res, 1), -5);
    CHECK(argent_result_column_double(res, 2) == -0.5);
    CHECK_STR(argent_result_column_text(res, 2, NULL), "-0.5");
    CHECK_INT(argent_result_column_type(res, 3), ARGENT_TEXT);
    CHECK_STR(argent_result_column_text(res, 3, &len), "");
    CHECK_INT(len, 0);
    CHECK_INT(argent_result_column_type(res, 4), ARGENT_BLOB);
    CHECK(argent_result_column_blob(res, 4, &len) != NULL);
    CHECK_INT(len, 0);
    CHECK_INT(argent_result_column_type(res, 5), ARGENT_BOOL);
    CHECK_STR(argent_result_column_text(res, 5, NULL), "false");

    CHECK_INT(argent_result_next(res, &err), 0);
    CHECK_INT(argent_result_next(res, &err), 0); /* and again */
    CHECK_INT(argent_result_column_type(res, 0), ARGENT_NO_VALUE);
    CHECK_STR(argent_result_column_name(res, 1), "i"); /* labels outlive the rows */
    argent_result_close(res);

    /* text parsed as numbers */
    argent_value num_text[] = {argent_text("123abc"), argent_text("2.5")};
    CHECK_INT(argent_execute(conn, is_pg ? "SELECT CAST(? AS TEXT), CAST(? AS TEXT)" : "SELECT ?, ?", num_text, 2, &res,
                             &err),
              0);
    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_INT(argent_result_column_type(res, 0), ARGENT_TEXT);
    CHECK_INT(argent_result_column_int64(res, 0), 123);
    CHECK(argent_result_column_double(res, 1) == 2.5);
    argent_result_close(res);

    /* a float that needs 17 digits reads back exactly */
    argent_value tenth[] = {argent_double(0.1), argent_double(1.0 / 3.0)};
    CHECK_INT(argent_execute(conn, "SELECT d FROM capi_items WHERE d < ? OR d = ?", tenth, 2, NULL, &err), 0);
    CHECK_INT(argent_execute(conn,
                             is_pg ? "SELECT CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION)" : "SELECT ?, ?",
                             tenth, 2, &res, &err),
              0);
    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_STR(argent_result_column_text(res, 0, NULL), "0.1");
    CHECK(strtod(argent_result_column_text(res, 1, NULL), NULL) == 1.0 / 3.0);
    argent_result_close(res);

    /* named parameters: in order of first appearance, a repeated name takes one */
    argent_value named[] = {argent_text("one"), argent_int64(3)};
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_items WHERE code = :code OR id = :id OR code = :code", named, 2),
              2);
    /* placeholders in quotes are text */
    argent_value one[] = {argent_int64(1)};
    CHECK_INT(argent_execute(conn, "SELECT 'is it ? or :x', id FROM capi_items WHERE id = ?", one, 1, &res, &err), 0);
    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_STR(argent_result_column_text(res, 0, NULL), "is it ? or :x");
    argent_result_close(res);

    /* UPDATE and DELETE rowcounts */
    CHECK_INT(argent_execute(conn, "UPDATE capi_items SET i = 0 WHERE id >= ?", one, 1, &res, &err), 0);
    CHECK_INT(argent_result_rowcount(res), 3);
    CHECK_INT(argent_result_lastrowid(res, &id), 0);
    argent_result_close(res);
    argent_value three[] = {argent_int64(3)};
    CHECK_INT(argent_execute(conn, "DELETE FROM capi_items WHERE id = ?", three, 1, &res, &err), 0);
    CHECK_INT(argent_result_rowcount(res), 1);
    argent_result_close(res);

    /* a result open while other statements run on the same connection */
    argent_result *outer, *inner;
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items ORDER BY id", NULL, 0, &outer, &err), 0);
    int seen = 0;
    while (argent_result_next(outer, &err) == 1) {
        argent_value p[] = {argent_int64(argent_result_column_int64(outer, 0))};
        CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items ORDER BY id", NULL, 0, &inner, &err), 0);
        CHECK_INT(argent_result_next(inner, &err), 1);
        argent_result_close(inner);
        CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_items WHERE id = ?", p, 1), 1);
        seen++;
    }
    CHECK_INT(seen, 2);
    argent_result_close(outer);

    /* a result closed before its last row gives its statement back */
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items", NULL, 0, &res, &err), 0);
    CHECK_INT(argent_result_next(res, &err), 1);
    argent_result_close(res);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_items", NULL, 0), 2);

    /* several statements in one script */
    CHECK_INT(argent_execute_script(conn,
                                    "CREATE TABLE capi_script (x INTEGER); INSERT INTO capi_script VALUES (1); "
                                    "INSERT INTO capi_script VALUES (2)",
                                    &err),
              0);
    CHECK_INT(scalar(conn, "SELECT sum(x) FROM capi_script", NULL, 0), 3);
    CHECK_INT(argent_execute_script(conn, "DROP TABLE capi_script", &err), 0);
    CHECK_INT(argent_execute_script(conn, "NOT SQL AT ALL", &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_PROGRAMMING);
}

static void test_parameter_errors(argent_connection *conn) {
    argent_error err;
    argent_result *res = (argent_result *)&err; /* any non-NULL value: it must become NULL */
    argent_value two[] = {argent_int64(1), argent_int64(2)};
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE id = ?", two, 2, &res, &err), -1);
    CHECK(res == NULL);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "takes 1 parameter but 2 were given") != NULL);
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE id = ?", NULL, 0, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE id = ?", NULL, 1, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_execute(conn, "SELECT 1", two, -1, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    argent_value bad = argent_int64(1);
    bad.type = (argent_type)42;
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE id = ?", &bad, 1, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "unknown type") != NULL);
    argent_value dangling = argent_textn(NULL, 3);
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE code = ?", &dangling, 1, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    /* `?` and `:name` in one statement */
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items WHERE id = ? OR code = :c", two, 2, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_execute(conn, NULL, NULL, 0, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    /* the connection is still fine after each of these */
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_items", NULL, 0), 2);
}

static void test_database_errors(argent_connection *conn) {
    argent_error err;
    argent_value dup[] = {argent_int64(1)};
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (id) VALUES (?)", dup, 1, NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INTEGRITY);
    CHECK_STR(err.kind_name, "IntegrityError");
    CHECK_STR(err.code, is_pg ? "23505" : "1555"); /* unique_violation / SQLITE_CONSTRAINT_PRIMARYKEY */
    CHECK_INT(err.disconnect, 0);

    argent_value again[] = {argent_text("one")};
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (code) VALUES (?)", again, 1, NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INTEGRITY);

    argent_result *res;
    CHECK_INT(argent_execute(conn, "SELECT * FROM capi_no_such_table", NULL, 0, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_PROGRAMMING);
    CHECK_STR(err.kind_name, "ProgrammingError");
    CHECK(strstr(err.message, "capi_no_such_table") != NULL);
    CHECK_INT(argent_execute(conn, "SELEKT 1", NULL, 0, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_PROGRAMMING);
    CHECK_INT(argent_execute(conn, "SELECT no_such_column FROM capi_items", NULL, 0, &res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_PROGRAMMING);

    /* a failed statement in a transaction: rolled back, nothing half-done */
    argent_tx tx;
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    argent_value fresh[] = {argent_text("fresh")};
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (code) VALUES (?)", fresh, 1, NULL, &err), 0);
    CHECK_INT(argent_execute(conn, "INSERT INTO capi_items (id) VALUES (?)", dup, 1, NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INTEGRITY);
    CHECK(argent_in_transaction(conn));
    CHECK_INT(argent_rollback(conn, tx, &err), 0);
    CHECK(!argent_in_transaction(conn));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_items", NULL, 0), 2);
}

static void test_transactions(argent_engine *engine, argent_connection *conn) {
    argent_error err;
    run(conn, "DROP TABLE IF EXISTS capi_tx");
    CHECK_INT(run(conn, "CREATE TABLE capi_tx (name TEXT)"), 0);
    argent_value a[] = {argent_text("a")}, b[] = {argent_text("b")}, c[] = {argent_text("c")};
    const char *insert = "INSERT INTO capi_tx (name) VALUES (?)";

    /* rollback */
    argent_tx tx, sp, sp2;
    CHECK(!argent_in_transaction(conn));
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK(argent_tx_is_active(conn, tx));
    CHECK(argent_in_transaction(conn));
    CHECK_INT(argent_execute(conn, insert, a, 1, NULL, &err), 0);
    CHECK_INT(argent_rollback(conn, tx, &err), 0);
    CHECK(!argent_tx_is_active(conn, tx));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx", NULL, 0), 0);
    CHECK_INT(argent_rollback(conn, tx, &err), 0); /* an inactive one: nothing to do */
    CHECK_INT(argent_commit(conn, tx, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);

    /* commit, seen from another connection (on a file: another database connection) */
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK_INT(argent_begin(conn, &sp, &err), -1); /* one at a time */
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    CHECK_INT(argent_execute(conn, insert, a, 1, NULL, &err), 0);
    CHECK_INT(argent_commit(conn, tx, &err), 0);
    CHECK_INT(argent_commit(conn, tx, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    argent_connection *other = argent_connect(engine, &err);
    CHECK(other != NULL);
    if (other) {
        CHECK_INT(scalar(other, "SELECT count(*) FROM capi_tx", NULL, 0), 1);
        argent_connection_close(other);
    }

    /* savepoints: an inner rollback keeps the outer work */
    CHECK_INT(argent_begin_nested(conn, &sp, &err), -1); /* needs a transaction */
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK_INT(argent_execute(conn, insert, b, 1, NULL, &err), 0);
    CHECK_INT(argent_begin_nested(conn, &sp, &err), 0);
    CHECK(argent_tx_is_active(conn, sp));
    CHECK_INT(argent_execute(conn, insert, c, 1, NULL, &err), 0);
    CHECK_INT(argent_rollback(conn, sp, &err), 0);
    CHECK(!argent_tx_is_active(conn, sp));
    CHECK(argent_tx_is_active(conn, tx));
    CHECK_INT(argent_commit(conn, tx, &err), 0);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx", NULL, 0), 2);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx WHERE name = 'c'", NULL, 0), 0);

    /* a released savepoint still goes when the transaction rolls back */
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK_INT(argent_begin_nested(conn, &sp, &err), 0);
    CHECK_INT(argent_execute(conn, insert, c, 1, NULL, &err), 0);
    CHECK_INT(argent_commit(conn, sp, &err), 0);
    CHECK_INT(argent_rollback(conn, tx, &err), 0);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx", NULL, 0), 2);

    /* ending an outer level ends the inner ones; a later level is a new one */
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK_INT(argent_begin_nested(conn, &sp, &err), 0);
    CHECK_INT(argent_begin_nested(conn, &sp2, &err), 0);
    CHECK_INT(argent_execute(conn, insert, c, 1, NULL, &err), 0);
    CHECK_INT(argent_rollback(conn, sp, &err), 0);
    CHECK(!argent_tx_is_active(conn, sp2));
    CHECK_INT(argent_commit(conn, sp2, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    argent_tx sp3;
    CHECK_INT(argent_begin_nested(conn, &sp3, &err), 0); /* same level as sp, not sp */
    CHECK(!argent_tx_is_active(conn, sp));
    CHECK(argent_tx_is_active(conn, sp3));
    CHECK_INT(argent_commit(conn, tx, &err), 0);
    CHECK(!argent_tx_is_active(conn, sp3));
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx", NULL, 0), 2);

    /* a connection closed inside a transaction rolls it back (in memory, the
     * one shared database connection is reset when its last holder lets go) */
    argent_connection *c2 = is_memory ? NULL : argent_connect(engine, &err);
    CHECK(is_memory || c2 != NULL);
    if (c2) {
        CHECK_INT(argent_begin(c2, &tx, &err), 0);
        CHECK_INT(argent_execute(c2, insert, c, 1, NULL, &err), 0);
        argent_connection_close(c2);
    }
    CHECK_INT(scalar(conn, "SELECT count(*) FROM capi_tx", NULL, 0), 2);
    CHECK_INT(run(conn, "DROP TABLE capi_tx"), 0);

    CHECK_INT(argent_begin(NULL, &tx, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK_INT(argent_begin(conn, NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
}

/* Results outlive their connection as handles that say so. */
static void test_closed_connection(argent_engine *engine) {
    argent_error err;
    argent_connection *conn = argent_connect(engine, &err);
    CHECK(conn != NULL);
    if (!conn) return;
    argent_result *rows, *pending, *done, *dml;
    CHECK_INT(argent_execute(conn, "SELECT id, code FROM capi_items ORDER BY id", NULL, 0, &rows, &err), 0);
    CHECK_INT(argent_execute(conn, "SELECT id FROM capi_items", NULL, 0, &pending, &err), 0);
    CHECK_INT(argent_execute(conn, "SELECT 1 WHERE 1 = 0", NULL, 0, &done, &err), 0);
    CHECK_INT(argent_result_next(done, &err), 0);
    argent_value v[] = {argent_int64(1)};
    CHECK_INT(argent_execute(conn, "UPDATE capi_items SET i = 1 WHERE id = ?", v, 1, &dml, &err), 0);
    CHECK_INT(argent_result_next(rows, &err), 1);
    CHECK_INT(argent_result_column_int64(rows, 0), 1);
    const char *kept = argent_result_column_text(rows, 1, NULL); /* a copy the result owns */
    argent_connection_close(conn);
    CHECK_STR(kept, "one");

    CHECK_INT(argent_result_column_type(rows, 0), ARGENT_NO_VALUE);
    CHECK(argent_result_column_text(rows, 1, NULL) == NULL);
    CHECK_INT(argent_result_next(rows, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    CHECK(strstr(err.message, "closed") != NULL);
    CHECK_INT(argent_result_column_count(rows), 2);
    CHECK_STR(argent_result_column_name(rows, 1), "code");
    CHECK_INT(argent_result_next(pending, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    CHECK_INT(argent_result_next(done, &err), 0); /* finished before: still finished */
    CHECK_INT(argent_result_rowcount(dml), 1);
    CHECK_INT(argent_result_next(dml, &err), 0);
    argent_result_close(rows);
    argent_result_close(pending);
    argent_result_close(done);
    argent_result_close(dml);
}

/* The engine is freed by whoever lets go last; ASan checks that it is. */
static void test_lifetime(const char *url) {
    argent_error err;
    argent_engine *engine = argent_engine_create(url, NULL, &err);
    CHECK(engine != NULL);
    if (!engine) return;
    CHECK(argent_engine_retain(engine) == engine);
    argent_engine_release(engine); /* back to one reference */
    argent_connection *conn = argent_connect(engine, &err);
    CHECK(conn != NULL);
    if (!conn) {
        argent_engine_release(engine);
        return;
    }
    argent_engine_release(engine); /* the connection holds the last reference now */
    argent_engine *held = argent_connection_engine(conn);
    CHECK(held == engine);
    argent_pool_status st;
    CHECK_INT(argent_engine_pool_status(held, &st, &err), 0);
    CHECK_INT(st.checked_out, 1);
    argent_result *res;
    CHECK_INT(argent_execute(conn, "SELECT 1", NULL, 0, &res, &err), 0);
    CHECK_INT(argent_result_next(res, &err), 1);
    CHECK_INT(argent_result_column_int64(res, 0), 1);
    argent_connection_close(conn); /* frees the engine, its pool and its cached statement */
    CHECK_INT(argent_result_next(res, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_INVALID_REQUEST);
    argent_result_close(res); /* after the engine is gone: only frees the handle */
}

static void run_suite(const char *label, const char *url) {
    printf("-- %s\n", label);
    argent_error err;
    argent_engine *engine = argent_engine_create(url, NULL, &err);
    CHECK(engine != NULL);
    if (!engine) {
        fprintf(stderr, "  %s: %s\n", err.kind_name, err.message);
        return;
    }
    is_pg = strcmp(argent_engine_dialect(engine), "postgresql") == 0;
    is_memory = strstr(url, "sqlite://") == url && (strlen(url) == 9 || strstr(url, ":memory:") != NULL);
    argent_connection *conn = argent_connect(engine, &err);
    CHECK(conn != NULL);
    if (conn) {
        test_values(conn);
        test_parameter_errors(conn);
        test_database_errors(conn);
        test_transactions(engine, conn);
        argent_connection_close(conn);
        test_closed_connection(engine);
        conn = argent_connect(engine, &err);
        if (conn) {
            CHECK_INT(run(conn, "DROP TABLE capi_items"), 0);
            argent_connection_close(conn);
        }
    } else {
        fprintf(stderr, "  %s: %s\n", err.kind_name, err.message);
    }
    argent_pool_status st;
    CHECK_INT(argent_engine_pool_status(engine, &st, &err), 0);
    CHECK_INT(st.checked_out, 0);
    argent_engine_release(engine);
    test_lifetime(url);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/argent-capi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[600], url[700];
    snprintf(path, sizeof path, "%s/capi.db", dir);
    snprintf(url, sizeof url, "sqlite:///%s", path);

    test_bad_urls();
    test_options(url);
    test_replicas(url);
    run_suite("sqlite file", url);
    run_suite("sqlite memory", "sqlite://");
    run_suite("sqlite memory (explicit)", "sqlite:///:memory:");

    const char *pg = getenv("ARGENT_TEST_PG_URL");
    if (pg && *pg) {
#ifdef ARGENT_WITH_POSTGRES
        run_suite("postgresql", pg);
#else
        printf("-- postgresql: skipped (built without ARGENT_WITH_POSTGRES)\n");
#endif
    } else {
        printf("-- postgresql: skipped (ARGENT_TEST_PG_URL is not set)\n");
    }

    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char f[640];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
    rmdir(dir);
    CHECK_DONE();
}
