/*
 * expression.c -- the ClauseElement userdata (one type for every node of
 * the SQL tree, see sql_binding.h) and the expression language on it:
 * comparison methods (eq ... contains), ordering, labels and casts,
 * arithmetic and `..` through metamethods, and the constructors and_,
 * or_, not_, func, literal, bindparam, case, exists, distinct, cast.
 *
 * Plain Lua values become BIND nodes typed like the column they meet
 * (as LPeg's getpatt turns strings into patterns), so `col:eq(v)` binds v
 * with col's type: JSON is encoded, Enum values are checked.  Which methods
 * a node has depends on its kind: __index picks the method table by tag
 * (expressions, SELECT, INSERT, UPDATE, DELETE, FROM elements), then looks
 * in the node's information table (a column's name, key, type, table, ...).
 * Lua code (lua/argent/) adds methods to those tables through
 * argent.core.sql.methods.
 */
#include <string.h>
#include <strings.h>

#include "base/datetime.h"
#include "base/utf8.h"
#include "lua/sql_binding.h"

/* ---- the userdata */

const char ag_lua_node_mt_key = 0;

void ag_lua_push_node_shell(lua_State *L) {
    ag_lua_node *u = ag_lua_newuserdata(L, sizeof *u, 1);
    u->node = NULL;
    ag_lua_setmetatable_key(L, &ag_lua_node_mt_key);
}

ag_node *ag_lua_fill_node(lua_State *L, ag_node *n) {
    ag_lua_node *u = lua_touserdata(L, -1);
    if (!n) ag_lua_nomem(L);
    u->node = n;
    return n;
}

ag_node *ag_lua_push_new_node(lua_State *L, ag_node_tag tag, int nkids) {
    ag_lua_node *u = ag_lua_newuserdata(L, sizeof *u, 1);
    u->node = NULL;
    ag_lua_setmetatable_key(L, &ag_lua_node_mt_key);
    u->node = ag_node_new(tag, nkids);
    if (!u->node) ag_lua_nomem(L);
    return u->node;
}

ag_node *ag_lua_test_node(lua_State *L, int idx) {
    ag_lua_node *u = ag_lua_testudata_key(L, idx, &ag_lua_node_mt_key);
    return u ? u->node : NULL;
}

ag_node *ag_lua_check_node(lua_State *L, int idx, const char *what) {
    ag_node *n = ag_lua_test_node(L, idx);
    if (!n) ag_lua_argerror(L, "%s must be a SQL expression, got %s", what, ag_lua_typename(L, idx));
    return n;
}

static int node_gc(lua_State *L) {
    ag_lua_node *u = ag_lua_check_self(L, 1, AG_NODE_TYPE);
    ag_node_release(u->node);
    u->node = NULL;
    return 0;
}

static void nomem(lua_State *L) { ag_lua_nomem(L); }

/* Checks value (a string) against the Enum type of the column at hint_idx. */
static void check_enum(lua_State *L, int value_idx, int hint_idx) {
    if (!hint_idx || lua_type(L, value_idx) != LUA_TSTRING) return;
    int top = lua_gettop(L);
    if (ag_lua_getuservalue(L, hint_idx, 1) != LUA_TTABLE) {
        lua_settop(L, top);
        return;
    }
    lua_getfield(L, -1, "type");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "enums");
        if (lua_istable(L, -1)) {
            int list = lua_gettop(L);
            lua_Integer n = (lua_Integer)lua_rawlen(L, list);
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, list, i);
                int same = lua_rawequal(L, -1, value_idx);
                lua_pop(L, 1);
                if (same) {
                    lua_settop(L, top);
                    return;
                }
            }
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1) luaL_addstring(&b, ", ");
                lua_rawgeti(L, list, i);
                luaL_addvalue(&b);
            }
            luaL_pushresult(&b);
            ag_lua_argerror(L, "'%s' is not one of the Enum's values (%s)", lua_tostring(L, value_idx),
                            lua_tostring(L, -1));
        }
    }
    lua_settop(L, top);
}

static int is_text_clause(lua_State *L, int idx) {
    if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, AG_TEXT_TYPE);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return is;
}

