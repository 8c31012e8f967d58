/*
 * url.c -- the URL object of argent.make_url: read-only fields drivername,
 * dialect, driver, username, password, host, port, hosts (every host of a
 * PostgreSQL list, {host =, port =} each), database, query, and a
 * tostring that masks the password as ***.
 */
#include <stdlib.h>
#include <string.h>

#include "lua/binding.h"

typedef struct lua_url {
    ag_url *url;
} lua_url;

static ag_url *check_url(lua_State *L, int idx) {
    lua_url *u = ag_lua_check_self(L, idx, AG_URL_TYPE);
    /* its __gc has run: a script can call it (the metatable is reachable) */
    if (!u->url) ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this URL object has been collected");
    return u->url;
}

void ag_lua_push_url(lua_State *L, const ag_url *url) {
    lua_url *u = ag_lua_newuserdata(L, sizeof *u, 0);
    u->url = NULL;
    luaL_setmetatable(L, AG_URL_TYPE);
    u->url = ag_url_copy(url);
    if (!u->url) ag_lua_nomem(L);
}

static void push_opt_string(lua_State *L, const char *s) {
    if (s) lua_pushstring(L, s);
    else lua_pushnil(L);
}

static int url_index(lua_State *L) {
    ag_url *url = check_url(L, 1);
    const char *key = lua_tostring(L, 2);
    if (!key) return 0;
    if (strcmp(key, "drivername") == 0) push_opt_string(L, url->drivername);
    else if (strcmp(key, "dialect") == 0) lua_pushstring(L, ag_dialect_name(url->dialect));
    else if (strcmp(key, "driver") == 0) push_opt_string(L, url->driver);
    else if (strcmp(key, "username") == 0) push_opt_string(L, url->username);
    else if (strcmp(key, "password") == 0) push_opt_string(L, url->password);
    else if (strcmp(key, "host") == 0) push_opt_string(L, url->host);
    else if (strcmp(key, "hosts") == 0) { /* every host of the URL: {{host =, port =}, ...} */
        lua_createtable(L, (int)url->nmore_hosts + 1, 0);
        for (size_t i = 0; i <= url->nmore_hosts; i++) {
            const char *h = i == 0 ? url->host : url->more_hosts[i - 1].host;
            int p = i == 0 ? url->port : url->more_hosts[i - 1].port;
            lua_createtable(L, 0, 2);
            push_opt_string(L, h);
            lua_setfield(L, -2, "host");
            if (p) {
                lua_pushinteger(L, p);
                lua_setfield(L, -2, "port");
            }
            lua_rawseti(L, -2, (int)i + 1);
        }
    } else if (strcmp(key, "port") == 0) {
        if (url->port) lua_pushinteger(L, url->port);
        else lua_pushnil(L);
    } else if (strcmp(key, "database") == 0) push_opt_string(L, url->database);
    else if (strcmp(key, "query") == 0) {
        lua_createtable(L, 0, (int)url->nquery);
        for (size_t i = 0; i < url->nquery; i++) {
            lua_pushstring(L, url->query[i].value);
            lua_setfield(L, -2, url->query[i].key);
        }
    } else {
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1)); /* methods */
    }
    return 1;
}

static int push_rendered(lua_State *L, ag_url *url, int mask) {
    char *s = ag_url_render(url, mask);
    if (!s) return ag_lua_nomem(L);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int url_tostring(lua_State *L) { return push_rendered(L, check_url(L, 1), 1); }

/* url:render_as_string(hide_password = true), as SQLAlchemy spells it. */
static int url_render_as_string(lua_State *L) {
    ag_url *url = check_url(L, 1);
    int hide = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
    return push_rendered(L, url, hide);
}

static int url_newindex(lua_State *L) {
    return ag_lua_raisef(L, AG_ERR_ARGUMENT, "URL objects are read-only (field '%s')", luaL_tolstring(L, 2, NULL));
}

static int url_eq(lua_State *L) {
    if (!luaL_testudata(L, 1, AG_URL_TYPE) || !luaL_testudata(L, 2, AG_URL_TYPE)) {
        lua_pushboolean(L, 0); /* a URL never equals another kind of userdata */
        return 1;
    }
    ag_url *x = check_url(L, 1), *y = check_url(L, 2); /* both before anything is allocated */
    char *a = ag_url_render(x, 0), *b = ag_url_render(y, 0);
    int eq = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    lua_pushboolean(L, eq);
    return 1;
}

static int url_gc(lua_State *L) {
    lua_url *u = ag_lua_check_self(L, 1, AG_URL_TYPE);
    ag_url_free(u->url);
    u->url = NULL;
    return 0;
}

int ag_lua_make_url(lua_State *L) {
    if (luaL_testudata(L, 1, AG_URL_TYPE)) {
        lua_settop(L, 1);
        return 1;
    }
    size_t len;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    if (!s) return ag_lua_argerror(L, "make_url: argument 'url' must be a string, got %s", ag_lua_typename(L, 1));
    lua_url *u = ag_lua_newuserdata(L, sizeof *u, 0);
    u->url = NULL;
    luaL_setmetatable(L, AG_URL_TYPE);
    ag_error err;
    if (ag_url_parse(s, len, &u->url, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 1;
}

void ag_lua_open_url(lua_State *L) {
    static const luaL_Reg methods[] = {{"render_as_string", url_render_as_string}, {NULL, NULL}};
    static const luaL_Reg meta[] = {
        {"__tostring", url_tostring}, {"__newindex", url_newindex}, {"__eq", url_eq}, {"__gc", url_gc}, {NULL, NULL}};
    ag_lua_new_type(L, AG_URL_TYPE, methods, meta, url_index);
}
