/*
 * connection.c -- the Connection userdata: execute, executemany,
 * exec_driver_sql, begin, begin_nested, close (also __close and __gc, which
 * give the connection back to the pool).
 *
 * This file checks the arguments; the execution itself (prepare, bind,
 * execute, echo) is execute.c's, shared with the ORM's flush.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"

const char ag_lua_conn_mt_key = 0;

ag_lua_conn *ag_lua_check_conn(lua_State *L, int idx) {
    ag_lua_conn *c = ag_lua_testudata_key(L, idx, &ag_lua_conn_mt_key);
    if (!c) c = ag_lua_check_self(L, idx, AG_CONNECTION_TYPE);
    if (!c->conn) ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this connection is closed");
    ag_lua_check_not_busy(L, c, "use the connection");
    return c;
}

void ag_lua_check_not_busy(lua_State *L, const ag_lua_conn *c, const char *what) {
    if (c->busy)
        ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this connection is running executemany: its row function cannot %s",
                      what);
}

void ag_lua_conn_busy_begin(ag_lua_conn *c, int busy) {
    c->busy = busy;
    c->deferred_rollback.depth = 0;
}

void ag_lua_conn_busy_end(ag_lua_conn *c) {
    c->busy = 0;
    if (c->deferred_rollback.depth > 0 && c->conn) {
        ag_error ignored; /* as from __gc: the pool resets the connection if this fails */
        ag_conn_rollback(c->conn, c->deferred_rollback, &ignored);
    }
    c->deferred_rollback.depth = 0;
}

static void conn_close_core(ag_lua_conn *c) {
    if (c->conn) {
        ag_conn_close(c->conn);
        c->conn = NULL;
    }
    free(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
}

static int conn_close(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    ag_lua_check_not_busy(L, c, "close the connection");
    conn_close_core(c);
    return 0;
}

/* __gc: never busy (a running executemany holds the connection on its stack). */
static int conn_gc(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    if (!c->busy) conn_close_core(c);
    return 0;
}

/* ---- SQL and parameters */

/* The SQL of the statement argument at idx: a string or argent.text(). */
static const char *check_sql(lua_State *L, int idx, size_t *len, const char *fname) {
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tolstring(L, idx, len);
    if (lua_istable(L, idx) && luaL_testudata(L, idx, AG_TEXT_TYPE) == NULL && lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, AG_TEXT_TYPE);
        int is_text = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is_text) {
            lua_getfield(L, idx, "text");
            lua_replace(L, idx);
            if (lua_type(L, idx) == LUA_TSTRING) return lua_tolstring(L, idx, len);
        }
    }
    ag_lua_argerror(L, "%s: argument 'statement' must be a SQL string or argent.text(), got %s", fname,
                    ag_lua_typename(L, idx));
    return NULL;
}

/* ---- execute */

/* node: the statement at 2 when the caller has already tested it (NULL: test here). */
static int do_execute(lua_State *L, int rewrite, const char *fname, ag_node *node) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    if (rewrite && (node || (node = ag_lua_test_node(L, 2)))) { /* a statement built with argent (statement.c) */
        if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
            return ag_lua_argerror(L, "%s: argument 'params' must be a table, got %s", fname, ag_lua_typename(L, 3));
        lua_settop(L, 3);
        ag_lua_execute_node(L, c, 1, 2, node, lua_istable(L, 3) ? 3 : 0);
        return 1;
    }
    size_t len;
    const char *sql = check_sql(L, 2, &len, fname);
    int params_idx = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_istable(L, 3))
            return ag_lua_argerror(L, "%s: argument 'params' must be a table, got %s", fname, ag_lua_typename(L, 3));
        params_idx = 3;
    }
    lua_settop(L, 3);
    ag_lua_execute_sql(L, c, 1, sql, len, rewrite, params_idx);
    return 1;
}

/* execute without the hook: what the hook calls */
static int conn_execute_direct(lua_State *L) { return do_execute(L, 1, "execute", NULL); }

/* conn:execute(sql | argent.text(sql) | statement, params).  Statements
 * other than SELECT and UNION (inserts and updates take values, defaults
 * and deferred problems from Lua) go through the Lua hook that init.lua
 * registers (ag_lua_push_execute_hook), as hook(conn, stmt, params,
 * execute_direct); the common case, SQL text and queries, stays in C. */
