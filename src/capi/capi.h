/*
 * capi.h -- what the files of the public C API (src/argent.h) share: the
 * structs behind its opaque handles and the conversions between the public
 * types and the core's.
 *
 * An argent_engine IS an ag_engine: the public pointer is the core pointer
 * under another name, so that a Lua argent.Engine userdata (which holds an
 * ag_engine reference) and the C host share one reference count.  A
 * connection and a result are small wrappers that add what the C API needs
 * to detect misuse instead of crashing: a connection knows its results, so
 * that closing it ends them; a result copies its column labels, so that
 * they outlive its statement.
 */
#ifndef ARGENT_CAPI_CAPI_H
#define ARGENT_CAPI_CAPI_H

#include "argent.h"
#include "base/buf.h"
#include "engine/engine.h"

struct argent_connection {
    ag_conn *conn;
    argent_result *results; /* results still holding a statement of this connection */
    ag_value *scratch;      /* the parameters of the statement being executed */
    int scratch_cap;
};

typedef enum ag_capi_result_state {
    AG_CAPI_RESULT_PENDING, /* executed, no row read yet */
    AG_CAPI_RESULT_ROW,     /* a row is current */
    AG_CAPI_RESULT_DONE,    /* every row read (or none to read) */
    AG_CAPI_RESULT_FAILED,  /* reading a row failed */
    AG_CAPI_RESULT_ORPHANED /* its connection was closed before the rows were read */
} ag_capi_result_state;

/* Invariant: stmt and conn are non-NULL exactly in the states PENDING and
 * ROW, and then the result is on conn->results. */
struct argent_result {
    argent_connection *conn;
    ag_stmt *stmt;
    ag_capi_result_state state;
    int ncols;
    char **names;    /* ncols labels; the strings live in the same allocation */
    ag_buf *convert; /* per column: the NUL-terminated copy argent_result_column_text gives */
    int64_t rowcount;
    int has_lastrowid;
    int64_t lastrowid;
    argent_result *prev, *next; /* on conn->results */
};

static inline ag_engine *ag_capi_engine(argent_engine *engine) { return (ag_engine *)(void *)engine; }
static inline argent_engine *ag_capi_public_engine(ag_engine *engine) { return (argent_engine *)(void *)engine; }

/* Copies a core error into the caller's public one (err may be NULL).
 * Returns -1, for `return ag_capi_fail(...)`. */
int ag_capi_fail(argent_error *err, const ag_error *core);

/* Fills the caller's error directly (err may be NULL).  Returns -1. */
int ag_capi_failf(argent_error *err, argent_error_kind kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Detaches the results of conn before it closes (connection.c, result.c). */
void ag_capi_results_orphan(argent_connection *conn);

#endif
