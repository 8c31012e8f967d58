/*
 * mariadb.c -- the MariaDB driver (MariaDB Connector/C 3.x): ag_driver_mariadb.
 *
 * This is the only file that includes mysql.h.  It implements driver.h's
 * contract on server-side prepared statements (mysql_stmt_*, the binary
 * protocol); the decisions that are not obvious:
 *
 * Streaming and wire ownership.  execute runs mysql_stmt_execute and leaves
 * the rows on the wire: fetch reads them one at a time (no
 * mysql_stmt_store_result, STMT_ATTR_UPDATE_MAX_LENGTH off), so a result of
 * any size takes constant memory.  The protocol carries one unbuffered result
 * per connection, so the statement being read "owns the wire" (conn->owner).
 * Anything else that needs the connection (another execute, prepare,
 * exec_simple, ping, execute_many, finalize) first calls
 * mysql_stmt_store_result on the owner: the unread rest of its rows moves
 * into the connector's memory and its later fetches read from there, so its
 * reader goes on seeing every row.  reset uses mysql_stmt_free_result, which
 * reads and drops unread rows without the round trip of mysql_stmt_reset.
 * The connector decides what to flush from the connection's state, not the
 * statement's: freeing a buffered result while another statement streams
 * would swallow that statement's rows.  So the driver frees a result only
 * while the wire is its own or idle, and otherwise later (free_result).
 *
 * Result buffers are bound once per execution shape (rebound only when the
 * server's column types change, as `SELECT ?` does with the parameter's
 * type): integers into an int64 (unsigned ones above INT64_MAX come back as
 * exact TEXT), DOUBLE into a double, FLOAT into a float read back through its
 * shortest decimal text (so 0.1 stays 0.1), DATE/DATETIME/TIMESTAMP/TIME
 * into a MYSQL_TIME that this file prints as ISO-8601 text (fraction only
 * when non-zero, trailing zeros trimmed, as PostgreSQL prints it), BIT as an
 * integer, and everything else (strings, DECIMAL, JSON, ENUM) into a growable
 * buffer per column; a computed DECIMAL without fraction (SUM, or an
 * integer expression MariaDB widened) is an INTEGER when it fits in 64 bits,
 * as PostgreSQL's sum(int) is.  A string longer than its buffer makes fetch return
 * MYSQL_DATA_TRUNCATED; the buffer then grows to the value's length, the rest
 * comes from mysql_stmt_fetch_column, and the column is rebound, so the next
 * rows of similar size need nothing extra.  A string column is BLOB when its
 * character set is binary (63), else TEXT.  TINYINT(1) (MYSQL_TYPE_TINY of
 * display length 1, what BOOLEAN means on MariaDB) is read as a boolean.
 *
 * Parameters: INTEGER as LONGLONG, FLOAT as DOUBLE, BOOLEAN as LONGLONG 0/1
 * (MariaDB's BOOLEAN is TINYINT), TEXT as STRING, BLOB as BLOB (binary
 * charset), NULL as NULL.
 *
 * execute_many uses array binding (STMT_ATTR_ARRAY_SIZE, column-wise arrays
 * with an indicator array for NULLs: one COM_STMT_BULK_EXECUTE round trip per
 * batch) for statements that return no rows, when the server supports it.
 * A batch holds up to MY_BULK_BATCH = 1023 rows whose values have the same
 * type per column (NULL fits any); a row that changes a column's type closes
 * the batch.  1023 = 2^10 - 1 because InnoDB reserves AUTO_INCREMENT values
 * for an array INSERT in doubling chunks (1, 2, 4, ...), and 1023 rows use
 * their reservation exactly (see /work/shared/bench/peers/README.md): ids of
 * one batch have no gaps.  Statements that return rows, or a server without
 * bulk support, run one execute per row.  The batches overlap with the
 * client's work: a batch is sent through the non-blocking API
 * (mysql_stmt_execute_start, set up on the connection's first
 * execute_many), and while the server runs it the next batch's rows are
 * fetched from the row source and converted (two sets of arrays); its reply
 * is read (mysql_stmt_execute_cont) before the next batch is sent, so there
 * is still one command at a time on the wire and the first error stops the
 * run.  On the peers' W1 this hid the row source's time (~10% of the run).
 *
 * Connections: utf8mb4 (MYSQL_SET_CHARSET_NAME), CLIENT_FOUND_ROWS (rows
 * affected counts matched rows, as on SQLite and PostgreSQL),
 * CLIENT_MULTI_STATEMENTS (exec_simple may hold several statements), and an
 * init command that adds STRICT_ALL_TABLES to the session's sql_mode (a value
 * too long or out of range is an error, not a silent truncation, on every
 * engine) and sets the isolation level when asked.  ANSI_QUOTES is not set:
 * MariaDB quotes identifiers with backticks.  Connect args (strings; any other
 * key is an AG_ERR_ARGUMENT naming it):
 *   charset          utf8mb4 (default) or utf8mb3 (utf8 accepted as utf8mb3)
 *   connect_timeout  seconds (integer)
 *   read_timeout     seconds (integer)
 *   write_timeout    seconds (integer)
 *   unix_socket      path of the server's socket (host is then ignored)
 *   ssl_mode         DISABLED (default), REQUIRED (TLS or fail: checked after
 *                    the handshake, since the connector alone would fall back
 *                    to plain text), VERIFY_IDENTITY (TLS, certificate and
 *                    host name checked)
 *   ssl_ca           path of the CA certificate file for TLS
 * A URL without host connects to localhost through the default socket.
 *
 * Errors map from the server's error number first (the table in
 * kind_for_errno), then from the SQLSTATE class as on PostgreSQL.  err->code
 * is the SQLSTATE (five characters; many MariaDB errors share HY000, so the
 * message ends with the error number in brackets: "... [1062]").  Lost
 * connection errors (2006, 2013, 2055, 1927 killed, 4031 timed out) set
 * disconnect.  Messages that quote a value ("Duplicate entry 'x' for key",
 * "Incorrect integer value: 'x' for column") have the value cut out.
 *
 * rows_affected is mysql_stmt_affected_rows for INSERT, UPDATE, DELETE and
 * REPLACE and -1 for anything else; last_insert_id is mysql_stmt_insert_id
 * after an INSERT or REPLACE that generated one, and unknown otherwise.
 */
#include "base/alloc.h"
#include "driver/driver.h"
#include "driver/decode.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mysql.h>

#include "base/buf.h"

enum {
    MY_BULK_BATCH = 1023,    /* execute_many: rows per array execute (see above) */
    MY_BULK_BYTES = 4 << 20, /* ... and at most this much text per batch */
    MY_STRING_INITIAL = 256, /* first size of a string column's buffer */
    MY_STRING_KEEP = 1 << 20 /* a grown buffer above this is shrunk at reset */
};

/* How a result column is bound and read. */
typedef enum my_column_kind {
    CK_NULL,     /* MYSQL_TYPE_NULL: always NULL */
    CK_INTEGER,  /* signed integer types, YEAR */
    CK_UINTEGER, /* unsigned integer types */
    CK_BOOLEAN,  /* TINYINT(1) */
    CK_DOUBLE,
    CK_FLOAT,
    CK_DATE,     /* DATE (and NEWDATE) */
    CK_DATETIME, /* DATETIME, TIMESTAMP */
    CK_TIME,
    CK_BIT,
    CK_TEXT,  /* strings, DECIMAL, JSON, ENUM, SET */
    CK_WHOLE, /* a computed DECIMAL without fraction (SUM of integers) */
    CK_BLOB   /* strings of the binary character set, GEOMETRY */
} my_column_kind;

typedef struct my_column {
    unsigned char kind;
    my_bool is_null, error;
    unsigned long length;
    union {
        long long integer;
        double number;
        float single;
        MYSQL_TIME time;
    } u;
    char *data; /* string buffer: cap bytes */
    unsigned long cap;
    char text[48]; /* formatted dates, times and big unsigned integers */
} my_column;

typedef enum my_state {
    ST_IDLE,      /* not executing, or finished */
    ST_STREAMING, /* rows come from the wire; the statement is conn->owner */
    ST_BUFFERED   /* the rest of the rows were stored (mysql_stmt_store_result) */
} my_state;

struct ag_driver_conn {
    MYSQL *my;
    ag_driver_stmt *owner; /* statement whose rows are on the wire, or NULL */
    char *password;        /* masked out of every message; NULL if none */
    int bulk;              /* the server has COM_STMT_BULK_EXECUTE */
    int broken;            /* the link is gone */
    int async;             /* the non-blocking API is set up (execute_many's overlap) */
    int async_tried;
    /* An array execute whose reply is not read yet (execute_many): its
     * statement, the events it waits for (0 once complete) and its result. */
    MYSQL_STMT *pending;
    int pending_status, pending_ret;
    /* What my_cancel needs to reach the server on a second connection and
     * kill this one's query (copies: connect's parameters need not outlive
     * the connection). */
    unsigned long thread_id;
    char *kill_host, *kill_user, *kill_socket, *kill_ssl_ca;
    unsigned int kill_port, kill_timeout;
    int kill_ssl;
};

