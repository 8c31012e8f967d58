/*
 * json.c -- JSON values in and out of Lua, with jansson (DESIGN.md: JSON is
 * encoded and decoded in C by a maintained library, never by hand).
 *
 * Lua to JSON: a table whose keys are exactly 1..n (n > 0) is an array, and
 * so is a table whose metatable is argent.json_array_mt, even empty (what
 * lua-cjson's empty_array_mt does); any other table is an object (keys must
 * be strings or numbers, written as strings), so an empty plain table is {}.
 * argent.empty_array is [] and argent.json_null is null wherever they stand;
 * argent.null is null inside arrays and objects (at the top of a JSON
 * column's value it is SQL NULL, which the bindings decide before this
 * file is reached).  Strings must be UTF-8 (a DataError otherwise: no
 * database would store the JSON text).
 *
 * JSON to Lua: every array becomes a table with argent.json_array_mt, so that
 * [] read and written back stays [] (and so does an array emptied by the
 * program); null is argent.null inside arrays and objects (so positions are
 * kept) and argent.json_null at the top (a JSON column holding null is not
 * a SQL NULL: it reads back as what writes it back).  Integers stay
 * integers.  Neither direction raises except for memory (the encoder only
 * reads tables raw).
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/utf8.h"
#include "lua/sql_binding.h"

#define JSON_MAX_DEPTH 200

/* jansson reports a failed allocation while parsing as a syntax error (or
 * with no message): its allocator notes the failure here, so that running
 * out of memory is never reported as invalid JSON.  It is argent's
 * allocator (src/base/alloc.h), set once per process; jansson's memory is
 * still the C library's. */
static _Thread_local int json_alloc_failed;

static void *json_alloc(size_t size) {
    void *p = ag_malloc(size);
    if (!p) json_alloc_failed = 1;
    return p;
}

static void use_json_alloc(void) { json_set_alloc_funcs(json_alloc, free); }

static int json_null_key, empty_array_key, array_mt_key;

/* Is the value at idx the sentinel stored in the registry under key? */
static int is_sentinel(lua_State *L, int idx, const void *key) {
    if (lua_type(L, idx) != LUA_TUSERDATA) return 0;
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int is = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return is;
}

/* Does the table at idx carry argent.json_array_mt? */
static int has_array_mt(lua_State *L, int idx) {
    if (!lua_getmetatable(L, idx)) return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

static json_t *to_json(lua_State *L, int idx, int depth, ag_error *err);

/* Are the table's keys exactly 1..n?  *n is its length; with marked (an
 * argent.json_array_mt table) an empty table counts as an array too. */
static int is_array(lua_State *L, int idx, size_t *n, int marked) {
    size_t len = lua_rawlen(L, idx);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || (size_t)k > len) {
            lua_pop(L, 1);
            return 0;
        }
        count++;
    }
    *n = len;
    return count == len && (len > 0 || marked);
}

static json_t *table_to_json(lua_State *L, int idx, int depth, ag_error *err) {
    size_t n;
    int marked = has_array_mt(L, idx);
    if (is_array(L, idx, &n, marked)) {
        json_t *a = json_array();
        if (!a) goto nomem;
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            json_t *v = to_json(L, lua_gettop(L), depth + 1, err);
            lua_pop(L, 1);
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (marked) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                     "a table marked as a JSON array (argent.json_array_mt) must have the keys 1..n and no "
                     "others");
        return NULL;
    }
    json_t *o = json_object();
    if (!o) goto nomem;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        char numkey[64];
        const char *key;
        size_t keylen;
        if (lua_type(L, -2) == LUA_TSTRING) {
            key = lua_tolstring(L, -2, &keylen);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            if (lua_isinteger(L, -2)) snprintf(numkey, sizeof numkey, "%lld", (long long)lua_tointeger(L, -2));
            else snprintf(numkey, sizeof numkey, "%.17g", lua_tonumber(L, -2));
            key = numkey;
            keylen = strlen(numkey);
        } else {
            ag_error_set(err, AG_ERR_ARGUMENT, NULL, "a JSON object key must be a string or a number, not a %s",
                         lua_typename(L, lua_type(L, -2)));
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        if (ag_utf8_check(key, keylen, NULL) == AG_UTF8_INVALID) {
            ag_error_set(err, AG_ERR_DATA, "22021", "a JSON object key must be UTF-8");
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        if (memchr(key, '\0', keylen)) { /* jansson would write it, and then not read it back */
            ag_error_set(err, AG_ERR_DATA, "22021", "a JSON object key cannot hold a zero byte");
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        json_t *v = to_json(L, lua_gettop(L), depth + 1, err);
        if (!v || json_object_setn_new_nocheck(o, key, keylen, v) != 0) {
            if (v == NULL && err->kind == AG_OK) ag_error_nomem(err);
            lua_pop(L, 2);
            json_decref(o);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return o;
nomem:
    ag_error_nomem(err);
    return NULL;
}

static json_t *to_json(lua_State *L, int idx, int depth, ag_error *err) {
    if (depth > JSON_MAX_DEPTH) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "JSON value nested too deeply (or a table contains itself)");
        return NULL;
    }
    if (!lua_checkstack(L, 4)) {
        ag_error_nomem(err);
        return NULL;
    }
    json_t *v = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: v = json_null(); break;
    case LUA_TBOOLEAN: v = json_boolean(lua_toboolean(L, idx)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v = json_integer((json_int_t)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d)) {
                ag_error_set(err, AG_ERR_ARGUMENT, NULL, "JSON cannot hold %g", d);
                return NULL;
            }
            v = json_real(d);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (ag_utf8_check(s, len, NULL) == AG_UTF8_INVALID) {
            ag_error_set(err, AG_ERR_DATA, "22021", "a JSON string must be UTF-8 (JSON has no binary strings)");
            return NULL;
        }
        v = json_stringn_nocheck(s, len);
        break;
    }
    case LUA_TTABLE: return table_to_json(L, idx, depth, err);
    default:
        if (ag_lua_is_null(L, idx) || is_sentinel(L, idx, &json_null_key)) {
            v = json_null();
            break;
        }
        if (is_sentinel(L, idx, &empty_array_key)) {
            v = json_array();
            break;
        }
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "a %s cannot be stored as JSON", lua_typename(L, lua_type(L, idx)));
        return NULL;
    }
    if (!v) ag_error_nomem(err);
    return v;
}

