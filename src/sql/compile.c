/*
 * compile.c -- the one SQL compiler: walks a statement tree (node.h) and
 * writes SQL text for a dialect plus the parameter list (compile.h).
 *
 * Everything that is the same in every dialect lives here; the dialect
 * (dialect.h) is asked only for what differs.  Values never reach the text:
 * every BIND becomes a placeholder and is appended to the parameter list
 * (the one exception is a DDL server default, where databases accept no
 * parameters: there a BIND is written as an escaped SQL literal).
 *
 * Parentheses come from operator precedence (prec below), so that
 * `(a OR b) AND c` keeps its meaning and `a - -b` never becomes a `--`
 * comment.  A SELECT's FROM clause is what it names explicitly plus the
 * tables its expressions use; a nested SELECT leaves out the tables of the
 * enclosing one (correlation), as SQLAlchemy does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/hash.h"
#include "sql/compile.h"

typedef struct node_set {
    const ag_node **items;
    int count, cap;
} node_set;

/* Where an expression is written: labels read differently in each. */
enum { IN_EXPR = 0, IN_COLUMNS, IN_ORDER };

typedef struct compiler {
    const ag_sql_dialect *d;
    ag_buf out;
    ag_error *err;
    const ag_node **params;
    int nparams, cap_params;
    int depth;
    int bare_columns;      /* write column names without their table (INSERT, RETURNING, DDL) */
    int literal_binds;     /* DDL: write values as literals */
    const node_set *outer; /* the FROM elements of the enclosing SELECT (correlation) */
    int top_columns_done;  /* the result column types were recorded */
    ag_sqltype *col_types;
    int ncols;
    int implicit_returning;
    long visits; /* nodes walked: bounded, since a shared subtree is walked once per use */
} compiler;

static int nomem(compiler *c) { return ag_error_nomem(c->err); }

static int too_large(compiler *c) {
    return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "statement too large to compile (over %d MB of SQL or %d nodes)",
                        AG_COMPILE_MAX_SQL >> 20, AG_COMPILE_MAX_VISITS);
}

static int emitn(compiler *c, const char *s, size_t n) {
    if (c->out.len + n > AG_COMPILE_MAX_SQL) return too_large(c);
    return ag_buf_append(&c->out, s, n) != 0 ? nomem(c) : 0;
}

static int emit(compiler *c, const char *s) { return emitn(c, s, strlen(s)); }

static int ident(compiler *c, const ag_node *n) {
    if (!n->name) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a %s has no name", ag_node_tag_name(n->tag));
    if (c->out.len + 2 * n->name_len + 2 > AG_COMPILE_MAX_SQL) return too_large(c);
    return ag_sql_quote_identifier(c->d, &c->out, n->name, n->name_len) != 0 ? nomem(c) : 0;
}

/* Child i of n, or NULL when n has fewer: trees may come from anywhere (a fuzzer). */
static const ag_node *slot(const ag_node *n, int i) { return i < n->nkids ? n->kids[i] : NULL; }

#define TRY(x) \
    do { \
        if ((x) != 0) return -1; \
    } while (0)

/* ---- node sets (FROM elements) */

static int set_has(const node_set *s, const ag_node *n) {
    for (int i = 0; s && i < s->count; i++)
        if (s->items[i] == n) return 1;
    return 0;
}

static int set_add(compiler *c, node_set *s, const ag_node *n) {
    if (set_has(s, n)) return 0;
    if (s->count == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        const ag_node **p = ag_realloc(s->items, (size_t)cap * sizeof *p);
        if (!p) return nomem(c);
        s->items = p;
        s->cap = cap;
    }
    s->items[s->count++] = n;
    return 0;
}

/* Adds the FROM elements that expression n uses (not those of nested SELECTs). */
static int collect_froms(compiler *c, node_set *s, const ag_node *n, int depth) {
    if (!n) return 0;
    if (++c->visits > AG_COMPILE_MAX_VISITS) return too_large(c);
    if (depth > AG_COMPILE_MAX_DEPTH)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "expression nested too deeply (more than %d levels)",
                            AG_COMPILE_MAX_DEPTH);
    switch (n->tag) {
    case AG_N_COLUMN: return slot(n, 0) ? set_add(c, s, slot(n, 0)) : 0;
    case AG_N_SELECT:
    case AG_N_COMPOUND:
    case AG_N_SUBQUERY:
    case AG_N_TABLE:
    case AG_N_ALIAS: return 0;
    default:
        for (int i = 0; i < n->nkids; i++) TRY(collect_froms(c, s, n->kids[i], depth + 1));
        return 0;
    }
}

/* Adds every element a FROM item covers (a JOIN covers both sides). */
static int collect_covered(compiler *c, node_set *s, const ag_node *n) {
    if (!n) return 0;
    if (n->tag == AG_N_JOIN) {
        TRY(collect_covered(c, s, slot(n, 0)));
        return collect_covered(c, s, slot(n, 1));
    }
    return set_add(c, s, n);
}

/* ---- parameters */

static int add_param(compiler *c, const ag_node *bind) {
    if (c->nparams == c->cap_params) {
        int cap = c->cap_params ? c->cap_params * 2 : 8;
        const ag_node **p = ag_realloc(c->params, (size_t)cap * sizeof *p);
        if (!p) return nomem(c);
        c->params = p;
        c->cap_params = cap;
    }
    c->params[c->nparams++] = bind;
    return c->d->placeholder(&c->out, c->nparams) != 0 ? nomem(c) : 0;
}

/* A value as a SQL literal, for DDL only. */
static int write_literal(compiler *c, const ag_node *n) {
    if (!(n->flags & AG_BIND_HAS_VALUE))
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a server default cannot be a parameter without a value");
    const ag_value *v = &n->value;
    switch (v->type) {
    case AG_VALUE_NULL: return emit(c, "NULL");
    case AG_VALUE_INTEGER: return ag_buf_printf(&c->out, "%lld", (long long)v->u.integer) != 0 ? nomem(c) : 0;
    case AG_VALUE_FLOAT:
        if (!isfinite(v->u.number))
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a server default must be a finite number");
        return ag_buf_printf(&c->out, "%.17g", v->u.number) != 0 ? nomem(c) : 0;
    case AG_VALUE_BOOLEAN: return emit(c, v->u.boolean ? c->d->true_literal : c->d->false_literal);
    case AG_VALUE_TEXT: {
        const char *s = v->u.bytes.data;
        size_t len = v->u.bytes.len;
        if (memchr(s, '\0', len))
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a server default cannot contain a NUL byte");
        TRY(emit(c, "'"));
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '\'' || (s[i] == '\\' && c->d->backslash_escapes)) {
                TRY(emitn(c, s + start, i + 1 - start));
                start = i;
            }
        }
        TRY(emitn(c, s + start, len - start));
        return emit(c, "'");
    }
    default: return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a binary value cannot be a server default");
    }
}

/* ---- expressions */

static int compile_node(compiler *c, const ag_node *n, int where);
static int compile_select(compiler *c, const ag_node *n, int top);
static int compile_query(compiler *c, const ag_node *n, int top);