/* Column names, replaced as a whole block when the server reports a
 * different column count; older blocks stay until finalize because
 * column_name's pointers must live as long as the statement. */
typedef struct my_names {
    struct my_names *older;
    int count;
    char *names[]; /* then the strings */
} my_names;

struct ag_driver_stmt {
    ag_driver_conn *conn;
    MYSQL_STMT *st;
    int nparams, ncols;
    unsigned char is_dml, is_insert;
    my_names *names;

    MYSQL_BIND *pbind;    /* nparams parameter binds */
    long long *pints;     /* integer parameters */
    double *pdoubles;     /* float parameters */
    unsigned long *plens; /* text/blob lengths */
    ag_value *row;        /* execute_many's row */
    struct bulk *bulk;    /* execute_many's batches while it runs */

    MYSQL_BIND *rbind; /* ncols result binds */
    my_column *cols;
    int bound; /* rbind is bound for the current column kinds */

    my_state state;
    int has_row;
    int stale;        /* a finished result the connector has not freed yet */
    int has_deferred; /* storing the rest failed: the next fetch reports it */
    ag_error deferred;
    int64_t affected, insert_id;
};

/* ------------------------------------------------------------------ errors */

static ag_error_kind kind_for_sqlstate(const char *s) {
    if (!s || strlen(s) < 2) return AG_ERR_OPERATIONAL;
    char a = s[0], b = s[1];
    if (a == '0' && b == 'A') return AG_ERR_NOT_SUPPORTED;
    if (a == '2' && b == '2') return AG_ERR_DATA;
    if (a == '2' && b == '3') return AG_ERR_INTEGRITY;
    if (a == '4' && b == '2') return AG_ERR_PROGRAMMING;
    if (a == '3' && b == 'D') return AG_ERR_PROGRAMMING;
    return AG_ERR_OPERATIONAL;
}

/* The kind of a server or client error number; AG_OK when the SQLSTATE decides. */
static ag_error_kind kind_for_errno(unsigned int e) {
    switch (e) {
    case 1048: /* column cannot be null */
    case 1062: /* duplicate entry */
    case 1364: /* field has no default value: the NOT NULL of a missing column */
    case 1451: /* row is referenced (foreign key) */
    case 1452: /* no parent row (foreign key) */
    case 1216:
    case 1217:
    case 1557:
    case 1586: /* duplicate entry, on a ALTER */
    case 1761:
    case 1762:
    case 4025: /* CHECK constraint failed */ return AG_ERR_INTEGRITY;
    case 1054: /* unknown column */
    case 1064: /* syntax */
    case 1146: /* unknown table */
    case 1046: /* no database selected */
    case 1049: /* unknown database */
    case 1050: /* table exists */
    case 1051: /* unknown table (DROP) */
    case 1052: /* ambiguous column */
    case 1060: /* duplicate column name */
    case 1091: /* cannot drop: does not exist */
    case 1149: /* syntax */
    case 1210: /* incorrect arguments to EXECUTE */
    case 1305: /* unknown function or procedure */
    case 1007: /* database exists */
    case 1008: /* database does not exist (DROP) */ return AG_ERR_PROGRAMMING;
    case 1264: /* out of range */
    case 1265: /* data truncated */
    case 1292: /* incorrect date/time value */
    case 1366: /* incorrect value for column */
    case 1367:
    case 1406: /* data too long */
    case 1365: /* division by zero */
    case 1411: /* incorrect value for function */
    case 1690: /* value out of range in an expression */
    case 4078: /* illegal value for a JSON function */ return AG_ERR_DATA;
    case 1205: /* lock wait timeout */
    case 1213: /* deadlock */
    case 1040: /* too many connections */
    case 1044: /* access denied to a database */
    case 1045: /* access denied */
    case 1927: /* connection killed */
    case 4031: /* client inactive too long */
    case 2002: /* cannot connect through the socket */
    case 2003: /* cannot connect over TCP */
    case 2005: /* unknown host */
    case 2006: /* server has gone away */
    case 2013: /* lost connection during query */
    case 2055: /* lost connection, system error */
    case 2026: /* TLS error */ return AG_ERR_OPERATIONAL;
    case 1235: /* not supported yet */
    case 1295: /* not supported by the prepared statement protocol */
    case 1178: /* storage engine does not support it */ return AG_ERR_NOT_SUPPORTED;
    case 2008: return AG_ERR_MEMORY;
    default: break;
    }
    if (e >= 2000 && e < 3000) return AG_ERR_INTERFACE; /* the connector's own complaints */
    return AG_OK;
}

static int is_disconnect(unsigned int e) {
    return e == 2006 || e == 2013 || e == 2055 || e == 1927 || e == 4031 || e == 2014 || e == 2002 || e == 2003;
}

/* Cuts a quoted value out of a message: after `prefix`, the text up to the
 * last `upto` goes ("Duplicate entry 'a@b' for key 'email'" ->
 * "Duplicate entry for key 'email'").  Leaves other messages alone. */
static void cut_value(char *msg, const char *prefix, const char *upto) {
    char *p = strstr(msg, prefix);
    if (!p) return;
    p += strlen(prefix);
    char *q = NULL;
    for (char *t = strstr(p, upto); t; t = strstr(t + 1, upto)) q = t;
    if (!q) {
        *p = '\0'; /* a shape we do not know: drop the rest rather than show a value */
        return;
    }
    q += 2; /* past the closing quote and its space: prefix ends with one */
    memmove(p, q, strlen(q) + 1);
}

static void trim_message(ag_error *err) {
    size_t n = strlen(err->message);
    while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == '\r' || err->message[n - 1] == ' ' ||
                     err->message[n - 1] == '\t'))
        err->message[--n] = '\0';
}

/* Fills err from an error number, SQLSTATE and message. */
static int set_error(ag_driver_conn *c, ag_error *err, unsigned int e, const char *state, const char *msg) {
    ag_error_kind kind = kind_for_errno(e);
    if (kind == AG_OK) kind = kind_for_sqlstate(state);
    if (!msg || !*msg) msg = "MariaDB error";
    ag_error_set(err, kind, state && *state && strcmp(state, "00000") != 0 ? state : NULL, "%s [%u]", msg, e);
    /* The values a message may quote (driver.h: messages hold no parameter values). */
    cut_value(err->message, "Duplicate entry ", "' for key");
    cut_value(err->message, "value: ", "' for column");
    trim_message(err);
    if (is_disconnect(e)) {
        err->disconnect = 1;
        if (c) c->broken = 1;
    }
    if (c) ag_error_mask(err, c->password);
    return -1;
}

static int error_from_conn(ag_driver_conn *c, ag_error *err) {
    return set_error(c, err, mysql_errno(c->my), mysql_sqlstate(c->my), mysql_error(c->my));
}

static int error_from_stmt(ag_driver_stmt *s, ag_error *err) {
    unsigned int e = mysql_stmt_errno(s->st);
    if (e == 0) return error_from_conn(s->conn, err);
    return set_error(s->conn, err, e, mysql_stmt_sqlstate(s->st), mysql_stmt_error(s->st));
}

static int error_if_broken(ag_driver_conn *c, ag_error *err) {
    if (!c->broken) return 0;
    ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "%s", "MariaDB connection is closed");
    err->disconnect = 1;
    return -1;
}

/* --------------------------------------------------------- wire handling */

/* Reads the results that follow the current one (a CALL's final status)
 * and drops them.  0, or -1 with err. */
static int drain_more_results(ag_driver_stmt *s, ag_error *err) {
    while (mysql_stmt_more_results(s->st)) {
        int rc = mysql_stmt_next_result(s->st);
        if (rc > 0) return error_from_stmt(s, err);
        if (rc < 0) break;
        if (mysql_stmt_field_count(s->st) > 0) mysql_stmt_free_result(s->st);
    }
    return 0;
}

/* Waits until the array execute in flight (c->pending) has its reply, and
 * returns its result: 0, or non-zero with the error in its statement.
 * execute_many waits here before it sends the next batch; every other use
 * of the connection does too (through release_wire), should execute_many
 * ever have been left with a batch in flight. */
