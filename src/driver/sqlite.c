/*
 * sqlite.c -- the SQLite driver: ag_driver_sqlite over libsqlite3.
 *
 * This is the only file that includes sqlite3.h.  It implements driver.h's
 * contract as a thin layer over the sqlite3 API, because benchmarks compare it
 * with raw C: execute binds and takes the first step (so that errors of
 * INSERT/UPDATE/DELETE surface there), fetch only steps, column_value only
 * reads, and everything that costs string work (column names, declared types,
 * what kind of statement this is) is computed once at prepare.
 *
 * Connections are opened with SQLITE_OPEN_NOMUTEX (SQLite's multi-thread
 * mode): driver.h already requires that a connection and its statements be
 * used by one thread at a time (the pool hands a connection to one holder),
 * which is exactly what that mode asks, and the driver's own per-statement
 * state assumes it anyway.  Serialized mode would take and release the
 * connection mutex in every step, bind and column read (two locked
 * operations per value read: about 7% of a primary-key lookup, more of a
 * wide scan).  File names are plain paths, never URIs.
 *
 * Connect args understood (values are strings; an unknown key or a value not
 * in the lists below is an AG_ERR_ARGUMENT):
 *   busy_timeout  milliseconds to wait for a lock (default 5000)
 *   journal_mode  DELETE, TRUNCATE, PERSIST, MEMORY, WAL, OFF.  Without it an
 *                 existing database keeps the mode it has (changing it needs
 *                 an exclusive lock, and some modes persist in the file: a
 *                 connection must not convert someone else's database), and
 *                 a new one (no file yet, or an empty file) is made WAL.
 *                 A change waits for locks up to busy_timeout (SQLite's own
 *                 busy handler is not called for it while another
 *                 connection writes).
 *   mode          ro (read-only: nothing is created or written, even if the
 *                 file is writable), rw (read-write, the file must exist) or
 *                 rwc (read-write, created when missing: the default), as
 *                 SQLite's URI parameter of that name
 *   synchronous   OFF, NORMAL, FULL, EXTRA or 0..3 (default: SQLite's)
 *   foreign_keys  on/off (1/0, true/false, yes/no); default on
 *   check_same_thread  accepted and ignored: SQLAlchemy users pass it for
 *                 pysqlite; argent's pool already hands a connection to one
 *                 thread at a time
 *
 * rows_affected is sqlite3_changes64 for INSERT, UPDATE, DELETE and REPLACE
 * (known after execute, or after the last row when they have RETURNING) and
 * -1 for everything else (queries, DDL, PRAGMA).  last_insert_id is known only
 * for an INSERT or REPLACE that did insert a row.
 */
#include "base/alloc.h"
#include "driver/driver.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

struct ag_driver_conn {
    sqlite3 *db;
    int in_memory; /* never ask the pool to discard it: that would lose the data */
};

/* Result-column metadata, built at prepare and rebuilt only when SQLite
 * reprepares the statement with different columns (a schema change under
 * `SELECT *`).  One malloc block: this struct, names[count], is_boolean[count],
 * then the name strings.  Replaced blocks are kept on `older` until finalize,
 * because column_name's pointers must stay valid while the statement lives. */
typedef struct stmt_columns {
    int count;
    const char **names;
    unsigned char *is_boolean; /* declared BOOLEAN/BOOL: integers read as booleans */
    struct stmt_columns *older;
} stmt_columns;

/* Where an execution stands.  The first sqlite3_step happens in execute, so a
 * row it produced is PENDING until the first fetch hands it out. */
typedef enum stmt_state {
    STMT_IDLE = 0, /* reset: parameters may be bound */
    STMT_PENDING,  /* execute stepped onto the first row; fetch has not returned it */
    STMT_ROW,      /* on a row that fetch returned */
    STMT_DONE      /* ran to completion (SQLITE_DONE); needs a reset before binding */
} stmt_state;

struct ag_driver_stmt {
    sqlite3_stmt *stmt;
    sqlite3 *db;
    stmt_columns *columns;
    stmt_state state;
    int nparams;
    int reprepares; /* SQLITE_STMTSTATUS_REPREPARE when columns were built */
    int in_memory;
    unsigned char is_dml;    /* INSERT/UPDATE/DELETE/REPLACE (or WITH ... one of them) */
    unsigned char is_insert; /* INSERT/REPLACE: last_insert_id applies */
    unsigned char has_last_id;
    int64_t last_id;
    int64_t rows_affected;
};

