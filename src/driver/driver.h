/*
 * driver.h -- the one interface every database driver implements.
 *
 * A driver is one `const ag_driver` of function pointers (sqlite.c,
 * postgres.c, mariadb.c).  Only driver files include a database's
 * header; everything above them (pool, engine, bindings) sees this vtable.
 *
 * Ownership and threads: an ag_driver_conn and its statements are used by one
 * thread at a time (the pool hands a connection to one holder).  Drivers hold
 * no global mutable state.  Drivers never call into Lua and never raise: they
 * report failures through ag_error, with the kind mapped from the database's
 * own codes (SQLSTATE classes on PostgreSQL, extended result codes on SQLite):
 *   syntax error, unknown table/column, wrong use  -> AG_ERR_PROGRAMMING
 *   unique / not null / foreign key / check        -> AG_ERR_INTEGRITY
 *   value does not fit (too long, out of range, bad text for a type) -> AG_ERR_DATA
 *   connection refused or lost, database locked/busy, I/O   -> AG_ERR_OPERATIONAL
 *   feature not supported                          -> AG_ERR_NOT_SUPPORTED
 *   anything else from the database                -> AG_ERR_OPERATIONAL (DatabaseError-like)
 * err->code is the SQLSTATE (PostgreSQL, MariaDB) or the extended result
 * code in decimal (SQLite).  err->disconnect is set when the connection is unusable
 * afterwards (the pool then discards it).  Messages are the database's own
 * text, trimmed of trailing newlines, and never contain parameter values or
 * the password.
 *
 * Statements: `prepare` makes a reusable statement; `execute` binds values and
 * runs it, leaving it positioned before its first row; `fetch` advances;
 * `reset` ends an execution early (unread rows are discarded) so the statement
 * can be executed again.  Several statements of one connection may be executed
 * and unfinished at the same time (a loop over one result that executes
 * another statement): a driver whose protocol allows one active query per
 * connection (libpq) first reads the unread rest of the earlier result into
 * memory, so that its reader goes on seeing every row.
 */
#ifndef ARGENT_DRIVER_DRIVER_H
#define ARGENT_DRIVER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/url.h"
#include "base/value.h"

typedef struct ag_driver_conn ag_driver_conn; /* defined by each driver */
typedef struct ag_driver_stmt ag_driver_stmt; /* defined by each driver */

/* What connect needs.  Option values are strings; each driver documents the
 * keys it understands and ignores none silently: an unknown key is an
 * AG_ERR_ARGUMENT naming it, except that PostgreSQL passes URL query keys and
 * connect_args to libpq as conninfo keywords (libpq rejects unknown ones). */
typedef struct ag_connect_params {
    const ag_url *url;
    const ag_url_param *args; /* connect_args from create_engine, then the URL's query */
    size_t nargs;
    const char *isolation_level; /* NULL (database default), "READ COMMITTED", "REPEATABLE READ",
                                    "SERIALIZABLE", "READ UNCOMMITTED"; "AUTOCOMMIT" is handled
                                    by the engine and never reaches the driver */
    int no_prepare;              /* PostgreSQL behind a transaction-mode pooler (create_engine's prepare =
                       false): no named prepared statements and no startup `options`; the
                       engine sends isolation_level with each BEGIN instead */
} ag_connect_params;

/* Fills params[0..nparams-1] with the next row's values for execute_many.
 * Returns 1 when it filled a row, 0 when there are no more rows, -1 on error
 * (err set).  The values (their text) must stay valid until the next call. */
typedef int (*ag_row_source)(void *ctx, ag_value *params, int nparams, ag_error *err);

/* Transaction status as the database sees it. */
typedef enum ag_tx_status {
    AG_TX_IDLE = 0,    /* no transaction open (autocommit) */
    AG_TX_ACTIVE = 1,  /* inside BEGIN ... */
    AG_TX_FAILED = 2,  /* inside a transaction that an error aborted (PostgreSQL) */
    AG_TX_UNKNOWN = -1 /* the connection is broken */
} ag_tx_status;

