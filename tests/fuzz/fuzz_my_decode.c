/*
 * fuzz_my_decode.c -- libFuzzer target for the MariaDB driver's value
 * decoders (src/driver/mariadb.c through decode.h): the first bytes describe
 * a result column (type, unsigned flag, binary character set, decimals,
 * display length, computed or not), the rest is the value of a binary
 * protocol row as the connector stores it (integers and floats in host
 * order, dates and times in the wire's layout, string bytes).
 *
 * Checks: nothing crashes, leaks or trips a sanitizer; the value's type is
 * one the column can give; a string column's value is its bytes exactly; a
 * date or time is short ISO text of digits, '-', ':', ' ' and '.'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* enum enum_field_types: DECIMAL 0, TINY 1, SHORT 2, LONG 3, FLOAT 4,
 * DOUBLE 5, NULL 6, TIMESTAMP 7, LONGLONG 8, INT24 9, DATE 10, TIME 11,
 * DATETIME 12, YEAR 13, NEWDATE 14, VARCHAR 15, BIT 16, TIMESTAMP2 17,
 * DATETIME2 18, TIME2 19, JSON 245, NEWDECIMAL 246, ENUM 247, SET 248,
 * TINY_BLOB 249, MEDIUM_BLOB 250, LONG_BLOB 251, BLOB 252, VAR_STRING 253,
 * STRING 254, GEOMETRY 255 */
static const int types[] = {0,   1,   2,   3,   4,   5,   6,   7,   8,  9,   10,
                            11,  12,  13,  14,  15,  16,  17,  18,  19, 245, 246,
                            247, 248, 249, 250, 251, 252, 253, 254, 255};
#define NTYPES (sizeof types / sizeof *types)

typedef struct expect {
    ag_mariadb_field f;
    const uint8_t *bytes;
    size_t len;
} expect;

static void fail(const char *what, const expect *e) {
    fprintf(stderr, "fuzz_my_decode: %s (type %d, flags %u, charset %u, length %zu)\n", what,
            e->f.type, e->f.flags, e->f.charsetnr, e->len);
    abort();
}

static void check(const ag_value *v, void *ctx) {
    const expect *e = ctx;
    int t = e->f.type;
    if (t == 10 || t == 11 || t == 12 || t == 7 || t == 14 || t == 17 || t == 18 || t == 19) {
        if (v->type != AG_VALUE_TEXT) fail("a date or time that is not text", e);
        if (v->u.bytes.len == 0 || v->u.bytes.len >= 48)
            fail("date or time text of a bad length", e);
        for (size_t i = 0; i < v->u.bytes.len; i++)
            if (!strchr("0123456789-: .", v->u.bytes.data[i]) || v->u.bytes.data[i] == '\0')
                fail("a date or time with a stray character", e);
    } else if (t == 15 || t == 253 || t == 254 || (t >= 249 && t <= 252) || t == 245 || t == 247 ||
               t == 248) {
        if (v->type != AG_VALUE_TEXT && v->type != AG_VALUE_BLOB)
            fail("a string that is not text nor blob", e);
        if (v->u.bytes.len != e->len || (e->len && memcmp(v->u.bytes.data, e->bytes, e->len) != 0))
            fail("string bytes changed", e);
    } else if (t == 6) {
        if (v->type != AG_VALUE_NULL) fail("a NULL column gave a value", e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    expect e;
    memset(&e, 0, sizeof e);
    e.f.type = types[data[0] % NTYPES];
    e.f.flags = (data[1] & 1) ? 32u /* UNSIGNED_FLAG */ : 0u;
    e.f.charsetnr = (data[1] & 2) ? 63u : 45u;
    e.f.has_org_name = (data[1] & 4) != 0;
    e.f.decimals = data[2] % 40;
    e.f.length = data[3];
    e.bytes = data + 4;
    e.len = size - 4;
    ag_mariadb_decode_binary(&e.f, e.bytes, e.len, check, &e);
    return 0;
}
