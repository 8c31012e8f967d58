/*
 * argent.h -- the public C API of argent, for programs that embed it.
 *
 * argent is a data engine for Lua with a C core.  This header is what a host
 * program sees of the core: open an engine from a URL, check connections out
 * of its pool and back in, execute SQL with bound parameters, read results,
 * run transactions, and hand an engine made in C to any number of Lua states
 * in any threads.  It is installed alone: it includes only standard headers.
 *
 * Conventions, the same at every function:
 *
 *  - Failure: functions that can fail take an `argent_error *err` last and
 *    return NULL or -1 (as written at each).  On failure *err is filled; on
 *    success it is not touched.  err may be NULL when the caller does not
 *    want the details.  A failed call leaves its arguments as they were
 *    unless its comment says otherwise.
 *  - Ownership: a function that returns a handle gives the caller one
 *    reference or the sole ownership, as written; the matching release/close
 *    function ends it.  Strings and pointers into results are borrowed and
 *    valid for the time written at each.  Strings passed in are copied when
 *    the callee keeps them.
 *  - Threads: an engine may be used from any number of threads at once (its
 *    pool locks).  A connection, its results and its transactions belong to
 *    one thread at a time: hand them over between threads only with your
 *    own synchronization, never use them from two threads at once.
 *  - Handles after close: argent_connection_close and argent_result_close
 *    free their handle, exactly as free() does: passing it to any function
 *    afterwards is undefined.  What argent can detect is reported as an
 *    ARGENT_ERR_INVALID_REQUEST error: a result whose connection has been
 *    closed, a transaction that is no longer active, reading a column when
 *    no row is current.  NULL handles are ArgumentErrors, never crashes.
 */
#ifndef ARGENT_H
#define ARGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version, written here once (CMakeLists.txt reads these three lines). */
#define ARGENT_VERSION_MAJOR 0
#define ARGENT_VERSION_MINOR 1
#define ARGENT_VERSION_PATCH 0
#define ARGENT_VERSION_TEXT_(n) #n
#define ARGENT_VERSION_TEXT(n) ARGENT_VERSION_TEXT_(n)
/* "0.1.0" */
#define ARGENT_VERSION \
    ARGENT_VERSION_TEXT(ARGENT_VERSION_MAJOR) \
    "." ARGENT_VERSION_TEXT(ARGENT_VERSION_MINOR) "." ARGENT_VERSION_TEXT(ARGENT_VERSION_PATCH)
/* 100: major * 10000 + minor * 100 + patch, for #if */
#define ARGENT_VERSION_NUMBER (ARGENT_VERSION_MAJOR * 10000 + ARGENT_VERSION_MINOR * 100 + ARGENT_VERSION_PATCH)

/* "0.1.0": the version of the library linked in (ARGENT_VERSION is the header's). */
const char *argent_version(void);

/* ------------------------------------------------------------------ errors */

/* The kinds of API.md section 8; the same mistake has the same kind on every
 * database. */
typedef enum argent_error_kind {
    ARGENT_OK = 0,
    ARGENT_ERR_ARGUMENT,         /* ArgumentError: bad use of the API, found beforehand */
    ARGENT_ERR_INTERFACE,        /* InterfaceError: no driver for this database in this build */
    ARGENT_ERR_OPERATIONAL,      /* OperationalError: connection refused or lost, locked, I/O */
    ARGENT_ERR_INTEGRITY,        /* IntegrityError: unique, not null, foreign key, check */
    ARGENT_ERR_PROGRAMMING,      /* ProgrammingError: syntax error, unknown table or column */
    ARGENT_ERR_DATA,             /* DataError: a value that does not fit its column */
    ARGENT_ERR_NOT_SUPPORTED,    /* NotSupportedError */
    ARGENT_ERR_TIMEOUT,          /* TimeoutError: no connection free within pool_timeout */
    ARGENT_ERR_NO_RESULT,        /* NoResultFound */
    ARGENT_ERR_MULTIPLE_RESULTS, /* MultipleResultsFound */
    ARGENT_ERR_DETACHED,         /* DetachedInstanceError (ORM) */
    ARGENT_ERR_INVALID_REQUEST,  /* InvalidRequestError: wrong state (closed, inactive, no row) */
    ARGENT_ERR_MEMORY            /* out of memory */
} argent_error_kind;

