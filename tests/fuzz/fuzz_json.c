/*
 * fuzz_json.c -- libFuzzer target for the JSON conversion between Lua and
 * JSON (src/lua/json.c), through argent.core's json_decode / json_encode in
 * a Lua state made once.
 *
 * Input byte 0 picks the direction:
 *  - even: the rest is JSON text.  json_decode gives a Lua value or an
 *    error object; a value decoded from JSON always encodes again, and the
 *    text it encodes to holds the same JSON value as the input (compared
 *    by jansson's json_equal: nothing lost, nothing changed -- empty arrays,
 *    nulls, integers, reals, keys with zero bytes), and decoding that text
 *    and encoding again gives the same JSON value once more.
 *  - odd: the rest drives a small stack machine that builds a Lua value
 *    (numbers including NaN and infinities, strings with any bytes,
 *    booleans, argent.null, json_null, empty_array, nested and mixed
 *    tables, tables marked as arrays, a table inside itself).  json_encode
 *    gives a string (which json_decode reads back) or an error object.
 * Nothing may crash, leak or trip a sanitizer, and every error is an argent
 * error object with a kind (or Lua's memory error).
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "argent.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static int encode_ref, decode_ref, core_ref;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "argent.core", luaopen_argent_core, 0);
    lua_pushvalue(L, -1);
    core_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "sql");
    lua_getfield(L, -1, "json_encode");
    encode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getfield(L, -1, "json_decode");
    decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    return 0;
}

static void fail(const char *what, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_json: %s (input of %zu bytes: '%.*s')\n", what, size,
            (int)(size < 200 ? size : 200), (const char *)data);
    abort();
}

/* Is the error at the top an argent error object (or the memory error)? */
static int good_error(void) {
    if (lua_type(L, -1) == LUA_TSTRING)
        return strcmp(lua_tostring(L, -1), "not enough memory") == 0;
    if (lua_type(L, -1) != LUA_TTABLE) return 0;
    lua_getfield(L, -1, "kind");
    int ok = lua_type(L, -1) == LUA_TSTRING;
    lua_pop(L, 1);
    return ok;
}

/* Calls the function at ref with the value at the top (popped); pushes its
 * result and returns 1, or pushes the error and returns 0. */
static int call1(int ref) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_insert(L, -2);
    return lua_pcall(L, 1, 1, 0) == LUA_OK;
}

static json_t *parse(const char *s, size_t n) {
    return json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

static void from_json(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    lua_pushlstring(L, text, size);
    if (!call1(decode_ref)) {
        if (!good_error())
            fail("json_decode raised something else than an error object", data, size);
        lua_settop(L, 0);
        return;
    }
    if (!call1(encode_ref)) {
        lua_getfield(L, -1, "message");
        fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
        fail("a decoded value does not encode", data, size);
    }
    size_t n1;
    const char *e1 = lua_tolstring(L, -1, &n1);
    json_t *orig = parse(text, size), *once = parse(e1, n1);
    if (!orig || !once) fail("jansson cannot read the input or the encoding", data, size);
    if (!json_equal(orig, once)) {
        fprintf(stderr, "fuzz_json: encoded as %.*s\n", (int)n1, e1);
        fail("the encoding holds another JSON value", data, size);
    }
    lua_pushvalue(L, -1);
    if (!call1(decode_ref) || !call1(encode_ref))
        fail("the encoding does not decode and encode", data, size);
    size_t n2;
    const char *e2 = lua_tolstring(L, -1, &n2);
    json_t *twice = parse(e2, n2);
    if (!twice || !json_equal(once, twice)) fail("encoding is not stable", data, size);
    json_decref(orig);
    json_decref(once);
    json_decref(twice);
    lua_settop(L, 0);
}

/* The stack machine of the odd inputs: builds values on the Lua stack. */
static void from_lua(const uint8_t *data, size_t size) {
    lua_settop(L, 0);
    lua_checkstack(L, 60);
    lua_rawgeti(L, LUA_REGISTRYINDEX, core_ref);
    int core = lua_gettop(L);
    lua_newtable(L); /* the value being built, the root */
    int root = lua_gettop(L);
    size_t i = 1;
    while (i < size && lua_gettop(L) < 40) {
        uint8_t op = data[i++];
        uint8_t arg = i < size ? data[i] : 0;
        switch (op % 16) {
        case 0:
            lua_pushinteger(L, (lua_Integer)(int8_t)arg * 1000003);
            i++;
            break;
        case 1:
            lua_pushnumber(L, (double)(int8_t)arg / 7.0);
            i++;
            break;
        case 2:
            lua_pushnumber(L, arg % 3 == 0 ? NAN : arg % 3 == 1 ? INFINITY : -INFINITY);
            i++;
            break;
        case 3: { /* a string of the next arg % 16 bytes */
            size_t n = arg % 16;
            i++;
            if (i >= size)
                n = 0;
            else if (n > size - i)
                n = size - i;
            lua_pushlstring(L, (const char *)data + i, n);
            i += n;
            break;
        }
        case 4:
            lua_pushboolean(L, arg & 1);
            i++;
            break;
        case 5: lua_getfield(L, core, "null"); break;
        case 6: lua_getfield(L, core, "json_null"); break;
        case 7: lua_getfield(L, core, "empty_array"); break;
        case 8: lua_newtable(L); break;
        case 9: /* t[#t + 1] = v: the value on top into the table below it */
            if (lua_gettop(L) > root && lua_istable(L, -2)) {
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            }
            break;
        case 10: /* t[k] = v with k, v on top and t below them */
            if (lua_gettop(L) >= root + 2 && lua_istable(L, -3) && !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER && isnan(lua_tonumber(L, -2))))
                lua_rawset(L, -3);
            else if (lua_gettop(L) > root)
                lua_pop(L, 1);
            break;
        case 11: /* a table inside itself */
            if (lua_istable(L, -1)) {
                lua_pushvalue(L, -1);
                lua_rawseti(L, -2, arg % 3 + 1);
            }
            i++;
            break;
        case 12: /* marked as a JSON array */
            if (lua_istable(L, -1)) {
                lua_getfield(L, core, "json_array_mt");
                lua_setmetatable(L, -2);
            }
            break;
        case 13:
            lua_rawseti(L, root, arg % 5 + 1);
            i++;
            break; /* into the root */
        case 14:
            lua_pushinteger(L, arg % 2 ? LUA_MAXINTEGER : LUA_MININTEGER);
            i++;
            break;
        default: lua_pushvalue(L, root); break;
        }
        if (lua_gettop(L) < root) lua_newtable(L); /* keep the root's slot */
    }
    lua_settop(L, root);
    lua_pushvalue(L, root);
    if (!call1(encode_ref)) {
        if (!good_error())
            fail("json_encode raised something else than an error object", data, size);
        lua_settop(L, 0);
        return;
    }
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    lua_pushvalue(L, -1);
    if (!call1(decode_ref)) {
        fprintf(stderr, "fuzz_json: encoded as '%.*s': %s\n", (int)n, text,
                luaL_tolstring(L, -1, NULL));
        fail("json_decode cannot read json_encode's text", data, size);
    }
    lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0)
        from_json(data + 1, size - 1);
    else
        from_lua(data, size);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
