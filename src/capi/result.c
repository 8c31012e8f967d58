/*
 * result.c -- the public result: stepping through rows, the typed column
 * readers with their conversions, rowcount, lastrowid, close.
 *
 * A result holds its statement only while rows remain: the statement goes
 * back to the connection's cache as soon as the last row is read (so that
 * the next execute of the same SQL reuses it), and at once for statements
 * without rows.  What must outlive the statement (labels, rowcount,
 * lastrowid) is copied.  Closing the connection first detaches its results
 * (ag_capi_results_orphan), so a result never reaches a freed statement.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "capi/capi.h"

/* Gives the statement back and leaves the connection's list, ending in
 * state `state`.  Rowcount is read again first: with RETURNING, SQLite
 * knows it only after the last row. */
static void detach(argent_result *r, ag_capi_result_state state) {
    if (r->stmt) {
        if (state == AG_CAPI_RESULT_DONE) r->rowcount = r->stmt->driver->rows_affected(r->stmt->dstmt);
        ag_stmt_release(r->stmt);
        r->stmt = NULL;
    }
    if (r->conn) {
        if (r->prev) r->prev->next = r->next;
        else r->conn->results = r->next;
        if (r->next) r->next->prev = r->prev;
        r->prev = r->next = NULL;
        r->conn = NULL;
    }
    r->state = state;
}

void ag_capi_results_orphan(argent_connection *conn) {
    while (conn->results) detach(conn->results, AG_CAPI_RESULT_ORPHANED);
}

int argent_result_next(argent_result *res, argent_error *err) {
    if (!res) return ag_capi_failf(err, ARGENT_ERR_ARGUMENT, "argent_result_next: res is NULL");
    switch (res->state) {
    case AG_CAPI_RESULT_DONE: return 0;
    case AG_CAPI_RESULT_ORPHANED:
        return ag_capi_failf(err, ARGENT_ERR_INVALID_REQUEST, "the connection of this result is closed");
    case AG_CAPI_RESULT_FAILED:
        return ag_capi_failf(err, ARGENT_ERR_INVALID_REQUEST, "this result ended with an error; its rows are gone");
    case AG_CAPI_RESULT_PENDING:
    case AG_CAPI_RESULT_ROW: break;
    }
    ag_error cerr;
    int rc = ag_stmt_fetch(res->stmt, &cerr);
    if (rc == 1) {
        res->state = AG_CAPI_RESULT_ROW;
        return 1;
    }
    if (rc == 0) {
        detach(res, AG_CAPI_RESULT_DONE);
        return 0;
    }
    detach(res, AG_CAPI_RESULT_FAILED);
    return ag_capi_fail(err, &cerr);
}

int argent_result_column_count(const argent_result *res) { return res ? res->ncols : 0; }

const char *argent_result_column_name(const argent_result *res, int col) {
    if (!res || col < 0 || col >= res->ncols) return NULL;
    return res->names[col];
}

/* The current row's value of col; 0 when there is none (no row, bad col). */
static int current_value(argent_result *res, int col, ag_value *out) {
    if (!res || res->state != AG_CAPI_RESULT_ROW || col < 0 || col >= res->ncols) return 0;
    res->stmt->driver->column_value(res->stmt->dstmt, col, out);
    return 1;
}

int argent_result_column_type(argent_result *res, int col) {
    ag_value v;
    if (!current_value(res, col, &v)) return ARGENT_NO_VALUE;
    switch (v.type) {
    case AG_VALUE_INTEGER: return ARGENT_INT64;
    case AG_VALUE_FLOAT: return ARGENT_DOUBLE;
    case AG_VALUE_TEXT: return ARGENT_TEXT;
    case AG_VALUE_BLOB: return ARGENT_BLOB;
    case AG_VALUE_BOOLEAN: return ARGENT_BOOL;
    case AG_VALUE_NULL: break;
    }
    return ARGENT_NULL;
}

int argent_result_column_is_null(argent_result *res, int col) {
    ag_value v;
    return !current_value(res, col, &v) || v.type == AG_VALUE_NULL;
}

/* A NUL-terminated copy of at most size - 1 bytes of text, for strtoll and
 * strtod (the driver's text need not end where the number does). */
static void number_prefix(const ag_value *v, char *buf, size_t size) {
    size_t n = v->u.bytes.len < size - 1 ? v->u.bytes.len : size - 1;
    memcpy(buf, v->u.bytes.data, n);
    buf[n] = '\0';
}

