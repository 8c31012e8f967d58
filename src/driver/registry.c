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
    default: return NULL;
    }
}

const char *ag_dialect_name(ag_dialect d) {
    switch (d) {
    case AG_DIALECT_SQLITE: return "sqlite";
    case AG_DIALECT_POSTGRESQL: return "postgresql";
    case AG_DIALECT_MARIADB: return "mariadb";
    default: return "unknown";
    }
}
