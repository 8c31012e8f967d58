/*
 * execute.c -- the one execution path of the bindings: a statement (SQL
 * text, or a statement built with argent and compiled for the connection's
 * dialect) is prepared through the connection's statement cache, its
 * parameters bound from Lua into the connection's scratch buffer, executed,
 * handed to a result object, and echoed.  conn:execute, conn:exec_driver_sql
 * and conn:executemany (connection.c) and the ORM's flush (src/orm/persist.c)
 * all come here; the conversion of each value is convert.c's.
 *
 * Parameters are bound by code that never raises except for memory (it
 * reports through ag_error), so that no statement is left attached when a bad
 * parameter is found: the statement is released first, then the error is
 * raised.  A result object exists before the statement it will own, so that
 * a raise cannot leak the statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"

/* ---- the connection's parameter buffer */

int ag_lua_conn_scratch(ag_lua_conn *c, int n, ag_error *err) {
    if (n <= c->scratch_cap) return 0;
    int cap = c->scratch_cap ? c->scratch_cap : 8;
    while (cap < n) cap *= 2;
    ag_value *p = ag_realloc(c->scratch, (size_t)cap * sizeof *p);
    if (!p) return ag_error_nomem(err);
    c->scratch = p;
    c->scratch_cap = cap;
    return 0;
}

/* ---- binding SQL text's parameters (:name or ?) */

/* Fills c->scratch with the parameters that the statement's slots take from
 * the table at idx (or no table: idx == 0).  Never raises: it uses only raw
 * table access on values the caller keeps alive, and the stack space that
 * the caller checked; and names_idx, when not 0, is a list of the
 * statement's names as Lua strings made beforehand (executemany: pushing a
 * name can allocate, and an allocation error must not be raised inside the
 * driver's execute_many).  Returns the slot count, or -1 with err. */
static int bind_params(lua_State *L, ag_lua_conn *c, ag_stmt *stmt, int idx, int nslots, int names_idx, ag_error *err) {
    const ag_rewritten_sql *p = &stmt->params;
    if (ag_lua_conn_scratch(c, nslots, err) != 0) return -1;
    if (idx == 0) {
        if (nslots > 0)
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "the statement takes %d parameter%s but none were given",
                                nslots, nslots == 1 ? "" : "s");
        return 0;
    }
    char what[96];
    if (p->style == AG_PARAMS_NAMED) {
        /* every name given, no unknown key */
        int seen = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            seen++;
            int keytype = lua_type(L, -1);
            if (keytype != LUA_TSTRING) {
                lua_pop(L, 1);
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "the statement uses named parameters (:name) but the parameters have a %s key",
                                    lua_typename(L, keytype));
            }
        }
        for (int i = 0; i < nslots; i++) {
            const char *name = p->names[p->slot_source[i]];
            if (names_idx) lua_rawgeti(L, names_idx, p->slot_source[i] + 1);
            else lua_pushstring(L, name);
            lua_rawget(L, idx);
            snprintf(what, sizeof what, "parameter :%s", name);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "missing parameter :%s (use argent.null for NULL)",
                                    name);
            }
            int rc = ag_lua_to_param(L, -1, &c->scratch[i], what, err);
            lua_pop(L, 1); /* the string stays referenced by the table */
            if (rc) return -1;
        }
        if (seen > p->nnames) {
            lua_pushnil(L);
            while (lua_next(L, idx)) {
                lua_pop(L, 1);
                const char *key = lua_tostring(L, -1);
                int known = 0;
                for (int i = 0; i < p->nnames && !known; i++) known = strcmp(p->names[i], key) == 0;
                if (!known) {
                    ag_error_set(err, AG_ERR_ARGUMENT, NULL, "unknown parameter '%s': the statement has no :%s", key,
                                 key);
                    lua_pop(L, 1);
                    return -1;
                }
            }
        }
        return nslots;
    }
    /* positional: exactly 1..nslots */
    int count = 0;
    lua_Integer max_index = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            int keytype = lua_type(L, -1);
            lua_pop(L, 1);
            if (keytype == LUA_TSTRING && nslots > 0)
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "the statement uses positional parameters (?) but a named parameter was given");
            return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                "parameters must be a list for a statement with ? placeholders%s",
                                nslots == 0 ? " (and this statement has none)" : "");
        }
        count++;
        if (lua_tointeger(L, -1) > max_index) max_index = lua_tointeger(L, -1);
    }
    if (max_index < nslots)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "the statement takes %d parameter%s but %d %s given", nslots,
                            nslots == 1 ? "" : "s", (int)max_index, max_index == 1 ? "was" : "were");
    for (int i = 0; i < nslots; i++) {
        lua_rawgeti(L, idx, i + 1);
        snprintf(what, sizeof what, "parameter %d", i + 1);
        int rc = ag_lua_to_param(L, -1, &c->scratch[i], what, err);
        lua_pop(L, 1);
        if (rc) return -1;
    }
    if (count > nslots || max_index > nslots)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "the statement takes %d parameter%s but %d were given", nslots,
                            nslots == 1 ? "" : "s", (int)(max_index > count ? max_index : count));
    return nslots;
}

