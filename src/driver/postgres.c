/*
 * postgres.c -- the PostgreSQL driver (libpq 15): ag_driver_postgres.
 *
 * This is the only file that includes libpq-fe.h.  It implements driver.h's
 * contract on libpq's asynchronous API; the decisions that are not obvious:
 *
 * Wire ownership.  libpq runs one query at a time per connection.  A statement
 * whose rows are being streamed (single-row mode) "owns the wire"
 * (conn->owner).  Anything else that needs the connection (another execute,
 * prepare, exec_simple, ping, execute_many, finalize's DEALLOCATE) first reads
 * the owner's unread rows into a compact in-memory copy on that statement
 * (one byte arena plus an offset/length per cell, not one PGresult per row),
 * so the owner's reader goes on seeing every row.  Resetting the owner
 * discards its unread rows by reading them (a cancel request would abort the
 * caller's transaction and could hit the next query).
 *
 * Parameters travel in text format with fixed type OIDs: INTEGER as int8,
 * FLOAT as float8 (shortest text that reads back to the same double), BOOLEAN
 * as bool, TEXT as unknown (OID 0: the server infers the type from context,
 * as for a literal) and BLOB as bytea in binary format; text with a zero
 * byte or invalid UTF-8 goes as bytea where the server inferred bytea for
 * the parameter, and is a DataError anywhere else (never stored as hex).  Because a prepared statement's parameter types are
 * fixed when it is parsed, a statement keeps up to PG_MAX_VARIANTS server-side
 * variants.  Variant 0 is prepared by prepare() with every type inferred
 * (that gives param_count and the column names).  At execute the bound values
 * are matched against the variants: a value fits a variant's parameter when
 * the server will read it as the value means it (an integer fits a parameter
 * the server typed int2/int4/int8/numeric/float4/float8; text fits a
 * parameter we left to inference; a blob fits bytea; NULL fits anything).
 * When no variant fits, a new one is prepared with the values' own OIDs
 * (NULL and text as 0); so `SELECT $1` with an integer gives an int8 column
 * while `WHERE int4_col = $1` needs no second variant.  Past PG_MAX_VARIANTS
 * the execution goes through the unnamed statement (PQsendQueryParams), which
 * costs no extra round trip, only the re-parse.  Preparing a variant sends
 * Parse and Describe in one pipeline (one round trip).  A statement of
 * PG_DESCRIBE_MAX_PARAMS parameters or more (an IN list of thousands) is
 * neither prepared nor described, since libpq cannot read that description:
 * each execution goes unnamed, typed by its values, and brings the columns.
 *
 * Results come in text format, single-row mode (libpq 15 has no chunked
 * mode), and are decoded by column type OID: int2/int4/int8/oid -> INTEGER,
 * float4/float8 -> FLOAT, bool -> BOOLEAN, bytea (hex or escape form) ->
 * BLOB decoded into one reusable buffer per column, everything else
 * (numeric, text, dates under DateStyle ISO, json, uuid, ...) -> TEXT as the
 * server prints it.  Connections set client_encoding UTF8 and DateStyle ISO
 * (and default_transaction_isolation when asked) in the startup packet, so
 * connect costs no extra round trips.
 *
 * Errors map from the SQLSTATE class as psycopg2 (SQLAlchemy's reference
 * driver) does, with our kinds: 0A NotSupported; 20, 21, 3D, 3F, 42, 44
 * Programming; 22 Data; 23 Integrity; everything else (08 connection, 24/25
 * invalid cursor/transaction state such as 25P02 "current transaction is
 * aborted", 26, 28, 2B, 2D, 34, 40 serialization/deadlock, 53-58, P0, XX...)
 * Operational, psycopg2's InternalError included since we have no such kind.
 * Messages are the primary message, then DETAIL on its own line with any row
 * values taken out (detail_without_values).  Class 08
 * and 57P0x ("terminating connection ...") errors, and any error after which
 * libpq finds the link closed, set disconnect.
 *
 * execute_many uses pipeline mode: PQsendQueryPrepared per row, one sync per
 * PG_PIPELINE_BATCH rows, and that batch's results are read before more rows
 * are sent, so no statement runs after the batch holding the first error
 * (libpq's blocking send reads incoming data when the socket is full, so the
 * batch cannot deadlock).  The first row picks or prepares the variant; a
 * later row that fits no variant is sent with PQsendQueryParams.
 *
 * finalize does not cost a round trip: the statement's names are queued on
 * the connection and deallocated PG_DEALLOCATE_BATCH at a time, only outside
 * a transaction (DEALLOCATE inside one could fail and abort it); close
 * drops them with the session.
 *
 * rows_affected is PQcmdTuples for INSERT/UPDATE/DELETE/MERGE and -1
 * otherwise; for a statement that both changes and returns rows (RETURNING)
 * it is known only once its rows have been read (-1 before).
 */
#include "base/alloc.h"
#include "driver/driver.h"
#include "driver/decode.h"

#include <libpq-fe.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/datetime.h"

enum {
    PG_MAX_VARIANTS = 4,      /* server-side variants (parameter types) per statement */
    PG_PIPELINE_BATCH = 1000, /* execute_many: statements per pipeline sync */
    PG_DEALLOCATE_BATCH = 16, /* finalized names deallocated together */
    PG_ARENA_KEEP = 1 << 20,  /* buffered-row memory kept for reuse up to this size */
    /* libpq reads a ParameterDescription message of at most 30,000 bytes
     * (VALID_LONG_MESSAGE_TYPE leaves it out): describing a statement of
     * this many parameters or more loses the connection.  Such statements
     * are never prepared nor described (see undescribed in pg_prepare). */
    PG_DESCRIBE_MAX_PARAMS = 7499
};

/* Built-in type OIDs (pg_type.h is a server header). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_TIMESTAMP = 1114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_UNKNOWN = 705,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_NUMERIC = 1700
};

/* What a bound value is, for matching it against a variant's parameter types. */
typedef enum pg_param_kind { PK_NULL, PK_INTEGER, PK_FLOAT, PK_BOOLEAN, PK_TEXT, PK_BYTES } pg_param_kind;

/* How a result column is decoded (from its type OID, once per execute). */
typedef enum pg_column_kind { CK_TEXT, CK_INTEGER, CK_FLOAT, CK_BOOLEAN, CK_BYTEA } pg_column_kind;

/* One server-side prepared statement of a statement. */
typedef struct pg_variant {
    char name[40]; /* "" for the unnamed statement (no_prepare) */
    Oid *sent;     /* nparams types given to Parse (0 = left to the server) */
    Oid *server;   /* nparams types the server settled on */
} pg_variant;

typedef enum pg_state {
    ST_IDLE,      /* not executing (never executed, finished, or reset) */
    ST_STREAMING, /* rows come from the wire; the statement is conn->owner */
    ST_BUFFERED   /* the rest of the rows were read into the arena */
} pg_state;

/* A buffered cell: len < 0 is NULL; else the bytes at arena + off (NUL-terminated). */
typedef struct pg_cell {
    size_t off;
    long len;
} pg_cell;

struct ag_driver_conn {
    PGconn *pg;
    ag_driver_stmt *owner;           /* statement whose rows are on the wire, or NULL */
    PGTransactionStatusType tx_sent; /* transaction status when owner's query was sent */
    unsigned long name_counter;      /* statement names ag<nonce>_1, ag<nonce>_2, ... */
    char name_prefix[24];            /* "ag<nonce>_": unique to this connection (see pg_connect) */
    int no_prepare;                  /* unnamed statements only (a transaction-mode pooler) */
    ag_buf deallocate_sql;           /* "DEALLOCATE ag_1;DEALLOCATE ag_7;..." queued */
    int deallocate_count;
    char *password;   /* masked out of every message; NULL if none */
    int broken;       /* left in a state we cannot recover from */
    PGcancel *cancel; /* made at connect, for pg_cancel from another thread; NULL if libpq had none */
};

