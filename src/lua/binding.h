/*
 * binding.h -- what the Lua binding files share: the userdata types, their
 * registry names (also their __name, so Lua's own messages read
 * "argent.Connection expected"), and the helpers that raise argent errors.
 *
 * The bindings check arguments, then call the core (src/engine, src/base);
 * they never include a driver's header.  Every raise goes through
 * ag_lua_raise / ag_lua_argerror so that errors are always objects with
 * kind, message, code and sql.  Nothing here raises while the core holds a
 * resource that no userdata owns.
 */
#ifndef ARGENT_LUA_BINDING_H
#define ARGENT_LUA_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "engine/engine.h"
#include "lua/compat.h"

#define AG_ENGINE_TYPE "argent.Engine"
#define AG_CONNECTION_TYPE "argent.Connection"
#define AG_RESULT_TYPE "argent.Result"
#define AG_TRANSACTION_TYPE "argent.Transaction"
#define AG_URL_TYPE "argent.URL"
#define AG_POOL_TYPE "argent.Pool"
#define AG_ERROR_TYPE "argent.Error"
#define AG_NULL_TYPE "argent.null"
#define AG_TEXT_TYPE "argent.TextClause"

/* An engine userdata: one reference to the shared core engine.
 * User values: 1 = the URL object, 2 = the echo function (or nil). */
typedef struct ag_lua_engine {
    ag_engine *engine; /* NULL only while being created */
    int echo;          /* 0 off, 1 stderr, 2 function (user value 2) */
} ag_lua_engine;

/* A connection userdata.  User value 1 = its engine userdata. */
typedef struct ag_lua_conn {
    ag_conn *conn;     /* NULL once closed */
    ag_value *scratch; /* parameter buffer, reused per statement */
    int scratch_cap;
    int echo;
    int busy;                /* executemany is pulling rows from a Lua function: the connection is not to be used */
    ag_tx deferred_rollback; /* a transaction collected while busy, rolled back when executemany ends
                                (depth 0: none) */
} ag_lua_conn;

/* ---- errors (error.c) */
/* Pushes an error object. sql may be NULL. */
void ag_lua_push_error(lua_State *L, const char *kind, const char *message, const char *code, const char *sql);
/* Raises err as an error object (never returns). */
int ag_lua_raise(lua_State *L, const ag_error *err, const char *sql);
/* Raises Lua's memory error: the string "not enough memory", as Lua raises
 * it when its own allocator fails, so that a script sees one out-of-memory
 * error whichever allocation failed (ag_lua_raise of an AG_ERR_MEMORY does
 * the same).  The one error that is not an error object: making an object
 * needs memory. */
int ag_lua_nomem(lua_State *L);
/* Raises an error object of kind (e.g. "ArgumentError") with a formatted message. */
int ag_lua_raisef(lua_State *L, ag_error_kind kind, const char *fmt, ...);
#define ag_lua_argerror(L, ...) ag_lua_raisef((L), AG_ERR_ARGUMENT, __VA_ARGS__)
void ag_lua_open_error(lua_State *L);

/* ---- box.c: one C allocation owned by a userdata while code that can raise runs */
typedef struct ag_lua_box {
    void *p;              /* the resource, or NULL */
    void (*free)(void *); /* how to free it */
} ag_lua_box;
/* Pushes an empty box (raises only for memory, before any resource exists). */
ag_lua_box *ag_lua_push_box(lua_State *L);
/* Frees the box's resource now and removes the box (at stack index idx). */
void ag_lua_box_release(lua_State *L, int idx, ag_lua_box *b);

/* ---- type registration helpers (auxlib.c) */
/* Creates metatable `name` with methods in a separate table (so __gc is not
 * reachable through __index).  index may be NULL (then __index = methods);
 * otherwise __index is that function with the methods table as upvalue 1. */
void ag_lua_new_type(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta,
                     lua_CFunction index);
/* The userdata of type tname at idx; otherwise an ArgumentError naming the
 * argument ('self' at index 1: "execute: argument 'self' must be an
 * argent.Connection (call it with a colon, ...), got nil"). */