/* ---- binding a compiled statement's parameters */

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

/* MariaDB's DATETIME holds no offset: a DateTime{timezone = true} value
 * (converted to its UTC text, "...+00:00", by ag_lua_convert_in) is sent
 * without the suffix, and read back with it (result.c). */
static void mariadb_utc_datetimes(const ag_compiled *comp, ag_value *values) {
    for (int i = 0; i < comp->nparams; i++) {
        const ag_node *b = comp->params[i];
        ag_value *v = &values[i];
        if (b->type.kind == AG_TYPE_DATETIME && b->type.timezone && v->type == AG_VALUE_TEXT && v->u.bytes.len > 6 &&
            memcmp(v->u.bytes.data + v->u.bytes.len - 6, "+00:00", 6) == 0)
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
    if (ag_lua_conn_scratch(c, comp->nparams > 0 ? comp->nparams : 1, err) != 0) return -1;
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
        ag_lua_argerror(L,
                        "execute: argument 'statement' must be SQL text or a statement (select, insert, "
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

const ag_compiled *ag_lua_compile_statement(lua_State *L, ag_lua_conn *c, int stmt_idx) {
    return compile_for(L, c, lua_absindex(L, stmt_idx));
}

/* ---- echo */

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
            ag_lua_push_bind_value(L, b);
        }
        lua_rawseti(L, -2, i + 1);
    }
}

void ag_lua_echo_statement(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, int params_idx, double ms) {
    if (c->echo == 1) {
        fprintf(stderr, "[argent] %s\n[argent] [%.3f ms] ", sql, ms);
        if (params_idx) {
            fputc('{', stderr);
            for (int i = 1;; i++) {
                lua_rawgeti(L, params_idx, i);
                if (lua_isnil(L, -1)) {
                    lua_pop(L, 1);
                    break;
                }
                fprintf(stderr, "%s%s", i > 1 ? ", " : "", luaL_tolstring(L, -1, NULL));
                lua_pop(L, 2);
            }
            fputc('}', stderr);
        } else {
            fputs("{}", stderr);
        }
        fputc('\n', stderr);
        return;
    }
    ag_lua_getuservalue(L, conn_idx, 1); /* engine */
    ag_lua_getuservalue(L, -1, 2);       /* echo function */
    lua_pushstring(L, sql);
    if (params_idx) lua_pushvalue(L, params_idx);
    else lua_newtable(L);
    lua_pushnumber(L, ms);
    lua_call(L, 3, 0);
    lua_pop(L, 1);
}

/* ---- the one execution: prepare -> bind -> execute -> echo */

static int stmt_slot_count(ag_stmt *stmt) {
    return stmt->raw ? stmt->driver->param_count(stmt->dstmt) : stmt->params.nslots;
}

