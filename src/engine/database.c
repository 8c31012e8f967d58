/*
 * database.c -- database_exists, create_database and drop_database (see
 * database.h): one temporary driver connection, no engine or pool, because
 * the database in question may not exist yet and a pool would keep
 * connections to a database being dropped.
 */
#include "engine/database.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/url.h"
#include "driver/driver.h"

typedef enum db_op { DB_EXISTS, DB_CREATE, DB_DROP } db_op;

static const char *const op_names[] = {"database_exists", "create_database", "drop_database"};

/* ---- SQLite: the database is a file */

/* Is there a SQLite database at path: a regular file that is empty (SQLite
 * reads that as an empty database) or starts with SQLite's header?  A
 * directory or a file of another kind is not one (and so is neither
 * dropped nor overwritten as if it were).  A file that cannot be read is
 * taken to be one: opening it will say what is wrong. */
static int file_exists(const char *path) {
    static const char header[16] = "SQLite format 3";
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    if (st.st_size == 0) return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    char got[16];
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    return n == sizeof got && memcmp(got, header, sizeof got) == 0;
}

static int sqlite_op(const ag_driver *driver, const ag_url *url, db_op op, int lenient, ag_error *err) {
    if (ag_url_is_sqlite_memory(url)) return op == DB_EXISTS ? 1 : 0;
    const char *path = url->database;
    int exists = file_exists(path);
    if (op == DB_EXISTS) return exists;
    if (op == DB_CREATE) {
        if (exists) {
            if (lenient) return 0;
            return ag_error_set(err, AG_ERR_PROGRAMMING, NULL, "database \"%s\" already exists", path);
        }
        /* Opening through the driver makes the file a database (and applies
         * the URL's options, so a bad one is reported here too). */
        ag_connect_params params = {url, url->query, url->nquery, NULL, 0};
        ag_driver_conn *conn = NULL;
        if (driver->connect(&params, &conn, err) != 0) return -1;
        int rc = driver->exec_simple(conn, "PRAGMA user_version", err);
        driver->close(conn);
        return rc;
    }
    if (!exists) {
        if (lenient) return 0;
        return ag_error_set(err, AG_ERR_PROGRAMMING, NULL, "database \"%s\" does not exist", path);
    }
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    ag_buf name = AG_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && rc == 0; i++) {
        ag_buf_reset(&name);
        if (ag_buf_printf(&name, "%s%s", path, suffixes[i]) != 0) {
            rc = ag_error_nomem(err);
        } else if (unlink(name.data) != 0 && errno != ENOENT) {
            rc = ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "cannot remove %s: %s", name.data, strerror(errno));
        }
    }
    ag_buf_free(&name);
    return rc;
}

/* ---- PostgreSQL and MariaDB: a server */

/* Appends name quoted as an identifier: "..." with "" doubled (PostgreSQL),
 * `...` with `` doubled (MariaDB). */
static int append_identifier(ag_buf *sql, const char *name, ag_dialect dialect) {
    char q = dialect == AG_DIALECT_MARIADB ? '`' : '"';
    int bad = ag_buf_append_char(sql, q);
    for (const char *p = name; *p; p++) {
        if (*p == q) bad |= ag_buf_append_char(sql, q);
        bad |= ag_buf_append_char(sql, *p);
    }
    bad |= ag_buf_append_char(sql, q);
    return bad ? -1 : 0;
}

/* 1 or 0: does the server have the database `name`? -1 with err. */
static int server_has(const ag_driver *driver, ag_driver_conn *conn, ag_dialect dialect, const char *name,
                      ag_error *err) {
    const char *sql = dialect == AG_DIALECT_MARIADB ? "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?"
                                                    : "SELECT 1 FROM pg_database WHERE datname = $1";
    ag_driver_stmt *stmt = NULL;
    if (driver->prepare(conn, sql, strlen(sql), &stmt, err) != 0) return -1;
    ag_value param = {.type = AG_VALUE_TEXT};
    param.u.bytes.data = name;
    param.u.bytes.len = strlen(name);
    int rc = driver->execute(stmt, &param, 1, err);
    if (rc == 0) rc = driver->fetch(stmt, err);
    driver->finalize(stmt);
    return rc;
}

static int server_op(const ag_driver *driver, ag_url *url, db_op op, int lenient, ag_error *err) {
    const char *name = url->database;
    if (!name || !*name) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "%s: the URL names no database", op_names[op]);
    /* The maintenance database, with everything else of the URL. */
    char *target = url->database;
    url->database = url->dialect == AG_DIALECT_POSTGRESQL ? "postgres" : NULL;
    ag_connect_params params = {url, url->query, url->nquery, NULL, 0};
    ag_driver_conn *conn = NULL;
    int rc = driver->connect(&params, &conn, err);
    if (rc != 0 && url->dialect == AG_DIALECT_POSTGRESQL) {
        /* a server without `postgres` (or a user not allowed in it) */
        ag_error second;
        url->database = "template1";
        rc = driver->connect(&params, &conn, &second);
    }
    url->database = target;
    if (rc != 0) return -1;

    int exists = server_has(driver, conn, url->dialect, name, err);
    rc = exists;
    if (exists >= 0 && op != DB_EXISTS) {
        rc = 0;
        /* PostgreSQL has no CREATE DATABASE IF NOT EXISTS; both servers
         * answer the other cases with their own error (a ProgrammingError). */
        int skip = lenient && (op == DB_CREATE ? exists : !exists);
        if (!skip) {
            ag_buf sql = AG_BUF_INIT;
            if (ag_buf_append_str(&sql, op == DB_CREATE ? "CREATE DATABASE " : "DROP DATABASE ") ||
                append_identifier(&sql, name, url->dialect) ||
                (op == DB_CREATE && url->dialect == AG_DIALECT_MARIADB &&
                 ag_buf_append_str(&sql, " CHARACTER SET utf8mb4")))
                rc = ag_error_nomem(err);
            else rc = driver->exec_simple(conn, sql.data, err);
            ag_buf_free(&sql);
        }
    }
    driver->close(conn);
    return rc;
}

static int run(const char *s, size_t len, db_op op, int lenient, ag_error *err) {
    ag_url *url = NULL;
    if (ag_url_parse(s, len, &url, err) != 0) return -1;
    const ag_driver *driver = ag_driver_for(url->dialect);
    int rc;
    if (!driver)
        rc = ag_error_set(err, AG_ERR_INTERFACE, NULL, "%s: this build has no %s driver", op_names[op],
                          ag_dialect_name(url->dialect));
    else if (url->dialect == AG_DIALECT_SQLITE) rc = sqlite_op(driver, url, op, lenient, err);
    else rc = server_op(driver, url, op, lenient, err);
    ag_url_free(url);
    return rc;
}

int ag_database_exists(const char *url, size_t len, ag_error *err) { return run(url, len, DB_EXISTS, 0, err); }

int ag_database_create(const char *url, size_t len, int if_not_exists, ag_error *err) {
    return run(url, len, DB_CREATE, if_not_exists, err);
}

int ag_database_drop(const char *url, size_t len, int if_exists, ag_error *err) {
    return run(url, len, DB_DROP, if_exists, err);
}
