/*
 * box.c -- a userdata that owns one C allocation while Lua code that can
 * raise runs (DESIGN.md: a resource never exists without an owner that a
 * raise would collect).
 *
 * Turning a C value into Lua values allocates, and an allocation can raise
 * Lua's memory error anywhere: a JSON document decoded by jansson, or the
 * text a JSON value was encoded into, would leak then.  The box is pushed
 * first (so that making it cannot leak anything), takes the resource, and
 * frees it from its __gc unless ag_lua_box_release took it back first.
 */
#include "lua/binding.h"

static const char box_mt_key = 0;

static int box_gc(lua_State *L) {
    ag_lua_box *b = lua_touserdata(L, 1);
    if (b && b->free && b->p) b->free(b->p);
    if (b) b->p = NULL;
    return 0;
}

ag_lua_box *ag_lua_push_box(lua_State *L) {
    ag_lua_box *b = ag_lua_newuserdata(L, sizeof *b, 0);
    b->p = NULL;
    b->free = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &box_mt_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "argent.box");
        lua_setfield(L, -2, "__metatable"); /* nothing a script could call */
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &box_mt_key);
    }
    lua_setmetatable(L, -2);
    return b;
}

void ag_lua_box_release(lua_State *L, int idx, ag_lua_box *b) {
    if (b->free && b->p) b->free(b->p);
    b->p = NULL;
    lua_remove(L, idx);
}