struct ag_driver_stmt {
    ag_driver_conn *conn;
    char *sql;
    int nparams, ncols;
    PGresult *desc;  /* variant 0's description: column names for the statement's life */
    int undescribed; /* too many parameters to describe: always unnamed, columns from each execution */
    pg_variant variants[PG_MAX_VARIANTS];
    int nvariants, last_variant;

    /* Binding scratch, sized at prepare. */
    const char **values;
    int *lengths, *formats;
    unsigned char *kinds; /* pg_param_kind per parameter */
    Oid *want;            /* the values' own OIDs */
    char (*numbers)[32];  /* text of numeric parameters */
    ag_buf text;          /* NUL-terminated copies of text parameters */
    ag_value *row;        /* execute_many's row */

    /* Execution. */
    pg_state state;
    int has_row;     /* fetch gave a row that column_value may read */
    PGresult *cur;   /* the current (or pending first) row as libpq gave it */
    int cur_pending; /* cur is the first row, not yet handed out by fetch */
    int64_t affected;
    unsigned char *col_kinds; /* pg_column_kind per column */
    ag_buf *col_bufs;         /* decoded bytea per column, allocated on first use */
    int value_oom;            /* column_value ran out of memory: the next fetch says so */

    /* Rows read ahead when another command needed the wire. */
    ag_buf arena;
    pg_cell *cells;
    size_t cells_cap, nbuffered, next_buffered, cur_buffered;
    int has_deferred; /* the query failed after the buffered rows */
    ag_error deferred;
};

/* ------------------------------------------------------------------ errors */

/* What a failure that a transaction-mode pooler causes says. */
#define POOLER_HINT " (behind a transaction-mode pooler such as PgBouncer, use create_engine(url, {prepare = false}))"

static ag_error_kind kind_for_sqlstate(const char *s) {
    if (!s || strlen(s) < 2) return AG_ERR_OPERATIONAL;
    char a = s[0], b = s[1];
    if (a == '0' && b == 'A') return AG_ERR_NOT_SUPPORTED;
    if (a == '2') {
        if (b == '0' || b == '1') return AG_ERR_PROGRAMMING;
        if (b == '2') return AG_ERR_DATA;
        if (b == '3') return AG_ERR_INTEGRITY;
    }
    if (a == '3' && (b == 'D' || b == 'F')) return AG_ERR_PROGRAMMING;
    if (a == '4' && (b == '2' || b == '4')) return AG_ERR_PROGRAMMING;
    return AG_ERR_OPERATIONAL;
}

static void trim_message(ag_error *err) {
    size_t n = strlen(err->message);
    while (n > 0 && (err->message[n - 1] == '\n' || err->message[n - 1] == '\r' || err->message[n - 1] == ' ' ||
                     err->message[n - 1] == '\t'))
        err->message[--n] = '\0';
}

/* Finishes an error: trimmed, password masked, disconnect when the link is gone. */
static int finish_error(ag_driver_conn *c, ag_error *err) {
    trim_message(err);
    if (c && (c->broken || PQstatus(c->pg) == CONNECTION_BAD)) {
        err->disconnect = 1;
        if (!err->code[0]) err->kind = AG_ERR_OPERATIONAL;
    }
    /* connection exceptions and "terminating connection" (admin or crash
     * shutdown) arrive before libpq has seen the link close */
    if (strncmp(err->code, "08", 2) == 0 || strncmp(err->code, "57P0", 4) == 0) err->disconnect = 1;
    if (c) ag_error_mask(err, c->password);
    return -1;
}

/* An error libpq reports on the connection (send failed, link lost). */
static int error_from_conn(ag_driver_conn *c, ag_error *err) {
    const char *msg = PQerrorMessage(c->pg);
    ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "%s", msg && *msg ? msg : "PostgreSQL connection failed");
    return finish_error(c, err);
}

/* The part of a DETAIL that may be shown: never the row's values (driver.h:
 * messages hold no parameter values).  "Key (email)=(a@b.c) already exists."
 * keeps the columns and drops the values ("Key (email) already exists.");
 * "Failing row contains (...)." is dropped whole.  Writes into out. */
static const char *detail_without_values(const char *detail, char *out, size_t size) {
    if (!detail || strncmp(detail, "Failing row contains", 20) == 0) return NULL;
    const char *values = strncmp(detail, "Key (", 5) == 0 ? strstr(detail, ")=(") : NULL;
    if (!values) return detail;
    static const char *const tails[] = {") already exists", ") is not present in table",
                                        ") is still referenced from table", ") conflicts with", NULL};
    const char *tail = NULL;
    for (int i = 0; tails[i] && !tail; i++) {
        const char *t = strstr(values, tails[i]);
        for (const char *next = t; next; next = strstr(next + 1, tails[i])) t = next; /* the last one */
        tail = t;
    }
    if (!tail) return NULL; /* a shape we do not know: show nothing rather than a value */
    snprintf(out, size, "%.*s%s", (int)(values - detail + 1), detail, tail + 1);
    return out;
}

/* An error result (r may be NULL: then the connection's message). */
static int error_from_result(ag_driver_conn *c, const PGresult *r, ag_error *err) {
    if (!r) return error_from_conn(c, err);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    char detail_buf[AG_ERROR_MESSAGE_MAX];
    const char *detail =
        detail_without_values(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL), detail_buf, sizeof detail_buf);
    ag_error_kind kind = kind_for_sqlstate(state);
    /* a named statement missing or already there: a pooler moved the session */
    int pooled = state && !c->no_prepare && (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0) && primary &&
                 strstr(primary, c->name_prefix);
    if (primary && pooled) ag_error_set(err, kind, state, "%s%s", primary, POOLER_HINT);
    else if (primary && detail) ag_error_set(err, kind, state, "%s\n%s", primary, detail);
    else if (primary) ag_error_set(err, kind, state, "%s", primary);
    else {
        const char *msg = PQresultErrorMessage(r);
        if (!msg || !*msg) msg = PQerrorMessage(c->pg);
        ag_error_set(err, kind, state, "%s", msg && *msg ? msg : "PostgreSQL error");
    }
    return finish_error(c, err);
}

static int error_if_broken(ag_driver_conn *c, ag_error *err) {
    if (!c->broken && PQstatus(c->pg) == CONNECTION_OK) return 0;
    ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "%s", "PostgreSQL connection is closed");
    err->disconnect = 1;
    return -1;
}

/* --------------------------------------------------------- wire handling */

static int is_error_status(ExecStatusType s) {
    return s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR;
}

/* Reads and discards the results of the command in progress until libpq says
 * it is done (PQgetResult gives NULL), ending any COPY the command started.
 * When err is non-NULL, the first error goes there unless *failed is already
 * set (then *failed is set). */
