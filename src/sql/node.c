/*
 * node.c -- making, sharing and freeing expression tree nodes (node.h).
 *
 * Every constructor returns a node with one reference or NULL when memory
 * runs out; children are retained by the parent, so a caller that made a
 * child and handed it to a parent releases its own reference.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "sql/compile.h"
#include "sql/node.h"

ag_node *ag_node_new(ag_node_tag tag, int nkids) {
    ag_node *n = ag_calloc(1, sizeof *n);
    if (!n) return NULL;
    if (nkids > 0) {
        n->kids = ag_calloc((size_t)nkids, sizeof *n->kids);
        if (!n->kids) {
            free(n);
            return NULL;
        }
    }
    n->refs = 1;
    n->tag = (uint8_t)tag;
    n->nkids = nkids;
    return n;
}

ag_node *ag_node_retain(ag_node *n) {
    if (n) n->refs++;
    return n;
}

static void free_value(ag_value *v) {
    if (v->type == AG_VALUE_TEXT || v->type == AG_VALUE_BLOB) free((void *)v->u.bytes.data);
    v->type = AG_VALUE_NULL;
}

void ag_node_release(ag_node *n) {
    /* Iterative over the last child so that a long chain (a AND b AND c
     * built pairwise, a deep fuzzer tree) does not recurse once per level. */
    while (n && --n->refs == 0) {
        ag_node *last = NULL;
        for (int i = 0; i < n->nkids; i++) {
            if (i == n->nkids - 1) last = n->kids[i];
            else ag_node_release(n->kids[i]);
        }
        for (int d = 0; d < AG_DIALECT_COUNT; d++) ag_compiled_free(n->cache[d]);
        free(n->kids);
        free(n->name);
        free(n->name2);
        free_value(&n->value);
        free(n);
        n = last;
    }
}

void ag_node_set_kid(ag_node *n, int i, ag_node *kid) {
    ag_node_retain(kid);
    ag_node_release(n->kids[i]);
    n->kids[i] = kid;
}