#define ARGENT_ERROR_MESSAGE_MAX 1024

/* An error as a plain value: it owns no memory, needs no freeing, and may
 * live on the stack.  message never contains parameter values or the
 * database password. */
typedef struct argent_error {
    argent_error_kind kind;
    /* "IntegrityError", ...: static storage, never NULL after a failure */
    const char *kind_name;
    /* SQLSTATE (PostgreSQL, MariaDB) or SQLite's extended result code in
     * decimal; "" when the database gave none */
    char code[16];
    /* non-zero: the connection is unusable (it is discarded when closed) */
    int disconnect;
    /* NUL-terminated, truncated to fit */
    char message[ARGENT_ERROR_MESSAGE_MAX];
} argent_error;

/* "ArgumentError", "OperationalError", ...; "OK" for ARGENT_OK and "Error"
 * for a value outside the enum.  Never NULL. */
const char *argent_error_kind_name(argent_error_kind kind);

/* ------------------------------------------------------------------ engine */

/* An engine: a URL, its options and a thread-safe pool of connections.
 * Reference counted: it lives until its last holder lets go.  Holders are
 * the creator, every argent_engine_retain, every connection checked out of
 * it, and every Lua argent.Engine userdata that wraps it. */
typedef struct argent_engine argent_engine;

/* One driver option (API.md's connect_args), e.g. {"busy_timeout", "10000"}
 * for SQLite; on PostgreSQL they are libpq conninfo keywords. */
typedef struct argent_connect_arg {
    const char *key;
    const char *value;
} argent_connect_arg;

/* create_engine's options (API.md section 2).  Fill it with
 * argent_engine_options_init, then change what you need. */
typedef struct argent_engine_options {
    /* connections kept open (5); >= 0 */
    int pool_size;
    /* extra connections allowed beyond pool_size (10); -1: no limit */
    int max_overflow;
    /* seconds to wait for a free connection (30) before ARGENT_ERR_TIMEOUT */
    double pool_timeout;
    /* seconds after which a connection is replaced at checkout (-1: never) */
    double pool_recycle;
    /* non-zero: test each connection at checkout, replace a dead one (0) */
    int pool_pre_ping;
    /* NULL (the database's default), "READ COMMITTED", "REPEATABLE READ",
     * "SERIALIZABLE", "READ UNCOMMITTED" or "AUTOCOMMIT"; copied */
    const char *isolation_level;
    /* prepared statements kept per connection (128); 0 disables the cache */
    int statement_cache_size;
    /* nconnect_args pairs, copied; NULL when none */
    const argent_connect_arg *connect_args;
    size_t nconnect_args;
    /* 1 (default): named prepared statements, cached per connection; 0: none
     * (PostgreSQL behind a transaction-mode pooler such as PgBouncer: each
     * statement goes as one unnamed Parse/Bind/Execute, no startup options,
     * isolation_level sent with each BEGIN).  0 on another database is an
     * ARGENT_ERR_ARGUMENT. */
    int prepare;
    /* nreplicas URLs of read replicas (copied; the same dialect as url), each
     * with a pool of its own made with these options (pre-pinging always):
     * argent_connect_readonly takes its connections there.  NULL when none. */
    const char *const *replicas;
    size_t nreplicas;
} argent_engine_options;

/* Sets every field of opts to its default.  opts must not be NULL. */
void argent_engine_options_init(argent_engine_options *opts);