static int dump_callback(const char *buffer, size_t size, void *data) { return ag_buf_append(data, buffer, size); }

int ag_lua_json_encode(lua_State *L, int idx, ag_buf *out, ag_error *err) {
    ag_error_clear(err);
    idx = lua_absindex(L, idx);
    json_t *v = to_json(L, idx, 0, err);
    if (!v) {
        if (err->kind == AG_OK) ag_error_nomem(err);
        return -1;
    }
    int rc = json_dump_callback(v, dump_callback, out, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    /* the value was checked above: only the output buffer can have failed */
    if (rc != 0) return ag_error_nomem(err);
    return 0;
}

int ag_lua_json_push(lua_State *L, int idx, ag_error *err) {
    idx = lua_absindex(L, idx);
    ag_lua_box *box = ag_lua_push_box(L); /* owns the text while it becomes a Lua string */
    ag_buf b = AG_BUF_INIT;
    if (ag_lua_json_encode(L, idx, &b, err) != 0) {
        ag_buf_free(&b);
        lua_pop(L, 1);
        return -1;
    }
    box->p = b.data;
    box->free = free;
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    ag_lua_box_release(L, -2, box);
    return 0;
}

static void free_json(void *v) { json_decref(v); }

static void push_json(lua_State *L, json_t *v, int top) {
    luaL_checkstack(L, 4, "JSON nested too deeply");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *key;
        size_t keylen;
        json_t *item;
        json_object_keylen_foreach(v, key, keylen, item) {
            lua_pushlstring(L, key, keylen);
            push_json(L, item, 0);
            lua_rawset(L, -3);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_json(L, json_array_get(v, i), 0);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
        lua_setmetatable(L, -2);
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: ag_lua_pushint64(L, (int64_t)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default:
        if (top) lua_rawgetp(L, LUA_REGISTRYINDEX, &json_null_key);
        else ag_lua_push_null(L);
    }
}

int ag_lua_json_decode(lua_State *L, const char *text, size_t len, ag_error *err) {
    json_error_t jerr;
    ag_lua_box *box = ag_lua_push_box(L); /* owns the document while it becomes Lua values */
    json_alloc_failed = 0;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        lua_pop(L, 1);
        if (json_alloc_failed || json_error_code(&jerr) == json_error_out_of_memory) return ag_error_nomem(err);
        return ag_error_set(err, AG_ERR_DATA, NULL, "invalid JSON from the database: %s", jerr.text);
    }
    box->p = v;
    box->free = free_json;
    push_json(L, v, 1); /* may raise a memory error: the box frees v then */
    ag_lua_box_release(L, -2, box);
    return 0;
}

int ag_lua_is_json_sentinel(lua_State *L, int idx) {
    return is_sentinel(L, idx, &json_null_key) || is_sentinel(L, idx, &empty_array_key);
}

static int sentinel_tostring(lua_State *L) {
    lua_getfield(L, lua_upvalueindex(1), "name");
    return 1;
}

/* A closed userdata named name (its metatable cannot be read or changed). */
static void new_sentinel(lua_State *L, const char *name, const void *key) {
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 3);
    lua_createtable(L, 0, 1);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushcclosure(L, sentinel_tostring, 1);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "sentinel");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void ag_lua_open_json(lua_State *L) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, use_json_alloc);
    new_sentinel(L, "argent.json_null", &json_null_key);
    lua_setfield(L, -2, "json_null");
    new_sentinel(L, "argent.empty_array", &empty_array_key);
    lua_setfield(L, -2, "empty_array");
    lua_createtable(L, 0, 1); /* argent.json_array_mt: marks a table as a JSON array */
    lua_pushliteral(L, "argent.json_array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
    lua_setfield(L, -2, "json_array_mt");
}
