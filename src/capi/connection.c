/*
 * connection.c -- the public connection: close, execute (parameter
 * conversion and the `?` / `:name` mapping), execute_script, and the
 * transaction functions over the core's ag_tx.
 *
 * Parameters are checked and converted into the connection's scratch array
 * after the statement is prepared (the placeholder map says how many it
 * takes and in which order) and before it runs, so a bad parameter is an
 * ArgumentError that leaves the database untouched.  The result handle is
 * allocated before the statement runs, so running out of memory cannot
 * leave an executed statement without an owner.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "capi/capi.h"

void argent_connection_close(argent_connection *conn) {
    if (!conn) return;
    ag_capi_results_orphan(conn);
    ag_conn_close(conn->conn); /* releases the statements, rolls back, checks in, drops the engine */
    free(conn->scratch);
    free(conn);
}

argent_engine *argent_connection_engine(const argent_connection *conn) {
    return conn ? ag_capi_public_engine(ag_conn_engine(conn->conn)) : NULL;
}

static int ensure_scratch(argent_connection *conn, int n, argent_error *err) {
    if (n <= conn->scratch_cap) return 0;
    int cap = conn->scratch_cap ? conn->scratch_cap : 8;
    while (cap < n) cap *= 2;
    ag_value *p = ag_realloc(conn->scratch, (size_t)cap * sizeof *p);
    if (!p) return ag_capi_failf(err, ARGENT_ERR_MEMORY, "not enough memory");
    conn->scratch = p;
    conn->scratch_cap = cap;
    return 0;
}

static int convert_param(const argent_value *in, int index, ag_value *out, argent_error *err) {
    switch (in->type) {
    case ARGENT_NULL: out->type = AG_VALUE_NULL; return 0;
    case ARGENT_INT64:
        out->type = AG_VALUE_INTEGER;
        out->u.integer = in->v.i;
        return 0;
    case ARGENT_DOUBLE:
        out->type = AG_VALUE_FLOAT;
        out->u.number = in->v.d;
        return 0;
    case ARGENT_BOOL:
        out->type = AG_VALUE_BOOLEAN;
        out->u.boolean = in->v.b != 0;
        return 0;
    case ARGENT_TEXT:
    case ARGENT_BLOB:
        if (!in->v.bytes.data && in->v.bytes.len)
            return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "parameter %d has %zu bytes at a NULL pointer", index + 1,
                                 in->v.bytes.len);
        out->type = in->type == ARGENT_TEXT ? AG_VALUE_TEXT : AG_VALUE_BLOB;
        out->u.bytes.data = in->v.bytes.data ? in->v.bytes.data : "";
        out->u.bytes.len = in->v.bytes.len;
        return 0;
    }
    return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "parameter %d has an unknown type tag %d", index + 1, (int)in->type);
}

/* Fills conn->scratch with the statement's slots from the caller's params.
 * Returns the slot count, or -1 with err (nothing executed). */
static int bind_params(argent_connection *conn, ag_stmt *stmt, const argent_value *params, int nparams,
                       argent_error *err) {
    const ag_rewritten_sql *map = &stmt->params;
    int wanted = map->style == AG_PARAMS_NAMED ? map->nnames : map->nslots;
    if (nparams != wanted)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "the statement takes %d parameter%s but %d %s given", wanted,
                             wanted == 1 ? "" : "s", nparams, nparams == 1 ? "was" : "were");
    if (ensure_scratch(conn, map->nslots, err) != 0) return -1;
    for (int i = 0; i < map->nslots; i++) {
        int source = map->slot_source ? map->slot_source[i] : i;
        if (convert_param(&params[source], source, &conn->scratch[i], err) != 0) return -1;
    }
    /* Every parameter fills at least one slot (each name occurs at least
     * once), so every one has been checked. */
    return map->nslots;
}

/* Copies the column labels of an executed statement into r. */
static int copy_names(argent_result *r, ag_stmt *stmt, argent_error *err) {
    const ag_driver *d = stmt->driver;
    size_t total = 0;
    for (int i = 0; i < r->ncols; i++) {
        const char *name = d->column_name(stmt->dstmt, i);
        total += strlen(name ? name : "") + 1;
    }
    char **names = ag_malloc((size_t)r->ncols * sizeof *names + total);
    if (!names) return ag_capi_failf(err, ARGENT_ERR_MEMORY, "not enough memory");
    char *p = (char *)(names + r->ncols);
    for (int i = 0; i < r->ncols; i++) {
        const char *name = d->column_name(stmt->dstmt, i);
        size_t n = strlen(name ? name : "") + 1;
        memcpy(p, name ? name : "", n);
        names[i] = p;
        p += n;
    }
    r->names = names;
    return 0;
}