static void drain(ag_driver_conn *c, ag_error *err, int *failed) {
    PGresult *r;
    while ((r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        int stuck = 0;
        if (st == PGRES_COPY_IN) {
            if (PQputCopyEnd(c->pg, "COPY FROM STDIN is not supported by argent") <= 0) stuck = 1;
        } else if (st == PGRES_COPY_OUT) {
            char *data;
            int n;
            while ((n = PQgetCopyData(c->pg, &data, 0)) > 0) PQfreemem(data);
            if (n == -2) stuck = 1;
            if (err && !*failed) {
                ag_error_set(err, AG_ERR_NOT_SUPPORTED, NULL, "COPY TO STDOUT is not supported");
                *failed = 1;
            }
        } else if (st == PGRES_COPY_BOTH) {
            stuck = 1; /* the replication protocol: nothing to do but give the link up */
        } else if (is_error_status(st) && err && !*failed) {
            error_from_result(c, r, err);
            *failed = 1;
        }
        PQclear(r);
        if (stuck || PQstatus(c->pg) == CONNECTION_BAD) {
            c->broken = 1;
            if (err && !*failed) {
                error_from_conn(c, err);
                *failed = 1;
            }
            return;
        }
    }
    if (err && *failed && PQstatus(c->pg) == CONNECTION_BAD) err->disconnect = 1;
}

static void arena_release(ag_driver_stmt *s) {
    if (s->arena.cap > PG_ARENA_KEEP) {
        ag_buf_free(&s->arena);
        free(s->cells);
        s->cells = NULL;
        s->cells_cap = 0;
    } else {
        ag_buf_reset(&s->arena);
    }
    s->nbuffered = s->next_buffered = s->cur_buffered = 0;
}

/* Copies the one row of r to the end of the arena.  0, or -1 out of memory. */
static int buffer_row(ag_driver_stmt *s, const PGresult *r) {
    size_t n = (size_t)s->ncols;
    if (n == 0) { /* SELECT without columns: rows still count */
        s->nbuffered++;
        return 0;
    }
    if ((s->nbuffered + 1) * n > s->cells_cap) {
        size_t cap = s->cells_cap ? s->cells_cap * 2 : 64 * (n ? n : 1);
        while (cap < (s->nbuffered + 1) * n) cap *= 2;
        pg_cell *cells = ag_realloc(s->cells, cap * sizeof *cells);
        if (!cells) return -1;
        s->cells = cells;
        s->cells_cap = cap;
    }
    pg_cell *row = s->cells + s->nbuffered * n;
    size_t need = 0;
    for (int i = 0; i < s->ncols; i++)
        if (!PQgetisnull(r, 0, i)) need += (size_t)PQgetlength(r, 0, i) + 1;
    if (ag_buf_reserve(&s->arena, need) != 0) return -1;
    for (int i = 0; i < s->ncols; i++) {
        if (PQgetisnull(r, 0, i)) {
            row[i].off = 0;
            row[i].len = -1;
            continue;
        }
        int len = PQgetlength(r, 0, i);
        row[i].off = s->arena.len;
        row[i].len = len;
        memcpy(s->arena.data + s->arena.len, PQgetvalue(r, 0, i), (size_t)len);
        s->arena.len += (size_t)len;
        s->arena.data[s->arena.len++] = '\0';
    }
    s->nbuffered++;
    return 0;
}

static int64_t parse_int64(const char *p);

/* PQcmdTuples for INSERT/UPDATE/DELETE/MERGE, -1 for anything else. */
static int64_t affected_of(const PGresult *r) {
    const char *st = PQcmdStatus((PGresult *)r);
    if (strncmp(st, "INSERT ", 7) == 0 || strncmp(st, "UPDATE ", 7) == 0 || strncmp(st, "DELETE ", 7) == 0 ||
        strncmp(st, "MERGE ", 6) == 0)
        return parse_int64(PQcmdTuples((PGresult *)r));
    return -1;
}

/* The owner's unread rows go into memory so that the wire is free.  Errors
 * (the query failing later, the link dropping, memory) are kept for the
 * owner's fetch to report after the rows that came before them. */
static void buffer_rest(ag_driver_stmt *s) {
    ag_driver_conn *c = s->conn;
    c->owner = NULL;
    s->state = ST_BUFFERED;
    s->nbuffered = s->next_buffered = 0;
    ag_buf_reset(&s->arena);
    int ended = 0;
    PGresult *r;
    while (!ended && (r = PQgetResult(c->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            if (!s->has_deferred && buffer_row(s, r) != 0) {
                ag_error_nomem(&s->deferred);
                s->has_deferred = 1;
            }
        } else {
            ended = 1;
            if (st == PGRES_TUPLES_OK) {
                s->affected = affected_of(r);
            } else if (!s->has_deferred) {
                if (is_error_status(st)) error_from_result(c, r, &s->deferred);
                else
                    ag_error_set(&s->deferred, AG_ERR_INTERFACE, NULL, "unexpected PostgreSQL result status %s",
                                 PQresStatus(st));
                s->has_deferred = 1;
            }
        }
        PQclear(r);
    }
    if (!ended && !s->has_deferred) {
        error_from_conn(c, &s->deferred);
        s->has_deferred = 1;
    }
    drain(c, &s->deferred, &s->has_deferred); /* the trailing NULL */
}

/* Frees the wire for a new command: the current owner's rows go to memory. */
static void release_wire(ag_driver_conn *c) {
    if (c->owner) buffer_rest(c->owner);
}

/* -------------------------------------------------------- value encoding */

static int format_int64(int64_t v, char *out) {
    char tmp[24];
    int n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

/* The shortest of %.15g..%.17g that reads back as d, with '.' as decimal
 * point whatever the locale; NaN and infinities spelled as PostgreSQL does. */
static void format_double(double d, char *out, size_t size) {
    if (isnan(d)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, size, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d) break;
    }
    for (char *p = out; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == 'e' || *p == 'E')) *p = '.';
}

/* Valid UTF-8 without zero bytes (what PostgreSQL accepts as text)? */
static int is_plain_utf8(const unsigned char *p, size_t n) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) { /* eight ASCII bytes, none zero, at a time */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (((w | ((w - ones) & ~w)) & highs) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        if (c == 0) return 0;
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) need = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) need = 2;
        else if (c == 0xED) need = 2, hi = 0x9F; /* no UTF-16 surrogates */
        else if (c >= 0xEE && c <= 0xEF) need = 2;
        else if (c == 0xF0) need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) need = 3, hi = 0x8F;
        else return 0;
        if (n - i <= need) return 0;
        if (p[i + 1] < lo || p[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return 0;
        i += need + 1;
    }
    return 1;
}

/* Text that PostgreSQL's text types cannot hold (a zero byte, or bytes that
 * are not UTF-8) travels as bytea only where the statement wants bytea (the
 * type the server inferred for the parameter: a raw-SQL insert of a Lua
 * string into a bytea column).  Anywhere else it is a DataError: sent as
 * bytea, the server would store its hex text ("\x610062") in a text column,
 * a silent change of the data.  0, or -1 with err. */
static int check_unplain_text(const ag_driver_stmt *s, int i, const ag_value *v, ag_error *err) {
    if (s->nvariants > 0 && s->variants[0].server && s->variants[0].server[i] == OID_BYTEA) return 0;
    if (memchr(v->u.bytes.data, '\0', v->u.bytes.len))
        return ag_error_set(err, AG_ERR_DATA, "22021",
                            "parameter %d: PostgreSQL text cannot hold a zero byte (use a LargeBinary "
                            "/ bytea column for binary data)",
                            i + 1);
    return ag_error_set(err, AG_ERR_DATA, "22021",
                        "parameter %d: the string is not valid UTF-8, which PostgreSQL text requires "
                        "(use a LargeBinary / bytea column for binary data)",
                        i + 1);
}

/* Fills the statement's binding arrays from params.  Text goes through a
 * NUL-terminated copy because libpq reads text-format values as C strings
 * (an ag_value's bytes need not be terminated).  0, or -1 with err (memory,
 * or text that cannot be sent: check_unplain_text). */