void ag_lua_run(lua_State *L, ag_lua_conn *c, const ag_lua_exec *x, ag_lua_result *r) {
    int top = lua_gettop(L);
    const ag_compiled *comp = x->comp;
    const char *sql = comp ? comp->sql : x->sql;
    luaL_checkstack(L, 8, NULL);
    double started = c->echo ? ag_monotonic_seconds() : 0;
    ag_error err;
    ag_stmt *st = comp ? ag_conn_prepare_hashed(c->conn, comp->sql, comp->len, comp->hash, 0, &err)
                       : ag_conn_prepare(c->conn, x->sql, x->len, x->rewrite, &err);
    if (!st) ag_lua_raise(L, &err, sql);
    lua_pushvalue(L, x->result_idx);
    ag_lua_result_attach(L, r, st); /* the result owns the statement from here on */
    lua_settop(L, top);
    int n =
        comp ? (bind_compiled(L, c, comp, x->params_idx, x->nil_is_null, x->names_base, &err) == 0 ? comp->nparams : -1)
             : bind_params(L, c, st, x->params_idx, stmt_slot_count(st), 0, &err);
    if (n < 0 || ag_stmt_execute(st, c->scratch, n, &err) != 0) {
        ag_lua_result_attach(L, r, NULL); /* releases the statement */
        ag_lua_raise(L, &err, sql);
    }
    if (x->affected) *x->affected = st->driver->rows_affected(st->dstmt);
    lua_settop(L, top); /* the converted parameters are no longer needed */
    lua_pushvalue(L, x->result_idx);
    ag_lua_result_attach(L, r, st); /* reads the columns, or finishes a statement without rows */
    lua_settop(L, top);
    if (comp && comp->ncols > 0) ag_lua_result_set_types(L, r, comp->col_types, comp->ncols);
    if (comp && comp->implicit_returning) ag_lua_result_take_key(L, r);
    if (c->echo) {
        double ms = (ag_monotonic_seconds() - started) * 1e3;
        if (comp) { /* every value it was run with: bound in the statement or given */
            ag_lua_push_statement_params(L, x->stmt_idx, ag_engine_dialect(ag_conn_engine(c->conn)), x->params_idx);
            ag_lua_echo_statement(L, c, x->conn_idx, sql, lua_gettop(L), ms);
        } else {
            ag_lua_echo_statement(L, c, x->conn_idx, sql, x->params_idx, ms);
        }
        lua_settop(L, top);
    }
}

void ag_lua_execute_sql(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, size_t len, int rewrite,
                        int params_idx) {
    conn_idx = lua_absindex(L, conn_idx);
    if (params_idx) params_idx = lua_absindex(L, params_idx);
    ag_lua_result *r = ag_lua_new_result(L, conn_idx);
    ag_lua_exec x = {.conn_idx = conn_idx,
                     .result_idx = lua_gettop(L),
                     .sql = sql,
                     .len = len,
                     .rewrite = rewrite,
                     .params_idx = params_idx};
    ag_lua_run(L, c, &x, r);
}

void ag_lua_execute_node(lua_State *L, ag_lua_conn *c, int conn_idx, int stmt_idx, ag_node *node, int params_idx) {
    conn_idx = lua_absindex(L, conn_idx);
    stmt_idx = lua_absindex(L, stmt_idx);
    if (params_idx) params_idx = lua_absindex(L, params_idx);
    const ag_compiled *comp = compile_node(L, c, stmt_idx, node ? node : ag_lua_test_node(L, stmt_idx));
    ag_lua_result *r = ag_lua_new_result(L, conn_idx);
    ag_lua_exec x = {.conn_idx = conn_idx,
                     .result_idx = lua_gettop(L),
                     .comp = comp,
                     .stmt_idx = stmt_idx,
                     .params_idx = params_idx};
    ag_lua_run(L, c, &x, r);
}

/* ---- executemany */

typedef struct sql_many_ctx {
    lua_State *L;
    ag_lua_conn *c;
    ag_stmt *stmt;
    int list_idx;
    lua_Integer next;
    lua_Integer count;
    int nslots;
    int row_slot; /* a function's rows: the current row (kept alive), and its error */
    int raised;
    int names_idx; /* the statement's :names as a list of Lua strings, or 0 */
} sql_many_ctx;

int ag_lua_pull_row(lua_State *L, int fn_idx, int slot, lua_Integer r, int *raised, ag_error *err) {
    lua_pushvalue(L, fn_idx);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_replace(L, slot); /* the function's own error, raised again after the driver is done */
        *raised = 1;
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "executemany: the row function raised at row %lld",
                            (long long)r);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_replace(L, slot);
    return 1;
}

/* Row source for the driver.  Never raises (raw access only, stack checked;
 * a row function runs protected). */
