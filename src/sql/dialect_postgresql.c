/*
 * dialect_postgresql.c -- how PostgreSQL's SQL differs: $n placeholders,
 * true/false, ILIKE, FOR UPDATE, SERIAL keys, BYTEA, TIMESTAMP, and no
 * last-insert id without RETURNING (so an insert that wants lastrowid gets
 * a RETURNING of its key), ALTER COLUMN as one action per part, and enum
 * types of their own (CREATE TYPE ... AS ENUM).
 */
#include "sql/dialect.h"

/* "$n", written by hand: it is the compiler's most frequent append (printf costs more than the rest). */
static int pg_placeholder(ag_buf *b, int index) {
    char text[16];
    int n = (int)sizeof text;
    unsigned v = (unsigned)index;
    do {
        text[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n > 1);
    text[--n] = '$';
    return ag_buf_append(b, text + n, sizeof text - (size_t)n);
}

static int pg_type_name(ag_buf *b, const ag_sqltype *t, int serial) {
    switch (t->kind) {
    case AG_TYPE_INTEGER: return ag_buf_append_str(b, serial ? "SERIAL" : "INTEGER");
    case AG_TYPE_BIGINT: return ag_buf_append_str(b, serial ? "BIGSERIAL" : "BIGINT");
    case AG_TYPE_SMALLINT: return ag_buf_append_str(b, serial ? "SMALLSERIAL" : "SMALLINT");
    case AG_TYPE_FLOAT: return ag_buf_append_str(b, "FLOAT");
    case AG_TYPE_DOUBLE: return ag_buf_append_str(b, "DOUBLE PRECISION");
    case AG_TYPE_NUMERIC:
        if (t->length) return ag_buf_printf(b, "NUMERIC(%u, %u)", (unsigned)t->length, (unsigned)t->scale);
        return ag_buf_append_str(b, "NUMERIC");
    case AG_TYPE_BOOLEAN: return ag_buf_append_str(b, "BOOLEAN");
    case AG_TYPE_STRING:
    case AG_TYPE_ENUM:
        if (t->length) return ag_buf_printf(b, "VARCHAR(%u)", (unsigned)t->length);
        return ag_buf_append_str(b, "VARCHAR");
    case AG_TYPE_TEXT: return ag_buf_append_str(b, "TEXT");
    case AG_TYPE_DATE: return ag_buf_append_str(b, "DATE");
    case AG_TYPE_DATETIME:
        return ag_buf_append_str(b, t->timezone ? "TIMESTAMP WITH TIME ZONE" : "TIMESTAMP WITHOUT TIME ZONE");
    case AG_TYPE_TIME: return ag_buf_append_str(b, "TIME WITHOUT TIME ZONE");
    case AG_TYPE_BINARY: return ag_buf_append_str(b, "BYTEA");
    case AG_TYPE_JSON: return ag_buf_append_str(b, "JSON");
    default: return ag_buf_append_str(b, "TEXT");
    }
}

static int pg_limit_offset(ag_buf *b, int has_limit, int has_offset, void *ctx, int (*write_limit)(void *),
                           int (*write_offset)(void *)) {
    if (has_limit && (ag_buf_append_str(b, " LIMIT ") != 0 || write_limit(ctx) != 0)) return -1;
    if (has_offset && (ag_buf_append_str(b, " OFFSET ") != 0 || write_offset(ctx) != 0)) return -1;
    return 0;
}

const ag_sql_dialect ag_sql_dialect_postgresql = {
    .id = AG_DIALECT_POSTGRESQL,
    .name = "postgresql",
    .quote_open = '"',
    .quote_close = '"',
    .placeholder = pg_placeholder,
    .type_name = pg_type_name,
    .limit_offset = pg_limit_offset,
    .true_literal = "true",
    .false_literal = "false",
    .has_ilike = 1,
    .has_returning = 1,
    .has_for_update = 1,
    .has_last_insert_id = 0,
    .inline_autoincrement = 0,
    .has_if_not_exists_index = 1,
    .has_comments = 1,
    .has_update_returning = 1,
    .has_full_join = 1,
    .has_alter_column = 1,
    .has_alter_constraint = 1,
    .native_enum = 1,
};