static int bind_values(ag_driver_stmt *s, const ag_value *params, ag_error *err) {
    size_t text_total = 0;
    for (int i = 0; i < s->nparams; i++) { /* which text can travel as text */
        const ag_value *v = &params[i];
        s->kinds[i] = PK_NULL;
        if (v->type == AG_VALUE_TEXT && v->u.bytes.len) {
            if (!is_plain_utf8((const unsigned char *)v->u.bytes.data, v->u.bytes.len)) {
                if (check_unplain_text(s, i, v, err) != 0) return -1;
                s->kinds[i] = PK_BYTES;
            } else {
                /* PostgreSQL reads "...+05:00" as a timestamp by dropping the
                 * offset: a different instant, so refuse it as every dialect does */
                if (s->nvariants > 0 && s->variants[0].server && s->variants[0].server[i] == OID_TIMESTAMP &&
                    ag_datetime_has_offset(v->u.bytes.data, v->u.bytes.len))
                    return ag_error_set(err, AG_ERR_DATA, "22007",
                                        "parameter %d: a timestamp without time zone takes no UTC offset "
                                        "(use timestamptz, argent's DateTime{timezone = true})",
                                        i + 1);
                text_total += v->u.bytes.len + 1;
            }
        }
    }
    ag_buf_reset(&s->text);
    if (text_total && ag_buf_reserve(&s->text, text_total) != 0) return ag_error_nomem(err);
    for (int i = 0; i < s->nparams; i++) {
        const ag_value *v = &params[i];
        s->lengths[i] = 0;
        s->formats[i] = 0;
        switch (v->type) {
        case AG_VALUE_INTEGER:
            format_int64(v->u.integer, s->numbers[i]);
            s->values[i] = s->numbers[i];
            s->kinds[i] = PK_INTEGER;
            s->want[i] = OID_INT8;
            break;
        case AG_VALUE_FLOAT:
            format_double(v->u.number, s->numbers[i], sizeof s->numbers[i]);
            s->values[i] = s->numbers[i];
            s->kinds[i] = PK_FLOAT;
            s->want[i] = OID_FLOAT8;
            break;
        case AG_VALUE_BOOLEAN:
            s->values[i] = v->u.boolean ? "t" : "f";
            s->kinds[i] = PK_BOOLEAN;
            s->want[i] = OID_BOOL;
            break;
        case AG_VALUE_TEXT:
            if (v->u.bytes.len == 0) {
                s->values[i] = "";
                s->kinds[i] = PK_TEXT;
                s->want[i] = 0;
                break;
            }
            if (s->kinds[i] != PK_BYTES) {
                /* reserved above: the copy cannot move the buffer */
                s->values[i] = s->text.data + s->text.len;
                ag_buf_append(&s->text, v->u.bytes.data, v->u.bytes.len);
                s->text.len++; /* keep the terminator ag_buf_append wrote */
                s->kinds[i] = PK_TEXT;
                s->want[i] = 0;
                break;
            }
            /* only bytea can carry it, and the statement wants bytea here */
            /* fall through */
        case AG_VALUE_BLOB:
            if (v->u.bytes.len > 0x7fffffff)
                return ag_error_set(err, AG_ERR_DATA, NULL, "parameter %d is too long", i + 1);
            s->values[i] = v->u.bytes.len ? v->u.bytes.data : "";
            s->lengths[i] = (int)v->u.bytes.len;
            s->formats[i] = 1;
            s->kinds[i] = PK_BYTES;
            s->want[i] = OID_BYTEA;
            break;
        case AG_VALUE_NULL:
        default:
            s->values[i] = NULL;
            s->kinds[i] = PK_NULL;
            s->want[i] = 0;
            break;
        }
    }
    return 0;
}

/* Will the server read a value of this kind as it means, given the type the
 * parameter was sent with (0: inferred) and the type it ended up with? */
static int kind_fits(unsigned char kind, Oid sent, Oid server) {
    switch (kind) {
    case PK_NULL: return 1;
    case PK_INTEGER:
        return server == OID_INT8 || server == OID_INT4 || server == OID_INT2 || server == OID_NUMERIC ||
               server == OID_FLOAT8 || server == OID_FLOAT4;
    case PK_FLOAT: return server == OID_FLOAT8 || server == OID_FLOAT4 || server == OID_NUMERIC;
    case PK_BOOLEAN: return server == OID_BOOL;
    case PK_TEXT:
        return sent == 0 || server == OID_TEXT || server == OID_VARCHAR || server == OID_BPCHAR || server == OID_NAME ||
               server == OID_UNKNOWN;
    case PK_BYTES: return server == OID_BYTEA;
    default: return 0;
    }
}

static int variant_fits(const ag_driver_stmt *s, const pg_variant *v) {
    for (int i = 0; i < s->nparams; i++)
        if (!kind_fits(s->kinds[i], v->sent[i], v->server[i])) return 0;
    return 1;
}

/* The variant the bound values fit, the last used one first; -1 if none. */
static int find_variant(ag_driver_stmt *s) {
    if (s->conn->no_prepare || s->nvariants == 0) return -1;
    if (variant_fits(s, &s->variants[s->last_variant])) return s->last_variant;
    for (int i = 0; i < s->nvariants; i++)
        if (i != s->last_variant && variant_fits(s, &s->variants[i])) return s->last_variant = i;
    return -1;
}

/* ------------------------------------------------------------- preparing */

/* Prepares s->sql under a new name with the given parameter types (NULL:
 * all inferred) and describes it, in one pipelined round trip.  On success
 * returns 0, *name_out the name and *desc_out the description (caller
 * clears).  The wire must be free. */
static int prepare_named(ag_driver_stmt *s, const Oid *types, char *name_out, PGresult **desc_out, ag_error *err) {
    ag_driver_conn *c = s->conn;
    *desc_out = NULL;
    if (c->no_prepare) name_out[0] = '\0'; /* the unnamed statement: described here, parsed again by each execute */
    else snprintf(name_out, sizeof((pg_variant *)0)->name, "%s%lu", c->name_prefix, ++c->name_counter);
    if (!PQenterPipelineMode(c->pg)) return error_from_conn(c, err);
    if (!PQsendPrepare(c->pg, name_out, s->sql, types ? s->nparams : 0, types) ||
        !PQsendDescribePrepared(c->pg, name_out) || !PQpipelineSync(c->pg)) {
        c->broken = 1; /* the pipeline is in an unknown state */
        return error_from_conn(c, err);
    }
    PGresult *got[2] = {NULL, NULL};
    int query = 0, nulls = 0, failed = 0, synced = 0;
    while (!synced) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (query < 2) query++;
            if (++nulls > 3 || PQstatus(c->pg) == CONNECTION_BAD) break;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            synced = 1;
            PQclear(r);
        } else if (query < 2 && !got[query]) {
            got[query] = r;
        } else {
            PQclear(r);
        }
    }
    if (!synced) {
        c->broken = 1;
        error_from_conn(c, err);
        failed = 1;
    } else if (!got[0] || PQresultStatus(got[0]) != PGRES_COMMAND_OK) {
        error_from_result(c, got[0], err);
        failed = 1;
    } else if (!got[1] || PQresultStatus(got[1]) != PGRES_COMMAND_OK) {
        error_from_result(c, got[1], err);
        failed = 1;
    }
    if (!PQexitPipelineMode(c->pg)) {
        c->broken = 1;
        if (!failed) error_from_conn(c, err);
        failed = 1;
    }
    PQclear(got[0]);
    if (failed) {
        PQclear(got[1]);
        return -1;
    }
    *desc_out = got[1];
    return 0;
}

/* Queues a prepared name for DEALLOCATE (see the file comment). */
static void queue_deallocate(ag_driver_conn *c, const char *name) {
    if (!name[0] || c->broken || PQstatus(c->pg) != CONNECTION_OK) return;
    if (ag_buf_printf(&c->deallocate_sql, "DEALLOCATE %s;", name) == 0) c->deallocate_count++;
}

