/*
 * dialect.h -- what differs between the SQL dialects argent speaks, and
 * nothing else: the compiler (compile.c) is shared and asks the dialect
 * only for identifier quoting, placeholders, LIMIT/OFFSET, type names,
 * boolean literals, ILIKE, RETURNING and upsert support, how an
 * autoincrement primary key is declared, and which ALTER forms and enum
 * types the database has.
 *
 * A dialect is one const struct (dialect_sqlite.c, dialect_postgresql.c,
 * dialect_mariadb.c), found with ag_sql_dialect_get.  Every writer appends to an
 * ag_buf and returns 0, or -1 when memory runs out.
 */
#ifndef ARGENT_SQL_DIALECT_H
#define ARGENT_SQL_DIALECT_H

#include "base/buf.h"
#include "base/value.h"
#include "sql/node.h"

typedef struct ag_sql_dialect {
    ag_dialect id;
    const char *name;
    char quote_open, quote_close; /* identifier quotes ("" on SQLite and PostgreSQL) */
    /* The placeholder for the index-th parameter (1-based): "?" or "$n". */
    int (*placeholder)(ag_buf *b, int index);
    /* The DDL (and CAST) name of a type.  serial: the type of an
     * autoincrement integer primary key column (SERIAL on PostgreSQL). */
    int (*type_name)(ag_buf *b, const ag_sqltype *type, int serial);
    /* LIMIT/OFFSET with the placeholders already written by the callbacks:
     * the compiler passes which of the two are present and a writer for each. */
    int (*limit_offset)(ag_buf *b, int has_limit, int has_offset, void *ctx, int (*write_limit)(void *ctx),
                        int (*write_offset)(void *ctx));
    const char *true_literal, *false_literal;
    unsigned has_ilike : 1;            /* ILIKE (else lower(x) LIKE lower(y)) */
    unsigned has_returning : 1;        /* INSERT/UPDATE/DELETE ... RETURNING */
    unsigned has_for_update : 1;       /* SELECT ... FOR UPDATE */
    unsigned has_last_insert_id : 1;   /* the driver knows a new row's id (else RETURNING is added) */
    unsigned inline_autoincrement : 1; /* the integer key is declared "INTEGER PRIMARY KEY" inline */
    unsigned has_if_not_exists_index : 1;
    unsigned has_comments : 1;         /* COMMENT ON COLUMN */
    unsigned has_update_returning : 1; /* UPDATE ... RETURNING (MariaDB has it for INSERT and DELETE only) */
    unsigned has_full_join : 1;
    unsigned concat_function : 1;         /* concat(a, b): `||` means OR (MariaDB) */
    unsigned on_duplicate_key : 1;        /* upsert as ON DUPLICATE KEY UPDATE (MariaDB), else ON CONFLICT */
    unsigned empty_values_list : 1;       /* "() VALUES ()" instead of DEFAULT VALUES */
    unsigned drop_index_on_table : 1;     /* DROP INDEX name ON table */
    unsigned backslash_escapes : 1;       /* a backslash escapes in string literals (MariaDB's default mode) */
    unsigned has_alter_column : 1;        /* ALTER TABLE changes a column's type, nullability, default */
    unsigned has_alter_constraint : 1;    /* ALTER TABLE ADD / DROP CONSTRAINT (else a table rebuild) */
    unsigned alter_column_modify : 1;     /* MODIFY COLUMN with the whole definition (MariaDB) */
    unsigned drop_constraint_by_kind : 1; /* DROP FOREIGN KEY / INDEX / PRIMARY KEY (MariaDB) */
    unsigned native_enum : 1;             /* CREATE TYPE ... AS ENUM, usable as a column's type */
    /* Appended to an autoincrement key's column definition (" AUTO_INCREMENT"), or NULL. */
    const char *autoincrement_suffix;
    /* The type name inside CAST(... AS name), when it differs from the DDL name; NULL: type_name. */
    int (*cast_name)(ag_buf *b, const ag_sqltype *type);
} ag_sql_dialect;

extern const ag_sql_dialect ag_sql_dialect_sqlite;
extern const ag_sql_dialect ag_sql_dialect_postgresql;
extern const ag_sql_dialect ag_sql_dialect_mariadb;

/* The dialect object for d, or NULL when argent has none. */
const ag_sql_dialect *ag_sql_dialect_get(ag_dialect d);
/* By name ("sqlite", "postgresql", "postgres", "mariadb", "mysql"); NULL when unknown. */
const ag_sql_dialect *ag_sql_dialect_find(const char *name);

/* Appends the identifier, quoted when it must be (a reserved word, upper
 * case, a character other than a-z 0-9 _, a leading digit, empty): the
 * quote character inside is doubled. */
int ag_sql_quote_identifier(const ag_sql_dialect *d, ag_buf *b, const char *name, size_t len);
/* Is the (lower-case) word reserved in the SQL argent speaks? */
int ag_sql_is_reserved(const char *word, size_t len);

#endif
