/*
 * test_decode.c -- the drivers' value decoders without a server
 * (src/driver/decode.h), and the inputs the fuzzers (tests/fuzz/) found
 * wrong: a malformed int8 text (an overflowing negation), bytea's escape
 * form with a backslash before something else than octal digits (a shift
 * of a negative value).  A build without a driver skips its part.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "driver/decode.h"

typedef struct got {
    ag_value v;
    char bytes[256];
} got;

static void keep(const ag_value *v, void *ctx) {
    got *g = ctx;
    g->v = *v;
    if ((v->type == AG_VALUE_TEXT || v->type == AG_VALUE_BLOB) && v->u.bytes.len < sizeof g->bytes) {
        memcpy(g->bytes, v->u.bytes.data, v->u.bytes.len);
        g->bytes[v->u.bytes.len] = '\0';
    }
}

static int pg(unsigned int oid, const char *text, got *g) {
    memset(g, 0, sizeof *g);
    return ag_postgres_decode_text(oid, text, strlen(text), keep, g);
}

static void test_postgres(void) {
    got g;
    if (pg(20, "1", &g) != 0) {
        printf("no PostgreSQL driver: skipped\n");
        return;
    }
    CHECK(g.v.type == AG_VALUE_INTEGER && g.v.u.integer == 1);
    CHECK(pg(20, "-9223372036854775808", &g) == 0 && g.v.u.integer == INT64_MIN);
    CHECK(pg(20, "9223372036854775807", &g) == 0 && g.v.u.integer == INT64_MAX);
    /* not from a server, but never undefined: digits past the int64 range */
    CHECK(pg(20, "-99999999999999999999", &g) == 0 && g.v.type == AG_VALUE_INTEGER);
    CHECK(pg(20, "-18446744073709551615", &g) == 0 && g.v.type == AG_VALUE_INTEGER);
    CHECK(pg(16, "t", &g) == 0 && g.v.type == AG_VALUE_BOOLEAN && g.v.u.boolean);
    CHECK(pg(701, "2.5", &g) == 0 && g.v.type == AG_VALUE_FLOAT && g.v.u.number == 2.5);
    CHECK(pg(17, "\\x41ff00", &g) == 0 && g.v.type == AG_VALUE_BLOB && g.v.u.bytes.len == 3 &&
          memcmp(g.bytes, "A\xff\0", 3) == 0);
    CHECK(pg(17, "a\\\\b\\001c", &g) == 0 && g.v.u.bytes.len == 5 && memcmp(g.bytes, "a\\b\001c", 5) == 0);
    /* a backslash before what is no escape: the bytes as they are (was a
     * left shift of a negative value) */
    CHECK(pg(17, "\\9zz", &g) == 0 && g.v.u.bytes.len == 4 && memcmp(g.bytes, "\\9zz", 4) == 0);
    CHECK(pg(17, "x\\", &g) == 0 && g.v.u.bytes.len == 2);
    CHECK(pg(1114, "2026-11-24 02:26:03", &g) == 0 && g.v.type == AG_VALUE_TEXT);
    CHECK_STR(g.bytes, "2026-11-24 02:26:03");
}

static int my(int type, unsigned flags, const unsigned char *bytes, size_t len, got *g) {
    ag_mariadb_field f = {type, flags, 45, 0, 11, 1};
    memset(g, 0, sizeof *g);
    return ag_mariadb_decode_binary(&f, bytes, len, keep, g);
}

static void test_mariadb(void) {
    got g;
    int64_t n = -5;
    if (my(8 /* LONGLONG */, 0, (const unsigned char *)&n, sizeof n, &g) != 0) {
        printf("no MariaDB driver: skipped\n");
        return;
    }
    CHECK(g.v.type == AG_VALUE_INTEGER && g.v.u.integer == -5);
    uint64_t big = UINT64_MAX;
    CHECK(my(8, 32 /* UNSIGNED */, (const unsigned char *)&big, sizeof big, &g) == 0 && g.v.type == AG_VALUE_TEXT);
    CHECK_STR(g.bytes, "18446744073709551615");
    /* DATETIME 2026-11-24 02:26:03.123456 as the wire sends it */
    const unsigned char dt[] = {0xea, 0x07, 11, 24, 2, 26, 3, 0x40, 0xe2, 0x01, 0x00};
    CHECK(my(12, 0, dt, sizeof dt, &g) == 0 && g.v.type == AG_VALUE_TEXT);
    CHECK_STR(g.bytes, "2026-11-24 02:26:03.123456");
    /* TIME -838:59:59: negative, 34 days and 22 hours */
    const unsigned char tm[] = {1, 34, 0, 0, 0, 22, 59, 59};
    CHECK(my(11, 0, tm, sizeof tm, &g) == 0);
    CHECK_STR(g.bytes, "-838:59:59");
    const unsigned char text[] = "h\0llo";
    CHECK(my(253 /* VAR_STRING */, 0, text, 5, &g) == 0 && g.v.type == AG_VALUE_TEXT && g.v.u.bytes.len == 5);
    /* a computed DECIMAL without fraction: an integer when it fits, exact text otherwise */
    ag_mariadb_field sum = {246, 0, 63, 0, 21, 0};
    memset(&g, 0, sizeof g);
    CHECK(ag_mariadb_decode_binary(&sum, (const unsigned char *)"-9223372036854775808", 20, keep, &g) == 0 &&
          g.v.type == AG_VALUE_INTEGER && g.v.u.integer == INT64_MIN);
    CHECK(ag_mariadb_decode_binary(&sum, (const unsigned char *)"9223372036854775808", 19, keep, &g) == 0 &&
          g.v.type == AG_VALUE_TEXT);
}

int main(void) {
    test_postgres();
    test_mariadb();
    CHECK_DONE();
}
