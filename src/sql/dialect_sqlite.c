/*
 * dialect_sqlite.c -- how SQLite's SQL differs: ? placeholders, LIMIT -1
 * for an OFFSET alone, 1/0 booleans, no ILIKE (lower() LIKE lower()), no
 * FOR UPDATE, and an autoincrement key declared INTEGER PRIMARY KEY so that
 * it is the rowid (what last_insert_rowid reports).  Its ALTER TABLE can add,
 * drop and rename columns and rename tables, nothing else (argent.migrate
 * rebuilds a table for the rest).
 */
#include "sql/dialect.h"

static int sqlite_placeholder(ag_buf *b, int index) { return ag_buf_append_char(b, '?'); }

static int sqlite_type_name(ag_buf *b, const ag_sqltype *t, int serial) {
    if (serial) return ag_buf_append_str(b, "INTEGER");
    switch (t->kind) {
    case AG_TYPE_INTEGER: return ag_buf_append_str(b, "INTEGER");
    case AG_TYPE_BIGINT: return ag_buf_append_str(b, "BIGINT");
    case AG_TYPE_SMALLINT: return ag_buf_append_str(b, "SMALLINT");
    case AG_TYPE_FLOAT: return ag_buf_append_str(b, "FLOAT");
    case AG_TYPE_DOUBLE: return ag_buf_append_str(b, "DOUBLE");
    case AG_TYPE_NUMERIC:
        /* SQLite keeps a NUMERIC value as a double (15 significant digits): a
         * wider Numeric is declared with TEXT affinity, so its exact text is
         * stored as given (at the price of comparing as text in SQL). */
        if (t->length > 15) return ag_buf_printf(b, "NUMERIC_TEXT(%u, %u)", (unsigned)t->length, (unsigned)t->scale);
        if (t->length) return ag_buf_printf(b, "NUMERIC(%u, %u)", (unsigned)t->length, (unsigned)t->scale);
        return ag_buf_append_str(b, "NUMERIC");
    case AG_TYPE_BOOLEAN: return ag_buf_append_str(b, "BOOLEAN");
    case AG_TYPE_STRING:
    case AG_TYPE_ENUM:
        if (t->length) return ag_buf_printf(b, "VARCHAR(%u)", (unsigned)t->length);
        return ag_buf_append_str(b, "VARCHAR");
    case AG_TYPE_TEXT: return ag_buf_append_str(b, "TEXT");
    case AG_TYPE_DATE: return ag_buf_append_str(b, "DATE");
    case AG_TYPE_DATETIME: return ag_buf_append_str(b, "DATETIME");
    case AG_TYPE_TIME: return ag_buf_append_str(b, "TIME");
    case AG_TYPE_BINARY: return ag_buf_append_str(b, "BLOB");
    case AG_TYPE_JSON: return ag_buf_append_str(b, "JSON");
    default: return ag_buf_append_str(b, "TEXT");
    }
}

static int sqlite_limit_offset(ag_buf *b, int has_limit, int has_offset, void *ctx, int (*write_limit)(void *),
                               int (*write_offset)(void *)) {
    if (ag_buf_append_str(b, " LIMIT ") != 0) return -1;
    if (has_limit) {
        if (write_limit(ctx) != 0) return -1;
    } else if (ag_buf_append_str(b, "-1") != 0) {
        return -1;
    }
    if (has_offset) {
        if (ag_buf_append_str(b, " OFFSET ") != 0 || write_offset(ctx) != 0) return -1;
    }
    return 0;
}

const ag_sql_dialect ag_sql_dialect_sqlite = {
    .id = AG_DIALECT_SQLITE,
    .name = "sqlite",
    .quote_open = '"',
    .quote_close = '"',
    .placeholder = sqlite_placeholder,
    .type_name = sqlite_type_name,
    .limit_offset = sqlite_limit_offset,
    .true_literal = "1",
    .false_literal = "0",
    .has_ilike = 0,
    .has_returning = 1, /* SQLite >= 3.35 */
    .has_for_update = 0,
    .has_last_insert_id = 1,
    .inline_autoincrement = 1,
    .has_if_not_exists_index = 1,
    .has_update_returning = 1,
    .has_full_join = 1, /* SQLite >= 3.39 */
};
