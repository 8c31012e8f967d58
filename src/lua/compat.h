/*
 * compat.h -- the one place for Lua-version differences (API.md section 10).
 * The bindings are written against the Lua 5.4 API; on 5.3, 5.1 and LuaJIT
 * 2.1 this header supplies what those lack, in terms of their own API:
 *
 *   user values      5.4: lua_newuserdatauv's n values.  Before: a table of n
 *                    slots, the userdata's one user value (5.3) or its
 *                    environment (5.1/LuaJIT, lua_setfenv).
 *   lua_getfield, lua_rawget, lua_rawgeti, lua_gettable  return the type
 *                    (5.3+); on 5.1 they return nothing: wrapped.
 *   lua_rawgetp/rawsetp, lua_absindex, lua_rawlen, luaL_tolstring,
 *   luaL_getsubtable, luaL_requiref, luaL_setfuncs, luaL_testudata,
 *   lua_stringtonumber, lua_isinteger, luaL_checkinteger (5.1 truncates 1.5:
 *                    here it raises as 5.3 does), lua_numbertointeger.
 *   64-bit integers  5.3+: lua_Integer.  5.1/LuaJIT have only doubles: a
 *                    database integer comes back as a number when a double
 *                    holds it exactly (|n| <= 2^53), else as its exact
 *                    decimal string (ag_lua_pushint64); a number counts as
 *                    an integer (lua_isinteger) when it is integral and
 *                    |n| <= 2^53.
 *   luaL_Buffer      the same discipline on every version (the buffer may
 *                    use the stack between luaL_buffinit and pushresult).
 *   __close          5.4 only; the metamethod is harmless elsewhere, and
 *                    close() does the same.  __gc: userdata only, as used.
 *   __pairs          5.2+ (and not LuaJIT's default build): the Lua layer
 *                    iterates an instance with its own function.
 *   GC mode          ag_lua_gc / ag_lua_gc_generational (5.4: generational).
 * LuaJIT 2.1 has some of the 5.2 additions (luaL_setfuncs, luaL_testudata,
 * LUA_OK, lua_tointegerx): AG_LUAJIT tells it from PUC 5.1.
 */
#ifndef ARGENT_LUA_COMPAT_H
#define ARGENT_LUA_COMPAT_H

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(LUA_LJDIR) /* LuaJIT's luaconf.h */
#define AG_LUAJIT 1
#endif

/* The largest magnitude a double holds every integer up to: 2^53. */
#define AG_LUA_EXACT_DOUBLE 9007199254740992.0

#if LUA_VERSION_NUM >= 504
#define ag_lua_newuserdata(L, size, nuv) lua_newuserdatauv((L), (size), (nuv))
#define ag_lua_getuservalue(L, idx, n) lua_getiuservalue((L), (idx), (n))
#define ag_lua_setuservalue(L, idx, n) lua_setiuservalue((L), (idx), (n))
#else
/* The table of user values, as the userdata's one user value (5.3) or its
 * environment (5.1, LuaJIT). */
#if LUA_VERSION_NUM >= 503
#define ag_lua_uvtable_set_(L, idx) lua_setuservalue((L), (idx))
#define ag_lua_uvtable_get_(L, idx) lua_getuservalue((L), (idx))
#else
#define ag_lua_uvtable_set_(L, idx) lua_setfenv((L), (idx))
#define ag_lua_uvtable_get_(L, idx) lua_getfenv((L), (idx))
#endif
static inline void *ag_lua_newuserdata(lua_State *L, size_t size, int nuv) {
    void *p = lua_newuserdata(L, size);
    if (nuv > 0) {
        lua_createtable(L, nuv, 0);
        ag_lua_uvtable_set_(L, -2);
    }
    return p;
}
#define lua_newuserdatauv(L, size, nuv) ag_lua_newuserdata((L), (size), (nuv))
#endif

#if LUA_VERSION_NUM < 504
/* lua_topointer gives NULL for a string before 5.4: its text instead, one
 * pointer per distinct short string (interned) as in 5.4. */
#define lua_topointer(L, i) \
    (lua_type((L), (i)) == LUA_TSTRING ? (const void *)lua_tostring((L), (i)) : lua_topointer((L), (i)))
#endif