/* ------------------------------------------------------------------ errors */

/* The kind for an extended result code, following driver.h's table. */
static ag_error_kind error_kind(int code) {
    switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
        /* A STRICT table refusing a value's type is "bad value for a type",
         * which driver.h (and PostgreSQL's 22P02) call a DataError. */
        return code == SQLITE_CONSTRAINT_DATATYPE ? AG_ERR_DATA : AG_ERR_INTEGRITY;
    case SQLITE_ERROR: return AG_ERR_PROGRAMMING; /* syntax, no such table/column, ... */
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE: return AG_ERR_DATA;
    case SQLITE_MISUSE: return AG_ERR_INTERFACE;
    case SQLITE_NOMEM: return AG_ERR_MEMORY;
    default: return AG_ERR_OPERATIONAL; /* BUSY, LOCKED, IOERR, CANTOPEN, FULL, READONLY, ... */
    }
}

/* Fills err from result code `code` and the connection's message (plus
 * `suffix` when not NULL).  A file database whose file broke or vanished is
 * marked for disconnect, since reopening is the only cure.  Returns -1. */
static int set_error(ag_error *err, sqlite3 *db, int code, int in_memory, const char *suffix) {
    if (!err) return -1;
    char num[16];
    snprintf(num, sizeof num, "%d", code);
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    if (suffix) ag_error_set(err, error_kind(code), num, "%s: %s", msg, suffix);
    else ag_error_set(err, error_kind(code), num, "%s", msg);
    size_t n = strlen(err->message);
    while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == '\r')) err->message[--n] = '\0';
    int primary = code & 0xff;
    if (!in_memory && (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_IOERR ||
                       code == SQLITE_READONLY_DBMOVED))
        err->disconnect = 1;
    return -1;
}

/* ---------------------------------------------------------------- SQL text */