static int sql_many_next_row(void *ctxp, ag_value *params, int nparams, ag_error *err) {
    sql_many_ctx *ctx = ctxp;
    lua_State *L = ctx->L;
    if (ctx->next > ctx->count) return 0;
    if (ctx->row_slot) {
        int got = ag_lua_pull_row(L, ctx->list_idx, ctx->row_slot, ctx->next, &ctx->raised, err);
        if (got <= 0) return got;
        lua_pushvalue(L, ctx->row_slot);
    } else {
        lua_rawgeti(L, ctx->list_idx, ctx->next);
    }
    if (!lua_istable(L, -1)) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "executemany: row %lld must be a table of parameters, got %s",
                     (long long)ctx->next, lua_typename(L, lua_type(L, -1)));
        lua_pop(L, 1);
        return -1;
    }
    int n = bind_params(L, ctx->c, ctx->stmt, lua_gettop(L), ctx->nslots, ctx->names_idx, err);
    lua_pop(L, 1); /* the row table stays referenced by the list (or the row slot) */
    if (n < 0) {
        char msg[AG_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err->message);
        ag_error_set(err, err->kind, NULL, "executemany: row %lld: %s", (long long)ctx->next, msg);
        return -1;
    }
    if (ctx->c->scratch != params) memcpy(params, ctx->c->scratch, (size_t)nparams * sizeof *params);
    ctx->next++;
    return 1;
}

int ag_lua_executemany_sql(lua_State *L, ag_lua_conn *c, int conn_idx, const char *sql, size_t len, int rows_idx) {
    conn_idx = lua_absindex(L, conn_idx);
    rows_idx = lua_absindex(L, rows_idx);
    int source = lua_isfunction(L, rows_idx);
    luaL_checkstack(L, 16, NULL);
    lua_pushnil(L); /* a row function's current row, or its error */
    int row_slot = lua_gettop(L);
    lua_Integer count = source ? LUA_MAXINTEGER : (lua_Integer)lua_rawlen(L, rows_idx);
    double started = c->echo ? ag_monotonic_seconds() : 0;
    ag_lua_result *r = ag_lua_new_result(L, conn_idx); /* holds the statement so that a raise cannot leak it */
    ag_error err;
    ag_stmt *stmt = ag_conn_prepare(c->conn, sql, len, 1, &err);
    if (!stmt) return ag_lua_raise(L, &err, sql);
    ag_lua_result_attach(L, r, stmt);
    int nslots = stmt_slot_count(stmt);
    int64_t affected = 0;
    int rc = 0;
    if (count > 0) {
        int names_idx = 0;
        if (stmt->params.style == AG_PARAMS_NAMED) { /* made here, where an allocation error may be raised */
            lua_createtable(L, stmt->params.nnames, 0);
            for (int i = 0; i < stmt->params.nnames; i++) {
                lua_pushstring(L, stmt->params.names[i]);
                lua_rawseti(L, -2, i + 1);
            }
            names_idx = lua_gettop(L);
        }
        if (ag_lua_conn_scratch(c, nslots > 0 ? nslots : 1, &err) != 0) rc = -1;
        sql_many_ctx ctx = {L, c, stmt, rows_idx, 1, count, nslots, source ? row_slot : 0, 0, names_idx};
        /* The driver gets its own copy buffer: the scratch is refilled per row. */
        ag_lua_conn_busy_begin(c, source);
        if (rc == 0) rc = ag_stmt_execute_many(stmt, nslots, sql_many_next_row, &ctx, &affected, &err);
        ag_lua_conn_busy_end(c);
        if (ctx.raised) {
            ag_lua_result_attach(L, r, NULL);
            lua_pushvalue(L, row_slot);
            return lua_error(L);
        }
    }
    ag_lua_result_attach(L, r, NULL);
    if (rc != 0) return ag_lua_raise(L, &err, sql);
    if (c->echo) ag_lua_echo_statement(L, c, conn_idx, sql, 0, (ag_monotonic_seconds() - started) * 1e3);
    lua_pushinteger(L, (lua_Integer)affected);
    return 1;
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
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "executemany: row %lld must be a table, got %s", (long long)m->next,
                     lua_typename(L, lua_type(L, -1)));
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
            lua_call(L, 2, 1);                    /* raises for a bad row */
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
    double started = c->echo ? ag_monotonic_seconds() : 0;
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
        if (ag_lua_conn_scratch(c, comp->nparams > 0 ? comp->nparams : 1, &err) != 0) rc = -1;
        many_ctx m = {L, c,     comp,   rows_idx, fixed_idx,   convert_idx != 0, names_base, base,
                      1, count, source, row_slot, convert_idx, names_idx,        0,          protect_names};
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
    if (c->echo) /* the statement as it ran, once for all the rows */
        ag_lua_echo_statement(L, c, conn_idx, use_sql, 0, (ag_monotonic_seconds() - started) * 1e3);
    lua_pushinteger(L, (lua_Integer)affected);
    return 1;
}
