/*
 * statement.c -- building statements (SELECT, INSERT, UPDATE, DELETE, DDL)
 * from Lua and compiling them.
 *
 * The statement API users see (select(...):where(...), insert(t):values{},
 * ...) is written in lua/argent/sql.lua on top of the primitives here: make
 * a node of a tag with children, derive a copy with one slot replaced,
 * extended or ANDed (statements are immutable: every method returns a new
 * one, so a compiled statement's cached SQL never goes stale), compile for
 * a dialect.  Execution (execute.c) compiles (cached per dialect on the
 * node), prepares the SQL as it is (no placeholder rewriting: it is already
 * in the driver's style), and binds values straight from the BIND nodes;
 * parameters with a name and no value come from the table given to execute.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lua/sql_binding.h"

static void nomem(lua_State *L) { ag_lua_nomem(L); }

static int tag_from_name(const char *name) {
    for (int t = 1; t < AG_N_TAG_COUNT; t++)
        if (strcmp(ag_node_tag_name(t), name) == 0) return t;
    return 0;
}

/* make(tag, op, flags, name, nkids, kid1, ..., kidn): a new node.  Kids are
 * nodes or nil; name a string or nil. */
static int s_make(lua_State *L) {
    int tag = tag_from_name(luaL_checkstring(L, 1));
    if (!tag) return ag_lua_argerror(L, "make: unknown node tag '%s'", lua_tostring(L, 1));
    int op = (int)luaL_optinteger(L, 2, 0);
    int flags = (int)luaL_optinteger(L, 3, 0);
    lua_Integer nkids = luaL_optinteger(L, 5, 0);
    if (nkids < 0 || nkids > 1000000) return ag_lua_argerror(L, "make: bad child count");
    for (int i = 0; i < nkids; i++)
        if (!lua_isnoneornil(L, 6 + i) && !ag_lua_test_node(L, 6 + i))
            return ag_lua_argerror(L, "make: child %d of a %s must be a SQL element, got %s", i + 1, lua_tostring(L, 1),
                                   ag_lua_typename(L, 6 + i));
    luaL_checkstack(L, (int)nkids + 8, "too many children");
    lua_settop(L, 5 + (int)nkids); /* absent children are nil, not the node pushed next */
    ag_node *n = ag_lua_push_new_node(L, (ag_node_tag)tag, (int)nkids);
    n->op = (uint8_t)op;
    n->flags = (uint16_t)flags;
    if (lua_type(L, 4) == LUA_TSTRING) {
        size_t len;
        const char *name = lua_tolstring(L, 4, &len);
        if (memchr(name, '\0', len)) return ag_lua_argerror(L, "a SQL name cannot contain a NUL byte");
        if (ag_node_set_name(n, name, len) != 0) nomem(L);
    }
    for (int i = 0; i < nkids; i++) ag_node_set_kid(n, i, ag_lua_test_node(L, 6 + i));
    return 1;
}

/* list(item...): a LIST of nodes (Lua values are converted to binds). */
static int s_list(lua_State *L) {
    int n = lua_gettop(L);
    ag_node *list = ag_lua_push_new_node(L, AG_N_LIST, n);
    int top = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        ag_node_set_kid(list, i, ag_lua_to_expr(L, i + 1, 0, "list item"));
        lua_settop(L, top);
    }
    return 1;
}

static ag_node *check_slot(lua_State *L, int *slot) {
    ag_node *n = ag_lua_check_node(L, 1, "argument 1");
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 0 || i >= n->nkids) ag_lua_argerror(L, "a %s has no slot %d", ag_node_tag_name(n->tag), (int)i);
    *slot = (int)i;
    return n;
}

/* derive(node, slot, kid [, flags_set, flags_clear, op]): a copy with kids[slot] = kid
 * (nil clears it; slot -1 changes nothing but the flags). */
static int s_derive(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "argument 1");
    lua_Integer slot = luaL_checkinteger(L, 2);
    if (slot < -1 || slot >= n->nkids)
        return ag_lua_argerror(L, "a %s has no slot %d", ag_node_tag_name(n->tag), (int)slot);
    ag_node *kid = NULL;
    if (!lua_isnoneornil(L, 3)) kid = ag_lua_check_node(L, 3, "derive: the new part");
    int set = (int)luaL_optinteger(L, 4, 0), clear = (int)luaL_optinteger(L, 5, 0);
    ag_node *copy = ag_lua_push_node(L, ag_node_copy(n, n->nkids));
    if (slot >= 0) ag_node_set_kid(copy, (int)slot, kid);
    copy->flags = (uint16_t)((copy->flags | set) & ~clear);
    if (!lua_isnoneornil(L, 6)) copy->op = (uint8_t)luaL_checkinteger(L, 6);
    return 1;
}

