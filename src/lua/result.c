/*
 * result.c -- the Result userdata: rows() and tuples() stream the cursor one
 * row at a time (constant memory); all, first, one, one_or_none, scalar,
 * scalars, columns; fields rowcount and lastrowid; close.
 *
 * A result owns its statement until the last row is read (then the statement
 * goes back to the connection's cache at once) or until close/__gc.  User
 * value 1 is the connection (kept alive); user value 2 the column labels
 * (shared with later results of the same statement: see push_labels).
 * Closing the connection releases every statement it lent out, so a result
 * checks its connection before touching its statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/datetime.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"

struct ag_lua_result {
    ag_stmt *stmt; /* NULL once finished or closed */
    ag_lua_conn *conn;
    int closed;
    int ncols; /* 0: the statement returns no rows */
    lua_Integer rowcount;
    int has_lastrowid;
    lua_Integer lastrowid;
    ag_sqltype *types; /* argent types of the columns (compiled statements), or NULL */
    int ntypes;
    /* types lives here when it fits: no malloc and free per execution */
    ag_sqltype inline_types[8];
};

const char ag_lua_result_mt_key = 0;

static void free_types(ag_lua_result *r) {
    if (r->types != r->inline_types) free(r->types);
    r->types = NULL;
    r->ntypes = 0;
}

ag_lua_result *ag_lua_new_result(lua_State *L, int conn_idx) {
    conn_idx = lua_absindex(L, conn_idx);
    ag_lua_result *r = ag_lua_newuserdata(L, sizeof *r, 2);
    memset(r, 0, sizeof *r);
    r->rowcount = -1;
    r->conn = lua_touserdata(L, conn_idx);
    ag_lua_setmetatable_key(L, &ag_lua_result_mt_key);
    lua_pushvalue(L, conn_idx);
    ag_lua_setuservalue(L, -2, 1);
    return r;
}

static void result_release(ag_lua_result *r) {
    if (r->stmt && r->conn->conn) ag_stmt_release(r->stmt);
    r->stmt = NULL;
}

static int labels_cache_key;

/* A copy of the names a labels table was made from, kept at its index 0
 * (a userdata, so that columns() and rawlen see only 1..n): checking that
 * the driver still reports the same names is then a strcmp per column in C,
 * with no Lua string fetched per column. */
typedef struct labels_stamp {
    int n;
    char text[]; /* n names, each ended by its NUL */
} labels_stamp;

static int stamp_matches(const labels_stamp *st, const ag_driver *d, ag_driver_stmt *ds, int ncols) {
    if (st->n != ncols) return 0;
    const char *p = st->text;
    for (int i = 0; i < ncols; i++) {
        const char *now = d->column_name(ds, i);
        if (!now || strcmp(p, now) != 0) return 0;
        p += strlen(p) + 1;
    }
    return 1;
}

/* Pushes the labels of stmt's columns.  The table made for the previous
 * execution of the same statement is reused (no table and no string made
 * per execution) when it holds exactly the names the driver reports now:
 * entries live in a registry table keyed by the statement's address, with
 * weak values (an entry lasts while a result uses it, at most until the next
 * collection), and are only ever copies of names that are compared before
 * use -- a stale entry (a statement freed and its address reused, a statement
 * the database prepared again after a schema change) can never be used.  A
 * labels table is never given to the user (columns() copies it), so sharing
 * it between results is safe. */
static void push_labels(lua_State *L, ag_stmt *stmt, int ncols) {
    const ag_driver *d = stmt->driver;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &labels_cache_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "v");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &labels_cache_key);
    }
    int cache = lua_gettop(L);
    if (lua_rawgetp(L, cache, stmt) == LUA_TTABLE) {
        lua_rawgeti(L, -1, 0);
        const labels_stamp *st = lua_touserdata(L, -1);
        int same = st && stamp_matches(st, d, stmt->dstmt, ncols);
        lua_pop(L, 1);
        if (same) {
            lua_remove(L, cache);
            return;
        }
    }
    lua_pop(L, 1);
    size_t text = 0;
    for (int i = 0; i < ncols; i++) {
        const char *name = d->column_name(stmt->dstmt, i);
        text += (name ? strlen(name) : 0) + 1;
    }
    lua_createtable(L, ncols, 1);
    labels_stamp *st = lua_newuserdatauv(L, sizeof *st + text, 0);
    st->n = ncols;
    char *out = st->text;
    for (int i = 0; i < ncols; i++) {
        const char *name = d->column_name(stmt->dstmt, i);
        size_t len = name ? strlen(name) : 0;
        memcpy(out, name ? name : "", len + 1);
        out += len + 1;
        lua_pushstring(L, name);
        lua_rawseti(L, -3, i + 1);
    }
    lua_rawseti(L, -2, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, cache, stmt);
    lua_remove(L, cache);
}