static char *copy_bytes(const char *s, size_t len) {
    char *p = ag_malloc(len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int ag_node_set_name(ag_node *n, const char *name, size_t len) {
    char *p = copy_bytes(name, len);
    if (!p) return -1;
    free(n->name);
    n->name = p;
    n->name_len = len;
    return 0;
}

int ag_node_set_value(ag_node *n, const ag_value *v) {
    ag_value copy = *v;
    if (v->type == AG_VALUE_TEXT || v->type == AG_VALUE_BLOB) {
        char *p = copy_bytes(v->u.bytes.data ? v->u.bytes.data : "", v->u.bytes.len);
        if (!p) return -1;
        copy.u.bytes.data = p;
    }
    free_value(&n->value);
    n->value = copy;
    n->flags |= AG_BIND_HAS_VALUE;
    return 0;
}

ag_node *ag_node_copy(const ag_node *src, int nkids) {
    if (nkids < src->nkids) nkids = src->nkids;
    ag_node *n = ag_node_new((ag_node_tag)src->tag, nkids);
    if (!n) return NULL;
    n->op = src->op;
    n->flags = src->flags;
    n->type = src->type;
    if ((src->name && ag_node_set_name(n, src->name, src->name_len) != 0) ||
        (src->name2 && !(n->name2 = copy_bytes(src->name2, strlen(src->name2)))) ||
        ((src->flags & AG_BIND_HAS_VALUE) && src->tag == AG_N_BIND && ag_node_set_value(n, &src->value) != 0)) {
        ag_node_release(n);
        return NULL;
    }
    for (int i = 0; i < src->nkids; i++) n->kids[i] = ag_node_retain(src->kids[i]);
    return n;
}

ag_node *ag_node_list(ag_node *const *items, int count) {
    ag_node *n = ag_node_new(AG_N_LIST, count);
    if (!n) return NULL;
    for (int i = 0; i < count; i++) n->kids[i] = ag_node_retain(items[i]);
    return n;
}

ag_node *ag_node_bind(const ag_value *v, const ag_sqltype *type) {
    ag_node *n = ag_node_new(AG_N_BIND, 0);
    if (!n) return NULL;
    if (type) n->type = *type;
    if (ag_node_set_value(n, v) != 0) {
        ag_node_release(n);
        return NULL;
    }
    return n;
}

ag_node *ag_node_named(const char *name, const ag_sqltype *type) {
    ag_node *n = ag_node_new(AG_N_BIND, 0);
    if (!n) return NULL;
    if (type) n->type = *type;
    if (ag_node_set_name(n, name, strlen(name)) != 0) {
        ag_node_release(n);
        return NULL;
    }
    return n;
}

ag_node *ag_node_binary(int op, ag_node *left, ag_node *right) {
    ag_node *n = ag_node_new(AG_N_BINARY, 2);
    if (!n) return NULL;
    n->op = (uint8_t)op;
    n->kids[0] = ag_node_retain(left);
    n->kids[1] = ag_node_retain(right);
    return n;
}

ag_node *ag_node_unary(int op, ag_node *operand) {
    ag_node *n = ag_node_new(AG_N_UNARY, 1);
    if (!n) return NULL;
    n->op = (uint8_t)op;
    n->kids[0] = ag_node_retain(operand);
    return n;
}

ag_node *ag_node_table(const char *name) {
    ag_node *n = ag_node_new(AG_N_TABLE, 0);
    if (!n) return NULL;
    if (ag_node_set_name(n, name, strlen(name)) != 0) {
        ag_node_release(n);
        return NULL;
    }
    return n;
}

ag_node *ag_node_column(const char *name, ag_node *table, const ag_sqltype *type, int flags) {
    ag_node *n = ag_node_new(AG_N_COLUMN, 2);
    if (!n) return NULL;
    if (name && ag_node_set_name(n, name, strlen(name)) != 0) {
        ag_node_release(n);
        return NULL;
    }
    n->kids[0] = ag_node_retain(table);
    if (type) n->type = *type;
    n->flags = (uint16_t)flags;
    return n;
}

int ag_node_column_attach(ag_node *col, ag_node *table, const char *name, const char *key) {
    if (col->tag != AG_N_COLUMN || col->nkids < 1 || col->kids[0]) return -1;
    if (name && !col->name && ag_node_set_name(col, name, strlen(name)) != 0) return -1;
    if (key && !col->name2 && !(col->name2 = copy_bytes(key, strlen(key)))) return -1;
    col->kids[0] = ag_node_retain(table);
    return 0;
}

static ag_sqltype type_of(const ag_node *n, int depth);

ag_sqltype ag_node_type_of(const ag_node *n) { return type_of(n, 0); }

static ag_sqltype type_of(const ag_node *n, int depth) {
    ag_sqltype none = {0, 0, 0, 0, 0};
    if (!n || depth > 64) return none;
    switch (n->tag) {
    case AG_N_COLUMN:
    case AG_N_CAST:
    case AG_N_BIND: return n->type;
    case AG_N_FUNC:
        if (n->type.kind) return n->type;
        /* max(x), min(x), coalesce(x, ...) have their first argument's type */
        if (n->nkids > 0 && n->name &&
            (strcmp(n->name, "max") == 0 || strcmp(n->name, "min") == 0 || strcmp(n->name, "coalesce") == 0))
            return type_of(n->kids[0], depth + 1);
        return none;
    case AG_N_LABEL: return n->nkids > 0 ? type_of(n->kids[0], depth + 1) : none;
    case AG_N_BINARY:
        if (n->op >= AG_OP_ADD && n->op <= AG_OP_MOD) return n->nkids > 0 ? type_of(n->kids[0], depth + 1) : none;
        if (n->op == AG_OP_CONCAT) return none;
        none.kind = AG_TYPE_BOOLEAN;
        return none;
    case AG_N_UNARY:
        if (n->op == AG_OP_NEG || n->op == AG_OP_DISTINCT) return n->nkids > 0 ? type_of(n->kids[0], depth + 1) : none;
        if (n->op == AG_OP_ASC || n->op == AG_OP_DESC) return none;
        none.kind = AG_TYPE_BOOLEAN;
        return none;
    case AG_N_BOOLEAN:
    case AG_N_BETWEEN: none.kind = AG_TYPE_BOOLEAN; return none;
    case AG_N_CASE: return n->nkids > 1 ? type_of(n->kids[1], depth + 1) : none;
    default: return none;
    }
}

const char *ag_node_tag_name(int tag) {
    static const char *const names[AG_N_TAG_COUNT] = {
        [AG_N_TABLE] = "TABLE",
        [AG_N_COLUMN] = "COLUMN",
        [AG_N_BIND] = "BIND",
        [AG_N_KEYWORD] = "KEYWORD",
        [AG_N_TEXT] = "TEXT",
        [AG_N_UNARY] = "UNARY",
        [AG_N_BINARY] = "BINARY",
        [AG_N_BOOLEAN] = "BOOLEAN",
        [AG_N_BETWEEN] = "BETWEEN",
        [AG_N_LIST] = "LIST",
        [AG_N_FUNC] = "FUNC",
        [AG_N_LABEL] = "LABEL",
        [AG_N_CAST] = "CAST",
        [AG_N_CASE] = "CASE",
        [AG_N_SUBQUERY] = "SUBQUERY",
        [AG_N_ALIAS] = "ALIAS",
        [AG_N_JOIN] = "JOIN",
        [AG_N_SELECT] = "SELECT",
        [AG_N_COMPOUND] = "COMPOUND",
        [AG_N_INSERT] = "INSERT",
        [AG_N_ASSIGN] = "ASSIGN",
        [AG_N_UPDATE] = "UPDATE",
        [AG_N_DELETE] = "DELETE",
        [AG_N_CREATE_TABLE] = "CREATE_TABLE",
        [AG_N_DROP_TABLE] = "DROP_TABLE",
        [AG_N_CONSTRAINT] = "CONSTRAINT",
        [AG_N_CREATE_INDEX] = "CREATE_INDEX",
        [AG_N_DROP_INDEX] = "DROP_INDEX",
        [AG_N_COMMENT] = "COMMENT",
        [AG_N_ALTER_TABLE] = "ALTER_TABLE",
        [AG_N_CREATE_TYPE] = "CREATE_TYPE",
        [AG_N_DROP_TYPE] = "DROP_TYPE",
        [AG_N_ALTER_TYPE] = "ALTER_TYPE",
    };
    if (tag <= 0 || tag >= AG_N_TAG_COUNT || !names[tag]) return "?";
    return names[tag];
}
