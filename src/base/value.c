/* value.c -- names of the dialects (see value.h). */
#include "base/value.h"

const char *ag_dialect_name(ag_dialect d) {
    switch (d) {
    case AG_DIALECT_SQLITE: return "sqlite";
    case AG_DIALECT_POSTGRESQL: return "postgresql";
    case AG_DIALECT_MARIADB: return "mariadb";
    default: return "unknown";
    }
}
