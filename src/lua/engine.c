/*
 * engine.c -- the Engine userdata: create_engine's option checking, connect,
 * dispose, and the read-only fields dialect, url, pool, echo.
 * engine:begin(fn) is written in Lua (lua/argent/init.lua) on top of these.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lua/binding.h"

ag_lua_engine *ag_lua_check_engine(lua_State *L, int idx) {
    ag_lua_engine *e = ag_lua_check_self(L, idx, AG_ENGINE_TYPE);
    if (!e->engine) ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this engine was not created completely");
    return e;
}

void ag_lua_push_engine(lua_State *L, ag_engine *engine) {
    ag_lua_engine *e = ag_lua_newuserdata(L, sizeof *e, 2);
    e->engine = NULL;
    e->echo = 0;
    luaL_setmetatable(L, AG_ENGINE_TYPE);
    ag_engine_retain(engine);
    e->engine = engine;
    ag_lua_push_url(L, ag_engine_url(engine));
    ag_lua_setuservalue(L, -2, 1);
}

/* ---- option checking: each helper names the option in its error */

static int opt_integer(lua_State *L, int idx, const char *name) {
    if (!lua_isinteger(L, idx)) {
        lua_Number n = lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : 0.5;
        if (n != floor(n) || fabs(n) > 1e9)
            return ag_lua_argerror(L, "create_engine: option '%s' must be an integer, got %s", name,
                                   ag_lua_typename(L, idx));
        return (int)n;
    }
    lua_Integer i = lua_tointeger(L, idx);
    if (i < -1 || i > 1000000)
        return ag_lua_argerror(L, "create_engine: option '%s' is out of range (%lld)", name, (long long)i);
    return (int)i;
}

static double opt_number(lua_State *L, int idx, const char *name) {
    if (lua_type(L, idx) != LUA_TNUMBER)
        return ag_lua_argerror(L, "create_engine: option '%s' must be a number of seconds, got %s", name,
                               ag_lua_typename(L, idx));
    double d = lua_tonumber(L, idx);
    if (isnan(d)) return ag_lua_argerror(L, "create_engine: option '%s' must not be NaN", name);
    return d;
}

static int opt_boolean(lua_State *L, int idx, const char *name) {
    if (lua_type(L, idx) != LUA_TBOOLEAN)
        return ag_lua_argerror(L, "create_engine: option '%s' must be a boolean, got %s", name,
                               ag_lua_typename(L, idx));
    return lua_toboolean(L, idx);
}

/* connect_args: a table of name -> string | number | boolean, as strings.
 * The array of ag_url_param lives in a userdata (collected, never leaked). */
static ag_url_param *opt_connect_args(lua_State *L, int idx, size_t *count) {
    if (!lua_istable(L, idx))
        ag_lua_argerror(L, "create_engine: option 'connect_args' must be a table, got %s", ag_lua_typename(L, idx));
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    ag_url_param *params = ag_lua_newuserdata(L, (n ? n : 1) * sizeof *params, 0);
    int holder = lua_gettop(L);
    lua_newtable(L); /* keeps converted strings alive */
    int strings = lua_gettop(L);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            ag_lua_argerror(L, "create_engine: connect_args keys must be strings, got %s", ag_lua_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        int t = lua_type(L, -1);
        if (t == LUA_TBOOLEAN) {
            lua_pushstring(L, lua_toboolean(L, -1) ? "1" : "0");
        } else if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            lua_pushstring(L, lua_tostring(L, -1));
        } else {
            ag_lua_argerror(L, "create_engine: connect_args['%s'] must be a string, number or boolean, got %s", key,
                            ag_lua_typename(L, -1));
        }
        params[i].key = (char *)key;
        params[i].value = (char *)lua_tostring(L, -1);
        lua_rawseti(L, strings, (lua_Integer)i + 1);
        i++;
        lua_pop(L, 1);
    }
    (void)holder;
    *count = n;
    return params; /* the userdata and the strings table stay on the stack */
}

