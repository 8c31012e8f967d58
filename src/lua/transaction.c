/*
 * transaction.c -- the Transaction userdata returned by conn:begin() and
 * conn:begin_nested(): commit, rollback, close, is_active.  A transaction
 * closed (or collected) before commit is rolled back.  User value 1 is the
 * connection, which the transaction keeps alive.
 */
#include <string.h>

#include "lua/binding.h"

typedef struct lua_tx {
    ag_tx tx;
    int nested;
} lua_tx;

void ag_lua_push_transaction(lua_State *L, int conn_idx, ag_tx tx) {
    conn_idx = lua_absindex(L, conn_idx);
    lua_tx *t = ag_lua_newuserdata(L, sizeof *t, 1);
    t->tx = tx;
    t->nested = tx.depth > 1;
    luaL_setmetatable(L, AG_TRANSACTION_TYPE);
    lua_pushvalue(L, conn_idx);
    ag_lua_setuservalue(L, -2, 1);
}

/* The transaction and its connection (NULL when the connection is closed). */
static lua_tx *check_tx(lua_State *L, ag_lua_conn **conn) {
    lua_tx *t = ag_lua_check_self(L, 1, AG_TRANSACTION_TYPE);
    ag_lua_getuservalue(L, 1, 1);
    ag_lua_conn *c = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the connection stays referenced by the transaction */
    *conn = c && c->conn ? c : NULL;
    return t;
}

static int tx_commit(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    if (!c) return ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "the connection of this transaction is closed");
    ag_lua_check_not_busy(L, c, "commit a transaction");
    ag_error err;
    if (ag_conn_commit(c->conn, t->tx, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

static int tx_rollback(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    if (!c) return 0; /* closing the connection rolled it back */
    ag_lua_check_not_busy(L, c, "roll back a transaction");
    ag_error err;
    if (ag_conn_rollback(c->conn, t->tx, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

/* __close, __gc and close(): roll back what was not committed.  From __gc,
 * errors cannot be raised; they are dropped (the pool resets the
 * connection anyway when it comes back). */
static int tx_close(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    if (c && ag_conn_tx_active(c->conn, t->tx)) {
        ag_lua_check_not_busy(L, c, "close a transaction");
        ag_error err;
        /* From __close with an error already in flight (argument 2), keep that error. */
        if (ag_conn_rollback(c->conn, t->tx, &err) != 0 && lua_isnoneornil(L, 2)) {
            return ag_lua_raise(L, &err, NULL);
        }
    }
    return 0;
}

static int tx_gc(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    if (c && ag_conn_tx_active(c->conn, t->tx)) {
        if (c->busy) { /* collected under a running executemany: roll back when it ends */
            if (c->deferred_rollback.depth == 0 || t->tx.depth < c->deferred_rollback.depth)
                c->deferred_rollback = t->tx;
            return 0;
        }
        ag_error ignored;
        ag_conn_rollback(c->conn, t->tx, &ignored);
    }
    return 0;
}

static int tx_index(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "is_active") == 0) {
        lua_pushboolean(L, c && ag_conn_tx_active(c->conn, t->tx));
    } else if (key && strcmp(key, "nested") == 0) {
        lua_pushboolean(L, t->nested);
    } else if (key && strcmp(key, "connection") == 0) {
        ag_lua_getuservalue(L, 1, 1);
    } else {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
    }
    return 1;
}

static int tx_tostring(lua_State *L) {
    ag_lua_conn *c;
    lua_tx *t = check_tx(L, &c);
    lua_pushfstring(L, "%s(%s)", t->nested ? "SavepointTransaction" : "Transaction",
                    c && ag_conn_tx_active(c->conn, t->tx) ? "active" : "inactive");
    return 1;
}

void ag_lua_open_transaction(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"commit", tx_commit}, {"rollback", tx_rollback}, {"close", tx_close}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__close", tx_close}, {"__gc", tx_gc}, {"__tostring", tx_tostring}, {NULL, NULL}};
    ag_lua_new_type(L, AG_TRANSACTION_TYPE, methods, meta, tx_index);
}