/* Skips whitespace and comments from p (not past end). */
static const char *skip_blank(const char *p, const char *end) {
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
            p++;
        } else if (*p == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            /* SQLite ends an unterminated block comment at the end of the text. */
            p += 2;
            while (p < end && !(*p == '*' && p + 1 < end && p[1] == '/')) p++;
            p = p < end ? p + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

/* Skips whitespace, comments and semicolons (empty statements). */
static const char *skip_separators(const char *p, const char *end) {
    for (;;) {
        p = skip_blank(p, end);
        if (p == end || *p != ';') return p;
        p++;
    }
}

/* Does the statement start with keyword kw (case-insensitive, whole word)? */
static int starts_with_keyword(const char *sql, const char *end, const char *kw) {
    const char *p = skip_blank(sql, end);
    size_t n = strlen(kw);
    if ((size_t)(end - p) < n || sqlite3_strnicmp(p, kw, (int)n) != 0) return 0;
    if (p + n == end) return 1;
    char c = p[n]; /* "INSERTED" is not "INSERT" */
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
}

/* ---------------------------------------------------------------- columns */

/* Builds the metadata block for s's current columns; NULL when memory runs
 * out (sqlite3_column_name returns NULL only then). */
static stmt_columns *columns_build(sqlite3_stmt *s) {
    int count = sqlite3_column_count(s);
    size_t text = 0;
    for (int i = 0; i < count; i++) {
        const char *name = sqlite3_column_name(s, i);
        if (!name) return NULL;
        text += strlen(name) + 1;
    }
    size_t size = sizeof(stmt_columns) + (size_t)count * (sizeof(char *) + 1) + text;
    stmt_columns *c = ag_malloc(size);
    if (!c) return NULL;
    c->count = count;
    c->names = (const char **)(c + 1);
    c->is_boolean = (unsigned char *)(c->names + count);
    c->older = NULL;
    char *out = (char *)(c->is_boolean + count);
    size_t room = text;
    for (int i = 0; i < count; i++) {
        /* Asked again (a name pointer lasts only until the next call for its
         * column); SQLite caches names, so it is the same text and the check
         * on `room` only guards against the impossible. */
        const char *name = sqlite3_column_name(s, i);
        size_t len = name ? strlen(name) : 0;
        if (len + 1 > room) {
            free(c);
            return NULL;
        }
        room -= len + 1;
        if (len) memcpy(out, name, len);
        out[len] = '\0';
        c->names[i] = out;
        out += len + 1;
        const char *decl = sqlite3_column_decltype(s, i);
        c->is_boolean[i] = decl && (sqlite3_stricmp(decl, "BOOLEAN") == 0 || sqlite3_stricmp(decl, "BOOL") == 0);
    }
    return c;
}

static int columns_equal(const stmt_columns *a, const stmt_columns *b) {
    if (a->count != b->count) return 0;
    for (int i = 0; i < a->count; i++)
        if (a->is_boolean[i] != b->is_boolean[i] || strcmp(a->names[i], b->names[i]) != 0) return 0;
    return 1;
}

/* Called after a step: if SQLite reprepared the statement (schema change),
 * its columns may differ; rebuild them.  0, or -1 when memory runs out. */
static int columns_refresh(ag_driver_stmt *st) {
    int reprepares = sqlite3_stmt_status(st->stmt, SQLITE_STMTSTATUS_REPREPARE, 0);
    if (reprepares == st->reprepares) return 0;
    stmt_columns *fresh = columns_build(st->stmt);
    if (!fresh) return -1;
    st->reprepares = reprepares;
    if (columns_equal(fresh, st->columns)) {
        free(fresh);
    } else {
        fresh->older = st->columns;
        st->columns = fresh;
    }
    return 0;
}

/* ------------------------------------------------------------- connection */

typedef struct sqlite_options {
    int busy_timeout_ms;
    const char *journal_mode; /* canonical spelling from the tables below, or NULL */
    const char *mode;         /* "ro", "rw" or "rwc" */
    const char *synchronous;
    int foreign_keys;
    int read_uncommitted;
} sqlite_options;

static const char *const journal_modes[] = {"DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF", NULL};
static const char *const open_modes[] = {"ro", "rw", "rwc", NULL};
static const char *const synchronous_modes[] = {"OFF", "NORMAL", "FULL", "EXTRA", "0", "1", "2", "3", NULL};

/* The table's spelling of value (case-insensitive), or NULL.  Only these
 * spellings are pasted into PRAGMA text, never the user's own. */
static const char *lookup(const char *const *table, const char *value) {
    for (; *table; table++)
        if (sqlite3_stricmp(*table, value) == 0) return *table;
    return NULL;
}

/* 1 / 0 for a boolean word, -1 for anything else. */
static int parse_bool(const char *v) {
    static const char *const yes[] = {"1", "on", "true", "yes", NULL};
    static const char *const no[] = {"0", "off", "false", "no", NULL};
    if (lookup(yes, v)) return 1;
    if (lookup(no, v)) return 0;
    return -1;
}

/* Reads connect args and isolation level into o.  0 or -1 (AG_ERR_ARGUMENT). */
static int parse_options(const ag_connect_params *params, sqlite_options *o, ag_error *err) {
    o->busy_timeout_ms = 5000;
    o->journal_mode = NULL;
    o->mode = "rwc";
    o->synchronous = NULL;
    o->foreign_keys = 1;
    o->read_uncommitted = 0;
    /* Later args win: connect_args come first, then the URL's query. */
    for (size_t i = 0; i < params->nargs; i++) {
        const char *key = params->args[i].key ? params->args[i].key : "";
        const char *value = params->args[i].value ? params->args[i].value : "";
        if (strcmp(key, "busy_timeout") == 0) {
            char *end;
            long ms = strtol(value, &end, 10);
            if (end == value || *end != '\0' || ms < 0 || ms > INT_MAX)
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg busy_timeout must be a number of "
                                    "milliseconds, got '%s'",
                                    value);
            o->busy_timeout_ms = (int)ms;
        } else if (strcmp(key, "journal_mode") == 0) {
            if (!(o->journal_mode = lookup(journal_modes, value)))
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg journal_mode: unknown mode '%s' (DELETE, "
                                    "TRUNCATE, PERSIST, MEMORY, WAL or OFF)",
                                    value);
        } else if (strcmp(key, "mode") == 0) {
            if (!(o->mode = lookup(open_modes, value)))
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg mode: unknown mode '%s' (ro, rw or rwc)", value);
        } else if (strcmp(key, "synchronous") == 0) {
            if (!(o->synchronous = lookup(synchronous_modes, value)))
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg synchronous: unknown value '%s' (OFF, "
                                    "NORMAL, FULL or EXTRA)",
                                    value);
        } else if (strcmp(key, "foreign_keys") == 0) {
            if ((o->foreign_keys = parse_bool(value)) < 0)
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg foreign_keys must be on or off, got '%s'", value);
        } else if (strcmp(key, "check_same_thread") == 0) {
            if (parse_bool(value) < 0)
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "sqlite connect arg check_same_thread must be true or false, got '%s'", value);
        } else {
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "unknown sqlite connect arg '%s' (known: busy_timeout, "
                                "journal_mode, mode, synchronous, foreign_keys, "
                                "check_same_thread)",
                                key);
        }
    }
    /* SQLite is always serializable between connections; READ UNCOMMITTED only
     * matters for shared-cache connections.  The other levels are accepted and
     * ignored, so that one engine configuration works on every dialect. */
    const char *level = params->isolation_level;
    if (level) {
        static const char *const levels[] = {"SERIALIZABLE", "READ COMMITTED", "REPEATABLE READ", "AUTOCOMMIT", NULL};
        if (sqlite3_stricmp(level, "READ UNCOMMITTED") == 0) o->read_uncommitted = 1;
        else if (!lookup(levels, level))
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "unknown isolation level '%s'", level);
    }
    return 0;
}