typedef struct ag_driver {
    const char *name; /* "sqlite", "postgresql" */
    ag_dialect dialect;

    /* Opens a connection.  SQLite: foreign keys on, busy timeout (connect_args
     * busy_timeout in ms, default 5000), WAL for files (journal_mode to
     * override).  Returns 0 and *out, or -1 with err (AG_ERR_OPERATIONAL for a
     * refused connection; its message does not contain the password). */
    int (*connect)(const ag_connect_params *params, ag_driver_conn **out, ag_error *err);

    /* Closes the connection.  The engine finalizes every statement of the
     * connection before calling close. */
    void (*close)(ag_driver_conn *conn);

    /* Cheap liveness check.  0 alive; -1 with err (disconnect set) if not. */
    int (*ping)(ag_driver_conn *conn, ag_error *err);

    /* Runs SQL text that has no parameters and whose rows are not wanted
     * (BEGIN, COMMIT, SAVEPOINT x, DDL); may hold several statements separated
     * by semicolons.  0 or -1 with err. */
    int (*exec_simple)(ag_driver_conn *conn, const char *sql, ag_error *err);

    ag_tx_status (*transaction_status)(ag_driver_conn *conn);

    /* Prepares one statement (len bytes of sql, NUL-terminated as well).
     * SQLite uses SQLITE_PREPARE_PERSISTENT; PostgreSQL PQprepare with a name
     * unique on the connection.  0 and *out, or -1 with err. */
    int (*prepare)(ag_driver_conn *conn, const char *sql, size_t len, ag_driver_stmt **out, ag_error *err);

    /* Releases a statement (DEALLOCATE on PostgreSQL when the connection is
     * still usable).  Never fails. */
    void (*finalize)(ag_driver_stmt *stmt);

    /* Number of parameters the statement takes (as the database counts them). */
    int (*param_count)(ag_driver_stmt *stmt);

    /* Binds params (exactly param_count of them) and runs the statement.  A
     * statement still executing is reset first.  After success the statement
     * is before its first row (if it returns rows), and column_count,
     * column_name, rows_affected and last_insert_id are available.  Errors of
     * the statement itself are reported here, not at the first fetch, for
     * statements that return no rows; for queries an error in a later row may
     * come from fetch. */
    int (*execute)(ag_driver_stmt *stmt, const ag_value *params, int nparams, ag_error *err);

    /* Advances to the next row: 1 a row is ready, 0 no more rows (the
     * execution is then finished), -1 error. */
    int (*fetch)(ag_driver_stmt *stmt, ag_error *err);

    int (*column_count)(ag_driver_stmt *stmt);
    /* Column label as the database gives it; valid while the statement lives. */
    const char *(*column_name)(ag_driver_stmt *stmt, int col);

    /* The current row's value of column col (0-based), typed per API.md
     * section 1: integers as AG_VALUE_INTEGER, floats as AG_VALUE_FLOAT,
     * NULL as AG_VALUE_NULL, blobs/bytea as AG_VALUE_BLOB, booleans (PostgreSQL
     * bool, SQLite columns declared BOOLEAN, MariaDB TINYINT(1)) as AG_VALUE_BOOLEAN, numeric as
     * AG_VALUE_TEXT (exact), dates and times as AG_VALUE_TEXT in ISO-8601
     * ("2026-11-24", "2026-11-24 02:26:03", "02:26:03", fraction only when
     * non-zero).  Text pointers stay valid until the next fetch/reset/execute. */
    void (*column_value)(ag_driver_stmt *stmt, int col, ag_value *out);

    /* Rows changed by the last execute (INSERT/UPDATE/DELETE); -1 for queries. */
    int64_t (*rows_affected)(ag_driver_stmt *stmt);

    /* The key of the row the last execute inserted: 0 and *out when known
     * (SQLite rowid of an INSERT), -1 when not (PostgreSQL raw SQL). */
    int (*last_insert_id)(ag_driver_stmt *stmt, int64_t *out);

    /* Ends the current execution early; unread rows are discarded. */
    void (*reset)(ag_driver_stmt *stmt);

    /* Executes the statement once per row that next() gives, as fast as the
     * database allows (SQLite: bind/step/reset in a loop; PostgreSQL: pipeline
     * mode, one sync per batch of statements).  Rows affected are summed in
     * *rows_affected.  On error the statement's effects up to that point are
     * whatever the database kept: callers run this inside a transaction (the
     * engine opens one when none is open) so that a failure rolls back all
     * of it.  After it returns the connection is usable again (PostgreSQL has
     * left pipeline mode, even on error). */
    int (*execute_many)(ag_driver_stmt *stmt, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                        ag_error *err);

    /* Asks the database to stop what conn is running now.  The one slot that
     * another thread may call while the connection's owner is inside
     * execute, fetch, exec_simple or execute_many (blocked there): SQLite
     * sqlite3_interrupt; PostgreSQL PQcancel with the PGcancel made at
     * connect; MariaDB `KILL QUERY <thread id>` sent on a second connection
     * made with the same parameters.  The interrupted call then fails with
     * AG_ERR_OPERATIONAL (not a disconnect: the connection stays usable; an
     * open transaction is rolled back or marked failed as the database does),
     * or ends normally when the statement finished first (or, MariaDB's
     * SLEEP(), at some moments takes the kill as its end and returns 1).
     * With nothing
     * running, nothing happens -- except that a request racing the end of
     * one statement may stop the next one.  The caller guarantees that close does not run
     * during the call.  Not async-signal-safe (MariaDB connects, all may
     * allocate).  0 when the request was made, -1 with err when it could not
     * be (the statement then goes on).  NULL: the driver cannot cancel. */
    int (*cancel)(ag_driver_conn *conn, ag_error *err);
} ag_driver;

extern const ag_driver ag_driver_sqlite;
extern const ag_driver ag_driver_postgres;
extern const ag_driver ag_driver_mariadb;

/* The driver for a dialect, or NULL if this build has none for it. */
const ag_driver *ag_driver_for(ag_dialect dialect);

#endif