static int conn_execute(lua_State *L) {
    ag_node *n = ag_lua_test_node(L, 2);
    if (n && n->tag != AG_N_SELECT && n->tag != AG_N_COMPOUND) {
        lua_settop(L, 3);
        if (ag_lua_push_execute_hook(L)) {
            lua_insert(L, 1);
            lua_pushcfunction(L, conn_execute_direct);
            lua_call(L, 4, LUA_MULTRET);
            return lua_gettop(L);
        }
    }
    return do_execute(L, 1, "execute", n);
}

/* conn:exec_driver_sql(sql, params): the SQL goes to the driver untouched. */
static int conn_exec_driver_sql(lua_State *L) { return do_execute(L, 0, "exec_driver_sql", NULL); }

/* ---- executemany */

/* conn:executemany(sql, { params1, params2, ... }) -> rows affected */
static int conn_executemany(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    if (ag_lua_test_node(L, 2)) { /* a statement built with argent: rows keyed by parameter name */
        if (!lua_istable(L, 3) && !lua_isfunction(L, 3))
            return ag_lua_argerror(L,
                                   "executemany: argument 'rows' must be a list of parameter tables or a "
                                   "function returning the next one, got %s",
                                   ag_lua_typename(L, 3));
        int convert_idx = lua_isfunction(L, 4) ? 4 : 0; /* rows keyed by column (init.lua's insert path) */
        lua_settop(L, convert_idx ? 4 : 3);
        return ag_lua_executemany_statement(L, c, 1, 2, 3, convert_idx);
    }
    size_t len;
    const char *sql = check_sql(L, 2, &len, "executemany");
    if (!lua_istable(L, 3) && !lua_isfunction(L, 3))
        return ag_lua_argerror(L,
                               "executemany: argument 'rows' must be a list of parameter tables or a function "
                               "returning the next one, got %s",
                               ag_lua_typename(L, 3));
    lua_settop(L, 3);
    return ag_lua_executemany_sql(L, c, 1, sql, len, 3);
}

/* ---- transactions */

static int do_begin(lua_State *L, int nested) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    ag_tx tx;
    ag_error err;
    if (ag_conn_begin(c->conn, nested, &tx, &err) != 0) return ag_lua_raise(L, &err, NULL);
    ag_lua_push_transaction(L, 1, tx);
    return 1;
}

static int conn_begin(lua_State *L) { return do_begin(L, 0); }
static int conn_begin_nested(lua_State *L) { return do_begin(L, 1); }

static int conn_in_transaction(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    lua_pushboolean(L, ag_conn_in_transaction(c->conn));
    return 1;
}

static int conn_index(lua_State *L) {
    /* methods first: conn:execute(...) looks one up per call (no method is named like a field) */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "closed") == 0) {
        lua_pushboolean(L, c->conn == NULL);
    } else if (key && strcmp(key, "engine") == 0) {
        ag_lua_getuservalue(L, 1, 1);
    } else if (key && strcmp(key, "dialect") == 0) {
        ag_lua_getuservalue(L, 1, 1);
        lua_getfield(L, -1, "dialect");
    } else if (key && strcmp(key, "features") == 0) {
        ag_lua_getuservalue(L, 1, 1);
        lua_getfield(L, -1, "features");
    } else {
        lua_pushnil(L);
    }
    return 1;
}

static int conn_tostring(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    lua_pushfstring(L, "Connection(%s)", c->conn ? "open" : "closed");
    return 1;
}

void ag_lua_open_connection(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"execute", conn_execute},
        {"exec_driver_sql", conn_exec_driver_sql},
        {"executemany", conn_executemany},
        {"begin", conn_begin},
        {"begin_nested", conn_begin_nested},
        {"in_transaction", conn_in_transaction},
        {"close", conn_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", conn_gc}, {"__close", conn_close}, {"__tostring", conn_tostring}, {NULL, NULL}};
    ag_lua_new_type(L, AG_CONNECTION_TYPE, methods, meta, conn_index);
    luaL_getmetatable(L, AG_CONNECTION_TYPE);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ag_lua_conn_mt_key);
}
