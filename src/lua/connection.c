/*
 * connection.c -- the Connection userdata: execute, executemany,
 * exec_driver_sql, begin, begin_nested, close (also __close and __gc, which
 * give the connection back to the pool).
 *
 * Parameters are converted from Lua into a per-connection ag_value buffer by
 * a converter that never raises (it reports through ag_error), so that no
 * statement is left attached when a bad parameter is found: the statement
 * is released first, then the error is raised.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lua/binding.h"
#include "lua/sql_binding.h"

const char ag_lua_conn_mt_key = 0;

ag_lua_conn *ag_lua_check_conn(lua_State *L, int idx) {
    ag_lua_conn *c = ag_lua_testudata_key(L, idx, &ag_lua_conn_mt_key);
    if (!c) c = ag_lua_check_self(L, idx, AG_CONNECTION_TYPE);
    if (!c->conn) ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this connection is closed");
    ag_lua_check_not_busy(L, c, "use the connection");
    return c;
}

void ag_lua_check_not_busy(lua_State *L, const ag_lua_conn *c, const char *what) {
    if (c->busy)
        ag_lua_raisef(L, AG_ERR_INVALID_REQUEST, "this connection is running executemany: its row function cannot %s",
                      what);
}

void ag_lua_conn_busy_begin(ag_lua_conn *c, int busy) {
    c->busy = busy;
    c->deferred_rollback.depth = 0;
}

void ag_lua_conn_busy_end(ag_lua_conn *c) {
    c->busy = 0;
    if (c->deferred_rollback.depth > 0 && c->conn) {
        ag_error ignored; /* as from __gc: the pool resets the connection if this fails */
        ag_conn_rollback(c->conn, c->deferred_rollback, &ignored);
    }
    c->deferred_rollback.depth = 0;
}

static void conn_close_core(ag_lua_conn *c) {
    if (c->conn) {
        ag_conn_close(c->conn);
        c->conn = NULL;
    }
    free(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
}

static int conn_close(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    ag_lua_check_not_busy(L, c, "close the connection");
    conn_close_core(c);
    return 0;
}

/* __gc: never busy (a running executemany holds the connection on its stack). */
static int conn_gc(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    if (!c->busy) conn_close_core(c);
    return 0;
}

/* ---- SQL and parameters */

/* The SQL of the statement argument at idx: a string or argent.text(). */
static const char *check_sql(lua_State *L, int idx, size_t *len, const char *fname) {
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tolstring(L, idx, len);
    if (lua_istable(L, idx) && luaL_testudata(L, idx, AG_TEXT_TYPE) == NULL && lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, AG_TEXT_TYPE);
        int is_text = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (is_text) {
            lua_getfield(L, idx, "text");
            lua_replace(L, idx);
            if (lua_type(L, idx) == LUA_TSTRING) return lua_tolstring(L, idx, len);
        }
    }
    ag_lua_argerror(L, "%s: argument 'statement' must be a SQL string or argent.text(), got %s", fname,
                    ag_lua_typename(L, idx));
    return NULL;
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

/* Converts the Lua value at idx.  Never raises. */
static int to_value(lua_State *L, int idx, ag_value *out, const char *what, ag_error *err) {
    if (ag_lua_to_scalar(L, idx, 0, out) == 0) return 0;
    if (lua_isnil(L, idx))
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "%s is nil; use argent.null for NULL", what);
    return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                        "%s is a %s; parameters must be strings, numbers, booleans or argent.null", what,
                        lua_typename(L, lua_type(L, idx)));
}

/* Fills c->scratch with the parameters that the statement's slots take from
 * the table at idx (or no table: idx == 0).  Never raises: it uses only raw
 * table access on values the caller keeps alive, and the stack space that
 * the caller checked; and names_idx, when not 0, is a list of the
 * statement's names as Lua strings made beforehand (executemany: pushing a
 * name can allocate, and an allocation error must not be raised inside the
 * driver's execute_many).  Returns the slot count, or -1 with err. */
static int bind_params(lua_State *L, ag_lua_conn *c, ag_stmt *stmt, int idx, int nslots, int names_idx,
                       ag_error *err) {
    const ag_rewritten_sql *p = &stmt->params;
    if (ensure_scratch(c, nslots, err) != 0) return -1;
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
                return ag_error_set(err, AG_ERR_ARGUMENT, NULL,
                                    "missing parameter :%s (use argent.null for NULL)", name);
            }
            int rc = to_value(L, -1, &c->scratch[i], what, err);
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
                    ag_error_set(err, AG_ERR_ARGUMENT, NULL, "unknown parameter '%s': the statement has no :%s",
                                 key, key);
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
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "the statement takes %d parameter%s but %d %s given",
                            nslots, nslots == 1 ? "" : "s", (int)max_index, max_index == 1 ? "was" : "were");
    for (int i = 0; i < nslots; i++) {
        lua_rawgeti(L, idx, i + 1);
        snprintf(what, sizeof what, "parameter %d", i + 1);
        int rc = to_value(L, -1, &c->scratch[i], what, err);
        lua_pop(L, 1);
        if (rc) return -1;
    }
    if (count > nslots || max_index > nslots)
        return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "the statement takes %d parameter%s but %d were given",
                            nslots, nslots == 1 ? "" : "s", (int)(max_index > count ? max_index : count));
    return nslots;
}