/* Binding strength: higher binds tighter. */
static int prec(const ag_node *n) {
    switch (n->tag) {
    case AG_N_BOOLEAN: return n->op == AG_OP_OR ? 1 : 2;
    case AG_N_UNARY:
        switch (n->op) {
        case AG_OP_NOT: return 3;
        case AG_OP_IS_NULL:
        case AG_OP_IS_NOT_NULL: return 5;
        case AG_OP_NEG: return 9;
        case AG_OP_ASC:
        case AG_OP_DESC: return 0;
        default: return 10;
        }
    case AG_N_BETWEEN: return 5;
    case AG_N_BINARY:
        switch (n->op) {
        case AG_OP_CONCAT: return 6;
        case AG_OP_ADD:
        case AG_OP_SUB: return 7;
        case AG_OP_MUL:
        case AG_OP_DIV:
        case AG_OP_MOD: return 8;
        default: return 5;
        }
    case AG_N_LABEL: return slot(n, 0) ? prec(slot(n, 0)) : 10;
    default: return 10;
    }
}

/* Writes operand n of an operator of strength p; strict: equal strength
 * needs parentheses too (the right side of -, /, comparisons). */
static int operand(compiler *c, const ag_node *n, int p, int strict) {
    if (!n) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an operator is missing an operand");
    int q = prec(n);
    int paren = q < p || (strict && q == p);
    if (paren) TRY(emit(c, "("));
    TRY(compile_node(c, n, IN_EXPR));
    return paren ? emit(c, ")") : 0;
}

static const char *binary_operator(int op) {
    switch (op) {
    case AG_OP_EQ: return " = ";
    case AG_OP_NE: return " != ";
    case AG_OP_LT: return " < ";
    case AG_OP_LE: return " <= ";
    case AG_OP_GT: return " > ";
    case AG_OP_GE: return " >= ";
    case AG_OP_LIKE: return " LIKE ";
    case AG_OP_NOT_LIKE: return " NOT LIKE ";
    case AG_OP_ILIKE: return " ILIKE ";
    case AG_OP_NOT_ILIKE: return " NOT ILIKE ";
    case AG_OP_IN: return " IN ";
    case AG_OP_NOT_IN: return " NOT IN ";
    case AG_OP_IS: return " IS ";
    case AG_OP_IS_NOT: return " IS NOT ";
    case AG_OP_ADD: return " + ";
    case AG_OP_SUB: return " - ";
    case AG_OP_MUL: return " * ";
    case AG_OP_DIV: return " / ";
    case AG_OP_MOD: return " % ";
    case AG_OP_CONCAT: return " || ";
    default: return NULL;
    }
}

static int compile_list(compiler *c, const ag_node *list, const char *sep, int where) {
    for (int i = 0; i < list->nkids; i++) {
        if (i) TRY(emit(c, sep));
        TRY(compile_node(c, list->kids[i], where));
    }
    return 0;
}

static int compile_in(compiler *c, const ag_node *n) {
    const ag_node *right = slot(n, 1);
    if (!right) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "IN needs a list or a subquery");
    if (right->tag == AG_N_LIST && right->nkids == 0)
        /* an empty IN is false, an empty NOT IN true, whatever the left side */
        return emit(c, n->op == AG_OP_IN ? "1 != 1" : "1 = 1");
    TRY(operand(c, slot(n, 0), 5, 1));
    TRY(emit(c, binary_operator(n->op)));
    if (right->tag == AG_N_LIST) {
        TRY(emit(c, "("));
        TRY(compile_list(c, right, ", ", IN_EXPR));
        return emit(c, ")");
    }
    return compile_node(c, right, IN_EXPR); /* a SELECT writes its own parentheses */
}

static int compile_binary(compiler *c, const ag_node *n) {
    const char *op = binary_operator(n->op);
    if (!op) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "unknown binary operator %d", n->op);
    if (n->op == AG_OP_IN || n->op == AG_OP_NOT_IN) return compile_in(c, n);
    if (n->op == AG_OP_CONCAT && c->d->concat_function) {
        TRY(emit(c, "concat("));
        TRY(compile_node(c, slot(n, 0), IN_EXPR));
        TRY(emit(c, ", "));
        TRY(compile_node(c, slot(n, 1), IN_EXPR));
        return emit(c, ")");
    }
    if ((n->op == AG_OP_ILIKE || n->op == AG_OP_NOT_ILIKE) && !c->d->has_ilike) {
        TRY(emit(c, "lower("));
        TRY(compile_node(c, slot(n, 0), IN_EXPR));
        TRY(emit(c, n->op == AG_OP_ILIKE ? ") LIKE lower(" : ") NOT LIKE lower("));
        TRY(compile_node(c, slot(n, 1), IN_EXPR));
        return emit(c, ")");
    }
    int p = prec(n);
    TRY(operand(c, slot(n, 0), p, p == 5));
    TRY(emit(c, op));
    return operand(c, slot(n, 1), p, 1);
}

static int compile_unary(compiler *c, const ag_node *n) {
    const ag_node *x = slot(n, 0);
    if (!x) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an operator is missing an operand");
    switch (n->op) {
    case AG_OP_NOT:
        TRY(emit(c, "NOT "));
        return operand(c, x, 10, 0); /* NOT (a = b): clearer than relying on precedence */
    case AG_OP_NEG:
        TRY(emit(c, "-"));
        if (x->tag == AG_N_UNARY && x->op == AG_OP_NEG) { /* never "--": a comment */
            TRY(emit(c, "("));
            TRY(compile_node(c, x, IN_EXPR));
            return emit(c, ")");
        }
        return operand(c, x, 9, 0);
    case AG_OP_ASC:
    case AG_OP_DESC:
        /* only ORDER BY has these: a label there is referred to by its name */
        if (x->tag == AG_N_LABEL) TRY(compile_node(c, x, IN_ORDER));
        else TRY(operand(c, x, 1, 0));
        return emit(c, n->op == AG_OP_ASC ? " ASC" : " DESC");
    case AG_OP_DISTINCT: TRY(emit(c, "DISTINCT ")); return operand(c, x, 10, 0);
    case AG_OP_EXISTS:
        TRY(emit(c, "EXISTS "));
        if (x->tag == AG_N_SELECT || x->tag == AG_N_COMPOUND) return compile_node(c, x, IN_EXPR);
        TRY(emit(c, "("));
        TRY(compile_node(c, x, IN_EXPR));
        return emit(c, ")");
    case AG_OP_IS_NULL:
    case AG_OP_IS_NOT_NULL:
        TRY(operand(c, x, 5, 1));
        return emit(c, n->op == AG_OP_IS_NULL ? " IS NULL" : " IS NOT NULL");
    default: return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "unknown unary operator %d", n->op);
    }
}

/* SQL's niladic functions are written without parentheses. */
static const char *niladic_keyword(const ag_node *n) {
    static const char *const words[][2] = {
        {"current_timestamp", "CURRENT_TIMESTAMP"}, {"current_date", "CURRENT_DATE"},
        {"current_time", "CURRENT_TIME"},           {"localtime", "LOCALTIME"},
        {"localtimestamp", "LOCALTIMESTAMP"},       {"current_user", "CURRENT_USER"},
        {"session_user", "SESSION_USER"},
    };
    if (n->nkids != 0 || !n->name) return NULL;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcasecmp(n->name, words[i][0]) == 0) return words[i][1];
    return NULL;
}

