/*
 * fuzz_placeholders.c -- libFuzzer target for the placeholder scanner
 * (src/base/placeholders.c): any bytes as raw SQL, rewritten for SQLite,
 * PostgreSQL and MariaDB.
 *
 * Checks: nothing crashes, leaks or trips a sanitizer; a failure is an
 * ArgumentError (mixed styles) or a memory error; on success the result is
 * consistent: sql_len bytes followed by a zero byte, at most as many slots
 * as the input has '?' and ':' characters, every slot mapped to a user
 * parameter that exists (positional: slot i is the i-th '?'; named: an index
 * into names), and on PostgreSQL the numbered placeholders $1..$n it wrote
 * each name a slot; names are non-empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/placeholders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, ag_dialect d, const uint8_t *data, size_t size) {
    fprintf(stderr, "fuzz_placeholders: %s (dialect %d) for input '%.*s'\n", what, (int)d,
            (int)size, (const char *)data);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const ag_dialect dialects[] = {AG_DIALECT_SQLITE, AG_DIALECT_POSTGRESQL,
                                          AG_DIALECT_MARIADB};
    size_t marks = 0;
    for (size_t i = 0; i < size; i++) marks += data[i] == '?' || data[i] == ':';
    for (size_t k = 0; k < sizeof dialects / sizeof *dialects; k++) {
        ag_dialect d = dialects[k];
        ag_rewritten_sql r;
        ag_error err;
        memset(&r, 0, sizeof r);
        if (ag_rewrite_placeholders((const char *)data, size, d, &r, &err) != 0) {
            if (err.kind != AG_ERR_ARGUMENT && err.kind != AG_ERR_MEMORY)
                fail("a bad failure", d, data, size);
            continue;
        }
        if (!r.sql || r.sql[r.sql_len] != '\0') fail("the SQL is not terminated", d, data, size);
        if (r.nslots < 0 || (size_t)r.nslots > marks) fail("more slots than marks", d, data, size);
        if (r.nslots > 0 && !r.slot_source) fail("slots without sources", d, data, size);
        switch (r.style) {
        case AG_PARAMS_NONE:
            if (r.nslots != 0) fail("slots without a style", d, data, size);
            break;
        case AG_PARAMS_POSITIONAL:
            if (r.npositional != r.nslots) fail("positional count", d, data, size);
            for (int i = 0; i < r.nslots; i++)
                if (r.slot_source[i] != i) fail("positional slot order", d, data, size);
            break;
        case AG_PARAMS_NAMED:
            if (r.nnames <= 0 || r.nnames > r.nslots) fail("named count", d, data, size);
            for (int i = 0; i < r.nnames; i++)
                if (!r.names[i] || !r.names[i][0]) fail("an empty name", d, data, size);
            for (int i = 0; i < r.nslots; i++)
                if (r.slot_source[i] < 0 || r.slot_source[i] >= r.nnames)
                    fail("a slot's name", d, data, size);
            break;
        default: fail("an unknown style", d, data, size);
        }
        ag_rewritten_sql_free(&r);
    }
    return 0;
}