static void flush_deallocations(ag_driver_conn *c) {
    if (c->deallocate_count < PG_DEALLOCATE_BATCH || c->owner || c->broken || PQstatus(c->pg) != CONNECTION_OK ||
        PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return;
    PGresult *r = PQexec(c->pg, c->deallocate_sql.data);
    PQclear(r); /* a name already gone (DEALLOCATE ALL by the user) does no harm */
    ag_buf_reset(&c->deallocate_sql);
    c->deallocate_count = 0;
}

/* May execute add a server-side variant?  Never without prepared statements. */
static int may_add_variant(const ag_driver_stmt *s) {
    return !s->conn->no_prepare && !s->undescribed && s->nvariants < PG_MAX_VARIANTS;
}

/* The parameter types of an execution through the unnamed statement.
 * Without prepared statements (no_prepare), values that fit the types the
 * server described at prepare are sent with those types, so that every
 * statement is typed as its named variant 0 would be (`substr(t, $1)` takes
 * an integer as int4); otherwise, and past PG_MAX_VARIANTS, with the
 * values' own types. */
static const Oid *unnamed_types(ag_driver_stmt *s) {
    if (s->conn->no_prepare && s->nvariants > 0 && variant_fits(s, &s->variants[0])) return s->variants[0].server;
    return s->want;
}

/* Adds a variant with the values' own types (s->want).  Returns its index or -1. */
static int add_variant(ag_driver_stmt *s, ag_error *err) {
    pg_variant *v = &s->variants[s->nvariants];
    PGresult *desc;
    if (prepare_named(s, s->want, v->name, &desc, err) != 0) return -1;
    if (PQnparams(desc) != s->nparams) {
        PQclear(desc);
        queue_deallocate(s->conn, v->name);
        return ag_error_set(err, AG_ERR_INTERFACE, NULL, "PostgreSQL changed the parameter count");
    }
    memcpy(v->sent, s->want, sizeof(Oid) * (size_t)s->nparams);
    for (int i = 0; i < s->nparams; i++) v->server[i] = PQparamtype(desc, i);
    PQclear(desc);
    s->last_variant = s->nvariants;
    return s->nvariants++;
}

/* ------------------------------------------------------------ connection */

static void quiet_notices(void *arg, const char *message) {}

static const char *isolation_option(const char *level) {
    static const char *const names[][2] = {
        {"READ COMMITTED", "read\\ committed"},
        {"REPEATABLE READ", "repeatable\\ read"},
        {"SERIALIZABLE", "serializable"},
        {"READ UNCOMMITTED", "read\\ uncommitted"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(level, names[i][0]) == 0) return names[i][1];
    return NULL;
}

static int is_conninfo_keyword(const PQconninfoOption *defs, const char *key) {
    for (const PQconninfoOption *o = defs; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0) return 1;
    return 0;
}

static int pg_connect(const ag_connect_params *params, ag_driver_conn **out, ag_error *err) {
    *out = NULL;
    const ag_url *url = params->url;
    const char *isolation = NULL;
    if (params->isolation_level && !params->no_prepare) { /* no_prepare: BEGIN ISOLATION LEVEL (the engine) */
        isolation = isolation_option(params->isolation_level);
        if (!isolation)
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "invalid isolation_level '%s'", params->isolation_level);
    }

    const char *user_options = NULL, *password = url ? url->password : NULL;
    PQconninfoOption *defs = NULL;
    if (params->nargs && !(defs = PQconndefaults())) return ag_error_nomem(err);
    for (size_t i = 0; i < params->nargs; i++) {
        const char *key = params->args[i].key, *value = params->args[i].value;
        if (!is_conninfo_keyword(defs, key)) {
            PQconninfoFree(defs);
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "unknown PostgreSQL connection option '%s'", key);
        }
        if (strcmp(key, "client_encoding") == 0 && strcasecmp(value, "UTF8") != 0 && strcasecmp(value, "UTF-8") != 0) {
            PQconninfoFree(defs);
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "client_encoding must be UTF8 (argent exchanges text as UTF-8)");
        }
        if (strcmp(key, "options") == 0) {
            if (params->no_prepare) {
                PQconninfoFree(defs);
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "connection option 'options' cannot be used with prepare = false "
                                    "(a transaction-mode pooler refuses startup options)");
            }
            user_options = value;
        }
        if (strcmp(key, "password") == 0) password = value;
    }
    if (defs) PQconninfoFree(defs);

    ag_buf options = AG_BUF_INIT, hosts = AG_BUF_INIT, ports = AG_BUF_INIT;
    int bad = ag_buf_append_str(&options, "-c DateStyle=ISO");
    /* Several hosts go to libpq as its lists, "h1,h2" and "5432,5433" (an
     * empty entry: that host's default). */
    int any_port = 0;
    for (size_t i = 0; url && i <= url->nmore_hosts; i++) {
        const char *h = i == 0 ? url->host : url->more_hosts[i - 1].host;
        int p = i == 0 ? url->port : url->more_hosts[i - 1].port;
        if (i > 0) bad |= ag_buf_append_char(&hosts, ',') | ag_buf_append_char(&ports, ',');
        if (h) bad |= ag_buf_append_str(&hosts, h);
        if (p) {
            bad |= ag_buf_printf(&ports, "%d", p);
            any_port = 1;
        }
    }
    if (isolation) bad |= ag_buf_printf(&options, " -c default_transaction_isolation=%s", isolation);
    if (user_options) bad |= ag_buf_printf(&options, " %s", user_options);

    size_t cap = params->nargs + 8;
    const char **keys = ag_calloc(cap, sizeof *keys), **values = ag_calloc(cap, sizeof *values);
    ag_driver_conn *c = ag_calloc(1, sizeof *c);
    if (bad || !keys || !values || !c || (password && !(c->password = ag_strdup(password)))) {
        ag_buf_free(&options);
        ag_buf_free(&hosts);
        ag_buf_free(&ports);
        free(keys);
        free(values);
        if (c) free(c->password);
        free(c);
        return ag_error_nomem(err);
    }
    /* The URL's parts, then the arguments (libpq takes the last value of a
     * repeated keyword), then what argent needs. */
    size_t n = 0;
#define ADD_KEYWORD(k, v) (keys[n] = (k), values[n] = (v), n++)
    if (hosts.len) ADD_KEYWORD("host", hosts.data);
    if (any_port) ADD_KEYWORD("port", ports.data);
    if (url && url->username) ADD_KEYWORD("user", url->username);
    if (url && url->password) ADD_KEYWORD("password", url->password);
    if (url && url->database) ADD_KEYWORD("dbname", url->database);
    for (size_t i = 0; i < params->nargs; i++)
        if (strcmp(params->args[i].key, "options") != 0) ADD_KEYWORD(params->args[i].key, params->args[i].value);
    if (!params->no_prepare) ADD_KEYWORD("options", options.data);
    ADD_KEYWORD("client_encoding", "UTF8");
#undef ADD_KEYWORD
    keys[n] = NULL;
    values[n] = NULL;

    c->pg = PQconnectdbParams(keys, values, 0);
    free(keys);
    free(values);
    ag_buf_free(&options);
    ag_buf_free(&hosts);
    ag_buf_free(&ports);
    if (!c->pg) {
        free(c->password);
        free(c);
        return ag_error_nomem(err);
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "%s", PQerrorMessage(c->pg));
        trim_message(err);
        if (strstr(err->message, "unsupported startup parameter")) /* PgBouncer */
        {
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof err->message - used, "%s", POOLER_HINT);
        }
        ag_error_mask(err, c->password);
        PQfinish(c->pg);
        free(c->password);
        free(c);
        return -1;
    }
    /* Dates are decoded as ISO text: without the startup option (a pooler)
     * the server's own DateStyle must be ISO already, and a pooler that drops
     * the option must not turn dates into another form unnoticed. */
    const char *datestyle = PQparameterStatus(c->pg, "DateStyle");
    if (datestyle && strncmp(datestyle, "ISO", 3) != 0) {
        ag_error_set(err, AG_ERR_INTERFACE, NULL,
                     "the server's DateStyle is '%s' and argent reads dates as ISO: set DateStyle = 'ISO, MDY' "
                     "in postgresql.conf or for the role (ALTER ROLE ... SET DateStyle = ISO)",
                     datestyle);
        PQfinish(c->pg);
        free(c->password);
        free(c);
        return -1;
    }
    PQsetNoticeProcessor(c->pg, quiet_notices, NULL);
    c->cancel = PQgetCancel(c->pg);
    c->no_prepare = params->no_prepare;
    if (!c->no_prepare) {
        /* Statement names unique beyond this connection: behind a pooler
         * that moves transactions between server connections (which needs
         * prepare = false), a name from another client then fails with
         * "does not exist" instead of running that client's statement. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t nonce =
            (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 30) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)c;
        snprintf(c->name_prefix, sizeof c->name_prefix, "ag%" PRIx64 "_", nonce);
    }
    *out = c;
    return 0;
}

static void pg_close(ag_driver_conn *c) {
    if (!c) return;
    if (c->cancel) PQfreeCancel(c->cancel);
    if (c->pg) PQfinish(c->pg); /* the session's prepared statements go with it */
    ag_buf_free(&c->deallocate_sql);
    free(c->password);
    free(c);
}

