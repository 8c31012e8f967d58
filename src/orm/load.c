/*
 * load.c -- rows become instances (API.md section 7: one Lua object per
 * row): argent.core.orm.load, step, column and row_instance read a result's
 * rows straight into instances entered in the session's identity map, and
 * identity_key is that map's key (defined here, once).
 */
#include "orm/orm.h"

/* identity_key(values, pk) -> the identity map key of a values table (an
 * instance's, or a plain table of attribute values) for the list of primary
 * key attribute names pk; nil when a key value is nil. */
static int orm_identity_key(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    ag_orm_push_identity_key(L, 1, 2);
    return 1;
}

/* Pushes the identity map key of the values table at values_idx for the
 * primary key attribute names in the list at pk_idx: the value itself for a
 * one-column key, else type:tostring of each value joined by NUL bytes; nil
 * when a value is nil.  The one definition of the key: Lua asks for it
 * through core.orm.identity_key. */
void ag_orm_push_identity_key(lua_State *L, int values_idx, int pk_idx) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, pk_idx);
    if (n == 1) {
        lua_rawgeti(L, pk_idx, 1);
        lua_rawget(L, values_idx);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, pk_idx, i);
        int t = lua_rawget(L, values_idx);
        if (t == LUA_TNIL) {
            luaL_pushresult(&b);
            lua_pop(L, 2);
            lua_pushnil(L);
            return;
        }
        if (i > 1) luaL_addchar(&b, '\0');
        luaL_addstring(&b, lua_typename(L, t));
        luaL_addchar(&b, ':');
        luaL_tolstring(L, -1, NULL);
        lua_remove(L, -2);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
}

/* Pushes the instance for the current row of r -- or nil when the row has
 * no primary key for it (an outer join that matched nothing).  The indexes:
 * mapper, session, bucket (the model's identity map: key -> instance), keys
 * ({result column -> attribute name or false}), pk ({attribute names of the
 * primary key}); pkcol is the result column (1-based) of a one-column key or
 * 0.  An instance already in bucket is the one given (its unloaded
 * attributes filled from the row, its other values kept: the identity map
 * wins); else a new persistent instance of the session is made and entered. */
static void load_current(lua_State *L, ag_lua_result *r, int mapper, int session, int bucket, int keys, int pk,
                         lua_Integer pkcol) {
    luaL_checkstack(L, 10, NULL);
    if (pkcol > 0) { /* a one-column key: look it up before building anything */
        ag_lua_result_push(L, r, (int)pkcol - 1);
        if (lua_isnil(L, -1)) return; /* no row for this entity */
        if (lua_rawget(L, bucket) != LUA_TNIL) {
            const ag_orm_instance *found =
                ag_orm_test_instance(L, -1); /* (anything else in the map counts as absent) */
            if (found && !found->unloaded) return;
        }
        lua_pop(L, 1);
    }
    int ncols = ag_lua_result_ncols(r);
    lua_createtable(L, 0, ncols); /* the row's values */
    int values = lua_gettop(L);
    for (int i = 0; i < ncols; i++) {
        if (lua_rawgeti(L, keys, i + 1) != LUA_TSTRING) {
            lua_pop(L, 1);
            continue;
        }
        ag_lua_result_push(L, r, i);
        lua_rawset(L, values);
    }
    ag_orm_push_identity_key(L, values, pk);
    int key = lua_gettop(L);
    if (lua_isnil(L, key)) {
        lua_settop(L, values - 1);
        lua_pushnil(L);
        return;
    }
    lua_pushvalue(L, key);
    lua_rawget(L, bucket);
    ag_orm_instance *old = ag_orm_test_instance(L, -1);
    if (old) {
        int obj = lua_gettop(L);
        if (old->unloaded && ag_lua_getuservalue(L, obj, UV_UNLOADED) == LUA_TTABLE) {
            int unloaded = lua_gettop(L);
            ag_lua_getuservalue(L, obj, UV_VALUES);
            int into = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, unloaded)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_pushvalue(L, -1);
                lua_rawget(L, values);
                lua_rawset(L, into);
            }
            old->unloaded = 0;
            lua_pushnil(L);
            ag_lua_setuservalue(L, obj, UV_UNLOADED);
        }
        lua_settop(L, obj);
    } else {
        lua_pop(L, 1);
        ag_orm_new_instance(L, mapper, values, session, STATE_PERSISTENT);
        lua_pushvalue(L, key);
        lua_pushvalue(L, -2);
        lua_rawset(L, bucket);
    }
    lua_replace(L, values);
    lua_settop(L, values);
}

/* Reads spec's fields onto the stack (5 values) and returns pkcol. */
static lua_Integer push_spec(lua_State *L, int spec) {
    luaL_checktype(L, spec, LUA_TTABLE);
    lua_getfield(L, spec, "mapper");
    ag_orm_check_mapper(L, -1);
    lua_getfield(L, spec, "session");
    lua_getfield(L, spec, "bucket");
    lua_getfield(L, spec, "keys");
    lua_getfield(L, spec, "pk");
    int top = lua_gettop(L);
    luaL_checktype(L, top - 2, LUA_TTABLE);
    luaL_checktype(L, top - 1, LUA_TTABLE);
    luaL_checktype(L, top, LUA_TTABLE);
    lua_getfield(L, spec, "pkcol");
    lua_Integer pkcol = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return pkcol;
}

/* load(result, spec, out [, max]) -> out, n: turns up to max (default: all)
 * rows of result into instances (see load_current) appended to the list
 * out; n is how many rows were read (0 at the end).  spec = {mapper =,
 * session =, bucket =, keys =, pk =, pkcol =}. */
static int orm_load(lua_State *L) {
    ag_lua_result *r = ag_lua_check_rows(L, 1);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer max = luaL_optinteger(L, 4, -1);
    lua_settop(L, 3);
    lua_Integer pkcol = push_spec(L, 2); /* 4..8 */
    lua_Integer n = 0, len = (lua_Integer)lua_rawlen(L, 3);
    while ((max < 0 || n < max) && ag_lua_result_next(L, r)) {
        n++;
        load_current(L, r, 4, 5, 6, 7, 8, pkcol);
        if (lua_isnil(L, -1)) lua_pop(L, 1);
        else lua_rawseti(L, 3, ++len);
    }
    lua_settop(L, 3);
    lua_pushinteger(L, n);
    return 2;
}

/* step(result) -> true with a new current row, false at the end. */
static int orm_step(lua_State *L) {
    lua_pushboolean(L, ag_lua_result_next(L, ag_lua_check_rows(L, 1)));
    return 1;
}

/* column(result, i) -> the current row's column i (1-based), converted as rows() does. */
static int orm_column(lua_State *L) {
    ag_lua_result *r = ag_lua_check_rows(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || i > ag_lua_result_ncols(r)) return ag_lua_argerror(L, "column: no column %d", (int)i);
    ag_lua_result_push(L, r, (int)i - 1);
    return 1;
}

/* row_instance(result, spec) -> the instance of spec's model in the current
 * row (after step), or nil (see load_current). */
static int orm_row_instance(lua_State *L) {
    ag_lua_result *r = ag_lua_check_rows(L, 1);
    lua_settop(L, 2);
    lua_Integer pkcol = push_spec(L, 2); /* 3..7 */
    load_current(L, r, 3, 4, 5, 6, 7, pkcol);
    return 1;
}

void ag_orm_open_load(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"identity_key", orm_identity_key}, {"load", orm_load}, {"step", orm_step}, {"column", orm_column},
        {"row_instance", orm_row_instance}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}