#if LUA_VERSION_NUM < 502
#ifndef LUA_OK
#define LUA_OK 0
#endif
#define lua_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define luaL_checkversion(L) ((void)(L))
#define LUA_MAXINTEGER PTRDIFF_MAX
#define LUA_MININTEGER PTRDIFF_MIN
/* 5.3's getters return the type of what they push; 5.1's return nothing.
 * (A function-like macro does not expand itself: the inner call is 5.1's.) */
#define lua_getfield(L, i, k) (lua_getfield((L), (i), (k)), lua_type((L), -1))
#define lua_rawget(L, i) (lua_rawget((L), (i)), lua_type((L), -1))
#define lua_rawgeti(L, i, n) (lua_rawgeti((L), (i), (int)(n)), lua_type((L), -1))
#define lua_gettable(L, i) (lua_gettable((L), (i)), lua_type((L), -1))
#endif

#if LUA_VERSION_NUM < 503
static inline int ag_lua_rawgetp_(lua_State *L, int idx, const void *p) {
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, (void *)p);
    return lua_rawget(L, idx);
}
static inline void ag_lua_rawsetp_(lua_State *L, int idx, const void *p) {
    idx = lua_absindex(L, idx);
    lua_pushlightuserdata(L, (void *)p);
    lua_insert(L, -2);
    lua_rawset(L, idx);
}
#define lua_rawgetp(L, i, p) ag_lua_rawgetp_((L), (i), (p))
#define lua_rawsetp(L, i, p) ag_lua_rawsetp_((L), (i), (p))

/* luaL_newmetatable sets __name (5.3+): the type's name in messages. */
static inline int ag_lua_newmetatable_(lua_State *L, const char *tname) {
    if (!(luaL_newmetatable)(L, tname)) return 0;
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    return 1;
}
#define luaL_newmetatable(L, t) ag_lua_newmetatable_((L), (t))

/* A number is an integer when a double holds it exactly as one. */
static inline int ag_lua_isinteger_(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    lua_Number d = lua_tonumber(L, idx);
    return d == floor(d) && fabs(d) <= AG_LUA_EXACT_DOUBLE;
}
#define lua_isinteger(L, i) ag_lua_isinteger_((L), (i))
#define lua_numbertointeger(n, p) \
    ((n) >= (lua_Number)LUA_MININTEGER && (n) < -(lua_Number)LUA_MININTEGER && (*(p) = (lua_Integer)(n), 1))

static inline lua_Integer ag_lua_checkinteger_(lua_State *L, int arg) {
    lua_Number d = luaL_checknumber(L, arg);
    if (!(d == floor(d) && fabs(d) <= AG_LUA_EXACT_DOUBLE))
        luaL_argerror(L, arg, "number has no integer representation");
    return (lua_Integer)d;
}
#define luaL_checkinteger(L, a) ag_lua_checkinteger_((L), (a))
#define luaL_optinteger(L, a, d) (lua_isnoneornil((L), (a)) ? (lua_Integer)(d) : luaL_checkinteger((L), (a)))

/* lua_stringtonumber: an integer's decimal text that a double does not
 * hold exactly is not converted (0), so that its caller keeps the text. */
