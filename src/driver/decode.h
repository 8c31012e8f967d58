/*
 * decode.h -- the drivers' value decoders, callable without a server.
 *
 * Each function turns one value as its database hands it to the driver
 * into the ag_value that the driver's column_value gives for it, through
 * the very code that reads result rows (postgres.c, mariadb.c), and passes
 * it to use(v, ctx) while it is valid.  The fuzzers (tests/fuzz/) call
 * them with arbitrary bytes.  This header names no database type: only
 * driver files include a database's header.
 */
#ifndef ARGENT_DRIVER_DECODE_H
#define ARGENT_DRIVER_DECODE_H

#include <stddef.h>

#include "base/value.h"

typedef void (*ag_decoded_fn)(const ag_value *v, void *ctx);

/* PostgreSQL: a value in text format (len bytes; libpq gives it
 * NUL-terminated, as this does) of the column type type_oid.  Returns 0,
 * or -1 when memory ran out (use is not called), or when this build has no
 * PostgreSQL driver. */
int ag_postgres_decode_text(unsigned int type_oid, const char *text, size_t len, ag_decoded_fn use, void *ctx);

/* MariaDB: the description of a result column, as MYSQL_FIELD holds it. */
typedef struct ag_mariadb_field {
    int type;               /* enum enum_field_types (MYSQL_TYPE_LONG, ...) */
    unsigned int flags;     /* UNSIGNED_FLAG, ... */
    unsigned int charsetnr; /* 63: binary */
    unsigned int decimals;
    unsigned long length;
    int has_org_name; /* a column of a table, not a computed value */
} ag_mariadb_field;

/* MariaDB: a value of a binary-protocol row, as the connector stores it in
 * the column's bind buffer: bytes holds the integer, double or float in
 * host order, or a date/time as the wire sends it (year 2 bytes, month,
 * day, hour, minute, second, microseconds 4 bytes, and for TIME a sign and
 * 4 bytes of days), or the string's bytes.  Returns 0, or -1 when memory
 * ran out, or when this build has no MariaDB driver. */
int ag_mariadb_decode_binary(const ag_mariadb_field *field, const unsigned char *bytes, size_t len, ag_decoded_fn use,
                             void *ctx);

#endif