void *ag_lua_check_self(lua_State *L, int idx, const char *tname);
/* Type name of the value at idx for messages: "nil", "table", "argent.Connection". */
const char *ag_lua_typename(lua_State *L, int idx);
void ag_lua_push_null(lua_State *L);
/* Sets argent.null in the table on top (once, at the module's opening). */
void ag_lua_open_null(lua_State *L);
/* Is the value at idx argent.null? */
int ag_lua_is_null(lua_State *L, int idx);

/* ---- convert.c: Lua values <-> SQL values (the typed ones: sql_binding.h) */
/* The value at idx as a scalar parameter: a number, string (text, or blob
 * when as_blob), boolean or argent.null.  Returns 0, or -1 (out untouched)
 * for any other value, which the caller reports.  Never raises, never pushes. */
int ag_lua_to_scalar(lua_State *L, int idx, int as_blob, ag_value *out);
/* The same for a parameter of SQL text, or -1 with an ArgumentError in err
 * naming it (what: "parameter :name", "parameter 2").  Never raises. */
int ag_lua_to_param(lua_State *L, int idx, ag_value *out, const char *what, ag_error *err);
/* Pushes a database value as it is (NULL as nil). */
void ag_lua_push_value(lua_State *L, const ag_value *v);

/* ---- per type */
void ag_lua_open_url(lua_State *L);
void ag_lua_open_engine(lua_State *L);
void ag_lua_open_connection(lua_State *L);
void ag_lua_open_transaction(lua_State *L);
void ag_lua_open_result(lua_State *L);
/* Sets database_exists, create_database, drop_database on the table on top (database.c). */
void ag_lua_open_database(lua_State *L);
void ag_lua_open_fs(lua_State *L); /* argent.core.fs (fs.c) */

/* Pushes a URL object holding a copy of url. */
void ag_lua_push_url(lua_State *L, const ag_url *url);
/* Pushes a new engine userdata holding one new reference to engine. */
void ag_lua_push_engine(lua_State *L, ag_engine *engine);
ag_lua_engine *ag_lua_check_engine(lua_State *L, int idx);
ag_lua_conn *ag_lua_check_conn(lua_State *L, int idx); /* open connections only */
/* Raises InvalidRequestError when c is busy: a row function of its running
 * executemany may not end or close what the driver is using (what: "close the
 * connection", "commit", ...). */
void ag_lua_check_not_busy(lua_State *L, const ag_lua_conn *c, const char *what);
/* Brackets an executemany whose rows come from a Lua function (busy = 1) or a
 * list (busy = 0); the end rolls back a transaction collected meanwhile. */
void ag_lua_conn_busy_begin(ag_lua_conn *c, int busy);
void ag_lua_conn_busy_end(ag_lua_conn *c);
/* Pushes a new transaction object for the connection at conn_idx. */
void ag_lua_push_transaction(lua_State *L, int conn_idx, ag_tx tx);
/* Echoes an executed statement (execute.c): to stderr, or to the engine's
 * echo function; params_idx: the list of bound values, or 0. */
void ag_lua_echo_statement(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, int params_idx, double ms);
/* Makes the result object for stmt (already executed) of the connection at
 * conn_idx; takes ownership of stmt.  See result.c. */
typedef struct ag_lua_result ag_lua_result;
ag_lua_result *ag_lua_new_result(lua_State *L, int conn_idx);
void ag_lua_result_attach(lua_State *L, ag_lua_result *r, ag_stmt *stmt);
/* Row access for the ORM loader (src/orm/load.c); see result.c. */
ag_lua_result *ag_lua_check_rows(lua_State *L, int idx);
int ag_lua_result_next(lua_State *L, ag_lua_result *r);
int ag_lua_result_ncols(const ag_lua_result *r);
int ag_lua_result_lastrowid(const ag_lua_result *r, lua_Integer *out); /* 1 and *out, or 0 */
void ag_lua_result_push(lua_State *L, ag_lua_result *r, int col);

/* ---- constants.c */
/* Sets node, type_names, features and version in the module table on top. */
void ag_lua_open_constants(lua_State *L);
/* Pushes the features table of dialect d (engine.features, conn.features). */
void ag_lua_push_features(lua_State *L, ag_dialect d);

/* module entry points */
int ag_lua_create_engine(lua_State *L);
int ag_lua_make_url(lua_State *L);

#endif