/* Makes an engine for url (API.md's URL forms: "sqlite:///relative.db",
 * "sqlite:////abs/path.db", "sqlite://" (in memory),
 * "postgresql://user:pass@host:5432/db?k=v").  url NULL: the environment
 * variable DB_CONNECTION_STRING.  opts NULL: the defaults.  No connection is
 * opened yet: a wrong host or password shows at the first argent_connect.
 *
 * Returns an engine holding one reference, owned by the caller (end it with
 * argent_engine_release), or NULL with err: ARGENT_ERR_ARGUMENT for a bad
 * URL (the message masks the password as ***), a bad option or no URL at
 * all; ARGENT_ERR_INTERFACE when this build has no driver for the database;
 * ARGENT_ERR_MEMORY.  Thread-safe. */
argent_engine *argent_engine_create(const char *url, const argent_engine_options *opts, argent_error *err);

/* Adds a reference: the engine lives until it is released as many times as
 * it was created and retained.  Returns engine (NULL-safe).  Thread-safe. */
argent_engine *argent_engine_retain(argent_engine *engine);

/* Drops a reference.  The last one closes every idle pooled connection and
 * frees the engine; a connection still checked out holds its own reference,
 * so releasing the engine while connections are out is safe: the engine
 * goes when the last of them is closed.  NULL-safe.  Thread-safe. */
void argent_engine_release(argent_engine *engine);

/* Closes every idle pooled connection now; connections checked out are
 * closed when they come back instead of being pooled.  The engine stays
 * usable (new checkouts open new connections).  NULL-safe.  Thread-safe. */
void argent_engine_dispose(argent_engine *engine);

/* A snapshot of the pool's counters (API.md's pool:status()). */
typedef struct argent_pool_status {
    int size;        /* pool_size */
    int checked_in;  /* idle connections kept open */
    int checked_out; /* connections handed out now */
    int overflow;    /* open connections beyond pool_size (0 while within it) */
} argent_pool_status;

/* Fills *out.  Returns 0, or -1 with err (ARGENT_ERR_ARGUMENT) when engine
 * or out is NULL (*out unchanged).  Thread-safe. */
int argent_engine_pool_status(argent_engine *engine, argent_pool_status *out, argent_error *err);

/* "sqlite", "postgresql" or "mariadb"; static storage.  NULL for a NULL engine. */
const char *argent_engine_dialect(const argent_engine *engine);

/* -------------------------------------------------------------- connection */

/* One checkout of a pooled connection.  It belongs to one thread at a time
 * and keeps its engine alive. */
typedef struct argent_connection argent_connection;

/* Checks a connection out of the engine's pool, opening one if none is idle
 * and the limits allow; otherwise waits up to pool_timeout seconds.  Outside
 * a transaction (argent_begin) every statement commits on its own.
 *
 * Returns the connection, owned by the caller (end it with
 * argent_connection_close), or NULL with err: ARGENT_ERR_OPERATIONAL when the
 * database cannot be reached, ARGENT_ERR_TIMEOUT when the pool stays
 * exhausted, ARGENT_ERR_ARGUMENT for a NULL engine or a bad connect_arg.
 * Thread-safe (on the engine). */
argent_connection *argent_connect(argent_engine *engine, argent_error *err);

/* A connection for reading (API.md section 11): from a replica's pool, taken
 * round robin; a replica that fails (refused, or its pool stays exhausted) is
 * skipped for 5 s; with no replica, or none answering, the primary's, as
 * argent_connect.  Same returns and errors as argent_connect.  Thread-safe. */
argent_connection *argent_connect_readonly(argent_engine *engine, argent_error *err);

/* The number of replicas the engine was made with (0 for a NULL engine). */
size_t argent_engine_replica_count(const argent_engine *engine);

/* Fills *out with the pool status of replica `index` (0-based, below
 * argent_engine_replica_count).  0, or -1 with err (ARGENT_ERR_ARGUMENT) for
 * a NULL engine or out or an index out of range (*out unchanged). */
int argent_engine_replica_pool_status(argent_engine *engine, size_t index, argent_pool_status *out, argent_error *err);

/* Gives the connection back to the pool: an open transaction is rolled back,
 * its results are ended (each must still be freed with argent_result_close,
 * and reading from them is an ARGENT_ERR_INVALID_REQUEST), and the engine
 * reference it held is dropped.  Frees conn.  NULL-safe. */
