/*
 * statement.c -- building statements (SELECT, INSERT, UPDATE, DELETE, DDL)
 * from Lua, compiling them, and executing them on a connection.
 *
 * The statement API users see (select(...):where(...), insert(t):values{},
 * ...) is written in lua/argent/sql.lua on top of the primitives here: make
 * a node of a tag with children, derive a copy with one slot replaced,
 * extended or ANDed (statements are immutable: every method returns a new
 * one, so a compiled statement's cached SQL never goes stale), compile for
 * a dialect.  Execution compiles (cached per dialect on the node), prepares
 * the SQL as it is (no placeholder rewriting: it is already in the driver's
 * style), and binds values straight from the BIND nodes; parameters with a
 * name and no value come from the table given to execute.
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
            return ag_lua_argerror(L, "make: child %d of a %s must be a SQL element, got %s", i + 1,
                                   lua_tostring(L, 1), ag_lua_typename(L, 6 + i));
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
    if (slot < -1 || slot >= n->nkids) return ag_lua_argerror(L, "a %s has no slot %d", ag_node_tag_name(n->tag), (int)slot);
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

static void push_bind_value(lua_State *L, const ag_node *b) {
    if (!(b->flags & AG_BIND_HAS_VALUE)) {
        lua_pushnil(L);
        return;
    }
    const ag_value *v = &b->value;
    switch (v->type) {
    case AG_VALUE_INTEGER: ag_lua_pushint64(L, v->u.integer); break;
    case AG_VALUE_FLOAT: lua_pushnumber(L, v->u.number); break;
    case AG_VALUE_TEXT:
    case AG_VALUE_BLOB: lua_pushlstring(L, v->u.bytes.data, v->u.bytes.len); break;
    case AG_VALUE_BOOLEAN: lua_pushboolean(L, v->u.boolean); break;
    default: ag_lua_push_null(L); break;
    }
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
        push_bind_value(L, c->params[i]);
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
    if (ag_compile_column_parts(n, d, &type_sql, &default_sql, &err) != 0)
        return ag_lua_raise(L, &err, NULL);
    lua_pushstring(L, type_sql);
    if (default_sql)
        lua_pushstring(L, default_sql);
    else
        lua_pushnil(L);
    free(type_sql);
    free(default_sql);
    return 2;
}

/* ---- execution */

void ag_lua_push_statement_params(lua_State *L, int stmt_idx, ag_dialect d, int params_idx) {
    ag_node *n = ag_lua_test_node(L, stmt_idx);
    ag_error err;
    const ag_compiled *c = n ? ag_compile(n, d, &err) : NULL; /* cached: it has just been executed */
    lua_createtable(L, c ? c->nparams : 0, 0);
    for (int i = 0; c && i < c->nparams; i++) {
        const ag_node *b = c->params[i];
        if (!(b->flags & AG_BIND_HAS_VALUE) && params_idx) {
            lua_pushlstring(L, b->name, b->name_len);
            lua_rawget(L, params_idx);
        } else {
            push_bind_value(L, b);
        }
        lua_rawseti(L, -2, i + 1);
    }
}


static int is_statement(const ag_node *n) {
    switch (n->tag) {
    case AG_N_SELECT:
    case AG_N_COMPOUND:
    case AG_N_INSERT:
    case AG_N_UPDATE:
    case AG_N_DELETE:
    case AG_N_CREATE_TABLE:
    case AG_N_DROP_TABLE:
    case AG_N_CREATE_INDEX:
    case AG_N_DROP_INDEX:
    case AG_N_COMMENT:
    case AG_N_ALTER_TABLE:
    case AG_N_CREATE_TYPE:
    case AG_N_DROP_TYPE:
    case AG_N_ALTER_TYPE: return 1;
    default: return 0;
    }
}

static int ensure_scratch(ag_lua_conn *c, int n, ag_error *err) {
    if (n <= c->scratch_cap) return 0;
    int cap = c->scratch_cap ? c->scratch_cap : 8;
    while (cap < n) cap *= 2;
    ag_value *p = ag_realloc(c->scratch, (size_t)cap * sizeof *p);
    if (!p) return ag_error_nomem(err);
    c->scratch = p;
    c->scratch_cap = cap;
    return 0;
}