ag_node *ag_lua_to_expr(lua_State *L, int idx, int hint_idx, const char *what) {
    idx = lua_absindex(L, idx);
    if (hint_idx) hint_idx = lua_absindex(L, hint_idx);
    luaL_checkstack(L, 8, NULL);
    ag_node *n = ag_lua_test_node(L, idx);
    if (n) {
        lua_pushvalue(L, idx);
        return n;
    }
    if (lua_isnil(L, idx) || ag_lua_is_null(L, idx)) {
        n = ag_lua_push_new_node(L, AG_N_KEYWORD, 0);
        n->op = AG_KW_NULL;
        return n;
    }
    if (is_text_clause(L, idx)) {
        lua_getfield(L, idx, "text");
        size_t len;
        const char *sql = lua_tolstring(L, -1, &len);
        n = ag_lua_push_new_node(L, AG_N_TEXT, 0);
        if (ag_node_set_name(n, sql ? sql : "", sql ? len : 0) != 0) nomem(L);
        lua_remove(L, -2);
        return n;
    }
    ag_sqltype hint = {0, 0, 0, 0, 0};
    ag_node *hint_node = hint_idx ? ag_lua_test_node(L, hint_idx) : NULL;
    if (hint_node) hint = ag_node_type_of(hint_node);
    if (lua_istable(L, idx) && hint.kind != AG_TYPE_JSON) {
        /* a Table or a model stands for its node */
        if (lua_getfield(L, idx, "_node") != LUA_TNIL && ag_lua_test_node(L, -1)) return ag_lua_test_node(L, -1);
        lua_pop(L, 1);
    }
    if (lua_type(L, idx) == LUA_TFUNCTION)
        ag_lua_argerror(L, "%s is a Lua function; compare with a value or a SQL expression (call the function?)", what);
    if (hint.kind == AG_TYPE_ENUM) check_enum(L, idx, hint_idx);
    int top = lua_gettop(L);
    ag_value v;
    ag_error err;
    if (ag_lua_convert_in(L, idx, &hint, &v, &err) != 0) {
        if (err.kind == AG_ERR_MEMORY) nomem(L);
        if (err.kind == AG_ERR_DATA) { /* a value its column cannot hold: the kind every dialect gives */
            ag_error data;
            ag_error_set(&data, AG_ERR_DATA, err.code[0] ? err.code : NULL, "%s: %s", what, err.message);
            ag_lua_raise(L, &data, NULL);
        }
        ag_lua_argerror(L, "%s: %s", what, err.message);
    }
    ag_lua_node *u = ag_lua_newuserdata(L, sizeof *u, 1);
    u->node = NULL;
    ag_lua_setmetatable_key(L, &ag_lua_node_mt_key);
    u->node = ag_node_bind(&v, &hint); /* copies the value: a JSON string pushed above is no longer needed */
    if (!u->node) nomem(L);
    if (lua_gettop(L) > top + 1) lua_replace(L, top + 1);
    return u->node;
}

/* ---- node builders on the stack */

/* Pushes op(a, b) for the operands at ia and ib (Lua values converted with
 * each other as type hint). */
static ag_node *push_binary(lua_State *L, int op, int ia, int ib, const char *what) {
    ia = lua_absindex(L, ia);
    ib = lua_absindex(L, ib);
    int hint_for_b = ag_lua_test_node(L, ia) ? ia : 0;
    int hint_for_a = ag_lua_test_node(L, ib) ? ib : 0;
    ag_node *a = ag_lua_to_expr(L, ia, hint_for_a, what);
    ag_node *b = ag_lua_to_expr(L, ib, hint_for_b, what);
    ag_node *n = ag_lua_push_new_node(L, AG_N_BINARY, 2);
    n->op = (uint8_t)op;
    ag_node_set_kid(n, 0, a);
    ag_node_set_kid(n, 1, b);
    return n;
}

static ag_node *push_unary(lua_State *L, int op, int ix, const char *what) {
    ag_node *x = ag_lua_to_expr(L, ix, 0, what);
    ag_node *n = ag_lua_push_new_node(L, AG_N_UNARY, 1);
    n->op = (uint8_t)op;
    ag_node_set_kid(n, 0, x);
    return n;
}

