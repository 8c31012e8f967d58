/* registry.c -- picks the driver for a dialect (only the drivers this build has). */
#include "driver/driver.h"

const ag_driver *ag_driver_for(ag_dialect dialect) {
    switch (dialect) {
#ifdef ARGENT_WITH_SQLITE
    case AG_DIALECT_SQLITE: return &ag_driver_sqlite;
#endif
#ifdef ARGENT_WITH_POSTGRES
    case AG_DIALECT_POSTGRESQL: return &ag_driver_postgres;
#endif
#ifdef ARGENT_WITH_MARIADB
    case AG_DIALECT_MARIADB: return &ag_driver_mariadb;
#endif
    default: return NULL;
    }
}

/* decode.h's entry points of the drivers this build lacks */
#include "driver/decode.h"

#ifndef ARGENT_WITH_POSTGRES
int ag_postgres_decode_text(unsigned int type_oid, const char *text, size_t len, ag_decoded_fn use, void *ctx) {
    return -1;
}
#endif

#ifndef ARGENT_WITH_MARIADB
int ag_mariadb_decode_binary(const ag_mariadb_field *field, const unsigned char *bytes, size_t len, ag_decoded_fn use,
                             void *ctx) {
    return -1;
}
#endif