/* MariaDB's DATETIME holds no offset: a DateTime{timezone = true} value
 * (converted to its UTC text, "...+00:00", by ag_lua_convert_in) is sent
 * without the suffix, and read back with it (result.c). */
static void mariadb_utc_datetimes(const ag_compiled *comp, ag_value *values) {
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        ag_value *v = &values[i];
        if (b->type.kind == AG_TYPE_DATETIME && b->type.timezone && v->type == AG_VALUE_TEXT &&
            v->u.bytes.len > 6 && memcmp(v->u.bytes.data + v->u.bytes.len - 6, "+00:00", 6) == 0)
            v->u.bytes.len -= 6;
    }
}

/* Fills c->scratch for compiled's parameters; named ones from the table at
 * params_idx (0: none).  Converted strings are pushed on the stack (the
 * caller keeps them until the statement has run).  names_base: 0, or the
 * stack index where the parameters' names were pushed once, or minus the
 * index of a list of them (executemany's protected rows).  Never raises
 * except for memory.  0 or -1 with err. */
static int bind_compiled(lua_State *L, ag_lua_conn *c, const ag_compiled *comp, int params_idx, int nil_is_null,
                         int names_base, ag_error *err) {
    if (ensure_scratch(c, comp->nparams > 0 ? comp->nparams : 1, err) != 0) return -1;
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        if (b->flags & AG_BIND_HAS_VALUE) {
            c->scratch[i] = b->value;
            continue;
        }
        if (!params_idx)
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "a value is required for parameter '%s'", b->name);
        if (!lua_checkstack(L, 4)) return ag_error_nomem(err);
        if (names_base > 0) lua_pushvalue(L, names_base + i); /* pushed once for all the rows */
        else if (names_base < 0) lua_rawgeti(L, -names_base, i + 1);
        else lua_pushlstring(L, b->name, b->name_len);
        lua_rawget(L, params_idx);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            if (nil_is_null) {
                c->scratch[i].type = AG_VALUE_NULL;
                continue;
            }
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "a value is required for parameter '%s' (use argent.null for NULL)", b->name);
        }
        if (ag_lua_convert_in(L, -1, &b->type, &c->scratch[i], err) != 0) {
            char msg[AG_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "%s", err->message);
            ag_error_set(err, err->kind, NULL, "parameter '%s': %s", b->name, msg);
            lua_pop(L, 1);
            return -1;
        }
        /* the value stays on the stack (its string is referenced by scratch) */
    }
    if (ag_engine_dialect(ag_conn_engine(c->conn)) == AG_DIALECT_MARIADB) mariadb_utc_datetimes(comp, c->scratch);
    return 0;
}

static const ag_compiled *compile_node(lua_State *L, ag_lua_conn *c, int stmt_idx, ag_node *n) {
    if (!n || !is_statement(n))
        ag_lua_argerror(L, "execute: argument 'statement' must be SQL text or a statement (select, insert, "
                           "update, delete, DDL), got %s",
                        n ? ag_node_tag_name(n->tag) : ag_lua_typename(L, stmt_idx));
    ag_error err;
    const ag_compiled *comp = ag_compile(n, ag_engine_dialect(ag_conn_engine(c->conn)), &err);
    if (!comp) ag_lua_raise(L, &err, NULL);
    return comp;
}

static const ag_compiled *compile_for(lua_State *L, ag_lua_conn *c, int stmt_idx) {
    return compile_node(L, c, stmt_idx, ag_lua_test_node(L, stmt_idx));
}