static void check_self(lua_State *L, const char *method) {
    if (!ag_lua_test_node(L, 1))
        ag_lua_argerror(L, "%s: argument 'self' must be a SQL expression (call it as expr:%s(...)), got %s", method,
                        method, ag_lua_typename(L, 1));
}

static int compare(lua_State *L, int op, const char *method) {
    check_self(L, method);
    if (lua_gettop(L) < 2)
        return ag_lua_argerror(L, "%s: needs a value to compare with (nil or argent.null for NULL)", method);
    if ((op == AG_OP_EQ || op == AG_OP_NE) && (lua_isnil(L, 2) || ag_lua_is_null(L, 2))) {
        push_unary(L, op == AG_OP_EQ ? AG_OP_IS_NULL : AG_OP_IS_NOT_NULL, 1, method);
        return 1;
    }
    char what[64];
    snprintf(what, sizeof what, "%s: the value", method);
    push_binary(L, op, 1, 2, what);
    return 1;
}

static int m_eq(lua_State *L) { return compare(L, AG_OP_EQ, "eq"); }
static int m_ne(lua_State *L) { return compare(L, AG_OP_NE, "ne"); }
static int m_lt(lua_State *L) { return compare(L, AG_OP_LT, "lt"); }
static int m_le(lua_State *L) { return compare(L, AG_OP_LE, "le"); }
static int m_gt(lua_State *L) { return compare(L, AG_OP_GT, "gt"); }
static int m_ge(lua_State *L) { return compare(L, AG_OP_GE, "ge"); }
static int m_like(lua_State *L) { return compare(L, AG_OP_LIKE, "like"); }
static int m_not_like(lua_State *L) { return compare(L, AG_OP_NOT_LIKE, "not_like"); }
static int m_ilike(lua_State *L) { return compare(L, AG_OP_ILIKE, "ilike"); }
static int m_not_ilike(lua_State *L) { return compare(L, AG_OP_NOT_ILIKE, "not_ilike"); }
static int m_is(lua_State *L) { return compare(L, AG_OP_IS, "is_"); }
static int m_is_not(lua_State *L) { return compare(L, AG_OP_IS_NOT, "is_not"); }

/* startswith / endswith / contains: LIKE with a bound pattern. */
static int like_pattern(lua_State *L, const char *method, int prefix, int suffix) {
    check_self(L, method);
    if (lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER) {
        lua_settop(L, 2);
        if (prefix) lua_pushliteral(L, "%");
        else lua_pushliteral(L, "");
        lua_pushvalue(L, 2);
        if (suffix) lua_pushliteral(L, "%");
        else lua_pushliteral(L, "");
        lua_concat(L, 3);
        lua_replace(L, 2);
        push_binary(L, AG_OP_LIKE, 1, 2, method);
        return 1;
    }
    if (!ag_lua_test_node(L, 2))
        return ag_lua_argerror(L, "%s: argument must be a string or a SQL expression, got %s", method,
                               ag_lua_typename(L, 2));
    /* an expression: '%' || x || '%' with the percent signs bound */
    lua_settop(L, 2);
    lua_pushliteral(L, "%");
    int percent = lua_gettop(L);
    int pattern = 2;
    if (prefix) {
        push_binary(L, AG_OP_CONCAT, percent, pattern, method);
        pattern = lua_gettop(L);
    }
    if (suffix) {
        push_binary(L, AG_OP_CONCAT, pattern, percent, method);
        pattern = lua_gettop(L);
    }
    push_binary(L, AG_OP_LIKE, 1, pattern, method);
    return 1;
}

static int m_startswith(lua_State *L) { return like_pattern(L, "startswith", 0, 1); }
static int m_endswith(lua_State *L) { return like_pattern(L, "endswith", 1, 0); }
static int m_contains(lua_State *L) { return like_pattern(L, "contains", 1, 1); }

