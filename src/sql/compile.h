/*
 * compile.h -- turning a statement tree (node.h) into SQL text for one
 * dialect plus the list of its parameters.
 *
 * The result is cached on the statement node, one per dialect, and freed
 * with it: compiling the same statement object again costs a pointer load.
 * Parameters are the BIND nodes in placeholder order (a node used twice
 * appears twice); they stay valid as long as the statement node lives.
 */
#ifndef ARGENT_SQL_COMPILE_H
#define ARGENT_SQL_COMPILE_H

#include "base/error.h"
#include "sql/dialect.h"
#include "sql/node.h"

struct ag_compiled {
    char *sql; /* NUL-terminated */
    size_t len;
    uint64_t hash; /* ag_hash_sql(sql, len) (base/hash.h): the statement cache's key hash */
    int nparams;
    const ag_node **params; /* BIND nodes: value, or name to look up at execution */
    int ncols;              /* result columns (SELECT, RETURNING), 0 when none */
    ag_sqltype *col_types;  /* their argent types (kind NONE when unknown) */
    int implicit_returning; /* a RETURNING of the key was added for lastrowid */
    int is_ddl;
};

/* The statement compiled for dialect d: cached on stmt (the pointer belongs
 * to stmt).  NULL with err: ArgumentError for a tree that cannot be
 * compiled (a SELECT without columns, a column without a name, nesting
 * deeper than AG_COMPILE_MAX_DEPTH, a value that cannot be a DDL literal),
 * NotSupportedError for a dialect argent has no compiler for. */
const ag_compiled *ag_compile(ag_node *stmt, ag_dialect d, ag_error *err);

/* The same without the cache: the caller frees the result. */
ag_compiled *ag_compile_uncached(const ag_node *stmt, const ag_sql_dialect *dialect, ag_error *err);
void ag_compiled_free(ag_compiled *c); /* NULL-safe */

/* The DDL text of a column's type (as CREATE TABLE writes it for dialect)
 * in *type_sql, and of its server default (values as literals) in
 * *default_sql, NULL when it has none; both malloc'd, the caller frees them.
 * What schema comparison (argent.migrate) sets against a reflected
 * database.  0, or -1 with err (and both NULL). */
int ag_compile_column_parts(const ag_node *col, const ag_sql_dialect *dialect, char **type_sql, char **default_sql,
                            ag_error *err);

#define AG_COMPILE_MAX_DEPTH 200
/* Bounds on one compilation: a tree that shares subtrees can stand for an
 * exponentially large statement (x = a + a; y = x + x; ...). */
#define AG_COMPILE_MAX_SQL (64 << 20)
#define AG_COMPILE_MAX_VISITS 4000000

#endif