static int compile_func(compiler *c, const ag_node *n) {
    if (!n->name || !n->name_len) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a function has no name");
    const char *kw = niladic_keyword(n);
    if (kw) return emit(c, kw);
    /* a plain name as written (count, COUNT, pg_catalog.lower); anything else quoted */
    int plain = !(n->name[0] >= '0' && n->name[0] <= '9');
    for (size_t i = 0; i < n->name_len && plain; i++) {
        char ch = n->name[i];
        plain =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
    }
    if (plain) TRY(emitn(c, n->name, n->name_len));
    else TRY(ident(c, n));
    TRY(emit(c, "("));
    if (n->nkids == 0 && strcasecmp(n->name, "count") == 0) TRY(emit(c, "*"));
    for (int i = 0; i < n->nkids; i++) {
        if (i) TRY(emit(c, ", "));
        if (!n->kids[i]) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a function argument is missing");
        TRY(compile_node(c, n->kids[i], IN_EXPR));
    }
    return emit(c, ")");
}

static int compile_case(compiler *c, const ag_node *n) {
    if (n->nkids < 3 || n->nkids % 2 == 0)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "case() needs at least one {condition, value} pair");
    TRY(emit(c, "CASE"));
    for (int i = 0; i + 1 < n->nkids; i += 2) {
        TRY(emit(c, " WHEN "));
        TRY(operand(c, n->kids[i], 0, 0));
        TRY(emit(c, " THEN "));
        TRY(operand(c, n->kids[i + 1], 0, 0));
    }
    if (n->kids[n->nkids - 1]) {
        TRY(emit(c, " ELSE "));
        TRY(operand(c, n->kids[n->nkids - 1], 0, 0));
    }
    return emit(c, " END");
}

static int compile_column(compiler *c, const ag_node *n) {
    const ag_node *from = slot(n, 0);
    if (from && !c->bare_columns) {
        if (from->tag == AG_N_TABLE || from->tag == AG_N_ALIAS || from->tag == AG_N_SUBQUERY) {
            TRY(ident(c, from));
            TRY(emit(c, "."));
        }
    }
    return ident(c, n);
}

/* A FROM element: table, alias, subquery or join. */
static int compile_from(compiler *c, const ag_node *n) {
    if (!n) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a FROM element is missing");
    switch (n->tag) {
    case AG_N_TABLE: return ident(c, n);
    case AG_N_ALIAS:
        if (!slot(n, 0)) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an alias has no table");
        TRY(compile_from(c, slot(n, 0)));
        TRY(emit(c, " AS "));
        return ident(c, n);
    case AG_N_SUBQUERY: {
        if (!slot(n, 0)) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a subquery has no query");
        const node_set *outer = c->outer;
        c->outer = NULL; /* a derived table does not correlate */
        TRY(emit(c, "("));
        int rc = compile_query(c, slot(n, 0), 0);
        c->outer = outer;
        TRY(rc);
        TRY(emit(c, ") AS "));
        return ident(c, n);
    }
    case AG_N_JOIN:
        if (n->op == AG_JOIN_FULL && !c->d->has_full_join)
            return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL, "%s has no FULL OUTER JOIN", c->d->name);
        TRY(compile_from(c, slot(n, 0)));
        TRY(emit(c, n->op == AG_JOIN_LEFT   ? " LEFT OUTER JOIN "
                    : n->op == AG_JOIN_FULL ? " FULL OUTER JOIN "
                                            : " JOIN "));
        TRY(compile_from(c, slot(n, 1)));
        if (slot(n, 2)) {
            TRY(emit(c, " ON "));
            TRY(compile_node(c, slot(n, 2), IN_EXPR));
        } else {
            TRY(emit(c, " ON 1 = 1"));
        }
        return 0;
    default:
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a %s cannot be used in FROM", ag_node_tag_name(n->tag));
    }
}

static int compile_node(compiler *c, const ag_node *n, int where) {
    if (!n) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an expression is missing");
    if (++c->visits > AG_COMPILE_MAX_VISITS) return too_large(c);
    if (++c->depth > AG_COMPILE_MAX_DEPTH) {
        c->depth--;
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "expression nested too deeply (more than %d levels)",
                            AG_COMPILE_MAX_DEPTH);
    }
    int rc = 0;
    switch (n->tag) {
    case AG_N_COLUMN: rc = compile_column(c, n); break;
    case AG_N_BIND: rc = c->literal_binds ? write_literal(c, n) : add_param(c, n); break;
    case AG_N_KEYWORD:
        switch (n->op) {
        case AG_KW_NULL: rc = emit(c, "NULL"); break;
        case AG_KW_TRUE: rc = emit(c, c->d->true_literal); break;
        case AG_KW_FALSE: rc = emit(c, c->d->false_literal); break;
        case AG_KW_STAR: rc = emit(c, "*"); break;
        default: rc = ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "unknown keyword %d", n->op);
        }
        break;
    case AG_N_TEXT: rc = emitn(c, n->name ? n->name : "", n->name_len); break;
    case AG_N_UNARY: rc = compile_unary(c, n); break;
    case AG_N_BINARY: rc = compile_binary(c, n); break;
    case AG_N_BOOLEAN:
        if (n->nkids == 0) {
            rc = emit(c, n->op == AG_OP_AND ? "1 = 1" : "1 != 1");
            break;
        }
        for (int i = 0; i < n->nkids && rc == 0; i++) {
            if (i) rc = emit(c, n->op == AG_OP_AND ? " AND " : " OR ");
            if (rc == 0) rc = operand(c, n->kids[i], prec(n), 0);
        }
        break;
    case AG_N_BETWEEN:
        if (n->nkids < 3) {
            rc = ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "BETWEEN needs three operands");
            break;
        }
        if ((rc = operand(c, slot(n, 0), 5, 1)) == 0 && (rc = emit(c, " BETWEEN ")) == 0 &&
            (rc = operand(c, slot(n, 1), 6, 0)) == 0 && (rc = emit(c, " AND ")) == 0)
            rc = operand(c, slot(n, 2), 6, 0);
        break;
    case AG_N_LIST:
        if ((rc = emit(c, "(")) == 0 && (rc = compile_list(c, n, ", ", IN_EXPR)) == 0) rc = emit(c, ")");
        break;
    case AG_N_FUNC: rc = compile_func(c, n); break;
    case AG_N_LABEL:
        if (where == IN_COLUMNS) {
            if ((rc = operand(c, slot(n, 0), 0, 0)) == 0 && (rc = emit(c, " AS ")) == 0) rc = ident(c, n);
        } else if (where == IN_ORDER) {
            rc = ident(c, n);
        } else {
            rc = compile_node(c, slot(n, 0), IN_EXPR);
        }
        break;
    case AG_N_CAST:
        if ((rc = emit(c, "CAST(")) == 0 && (rc = operand(c, slot(n, 0), 0, 0)) == 0 && (rc = emit(c, " AS ")) == 0) {
            rc = (c->d->cast_name ? c->d->cast_name(&c->out, &n->type) : c->d->type_name(&c->out, &n->type, 0)) != 0
                     ? nomem(c)
                     : emit(c, ")");
        }
        break;
    case AG_N_CASE: rc = compile_case(c, n); break;
    case AG_N_SELECT:
    case AG_N_COMPOUND:
        /* a query inside an expression: scalar subquery, IN, EXISTS */
        if ((rc = emit(c, "(")) == 0 && (rc = compile_query(c, n, 0)) == 0) rc = emit(c, ")");
        break;
    case AG_N_SUBQUERY:
        if ((rc = emit(c, "(")) == 0 && (rc = compile_query(c, slot(n, 0), 0)) == 0) rc = emit(c, ")");
        break;
    case AG_N_TABLE:
    case AG_N_ALIAS:
    case AG_N_JOIN: rc = compile_from(c, n); break;
    default:
        rc = ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a %s cannot be used inside an expression",
                          ag_node_tag_name(n->tag));
    }
    c->depth--;
    return rc;
}

