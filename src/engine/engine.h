/*
 * engine.h -- engines, connections (checkouts), prepared statements and
 * transactions: the core that the Lua bindings and the public C API share.
 *
 * An ag_engine owns a URL, its options and a pool; it is reference counted
 * and may be shared by any number of threads (only the pool inside it is
 * mutable, and the pool locks).  An ag_conn is one checkout: it belongs to
 * one thread at a time, keeps its engine alive, and hands its slot back on
 * ag_conn_close.  A connection's statements are cached per slot (an LRU keyed
 * by the SQL text as the user wrote it, holding the rewritten SQL and the
 * driver's prepared statement).
 */
#ifndef ARGENT_ENGINE_ENGINE_H
#define ARGENT_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "base/placeholders.h"
#include "driver/driver.h"
#include "pool/pool.h"

typedef struct ag_engine ag_engine;
typedef struct ag_conn ag_conn;
typedef struct ag_stmt ag_stmt;

typedef struct ag_engine_options {
    int pool_size;                    /* 5 */
    int max_overflow;                 /* 10; -1 no limit */
    double pool_timeout;              /* 30 s */
    double pool_recycle;              /* -1 never */
    int pool_pre_ping;                /* 0 */
    const char *isolation_level;      /* NULL, or one of the four levels, or "AUTOCOMMIT" */
    int statement_cache_size;         /* 128; 0 disables the cache */
    const ag_url_param *connect_args; /* copied */
    size_t nconnect_args;
    int prepare;                 /* 1; 0: no named prepared statements (PostgreSQL behind a
                                   transaction-mode pooler; ArgumentError on other databases) */
    const char *const *replicas; /* URLs of read replicas (copied), each with a pool of its own
                                    (the same options and connect_args); NULL when none */
    size_t nreplicas;
} ag_engine_options;

void ag_engine_options_init(ag_engine_options *options);

/* Parses url and makes an engine (no connection is opened yet).  The result
 * has one reference.  NULL with err: ArgumentError for a bad URL or option,
 * InterfaceError when this build has no driver for the dialect. */
ag_engine *ag_engine_create(const char *url, size_t url_len, const ag_engine_options *options, ag_error *err);
void ag_engine_retain(ag_engine *engine);
/* Drops a reference; the last one disposes the pool and frees the engine. */
void ag_engine_release(ag_engine *engine);

const ag_url *ag_engine_url(const ag_engine *engine);
ag_dialect ag_engine_dialect(const ag_engine *engine);
void ag_engine_pool_status(ag_engine *engine, ag_pool_status *out);
/* Closes pooled connections; connections checked out now are closed when returned. */
void ag_engine_dispose(ag_engine *engine);

/* Checks a connection out of the pool.  NULL with err. */
ag_conn *ag_engine_connect(ag_engine *engine, ag_error *err);

/* A connection for reading: from a replica's pool, taken round robin; a
 * replica whose checkout fails (replica pools always pre-ping) is skipped
 * for AG_REPLICA_RETRY_SECONDS; with no replica, or none answering, the
 * primary's.  NULL with err (the primary's failure). */
#define AG_REPLICA_RETRY_SECONDS 5.0
ag_conn *ag_engine_connect_readonly(ag_engine *engine, ag_error *err);

/* The engine's replicas: how many, and a pool's status (index < count). */
size_t ag_engine_replica_count(const ag_engine *engine);
void ag_engine_replica_pool_status(ag_engine *engine, size_t index, ag_pool_status *out);
const ag_url *ag_engine_replica_url(const ag_engine *engine, size_t index);

/* Returns the connection to the pool: open statements are reset, an open
 * transaction rolled back.  Frees conn.  NULL-safe. */
void ag_conn_close(ag_conn *conn);

ag_engine *ag_conn_engine(const ag_conn *conn);
const ag_driver *ag_conn_driver(const ag_conn *conn);

/* Marks the connection as broken (a disconnect error was seen): its slot is
 * discarded, not pooled, when the connection is closed. */
void ag_conn_invalidate(ag_conn *conn);

/* Inspects err after a failed call on conn: invalidates conn when err says
 * the connection is gone.  Returns -1 (for `return ag_conn_fail(...)`). */
int ag_conn_fail(ag_conn *conn, const ag_error *err);

/* ---- statements */