static int stmt_slot_count(ag_stmt *stmt) {
    return stmt->raw ? stmt->driver->param_count(stmt->dstmt) : stmt->params.nslots;
}

/* ---- echo */

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

/* ---- execute */

/* node: the statement at 2 when the caller has already tested it (NULL: test here). */
static int do_execute(lua_State *L, int rewrite, const char *fname, ag_node *node) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    if (rewrite && (node || (node = ag_lua_test_node(L, 2)))) { /* a statement built with argent (statement.c) */
        if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
            return ag_lua_argerror(L, "%s: argument 'params' must be a table, got %s", fname, ag_lua_typename(L, 3));
        lua_settop(L, 3);
        double started = c->echo ? ag_monotonic_seconds() : 0;
        int params_idx = lua_istable(L, 3) ? 3 : 0;
        const char *sql = ag_lua_execute_node(L, c, 1, 2, node, params_idx);
        if (c->echo) {
            double ms = (ag_monotonic_seconds() - started) * 1e3;
            ag_lua_push_statement_params(L, 2, ag_engine_dialect(ag_conn_engine(c->conn)), params_idx);
            ag_lua_echo_statement(L, c, 1, sql, lua_gettop(L), ms);
            lua_pop(L, 1); /* the result is on top again */
        }
        return 1;
    }
    size_t len;
    const char *sql = check_sql(L, 2, &len, fname);
    int params_idx = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_istable(L, 3))
            return ag_lua_argerror(L, "%s: argument 'params' must be a table, got %s", fname, ag_lua_typename(L, 3));
        params_idx = 3;
    }
    lua_settop(L, 3);
    luaL_checkstack(L, 8, NULL);
    double started = c->echo ? ag_monotonic_seconds() : 0;
    ag_lua_result *r = ag_lua_new_result(L, 1); /* owns the statement from here on */
    int result_idx = lua_gettop(L);
    ag_error err;
    ag_stmt *stmt = ag_conn_prepare(c->conn, sql, len, rewrite, &err);
    if (!stmt) return ag_lua_raise(L, &err, sql);
    ag_lua_result_attach(L, r, stmt);
    int n = bind_params(L, c, stmt, params_idx, stmt_slot_count(stmt), 0, &err);
    if (n < 0 || ag_stmt_execute(stmt, c->scratch, n, &err) != 0) {
        ag_lua_result_attach(L, r, NULL); /* releases the statement */
        return ag_lua_raise(L, &err, sql);
    }
    lua_settop(L, result_idx);
    ag_lua_result_attach(L, r, stmt); /* reads columns, or finishes a statement without rows */
    if (c->echo) ag_lua_echo_statement(L, c, 1, sql, params_idx, (ag_monotonic_seconds() - started) * 1e3);
    lua_settop(L, result_idx);
    return 1;
}

/* execute without the hook: what the hook calls */
static int conn_execute_direct(lua_State *L) { return do_execute(L, 1, "execute", NULL); }

/* conn:execute(sql | argent.text(sql) | statement, params).  Statements
 * other than SELECT and UNION (inserts and updates take values, defaults
 * and deferred problems from Lua) go through the Lua hook that init.lua
 * registers (ag_lua_push_execute_hook), as hook(conn, stmt, params,
 * execute_direct); the common case, SQL text and queries, stays in C. */
static int conn_execute(lua_State *L) {
    ag_node *n = ag_lua_test_node(L, 2);
    if (n && n->tag != AG_N_SELECT && n->tag != AG_N_COMPOUND) {
        lua_settop(L, 3);
        if (ag_lua_push_execute_hook(L)) {
            lua_insert(L, 1);
            lua_pushcfunction(L, conn_execute_direct);
            lua_call(L, 4, LUA_MULTRET);
            return lua_gettop(L);
        }
    }
    return do_execute(L, 1, "execute", n);
}

/* conn:exec_driver_sql(sql, params): the SQL goes to the driver untouched. */
static int conn_exec_driver_sql(lua_State *L) { return do_execute(L, 0, "exec_driver_sql", NULL); }

/* ---- executemany */