int argent_execute(argent_connection *conn, const char *sql, const argent_value *params, int nparams,
                   argent_result **out, argent_error *err) {
    if (out) *out = NULL;
    if (!conn || !sql)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_execute: %s is NULL", conn ? "sql" : "conn");
    if (nparams < 0)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_execute: nparams is negative (%d)", nparams);
    if (nparams > 0 && !params)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_execute: nparams is %d but params is NULL", nparams);
    argent_result *r = NULL;
    if (out) {
        r = ag_calloc(1, sizeof *r);
        if (!r) return ag_capi_failf(err, ARGENT_ERR_MEMORY, "not enough memory");
        r->rowcount = -1;
    }
    ag_error cerr;
    ag_stmt *stmt = ag_conn_prepare(conn->conn, sql, strlen(sql), 1, &cerr);
    if (!stmt) {
        free(r);
        return ag_capi_fail(err, &cerr);
    }
    int n = bind_params(conn, stmt, params, nparams, err);
    if (n < 0) {
        ag_stmt_release(stmt);
        free(r);
        return -1;
    }
    if (ag_stmt_execute(stmt, conn->scratch, n, &cerr) != 0) {
        ag_stmt_release(stmt);
        free(r);
        return ag_capi_fail(err, &cerr);
    }
    if (!r) {
        ag_stmt_release(stmt); /* unread rows are discarded */
        return 0;
    }
    const ag_driver *d = stmt->driver;
    r->ncols = d->column_count(stmt->dstmt);
    r->rowcount = d->rows_affected(stmt->dstmt);
    int64_t id;
    if (d->last_insert_id(stmt->dstmt, &id) == 0) {
        r->has_lastrowid = 1;
        r->lastrowid = id;
    }
    if (r->ncols > 0 && copy_names(r, stmt, err) != 0) {
        ag_stmt_release(stmt);
        free(r);
        return -1;
    }
    if (r->ncols == 0) {
        ag_stmt_release(stmt);
        r->state = AG_CAPI_RESULT_DONE;
    } else {
        r->state = AG_CAPI_RESULT_PENDING;
        r->stmt = stmt;
        r->conn = conn;
        r->next = conn->results;
        if (conn->results) conn->results->prev = r;
        conn->results = r;
    }
    *out = r;
    return 0;
}

int argent_execute_script(argent_connection *conn, const char *sql, argent_error *err) {
    if (!conn || !sql)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_execute_script: %s is NULL", conn ? "sql" : "conn");
    ag_error cerr;
    if (ag_conn_exec_simple(conn->conn, sql, &cerr) != 0) return ag_capi_fail(err, &cerr);
    return 0;
}

/* ---- transactions */

static argent_tx to_public_tx(ag_tx tx) {
    argent_tx out;
    out.level_ = tx.depth;
    out.id_ = tx.id;
    return out;
}

static ag_tx to_core_tx(argent_tx tx) {
    ag_tx out = {tx.level_, tx.id_};
    return out;
}

static int begin(argent_connection *conn, int nested, argent_tx *tx, argent_error *err) {
    if (!conn || !tx)
        return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "%s: %s is NULL",
                             nested ? "argent_begin_nested" : "argent_begin", conn ? "tx" : "conn");
    ag_tx core;
    ag_error cerr;
    if (ag_conn_begin(conn->conn, nested, &core, &cerr) != 0) return ag_capi_fail(err, &cerr);
    *tx = to_public_tx(core);
    return 0;
}

int argent_begin(argent_connection *conn, argent_tx *tx, argent_error *err) { return begin(conn, 0, tx, err); }

int argent_begin_nested(argent_connection *conn, argent_tx *tx, argent_error *err) { return begin(conn, 1, tx, err); }

int argent_commit(argent_connection *conn, argent_tx tx, argent_error *err) {
    if (!conn) return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_commit: conn is NULL");
    ag_error cerr;
    if (ag_conn_commit(conn->conn, to_core_tx(tx), &cerr) != 0) return ag_capi_fail(err, &cerr);
    return 0;
}

int argent_rollback(argent_connection *conn, argent_tx tx, argent_error *err) {
    if (!conn) return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_rollback: conn is NULL");
    ag_error cerr;
    if (ag_conn_rollback(conn->conn, to_core_tx(tx), &cerr) != 0) return ag_capi_fail(err, &cerr);
    return 0;
}

int argent_tx_is_active(const argent_connection *conn, argent_tx tx) {
    return conn ? ag_conn_tx_active(conn->conn, to_core_tx(tx)) : 0;
}

int argent_in_transaction(const argent_connection *conn) { return conn ? ag_conn_in_transaction(conn->conn) : 0; }