static int in_list(lua_State *L, int op, const char *method) {
    check_self(L, method);
    lua_settop(L, 2);
    ag_node *sub = ag_lua_test_node(L, 2);
    if (sub) {
        if (sub->tag != AG_N_SELECT && sub->tag != AG_N_COMPOUND && sub->tag != AG_N_SUBQUERY && sub->tag != AG_N_LIST)
            return ag_lua_argerror(L, "%s: argument must be a list of values or a select, got an expression", method);
        push_binary(L, op, 1, 2, method);
        return 1;
    }
    if (!lua_istable(L, 2) || is_text_clause(L, 2))
        return ag_lua_argerror(L, "%s: argument must be a list of values or a select, got %s", method,
                               ag_lua_typename(L, 2));
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    if (n > 1000000) return ag_lua_argerror(L, "%s: too many values (%lld)", method, (long long)n);
    ag_node *list = ag_lua_push_new_node(L, AG_N_LIST, (int)n);
    int list_idx = lua_gettop(L);
    char what[64];
    snprintf(what, sizeof what, "%s: a value in the list", method);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        ag_node *item = ag_lua_to_expr(L, -1, 1, what);
        ag_node_set_kid(list, (int)i - 1, item);
        lua_pop(L, 2);
    }
    ag_node *node = ag_lua_push_new_node(L, AG_N_BINARY, 2);
    node->op = (uint8_t)op;
    ag_node_set_kid(node, 0, ag_lua_test_node(L, 1));
    ag_node_set_kid(node, 1, list);
    (void)list_idx;
    return 1;
}

static int m_in(lua_State *L) { return in_list(L, AG_OP_IN, "in_"); }
static int m_not_in(lua_State *L) { return in_list(L, AG_OP_NOT_IN, "not_in"); }

static int m_is_null(lua_State *L) {
    check_self(L, "is_null");
    push_unary(L, AG_OP_IS_NULL, 1, "is_null");
    return 1;
}

static int m_is_not_null(lua_State *L) {
    check_self(L, "is_not_null");
    push_unary(L, AG_OP_IS_NOT_NULL, 1, "is_not_null");
    return 1;
}

static int m_between(lua_State *L) {
    check_self(L, "between");
    if (lua_isnoneornil(L, 2) || lua_isnoneornil(L, 3))
        return ag_lua_argerror(L, "between: needs a lower and an upper bound");
    lua_settop(L, 3);
    ag_node *a = ag_lua_to_expr(L, 2, 1, "between: the lower bound");
    ag_node *b = ag_lua_to_expr(L, 3, 1, "between: the upper bound");
    ag_node *n = ag_lua_push_new_node(L, AG_N_BETWEEN, 3);
    ag_node_set_kid(n, 0, ag_lua_test_node(L, 1));
    ag_node_set_kid(n, 1, a);
    ag_node_set_kid(n, 2, b);
    return 1;
}

static int m_asc(lua_State *L) {
    check_self(L, "asc");
    push_unary(L, AG_OP_ASC, 1, "asc");
    return 1;
}

static int m_desc(lua_State *L) {
    check_self(L, "desc");
    push_unary(L, AG_OP_DESC, 1, "desc");
    return 1;
}

static int m_distinct(lua_State *L) {
    check_self(L, "distinct");
    push_unary(L, AG_OP_DISTINCT, 1, "distinct");
    return 1;
}

static int m_label(lua_State *L) {
    check_self(L, "label");
    size_t len;
    const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
    if (!name || len == 0 || memchr(name, '\0', len))
        return ag_lua_argerror(L, "label: argument 'name' must be a non-empty string without NUL bytes, got %s",
                               ag_lua_typename(L, 2));
    ag_node *n = ag_lua_push_new_node(L, AG_N_LABEL, 1);
    if (ag_node_set_name(n, name, len) != 0) nomem(L);
    ag_node_set_kid(n, 0, ag_lua_test_node(L, 1));
    return 1;
}

static ag_node *push_cast(lua_State *L, int ix, int itype, const char *what) {
    ag_sqltype t;
    if (ag_lua_to_sqltype(L, itype, &t) != 0)
        ag_lua_argerror(L,
                        "%s: argument 'type' must be an argent type (argent.Integer, argent.String(20), ...), got %s",
                        what, ag_lua_typename(L, itype));
    ag_node *x = ag_lua_to_expr(L, ix, 0, what);
    ag_node *n = ag_lua_push_new_node(L, AG_N_CAST, 1);
    n->type = t;
    ag_node_set_kid(n, 0, x);
    return n;
}

static int m_cast(lua_State *L) {
    check_self(L, "cast");
    push_cast(L, 1, 2, "cast");
    return 1;
}

/* ---- metamethods: + - * / % .. and unary - */

