/*
 * test_cancel.c -- stopping a running statement from another thread
 * (argent_connection_cancel, argent_engine_cancel; the drivers' cancel slot)
 * on every database: SQLite in a file and in memory, PostgreSQL when
 * ARGENT_TEST_PG_URL is set, MariaDB when ARGENT_TEST_MY_URL is set.
 *
 * A worker thread runs a statement that never ends on its own (SQLite: a
 * recursive CTE counting forever; PostgreSQL: pg_sleep; MariaDB: SLEEP); the
 * main thread asks for a cancel again and again until the worker has
 * returned.  Nothing depends on timing: a request that comes before the
 * statement starts changes nothing (the next one stops it), and the wait has
 * only a generous cap against a hang.  Then: the statement failed with an
 * OperationalError that is not a disconnect, the connection runs the next
 * statement, a transaction it was in can be rolled back, only running
 * statements are asked to stop (an idle connection gets no request), and
 * misuse is an ArgumentError.  Links
 * argent_core only.  Also run under ThreadSanitizer (scripts/test.sh).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "argent.h"
#include "check.h"

#define CANCEL_CAP_SECONDS 60 /* a hang, not a slow machine */

typedef struct database {
    const char *name; /* for messages */
    const char *url;
    const char *forever;  /* a statement that runs until it is stopped */
    const char *code;     /* the error code of a stopped statement */
    int sleep_may_return; /* MariaDB: a killed SLEEP() may end normally, returning 1 */
} database;

typedef struct worker {
    argent_connection *conn;
    const char *sql;
    atomic_int done;
    int rc;        /* 0: the statement ended by itself; -1: err */
    int64_t value; /* its last row's first column, when it ended */
    argent_error err;
} worker;

static void *run_statement(void *arg) {
    worker *w = arg;
    argent_result *res = NULL;
    w->rc = argent_execute(w->conn, w->sql, NULL, 0, &res, &w->err);
    if (w->rc == 0) {
        int more;
        while ((more = argent_result_next(res, &w->err)) == 1) {
            w->value = argent_result_column_int64(res, 0);
        }
        if (more < 0) w->rc = -1;
        argent_result_close(res);
    }
    atomic_store(&w->done, 1);
    return NULL;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs db->forever on conn in a worker thread and cancels it (the
 * connection itself, or through the engine) until the worker returns.
 * Returns 1 when the worker returned, with *w filled. */
static int cancel_running(const database *db, argent_connection *conn, argent_engine *engine, worker *w) {
    memset(w, 0, sizeof *w);
    w->conn = conn;
    w->sql = db->forever;
    atomic_init(&w->done, 0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, run_statement, w) != 0) return 0;
    int requests_failed = 0, sent = 0;
    for (long waited = 0; !atomic_load(&w->done); waited += 20) {
        if (waited > CANCEL_CAP_SECONDS * 1000L) {
            fprintf(stderr, "%s: the statement was not stopped within %d s\n", db->name, CANCEL_CAP_SECONDS);
            exit(1); /* the worker is stuck: nothing sensible is left to test */
        }
        argent_error err;
        int rc = engine ? argent_engine_cancel(engine, &err) : argent_connection_cancel(conn, &err);
        if (rc > 0) sent++;
        if (rc < 0) {
            fprintf(stderr, "%s: cancel: %s: %s\n", db->name, err.kind_name, err.message);
            requests_failed++;
        }
        pause_ms(20);
    }
    pthread_join(thread, NULL);
    CHECK_INT(requests_failed, 0);
    CHECK(sent >= 1); /* only a running statement is asked to stop */
    return 1;
}

static void check_stopped(const database *db, const worker *w) {
    if (db->sleep_may_return && w->rc == 0) {
        /* MariaDB's SLEEP(), killed at some moments (the server's race, seen
         * about once in ten runs), returns 1 -- "interrupted" -- and the
         * statement ends without an error, as MariaDB documents */
        CHECK_INT(w->value, 1);
        return;
    }
    CHECK_INT(w->rc, -1);
    if (w->rc != -1) {
        fprintf(stderr, "%s: the statement ended without an error (value %lld)\n", db->name, (long long)w->value);
        return;
    }
    CHECK_INT(w->err.kind, ARGENT_ERR_OPERATIONAL);
    CHECK_STR(w->err.code, db->code);
    CHECK_INT(w->err.disconnect, 0);
}

/* The first column of `sql` as an integer; -999 on failure. */
static int64_t scalar(argent_connection *conn, const char *sql) {
    argent_result *res;
    argent_error err;
    if (argent_execute(conn, sql, NULL, 0, &res, &err) != 0) {
        fprintf(stderr, "  %s: %s: %s\n", sql, err.kind_name, err.message);
        return -999;
    }
    int64_t v = argent_result_next(res, &err) == 1 ? argent_result_column_int64(res, 0) : -999;
    argent_result_close(res);
    return v;
}

