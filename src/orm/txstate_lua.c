/*
 * txstate_lua.c -- argent.core.orm.txstate(): the Session's transaction
 * state machine (txstate.h, which has no Lua in it) as a userdata, for
 * lua/argent/orm/session.lua.
 *
 *   st:check(op, what)   raises the state machine's InvalidRequestError when
 *                        op ("use", "work", "commit", "begin", "begin_nested",
 *                        "rollback") may not run now; `what` names it
 *   st:event(name)       "begun", "changed", "flush_start" (-> false when a
 *                        flush is already running), "flush_end",
 *                        "flush_failed", "savepoint_begun", "savepoint_ended",
 *                        "committed", "rolled_back", "closed" -> true
 *   st.state             "idle" | "active" | "failed" | "closed"
 *   st.savepoints, st.flushing, st.changed
 */
#include <string.h>

#include "orm/orm.h"
#include "orm/txstate.h"

#define AG_TXSTATE_TYPE "argent.TxState"

static const char *const op_names[] = {"use", "work", "commit", "begin", "begin_nested", "rollback", NULL};
static const char *const event_names[] = {
    "begun",     "changed",     "flush_start", "flush_end", "flush_failed", "savepoint_begun", "savepoint_ended",
    "committed", "rolled_back", "closed",      NULL};

static ag_txstate *check_txstate(lua_State *L) { return ag_lua_check_self(L, 1, AG_TXSTATE_TYPE); }

static int tx_check(lua_State *L) {
    ag_txstate *t = check_txstate(L);
    ag_txop op = (ag_txop)luaL_checkoption(L, 2, NULL, op_names);
    const char *what = luaL_optstring(L, 3, op_names[op]);
    ag_error err;
    if (ag_txstate_check(t, op, what, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 0;
}

static int tx_event(lua_State *L) {
    ag_txstate *t = check_txstate(L);
    ag_txevent ev = (ag_txevent)luaL_checkoption(L, 2, NULL, event_names);
    ag_error err;
    int rc = ag_txstate_event(t, ev, &err);
    if (rc < 0) return ag_lua_raise(L, &err, NULL);
    lua_pushboolean(L, rc);
    return 1;
}

static int tx_index(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1; /* a method */
    ag_txstate *t = check_txstate(L);
    const char *key = lua_tostring(L, 2);
    if (!key) return 0;
    if (strcmp(key, "state") == 0) lua_pushstring(L, ag_txstate_name(t->state));
    else if (strcmp(key, "savepoints") == 0) lua_pushinteger(L, t->savepoints);
    else if (strcmp(key, "flushing") == 0) lua_pushboolean(L, t->flushing);
    else if (strcmp(key, "changed") == 0) lua_pushboolean(L, t->changed);
    else lua_pushnil(L);
    return 1;
}

static int tx_new(lua_State *L) {
    ag_txstate *t = lua_newuserdatauv(L, sizeof *t, 0);
    ag_txstate_init(t);
    luaL_setmetatable(L, AG_TXSTATE_TYPE);
    return 1;
}

void ag_orm_open_txstate(lua_State *L) {
    static const luaL_Reg methods[] = {{"check", tx_check}, {"event", tx_event}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{NULL, NULL}};
    ag_lua_new_type(L, AG_TXSTATE_TYPE, methods, meta, tx_index);
    lua_pushcfunction(L, tx_new);
    lua_setfield(L, -2, "txstate"); /* in the table at the top (argent.core.orm) */
}