static int arith(lua_State *L, int op, const char *what) {
    push_binary(L, op, 1, 2, what);
    return 1;
}

static int mm_add(lua_State *L) { return arith(L, AG_OP_ADD, "+"); }
static int mm_sub(lua_State *L) { return arith(L, AG_OP_SUB, "-"); }
static int mm_mul(lua_State *L) { return arith(L, AG_OP_MUL, "*"); }
static int mm_div(lua_State *L) { return arith(L, AG_OP_DIV, "/"); }
static int mm_mod(lua_State *L) { return arith(L, AG_OP_MOD, "%"); }
static int mm_concat(lua_State *L) { return arith(L, AG_OP_CONCAT, ".."); }

static int mm_unm(lua_State *L) {
    push_unary(L, AG_OP_NEG, 1, "unary -");
    return 1;
}

static int mm_tostring(lua_State *L) {
    ag_lua_node *u = ag_lua_check_self(L, 1, AG_NODE_TYPE);
    if (!u->node) {
        lua_pushliteral(L, "ClauseElement(freed)");
        return 1;
    }
    ag_error err;
    const ag_compiled *c = ag_compile(u->node, AG_DIALECT_SQLITE, &err);
    if (!c) lua_pushfstring(L, "<%s: %s>", ag_node_tag_name(u->node->tag), err.message);
    else lua_pushlstring(L, c->sql, c->len);
    return 1;
}

/* ---- __index: methods by kind, then the node's information table */

enum { KIND_EXPR = 1, KIND_SELECT, KIND_INSERT, KIND_UPDATE, KIND_DELETE, KIND_FROM, KIND_DDL, KIND_COUNT };

static int kind_of(const ag_node *n) {
    switch (n->tag) {
    case AG_N_SELECT:
    case AG_N_COMPOUND: return KIND_SELECT;
    case AG_N_INSERT: return KIND_INSERT;
    case AG_N_UPDATE: return KIND_UPDATE;
    case AG_N_DELETE: return KIND_DELETE;
    case AG_N_TABLE:
    case AG_N_ALIAS:
    case AG_N_SUBQUERY:
    case AG_N_JOIN: return KIND_FROM;
    case AG_N_CREATE_TABLE:
    case AG_N_DROP_TABLE:
    case AG_N_CREATE_INDEX:
    case AG_N_DROP_INDEX:
    case AG_N_COMMENT:
    case AG_N_CONSTRAINT: return KIND_DDL;
    default: return KIND_EXPR;
    }
}

static int node_index(lua_State *L) {
    ag_lua_node *u = ag_lua_check_self(L, 1, AG_NODE_TYPE);
    if (!u->node) return 0;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(kind_of(u->node))) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    if (ag_lua_getuservalue(L, 1, 1) == LUA_TTABLE) {
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    return 0;
}

/* ---- module functions (argent.core.sql) */

static int boolean_list(lua_State *L, int op, const char *fname) {
    int n = lua_gettop(L);
    int count = 0;
    for (int i = 1; i <= n; i++)
        if (!lua_isnil(L, i)) count++;
    if (count == 1) {
        for (int i = 1; i <= n; i++)
            if (!lua_isnil(L, i)) {
                ag_lua_to_expr(L, i, 0, fname);
                return 1;
            }
    }
    ag_node *list = ag_lua_push_new_node(L, AG_N_BOOLEAN, count);
    list->op = (uint8_t)op;
    int k = 0;
    char what[96];
    for (int i = 1; i <= n; i++) {
        if (lua_isnil(L, i)) continue;
        snprintf(what, sizeof what, "%s: argument %d", fname, i);
        if (!ag_lua_test_node(L, i) && !is_text_clause(L, i))
            ag_lua_argerror(L, "%s must be a SQL expression, got %s", what, ag_lua_typename(L, i));
        ag_node *x = ag_lua_to_expr(L, i, 0, what);
        ag_node_set_kid(list, k++, x);
        lua_pop(L, 1);
    }
    return 1;
}

static int f_and(lua_State *L) { return boolean_list(L, AG_OP_AND, "and_"); }
static int f_or(lua_State *L) { return boolean_list(L, AG_OP_OR, "or_"); }