/* replicas: a list of URL strings (or URL objects, rendered with their
 * password).  The array is a userdata left on the stack; the strings are
 * anchored in a table left there too. */
static const char *const *opt_replicas(lua_State *L, int idx, size_t *count) {
    if (!lua_istable(L, idx))
        ag_lua_argerror(L, "create_engine: option 'replicas' must be a list of URLs, got %s", ag_lua_typename(L, idx));
    size_t n = (size_t)lua_rawlen(L, idx);
    lua_createtable(L, (int)n, 0);
    int anchor = lua_gettop(L);
    const char **list = lua_newuserdata(L, (n ? n : 1) * sizeof *list);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        if (luaL_testudata(L, -1, AG_URL_TYPE)) {
            lua_getfield(L, -1, "render_as_string");
            lua_insert(L, -2);
            lua_pushboolean(L, 0);
            lua_call(L, 2, 1);
        } else if (lua_type(L, -1) != LUA_TSTRING) {
            ag_lua_argerror(L, "create_engine: replicas[%d] must be a URL string, got %s", (int)i + 1,
                            ag_lua_typename(L, -1));
        }
        list[i] = lua_tostring(L, -1);
        lua_rawseti(L, anchor, (lua_Integer)i + 1);
    }
    *count = n;
    return list;
}

/* argent.core.create_engine(url_or_nil, opts) */
int ag_lua_create_engine(lua_State *L) {
    lua_settop(L, 2);
    size_t url_len = 0;
    const char *url;
    if (lua_isnil(L, 1)) {
        url = getenv("DB_CONNECTION_STRING");
        if (!url || !*url) return ag_lua_argerror(L, "create_engine: no URL given and DB_CONNECTION_STRING is not set");
        lua_pushstring(L, url);
        lua_replace(L, 1);
    } else if (luaL_testudata(L, 1, AG_URL_TYPE)) {
        lua_getfield(L, 1, "render_as_string");
        lua_pushvalue(L, 1);
        lua_pushboolean(L, 0);
        lua_call(L, 2, 1);
        lua_replace(L, 1);
    } else if (lua_type(L, 1) != LUA_TSTRING) {
        return ag_lua_argerror(L, "create_engine: argument 'url' must be a string or URL, got %s",
                               ag_lua_typename(L, 1));
    }
    url = lua_tolstring(L, 1, &url_len);

    ag_engine_options options;
    ag_engine_options_init(&options);
    int echo = 0, echo_idx = 0;
    if (!lua_isnil(L, 2)) {
        if (!lua_istable(L, 2))
            return ag_lua_argerror(L, "create_engine: argument 'opts' must be a table, got %s", ag_lua_typename(L, 2));
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            int v = lua_gettop(L);
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!key) return ag_lua_argerror(L, "create_engine: option names must be strings");
            if (strcmp(key, "pool_size") == 0) options.pool_size = opt_integer(L, v, key);
            else if (strcmp(key, "max_overflow") == 0) options.max_overflow = opt_integer(L, v, key);
            else if (strcmp(key, "pool_timeout") == 0) options.pool_timeout = opt_number(L, v, key);
            else if (strcmp(key, "pool_recycle") == 0) options.pool_recycle = opt_number(L, v, key);
            else if (strcmp(key, "pool_pre_ping") == 0) options.pool_pre_ping = opt_boolean(L, v, key);
            else if (strcmp(key, "statement_cache_size") == 0) options.statement_cache_size = opt_integer(L, v, key);
            else if (strcmp(key, "prepare") == 0) options.prepare = opt_boolean(L, v, key);
            else if (strcmp(key, "isolation_level") == 0) {
                if (lua_type(L, v) != LUA_TSTRING)
                    return ag_lua_argerror(L, "create_engine: option 'isolation_level' must be a string, got %s",
                                           ag_lua_typename(L, v));
                options.isolation_level = lua_tostring(L, v);
            } else if (strcmp(key, "echo") == 0) {
                if (lua_type(L, v) == LUA_TBOOLEAN) {
                    echo = lua_toboolean(L, v);
                } else if (lua_type(L, v) == LUA_TFUNCTION) {
                    echo = 2;
                    echo_idx = 1;
                } else {
                    return ag_lua_argerror(L, "create_engine: option 'echo' must be a boolean or a function, got %s",
                                           ag_lua_typename(L, v));
                }
            } else if (strcmp(key, "connect_args") == 0 || strcmp(key, "replicas") == 0) {
                /* checked below, once the loop no longer needs the stack top */
            } else {
                return ag_lua_argerror(L,
                                       "create_engine: unknown option '%s' (known: pool_size, max_overflow, "
                                       "pool_timeout, pool_recycle, pool_pre_ping, echo, isolation_level, "
                                       "connect_args, statement_cache_size, prepare, replicas)",
                                       key);
            }
            lua_pop(L, 1);
        }
        lua_getfield(L, 2, "connect_args");
        if (!lua_isnil(L, -1)) {
            options.connect_args = opt_connect_args(L, lua_gettop(L), &options.nconnect_args);
        }
        lua_getfield(L, 2, "replicas");
        if (!lua_isnil(L, -1)) options.replicas = opt_replicas(L, lua_gettop(L), &options.nreplicas);
    }
    (void)echo_idx;
    /* The userdata exists before the engine it will own. */
    ag_lua_engine *e = ag_lua_newuserdata(L, sizeof *e, 2);
    e->engine = NULL;
    e->echo = echo;
    luaL_setmetatable(L, AG_ENGINE_TYPE);
    ag_error err;
    e->engine = ag_engine_create(url, url_len, &options, &err);
    if (!e->engine) return ag_lua_raise(L, &err, NULL);
    ag_lua_push_url(L, ag_engine_url(e->engine));
    ag_lua_setuservalue(L, -2, 1);
    if (echo == 2) {
        lua_getfield(L, 2, "echo");
        ag_lua_setuservalue(L, -2, 2);
    }
    return 1;
}