static int wait_pending(ag_driver_conn *c) {
    MYSQL_STMT *st = c->pending;
    if (!st) return 0;
    while (c->pending_status) {
        struct pollfd pfd = {mysql_get_socket(c->my), 0, 0};
        if (c->pending_status & MYSQL_WAIT_READ) pfd.events |= POLLIN;
        if (c->pending_status & MYSQL_WAIT_WRITE) pfd.events |= POLLOUT;
        if (c->pending_status & MYSQL_WAIT_EXCEPT) pfd.events |= POLLPRI;
        int timeout = (c->pending_status & MYSQL_WAIT_TIMEOUT) ? (int)mysql_get_timeout_value_ms(c->my) : -1;
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno == EINTR) continue;
        int ready = 0;
        if (n <= 0) {
            ready = MYSQL_WAIT_TIMEOUT; /* the connector then fails the execute */
        } else {
            if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) ready |= MYSQL_WAIT_READ;
            if (pfd.revents & (POLLOUT | POLLERR | POLLHUP)) ready |= MYSQL_WAIT_WRITE;
            if (pfd.revents & POLLPRI) ready |= MYSQL_WAIT_EXCEPT;
        }
        c->pending_status = mysql_stmt_execute_cont(&c->pending_ret, st, ready);
    }
    c->pending = NULL;
    return c->pending_ret;
}

/* The owner's unread rows go into memory so that the wire is free.  A
 * failure is kept for the owner's next fetch.
 * When the rows were all read already and only their end was on the wire,
 * the connector stores nothing but counts the rows read as stored: it
 * leaves the statement mid-result with no rows in memory, and its next
 * execute would wait on the wire for the rest, forever.  One fetch, served
 * from memory, takes such a statement to its end. */
static void release_wire(ag_driver_conn *c) {
    if (c->pending) wait_pending(c);
    ag_driver_stmt *s = c->owner;
    if (!s) return;
    c->owner = NULL;
    s->state = ST_BUFFERED;
    if (mysql_stmt_store_result(s->st) != 0) {
        if (!s->has_deferred) {
            error_from_stmt(s, &s->deferred);
            s->has_deferred = 1;
        }
        /* the same state, after an error that ended the rows (the wire is
         * idle again): COM_STMT_RESET takes the statement back to prepared */
        if (!c->broken) mysql_stmt_reset(s->st);
        return;
    }
    if (!s->st->result.data) mysql_stmt_fetch(s->st); /* MYSQL_NO_DATA, no round trip */
}

/* ------------------------------------------------------------ connection */

static const char *isolation_value(const char *level) {
    static const char *const names[][2] = {
        {"READ COMMITTED", "READ-COMMITTED"},
        {"REPEATABLE READ", "REPEATABLE-READ"},
        {"SERIALIZABLE", "SERIALIZABLE"},
        {"READ UNCOMMITTED", "READ-UNCOMMITTED"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(level, names[i][0]) == 0) return names[i][1];
    return NULL;
}

static int parse_seconds(const char *key, const char *v, unsigned int *out, ag_error *err) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > 86400 * 365)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "MariaDB connect arg %s must be a number of seconds, got '%s'",
                            key, v);
    *out = (unsigned int)n;
    return 0;
}

typedef struct my_options {
    const char *charset, *unix_socket, *ssl_ca;
    unsigned int connect_timeout, read_timeout, write_timeout;
    int has_connect_timeout, has_read_timeout, has_write_timeout;
    int ssl; /* 0 off, 1 required, 2 verify identity */
} my_options;

static int parse_options(const ag_connect_params *params, my_options *o, ag_error *err) {
    memset(o, 0, sizeof *o);
    o->charset = "utf8mb4";
    for (size_t i = 0; i < params->nargs; i++) {
        const char *k = params->args[i].key, *v = params->args[i].value;
        if (!v) v = "";
        if (strcmp(k, "charset") == 0) {
            if (strcasecmp(v, "utf8mb4") == 0) o->charset = "utf8mb4";
            else if (strcasecmp(v, "utf8mb3") == 0 || strcasecmp(v, "utf8") == 0) o->charset = "utf8mb3";
            else
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "MariaDB charset must be utf8mb4 or utf8mb3 (argent exchanges "
                                    "text as UTF-8), got '%s'",
                                    v);
        } else if (strcmp(k, "connect_timeout") == 0) {
            if (parse_seconds(k, v, &o->connect_timeout, err)) return -1;
            o->has_connect_timeout = 1;
        } else if (strcmp(k, "read_timeout") == 0) {
            if (parse_seconds(k, v, &o->read_timeout, err)) return -1;
            o->has_read_timeout = 1;
        } else if (strcmp(k, "write_timeout") == 0) {
            if (parse_seconds(k, v, &o->write_timeout, err)) return -1;
            o->has_write_timeout = 1;
        } else if (strcmp(k, "unix_socket") == 0) {
            o->unix_socket = v;
        } else if (strcmp(k, "ssl_ca") == 0) {
            o->ssl_ca = v;
        } else if (strcmp(k, "ssl_mode") == 0) {
            if (strcasecmp(v, "DISABLED") == 0) o->ssl = 0;
            else if (strcasecmp(v, "REQUIRED") == 0) o->ssl = 1;
            else if (strcasecmp(v, "VERIFY_IDENTITY") == 0) o->ssl = 2;
            else
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "MariaDB ssl_mode must be DISABLED, REQUIRED or "
                                    "VERIFY_IDENTITY, got '%s'",
                                    v);
        } else {
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "unknown MariaDB connection option '%s' (known: charset, "
                                "connect_timeout, read_timeout, write_timeout, unix_socket, "
                                "ssl_mode, ssl_ca)",
                                k);
        }
    }
    return 0;
}

static void my_close(ag_driver_conn *c);

/* Keeps what my_cancel needs: the server thread of c and copies of how to
 * reach the server.  0, or -1 when memory runs out. */
static int keep_kill_link(ag_driver_conn *c, const char *host, const char *user, unsigned int port,
                          const my_options *o) {
    c->thread_id = mysql_thread_id(c->my);
    c->kill_port = port;
    c->kill_timeout = o->has_connect_timeout && o->connect_timeout ? o->connect_timeout : 10;
    c->kill_ssl = o->ssl;
    if ((host && !(c->kill_host = strdup(host))) || (user && !(c->kill_user = strdup(user))) ||
        (o->unix_socket && !(c->kill_socket = strdup(o->unix_socket))) ||
        (o->ssl_ca && !(c->kill_ssl_ca = strdup(o->ssl_ca))))
        return -1;
    return 0;
}

static int my_connect(const ag_connect_params *params, ag_driver_conn **out, ag_error *err) {
    *out = NULL;
    const ag_url *url = params->url;
    const char *isolation = NULL;
    if (params->isolation_level && !(isolation = isolation_value(params->isolation_level)))
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "invalid isolation_level '%s'", params->isolation_level);
    my_options o;
    if (parse_options(params, &o, err) != 0) return -1;

    char init[256];
    snprintf(init, sizeof init,
             "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), "
             "'STRICT_ALL_TABLES')%s%s%s",
             isolation ? ", SESSION tx_isolation = '" : "", isolation ? isolation : "", isolation ? "'" : "");

    ag_driver_conn *c = ag_calloc(1, sizeof *c);
    if (!c || (url && url->password && !(c->password = ag_strdup(url->password)))) {
        free(c);
        return ag_error_nomem(err);
    }
    if (!(c->my = mysql_init(NULL))) {
        free(c->password);
        free(c);
        return ag_error_nomem(err);
    }
    my_bool yes = 1;
    mysql_optionsv(c->my, MYSQL_SET_CHARSET_NAME, o.charset);
    mysql_optionsv(c->my, MYSQL_INIT_COMMAND, init);
    mysql_optionsv(c->my, MYSQL_REPORT_DATA_TRUNCATION, &yes);
    if (o.has_connect_timeout) mysql_optionsv(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &o.connect_timeout);
    if (o.has_read_timeout) mysql_optionsv(c->my, MYSQL_OPT_READ_TIMEOUT, &o.read_timeout);
    if (o.has_write_timeout) mysql_optionsv(c->my, MYSQL_OPT_WRITE_TIMEOUT, &o.write_timeout);
    if (o.ssl_ca) mysql_optionsv(c->my, MYSQL_OPT_SSL_CA, o.ssl_ca);
    if (o.ssl >= 1) mysql_optionsv(c->my, MYSQL_OPT_SSL_ENFORCE, &yes);
    if (o.ssl >= 2) mysql_optionsv(c->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);

    const char *host = url && url->host ? url->host : "localhost";
    if (!mysql_real_connect(c->my, o.unix_socket ? "localhost" : host, url ? url->username : NULL,
                            url ? url->password : NULL, url ? url->database : NULL,
                            url && url->port ? (unsigned int)url->port : 0, o.unix_socket,
                            CLIENT_FOUND_ROWS | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS)) {
        error_from_conn(c, err);
        err->kind = AG_ERR_OPERATIONAL; /* whatever the cause, the connection was not made */
        err->disconnect = 0;
        mysql_close(c->my);
        free(c->password);
        free(c);
        return -1;
    }
    if (o.ssl && !mysql_get_ssl_cipher(c->my)) {
        /* Connector/C falls back to plain text when the server has no TLS
         * and certificates are not verified: ssl_mode promises more */
        ag_error_set(err, AG_ERR_OPERATIONAL, NULL,
                     "TLS is required (ssl_mode), but the MariaDB server does not support it");
        mysql_close(c->my);
        free(c->password);
        free(c);
        return -1;
    }
    unsigned long ext = 0;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext) == 0 &&
        (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)))
        c->bulk = 1;
    if (keep_kill_link(c, o.unix_socket ? "localhost" : host, url ? url->username : NULL,
                       url && url->port ? (unsigned int)url->port : 0, &o) != 0) {
        my_close(c);
        return ag_error_nomem(err);
    }
    *out = c;
    return 0;
}