/* Is there no database at path yet (no file, or an empty one, which SQLite
 * reads as an empty database)?  Only such a database gets argent's default
 * journal mode: an existing one keeps its own. */
static int is_new_database(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT;
    return S_ISREG(st.st_mode) && st.st_size == 0;
}

/* PRAGMA journal_mode=mode (a spelling from journal_modes).  Switching needs
 * an exclusive lock, and SQLite does not call the busy handler for it while
 * another connection holds a write lock (it would deadlock a connection that
 * also holds a read lock); so this retries every 10 ms until the busy
 * timeout has passed, as any other statement would wait. */
static int set_journal_mode(sqlite3 *db, const char *mode, int timeout_ms) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s", mode);
    int waited = 0;
    for (;;) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || waited >= timeout_ms) return rc;
        int step = timeout_ms - waited < 10 ? timeout_ms - waited : 10;
        sqlite3_sleep(step);
        waited += step;
    }
}

static int sqlite_connect(const ag_connect_params *params, ag_driver_conn **out, ag_error *err) {
    *out = NULL;
    const char *path = params->url && params->url->database ? params->url->database : ":memory:";
    /* "" is a private temporary database: no WAL either. */
    int in_memory = strcmp(path, ":memory:") == 0 || path[0] == '\0';
    sqlite_options o;
    if (parse_options(params, &o, err)) return -1;
    int read_only = strcmp(o.mode, "ro") == 0;
    const char *journal_mode = o.journal_mode;
    if (!journal_mode && !in_memory && !read_only && strcmp(o.mode, "rwc") == 0 && is_new_database(path))
        journal_mode = "WAL";

    /* Debian's SQLite is built with SQLITE_USE_URI, which reads any name
     * starting with "file:" as a URI; "./" keeps such a name a plain path. */
    char *prefixed = NULL;
    if (strncmp(path, "file:", 5) == 0) {
        size_t n = strlen(path);
        if (!(prefixed = ag_malloc(n + 3))) return ag_error_nomem(err);
        memcpy(prefixed, "./", 2);
        memcpy(prefixed + 2, path, n + 1);
    }

    int flags = SQLITE_OPEN_NOMUTEX;
    if (read_only) flags |= SQLITE_OPEN_READONLY;
    else if (strcmp(o.mode, "rw") == 0) flags |= SQLITE_OPEN_READWRITE;
    else flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
#ifdef SQLITE_OPEN_EXRESCODE
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(prefixed ? prefixed : path, &db, flags, NULL);
    free(prefixed);
    if (rc != SQLITE_OK) {
        if (!db) return ag_error_nomem(err);
        set_error(err, db, sqlite3_extended_errcode(db), 1, path);
        sqlite3_close_v2(db);
        return -1;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, o.busy_timeout_ms);

    /* Nothing here takes a lock on the database unless a journal mode is to
     * be set: opening never fails because another process is writing. */
    char sql[96];
    const char *pragmas[4];
    int npragmas = 0;
    if (o.foreign_keys) pragmas[npragmas++] = "PRAGMA foreign_keys=ON";
    if (o.read_uncommitted) pragmas[npragmas++] = "PRAGMA read_uncommitted=1";
    for (int i = 0; i < npragmas; i++) {
        if ((rc = sqlite3_exec(db, pragmas[i], NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    }
    /* Reading the header tells a file that is not a database (SQLITE_NOTADB)
     * now rather than at the first statement; it takes a read lock, waiting
     * busy_timeout for a writer that is committing. */
    if (!in_memory && (rc = sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    /* The pragmas' values come from the tables above, never from user text. */
    if (journal_mode && (rc = set_journal_mode(db, journal_mode, o.busy_timeout_ms)) != SQLITE_OK) goto fail;
    if (o.synchronous) {
        snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", o.synchronous);
        if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    }

    ag_driver_conn *conn = ag_malloc(sizeof *conn);
    if (!conn) {
        sqlite3_close_v2(db);
        return ag_error_nomem(err);
    }
    conn->db = db;
    conn->in_memory = in_memory;
    *out = conn;
    return 0;

fail:
    /* e.g. SQLITE_NOTADB when the file is not a database, BUSY switching to WAL */
    set_error(err, db, rc, 1, path);
    sqlite3_close_v2(db);
    return -1;
}

static void sqlite_close(ag_driver_conn *conn) {
    if (!conn) return;
    sqlite3_close_v2(conn->db); /* a zombie until stray statements are finalized */
    free(conn);
}

/* sqlite3_interrupt only sets a flag that the running statement checks (an
 * atomic store): safe from another thread while the handle stays open.  A
 * statement it stops fails with SQLITE_INTERRUPT (an OperationalError); one
 * inside an explicit transaction that was writing rolls that back. */
static int sqlite_cancel(ag_driver_conn *conn, ag_error *err) {
    (void)err;
    sqlite3_interrupt(conn->db);
    return 0;
}

/* SQLite has no connection to lose: an open handle is alive. */
static int sqlite_ping(ag_driver_conn *conn, ag_error *err) {
    if (!conn || !conn->db) {
        ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "sqlite connection is closed");
        if (err) err->disconnect = 1;
        return -1;
    }
    return 0;
}

static int sqlite_exec_simple(ag_driver_conn *conn, const char *sql, ag_error *err) {
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : set_error(err, conn->db, rc, conn->in_memory, NULL);
}

static ag_tx_status sqlite_transaction_status(ag_driver_conn *conn) {
    if (!conn || !conn->db) return AG_TX_UNKNOWN;
    return sqlite3_get_autocommit(conn->db) ? AG_TX_IDLE : AG_TX_ACTIVE;
}

/* ------------------------------------------------------------- statements */

static int sqlite_prepare(ag_driver_conn *conn, const char *sql, size_t len, ag_driver_stmt **out, ag_error *err) {
    *out = NULL;
    if (len >= INT_MAX) return ag_error_set(err, AG_ERR_DATA, NULL, "SQL text too long (%zu bytes)", len);
    /* Leading empty statements would make SQLite prepare nothing. */
    const char *end = sql + len;
    const char *start = skip_separators(sql, end);
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    /* The length counts the terminating NUL, which spares SQLite a copy of the text. */
    int rc = sqlite3_prepare_v3(conn->db, start, (int)(end - start) + 1, SQLITE_PREPARE_PERSISTENT, &s, &tail);
    if (rc != SQLITE_OK) return set_error(err, conn->db, rc, conn->in_memory, NULL);
    if (!s) return ag_error_set(err, AG_ERR_PROGRAMMING, NULL, "empty SQL statement");
    if (tail && tail < end && skip_separators(tail, end) != end) {
        sqlite3_finalize(s);
        if (*tail == '\0') return ag_error_set(err, AG_ERR_PROGRAMMING, NULL, "SQL text contains a NUL byte");
        return ag_error_set(err, AG_ERR_PROGRAMMING, NULL,
                            "only one statement at a time can be executed; use exec_driver_sql "
                            "without parameters for scripts");
    }

    ag_driver_stmt *st = ag_calloc(1, sizeof *st);
    stmt_columns *columns = st ? columns_build(s) : NULL;
    if (!columns) {
        free(st);
        sqlite3_finalize(s);
        return ag_error_nomem(err);
    }
    st->stmt = s;
    st->db = conn->db;
    st->columns = columns;
    st->state = STMT_IDLE;
    st->nparams = sqlite3_bind_parameter_count(s);
    st->reprepares = sqlite3_stmt_status(s, SQLITE_STMTSTATUS_REPREPARE, 0);
    st->in_memory = conn->in_memory;
    if (!sqlite3_stmt_readonly(s)) {
        /* A writing WITH is a WITH ... INSERT/UPDATE/DELETE (a WITH ... SELECT
         * is read-only), so it counts changes too. */
        st->is_insert = starts_with_keyword(start, end, "INSERT") || starts_with_keyword(start, end, "REPLACE");
        st->is_dml = st->is_insert || starts_with_keyword(start, end, "UPDATE") ||
                     starts_with_keyword(start, end, "DELETE") || starts_with_keyword(start, end, "WITH");
    }
    st->rows_affected = -1;
    *out = st;
    return 0;
}

static void columns_free(stmt_columns *c) {
    while (c) {
        stmt_columns *older = c->older;
        free(c);
        c = older;
    }
}

static void sqlite_finalize(ag_driver_stmt *st) {
    if (!st) return;
    sqlite3_finalize(st->stmt);
    columns_free(st->columns);
    free(st);
}

static int sqlite_param_count(ag_driver_stmt *st) { return st->nparams; }

/* Makes the statement bindable again; sqlite3_reset's return value repeats
 * the last step's error, which was already reported. */
static inline void stmt_rewind(ag_driver_stmt *st) {
    if (st->state != STMT_IDLE) {
        sqlite3_reset(st->stmt);
        st->state = STMT_IDLE;
    }
}

/* Reports a failed step and rewinds the statement.  Returns -1. */
static int step_failed(ag_driver_stmt *st, int rc, ag_error *err) {
    set_error(err, st->db, rc, st->in_memory, NULL);
    sqlite3_reset(st->stmt);
    st->state = STMT_IDLE;
    return -1;
}

/* Binds params[0..n-1].  Text and blobs are bound with `lifetime`:
 * SQLITE_STATIC when the caller's memory outlives every step that reads it,
 * SQLITE_TRANSIENT (SQLite copies) otherwise.  Every parameter is rebound on
 * each execution, so no sqlite3_clear_bindings is needed: stale STATIC
 * pointers left from an earlier execution are never read. */
static int bind_values(ag_driver_stmt *st, const ag_value *params, int n, sqlite3_destructor_type lifetime,
                       ag_error *err) {
    sqlite3_stmt *s = st->stmt;
    for (int i = 0; i < n; i++) {
        const ag_value *v = &params[i];
        int rc;
        switch (v->type) {
        case AG_VALUE_NULL: rc = sqlite3_bind_null(s, i + 1); break;
        case AG_VALUE_INTEGER: rc = sqlite3_bind_int64(s, i + 1, v->u.integer); break;
        case AG_VALUE_FLOAT: rc = sqlite3_bind_double(s, i + 1, v->u.number); break;
        case AG_VALUE_BOOLEAN: rc = sqlite3_bind_int(s, i + 1, v->u.boolean != 0); break;
        case AG_VALUE_TEXT:
            /* A NULL data pointer would bind SQL NULL: empty text must stay text. */
            if (!v->u.bytes.data && v->u.bytes.len)
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "parameter %d: text without data", i + 1);
            rc = sqlite3_bind_text64(s, i + 1, v->u.bytes.data ? v->u.bytes.data : "", v->u.bytes.len, lifetime,
                                     SQLITE_UTF8);
            break;
        case AG_VALUE_BLOB:
            if (v->u.bytes.len == 0) {
                rc = sqlite3_bind_zeroblob(s, i + 1, 0); /* an empty blob, not NULL */
            } else {
                if (!v->u.bytes.data)
                    return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "parameter %d: blob without data", i + 1);
                rc = sqlite3_bind_blob64(s, i + 1, v->u.bytes.data, v->u.bytes.len, lifetime);
            }
            break;
        default:
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "parameter %d: unknown value type %d", i + 1, (int)v->type);
        }
        if (rc != SQLITE_OK) {
            char where[32];
            snprintf(where, sizeof where, "parameter %d", i + 1);
            return set_error(err, st->db, rc, st->in_memory, where);
        }
    }
    return 0;
}

static int check_param_count(const ag_driver_stmt *st, int nparams, ag_error *err) {
    if (nparams == st->nparams) return 0;
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement takes %d parameters, %d given", st->nparams, nparams);
}

static int sqlite_execute(ag_driver_stmt *st, const ag_value *params, int nparams, ag_error *err) {
    stmt_rewind(st);
    st->rows_affected = -1;
    st->has_last_id = 0;
    if (check_param_count(st, nparams, err)) return -1;
    /* A statement without result columns finishes inside this call, so the
     * caller's text is read only while execute runs and may be bound in
     * place.  A query reads its parameters again at every later step (fetch),
     * after the caller may have let go of them: SQLite copies those. */
    sqlite3_destructor_type lifetime = st->columns->count ? SQLITE_TRANSIENT : SQLITE_STATIC;
    if (bind_values(st, params, nparams, lifetime, err)) return -1;

    /* An INSERT that inserts nothing (OR IGNORE, an upsert that updated,
     * INSERT ... SELECT of no rows) leaves last_insert_rowid unchanged; a
     * sentinel tells that case apart, and the old value is put back so that
     * SQL's last_insert_rowid() sees what it would have without us. */
    sqlite3_int64 saved_rowid = 0;
    if (st->is_insert) {
        saved_rowid = sqlite3_last_insert_rowid(st->db);
        sqlite3_set_last_insert_rowid(st->db, INT64_MIN);
    }
    int rc = sqlite3_step(st->stmt);
    if (st->is_insert) {
        /* RETURNING does all its inserts at the first step, so this is final. */
        sqlite3_int64 rowid = sqlite3_last_insert_rowid(st->db);
        if (rowid == INT64_MIN) {
            sqlite3_set_last_insert_rowid(st->db, saved_rowid);
        } else {
            st->last_id = rowid;
            st->has_last_id = rc == SQLITE_ROW || rc == SQLITE_DONE;
        }
    }
    if (rc == SQLITE_ROW) {
        st->state = STMT_PENDING;
    } else if (rc == SQLITE_DONE) {
        st->state = STMT_DONE;
        if (st->is_dml) st->rows_affected = sqlite3_changes64(st->db);
    } else {
        st->has_last_id = 0;
        return step_failed(st, rc, err);
    }
    if (columns_refresh(st)) {
        stmt_rewind(st);
        return ag_error_nomem(err);
    }
    return 0;
}

static int sqlite_fetch(ag_driver_stmt *st, ag_error *err) {
    if (st->state == STMT_PENDING) {
        st->state = STMT_ROW;
        return 1;
    }
    if (st->state != STMT_ROW) return 0; /* finished, or never executed */
    int rc = sqlite3_step(st->stmt);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) {
        st->state = STMT_DONE;
        /* DML with RETURNING: the count is known once the last row is read. */
        if (st->is_dml) st->rows_affected = sqlite3_changes64(st->db);
        return 0;
    }
    return step_failed(st, rc, err);
}

