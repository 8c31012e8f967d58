/*
 * test_driver_mariadb.c -- the MariaDB driver (src/driver/mariadb.c) against
 * a real server.  The server's URL comes from ARGENT_TEST_MY_URL
 * (mariadb://user[:password]@host:port/dbname); without it the test is
 * skipped (exit 77).  scripts/test.sh starts a throwaway server
 * (scripts/mariadb.sh).  Tables are TEMPORARY where the test allows it, so
 * the test can share a database with the Lua suites; the foreign-key and
 * locking tests need real tables, named c_my_*, dropped at the end.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "interleave.h"
#include "values.h"
#include "driver/driver.h"

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* ASan's live heap */
static size_t live_heap(void) { return __sanitizer_get_current_allocated_bytes(); }
#else
#include <malloc.h>
static size_t live_heap(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#endif

static const ag_driver *D = &ag_driver_mariadb;
static ag_url *test_url;

static ag_driver_conn *connect_with(const ag_url *url, const ag_url_param *args, size_t nargs, const char *isolation,
                                    ag_error *err) {
    ag_connect_params params = {url, args, nargs, isolation, 0};
    ag_driver_conn *c = NULL;
    ag_error_clear(err);
    if (D->connect(&params, &c, err) != 0) return NULL;
    return c;
}

static ag_driver_conn *connect_default(void) {
    ag_error err;
    ag_driver_conn *c = connect_with(test_url, NULL, 0, NULL, &err);
    if (!c) fprintf(stderr, "connect failed: %s\n", err.message);
    return c;
}

static int exec(ag_driver_conn *c, const char *sql) {
    ag_error err;
    ag_error_clear(&err);
    int rc = D->exec_simple(c, sql, &err);
    if (rc != 0) fprintf(stderr, "exec_simple(%s): %s\n", sql, err.message);
    return rc;
}

static ag_driver_stmt *prep(ag_driver_conn *c, const char *sql) {
    ag_error err;
    ag_driver_stmt *s = NULL;
    ag_error_clear(&err);
    if (D->prepare(c, sql, strlen(sql), &s, &err) != 0) {
        fprintf(stderr, "prepare(%s): %s\n", sql, err.message);
        return NULL;
    }
    return s;
}

/* Runs sql with params and returns the first column of the first row in *out
 * (text copied into a static buffer).  Returns 0, or -1 with err. */
static char value_text[256 * 1024];
static int query_one(ag_driver_conn *c, const char *sql, const ag_value *params, int n, ag_value *out, ag_error *err) {
    ag_error_clear(err);
    ag_driver_stmt *s = NULL;
    if (D->prepare(c, sql, strlen(sql), &s, err) != 0) return -1;
    int rc = D->execute(s, params, n, err);
    if (rc == 0) rc = D->fetch(s, err) == 1 ? 0 : -1;
    if (rc == 0) {
        D->column_value(s, 0, out);
        if (out->type == AG_VALUE_TEXT || out->type == AG_VALUE_BLOB) {
            memcpy(value_text, out->u.bytes.data, out->u.bytes.len);
            value_text[out->u.bytes.len] = '\0';
            out->u.bytes.data = value_text;
        }
    }
    D->finalize(s);
    return rc;
}

static int64_t count_of(ag_driver_conn *c, const char *sql) {
    ag_value v;
    ag_error err;
    if (query_one(c, sql, NULL, 0, &v, &err) != 0 || v.type != AG_VALUE_INTEGER) return -1;
    return v.u.integer;
}

/* The text value of sql's first column (NULL when it is not text). */
static const char *text_of(ag_driver_conn *c, const char *sql) {
    ag_value v;
    ag_error err;
    if (query_one(c, sql, NULL, 0, &v, &err) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err.message);
        return NULL;
    }
    return v.type == AG_VALUE_TEXT ? v.u.bytes.data : NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_connect_errors(void) {
    ag_error err;
    ag_url refused = *test_url;
    refused.host = "127.0.0.1";
    refused.port = 1;
    refused.password = "s3cret-pw";
    CHECK(connect_with(&refused, NULL, 0, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK(strstr(err.message, "s3cret-pw") == NULL);
    CHECK(err.message[0] != '\0');

    /* a wrong password: access denied, the password nowhere */
    ag_url denied = *test_url;
    denied.password = "s3cret-pw";
    CHECK(connect_with(&denied, NULL, 0, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK(strstr(err.message, "s3cret-pw") == NULL);

    ag_url nodb = *test_url;
    nodb.database = "no_such_db_argent";
    CHECK(connect_with(&nodb, NULL, 0, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK(strstr(err.message, "no_such_db_argent") != NULL);

    ag_url_param bad = {"no_such_option", "1"};
    CHECK(connect_with(test_url, &bad, 1, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(strstr(err.message, "no_such_option") != NULL);

    ag_url_param latin = {"charset", "latin1"};
    CHECK(connect_with(test_url, &latin, 1, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);

    ag_url_param timeout = {"connect_timeout", "soon"};
    CHECK(connect_with(test_url, &timeout, 1, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);

    ag_url_param ssl = {"ssl_mode", "SOMETIMES"};
    CHECK(connect_with(test_url, &ssl, 1, NULL, &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);

    CHECK(connect_with(test_url, NULL, 0, "CHAOS", &err) == NULL);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);

    /* TLS demanded from a server without it (scripts/mariadb.sh sets none up) */
    ag_url_param tls = {"ssl_mode", "REQUIRED"};
    ag_driver_conn *c = connect_with(test_url, &tls, 1, NULL, &err);
    if (c) {
        const char *cipher = text_of(c, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                                        "WHERE VARIABLE_NAME = 'SSL_CIPHER'");
        CHECK(cipher && cipher[0]); /* the server has TLS: the session uses it */
        D->close(c);
    } else {
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK(strstr(err.message, "TLS") != NULL);
    }
}

static void test_connect_options(void) {
    ag_error err;
    ag_url_param args[] = {{"charset", "utf8mb4"},
                           {"connect_timeout", "5"},
                           {"read_timeout", "60"},
                           {"write_timeout", "60"},
                           {"ssl_mode", "DISABLED"}};
    ag_driver_conn *c = connect_with(test_url, args, 5, "SERIALIZABLE", &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STR(text_of(c, "SELECT @@SESSION.tx_isolation"), "SERIALIZABLE");
    CHECK_STR(text_of(c, "SELECT @@character_set_client"), "utf8mb4");
    CHECK_STR(text_of(c, "SELECT @@character_set_results"), "utf8mb4");
    const char *mode = text_of(c, "SELECT @@SESSION.sql_mode");
    CHECK(mode && strstr(mode, "STRICT_ALL_TABLES") != NULL);
    CHECK(mode && strstr(mode, "ANSI_QUOTES") == NULL);
    D->close(c);

    c = connect_with(test_url, NULL, 0, "read committed", &err);
    CHECK(c != NULL);
    if (c) CHECK_STR(text_of(c, "SELECT @@SESSION.tx_isolation"), "READ-COMMITTED");
    D->close(c);
}

/* value through `SELECT ?` */
static void roundtrip(ag_driver_conn *c, ag_value in, ag_value *out) {
    ag_error err;
    if (query_one(c, "SELECT ?", &in, 1, out, &err) != 0) {
        fprintf(stderr, "SELECT ?: %s\n", err.message);
        out->type = AG_VALUE_NULL;
    }
}

/* in stored in column col of table vals (id 1) and read back */
static void stored(ag_driver_conn *c, const char *col, ag_value in, ag_value *out) {
    ag_error err;
    char sql[200];
    exec(c, "DELETE FROM vals");
    snprintf(sql, sizeof sql, "INSERT INTO vals (id, %s) VALUES (1, ?)", col);
    ag_driver_stmt *s = prep(c, sql);
    ag_error_clear(&err);
    if (!s || D->execute(s, &in, 1, &err) != 0) fprintf(stderr, "%s: %s\n", sql, err.message);
    D->finalize(s);
    snprintf(sql, sizeof sql, "SELECT %s FROM vals WHERE id = 1", col);
    if (query_one(c, sql, NULL, 0, out, &err) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err.message);
        out->type = AG_VALUE_NULL;
    }
}

static void test_values(ag_driver_conn *c) {
    ag_value v;
    CHECK(exec(c, "CREATE TEMPORARY TABLE vals (id INT PRIMARY KEY, i BIGINT, u BIGINT UNSIGNED, "
                  "f DOUBLE, r FLOAT, t LONGTEXT, b LONGBLOB, vc VARCHAR(10), flag BOOLEAN, "
                  "tiny TINYINT, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6), "
                  "num DECIMAL(10,2), bits BIT(8), e ENUM('a','b'), j JSON)") == 0);

    static const int64_t ints[] = {0, 1, -1, 2147483647, 2147483648LL, -2147483649LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        roundtrip(c, vint(ints[i]), &v);
        CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == ints[i]);
        stored(c, "i", vint(ints[i]), &v);
        CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == ints[i]);
    }
    stored(c, "u", vtext("18446744073709551615"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "18446744073709551615") == 0);
    stored(c, "u", vint(INT64_MAX), &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == INT64_MAX);

    static const double floats[] = {0.1, -2.25, 1e300, -1e-300, 123456.789, 0.0};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        roundtrip(c, vfloat(floats[i]), &v);
        CHECK(v.type == AG_VALUE_FLOAT && v.u.number == floats[i]);
        stored(c, "f", vfloat(floats[i]), &v);
        CHECK(v.type == AG_VALUE_FLOAT && v.u.number == floats[i]);
    }
    stored(c, "r", vfloat(0.1), &v); /* FLOAT: single precision, read as its shortest text */
    CHECK(v.type == AG_VALUE_FLOAT && v.u.number == 0.1);

    /* text: zero bytes, 4-byte UTF-8, quotes, 100 kB (past the first buffer) */
    static const char zeros[] = "a\0b\0\0c";
    roundtrip(c, vbytes(AG_VALUE_TEXT, zeros, 6), &v);
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == 6 && memcmp(v.u.bytes.data, zeros, 6) == 0);
    stored(c, "t", vbytes(AG_VALUE_TEXT, zeros, 6), &v);
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == 6 && memcmp(v.u.bytes.data, zeros, 6) == 0);
    const char *emoji = "smile \xF0\x9F\x98\x80 ok \xE2\x9C\x93 'q' \"d\" `b` \\";
    roundtrip(c, vtext(emoji), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, emoji) == 0);
    stored(c, "t", vtext(emoji), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, emoji) == 0);
    stored(c, "vc", vtext("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), &v); /* 2 characters, 8 bytes */
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == 8);
    roundtrip(c, vtext(""), &v);
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == 0);

    size_t big_len = 100 * 1024;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)('a' + i % 26);
    stored(c, "t", vbytes(AG_VALUE_TEXT, big, big_len), &v);
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == big_len && memcmp(v.u.bytes.data, big, big_len) == 0);
    roundtrip(c, vbytes(AG_VALUE_TEXT, big, big_len), &v);
    CHECK(v.type == AG_VALUE_TEXT && v.u.bytes.len == big_len && memcmp(v.u.bytes.data, big, big_len) == 0);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)(i * 7);
    stored(c, "b", vbytes(AG_VALUE_BLOB, big, big_len), &v);
    CHECK(v.type == AG_VALUE_BLOB && v.u.bytes.len == big_len && memcmp(v.u.bytes.data, big, big_len) == 0);
    free(big);

    char all[256];
    for (int i = 0; i < 256; i++) all[i] = (char)i;
    stored(c, "b", vbytes(AG_VALUE_BLOB, all, 256), &v);
    CHECK(v.type == AG_VALUE_BLOB && v.u.bytes.len == 256 && memcmp(v.u.bytes.data, all, 256) == 0);
    roundtrip(c, vbytes(AG_VALUE_BLOB, all, 256), &v);
    CHECK(v.type == AG_VALUE_BLOB && v.u.bytes.len == 256 && memcmp(v.u.bytes.data, all, 256) == 0);

    /* TINYINT(1) (BOOLEAN) reads as a boolean; other TINYINTs as integers */
    stored(c, "flag", vbool(1), &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 1);
    stored(c, "flag", vbool(0), &v);
    CHECK(v.type == AG_VALUE_BOOLEAN && v.u.boolean == 0);
    stored(c, "tiny", vint(1), &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 1);

    /* dates and times: the same ISO text as on SQLite and PostgreSQL */
    stored(c, "d", vtext("2026-11-24"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "2026-11-24") == 0);
    stored(c, "dt", vtext("2026-11-24 02:26:03"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "2026-11-24 02:26:03") == 0);
    stored(c, "dt", vtext("2026-11-24 02:26:03.5"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "2026-11-24 02:26:03.5") == 0);
    stored(c, "dt", vtext("2026-11-24 02:26:03.123456"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "2026-11-24 02:26:03.123456") == 0);
    stored(c, "ts", vtext("2026-11-24 02:26:03"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "2026-11-24 02:26:03") == 0);
    stored(c, "tm", vtext("02:26:03"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "02:26:03") == 0);
    stored(c, "tm", vtext("-838:59:59.25"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "-838:59:59.25") == 0);
    CHECK_STR(text_of(c, "SELECT CAST('2026-11-24 02:26:03' AS DATETIME)"), "2026-11-24 02:26:03");
    CHECK_STR(text_of(c, "SELECT DATE('2026-11-24 02:26:03')"), "2026-11-24");

    /* exact numbers, bits, enums, JSON, NULL */
    stored(c, "num", vtext("12.5"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "12.50") == 0);
    CHECK_INT(count_of(c, "SELECT SUM(id) FROM vals"), 1); /* DECIMAL(n,0) of an expression */
    CHECK_STR(text_of(c, "SELECT 12345678901234567890123 + 0"), "12345678901234567890123");
    stored(c, "bits", vint(5), &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 5);
    stored(c, "e", vtext("b"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "b") == 0);
    stored(c, "j", vtext("{\"a\": [1, 2]}"), &v);
    CHECK(v.type == AG_VALUE_TEXT && strcmp(v.u.bytes.data, "{\"a\": [1, 2]}") == 0);
    stored(c, "i", vnull(), &v);
    CHECK(v.type == AG_VALUE_NULL);
    roundtrip(c, vnull(), &v);
    CHECK(v.type == AG_VALUE_NULL);

    /* one statement, values of changing types: the result binding follows */
    ag_driver_stmt *s = prep(c, "SELECT ? AS v");
    ag_error err;
    ag_value p[] = {vint(7), vtext("seven"), vfloat(7.5), vnull(), vint(8)};
    for (int i = 0; i < 5; i++) {
        CHECK_INT(D->execute(s, &p[i], 1, &err), 0);
        CHECK_INT(D->fetch(s, &err), 1);
        D->column_value(s, 0, &v);
        CHECK_INT(v.type, p[i].type);
        CHECK_INT(D->fetch(s, &err), 0);
    }
    CHECK_STR(D->column_name(s, 0), "v");
    CHECK_INT(D->column_count(s), 1);
    CHECK_INT(D->param_count(s), 1);
    D->finalize(s);
}

static void test_rows_affected(ag_driver_conn *c) {
    ag_error err;
    CHECK(exec(c, "CREATE TEMPORARY TABLE ra (id INT PRIMARY KEY AUTO_INCREMENT, x INT)") == 0);
    ag_driver_stmt *ins = prep(c, "INSERT INTO ra (x) VALUES (?), (?)");
    ag_value two[] = {vint(1), vint(1)};
    int64_t id = 0;
    CHECK_INT(D->execute(ins, two, 2, &err), 0);
    CHECK_INT(D->rows_affected(ins), 2);
    CHECK_INT(D->last_insert_id(ins, &id), 0);
    CHECK_INT(id, 1); /* the first row of a multi-row insert, as MariaDB reports it */
    CHECK_INT(D->execute(ins, two, 2, &err), 0);
    CHECK_INT(D->last_insert_id(ins, &id), 0);
    CHECK_INT(id, 3);
    D->finalize(ins);

    /* matched rows, not changed rows (CLIENT_FOUND_ROWS) */
    ag_driver_stmt *up = prep(c, "UPDATE ra SET x = 1 WHERE x = ?");
    ag_value one = vint(1);
    CHECK_INT(D->execute(up, &one, 1, &err), 0);
    CHECK_INT(D->rows_affected(up), 4);
    CHECK_INT(D->last_insert_id(up, &id), -1);
    D->finalize(up);
    ag_driver_stmt *del = prep(c, "  /* c */ DELETE FROM ra WHERE id > ?");
    ag_value three = vint(3);
    CHECK_INT(D->execute(del, &three, 1, &err), 0);
    CHECK_INT(D->rows_affected(del), 1);
    D->finalize(del);
    ag_driver_stmt *sel = prep(c, "SELECT id FROM ra");
    CHECK_INT(D->execute(sel, NULL, 0, &err), 0);
    CHECK_INT(D->rows_affected(sel), -1);
    CHECK_INT(D->last_insert_id(sel, &id), -1);
    D->finalize(sel);
    ag_driver_stmt *ddl = prep(c, "CREATE TEMPORARY TABLE ra2 (x INT)");
    CHECK_INT(D->execute(ddl, NULL, 0, &err), 0);
    CHECK_INT(D->rows_affected(ddl), -1);
    D->finalize(ddl);
}

static void test_streaming(ag_driver_conn *c) {
    ag_error err;
    /* the Sequence engine's seq_1_to_N tables make rows as they are read */
    ag_driver_stmt *s = prep(c, "SELECT seq, REPEAT('x', 200) FROM seq_1_to_1000000 WHERE seq <= ?");
    ag_value p = vint(100000);
    CHECK_INT(D->execute(s, &p, 1, &err), 0);
    int64_t n = 0, sum = 0;
    size_t heap_early = 0, heap_late = 0;
    int r;
    while ((r = D->fetch(s, &err)) == 1) {
        ag_value v, t;
        D->column_value(s, 0, &v);
        D->column_value(s, 1, &t);
        sum += v.u.integer;
        if (t.u.bytes.len != 200) break;
        n++;
        if (n == 1000) heap_early = live_heap();
        if (n == 99000) heap_late = live_heap();
    }
    CHECK_INT(r, 0);
    CHECK_INT(n, 100000);
    CHECK(sum == (int64_t)100000 * 100001 / 2);
    /* the whole result would be over 20 MB; streaming holds one row */
    CHECK(heap_late < heap_early + 4 * 1024 * 1024);
    if (!(heap_late < heap_early + 4 * 1024 * 1024))
        fprintf(stderr, "heap grew from %zu to %zu\n", heap_early, heap_late);
    D->finalize(s);
}

/* A statement read to its last row but not past it, whose end then goes
 * to memory (another statement runs), then reset and run again: the
 * connector kept it mid-result with nothing stored, and the second execute
 * waited on the wire forever.  Also past its end, and with no row read. */
static void test_exhausted_stream_moved_to_memory(ag_driver_conn *c) {
    ag_error err;
    ag_driver_stmt *a = prep(c, "SELECT seq FROM seq_1_to_3 WHERE seq = ?");
    ag_driver_stmt *b = prep(c, "SELECT 2");
    for (int round = 0; round < 3; round++) {
        ag_value p = vint(1), v;
        CHECK_INT(D->execute(a, &p, 1, &err), 0);
        if (round < 2) CHECK_INT(D->fetch(a, &err), 1);
        if (round == 1) CHECK_INT(D->fetch(a, &err), 0);
        CHECK_INT(D->execute(b, NULL, 0, &err), 0); /* a's end to memory */
        CHECK_INT(D->fetch(b, &err), 1);
        CHECK_INT(D->fetch(b, &err), 0);
        D->reset(a);
        CHECK_INT(D->execute(a, &p, 1, &err), 0);
        CHECK_INT(D->fetch(a, &err), 1);
        D->column_value(a, 0, &v);
        CHECK(v.type == AG_VALUE_INTEGER && v.u.integer == 1);
        CHECK_INT(D->fetch(a, &err), 0);
    }
    D->finalize(a);
    D->finalize(b);
}

/* A seeded random walk over four statements of the connection, for seeds
 * 1..ARGENT_WALK_SEEDS (default 20)
 * (tests/c/interleave.h): every execute, fetch, reset, finalize and simple
 * command checked against a model of what each statement gives next. */
static void test_interleaving_walk(ag_driver_conn *c) {
    char why[AG_ERROR_MESSAGE_MAX + 256];
    unsigned seeds = getenv("ARGENT_WALK_SEEDS") ? (unsigned)atoi(getenv("ARGENT_WALK_SEEDS")) : 20;
    for (unsigned seed = 1; seed <= seeds; seed++) {
        int rc = interleave_walk(D, c, "SELECT seq FROM seq_1_to_50 WHERE seq <= ? ORDER BY seq", "DO 1", seed, 2000,
                                 why, sizeof why);
        if (rc != 0) fprintf(stderr, "interleaving walk, seed %u: %s\n", seed, why);
        CHECK_INT(rc, 0);
        if (rc != 0) break;
    }
}

static void test_interleaved(ag_driver_conn *c) {
    ag_error err;
    ag_driver_stmt *a = prep(c, "SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000");
    ag_driver_stmt *b = prep(c, "SELECT COUNT(*) FROM information_schema.character_sets WHERE ? > 0");
    CHECK(exec(c, "CREATE TEMPORARY TABLE il (x INT)") == 0);
    ag_driver_stmt *ins = prep(c, "INSERT INTO il VALUES (?)");
    CHECK_INT(D->execute(a, NULL, 0, &err), 0);
    int64_t expect = 1;
    for (int i = 0; i < 10; i++) {
        CHECK_INT(D->fetch(a, &err), 1);
        ag_value v;
        D->column_value(a, 0, &v);
        CHECK(v.u.integer == expect);
        expect++;
    }
    ag_value held;
    D->column_value(a, 1, &held); /* must survive the other statements */
    ag_value p = vint(50);
    CHECK_INT(D->execute(b, &p, 1, &err), 0); /* a's rest goes to memory */
    CHECK_INT(D->fetch(b, &err), 1);
    ag_value v;
    D->column_value(b, 0, &v);
    CHECK(v.type == AG_VALUE_INTEGER && v.u.integer > 0);
    CHECK_INT(D->fetch(b, &err), 0);
    CHECK(held.type == AG_VALUE_TEXT && held.u.bytes.len == 6 && memcmp(held.u.bytes.data, "row 10", 6) == 0);

    /* b streams while a (buffered) is read to its end and finishes: b's rows
     * must not be lost when a's result is freed */
    CHECK_INT(D->execute(b, &p, 1, &err), 0);
    int r;
    while ((r = D->fetch(a, &err)) == 1) {
        D->column_value(a, 0, &v);
        if (v.u.integer != expect) break;
        ag_value x = vint(expect);
        if (expect % 100 == 0) CHECK_INT(D->execute(ins, &x, 1, &err), 0); /* b to memory */
        expect++;
    }
    CHECK_INT(r, 0);
    CHECK_INT(expect, 1001);
    CHECK_INT(D->fetch(b, &err), 1);
    CHECK_INT(D->fetch(b, &err), 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM il"), 10);

    /* a reset while another statement streams, then both again */
    CHECK_INT(D->execute(a, NULL, 0, &err), 0);
    CHECK_INT(D->fetch(a, &err), 1);
    CHECK_INT(D->execute(b, &p, 1, &err), 0);
    D->reset(a);
    CHECK_INT(D->fetch(b, &err), 1);
    CHECK_INT(D->fetch(b, &err), 0);
    CHECK_INT(D->execute(a, NULL, 0, &err), 0);
    int64_t rows = 0;
    while (D->fetch(a, &err) == 1) rows++;
    CHECK_INT(rows, 1000);

    /* finalize a statement while another streams */
    CHECK_INT(D->execute(a, NULL, 0, &err), 0);
    CHECK_INT(D->fetch(a, &err), 1);
    ag_driver_stmt *tmp = prep(c, "SELECT 1");
    CHECK_INT(D->execute(tmp, NULL, 0, &err), 0);
    CHECK_INT(D->execute(b, &p, 1, &err), 0);
    D->finalize(tmp);
    CHECK_INT(D->fetch(b, &err), 1);
    rows = 1;
    while (D->fetch(a, &err) == 1) rows++;
    CHECK_INT(rows, 1000);
    CHECK_INT(D->ping(c, &err), 0);
    D->finalize(a);
    D->finalize(b);
    D->finalize(ins);
}

static void test_reset(ag_driver_conn *c) {
    ag_error err;
    ag_driver_stmt *s = prep(c, "SELECT seq FROM seq_1_to_50000");
    for (int round = 0; round < 3; round++) {
        CHECK_INT(D->execute(s, NULL, 0, &err), 0);
        CHECK_INT(D->fetch(s, &err), 1);
        ag_value v;
        D->column_value(s, 0, &v);
        CHECK(v.u.integer == 1);
        D->reset(s);
        CHECK_INT(D->fetch(s, &err), 0);
    }
    CHECK_INT(count_of(c, "SELECT 42"), 42);
    /* executing again without reset: the unread rows go */
    CHECK_INT(D->execute(s, NULL, 0, &err), 0);
    CHECK_INT(D->fetch(s, &err), 1);
    CHECK_INT(D->execute(s, NULL, 0, &err), 0);
    int64_t rows = 0;
    while (D->fetch(s, &err) == 1) rows++;
    CHECK_INT(rows, 50000);
    D->finalize(s);
}

/* Runs sql with params, expecting failure of kind and SQLSTATE code. */
static void expect_error(ag_driver_conn *c, const char *sql, const ag_value *params, int n, ag_error_kind kind,
                         const char *code, const char *absent) {
    ag_error err;
    ag_error_clear(&err);
    ag_driver_stmt *s = NULL;
    int rc = D->prepare(c, sql, strlen(sql), &s, &err);
    if (rc == 0) {
        rc = D->execute(s, params, n, &err);
        D->finalize(s);
    }
    CHECK_INT(rc, -1);
    CHECK_INT(err.kind, kind);
    CHECK_STR(err.code, code);
    CHECK_INT(err.disconnect, 0);
    if (err.kind != kind || strcmp(err.code, code) != 0) fprintf(stderr, "  %s: %s\n", sql, err.message);
    if (absent) CHECK(strstr(err.message, absent) == NULL);
}

typedef struct locker {
    ag_driver_conn *conn;
    const char *sql;
    int rc;
    ag_error err;
} locker;

static void *run_locker(void *arg) {
    locker *l = arg;
    ag_error_clear(&l->err);
    l->rc = D->exec_simple(l->conn, l->sql, &l->err);
    return NULL;
}

static void test_errors(ag_driver_conn *c) {
    exec(c, "DROP TABLE IF EXISTS c_my_child, c_my_parent");
    CHECK(exec(c, "CREATE TABLE c_my_parent (id INT PRIMARY KEY, email VARCHAR(50) UNIQUE, "
                  "age INT CHECK (age >= 0), nick VARCHAR(5), n TINYINT, d DATE)") == 0);
    CHECK(exec(c, "CREATE TABLE c_my_child (id INT PRIMARY KEY, parent_id INT NOT NULL, "
                  "FOREIGN KEY (parent_id) REFERENCES c_my_parent (id))") == 0);
    CHECK(exec(c, "INSERT INTO c_my_parent (id, email) VALUES (1, 'ann@example.org'), (2, 'b@x')") == 0);
    CHECK(exec(c, "INSERT INTO c_my_child VALUES (1, 1)") == 0);

    ag_value dup[] = {vint(3), vtext("ann@example.org")};
    expect_error(c, "INSERT INTO c_my_parent (id, email) VALUES (?, ?)", dup, 2, AG_ERR_INTEGRITY, "23000",
                 "ann@example.org"); /* 1062: no value in the message */
    {
        ag_error e;
        ag_driver_stmt *d = prep(c, "INSERT INTO c_my_parent (id, email) VALUES (?, ?)");
        CHECK_INT(D->execute(d, dup, 2, &e), -1);
        CHECK_STR(e.message, "Duplicate entry for key 'email' [1062]");
        D->finalize(d);
    }
    ag_value nul[] = {vint(2), vnull()};
    expect_error(c, "INSERT INTO c_my_child (id, parent_id) VALUES (?, ?)", nul, 2, AG_ERR_INTEGRITY, "23000",
                 NULL); /* 1048 */
    ag_value orphan[] = {vint(2), vint(999)};
    expect_error(c, "INSERT INTO c_my_child (id, parent_id) VALUES (?, ?)", orphan, 2, AG_ERR_INTEGRITY, "23000",
                 NULL); /* 1452 */
    ag_value parent = vint(1);
    expect_error(c, "DELETE FROM c_my_parent WHERE id = ?", &parent, 1, AG_ERR_INTEGRITY, "23000", NULL); /* 1451 */
    ag_value negative[] = {vint(3), vint(-1)};
    expect_error(c, "INSERT INTO c_my_parent (id, age) VALUES (?, ?)", negative, 2, AG_ERR_INTEGRITY, "23000",
                 NULL);                                                                             /* 4025 */
    expect_error(c, "SELEC 1", NULL, 0, AG_ERR_PROGRAMMING, "42000", NULL);                         /* 1064 */
    expect_error(c, "SELECT * FROM c_my_nothing", NULL, 0, AG_ERR_PROGRAMMING, "42S02", NULL);      /* 1146 */
    expect_error(c, "SELECT nothing FROM c_my_parent", NULL, 0, AG_ERR_PROGRAMMING, "42S22", NULL); /* 1054 */
    ag_value longnick[] = {vint(4), vtext("much too long")};
    expect_error(c, "INSERT INTO c_my_parent (id, nick) VALUES (?, ?)", longnick, 2, AG_ERR_DATA, "22001",
                 "much too long"); /* 1406 */
    ag_value big[] = {vint(5), vint(1000)};
    expect_error(c, "INSERT INTO c_my_parent (id, n) VALUES (?, ?)", big, 2, AG_ERR_DATA, "22003", NULL); /* 1264 */
    ag_value word[] = {vint(6), vtext("s3cret-word")};
    expect_error(c, "INSERT INTO c_my_parent (id, n) VALUES (?, ?)", word, 2, AG_ERR_DATA, "22007",
                 "s3cret-word"); /* 1366 */
    ag_value badutf8[] = {vint(8), vtext("x\xff\xfe")};
    expect_error(c, "INSERT INTO c_my_parent (id, nick) VALUES (?, ?)", badutf8, 2, AG_ERR_DATA, "22007",
                 "x\xff"); /* 1366, invalid UTF-8 */
    ag_value baddate[] = {vint(7), vtext("s3cret-date")};
    expect_error(c, "INSERT INTO c_my_parent (id, d) VALUES (?, ?)", baddate, 2, AG_ERR_DATA, "22007",
                 "s3cret-date"); /* 1292 */
    ag_error err;
    CHECK_INT(D->ping(c, &err), 0); /* none of that broke the connection */

    /* lock wait timeout (1205) and deadlock (1213): two more connections */
    ag_driver_conn *x = connect_default(), *y = connect_default();
    CHECK(x && y);
    if (!x || !y) return;
    CHECK(exec(x, "BEGIN; UPDATE c_my_parent SET age = 1 WHERE id = 1") == 0);
    CHECK(exec(y, "SET SESSION innodb_lock_wait_timeout = 1") == 0);
    CHECK_INT(D->exec_simple(y, "UPDATE c_my_parent SET age = 2 WHERE id = 1", &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK_INT(err.disconnect, 0);
    CHECK(strstr(err.message, "[1205]") != NULL);
    CHECK(exec(y, "SET SESSION innodb_lock_wait_timeout = 20; BEGIN; "
                  "UPDATE c_my_parent SET age = 2 WHERE id = 2") == 0);
    locker l = {x, "UPDATE c_my_parent SET age = 3 WHERE id = 2", 0, {0}};
    pthread_t t;
    pthread_create(&t, NULL, run_locker, &l); /* x waits for y's row */
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int ry = D->exec_simple(y, "UPDATE c_my_parent SET age = 4 WHERE id = 1", &err); /* deadlock */
    pthread_join(t, NULL);
    CHECK(ry == -1 || l.rc == -1);
    const ag_error *dead = ry == -1 ? &err : &l.err;
    CHECK_INT(dead->kind, AG_ERR_OPERATIONAL);
    CHECK_STR(dead->code, "40001");
    CHECK(strstr(dead->message, "[1213]") != NULL);
    CHECK_INT(dead->disconnect, 0);
    exec(x, "ROLLBACK");
    exec(y, "ROLLBACK");
    CHECK_INT(D->transaction_status(x), AG_TX_IDLE);
    D->close(x);
    D->close(y);
    exec(c, "DROP TABLE IF EXISTS c_my_child, c_my_parent");
}

static void test_transactions(ag_driver_conn *c) {
    CHECK_INT(D->transaction_status(c), AG_TX_IDLE);
    CHECK(exec(c, "CREATE TEMPORARY TABLE tx (x INT) ENGINE=InnoDB") == 0);
    CHECK(exec(c, "BEGIN") == 0);
    CHECK_INT(D->transaction_status(c), AG_TX_ACTIVE);
    CHECK(exec(c, "INSERT INTO tx VALUES (1)") == 0);
    CHECK(exec(c, "SAVEPOINT sp1") == 0);
    CHECK(exec(c, "INSERT INTO tx VALUES (2)") == 0);
    CHECK(exec(c, "ROLLBACK TO SAVEPOINT sp1; RELEASE SAVEPOINT sp1") == 0);
    CHECK_INT(D->transaction_status(c), AG_TX_ACTIVE);
    CHECK(exec(c, "COMMIT") == 0);
    CHECK_INT(D->transaction_status(c), AG_TX_IDLE);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM tx"), 1);
    CHECK(exec(c, "BEGIN; INSERT INTO tx VALUES (3); ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM tx"), 1);
    ag_error err;
    CHECK_INT(D->exec_simple(c, "SELECT 1; SELEC 2", &err), -1);
    CHECK_INT(err.kind, AG_ERR_PROGRAMMING);
    CHECK_INT(count_of(c, "SELECT 5"), 5);
}

/* execute_many's row source: rows next..last of (id, name), name NULL for
 * every tenth id; bad_at repeats id 1; fail_at makes the source fail. */
typedef struct rows_ctx {
    int64_t next, last, bad_at, fail_at;
    int text_ids_from; /* ids from here on travel as text */
    char name[32], idtext[32];
} rows_ctx;

static int next_row(void *arg, ag_value *params, int nparams, ag_error *err) {
    rows_ctx *ctx = arg;
    if (ctx->next > ctx->last) return 0;
    int64_t id = ctx->next++;
    if (ctx->fail_at && id == ctx->fail_at)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "row %lld is bad", (long long)id);
    params[0] = vint(ctx->bad_at && id == ctx->bad_at ? 1 : id);
    if (ctx->text_ids_from && id >= ctx->text_ids_from) {
        snprintf(ctx->idtext, sizeof ctx->idtext, "%lld", (long long)id);
        params[0] = vtext(ctx->idtext);
    }
    snprintf(ctx->name, sizeof ctx->name, "name %lld", (long long)id);
    params[1] = id % 10 == 0 ? vnull() : vtext(ctx->name);
    return 1;
}

static void test_execute_many(ag_driver_conn *c) {
    ag_error err;
    CHECK(exec(c, "CREATE TEMPORARY TABLE many (id BIGINT PRIMARY KEY, name VARCHAR(40)) "
                  "ENGINE=InnoDB") == 0);
    ag_driver_stmt *s = prep(c, "INSERT INTO many (id, name) VALUES (?, ?)");
    int64_t affected = -1;
    rows_ctx ctx = {.next = 1, .last = 10000};
    CHECK_INT(D->execute_many(s, 2, next_row, &ctx, &affected, &err), 0);
    CHECK_INT(affected, 10000);
    CHECK_INT(D->rows_affected(s), 10000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM many"), 10000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM many WHERE name IS NULL"), 1000);
    CHECK_STR(text_of(c, "SELECT name FROM many WHERE id = 7777"), "name 7777");
    CHECK_INT(D->transaction_status(c), AG_TX_IDLE);

    /* row 25000 repeats a key: one error, nothing kept after ROLLBACK */
    CHECK(exec(c, "BEGIN") == 0);
    rows_ctx bad = {.next = 20001, .last = 30000, .bad_at = 25000};
    ag_error_clear(&err);
    CHECK_INT(D->execute_many(s, 2, next_row, &bad, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK_STR(err.code, "23000");
    CHECK(err.disconnect == 0);
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM many"), 10000);
    CHECK_INT(D->ping(c, &err), 0);

    /* the row source failing stops the run */
    CHECK(exec(c, "BEGIN") == 0);
    rows_ctx fails = {.next = 40001, .last = 42000, .fail_at = 41500};
    CHECK_INT(D->execute_many(s, 2, next_row, &fails, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK(strstr(err.message, "41500") != NULL);
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM many"), 10000);

    /* ids change type half-way (integer, then text): two batches */
    rows_ctx mixed = {.next = 50001, .last = 52000, .text_ids_from = 51000};
    CHECK_INT(D->execute_many(s, 2, next_row, &mixed, &affected, &err), 0);
    CHECK_INT(affected, 2000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM many WHERE id BETWEEN 50001 AND 52000"), 2000);

    /* no rows at all */
    rows_ctx none = {.next = 1, .last = 0};
    CHECK_INT(D->execute_many(s, 2, next_row, &none, &affected, &err), 0);
    CHECK_INT(affected, 0);
    /* a single execute after array executes */
    ag_value one[] = {vint(60000), vtext("single")};
    CHECK_INT(D->execute(s, one, 2, &err), 0);
    CHECK_INT(D->rows_affected(s), 1);
    D->finalize(s);

    /* a statement that returns rows: one execute per row, rows dropped */
    ag_driver_stmt *q = prep(c, "SELECT id FROM many WHERE id = ? OR name = ?");
    rows_ctx few = {.next = 1, .last = 5};
    CHECK_INT(D->execute_many(q, 2, next_row, &few, &affected, &err), 0);
    CHECK_INT(D->execute(q, one, 2, &err), 0);
    CHECK_INT(D->fetch(q, &err), 1);
    D->finalize(q);

    /* a NOT NULL column gets the NULL of row 10 inside an array batch */
    CHECK(exec(c, "CREATE TEMPORARY TABLE strict_many (id BIGINT PRIMARY KEY, "
                  "name VARCHAR(40) NOT NULL) ENGINE=InnoDB") == 0);
    ag_driver_stmt *w = prep(c, "INSERT INTO strict_many (id, name) VALUES (?, ?)");
    CHECK(exec(c, "BEGIN") == 0);
    rows_ctx nulls = {.next = 1, .last = 5000};
    ag_error_clear(&err);
    CHECK_INT(D->execute_many(w, 2, next_row, &nulls, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK_STR(err.code, "23000");
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM strict_many"), 0);
    D->finalize(w);
}

/* execute_many of the peers' W1 shape: 100,000 rows of three strings. */
typedef struct w1_ctx {
    int64_t next, last;
    char a[32], b[48], c[32];
} w1_ctx;

static int next_user(void *arg, ag_value *params, int nparams, ag_error *err) {
    w1_ctx *ctx = arg;
    if (ctx->next > ctx->last) return 0;
    long long i = (long long)ctx->next++;
    snprintf(ctx->a, sizeof ctx->a, "user_%lld", i);
    snprintf(ctx->b, sizeof ctx->b, "user_%lld@example.com", i);
    snprintf(ctx->c, sizeof ctx->c, "pass_%lld", i);
    params[0] = vtext(ctx->a);
    params[1] = vtext(ctx->b);
    params[2] = vtext(ctx->c);
    return 1;
}

static void test_execute_many_w1(ag_driver_conn *c) {
    ag_error err;
    CHECK(exec(c, "CREATE TEMPORARY TABLE users (id INTEGER PRIMARY KEY AUTO_INCREMENT, "
                  "username VARCHAR(128) NOT NULL, email VARCHAR(128) NOT NULL, "
                  "password VARCHAR(128) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4") == 0);
    ag_driver_stmt *w = prep(c, "INSERT INTO users (username, email, password) VALUES (?, ?, ?)");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(exec(c, "BEGIN") == 0);
    w1_ctx ctx = {.next = 1, .last = 100000};
    int64_t affected = 0;
    CHECK_INT(D->execute_many(w, 3, next_user, &ctx, &affected, &err), 0);
    CHECK(exec(c, "COMMIT") == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(affected, 100000);
    /* 1023-row batches use their AUTO_INCREMENT reservation exactly: ids 1..N */
    CHECK_INT(count_of(c, "SELECT MAX(id) FROM users"), 100000);
    CHECK_STR(text_of(c, "SELECT email FROM users WHERE id = 77777"), "user_77777@example.com");
    printf("execute_many: 100000 rows (W1 shape) in %.3f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    D->finalize(w);
}

/* execute_many overlaps batches: a batch executes on the server while the
 * next one is read from the row source.  Row sources for those tests. */
typedef struct overlap_ctx {
    int64_t next, last, dup_at, fail_at, jump_at;
    jmp_buf *jump;
    char name[32];
    unsigned char blob[6];
} overlap_ctx;

/* (id, name, big, data): id repeats 1 at dup_at, the source fails at
 * fail_at and longjmps out (as a Lua error would) at jump_at. */
static int next_overlap(void *arg, ag_value *params, int nparams, ag_error *err) {
    overlap_ctx *ctx = arg;
    (void)nparams;
    if (ctx->next > ctx->last) return 0;
    int64_t id = ctx->next++;
    if (ctx->jump_at && id == ctx->jump_at) longjmp(*ctx->jump, 1);
    if (ctx->fail_at && id == ctx->fail_at)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "row %lld is bad", (long long)id);
    params[0] = vint(ctx->dup_at && id == ctx->dup_at ? 1 : id);
    snprintf(ctx->name, sizeof ctx->name, "n%lld", (long long)id);
    params[1] = id % 7 == 0 ? vnull() : vtext(ctx->name);
    params[2] = vint(id % 2 ? INT64_MAX - id : INT64_MIN + id);
    memcpy(ctx->blob, "a\0b\0", 4);
    ctx->blob[4] = (unsigned char)(id & 0xff);
    ctx->blob[5] = 0xff;
    params[3] = id % 5 == 0 ? vnull() : vbytes(AG_VALUE_BLOB, (const char *)ctx->blob, sizeof ctx->blob);
    return 1;
}

/* (id as text, id) for UPDATE ov: ids next..last */
typedef struct update_ctx {
    int64_t next, last;
    char text[24];
} update_ctx;

static int next_update(void *arg, ag_value *params, int nparams, ag_error *err) {
    update_ctx *ctx = arg;
    (void)nparams;
    (void)err;
    if (ctx->next > ctx->last) return 0;
    int64_t id = ctx->next++;
    snprintf(ctx->text, sizeof ctx->text, "%lld", (long long)id);
    params[0] = vtext(ctx->text);
    params[1] = vint(id);
    return 1;
}

static void test_execute_many_overlap(ag_driver_conn *c) {
    ag_error err;
    int64_t affected = -1;
    CHECK(exec(c, "CREATE TEMPORARY TABLE ov (id BIGINT PRIMARY KEY, name VARCHAR(40), "
                  "big BIGINT NOT NULL, data VARBINARY(16)) ENGINE=InnoDB") == 0);
    ag_driver_stmt *s = prep(c, "INSERT INTO ov (id, name, big, data) VALUES (?, ?, ?, ?)");

    /* five batches: NULLs, 64-bit integers and binary arrive intact */
    overlap_ctx all = {.next = 1, .last = 5000};
    CHECK_INT(D->execute_many(s, 4, next_overlap, &all, &affected, &err), 0);
    CHECK_INT(affected, 5000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov"), 5000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov WHERE name IS NULL"), 714);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov WHERE data IS NULL"), 1000);
    CHECK_INT(count_of(c, "SELECT big FROM ov WHERE id = 4097"), INT64_MAX - 4097);
    CHECK_INT(count_of(c, "SELECT big FROM ov WHERE id = 4098"), INT64_MIN + 4098);
    CHECK_STR(text_of(c, "SELECT HEX(data) FROM ov WHERE id = 3001"), "61006200B9FF");
    CHECK_STR(text_of(c, "SELECT name FROM ov WHERE id = 4999"), "n4999");

    /* a duplicate key in the batch in flight, then the row source fails in
     * the next one: the first error (the server's) is the one reported */
    CHECK(exec(c, "BEGIN") == 0);
    overlap_ctx dup = {.next = 10001, .last = 14000, .dup_at = 10500, .fail_at = 11500};
    ag_error_clear(&err);
    CHECK_INT(D->execute_many(s, 4, next_overlap, &dup, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_INTEGRITY);
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov"), 5000);

    /* the row source fails while a batch is in flight: its error, and the
     * batch's reply was read (the connection answers the next statement) */
    CHECK(exec(c, "BEGIN") == 0);
    overlap_ctx fail = {.next = 20001, .last = 24000, .fail_at = 21500};
    ag_error_clear(&err);
    CHECK_INT(D->execute_many(s, 4, next_overlap, &fail, &affected, &err), -1);
    CHECK_INT(err.kind, AG_ERR_ARGUMENT);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov WHERE id > 20000"), 1023);
    CHECK(exec(c, "ROLLBACK") == 0);

    /* the row source never returns (a Lua error thrown through it) while a
     * batch is in flight: the next use of the connection reads that reply */
    jmp_buf jump;
    CHECK(exec(c, "BEGIN") == 0);
    overlap_ctx gone = {.next = 30001, .last = 34000, .jump_at = 31500, .jump = &jump};
    if (setjmp(jump) == 0) {
        D->execute_many(s, 4, next_overlap, &gone, &affected, &err);
        CHECK(0); /* not reached */
    }
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov WHERE id > 30000"), 1023);
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov"), 5000);
    /* a single execute of the statement is not an array execute */
    ag_value one[] = {vint(39999), vtext("one"), vint(-1), vnull()};
    CHECK_INT(D->execute(s, one, 4, &err), 0);
    CHECK_INT(D->rows_affected(s), 1);
    CHECK_STR(text_of(c, "SELECT name FROM ov WHERE id = 39999"), "one");
    /* and the statement runs again (its batches were freed and remade) */
    overlap_ctx again = {.next = 40001, .last = 42100};
    CHECK_INT(D->execute_many(s, 4, next_overlap, &again, &affected, &err), 0);
    CHECK_INT(affected, 2100);
    /* thrown through again, then the statement is finalized at once */
    overlap_ctx gone2 = {.next = 50001, .last = 54000, .jump_at = 52500, .jump = &jump};
    CHECK(exec(c, "BEGIN") == 0);
    if (setjmp(jump) == 0) {
        D->execute_many(s, 4, next_overlap, &gone2, &affected, &err);
        CHECK(0);
    }
    D->finalize(s);
    CHECK(exec(c, "ROLLBACK") == 0);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov"), 7101);

    /* UPDATE over several batches counts matched rows (CLIENT_FOUND_ROWS),
     * also the 4286 whose name does not change */
    ag_driver_stmt *u = prep(c, "UPDATE ov SET name = CONCAT('n', ?) WHERE id = ?");
    update_ctx uc = {.next = 1, .last = 5000};
    CHECK_INT(D->execute_many(u, 2, next_update, &uc, &affected, &err), 0);
    CHECK_INT(affected, 5000);
    CHECK_INT(D->rows_affected(u), 5000);
    CHECK_INT(count_of(c, "SELECT COUNT(*) FROM ov WHERE name IS NULL"), 300);
    D->finalize(u);
}

/* execute_many's rows (id) whose source kills the session at kill_at,
 * while the batch before is in flight. */
typedef struct kill_ctx {
    int64_t next, last, kill_at;
    ag_driver_conn *killer;
    char sql[64];
} kill_ctx;

static int next_killing(void *arg, ag_value *params, int nparams, ag_error *err) {
    kill_ctx *ctx = arg;
    (void)nparams;
    (void)err;
    if (ctx->next > ctx->last) return 0;
    int64_t id = ctx->next++;
    if (id == ctx->kill_at) CHECK(exec(ctx->killer, ctx->sql) == 0);
    params[0] = vint(id);
    return 1;
}

/* The server ends the session (KILL CONNECTION from a second connection). */
static void test_killed(void) {
    ag_error err;
    ag_driver_conn *victim = connect_default(), *killer = connect_default();
    CHECK(victim && killer);
    if (!victim || !killer) return;
    int64_t id = count_of(victim, "SELECT CONNECTION_ID()");
    CHECK(id > 0);
    char sql[64];
    snprintf(sql, sizeof sql, "KILL CONNECTION %lld", (long long)id);
    CHECK(exec(killer, sql) == 0);
    ag_error_clear(&err);
    CHECK_INT(D->ping(victim, &err), -1);
    CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
    CHECK_INT(err.disconnect, 1);
    CHECK(err.message[0] != '\0');
    CHECK_INT(D->transaction_status(victim), AG_TX_UNKNOWN);
    CHECK_INT(D->exec_simple(victim, "SELECT 1", &err), -1);
    CHECK_INT(err.disconnect, 1);
    D->close(victim);

    /* killed between statements: the next execute says so */
    victim = connect_default();
    CHECK(victim != NULL);
    if (victim) {
        id = count_of(victim, "SELECT CONNECTION_ID()");
        ag_driver_stmt *s = prep(victim, "SELECT ? + 1");
        snprintf(sql, sizeof sql, "KILL CONNECTION %lld", (long long)id);
        CHECK(exec(killer, sql) == 0);
        ag_value p = vint(1);
        ag_error_clear(&err);
        CHECK_INT(D->execute(s, &p, 1, &err), -1);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_INT(err.disconnect, 1);
        if (!err.disconnect) fprintf(stderr, "  [%s] %s\n", err.code, err.message);
        D->finalize(s);
        D->close(victim);
    }

    /* killed while streaming: some rows, then the error */
    victim = connect_default();
    CHECK(victim != NULL);
    if (victim) {
        id = count_of(victim, "SELECT CONNECTION_ID()");
        ag_driver_stmt *big = prep(victim, "SELECT seq FROM seq_1_to_50000000");
        CHECK_INT(D->execute(big, NULL, 0, &err), 0);
        int r = D->fetch(big, &err);
        snprintf(sql, sizeof sql, "KILL CONNECTION %lld", (long long)id);
        CHECK(exec(killer, sql) == 0);
        int64_t rows = 0;
        ag_error_clear(&err);
        while (r == 1) {
            rows++;
            r = D->fetch(big, &err);
        }
        CHECK_INT(r, -1);
        CHECK(rows < 50000000);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_INT(err.disconnect, 1);
        if (!err.disconnect) fprintf(stderr, "  [%s] %s\n", err.code, err.message);
        CHECK_INT(D->transaction_status(victim), AG_TX_UNKNOWN);
        D->finalize(big);
        D->close(victim);
    }

    /* killed while execute_many has a batch in flight: an error that
     * says the connection is gone, not a hang */
    victim = connect_default();
    CHECK(victim != NULL);
    if (victim) {
        CHECK(exec(victim, "CREATE TEMPORARY TABLE k (id BIGINT PRIMARY KEY) ENGINE=InnoDB") == 0);
        kill_ctx kc = {.next = 1, .last = 10000, .kill_at = 1500, .killer = killer};
        snprintf(kc.sql, sizeof kc.sql, "KILL CONNECTION %lld", (long long)count_of(victim, "SELECT CONNECTION_ID()"));
        ag_driver_stmt *s = prep(victim, "INSERT INTO k (id) VALUES (?)");
        int64_t affected = 0;
        ag_error_clear(&err);
        CHECK_INT(D->execute_many(s, 1, next_killing, &kc, &affected, &err), -1);
        CHECK_INT(err.kind, AG_ERR_OPERATIONAL);
        CHECK_INT(err.disconnect, 1);
        if (!err.disconnect) fprintf(stderr, "  [%s] %s\n", err.code, err.message);
        CHECK_INT(D->ping(victim, &err), -1);
        D->finalize(s);
        D->close(victim);
    }
    D->close(killer);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *url = getenv("ARGENT_TEST_MY_URL");
    if (!url || !*url) {
        printf("ARGENT_TEST_MY_URL not set: skipped\n");
        return 77;
    }
    ag_error err;
    if (ag_url_parse(url, strlen(url), &test_url, &err) != 0) {
        fprintf(stderr, "cannot read ARGENT_TEST_MY_URL: %s\n", err.message);
        return 1;
    }
    CHECK_STR(D->name, "mariadb");
    CHECK_INT(D->dialect, AG_DIALECT_MARIADB);
    CHECK(ag_driver_for(AG_DIALECT_MARIADB) == D);
    test_connect_errors();
    test_connect_options();
    ag_driver_conn *c = connect_default();
    CHECK(c != NULL);
    if (!c) {
        ag_url_free(test_url);
        CHECK_DONE();
    }
    CHECK_INT(D->ping(c, &err), 0);
    test_values(c);
    test_rows_affected(c);
    test_streaming(c);
    test_interleaved(c);
    test_interleaving_walk(c);
    test_exhausted_stream_moved_to_memory(c);
    test_reset(c);
    test_errors(c);
    test_transactions(c);
    test_execute_many(c);
    test_execute_many_w1(c);
    test_execute_many_overlap(c);
    D->close(c);
    test_killed();
    ag_url_free(test_url);
    CHECK_DONE();
}