void argent_connection_close(argent_connection *conn);

/* The connection's engine (borrowed: valid while the connection is open;
 * retain it to keep it longer).  NULL for a NULL conn. */
argent_engine *argent_connection_engine(const argent_connection *conn);

/* ------------------------------------------------------------------ cancel
 *
 * Stopping a statement that runs too long.  The thread running it is blocked
 * inside argent_execute or argent_result_next, so a cancel always comes from
 * somewhere else:
 *
 *  - another thread: call argent_connection_cancel or argent_engine_cancel
 *    directly;
 *  - a signal handler (Ctrl-C): neither function is async-signal-safe (they
 *    take a lock, allocate, and on MariaDB connect to the server), so the
 *    handler only records the request -- sets a volatile sig_atomic_t flag,
 *    or write()s a byte to a pipe -- and a thread waiting on that pipe (or a
 *    loop polling the flag) makes the call.  This is the deferred path the
 *    argent command's REPL uses for Ctrl-C.
 *
 * How: SQLite sqlite3_interrupt; PostgreSQL PQcancel (its cancel key is taken
 * at connect); MariaDB `KILL QUERY <thread id>` sent on a second, short-lived
 * connection with the same URL.  The stopped call fails with
 * ARGENT_ERR_OPERATIONAL; the connection stays usable (not `disconnect`).  A
 * transaction it was in is rolled back (SQLite, when it was writing) or
 * failed until argent_rollback (PostgreSQL); MariaDB keeps it open.  A
 * statement that finishes before the request arrives ends normally, and
 * MariaDB's SLEEP() may take a kill as its normal end (it returns 1).  Only a
 * connection that is running a statement at the moment of the call is asked;
 * a request racing the end of one statement may still stop the next one on
 * the same connection, as in every database client. */

/* Asks the database to stop the statement running on conn now.  Safe to call
 * from any thread while conn's owner uses it; the caller must make sure that
 * conn is not closed before this returns (use argent_engine_cancel when that
 * cannot be promised).  Returns 1 when a request was made, 0 when conn was
 * not running a statement (nothing is sent then), -1 with err:
 * ARGENT_ERR_ARGUMENT for a NULL conn, ARGENT_ERR_OPERATIONAL when the
 * request could not reach the database (the statement then goes on). */
int argent_connection_cancel(argent_connection *conn, argent_error *err);

/* Asks the database to stop the statements running on every connection
 * checked out of engine now (a REPL's Ctrl-C: whatever is running).  Safe to
 * call from any thread at any time: connections closed meanwhile wait for
 * it, never vanish under it; the caller only holds a reference to engine.
 * Returns the number of statements asked to stop (0: nothing was running),
 * or -1 with the first failure in err (ARGENT_ERR_ARGUMENT for a NULL
 * engine); the other requests are made all the same. */
int argent_engine_cancel(argent_engine *engine, argent_error *err);

/* ------------------------------------------------------------- parameters */

/* The type of a parameter or of a column value. */
typedef enum argent_type {
    ARGENT_NULL = 0,
    ARGENT_INT64,  /* v.i */
    ARGENT_DOUBLE, /* v.d */
    ARGENT_TEXT,   /* v.bytes: len bytes of text (zeros and invalid UTF-8 travel as binary) */
    ARGENT_BLOB,   /* v.bytes: len bytes of binary data */
    ARGENT_BOOL    /* v.b: 0 or 1 */
} argent_type;

/* argent_result_column_type when there is no value to describe: no current
 * row, or a column number out of range. */
#define ARGENT_NO_VALUE (-1)

/* A parameter: a type tag and its value.  Text and blobs are borrowed: they
 * must stay valid during the argent_execute call only. */
typedef struct argent_value {
    argent_type type;
    union {
        int64_t i;
        double d;
        int b;
        struct {
            const void *data; /* may be NULL only when len is 0 */
            size_t len;
        } bytes;
    } v;
} argent_value;