/* ---- queries */

static int record_columns(compiler *c, const ag_node *list) {
    if (c->top_columns_done || !list) return 0;
    c->top_columns_done = 1;
    if (list->nkids == 0) return 0;
    c->col_types = ag_calloc((size_t)list->nkids, sizeof *c->col_types);
    if (!c->col_types) return nomem(c);
    c->ncols = list->nkids;
    for (int i = 0; i < list->nkids; i++) c->col_types[i] = ag_node_type_of(list->kids[i]);
    return 0;
}

typedef struct limit_ctx {
    compiler *c;
    const ag_node *limit, *offset;
} limit_ctx;

static int write_limit(void *p) {
    limit_ctx *l = p;
    return compile_node(l->c, l->limit, IN_EXPR);
}

static int write_offset(void *p) {
    limit_ctx *l = p;
    return compile_node(l->c, l->offset, IN_EXPR);
}

static int compile_limit(compiler *c, const ag_node *limit, const ag_node *offset) {
    if (!limit && !offset) return 0;
    limit_ctx l = {c, limit, offset};
    size_t before = c->out.len;
    int rc = c->d->limit_offset(&c->out, limit != NULL, offset != NULL, &l, write_limit, write_offset);
    if (rc != 0 && c->err->kind == AG_OK) return nomem(c);
    (void)before;
    return rc;
}

static int compile_select(compiler *c, const ag_node *n, int top) {
    const ag_node *cols = slot(n, AG_SEL_COLUMNS);
    if (!cols || cols->tag != AG_N_LIST || cols->nkids == 0)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a SELECT needs at least one column");
    if (top) TRY(record_columns(c, cols));

    /* FROM: the explicit elements, then those the expressions use */
    node_set froms = {0}, covered = {0}, used = {0};
    int rc = 0;
    const ag_node *explicit_from = slot(n, AG_SEL_FROM);
    if (explicit_from) {
        for (int i = 0; i < explicit_from->nkids && rc == 0; i++) {
            rc = set_add(c, &froms, explicit_from->kids[i]);
            if (rc == 0) rc = collect_covered(c, &covered, explicit_from->kids[i]);
        }
    }
    static const int expression_slots[] = {AG_SEL_COLUMNS, AG_SEL_WHERE, AG_SEL_GROUP_BY, AG_SEL_HAVING,
                                           AG_SEL_ORDER_BY};
    for (size_t i = 0; i < sizeof expression_slots / sizeof *expression_slots && rc == 0; i++)
        rc = collect_froms(c, &used, slot(n, expression_slots[i]), 0);
    int correlated = 0;
    for (int i = 0; i < used.count && rc == 0; i++) {
        if (set_has(&covered, used.items[i])) continue;
        if (set_has(c->outer, used.items[i])) {
            correlated++;
            continue;
        }
        rc = set_add(c, &froms, used.items[i]);
    }
    /* everything correlated away: the query means its own tables after all */
    if (rc == 0 && froms.count == 0 && correlated)
        for (int i = 0; i < used.count && rc == 0; i++) rc = set_add(c, &froms, used.items[i]);
    /* the tables this query brings, for its own nested queries */
    node_set scope = {0};
    for (int i = 0; i < froms.count && rc == 0; i++) rc = collect_covered(c, &scope, froms.items[i]);
    if (c->outer)
        for (int i = 0; i < c->outer->count && rc == 0; i++) rc = set_add(c, &scope, c->outer->items[i]);
    const node_set *outer = c->outer;
    c->outer = &scope;

    if (rc == 0) rc = emit(c, (n->flags & AG_SEL_DISTINCT) ? "SELECT DISTINCT " : "SELECT ");
    if (rc == 0) rc = compile_list(c, cols, ", ", IN_COLUMNS);
    for (int i = 0; i < froms.count && rc == 0; i++) {
        rc = emit(c, i ? ", " : " FROM ");
        if (rc == 0) rc = compile_from(c, froms.items[i]);
    }
    const ag_node *x;
    if (rc == 0 && (x = slot(n, AG_SEL_WHERE))) {
        rc = emit(c, " WHERE ");
        if (rc == 0) rc = compile_node(c, x, IN_EXPR);
    }
    if (rc == 0 && (x = slot(n, AG_SEL_GROUP_BY)) && x->nkids) {
        rc = emit(c, " GROUP BY ");
        if (rc == 0) rc = compile_list(c, x, ", ", IN_ORDER);
    }
    if (rc == 0 && (x = slot(n, AG_SEL_HAVING))) {
        rc = emit(c, " HAVING ");
        if (rc == 0) rc = compile_node(c, x, IN_EXPR);
    }
    if (rc == 0 && (x = slot(n, AG_SEL_ORDER_BY)) && x->nkids) {
        rc = emit(c, " ORDER BY ");
        if (rc == 0) rc = compile_list(c, x, ", ", IN_ORDER);
    }
    if (rc == 0) rc = compile_limit(c, slot(n, AG_SEL_LIMIT), slot(n, AG_SEL_OFFSET));
    if (rc == 0 && (n->flags & AG_SEL_FOR_UPDATE) && c->d->has_for_update) rc = emit(c, " FOR UPDATE");
    c->outer = outer;
    free(froms.items);
    free(covered.items);
    free(used.items);
    free(scope.items);
    return rc;
}

static int compile_compound(compiler *c, const ag_node *n, int top) {
    const ag_node *members = slot(n, 0);
    if (!members || members->nkids == 0)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a compound select has no members");
    static const char *const words[] = {"", " UNION ", " UNION ALL ", " INTERSECT ", " EXCEPT "};
    const char *word = n->op >= 1 && n->op <= 4 ? words[n->op] : " UNION ";
    for (int i = 0; i < members->nkids; i++) {
        if (i) TRY(emit(c, word));
        const ag_node *m = members->kids[i];
        if (!m || (m->tag != AG_N_SELECT && m->tag != AG_N_COMPOUND))
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a compound select's members must be SELECTs");
        TRY(compile_query(c, m, top && i == 0));
    }
    const ag_node *order = slot(n, 1);
    if (order && order->nkids) {
        /* the result's columns are known by their bare names here */
        int bare = c->bare_columns;
        c->bare_columns = 1;
        int rc = emit(c, " ORDER BY ");
        if (rc == 0) rc = compile_list(c, order, ", ", IN_ORDER);
        c->bare_columns = bare;
        TRY(rc);
    }
    return compile_limit(c, slot(n, 2), slot(n, 3));
}

static int compile_query(compiler *c, const ag_node *n, int top) {
    if (!n) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a query is missing");
    if (++c->depth > AG_COMPILE_MAX_DEPTH) {
        c->depth--;
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "query nested too deeply (more than %d levels)",
                            AG_COMPILE_MAX_DEPTH);
    }
    int rc;
    if (n->tag == AG_N_SELECT) rc = compile_select(c, n, top);
    else if (n->tag == AG_N_COMPOUND) rc = compile_compound(c, n, top);
    else if (n->tag == AG_N_SUBQUERY) rc = compile_query(c, slot(n, 0), top);
    else rc = ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a %s is not a query", ag_node_tag_name(n->tag));
    c->depth--;
    return rc;
}