static void my_close(ag_driver_conn *c) {
    if (!c) return;
    if (c->my && c->pending) wait_pending(c);
    if (c->my) mysql_close(c->my); /* the session's prepared statements go with it */
    free(c->password);
    free(c->kill_host);
    free(c->kill_user);
    free(c->kill_socket);
    free(c->kill_ssl_ca);
    free(c);
}

/* KILL QUERY from a second connection: the protocol has no other way to
 * interrupt a statement, and the owner's connection is busy (another thread
 * waits on it).  The killed statement fails with 1317 "Query execution was
 * interrupted" (an OperationalError) and its connection stays usable. */
static int my_cancel(ag_driver_conn *c, ag_error *err) {
    MYSQL *k = mysql_init(NULL);
    if (!k) return ag_error_nomem(err);
    my_bool yes = 1;
    mysql_optionsv(k, MYSQL_OPT_CONNECT_TIMEOUT, &c->kill_timeout);
    if (c->kill_ssl_ca) mysql_optionsv(k, MYSQL_OPT_SSL_CA, c->kill_ssl_ca);
    if (c->kill_ssl >= 1) mysql_optionsv(k, MYSQL_OPT_SSL_ENFORCE, &yes);
    if (c->kill_ssl >= 2) mysql_optionsv(k, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    char sql[48];
    snprintf(sql, sizeof sql, "KILL QUERY %lu", c->thread_id);
    int rc = 0;
    if (!mysql_real_connect(k, c->kill_host, c->kill_user, c->password, NULL, c->kill_port, c->kill_socket, 0) ||
        mysql_real_query(k, sql, (unsigned long)strlen(sql)) != 0) {
        /* not set_error(c, ...): a failure here says nothing about c's own link */
        set_error(NULL, err, mysql_errno(k), mysql_sqlstate(k), mysql_error(k));
        err->kind = AG_ERR_OPERATIONAL;
        err->disconnect = 0;
        ag_error_mask(err, c->password);
        rc = -1;
    }
    mysql_close(k);
    return rc;
}

static int my_ping(ag_driver_conn *c, ag_error *err) {
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    if (mysql_ping(c->my) != 0) {
        error_from_conn(c, err);
        err->kind = AG_ERR_OPERATIONAL;
        err->disconnect = 1;
        c->broken = 1;
        return -1;
    }
    return 0;
}

static int my_exec_simple(ag_driver_conn *c, const char *sql, ag_error *err) {
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    if (mysql_real_query(c->my, sql, (unsigned long)strlen(sql)) != 0) return error_from_conn(c, err);
    for (;;) { /* every statement's result, so that the connection is ready again */
        MYSQL_RES *r = mysql_store_result(c->my);
        if (r) mysql_free_result(r);
        else if (mysql_field_count(c->my) != 0) return error_from_conn(c, err);
        int rc = mysql_next_result(c->my);
        if (rc > 0) return error_from_conn(c, err);
        if (rc < 0) return 0;
    }
}

static ag_tx_status my_transaction_status(ag_driver_conn *c) {
    if (c->broken) return AG_TX_UNKNOWN;
    unsigned int status = 0;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_SERVER_STATUS, &status) != 0) return AG_TX_UNKNOWN;
    return (status & SERVER_STATUS_IN_TRANS) ? AG_TX_ACTIVE : AG_TX_IDLE;
}

/* ------------------------------------------------------------ statements */

static const char *skip_blank(const char *p, const char *end) {
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '(' || *p == ';') {
            p++;
        } else if (*p == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '#') {
            while (p < end && *p != '\n') p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            p += 2;
            while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) p++;
            p = p + 2 < end ? p + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

static int starts_with_keyword(const char *p, const char *end, const char *kw) {
    size_t n = strlen(kw);
    if ((size_t)(end - p) < n || strncasecmp(p, kw, n) != 0) return 0;
    if (p + n == end) return 1;
    char ch = p[n];
    return !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_');
}

static void free_names(my_names *n) {
    while (n) {
        my_names *older = n->older;
        free(n);
        n = older;
    }
}

/* Copies the statement's column names into a new block (the current one is
 * kept as older).  0, or -1 out of memory. */
static int build_names(ag_driver_stmt *s, unsigned int count) {
    MYSQL_FIELD *f = s->st->fields;
    size_t bytes = 0;
    for (unsigned int i = 0; i < count; i++) bytes += strlen(f && f[i].name ? f[i].name : "") + 1;
    my_names *n = ag_malloc(sizeof *n + count * sizeof(char *) + bytes);
    if (!n) return -1;
    n->count = (int)count;
    char *p = (char *)(n->names + count);
    for (unsigned int i = 0; i < count; i++) {
        const char *name = f && f[i].name ? f[i].name : "";
        size_t len = strlen(name) + 1;
        memcpy(p, name, len);
        n->names[i] = p;
        p += len;
    }
    n->older = s->names;
    s->names = n;
    return 0;
}

static void free_columns(ag_driver_stmt *s) {
    if (s->cols)
        for (int i = 0; i < s->ncols; i++) free(s->cols[i].data);
    free(s->cols);
    free(s->rbind);
    s->cols = NULL;
    s->rbind = NULL;
}

/* Sizes the result arrays for count columns.  0, or -1 out of memory. */
static int alloc_columns(ag_driver_stmt *s, unsigned int count) {
    free_columns(s);
    s->ncols = (int)count;
    s->bound = 0;
    if (count == 0) return 0;
    s->cols = ag_calloc(count, sizeof *s->cols);
    s->rbind = ag_calloc(count, sizeof *s->rbind);
    if (!s->cols || !s->rbind) {
        free_columns(s);
        s->ncols = 0;
        return -1;
    }
    return 0;
}

static void bulk_destroy(struct bulk *b);

/* execute_many's batches left behind by a row source that never returned:
 * the statement is a one-row statement again. */
static void bulk_abandon(ag_driver_stmt *s) {
    unsigned int zero = 0;
    mysql_stmt_attr_set(s->st, STMT_ATTR_ARRAY_SIZE, &zero);
    bulk_destroy(s->bulk);
}

static void free_stmt(ag_driver_stmt *s) {
    if (!s) return;
    bulk_destroy(s->bulk);
    free_columns(s);
    free_names(s->names);
    free(s->pbind);
    free(s->pints);
    free(s->pdoubles);
    free(s->plens);
    free(s->row);
    free(s);
}

static int my_prepare(ag_driver_conn *c, const char *sql, size_t len, ag_driver_stmt **out, ag_error *err) {
    *out = NULL;
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    ag_driver_stmt *s = ag_calloc(1, sizeof *s);
    if (!s) return ag_error_nomem(err);
    s->conn = c;
    s->affected = -1;
    if (!(s->st = mysql_stmt_init(c->my))) {
        free(s);
        return ag_error_nomem(err);
    }
    if (mysql_stmt_prepare(s->st, sql, (unsigned long)len) != 0) {
        error_from_stmt(s, err);
        mysql_stmt_close(s->st);
        free(s);
        return -1;
    }
    my_bool off = 0;
    mysql_stmt_attr_set(s->st, STMT_ATTR_UPDATE_MAX_LENGTH, &off);
    const char *p = skip_blank(sql, sql + len), *end = sql + len;
    s->is_insert = starts_with_keyword(p, end, "INSERT") || starts_with_keyword(p, end, "REPLACE");
    s->is_dml = s->is_insert || starts_with_keyword(p, end, "UPDATE") || starts_with_keyword(p, end, "DELETE");
    s->nparams = (int)mysql_stmt_param_count(s->st);
    unsigned int ncols = mysql_stmt_field_count(s->st);
    size_t np = (size_t)(s->nparams ? s->nparams : 1);
    s->pbind = ag_calloc(np, sizeof *s->pbind);
    s->pints = ag_calloc(np, sizeof *s->pints);
    s->pdoubles = ag_calloc(np, sizeof *s->pdoubles);
    s->plens = ag_calloc(np, sizeof *s->plens);
    s->row = ag_calloc(np, sizeof *s->row);
    if (!s->pbind || !s->pints || !s->pdoubles || !s->plens || !s->row || alloc_columns(s, ncols) != 0 ||
        build_names(s, ncols) != 0) {
        mysql_stmt_close(s->st);
        free_stmt(s);
        return ag_error_nomem(err);
    }
    *out = s;
    return 0;
}

