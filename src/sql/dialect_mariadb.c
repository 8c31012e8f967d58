/*
 * dialect_mariadb.c -- how MariaDB's SQL differs: `backtick` quoting, ?
 * placeholders, LIMIT with a huge count for an OFFSET alone, concat()
 * (`||` is OR there), no ILIKE, upserts as ON DUPLICATE KEY UPDATE,
 * AUTO_INCREMENT keys, "() VALUES ()" for an all-default row, DROP INDEX
 * ... ON table, RETURNING on INSERT and DELETE only (10.5+), CAST's own
 * type names (SIGNED, CHAR), backslash escapes in string literals, and
 * ALTER as MODIFY COLUMN (the whole definition) and DROP FOREIGN KEY / INDEX.
 */
#include "sql/dialect.h"

static int my_placeholder(ag_buf *b, int index) { return ag_buf_append_char(b, '?'); }

static int my_type_name(ag_buf *b, const ag_sqltype *t, int serial) {
    switch (t->kind) {
    case AG_TYPE_INTEGER: return ag_buf_append_str(b, "INTEGER");
    case AG_TYPE_BIGINT: return ag_buf_append_str(b, "BIGINT");
    case AG_TYPE_SMALLINT: return ag_buf_append_str(b, "SMALLINT");
    case AG_TYPE_FLOAT: return ag_buf_append_str(b, "FLOAT");
    case AG_TYPE_DOUBLE: return ag_buf_append_str(b, "DOUBLE");
    case AG_TYPE_NUMERIC:
        if (t->length) return ag_buf_printf(b, "NUMERIC(%u, %u)", (unsigned)t->length, (unsigned)t->scale);
        return ag_buf_append_str(b, "NUMERIC(65, 30)");
    case AG_TYPE_BOOLEAN: return ag_buf_append_str(b, "BOOL");
    case AG_TYPE_STRING:
    case AG_TYPE_ENUM:
        /* VARCHAR needs a length on MariaDB */
        return ag_buf_printf(b, "VARCHAR(%u)", t->length ? (unsigned)t->length : 255u);
    case AG_TYPE_TEXT: return ag_buf_append_str(b, "LONGTEXT"); /* TEXT stops at 64 kB */
    case AG_TYPE_DATE: return ag_buf_append_str(b, "DATE");
    case AG_TYPE_DATETIME: return ag_buf_append_str(b, "DATETIME(6)");
    case AG_TYPE_TIME: return ag_buf_append_str(b, "TIME(6)");
    case AG_TYPE_BINARY: return ag_buf_append_str(b, "LONGBLOB");
    case AG_TYPE_JSON: return ag_buf_append_str(b, "JSON");
    default: return ag_buf_append_str(b, "TEXT");
    }
}

static int my_cast_name(ag_buf *b, const ag_sqltype *t) {
    switch (t->kind) {
    case AG_TYPE_INTEGER:
    case AG_TYPE_BIGINT:
    case AG_TYPE_SMALLINT:
    case AG_TYPE_BOOLEAN: return ag_buf_append_str(b, "SIGNED");
    case AG_TYPE_STRING:
    case AG_TYPE_ENUM:
        if (t->length) return ag_buf_printf(b, "CHAR(%u)", (unsigned)t->length);
        return ag_buf_append_str(b, "CHAR");
    case AG_TYPE_TEXT:
    case AG_TYPE_JSON:
    case AG_TYPE_NONE: return ag_buf_append_str(b, "CHAR");
    case AG_TYPE_BINARY: return ag_buf_append_str(b, "BINARY");
    case AG_TYPE_DATETIME: return ag_buf_append_str(b, "DATETIME(6)");
    case AG_TYPE_TIME: return ag_buf_append_str(b, "TIME(6)");
    case AG_TYPE_NUMERIC:
        if (t->length) return ag_buf_printf(b, "DECIMAL(%u, %u)", (unsigned)t->length, (unsigned)t->scale);
        return ag_buf_append_str(b, "DECIMAL(65, 30)");
    default: return my_type_name(b, t, 0);
    }
}

static int my_limit_offset(ag_buf *b, int has_limit, int has_offset, void *ctx, int (*write_limit)(void *),
                           int (*write_offset)(void *)) {
    if (ag_buf_append_str(b, " LIMIT ") != 0) return -1;
    if (has_limit) {
        if (write_limit(ctx) != 0) return -1;
    } else if (ag_buf_append_str(b, "18446744073709551615") != 0) {
        return -1;
    }
    if (has_offset && (ag_buf_append_str(b, " OFFSET ") != 0 || write_offset(ctx) != 0)) return -1;
    return 0;
}

const ag_sql_dialect ag_sql_dialect_mariadb = {
    .id = AG_DIALECT_MARIADB,
    .name = "mariadb",
    .quote_open = '`',
    .quote_close = '`',
    .placeholder = my_placeholder,
    .type_name = my_type_name,
    .limit_offset = my_limit_offset,
    .true_literal = "true",
    .false_literal = "false",
    .has_ilike = 0,
    .has_returning = 1, /* INSERT and DELETE, MariaDB >= 10.5 */
    .has_for_update = 1,
    .has_last_insert_id = 1,
    .inline_autoincrement = 0,
    .has_if_not_exists_index = 1,
    .has_comments = 0,
    .has_update_returning = 0,
    .has_full_join = 0,
    .concat_function = 1,
    .on_duplicate_key = 1,
    .empty_values_list = 1,
    .drop_index_on_table = 1,
    .backslash_escapes = 1,
    .has_alter_column = 1,
    .has_alter_constraint = 1,
    .alter_column_modify = 1,
    .drop_constraint_by_kind = 1,
    .autoincrement_suffix = " AUTO_INCREMENT",
    .cast_name = my_cast_name,
};
