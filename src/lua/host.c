/*
 * host.c -- the Lua-facing part of the public C API (src/argent.h): how a
 * host program that embeds Lua hands its engine to its Lua states.
 *
 * An argent_engine is the core's ag_engine under its public name (see
 * src/capi/capi.h), so an engine made in C and pushed here, and one made in
 * Lua by create_engine, are the same kind of object with one reference count:
 * each argent.Engine userdata holds one reference, released by its __gc.
 * Every lua_State gets its own userdata (a userdata belongs to one state);
 * the engine underneath is shared, and its pool is thread-safe.
 *
 * This file is compiled into the Lua module and into the static binding
 * library for hosts; it uses no part of src/capi/, so the module does not
 * pull the C API in.
 */
#include "argent.h"

#include "lua/binding.h"

/* luaopen_argent_core is defined in module.c; argent.h declares it for hosts. */

void argent_openlibs(lua_State *L) {
    ag_lua_push_preload(L); /* package.preload */
    lua_pushcfunction(L, luaopen_argent_core);
    lua_setfield(L, -2, "argent.core");
    lua_pop(L, 1);
}

void argent_push_engine(lua_State *L, argent_engine *engine) {
    if (!engine) ag_lua_argerror(L, "argent_push_engine: engine is NULL");
    /* The Engine metatable must exist before a userdata gets it, or the
     * userdata would have no __gc and its reference would leak: load
     * argent.core (package.loaded keeps it, so require gives the same table). */
    luaL_requiref(L, "argent.core", luaopen_argent_core, 0);
    lua_pop(L, 1);
    ag_lua_push_engine(L, (ag_engine *)(void *)engine);
}

argent_engine *argent_to_engine(lua_State *L, int idx) {
    ag_lua_engine *e = luaL_testudata(L, idx, AG_ENGINE_TYPE);
    return e ? (argent_engine *)(void *)e->engine : NULL;
}