static int my_param_count(ag_driver_stmt *s) { return s->nparams; }

static int my_column_count(ag_driver_stmt *s) { return s->ncols; }

static const char *my_column_name(ag_driver_stmt *s, int col) {
    if (col < 0 || col >= s->names->count) return NULL;
    return s->names->names[col];
}

/* Frees the statement's result in the connector: unread rows on the wire
 * are read and dropped, stored rows freed.  The connector does this by
 * looking at the connection, not the statement (it would swallow another
 * statement's streaming rows and mark the wire idle under it), so while
 * another statement owns the wire the freeing waits (s->stale) until the
 * statement is executed again or finalized, when the wire is free. */
static void free_result(ag_driver_stmt *s) {
    ag_driver_conn *c = s->conn;
    if (c->owner == s) c->owner = NULL;
    if (c->broken) {
        s->stale = 0; /* mysql_stmt_close frees what is left */
        return;
    }
    if (c->owner) {
        s->stale = 1;
        return;
    }
    s->stale = 0;
    mysql_stmt_free_result(s->st);
    ag_error ignored;
    drain_more_results(s, &ignored);
}

/* Ends the execution; unread rows are read and dropped (no round trip). */
static void my_reset(ag_driver_stmt *s) {
    if (s->state != ST_IDLE || s->stale) free_result(s);
    s->state = ST_IDLE;
    s->has_row = 0;
    s->has_deferred = 0;
    for (int i = 0; i < s->ncols; i++) { /* one huge value must not stay allocated */
        my_column *col = &s->cols[i];
        if (col->cap > MY_STRING_KEEP) {
            free(col->data);
            col->data = NULL;
            col->cap = 0;
            s->bound = 0;
        }
    }
}

static void my_finalize(ag_driver_stmt *s) {
    if (!s) return;
    ag_driver_conn *c = s->conn;
    if (c->pending) wait_pending(c); /* the statement may be the one executing */
    if (c->owner && c->owner != s) release_wire(c);
    my_reset(s);
    mysql_stmt_close(s->st); /* COM_STMT_CLOSE has no reply: no round trip */
    free_stmt(s);
}

/* Binds params into the statement's single-row binding arrays. */
static void fill_params(ag_driver_stmt *s, const ag_value *params) {
    for (int i = 0; i < s->nparams; i++) {
        const ag_value *v = &params[i];
        MYSQL_BIND *b = &s->pbind[i];
        memset(b, 0, sizeof *b);
        switch (v->type) {
        case AG_VALUE_INTEGER:
            s->pints[i] = (long long)v->u.integer;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &s->pints[i];
            break;
        case AG_VALUE_BOOLEAN:
            s->pints[i] = v->u.boolean ? 1 : 0;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &s->pints[i];
            break;
        case AG_VALUE_FLOAT:
            s->pdoubles[i] = v->u.number;
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &s->pdoubles[i];
            break;
        case AG_VALUE_TEXT:
        case AG_VALUE_BLOB:
            s->plens[i] = (unsigned long)v->u.bytes.len;
            b->buffer_type = v->type == AG_VALUE_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            b->buffer = (void *)(v->u.bytes.len ? v->u.bytes.data : "");
            b->buffer_length = s->plens[i];
            b->length = &s->plens[i];
            break;
        case AG_VALUE_NULL:
        default: b->buffer_type = MYSQL_TYPE_NULL; break;
        }
    }
}

static my_column_kind column_kind_of(const MYSQL_FIELD *f) {
    switch (f->type) {
    case MYSQL_TYPE_NULL: return CK_NULL;
    case MYSQL_TYPE_TINY:
        if (f->length == 1 && !(f->flags & UNSIGNED_FLAG)) return CK_BOOLEAN;
        /* fall through */
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG: return (f->flags & UNSIGNED_FLAG) ? CK_UINTEGER : CK_INTEGER;
    case MYSQL_TYPE_YEAR: return CK_INTEGER;
    case MYSQL_TYPE_DOUBLE: return CK_DOUBLE;
    case MYSQL_TYPE_FLOAT: return CK_FLOAT;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE: return CK_DATE;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2: return CK_DATETIME;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2: return CK_TIME;
    case MYSQL_TYPE_BIT: return CK_BIT;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        /* SUM() and friends of integers are DECIMAL(n, 0) on MariaDB and an
         * integer elsewhere; a DECIMAL column stays exact text */
        return f->decimals == 0 && (!f->org_name || !f->org_name[0]) ? CK_WHOLE : CK_TEXT;
    case MYSQL_TYPE_GEOMETRY: return CK_BLOB;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR: return f->charsetnr == 63 ? CK_BLOB : CK_TEXT;
    default: return CK_TEXT; /* DECIMAL, JSON, ENUM, SET, ... as the server prints them */
    }
}

/* Points result bind i at column i's storage for its kind. */
static int bind_column(ag_driver_stmt *s, int i) {
    my_column *col = &s->cols[i];
    MYSQL_BIND *b = &s->rbind[i];
    memset(b, 0, sizeof *b);
    b->is_null = &col->is_null;
    b->error = &col->error;
    b->length = &col->length;
    switch ((my_column_kind)col->kind) {
    case CK_NULL: b->buffer_type = MYSQL_TYPE_NULL; break;
    case CK_INTEGER:
    case CK_UINTEGER:
    case CK_BOOLEAN:
        b->buffer_type = MYSQL_TYPE_LONGLONG;
        b->buffer = &col->u.integer;
        b->is_unsigned = col->kind == CK_UINTEGER;
        break;
    case CK_DOUBLE:
        b->buffer_type = MYSQL_TYPE_DOUBLE;
        b->buffer = &col->u.number;
        break;
    case CK_FLOAT:
        b->buffer_type = MYSQL_TYPE_FLOAT;
        b->buffer = &col->u.single;
        break;
    case CK_DATE:
        b->buffer_type = MYSQL_TYPE_DATE;
        b->buffer = &col->u.time;
        break;
    case CK_DATETIME:
        b->buffer_type = MYSQL_TYPE_DATETIME;
        b->buffer = &col->u.time;
        break;
    case CK_TIME:
        b->buffer_type = MYSQL_TYPE_TIME;
        b->buffer = &col->u.time;
        break;
    default: /* strings, and BIT's bytes */
        if (!col->data) {
            if (!(col->data = ag_malloc(MY_STRING_INITIAL))) return -1;
            col->cap = MY_STRING_INITIAL;
        }
        b->buffer_type = col->kind == CK_BLOB || col->kind == CK_BIT ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
        b->buffer = col->data;
        b->buffer_length = col->cap;
        break;
    }
    return 0;
}

/* After a successful execute that returns rows: the column kinds from the
 * execution's metadata, and the result binding when they changed. */
static int prepare_result(ag_driver_stmt *s, ag_error *err) {
    unsigned int count = mysql_stmt_field_count(s->st);
    if ((int)count != s->ncols) {
        if (alloc_columns(s, count) != 0 || build_names(s, count) != 0) return ag_error_nomem(err);
    }
    MYSQL_FIELD *f = s->st->fields;
    for (int i = 0; i < s->ncols; i++) {
        unsigned char kind = (unsigned char)column_kind_of(&f[i]);
        if (kind != s->cols[i].kind) {
            s->cols[i].kind = kind;
            s->bound = 0;
        }
    }
    if (s->bound) return 0;
    for (int i = 0; i < s->ncols; i++)
        if (bind_column(s, i) != 0) return ag_error_nomem(err);
    if (mysql_stmt_bind_result(s->st, s->rbind) != 0) return error_from_stmt(s, err);
    s->bound = 1;
    return 0;
}