static inline size_t ag_lua_stringtonumber_(lua_State *L, const char *s) {
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    const char *digits = (*p == '-' || *p == '+') ? p + 1 : p;
    const char *q = digits;
    while (*q >= '0' && *q <= '9') q++;
    const char *end = q;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r') end++;
    if (q > digits && *end == '\0') { /* an integer */
        char *stop;
        double d = strtod(p, &stop);
        if (fabs(d) > AG_LUA_EXACT_DOUBLE) return 0;
        lua_pushnumber(L, d);
        return strlen(s) + 1;
    }
    lua_pushstring(L, s);
    if (!lua_isnumber(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_Number d = lua_tonumber(L, -1);
    lua_pop(L, 1);
    lua_pushnumber(L, d);
    return strlen(s) + 1;
}
#define lua_stringtonumber(L, s) ag_lua_stringtonumber_((L), (s))
#endif

#if LUA_VERSION_NUM < 502
static inline const char *ag_lua_tolstring_(lua_State *L, int idx, size_t *len) {
    idx = lua_absindex(L, idx);
    if (luaL_callmeta(L, idx, "__tostring")) {
        if (!lua_isstring(L, -1)) luaL_error(L, "'__tostring' must return a string");
    } else {
        switch (lua_type(L, idx)) {
        case LUA_TNUMBER:
        case LUA_TSTRING: lua_pushvalue(L, idx); break;
        case LUA_TBOOLEAN: lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false"); break;
        case LUA_TNIL: lua_pushliteral(L, "nil"); break;
        default: lua_pushfstring(L, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx)); break;
        }
    }
    return lua_tolstring(L, -1, len);
}
#define luaL_tolstring(L, i, len) ag_lua_tolstring_((L), (i), (len))

static inline int ag_lua_getsubtable_(lua_State *L, int idx, const char *fname) {
    if (lua_getfield(L, idx, fname) == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, idx, fname);
    return 0;
}
#define luaL_getsubtable(L, i, f) ag_lua_getsubtable_((L), (i), (f))

static inline void ag_lua_requiref_(lua_State *L, const char *name, lua_CFunction open, int global) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, "_LOADED");
    if (lua_getfield(L, -1, name) == LUA_TNIL || lua_toboolean(L, -1) == 0) {
        lua_pop(L, 1);
        lua_pushcfunction(L, open);
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    lua_remove(L, -2);
    if (global) {
        lua_pushvalue(L, -1);
        lua_setglobal(L, name);
    }
}
#define luaL_requiref(L, n, f, g) ag_lua_requiref_((L), (n), (f), (g))

#ifndef AG_LUAJIT /* LuaJIT has these two */
static inline void ag_lua_setfuncs_(lua_State *L, const luaL_Reg *l, int nup) {
    luaL_checkstack(L, nup + 1, "too many upvalues");
    for (; l->name; l++) {
        for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
        lua_pushcclosure(L, l->func, nup);
        lua_setfield(L, -(nup + 2), l->name);
    }
    lua_pop(L, nup);
}
#define luaL_setfuncs(L, l, n) ag_lua_setfuncs_((L), (l), (n))

static inline void *ag_lua_testudata_(lua_State *L, int idx, const char *tname) {
    void *p = lua_touserdata(L, idx);
    if (!p || !lua_getmetatable(L, idx)) return NULL;
    lua_getfield(L, LUA_REGISTRYINDEX, tname);
    if (!lua_rawequal(L, -1, -2)) p = NULL;
    lua_pop(L, 2);
    return p;
}
#define luaL_testudata(L, i, t) ag_lua_testudata_((L), (i), (t))
#define luaL_setmetatable(L, t) (luaL_getmetatable((L), (t)), lua_setmetatable((L), -2))

/* luaL_traceback through debug.traceback (L1 is L here). */
static inline void ag_lua_traceback_(lua_State *L, lua_State *L1, const char *msg, int level) {
    (void)L1;
    lua_getglobal(L, "debug");
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "traceback");
        lua_remove(L, -2);
    }
    if (lua_type(L, -1) == LUA_TFUNCTION) {
        lua_pushstring(L, msg);
        lua_pushinteger(L, level + 1);
        lua_call(L, 2, 1);
    } else {
        lua_pop(L, 1);
        lua_pushstring(L, msg);
    }
}
#define luaL_traceback(L, L1, m, l) ag_lua_traceback_((L), (L1), (m), (l))
#endif
#endif

#if LUA_VERSION_NUM < 504 && !defined(ag_lua_getuservalue)
/* User value n of the userdata at idx (pushed; its type, LUA_TNONE when it
 * has no such value) and setting it (pops the value; 0 when it has none). */
static inline int ag_lua_getuservalue(lua_State *L, int idx, int n) {
    ag_lua_uvtable_get_(L, idx);
    if (lua_type(L, -1) != LUA_TTABLE || n < 1) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNONE;
    }
    lua_rawgeti(L, -1, n);
    lua_remove(L, -2);
    return lua_type(L, -1);
}
static inline int ag_lua_setuservalue(lua_State *L, int idx, int n) {
    idx = lua_absindex(L, idx);
    ag_lua_uvtable_get_(L, idx);
    if (lua_type(L, -1) != LUA_TTABLE || n < 1) {
        lua_pop(L, 2);
        return 0;
    }
    lua_insert(L, -2);
    lua_rawseti(L, -2, n);
    lua_pop(L, 1);
    return 1;
}
#define lua_getiuservalue(L, i, n) ag_lua_getuservalue((L), (i), (n))
#define lua_setiuservalue(L, i, n) ag_lua_setuservalue((L), (i), (n))
#endif