static int run(argent_connection *conn, const char *sql) {
    argent_error err;
    if (argent_execute(conn, sql, NULL, 0, NULL, &err) != 0) {
        fprintf(stderr, "  %s: %s: %s\n", sql, err.kind_name, err.message);
        return -1;
    }
    return 0;
}

static void test_database(const database *db) {
    fprintf(stderr, "-- %s\n", db->name);
    argent_error err;
    argent_engine *engine = argent_engine_create(db->url, NULL, &err);
    CHECK(engine != NULL);
    if (!engine) {
        fprintf(stderr, "%s: %s\n", db->name, err.message);
        return;
    }
    argent_connection *conn = argent_connect(engine, &err);
    CHECK(conn != NULL);
    if (!conn) {
        fprintf(stderr, "%s: %s\n", db->name, err.message);
        argent_engine_release(engine);
        return;
    }
    worker w;

    /* 1. the connection's own cancel, outside a transaction */
    if (cancel_running(db, conn, NULL, &w)) check_stopped(db, &w);
    CHECK_INT(scalar(conn, "SELECT 41 + 1"), 42);

    /* 2. through the engine, inside a transaction that wrote a row */
    CHECK_INT(run(conn, "DROP TABLE IF EXISTS c_cancel"), 0);
    CHECK_INT(run(conn, "CREATE TABLE c_cancel (id INTEGER PRIMARY KEY)"), 0);
    argent_tx tx;
    CHECK_INT(argent_begin(conn, &tx, &err), 0);
    CHECK_INT(run(conn, "INSERT INTO c_cancel (id) VALUES (1)"), 0);
    argent_connection *idle = argent_connect(engine, &err); /* checked out, not running */
    CHECK(idle != NULL);
    if (cancel_running(db, conn, engine, &w)) check_stopped(db, &w);
    CHECK_INT(argent_rollback(conn, tx, &err), 0);
    CHECK_INT(argent_in_transaction(conn), 0);
    CHECK_INT(scalar(conn, "SELECT count(*) FROM c_cancel"), 0); /* nothing half-written */
    if (idle) {
        CHECK_INT(scalar(idle, "SELECT 7"), 7);
        argent_connection_close(idle);
    }

    /* 3. a cancel with nothing running sends nothing and changes nothing */
    CHECK_INT(argent_connection_cancel(conn, &err), 0);
    CHECK_INT(argent_engine_cancel(engine, &err), 0);
    CHECK_INT(scalar(conn, "SELECT 5"), 5);

    /* 4. the engine's cancel with nothing checked out */
    CHECK_INT(run(conn, "DROP TABLE c_cancel"), 0);
    argent_connection_close(conn);
    CHECK_INT(argent_engine_cancel(engine, &err), 0);
    argent_engine_release(engine);
}

static void test_misuse(void) {
    argent_error err;
    memset(&err, 0, sizeof err);
    CHECK_INT(argent_connection_cancel(NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "conn") != NULL);
    CHECK_INT(argent_engine_cancel(NULL, &err), -1);
    CHECK_INT(err.kind, ARGENT_ERR_ARGUMENT);
    CHECK(strstr(err.message, "engine") != NULL);
    CHECK_INT(argent_engine_cancel(NULL, NULL), -1); /* err may be NULL */
}

int main(void) {
    test_misuse();

    static const char forever_sqlite[] =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    const char *tmp = getenv("TMPDIR");
    char path[512], url[600];
    snprintf(path, sizeof path, "%s/argent_test_cancel_%ld.db", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    snprintf(url, sizeof url, "sqlite:///%s", path);
    database file = {"sqlite file", url, forever_sqlite, "9", 0};
    test_database(&file);
    unlink(path);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);

    database memory = {"sqlite memory", "sqlite://", forever_sqlite, "9", 0};
    test_database(&memory);

    const char *pg = getenv("ARGENT_TEST_PG_URL");
    if (pg && *pg) {
        database postgres = {"postgresql", pg, "SELECT pg_sleep(3600)", "57014", 0};
        test_database(&postgres);
    } else {
        fprintf(stderr, "-- postgresql: skipped (ARGENT_TEST_PG_URL is not set)\n");
    }
    const char *my = getenv("ARGENT_TEST_MY_URL");
    if (my && *my) {
        database mariadb = {"mariadb", my, "SELECT SLEEP(3600)", "70100", 1};
        test_database(&mariadb);
    } else {
        fprintf(stderr, "-- mariadb: skipped (ARGENT_TEST_MY_URL is not set)\n");
    }
    CHECK_DONE();
}
