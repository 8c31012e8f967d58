/*
 * fuzz_compile.c -- libFuzzer target for the SQL compiler (src/sql/).
 *
 * The input bytes drive a small stack machine that builds random trees:
 * any tag with any children (well-formed or not), hostile identifiers
 * (quotes, `?`, `$1`, upper case, reserved words) and hostile values.  Every
 * node built is compiled for SQLite and PostgreSQL.  The checks: compiling
 * never crashes, leaks or trips a sanitizer; a failure is an ag_error with a
 * kind; and on success the number of placeholders in the SQL (outside
 * quoted identifiers and DDL literals) equals the parameter count (MariaDB
 * too) --
 * PostgreSQL's numbered $1..$n in order -- so no value can have been spliced
 * into the text and no placeholder is left without a value.
 *
 * Built by tests/fuzz/CMakeLists.txt (ARGENT_FUZZ=ON, clang); scripts/test.sh
 * runs it for a fixed time.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/compile.h"
#include "sql/node.h"

#define POOL 48

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned next(reader *r) {
    if (r->n == 0) return 0;
    r->n--;
    return *r->p++;
}

static const char *const names[] = {"users", "order", "select", "Mixed Case", "we\"ird",
                                    "a?b",   "$1",    ":name",  "id",         "x",
                                    "group", "",      "ñ",      "--",         "t1"};
#define NNAMES (sizeof names / sizeof *names)

static ag_node *pick(ag_node **pool, int count, reader *r) {
    if (count == 0) return NULL;
    unsigned v = next(r);
    if (v == 255) return NULL;
    return pool[v % (unsigned)count];
}

/* Counts placeholders in sql, skipping "..." and '...'; for PostgreSQL
 * checks they read $1, $2, ... in order.  Returns the count or -1. */
static int count_placeholders(const char *sql, int pg, int backslash) {
    int count = 0;
    for (const char *s = sql; *s; s++) {
        if (*s == '"' || *s == '\'' || *s == '`') {
            char q = *s;
            for (s++; *s && *s != q; s++) {
                if (backslash && q == '\'' && *s == '\\' && s[1])
                    s++; /* MariaDB's backslash escapes */
            }
            if (!*s) return -1;
            continue;
        }
        if (!pg && *s == '?') count++;
        if (pg && *s == '$') {
            char *end;
            long k = strtol(s + 1, &end, 10);
            if (end == s + 1 || k != count + 1) return -1;
            count++;
            s = end - 1;
        }
        if (pg && *s == '?') return -1;
    }
    return count;
}

static void check_compile(ag_node *n) {
    static const ag_dialect dialects[] = {AG_DIALECT_SQLITE, AG_DIALECT_POSTGRESQL,
                                          AG_DIALECT_MARIADB};
    for (int d = 0; d < 3; d++) {
        ag_error err;
        const ag_compiled *c = ag_compile(n, dialects[d], &err);
        if (!c) {
            if (err.kind == AG_OK) abort(); /* a failure always says why */
            continue;
        }
        if (strlen(c->sql) != c->len) abort();
        int found = count_placeholders(c->sql, dialects[d] == AG_DIALECT_POSTGRESQL,
                                       dialects[d] == AG_DIALECT_MARIADB);
        if (found != c->nparams) {
            fprintf(stderr, "placeholders %d, parameters %d: %s\n", found, c->nparams, c->sql);
            abort();
        }
        for (int i = 0; i < c->nparams; i++)
            if (!c->params[i] || c->params[i]->tag != AG_N_BIND) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size};
    ag_node *pool[POOL];
    int count = 0;
    while (r.n > 0 && count < POOL) {
        unsigned op = next(&r);
        ag_node *n = NULL;
        switch (op % 16) {
        case 0: n = ag_node_table(names[next(&r) % NNAMES]); break;
        case 1: {
            ag_sqltype t = {(uint8_t)(next(&r) % AG_TYPE_COUNT), 0, (uint16_t)(next(&r) % 5),
                            next(&r) % 300, (uint8_t)(next(&r) % 2)};
            n = ag_node_column(names[next(&r) % NNAMES], pick(pool, count, &r), &t,
                               (int)(next(&r) & 15));
            if (n) ag_node_set_kid(n, 1, pick(pool, count, &r));
            break;
        }
        case 2: {
            unsigned kind = next(&r) % 5;
            ag_value v = {.type = AG_VALUE_NULL};
            char bytes[32];
            size_t len = next(&r) % sizeof bytes;
            for (size_t i = 0; i < len; i++) bytes[i] = (char)next(&r);
            if (kind == 1) {
                v.type = AG_VALUE_INTEGER;
                v.u.integer = (int64_t)next(&r) - 128;
            } else if (kind == 2) {
                v.type = AG_VALUE_FLOAT;
                v.u.number = next(&r) / 7.0;
            } else if (kind == 3) {
                v.type = AG_VALUE_TEXT;
                v.u.bytes.data = bytes;
                v.u.bytes.len = len;
            } else if (kind == 4) {
                v.type = AG_VALUE_BOOLEAN;
                v.u.boolean = next(&r) & 1;
            }
            if (next(&r) & 1)
                n = ag_node_bind(&v, NULL);
            else
                n = ag_node_named("p", NULL);
            break;
        }
        case 3:
            n = ag_node_new(AG_N_KEYWORD, 0);
            if (n) n->op = (uint8_t)(next(&r) % 6);
            break;
        case 4: n = ag_node_unary((int)(next(&r) % AG_OP_COUNT), pick(pool, count, &r)); break;
        case 5:
            n = ag_node_binary((int)(next(&r) % AG_OP_COUNT), pick(pool, count, &r),
                               pick(pool, count, &r));
            break;
        default: {
            /* any tag, any children, any op and flags, maybe a name */
            int tag = 1 + (int)(next(&r) % (AG_N_TAG_COUNT - 1));
            if (tag == AG_N_TEXT) { /* fixed text: raw SQL is the user's own */
                n = ag_node_new(AG_N_TEXT, 0);
                if (n) ag_node_set_name(n, "1 = 1", 5);
                break;
            }
            int nkids = (int)(next(&r) % 10);
            n = ag_node_new((ag_node_tag)tag, nkids);
            if (!n) break;
            n->op = (uint8_t)next(&r);
            n->flags = (uint16_t)next(&r);
            n->type.kind = (uint8_t)(next(&r) % AG_TYPE_COUNT);
            if (next(&r) & 1) {
                const char *name = names[next(&r) % NNAMES];
                ag_node_set_name(n, name, strlen(name));
            }
            for (int i = 0; i < nkids; i++) ag_node_set_kid(n, i, pick(pool, count, &r));
            break;
        }
        }
        if (n) pool[count++] = n;
    }
    for (int i = 0; i < count; i++) check_compile(pool[i]);
    for (int i = 0; i < count; i++) ag_node_release(pool[i]);
    return 0;
}