/* extend(node, slot, item...): a copy whose LIST at slot has the items appended. */
static int s_extend(lua_State *L) {
    int slot;
    ag_node *n = check_slot(L, &slot);
    int nargs = lua_gettop(L) - 2;
    ag_node *old = n->kids[slot];
    int nold = old && old->tag == AG_N_LIST ? old->nkids : 0;
    ag_node *copy = ag_lua_push_node(L, ag_node_copy(n, n->nkids));
    int copy_idx = lua_gettop(L);
    ag_node *list = ag_lua_push_new_node(L, AG_N_LIST, nold + nargs);
    for (int i = 0; i < nold; i++) ag_node_set_kid(list, i, old->kids[i]);
    for (int i = 0; i < nargs; i++) {
        if (!ag_lua_test_node(L, 3 + i))
            return ag_lua_argerror(L, "argument %d must be a SQL expression, got %s", i + 1, ag_lua_typename(L, 3 + i));
        ag_node_set_kid(list, nold + i, ag_lua_test_node(L, 3 + i));
    }
    ag_node_set_kid(copy, slot, list);
    lua_settop(L, copy_idx);
    return 1;
}

/* conjoin(node, slot, expr...): a copy whose slot is the AND of what it held and the exprs. */
static int s_conjoin(lua_State *L) {
    int slot;
    ag_node *n = check_slot(L, &slot);
    int nargs = lua_gettop(L) - 2;
    ag_node *old = n->kids[slot];
    int nold = !old ? 0 : (old->tag == AG_N_BOOLEAN && old->op == AG_OP_AND) ? old->nkids : 1;
    ag_node *copy = ag_lua_push_node(L, ag_node_copy(n, n->nkids));
    int copy_idx = lua_gettop(L);
    for (int i = 0; i < nargs; i++)
        if (!ag_lua_test_node(L, 3 + i))
            return ag_lua_argerror(L, "argument %d must be a SQL expression, got %s", i + 1, ag_lua_typename(L, 3 + i));
    if (nold + nargs == 1) {
        ag_node_set_kid(copy, slot, nargs ? ag_lua_test_node(L, 3) : old);
        return 1;
    }
    ag_node *and_ = ag_lua_push_new_node(L, AG_N_BOOLEAN, nold + nargs);
    and_->op = AG_OP_AND;
    if (nold == 1) ag_node_set_kid(and_, 0, old);
    else
        for (int i = 0; i < nold; i++) ag_node_set_kid(and_, i, old->kids[i]);
    for (int i = 0; i < nargs; i++) ag_node_set_kid(and_, nold + i, ag_lua_test_node(L, 3 + i));
    ag_node_set_kid(copy, slot, and_);
    lua_settop(L, copy_idx);
    return 1;
}

/* kid(node, slot): the child (a new userdata without information table), or nil. */
static int s_kid(lua_State *L) {
    int slot;
    ag_node *n = check_slot(L, &slot);
    if (!n->kids[slot]) return 0;
    ag_lua_push_node(L, ag_node_retain(n->kids[slot]));
    return 1;
}

/* nkids(node), op(node), flags(node), name(node) */
static int s_shape(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "argument 1");
    lua_pushinteger(L, n->nkids);
    lua_pushinteger(L, n->op);
    lua_pushinteger(L, n->flags);
    if (n->name) lua_pushlstring(L, n->name, n->name_len);
    else lua_pushnil(L);
    return 4;
}

/* set_type(column_or_bind, type): for a node just made (before any use). */
static int s_set_type(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "argument 1");
    ag_sqltype t;
    if (ag_lua_to_sqltype(L, 2, &t) != 0)
        return ag_lua_argerror(L, "argument 'type' must be an argent type, got %s", ag_lua_typename(L, 2));
    n->type = t;
    return 0;
}

/* attach(column, table_node, name, key): a column joins its table (once). */
static int s_attach(lua_State *L) {
    ag_node *col = ag_lua_check_node(L, 1, "argument 1");
    ag_node *table = ag_lua_check_node(L, 2, "argument 2");
    const char *name = luaL_optstring(L, 3, NULL);
    const char *key = luaL_optstring(L, 4, NULL);
    if (col->tag != AG_N_COLUMN) return ag_lua_argerror(L, "attach: not a column");
    if (col->kids[0]) return ag_lua_argerror(L, "this Column already belongs to a table; make a new Column");
    if (ag_node_column_attach(col, table, name, key) != 0) nomem(L);
    return 0;
}