static int sqlite_column_count(ag_driver_stmt *st) { return st->columns->count; }

static const char *sqlite_column_name(ag_driver_stmt *st, int col) {
    if (col < 0 || col >= st->columns->count) return NULL;
    return st->columns->names[col];
}

/* Reads the column through sqlite3_column_value and the sqlite3_value_*
 * accessors: the same work as sqlite3_column_type + sqlite3_column_int64 etc.,
 * with one column lookup per value instead of two.  SQLite calls such a value
 * "unprotected": safe only while no other thread uses the connection, which is
 * exactly driver.h's one-thread-at-a-time rule. */
static void sqlite_column_value(ag_driver_stmt *st, int col, ag_value *out) {
    if (col < 0 || col >= st->columns->count) {
        out->type = AG_VALUE_NULL;
        return;
    }
    sqlite3_value *v = sqlite3_column_value(st->stmt, col);
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        if (st->columns->is_boolean[col]) {
            out->type = AG_VALUE_BOOLEAN;
            out->u.boolean = sqlite3_value_int64(v) != 0;
        } else {
            out->type = AG_VALUE_INTEGER;
            out->u.integer = sqlite3_value_int64(v);
        }
        break;
    case SQLITE_FLOAT:
        out->type = AG_VALUE_FLOAT;
        out->u.number = sqlite3_value_double(v);
        break;
    case SQLITE_TEXT: {
        /* Text first, then its length (SQLite's documented order); the length
         * keeps embedded zeros.  NULL here means SQLite ran out of memory
         * making the text; with no way to report it, it reads as empty. */
        const unsigned char *text = sqlite3_value_text(v);
        out->type = AG_VALUE_TEXT;
        out->u.bytes.len = text ? (size_t)sqlite3_value_bytes(v) : 0;
        out->u.bytes.data = text ? (const char *)text : "";
        break;
    }
    case SQLITE_BLOB: {
        const void *blob = sqlite3_value_blob(v);
        size_t len = blob ? (size_t)sqlite3_value_bytes(v) : 0;
        out->type = AG_VALUE_BLOB;
        out->u.bytes.data = len ? (const char *)blob : ""; /* an empty blob: "" and 0, never NULL */
        out->u.bytes.len = len;
        break;
    }
    default: out->type = AG_VALUE_NULL; break;
    }
}

