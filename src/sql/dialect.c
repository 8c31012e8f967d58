/*
 * dialect.c -- what the dialects share: finding one by id or name, the
 * reserved words, and identifier quoting (each dialect only picks its quote
 * characters).
 *
 * The reserved words are the union of SQL:2016's, SQLite's and PostgreSQL's
 * keywords that cannot be used bare as a column or table name in at least
 * one of them: quoting one word too many is harmless, one too few is a
 * syntax error.
 */
#include <stdlib.h>
#include <string.h>

#include "sql/dialect.h"

/* one alphabetical run, many words a line */
/* clang-format off */
static const char *const reserved_words[] = {
    "abort", "action", "add", "after", "all", "alter", "always", "analyse", "analyze", "and", "any",
    "array", "as", "asc", "asymmetric", "attach", "authorization", "autoincrement", "before", "begin",
    "between", "binary", "both", "by", "cascade", "case", "cast", "check", "collate", "collation",
    "column", "commit", "concurrently", "conflict", "constraint", "create", "cross", "current",
    "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "database", "default", "deferrable", "deferred", "delete",
    "desc", "detach", "distinct", "do", "drop", "each", "else", "end", "escape", "except", "exclude",
    "exclusive", "exists", "explain", "fail", "false", "fetch", "filter", "first", "following", "for",
    "foreign", "freeze", "from", "full", "generated", "glob", "grant", "group", "groups", "having", "if",
    "ignore", "ilike", "immediate", "in", "index", "indexed", "initially", "inner", "insert", "instead",
    "intersect", "into", "is", "isnull", "join", "key", "last", "lateral", "leading", "left", "like",
    "limit", "localtime", "localtimestamp", "match", "materialized", "natural", "no", "not", "nothing",
    "notnull", "null", "nulls", "of", "offset", "on", "only", "or", "order", "others", "outer", "over",
    "overlaps", "partition", "placing", "plan", "pragma", "preceding", "primary", "query", "raise",
    "range", "recursive", "references", "regexp", "reindex", "release", "rename", "replace",
    "restrict", "returning", "right", "rollback", "row", "rows", "savepoint", "select", "session_user",
    "set", "similar", "some", "symmetric", "system_user", "table", "tablesample", "temp", "temporary",
    "then", "ties", "to", "trailing", "transaction", "trigger", "true", "unbounded", "union", "unique",
    "update", "user", "using", "vacuum", "values", "variadic", "verbose", "view", "virtual", "when",
    "where", "window", "with", "within", "without",
};
/* clang-format on */

static int compare_word(const void *key, const void *elem) {
    return strcmp((const char *)key, *(const char *const *)elem);
}

int ag_sql_is_reserved(const char *word, size_t len) {
    char lower[32];
    if (len == 0 || len >= sizeof lower) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = word[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    lower[len] = '\0';
    return bsearch(lower, reserved_words, sizeof reserved_words / sizeof *reserved_words, sizeof *reserved_words,
                   compare_word) != NULL;
}

static int needs_quotes(const char *name, size_t len) {
    if (len == 0) return 1;
    if (name[0] >= '0' && name[0] <= '9') return 1;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 1;
    }
    return ag_sql_is_reserved(name, len);
}

int ag_sql_quote_identifier(const ag_sql_dialect *d, ag_buf *b, const char *name, size_t len) {
    if (!needs_quotes(name, len)) return ag_buf_append(b, name, len);
    if (ag_buf_append_char(b, d->quote_open) != 0) return -1;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] == d->quote_close) {
            if (ag_buf_append(b, name + start, i + 1 - start) != 0) return -1;
            start = i; /* the quote goes out twice */
        }
    }
    if (ag_buf_append(b, name + start, len - start) != 0) return -1;
    return ag_buf_append_char(b, d->quote_close);
}

const ag_sql_dialect *ag_sql_dialect_get(ag_dialect d) {
    switch (d) {
    case AG_DIALECT_SQLITE: return &ag_sql_dialect_sqlite;
    case AG_DIALECT_POSTGRESQL: return &ag_sql_dialect_postgresql;
    case AG_DIALECT_MARIADB: return &ag_sql_dialect_mariadb;
    default: return NULL;
    }
}

const ag_sql_dialect *ag_sql_dialect_find(const char *name) {
    if (!name) return NULL;
    if (strcmp(name, "sqlite") == 0) return &ag_sql_dialect_sqlite;
    if (strcmp(name, "postgresql") == 0 || strcmp(name, "postgres") == 0) return &ag_sql_dialect_postgresql;
    if (strcmp(name, "mariadb") == 0 || strcmp(name, "mysql") == 0) return &ag_sql_dialect_mariadb;
    return NULL;
}