static int f_not(lua_State *L) {
    ag_lua_check_node(L, 1, "not_: argument 1");
    push_unary(L, AG_OP_NOT, 1, "not_");
    return 1;
}

static int f_distinct(lua_State *L) {
    ag_lua_check_node(L, 1, "distinct: argument 1");
    push_unary(L, AG_OP_DISTINCT, 1, "distinct");
    return 1;
}

static int f_exists(lua_State *L) {
    ag_node *sel = ag_lua_check_node(L, 1, "exists: argument 1");
    if (sel->tag != AG_N_SELECT && sel->tag != AG_N_COMPOUND)
        return ag_lua_argerror(L, "exists: argument 1 must be a select, got an expression");
    push_unary(L, AG_OP_EXISTS, 1, "exists");
    return 1;
}

/* func(name, arg...) */
static int f_func(lua_State *L) {
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    if (len == 0 || len > 128) return ag_lua_argerror(L, "func: bad function name");
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && ((c >= '0' && c <= '9') || c == '.'));
        if (!ok) return ag_lua_argerror(L, "func: '%s' is not a valid SQL function name", name);
    }
    int nargs = lua_gettop(L) - 1;
    ag_node *f = ag_lua_push_new_node(L, AG_N_FUNC, nargs);
    int fidx = lua_gettop(L);
    if (ag_node_set_name(f, name, len) != 0) nomem(L);
    if (strcasecmp(name, "count") == 0) f->type.kind = AG_TYPE_INTEGER;
    else if (strcasecmp(name, "current_timestamp") == 0 || strcasecmp(name, "now") == 0)
        f->type.kind = AG_TYPE_DATETIME;
    else if (strcasecmp(name, "current_date") == 0) f->type.kind = AG_TYPE_DATE;
    else if (strcasecmp(name, "current_time") == 0) f->type.kind = AG_TYPE_TIME;
    else if (strcasecmp(name, "lower") == 0 || strcasecmp(name, "upper") == 0) f->type.kind = AG_TYPE_STRING;
    for (int i = 0; i < nargs; i++) {
        char what[96];
        snprintf(what, sizeof what, "func.%.40s: argument %d", name, i + 1);
        ag_node *a = ag_lua_to_expr(L, i + 2, 0, what);
        ag_node_set_kid(f, i, a);
        lua_settop(L, fidx);
    }
    return 1;
}

/* literal(value [, type]) */
static int f_literal(lua_State *L) {
    lua_settop(L, 2);
    ag_sqltype t = {0, 0, 0, 0, 0};
    if (!lua_isnil(L, 2) && ag_lua_to_sqltype(L, 2, &t) != 0)
        return ag_lua_argerror(L, "literal: argument 'type' must be an argent type, got %s", ag_lua_typename(L, 2));
    if (lua_isnil(L, 1) || ag_lua_is_null(L, 1)) { /* a bound NULL */
        ag_value null_value = {.type = AG_VALUE_NULL};
        ag_lua_push_node(L, ag_node_bind(&null_value, &t));
        return 1;
    }
    if (ag_lua_test_node(L, 1)) return ag_lua_argerror(L, "literal: the value is already a SQL expression");
    ag_value v;
    ag_error err;
    if (ag_lua_convert_in(L, 1, &t, &v, &err) != 0) {
        if (err.kind == AG_ERR_MEMORY) nomem(L);
        return ag_lua_argerror(L, "literal: %s", err.message);
    }
    ag_lua_push_node(L, ag_node_bind(&v, &t));
    return 1;
}

/* bindparam(name [, value [, type]]) */
static int f_bindparam(lua_State *L) {
    size_t len;
    const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    if (!name || len == 0 || memchr(name, '\0', len))
        return ag_lua_argerror(L, "bindparam: argument 'name' must be a non-empty string, got %s",
                               ag_lua_typename(L, 1));
    lua_settop(L, 3);
    ag_sqltype t = {0, 0, 0, 0, 0};
    if (!lua_isnil(L, 3) && ag_lua_to_sqltype(L, 3, &t) != 0)
        return ag_lua_argerror(L, "bindparam: argument 'type' must be an argent type, got %s", ag_lua_typename(L, 3));
    ag_node *n = ag_lua_push_node(L, ag_node_named(name, &t));
    if (!lua_isnil(L, 2)) {
        ag_value v;
        ag_error err;
        if (ag_lua_convert_in(L, 2, &t, &v, &err) != 0) {
            if (err.kind == AG_ERR_MEMORY) nomem(L);
            return ag_lua_argerror(L, "bindparam: %s", err.message);
        }
        if (ag_node_set_value(n, &v) != 0) nomem(L);
        lua_settop(L, 4);
    }
    return 1;
}