static int engine_gc(lua_State *L) {
    ag_lua_engine *e = ag_lua_check_self(L, 1, AG_ENGINE_TYPE);
    if (e->engine) {
        ag_engine_release(e->engine);
        e->engine = NULL;
    }
    return 0;
}

/* engine:connect([{readonly = true}]) */
static int engine_connect(lua_State *L) {
    ag_lua_engine *e = ag_lua_check_engine(L, 1);
    int readonly = 0;
    if (!lua_isnoneornil(L, 2)) {
        if (!lua_istable(L, 2))
            return ag_lua_argerror(L, "connect: argument 'opts' must be a table, got %s", ag_lua_typename(L, 2));
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!key || strcmp(key, "readonly") != 0)
                return ag_lua_argerror(L, "connect: unknown option '%s' (known: readonly)",
                                       key ? key : luaL_typename(L, -2));
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                return ag_lua_argerror(L, "connect: option 'readonly' must be a boolean, got %s",
                                       ag_lua_typename(L, -1));
            readonly = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, 1);
    ag_lua_conn *c = ag_lua_newuserdata(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, AG_CONNECTION_TYPE);
    lua_pushvalue(L, 1);
    ag_lua_setuservalue(L, -2, 1);
    ag_error err;
    c->conn = readonly ? ag_engine_connect_readonly(e->engine, &err) : ag_engine_connect(e->engine, &err);
    if (!c->conn) return ag_lua_raise(L, &err, NULL);
    c->echo = e->echo;
    return 1;
}

static int engine_dispose(lua_State *L) {
    ag_lua_engine *e = ag_lua_check_engine(L, 1);
    ag_engine_dispose(e->engine);
    return 0;
}