static const char *execute_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, ag_node *node,
                                     int params_idx, int nil_is_null) {
    conn_idx = lua_absindex(L, conn_idx);
    stmt_idx = lua_absindex(L, stmt_idx);
    if (params_idx) params_idx = lua_absindex(L, params_idx);
    const ag_compiled *comp = compile_node(L, c, stmt_idx, node ? node : ag_lua_test_node(L, stmt_idx));
    ag_lua_result *r = ag_lua_new_result(L, conn_idx);
    int result_idx = lua_gettop(L);
    ag_error err;
    ag_stmt *st = ag_conn_prepare_hashed(c->conn, comp->sql, comp->len, comp->hash, 0, &err);
    if (!st) ag_lua_raise(L, &err, comp->sql);
    ag_lua_result_attach(L, r, st);
    if (bind_compiled(L, c, comp, params_idx, nil_is_null, 0, &err) != 0 ||
        ag_stmt_execute(st, c->scratch, comp->nparams, &err) != 0) {
        ag_lua_result_attach(L, r, NULL);
        ag_lua_raise(L, &err, comp->sql);
    }
    lua_settop(L, result_idx);
    ag_lua_result_attach(L, r, st);
    if (comp->ncols > 0) ag_lua_result_set_types(L, r, comp->col_types, comp->ncols);
    if (comp->implicit_returning) ag_lua_result_take_key(L, r);
    lua_settop(L, result_idx);
    return comp->sql;
}

const char *ag_lua_execute_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, int params_idx) {
    return execute_statement(L, c, conn_idx, stmt_idx, NULL, params_idx, 0);
}

const char *ag_lua_execute_node(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, ag_node *node,
                                int params_idx) {
    return execute_statement(L, c, conn_idx, stmt_idx, node, params_idx, 0);
}

const char *ag_lua_execute_statement_nulls(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx,
                                           int params_idx) {
    return execute_statement(L, c, conn_idx, stmt_idx, NULL, params_idx, 1);
}

const ag_compiled *ag_lua_compile_statement(lua_State *L, ag_lua_conn *c, int stmt_idx) {
    return compile_for(L, c, lua_absindex(L, stmt_idx));
}

int ag_lua_bind_statement(lua_State *L, ag_lua_conn *c, const ag_compiled *comp, int params_idx, int nil_is_null,
                          int names_base, ag_error *err) {
    return bind_compiled(L, c, comp, lua_absindex(L, params_idx), nil_is_null, names_base, err);
}

typedef struct many_ctx {
    lua_State *L;
    ag_lua_conn *c;
    const ag_compiled *comp;
    int rows_idx;
    int fixed_idx; /* 0, or a table of replacement rows by number (column rows) */
    int column_rows;
    int names_base; /* the parameters' names are at names_base + i */
    int base;
    lua_Integer next, count;
    /* rows from a function (rows_idx): the current row / the error (slot),
     * and for an insert's column rows the conversion and the name table */
    int source, row_slot, convert_idx, names_idx, raised;
    /* > 0: the stack index of the parameters' names as a list, and the
     * rows are bound protected (bind_row_protected) */
    int protect_names;
} many_ctx;

/* Does binding a row of comp make Lua values (a JSON text, a normalized
 * date), that is allocate, which can raise?  Such rows are bound under
 * lua_pcall: many_next runs inside the driver's execute_many, where a raise
 * would skip the driver's and the engine's clean-up (the transaction that
 * executemany opened would stay open, half written). */
static int binding_allocates(const ag_compiled *comp) {
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        if (b->flags & AG_BIND_HAS_VALUE) continue;
        switch (b->type.kind) {
        case AG_TYPE_JSON:
        case AG_TYPE_DATETIME:
        case AG_TYPE_TIME: return 1;
        default: break;
        }
    }
    return 0;
}

typedef struct protected_bind {
    many_ctx *m;
    ag_error *err;
    int rc;
} protected_bind;

/* lua_pcall'd by many_next: (protected_bind, row, names) -> the converted
 * values, returned so that they stay alive on the caller's stack until the
 * row has run. */
static int bind_row_protected(lua_State *L) {
    protected_bind *pb = lua_touserdata(L, 1);
    many_ctx *m = pb->m;
    pb->rc = bind_compiled(L, m->c, m->comp, 2, m->column_rows, -3, pb->err);
    return lua_gettop(L) - 3;
}

static int row_is_sure(lua_State *L, const ag_compiled *comp, int row, int names);