/* case({ {cond, value}, ... } [, else]) */
static int f_case(lua_State *L) {
    if (!lua_istable(L, 1) || ag_lua_test_node(L, 1))
        return ag_lua_argerror(L, "case: argument 1 must be a list of {condition, value} pairs, got %s",
                               ag_lua_typename(L, 1));
    lua_settop(L, 2);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if (n == 0) return ag_lua_argerror(L, "case: needs at least one {condition, value} pair");
    if (n > 100000) return ag_lua_argerror(L, "case: too many pairs");
    ag_node *c = ag_lua_push_new_node(L, AG_N_CASE, (int)n * 2 + 1);
    int cidx = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        int pair = lua_gettop(L);
        if (!lua_istable(L, pair) || ag_lua_test_node(L, pair))
            return ag_lua_argerror(L, "case: pair %d must be a table {condition, value}", (int)i);
        lua_rawgeti(L, pair, 1);
        if (!ag_lua_test_node(L, -1) && !is_text_clause(L, -1))
            return ag_lua_argerror(L, "case: the condition of pair %d must be a SQL expression, got %s", (int)i,
                                   ag_lua_typename(L, -1));
        ag_node_set_kid(c, (int)(i - 1) * 2, ag_lua_to_expr(L, -1, 0, "case: condition"));
        lua_rawgeti(L, pair, 2);
        ag_node_set_kid(c, (int)(i - 1) * 2 + 1, ag_lua_to_expr(L, -1, 0, "case: value"));
        lua_settop(L, cidx);
    }
    if (!lua_isnil(L, 2)) {
        ag_node_set_kid(c, (int)n * 2, ag_lua_to_expr(L, 2, 0, "case: else value"));
        lua_settop(L, cidx);
    }
    return 1;
}

/* cast(expr, type) */
static int f_cast(lua_State *L) {
    lua_settop(L, 2);
    push_cast(L, 1, 2, "cast");
    return 1;
}

/* keyword(name): "null", "true", "false", "*" */
static int f_keyword(lua_State *L) {
    const char *w = luaL_checkstring(L, 1);
    int op = strcmp(w, "null") == 0    ? AG_KW_NULL
             : strcmp(w, "true") == 0  ? AG_KW_TRUE
             : strcmp(w, "false") == 0 ? AG_KW_FALSE
             : strcmp(w, "*") == 0     ? AG_KW_STAR
                                       : 0;
    if (!op) return ag_lua_argerror(L, "keyword: unknown keyword '%s'", w);
    ag_node *n = ag_lua_push_new_node(L, AG_N_KEYWORD, 0);
    n->op = (uint8_t)op;
    return 1;
}

/* to_expr(value [, hint]): a Lua value as a node (for the Lua layer). */
static int f_to_expr(lua_State *L) {
    lua_settop(L, 2);
    ag_lua_to_expr(L, 1, ag_lua_test_node(L, 2) ? 2 : 0, "value");
    return 1;
}

/* is_node(v) -> tag name or nil */
static int f_tag(lua_State *L) {
    ag_node *n = ag_lua_test_node(L, 1);
    if (!n) return 0;
    lua_pushstring(L, ag_node_tag_name(n->tag));
    return 1;
}

/* info(node [, table]): gets (or sets, once) the node's information table. */
static int f_info(lua_State *L) {
    ag_lua_check_node(L, 1, "info: argument 1");
    if (lua_gettop(L) >= 2) {
        lua_settop(L, 2);
        ag_lua_setuservalue(L, 1, 1);
        return 0;
    }
    ag_lua_getuservalue(L, 1, 1);
    return 1;
}

/* same(a, b): do the two userdata hold the same node? */
static int f_same(lua_State *L) {
    ag_node *a = ag_lua_test_node(L, 1), *b = ag_lua_test_node(L, 2);
    lua_pushboolean(L, a && a == b);
    return 1;
}