/* The statement has run: counters, and the rows (if any) now stream. */
static int after_execute(ag_driver_stmt *s, ag_error *err) {
    ag_driver_conn *c = s->conn;
    s->insert_id = s->is_insert ? (int64_t)mysql_stmt_insert_id(s->st) : 0;
    if (mysql_stmt_field_count(s->st) > 0) {
        s->affected = -1;
        s->state = ST_STREAMING;
        c->owner = s;
        if (prepare_result(s, err) != 0) {
            my_reset(s);
            return -1;
        }
        return 0;
    }
    s->affected = s->is_dml ? (int64_t)mysql_stmt_affected_rows(s->st) : -1;
    return drain_more_results(s, err);
}

static int my_execute(ag_driver_stmt *s, const ag_value *params, int nparams, ag_error *err) {
    ag_driver_conn *c = s->conn;
    if (c->owner != s) release_wire(c); /* first: then resetting s cannot disturb another */
    my_reset(s);
    s->affected = -1;
    s->insert_id = 0;
    if (nparams != s->nparams)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement takes %d parameters, %d given", s->nparams, nparams);
    release_wire(c);
    if (s->bulk) bulk_abandon(s);
    if (error_if_broken(c, err)) return -1;
    if (s->nparams) {
        fill_params(s, params);
        if (mysql_stmt_bind_param(s->st, s->pbind) != 0) return error_from_stmt(s, err);
    }
    if (mysql_stmt_execute(s->st) != 0) return error_from_stmt(s, err);
    return after_execute(s, err);
}

/* A fetched row had strings longer than their buffers: each grows to the
 * value's size, the rest is read with mysql_stmt_fetch_column, and the
 * binding is renewed for the next rows.  0, or -1 with err. */
static int complete_truncated(ag_driver_stmt *s, ag_error *err) {
    int grown = 0;
    for (int i = 0; i < s->ncols; i++) {
        my_column *col = &s->cols[i];
        if ((col->kind != CK_TEXT && col->kind != CK_BLOB && col->kind != CK_BIT && col->kind != CK_WHOLE) ||
            col->is_null || !col->data || col->length < col->cap)
            continue;
        unsigned long have = col->cap, need = col->length + 1;
        char *data = ag_realloc(col->data, need);
        if (!data) return ag_error_nomem(err);
        col->data = data;
        col->cap = need;
        grown = 1;
        if (col->length > have) {
            MYSQL_BIND b;
            unsigned long got = 0;
            memset(&b, 0, sizeof b);
            b.buffer_type = s->rbind[i].buffer_type;
            b.buffer = col->data + have;
            b.buffer_length = need - have;
            b.length = &got;
            if (mysql_stmt_fetch_column(s->st, &b, (unsigned int)i, have) != 0) return error_from_stmt(s, err);
        }
        col->data[col->length] = '\0';
        s->rbind[i].buffer = col->data;
        s->rbind[i].buffer_length = col->cap;
    }
    if (grown && mysql_stmt_bind_result(s->st, s->rbind) != 0) return error_from_stmt(s, err);
    return 0;
}

static int my_fetch(ag_driver_stmt *s, ag_error *err) {
    ag_driver_conn *c = s->conn;
    s->has_row = 0;
    if (s->state == ST_IDLE) return 0;
    if (s->has_deferred) {
        *err = s->deferred;
        my_reset(s);
        return -1;
    }
    /* The connector marks the connection idle when a stored result runs
     * out, even while another statement's rows stream on the wire (that
     * owner's store or free would then fail, out of sync): with another
     * owner, a stored result that has no row left ends here, without it. */
    int rc = s->state == ST_BUFFERED && c->owner && c->owner != s && !s->st->result_cursor ? MYSQL_NO_DATA
                                                                                           : mysql_stmt_fetch(s->st);
    if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
        if (complete_truncated(s, err) != 0) {
            my_reset(s);
            return -1;
        }
        s->has_row = 1;
        return 1;
    }
    if (rc == MYSQL_NO_DATA) {
        int more = c->owner == s && mysql_stmt_more_results(s->st);
        s->state = ST_IDLE;
        if (!more) {
            free_result(s);
            return 0;
        }
        if (c->owner == s) c->owner = NULL;
        mysql_stmt_free_result(s->st);
        return drain_more_results(s, err); /* a CALL's final status */
    }
    error_from_stmt(s, err);
    s->state = ST_IDLE;
    free_result(s);
    return -1;
}

static int format_uint64(uint64_t u, char *out) {
    char tmp[24];
    int n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n) out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

/* Writes u in decimal, zero-padded to at least width digits; returns the end. */
static char *put_digits(char *p, unsigned long u, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n < width) tmp[n++] = '0';
    while (n) *p++ = tmp[--n];
    return p;
}

/* Two digits of u (0..99). */
static char *put2(char *p, unsigned int u) {
    p[0] = (char)('0' + u / 10 % 10);
    p[1] = (char)('0' + u % 10);
    return p + 2;
}

/* ISO-8601 text of a MYSQL_TIME (see the file comment); returns its length.
 * Written digit by digit: snprintf cost a fifth of a wide read's time (two
 * DATETIME columns per row).  out holds at least 48 bytes. */
static size_t format_time(const MYSQL_TIME *t, my_column_kind kind, char *out) {
    char *p = out;
    if (kind == CK_DATE || kind == CK_DATETIME) {
        if (t->year < 10000) {
            p = put2(p, t->year / 100);
            p = put2(p, t->year % 100);
        } else {
            p = put_digits(p, t->year, 4);
        }
        *p++ = '-';
        p = put2(p, t->month);
        *p++ = '-';
        p = put2(p, t->day);
        if (kind == CK_DATE) {
            *p = '\0';
            return (size_t)(p - out);
        }
        *p++ = ' ';
        p = put2(p, t->hour);
    } else {
        if (t->neg) *p++ = '-';
        p = put_digits(p, (unsigned long)(t->day % 100000) * 24 + t->hour % 1000, 2);
    }
    *p++ = ':';
    p = put2(p, t->minute);
    *p++ = ':';
    p = put2(p, t->second);
    if (t->second_part) {
        *p++ = '.';
        p = put_digits(p, t->second_part % 1000000, 6);
        while (p[-1] == '0') p--;
    }
    *p = '\0';
    return (size_t)(p - out);
}

static void my_column_value(ag_driver_stmt *s, int col, ag_value *out) {
    out->type = AG_VALUE_NULL;
    if (!s->has_row || col < 0 || col >= s->ncols) return;
    my_column *c = &s->cols[col];
    if (c->is_null) return;
    switch ((my_column_kind)c->kind) {
    case CK_NULL: return;
    case CK_INTEGER:
        out->type = AG_VALUE_INTEGER;
        out->u.integer = (int64_t)c->u.integer;
        return;
    case CK_UINTEGER: {
        uint64_t u = (uint64_t)c->u.integer;
        if (u <= (uint64_t)INT64_MAX) {
            out->type = AG_VALUE_INTEGER;
            out->u.integer = (int64_t)u;
            return;
        }
        out->type = AG_VALUE_TEXT; /* exact, as a Lua integer could not be */
        out->u.bytes.len = (size_t)format_uint64(u, c->text);
        out->u.bytes.data = c->text;
        return;
    }
    case CK_BOOLEAN:
        out->type = AG_VALUE_BOOLEAN;
        out->u.boolean = c->u.integer != 0;
        return;
    case CK_DOUBLE:
        out->type = AG_VALUE_FLOAT;
        out->u.number = c->u.number;
        return;
    case CK_FLOAT: {
        /* the shortest decimal that reads back as the same float, as a double */
        char tmp[32];
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, (double)c->u.single);
            if (strtof(tmp, NULL) == c->u.single) break;
        }
        out->type = AG_VALUE_FLOAT;
        out->u.number = strtod(tmp, NULL);
        return;
    }
    case CK_DATE:
    case CK_DATETIME:
    case CK_TIME:
        out->type = AG_VALUE_TEXT;
        out->u.bytes.len = format_time(&c->u.time, (my_column_kind)c->kind, c->text);
        out->u.bytes.data = c->text;
        return;
    case CK_BIT: {
        uint64_t u = 0;
        for (unsigned long i = 0; i < c->length && i < 8; i++) u = u << 8 | (unsigned char)c->data[i];
        out->type = AG_VALUE_INTEGER;
        out->u.integer = (int64_t)u;
        return;
    }
    case CK_WHOLE: {
        /* an integer when it fits, else the exact text */
        const char *p = c->data;
        int neg = c->length > 0 && p[0] == '-';
        unsigned long i = (unsigned long)neg, digits = c->length - (unsigned long)neg;
        uint64_t u = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = digits > 0 && digits <= 19;
        for (; fits && i < c->length; i++) {
            unsigned d = (unsigned char)p[i] - '0';
            if (d > 9 || u > (limit - d) / 10) fits = 0;
            else u = u * 10 + d;
        }
        if (fits) {
            out->type = AG_VALUE_INTEGER;
            out->u.integer = neg ? (int64_t)(0 - u) : (int64_t)u;
            return;
        }
        out->type = AG_VALUE_TEXT;
        out->u.bytes.data = c->data;
        out->u.bytes.len = c->length;
        return;
    }
    case CK_BLOB:
    case CK_TEXT:
    default:
        out->type = c->kind == CK_BLOB ? AG_VALUE_BLOB : AG_VALUE_TEXT;
        out->u.bytes.data = c->data;
        out->u.bytes.len = c->length;
        return;
    }
}