/* PQcancel opens its own connection to the server and sends the cancel
 * key: it touches nothing the owner thread uses, so it is safe while that
 * thread waits in PQgetResult.  The canceled statement fails with SQLSTATE
 * 57014 (an OperationalError; inside a transaction, the transaction is
 * then failed until ROLLBACK). */
static int pg_cancel(ag_driver_conn *c, ag_error *err) {
    if (!c->cancel)
        return ag_error_set(err, AG_ERR_OPERATIONAL, NULL,
                            "cannot cancel: libpq gave no cancel handle for this connection");
    char message[256];
    if (!PQcancel(c->cancel, message, (int)sizeof message)) {
        ag_error_set(err, AG_ERR_OPERATIONAL, NULL, "cancel request failed: %s", message);
        trim_message(err);
        return -1;
    }
    return 0;
}

static int pg_ping(ag_driver_conn *c, ag_error *err) {
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    PGresult *r = PQexec(c->pg, "");
    int ok = r && PQresultStatus(r) == PGRES_EMPTY_QUERY;
    if (!ok) {
        error_from_result(c, r, err);
        err->disconnect = 1;
    }
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_exec_simple(ag_driver_conn *c, const char *sql, ag_error *err) {
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    if (!PQsendQuery(c->pg, sql)) return error_from_conn(c, err);
    int failed = 0;
    drain(c, err, &failed);
    return failed ? -1 : 0;
}

static ag_tx_status map_tx(PGTransactionStatusType t) {
    switch (t) {
    case PQTRANS_IDLE: return AG_TX_IDLE;
    case PQTRANS_INTRANS: return AG_TX_ACTIVE;
    case PQTRANS_INERROR: return AG_TX_FAILED;
    default: return AG_TX_UNKNOWN;
    }
}

static ag_tx_status pg_transaction_status(ag_driver_conn *c) {
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK) return AG_TX_UNKNOWN;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    /* While a statement streams, libpq says "a command is in progress": the
     * transaction is what it was when that command was sent. */
    if (t == PQTRANS_ACTIVE && c->owner) t = c->tx_sent;
    return map_tx(t);
}

/* ------------------------------------------------------------ statements */

static void free_stmt(ag_driver_stmt *s) {
    if (!s) return;
    for (int i = 0; i < PG_MAX_VARIANTS; i++) {
        free(s->variants[i].sent);
        free(s->variants[i].server);
    }
    if (s->col_bufs)
        for (int i = 0; i < s->ncols; i++) ag_buf_free(&s->col_bufs[i]);
    free(s->col_bufs);
    PQclear(s->desc);
    PQclear(s->cur);
    free(s->sql);
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->kinds);
    free(s->want);
    free(s->numbers);
    free(s->row);
    free(s->col_kinds);
    free(s->cells);
    ag_buf_free(&s->text);
    ag_buf_free(&s->arena);
    free(s);
}

/* The highest $N in sql outside quotes and comments: the parameter count
 * the server will find.  Texts too short to hold PG_DESCRIBE_MAX_PARAMS
 * parameters are not read. */
static int highest_parameter(const char *sql, size_t len) {
    if (len < (size_t)PG_DESCRIBE_MAX_PARAMS * 2) return 0;
    long highest = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = sql[i];
        if (ch == '\'' || ch == '"') { /* a literal or a quoted name ('' and "" inside are two quotes) */
            while (++i < len && sql[i] != ch) {
            }
            continue;
        }
        if (ch == '-' && i + 1 < len && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n') i++;
            continue;
        }
        if (ch == '/' && i + 1 < len && sql[i + 1] == '*') {
            for (i += 2; i + 1 < len && !(sql[i] == '*' && sql[i + 1] == '/');) i++;
            i++;
            continue;
        }
        if (ch != '$' || i + 1 >= len || !isdigit((unsigned char)sql[i + 1])) continue;
        unsigned char before = i ? (unsigned char)sql[i - 1] : ' ';
        if (isalnum(before) || before == '_' || before == '$' || before >= 0x80) continue; /* in a name */
        long n = 0;
        size_t j = i + 1;
        while (j < len && isdigit((unsigned char)sql[j]) && n < 1000000) n = n * 10 + (sql[j++] - '0');
        if (n > highest) highest = n;
        i = j - 1;
    }
    return highest > 1000000 ? 1000000 : (int)highest;
}

/* An undescribed statement's columns, from the first result of an
 * execution: names kept in s->desc (attributes only), kinds sized to them. */
static int take_columns(ag_driver_stmt *s, const PGresult *r, ag_error *err) {
    int n = PQnfields(r);
    if (s->desc && n == s->ncols) {
        int same = 1;
        for (int i = 0; same && i < n; i++) same = strcmp(PQfname(s->desc, i), PQfname(r, i)) == 0;
        if (same) return 0;
    }
    PGresult *names = PQcopyResult(r, PG_COPYRES_ATTRS);
    unsigned char *kinds = ag_calloc((size_t)(n ? n : 1), sizeof *kinds);
    if (!names || !kinds) {
        PQclear(names);
        free(kinds);
        return ag_error_nomem(err);
    }
    if (s->col_bufs)
        for (int i = 0; i < s->ncols; i++) ag_buf_free(&s->col_bufs[i]);
    free(s->col_bufs);
    s->col_bufs = NULL;
    PQclear(s->desc);
    s->desc = names;
    free(s->col_kinds);
    s->col_kinds = kinds;
    s->ncols = n;
    return 0;
}

static int pg_prepare(ag_driver_conn *c, const char *sql, size_t len, ag_driver_stmt **out, ag_error *err) {
    *out = NULL;
    if (memchr(sql, '\0', len)) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "SQL text contains a zero byte");
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    ag_driver_stmt *s = ag_calloc(1, sizeof *s);
    if (!s || !(s->sql = ag_malloc(len + 1))) {
        free(s);
        return ag_error_nomem(err);
    }
    memcpy(s->sql, sql, len);
    s->sql[len] = '\0';
    s->conn = c;

    PGresult *desc = NULL;
    int highest = highest_parameter(s->sql, len);
    if (highest >= PG_DESCRIBE_MAX_PARAMS) {
        /* Not described: the parameter count from the text, the columns
         * from each execution (unnamed, through PQsendQueryParams). */
        s->undescribed = 1;
        s->nparams = highest;
    } else if (prepare_named(s, NULL, s->variants[0].name, &desc, err) != 0) {
        free_stmt(s);
        return -1;
    } else {
        s->desc = desc;
        s->nparams = PQnparams(desc);
        s->ncols = PQnfields(desc);
    }
    size_t np = (size_t)(s->nparams ? s->nparams : 1), nc = (size_t)(s->ncols ? s->ncols : 1);
    int ok = 1;
    for (int i = 0; i < PG_MAX_VARIANTS; i++) {
        s->variants[i].sent = ag_calloc(np, sizeof(Oid));
        s->variants[i].server = ag_calloc(np, sizeof(Oid));
        ok = ok && s->variants[i].sent && s->variants[i].server;
    }
    s->values = ag_calloc(np, sizeof *s->values);
    s->lengths = ag_calloc(np, sizeof *s->lengths);
    s->formats = ag_calloc(np, sizeof *s->formats);
    s->kinds = ag_calloc(np, sizeof *s->kinds);
    s->want = ag_calloc(np, sizeof *s->want);
    s->numbers = ag_calloc(np, sizeof *s->numbers);
    s->row = ag_calloc(np, sizeof *s->row);
    s->col_kinds = ag_calloc(nc, sizeof *s->col_kinds);
    if (!ok || !s->values || !s->lengths || !s->formats || !s->kinds || !s->want || !s->numbers || !s->row ||
        !s->col_kinds) {
        queue_deallocate(c, s->variants[0].name);
        free_stmt(s);
        return ag_error_nomem(err);
    }
    if (!s->undescribed) {
        for (int i = 0; i < s->nparams; i++) s->variants[0].server[i] = PQparamtype(desc, i);
        s->nvariants = 1;
    }
    *out = s;
    return 0;
}

static int pg_param_count(ag_driver_stmt *s) { return s->nparams; }

