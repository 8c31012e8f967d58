/*
 * placeholders.h -- rewriting the placeholders of raw SQL for a dialect.
 *
 * Users write `?` (positional) or `:name` (named) in raw SQL on every dialect;
 * the drivers want `?` (SQLite, MariaDB) or `$1`.. (PostgreSQL).  The scanner
 * leaves alone text inside single-quoted strings, double-quoted identifiers,
 * comments (`-- ...` to end of line, `/ * ... * /`, nested on PostgreSQL), and
 * on each dialect its own forms:
 *   PostgreSQL: `::type` casts, E'...' strings with backslash escapes,
 *               dollar-quoted strings ($$ ... $$, $tag$ ... $tag$),
 *               the jsonb operators `?|` and `?&` (kept as written).
 *   SQLite:     `backtick` and [bracket] identifiers.
 *   MariaDB:    `backtick` identifiers, backslash escapes inside '...' and "...".
 * `\?` and `\:` stand for a literal `?` and `:` (the backslash is removed).
 * One statement uses either `?` or `:name`, never both (ArgumentError).
 *
 * A statement that has placeholders already in the driver's own style ($1 on
 * PostgreSQL) is not touched: `$1` is not a placeholder argent recognises.
 */
#ifndef ARGENT_BASE_PLACEHOLDERS_H
#define ARGENT_BASE_PLACEHOLDERS_H

#include <stddef.h>

#include "base/error.h"
#include "base/value.h"

typedef enum ag_param_style {
    AG_PARAMS_NONE = 0,   /* no placeholders */
    AG_PARAMS_POSITIONAL, /* `?` */
    AG_PARAMS_NAMED       /* `:name` */
} ag_param_style;

typedef struct ag_rewritten_sql {
    char *sql; /* the SQL for the driver (malloc'd, NUL-terminated) */
    size_t sql_len;
    ag_param_style style;
    /* The driver receives nslots parameters, in order.  slot_source[i] is the
     * 0-based index of the user's parameter that fills slot i: for POSITIONAL
     * the i-th `?` (so slot_source[i] == i); for NAMED an index into names.
     * On PostgreSQL a name used twice is one slot ($n reused); on SQLite and
     * MariaDB every occurrence is its own slot. */
    int nslots;
    int *slot_source; /* malloc'd, nslots entries (NULL when nslots == 0) */
    int nnames;       /* NAMED: distinct names, in order of first appearance */
    char **names;     /* malloc'd array of malloc'd NUL-terminated names */
    int npositional;  /* POSITIONAL: how many `?` the user wrote */
} ag_rewritten_sql;

/* Rewrites sql (len bytes) for dialect.  Returns 0 and fills *out (release
 * with ag_rewritten_sql_free), or -1 with err set (AG_ERR_ARGUMENT for mixed
 * styles, an unterminated quote or comment is NOT an error: the text is passed
 * on and the database reports it; AG_ERR_MEMORY when memory runs out). */
int ag_rewrite_placeholders(const char *sql, size_t len, ag_dialect dialect, ag_rewritten_sql *out, ag_error *err);

void ag_rewritten_sql_free(ag_rewritten_sql *r);

#endif