static int64_t my_rows_affected(ag_driver_stmt *s) { return s->affected; }

static int my_last_insert_id(ag_driver_stmt *s, int64_t *out) {
    if (!s->is_insert || s->insert_id == 0) return -1;
    *out = s->insert_id;
    return 0;
}

/* ---------------------------------------------------------- execute_many */

/* One parameter column of an array execute. */
typedef struct bulk_column {
    ag_value_type type; /* of the batch's non-NULL values; AG_VALUE_NULL while none */
    long long *ints;
    double *doubles;
    char **ptrs;
    size_t *offs; /* text offsets in the arena, until the batch is sent */
    unsigned long *lens;
    char *ind;
} bulk_column;

/* The rows of one array execute. */
typedef struct bulk_batch {
    bulk_column *cols;
    MYSQL_BIND *binds;
    ag_buf arena;
    unsigned int rows;
} bulk_batch;

/* Two batches: while one executes on the server (non-blocking), the rows of
 * the next are converted into the other, so that the client's work on the
 * next batch overlaps the server's work on this one. */
typedef struct bulk {
    ag_driver_stmt *s;
    bulk_batch batch[2];
    int cur;      /* the batch being filled */
    int inflight; /* batch[!cur] has been sent (conn->pending) and its reply not read */
    int64_t *total;
} bulk;

static void batch_free(bulk_batch *bt, int ncols) {
    if (bt->cols)
        for (int i = 0; i < ncols; i++) {
            free(bt->cols[i].ints);
            free(bt->cols[i].doubles);
            free(bt->cols[i].ptrs);
            free(bt->cols[i].offs);
            free(bt->cols[i].lens);
            free(bt->cols[i].ind);
        }
    free(bt->cols);
    free(bt->binds);
    ag_buf_free(&bt->arena);
}

static int batch_init(bulk_batch *bt, int ncols) {
    size_t n = (size_t)ncols;
    bt->cols = ag_calloc(n, sizeof *bt->cols);
    bt->binds = ag_calloc(n, sizeof *bt->binds);
    if (!bt->cols || !bt->binds) return -1;
    for (size_t i = 0; i < n; i++) {
        bulk_column *c = &bt->cols[i];
        c->ints = ag_malloc(MY_BULK_BATCH * sizeof *c->ints);
        c->doubles = ag_malloc(MY_BULK_BATCH * sizeof *c->doubles);
        c->ptrs = ag_malloc(MY_BULK_BATCH * sizeof *c->ptrs);
        c->offs = ag_malloc(MY_BULK_BATCH * sizeof *c->offs);
        c->lens = ag_malloc(MY_BULK_BATCH * sizeof *c->lens);
        c->ind = ag_malloc(MY_BULK_BATCH);
        if (!c->ints || !c->doubles || !c->ptrs || !c->offs || !c->lens || !c->ind) return -1;
    }
    return 0;
}

/* Frees the batches.  They hang off the statement while execute_many runs,
 * so that a row source that never returned (a Lua error thrown through it)
 * leaks nothing: the next execute_many or finalize frees them. */
static void bulk_destroy(bulk *b) {
    if (!b) return;
    for (int k = 0; k < 2; k++) batch_free(&b->batch[k], b->s->nparams);
    b->s->bulk = NULL;
    free(b);
}

static bulk *bulk_create(ag_driver_stmt *s, int64_t *total) {
    bulk_destroy(s->bulk);
    bulk *b = ag_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->s = s;
    b->total = total;
    s->bulk = b;
    if (batch_init(&b->batch[0], s->nparams) != 0 || batch_init(&b->batch[1], s->nparams) != 0) {
        bulk_destroy(b);
        return NULL;
    }
    return b;
}

/* Booleans travel as integers, so they share a column type. */
static ag_value_type bulk_type(ag_value_type t) { return t == AG_VALUE_BOOLEAN ? AG_VALUE_INTEGER : t; }

/* Does row fit the filling batch's column types? */
static int bulk_fits(const bulk *b, const ag_value *row) {
    const bulk_column *cols = b->batch[b->cur].cols;
    for (int i = 0; i < b->s->nparams; i++) {
        ag_value_type t = bulk_type(row[i].type);
        if (t != AG_VALUE_NULL && cols[i].type != AG_VALUE_NULL && t != cols[i].type) return 0;
    }
    return 1;
}

/* Appends row to the filling batch.  0, or -1 out of memory. */
static int bulk_add(bulk *b, const ag_value *row) {
    bulk_batch *bt = &b->batch[b->cur];
    unsigned int r = bt->rows;
    for (int i = 0; i < b->s->nparams; i++) {
        bulk_column *c = &bt->cols[i];
        const ag_value *v = &row[i];
        ag_value_type t = bulk_type(v->type);
        c->ind[r] = t == AG_VALUE_NULL ? STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
        c->ints[r] = 0;
        c->doubles[r] = 0;
        c->offs[r] = 0;
        c->lens[r] = 0;
        if (t == AG_VALUE_NULL) continue;
        c->type = t;
        if (v->type == AG_VALUE_INTEGER) c->ints[r] = (long long)v->u.integer;
        else if (v->type == AG_VALUE_BOOLEAN) c->ints[r] = v->u.boolean ? 1 : 0;
        else if (v->type == AG_VALUE_FLOAT) c->doubles[r] = v->u.number;
        else { /* text or blob: copied, the source's memory is not ours past this row */ c->offs[r] = bt->arena.len;
            c->lens[r] = (unsigned long)v->u.bytes.len;
            if (v->u.bytes.len && ag_buf_append(&bt->arena, v->u.bytes.data, v->u.bytes.len) != 0) return -1;
        }
    }
    bt->rows++;
    return 0;
}

/* Waits for the in-flight execute (if any) and reads its reply; its rows
 * affected go into the total.  0, or -1 with err (the execute's error). */
static int bulk_finish(bulk *b, ag_error *err) {
    if (!b->inflight) return 0;
    ag_driver_stmt *s = b->s;
    int ret = wait_pending(s->conn);
    b->inflight = 0;
    ag_buf_reset(&b->batch[!b->cur].arena);
    if (ret != 0) return error_from_stmt(s, err);
    my_ulonglong n = mysql_stmt_affected_rows(s->st);
    if (n != (my_ulonglong)-1) *b->total += (int64_t)n;
    return 0;
}

/* Sends the filling batch as one array execute, after the reply of the one
 * before it has been read (one command at a time on the wire).  The last
 * batch, or any batch without the non-blocking API, completes here: no
 * conversion is left to overlap with it.  0, or -1 with err. */
static int bulk_send(bulk *b, int last, ag_error *err) {
    ag_driver_stmt *s = b->s;
    bulk_batch *bt = &b->batch[b->cur];
    unsigned int rows = bt->rows;
    if (rows == 0) return 0;
    if (bulk_finish(b, err) != 0) return -1;
    bt->rows = 0;
    for (int i = 0; i < s->nparams; i++) {
        bulk_column *c = &bt->cols[i];
        MYSQL_BIND *bd = &bt->binds[i];
        memset(bd, 0, sizeof *bd);
        bd->u.indicator = c->ind;
        switch (c->type) {
        case AG_VALUE_INTEGER:
            bd->buffer_type = MYSQL_TYPE_LONGLONG;
            bd->buffer = c->ints;
            break;
        case AG_VALUE_FLOAT:
            bd->buffer_type = MYSQL_TYPE_DOUBLE;
            bd->buffer = c->doubles;
            break;
        default: /* text, blob, or a column of NULLs only */
            for (unsigned int r = 0; r < rows; r++)
                c->ptrs[r] = bt->arena.data ? bt->arena.data + c->offs[r] : (char *)"";
            bd->buffer_type = c->type == AG_VALUE_BLOB ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
            bd->buffer = c->ptrs;
            bd->length = c->lens;
            break;
        }
        c->type = AG_VALUE_NULL;
    }
    if (mysql_stmt_attr_set(s->st, STMT_ATTR_ARRAY_SIZE, &rows) != 0 || mysql_stmt_bind_param(s->st, bt->binds) != 0) {
        ag_buf_reset(&bt->arena);
        return error_from_stmt(s, err);
    }
    ag_driver_conn *c = s->conn;
    b->inflight = 1;
    b->cur = !b->cur;
    c->pending = s->st;
    if (c->async && !last) {
        /* returns once the request is written and the reply is awaited
         * (the connector has serialized the arrays by then), or done */
        c->pending_status = mysql_stmt_execute_start(&c->pending_ret, s->st);
    } else {
        c->pending_status = 0;
        c->pending_ret = mysql_stmt_execute(s->st);
    }
    return 0;
}