static int pg_column_count(ag_driver_stmt *s) { return s->ncols; }

static const char *pg_column_name(ag_driver_stmt *s, int col) {
    if (col < 0 || col >= s->ncols) return NULL;
    return PQfname(s->desc, col);
}

/* Ends the execution; unread rows are read and dropped. */
static void pg_reset(ag_driver_stmt *s) {
    ag_driver_conn *c = s->conn;
    if (s->state == ST_STREAMING && c->owner == s) {
        c->owner = NULL;
        drain(c, NULL, NULL);
    }
    PQclear(s->cur);
    s->cur = NULL;
    s->cur_pending = 0;
    s->has_row = 0;
    s->has_deferred = 0;
    s->value_oom = 0;
    if (s->state == ST_BUFFERED) arena_release(s);
    s->state = ST_IDLE;
}

static void pg_finalize(ag_driver_stmt *s) {
    if (!s) return;
    ag_driver_conn *c = s->conn;
    pg_reset(s);
    for (int i = 0; i < s->nvariants; i++) queue_deallocate(c, s->variants[i].name);
    flush_deallocations(c);
    free_stmt(s);
}

static pg_column_kind column_kind_of(Oid type) {
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID: return CK_INTEGER;
    case OID_FLOAT4:
    case OID_FLOAT8: return CK_FLOAT;
    case OID_BOOL: return CK_BOOLEAN;
    case OID_BYTEA: return CK_BYTEA;
    default: return CK_TEXT;
    }
}

/* Sends the bound execution.  0, or -1 with err. */
static int send_execution(ag_driver_stmt *s, ag_error *err) {
    ag_driver_conn *c = s->conn;
    int v = find_variant(s);
    if (v < 0 && may_add_variant(s) && (v = add_variant(s, err)) < 0) return -1;
    int sent =
        v >= 0 ? PQsendQueryPrepared(c->pg, s->variants[v].name, s->nparams, s->values, s->lengths, s->formats, 0)
               : PQsendQueryParams(c->pg, s->sql, s->nparams, unnamed_types(s), s->values, s->lengths, s->formats, 0);
    if (!sent) return error_from_conn(c, err);
    return 0;
}

static int pg_execute(ag_driver_stmt *s, const ag_value *params, int nparams, ag_error *err) {
    ag_driver_conn *c = s->conn;
    pg_reset(s);
    s->affected = -1;
    if (nparams != s->nparams)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement takes %d parameters, %d given", s->nparams, nparams);
    release_wire(c);
    if (error_if_broken(c, err)) return -1;
    if (bind_values(s, params, err) != 0) return -1;
    PGTransactionStatusType before = PQtransactionStatus(c->pg);
    if (send_execution(s, err) != 0) return -1;
    PQsetSingleRowMode(c->pg);

    PGresult *r = PQgetResult(c->pg);
    if (!r) return error_from_conn(c, err);
    ExecStatusType st = PQresultStatus(r);
    int failed = 0;
    switch (st) {
    case PGRES_SINGLE_TUPLE:
    case PGRES_TUPLES_OK: {
        if (s->undescribed && take_columns(s, r, err) != 0) {
            failed = 1;
            break;
        }
        int n = PQnfields(r) < s->ncols ? PQnfields(r) : s->ncols;
        for (int i = 0; i < n; i++) s->col_kinds[i] = (unsigned char)column_kind_of(PQftype(r, i));
        if (st == PGRES_SINGLE_TUPLE) {
            s->cur = r;
            s->cur_pending = 1;
            s->state = ST_STREAMING;
            c->owner = s;
            c->tx_sent = before;
            return 0;
        }
        s->affected = affected_of(r); /* a query without rows */
        break;
    }
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY: s->affected = affected_of(r); break;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        /* drain() ends the COPY (PQgetResult repeats the COPY state) */
        ag_error_set(err, AG_ERR_NOT_SUPPORTED, NULL, "COPY is not supported by execute");
        failed = 1;
        break;
    default:
        if (is_error_status(st)) error_from_result(c, r, err);
        else ag_error_set(err, AG_ERR_INTERFACE, NULL, "unexpected PostgreSQL result status %s", PQresStatus(st));
        failed = 1;
        break;
    }
    PQclear(r);
    drain(c, err, &failed);
    return failed ? -1 : 0;
}

static int pg_fetch(ag_driver_stmt *s, ag_error *err) {
    ag_driver_conn *c = s->conn;
    if (s->value_oom) {
        pg_reset(s);
        return ag_error_nomem(err);
    }
    if (s->cur_pending) {
        s->cur_pending = 0;
        s->has_row = 1;
        return 1;
    }
    PQclear(s->cur);
    s->cur = NULL;
    s->has_row = 0;
    if (s->state == ST_STREAMING) {
        PGresult *r = PQgetResult(c->pg);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_SINGLE_TUPLE) {
            s->cur = r;
            s->has_row = 1;
            return 1;
        }
        c->owner = NULL;
        s->state = ST_IDLE;
        int failed = 0;
        if (st == PGRES_TUPLES_OK) s->affected = affected_of(r);
        else {
            error_from_result(c, r, err);
            failed = 1;
        }
        PQclear(r);
        if (r) drain(c, err, &failed);
        return failed ? -1 : 0;
    }
    if (s->state == ST_BUFFERED) {
        if (s->next_buffered < s->nbuffered) {
            s->cur_buffered = s->next_buffered++;
            s->has_row = 1;
            return 1;
        }
        arena_release(s);
        s->state = ST_IDLE;
        if (s->has_deferred) {
            s->has_deferred = 0;
            *err = s->deferred;
            return -1;
        }
    }
    return 0;
}

static int64_t parse_int64(const char *p) {
    int neg = *p == '-';
    if (neg || *p == '+') p++;
    uint64_t u = 0;
    while (*p >= '0' && *p <= '9') u = u * 10 + (uint64_t)(*p++ - '0');
    if (!neg) return (int64_t)u;
    /* in unsigned arithmetic: negating what does not fit (only a malformed
     * text: the server's int8 stops at -2^63) must not overflow */
    return u <= (uint64_t)INT64_MAX ? -(int64_t)u : (int64_t)(0 - u);
}

/* PostgreSQL prints floats with '.', strtod reads the locale's decimal point. */
static double parse_double(const char *p, size_t len) {
    char *end;
    double d = strtod(p, &end);
    if (end == p + len) return d;
    const char *point = localeconv()->decimal_point;
    char tmp[64];
    if (len >= sizeof tmp || !point || !point[0] || point[1]) return d;
    memcpy(tmp, p, len + 1);
    char *dot = strchr(tmp, '.');
    if (dot) *dot = point[0];
    return strtod(tmp, NULL);
}