static int engine_tostring(lua_State *L) {
    ag_lua_engine *e = ag_lua_check_self(L, 1, AG_ENGINE_TYPE);
    if (!e->engine) {
        lua_pushliteral(L, "Engine(?)");
        return 1;
    }
    char *s = ag_url_render(ag_engine_url(e->engine), 1);
    lua_pushfstring(L, "Engine(%s)", s ? s : "?");
    free(s);
    return 1;
}

static int engine_index(lua_State *L) {
    ag_lua_engine *e = ag_lua_check_engine(L, 1);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "dialect") == 0) {
        lua_pushstring(L, ag_dialect_name(ag_engine_dialect(e->engine)));
    } else if (key && strcmp(key, "features") == 0) {
        ag_lua_push_features(L, ag_engine_dialect(e->engine));
    } else if (key && strcmp(key, "url") == 0) {
        ag_lua_getuservalue(L, 1, 1);
    } else if (key && strcmp(key, "echo") == 0) {
        if (e->echo == 2) ag_lua_getuservalue(L, 1, 2);
        else lua_pushboolean(L, e->echo);
    } else if (key && strcmp(key, "pool") == 0) {
        lua_createtable(L, 0, 1); /* a small view; holds the engine alive */
        lua_pushvalue(L, 1);
        lua_setfield(L, -2, "engine");
        luaL_setmetatable(L, AG_POOL_TYPE);
    } else {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1));
    }
    return 1;
}

/* The engine behind the pool object at index 1 (self). */
static ag_lua_engine *check_pool(lua_State *L) {
    int is_pool = 0;
    if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
        luaL_getmetatable(L, AG_POOL_TYPE);
        is_pool = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!is_pool) ag_lua_check_self(L, 1, AG_POOL_TYPE); /* raises, naming self */
    lua_getfield(L, 1, "engine");
    return ag_lua_check_engine(L, -1);
}

static void push_status(lua_State *L, const ag_pool_status *status);

/* engine.pool:status() -> {size=, checked_in=, checked_out=, overflow=}, the
 * primary's pool; with replicas also replicas = {{url=, size=, ...}, ...}. */
static int pool_status(lua_State *L) {
    ag_lua_engine *e = check_pool(L);
    ag_pool_status st;
    ag_engine_pool_status(e->engine, &st);
    push_status(L, &st);
    size_t n = ag_engine_replica_count(e->engine);
    if (n) {
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            ag_engine_replica_pool_status(e->engine, i, &st);
            push_status(L, &st);
            char *url = ag_url_render(ag_engine_replica_url(e->engine, i), 1);
            if (!url) return ag_lua_nomem(L);
            lua_pushstring(L, url);
            free(url);
            lua_setfield(L, -2, "url");
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "replicas");
    }
    return 1;
}

static void push_status(lua_State *L, const ag_pool_status *status) {
    const ag_pool_status st = *status;
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, st.size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, st.checked_in);
    lua_setfield(L, -2, "checked_in");
    lua_pushinteger(L, st.checked_out);
    lua_setfield(L, -2, "checked_out");
    lua_pushinteger(L, st.overflow);
    lua_setfield(L, -2, "overflow");
}

static int pool_dispose(lua_State *L) {
    ag_lua_engine *e = check_pool(L);
    ag_engine_dispose(e->engine);
    return 0;
}

void ag_lua_open_engine(lua_State *L) {
    static const luaL_Reg methods[] = {{"connect", engine_connect}, {"dispose", engine_dispose}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", engine_gc}, {"__tostring", engine_tostring}, {NULL, NULL}};
    ag_lua_new_type(L, AG_ENGINE_TYPE, methods, meta, engine_index);
    static const luaL_Reg pool_methods[] = {{"status", pool_status}, {"dispose", pool_dispose}, {NULL, NULL}};
    static const luaL_Reg pool_meta[] = {{NULL, NULL}};
    ag_lua_new_type(L, AG_POOL_TYPE, pool_methods, pool_meta, NULL);
}