/* ---- INSERT, UPDATE, DELETE */

static int check_table(compiler *c, const ag_node *t, const char *what) {
    if (!t || (t->tag != AG_N_TABLE && t->tag != AG_N_ALIAS))
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "%s needs a table", what);
    return 0;
}

static int compile_returning(compiler *c, const ag_node *list, int top) {
    if (!list || list->nkids == 0) return 0;
    if (!c->d->has_returning)
        return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL, "%s does not support RETURNING", c->d->name);
    if (top) TRY(record_columns(c, list));
    int bare = c->bare_columns;
    c->bare_columns = 1;
    int rc = emit(c, " RETURNING ");
    if (rc == 0) rc = compile_list(c, list, ", ", IN_COLUMNS);
    c->bare_columns = bare;
    return rc;
}

/* Writes the columns of an assignment list as "a = x, b = y". */
static int compile_assignments(compiler *c, const ag_node *list) {
    for (int i = 0; i < list->nkids; i++) {
        const ag_node *a = list->kids[i];
        if (!a || a->tag != AG_N_ASSIGN || !slot(a, 0) || slot(a, 0)->tag != AG_N_COLUMN)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "SET needs column = value pairs");
        if (i) TRY(emit(c, ", "));
        TRY(ident(c, slot(a, 0)));
        TRY(emit(c, " = "));
        TRY(compile_node(c, slot(a, 1), IN_EXPR));
    }
    return 0;
}

static int compile_insert(compiler *c, const ag_node *n) {
    const ag_node *table = slot(n, AG_INS_TABLE), *cols = slot(n, AG_INS_COLUMNS), *rows = slot(n, AG_INS_ROWS);
    TRY(check_table(c, table, "INSERT"));
    TRY(emit(c, "INSERT INTO "));
    TRY(ident(c, table));
    int ncols = cols ? cols->nkids : 0;
    int nrows = rows ? rows->nkids : 0;
    if (ncols == 0) {
        if (nrows > 1)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a multi-row INSERT needs at least one column");
        TRY(emit(c, c->d->empty_values_list ? " () VALUES ()" : " DEFAULT VALUES"));
    } else {
        TRY(emit(c, " ("));
        for (int i = 0; i < ncols; i++) {
            const ag_node *col = cols->kids[i];
            if (!col || col->tag != AG_N_COLUMN)
                return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "INSERT columns must be columns");
            if (i) TRY(emit(c, ", "));
            TRY(ident(c, col));
        }
        if (nrows == 1 && slot(rows, 0) && (slot(rows, 0)->tag == AG_N_SELECT || slot(rows, 0)->tag == AG_N_COMPOUND)) {
            TRY(emit(c, ") "));
            TRY(compile_query(c, slot(rows, 0), 0));
        } else {
            TRY(emit(c, ") VALUES "));
            if (nrows == 0) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "INSERT has columns but no values");
            for (int r = 0; r < nrows; r++) {
                const ag_node *row = rows->kids[r];
                if (!row || row->tag != AG_N_LIST || row->nkids != ncols)
                    return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "INSERT row %d has %d values for %d columns",
                                        r + 1, row ? row->nkids : 0, ncols);
                if (r) TRY(emit(c, ", "));
                TRY(compile_node(c, row, IN_EXPR));
            }
        }
    }
    const ag_node *target = slot(n, AG_INS_CONFLICT_ON), *set = slot(n, AG_INS_CONFLICT_SET);
    if ((n->op == AG_CONFLICT_NOTHING || n->op == AG_CONFLICT_UPDATE) && c->d->on_duplicate_key) {
        /* MariaDB: whatever unique key conflicts; "do nothing" sets a column to itself */
        TRY(emit(c, " ON DUPLICATE KEY UPDATE "));
        if (n->op == AG_CONFLICT_UPDATE) {
            if (!set || set->nkids == 0)
                return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "on_conflict_do_update needs columns to set");
            TRY(compile_assignments(c, set));
        } else {
            const ag_node *col = target && target->nkids ? target->kids[0] : ncols ? cols->kids[0] : NULL;
            if (!col || col->tag != AG_N_COLUMN)
                return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "on_conflict_do_nothing needs a column");
            TRY(ident(c, col));
            TRY(emit(c, " = "));
            TRY(ident(c, col));
        }
    } else if (n->op == AG_CONFLICT_NOTHING || n->op == AG_CONFLICT_UPDATE) {
        TRY(emit(c, " ON CONFLICT"));
        if (target && target->nkids) {
            int bare = c->bare_columns;
            c->bare_columns = 1;
            int rc = emit(c, " ");
            if (rc == 0) rc = compile_node(c, target, IN_EXPR);
            c->bare_columns = bare;
            TRY(rc);
        } else if (n->op == AG_CONFLICT_UPDATE) {
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL,
                                "on_conflict_do_update needs the conflict's index columns");
        }
        if (n->op == AG_CONFLICT_NOTHING) {
            TRY(emit(c, " DO NOTHING"));
        } else {
            if (!set || set->nkids == 0)
                return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "on_conflict_do_update needs columns to set");
            TRY(emit(c, " DO UPDATE SET "));
            TRY(compile_assignments(c, set));
        }
    }
    const ag_node *returning = slot(n, AG_INS_RETURNING), *key = slot(n, AG_INS_KEY);
    if (returning && returning->nkids) return compile_returning(c, returning, 1);
    if (key && !c->d->has_last_insert_id && c->d->has_returning && nrows <= 1) {
        ag_node *list = ag_node_list((ag_node *const *)&key, 1);
        if (!list) return nomem(c);
        int rc = compile_returning(c, list, 1);
        /* record_columns read the list; the column node itself lives in the statement */
        ag_node_release(list);
        TRY(rc);
        c->implicit_returning = 1;
    }
    return 0;
}

static int compile_update(compiler *c, const ag_node *n) {
    const ag_node *table = slot(n, 0), *set = slot(n, 1), *where = slot(n, 2);
    TRY(check_table(c, table, "UPDATE"));
    if (!set || set->nkids == 0)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "UPDATE needs values: call :values{...}");
    TRY(emit(c, "UPDATE "));
    TRY(ident(c, table));
    TRY(emit(c, " SET "));
    TRY(compile_assignments(c, set));
    if (where) {
        node_set scope = {0};
        int rc = set_add(c, &scope, table);
        const node_set *outer = c->outer;
        c->outer = &scope;
        if (rc == 0) rc = emit(c, " WHERE ");
        if (rc == 0) rc = compile_node(c, where, IN_EXPR);
        c->outer = outer;
        free(scope.items);
        TRY(rc);
    }
    const ag_node *returning = slot(n, 3);
    if (returning && returning->nkids && !c->d->has_update_returning)
        return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL, "%s has no UPDATE ... RETURNING", c->d->name);
    return compile_returning(c, returning, 1);
}

