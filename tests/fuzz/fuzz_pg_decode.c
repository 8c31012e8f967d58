/*
 * fuzz_pg_decode.c -- libFuzzer target for the PostgreSQL driver's value
 * decoders (src/driver/postgres.c through decode.h): the first byte picks a
 * column type, the rest is a value in text format as the server sends it.
 * Date and time text also goes through the ISO-8601 parser and the UTC
 * writer of src/base/datetime.c, as a DateTime{timezone = true} column does.
 *
 * Checks: nothing crashes, leaks or trips a sanitizer; the value's type is
 * the column type's (int2/4/8 and oid: integer, float4/8: float, bool:
 * boolean, bytea: blob, the rest: text); an integer that the text spells
 * exactly is that integer; bytea's hex form decodes to half its digits;
 * text comes back byte for byte; a parsed date-time is written as UTC text
 * that parses again, with an offset.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/datetime.h"
#include "driver/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned int oids[] = {16,   17,   20,   21,   23,   26,   700, 701,  1700, 25,
                                    1043, 1082, 1083, 1114, 1184, 1266, 114, 3802, 2950, 0};
#define NOIDS (sizeof oids / sizeof *oids)

typedef struct expect {
    unsigned int oid;
    const char *text;
    size_t len;
} expect;

static void fail(const char *what, const expect *e) {
    fprintf(stderr, "fuzz_pg_decode: %s (oid %u, text '%.*s')\n", what, e->oid, (int)e->len,
            e->text);
    abort();
}

static int exact_integer(const char *p, size_t len, long long *out) {
    if (len == 0 || len > 18) return 0;
    size_t i = p[0] == '-';
    if (i == len) return 0;
    for (size_t j = i; j < len; j++)
        if (p[j] < '0' || p[j] > '9') return 0;
    char tmp[24];
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    *out = strtoll(tmp, NULL, 10);
    return 1;
}

static void check(const ag_value *v, void *ctx) {
    const expect *e = ctx;
    long long n;
    switch (e->oid) {
    case 20:
    case 21:
    case 23:
    case 26:
        if (v->type != AG_VALUE_INTEGER) fail("an integer column gave another type", e);
        if (exact_integer(e->text, e->len, &n) && v->u.integer != n) fail("a wrong integer", e);
        break;
    case 700:
    case 701:
        if (v->type != AG_VALUE_FLOAT) fail("a float column gave another type", e);
        break;
    case 16:
        if (v->type != AG_VALUE_BOOLEAN) fail("a bool column gave another type", e);
        break;
    case 17: {
        if (v->type != AG_VALUE_BLOB) fail("a bytea column gave another type", e);
        if (v->u.bytes.len > e->len) fail("bytea decoded longer than its text", e);
        int hex = e->len >= 2 && e->text[0] == '\\' && e->text[1] == 'x';
        for (size_t i = 2; hex && i < e->len; i++)
            hex = strchr("0123456789abcdefABCDEF", e->text[i]) != NULL && e->text[i] != '\0';
        if (hex && (e->len - 2) % 2 == 0 && v->u.bytes.len != (e->len - 2) / 2)
            fail("bytea hex length", e);
        break;
    }
    default:
        if (v->type != AG_VALUE_TEXT) fail("a text column gave another type", e);
        if (v->u.bytes.len != e->len || (e->len && memcmp(v->u.bytes.data, e->text, e->len) != 0))
            fail("text changed", e);
        ag_datetime dt;
        if (ag_datetime_parse(v->u.bytes.data, v->u.bytes.len, &dt) == 0) {
            char utc[AG_DATETIME_TEXT_MAX];
            size_t n = ag_datetime_format_utc(&dt, utc);
            if (n >= AG_DATETIME_TEXT_MAX || (n && utc[n] != '\0')) fail("UTC text too long", e);
            ag_datetime back;
            if (n && (ag_datetime_parse(utc, n, &back) != 0 || !back.has_offset ||
                      back.offset_seconds != 0))
                fail("UTC text does not parse back", e);
            if (n && back.year != 0 && ag_datetime_format_utc(&back, utc) != n)
                fail("UTC text is no fixpoint", e);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    expect e = {oids[data[0] % NOIDS], (const char *)data + 1, size - 1};
    if (e.oid == 0 && size >= 3)
        e.oid = (unsigned int)(data[1] << 8 | data[2]); /* any type at all */
    ag_postgres_decode_text(e.oid, e.text, e.len, check, &e);
    return 0;
}