static int many_next(void *p, ag_value *params, int nparams, ag_error *err) {
    many_ctx *m = p;
    lua_State *L = m->L;
    lua_settop(L, m->base); /* the previous row's converted values are no longer needed */
    if (m->next > m->count) return 0;
    if (m->source) {
        int got = ag_lua_pull_row(L, m->rows_idx, m->row_slot, m->next, &m->raised, err);
        if (got <= 0) return got;
        if (m->convert_idx && !row_is_sure(L, m->comp, m->row_slot, m->names_idx)) {
            /* the insert's own conversion (defaults, checks), protected: a bad row raises there */
            lua_pushvalue(L, m->convert_idx);
            lua_pushinteger(L, m->next);
            lua_pushvalue(L, m->row_slot);
            if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
                lua_replace(L, m->row_slot);
                m->raised = 1;
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "executemany: row %lld is not valid",
                                    (long long)m->next);
            }
            lua_replace(L, m->row_slot);
        }
        lua_pushvalue(L, m->row_slot);
    } else if (!m->fixed_idx || lua_rawgeti(L, m->fixed_idx, m->next) == LUA_TNIL) {
        if (m->fixed_idx) lua_pop(L, 1);
        lua_rawgeti(L, m->rows_idx, m->next);
    }
    if (!lua_istable(L, -1)) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "executemany: row %lld must be a table, got %s",
                     (long long)m->next, lua_typename(L, lua_type(L, -1)));
        return -1;
    }
    int bound;
    if (m->protect_names) {
        protected_bind pb = {m, err, 0};
        if (!lua_checkstack(L, 4)) return ag_error_nomem(err);
        lua_pushcfunction(L, bind_row_protected);
        lua_pushlightuserdata(L, &pb);
        lua_pushvalue(L, m->base + 1);
        lua_pushvalue(L, m->protect_names);
        if (lua_pcall(L, 3, LUA_MULTRET, 0) != LUA_OK) {
            lua_pop(L, 1); /* only memory can fail there */
            return ag_error_nomem(err);
        }
        bound = pb.rc;
    } else {
        bound = bind_compiled(L, m->c, m->comp, m->base + 1, m->column_rows, m->names_base, err);
    }
    if (bound != 0) {
        char msg[AG_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err->message);
        ag_error_set(err, err->kind, NULL, "executemany: row %lld: %s", (long long)m->next, msg);
        return -1;
    }
    if (params != m->c->scratch) memcpy(params, m->c->scratch, (size_t)nparams * sizeof *params);
    m->next++;
    return 1;
}

/* Would types.check_value (lua/argent/types.lua) surely accept the Lua
 * value at idx for a column of type t?  0 means "ask Lua", not "wrong":
 * what this answers 1 for is a subset of what check_value accepts. */
static int surely_fits(lua_State *L, int idx, const ag_sqltype *t) {
    int lt = lua_type(L, idx);
    if (lt == LUA_TTABLE || lt == LUA_TUSERDATA || lt == LUA_TLIGHTUSERDATA) return 1; /* not checked there */
    switch (t->kind) {
    case AG_TYPE_INTEGER:
    case AG_TYPE_BIGINT:
    case AG_TYPE_SMALLINT: return lua_isinteger(L, idx);
    case AG_TYPE_FLOAT:
    case AG_TYPE_DOUBLE:
    case AG_TYPE_NUMERIC: return lt == LUA_TNUMBER;
    case AG_TYPE_BOOLEAN: return lt == LUA_TBOOLEAN;
    case AG_TYPE_BINARY: return lt == LUA_TSTRING;
    case AG_TYPE_STRING:
    case AG_TYPE_TEXT:
    case AG_TYPE_JSON: return 1;
    case AG_TYPE_ENUM: return lt != LUA_TSTRING;
    default: return 0; /* dates and times: their forms are checked in Lua */
    }
}

/* Can the plain table at row be bound as it is (no conversion)?  Its keys
 * must all be parameter names (the table at names: name -> index) and its
 * values surely fit (surely_fits).  Never raises (raw access). */