static int hex_value(unsigned char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int is_octal(char ch) { return ch >= '0' && ch <= '7'; }

/* Decodes bytea text ("\x..." hex, or the older escape form) into out. */
static int decode_bytea(const char *p, size_t len, ag_buf *out) {
    ag_buf_reset(out);
    if (ag_buf_reserve(out, len) != 0) return -1; /* decoded is never longer */
    unsigned char *o = (unsigned char *)out->data;
    size_t n = 0;
    if (len >= 2 && p[0] == '\\' && p[1] == 'x') {
        for (size_t i = 2; i + 1 < len; i += 2) {
            int hi = hex_value((unsigned char)p[i]), lo = hex_value((unsigned char)p[i + 1]);
            if (hi < 0 || lo < 0) break;
            o[n++] = (unsigned char)(hi << 4 | lo);
        }
    } else {
        for (size_t i = 0; i < len;) {
            if (p[i] != '\\') {
                o[n++] = (unsigned char)p[i++];
            } else if (i + 1 < len && p[i + 1] == '\\') {
                o[n++] = '\\';
                i += 2;
            } else if (i + 3 < len && is_octal(p[i + 1]) && is_octal(p[i + 2]) && is_octal(p[i + 3])) {
                o[n++] = (unsigned char)((unsigned)(p[i + 1] - '0') << 6 | (unsigned)(p[i + 2] - '0') << 3 |
                                         (unsigned)(p[i + 3] - '0'));
                i += 4;
            } else { /* not the server's escape form: the bytes as they are */
                o[n++] = (unsigned char)p[i++];
            }
        }
    }
    out->len = n;
    out->data[n] = '\0';
    return 0;
}

static void pg_column_value(ag_driver_stmt *s, int col, ag_value *out) {
    out->type = AG_VALUE_NULL;
    if (!s->has_row || col < 0 || col >= s->ncols) return;
    const char *p;
    size_t len;
    if (s->cur) {
        if (PQgetisnull(s->cur, 0, col)) return;
        p = PQgetvalue(s->cur, 0, col);
        len = (size_t)PQgetlength(s->cur, 0, col);
    } else {
        const pg_cell *cell = &s->cells[s->cur_buffered * (size_t)s->ncols + (size_t)col];
        if (cell->len < 0) return;
        p = s->arena.data + cell->off;
        len = (size_t)cell->len;
    }
    switch ((pg_column_kind)s->col_kinds[col]) {
    case CK_INTEGER:
        out->type = AG_VALUE_INTEGER;
        out->u.integer = parse_int64(p);
        return;
    case CK_FLOAT:
        out->type = AG_VALUE_FLOAT;
        out->u.number = parse_double(p, len);
        return;
    case CK_BOOLEAN:
        out->type = AG_VALUE_BOOLEAN;
        out->u.boolean = p[0] == 't';
        return;
    case CK_BYTEA:
        if (!s->col_bufs && !(s->col_bufs = ag_calloc((size_t)s->ncols, sizeof *s->col_bufs))) {
            s->value_oom = 1;
            return;
        }
        if (decode_bytea(p, len, &s->col_bufs[col]) != 0) {
            s->value_oom = 1;
            return;
        }
        out->type = AG_VALUE_BLOB;
        out->u.bytes.data = s->col_bufs[col].data;
        out->u.bytes.len = s->col_bufs[col].len;
        return;
    case CK_TEXT:
    default:
        out->type = AG_VALUE_TEXT;
        out->u.bytes.data = p;
        out->u.bytes.len = len;
        return;
    }
}

static int64_t pg_rows_affected(ag_driver_stmt *s) { return s->affected; }

static int pg_last_insert_id(ag_driver_stmt *s, int64_t *out) { return -1; }

/* ---------------------------------------------------------- execute_many */

/* Reads the results of `pending` pipelined statements and the sync after
 * them.  Rows affected are added to *total; the first statement error goes
 * to err (*failed set).  Returns 0, or -1 when the connection is lost. */
static int read_batch(ag_driver_conn *c, int pending, int64_t *total, ag_error *err, int *failed) {
    int nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (PQstatus(c->pg) == CONNECTION_BAD || ++nulls > pending + 1) break;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return 0;
        }
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            int64_t n = affected_of(r);
            if (n > 0) *total += n;
        } else if (st != PGRES_PIPELINE_ABORTED && !*failed) {
            if (is_error_status(st)) error_from_result(c, r, err);
            else
                ag_error_set(err, AG_ERR_NOT_SUPPORTED, NULL, "unexpected PostgreSQL result status %s in executemany",
                             PQresStatus(st));
            *failed = 1;
        }
        PQclear(r);
    }
    c->broken = 1; /* results and syncs no longer line up */
    if (!*failed) error_from_conn(c, err);
    err->disconnect = 1;
    *failed = 1;
    return -1;
}

static int pg_execute_many(ag_driver_stmt *s, int nparams, ag_row_source next, void *ctx, int64_t *rows_affected,
                           ag_error *err) {
    ag_driver_conn *c = s->conn;
    *rows_affected = 0;
    if (s->state != ST_IDLE || s->cur) pg_reset(s);
    s->affected = -1;
    if (nparams != s->nparams)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "statement takes %d parameters, %d given", s->nparams, nparams);
    release_wire(c);
    if (error_if_broken(c, err)) return -1;

    int got = next(ctx, s->row, nparams, err);
    if (got <= 0) return got < 0 ? -1 : 0;
    if (bind_values(s, s->row, err) != 0) return -1;
    /* The first row picks (or prepares) the variant before the pipeline starts. */
    if (find_variant(s) < 0 && may_add_variant(s) && add_variant(s, err) < 0) return -1;

    if (!PQenterPipelineMode(c->pg)) return error_from_conn(c, err);
    int64_t total = 0;
    int failed = 0, lost = 0, pending = 0;
    ag_error source_err;
    int source_failed = 0;
    for (;;) {
        int v = find_variant(s);
        int sent =
            v >= 0
                ? PQsendQueryPrepared(c->pg, s->variants[v].name, s->nparams, s->values, s->lengths, s->formats, 0)
                : PQsendQueryParams(c->pg, s->sql, s->nparams, unnamed_types(s), s->values, s->lengths, s->formats, 0);
        if (!sent) {
            error_from_conn(c, err);
            failed = lost = 1;
            break;
        }
        if (++pending >= PG_PIPELINE_BATCH) {
            if (!PQpipelineSync(c->pg)) {
                error_from_conn(c, err);
                failed = lost = 1;
                break;
            }
            if (read_batch(c, pending, &total, err, &failed) != 0) lost = 1;
            pending = 0;
            if (failed) break;
        }
        got = next(ctx, s->row, nparams, &source_err);
        if (got == 0) break;
        if (got < 0 || bind_values(s, s->row, &source_err) != 0) {
            source_failed = 1;
            break;
        }
    }
    if (pending > 0 && !lost) {
        if (!PQpipelineSync(c->pg)) {
            if (!failed) error_from_conn(c, err);
            failed = lost = 1;
        } else if (read_batch(c, pending, &total, err, &failed) != 0) {
            lost = 1;
        }
    }
    if (!PQexitPipelineMode(c->pg)) {
        /* results still queued: only when the link failed mid-way */
        c->broken = 1;
        if (!failed) error_from_conn(c, err);
        failed = lost = 1;
    }
    *rows_affected = total;
    if (failed) {
        if (lost) {
            c->broken = 1;
            err->disconnect = 1;
        }
        return -1;
    }
    if (source_failed) {
        *err = source_err;
        return -1;
    }
    s->affected = total;
    return 0;
}

const ag_driver ag_driver_postgres = {
    .name = "postgresql",
    .dialect = AG_DIALECT_POSTGRESQL,
    .connect = pg_connect,
    .close = pg_close,
    .ping = pg_ping,
    .exec_simple = pg_exec_simple,
    .transaction_status = pg_transaction_status,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .param_count = pg_param_count,
    .execute = pg_execute,
    .fetch = pg_fetch,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .column_value = pg_column_value,
    .rows_affected = pg_rows_affected,
    .last_insert_id = pg_last_insert_id,
    .reset = pg_reset,
    .execute_many = pg_execute_many,
    .cancel = pg_cancel,
};

/* ---------------------------------------------------------- decode.h */

int ag_postgres_decode_text(unsigned int type_oid, const char *text, size_t len, ag_decoded_fn use, void *ctx) {
    /* one buffered row of one column, read as pg_column_value reads it */
    ag_driver_stmt s;
    memset(&s, 0, sizeof s);
    unsigned char kind = (unsigned char)column_kind_of((Oid)type_oid);
    pg_cell cell = {0, (long)len};
    s.ncols = 1;
    s.has_row = 1;
    s.col_kinds = &kind;
    s.cells = &cell;
    if (ag_buf_reserve(&s.arena, len + 1) != 0) return -1;
    memcpy(s.arena.data, text, len);
    s.arena.data[len] = '\0'; /* as buffer_row stores it, and as libpq gives it */
    s.arena.len = len + 1;
    ag_value v;
    pg_column_value(&s, 0, &v);
    int rc = s.value_oom ? -1 : 0;
    if (rc == 0) use(&v, ctx);
    if (s.col_bufs) ag_buf_free(&s.col_bufs[0]);
    free(s.col_bufs);
    ag_buf_free(&s.arena);
    return rc;
}