/* With stmt NULL: releases the current statement.  With the statement the
 * result already holds and that has been executed: reads its metadata, and
 * finishes it at once when it returns no rows.  Otherwise: takes stmt. */
void ag_lua_result_attach(lua_State *L, ag_lua_result *r, ag_stmt *stmt) {
    if (!stmt) {
        result_release(r);
        return;
    }
    if (r->stmt != stmt) {
        r->stmt = stmt;
        return;
    }
    const ag_driver *d = stmt->driver;
    r->ncols = d->column_count(stmt->dstmt);
    r->rowcount = (lua_Integer)d->rows_affected(stmt->dstmt);
    int64_t id;
    if (d->last_insert_id(stmt->dstmt, &id) == 0) {
        r->has_lastrowid = 1;
        r->lastrowid = (lua_Integer)id;
    }
    if (r->ncols == 0) {
        result_release(r);
        return;
    }
    push_labels(L, stmt, r->ncols); /* result at the stack top */
    ag_lua_setuservalue(L, -2, 2);
}

/* State checks of a result whose type is known (the iterators' upvalue). */
static ag_lua_result *check_open_result(lua_State *L, ag_lua_result *r) {
    if (r->closed) ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this result is closed");
    if (!r->conn->conn) {
        r->stmt = NULL; /* the connection released it */
        ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "the connection of this result is closed");
    }
    ag_lua_check_not_busy(L, r->conn, "read another result of the connection");
    return r;
}

static ag_lua_result *to_result(lua_State *L, int idx) {
    ag_lua_result *r = ag_lua_testudata_key(L, idx, &ag_lua_result_mt_key);
    return r ? r : ag_lua_check_self(L, idx, AG_RESULT_TYPE);
}

static ag_lua_result *check_result(lua_State *L, int idx) { return check_open_result(L, to_result(L, idx)); }

static ag_lua_result *check_rows(lua_State *L, int idx) {
    ag_lua_result *r = check_result(L, idx);
    if (r->ncols == 0)
        ag_lua_raisef(L, AG_ERR_INVALID_REQUEST,
                      "this result does not return rows (it comes from a statement without a result set)");
    return r;
}