/* type_of(node) -> kind name of its known type, or nil */
static int f_type_of(lua_State *L) {
    ag_node *n = ag_lua_check_node(L, 1, "type_of: argument 1");
    ag_sqltype t = ag_node_type_of(n);
    const char *name = ag_lua_type_name(t.kind);
    if (!name) return 0;
    lua_pushstring(L, name);
    return 1;
}

static int f_json_encode(lua_State *L) {
    lua_settop(L, 1);
    ag_error err;
    if (ag_lua_json_push(L, 1, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 1;
}

static int f_json_decode(lua_State *L) {
    size_t len;
    if (lua_type(L, 1) != LUA_TSTRING)
        return ag_lua_argerror(L, "json_decode: argument 'text' must be a string, got %s", ag_lua_typename(L, 1));
    const char *s = lua_tolstring(L, 1, &len);
    ag_error err;
    if (ag_lua_json_decode(L, s, len, &err) != 0) return ag_lua_raise(L, &err, NULL);
    return 1;
}

void ag_lua_open_expression(lua_State *L, int module_idx) {
    static const luaL_Reg expr_methods[] = {
        {"eq", m_eq},
        {"ne", m_ne},
        {"lt", m_lt},
        {"le", m_le},
        {"gt", m_gt},
        {"ge", m_ge},
        {"like", m_like},
        {"not_like", m_not_like},
        {"ilike", m_ilike},
        {"not_ilike", m_not_ilike},
        {"is_", m_is},
        {"is_not", m_is_not},
        {"in_", m_in},
        {"not_in", m_not_in},
        {"is_null", m_is_null},
        {"is_not_null", m_is_not_null},
        {"between", m_between},
        {"startswith", m_startswith},
        {"endswith", m_endswith},
        {"contains", m_contains},
        {"asc", m_asc},
        {"desc", m_desc},
        {"label", m_label},
        {"cast", m_cast},
        {"distinct", m_distinct},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", node_gc}, {"__add", mm_add},       {"__sub", mm_sub}, {"__mul", mm_mul},           {"__div", mm_div},
        {"__mod", mm_mod}, {"__concat", mm_concat}, {"__unm", mm_unm}, {"__tostring", mm_tostring}, {NULL, NULL},
    };
    static const char *const kind_names[KIND_COUNT] = {NULL,     "Expression", "Select",     "Insert",
                                                       "Update", "Delete",     "FromClause", "DDL"};
    luaL_newmetatable(L, AG_NODE_TYPE);
    int mt = lua_gettop(L);
    lua_pushvalue(L, mt);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ag_lua_node_mt_key);
    luaL_setfuncs(L, meta, 0);
    lua_pushliteral(L, "argent.ClauseElement");
    lua_setfield(L, mt, "__metatable");
    /* core.sql.methods.<Kind>, also the __index upvalues */
    lua_newtable(L);
    int methods = lua_gettop(L);
    for (int k = 1; k < KIND_COUNT; k++) {
        lua_newtable(L);
        if (k == KIND_EXPR || k == KIND_SELECT) luaL_setfuncs(L, expr_methods, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, methods, kind_names[k]);
    }
    lua_pushcclosure(L, node_index, KIND_COUNT - 1);
    lua_setfield(L, mt, "__index");
    lua_setfield(L, module_idx, "methods");
    lua_settop(L, mt - 1);

    static const luaL_Reg funcs[] = {
        {"and_", f_and},
        {"or_", f_or},
        {"not_", f_not},
        {"distinct", f_distinct},
        {"exists", f_exists},
        {"func", f_func},
        {"literal", f_literal},
        {"bindparam", f_bindparam},
        {"case", f_case},
        {"cast", f_cast},
        {"keyword", f_keyword},
        {"to_expr", f_to_expr},
        {"tag", f_tag},
        {"info", f_info},
        {"same", f_same},
        {"type_of", f_type_of},
        {"json_encode", f_json_encode},
        {"json_decode", f_json_decode},
        {NULL, NULL},
    };
    lua_pushvalue(L, module_idx);
    luaL_setfuncs(L, funcs, 0);
    lua_pop(L, 1);
}