/* Builders for parameter arrays:
 *   argent_value params[] = {argent_int64(1), argent_text("ann"), argent_null()}; */
static inline argent_value argent_null(void) {
    argent_value p;
    p.type = ARGENT_NULL;
    p.v.i = 0;
    return p;
}
static inline argent_value argent_int64(int64_t i) {
    argent_value p;
    p.type = ARGENT_INT64;
    p.v.i = i;
    return p;
}
static inline argent_value argent_double(double d) {
    argent_value p;
    p.type = ARGENT_DOUBLE;
    p.v.d = d;
    return p;
}
static inline argent_value argent_bool(int b) {
    argent_value p;
    p.type = ARGENT_BOOL;
    p.v.b = b != 0;
    return p;
}
/* s is a NUL-terminated string (its length is taken with strlen at the call);
 * NULL gives a SQL NULL. */
static inline argent_value argent_text(const char *s) {
    argent_value p;
    size_t n = 0;
    if (!s) return argent_null();
    while (s[n]) n++;
    p.type = ARGENT_TEXT;
    p.v.bytes.data = s;
    p.v.bytes.len = n;
    return p;
}
static inline argent_value argent_textn(const char *s, size_t len) {
    argent_value p;
    p.type = ARGENT_TEXT;
    p.v.bytes.data = s;
    p.v.bytes.len = len;
    return p;
}
static inline argent_value argent_blob(const void *data, size_t len) {
    argent_value p;
    p.type = ARGENT_BLOB;
    p.v.bytes.data = data;
    p.v.bytes.len = len;
    return p;
}

/* --------------------------------------------------------------- execute */

/* The rows (or the outcome) of one executed statement.  It belongs to its
 * connection's thread, and is ended by closing the connection. */
typedef struct argent_result argent_result;

/* Executes one SQL statement with bound parameters; values are never spliced
 * into the SQL.  Placeholders are written as in the Lua API and rewritten for
 * the database ($1.. on PostgreSQL), text in quotes and comments left alone:
 *   `?`      positional: params[i] fills the (i+1)-th `?`;
 *   `:name`  named: params[i] is the i-th distinct name in order of first
 *            appearance (a name used twice takes one parameter).
 * nparams must be exactly the number of parameters the statement takes
 * (ARGENT_ERR_ARGUMENT otherwise).  The statement is prepared once per pooled
 * connection and reused (statement_cache_size).
 *
 * out non-NULL: on success *out is a new result owned by the caller (end it
 * with argent_result_close), also for statements that return no rows (then
 * argent_result_next gives 0 at once and argent_result_rowcount tells the
 * rows changed).  out NULL: the result is not wanted; rows are discarded.
 *
 * Returns 0, or -1 with err (*out set to NULL): the database's error with its
 * kind (a constraint: ARGENT_ERR_INTEGRITY; a syntax error or unknown table:
 * ARGENT_ERR_PROGRAMMING; database locked or connection lost:
 * ARGENT_ERR_OPERATIONAL), ARGENT_ERR_ARGUMENT for a wrong parameter count or
 * type tag.  A failed statement inside a transaction leaves the transaction
 * open (roll it back); outside one it changed nothing (except after
 * ARGENT_ERR_MEMORY, which can come once the statement has run). */
int argent_execute(argent_connection *conn, const char *sql, const argent_value *params, int nparams,
                   argent_result **out, argent_error *err);

/* Runs SQL text that has no parameters and returns no rows (DDL, several
 * statements separated by semicolons); passed to the database as written.
 * Returns 0, or -1 with err. */
int argent_execute_script(argent_connection *conn, const char *sql, argent_error *err);

/* ----------------------------------------------------------------- results */

/* Advances to the next row, streaming from the database (constant memory).
 * Returns 1 when a row is current, 0 when there are no more rows (also at
 * once for a statement that returns none, and again at every later call),
 * -1 with err: a database error while reading (the result is then finished),
 * or ARGENT_ERR_INVALID_REQUEST when the connection has been closed or an
 * earlier call failed.  The statement goes back to the connection's cache as
 * soon as the last row has been read. */