static int compile_delete(compiler *c, const ag_node *n) {
    const ag_node *table = slot(n, 0), *where = slot(n, 1);
    TRY(check_table(c, table, "DELETE"));
    TRY(emit(c, "DELETE FROM "));
    TRY(ident(c, table));
    if (where) {
        node_set scope = {0};
        int rc = set_add(c, &scope, table);
        const node_set *outer = c->outer;
        c->outer = &scope;
        if (rc == 0) rc = emit(c, " WHERE ");
        if (rc == 0) rc = compile_node(c, where, IN_EXPR);
        c->outer = outer;
        free(scope.items);
        TRY(rc);
    }
    return compile_returning(c, slot(n, 2), 1);
}

/* ---- DDL */

static int is_integer_kind(int kind) {
    return kind == AG_TYPE_INTEGER || kind == AG_TYPE_BIGINT || kind == AG_TYPE_SMALLINT;
}

static int column_names(compiler *c, const ag_node *list) {
    if (!list || list->nkids == 0) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a constraint needs columns");
    TRY(emit(c, "("));
    for (int i = 0; i < list->nkids; i++) {
        if (!list->kids[i] || list->kids[i]->tag != AG_N_COLUMN)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a constraint's columns must be columns");
        if (i) TRY(emit(c, ", "));
        TRY(ident(c, list->kids[i]));
    }
    return emit(c, ")");
}

static const char *fk_action(int action) {
    switch (action) {
    case AG_FK_CASCADE: return "CASCADE";
    case AG_FK_SET_NULL: return "SET NULL";
    case AG_FK_SET_DEFAULT: return "SET DEFAULT";
    case AG_FK_RESTRICT: return "RESTRICT";
    case AG_FK_NO_ACTION: return "NO ACTION";
    default: return NULL;
    }
}

static int compile_constraint(compiler *c, const ag_node *k) {
    if (!k || k->tag != AG_N_CONSTRAINT)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a table's constraints must be constraints");
    if (k->name) {
        TRY(emit(c, "CONSTRAINT "));
        TRY(ident(c, k));
        TRY(emit(c, " "));
    }
    switch (k->op) {
    case AG_CONS_PRIMARY_KEY: TRY(emit(c, "PRIMARY KEY ")); return column_names(c, slot(k, 0));
    case AG_CONS_UNIQUE: TRY(emit(c, "UNIQUE ")); return column_names(c, slot(k, 0));
    case AG_CONS_CHECK: {
        const ag_node *text = slot(k, 3);
        if (!text) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a check constraint needs its SQL");
        TRY(emit(c, "CHECK ("));
        TRY(compile_node(c, text, IN_EXPR));
        return emit(c, ")");
    }
    case AG_CONS_FOREIGN_KEY: {
        const ag_node *ref = slot(k, 1);
        if (!ref || ref->tag != AG_N_TABLE)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a foreign key needs the table it references");
        TRY(emit(c, "FOREIGN KEY"));
        TRY(column_names(c, slot(k, 0)));
        TRY(emit(c, " REFERENCES "));
        TRY(ident(c, ref));
        TRY(emit(c, " "));
        TRY(column_names(c, slot(k, 2)));
        const char *on_delete = fk_action(k->flags & 0xf), *on_update = fk_action((k->flags >> 4) & 0xf);
        if (on_delete) {
            TRY(emit(c, " ON DELETE "));
            TRY(emit(c, on_delete));
        }
        if (on_update) {
            TRY(emit(c, " ON UPDATE "));
            TRY(emit(c, on_update));
        }
        return 0;
    }
    default: return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "unknown constraint kind %d", k->op);
    }
}

static int compile_server_default(compiler *c, const ag_node *def) {
    TRY(emit(c, " DEFAULT "));
    if (def->tag == AG_N_TEXT || def->tag == AG_N_BIND || def->tag == AG_N_KEYWORD ||
        (def->tag == AG_N_FUNC && niladic_keyword(def)))
        return compile_node(c, def, IN_EXPR);
    /* any other expression: SQLite wants it parenthesised */
    TRY(emit(c, "("));
    TRY(compile_node(c, def, IN_EXPR));
    return emit(c, ")");
}

/* A column's type in DDL: its named enum type (where the dialect has them), the
 * declared type it was given as text, or the dialect's name for its type. */
static int column_type(compiler *c, const ag_node *col, int serial) {
    const ag_node *named = slot(col, 2);
    if (named && named->tag == AG_N_TEXT && named->name && named->name_len)
        return emitn(c, named->name, named->name_len);
    if (named && named->tag == AG_N_CREATE_TYPE && c->d->native_enum) return ident(c, named);
    return c->d->type_name(&c->out, &col->type, serial) != 0 ? nomem(c) : 0;
}

/* Is col an autoincrement integer key (the only key of a table of npk keys)? */
static int is_serial(const ag_node *col, int npk) {
    return (col->flags & AG_COL_AUTOINCREMENT) && (col->flags & AG_COL_PRIMARY_KEY) && npk == 1 &&
           is_integer_kind(col->type.kind);
}

/* "name TYPE [DEFAULT x] [NOT NULL] [AUTO_INCREMENT]": a column as CREATE TABLE,
 * ADD COLUMN and MODIFY COLUMN write it (the inline PRIMARY KEY is the caller's). */
static int column_definition(compiler *c, const ag_node *col, int serial) {
    if (!col || col->tag != AG_N_COLUMN)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a table's columns must be columns");
    TRY(ident(c, col));
    TRY(emit(c, " "));
    TRY(column_type(c, col, serial));
    if (slot(col, 1)) TRY(compile_server_default(c, slot(col, 1)));
    if ((col->flags & (AG_COL_NOT_NULL | AG_COL_PRIMARY_KEY))) TRY(emit(c, " NOT NULL"));
    if (serial && c->d->autoincrement_suffix) TRY(emit(c, c->d->autoincrement_suffix));
    return 0;
}

static int compile_create_table(compiler *c, const ag_node *n) {
    const ag_node *table = slot(n, 0), *cols = slot(n, 1), *constraints = slot(n, 2);
    TRY(check_table(c, table, "CREATE TABLE"));
    if (!cols || cols->nkids == 0)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "table '%s' has no columns", table->name);
    TRY(emit(c, (n->flags & AG_DDL_IF_NOT_EXISTS) ? "CREATE TABLE IF NOT EXISTS " : "CREATE TABLE "));
    TRY(ident(c, table));
    TRY(emit(c, " ("));
    int npk = 0;
    for (int i = 0; i < cols->nkids; i++)
        if (cols->kids[i] && (cols->kids[i]->flags & AG_COL_PRIMARY_KEY)) npk++;
    int inline_pk = 0;
    c->bare_columns = 1;
    c->literal_binds = 1;
    for (int i = 0; i < cols->nkids; i++) {
        const ag_node *col = cols->kids[i];
        if (!col || col->tag != AG_N_COLUMN)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a table's columns must be columns");
        int serial = is_serial(col, npk);
        if (i) TRY(emit(c, ", "));
        TRY(column_definition(c, col, serial));
        if (serial && c->d->inline_autoincrement) {
            TRY(emit(c, " PRIMARY KEY"));
            inline_pk = 1;
        }
    }
    /* a PRIMARY KEY constraint in the list (a named key) stands for the columns' flags */
    const ag_node *named_pk = NULL;
    for (int i = 0; constraints && i < constraints->nkids; i++) {
        const ag_node *k = constraints->kids[i];
        if (k && k->tag == AG_N_CONSTRAINT && k->op == AG_CONS_PRIMARY_KEY) named_pk = k;
    }
    if (npk && !inline_pk && !named_pk) {
        TRY(emit(c, ", PRIMARY KEY ("));
        int k = 0;
        for (int i = 0; i < cols->nkids; i++) {
            if (!(cols->kids[i]->flags & AG_COL_PRIMARY_KEY)) continue;
            if (k++) TRY(emit(c, ", "));
            TRY(ident(c, cols->kids[i]));
        }
        TRY(emit(c, ")"));
    }
    for (int i = 0; i < cols->nkids; i++) {
        if (!(cols->kids[i]->flags & AG_COL_UNIQUE)) continue;
        TRY(emit(c, ", UNIQUE ("));
        TRY(ident(c, cols->kids[i]));
        TRY(emit(c, ")"));
    }
    for (int i = 0; constraints && i < constraints->nkids; i++) {
        const ag_node *k = constraints->kids[i];
        if (k == named_pk && inline_pk) continue; /* the key is inline already */
        TRY(emit(c, ", "));
        TRY(compile_constraint(c, k));
    }
    return emit(c, ")");
}

