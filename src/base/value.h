/*
 * value.h -- a database value as the core passes it between the bindings and
 * the drivers, in both directions (bound parameters, fetched columns).
 *
 * An ag_value never owns memory: text and blob point into memory owned by
 * someone else (a Lua string for parameters, the driver's row buffer for
 * columns).  For a fetched column the pointer is valid until the next fetch,
 * reset or finalize of that statement.
 */
#ifndef ARGENT_BASE_VALUE_H
#define ARGENT_BASE_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum ag_value_type {
    AG_VALUE_NULL = 0,
    AG_VALUE_INTEGER, /* u.integer */
    AG_VALUE_FLOAT,   /* u.number */
    AG_VALUE_TEXT,    /* u.bytes: any bytes (may hold zeros or invalid UTF-8: the driver decides how to send it) */
    AG_VALUE_BLOB,    /* u.bytes: binary data */
    AG_VALUE_BOOLEAN  /* u.boolean: 0 or 1 */
} ag_value_type;

typedef struct ag_value {
    ag_value_type type;
    union {
        int64_t integer;
        double number;
        int boolean;
        struct {
            const char *data;
            size_t len;
        } bytes;
    } u;
} ag_value;

/* The dialects argent knows.  Dialect objects (src/sql/) hold what differs. */
typedef enum ag_dialect {
    AG_DIALECT_SQLITE = 0,
    AG_DIALECT_POSTGRESQL,
    AG_DIALECT_MARIADB,
    AG_DIALECT_COUNT
} ag_dialect;

/* "sqlite", "postgresql", "mariadb". */
const char *ag_dialect_name(ag_dialect d);

#endif