/* set_server_default(column, expr): before the column is used. */
static int s_set_server_default(lua_State *L) {
    ag_node *col = ag_lua_check_node(L, 1, "argument 1");
    if (col->tag != AG_N_COLUMN) return ag_lua_argerror(L, "not a column");
    ag_node_set_kid(col, 1, ag_lua_check_node(L, 2, "server_default"));
    return 0;
}

static ag_dialect dialect_arg(lua_State *L, int idx) {
    const char *name = NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        name = lua_tostring(L, idx);
    } else if (lua_type(L, idx) == LUA_TTABLE ||
               (lua_type(L, idx) == LUA_TUSERDATA && luaL_getmetafield(L, idx, "__index") != LUA_TNIL &&
                (lua_pop(L, 1), 1))) {
        /* an engine or a connection: anything with a .dialect (but never a
         * value that cannot be indexed: that would be Lua's plain error) */
        lua_getfield(L, idx, "dialect");
        name = lua_tostring(L, -1);
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, idx)) {
        name = NULL;
    } else {
        name = "sqlite";
    }
    const ag_sql_dialect *d = ag_sql_dialect_find(name);
    if (!d)
        ag_lua_argerror(L, "compile: unknown dialect %s (use \"sqlite\", \"postgresql\" or an engine)",
                        name ? name : ag_lua_typename(L, idx));
    return d->id;
}

/* compile(node, dialect | engine) -> sql, params, names
 * params[i] is the i-th placeholder's value (argent.null for NULL, nil for
 * a named parameter given at execution); names[i] that parameter's name. */
static int s_compile(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "compile: the statement");
    ag_dialect d = dialect_arg(L, 2);
    ag_error err;
    const ag_compiled *c = ag_compile(n, d, &err);
    if (!c) return ag_lua_raise(L, &err, NULL);
    lua_pushlstring(L, c->sql, c->len);
    lua_createtable(L, c->nparams, 0);
    lua_createtable(L, 0, 0);
    for (int i = 0; i < c->nparams; i++) {
        ag_lua_push_bind_value(L, c->params[i]);
        lua_rawseti(L, -3, i + 1);
        if (c->params[i]->name) {
            lua_pushstring(L, c->params[i]->name);
            lua_rawseti(L, -2, i + 1);
        }
    }
    return 3;
}

/* column_ddl(column, dialect): the DDL text of the column's type, and of its
 * server default or nil (what CREATE TABLE writes; argent.migrate compares
 * them with a reflected database). */
static int s_column_ddl(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "column_ddl: the column");
    if (n->tag != AG_N_COLUMN) return ag_lua_argerror(L, "column_ddl: argument 1 must be a column");
    const ag_sql_dialect *d = ag_sql_dialect_get(dialect_arg(L, 2));
    ag_error err;
    char *type_sql, *default_sql;
    if (!d) return ag_lua_argerror(L, "column_ddl: unknown dialect");
    if (ag_compile_column_parts(n, d, &type_sql, &default_sql, &err) != 0) return ag_lua_raise(L, &err, NULL);
    lua_pushstring(L, type_sql);
    if (default_sql) lua_pushstring(L, default_sql);
    else lua_pushnil(L);
    free(type_sql);
    free(default_sql);
    return 2;
}

/* ---- execution (execute.c runs the statements; conn:execute asks this hook first) */

static const char execute_hook_key = 0; /* the hook's registry key */

/* set_execute_hook(fn): conn:execute calls fn(conn, stmt, params, execute)
 * for statements other than queries (see connection.c). */
static int s_set_execute_hook(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &execute_hook_key);
    return 0;
}

int ag_lua_push_execute_hook(lua_State *L) {
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &execute_hook_key) == LUA_TFUNCTION) return 1;
    lua_pop(L, 1);
    return 0;
}

void ag_lua_open_statement(lua_State *L, int module_idx) {
    static const luaL_Reg funcs[] = {
        {"make", s_make},
        {"list", s_list},
        {"derive", s_derive},
        {"extend", s_extend},
        {"conjoin", s_conjoin},
        {"kid", s_kid},
        {"shape", s_shape},
        {"set_type", s_set_type},
        {"attach", s_attach},
        {"set_server_default", s_set_server_default},
        {"compile", s_compile},
        {"column_ddl", s_column_ddl},
        {"set_execute_hook", s_set_execute_hook},
        {NULL, NULL},
    };
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, funcs, 0);
    lua_pop(L, 1);
}

/* Registers argent.core.sql. */
void ag_lua_open_sql(lua_State *L) {
    lua_newtable(L);
    int sql = lua_gettop(L);
    ag_lua_open_expression(L, sql);
    ag_lua_open_statement(L, sql);
    lua_setfield(L, -2, "sql");
}