/* ---- ALTER TABLE, enum types */

static const ag_node *alter_column_operand(compiler *c, const ag_node *n, const char *what) {
    const ag_node *col = slot(n, 1);
    if (!col || col->tag != AG_N_COLUMN || !col->name) {
        ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "%s needs a column", what);
        return NULL;
    }
    return col;
}

static int not_supported(compiler *c, const char *what) {
    return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL,
                        "%s cannot %s with ALTER TABLE (argent.migrate rebuilds the table)", c->d->name, what);
}

/* ALTER TABLE t ALTER COLUMN ...: the parts that flags name, as PostgreSQL
 * writes them (one action each, comma-separated), or as MODIFY COLUMN with
 * the whole definition (MariaDB) when the type or nullability changes. */
static int compile_alter_column(compiler *c, const ag_node *n, const ag_node *col) {
    int parts = n->flags & (AG_ALTER_SET_TYPE | AG_ALTER_SET_NULLABLE | AG_ALTER_SET_DEFAULT);
    if (!parts) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "ALTER COLUMN %s changes nothing", col->name);
    if (!c->d->has_alter_column) return not_supported(c, "change a column");
    if (c->d->alter_column_modify && (parts & (AG_ALTER_SET_TYPE | AG_ALTER_SET_NULLABLE))) {
        TRY(emit(c, "MODIFY COLUMN "));
        return column_definition(c, col, is_serial(col, 1));
    }
    const char *sep = "";
    if (parts & AG_ALTER_SET_TYPE) {
        TRY(emit(c, "ALTER COLUMN "));
        TRY(ident(c, col));
        TRY(emit(c, " TYPE "));
        TRY(column_type(c, col, 0));
        TRY(emit(c, " USING "));
        TRY(ident(c, col));
        TRY(emit(c, "::"));
        TRY(column_type(c, col, 0));
        sep = ", ";
    }
    if (parts & AG_ALTER_SET_NULLABLE) {
        TRY(emit(c, sep));
        TRY(emit(c, "ALTER COLUMN "));
        TRY(ident(c, col));
        TRY(emit(c, (col->flags & (AG_COL_NOT_NULL | AG_COL_PRIMARY_KEY)) ? " SET NOT NULL" : " DROP NOT NULL"));
        sep = ", ";
    }
    if (parts & AG_ALTER_SET_DEFAULT) {
        TRY(emit(c, sep));
        TRY(emit(c, "ALTER COLUMN "));
        TRY(ident(c, col));
        if (!slot(col, 1)) return emit(c, " DROP DEFAULT");
        TRY(emit(c, " SET"));
        TRY(compile_server_default(c, slot(col, 1)));
    }
    return 0;
}

static int compile_drop_constraint(compiler *c, const ag_node *k) {
    if (!k || k->tag != AG_N_CONSTRAINT || !k->name)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "DROP CONSTRAINT needs the constraint's name");
    if (!c->d->has_alter_constraint) return not_supported(c, "drop a constraint");
    if (c->d->drop_constraint_by_kind) {
        switch (k->op) {
        case AG_CONS_FOREIGN_KEY: TRY(emit(c, "DROP FOREIGN KEY ")); return ident(c, k);
        case AG_CONS_UNIQUE: TRY(emit(c, "DROP INDEX ")); return ident(c, k);
        case AG_CONS_PRIMARY_KEY: return emit(c, "DROP PRIMARY KEY");
        default: break;
        }
    }
    TRY(emit(c, "DROP CONSTRAINT "));
    return ident(c, k);
}

static int compile_alter_table(compiler *c, const ag_node *n) {
    const ag_node *table = slot(n, 0), *col;
    TRY(check_table(c, table, "ALTER TABLE"));
    TRY(emit(c, "ALTER TABLE "));
    TRY(ident(c, table));
    TRY(emit(c, " "));
    c->bare_columns = 1;
    c->literal_binds = 1;
    switch (n->op) {
    case AG_ALTER_ADD_COLUMN:
        if (!(col = alter_column_operand(c, n, "ADD COLUMN"))) return -1;
        TRY(emit(c, "ADD COLUMN "));
        return column_definition(c, col, 0);
    case AG_ALTER_DROP_COLUMN:
        if (!(col = alter_column_operand(c, n, "DROP COLUMN"))) return -1;
        TRY(emit(c, "DROP COLUMN "));
        return ident(c, col);
    case AG_ALTER_RENAME_COLUMN:
        if (!(col = alter_column_operand(c, n, "RENAME COLUMN"))) return -1;
        if (!n->name) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "RENAME COLUMN needs the new name");
        TRY(emit(c, "RENAME COLUMN "));
        TRY(ident(c, col));
        TRY(emit(c, " TO "));
        return ident(c, n);
    case AG_ALTER_RENAME_TABLE:
        if (!n->name) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "RENAME TO needs the new name");
        TRY(emit(c, "RENAME TO "));
        return ident(c, n);
    case AG_ALTER_COLUMN:
        if (!(col = alter_column_operand(c, n, "ALTER COLUMN"))) return -1;
        return compile_alter_column(c, n, col);
    case AG_ALTER_ADD_CONSTRAINT:
        if (!c->d->has_alter_constraint) return not_supported(c, "add a constraint");
        TRY(emit(c, "ADD "));
        return compile_constraint(c, slot(n, 1));
    case AG_ALTER_DROP_CONSTRAINT: return compile_drop_constraint(c, slot(n, 1));
    default: return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "unknown ALTER TABLE action %d", n->op);
    }
}

static int enum_value(compiler *c, const ag_node *v) {
    if (!v || v->tag != AG_N_BIND || !(v->flags & AG_BIND_HAS_VALUE) || v->value.type != AG_VALUE_TEXT)
        return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an enum's values must be strings");
    return write_literal(c, v);
}