int argent_result_next(argent_result *res, argent_error *err);

/* Number of columns (0 for a statement without rows); valid for the whole
 * life of the result, even after the connection is closed.  0 for NULL. */
int argent_result_column_count(const argent_result *res);

/* Label of column col (0-based) as the database gives it, NUL-terminated,
 * valid until argent_result_close; NULL when col is out of range. */
const char *argent_result_column_name(const argent_result *res, int col);

/* Column readers for the current row (after argent_result_next gave 1).
 * Values are typed as API.md section 1 says: integers ARGENT_INT64, floats
 * ARGENT_DOUBLE, booleans ARGENT_BOOL (PostgreSQL bool, SQLite columns
 * declared BOOLEAN), text and exact numerics ARGENT_TEXT, blobs/bytea
 * ARGENT_BLOB, dates and times ARGENT_TEXT in ISO-8601.  The type is the
 * value's, so it may differ from row to row on SQLite.
 * Without a current row (before the first next, after the last, after an
 * error or once the connection is closed) or with col out of range, there is
 * no value: column_type gives ARGENT_NO_VALUE and the others the NULL
 * answers below.  None of them changes the result or fails otherwise. */
int argent_result_column_type(argent_result *res, int col);

/* Non-zero when the value is SQL NULL or there is no value. */
int argent_result_column_is_null(argent_result *res, int col);

/* The value as an integer: integers as they are, booleans 0/1, floats
 * truncated toward zero (saturating at the int64 range), text parsed as a
 * decimal integer prefix (as SQLite does; 0 when it does not start with
 * one), NULL/blob/no value 0. */
int64_t argent_result_column_int64(argent_result *res, int col);

/* The value as a double: floats as they are, integers and booleans
 * converted, text parsed as a decimal number prefix, NULL/blob/no value 0. */
double argent_result_column_double(argent_result *res, int col);

/* The value as text: a pointer to its bytes, with *len (if len is non-NULL)
 * set to their count; a zero byte always follows them, so the pointer can be
 * used as a C string when the text holds no zeros itself.  Integers are
 * formatted as "%lld", floats with the fewest digits (15 to 17) that read
 * back exactly and a '.' whatever the locale, booleans as "true"/"false",
 * blobs give their bytes.  NULL (with *len 0) for SQL NULL or no value, and
 * when memory runs out.  The bytes are a copy in a buffer that the result
 * keeps per column: the pointer is valid until the next argent_result_next,
 * the next argent_result_column_text of the same column, or
 * argent_result_close. */
const char *argent_result_column_text(argent_result *res, int col, size_t *len);

/* The value's bytes as the driver holds them, without conversion or copy
 * (the fastest way to read text too), for ARGENT_BLOB and ARGENT_TEXT values;
 * no zero byte is promised after them.  NULL (and *len 0) for other types,
 * SQL NULL and no value; an empty value is a non-NULL pointer with *len 0.
 * The pointer is valid until the next argent_result_next or
 * argent_result_close of this result, or the next call that uses its
 * connection (argent_execute, argent_begin, ..., argent_connection_close). */
const void *argent_result_column_blob(argent_result *res, int col, size_t *len);

/* Rows inserted, updated or deleted by the statement; -1 when it does not
 * change rows (queries, DDL).  Valid for the whole life of the result. */
int64_t argent_result_rowcount(const argent_result *res);

/* The key of the row a single-row INSERT inserted: 1 and *out when the
 * database reports one (SQLite's rowid), 0 when it does not (statements that
 * are not inserts; PostgreSQL raw SQL: add RETURNING id and read it as a
 * row).  Valid for the whole life of the result. */
int argent_result_lastrowid(const argent_result *res, int64_t *out);

/* Ends the result: unread rows are discarded, the statement goes back to the
 * connection's cache, and res is freed.  Allowed after the connection was
 * closed (then it only frees).  NULL-safe. */