static int64_t double_to_int64(double d) {
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

int64_t argent_result_column_int64(argent_result *res, int col) {
    ag_value v;
    if (!current_value(res, col, &v)) return 0;
    switch (v.type) {
    case AG_VALUE_INTEGER: return v.u.integer;
    case AG_VALUE_BOOLEAN: return v.u.boolean ? 1 : 0;
    case AG_VALUE_FLOAT: return double_to_int64(v.u.number);
    case AG_VALUE_TEXT: {
        char buf[64];
        number_prefix(&v, buf, sizeof buf);
        return (int64_t)strtoll(buf, NULL, 10); /* saturates at the range, as documented */
    }
    case AG_VALUE_BLOB:
    case AG_VALUE_NULL: break;
    }
    return 0;
}

/* The C library's decimal point in the current locale ('.' or ','), found
 * by formatting rather than with localeconv(), which writes a static struct
 * and so races when several threads call it. */
static char decimal_point(void) {
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    return probe[1];
}

/* strtod reads the locale's decimal point; databases write '.'. */
static double parse_double(char *buf) {
    char point = decimal_point();
    if (point != '.') {
        char *dot = strchr(buf, '.');
        if (dot) *dot = point;
    }
    return strtod(buf, NULL);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d, with '.' as
 * the decimal point whatever the locale. */
static void format_double(double d, char *out, size_t size) {
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(out, size, "%.*g", digits, d);
        if (digits == 17 || strtod(out, NULL) == d) break;
    }
    char point = decimal_point();
    char *p = point != '.' ? strchr(out, point) : NULL;
    if (p) *p = '.';
}

double argent_result_column_double(argent_result *res, int col) {
    ag_value v;
    if (!current_value(res, col, &v)) return 0;
    switch (v.type) {
    case AG_VALUE_FLOAT: return v.u.number;
    case AG_VALUE_INTEGER: return (double)v.u.integer;
    case AG_VALUE_BOOLEAN: return v.u.boolean ? 1.0 : 0.0;
    case AG_VALUE_TEXT: {
        char buf[128];
        number_prefix(&v, buf, sizeof buf);
        return parse_double(buf);
    }
    case AG_VALUE_BLOB:
    case AG_VALUE_NULL: break;
    }
    return 0;
}

/* The column's conversion buffer, emptied; NULL when memory runs out. */
static ag_buf *convert_buffer(argent_result *res, int col) {
    if (!res->convert && !(res->convert = ag_calloc((size_t)res->ncols, sizeof *res->convert))) return NULL;
    ag_buf *b = &res->convert[col];
    ag_buf_reset(b);
    return b;
}

const char *argent_result_column_text(argent_result *res, int col, size_t *len) {
    if (len) *len = 0;
    ag_value v;
    if (!current_value(res, col, &v)) return NULL;
    if (v.type == AG_VALUE_NULL) return NULL;
    /* Even text is copied: driver.h does not promise a zero byte after a
     * value's bytes (SQLite and libpq put one there; a driver reading into
     * bound buffers need not), and this function does.  The copy goes to a
     * buffer the result reuses; argent_result_column_blob is the zero-copy
     * way. */
    ag_buf *b = convert_buffer(res, col);
    if (!b) return NULL;
    int rc;
    switch (v.type) {
    case AG_VALUE_INTEGER: rc = ag_buf_printf(b, "%lld", (long long)v.u.integer); break;
    case AG_VALUE_FLOAT: {
        char num[64];
        format_double(v.u.number, num, sizeof num);
        rc = ag_buf_append_str(b, num);
        break;
    }
    case AG_VALUE_BOOLEAN: rc = ag_buf_append_str(b, v.u.boolean ? "true" : "false"); break;
    default: rc = ag_buf_append(b, v.u.bytes.data, v.u.bytes.len); break; /* text or blob, NUL-terminated */
    }
    if (rc != 0 || !b->data) return NULL;
    if (len) *len = b->len;
    return b->data;
}

const void *argent_result_column_blob(argent_result *res, int col, size_t *len) {
    if (len) *len = 0;
    ag_value v;
    if (!current_value(res, col, &v)) return NULL;
    if (v.type != AG_VALUE_TEXT && v.type != AG_VALUE_BLOB) return NULL;
    if (len) *len = v.u.bytes.len;
    return v.u.bytes.data ? v.u.bytes.data : "";
}

int64_t argent_result_rowcount(const argent_result *res) { return res ? res->rowcount : -1; }

int argent_result_lastrowid(const argent_result *res, int64_t *out) {
    if (!res || !res->has_lastrowid) return 0;
    if (out) *out = res->lastrowid;
    return 1;
}

void argent_result_close(argent_result *res) {
    if (!res) return;
    detach(res, AG_CAPI_RESULT_DONE);
    if (res->convert) {
        for (int i = 0; i < res->ncols; i++) ag_buf_free(&res->convert[i]);
        free(res->convert);
    }
    free(res->names);
    free(res);
}