static int row_is_sure(lua_State *L, const ag_compiled *comp, int row, int names) {
    if (!lua_istable(L, row) || lua_getmetatable(L, row)) {
        if (lua_istable(L, row)) lua_pop(L, 1);
        return 0;
    }
    int sure = 1;
    lua_pushnil(L);
    while (sure && lua_next(L, row)) {
        if (lua_type(L, -2) != LUA_TSTRING) sure = 0;
        else {
            lua_pushvalue(L, -2);
            if (lua_rawget(L, names) != LUA_TNUMBER) sure = 0;
            else sure = surely_fits(L, -2, &comp->params[lua_tointeger(L, -1)]->type);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    if (!sure) lua_pop(L, 1); /* the key lua_next left */
    return sure;
}

/* Checks every column row of executemany(insert(t), rows) before anything
 * runs, as insert_many did in Lua: a row that is a plain table whose keys
 * are all parameter names and whose values surely fit is taken as it is;
 * any other row goes through convert(r, row) (at convert_idx), which raises
 * the same error as before or returns the row to bind, kept in a table
 * pushed here (or nil when no row needed it).  Returns the row count: the
 * rows up to the first nil, as ipairs counts them. */
static lua_Integer check_column_rows(lua_State *L, const ag_compiled *comp, int rows_idx, int convert_idx) {
    luaL_checkstack(L, 12, NULL);
    lua_createtable(L, 0, comp->nparams); /* parameter name -> index */
    int names = lua_gettop(L);
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        if (b->flags & AG_BIND_HAS_VALUE) continue;
        lua_pushlstring(L, b->name, b->name_len);
        lua_pushinteger(L, i);
        lua_rawset(L, names);
    }
    lua_pushnil(L); /* the replacement rows, made when one is needed */
    int fixed = lua_gettop(L);
    /* The rows are usually made by one constructor, so their keys come in the
     * same order: the previous row's j-th key (its string object, kept alive
     * by that row, which the list holds) and its parameter index spare the
     * lookup in `names` when the j-th key is the same string again.  Short
     * strings are interned, so equal short keys are one object; any other
     * key just takes the lookup. */
    enum { KEYS_SEEN = 16 };
    const void *seen_key[KEYS_SEEN] = {0};
    lua_Integer seen_index[KEYS_SEEN];
    lua_Integer r = 1;
    for (;; r++) {
        int type = lua_rawgeti(L, rows_idx, r);
        if (type == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        int row = lua_gettop(L);
        int sure = type == LUA_TTABLE && !lua_getmetatable(L, row);
        if (sure) {
            int j = 0;
            lua_pushnil(L);
            while (lua_next(L, row)) {
                /* key at -2, value at -1 */
                if (lua_type(L, -2) != LUA_TSTRING) sure = 0;
                else {
                    const void *key = lua_topointer(L, -2);
                    if (j < KEYS_SEEN && seen_key[j] == key) {
                        sure = surely_fits(L, -1, &comp->params[seen_index[j]]->type);
                    } else {
                        lua_pushvalue(L, -2);
                        if (lua_rawget(L, names) != LUA_TNUMBER) sure = 0;
                        else {
                            lua_Integer index = lua_tointeger(L, -1);
                            sure = surely_fits(L, -2, &comp->params[index]->type);
                            if (j < KEYS_SEEN) {
                                seen_key[j] = key;
                                seen_index[j] = index;
                            }
                        }
                        lua_pop(L, 1);
                    }
                }
                j++;
                lua_pop(L, 1);
                if (!sure) {
                    lua_pop(L, 1);
                    break;
                }
            }
        } else if (type == LUA_TTABLE) {
            lua_pop(L, 1); /* the metatable */
        }
        if (!sure) {
            lua_pushvalue(L, convert_idx);
            lua_pushinteger(L, r);
            lua_pushvalue(L, row);
            lua_call(L, 2, 1); /* raises for a bad row */
            memset(seen_key, 0, sizeof seen_key); /* Lua ran: trust no remembered key */
            if (lua_isnil(L, fixed)) {
                lua_newtable(L);
                lua_replace(L, fixed);
            }
            lua_rawseti(L, fixed, r);
        }
        lua_settop(L, fixed);
    }
    lua_remove(L, names);
    return r - 1;
}

int ag_lua_executemany_statement(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, int rows_idx,
                                 int convert_idx) {
    conn_idx = lua_absindex(L, conn_idx);
    stmt_idx = lua_absindex(L, stmt_idx);
    rows_idx = lua_absindex(L, rows_idx);
    if (convert_idx) convert_idx = lua_absindex(L, convert_idx);
    const ag_compiled *comp = compile_for(L, c, stmt_idx);
    if (comp->implicit_returning) {
        /* the RETURNING added for lastrowid is not wanted for many rows: the same insert without its key */
        ag_node *n = ag_lua_test_node(L, stmt_idx);
        ag_node *copy = ag_lua_push_node(L, ag_node_copy(n, n->nkids));
        ag_node_set_kid(copy, AG_INS_KEY, NULL);
        lua_replace(L, stmt_idx);
        comp = compile_for(L, c, stmt_idx);
    }
    if (comp->ncols > 0) ag_lua_argerror(L, "executemany: the statement returns rows; use execute");
    lua_Integer count;
    int fixed_idx = 0, names_idx = 0;
    int source = lua_isfunction(L, rows_idx);
    if (source) { /* rows come one at a time from the function, checked as they come */
        count = LUA_MAXINTEGER;
        if (convert_idx) {
            lua_createtable(L, 0, comp->nparams); /* parameter name -> index */
            names_idx = lua_gettop(L);
            for (int i = 0; i < comp->nparams; i++) {
                const ag_node *b = comp->params[i];
                if (b->flags & AG_BIND_HAS_VALUE) continue;
                lua_pushlstring(L, b->name, b->name_len);
                lua_pushinteger(L, i);
                lua_rawset(L, names_idx);
            }
        }
    } else if (convert_idx) {
        count = check_column_rows(L, comp, rows_idx, convert_idx);
        if (!lua_isnil(L, -1)) fixed_idx = lua_gettop(L);
    } else {
        count = (lua_Integer)lua_rawlen(L, rows_idx);
    }
    lua_pushnil(L); /* a row function's current row, or its error */
    int row_slot = lua_gettop(L);
    /* the parameters' names, as Lua strings once rather than once per row */
    luaL_checkstack(L, comp->nparams + 8, "too many parameters");
    int names_base = lua_gettop(L) + 1;
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        if (b->flags & AG_BIND_HAS_VALUE) lua_pushnil(L);
        else lua_pushlstring(L, b->name, b->name_len);
    }
    int protect_names = 0;
    if (binding_allocates(comp)) { /* the names again, as a list for bind_row_protected */
        lua_createtable(L, comp->nparams, 0);
        for (int i = 0; i < comp->nparams; i++) {
            lua_pushvalue(L, names_base + i);
            lua_rawseti(L, -2, i + 1);
        }
        protect_names = lua_gettop(L);
    }
    ag_lua_result *r = ag_lua_new_result(L, conn_idx); /* holds the statement so that a raise cannot leak it */
    ag_error err;
    const char *use_sql = comp->sql;
    size_t len = comp->len;
    int base = lua_gettop(L);
    ag_stmt *st = ag_conn_prepare_hashed(c->conn, use_sql, len, comp->hash, 0, &err);
    if (!st) ag_lua_raise(L, &err, use_sql);
    ag_lua_result_attach(L, r, st);
    int64_t affected = 0;
    int rc = 0;
    if (count > 0) {
        if (ensure_scratch(c, comp->nparams > 0 ? comp->nparams : 1, &err) != 0) rc = -1;
        many_ctx m = {L,     c,        comp,        rows_idx,  fixed_idx, convert_idx != 0, names_base, base, 1,
                      count, source,   row_slot,    convert_idx, names_idx, 0,               protect_names};
        ag_lua_conn_busy_begin(c, source);
        if (rc == 0) rc = ag_stmt_execute_many(st, comp->nparams, many_next, &m, &affected, &err);
        ag_lua_conn_busy_end(c);
        if (m.raised) { /* the row function's own error (or the insert's check of its row) */
            lua_settop(L, base);
            ag_lua_result_attach(L, r, NULL);
            lua_pushvalue(L, row_slot);
            return lua_error(L);
        }
    }
    lua_settop(L, base);
    ag_lua_result_attach(L, r, NULL);
    if (rc != 0) ag_lua_raise(L, &err, use_sql);
    lua_pushinteger(L, (lua_Integer)affected);
    return 1;
}

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
        {"make", s_make},       {"list", s_list},         {"derive", s_derive},
        {"extend", s_extend},   {"conjoin", s_conjoin},   {"kid", s_kid},
        {"shape", s_shape},     {"set_type", s_set_type}, {"attach", s_attach},
        {"set_server_default", s_set_server_default},     {"compile", s_compile},
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