void argent_result_close(argent_result *res);

/* ------------------------------------------------------------ transactions */

/* One transaction level of a connection: the transaction itself or one
 * savepoint inside it.  A small value: copy it freely; its fields are
 * private (they name the level and tell a later transaction from this one). */
typedef struct argent_tx {
    int level_;
    uint64_t id_;
} argent_tx;

/* BEGIN: from here on nothing this connection does is visible to others
 * until argent_commit.  Returns 0 and *tx, or -1 with err:
 * ARGENT_ERR_INVALID_REQUEST when a transaction is already open (use
 * argent_begin_nested), or the database's error.  *tx is unchanged on error. */
int argent_begin(argent_connection *conn, argent_tx *tx, argent_error *err);

/* SAVEPOINT inside the open transaction.  Returns 0 and *tx, or -1 with err:
 * ARGENT_ERR_INVALID_REQUEST when no transaction is open or savepoints are
 * nested too deep (63 levels). */
int argent_begin_nested(argent_connection *conn, argent_tx *tx, argent_error *err);

/* Commits tx (a transaction: COMMIT; a savepoint: RELEASE), ending the levels
 * inside it too.  Returns 0, or -1 with err: ARGENT_ERR_INVALID_REQUEST when
 * tx is no longer active (committed or rolled back already), or the
 * database's error; a COMMIT that fails rolls the whole transaction back, so
 * nothing half-done stays. */
int argent_commit(argent_connection *conn, argent_tx tx, argent_error *err);

/* Rolls tx back (a transaction: ROLLBACK; a savepoint: ROLLBACK TO and
 * RELEASE), ending the levels inside it too.  Rolling back a transaction that
 * is no longer active does nothing and returns 0.  -1 with err when the
 * database fails (the connection is then usually lost). */
int argent_rollback(argent_connection *conn, argent_tx tx, argent_error *err);

/* Non-zero while tx is open on conn. */
int argent_tx_is_active(const argent_connection *conn, argent_tx tx);

/* Non-zero while any transaction is open on conn. */
int argent_in_transaction(const argent_connection *conn);

/* --------------------------------------------------------------------- Lua
 * These need the Lua bindings linked in (the argent_lua_static library, or
 * the module core.so for luaopen_argent_core) and Lua 5.4.  struct lua_State
 * is Lua's own type: include lua.h before or after this header, in any order.
 * Each may raise a Lua error (out of memory), so call them where a Lua error
 * is allowed: inside lua_pcall, or with a panic handler you accept. */
struct lua_State;

/* The C part of the Lua module (what `require "argent.core"` loads): pushes
 * the module table.  Normally called by require through argent_openlibs. */
int luaopen_argent_core(struct lua_State *L);

/* Makes `require "argent.core"` (and so `require "argent"`, whose Lua part
 * must be on package.path) in state L use the C part linked into this
 * program, never loading a second copy from a shared library.  Registers
 * luaopen_argent_core in package.preload; works before or after
 * luaL_openlibs.  Call it once per state, before the first require. */
void argent_openlibs(struct lua_State *L);

/* Pushes an argent.Engine userdata for engine onto L's stack.  The userdata
 * holds its own new reference (released when it is collected), so each of
 * any number of states in any threads can have one for the same engine, and
 * the caller keeps its own reference.  Loads argent.core into L if it is not
 * loaded yet.  The methods written in Lua (engine:begin) appear once
 * `require "argent"` has run in L.  A NULL engine raises an ArgumentError. */
void argent_push_engine(struct lua_State *L, argent_engine *engine);

/* The engine of the argent.Engine userdata at index idx (one made in Lua by
 * argent.create_engine, or pushed by argent_push_engine), or NULL when the
 * value is not one.  Borrowed: valid while the userdata lives; retain it to
 * keep it longer or to use it from another thread.  Never raises. */
argent_engine *argent_to_engine(struct lua_State *L, int idx);

#ifdef __cplusplus
}
#endif

#endif