static int compile_enum_type(compiler *c, const ag_node *n) {
    if (!c->d->native_enum) return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL, "%s has no enum types", c->d->name);
    if (!n->name) return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "an enum type needs a name");
    switch (n->tag) {
    case AG_N_CREATE_TYPE: {
        const ag_node *values = slot(n, 0);
        if (!values || values->tag != AG_N_LIST || values->nkids == 0)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "enum type %s needs its values", n->name);
        TRY(emit(c, "CREATE TYPE "));
        TRY(ident(c, n));
        TRY(emit(c, " AS ENUM ("));
        for (int i = 0; i < values->nkids; i++) {
            if (i) TRY(emit(c, ", "));
            TRY(enum_value(c, values->kids[i]));
        }
        return emit(c, ")");
    }
    case AG_N_DROP_TYPE:
        TRY(emit(c, (n->flags & AG_DDL_IF_EXISTS) ? "DROP TYPE IF EXISTS " : "DROP TYPE "));
        return ident(c, n);
    default: /* AG_N_ALTER_TYPE */
        TRY(emit(c, "ALTER TYPE "));
        TRY(ident(c, n));
        TRY(emit(c, " ADD VALUE "));
        TRY(enum_value(c, slot(n, 0)));
        if (!slot(n, 1)) return 0;
        TRY(emit(c, " AFTER "));
        return enum_value(c, slot(n, 1));
    }
}

static int compile_statement(compiler *c, const ag_node *n) {
    switch (n->tag) {
    case AG_N_SELECT:
    case AG_N_COMPOUND:
    case AG_N_SUBQUERY: return compile_query(c, n, 1);
    case AG_N_INSERT: return compile_insert(c, n);
    case AG_N_UPDATE: return compile_update(c, n);
    case AG_N_DELETE: return compile_delete(c, n);
    case AG_N_CREATE_TABLE: return compile_create_table(c, n);
    case AG_N_ALTER_TABLE: return compile_alter_table(c, n);
    case AG_N_CREATE_TYPE:
    case AG_N_DROP_TYPE:
    case AG_N_ALTER_TYPE: return compile_enum_type(c, n);
    case AG_N_DROP_TABLE:
        TRY(check_table(c, slot(n, 0), "DROP TABLE"));
        TRY(emit(c, (n->flags & AG_DDL_IF_EXISTS) ? "DROP TABLE IF EXISTS " : "DROP TABLE "));
        return ident(c, slot(n, 0));
    case AG_N_CREATE_INDEX:
        TRY(check_table(c, slot(n, 0), "CREATE INDEX"));
        TRY(emit(c, (n->flags & AG_DDL_UNIQUE) ? "CREATE UNIQUE INDEX " : "CREATE INDEX "));
        if (n->flags & AG_DDL_IF_NOT_EXISTS) TRY(emit(c, "IF NOT EXISTS "));
        TRY(ident(c, n));
        TRY(emit(c, " ON "));
        TRY(ident(c, slot(n, 0)));
        TRY(emit(c, " "));
        return column_names(c, slot(n, 1));
    case AG_N_DROP_INDEX:
        TRY(emit(c, (n->flags & AG_DDL_IF_EXISTS) ? "DROP INDEX IF EXISTS " : "DROP INDEX "));
        TRY(ident(c, n));
        if (c->d->drop_index_on_table) {
            if (!slot(n, 0) || slot(n, 0)->tag != AG_N_TABLE)
                return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "DROP INDEX needs its table on %s", c->d->name);
            TRY(emit(c, " ON "));
            TRY(ident(c, slot(n, 0)));
        }
        return 0;
    case AG_N_COMMENT: {
        const ag_node *col = slot(n, 0), *text = slot(n, 1);
        if (!c->d->has_comments)
            return ag_error_set(c->err, AG_ERR_NOT_SUPPORTED, NULL, "%s has no column comments", c->d->name);
        if (!col || col->tag != AG_N_COLUMN || !slot(col, 0) || !text || text->tag != AG_N_BIND)
            return ag_error_set(c->err, AG_ERR_ARGUMENT, NULL, "a comment needs a table's column and its text");
        TRY(emit(c, "COMMENT ON COLUMN "));
        TRY(compile_column(c, col));
        TRY(emit(c, " IS "));
        return write_literal(c, text);
    }
    default:
        /* any expression can be selected: compile it as itself (tests, tostring) */
        return compile_node(c, n, IN_EXPR);
    }
}

void ag_compiled_free(ag_compiled *c) {
    if (!c) return;
    free(c->sql);
    free(c->params);
    free(c->col_types);
    free(c);
}

ag_compiled *ag_compile_uncached(const ag_node *stmt, const ag_sql_dialect *dialect, ag_error *err) {
    compiler c;
    memset(&c, 0, sizeof c);
    c.d = dialect;
    c.err = err;
    ag_error_clear(err);
    if (!stmt) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "nothing to compile");
        return NULL;
    }
    ag_compiled *out = ag_calloc(1, sizeof *out);
    if (out) ag_buf_reserve(&c.out, 256); /* most statements fit: one allocation instead of a few */
    if (!out || compile_statement(&c, stmt) != 0 || !(out->sql = ag_buf_take(&c.out))) {
        if (out && err->kind == AG_OK) ag_error_nomem(err);
        if (!out) ag_error_nomem(err);
        free(out);
        ag_buf_free(&c.out);
        free(c.params);
        free(c.col_types);
        return NULL;
    }
    out->len = strlen(out->sql);
    out->hash = ag_hash_sql(out->sql, out->len);
    out->params = c.params;
    out->nparams = c.nparams;
    out->col_types = c.col_types;
    out->ncols = c.ncols;
    out->implicit_returning = c.implicit_returning;
    out->is_ddl = stmt->tag >= AG_N_CREATE_TABLE && stmt->tag != AG_N_CONSTRAINT;
    return out;
}

int ag_compile_column_parts(const ag_node *col, const ag_sql_dialect *dialect, char **type_sql, char **default_sql,
                            ag_error *err) {
    *type_sql = *default_sql = NULL;
    ag_error_clear(err);
    if (!col || col->tag != AG_N_COLUMN) return ag_error_set(err, AG_ERR_ARGUMENT, NULL, "expected a column");
    compiler c;
    memset(&c, 0, sizeof c);
    c.d = dialect;
    c.err = err;
    c.bare_columns = 1;
    c.literal_binds = 1;
    int rc = column_type(&c, col, is_serial(col, 1));
    if (rc == 0 && !(*type_sql = ag_buf_take(&c.out))) rc = ag_error_nomem(err);
    if (rc == 0 && slot(col, 1)) {
        /* " DEFAULT x" without its keyword */
        rc = compile_server_default(&c, slot(col, 1));
        char *text = rc == 0 ? ag_buf_take(&c.out) : NULL;
        if (rc == 0 && !text) rc = ag_error_nomem(err);
        if (rc == 0) {
            memmove(text, text + 9, strlen(text + 9) + 1);
            *default_sql = text;
        }
    }
    ag_buf_free(&c.out);
    free(c.params);
    if (rc != 0) {
        free(*type_sql);
        *type_sql = NULL;
    }
    return rc == 0 ? 0 : -1;
}

const ag_compiled *ag_compile(ag_node *stmt, ag_dialect d, ag_error *err) {
    const ag_sql_dialect *dialect = ag_sql_dialect_get(d);
    if (!dialect) {
        ag_error_set(err, AG_ERR_NOT_SUPPORTED, NULL, "argent cannot compile SQL for %s yet", ag_dialect_name(d));
        return NULL;
    }
    if (!stmt) {
        ag_error_set(err, AG_ERR_ARGUMENT, NULL, "nothing to compile");
        return NULL;
    }
    if (stmt->cache[d]) return stmt->cache[d];
    ag_compiled *c = ag_compile_uncached(stmt, dialect, err);
    if (c) stmt->cache[d] = c;
    return c;
}