static int many_bulk(ag_driver_stmt *s, const ag_value *first, ag_row_source next, void *ctx, int64_t *total,
                     ag_error *err) {
    bulk *b = bulk_create(s, total);
    if (!b) return ag_error_nomem(err);
    int rc = 0;
    const ag_value *row = first;
    for (;;) {
        if (!bulk_fits(b, row) && bulk_send(b, 0, err) != 0) {
            rc = -1;
            break;
        }
        if (bulk_add(b, row) != 0) {
            rc = ag_error_nomem(err);
            break;
        }
        bulk_batch *bt = &b->batch[b->cur];
        if ((bt->rows >= MY_BULK_BATCH || bt->arena.len >= MY_BULK_BYTES) && bulk_send(b, 0, err) != 0) {
            rc = -1;
            break;
        }
        int got = next(ctx, s->row, s->nparams, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) {
            rc = bulk_send(b, 1, err);
            break;
        }
        row = s->row;
    }
    /* The execute still in flight is read to its end, so that the
     * connection is ready again; it was sent before whatever failed after
     * it, so its error is the one reported. */
    if (b->inflight) {
        ag_error first_err;
        if (bulk_finish(b, &first_err) != 0) {
            *err = first_err;
            rc = -1;
        }
    }
    unsigned int zero = 0;
    mysql_stmt_attr_set(s->st, STMT_ATTR_ARRAY_SIZE, &zero);
    bulk_destroy(b);
    return rc;
}

static int my_execute_many(ag_driver_stmt *s, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                           ag_error *err) {
    ag_driver_conn *c = s->conn;
    *rows_affected = 0;
    if (c->owner != s) release_wire(c);
    my_reset(s);
    s->affected = -1;
    s->insert_id = 0;
    if (nparams != s->nparams)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement takes %d parameters, %d given", s->nparams, nparams);
    release_wire(c);
    if (s->bulk) bulk_abandon(s);
    if (error_if_broken(c, err)) return -1;

    int got = next(ctx, s->row, nparams, err);
    if (got <= 0) return got < 0 ? -1 : 0;
    int64_t total = 0;
    int rc = 0;
    if (c->bulk && s->nparams > 0 && mysql_stmt_field_count(s->st) == 0) {
        if (!c->async_tried) {
            /* set up on first use only: it allocates the connector's
             * coroutine stack; without it the batches run one by one */
            c->async_tried = 1;
            c->async = mysql_options(c->my, MYSQL_OPT_NONBLOCK, NULL) == 0;
        }
        rc = many_bulk(s, s->row, next, ctx, &total, err);
    } else {
        for (;;) { /* one execute per row; rows a statement returns are dropped */
            fill_params(s, s->row);
            if ((s->nparams && mysql_stmt_bind_param(s->st, s->pbind) != 0) || mysql_stmt_execute(s->st) != 0) {
                rc = error_from_stmt(s, err);
                break;
            }
            if (mysql_stmt_field_count(s->st) > 0) {
                mysql_stmt_free_result(s->st);
            } else {
                my_ulonglong n = mysql_stmt_affected_rows(s->st);
                if (n != (my_ulonglong)-1) total += (int64_t)n;
            }
            if (drain_more_results(s, err) != 0) {
                rc = -1;
                break;
            }
            got = next(ctx, s->row, nparams, err);
            if (got <= 0) {
                rc = got;
                break;
            }
        }
    }
    *rows_affected = total;
    if (rc == 0) s->affected = s->is_dml ? total : -1;
    return rc;
}

/* Connector/C allocates its global state (character sets, plugins, option
 * directories) on the first mysql_init and frees it only in
 * mysql_library_end.  This runs when the program ends or when the Lua module
 * holding the driver is unloaded (lua_close dlcloses it, and libmariadb goes
 * with it), so the memory is handed back rather than left unreachable; the
 * call does nothing when no connection was ever made. */
__attribute__((destructor)) static void my_library_end(void) { mysql_library_end(); }

const ag_driver ag_driver_mariadb = {
    .name = "mariadb",
    .dialect = AG_DIALECT_MARIADB,
    .connect = my_connect,
    .close = my_close,
    .ping = my_ping,
    .exec_simple = my_exec_simple,
    .transaction_status = my_transaction_status,
    .prepare = my_prepare,
    .finalize = my_finalize,
    .param_count = my_param_count,
    .execute = my_execute,
    .fetch = my_fetch,
    .column_count = my_column_count,
    .column_name = my_column_name,
    .column_value = my_column_value,
    .rows_affected = my_rows_affected,
    .last_insert_id = my_last_insert_id,
    .reset = my_reset,
    .execute_many = my_execute_many,
    .cancel = my_cancel,
};

/* ---------------------------------------------------------- decode.h */

static unsigned long read_le(const unsigned char *p, size_t len, size_t at, int n) {
    unsigned long v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | (at + (size_t)i < len ? p[at + (size_t)i] : 0);
    return v;
}

int ag_mariadb_decode_binary(const ag_mariadb_field *field, const unsigned char *bytes, size_t len, ag_decoded_fn use,
                             void *ctx) {
    /* one row of one column, bound and read as prepare_result and
     * my_column_value do, with what mysql_stmt_fetch would have stored */
    MYSQL_FIELD f;
    memset(&f, 0, sizeof f);
    f.type = (enum enum_field_types)field->type;
    f.flags = field->flags;
    f.charsetnr = field->charsetnr;
    f.decimals = field->decimals;
    f.length = field->length;
    f.org_name = (char *)(field->has_org_name ? "c" : "");
    ag_driver_stmt s;
    memset(&s, 0, sizeof s);
    if (alloc_columns(&s, 1) != 0) return -1;
    my_column *col = &s.cols[0];
    col->kind = (unsigned char)column_kind_of(&f);
    int rc = bind_column(&s, 0);
    if (rc == 0) {
        MYSQL_BIND *b = &s.rbind[0];
        switch (b->buffer_type) {
        case MYSQL_TYPE_NULL: col->is_null = 1; break;
        case MYSQL_TYPE_LONGLONG:
        case MYSQL_TYPE_DOUBLE: memcpy(b->buffer, bytes, len < 8 ? len : 8); break;
        case MYSQL_TYPE_FLOAT: memcpy(b->buffer, bytes, len < 4 ? len : 4); break;
        case MYSQL_TYPE_DATE:
        case MYSQL_TYPE_DATETIME: /* libmariadb's convert_to_datetime */
            col->u.time.year = (unsigned int)read_le(bytes, len, 0, 2);
            col->u.time.month = (unsigned int)read_le(bytes, len, 2, 1);
            col->u.time.day = (unsigned int)read_le(bytes, len, 3, 1);
            col->u.time.hour = (unsigned int)read_le(bytes, len, 4, 1);
            col->u.time.minute = (unsigned int)read_le(bytes, len, 5, 1);
            col->u.time.second = (unsigned int)read_le(bytes, len, 6, 1);
            col->u.time.second_part = read_le(bytes, len, 7, 4);
            break;
        case MYSQL_TYPE_TIME: { /* ... and its TIME form: sign, days, hour, minute, second, microseconds */
            unsigned long days = read_le(bytes, len, 1, 4);
            col->u.time.neg = (my_bool)(read_le(bytes, len, 0, 1) & 1);
            col->u.time.hour = (unsigned int)(read_le(bytes, len, 5, 1) + days * 24);
            col->u.time.minute = (unsigned int)read_le(bytes, len, 6, 1);
            col->u.time.second = (unsigned int)read_le(bytes, len, 7, 1);
            col->u.time.second_part = read_le(bytes, len, 8, 4);
            break;
        }
        default: /* strings and BIT: the bytes, grown as complete_truncated grows them */
            if (len >= col->cap) {
                char *data = ag_realloc(col->data, len + 1);
                if (!data) {
                    rc = -1;
                    break;
                }
                col->data = data;
                col->cap = len + 1;
            }
            if (len) memcpy(col->data, bytes, len);
            col->data[len] = '\0';
            col->length = len;
            break;
        }
    }
    if (rc == 0) {
        ag_value v;
        s.has_row = 1;
        my_column_value(&s, 0, &v);
        use(&v, ctx);
    }
    free_columns(&s);
    return rc;
}