struct ag_stmt {
    ag_conn *conn; /* the connection using it now (NULL when idle in the cache) */
    ag_slot *slot;
    ag_driver_stmt *dstmt;
    const ag_driver *driver;
    ag_rewritten_sql params; /* the placeholder map (style NONE when not rewritten) */
    char *key;               /* SQL as the user wrote it; cache key */
    size_t key_len;
    uint64_t hash;
    int raw;       /* prepared without rewriting (exec_driver_sql) */
    int cached;    /* lives in the slot's cache (else freed on release) */
    int executing; /* has rows to read, or may have */
    int ddl;       /* CREATE / DROP / ALTER ...: running it outdates every cached statement */
    ag_stmt *lru_prev, *lru_next, *hash_next;
    ag_stmt *open_prev, *open_next; /* the connection's statements in use */
};

/* A statement ready to execute on conn, from the cache or freshly prepared.
 * rewrite: apply argent's placeholder rewriting (0 for exec_driver_sql).
 * The statement is the caller's until ag_stmt_release.  NULL with err. */
ag_stmt *ag_conn_prepare(ag_conn *conn, const char *sql, size_t len, int rewrite, ag_error *err);

/* The same for SQL whose ag_hash_sql (base/hash.h) the caller has already
 * (a compiled statement keeps it): the text is not hashed again. */
ag_stmt *ag_conn_prepare_hashed(ag_conn *conn, const char *sql, size_t len, uint64_t hash, int rewrite, ag_error *err);

/* Ends the caller's use: resets the statement and gives it back to the cache
 * (or finalizes it when it is not cached).  NULL-safe. */
void ag_stmt_release(ag_stmt *stmt);

/* Binds and runs.  0 or -1 with err (the connection is invalidated when err
 * says it is gone). */
int ag_stmt_execute(ag_stmt *stmt, const ag_value *params, int nparams, ag_error *err);

/* 1 row ready, 0 done (the statement is reset), -1 error. */
int ag_stmt_fetch(ag_stmt *stmt, ag_error *err);

/* Executes once per row of next(), all or nothing: inside a transaction of
 * its own when none is open, else inside a savepoint of its own, so that a
 * failure leaves nothing behind and the caller's transaction as it was
 * (except under isolation_level AUTOCOMMIT, where nothing is atomic). */
int ag_stmt_execute_many(ag_stmt *stmt, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                         ag_error *err);

/* ---- transactions
 * A transaction handle names one level: 1 the transaction, 2.. savepoints.
 * Committing or rolling back a level ends the levels inside it too. */
typedef struct ag_tx {
    int depth;
    uint64_t id;
} ag_tx;

/* nested = 0: BEGIN (InvalidRequestError if one is open);
 * nested = 1: SAVEPOINT (InvalidRequestError if no transaction is open). */
int ag_conn_begin(ag_conn *conn, int nested, ag_tx *out, ag_error *err);
/* InvalidRequestError when tx is no longer active. */
int ag_conn_commit(ag_conn *conn, ag_tx tx, ag_error *err);
/* Rolling back an inactive transaction does nothing and succeeds. */
int ag_conn_rollback(ag_conn *conn, ag_tx tx, ag_error *err);
int ag_conn_tx_active(const ag_conn *conn, ag_tx tx);
int ag_conn_in_transaction(const ag_conn *conn);

/* Runs SQL without parameters or rows (several statements allowed). */
int ag_conn_exec_simple(ag_conn *conn, const char *sql, ag_error *err);

/* ---- cancel (cancel.c)
 * Both may be called from any thread while the connections' owners run
 * statements; neither is async-signal-safe (a signal handler sets a flag or
 * writes to a pipe, and a thread calls them).  Only a connection that is
 * running SQL now (inside a driver call) is asked to stop; the statement
 * then fails with an OperationalError and leaves its connection usable (see
 * the driver vtable's cancel). */

/* Asks the database to stop the statement running on conn.  The caller
 * guarantees that conn is not closed before this returns.  1 when a request
 * was made, 0 when conn was running nothing, -1 with err (NotSupportedError
 * when the driver cannot cancel; the database's error when the request could
 * not be sent). */
int ag_conn_cancel(ag_conn *conn, ag_error *err);

/* Asks the database to stop the statements running on every connection
 * checked out of engine now; connections closing meanwhile wait for it.
 * Safe against any concurrent checkout or close.  The number of statements
 * asked to stop (0: nothing was running), or -1 with the first failure's err
 * (the other requests were still made). */
int ag_engine_cancel(ag_engine *engine, ag_error *err);

#endif