static int64_t sqlite_rows_affected(ag_driver_stmt *st) { return st->rows_affected; }

static int sqlite_last_insert_id(ag_driver_stmt *st, int64_t *out) {
    if (!st->has_last_id) return -1;
    *out = st->last_id;
    return 0;
}

static void sqlite_reset(ag_driver_stmt *st) { stmt_rewind(st); }

/* bind/step/reset per row, with the row source's values bound in place: the
 * row is stepped to completion before the source is asked for the next one.
 * last_insert_id is unknown afterwards (it would describe only the last row). */
static int sqlite_execute_many(ag_driver_stmt *st, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                               ag_error *err) {
    stmt_rewind(st);
    st->rows_affected = -1;
    st->has_last_id = 0;
    if (rows_affected) *rows_affected = st->is_dml ? 0 : -1;
    if (check_param_count(st, nparams, err)) return -1;

    ag_value small[32];
    ag_value *values = small;
    if (nparams > (int)(sizeof small / sizeof small[0])) {
        if (!(values = ag_malloc((size_t)nparams * sizeof *values))) return ag_error_nomem(err);
    }
    int64_t total = 0;
    int result = 0;
    for (;;) {
        int got = next(ctx, values, nparams, err);
        if (got <= 0) {
            result = got; /* 0: no more rows; -1: the source set err */
            break;
        }
        if (bind_values(st, values, nparams, SQLITE_STATIC, err)) {
            result = -1;
            break;
        }
        int rc;
        while ((rc = sqlite3_step(st->stmt)) == SQLITE_ROW) continue; /* rows not wanted */
        if (rc != SQLITE_DONE) {
            result = step_failed(st, rc, err);
            break;
        }
        if (st->is_dml) total += sqlite3_changes64(st->db);
        sqlite3_reset(st->stmt);
    }
    if (values != small) free(values);
    if (st->is_dml) {
        st->rows_affected = total;
        if (rows_affected) *rows_affected = total;
    }
    return result;
}

const ag_driver ag_driver_sqlite = {
    .name = "sqlite",
    .dialect = AG_DIALECT_SQLITE,
    .connect = sqlite_connect,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .exec_simple = sqlite_exec_simple,
    .transaction_status = sqlite_transaction_status,
    .prepare = sqlite_prepare,
    .finalize = sqlite_finalize,
    .param_count = sqlite_param_count,
    .execute = sqlite_execute,
    .fetch = sqlite_fetch,
    .column_count = sqlite_column_count,
    .column_name = sqlite_column_name,
    .column_value = sqlite_column_value,
    .rows_affected = sqlite_rows_affected,
    .last_insert_id = sqlite_last_insert_id,
    .reset = sqlite_reset,
    .execute_many = sqlite_execute_many,
    .cancel = sqlite_cancel,
};