/* The GC: lua_gc's arguments differ (5.4 is variadic); generational mode is 5.4's. */
#if LUA_VERSION_NUM >= 504
#define ag_lua_gc(L, what) lua_gc((L), (what))
#define ag_lua_gc_generational(L) ((void)lua_gc((L), LUA_GCGEN, 0, 0))
#else
#define ag_lua_gc(L, what) lua_gc((L), (what), 0)
#define ag_lua_gc_generational(L) ((void)(L))
#endif

/* package.preload, pushed (5.1 has no registry entry for it). */
static inline void ag_lua_push_preload(lua_State *L) {
#if LUA_VERSION_NUM >= 502
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
#else
    luaL_getsubtable(L, LUA_REGISTRYINDEX, "_LOADED");
    if (lua_getfield(L, -1, "package") == LUA_TTABLE) {
        luaL_getsubtable(L, -1, "preload");
        lua_remove(L, -2);
    } else { /* no package library: a preload table of our own */
        lua_pop(L, 1);
        luaL_getsubtable(L, LUA_REGISTRYINDEX, "_PRELOAD");
    }
    lua_remove(L, -2);
#endif
}

/* A 64-bit integer from the database: an integer (5.3+); on 5.1/LuaJIT a
 * number when a double holds it exactly, else its exact decimal text. */
static inline void ag_lua_pushint64(lua_State *L, int64_t v) {
#if LUA_VERSION_NUM >= 503
    lua_pushinteger(L, (lua_Integer)v);
#else
    if (v >= -(int64_t)AG_LUA_EXACT_DOUBLE && v <= (int64_t)AG_LUA_EXACT_DOUBLE) {
        lua_pushnumber(L, (lua_Number)v);
    } else {
        char text[24];
        lua_pushlstring(L, text, (size_t)snprintf(text, sizeof text, "%lld", (long long)v));
    }
#endif
}

/* Does the Lua number at idx give a 64-bit integer, and which?  5.3+: an
 * integer subtype.  5.1/LuaJIT: an integral number that a double holds
 * exactly (|n| <= 2^53); a larger number may have been rounded already and
 * is not taken as an integer (see ag_lua_number_is_unsafe_integer). */
static inline int ag_lua_toint64(lua_State *L, int idx, int64_t *out) {
    if (!lua_isinteger(L, idx)) return 0;
#if LUA_VERSION_NUM >= 503
    *out = (int64_t)lua_tointeger(L, idx);
#else
    *out = (int64_t)lua_tonumber(L, idx);
#endif
    return 1;
}

/* An integer's decimal text ("  -42 ", no other characters) that fits 64
 * bits: 1 and *out, else 0.  On every version such a string written to an
 * integer column is bound as that integer, exactly. */
static inline int ag_lua_parse_int64(const char *s, size_t len, int64_t *out) {
    size_t i = 0, end = len;
    while (i < end && (s[i] == ' ' || s[i] == '\t')) i++;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t')) end--;
    int negative = i < end && s[i] == '-';
    if (i < end && (s[i] == '-' || s[i] == '+')) i++;
    if (i == end) return 0;
    uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < end; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* An ORM Integer attribute's value beyond what lua_isinteger takes: before
 * 5.3, the decimal string of an integer that a double does not hold. */
static inline int ag_lua_orm_integer_ok(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 503
    (void)L;
    (void)idx;
    return 0;
#else
    size_t len = 0;
    int64_t v;
    const char *text = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
    return text && ag_lua_parse_int64(text, len, &v) &&
           (v > (int64_t)AG_LUA_EXACT_DOUBLE || v < -(int64_t)AG_LUA_EXACT_DOUBLE);
#endif
}

/* 5.1/LuaJIT: is the value at idx an integral number beyond 2^53, that a
 * double may hold only rounded (write it as a decimal string instead)? */
static inline int ag_lua_number_is_unsafe_integer(lua_State *L, int idx) {
#if LUA_VERSION_NUM >= 503
    (void)L;
    (void)idx;
    return 0;
#else
    if (lua_type(L, idx) != LUA_TNUMBER) return 0;
    lua_Number d = lua_tonumber(L, idx);
    return d == floor(d) && fabs(d) > AG_LUA_EXACT_DOUBLE;
#endif
}

#endif