/* Advances: 1 with a row ready, 0 at the end.  Raises on error. */
static int next_row(lua_State *L, ag_lua_result *r) {
    if (!r->stmt) return 0;
    ag_error err;
    int rc = ag_stmt_fetch(r->stmt, &err);
    if (rc == 1) return 1;
    result_release(r);
    if (rc < 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

/* Pushes column col's value, converted by its argent type when the
 * statement was compiled by argent (convert.c). */
static void push_column(lua_State *L, ag_lua_result *r, int col, const ag_value *v) {
    ag_lua_push_typed(L, r->types && col < r->ntypes ? &r->types[col] : NULL, v);
}

void ag_lua_result_set_types(lua_State *L, ag_lua_result *r, const ag_sqltype *types, int n) {
    free_types(r);
    if (n <= 0) return;
    if (n <= (int)(sizeof r->inline_types / sizeof *r->inline_types)) r->types = r->inline_types;
    else if (!(r->types = ag_malloc((size_t)n * sizeof *types)))
        ag_lua_nomem(L); /* never values left unconverted (a boolean as 0/1) */
    memcpy(r->types, types, (size_t)n * sizeof *types);
    r->ntypes = n;
}

void ag_lua_result_take_key(lua_State *L, ag_lua_result *r) {
    if (!r->stmt || r->ncols == 0) return;
    ag_error err;
    int rc = ag_stmt_fetch(r->stmt, &err);
    if (rc == 1) {
        ag_value v;
        r->stmt->driver->column_value(r->stmt->dstmt, 0, &v);
        if (v.type == AG_VALUE_INTEGER) {
            r->has_lastrowid = 1;
            r->lastrowid = (lua_Integer)v.u.integer;
        }
    }
    if (r->rowcount < 0) r->rowcount = rc == 1 ? 1 : 0;
    result_release(r);
    r->ncols = 0;
    if (rc < 0) ag_lua_raise(L, &err, NULL);
}

/* For the ORM loader (src/orm/load.c): the result at idx, checked (open, with
 * rows); the next row (1) or the end (0); the current row's column count and
 * column col's value, converted as rows() converts it. */
ag_lua_result *ag_lua_check_rows(lua_State *L, int idx) { return check_rows(L, idx); }
int ag_lua_result_next(lua_State *L, ag_lua_result *r) { return next_row(L, check_open_result(L, r)); }
int ag_lua_result_ncols(const ag_lua_result *r) { return r->ncols; }
int ag_lua_result_lastrowid(const ag_lua_result *r, lua_Integer *out) {
    if (r->has_lastrowid) *out = r->lastrowid;
    return r->has_lastrowid;
}
void ag_lua_result_push(lua_State *L, ag_lua_result *r, int col) {
    if (!r->stmt || r->closed || !r->conn->conn || col < 0 || col >= r->ncols) { /* no current row */
        lua_pushnil(L);
        return;
    }
    ag_value v;
    r->stmt->driver->column_value(r->stmt->dstmt, col, &v);
    push_column(L, r, col, &v);
}

/* Pushes the current row as a table keyed by label (labels at names_idx). */
static void push_row(lua_State *L, ag_lua_result *r, int names_idx) {
    const ag_driver *d = r->stmt->driver;
    ag_driver_stmt *ds = r->stmt->dstmt;
    lua_createtable(L, 0, r->ncols);
    for (int i = 0; i < r->ncols; i++) {
        ag_value v;
        d->column_value(ds, i, &v);
        if (v.type == AG_VALUE_NULL) continue;
        lua_rawgeti(L, names_idx, i + 1);
        push_column(L, r, i, &v);
        lua_rawset(L, -3);
    }
}

/* The row as multiple values.  A generic `for` stops at a nil first value,
 * so a NULL in the first column comes as argent.null (other NULLs are nil):
 * no row is ever dropped silently. */
static int push_tuple(lua_State *L, ag_lua_result *r) {
    const ag_driver *d = r->stmt->driver;
    luaL_checkstack(L, r->ncols, "too many columns");
    for (int i = 0; i < r->ncols; i++) {
        ag_value v;
        d->column_value(r->stmt->dstmt, i, &v);
        if (i == 0 && v.type == AG_VALUE_NULL) ag_lua_push_null(L);
        else push_column(L, r, i, &v);
    }
    return r->ncols;
}

/* The iterators hold their result as upvalue 1, checked when they were made. */
static int rows_iter(lua_State *L) {
    ag_lua_result *r = check_open_result(L, lua_touserdata(L, lua_upvalueindex(1)));
    if (!next_row(L, r)) return 0;
    push_row(L, r, lua_upvalueindex(2));
    return 1;
}

/* for row in res:rows() do ... end */
static int result_rows(lua_State *L) {
    check_rows(L, 1);
    lua_settop(L, 1);
    ag_lua_getuservalue(L, 1, 2);
    lua_pushcclosure(L, rows_iter, 2);
    return 1;
}

static int tuples_iter(lua_State *L) {
    ag_lua_result *r = check_open_result(L, lua_touserdata(L, lua_upvalueindex(1)));
    if (!next_row(L, r)) return 0;
    return push_tuple(L, r);
}

/* for id, name in res:tuples() do ... end */
static int result_tuples(lua_State *L) {
    check_rows(L, 1);
    lua_settop(L, 1);
    lua_pushcclosure(L, tuples_iter, 1);
    return 1;
}

static int result_all(lua_State *L) {
    ag_lua_result *r = check_rows(L, 1);
    ag_lua_getuservalue(L, 1, 2);
    int names = lua_gettop(L);
    /* room for a few rows from the start: small results (a parent's
     * children, a page) then grow the array once or not at all */
    lua_createtable(L, 4, 0);
    lua_Integer n = 0;
    while (next_row(L, r)) {
        push_row(L, r, names);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

/* The first row (or nil); closes the result, as SQLAlchemy does. */
static int result_first(lua_State *L) {
    ag_lua_result *r = check_rows(L, 1);
    ag_lua_getuservalue(L, 1, 2);
    int names = lua_gettop(L);
    if (next_row(L, r)) push_row(L, r, names);
    else lua_pushnil(L);
    result_release(r);
    r->closed = 1;
    return 1;
}

static int exactly_one(lua_State *L, int allow_none) {
    ag_lua_result *r = check_rows(L, 1);
    ag_lua_getuservalue(L, 1, 2);
    int names = lua_gettop(L);
    if (!next_row(L, r)) {
        r->closed = 1;
        if (allow_none) return 0;
        return ag_lua_raisef(L, AG_ERR_NO_RESULT, "no row was found when one was required");
    }
    push_row(L, r, names);
    int more = next_row(L, r);
    result_release(r);
    r->closed = 1;
    if (more) return ag_lua_raisef(L, AG_ERR_MULTIPLE_RESULTS, "multiple rows were found when one was required");
    return 1;
}

static int result_one(lua_State *L) { return exactly_one(L, 0); }

static int result_one_or_none(lua_State *L) {
    int n = exactly_one(L, 1);
    if (n == 0) lua_pushnil(L);
    return 1;
}

/* First column of the first row, or nil; closes the result. */
static int result_scalar(lua_State *L) {
    ag_lua_result *r = check_rows(L, 1);
    if (next_row(L, r)) {
        ag_value v;
        r->stmt->driver->column_value(r->stmt->dstmt, 0, &v);
        push_column(L, r, 0, &v);
    } else {
        lua_pushnil(L);
    }
    result_release(r);
    r->closed = 1;
    return 1;
}

/* Array of the first column.  A NULL leaves a hole (nil), as in any Lua list. */
static int result_scalars(lua_State *L) {
    ag_lua_result *r = check_rows(L, 1);
    lua_newtable(L);
    lua_Integer n = 0;
    while (next_row(L, r)) {
        ag_value v;
        r->stmt->driver->column_value(r->stmt->dstmt, 0, &v);
        push_column(L, r, 0, &v);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static int result_columns(lua_State *L) {
    ag_lua_result *r = to_result(L, 1);
    lua_newtable(L);
    if (r->ncols == 0) return 1;
    ag_lua_getuservalue(L, 1, 2);
    for (int i = 1; i <= r->ncols; i++) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -3, i);
    }
    lua_pop(L, 1);
    return 1;
}

static int result_close(lua_State *L) {
    ag_lua_result *r = to_result(L, 1);
    if (r->conn->conn) result_release(r);
    r->stmt = NULL;
    r->closed = 1;
    free_types(r);
    return 0;
}

static int result_index(lua_State *L) {
    /* methods first: every res:first() looks one up (no method is named like a field) */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    ag_lua_result *r = to_result(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "rowcount") == 0) {
        lua_pushinteger(L, r->rowcount);
    } else if (key && strcmp(key, "lastrowid") == 0) {
        if (r->has_lastrowid) ag_lua_pushint64(L, r->lastrowid);
        else lua_pushnil(L);
    } else if (key && strcmp(key, "closed") == 0) {
        lua_pushboolean(L, r->closed);
    } else if (key && strcmp(key, "returns_rows") == 0) {
        lua_pushboolean(L, r->ncols > 0);
    } else {
        lua_pushnil(L);
    }
    return 1;
}

void ag_lua_open_result(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"rows", result_rows},
        {"tuples", result_tuples},
        {"all", result_all},
        {"first", result_first},
        {"one", result_one},
        {"one_or_none", result_one_or_none},
        {"scalar", result_scalar},
        {"scalars", result_scalars},
        {"columns", result_columns},
        {"close", result_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {{"__gc", result_close}, {"__close", result_close}, {NULL, NULL}};
    ag_lua_new_type(L, AG_RESULT_TYPE, methods, meta, result_index);
    luaL_getmetatable(L, AG_RESULT_TYPE);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ag_lua_result_mt_key);
}