typedef struct many_ctx {
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
} many_ctx;

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
static int many_next_row(void *ctxp, ag_value *params, int nparams, ag_error *err) {
    many_ctx *ctx = ctxp;
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

/* conn:executemany(sql, { params1, params2, ... }) -> rows affected */
static int conn_executemany(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    if (ag_lua_test_node(L, 2)) { /* a statement built with argent: rows keyed by parameter name */
        if (!lua_istable(L, 3) && !lua_isfunction(L, 3))
            return ag_lua_argerror(L, "executemany: argument 'rows' must be a list of parameter tables or a "
                                      "function returning the next one, got %s",
                                   ag_lua_typename(L, 3));
        int convert_idx = lua_isfunction(L, 4) ? 4 : 0; /* rows keyed by column (init.lua's insert path) */
        lua_settop(L, convert_idx ? 4 : 3);
        double started = c->echo ? ag_monotonic_seconds() : 0;
        int n = ag_lua_executemany_statement(L, c, 1, 2, 3, convert_idx);
        if (c->echo) { /* the statement as it ran (argument 2 holds it), once for all the rows */
            double ms = (ag_monotonic_seconds() - started) * 1e3;
            ag_lua_echo_statement(L, c, 1, ag_lua_compile_statement(L, c, 2)->sql, 0, ms);
        }
        return n;
    }
    size_t len;
    const char *sql = check_sql(L, 2, &len, "executemany");
    int source = lua_isfunction(L, 3);
    if (!lua_istable(L, 3) && !source)
        return ag_lua_argerror(L, "executemany: argument 'rows' must be a list of parameter tables or a function "
                                  "returning the next one, got %s",
                               ag_lua_typename(L, 3));
    lua_settop(L, 3);
    luaL_checkstack(L, 16, NULL);
    lua_pushnil(L); /* 4: a row function's current row, or its error */
    lua_Integer count = source ? LUA_MAXINTEGER : (lua_Integer)lua_rawlen(L, 3);
    double started = c->echo ? ag_monotonic_seconds() : 0;
    ag_lua_result *r = ag_lua_new_result(L, 1); /* holds the statement so that a raise cannot leak it */
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
        if (ensure_scratch(c, nslots > 0 ? nslots : 1, &err) != 0) rc = -1;
        many_ctx ctx = {L, c, stmt, 3, 1, count, nslots, source ? 4 : 0, 0, names_idx};
        /* The driver gets its own copy buffer: the scratch is refilled per row. */
        ag_lua_conn_busy_begin(c, source);
        if (rc == 0) rc = ag_stmt_execute_many(stmt, nslots, many_next_row, &ctx, &affected, &err);
        ag_lua_conn_busy_end(c);
        if (ctx.raised) {
            ag_lua_result_attach(L, r, NULL);
            lua_pushvalue(L, 4);
            return lua_error(L);
        }
    }
    ag_lua_result_attach(L, r, NULL);
    if (rc != 0) return ag_lua_raise(L, &err, sql);
    if (c->echo) ag_lua_echo_statement(L, c, 1, sql, 0, (ag_monotonic_seconds() - started) * 1e3);
    lua_pushinteger(L, (lua_Integer)affected);
    return 1;
}

/* ---- transactions */

static int do_begin(lua_State *L, int nested) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    ag_tx tx;
    ag_error err;
    if (ag_conn_begin(c->conn, nested, &tx, &err) != 0) return ag_lua_raise(L, &err, NULL);
    ag_lua_push_transaction(L, 1, tx);
    return 1;
}

static int conn_begin(lua_State *L) { return do_begin(L, 0); }
static int conn_begin_nested(lua_State *L) { return do_begin(L, 1); }

static int conn_in_transaction(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_conn(L, 1);
    lua_pushboolean(L, ag_conn_in_transaction(c->conn));
    return 1;
}

static int conn_index(lua_State *L) {
    /* methods first: conn:execute(...) looks one up per call (no method is named like a field) */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    const char *key = lua_tostring(L, 2);
    if (key && strcmp(key, "closed") == 0) {
        lua_pushboolean(L, c->conn == NULL);
    } else if (key && strcmp(key, "engine") == 0) {
        ag_lua_getuservalue(L, 1, 1);
    } else if (key && strcmp(key, "dialect") == 0) {
        ag_lua_getuservalue(L, 1, 1);
        lua_getfield(L, -1, "dialect");
    } else {
        lua_pushnil(L);
    }
    return 1;
}

static int conn_tostring(lua_State *L) {
    ag_lua_conn *c = ag_lua_check_self(L, 1, AG_CONNECTION_TYPE);
    lua_pushfstring(L, "Connection(%s)", c->conn ? "open" : "closed");
    return 1;
}

void ag_lua_open_connection(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"execute", conn_execute},
        {"exec_driver_sql", conn_exec_driver_sql},
        {"executemany", conn_executemany},
        {"begin", conn_begin},
        {"begin_nested", conn_begin_nested},
        {"in_transaction", conn_in_transaction},
        {"close", conn_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", conn_gc}, {"__close", conn_close}, {"__tostring", conn_tostring}, {NULL, NULL}};
    ag_lua_new_type(L, AG_CONNECTION_TYPE, methods, meta, conn_index);
    luaL_getmetatable(L, AG_CONNECTION_TYPE);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ag_lua_conn_mt_key);
}
